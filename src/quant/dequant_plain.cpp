// Plain element types: float formats are widened exactly (F64 rounds to nearest), integers are
// converted as numpy's astype(np.float32) does.
#include <cstdint>

#include "quant/dequant_kernels.h"
#include "quant/half.h"

namespace emovec::quant {
namespace {

template <typename Stored, typename Convert>
void decode_each(const uint8_t* src, float* dst, int64_t n, Convert convert) {
  for (int64_t i = 0; i < n; ++i) dst[i] = convert(load_le<Stored>(src + i * sizeof(Stored)));
}

}  // namespace

void decode_f32(const uint8_t* src, float* dst, int64_t n) {
  // Bit copy, so NaN payloads survive as they do in gguf-py's view().
  std::memcpy(dst, src, static_cast<size_t>(n) * sizeof(float));
}

void decode_f16(const uint8_t* src, float* dst, int64_t n) {
  decode_each<uint16_t>(src, dst, n, f16_to_f32);
}

void decode_bf16(const uint8_t* src, float* dst, int64_t n) {
  decode_each<uint16_t>(src, dst, n, bf16_to_f32);
}

void decode_f64(const uint8_t* src, float* dst, int64_t n) {
  decode_each<double>(src, dst, n, [](double v) { return static_cast<float>(v); });
}

void decode_i8(const uint8_t* src, float* dst, int64_t n) {
  decode_each<int8_t>(src, dst, n, [](int8_t v) { return static_cast<float>(v); });
}

void decode_i16(const uint8_t* src, float* dst, int64_t n) {
  decode_each<int16_t>(src, dst, n, [](int16_t v) { return static_cast<float>(v); });
}

void decode_i32(const uint8_t* src, float* dst, int64_t n) {
  decode_each<int32_t>(src, dst, n, [](int32_t v) { return static_cast<float>(v); });
}

void decode_i64(const uint8_t* src, float* dst, int64_t n) {
  decode_each<int64_t>(src, dst, n, [](int64_t v) { return static_cast<float>(v); });
}

}  // namespace emovec::quant
