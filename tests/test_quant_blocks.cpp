// Every dequantiser against gguf-py on random blocks (tests/golden/quant_blocks.json, written by
// tools/golden/make_quant_blocks.py), bit for bit.
#include <gtest/gtest.h>

#include <bit>
#include <cstring>
#include <random>
#include <string>
#include <utility>
#include <vector>

#include "emovec/error.h"
#include "emovec/tensor_type.h"
#include "ops/row_dot.h"
#include "quant/dequant_kernels.h"
#include "support/random_blocks.h"
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

// dequantize() takes the AVX2 decoders where the CPU has them (the golden test above then checks
// those); here each is compared with the portable decoder of its type, bit for bit, on rows with
// realistic factors and on wholly random bytes (any half, including infinities and NaNs).
TEST(QuantBlocks, Avx2DecodersEqualThePortableOnes) {
  if (!ops::cpu_has_avx2()) GTEST_SKIP() << "no AVX2 on this CPU";
  const std::pair<TensorType, quant::BlockDecoder> portable[] = {
      {TensorType::Q4_0, quant::decode_q4_0}, {TensorType::Q4_1, quant::decode_q4_1},
      {TensorType::Q5_0, quant::decode_q5_0}, {TensorType::Q8_0, quant::decode_q8_0},
      {TensorType::Q4_K, quant::decode_q4_k}, {TensorType::Q6_K, quant::decode_q6_k}};
  std::mt19937 rng(5);
  std::uniform_int_distribution<int> byte(0, 255);
  for (const auto& [type, reference] : portable) {
    SCOPED_TRACE(std::string(tensor_type_name(type)));
    const quant::BlockDecoder fast = quant::avx2::decoder(type);
    ASSERT_NE(fast, nullptr);
    const int64_t n = 4096;
    const int64_t blocks = n / traits(type).block_elements;
    for (int trial = 0; trial < 2; ++trial) {
      std::vector<uint8_t> row = ops::random_row(type, n, rng);
      if (trial == 1) {
        for (uint8_t& b : row) b = static_cast<uint8_t>(byte(rng));
      }
      std::vector<float> want(n), got(n);
      reference(row.data(), want.data(), blocks);
      fast(row.data(), got.data(), blocks);
      for (int64_t i = 0; i < n; ++i) {
        ASSERT_EQ(std::bit_cast<uint32_t>(got[i]), std::bit_cast<uint32_t>(want[i]))
            << "element " << i << ": " << got[i] << " vs " << want[i];
      }
    }
  }
  EXPECT_EQ(quant::avx2::decoder(TensorType::Q2_K), nullptr);
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
