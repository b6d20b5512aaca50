// Random quantised weight rows and transformer-like activations for the dot-kernel tests and
// bench/kernel_bench.cpp.
#pragma once

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <random>
#include <vector>

#include "emovec/tensor_type.h"
#include "quant/half.h"

namespace emovec::ops {

// Byte offsets of a block's f16 factors: (scale, min) with -1 for none.
struct HalfFields {
  int scale;
  int min;
};

inline HalfFields half_fields(TensorType type) {
  switch (type) {
    case TensorType::Q4_1:
    case TensorType::Q5_1:
    case TensorType::Q4_K:
    case TensorType::Q5_K:
      return {0, 2};
    case TensorType::Q6_K:
      return {208, -1};
    default:
      return {0, -1};
  }
}

inline void put_half(uint8_t* p, float v) {
  const uint16_t h = f32_to_f16(v);
  std::memcpy(p, &h, 2);
}

// n elements of `type`: random bytes (every bit pattern of the codes and sub-block scales is a
// valid block) with finite f16 factors of realistic size in place of the random ones.
inline std::vector<uint8_t> random_row(TensorType type, int64_t n, std::mt19937& rng) {
  const TensorTypeTraits& t = traits(type);
  std::vector<uint8_t> row(static_cast<size_t>(n / t.block_elements * t.block_bytes));
  std::uniform_int_distribution<int> byte(0, 255);
  for (uint8_t& b : row) b = static_cast<uint8_t>(byte(rng));
  std::uniform_real_distribution<float> scale(0.001f, 0.03f);
  std::uniform_real_distribution<float> min(-0.2f, 0.2f);
  const HalfFields f = half_fields(type);
  for (size_t at = 0; at < row.size(); at += static_cast<size_t>(t.block_bytes)) {
    put_half(row.data() + at + f.scale, scale(rng));
    if (f.min >= 0)
      put_half(row.data() + at + f.min,
               type == TensorType::Q4_K || type == TensorType::Q5_K ? scale(rng) : min(rng));
  }
  return row;
}

// Activations like a transformer's: mostly small, a few large outliers, some all-zero blocks.
inline std::vector<float> random_activations(int64_t n, std::mt19937& rng) {
  std::normal_distribution<float> normal(0.0f, 1.0f);
  std::uniform_int_distribution<int> pick(0, 99);
  std::vector<float> x(static_cast<size_t>(n));
  for (float& v : x) v = pick(rng) == 0 ? 20.0f * normal(rng) : normal(rng);
  if (n >= 128) std::fill(x.begin() + 64, x.begin() + 96, 0.0f);
  return x;
}

inline std::vector<float> dequantized(TensorType type, const std::vector<uint8_t>& row, int64_t n) {
  std::vector<float> w(static_cast<size_t>(n));
  dequantize(type, row.data(), w.data(), n);
  return w;
}

}  // namespace emovec::ops
