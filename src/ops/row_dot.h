// Dot products of one quantised weight row with float32 activations, the inner loop of every
// matrix-vector product. Weights stay in their file format; each kernel decodes a block into
// registers and multiplies it with the activations in float32.
#pragma once

#include <cstdint>

#include "emovec/tensor_type.h"

namespace emovec::ops {

// Sums of the activations over consecutive 32-element blocks (n / 32 values, n a multiple of
// 32): kernels of types with an offset (Q4_0, Q4_1, Q5_0, Q4_K) use them to apply it once per
// block instead of once per element.
void block_sums_32(const float* x, int64_t n, float* sums);

// dot(row, x) over n elements; `x_sums` from block_sums_32 (unused by some types).
using RowDotFn = float (*)(const uint8_t* row, const float* x, const float* x_sums, int64_t n);

// The fastest kernel for `type` on this CPU, or nullptr when there is none (callers then decode
// the row with dequantize() and use dot_f32).
RowDotFn row_dot_kernel(TensorType type);

// One weight row with up to kRowDotMultiRows activation rows: out[t] = dot(row, x row t) for
// t < count, row t at x + t * x_stride and its block sums at x_sums + t * sums_stride. Each
// block is decoded once for all rows; every result has the same bits as row_dot_kernel's for
// that row alone. nullptr unless the CPU has AVX2 and the type is one of F32, F16, BF16, Q4_0,
// Q4_1, Q5_0, Q5_1, Q8_0, Q4_K, Q5_K, Q6_K.
inline constexpr int kRowDotMultiRows = 4;
using RowDotMultiFn = void (*)(const uint8_t* row, const float* x, int64_t x_stride,
                               const float* x_sums, int64_t sums_stride, int64_t n, int count,
                               float* out);
RowDotMultiFn row_dot_multi_kernel(TensorType type);

float dot_f32(const float* a, const float* b, int64_t n);
// y += a * x over n elements.
void axpy_f32(float a, const float* x, float* y, int64_t n);

// Attention over a cache: out[j] = dot_f32(q, keys + j * stride, n) * scale for j < n_keys, and
// acc += sum over j of p[j] * (values + j * stride), added in order of j. Every result has the
// bits of the one-key calls (dot_f32, then axpy_f32 key after key); the work of several keys
// is interleaved and the accumulators stay in registers.
void dot_f32_keys(const float* q, const float* keys, int64_t stride, int64_t n_keys, int64_t n,
                  float scale, float* out);
void axpy_f32_keys(const float* p, const float* values, int64_t stride, int64_t n_keys, int64_t n,
                   float* acc);
// The same over a float16 cache: every result has the bits of the float32 kernel given the
// cache's values widened to float32.
void dot_f16_keys(const float* q, const uint16_t* keys, int64_t stride, int64_t n_keys, int64_t n,
                  float scale, float* out);
void axpy_f16_keys(const float* p, const uint16_t* values, int64_t stride, int64_t n_keys,
                   int64_t n, float* acc);

// A row for a float16 cache: float32 rounded to nearest, ties to even (read back with
// dequantize(TensorType::F16, ...)).
void f32_to_f16_row(const float* x, int64_t n, uint16_t* out);

// Whether the AVX2/FMA kernels are in use (decided once, from the CPU).
bool cpu_has_avx2();

namespace avx2 {
float dot_f32(const float* a, const float* b, int64_t n);
void axpy_f32(float a, const float* x, float* y, int64_t n);
void dot_f32_keys(const float* q, const float* keys, int64_t stride, int64_t n_keys, int64_t n,
                  float scale, float* out);
void axpy_f32_keys(const float* p, const float* values, int64_t stride, int64_t n_keys, int64_t n,
                   float* acc);
void dot_f16_keys(const float* q, const uint16_t* keys, int64_t stride, int64_t n_keys, int64_t n,
                  float scale, float* out);
void axpy_f16_keys(const float* p, const uint16_t* values, int64_t stride, int64_t n_keys,
                   int64_t n, float* acc);
void f32_to_f16_row(const float* x, int64_t n, uint16_t* out);
void block_sums_32(const float* x, int64_t n, float* sums);
RowDotFn kernel(TensorType type);
RowDotMultiFn multi_kernel(TensorType type);
}  // namespace avx2

}  // namespace emovec::ops
