// Tensor element types as numbered in GGUF files (ggml's type ids), with their block layout
// and dequantisation to float32.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string_view>

namespace emovec {

enum class TensorType : uint32_t {
  F32 = 0,
  F16 = 1,
  Q4_0 = 2,
  Q4_1 = 3,
  Q5_0 = 6,
  Q5_1 = 7,
  Q8_0 = 8,
  Q8_1 = 9,
  Q2_K = 10,
  Q3_K = 11,
  Q4_K = 12,
  Q5_K = 13,
  Q6_K = 14,
  Q8_K = 15,
  IQ2_XXS = 16,
  IQ2_XS = 17,
  IQ3_XXS = 18,
  IQ1_S = 19,
  IQ4_NL = 20,
  IQ3_S = 21,
  IQ2_S = 22,
  IQ4_XS = 23,
  I8 = 24,
  I16 = 25,
  I32 = 26,
  I64 = 27,
  F64 = 28,
  IQ1_M = 29,
  BF16 = 30,
  TQ1_0 = 34,
  TQ2_0 = 35,
};

struct TensorTypeTraits {
  std::string_view name;   // as gguf-py spells it: "Q4_K", "BF16"
  int64_t block_elements;  // elements per block (1 for plain types)
  int64_t block_bytes;     // bytes per block
  bool can_dequantize;     // emovec has a dequantiser for it
};

// Traits of a type id read from a file; nullopt for an id emovec does not know.
std::optional<TensorTypeTraits> tensor_type_traits(uint32_t type_id);
const TensorTypeTraits& traits(TensorType type);
std::string_view tensor_type_name(TensorType type);

// Bytes taken by `elements` values of `type`; throws Error if `elements` is not a whole number of
// blocks or the size overflows.
uint64_t tensor_bytes(TensorType type, uint64_t elements);

// Decodes `elements` values (a whole number of blocks) from `src` into `dst`. Throws Error for a
// type without a dequantiser. Results are bit-identical to gguf-py's dequantisation.
void dequantize(TensorType type, const void* src, float* dst, int64_t elements);

}  // namespace emovec
