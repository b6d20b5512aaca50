// AVX2 block decoders for the types the shipped models use (Q4_0, Q4_1, Q5_0, Q8_0, Q4_K,
// Q6_K): the prefill path decodes every weight tile to float32 before SGEMM, and for the K-quant
// models the scalar decoders took longer than the multiply. Each computes the portable decoder's
// float operations (d * q, then the min or offset in a separate rounding; no fused multiply-add),
// so the results are bit-identical to gguf-py's as well. Compiled with -mavx2 -mfma -mf16c; used
// only when the CPU has them.
#if defined(__x86_64__) || defined(__i386__)

#include <immintrin.h>

#include <cstdint>
#include <cstring>

#include "ops/avx2_common.h"
#include "quant/dequant_kernels.h"
#include "quant/half.h"
// Last, so that it covers only the code below.
#include "quant/fp_contract_off.h"

namespace emovec::quant::avx2 {
namespace {

using ops::avx2::half;

// Bytes 8k..8k+7 of v (k = 0..3), zero- or sign-extended to eight int32.
template <bool kSigned>
inline __m256i widen8(__m256i v, int k) {
  const __m128i part = k < 2 ? _mm256_castsi256_si128(v) : _mm256_extracti128_si256(v, 1);
  const __m128i bytes = k % 2 == 0 ? part : _mm_srli_si128(part, 8);
  return kSigned ? _mm256_cvtepi8_epi32(bytes) : _mm256_cvtepu8_epi32(bytes);
}

// 16 packed bytes of nibbles -> 32 bytes: low nibbles (elements 0..15), then high (16..31).
inline __m256i nibbles(const uint8_t* qs) {
  const __m128i q = _mm_loadu_si128(reinterpret_cast<const __m128i*>(qs));
  return _mm256_and_si256(_mm256_set_m128i(_mm_srli_epi16(q, 4), q), _mm256_set1_epi8(0x0f));
}

inline __m256i load256(const uint8_t* p) {
  return _mm256_loadu_si256(reinterpret_cast<const __m256i*>(p));
}

// 32 codes: dst[j] = d * (code_j - offset).
inline void scale_codes(__m256i codes, int32_t offset, float d, float* dst) {
  const __m256 dv = _mm256_set1_ps(d);
  const __m256i off = _mm256_set1_epi32(offset);
  for (int k = 0; k < 4; ++k) {
    const __m256i q = _mm256_sub_epi32(widen8<false>(codes, k), off);
    _mm256_storeu_ps(dst + 8 * k, _mm256_mul_ps(dv, _mm256_cvtepi32_ps(q)));
  }
}

void decode_q4_0(const uint8_t* src, float* dst, int64_t blocks) {
  for (int64_t b = 0; b < blocks; ++b, src += 18, dst += 32) {
    scale_codes(nibbles(src + 2), 8, half(src), dst);
  }
}

void decode_q4_1(const uint8_t* src, float* dst, int64_t blocks) {
  for (int64_t b = 0; b < blocks; ++b, src += 20, dst += 32) {
    const __m256 d = _mm256_set1_ps(half(src));
    const __m256 m = _mm256_set1_ps(half(src + 2));
    const __m256i codes = nibbles(src + 4);
    for (int k = 0; k < 4; ++k) {
      const __m256 scaled = _mm256_mul_ps(d, _mm256_cvtepi32_ps(widen8<false>(codes, k)));
      _mm256_storeu_ps(dst + 8 * k, _mm256_add_ps(scaled, m));
    }
  }
}

void decode_q5_0(const uint8_t* src, float* dst, int64_t blocks) {
  const __m256i shifts = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
  const __m256i one = _mm256_set1_epi32(1);
  const __m256i sixteen = _mm256_set1_epi32(16);
  for (int64_t b = 0; b < blocks; ++b, src += 22, dst += 32) {
    const __m256 d = _mm256_set1_ps(half(src));
    uint32_t qh;
    std::memcpy(&qh, src + 2, 4);
    const __m256i codes = nibbles(src + 6);
    for (int k = 0; k < 4; ++k) {
      // Bit j of qh is element j's fifth bit.
      const __m256i bits = _mm256_set1_epi32(static_cast<int>(qh >> (8 * k)));
      const __m256i high =
          _mm256_slli_epi32(_mm256_and_si256(_mm256_srlv_epi32(bits, shifts), one), 4);
      const __m256i q = _mm256_sub_epi32(_mm256_or_si256(widen8<false>(codes, k), high), sixteen);
      _mm256_storeu_ps(dst + 8 * k, _mm256_mul_ps(d, _mm256_cvtepi32_ps(q)));
    }
  }
}

void decode_q8_0(const uint8_t* src, float* dst, int64_t blocks) {
  for (int64_t b = 0; b < blocks; ++b, src += 34, dst += 32) {
    const __m256 d = _mm256_set1_ps(half(src));
    const __m256i codes = load256(src + 2);
    for (int k = 0; k < 4; ++k) {
      _mm256_storeu_ps(dst + 8 * k, _mm256_mul_ps(d, _mm256_cvtepi32_ps(widen8<true>(codes, k))));
    }
  }
}

// Q4_K: 32-byte group c holds sub-block 2c in its low nibbles and 2c + 1 in its high ones; each
// element is (d * scale) * code - dmin * min, the two factors rounded to float first.
void decode_q4_k(const uint8_t* src, float* dst, int64_t blocks) {
  const __m256i mask = _mm256_set1_epi8(0x0f);
  for (int64_t b = 0; b < blocks; ++b, src += 144, dst += 256) {
    const float d = half(src);
    const float dmin = half(src + 2);
    uint8_t sc[8], mn[8];
    ops::avx2::scale_min_k4(src + 4, sc, mn);
    for (int c = 0; c < 4; ++c) {
      const __m256i q = load256(src + 16 + 32 * c);
      const __m256i sub[2] = {_mm256_and_si256(q, mask),
                              _mm256_and_si256(_mm256_srli_epi16(q, 4), mask)};
      for (int h = 0; h < 2; ++h) {
        const int s = 2 * c + h;
        const __m256 scale = _mm256_set1_ps(d * static_cast<float>(sc[s]));
        const __m256 min = _mm256_set1_ps(dmin * static_cast<float>(mn[s]));
        float* out = dst + 32 * s;
        for (int k = 0; k < 4; ++k) {
          const __m256 scaled = _mm256_mul_ps(scale, _mm256_cvtepi32_ps(widen8<false>(sub[h], k)));
          _mm256_storeu_ps(out + 8 * k, _mm256_sub_ps(scaled, min));
        }
      }
    }
  }
}

// Q6_K: element n is (d * scale[n / 16]) * (code - 32).
void decode_q6_k(const uint8_t* src, float* dst, int64_t blocks) {
  for (int64_t b = 0; b < blocks; ++b, src += 210, dst += 256) {
    const auto* scales = reinterpret_cast<const int8_t*>(src + 192);
    const float d = half(src + 208);
    for (int h = 0; h < 2; ++h) {
      __m256i g[4];
      ops::avx2::q6k_codes(src, src + 128, h, g);
      for (int k = 0; k < 4; ++k) {
        const int first = 128 * h + 32 * k;  // elements first..first + 31: two sub-blocks
        for (int part = 0; part < 2; ++part) {
          const float ds = d * static_cast<float>(scales[first / 16 + part]);
          const __m256 dsv = _mm256_set1_ps(ds);
          for (int q8 = 0; q8 < 2; ++q8) {
            const int k8 = 2 * part + q8;
            const __m256i q = _mm256_sub_epi32(widen8<false>(g[k], k8), _mm256_set1_epi32(32));
            _mm256_storeu_ps(dst + first + 8 * k8, _mm256_mul_ps(dsv, _mm256_cvtepi32_ps(q)));
          }
        }
      }
    }
  }
}

}  // namespace

BlockDecoder decoder(TensorType type) {
  switch (type) {
    case TensorType::Q4_0:
      return decode_q4_0;
    case TensorType::Q4_1:
      return decode_q4_1;
    case TensorType::Q5_0:
      return decode_q5_0;
    case TensorType::Q8_0:
      return decode_q8_0;
    case TensorType::Q4_K:
      return decode_q4_k;
    case TensorType::Q6_K:
      return decode_q6_k;
    default:
      return nullptr;
  }
}

}  // namespace emovec::quant::avx2

#endif
