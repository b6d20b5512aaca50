// AVX2 exp for float32 with the C library's results bit for bit (this file is compiled with
// -mavx2 -mfma -mf16c and only called when the CPU has them).
//
// glibc's expf (the ARM optimized-routines algorithm) evaluates, in double precision:
// x * 32 / ln 2 = k + r with k rounded to nearest by adding 1.5 * 2^52, then
// 2^(k/32) from a 32-entry table with k / 32 added to the exponent, times a cubic in r, rounded
// once to float. Every step is an IEEE double operation, so evaluating the same steps four lanes
// at a time gives the same float. Inputs with |x| >= 88 (overflow, underflow, infinities, NaN)
// take the library's own path. All 2^32 floats gave the library's bits when this was written
// (glibc 2.36, x86-64); tests/test_vector_math.cpp compares a wide sample of them.
#if defined(__x86_64__) || defined(__i386__)

#include <immintrin.h>

#include <cmath>
#include <cstdint>
#include <cstring>

#include "ops/elementwise.h"
#include "quant/fp_contract_off.h"  // the steps round one at a time, as the library's do

namespace emovec::ops::avx2 {
namespace {

constexpr int kTableBits = 5;
constexpr int kTableSize = 1 << kTableBits;
constexpr double kInvLn2N = 0x1.71547652b82fep+0 * kTableSize;
constexpr double kShift = 0x1.8p+52;
constexpr double kC0 = 0x1.c6af84b912394p-5 / kTableSize / kTableSize / kTableSize;
constexpr double kC1 = 0x1.ebfce50fac4f3p-3 / kTableSize / kTableSize;
constexpr double kC2 = 0x1.62e42ff0c52d6p-1 / kTableSize;

// tab[i] = bits(2^(i/32)) - (i << 47): adding k << 47 to tab[k % 32] gives the bits of
// 2^(k/32) for any integer k in range. The powers are rounded once from extended precision.
struct Table {
  alignas(32) int64_t tab[kTableSize];
  Table() {
    for (int i = 0; i < kTableSize; ++i) {
      const auto v = static_cast<double>(exp2l(static_cast<long double>(i) / kTableSize));
      uint64_t bits = 0;
      std::memcpy(&bits, &v, sizeof bits);
      tab[i] = static_cast<int64_t>(bits - (static_cast<uint64_t>(i) << (52 - kTableBits)));
    }
  }
};

const Table& table() {
  static const Table t;
  return t;
}

// exp of four floats, widened to double.
inline __m128 exp4(__m128 x, const int64_t* tab) {
  const __m256d xd = _mm256_cvtps_pd(x);
  const __m256d z = _mm256_mul_pd(_mm256_set1_pd(kInvLn2N), xd);
  __m256d kd = _mm256_add_pd(z, _mm256_set1_pd(kShift));
  const __m256i ki = _mm256_castpd_si256(kd);
  kd = _mm256_sub_pd(kd, _mm256_set1_pd(kShift));
  // The library's build fuses this product and difference (its results show it: a separate
  // rounding of z gives exp one unit in the last place away for 2 of all floats).
  const __m256d r = _mm256_fmsub_pd(_mm256_set1_pd(kInvLn2N), xd, kd);
  const __m256i t = _mm256_add_epi64(
      _mm256_i64gather_epi64(reinterpret_cast<const long long*>(tab),
                             _mm256_and_si256(ki, _mm256_set1_epi64x(kTableSize - 1)), 8),
      _mm256_slli_epi64(ki, 52 - kTableBits));
  const __m256d s = _mm256_castsi256_pd(t);
  const __m256d p = _mm256_fmadd_pd(_mm256_set1_pd(kC0), r, _mm256_set1_pd(kC1));
  const __m256d r2 = _mm256_mul_pd(r, r);
  __m256d y = _mm256_fmadd_pd(_mm256_set1_pd(kC2), r, _mm256_set1_pd(1.0));
  y = _mm256_fmadd_pd(p, r2, y);
  return _mm256_cvtpd_ps(_mm256_mul_pd(y, s));
}

// exp of eight floats; false (nothing written) when one of them needs the library's path.
inline bool exp8(__m256 x, const int64_t* tab, __m256& out) {
  const __m256 abs = _mm256_and_ps(x, _mm256_castsi256_ps(_mm256_set1_epi32(0x7fffffff)));
  // Not less than 88, or unordered (NaN).
  if (_mm256_movemask_ps(_mm256_cmp_ps(abs, _mm256_set1_ps(88.0f), _CMP_NLT_UQ)) != 0) {
    return false;
  }
  out =
      _mm256_set_m128(exp4(_mm256_extractf128_ps(x, 1), tab), exp4(_mm256_castps256_ps128(x), tab));
  return true;
}

}  // namespace

void exp_f32(float* x, int64_t n) {
  const int64_t* tab = table().tab;
  int64_t i = 0;
  for (; i + 8 <= n; i += 8) {
    __m256 y;
    if (exp8(_mm256_loadu_ps(x + i), tab, y)) {
      _mm256_storeu_ps(x + i, y);
    } else {
      for (int64_t j = i; j < i + 8; ++j) x[j] = std::exp(x[j]);
    }
  }
  for (; i < n; ++i) x[i] = std::exp(x[i]);
}

void silu_mul(float* gate, const float* up, int64_t n) {
  const int64_t* tab = table().tab;
  const __m256 one = _mm256_set1_ps(1.0f);
  const __m256 sign = _mm256_castsi256_ps(_mm256_set1_epi32(static_cast<int>(0x80000000u)));
  int64_t i = 0;
  for (; i + 8 <= n; i += 8) {
    const __m256 g = _mm256_loadu_ps(gate + i);
    __m256 e;
    if (!exp8(_mm256_xor_ps(g, sign), tab, e)) {
      for (int64_t j = i; j < i + 8; ++j) gate[j] = gate[j] / (1.0f + std::exp(-gate[j])) * up[j];
      continue;
    }
    const __m256 act = _mm256_div_ps(g, _mm256_add_ps(one, e));
    _mm256_storeu_ps(gate + i, _mm256_mul_ps(act, _mm256_loadu_ps(up + i)));
  }
  for (; i < n; ++i) gate[i] = gate[i] / (1.0f + std::exp(-gate[i])) * up[i];
}

}  // namespace emovec::ops::avx2

#endif
