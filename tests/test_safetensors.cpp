// SafetensorsFile on files built here from the format description (8-byte header length, JSON
// header, data).
#include <gtest/gtest.h>

#include <cstring>
#include <string>
#include <vector>

#include "emovec/error.h"
#include "emovec/safetensors.h"
#include "emovec/tensor_type.h"

namespace emovec {
namespace {

std::vector<uint8_t> make_file(const std::string& header, const std::vector<uint8_t>& data) {
  // Sized up front and filled with memcpy: g++ 12 misreads vector::insert here (-Warray-bounds).
  std::vector<uint8_t> out(8 + header.size() + data.size());
  const uint64_t n = header.size();
  std::memcpy(out.data(), &n, 8);
  std::memcpy(out.data() + 8, header.data(), header.size());
  if (!data.empty()) std::memcpy(out.data() + 8 + header.size(), data.data(), data.size());
  return out;
}

template <typename T>
void append(std::vector<uint8_t>& out, std::initializer_list<T> values) {
  const size_t start = out.size();
  out.resize(start + values.size() * sizeof(T));
  std::memcpy(out.data() + start, values.begin(), values.size() * sizeof(T));
}

TEST(Safetensors, ReadsFloatTensorsAndMetadata) {
  std::vector<uint8_t> data;
  append<float>(data, {1.0f, -2.0f, 0.5f, 3.0f, 4.0f, 5.0f});  // a: F32 [2, 3]
  append<uint16_t>(data, {0x3c00, 0xc000});                    // b: F16 [2] = 1, -2
  append<uint16_t>(data, {0x3f80, 0x4040});                    // c: BF16 [2] = 1, 3
  append<int64_t>(data, {7});                                  // d: I64 [] (scalar)
  const std::string header = R"({"__metadata__":{"format":"pt"},)"
                             R"("a":{"dtype":"F32","shape":[2,3],"data_offsets":[0,24]},)"
                             R"("b":{"dtype":"F16","shape":[2],"data_offsets":[24,28]},)"
                             R"("c":{"dtype":"BF16","shape":[2],"data_offsets":[28,32]},)"
                             R"("d":{"dtype":"I64","shape":[],"data_offsets":[32,40]},)"
                             R"("e":{"dtype":"F32","shape":[0,4],"data_offsets":[40,40]}})";
  const SafetensorsFile f = SafetensorsFile::from_bytes(make_file(header, data));
  ASSERT_EQ(f.tensors().size(), 5u);
  EXPECT_EQ(f.tensors()[0].name, "a");  // file order
  const SafetensorsTensor* a = f.find_tensor("a");
  ASSERT_NE(a, nullptr);
  EXPECT_EQ(a->type, TensorType::F32);
  EXPECT_EQ(a->shape, (std::vector<int64_t>{2, 3}));
  std::vector<float> values(6);
  dequantize(a->type, f.tensor_data(*a), values.data(), 6);
  EXPECT_EQ(values, (std::vector<float>{1.0f, -2.0f, 0.5f, 3.0f, 4.0f, 5.0f}));

  const SafetensorsTensor& b = *f.find_tensor("b");
  std::vector<float> two(2);
  dequantize(b.type, f.tensor_data(b), two.data(), 2);
  EXPECT_EQ(two, (std::vector<float>{1.0f, -2.0f}));
  const SafetensorsTensor& c = *f.find_tensor("c");
  dequantize(c.type, f.tensor_data(c), two.data(), 2);
  EXPECT_EQ(two, (std::vector<float>{1.0f, 3.0f}));
  EXPECT_EQ(f.find_tensor("d")->type, TensorType::I64);
  EXPECT_EQ(f.find_tensor("e")->end, 40u);
  EXPECT_EQ(f.find_tensor("missing"), nullptr);
  ASSERT_EQ(f.metadata().size(), 1u);
  EXPECT_EQ(f.metadata()[0], (std::pair<std::string, std::string>{"format", "pt"}));
}

void expect_error(const std::string& header, size_t data_bytes, const std::string& substring) {
  try {
    SafetensorsFile::from_bytes(make_file(header, std::vector<uint8_t>(data_bytes)));
    ADD_FAILURE() << "no error for " << header;
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find(substring), std::string::npos) << e.what();
  }
}

TEST(Safetensors, RejectsBadHeaders) {
  expect_error(R"({"a":{"dtype":"U8","shape":[1],"data_offsets":[0,1]}})", 1, "dtype 'U8'");
  expect_error(R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0,4]}})", 8, "needs 8 bytes");
  expect_error(R"({"a":{"dtype":"F32","shape":[1],"data_offsets":[4,0]}})", 8, "inverted");
  expect_error(R"({"a":{"dtype":"F32","shape":[1],"data_offsets":[8,12]}})", 8, "past the data");
  expect_error(R"({"a":{"dtype":"F32","shape":[-1],"data_offsets":[0,4]}})", 8, "negative");
  expect_error(R"({"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},)"
               R"("b":{"dtype":"F32","shape":[1],"data_offsets":[2,6]}})",
               8, "overlap");
  expect_error(R"({"a":{"dtype":"F32","shape":[4294967296,4294967296],"data_offsets":[0,4]}})", 8,
               "overflows");
  expect_error(R"({"a": nope})", 0, "not valid JSON");
  expect_error(R"([1,2])", 0, "not a JSON object");
  expect_error(R"({"__metadata__":{"k":1}})", 0, "not a string");
  EXPECT_THROW(SafetensorsFile::from_bytes(std::vector<uint8_t>(5)), Error);
  std::vector<uint8_t> huge(16, 0xff);
  EXPECT_THROW(SafetensorsFile::from_bytes(huge), Error);
}

}  // namespace
}  // namespace emovec
