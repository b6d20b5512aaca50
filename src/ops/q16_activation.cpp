// Portable int16 activation quantisation and the reference kernels, plus the dispatch to the
// AVX2 ones.
#include "ops/q16_activation.h"

#include <algorithm>
#include <cmath>

#include "ops/row_dot.h"
#include "quant/half.h"

namespace emovec::ops {
namespace scalar {
namespace {

inline float half(const uint8_t* p) { return f16_to_f32(load_le<uint16_t>(p)); }

float dot_q8_0(const uint8_t* row, const Q16Activation& x, int64_t first_block, int64_t n) {
  const int16_t* xq = x.q.data() + first_block * kQ16Block;
  const float* xd = x.d.data() + first_block;
  float acc = 0;
  for (int64_t b = 0; b < n / 32; ++b, row += 34, xq += 32) {
    const auto* wq = reinterpret_cast<const int8_t*>(row + 2);
    int32_t s = 0;
    for (int j = 0; j < 32; ++j) s += wq[j] * xq[j];
    acc += half(row) * xd[b] * static_cast<float>(s);
  }
  return acc;
}

// Q6_K: each 16-element sub-block's integer sum is scaled by d * d_x * its signed 8-bit scale in
// float (with int16 activations the scale does not fit in the integer sum).
float dot_q6_k(const uint8_t* row, const Q16Activation& x, int64_t first_block, int64_t n) {
  const int16_t* xq = x.q.data() + first_block * kQ16Block;
  const float* xd = x.d.data() + first_block;
  float acc = 0;
  for (int64_t sb = 0; sb < n / 256; ++sb, row += 210, xq += 256, xd += 8) {
    const uint8_t* ql = row;
    const uint8_t* qh = row + 128;
    const auto* scales = reinterpret_cast<const int8_t*>(row + 192);
    const float d = half(row + 208);
    for (int s = 0; s < 16; ++s) {
      int32_t part = 0;
      for (int j = 0; j < 16; ++j) {
        const int e = 16 * s + j;  // element in the super-block
        const int h = e / 128, r = e % 128;
        const int low = (ql[64 * h + r % 64] >> (4 * (r / 64))) & 0x0f;
        const int high = (qh[32 * h + r % 32] >> (2 * (r / 32))) & 0x03;
        part += ((low | (high << 4)) - 32) * xq[e];
      }
      acc += d * xd[s / 2] * static_cast<float>(scales[s]) * static_cast<float>(part);
    }
  }
  return acc;
}

}  // namespace

void quantize_activation16_blocks(const float* x, int64_t n, int16_t* q, float* d) {
  for (int64_t b = 0; b < n / kQ16Block; ++b, x += kQ16Block, q += kQ16Block) {
    float amax = 0;
    for (int j = 0; j < kQ16Block; ++j) amax = std::fmax(amax, std::fabs(x[j]));
    const float scale = amax / 32767.0f;
    const float inv = scale != 0 ? 1.0f / scale : 0.0f;
    for (int j = 0; j < kQ16Block; ++j) {
      // Ties to even, as the vector code; the clamp matches its saturating pack.
      const float r = std::nearbyint(x[j] * inv);
      q[j] = static_cast<int16_t>(std::clamp(r, -32768.0f, 32767.0f));
    }
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

}  // namespace scalar

void quantize_activation16_rows(const float* x, int64_t stride, int64_t rows, int64_t n,
                                Q16Activation& out) {
  const int64_t blocks = n / kQ16Block;
  out.n = rows * n;
  out.q.resize(static_cast<size_t>(rows * n));
  out.d.resize(static_cast<size_t>(rows * blocks));
  for (int64_t t = 0; t < rows; ++t) {
    int16_t* q = out.q.data() + t * n;
    float* d = out.d.data() + t * blocks;
#if defined(__x86_64__) || defined(__i386__)
    if (cpu_has_avx2()) {
      avx2::quantize_activation16_blocks(x + t * stride, n, q, d);
      continue;
    }
#endif
    scalar::quantize_activation16_blocks(x + t * stride, n, q, d);
  }
}

Q16DotFn q16_dot_kernel(TensorType type) {
#if defined(__x86_64__) || defined(__i386__)
  if (cpu_has_avx2()) return avx2::q16_dot_kernel(type);
#endif
  return scalar::q16_dot_kernel(type);
}

Q16DotMultiFn q16_dot_multi_kernel(TensorType type) {
#if defined(__x86_64__) || defined(__i386__)
  if (cpu_has_avx2()) return avx2::q16_dot_multi_kernel(type);
#endif
  (void)type;
  return nullptr;
}

}  // namespace emovec::ops
