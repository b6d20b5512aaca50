// One interface over the model files people have: a GGUF file, or a Hugging Face folder
// (config.json + *.safetensors, sharded or not, + tokenizer.json / tokenizer_config.json).
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "emovec/tensor_type.h"

namespace emovec {

class GgufFile;

enum class ModelFormat { Gguf, HuggingFace };

// A tensor as stored in the file, borrowed from the mapping (valid while the ModelFile lives).
struct TensorView {
  std::string name;            // the file's own name ("blk.0.attn_q.weight", "encoder.layer.0...")
  TensorType type = TensorType::F32;
  std::vector<int64_t> shape;  // ggml order: shape[0] is the contiguous dimension, for both formats
  const uint8_t* data = nullptr;
  uint64_t nbytes = 0;
  int64_t elements() const;
};

// Hyper-parameters under one set of names, whichever format they came from. Zero or empty means
// the file does not say.
struct ModelConfig {
  std::string architecture;  // "llama", "qwen2", "gemma3", "bert", ...
  std::string name;
  int64_t n_layer = 0;
  int64_t n_embd = 0;
  int64_t n_ff = 0;
  int64_t n_head = 0;
  int64_t n_head_kv = 0;
  int64_t head_dim = 0;  // key length per head
  int64_t n_ctx_train = 0;
  int64_t vocab_size = 0;
  double rope_freq_base = 0;
  double norm_eps = 0;
  int64_t sliding_window = 0;
};

class ModelFile {
 public:
  virtual ~ModelFile() = default;

  virtual ModelFormat format() const = 0;
  virtual const std::string& path() const = 0;
  virtual const ModelConfig& config() const = 0;
  virtual const std::vector<TensorView>& tensors() const = 0;
  // Every metadata entry as JSON (GGUF key/values, or config.json), for `emovec inspect`. Long
  // arrays are summarised as {"type", "length", "head"}.
  virtual nlohmann::json metadata_summary() const = 0;
  // The chat template the file carries (GGUF tokenizer.chat_template, or tokenizer_config.json's
  // chat_template); nullopt for a model without one.
  virtual std::optional<std::string> chat_template() const = 0;

  // The GGUF file behind a GGUF model, else null.
  virtual const GgufFile* gguf() const { return nullptr; }
  // The folder of a Hugging Face model, else empty.
  virtual std::string folder() const { return {}; }

  const TensorView* find_tensor(std::string_view name) const;
  const TensorView& tensor(std::string_view name) const;  // throws Error if absent
  std::vector<float> dequantize(const TensorView& t) const;
};

// Opens a GGUF file or a Hugging Face model folder (or a config.json / .safetensors inside one).
std::unique_ptr<ModelFile> open_model_file(const std::string& path);

// A ModelFile over an already parsed GGUF file (e.g. one read with GgufFile::from_bytes).
std::unique_ptr<ModelFile> model_file_from_gguf(GgufFile file);

}  // namespace emovec
