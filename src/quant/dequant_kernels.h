// Per-type block decoders behind emovec::dequantize. Each decodes `blocks` whole blocks from
// `src` into `dst` (block_elements values per block), in the operation order of gguf-py's numpy
// code so that the float32 results are bit-identical.
#pragma once

#include <cstdint>

#include "emovec/tensor_type.h"

namespace emovec::quant {

using BlockDecoder = void (*)(const uint8_t* src, float* dst, int64_t blocks);

// Plain element types (one element per "block").
void decode_f32(const uint8_t* src, float* dst, int64_t n);
void decode_f16(const uint8_t* src, float* dst, int64_t n);
void decode_bf16(const uint8_t* src, float* dst, int64_t n);
void decode_f64(const uint8_t* src, float* dst, int64_t n);
void decode_i8(const uint8_t* src, float* dst, int64_t n);
void decode_i16(const uint8_t* src, float* dst, int64_t n);
void decode_i32(const uint8_t* src, float* dst, int64_t n);
void decode_i64(const uint8_t* src, float* dst, int64_t n);

// 32-element blocks.
void decode_q4_0(const uint8_t* src, float* dst, int64_t blocks);
void decode_q4_1(const uint8_t* src, float* dst, int64_t blocks);
void decode_q5_0(const uint8_t* src, float* dst, int64_t blocks);
void decode_q5_1(const uint8_t* src, float* dst, int64_t blocks);
void decode_q8_0(const uint8_t* src, float* dst, int64_t blocks);
void decode_iq4_nl(const uint8_t* src, float* dst, int64_t blocks);

// 256-element super-blocks.
void decode_q2_k(const uint8_t* src, float* dst, int64_t blocks);
void decode_q3_k(const uint8_t* src, float* dst, int64_t blocks);
void decode_q4_k(const uint8_t* src, float* dst, int64_t blocks);
void decode_q5_k(const uint8_t* src, float* dst, int64_t blocks);
void decode_q6_k(const uint8_t* src, float* dst, int64_t blocks);
void decode_q8_k(const uint8_t* src, float* dst, int64_t blocks);
void decode_iq4_xs(const uint8_t* src, float* dst, int64_t blocks);
void decode_tq1_0(const uint8_t* src, float* dst, int64_t blocks);
void decode_tq2_0(const uint8_t* src, float* dst, int64_t blocks);

// AVX2 decoders of Q4_0, Q4_1, Q5_0, Q8_0, Q4_K and Q6_K with the portable ones' results, bit
// for bit (dequant_avx2.cpp); nullptr for other types. Call only when the CPU has AVX2, FMA and
// F16C.
namespace avx2 {
BlockDecoder decoder(TensorType type);
}  // namespace avx2

}  // namespace emovec::quant
