// Conversions between float32 and the 16-bit float formats stored in model files, done on the
// bits so results do not depend on the host's rounding mode or F16C support.
#pragma once

#include <bit>
#include <cstdint>
#include <cstring>

namespace emovec {

static_assert(std::endian::native == std::endian::little,
              "emovec reads little-endian files by reinterpreting bytes on a little-endian host");

template <typename T>
inline T load_le(const uint8_t* p) {
  T v;
  std::memcpy(&v, p, sizeof v);
  return v;
}

// Every half is exactly representable as a float. NaN payloads are kept (shifted, not quieted),
// as numpy's float16 -> float32 conversion does.
inline float f16_to_f32(uint16_t h) {
  const uint32_t sign = static_cast<uint32_t>(h & 0x8000u) << 16;
  const uint32_t exponent = (h >> 10) & 0x1fu;
  const uint32_t mantissa = h & 0x3ffu;
  if (exponent == 0x1f) return std::bit_cast<float>(sign | 0x7f800000u | (mantissa << 13));
  if (exponent != 0)
    return std::bit_cast<float>(sign | ((exponent + 112) << 23) | (mantissa << 13));
  // Zero or subnormal: mantissa * 2^-24 is exact in float32.
  const float magnitude = static_cast<float>(mantissa) * 0x1p-24f;
  return std::bit_cast<float>(sign | std::bit_cast<uint32_t>(magnitude));
}

inline float bf16_to_f32(uint16_t h) {
  return std::bit_cast<float>(static_cast<uint32_t>(h) << 16);
}

// Round to nearest, ties to even; overflow gives infinity; NaN stays NaN (quiet, payload's top
// bits kept), matching numpy's astype(np.float16).
inline uint16_t f32_to_f16(float f) {
  const uint32_t bits = std::bit_cast<uint32_t>(f);
  const uint16_t sign = static_cast<uint16_t>((bits >> 16) & 0x8000u);
  const uint32_t abs_bits = bits & 0x7fffffffu;
  if (abs_bits >= 0x7f800000u) {
    if (abs_bits == 0x7f800000u) return static_cast<uint16_t>(sign | 0x7c00u);
    uint16_t payload = static_cast<uint16_t>((abs_bits & 0x007fffffu) >> 13);
    if (payload == 0) payload = 1;  // keep it a NaN
    return static_cast<uint16_t>(sign | 0x7c00u | payload | 0x0200u);
  }
  if (abs_bits >= 0x477ff000u) return static_cast<uint16_t>(sign | 0x7c00u);  // rounds past 65504
  if (abs_bits < 0x38800000u) {
    // Result is subnormal (or zero): scale the value so the half's last bit is at bit 0, then
    // round to nearest even on the discarded bits.
    if (abs_bits < 0x33000000u) return sign;  // below half the smallest subnormal
    const uint32_t exponent = abs_bits >> 23;
    const uint32_t mantissa = (abs_bits & 0x007fffffu) | 0x00800000u;
    const uint32_t shift = 126 - exponent;  // 14..24 here: value = mantissa * 2^(exponent-150)
    const uint32_t kept = mantissa >> shift;
    const uint32_t rest = mantissa & ((1u << shift) - 1);
    const uint32_t halfway = 1u << (shift - 1);
    uint32_t rounded = kept;
    if (rest > halfway || (rest == halfway && (kept & 1u))) ++rounded;
    return static_cast<uint16_t>(sign | rounded);
  }
  // Normal: rebias the exponent and round the mantissa to 10 bits; a carry rolls into the
  // exponent, which is what rounding up to the next binade needs.
  const uint32_t rebiased = abs_bits - (112u << 23);
  const uint32_t kept = rebiased >> 13;
  const uint32_t rest = rebiased & 0x1fffu;
  uint32_t rounded = kept;
  if (rest > 0x1000u || (rest == 0x1000u && (kept & 1u))) ++rounded;
  return static_cast<uint16_t>(sign | rounded);
}

// gguf-py's BF16 quantisation: NaN forced quiet, then round to nearest even.
inline uint16_t f32_to_bf16(float f) {
  uint32_t bits = std::bit_cast<uint32_t>(f);
  if ((bits & 0x7fffffffu) > 0x7f800000u) return static_cast<uint16_t>((bits >> 16) | 0x40u);
  const uint64_t rounded = (static_cast<uint64_t>(bits) + (0x7fffu + ((bits >> 16) & 1u))) >> 16;
  return static_cast<uint16_t>(rounded);
}

}  // namespace emovec
