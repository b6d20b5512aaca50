// Dot products of quantised weight rows with activations that are themselves quantised to int8,
// as llama.cpp does for decoding: the inner loop becomes integer multiply-adds instead of a float
// multiply-add per element. The result is the dot of the dequantised row with the dequantised
// activations, up to float rounding in the accumulation; its distance from the exact float dot
// is the activation rounding error.
//
// Unlike llama.cpp (one scale per 32 values, or per 256 for the K-quants), activations carry
// one scale per 4 values. The vector kernels already hold each 4-element group's integer sum in
// its own int32 lane before converting it to float, so a per-lane factor costs no more than a
// broadcast one; but a large value now coarsens the rounding of only its 3 neighbours instead of
// 31. On tests/test_fast_path.cpp's prompts that takes SmolLM2's mean KL divergence from the
// float32 path from 1.5e-3 to 2.1e-4 (top-1 agreement 0.980 to 0.995), Gemma-3-270M's from
// 6.4e-4 to 7.5e-5.
#pragma once

#include <cstdint>
#include <vector>

#include "emovec/tensor_type.h"

namespace emovec::ops {

inline constexpr int64_t kQ8Block = 32;  // weight and activation-sum block
inline constexpr int64_t kQ8Group = 4;   // values per activation scale

// Activations x quantised per 4-element group g: x[i] ~ d[g] * q[i], d[g] = max|x| / 127 over
// the group, q rounded to nearest (ties to even), so |q| <= 127 and never -128.
//
// sum[b] is the sum of 32-element block b's dequantised activations, sum over its groups of
// d[g] * (sum of the group's q), not the sum of x: the offset and min terms of Q4_0, Q4_1, Q5_0,
// Q5_1 and Q4_K use it, which keeps the result the dot of the dequantised row with the
// dequantised activations. (Using the exact float sum of x instead mixes the two and multiplies
// the rounding errors by the unsigned codes, 0..15, rather than by the centred weights, a larger
// error.)
struct Q8Activation {
  std::vector<int8_t> q;
  std::vector<float> d;    // one per 4 values
  std::vector<float> sum;  // one per 32 values
  int64_t n = 0;
};

// Quantises n values (n a multiple of 32). Reuses out's storage.
void quantize_activation(const float* x, int64_t n, Q8Activation& out);

// Quantises `rows` rows of n values each (n a multiple of 32), row t starting at x + t * stride,
// one after another into out (out.n = rows * n): row t's blocks start at block t * n / 32 (its
// groups at t * n / 4).
void quantize_activation_rows(const float* x, int64_t stride, int64_t rows, int64_t n,
                              Q8Activation& out);

// sum[b] of Q8Activation from the quantised values and the group scales (n a multiple of 32);
// the portable and AVX2 quantisers share it, so their sums have the same bits.
void activation_block_sums(const int8_t* q, const float* d, int64_t n, float* sum);

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
inline constexpr int kQ8MultiRows = 8;
using Q8DotMultiFn = void (*)(const uint8_t* row, const Q8Activation& x, int64_t first_block,
                              int64_t block_stride, int64_t n, int count, float* out);
// nullptr unless the CPU has AVX2 and the type is Q4_0, Q4_1, Q5_0, Q5_1, Q8_0, Q4_K, Q5_K or
// Q6_K.
Q8DotMultiFn q8_dot_multi_kernel(TensorType type);

// Portable implementations: the reference the vector kernels are tested against. Each kernel
// computes one integer sum per 4-element activation group and accumulates it in float.
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
