#include "ops/row_dot.h"

#include <vector>

#include "quant/half.h"

#if defined(__x86_64__) || defined(__i386__)
#include <cpuid.h>
#endif

namespace emovec::ops {

bool cpu_has_avx2() {
#if defined(__x86_64__) || defined(__i386__)
  // F16C through cpuid (leaf 1, ECX bit 29): not every compiler's __builtin_cpu_supports knows it.
  static const bool has = [] {
    unsigned eax = 0, ebx = 0, ecx = 0, edx = 0;
    const bool f16c = __get_cpuid(1, &eax, &ebx, &ecx, &edx) && (ecx & (1u << 29)) != 0;
    return f16c && __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
  }();
  return has;
#else
  return false;
#endif
}

void axpy_f32(float a, const float* x, float* y, int64_t n) {
#if defined(__x86_64__) || defined(__i386__)
  if (cpu_has_avx2()) {
    avx2::axpy_f32(a, x, y, n);
    return;
  }
#endif
  for (int64_t i = 0; i < n; ++i) y[i] += a * x[i];
}

float dot_f32(const float* a, const float* b, int64_t n) {
#if defined(__x86_64__) || defined(__i386__)
  if (cpu_has_avx2()) return avx2::dot_f32(a, b, n);
#endif
  // Eight partial sums, as the vector kernels keep, so results differ from them only by the
  // final reduction order.
  float acc[8] = {};
  int64_t i = 0;
  for (; i + 8 <= n; i += 8) {
    for (int k = 0; k < 8; ++k) acc[k] += a[i + k] * b[i + k];
  }
  float s = 0;
  for (; i < n; ++i) s += a[i] * b[i];
  for (float v : acc) s += v;
  return s;
}

void dot_f32_keys(const float* q, const float* keys, int64_t stride, int64_t n_keys, int64_t n,
                  float scale, float* out) {
#if defined(__x86_64__) || defined(__i386__)
  if (cpu_has_avx2()) {
    avx2::dot_f32_keys(q, keys, stride, n_keys, n, scale, out);
    return;
  }
#endif
  for (int64_t j = 0; j < n_keys; ++j) out[j] = dot_f32(q, keys + j * stride, n) * scale;
}

void axpy_f32_keys(const float* p, const float* values, int64_t stride, int64_t n_keys, int64_t n,
                   float* acc) {
#if defined(__x86_64__) || defined(__i386__)
  if (cpu_has_avx2()) {
    avx2::axpy_f32_keys(p, values, stride, n_keys, n, acc);
    return;
  }
#endif
  for (int64_t j = 0; j < n_keys; ++j) axpy_f32(p[j], values + j * stride, acc, n);
}

void dot_f16_keys(const float* q, const uint16_t* keys, int64_t stride, int64_t n_keys, int64_t n,
                  float scale, float* out) {
#if defined(__x86_64__) || defined(__i386__)
  if (cpu_has_avx2()) {
    avx2::dot_f16_keys(q, keys, stride, n_keys, n, scale, out);
    return;
  }
#endif
  std::vector<float> k(static_cast<size_t>(n));
  for (int64_t j = 0; j < n_keys; ++j) {
    dequantize(TensorType::F16, keys + j * stride, k.data(), n);
    out[j] = dot_f32(q, k.data(), n) * scale;
  }
}

void axpy_f16_keys(const float* p, const uint16_t* values, int64_t stride, int64_t n_keys,
                   int64_t n, float* acc) {
#if defined(__x86_64__) || defined(__i386__)
  if (cpu_has_avx2()) {
    avx2::axpy_f16_keys(p, values, stride, n_keys, n, acc);
    return;
  }
#endif
  std::vector<float> v(static_cast<size_t>(n));
  for (int64_t j = 0; j < n_keys; ++j) {
    dequantize(TensorType::F16, values + j * stride, v.data(), n);
    axpy_f32(p[j], v.data(), acc, n);
  }
}

void f32_to_f16_row(const float* x, int64_t n, uint16_t* out) {
#if defined(__x86_64__) || defined(__i386__)
  if (cpu_has_avx2()) {
    avx2::f32_to_f16_row(x, n, out);
    return;
  }
#endif
  for (int64_t i = 0; i < n; ++i) out[i] = f32_to_f16(x[i]);
}

void block_sums_32(const float* x, int64_t n, float* sums) {
#if defined(__x86_64__) || defined(__i386__)
  if (cpu_has_avx2()) {
    avx2::block_sums_32(x, n, sums);
    return;
  }
#endif
  for (int64_t b = 0; b < n / 32; ++b) {
    float s = 0;
    for (int j = 0; j < 32; ++j) s += x[b * 32 + j];
    sums[b] = s;
  }
}

RowDotFn row_dot_kernel(TensorType type) {
#if defined(__x86_64__) || defined(__i386__)
  if (cpu_has_avx2()) return avx2::kernel(type);
#endif
  (void)type;
  return nullptr;
}

RowDotMultiFn row_dot_multi_kernel(TensorType type) {
#if defined(__x86_64__) || defined(__i386__)
  if (cpu_has_avx2()) return avx2::multi_kernel(type);
#endif
  (void)type;
  return nullptr;
}

}  // namespace emovec::ops
