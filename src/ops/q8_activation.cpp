// Portable quantisation of activations and the reference integer kernels, plus the dispatch to
// the AVX2 ones. Every kernel forms one exact integer sum per 4-element activation group (the
// AVX2 kernels' int32 lanes) and scales it by the group's float factors.
#include "ops/q8_activation.h"

#include <cmath>

#include "ops/row_dot.h"
#include "quant/half.h"

namespace emovec::ops {
namespace scalar {
namespace {

inline float half(const uint8_t* p) { return f16_to_f32(load_le<uint16_t>(p)); }

// Element j of a 32-element block of packed nibbles: low nibbles hold 0..15, high 16..31.
inline int32_t nibble(const uint8_t* qs, int j) {
  return j < 16 ? (qs[j] & 0x0f) : (qs[j - 16] >> 4);
}

// Element j's fifth bit (Q5_0, Q5_1): bit j of a little-endian uint32.
inline int32_t high_bit(uint32_t qh, int j) { return static_cast<int32_t>((qh >> j) & 1u); }

// The 6-bit scales and mins of Q4_K/Q5_K's eight 32-element sub-blocks.
inline void scale_min_k4(const uint8_t* s, uint8_t* sc, uint8_t* mn) {
  for (int i = 0; i < 4; ++i) {
    sc[i] = s[i] & 0x3f;
    mn[i] = s[4 + i] & 0x3f;
    sc[4 + i] = static_cast<uint8_t>((s[8 + i] & 0x0f) | ((s[i] >> 2) & 0x30));
    mn[4 + i] = static_cast<uint8_t>((s[8 + i] >> 4) | ((s[4 + i] >> 2) & 0x30));
  }
}

// The activation blocks a kernel reads.
struct Blocks {
  const int8_t* q;
  const float* d;
  const float* sum;
};

inline Blocks blocks_at(const Q8Activation& x, int64_t first_block) {
  return {x.q.data() + first_block * kQ8Block, x.d.data() + first_block * (kQ8Block / kQ8Group),
          x.sum.data() + first_block};
}

constexpr int kGroups = kQ8Block / kQ8Group;

// sum over the eight groups of a block of d[g] * s[g].
inline float scaled(const int32_t* s, const float* d) {
  float r = 0;
  for (int g = 0; g < kGroups; ++g) r += d[g] * static_cast<float>(s[g]);
  return r;
}

// Weights w = d * (code - 8): the offset is applied in the integer sum.
float dot_q4_0(const uint8_t* row, const Q8Activation& xa, int64_t first_block, int64_t n) {
  const Blocks x = blocks_at(xa, first_block);
  float acc = 0;
  for (int64_t b = 0; b < n / 32; ++b, row += 18) {
    const int8_t* xq = x.q + 32 * b;
    int32_t s[kGroups] = {};
    for (int j = 0; j < 32; ++j) s[j / 4] += (nibble(row + 2, j) - 8) * xq[j];
    acc += half(row) * scaled(s, x.d + kGroups * b);
  }
  return acc;
}

// Weights w = d * code + m: the min multiplies the block's activation sum.
float dot_q4_1(const uint8_t* row, const Q8Activation& xa, int64_t first_block, int64_t n) {
  const Blocks x = blocks_at(xa, first_block);
  float acc = 0, offset = 0;
  for (int64_t b = 0; b < n / 32; ++b, row += 20) {
    const int8_t* xq = x.q + 32 * b;
    int32_t s[kGroups] = {};
    for (int j = 0; j < 32; ++j) s[j / 4] += nibble(row + 4, j) * xq[j];
    acc += half(row) * scaled(s, x.d + kGroups * b);
    offset += half(row + 2) * x.sum[b];
  }
  return acc + offset;
}

float dot_q5_0(const uint8_t* row, const Q8Activation& xa, int64_t first_block, int64_t n) {
  const Blocks x = blocks_at(xa, first_block);
  float acc = 0;
  for (int64_t b = 0; b < n / 32; ++b, row += 22) {
    const int8_t* xq = x.q + 32 * b;
    const uint32_t qh = load_le<uint32_t>(row + 2);
    int32_t s[kGroups] = {};
    for (int j = 0; j < 32; ++j) {
      s[j / 4] += ((nibble(row + 6, j) | (high_bit(qh, j) << 4)) - 16) * xq[j];
    }
    acc += half(row) * scaled(s, x.d + kGroups * b);
  }
  return acc;
}

float dot_q5_1(const uint8_t* row, const Q8Activation& xa, int64_t first_block, int64_t n) {
  const Blocks x = blocks_at(xa, first_block);
  float acc = 0, offset = 0;
  for (int64_t b = 0; b < n / 32; ++b, row += 24) {
    const int8_t* xq = x.q + 32 * b;
    const uint32_t qh = load_le<uint32_t>(row + 4);
    int32_t s[kGroups] = {};
    for (int j = 0; j < 32; ++j) s[j / 4] += (nibble(row + 8, j) | (high_bit(qh, j) << 4)) * xq[j];
    acc += half(row) * scaled(s, x.d + kGroups * b);
    offset += half(row + 2) * x.sum[b];
  }
  return acc + offset;
}

float dot_q8_0(const uint8_t* row, const Q8Activation& xa, int64_t first_block, int64_t n) {
  const Blocks x = blocks_at(xa, first_block);
  float acc = 0;
  for (int64_t b = 0; b < n / 32; ++b, row += 34) {
    const int8_t* xq = x.q + 32 * b;
    const auto* wq = reinterpret_cast<const int8_t*>(row + 2);
    int32_t s[kGroups] = {};
    for (int j = 0; j < 32; ++j) s[j / 4] += wq[j] * xq[j];
    acc += half(row) * scaled(s, x.d + kGroups * b);
  }
  return acc;
}

// Q4_K and Q5_K: sub-block s of a super-block is activation block 8 * super + s; its weights
// are d * scale[s] * code - dmin * min[s]. Q5_K adds a fifth-bit plane before the nibbles.
float dot_k4(const uint8_t* row, const Q8Activation& xa, int64_t first_block, int64_t n,
             int64_t block_bytes, bool five_bit) {
  const Blocks x = blocks_at(xa, first_block);
  float acc = 0, offset = 0;
  for (int64_t sb = 0; sb < n / 256; ++sb, row += block_bytes) {
    const float d = half(row);
    const float dmin = half(row + 2);
    uint8_t sc[8], mn[8];
    scale_min_k4(row + 4, sc, mn);
    const uint8_t* qh = row + 16;
    const uint8_t* qs = five_bit ? row + 48 : row + 16;
    for (int s = 0; s < 8; ++s) {
      const int64_t b = 8 * sb + s;
      const int8_t* xq = x.q + 32 * b;
      const uint8_t* group = qs + 32 * (s / 2);
      const int shift = 4 * (s % 2);
      int32_t sum[kGroups] = {};
      for (int j = 0; j < 32; ++j) {
        int32_t code = (group[j] >> shift) & 0x0f;
        if (five_bit) code |= ((qh[j] >> s) & 1) << 4;
        sum[j / 4] += code * xq[j];
      }
      acc += d * static_cast<float>(sc[s]) * scaled(sum, x.d + kGroups * b);
      offset += dmin * (static_cast<float>(mn[s]) * x.sum[b]);
    }
  }
  return acc - offset;
}

float dot_q4_k(const uint8_t* row, const Q8Activation& x, int64_t first_block, int64_t n) {
  return dot_k4(row, x, first_block, n, 144, false);
}

float dot_q5_k(const uint8_t* row, const Q8Activation& x, int64_t first_block, int64_t n) {
  return dot_k4(row, x, first_block, n, 176, true);
}

// Q6_K: activation block k of a super-block covers 16-element sub-blocks 2k and 2k + 1, whose
// signed 8-bit scales go into the integer sums; d times the groups' factors scales them.
float dot_q6_k(const uint8_t* row, const Q8Activation& xa, int64_t first_block, int64_t n) {
  const Blocks x = blocks_at(xa, first_block);
  float acc = 0;
  for (int64_t sb = 0; sb < n / 256; ++sb, row += 210) {
    const uint8_t* ql = row;
    const uint8_t* qh = row + 128;
    const auto* scales = reinterpret_cast<const int8_t*>(row + 192);
    const float d = half(row + 208);
    for (int k = 0; k < 8; ++k) {
      const int64_t b = 8 * sb + k;
      const int8_t* xq = x.q + 32 * b;
      int32_t sum[kGroups] = {};
      for (int j = 0; j < 32; ++j) {
        const int e = 32 * k + j;  // element in the super-block
        const int h = e / 128, r = e % 128;
        const int low = (ql[64 * h + r % 64] >> (4 * (r / 64))) & 0x0f;
        const int high = (qh[32 * h + r % 32] >> (2 * (r / 32))) & 0x03;
        sum[j / 4] += scales[e / 16] * ((low | (high << 4)) - 32) * xq[j];
      }
      acc += d * scaled(sum, x.d + kGroups * b);
    }
  }
  return acc;
}

}  // namespace

void quantize_activation_blocks(const float* x, int64_t n, int8_t* q, float* d, float* sum) {
  for (int64_t g = 0; g < n / kQ8Group; ++g) {
    const float* xg = x + kQ8Group * g;
    float amax = 0;
    for (int j = 0; j < kQ8Group; ++j) amax = std::fmax(amax, std::fabs(xg[j]));
    const float scale = amax / 127.0f;
    const float inv = scale != 0 ? 1.0f / scale : 0.0f;
    for (int j = 0; j < kQ8Group; ++j) {
      // nearbyint rounds ties to even in the default rounding mode, as the vector code does.
      q[kQ8Group * g + j] = static_cast<int8_t>(std::nearbyint(xg[j] * inv));
    }
    d[g] = scale;
  }
  activation_block_sums(q, d, n, sum);
}

Q8DotFn q8_dot_kernel(TensorType type) {
  switch (type) {
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

}  // namespace scalar

void activation_block_sums(const int8_t* q, const float* d, int64_t n, float* sum) {
  for (int64_t b = 0; b < n / kQ8Block; ++b) {
    float s = 0;
    for (int64_t g = 0; g < kQ8Block / kQ8Group; ++g) {
      int32_t t = 0;
      for (int64_t j = 0; j < kQ8Group; ++j) t += q[kQ8Block * b + kQ8Group * g + j];
      s += d[kQ8Block / kQ8Group * b + g] * static_cast<float>(t);
    }
    sum[b] = s;
  }
}

void quantize_activation(const float* x, int64_t n, Q8Activation& out) {
  quantize_activation_rows(x, n, 1, n, out);
}

void quantize_activation_rows(const float* x, int64_t stride, int64_t rows, int64_t n,
                              Q8Activation& out) {
  const int64_t blocks = n / kQ8Block;
  out.n = rows * n;
  out.q.resize(static_cast<size_t>(rows * n));
  out.d.resize(static_cast<size_t>(rows * n / kQ8Group));
  out.sum.resize(static_cast<size_t>(rows * blocks));
  for (int64_t t = 0; t < rows; ++t) {
    int8_t* q = out.q.data() + t * n;
    float* d = out.d.data() + t * n / kQ8Group;
    float* sum = out.sum.data() + t * blocks;
#if defined(__x86_64__) || defined(__i386__)
    if (cpu_has_avx2()) {
      avx2::quantize_activation_blocks(x + t * stride, n, q, d, sum);
      continue;
    }
#endif
    scalar::quantize_activation_blocks(x + t * stride, n, q, d, sum);
  }
}

Q8DotFn q8_dot_kernel(TensorType type) {
#if defined(__x86_64__) || defined(__i386__)
  if (cpu_has_avx2()) return avx2::q8_dot_kernel(type);
#endif
  return scalar::q8_dot_kernel(type);
}

Q8DotMultiFn q8_dot_multi_kernel(TensorType type) {
#if defined(__x86_64__) || defined(__i386__)
  if (cpu_has_avx2()) return avx2::q8_dot_multi_kernel(type);
#endif
  (void)type;
  return nullptr;
}

}  // namespace emovec::ops
