#include "model/architecture.h"

#include <cmath>
#include <filesystem>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <sstream>

#include "emovec/error.h"
#include "emovec/gguf.h"
#include "emovec/model_file.h"

namespace emovec {
namespace {

using nlohmann::json;

const char* const kSupported = "llama, qwen2, gemma3";

std::string format_int(int64_t v) { return std::to_string(v); }

void require_positive(const std::string& where, const char* what, int64_t v) {
  if (v <= 0) {
    throw Error(where + ": hyper-parameter " + what + " is " + format_int(v) +
                ", expected a positive value");
  }
}

// Checks shared by both formats, so the forward pass can trust every size.
void validate(DecoderHyperParams& h, const std::string& where) {
  require_positive(where, "n_layer", h.n_layer);
  require_positive(where, "n_embd", h.n_embd);
  require_positive(where, "n_ff", h.n_ff);
  require_positive(where, "n_head", h.n_head);
  require_positive(where, "n_head_kv", h.n_head_kv);
  require_positive(where, "head_dim", h.head_dim);
  require_positive(where, "n_vocab", h.n_vocab);
  if (h.n_layer > 4096 || h.n_embd > (1 << 20) || h.n_ff > (1 << 22) || h.n_head > 4096 ||
      h.head_dim > 4096 || h.n_vocab > (1 << 24)) {
    throw Error(where + ": hyper-parameters out of range (layers " + format_int(h.n_layer) +
                ", width " + format_int(h.n_embd) + ", heads " + format_int(h.n_head) + ")");
  }
  if (h.n_head % h.n_head_kv != 0) {
    throw Error(where + ": " + format_int(h.n_head) + " attention heads are not a multiple of " +
                format_int(h.n_head_kv) + " key-value heads");
  }
  if (h.head_dim % 2 != 0) throw Error(where + ": head_dim " + format_int(h.head_dim) + " is odd");
  if (!(h.norm_eps > 0) || !std::isfinite(h.norm_eps)) {
    throw Error(where + ": norm epsilon " + std::to_string(h.norm_eps) + " is not positive");
  }
  if (!(h.rope_theta > 0) || !(h.rope_theta_local > 0)) {
    throw Error(where + ": rope base frequency must be positive");
  }
  if (h.attention_scale == 0) h.attention_scale = 1.0f / std::sqrt(static_cast<float>(h.head_dim));
  if (h.layer_sliding.empty()) h.layer_sliding.assign(static_cast<size_t>(h.n_layer), 0);
  if (h.n_ctx_train <= 0) h.n_ctx_train = 4096;
}

// --- GGUF ------------------------------------------------------------------------------------

class GgufKeys {
 public:
  GgufKeys(const GgufFile& f, std::string arch) : f_(f), p_(std::move(arch) + ".") {}
  bool has(const std::string& key) const { return f_.find(p_ + key) != nullptr; }
  int64_t integer(const std::string& key, int64_t fallback) const {
    const GgufValue* v = f_.find(p_ + key);
    if (v == nullptr) return fallback;
    try {
      if (v->is_array()) {
        int64_t m = 0;
        for (const GgufValue& e : v->as_array()) m = std::max(m, e.as_int());
        return m;
      }
      return v->as_int();
    } catch (const Error& e) {
      throw Error(f_.path() + ": metadata key '" + p_ + key + "': " + e.what());
    }
  }
  float real(const std::string& key, float fallback) const {
    const GgufValue* v = f_.find(p_ + key);
    if (v == nullptr) return fallback;
    try {
      return static_cast<float>(v->as_double());
    } catch (const Error& e) {
      throw Error(f_.path() + ": metadata key '" + p_ + key + "': " + e.what());
    }
  }
  std::string text(const std::string& key) const {
    const GgufValue* v = f_.find(p_ + key);
    return v != nullptr && v->is_string() ? v->as_string() : std::string();
  }

 private:
  const GgufFile& f_;
  std::string p_;
};

DecoderHyperParams from_gguf(const ModelFile& file) {
  const GgufFile& f = *file.gguf();
  const ModelConfig& c = file.config();
  DecoderHyperParams h;
  h.architecture = c.architecture;
  if (h.architecture != "llama" && h.architecture != "qwen2" && h.architecture != "gemma3") {
    throw Error(file.path() + ": architecture '" + h.architecture +
                "' is not supported (supported: " + kSupported + ")");
  }
  const GgufKeys k(f, h.architecture);
  h.n_layer = c.n_layer;
  h.n_embd = c.n_embd;
  h.n_ff = c.n_ff;
  h.n_head = c.n_head;
  h.n_head_kv = c.n_head_kv;
  h.head_dim = c.head_dim;
  h.n_ctx_train = c.n_ctx_train;
  h.n_vocab = c.vocab_size;
  if (const TensorView* embd = file.find_tensor("token_embd.weight");
      embd != nullptr && embd->shape.size() == 2) {
    h.n_vocab = embd->shape[1];
  }
  h.norm_eps = static_cast<float>(c.norm_eps > 0 ? c.norm_eps : 1e-5);
  h.rope_theta = c.rope_freq_base > 0 ? static_cast<float>(c.rope_freq_base) : 10000.0f;
  h.rope_theta_local = h.rope_theta;
  // The converter permutes llama's q/k rows for adjacent-pair rotation; qwen2 and gemma3 keep
  // Hugging Face's half-split pairs (llama.cpp's NEOX rope type).
  h.rope_neox = h.architecture != "llama";
  const std::string scaling = k.text("rope.scaling.type");
  if (scaling == "linear") {
    h.rope_scaling = RopeScaling::Linear;
    h.rope_factor = k.real("rope.scaling.factor", 1.0f);
  }
  if (const TensorView* freqs = file.find_tensor("rope_freqs.weight"); freqs != nullptr) {
    if (freqs->elements() != h.head_dim / 2) {
      throw Error(file.path() + ": tensor rope_freqs.weight has " + format_int(freqs->elements()) +
                  " values, expected head_dim/2 = " + format_int(h.head_dim / 2));
    }
    h.rope_freq_factors = file.dequantize(*freqs);
  }
  const int64_t rope_dims = k.integer("rope.dimension_count", h.head_dim);
  if (rope_dims != h.head_dim) {
    throw Error(file.path() + ": rope.dimension_count " + format_int(rope_dims) +
                " differs from the head size " + format_int(h.head_dim) +
                " (partial rotary embeddings are not supported)");
  }
  if (h.architecture == "qwen2") h.qkv_bias = true;
  if (h.architecture == "gemma3") {
    h.qk_norm = true;
    h.sandwich_norms = true;
    h.activation = FfnActivation::GeluTanh;
    h.embedding_scale = std::sqrt(static_cast<float>(h.n_embd));
    // As llama.cpp: local layers rotate with base 10000, every sixth layer is global.
    h.rope_theta_local = k.real("rope.freq_base_swa", 10000.0f);
    h.sliding_window = k.integer("attention.sliding_window", 0);
    const int64_t pattern = k.integer("attention.sliding_window_pattern", 6);
    h.layer_sliding.assign(static_cast<size_t>(std::max<int64_t>(h.n_layer, 0)), 0);
    if (h.sliding_window > 0 && pattern > 0) {
      for (int64_t l = 0; l < h.n_layer; ++l) {
        h.layer_sliding[static_cast<size_t>(l)] = (l + 1) % pattern != 0 ? 1 : 0;
      }
    }
    const float softcap = k.real("final_logit_softcapping", 0.0f);
    h.final_logit_softcap = softcap;
  }
  validate(h, file.path());
  return h;
}

// --- Hugging Face ----------------------------------------------------------------------------

json read_config_json(const ModelFile& file) {
  const std::filesystem::path path = std::filesystem::path(file.folder()) / "config.json";
  std::ifstream in(path);
  if (!in) throw Error(path.string() + ": cannot open");
  try {
    json j = json::parse(in);
    if (j.contains("text_config") && j["text_config"].is_object()) {
      json text = j["text_config"];
      if (!text.contains("architectures") && j.contains("architectures")) {
        text["architectures"] = j["architectures"];
      }
      return text;
    }
    return j;
  } catch (const json::exception& e) {
    throw Error(path.string() + ": not valid JSON: " + e.what());
  }
}

class JsonKeys {
 public:
  JsonKeys(const json& j, std::string where) : j_(j), where_(std::move(where)) {}
  bool has(const char* key) const { return j_.contains(key) && !j_[key].is_null(); }
  int64_t integer(const char* key, int64_t fallback) const {
    if (!has(key)) return fallback;
    if (!j_[key].is_number_integer()) throw Error(where_ + ": '" + key + "' is not an integer");
    return j_[key].get<int64_t>();
  }
  float real(const char* key, float fallback) const {
    if (!has(key)) return fallback;
    if (!j_[key].is_number()) throw Error(where_ + ": '" + key + "' is not a number");
    return j_[key].get<float>();
  }
  const json& raw(const char* key) const { return j_[key]; }

 private:
  const json& j_;
  std::string where_;
};

DecoderHyperParams from_hf(const ModelFile& file) {
  const json config = read_config_json(file);
  const std::string where = file.folder() + "/config.json";
  const JsonKeys k(config, where);
  std::string model_type = config.value("model_type", "");
  if (model_type == "gemma3_text") model_type = "gemma3";
  DecoderHyperParams h;
  h.architecture = model_type;
  if (model_type != "llama" && model_type != "qwen2" && model_type != "gemma3") {
    throw Error(where + ": model_type '" + model_type +
                "' is not supported (supported: " + kSupported + ")");
  }
  h.n_layer = k.integer("num_hidden_layers", 0);
  h.n_embd = k.integer("hidden_size", 0);
  h.n_ff = k.integer("intermediate_size", 0);
  h.n_head = k.integer("num_attention_heads", 0);
  h.n_head_kv = k.integer("num_key_value_heads", h.n_head);
  h.head_dim = k.integer("head_dim", h.n_head > 0 ? h.n_embd / h.n_head : 0);
  h.n_vocab = k.integer("vocab_size", 0);
  h.n_ctx_train = k.integer("max_position_embeddings", 0);
  h.norm_eps = k.real("rms_norm_eps", 1e-6f);
  h.rope_neox = true;
  // transformers 5 keeps rope settings in rope_parameters; older configs at the top level.
  const json* rope = nullptr;
  if (k.has("rope_parameters") && config["rope_parameters"].is_object()) {
    rope = &config["rope_parameters"];
    if (rope->contains("full_attention") && (*rope)["full_attention"].is_object()) {
      const json& local = (*rope)["sliding_attention"];
      if (local.is_object()) h.rope_theta_local = local.value("rope_theta", 10000.0f);
      rope = &(*rope)["full_attention"];
    }
  } else if (k.has("rope_scaling") && config["rope_scaling"].is_object()) {
    rope = &config["rope_scaling"];
  }
  h.rope_theta = k.real("rope_theta", 10000.0f);
  if (rope != nullptr && rope->contains("rope_theta")) h.rope_theta = (*rope)["rope_theta"];
  if (rope != nullptr) {
    const std::string type = rope->value("rope_type", rope->value("type", "default"));
    if (type == "llama3") {
      h.rope_scaling = RopeScaling::Llama3;
      h.rope_factor = rope->value("factor", 8.0f);
      h.rope_low_freq_factor = rope->value("low_freq_factor", 1.0f);
      h.rope_high_freq_factor = rope->value("high_freq_factor", 4.0f);
      h.rope_original_ctx = rope->value("original_max_position_embeddings", int64_t{8192});
    } else if (type == "linear") {
      h.rope_scaling = RopeScaling::Linear;
      h.rope_factor = rope->value("factor", 1.0f);
    } else if (type != "default") {
      throw Error(where + ": rope scaling type '" + type +
                  "' is not supported (supported: default, linear, llama3)");
    }
  }
  if (model_type != "gemma3") h.rope_theta_local = h.rope_theta;
  if (model_type == "qwen2") h.qkv_bias = true;
  if (model_type == "llama" && k.has("attention_bias") && config["attention_bias"].is_boolean()) {
    h.qkv_bias = config["attention_bias"].get<bool>();
  }
  if (model_type == "gemma3") {
    h.qk_norm = true;
    h.sandwich_norms = true;
    h.activation = FfnActivation::GeluTanh;
    h.embedding_scale = std::sqrt(static_cast<float>(h.n_embd));
    if (k.has("rope_local_base_freq")) h.rope_theta_local = k.real("rope_local_base_freq", 1e4f);
    const float qscalar = k.real("query_pre_attn_scalar", static_cast<float>(h.head_dim));
    h.attention_scale = 1.0f / std::sqrt(qscalar);
    h.sliding_window = k.integer("sliding_window", 0);
    h.layer_sliding.assign(static_cast<size_t>(std::max<int64_t>(h.n_layer, 0)), 0);
    if (k.has("layer_types") && config["layer_types"].is_array()) {
      const json& types = config["layer_types"];
      if (static_cast<int64_t>(types.size()) != h.n_layer) {
        throw Error(where + ": layer_types has " + std::to_string(types.size()) + " entries for " +
                    format_int(h.n_layer) + " layers");
      }
      for (size_t l = 0; l < types.size(); ++l) {
        h.layer_sliding[l] = types[l] == "sliding_attention" ? 1 : 0;
      }
    } else {
      const int64_t pattern = k.integer("sliding_window_pattern", 6);
      for (int64_t l = 0; l < h.n_layer; ++l) {
        h.layer_sliding[static_cast<size_t>(l)] = pattern > 0 && (l + 1) % pattern != 0;
      }
    }
    if (h.sliding_window <= 0) h.layer_sliding.assign(h.layer_sliding.size(), 0);
    h.final_logit_softcap = k.real("final_logit_softcapping", 0.0f);
  }
  validate(h, where);
  return h;
}

const std::map<std::string, std::string>& hf_layer_names(const std::string& arch) {
  static const std::map<std::string, std::string> common = {
      {"attn_norm", "input_layernorm"},    {"attn_q", "self_attn.q_proj"},
      {"attn_k", "self_attn.k_proj"},      {"attn_v", "self_attn.v_proj"},
      {"attn_output", "self_attn.o_proj"}, {"ffn_norm", "post_attention_layernorm"},
      {"ffn_gate", "mlp.gate_proj"},       {"ffn_up", "mlp.up_proj"},
      {"ffn_down", "mlp.down_proj"},
  };
  static const std::map<std::string, std::string> gemma = [] {
    std::map<std::string, std::string> m = common;
    m["ffn_norm"] = "pre_feedforward_layernorm";
    m["post_attention_norm"] = "post_attention_layernorm";
    m["post_ffw_norm"] = "post_feedforward_layernorm";
    m["attn_q_norm"] = "self_attn.q_norm";
    m["attn_k_norm"] = "self_attn.k_norm";
    return m;
  }();
  return arch == "gemma3" ? gemma : common;
}

}  // namespace

DecoderHyperParams read_decoder_hparams(const ModelFile& file) {
  return file.format() == ModelFormat::Gguf ? from_gguf(file) : from_hf(file);
}

std::string tensor_name(const ModelFile& file, const std::string& architecture,
                        const std::string& role, int layer, const std::string& suffix) {
  if (file.format() == ModelFormat::Gguf) {
    if (layer < 0) return role + "." + suffix;
    return "blk." + std::to_string(layer) + "." + role + "." + suffix;
  }
  if (layer < 0) {
    if (role == "token_embd") return "model.embed_tokens." + suffix;
    if (role == "output_norm") return "model.norm." + suffix;
    if (role == "output") return "lm_head." + suffix;
    return role + "." + suffix;
  }
  const auto& names = hf_layer_names(architecture);
  const auto it = names.find(role);
  const std::string hf_role = it != names.end() ? it->second : role;
  return "model.layers." + std::to_string(layer) + "." + hf_role + "." + suffix;
}

}  // namespace emovec
