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

// The codes of a 32-value unit as four 8-float vectors (elements 0..7, 8..15, 16..23, 24..31),
// from its low 16 bytes and its high 16 bytes.
struct Codes32 {
  __m256 w[4];
};

inline Codes32 u8_codes(__m128i lo, __m128i hi) {
  return {{u8_to_ps(lo), u8_to_ps(_mm_srli_si128(lo, 8)), u8_to_ps(hi),
           u8_to_ps(_mm_srli_si128(hi, 8))}};
}

inline Codes32 u8_codes(__m256i q) {
  return u8_codes(_mm256_castsi256_si128(q), _mm256_extracti128_si256(q, 1));
}

// sum_j code_j * x_j over the unit, as two chains (elements 0..7 and 16..23; 8..15 and
// 24..31) added at the end. Every float kernel below sums a unit this way, so a row gets the
// same bits whatever it is batched with.
inline __m256 dot32(const Codes32& c, const float* x) {
  __m256 b = _mm256_mul_ps(c.w[1], _mm256_loadu_ps(x + 8));
  __m256 a = _mm256_mul_ps(c.w[0], _mm256_loadu_ps(x));
  b = _mm256_fmadd_ps(c.w[3], _mm256_loadu_ps(x + 24), b);
  a = _mm256_fmadd_ps(c.w[2], _mm256_loadu_ps(x + 16), a);
  return _mm256_add_ps(a, b);
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

// The float kernels, each for kT activation rows at once: row t at x + t * x_stride, its block
// sums (block_sums_32) at xs + t * xs_stride. A weight block's codes are converted to float
// once for all rows; each row then gets the operations of the one-row kernel (kT = 1), in its
// order, in its own accumulators, so out[t] has the bits of that row computed alone.
struct RowsIn {
  const float* x;
  int64_t x_stride;
  const float* xs;
  int64_t xs_stride;
};

// The 32-value block formats: per block, a scale d, the codes, and an offset term added per
// block as coef * (sum of the block's activations), scaled by kOffsetScale at the end
// (Q4_0: -8 d, Q4_1: + m, Q5_0: -16 d, Q5_1: + m; Q8_0 has none).
struct BlockQ4_0 {
  static constexpr int64_t kBytes = 18;
  static constexpr float kOffsetScale = -8.0f;
  static Codes32 codes(const uint8_t* b) {
    __m128i lo, hi;
    unpack_nibbles16(b + 2, &lo, &hi);
    return u8_codes(lo, hi);
  }
  static float coef(const uint8_t* b) { return half(b); }
};

struct BlockQ4_1 {
  static constexpr int64_t kBytes = 20;
  static constexpr float kOffsetScale = 1.0f;
  static Codes32 codes(const uint8_t* b) {
    __m128i lo, hi;
    unpack_nibbles16(b + 4, &lo, &hi);
    return u8_codes(lo, hi);
  }
  static float coef(const uint8_t* b) { return half(b + 2); }
};

struct BlockQ5_0 {
  static constexpr int64_t kBytes = 22;
  static constexpr float kOffsetScale = -16.0f;
  static Codes32 codes(const uint8_t* b) {
    uint32_t qh;
    std::memcpy(&qh, b + 2, 4);
    return u8_codes(_mm256_or_si256(unpack_nibbles16(b + 6),
                                    _mm256_and_si256(bits_to_bytes(qh), _mm256_set1_epi8(0x10))));
  }
  static float coef(const uint8_t* b) { return half(b); }
};

struct BlockQ5_1 {
  static constexpr int64_t kBytes = 24;
  static constexpr float kOffsetScale = 1.0f;
  static Codes32 codes(const uint8_t* b) {
    uint32_t qh;
    std::memcpy(&qh, b + 4, 4);
    return u8_codes(_mm256_or_si256(unpack_nibbles16(b + 8),
                                    _mm256_and_si256(bits_to_bytes(qh), _mm256_set1_epi8(0x10))));
  }
  static float coef(const uint8_t* b) { return half(b + 2); }
};

struct BlockQ8_0 {
  static constexpr int64_t kBytes = 34;
  static constexpr float kOffsetScale = 0.0f;
  static Codes32 codes(const uint8_t* b) {
    const __m128i lo = _mm_loadu_si128(reinterpret_cast<const __m128i*>(b + 2));
    const __m128i hi = _mm_loadu_si128(reinterpret_cast<const __m128i*>(b + 18));
    return {{i8_to_ps(lo), i8_to_ps(_mm_srli_si128(lo, 8)), i8_to_ps(hi),
             i8_to_ps(_mm_srli_si128(hi, 8))}};
  }
  static float coef(const uint8_t*) { return 0.0f; }
};

template <typename B>
struct Block32Rows {
  template <int kT>
  static void run(const uint8_t* row, RowsIn in, int64_t n, float* out) {
    __m256 acc[kT];
    float offset[kT];
#pragma GCC unroll 8
    for (int t = 0; t < kT; ++t) {
      acc[t] = _mm256_setzero_ps();
      offset[t] = 0;
    }
    for (int64_t b = 0; b < n / 32; ++b, row += B::kBytes) {
      const __m256 d = _mm256_set1_ps(half(row));
      const Codes32 c = B::codes(row);
      const float coef = B::coef(row);
#pragma GCC unroll 8
      for (int t = 0; t < kT; ++t) {
        acc[t] = _mm256_fmadd_ps(d, dot32(c, in.x + t * in.x_stride + 32 * b), acc[t]);
        if constexpr (B::kOffsetScale != 0.0f) offset[t] += coef * in.xs[t * in.xs_stride + b];
      }
    }
#pragma GCC unroll 8
    for (int t = 0; t < kT; ++t) {
      if constexpr (B::kOffsetScale == 0.0f) {
        out[t] = hsum(acc[t]);  // (adding 0 * 0 would turn a sum of -0 into +0)
      } else {
        out[t] = hsum(acc[t]) + B::kOffsetScale * offset[t];  // the scale: +1, -8 or -16, exact
      }
    }
  }
};

// Q4_K and Q5_K: super-blocks of 256 values, eight 32-value units with 6-bit scales and mins.
template <bool kQ5>
struct K4Rows {
  template <int kT>
  static void run(const uint8_t* row, RowsIn in, int64_t n, float* out) {
    constexpr int64_t kBytes = kQ5 ? 176 : 144;
    __m256 acc[kT];
    float offset[kT];
#pragma GCC unroll 8
    for (int t = 0; t < kT; ++t) {
      acc[t] = _mm256_setzero_ps();
      offset[t] = 0;
    }
    const __m256i mask = _mm256_set1_epi8(0x0f);
    const __m256i one = _mm256_set1_epi8(1);
    for (int64_t b = 0; b < n / 256; ++b, row += kBytes) {
      const float d = half(row);
      const float dmin = half(row + 2);
      uint8_t sc[8], mn[8];
      scale_min_k4(row + 4, sc, mn);
      const uint8_t* qs = row + (kQ5 ? 48 : 16);
      __m256i qh = _mm256_setzero_si256();
      if constexpr (kQ5) qh = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(row + 16));
      for (int c = 0; c < 4; ++c) {
        const __m256i q = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(qs + 32 * c));
        __m256i lo = _mm256_and_si256(q, mask);
        __m256i hi = _mm256_and_si256(_mm256_srli_epi16(q, 4), mask);
        if constexpr (kQ5) {
          lo = _mm256_or_si256(
              lo, _mm256_slli_epi16(_mm256_and_si256(_mm256_srli_epi16(qh, 2 * c), one), 4));
          hi = _mm256_or_si256(
              hi, _mm256_slli_epi16(_mm256_and_si256(_mm256_srli_epi16(qh, 2 * c + 1), one), 4));
        }
        const __m256 s_lo = _mm256_set1_ps(d * static_cast<float>(sc[2 * c]));
        const __m256 s_hi = _mm256_set1_ps(d * static_cast<float>(sc[2 * c + 1]));
        const Codes32 c_lo = u8_codes(lo);
#pragma GCC unroll 8
        for (int t = 0; t < kT; ++t) {
          acc[t] =
              _mm256_fmadd_ps(s_lo, dot32(c_lo, in.x + t * in.x_stride + 256 * b + 64 * c), acc[t]);
        }
        const Codes32 c_hi = u8_codes(hi);
#pragma GCC unroll 8
        for (int t = 0; t < kT; ++t) {
          acc[t] = _mm256_fmadd_ps(
              s_hi, dot32(c_hi, in.x + t * in.x_stride + 256 * b + 64 * c + 32), acc[t]);
        }
      }
#pragma GCC unroll 8
      for (int t = 0; t < kT; ++t) {
        const float* xs = in.xs + t * in.xs_stride + 8 * b;
        for (int s = 0; s < 8; ++s) offset[t] += dmin * static_cast<float>(mn[s]) * xs[s];
      }
    }
#pragma GCC unroll 8
    for (int t = 0; t < kT; ++t) out[t] = hsum(acc[t]) - offset[t];
  }
};

// Q6_K: super-blocks of 256 values, sixteen 16-value units with signed 8-bit scales.
struct Q6KRows {
  template <int kT>
  static void run(const uint8_t* row, RowsIn in, int64_t n, float* out) {
    __m256 acc[kT];
#pragma GCC unroll 8
    for (int t = 0; t < kT; ++t) acc[t] = _mm256_setzero_ps();
    const __m256i bias = _mm256_set1_epi8(32);
    for (int64_t b = 0; b < n / 256; ++b, row += 210) {
      const uint8_t* ql = row;
      const uint8_t* qh = row + 128;
      const auto* scales = reinterpret_cast<const int8_t*>(row + 192);
      const float d = half(row + 208);
      for (int h = 0; h < 2; ++h) {
        __m256i g[4];
        q6k_codes(ql, qh, h, g);
        for (int k = 0; k < 4; ++k) {
          const __m256i q = _mm256_sub_epi8(g[k], bias);
          const int s = 8 * h + 2 * k;
          const int64_t at = 256 * b + 128 * h + 32 * k;
          // Two 16-value units: elements 0..15 of the group, then 16..31.
          for (int u = 0; u < 2; ++u) {
            const __m128i q16 = u == 0 ? _mm256_castsi256_si128(q) : _mm256_extracti128_si256(q, 1);
            const __m256 w0 = i8_to_ps(q16);
            const __m256 w1 = i8_to_ps(_mm_srli_si128(q16, 8));
            const __m256 scale = _mm256_set1_ps(d * static_cast<float>(scales[s + u]));
#pragma GCC unroll 8
            for (int t = 0; t < kT; ++t) {
              const float* x = in.x + t * in.x_stride + at + 16 * u;
              const __m256 p = _mm256_fmadd_ps(w1, _mm256_loadu_ps(x + 8),
                                               _mm256_mul_ps(w0, _mm256_loadu_ps(x)));
              acc[t] = _mm256_fmadd_ps(scale, p, acc[t]);
            }
          }
        }
      }
    }
#pragma GCC unroll 8
    for (int t = 0; t < kT; ++t) out[t] = hsum(acc[t]);
  }
};

// The one-row kernel (RowDotFn) and the multi-row one (RowDotMultiFn) of a kernel template.
template <typename K>
float one_row(const uint8_t* row, const float* x, const float* xs, int64_t n) {
  float out;
  K::template run<1>(row, {x, 0, xs, 0}, n, &out);
  return out;
}

template <typename K>
void multi_rows(const uint8_t* row, const float* x, int64_t x_stride, const float* xs,
                int64_t xs_stride, int64_t n, int count, float* out) {
  const RowsIn in{x, x_stride, xs, xs_stride};
  for_row_count<kRowDotMultiRows>(count, [&]<int kT>() { K::template run<kT>(row, in, n, out); });
}

// Float weights, eight at a time, widened exactly (float16, bfloat16) or as they are. Per row
// two accumulators, 16 weights a step, then the scalar rest added after their sum (dot_f32's
// order).
struct WeightsF32 {
  static __m256 load8(const uint8_t* row, int64_t i) {
    return _mm256_loadu_ps(reinterpret_cast<const float*>(row) + i);
  }
  static float at(const uint8_t* row, int64_t i) {
    float v;
    std::memcpy(&v, row + 4 * i, 4);
    return v;
  }
};

struct WeightsF16 {
  static __m256 load8(const uint8_t* row, int64_t i) {
    return _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(row + 2 * i)));
  }
  static float at(const uint8_t* row, int64_t i) { return half(row + 2 * i); }
};

struct WeightsBF16 {
  static __m256 load8(const uint8_t* row, int64_t i) {
    const __m256i w16 =
        _mm256_cvtepu16_epi32(_mm_loadu_si128(reinterpret_cast<const __m128i*>(row + 2 * i)));
    return _mm256_castsi256_ps(_mm256_slli_epi32(w16, 16));
  }
  static float at(const uint8_t* row, int64_t i) {
    uint16_t h;
    std::memcpy(&h, row + 2 * i, 2);
    return bf16_to_f32(h);
  }
};

template <typename W>
struct FloatRows {
  template <int kT>
  static void run(const uint8_t* row, RowsIn in, int64_t n, float* out) {
    __m256 a0[kT], a1[kT];
#pragma GCC unroll 8
    for (int t = 0; t < kT; ++t) a0[t] = a1[t] = _mm256_setzero_ps();
    int64_t i = 0;
    for (; i + 16 <= n; i += 16) {
      const __m256 w0 = W::load8(row, i);
      const __m256 w1 = W::load8(row, i + 8);
#pragma GCC unroll 8
      for (int t = 0; t < kT; ++t) {
        const float* x = in.x + t * in.x_stride + i;
        a0[t] = _mm256_fmadd_ps(w0, _mm256_loadu_ps(x), a0[t]);
        a1[t] = _mm256_fmadd_ps(w1, _mm256_loadu_ps(x + 8), a1[t]);
      }
    }
    for (int t = 0; t < kT; ++t) {
      const float* x = in.x + t * in.x_stride;
      float s = hsum(_mm256_add_ps(a0[t], a1[t]));
      for (int64_t j = i; j < n; ++j) s += W::at(row, j) * x[j];
      out[t] = s;
    }
  }
};

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

namespace {

// f.template operator()<K>() for the kernel template K of `type`; nullptr for the types that
// have none.
template <typename Fn, typename F>
Fn for_row_kernel(TensorType type, F&& f) {
  switch (type) {
    case TensorType::Q4_0:
      return f.template operator()<Block32Rows<BlockQ4_0>>();
    case TensorType::Q4_1:
      return f.template operator()<Block32Rows<BlockQ4_1>>();
    case TensorType::Q5_0:
      return f.template operator()<Block32Rows<BlockQ5_0>>();
    case TensorType::Q5_1:
      return f.template operator()<Block32Rows<BlockQ5_1>>();
    case TensorType::Q8_0:
      return f.template operator()<Block32Rows<BlockQ8_0>>();
    case TensorType::Q4_K:
      return f.template operator()<K4Rows<false>>();
    case TensorType::Q5_K:
      return f.template operator()<K4Rows<true>>();
    case TensorType::Q6_K:
      return f.template operator()<Q6KRows>();
    case TensorType::F32:
      return f.template operator()<FloatRows<WeightsF32>>();
    case TensorType::F16:
      return f.template operator()<FloatRows<WeightsF16>>();
    case TensorType::BF16:
      return f.template operator()<FloatRows<WeightsBF16>>();
    default:
      return nullptr;
  }
}

}  // namespace

RowDotMultiFn multi_kernel(TensorType type) {
  return for_row_kernel<RowDotMultiFn>(type,
                                       []<typename K>() -> RowDotMultiFn { return multi_rows<K>; });
}

RowDotFn kernel(TensorType type) {
  return for_row_kernel<RowDotFn>(type, []<typename K>() -> RowDotFn { return one_row<K>; });
}

}  // namespace emovec::ops::avx2

#endif
