// 32-element block types: Q4_0, Q4_1, Q5_0, Q5_1, Q8_0, IQ4_NL.
#include <array>
#include <cstdint>

#include "quant/dequant_kernels.h"
#include "quant/half.h"
// Last, so that it covers only the code below.
#include "quant/fp_contract_off.h"

namespace emovec::quant {
namespace {

constexpr int kBlock = 32;
constexpr int kHalf = kBlock / 2;

// Element j of a block of packed nibbles: the low nibbles hold elements 0..15, the high nibbles
// 16..31.
inline uint32_t nibble(const uint8_t* qs, int j) {
  return j < kHalf ? (qs[j] & 0x0fu) : (qs[j - kHalf] >> 4);
}

// The fifth bit of element j, stored as bit j of a little-endian uint32.
inline uint32_t high_bit(uint32_t qh, int j) { return (qh >> j) & 1u; }

}  // namespace

void decode_q4_0(const uint8_t* src, float* dst, int64_t blocks) {
  for (int64_t b = 0; b < blocks; ++b, src += 18, dst += kBlock) {
    const float d = f16_to_f32(load_le<uint16_t>(src));
    const uint8_t* qs = src + 2;
    for (int j = 0; j < kBlock; ++j) {
      const auto q = static_cast<int32_t>(nibble(qs, j)) - 8;
      dst[j] = d * static_cast<float>(q);
    }
  }
}

void decode_q4_1(const uint8_t* src, float* dst, int64_t blocks) {
  for (int64_t b = 0; b < blocks; ++b, src += 20, dst += kBlock) {
    const float d = f16_to_f32(load_le<uint16_t>(src));
    const float m = f16_to_f32(load_le<uint16_t>(src + 2));
    const uint8_t* qs = src + 4;
    for (int j = 0; j < kBlock; ++j) {
      const float scaled = d * static_cast<float>(nibble(qs, j));
      dst[j] = scaled + m;
    }
  }
}

void decode_q5_0(const uint8_t* src, float* dst, int64_t blocks) {
  for (int64_t b = 0; b < blocks; ++b, src += 22, dst += kBlock) {
    const float d = f16_to_f32(load_le<uint16_t>(src));
    const uint32_t qh = load_le<uint32_t>(src + 2);
    const uint8_t* qs = src + 6;
    for (int j = 0; j < kBlock; ++j) {
      const auto q = static_cast<int32_t>(nibble(qs, j) | (high_bit(qh, j) << 4)) - 16;
      dst[j] = d * static_cast<float>(q);
    }
  }
}

void decode_q5_1(const uint8_t* src, float* dst, int64_t blocks) {
  for (int64_t b = 0; b < blocks; ++b, src += 24, dst += kBlock) {
    const float d = f16_to_f32(load_le<uint16_t>(src));
    const float m = f16_to_f32(load_le<uint16_t>(src + 2));
    const uint32_t qh = load_le<uint32_t>(src + 4);
    const uint8_t* qs = src + 8;
    for (int j = 0; j < kBlock; ++j) {
      const uint32_t q = nibble(qs, j) | (high_bit(qh, j) << 4);
      const float scaled = d * static_cast<float>(q);
      dst[j] = scaled + m;
    }
  }
}

void decode_q8_0(const uint8_t* src, float* dst, int64_t blocks) {
  for (int64_t b = 0; b < blocks; ++b, src += 34, dst += kBlock) {
    const float d = f16_to_f32(load_le<uint16_t>(src));
    const uint8_t* qs = src + 2;
    for (int j = 0; j < kBlock; ++j) {
      dst[j] = static_cast<float>(static_cast<int8_t>(qs[j])) * d;
    }
  }
}

// The non-linear 4-bit code book of IQ4_NL and IQ4_XS.
extern const std::array<int8_t, 16> kIq4Values;
const std::array<int8_t, 16> kIq4Values = {-127, -104, -83, -65, -49, -35, -22, -10,
                                           1,    13,   25,  38,  53,  69,  89,  113};

void decode_iq4_nl(const uint8_t* src, float* dst, int64_t blocks) {
  for (int64_t b = 0; b < blocks; ++b, src += 18, dst += kBlock) {
    const float d = f16_to_f32(load_le<uint16_t>(src));
    const uint8_t* qs = src + 2;
    for (int j = 0; j < kBlock; ++j) {
      dst[j] = d * static_cast<float>(kIq4Values[nibble(qs, j)]);
    }
  }
}

}  // namespace emovec::quant
