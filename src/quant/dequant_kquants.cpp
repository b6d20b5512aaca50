// 256-element super-block types: Q2_K, Q3_K, Q4_K, Q5_K, Q6_K, Q8_K, IQ4_XS, TQ1_0, TQ2_0.
#include <array>
#include <cstdint>

#include "quant/dequant_kernels.h"
#include "quant/half.h"
// Last, so that it covers only the code below.
#include "quant/fp_contract_off.h"

namespace emovec::quant {

extern const std::array<int8_t, 16> kIq4Values;

namespace {

constexpr int kSuper = 256;

// Element n of 2-bit values packed as gguf-py unpacks them: 32-byte groups, each byte holding
// four values spread 32 elements apart.
inline uint32_t crumb(const uint8_t* qs, int n) {
  const int group = n / 128;
  const int shift = 2 * ((n % 128) / 32);
  return (qs[group * 32 + n % 32] >> shift) & 3u;
}

// Element n of 4-bit values packed in 32-byte groups, low nibbles first (Q4_K, Q5_K).
inline uint32_t nibble32(const uint8_t* qs, int n) {
  const int group = n / 64;
  const int shift = 4 * ((n % 64) / 32);
  return (qs[group * 32 + n % 32] >> shift) & 0x0fu;
}

// The 6-bit scales and mins of the eight 32-element sub-blocks of Q4_K and Q5_K.
struct ScaleMin {
  std::array<uint8_t, 8> scale;
  std::array<uint8_t, 8> min;
};

ScaleMin unpack_scale_min(const uint8_t* s) {
  ScaleMin out{};
  for (int i = 0; i < 4; ++i) {
    out.scale[i] = s[i] & 0x3f;
    out.min[i] = s[4 + i] & 0x3f;
    out.scale[4 + i] = static_cast<uint8_t>((s[8 + i] & 0x0f) | ((s[i] >> 2) & 0x30));
    out.min[4 + i] = static_cast<uint8_t>((s[8 + i] >> 4) | ((s[4 + i] >> 2) & 0x30));
  }
  return out;
}

// Sub-block factors d * scale and dmin * min, each rounded to float32 once, as gguf-py does.
struct SubBlockFactors {
  std::array<float, 8> scale;
  std::array<float, 8> min;
};

SubBlockFactors sub_block_factors(float d, float dmin, const uint8_t* packed) {
  const ScaleMin sm = unpack_scale_min(packed);
  SubBlockFactors f{};
  for (int s = 0; s < 8; ++s) {
    f.scale[s] = d * static_cast<float>(sm.scale[s]);
    f.min[s] = dmin * static_cast<float>(sm.min[s]);
  }
  return f;
}

}  // namespace

void decode_q2_k(const uint8_t* src, float* dst, int64_t blocks) {
  for (int64_t b = 0; b < blocks; ++b, src += 84, dst += kSuper) {
    const uint8_t* scales = src;
    const uint8_t* qs = src + 16;
    const float d = f16_to_f32(load_le<uint16_t>(src + 80));
    const float dmin = f16_to_f32(load_le<uint16_t>(src + 82));
    for (int s = 0; s < 16; ++s) {
      const float dl = d * static_cast<float>(scales[s] & 0x0f);
      const float ml = dmin * static_cast<float>(scales[s] >> 4);
      for (int j = 0; j < 16; ++j) {
        const int n = s * 16 + j;
        const float scaled = dl * static_cast<float>(crumb(qs, n));
        dst[n] = scaled - ml;
      }
    }
  }
}

void decode_q3_k(const uint8_t* src, float* dst, int64_t blocks) {
  for (int64_t b = 0; b < blocks; ++b, src += 110, dst += kSuper) {
    const uint8_t* hmask = src;
    const uint8_t* qs = src + 32;
    const uint8_t* packed = src + 96;
    const float d = f16_to_f32(load_le<uint16_t>(src + 108));
    for (int s = 0; s < 16; ++s) {
      // Low four bits: nibbles of bytes 0..7 (low nibbles for s < 8); high two bits: crumbs of
      // bytes 8..11.
      const uint32_t low = (packed[s % 8] >> (4 * (s / 8))) & 0x0fu;
      const uint32_t high = (packed[8 + s % 4] >> (2 * (s / 4))) & 0x03u;
      const auto scale = static_cast<int32_t>(low | (high << 4)) - 32;
      const float dl = d * static_cast<float>(scale);
      for (int j = 0; j < 16; ++j) {
        const int n = s * 16 + j;
        // A clear mask bit means the value is offset by -4.
        const uint32_t offset_bit = ((hmask[n % 32] >> (n / 32)) & 1u) ^ 1u;
        const auto q = static_cast<int32_t>(crumb(qs, n)) - static_cast<int32_t>(offset_bit << 2);
        dst[n] = dl * static_cast<float>(q);
      }
    }
  }
}

void decode_q4_k(const uint8_t* src, float* dst, int64_t blocks) {
  for (int64_t b = 0; b < blocks; ++b, src += 144, dst += kSuper) {
    const float d = f16_to_f32(load_le<uint16_t>(src));
    const float dmin = f16_to_f32(load_le<uint16_t>(src + 2));
    const SubBlockFactors f = sub_block_factors(d, dmin, src + 4);
    const uint8_t* qs = src + 16;
    for (int n = 0; n < kSuper; ++n) {
      const float scaled = f.scale[n / 32] * static_cast<float>(nibble32(qs, n));
      dst[n] = scaled - f.min[n / 32];
    }
  }
}

void decode_q5_k(const uint8_t* src, float* dst, int64_t blocks) {
  for (int64_t b = 0; b < blocks; ++b, src += 176, dst += kSuper) {
    const float d = f16_to_f32(load_le<uint16_t>(src));
    const float dmin = f16_to_f32(load_le<uint16_t>(src + 2));
    const SubBlockFactors f = sub_block_factors(d, dmin, src + 4);
    const uint8_t* qh = src + 16;
    const uint8_t* qs = src + 48;
    for (int n = 0; n < kSuper; ++n) {
      const uint32_t high = (qh[n % 32] >> (n / 32)) & 1u;
      const uint32_t q = nibble32(qs, n) | (high << 4);
      const float scaled = f.scale[n / 32] * static_cast<float>(q);
      dst[n] = scaled - f.min[n / 32];
    }
  }
}

void decode_q6_k(const uint8_t* src, float* dst, int64_t blocks) {
  for (int64_t b = 0; b < blocks; ++b, src += 210, dst += kSuper) {
    const uint8_t* ql = src;
    const uint8_t* qh = src + 128;
    const uint8_t* scales = src + 192;
    const float d = f16_to_f32(load_le<uint16_t>(src + 208));
    for (int s = 0; s < 16; ++s) {
      const float ds = d * static_cast<float>(static_cast<int8_t>(scales[s]));
      for (int j = 0; j < 16; ++j) {
        const int n = s * 16 + j;
        const int half = n / 128;
        const int r = n % 128;
        const uint32_t low = (ql[half * 64 + r % 64] >> (4 * (r / 64))) & 0x0fu;
        const uint32_t high = crumb(qh, n);
        const auto q = static_cast<int32_t>(low | (high << 4)) - 32;
        dst[n] = ds * static_cast<float>(q);
      }
    }
  }
}

// gguf-py has no Q8_K decoder; this follows ggml (d * q, the block sums unused).
void decode_q8_k(const uint8_t* src, float* dst, int64_t blocks) {
  for (int64_t b = 0; b < blocks; ++b, src += 292, dst += kSuper) {
    const float d = load_le<float>(src);
    const uint8_t* qs = src + 4;
    for (int n = 0; n < kSuper; ++n) dst[n] = d * static_cast<float>(static_cast<int8_t>(qs[n]));
  }
}

void decode_iq4_xs(const uint8_t* src, float* dst, int64_t blocks) {
  for (int64_t b = 0; b < blocks; ++b, src += 136, dst += kSuper) {
    const float d = f16_to_f32(load_le<uint16_t>(src));
    const uint16_t scales_high = load_le<uint16_t>(src + 2);
    const uint8_t* scales_low = src + 4;
    const uint8_t* qs = src + 8;
    for (int s = 0; s < 8; ++s) {
      const uint32_t low = (scales_low[s / 2] >> (4 * (s % 2))) & 0x0fu;
      const uint32_t high = (scales_high >> (2 * s)) & 0x03u;
      const auto scale = static_cast<int32_t>(low | (high << 4)) - 32;
      const float dl = d * static_cast<float>(scale);
      for (int j = 0; j < 32; ++j) {
        const uint32_t q = (qs[s * 16 + j % 16] >> (4 * (j / 16))) & 0x0fu;
        dst[s * 32 + j] = dl * static_cast<float>(kIq4Values[q]);
      }
    }
  }
}

namespace {

// A base-3 digit of a TQ1_0 byte: multiplying (mod 256) moves the digit to the top, and
// (x * 3) >> 8 reads it off.
inline int32_t ternary_digit(uint8_t packed, uint8_t power_of_3) {
  const auto shifted = static_cast<uint8_t>(packed * power_of_3);
  return static_cast<int32_t>((static_cast<uint32_t>(shifted) * 3u) >> 8) - 1;
}

constexpr std::array<uint8_t, 5> kPowersOf3 = {1, 3, 9, 27, 81};

}  // namespace

void decode_tq1_0(const uint8_t* src, float* dst, int64_t blocks) {
  for (int64_t b = 0; b < blocks; ++b, src += 54, dst += kSuper) {
    const uint8_t* qs = src;
    const uint8_t* qh = src + 48;
    const float d = f16_to_f32(load_le<uint16_t>(src + 52));
    int n = 0;
    for (int k = 0; k < 5; ++k) {
      for (int l = 0; l < 32; ++l)
        dst[n++] = d * static_cast<float>(ternary_digit(qs[l], kPowersOf3[k]));
    }
    for (int k = 0; k < 5; ++k) {
      for (int l = 0; l < 16; ++l) {
        dst[n++] = d * static_cast<float>(ternary_digit(qs[32 + l], kPowersOf3[k]));
      }
    }
    for (int k = 0; k < 4; ++k) {
      for (int l = 0; l < 4; ++l)
        dst[n++] = d * static_cast<float>(ternary_digit(qh[l], kPowersOf3[k]));
    }
  }
}

void decode_tq2_0(const uint8_t* src, float* dst, int64_t blocks) {
  for (int64_t b = 0; b < blocks; ++b, src += 66, dst += kSuper) {
    const float d = f16_to_f32(load_le<uint16_t>(src + 64));
    for (int n = 0; n < kSuper; ++n) {
      const auto q = static_cast<int32_t>(crumb(src, n)) - 1;
      dst[n] = d * static_cast<float>(q);
    }
  }
}

}  // namespace emovec::quant
