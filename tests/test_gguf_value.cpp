// GgufValue: construction checks and the conversions its accessors allow.
#include <gtest/gtest.h>

#include <cstdint>
#include <limits>

#include "emovec/error.h"
#include "emovec/gguf.h"

namespace emovec {
namespace {

TEST(GgufValue, IntegersConvertBetweenWidthsWithinRange) {
  const GgufValue u = GgufValue::uint(GgufType::Uint32, 4000000000u);
  EXPECT_EQ(u.as_uint(), 4000000000u);
  EXPECT_EQ(u.as_int(), 4000000000);
  EXPECT_DOUBLE_EQ(u.as_double(), 4e9);
  const GgufValue s = GgufValue::sint(GgufType::Int8, -5);
  EXPECT_EQ(s.as_int(), -5);
  EXPECT_THROW(s.as_uint(), Error);
  const GgufValue big = GgufValue::uint(GgufType::Uint64, std::numeric_limits<uint64_t>::max());
  EXPECT_THROW(big.as_int(), Error);
}

TEST(GgufValue, FactoriesRejectOutOfRangeAndWrongKinds) {
  EXPECT_THROW(GgufValue::uint(GgufType::Uint8, 256), Error);
  EXPECT_THROW(GgufValue::sint(GgufType::Int16, 40000), Error);
  EXPECT_THROW(GgufValue::uint(GgufType::Int32, 1), Error);
  EXPECT_THROW(GgufValue::real(GgufType::Uint8, 1.0), Error);
  EXPECT_THROW(GgufValue::array(GgufType::Int32, {GgufValue::string("x")}), Error);
}

TEST(GgufValue, KindMismatchThrows) {
  const GgufValue str = GgufValue::string("hello");
  EXPECT_EQ(str.as_string(), "hello");
  EXPECT_THROW(str.as_uint(), Error);
  EXPECT_THROW(str.as_double(), Error);
  EXPECT_THROW(str.as_array(), Error);
  EXPECT_THROW(GgufValue::boolean(true).as_int(), Error);
  EXPECT_THROW(GgufValue::uint(GgufType::Uint8, 1).as_bool(), Error);
}

TEST(GgufValue, Float32ValuesAreHeldAtFloat32Precision) {
  const GgufValue v = GgufValue::real(GgufType::Float32, 0.1);
  EXPECT_EQ(v.as_double(), static_cast<double>(0.1f));
  EXPECT_EQ(GgufValue::real(GgufType::Float64, 0.1).as_double(), 0.1);
}

TEST(GgufValue, TypedArrays) {
  const GgufValue strings =
      GgufValue::array(GgufType::String, {GgufValue::string("a"), GgufValue::string("bc")});
  EXPECT_EQ(strings.as_string_array(), (std::vector<std::string>{"a", "bc"}));
  EXPECT_THROW(strings.as_float_array(), Error);

  const GgufValue ints = GgufValue::array(
      GgufType::Int64, {GgufValue::sint(GgufType::Int64, -1), GgufValue::sint(GgufType::Int64, 7)});
  EXPECT_EQ(ints.as_int32_array(), (std::vector<int32_t>{-1, 7}));
  EXPECT_EQ(ints.as_float_array(), (std::vector<float>{-1.0f, 7.0f}));
  const GgufValue too_big =
      GgufValue::array(GgufType::Uint64, {GgufValue::uint(GgufType::Uint64, 1ull << 40)});
  EXPECT_THROW(too_big.as_int32_array(), Error);

  const GgufValue nested = GgufValue::array(GgufType::Array, {ints, strings});
  EXPECT_EQ(nested.element_type(), GgufType::Array);
  EXPECT_EQ(nested.as_array()[1].element_type(), GgufType::String);
}

}  // namespace
}  // namespace emovec
