// AVX2/FMA/F16C kernels (this file is compiled with -mavx2 -mfma -mf16c and only called when
// the CPU has them). Each decodes whole blocks into 8-float vectors and accumulates in float32.
#if defined(__x86_64__) || defined(__i386__)

#include <immintrin.h>

#include <cstring>
#include <type_traits>
#include <vector>

#include "ops/avx2_common.h"
#include "ops/row_dot.h"
#include "quant/half.h"

namespace emovec::ops::avx2 {
namespace {

// Eight unsigned bytes -> eight floats.
inline __m256 u8_to_ps(__m128i bytes8) { return _mm256_cvtepi32_ps(_mm256_cvtepu8_epi32(bytes8)); }
inline __m256 i8_to_ps(__m128i bytes8) { return _mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(bytes8)); }

// sum_j q_j * x_j for 16 unsigned bytes q and 16 floats x, as two independent chains.
inline __m256 dot16_u8(__m128i q, const float* x, __m256 acc0, __m256* acc1) {
  *acc1 = _mm256_fmadd_ps(u8_to_ps(_mm_srli_si128(q, 8)), _mm256_loadu_ps(x + 8), *acc1);
  return _mm256_fmadd_ps(u8_to_ps(q), _mm256_loadu_ps(x), acc0);
}

// sum_j q_j * x_j for 32 unsigned bytes q (low 16 bytes: elements 0..15) and 32 floats x.
inline __m256 dot32_u8(__m128i lo, __m128i hi, const float* x) {
  __m256 b = _mm256_mul_ps(u8_to_ps(_mm_srli_si128(lo, 8)), _mm256_loadu_ps(x + 8));
  __m256 a = _mm256_mul_ps(u8_to_ps(lo), _mm256_loadu_ps(x));
  a = dot16_u8(hi, x + 16, a, &b);
  return _mm256_add_ps(a, b);
}

inline __m256 dot32_u8(__m256i q, const float* x) {
  return dot32_u8(_mm256_castsi256_si128(q), _mm256_extracti128_si256(q, 1), x);
}

// 16 packed bytes of nibbles: low nibbles (elements 0..15) and high nibbles (16..31).
inline void unpack_nibbles16(const uint8_t* qs, __m128i* lo, __m128i* hi) {
  const __m128i q = _mm_loadu_si128(reinterpret_cast<const __m128i*>(qs));
  const __m128i mask = _mm_set1_epi8(0x0f);
  *lo = _mm_and_si128(q, mask);
  *hi = _mm_and_si128(_mm_srli_epi16(q, 4), mask);
}

inline __m256i unpack_nibbles16(const uint8_t* qs) {
  __m128i lo, hi;
  unpack_nibbles16(qs, &lo, &hi);
  return _mm256_set_m128i(hi, lo);
}

// Bit j of a 32-bit word -> byte j set to 0xff or 0.
inline __m256i bits_to_bytes(uint32_t bits) {
  const __m256i shuffle = _mm256_set_epi64x(0x0303030303030303, 0x0202020202020202,
                                            0x0101010101010101, 0x0000000000000000);
  __m256i bytes = _mm256_shuffle_epi8(_mm256_set1_epi32(static_cast<int>(bits)), shuffle);
  const __m256i select = _mm256_set1_epi64x(0x7fbfdfeff7fbfdfe);
  bytes = _mm256_or_si256(bytes, select);
  return _mm256_cmpeq_epi8(bytes, _mm256_set1_epi64x(-1));
}

float dot_q4_0(const uint8_t* row, const float* x, const float* xs, int64_t n) {
  __m256 acc = _mm256_setzero_ps();
  float offset = 0;
  for (int64_t b = 0; b < n / 32; ++b, row += 18, x += 32) {
    const float d = half(row);
    __m128i lo, hi;
    unpack_nibbles16(row + 2, &lo, &hi);
    acc = _mm256_fmadd_ps(_mm256_set1_ps(d), dot32_u8(lo, hi, x), acc);
    offset += d * xs[b];
  }
  return hsum(acc) - 8.0f * offset;
}

float dot_q4_1(const uint8_t* row, const float* x, const float* xs, int64_t n) {
  __m256 acc = _mm256_setzero_ps();
  float offset = 0;
  for (int64_t b = 0; b < n / 32; ++b, row += 20, x += 32) {
    const float d = half(row);
    const float m = half(row + 2);
    __m128i lo, hi;
    unpack_nibbles16(row + 4, &lo, &hi);
    acc = _mm256_fmadd_ps(_mm256_set1_ps(d), dot32_u8(lo, hi, x), acc);
    offset += m * xs[b];
  }
  return hsum(acc) + offset;
}

float dot_q5_0(const uint8_t* row, const float* x, const float* xs, int64_t n) {
  __m256 acc = _mm256_setzero_ps();
  float offset = 0;
  const __m256i bit4 = _mm256_set1_epi8(0x10);
  for (int64_t b = 0; b < n / 32; ++b, row += 22, x += 32) {
    const float d = half(row);
    uint32_t qh;
    std::memcpy(&qh, row + 2, 4);
    const __m256i q =
        _mm256_or_si256(unpack_nibbles16(row + 6), _mm256_and_si256(bits_to_bytes(qh), bit4));
    acc = _mm256_fmadd_ps(_mm256_set1_ps(d), dot32_u8(q, x), acc);
    offset += d * xs[b];
  }
  return hsum(acc) - 16.0f * offset;
}

float dot_q5_1(const uint8_t* row, const float* x, const float* xs, int64_t n) {
  __m256 acc = _mm256_setzero_ps();
  float offset = 0;
  const __m256i bit4 = _mm256_set1_epi8(0x10);
  for (int64_t b = 0; b < n / 32; ++b, row += 24, x += 32) {
    const float d = half(row);
    const float m = half(row + 2);
    uint32_t qh;
    std::memcpy(&qh, row + 4, 4);
    const __m256i q =
        _mm256_or_si256(unpack_nibbles16(row + 8), _mm256_and_si256(bits_to_bytes(qh), bit4));
    acc = _mm256_fmadd_ps(_mm256_set1_ps(d), dot32_u8(q, x), acc);
    offset += m * xs[b];
  }
  return hsum(acc) + offset;
}

float dot_q8_0(const uint8_t* row, const float* x, const float*, int64_t n) {
  __m256 acc = _mm256_setzero_ps();
  for (int64_t b = 0; b < n / 32; ++b, row += 34, x += 32) {
    const __m256 d = _mm256_set1_ps(half(row));
    const __m128i lo = _mm_loadu_si128(reinterpret_cast<const __m128i*>(row + 2));
    const __m128i hi = _mm_loadu_si128(reinterpret_cast<const __m128i*>(row + 18));
    __m256 s0 = _mm256_mul_ps(i8_to_ps(lo), _mm256_loadu_ps(x));
    __m256 s1 = _mm256_mul_ps(i8_to_ps(_mm_srli_si128(lo, 8)), _mm256_loadu_ps(x + 8));
    s0 = _mm256_fmadd_ps(i8_to_ps(hi), _mm256_loadu_ps(x + 16), s0);
    s1 = _mm256_fmadd_ps(i8_to_ps(_mm_srli_si128(hi, 8)), _mm256_loadu_ps(x + 24), s1);
    acc = _mm256_fmadd_ps(d, _mm256_add_ps(s0, s1), acc);
  }
  return hsum(acc);
}

// dot_q8_0 for kT rows of x: each block is converted to float once; per row, the operations
// and their order are dot_q8_0's.
template <int kT>
void dot_q8_0_rows(const uint8_t* row, const float* x, int64_t x_stride, int64_t n, float* out) {
  __m256 acc[kT];
#pragma GCC unroll 4
  for (int t = 0; t < kT; ++t) acc[t] = _mm256_setzero_ps();
  for (int64_t b = 0; b < n / 32; ++b, row += 34) {
    const __m256 d = _mm256_set1_ps(half(row));
    const __m128i lo = _mm_loadu_si128(reinterpret_cast<const __m128i*>(row + 2));
    const __m128i hi = _mm_loadu_si128(reinterpret_cast<const __m128i*>(row + 18));
    const __m256 w0 = i8_to_ps(lo);
    const __m256 w1 = i8_to_ps(_mm_srli_si128(lo, 8));
    const __m256 w2 = i8_to_ps(hi);
    const __m256 w3 = i8_to_ps(_mm_srli_si128(hi, 8));
#pragma GCC unroll 4
    for (int t = 0; t < kT; ++t) {
      const float* xt = x + t * x_stride + 32 * b;
      __m256 s0 = _mm256_mul_ps(w0, _mm256_loadu_ps(xt));
      __m256 s1 = _mm256_mul_ps(w1, _mm256_loadu_ps(xt + 8));
      s0 = _mm256_fmadd_ps(w2, _mm256_loadu_ps(xt + 16), s0);
      s1 = _mm256_fmadd_ps(w3, _mm256_loadu_ps(xt + 24), s1);
      acc[t] = _mm256_fmadd_ps(d, _mm256_add_ps(s0, s1), acc[t]);
    }
  }
#pragma GCC unroll 4
  for (int t = 0; t < kT; ++t) out[t] = hsum(acc[t]);
}

void multi_q8_0(const uint8_t* row, const float* x, int64_t x_stride, int64_t n, int count,
                float* out) {
  switch (count) {
    case 1:
      return dot_q8_0_rows<1>(row, x, x_stride, n, out);
    case 2:
      return dot_q8_0_rows<2>(row, x, x_stride, n, out);
    case 3:
      return dot_q8_0_rows<3>(row, x, x_stride, n, out);
    default:
      return dot_q8_0_rows<4>(row, x, x_stride, n, out);
  }
}

float dot_q4_k(const uint8_t* row, const float* x, const float* xs, int64_t n) {
  __m256 acc = _mm256_setzero_ps();
  float offset = 0;
  const __m256i mask = _mm256_set1_epi8(0x0f);
  for (int64_t b = 0; b < n / 256; ++b, row += 144, x += 256, xs += 8) {
    const float d = half(row);
    const float dmin = half(row + 2);
    uint8_t sc[8], mn[8];
    scale_min_k4(row + 4, sc, mn);
    const uint8_t* qs = row + 16;
    for (int c = 0; c < 4; ++c) {
      const __m256i q = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(qs + 32 * c));
      const __m256i lo = _mm256_and_si256(q, mask);
      const __m256i hi = _mm256_and_si256(_mm256_srli_epi16(q, 4), mask);
      acc = _mm256_fmadd_ps(_mm256_set1_ps(d * static_cast<float>(sc[2 * c])),
                            dot32_u8(lo, x + 64 * c), acc);
      acc = _mm256_fmadd_ps(_mm256_set1_ps(d * static_cast<float>(sc[2 * c + 1])),
                            dot32_u8(hi, x + 64 * c + 32), acc);
    }
    for (int s = 0; s < 8; ++s) offset += dmin * static_cast<float>(mn[s]) * xs[s];
  }
  return hsum(acc) - offset;
}

float dot_q5_k(const uint8_t* row, const float* x, const float* xs, int64_t n) {
  __m256 acc = _mm256_setzero_ps();
  float offset = 0;
  const __m256i mask = _mm256_set1_epi8(0x0f);
  const __m256i one = _mm256_set1_epi8(1);
  for (int64_t b = 0; b < n / 256; ++b, row += 176, x += 256, xs += 8) {
    const float d = half(row);
    const float dmin = half(row + 2);
    uint8_t sc[8], mn[8];
    scale_min_k4(row + 4, sc, mn);
    const __m256i qh = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(row + 16));
    const uint8_t* qs = row + 48;
    for (int c = 0; c < 4; ++c) {
      const __m256i q = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(qs + 32 * c));
      const __m256i hlo = _mm256_slli_epi16(_mm256_and_si256(_mm256_srli_epi16(qh, 2 * c), one), 4);
      const __m256i hhi =
          _mm256_slli_epi16(_mm256_and_si256(_mm256_srli_epi16(qh, 2 * c + 1), one), 4);
      const __m256i lo = _mm256_or_si256(_mm256_and_si256(q, mask), hlo);
      const __m256i hi = _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(q, 4), mask), hhi);
      acc = _mm256_fmadd_ps(_mm256_set1_ps(d * static_cast<float>(sc[2 * c])),
                            dot32_u8(lo, x + 64 * c), acc);
      acc = _mm256_fmadd_ps(_mm256_set1_ps(d * static_cast<float>(sc[2 * c + 1])),
                            dot32_u8(hi, x + 64 * c + 32), acc);
    }
    for (int s = 0; s < 8; ++s) offset += dmin * static_cast<float>(mn[s]) * xs[s];
  }
  return hsum(acc) - offset;
}

// sum over 16 signed bytes q (low half of a register, or high) times x.
inline __m256 dot16_i8(__m128i q, const float* x) {
  __m256 s = _mm256_mul_ps(i8_to_ps(q), _mm256_loadu_ps(x));
  return _mm256_fmadd_ps(i8_to_ps(_mm_srli_si128(q, 8)), _mm256_loadu_ps(x + 8), s);
}

float dot_q6_k(const uint8_t* row, const float* x, const float*, int64_t n) {
  __m256 acc = _mm256_setzero_ps();
  const __m256i bias = _mm256_set1_epi8(32);
  for (int64_t b = 0; b < n / 256; ++b, row += 210, x += 256) {
    const uint8_t* ql = row;
    const uint8_t* qh = row + 128;
    const auto* scales = reinterpret_cast<const int8_t*>(row + 192);
    const float d = half(row + 208);
    for (int h = 0; h < 2; ++h) {
      __m256i g[4];
      q6k_codes(ql, qh, h, g);
      const float* xh = x + 128 * h;
      for (int k = 0; k < 4; ++k) {
        const __m256i q = _mm256_sub_epi8(g[k], bias);
        const int s = 8 * h + 2 * k;
        acc = _mm256_fmadd_ps(_mm256_set1_ps(d * static_cast<float>(scales[s])),
                              dot16_i8(_mm256_castsi256_si128(q), xh + 32 * k), acc);
        acc = _mm256_fmadd_ps(_mm256_set1_ps(d * static_cast<float>(scales[s + 1])),
                              dot16_i8(_mm256_extracti128_si256(q, 1), xh + 32 * k + 16), acc);
      }
    }
  }
  return hsum(acc);
}

float dot_f16(const uint8_t* row, const float* x, const float*, int64_t n) {
  __m256 a0 = _mm256_setzero_ps(), a1 = _mm256_setzero_ps();
  int64_t i = 0;
  for (; i + 16 <= n; i += 16) {
    const __m256 w0 =
        _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(row + 2 * i)));
    const __m256 w1 =
        _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(row + 2 * i + 16)));
    a0 = _mm256_fmadd_ps(w0, _mm256_loadu_ps(x + i), a0);
    a1 = _mm256_fmadd_ps(w1, _mm256_loadu_ps(x + i + 8), a1);
  }
  float s = hsum(_mm256_add_ps(a0, a1));
  for (; i < n; ++i) s += half(row + 2 * i) * x[i];
  return s;
}

float dot_bf16(const uint8_t* row, const float* x, const float*, int64_t n) {
  __m256 a0 = _mm256_setzero_ps();
  int64_t i = 0;
  for (; i + 8 <= n; i += 8) {
    const __m256i w16 =
        _mm256_cvtepu16_epi32(_mm_loadu_si128(reinterpret_cast<const __m128i*>(row + 2 * i)));
    const __m256 w = _mm256_castsi256_ps(_mm256_slli_epi32(w16, 16));
    a0 = _mm256_fmadd_ps(w, _mm256_loadu_ps(x + i), a0);
  }
  float s = hsum(a0);
  for (; i < n; ++i) {
    uint16_t h;
    std::memcpy(&h, row + 2 * i, 2);
    s += bf16_to_f32(h) * x[i];
  }
  return s;
}

float dot_f32_row(const uint8_t* row, const float* x, const float*, int64_t n) {
  return dot_f32(reinterpret_cast<const float*>(row), x, n);
}

}  // namespace

float dot_f32(const float* a, const float* b, int64_t n) {
  __m256 a0 = _mm256_setzero_ps(), a1 = _mm256_setzero_ps();
  int64_t i = 0;
  for (; i + 16 <= n; i += 16) {
    a0 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i), _mm256_loadu_ps(b + i), a0);
    a1 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i + 8), _mm256_loadu_ps(b + i + 8), a1);
  }
  float s = hsum(_mm256_add_ps(a0, a1));
  for (; i < n; ++i) s += a[i] * b[i];
  return s;
}

void axpy_f32(float a, const float* x, float* y, int64_t n) {
  const __m256 va = _mm256_set1_ps(a);
  int64_t i = 0;
  for (; i + 8 <= n; i += 8) {
    _mm256_storeu_ps(y + i, _mm256_fmadd_ps(va, _mm256_loadu_ps(x + i), _mm256_loadu_ps(y + i)));
  }
  for (; i < n; ++i) y[i] += a * x[i];
}

namespace {

// Eight cache values from p, as floats: float32 as they are, float16 widened (exactly).
inline __m256 load8(const float* p) { return _mm256_loadu_ps(p); }
inline __m256 load8(const uint16_t* p) {
  return _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p)));
}

// Room for n floats: on the stack for a head's width, else on the heap.
class Scratch {
 public:
  explicit Scratch(int64_t n) {
    if (n > kLocal) heap_.resize(static_cast<size_t>(n));
  }
  float* data() { return heap_.empty() ? local_ : heap_.data(); }

 private:
  static constexpr int64_t kLocal = 512;
  float local_[kLocal];
  std::vector<float> heap_;
};

// n cache values from p as floats in out (float16 widened), for the scalar tails.
inline const float* as_floats(const float* p, int64_t, float*) { return p; }
inline const float* as_floats(const uint16_t* p, int64_t n, float* out) {
  for (int64_t i = 0; i < n; ++i) out[i] = _cvtsh_ss(p[i]);
  return out;
}

// Four keys at a time, each with dot_f32's two accumulators and reduction: the query's eight
// values are loaded once for the four.
template <typename T>
void dot_keys(const float* q, const T* keys, int64_t stride, int64_t n_keys, int64_t n, float scale,
              float* out) {
  int64_t j = 0;
  if (n % 16 == 0) {
    for (; j + 4 <= n_keys; j += 4) {
      const T* k0 = keys + j * stride;
      const T* k1 = k0 + stride;
      const T* k2 = k1 + stride;
      const T* k3 = k2 + stride;
      __m256 a0[4], a1[4];
      for (int t = 0; t < 4; ++t) a0[t] = a1[t] = _mm256_setzero_ps();
      for (int64_t i = 0; i < n; i += 16) {
        const __m256 qa = _mm256_loadu_ps(q + i);
        const __m256 qb = _mm256_loadu_ps(q + i + 8);
        a0[0] = _mm256_fmadd_ps(qa, load8(k0 + i), a0[0]);
        a0[1] = _mm256_fmadd_ps(qa, load8(k1 + i), a0[1]);
        a0[2] = _mm256_fmadd_ps(qa, load8(k2 + i), a0[2]);
        a0[3] = _mm256_fmadd_ps(qa, load8(k3 + i), a0[3]);
        a1[0] = _mm256_fmadd_ps(qb, load8(k0 + i + 8), a1[0]);
        a1[1] = _mm256_fmadd_ps(qb, load8(k1 + i + 8), a1[1]);
        a1[2] = _mm256_fmadd_ps(qb, load8(k2 + i + 8), a1[2]);
        a1[3] = _mm256_fmadd_ps(qb, load8(k3 + i + 8), a1[3]);
      }
      for (int t = 0; t < 4; ++t) out[j + t] = hsum(_mm256_add_ps(a0[t], a1[t])) * scale;
    }
  }
  Scratch tail(std::is_same_v<T, float> || j == n_keys ? 0 : n);
  for (; j < n_keys; ++j) {
    out[j] = dot_f32(q, as_floats(keys + j * stride, n, tail.data()), n) * scale;
  }
}

// 64 accumulators (eight registers) at a time over all keys: each element gets axpy_f32's
// multiply-adds in the same order, without a load and store of it per key.
template <typename T>
void axpy_keys(const float* p, const T* values, int64_t stride, int64_t n_keys, int64_t n,
               float* acc) {
  int64_t i = 0;
  for (; i + 64 <= n; i += 64) {
    __m256 a[8];
    for (int r = 0; r < 8; ++r) a[r] = _mm256_loadu_ps(acc + i + 8 * r);
    const T* v = values + i;
    for (int64_t j = 0; j < n_keys; ++j, v += stride) {
      const __m256 pj = _mm256_set1_ps(p[j]);
      for (int r = 0; r < 8; ++r) a[r] = _mm256_fmadd_ps(pj, load8(v + 8 * r), a[r]);
    }
    for (int r = 0; r < 8; ++r) _mm256_storeu_ps(acc + i + 8 * r, a[r]);
  }
  if (i < n) {
    Scratch tail(std::is_same_v<T, float> ? 0 : n - i);
    for (int64_t j = 0; j < n_keys; ++j) {
      axpy_f32(p[j], as_floats(values + j * stride + i, n - i, tail.data()), acc + i, n - i);
    }
  }
}

}  // namespace

void dot_f32_keys(const float* q, const float* keys, int64_t stride, int64_t n_keys, int64_t n,
                  float scale, float* out) {
  dot_keys(q, keys, stride, n_keys, n, scale, out);
}
void dot_f16_keys(const float* q, const uint16_t* keys, int64_t stride, int64_t n_keys, int64_t n,
                  float scale, float* out) {
  dot_keys(q, keys, stride, n_keys, n, scale, out);
}
void axpy_f32_keys(const float* p, const float* values, int64_t stride, int64_t n_keys, int64_t n,
                   float* acc) {
  axpy_keys(p, values, stride, n_keys, n, acc);
}
void axpy_f16_keys(const float* p, const uint16_t* values, int64_t stride, int64_t n_keys,
                   int64_t n, float* acc) {
  axpy_keys(p, values, stride, n_keys, n, acc);
}

void f32_to_f16_row(const float* x, int64_t n, uint16_t* out) {
  int64_t i = 0;
  for (; i + 8 <= n; i += 8) {
    _mm_storeu_si128(reinterpret_cast<__m128i*>(out + i),
                     _mm256_cvtps_ph(_mm256_loadu_ps(x + i), _MM_FROUND_TO_NEAREST_INT));
  }
  for (; i < n; ++i) out[i] = _cvtss_sh(x[i], _MM_FROUND_TO_NEAREST_INT);
}

void block_sums_32(const float* x, int64_t n, float* sums) {
  for (int64_t b = 0; b < n / 32; ++b, x += 32) {
    const __m256 s = _mm256_add_ps(_mm256_add_ps(_mm256_loadu_ps(x), _mm256_loadu_ps(x + 8)),
                                   _mm256_add_ps(_mm256_loadu_ps(x + 16), _mm256_loadu_ps(x + 24)));
    sums[b] = hsum(s);
  }
}

RowDotMultiFn multi_kernel(TensorType type) {
  return type == TensorType::Q8_0 ? multi_q8_0 : nullptr;
}

RowDotFn kernel(TensorType type) {
  switch (type) {
    case TensorType::F32:
      return dot_f32_row;
    case TensorType::F16:
      return dot_f16;
    case TensorType::BF16:
      return dot_bf16;
    case TensorType::Q4_0:
      return dot_q4_0;
    case TensorType::Q4_1:
      return dot_q4_1;
    case TensorType::Q5_0:
      return dot_q5_0;
    case TensorType::Q5_1:
      return dot_q5_1;
    case TensorType::Q8_0:
      return dot_q8_0;
    case TensorType::Q4_K:
      return dot_q4_k;
    case TensorType::Q5_K:
      return dot_q5_k;
    case TensorType::Q6_K:
      return dot_q6_k;
    default:
      return nullptr;
  }
}

}  // namespace emovec::ops::avx2

#endif
