#include <algorithm>
#include <filesystem>
#include <set>

#include "emovec/chat_template.h"
#include "emovec/decoder.h"
#include "emovec/error.h"
#include "emovec/gguf.h"
#include "emovec/model_file.h"
#include "emovec/tokenizer.h"
#include "model/architecture.h"
#include "model/decoder_weights.h"

namespace emovec {
namespace {

std::string shape_text(const std::vector<int64_t>& shape) {
  std::string s;
  for (size_t i = 0; i < shape.size(); ++i) {
    if (i > 0) s.push_back('x');
    s.append(std::to_string(shape[i]));
  }
  return s.empty() ? "scalar" : s;
}

class Binder {
 public:
  Binder(const ModelFile& file, const DecoderHyperParams& h) : file_(file), h_(h) {}

  const TensorView* find(const std::string& role, int layer, const std::string& suffix) const {
    return file_.find_tensor(tensor_name(file_, h_.architecture, role, layer, suffix));
  }

  // A [rows x cols] matrix (ggml shape {cols, rows}) in a type the kernels can use.
  ops::WeightMatrix matrix(const std::string& role, int layer, int64_t rows, int64_t cols) const {
    const std::string name = tensor_name(file_, h_.architecture, role, layer, "weight");
    const TensorView* t = file_.find_tensor(name);
    if (t == nullptr) throw Error(file_.path() + ": tensor " + name + " is missing");
    return matrix_from(*t, rows, cols);
  }

  ops::WeightMatrix matrix_from(const TensorView& t, int64_t rows, int64_t cols) const {
    if (t.shape.size() != 2 || t.shape[0] != cols || t.shape[1] != rows) {
      throw Error(file_.path() + ": tensor " + t.name + ": expected " + std::to_string(cols) + "x" +
                  std::to_string(rows) + ", file has " + shape_text(t.shape));
    }
    if (!traits(t.type).can_dequantize) {
      throw Error(file_.path() + ": tensor " + t.name + " has type " +
                  std::string(tensor_type_name(t.type)) + ", which emovec cannot compute with");
    }
    if (cols % traits(t.type).block_elements != 0) {
      throw Error(file_.path() + ": tensor " + t.name + ": row length " + std::to_string(cols) +
                  " is not a multiple of the " + std::string(tensor_type_name(t.type)) +
                  " block size");
    }
    ops::WeightMatrix w;
    w.name = t.name;
    w.type = t.type;
    w.data = t.data;
    w.rows = rows;
    w.cols = cols;
    w.row_bytes = tensor_bytes(t.type, static_cast<uint64_t>(cols));
    if (w.row_bytes * static_cast<uint64_t>(rows) != t.nbytes) {
      throw Error(file_.path() + ": tensor " + t.name + " holds " + std::to_string(t.nbytes) +
                  " bytes, expected " + std::to_string(w.row_bytes * static_cast<uint64_t>(rows)));
    }
    return w;
  }

  // A vector of n floats; `plus_one` adds 1 (Hugging Face Gemma stores norm weights minus one).
  std::vector<float> vec(const std::string& role, int layer, int64_t n,
                         const std::string& suffix = "weight", bool plus_one = false) const {
    const std::string name = tensor_name(file_, h_.architecture, role, layer, suffix);
    const TensorView* t = file_.find_tensor(name);
    if (t == nullptr) throw Error(file_.path() + ": tensor " + name + " is missing");
    if (t->elements() != n || t->shape.size() != 1) {
      throw Error(file_.path() + ": tensor " + name + ": expected " + std::to_string(n) +
                  ", file has " + shape_text(t->shape));
    }
    std::vector<float> v = file_.dequantize(*t);
    if (plus_one) {
      for (float& x : v) x += 1.0f;
    }
    return v;
  }

 private:
  const ModelFile& file_;
  const DecoderHyperParams& h_;
};

std::unique_ptr<DecoderWeights> bind_weights(const ModelFile& file, const DecoderHyperParams& h) {
  const Binder b(file, h);
  auto w = std::make_unique<DecoderWeights>();
  const int64_t d = h.n_embd;
  const int64_t q_dim = h.n_head * h.head_dim;
  const int64_t kv_dim = h.n_head_kv * h.head_dim;
  // Hugging Face Gemma norms compute x * (1 + w); GGUF files store 1 + w already.
  const bool plus_one = h.architecture == "gemma3" && file.format() == ModelFormat::HuggingFace;
  w->token_embd = b.matrix("token_embd", -1, h.n_vocab, d);
  w->output_norm = b.vec("output_norm", -1, d, "weight", plus_one);
  if (b.find("output", -1, "weight") != nullptr) {
    w->output = b.matrix("output", -1, h.n_vocab, d);
  } else {
    w->output = w->token_embd;
  }
  w->layers.resize(static_cast<size_t>(h.n_layer));
  for (int l = 0; l < h.n_layer; ++l) {
    LayerWeights& L = w->layers[static_cast<size_t>(l)];
    L.attn_norm = b.vec("attn_norm", l, d, "weight", plus_one);
    L.wq = b.matrix("attn_q", l, q_dim, d);
    L.wk = b.matrix("attn_k", l, kv_dim, d);
    L.wv = b.matrix("attn_v", l, kv_dim, d);
    L.wo = b.matrix("attn_output", l, d, q_dim);
    if (h.qkv_bias) {
      L.bq = b.vec("attn_q", l, q_dim, "bias");
      L.bk = b.vec("attn_k", l, kv_dim, "bias");
      L.bv = b.vec("attn_v", l, kv_dim, "bias");
    }
    if (h.qk_norm) {
      L.q_norm = b.vec("attn_q_norm", l, h.head_dim, "weight", plus_one);
      L.k_norm = b.vec("attn_k_norm", l, h.head_dim, "weight", plus_one);
    }
    if (h.sandwich_norms) {
      L.post_attn_norm = b.vec("post_attention_norm", l, d, "weight", plus_one);
      L.post_ffn_norm = b.vec("post_ffw_norm", l, d, "weight", plus_one);
    }
    L.ffn_norm = b.vec("ffn_norm", l, d, "weight", plus_one);
    L.w_gate = b.matrix("ffn_gate", l, h.n_ff, d);
    L.w_up = b.matrix("ffn_up", l, h.n_ff, d);
    L.w_down = b.matrix("ffn_down", l, d, h.n_ff);
  }
  return w;
}

// As llama.cpp: EOS, EOT and the usual end-of-turn control tokens all end a generation.
std::vector<int32_t> end_of_generation(const Tokenizer& tok, const ModelFile& file) {
  std::set<int32_t> ids;
  if (tok.eos_id()) ids.insert(*tok.eos_id());
  if (const GgufFile* g = file.gguf()) {
    for (const char* key : {"tokenizer.ggml.eot_token_id", "tokenizer.ggml.eom_token_id"}) {
      const GgufValue* v = g->find(key);
      if (v != nullptr && !v->is_array() && !v->is_string()) {
        const int64_t id = v->as_int();
        if (id >= 0 && id < tok.vocab_size()) ids.insert(static_cast<int32_t>(id));
      }
    }
  }
  for (const char* text : {"<|im_end|>", "<|endoftext|>", "<|eot_id|>", "<|eom_id|>",
                           "<end_of_turn>", "<|end|>", "<|end_of_text|>"}) {
    if (auto id = tok.token_id(text); id && tok.is_special(*id)) ids.insert(*id);
  }
  return {ids.begin(), ids.end()};
}

}  // namespace

const std::vector<std::string>& supported_decoder_architectures() {
  static const std::vector<std::string> names = {"llama", "qwen2", "gemma3"};
  return names;
}

DecoderModel::~DecoderModel() = default;

std::unique_ptr<DecoderModel> DecoderModel::load(const std::string& path) {
  return from_file(open_model_file(path));
}

std::unique_ptr<DecoderModel> DecoderModel::from_file(std::unique_ptr<ModelFile> file) {
  std::unique_ptr<DecoderModel> m(new DecoderModel());
  m->hparams_ = read_decoder_hparams(*file);
  m->weights_ = bind_weights(*file, m->hparams_);
  // A Hugging Face folder may come without tokenizer files (e.g. test models).
  const bool has_tokenizer =
      file->format() == ModelFormat::Gguf ||
      std::filesystem::exists(std::filesystem::path(file->folder()) / "tokenizer.json");
  if (has_tokenizer) {
    m->tokenizer_ = load_tokenizer(*file);
    m->eog_ = end_of_generation(*m->tokenizer_, *file);
    if (std::optional<std::string> source = file->chat_template()) {
      m->chat_template_ = std::make_unique<ChatTemplate>(std::move(*source));
    }
  }
  m->file_ = std::move(file);
  return m;
}

}  // namespace emovec
