// AVX2 kernels for quantised weights times int16-quantised activations (compiled with -mavx2
// -mfma -mf16c, called only when the CPU has them). Weight codes are widened to int16 and
// _mm256_madd_epi16 forms int32 pair sums (at most 2 * 128 * 32767), so each block's or
// sub-block's integer sum equals the portable kernel's exactly.
#if defined(__x86_64__) || defined(__i386__)

#include <immintrin.h>

#include "ops/avx2_common.h"
#include "ops/q16_activation.h"

namespace emovec::ops::avx2 {
namespace {

inline __m256i load256(const void* p) {
  return _mm256_loadu_si256(reinterpret_cast<const __m256i*>(p));
}

// Sixteen signed bytes at p -> sixteen int16.
inline __m256i widen16(const uint8_t* p) {
  return _mm256_cvtepi8_epi16(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p)));
}

// Q8_0 for kT activation rows: each block's codes are widened once for all rows. A row's blocks
// form two chains, the first half of the row and the rest, each with its own accumulator; the
// result is the sum of the two. Per row the operations and their order do not depend on kT, so
// every row gets the one-row kernel's bits. Alone, a row runs its two chains in step (one fma
// chain alone would be the limit); beside others, the chains run one after the other, so that
// eight rows need eight accumulators.
template <int kT>
[[gnu::always_inline]] inline void q8_0_rows(const uint8_t* row, const Q16Activation& x,
                                             int64_t first_block, int64_t block_stride,
                                             int64_t blocks, float* out) {
  const int16_t* xq[kT];
  const float* xd[kT];
#pragma GCC unroll 8
  for (int t = 0; t < kT; ++t) {
    const int64_t first = first_block + t * block_stride;
    xq[t] = x.q.data() + 32 * first;
    xd[t] = x.d.data() + first;
  }
  // Block b (codes widened to w0, w1; d_w = h) of row t into acc.
  const auto step = [&](__m256 acc, __m256i w0, __m256i w1, float h, int t, int64_t b) {
    const int16_t* p = xq[t] + 32 * b;
    const __m256i s =
        _mm256_add_epi32(_mm256_madd_epi16(w0, load256(p)), _mm256_madd_epi16(w1, load256(p + 16)));
    return _mm256_fmadd_ps(_mm256_set1_ps(h * xd[t][b]), _mm256_cvtepi32_ps(s), acc);
  };
  const int64_t split = blocks / 2;  // the second chain starts here
  if constexpr (kT == 1) {
    __m256 acc0 = _mm256_setzero_ps(), acc1 = _mm256_setzero_ps();
    for (int64_t k = 0; k < split; ++k) {
      const uint8_t* w = row + 34 * k;
      const uint8_t* v = row + 34 * (split + k);
      prefetch_ahead<34>(w);
      prefetch_ahead<34>(v);
      acc0 = step(acc0, widen16(w + 2), widen16(w + 18), half(w), 0, k);
      acc1 = step(acc1, widen16(v + 2), widen16(v + 18), half(v), 0, split + k);
    }
    if (2 * split < blocks) {
      const uint8_t* w = row + 34 * (blocks - 1);
      acc1 = step(acc1, widen16(w + 2), widen16(w + 18), half(w), 0, blocks - 1);
    }
    out[0] = hsum(_mm256_add_ps(acc0, acc1));
  } else {
    __m256 total[kT], acc[kT];
    for (int chain = 0; chain < 2; ++chain) {
#pragma GCC unroll 8
      for (int t = 0; t < kT; ++t) acc[t] = _mm256_setzero_ps();
      const int64_t end = chain == 0 ? split : blocks;
      for (int64_t b = chain == 0 ? 0 : split; b < end; ++b) {
        const uint8_t* w = row + 34 * b;
        prefetch_ahead<34>(w);
        const __m256i w0 = widen16(w + 2), w1 = widen16(w + 18);
        const float h = half(w);
#pragma GCC unroll 8
        for (int t = 0; t < kT; ++t) acc[t] = step(acc[t], w0, w1, h, t, b);
      }
#pragma GCC unroll 8
      for (int t = 0; t < kT; ++t) {
        total[t] = chain == 0 ? acc[t] : _mm256_add_ps(total[t], acc[t]);
      }
    }
#pragma GCC unroll 8
    for (int t = 0; t < kT; ++t) out[t] = hsum(total[t]);
  }
}

// Q6_K for kT activation rows. Sub-block s (16 elements) of a super-block has the factor
// d * d_x[s / 2] * scale[s], computed for all sixteen at once per row; its int16 pair sums are
// converted to float and accumulated with that factor (even sub-blocks in acc0, odd in acc1).
template <int kT>
void q6_k_rows(const uint8_t* row, const Q16Activation& x, int64_t first_block,
               int64_t block_stride, int64_t n, float* out) {
  const __m256i m32 = _mm256_set1_epi8(32);
  const __m256i dup_lo = _mm256_setr_epi32(0, 0, 1, 1, 2, 2, 3, 3);
  const __m256i dup_hi = _mm256_setr_epi32(4, 4, 5, 5, 6, 6, 7, 7);
  const int16_t* xq[kT];
  const float* xd[kT];
  __m256 acc0[kT], acc1[kT];
#pragma GCC unroll 4
  for (int t = 0; t < kT; ++t) {
    const int64_t first = first_block + t * block_stride;
    xq[t] = x.q.data() + 32 * first;
    xd[t] = x.d.data() + first;
    acc0[t] = _mm256_setzero_ps();
    acc1[t] = _mm256_setzero_ps();
  }
  for (int64_t sb = 0; sb < n / 256; ++sb, row += 210) {
    prefetch_ahead<210>(row);
    const uint8_t* ql = row;
    const uint8_t* qh = row + 128;
    const __m256 d = _mm256_set1_ps(half(row + 208));
    const __m256 sc_lo = _mm256_cvtepi32_ps(
        _mm256_cvtepi8_epi32(_mm_loadl_epi64(reinterpret_cast<const __m128i*>(row + 192))));
    const __m256 sc_hi = _mm256_cvtepi32_ps(
        _mm256_cvtepi8_epi32(_mm_loadl_epi64(reinterpret_cast<const __m128i*>(row + 200))));
    alignas(32) float factor[kT][16];
#pragma GCC unroll 4
    for (int t = 0; t < kT; ++t) {
      const __m256 xd8 = _mm256_loadu_ps(xd[t] + 8 * sb);
      _mm256_store_ps(
          factor[t], _mm256_mul_ps(_mm256_mul_ps(d, _mm256_permutevar8x32_ps(xd8, dup_lo)), sc_lo));
      _mm256_store_ps(
          factor[t] + 8,
          _mm256_mul_ps(_mm256_mul_ps(d, _mm256_permutevar8x32_ps(xd8, dup_hi)), sc_hi));
    }
    for (int h = 0; h < 2; ++h) {
      __m256i g[4];
      q6k_codes(ql, qh, h, g);
      for (int k = 0; k < 4; ++k) {
        const int b = 4 * h + k;  // activation block in the super-block
        const __m256i c = _mm256_sub_epi8(g[k], m32);
        const __m256i lo = _mm256_cvtepi8_epi16(_mm256_castsi256_si128(c));
        const __m256i hi = _mm256_cvtepi8_epi16(_mm256_extracti128_si256(c, 1));
#pragma GCC unroll 4
        for (int t = 0; t < kT; ++t) {
          const int16_t* p = xq[t] + 256 * sb + 32 * b;
          acc0[t] = _mm256_fmadd_ps(_mm256_broadcast_ss(&factor[t][2 * b]),
                                    _mm256_cvtepi32_ps(_mm256_madd_epi16(lo, load256(p))), acc0[t]);
          acc1[t] =
              _mm256_fmadd_ps(_mm256_broadcast_ss(&factor[t][2 * b + 1]),
                              _mm256_cvtepi32_ps(_mm256_madd_epi16(hi, load256(p + 16))), acc1[t]);
        }
      }
    }
  }
#pragma GCC unroll 4
  for (int t = 0; t < kT; ++t) out[t] = hsum(_mm256_add_ps(acc0[t], acc1[t]));
}

float dot_q8_0(const uint8_t* row, const Q16Activation& x, int64_t first_block, int64_t n) {
  float out;
  q8_0_rows<1>(row, x, first_block, 0, n / 32, &out);
  return out;
}

float dot_q6_k(const uint8_t* row, const Q16Activation& x, int64_t first_block, int64_t n) {
  float out;
  q6_k_rows<1>(row, x, first_block, 0, n, &out);
  return out;
}

void multi_q8_0(const uint8_t* row, const Q16Activation& x, int64_t first, int64_t stride,
                int64_t n, int count, float* out) {
  for_row_count<kQ16MultiRows>(
      count, [&]<int kT>() { q8_0_rows<kT>(row, x, first, stride, n / 32, out); });
}

void multi_q6_k(const uint8_t* row, const Q16Activation& x, int64_t first, int64_t stride,
                int64_t n, int count, float* out) {
  // Two accumulators per row: four rows at a time.
  for (; count > 4; count -= 4, first += 4 * stride, out += 4) {
    q6_k_rows<4>(row, x, first, stride, n, out);
  }
  for_row_count<4>(count, [&]<int kT>() { q6_k_rows<kT>(row, x, first, stride, n, out); });
}

}  // namespace

void quantize_activation16_blocks(const float* x, int64_t n, int16_t* q, float* d) {
  const __m256 abs_mask = _mm256_castsi256_ps(_mm256_set1_epi32(0x7fffffff));
  for (int64_t b = 0; b < n / kQ16Block; ++b, x += kQ16Block, q += kQ16Block) {
    __m256 v[4];
    for (int k = 0; k < 4; ++k) v[k] = _mm256_loadu_ps(x + 8 * k);
    const __m256 amax =
        _mm256_max_ps(_mm256_max_ps(_mm256_and_ps(v[0], abs_mask), _mm256_and_ps(v[1], abs_mask)),
                      _mm256_max_ps(_mm256_and_ps(v[2], abs_mask), _mm256_and_ps(v[3], abs_mask)));
    const float scale = hmax(amax) / 32767.0f;
    const __m256 inv = _mm256_set1_ps(scale != 0 ? 1.0f / scale : 0.0f);
    __m256i i[4];
    for (int k = 0; k < 4; ++k) {
      i[k] = _mm256_cvtps_epi32(
          _mm256_round_ps(_mm256_mul_ps(v[k], inv), _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC));
    }
    // packs interleaves 64-bit groups of its two inputs per 128-bit lane; 0xD8 restores order.
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(q),
                        _mm256_permute4x64_epi64(_mm256_packs_epi32(i[0], i[1]), 0xD8));
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(q + 16),
                        _mm256_permute4x64_epi64(_mm256_packs_epi32(i[2], i[3]), 0xD8));
    d[b] = scale;
  }
}

Q16DotFn q16_dot_kernel(TensorType type) {
  switch (type) {
    case TensorType::Q8_0:
      return dot_q8_0;
    case TensorType::Q6_K:
      return dot_q6_k;
    default:
      return nullptr;
  }
}

Q16DotMultiFn q16_dot_multi_kernel(TensorType type) {
  switch (type) {
    case TensorType::Q8_0:
      return multi_q8_0;
    case TensorType::Q6_K:
      return multi_q6_k;
    default:
      return nullptr;
  }
}

}  // namespace emovec::ops::avx2

#endif
