// Every dequantiser against gguf-py on random blocks (tests/golden/quant_blocks.json, written by
// tools/golden/make_quant_blocks.py), bit for bit.
#include <gtest/gtest.h>

#include <bit>
#include <cstring>
#include <string>
#include <vector>

#include "emovec/error.h"
#include "emovec/tensor_type.h"
#include "support/test_support.h"

namespace emovec {
namespace {

std::vector<uint8_t> from_hex(const std::string& hex) {
  std::vector<uint8_t> out(hex.size() / 2);
  for (size_t i = 0; i < out.size(); ++i) {
    out[i] = static_cast<uint8_t>(std::stoul(hex.substr(2 * i, 2), nullptr, 16));
  }
  return out;
}

TEST(QuantBlocks, EveryTypeMatchesGgufPyBitForBit) {
  const nlohmann::json golden = testing::read_json(testing::golden_path("quant_blocks.json"));
  ASSERT_GE(golden["cases"].size(), 20u);
  for (const auto& c : golden["cases"]) {
    const std::string name = c["type"];
    SCOPED_TRACE(name);
    const auto type_id = c["type_id"].get<uint32_t>();
    const auto traits = tensor_type_traits(type_id);
    ASSERT_TRUE(traits.has_value());
    EXPECT_EQ(traits->name, name);
    ASSERT_TRUE(traits->can_dequantize);

    const std::vector<uint8_t> bytes = from_hex(c["bytes"]);
    const auto elements = c["elements"].get<int64_t>();
    const auto type = static_cast<TensorType>(type_id);
    EXPECT_EQ(tensor_bytes(type, static_cast<uint64_t>(elements)), bytes.size());

    std::vector<float> out(static_cast<size_t>(elements));
    dequantize(type, bytes.data(), out.data(), elements);
    const auto& expected = c["values"];
    ASSERT_EQ(expected.size(), out.size());
    int mismatches = 0;
    for (size_t i = 0; i < out.size() && mismatches < 5; ++i) {
      const auto want =
          static_cast<uint32_t>(std::stoul(expected[i].get<std::string>(), nullptr, 16));
      const auto got = std::bit_cast<uint32_t>(out[i]);
      if (got != want) {
        ++mismatches;
        ADD_FAILURE() << "element " << i << ": got " << out[i] << " (0x" << std::hex << got
                      << "), gguf-py " << std::bit_cast<float>(want) << " (0x" << want << ")";
      }
    }
  }
}

TEST(QuantBlocks, RejectsPartialBlocksAndUnsupportedTypes) {
  std::vector<uint8_t> bytes(64);
  std::vector<float> out(64);
  EXPECT_THROW(dequantize(TensorType::Q4_0, bytes.data(), out.data(), 31), Error);
  EXPECT_THROW(dequantize(TensorType::IQ2_XXS, bytes.data(), out.data(), 256), Error);
  EXPECT_THROW(tensor_bytes(TensorType::Q4_K, 100), Error);
  EXPECT_EQ(tensor_bytes(TensorType::Q4_K, 512), 288u);
  EXPECT_FALSE(tensor_type_traits(4).has_value());  // ids 4 and 5 were removed from ggml
  EXPECT_FALSE(tensor_type_traits(1000).has_value());
}

}  // namespace
}  // namespace emovec
