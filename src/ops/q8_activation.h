// Dot products of quantised weight rows with activations that are themselves quantised to int8
// per 32-element block, as llama.cpp does for decoding: the inner loop becomes integer
// multiply-adds (one float conversion per block) instead of a float multiply-add per element.
// The result is the dot of the dequantised row with the dequantised activations d * q, up to
// float rounding in the per-block accumulation; its distance from the exact float dot is the
// activation rounding error, at most d / 2 per element.
#pragma once

#include <cstdint>
#include <vector>

#include "emovec/tensor_type.h"

namespace emovec::ops {

inline constexpr int64_t kQ8Block = 32;

// Activations x quantised per 32-element block b: x[i] ~ d[b] * q[i], d[b] = max|x| / 127, q
// rounded to nearest (ties to even), so |q| <= 127 and never -128.
//
// sum[b] is d[b] * (sum of the block's q), the sum of the dequantised activations, not of x:
// the offset and min terms of Q4_0, Q4_1, Q5_0, Q5_1 and Q4_K use it, which keeps the result the
// dot of the dequantised row with the dequantised activations. (Using the exact float sum of x
// instead mixes the two and multiplies the rounding errors by the unsigned codes, 0..15, rather
// than by the centred weights, a larger error.) |sum[b] - sum of x| <= 16 * d[b].
struct Q8Activation {
  std::vector<int8_t> q;
  std::vector<float> d;
  std::vector<float> sum;
  int64_t n = 0;
};

// Quantises n values (n a multiple of 32). Reuses out's storage.
void quantize_activation(const float* x, int64_t n, Q8Activation& out);

// Quantises `rows` rows of n values each (n a multiple of 32), row t starting at x + t * stride,
// one after another into out (out.n = rows * n): row t's blocks start at block t * n / 32.
void quantize_activation_rows(const float* x, int64_t stride, int64_t rows, int64_t n,
                              Q8Activation& out);

// dot(row, x[first_block * 32 .. first_block * 32 + n)) for a weight row of n elements in the
// file format (n a multiple of the type's block size).
using Q8DotFn = float (*)(const uint8_t* row, const Q8Activation& x, int64_t first_block,
                          int64_t n);

// The AVX2 kernel when the CPU has AVX2/FMA/F16C, else the portable one; nullptr for types
// without one (Q4_0, Q4_1, Q5_0, Q5_1, Q8_0, Q4_K, Q5_K and Q6_K have one).
Q8DotFn q8_dot_kernel(TensorType type);

// One weight row with up to kQ8MultiRows activation rows: out[t] = dot(row, activation row t)
// for t < count, row t's blocks starting at first_block + t * block_stride. Each weight block is
// unpacked once for all rows (batched decoding); every result has the same bits as
// q8_dot_kernel's for that row alone.
inline constexpr int kQ8MultiRows = 4;
using Q8DotMultiFn = void (*)(const uint8_t* row, const Q8Activation& x, int64_t first_block,
                              int64_t block_stride, int64_t n, int count, float* out);
// nullptr unless the CPU has AVX2 and the type is Q4_0, Q4_1, Q5_0, Q5_1 or Q8_0.
Q8DotMultiFn q8_dot_multi_kernel(TensorType type);

// Portable implementations: the reference the vector kernels are tested against. Each kernel
// computes one integer sum per 32-element activation block and accumulates it in float.
namespace scalar {
void quantize_activation_blocks(const float* x, int64_t n, int8_t* q, float* d, float* sum);
Q8DotFn q8_dot_kernel(TensorType type);
}  // namespace scalar

// AVX2 implementations (q8_dot_avx2.cpp); call only when cpu_has_avx2(). The same integer sums
// per block as the portable kernels; only the float accumulation order differs.
namespace avx2 {
void quantize_activation_blocks(const float* x, int64_t n, int8_t* q, float* d, float* sum);
Q8DotMultiFn q8_dot_multi_kernel(TensorType type);
Q8DotFn q8_dot_kernel(TensorType type);
}  // namespace avx2

}  // namespace emovec::ops
