#include "emovec/tensor_type.h"

#include <array>
#include <limits>
#include <string>

#include "emovec/error.h"
#include "ops/row_dot.h"
#include "quant/dequant_kernels.h"

namespace emovec {
namespace {

using Decoder = void (*)(const uint8_t*, float*, int64_t);

struct TypeEntry {
  TensorType type;
  TensorTypeTraits traits;
  Decoder decode;  // takes a count of blocks; null when emovec cannot dequantize the type
};

// Block sizes as in ggml / gguf-py's GGML_QUANT_SIZES. Q8_1 follows ggml (36 bytes: two f16),
// which is what files written by ggml hold; gguf-py's table still says 40.
constexpr std::array kTypes = {
    TypeEntry{TensorType::F32, {"F32", 1, 4, true}, quant::decode_f32},
    TypeEntry{TensorType::F16, {"F16", 1, 2, true}, quant::decode_f16},
    TypeEntry{TensorType::Q4_0, {"Q4_0", 32, 18, true}, quant::decode_q4_0},
    TypeEntry{TensorType::Q4_1, {"Q4_1", 32, 20, true}, quant::decode_q4_1},
    TypeEntry{TensorType::Q5_0, {"Q5_0", 32, 22, true}, quant::decode_q5_0},
    TypeEntry{TensorType::Q5_1, {"Q5_1", 32, 24, true}, quant::decode_q5_1},
    TypeEntry{TensorType::Q8_0, {"Q8_0", 32, 34, true}, quant::decode_q8_0},
    TypeEntry{TensorType::Q8_1, {"Q8_1", 32, 36, false}, nullptr},
    TypeEntry{TensorType::Q2_K, {"Q2_K", 256, 84, true}, quant::decode_q2_k},
    TypeEntry{TensorType::Q3_K, {"Q3_K", 256, 110, true}, quant::decode_q3_k},
    TypeEntry{TensorType::Q4_K, {"Q4_K", 256, 144, true}, quant::decode_q4_k},
    TypeEntry{TensorType::Q5_K, {"Q5_K", 256, 176, true}, quant::decode_q5_k},
    TypeEntry{TensorType::Q6_K, {"Q6_K", 256, 210, true}, quant::decode_q6_k},
    TypeEntry{TensorType::Q8_K, {"Q8_K", 256, 292, true}, quant::decode_q8_k},
    TypeEntry{TensorType::IQ2_XXS, {"IQ2_XXS", 256, 66, false}, nullptr},
    TypeEntry{TensorType::IQ2_XS, {"IQ2_XS", 256, 74, false}, nullptr},
    TypeEntry{TensorType::IQ3_XXS, {"IQ3_XXS", 256, 98, false}, nullptr},
    TypeEntry{TensorType::IQ1_S, {"IQ1_S", 256, 50, false}, nullptr},
    TypeEntry{TensorType::IQ4_NL, {"IQ4_NL", 32, 18, true}, quant::decode_iq4_nl},
    TypeEntry{TensorType::IQ3_S, {"IQ3_S", 256, 110, false}, nullptr},
    TypeEntry{TensorType::IQ2_S, {"IQ2_S", 256, 82, false}, nullptr},
    TypeEntry{TensorType::IQ4_XS, {"IQ4_XS", 256, 136, true}, quant::decode_iq4_xs},
    TypeEntry{TensorType::I8, {"I8", 1, 1, true}, quant::decode_i8},
    TypeEntry{TensorType::I16, {"I16", 1, 2, true}, quant::decode_i16},
    TypeEntry{TensorType::I32, {"I32", 1, 4, true}, quant::decode_i32},
    TypeEntry{TensorType::I64, {"I64", 1, 8, true}, quant::decode_i64},
    TypeEntry{TensorType::F64, {"F64", 1, 8, true}, quant::decode_f64},
    TypeEntry{TensorType::IQ1_M, {"IQ1_M", 256, 56, false}, nullptr},
    TypeEntry{TensorType::BF16, {"BF16", 1, 2, true}, quant::decode_bf16},
    TypeEntry{TensorType::TQ1_0, {"TQ1_0", 256, 54, true}, quant::decode_tq1_0},
    TypeEntry{TensorType::TQ2_0, {"TQ2_0", 256, 66, true}, quant::decode_tq2_0},
};

const TypeEntry* find_entry(uint32_t type_id) {
  for (const TypeEntry& e : kTypes) {
    if (static_cast<uint32_t>(e.type) == type_id) return &e;
  }
  return nullptr;
}

const TypeEntry& entry(TensorType type) {
  const TypeEntry* e = find_entry(static_cast<uint32_t>(type));
  if (e == nullptr) {
    throw Error("unknown tensor type id " + std::to_string(static_cast<uint32_t>(type)));
  }
  return *e;
}

}  // namespace

std::optional<TensorTypeTraits> tensor_type_traits(uint32_t type_id) {
  const TypeEntry* e = find_entry(type_id);
  if (e == nullptr) return std::nullopt;
  return e->traits;
}

const TensorTypeTraits& traits(TensorType type) { return entry(type).traits; }

std::string_view tensor_type_name(TensorType type) { return entry(type).traits.name; }

uint64_t tensor_bytes(TensorType type, uint64_t elements) {
  const TensorTypeTraits& t = traits(type);
  const auto block_elements = static_cast<uint64_t>(t.block_elements);
  const auto block_bytes = static_cast<uint64_t>(t.block_bytes);
  if (elements % block_elements != 0) {
    throw Error(std::to_string(elements) + " elements of type " + std::string(t.name) +
                " are not a whole number of " + std::to_string(block_elements) + "-element blocks");
  }
  const uint64_t blocks = elements / block_elements;
  if (blocks > std::numeric_limits<uint64_t>::max() / block_bytes) {
    throw Error(std::to_string(elements) + " elements of type " + std::string(t.name) +
                " overflow a 64-bit byte count");
  }
  return blocks * block_bytes;
}

void dequantize(TensorType type, const void* src, float* dst, int64_t elements) {
  const TypeEntry& e = entry(type);
  if (e.decode == nullptr) {
    throw Error("emovec cannot dequantize tensor type " + std::string(e.traits.name));
  }
  if (elements < 0 || elements % e.traits.block_elements != 0) {
    throw Error(std::to_string(elements) + " elements of type " + std::string(e.traits.name) +
                " are not a whole number of " + std::to_string(e.traits.block_elements) +
                "-element blocks");
  }
  if (elements == 0) return;  // src and dst may be null for empty tensors
  Decoder decode = e.decode;
#if defined(__x86_64__) || defined(__i386__)
  if (ops::cpu_has_avx2()) {
    if (const Decoder fast = quant::avx2::decoder(type)) decode = fast;
  }
#endif
  decode(static_cast<const uint8_t*>(src), dst, elements / e.traits.block_elements);
}

}  // namespace emovec
