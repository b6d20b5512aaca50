// A decoder-only transformer loaded from a model file: its hyper-parameters under one set of
// names, its weights (used as stored), tokenizer and chat template. Families: llama (SmolLM2,
// Llama-3.x with its rope scaling), qwen2 (QKV bias), gemma3 (QK-norm, sliding-window and
// global layers, GeGLU, embedding scale, sandwich norms).
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace emovec {

class ModelFile;
class Tokenizer;
class ChatTemplate;
struct DecoderWeights;

enum class RopeScaling { None, Linear, Llama3 };
enum class FfnActivation { Silu, GeluTanh };

struct DecoderHyperParams {
  std::string architecture;  // "llama", "qwen2", "gemma3"
  int64_t n_layer = 0;
  int64_t n_embd = 0;
  int64_t n_ff = 0;
  int64_t n_head = 0;
  int64_t n_head_kv = 0;
  int64_t head_dim = 0;
  int64_t n_vocab = 0;
  int64_t n_ctx_train = 0;
  float norm_eps = 1e-5f;

  float rope_theta = 10000.0f;
  float rope_theta_local = 10000.0f;  // sliding-window layers (gemma3)
  // Rotated pairs: (i, i + head_dim/2) as in Hugging Face weights and llama.cpp's qwen2/gemma3;
  // or (2i, 2i+1) for llama-family GGUF files, whose q/k rows the converter permuted.
  bool rope_neox = true;
  RopeScaling rope_scaling = RopeScaling::None;
  float rope_factor = 1.0f;
  float rope_low_freq_factor = 1.0f;
  float rope_high_freq_factor = 4.0f;
  int64_t rope_original_ctx = 8192;
  std::vector<float> rope_freq_factors;  // per rotated pair (GGUF rope_freqs.weight), optional

  float attention_scale = 0;  // multiplies q.k
  int64_t sliding_window = 0;
  std::vector<uint8_t> layer_sliding;  // per layer: 1 = sliding-window attention

  float embedding_scale = 1.0f;
  FfnActivation activation = FfnActivation::Silu;
  bool qkv_bias = false;
  bool qk_norm = false;
  bool sandwich_norms = false;  // post-attention and post-feed-forward norms (gemma3)
  float final_logit_softcap = 0;
};

class DecoderModel {
 public:
  // A GGUF file or Hugging Face folder. Throws Error for an unknown architecture (naming it and
  // the supported ones), a missing tensor, or a tensor of the wrong shape or type.
  static std::unique_ptr<DecoderModel> load(const std::string& path);
  static std::unique_ptr<DecoderModel> from_file(std::unique_ptr<ModelFile> file);

  ~DecoderModel();
  DecoderModel(const DecoderModel&) = delete;
  DecoderModel& operator=(const DecoderModel&) = delete;

  const DecoderHyperParams& hparams() const { return hparams_; }
  const ModelFile& file() const { return *file_; }
  // Null for a model folder without tokenizer files.
  const Tokenizer* tokenizer() const { return tokenizer_.get(); }
  // Null for a model without a chat template.
  const ChatTemplate* chat_template() const { return chat_template_.get(); }
  // Tokens that end a generation: EOS, end-of-turn and similar control tokens.
  const std::vector<int32_t>& end_of_generation_tokens() const { return eog_; }
  const DecoderWeights& weights() const { return *weights_; }

 private:
  DecoderModel() = default;
  std::unique_ptr<ModelFile> file_;
  DecoderHyperParams hparams_;
  std::unique_ptr<DecoderWeights> weights_;
  std::unique_ptr<Tokenizer> tokenizer_;
  std::unique_ptr<ChatTemplate> chat_template_;
  std::vector<int32_t> eog_;
};

// The architectures DecoderModel loads.
const std::vector<std::string>& supported_decoder_architectures();

}  // namespace emovec
