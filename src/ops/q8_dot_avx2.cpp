// AVX2 kernels for quantised weights times int8-quantised activations (this file is compiled
// with -mavx2 -mfma -mf16c and only called when the CPU has them). Per 32-element block:
// _mm256_maddubs_epi16 multiplies unsigned weight codes with the signed activations into int16
// pair sums (at most 2 * 63 * 127 or 2 * 128 * 127, below the saturation limit), madd widens
// them to int32, lane i holding elements 4i..4i+3 (one activation group), and one conversion plus
// fma scales each lane by d_w times its group's d_x. Offsets of the centred codes (-8, -16, -32)
// are subtracted in the int16 sums, so each group's integer sum equals the portable kernel's.
#if defined(__x86_64__) || defined(__i386__)

#include <immintrin.h>

#include <algorithm>
#include <cstring>

#include "ops/avx2_common.h"
#include "ops/q8_activation.h"

namespace emovec::ops::avx2 {
namespace {

inline __m256i load256(const void* p) {
  return _mm256_loadu_si256(reinterpret_cast<const __m256i*>(p));
}

// Eight unsigned bytes -> eight floats.
inline __m256 u8x8_to_ps(const uint8_t* p) {
  return _mm256_cvtepi32_ps(
      _mm256_cvtepu8_epi32(_mm_loadl_epi64(reinterpret_cast<const __m128i*>(p))));
}

// Sixteen int16 pair sums -> their sum as eight float partial sums.
inline __m256 i16_to_ps(__m256i pairs) {
  return _mm256_cvtepi32_ps(_mm256_madd_epi16(pairs, _mm256_set1_epi16(1)));
}

// sum_j u_j * s_j for 32 unsigned u (< 128 here, or up to 128 from the sign trick) and signed s,
// as eight float partial sums.
inline __m256 dot_u8_i8(__m256i u, __m256i s) { return i16_to_ps(_mm256_maddubs_epi16(u, s)); }

// Unsigned codes u with a constant offset: sum_j (u_j - offset) * s_j.
inline __m256 dot_u8_off_i8(__m256i u, __m256i offset, __m256i s) {
  return i16_to_ps(_mm256_sub_epi16(_mm256_maddubs_epi16(u, s), _mm256_maddubs_epi16(offset, s)));
}

// 16 packed bytes of nibbles -> 32 bytes: low nibbles (elements 0..15), then high (16..31).
inline __m256i nibbles32(const uint8_t* qs) {
  const __m128i q = _mm_loadu_si128(reinterpret_cast<const __m128i*>(qs));
  const __m256i both = _mm256_set_m128i(_mm_srli_epi16(q, 4), q);
  return _mm256_and_si256(both, _mm256_set1_epi8(0x0f));
}

// Bit j of `bits` -> byte j = 0x10 (the fifth bit of a Q5 code) or 0.
inline __m256i fifth_bits(const uint8_t* p) {
  uint32_t bits;
  std::memcpy(&bits, p, 4);
  const __m256i spread = _mm256_shuffle_epi8(
      _mm256_set1_epi32(static_cast<int>(bits)),
      _mm256_set_epi64x(0x0303030303030303, 0x0202020202020202, 0x0101010101010101, 0));
  // Byte j of each group of eight keeps only bit j, then compares equal to all-ones when set.
  const __m256i others = _mm256_or_si256(spread, _mm256_set1_epi64x(0x7fbfdfeff7fbfdfe));
  const __m256i set = _mm256_cmpeq_epi8(others, _mm256_set1_epi64x(-1));
  return _mm256_and_si256(set, _mm256_set1_epi8(0x10));
}

// The mins of blocks 0..count-1 (count <= 8) of a 32-element block type with kBytes bytes per
// block, each the half at byte kMinAt of its block, as eight floats (zero past count).
template <int64_t kBytes, int kMinAt>
inline __m256 block_mins(const uint8_t* w, int64_t count) {
  // In registers: eight 2-byte stores read back as one 16-byte load would wait for the stores.
  const auto at = [w](int64_t j) {
    uint16_t h;
    std::memcpy(&h, w + j * kBytes + kMinAt, 2);
    return static_cast<int>(h);
  };
  __m128i v = _mm_setzero_si128();
  switch (count) {
    default:
      v = _mm_insert_epi16(v, at(7), 7);
      [[fallthrough]];
    case 7:
      v = _mm_insert_epi16(v, at(6), 6);
      [[fallthrough]];
    case 6:
      v = _mm_insert_epi16(v, at(5), 5);
      [[fallthrough]];
    case 5:
      v = _mm_insert_epi16(v, at(4), 4);
      [[fallthrough]];
    case 4:
      v = _mm_insert_epi16(v, at(3), 3);
      [[fallthrough]];
    case 3:
      v = _mm_insert_epi16(v, at(2), 2);
      [[fallthrough]];
    case 2:
      v = _mm_insert_epi16(v, at(1), 1);
      [[fallthrough]];
    case 1:
      v = _mm_insert_epi16(v, at(0), 0);
  }
  return _mm256_cvtph_ps(v);
}

// The 32-element block types (Block below), for kT activation rows at once (kT = 1: the one-row
// kernel). Each weight block is unpacked once, then multiplied with each row's block, giving its
// integer sums as eight float partial sums, scaled by d_w * d_x (d_w the half at the block's
// start) and accumulated. A row's blocks form two chains, the first half of the row and the
// rest, each with its own accumulator; for types with a min m (the half at byte kMinAt), a third
// chain adds, per run of eight blocks, their eight mins times their activation sums. The result
// is the sum of the three.
//
// Every row's float operations and their order are the same whatever kT, so a row's result has
// the same bits alone or beside others (batched decoding). Alone, the row runs its two chains in
// step (the fma latency of one chain would be the limit); beside others, the chains run one
// after the other, so that eight rows need eight accumulators.
template <typename Block, int kT>
[[gnu::always_inline]] inline void dot_rows(const uint8_t* row, const Q8Activation& x,
                                            int64_t first_block, int64_t block_stride,
                                            int64_t blocks, float* out) {
  constexpr int64_t kBytes = Block::kBytes;
  constexpr int kMinAt = Block::kMinAt;
  const int8_t* xq[kT];
  const float* xd[kT];
  [[maybe_unused]] const float* xs[kT];
#pragma GCC unroll 8
  for (int t = 0; t < kT; ++t) {
    const int64_t first = first_block + t * block_stride;
    xq[t] = x.q.data() + 32 * first;
    xd[t] = x.d.data() + 8 * first;
    xs[t] = x.sum.data() + first;
  }
  // Block b of the row into row t's accumulator.
  const auto step = [&](__m256 acc, __m256i u, __m256 h, int t, int64_t b) {
    return _mm256_fmadd_ps(_mm256_mul_ps(h, _mm256_loadu_ps(xd[t] + 8 * b)),
                           Block::dot(u, load256(xq[t] + 32 * b)), acc);
  };
  // The mins of blocks 8g..8g+7 times row t's activation sums into its offset chain.
  [[maybe_unused]] const int64_t groups = kMinAt >= 0 ? (blocks + 7) / 8 : 0;
  [[maybe_unused]] const auto min_group = [&](int64_t g, __m256* offset) {
    const int64_t b = 8 * g;
    const __m256 m = block_mins<kBytes, kMinAt>(row + b * kBytes, std::min<int64_t>(8, blocks - b));
    if (b + 8 <= blocks) {
#pragma GCC unroll 8
      for (int t = 0; t < kT; ++t) {
        offset[t] = _mm256_fmadd_ps(m, _mm256_loadu_ps(xs[t] + b), offset[t]);
      }
    } else {
      // Only the row's own sums are read: the lanes past its last block are masked off.
      const __m256i mask = _mm256_cmpgt_epi32(_mm256_set1_epi32(static_cast<int>(blocks - b)),
                                              _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
#pragma GCC unroll 8
      for (int t = 0; t < kT; ++t) {
        offset[t] = _mm256_fmadd_ps(m, _mm256_maskload_ps(xs[t] + b, mask), offset[t]);
      }
    }
  };
  const int64_t split = blocks / 2;  // the second chain starts here
  __m256 total[kT];
  __m256 offset[kT];
#pragma GCC unroll 8
  for (int t = 0; t < kT; ++t) offset[t] = _mm256_setzero_ps();
  if constexpr (kT == 1) {
    // The offset chain's groups are taken in order between the others' steps, one every four.
    int64_t g = 0;
    __m256 acc0 = _mm256_setzero_ps(), acc1 = _mm256_setzero_ps();
    for (int64_t k = 0; k < split; ++k) {
      const uint8_t* w0 = row + k * kBytes;
      const uint8_t* w1 = row + (split + k) * kBytes;
      prefetch_ahead<kBytes>(w0);
      prefetch_ahead<kBytes>(w1);
      acc0 = step(acc0, Block::unpack(w0), _mm256_set1_ps(half(w0)), 0, k);
      acc1 = step(acc1, Block::unpack(w1), _mm256_set1_ps(half(w1)), 0, split + k);
      if constexpr (kMinAt >= 0) {
        if ((k & 3) == 3 && g < groups) min_group(g++, offset);
      }
    }
    if (2 * split < blocks) {
      const uint8_t* w = row + (blocks - 1) * kBytes;
      acc1 = step(acc1, Block::unpack(w), _mm256_set1_ps(half(w)), 0, blocks - 1);
    }
    if constexpr (kMinAt >= 0) {
      for (; g < groups; ++g) min_group(g, offset);
    }
    total[0] = _mm256_add_ps(acc0, acc1);
  } else {
    __m256 acc[kT];
    for (int chain = 0; chain < 2; ++chain) {
#pragma GCC unroll 8
      for (int t = 0; t < kT; ++t) acc[t] = _mm256_setzero_ps();
      const int64_t end = chain == 0 ? split : blocks;
      for (int64_t b = chain == 0 ? 0 : split; b < end; ++b) {
        const uint8_t* w = row + b * kBytes;
        prefetch_ahead<kBytes>(w);
        const __m256i u = Block::unpack(w);
        const __m256 h = _mm256_set1_ps(half(w));
#pragma GCC unroll 8
        for (int t = 0; t < kT; ++t) acc[t] = step(acc[t], u, h, t, b);
      }
#pragma GCC unroll 8
      for (int t = 0; t < kT; ++t) {
        total[t] = chain == 0 ? acc[t] : _mm256_add_ps(total[t], acc[t]);
      }
    }
    if constexpr (kMinAt >= 0) {
      for (int64_t g = 0; g < groups; ++g) min_group(g, offset);
    }
  }
  if constexpr (kMinAt >= 0) {
#pragma GCC unroll 8
    for (int t = 0; t < kT; ++t) total[t] = _mm256_add_ps(total[t], offset[t]);
  }
#pragma GCC unroll 8
  for (int t = 0; t < kT; ++t) out[t] = hsum(total[t]);
}

// The 32-element block types: bytes per block, where the min is (-1: none), how a block's codes
// are unpacked into 32 bytes, and their dot with 32 int8 activations as eight float partial sums.
// Offsets of the centred codes (-8, -16) are taken off in the int16 pair sums.
struct BlockQ4_0 {
  static constexpr int64_t kBytes = 18;
  static constexpr int kMinAt = -1;
  static __m256i unpack(const uint8_t* w) { return nibbles32(w + 2); }
  static __m256 dot(__m256i u, __m256i xq) { return dot_u8_off_i8(u, _mm256_set1_epi8(8), xq); }
};
struct BlockQ4_1 {
  static constexpr int64_t kBytes = 20;
  static constexpr int kMinAt = 2;
  static __m256i unpack(const uint8_t* w) { return nibbles32(w + 4); }
  static __m256 dot(__m256i u, __m256i xq) { return dot_u8_i8(u, xq); }
};
struct BlockQ5_0 {
  static constexpr int64_t kBytes = 22;
  static constexpr int kMinAt = -1;
  static __m256i unpack(const uint8_t* w) {
    return _mm256_or_si256(nibbles32(w + 6), fifth_bits(w + 2));
  }
  static __m256 dot(__m256i u, __m256i xq) { return dot_u8_off_i8(u, _mm256_set1_epi8(16), xq); }
};
struct BlockQ5_1 {
  static constexpr int64_t kBytes = 24;
  static constexpr int kMinAt = 2;
  static __m256i unpack(const uint8_t* w) {
    return _mm256_or_si256(nibbles32(w + 8), fifth_bits(w + 4));
  }
  static __m256 dot(__m256i u, __m256i xq) { return dot_u8_i8(u, xq); }
};
struct BlockQ8_0 {
  static constexpr int64_t kBytes = 34;
  static constexpr int kMinAt = -1;
  static __m256i unpack(const uint8_t* w) { return load256(w + 2); }
  // maddubs needs one unsigned operand: |w| times x with w's sign.
  static __m256 dot(__m256i q, __m256i xq) {
    return dot_u8_i8(_mm256_sign_epi8(q, q), _mm256_sign_epi8(xq, q));
  }
};

// The kernels of the 32-value block types, as the rows policies below.
template <typename Block>
struct BlockRows {
  template <int kT>
  [[gnu::always_inline]] static void run(const uint8_t* row, const Q8Activation& x,
                                         int64_t first_block, int64_t block_stride, int64_t n,
                                         float* out) {
    dot_rows<Block, kT>(row, x, first_block, block_stride, n / 32, out);
  }
};

// int16 j of the eight held in both 128-bit lanes of v, in every int16 lane.
inline __m256i spread_i16(__m256i v, int j) {
  return _mm256_shuffle_epi8(v, _mm256_set1_epi16(static_cast<short>(((2 * j + 1) << 8) | 2 * j)));
}

// Q4_K and Q5_K: sub-block s of a super-block is activation block 8 * super + s. madd multiplies
// its int16 pair sums by scale[s], the float accumulation by each group's d_x, and the
// super-block's d applies once to the sum; the mins go into a vector of offsets. kT activation
// rows share each super-block's unpacking (row t's blocks start at first_block + t *
// block_stride), each row with the sums, in the order, of the one-row kernel (kT = 1).
template <bool kFiveBit, int kT>
void dot_k4_rows(const uint8_t* row, const Q8Activation& x, int64_t first_block,
                 int64_t block_stride, int64_t n, float* out) {
  constexpr int64_t kBytes = kFiveBit ? 176 : 144;
  const __m256i mask = _mm256_set1_epi8(0x0f);
  const __m256i one = _mm256_set1_epi8(1);
  // Row t's activations: codes, group scales and block sums of the current super-block.
  const int8_t* xq[kT];
  const float* xd[kT];
  const float* xs[kT];
  __m256 total[kT], offset[kT];
  for (int t = 0; t < kT; ++t) {
    const int64_t b = first_block + t * block_stride;
    xq[t] = x.q.data() + 32 * b;
    xd[t] = x.d.data() + 8 * b;
    xs[t] = x.sum.data() + b;
    total[t] = offset[t] = _mm256_setzero_ps();
  }
  for (int64_t sb = 0; sb < n / 256; ++sb, row += kBytes) {
    prefetch_ahead<kBytes>(row);
    uint8_t sc[8], mn[8];
    scale_min_k4(row + 4, sc, mn);
    // The eight sub-block scales as int16 in both 128-bit lanes (products with the pair sums
    // are at most 2 * 2 * 31 * 127 * 63, far inside int32).
    const __m256i scales = _mm256_broadcastsi128_si256(
        _mm_cvtepu8_epi16(_mm_loadl_epi64(reinterpret_cast<const __m128i*>(sc))));
    const __m256 mins = _mm256_mul_ps(_mm256_set1_ps(half(row + 2)), u8x8_to_ps(mn));
    for (int t = 0; t < kT; ++t) {
      offset[t] = _mm256_fmadd_ps(mins, _mm256_loadu_ps(xs[t]), offset[t]);
    }
    // Each int32 lane is one activation group's integer sum times its sub-block's scale; its
    // group scale d_x applies here and the super-block's d once below.
    __m256 acc0[kT], acc1[kT];
    for (int t = 0; t < kT; ++t) acc0[t] = acc1[t] = _mm256_setzero_ps();
    const uint8_t* qs = row + (kFiveBit ? 48 : 16);
    __m256i qh = kFiveBit ? load256(row + 16) : _mm256_setzero_si256();
    for (int c = 0; c < 4; ++c) {
      // Codes of sub-blocks 2c (lo) and 2c + 1 (hi), and their scales in every int16 lane.
      const __m256i q = load256(qs + 32 * c);
      __m256i lo = _mm256_and_si256(q, mask);
      __m256i hi = _mm256_and_si256(_mm256_srli_epi16(q, 4), mask);
      if constexpr (kFiveBit) {
        // Bit s of byte j is the fifth bit of sub-block s's element j; shifts stay in the byte
        // for the bits kept.
        lo = _mm256_or_si256(lo, _mm256_slli_epi16(_mm256_and_si256(qh, one), 4));
        qh = _mm256_srli_epi16(qh, 1);
        hi = _mm256_or_si256(hi, _mm256_slli_epi16(_mm256_and_si256(qh, one), 4));
        qh = _mm256_srli_epi16(qh, 1);
      }
      const __m256i scale_lo = spread_i16(scales, 2 * c);
      const __m256i scale_hi = spread_i16(scales, 2 * c + 1);
      for (int t = 0; t < kT; ++t) {
        const __m256i slo =
            _mm256_madd_epi16(_mm256_maddubs_epi16(lo, load256(xq[t] + 64 * c)), scale_lo);
        const __m256i shi =
            _mm256_madd_epi16(_mm256_maddubs_epi16(hi, load256(xq[t] + 64 * c + 32)), scale_hi);
        acc0[t] =
            _mm256_fmadd_ps(_mm256_cvtepi32_ps(slo), _mm256_loadu_ps(xd[t] + 16 * c), acc0[t]);
        acc1[t] =
            _mm256_fmadd_ps(_mm256_cvtepi32_ps(shi), _mm256_loadu_ps(xd[t] + 16 * c + 8), acc1[t]);
      }
    }
    const __m256 d = _mm256_set1_ps(half(row));
    for (int t = 0; t < kT; ++t) {
      total[t] = _mm256_fmadd_ps(d, _mm256_add_ps(acc0[t], acc1[t]), total[t]);
      xq[t] += 256;
      xd[t] += 64;
      xs[t] += 8;
    }
  }
  for (int t = 0; t < kT; ++t) out[t] = hsum(total[t]) - hsum(offset[t]);
}

// Q6_K: the 6-bit codes of a 128-element half come from 64 bytes of nibbles and 32 bytes of
// 2-bit high parts; activation block k of the half covers the 16-element sub-blocks 2k and
// 2k + 1, whose int8 scales multiply the int16 pair sums in madd (at most 2 * 32 * 127 * 128).
// Rows as in dot_k4_rows.
template <int kT>
void dot_q6_k_rows(const uint8_t* row, const Q8Activation& x, int64_t first_block,
                   int64_t block_stride, int64_t n, float* out) {
  const __m256i m32 = _mm256_set1_epi8(32);
  // Shuffles picking int16 scale 2k (low 128-bit lane) and 2k + 1 (high lane) of eight.
  __m256i pick[4];
  for (int k = 0; k < 4; ++k) {
    const auto lo = static_cast<short>(((4 * k + 1) << 8) | (4 * k));
    const auto hi = static_cast<short>(((4 * k + 3) << 8) | (4 * k + 2));
    pick[k] = _mm256_set_m128i(_mm_set1_epi16(hi), _mm_set1_epi16(lo));
  }
  const int8_t* xq[kT];
  const float* xd[kT];
  __m256 total[kT];
  for (int t = 0; t < kT; ++t) {
    xq[t] = x.q.data() + 32 * (first_block + t * block_stride);
    xd[t] = x.d.data() + 8 * (first_block + t * block_stride);
    total[t] = _mm256_setzero_ps();
  }
  for (int64_t sb = 0; sb < n / 256; ++sb, row += 210) {
    prefetch_ahead<210>(row);
    const uint8_t* ql = row;
    const uint8_t* qh = row + 128;
    const __m256i scales16 =
        _mm256_cvtepi8_epi16(_mm_loadu_si128(reinterpret_cast<const __m128i*>(row + 192)));
    __m256 acc0[kT], acc1[kT];
    for (int t = 0; t < kT; ++t) acc0[t] = acc1[t] = _mm256_setzero_ps();
    for (int h = 0; h < 2; ++h) {
      const __m256i sc = h == 0 ? _mm256_permute2x128_si256(scales16, scales16, 0x00)
                                : _mm256_permute2x128_si256(scales16, scales16, 0x11);
      __m256i g[4];
      q6k_codes(ql, qh, h, g);
      for (int k = 0; k < 4; ++k) {
        const int b = 4 * h + k;
        const __m256i scale = _mm256_shuffle_epi8(sc, pick[k]);
        for (int t = 0; t < kT; ++t) {
          const __m256i xb = load256(xq[t] + 32 * b);
          const __m256i pairs =
              _mm256_sub_epi16(_mm256_maddubs_epi16(g[k], xb), _mm256_maddubs_epi16(m32, xb));
          const __m256 s = _mm256_cvtepi32_ps(_mm256_madd_epi16(pairs, scale));
          const __m256 group = _mm256_loadu_ps(xd[t] + 8 * b);
          if (k % 2 == 0) {
            acc0[t] = _mm256_fmadd_ps(s, group, acc0[t]);
          } else {
            acc1[t] = _mm256_fmadd_ps(s, group, acc1[t]);
          }
        }
      }
    }
    // d applies once per super-block, to the sum of the group-scaled integer sums.
    const __m256 d = _mm256_set1_ps(half(row + 208));
    for (int t = 0; t < kT; ++t) {
      total[t] = _mm256_fmadd_ps(d, _mm256_add_ps(acc0[t], acc1[t]), total[t]);
      xq[t] += 256;
      xd[t] += 64;
    }
  }
  for (int t = 0; t < kT; ++t) out[t] = hsum(total[t]);
}

template <bool kFiveBit>
struct K4Rows {
  template <int kT>
  static void run(const uint8_t* row, const Q8Activation& x, int64_t first_block,
                  int64_t block_stride, int64_t n, float* out) {
    dot_k4_rows<kFiveBit, kT>(row, x, first_block, block_stride, n, out);
  }
};
struct Q6KRows {
  template <int kT>
  static void run(const uint8_t* row, const Q8Activation& x, int64_t first_block,
                  int64_t block_stride, int64_t n, float* out) {
    dot_q6_k_rows<kT>(row, x, first_block, block_stride, n, out);
  }
};

// A rows policy (Rows::run<kT> computes kT activation rows against one weight row) as a
// multi-row kernel (up to kQ8MultiRows rows) and as a one-row kernel.
template <typename Rows>
void dot_multi(const uint8_t* row, const Q8Activation& x, int64_t first_block, int64_t block_stride,
               int64_t n, int count, float* out) {
  for_row_count<kQ8MultiRows>(
      count, [&]<int kT>() { Rows::template run<kT>(row, x, first_block, block_stride, n, out); });
}

template <typename Rows>
float dot_one(const uint8_t* row, const Q8Activation& x, int64_t first_block, int64_t n) {
  float out;
  Rows::template run<1>(row, x, first_block, 0, n, &out);
  return out;
}

}  // namespace

void quantize_activation_blocks(const float* x, int64_t n, int8_t* q, float* d, float* sum) {
  const __m256 abs_mask = _mm256_castsi256_ps(_mm256_set1_epi32(0x7fffffff));
  const __m256 zero = _mm256_setzero_ps();
  const __m256 one = _mm256_set1_ps(1.0f);
  const __m256 max_code = _mm256_set1_ps(127.0f);
  // packs interleaves the 128-bit lanes; this restores element order.
  const __m256i order = _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7);
  int8_t* q0 = q;
  float* d0 = d;
  for (int64_t b = 0; b < n / kQ8Block; ++b, x += kQ8Block, q += kQ8Block, d += 8) {
    __m256i i[4];
    for (int k = 0; k < 4; ++k) {
      // Each 128-bit lane is one 4-element group: its max |x| reaches every element of the lane.
      const __m256 v = _mm256_loadu_ps(x + 8 * k);
      __m256 m = _mm256_and_ps(v, abs_mask);
      m = _mm256_max_ps(m, _mm256_permute_ps(m, 0x4e));
      m = _mm256_max_ps(m, _mm256_permute_ps(m, 0xb1));
      const __m256 scale = _mm256_div_ps(m, max_code);
      const __m256 inv =
          _mm256_and_ps(_mm256_div_ps(one, scale), _mm256_cmp_ps(scale, zero, _CMP_NEQ_OQ));
      // Round to nearest, ties to even, as the portable code's nearbyint.
      i[k] = _mm256_cvtps_epi32(
          _mm256_round_ps(_mm256_mul_ps(v, inv), _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC));
      d[2 * k] = _mm256_cvtss_f32(scale);
      d[2 * k + 1] = _mm_cvtss_f32(_mm256_extractf128_ps(scale, 1));
    }
    const __m256i packed =
        _mm256_packs_epi16(_mm256_packs_epi32(i[0], i[1]), _mm256_packs_epi32(i[2], i[3]));
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(q), _mm256_permutevar8x32_epi32(packed, order));
  }
  activation_block_sums(q0, d0, n, sum);
}

namespace {

// f.template operator()<Rows>() for the rows policy of `type`; Fn's null for types without one.
template <typename Fn, typename F>
Fn with_rows(TensorType type, F f) {
  switch (type) {
    case TensorType::Q4_0:
      return f.template operator()<BlockRows<BlockQ4_0>>();
    case TensorType::Q4_1:
      return f.template operator()<BlockRows<BlockQ4_1>>();
    case TensorType::Q5_0:
      return f.template operator()<BlockRows<BlockQ5_0>>();
    case TensorType::Q5_1:
      return f.template operator()<BlockRows<BlockQ5_1>>();
    case TensorType::Q8_0:
      return f.template operator()<BlockRows<BlockQ8_0>>();
    case TensorType::Q4_K:
      return f.template operator()<K4Rows<false>>();
    case TensorType::Q5_K:
      return f.template operator()<K4Rows<true>>();
    case TensorType::Q6_K:
      return f.template operator()<Q6KRows>();
    default:
      return nullptr;
  }
}

}  // namespace

Q8DotMultiFn q8_dot_multi_kernel(TensorType type) {
  return with_rows<Q8DotMultiFn>(type, []<typename Rows>() { return &dot_multi<Rows>; });
}

Q8DotFn q8_dot_kernel(TensorType type) {
  return with_rows<Q8DotFn>(type, []<typename Rows>() { return &dot_one<Rows>; });
}

}  // namespace emovec::ops::avx2

#endif
