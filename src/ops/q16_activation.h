// Dot products of quantised weight rows with activations quantised to int16 per 32-element
// block, for the output head. Int8 activations cost the head measurable top-1 agreement with the
// float32 path (SmolLM2: 0.991 -> 0.984 on the fast-path test's prompts); int16 ones round 258
// times finer, which leaves the logits within float-level noise, while the inner loop is still
// integer multiply-adds (_mm256_madd_epi16) rather than a code-to-float conversion per weight.
#pragma once

#include <cstdint>
#include <vector>

#include "emovec/tensor_type.h"

namespace emovec::ops {

inline constexpr int64_t kQ16Block = 32;

// Activations x quantised per 32-element block b: x[i] ~ d[b] * q[i], d[b] = max|x| / 32767, q
// rounded to nearest (ties to even), so |q| <= 32767.
struct Q16Activation {
  std::vector<int16_t> q;
  std::vector<float> d;
  int64_t n = 0;
};

// Quantises `rows` rows of n values each (n a multiple of 32), row t starting at x + t * stride,
// one after another into out: row t's blocks start at block t * n / 32. Reuses out's storage.
void quantize_activation16_rows(const float* x, int64_t stride, int64_t rows, int64_t n,
                                Q16Activation& out);

// dot(row, x[first_block * 32 .. first_block * 32 + n)) for a weight row of n elements in the
// file format.
using Q16DotFn = float (*)(const uint8_t* row, const Q16Activation& x, int64_t first_block,
                           int64_t n);

// The AVX2 kernel when the CPU has AVX2/FMA/F16C, else the portable one; nullptr for types
// without one (Q8_0 and Q6_K have one: the output heads of the shipped models).
Q16DotFn q16_dot_kernel(TensorType type);

// One weight row with up to kQ16MultiRows activation rows: out[t] = dot(row, activation row t)
// for t < count, row t's blocks starting at first_block + t * block_stride. Every result has the
// same bits as q16_dot_kernel's for that row alone. nullptr where q16_dot_kernel has none or the
// CPU lacks AVX2.
inline constexpr int kQ16MultiRows = 8;
using Q16DotMultiFn = void (*)(const uint8_t* row, const Q16Activation& x, int64_t first_block,
                               int64_t block_stride, int64_t n, int count, float* out);
Q16DotMultiFn q16_dot_multi_kernel(TensorType type);

// Portable implementations, the reference for the vector kernels: one exact integer sum per
// 32-element block (Q8_0) or 16-element sub-block (Q6_K), scaled and accumulated in float.
namespace scalar {
void quantize_activation16_blocks(const float* x, int64_t n, int16_t* q, float* d);
Q16DotFn q16_dot_kernel(TensorType type);
}  // namespace scalar

// AVX2 implementations (q16_dot_avx2.cpp); call only when cpu_has_avx2(). The same integer sums
// as the portable kernels; only the float accumulation order differs.
namespace avx2 {
void quantize_activation16_blocks(const float* x, int64_t n, int16_t* q, float* d);
Q16DotFn q16_dot_kernel(TensorType type);
Q16DotMultiFn q16_dot_multi_kernel(TensorType type);
}  // namespace avx2

}  // namespace emovec::ops
