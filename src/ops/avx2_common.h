// Helpers shared by the AVX2 kernels; include only from files compiled with -mavx2 -mfma -mf16c.
#pragma once

#if defined(__x86_64__) || defined(__i386__)

#include <immintrin.h>

#include <cstdint>
#include <cstring>
#include <utility>

namespace emovec::ops::avx2 {

// Weight rows stream from memory, and the hardware prefetchers alone leave the kernels waiting
// on it: each kernel asks, for every 64 bytes of weights it reads, for the line kPrefetchAhead
// bytes further on (the rows of a product are consecutive). Decoding on 1 and 2 threads,
// 1 KB, 2 KB and 4 KB ahead against none: Qwen2.5-1.5B (Q4_K/Q6_K) +10-13%, SmolLM2 (Q4_1/Q8_0)
// +7%; 2 KB was the best or near it for both. Past a matrix's end the address may be
// another's or none: a prefetch never faults.
inline constexpr int64_t kPrefetchAhead = 2048;
// Requests the lines kPrefetchAhead bytes after the kBytes bytes from p (one per 64 bytes).
template <int64_t kBytes>
inline void prefetch_ahead(const uint8_t* p) {
  for (int64_t b = 0; b < kBytes; b += 64) {
    _mm_prefetch(reinterpret_cast<const char*>(p + kPrefetchAhead + b), _MM_HINT_T0);
  }
}

// Calls f.template operator()<k>() with k = count, for count in 1..kMax (larger: kMax): the
// multi-row kernels are instantiated for each row count.
template <int kMax, typename F>
inline void for_row_count(int count, F&& f) {
  const int k = count < 1 ? 1 : (count > kMax ? kMax : count);
  [&]<int... kIs>(std::integer_sequence<int, kIs...>) {
    (void)((k == kIs + 1 ? (f.template operator()<kIs + 1>(), true) : false) || ...);
  }
  (std::make_integer_sequence<int, kMax>{});
}

inline float hsum(__m256 v) {
  const __m128 lo = _mm256_castps256_ps128(v);
  const __m128 hi = _mm256_extractf128_ps(v, 1);
  __m128 s = _mm_add_ps(lo, hi);
  s = _mm_add_ps(s, _mm_movehl_ps(s, s));
  s = _mm_add_ss(s, _mm_movehdup_ps(s));
  return _mm_cvtss_f32(s);
}

inline float hmax(__m256 v) {
  __m128 m = _mm_max_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
  m = _mm_max_ps(m, _mm_movehl_ps(m, m));
  m = _mm_max_ss(m, _mm_movehdup_ps(m));
  return _mm_cvtss_f32(m);
}

// A float16 stored little-endian at p.
inline float half(const uint8_t* p) {
  uint16_t h;
  std::memcpy(&h, p, 2);
  return _cvtsh_ss(h);
}

// The 6-bit scales and mins of Q4_K/Q5_K's eight sub-blocks, unpacked four at a time in 32-bit
// words: bytes 0..3 hold the low six bits of scales 0..3, bytes 4..7 those of mins 0..3, bytes
// 8..11 the low nibbles of scales 4..7 (high nibbles: mins 4..7), and the top two bits of bytes
// 0..7 are the high bits of scales and mins 4..7.
inline void scale_min_k4(const uint8_t* s, uint8_t* sc, uint8_t* mn) {
  constexpr uint32_t kLow6 = 0x3f3f3f3f, kLow4 = 0x0f0f0f0f, kLow2 = 0x03030303;
  uint32_t w[3];
  std::memcpy(w, s, 12);
  const uint32_t scales_lo = w[0] & kLow6;
  const uint32_t mins_lo = w[1] & kLow6;
  const uint32_t scales_hi = (w[2] & kLow4) | (((w[0] >> 6) & kLow2) << 4);
  const uint32_t mins_hi = ((w[2] >> 4) & kLow4) | (((w[1] >> 6) & kLow2) << 4);
  std::memcpy(sc, &scales_lo, 4);
  std::memcpy(sc + 4, &scales_hi, 4);
  std::memcpy(mn, &mins_lo, 4);
  std::memcpy(mn + 4, &mins_hi, 4);
}

// The 6-bit codes (0..63) of half h of a Q6_K super-block, as four groups of 32 bytes: group k
// holds elements 32k..32k+31 of the half (low nibbles from ql, high two bits from qh).
inline void q6k_codes(const uint8_t* ql, const uint8_t* qh, int h, __m256i g[4]) {
  const __m256i mask4 = _mm256_set1_epi8(0x0f);
  const __m256i mask2 = _mm256_set1_epi8(0x03);
  const __m256i l0 = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(ql + 64 * h));
  const __m256i l1 = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(ql + 64 * h + 32));
  const __m256i hb = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(qh + 32 * h));
  const auto high = [&](int shift) {
    return _mm256_slli_epi16(_mm256_and_si256(_mm256_srli_epi16(hb, shift), mask2), 4);
  };
  g[0] = _mm256_or_si256(_mm256_and_si256(l0, mask4), high(0));
  g[1] = _mm256_or_si256(_mm256_and_si256(l1, mask4), high(2));
  g[2] = _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(l0, 4), mask4), high(4));
  g[3] = _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(l1, 4), mask4), high(6));
}

}  // namespace emovec::ops::avx2

#endif
