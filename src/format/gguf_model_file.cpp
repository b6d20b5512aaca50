// ModelFile over a GGUF file.
#include <algorithm>
#include <string>

#include "emovec/error.h"
#include "emovec/gguf.h"
#include "format/model_file_impl.h"
#include "format/utf8.h"

namespace emovec {
namespace {

nlohmann::json value_to_json(const GgufValue& v) {
  switch (v.type()) {
    case GgufType::Uint8:
    case GgufType::Uint16:
    case GgufType::Uint32:
    case GgufType::Uint64:
      return v.as_uint();
    case GgufType::Int8:
    case GgufType::Int16:
    case GgufType::Int32:
    case GgufType::Int64:
      return v.as_int();
    case GgufType::Float32:
    case GgufType::Float64:
      return v.as_double();
    case GgufType::Bool:
      return v.as_bool();
    // Values may hold any bytes; JSON needs valid UTF-8.
    case GgufType::String:
      return to_valid_utf8(v.as_string());
    case GgufType::Array:
      break;
  }
  const GgufValue::Array& elements = v.as_array();
  const size_t shown =
      elements.size() > kSummaryArrayLimit ? kSummaryHeadElements : elements.size();
  nlohmann::json list = nlohmann::json::array();
  for (size_t i = 0; i < shown; ++i) list.push_back(value_to_json(elements[i]));
  if (elements.size() <= kSummaryArrayLimit) return list;
  return summarise_array(std::string(gguf_type_name(v.element_type())), elements.size(),
                         std::move(list));
}

// Reads one hyper-parameter; errors name the file and key.
class ConfigReader {
 public:
  explicit ConfigReader(const GgufFile& file) : file_(file) {}

  // A non-negative integer, or 0 when absent. A per-layer array gives its largest element.
  int64_t count(const std::string& key) const {
    const GgufValue* v = file_.find(key);
    if (v == nullptr) return 0;
    try {
      int64_t n = 0;
      if (v->is_array()) {
        for (const GgufValue& e : v->as_array()) n = std::max(n, e.as_int());
      } else {
        n = v->as_int();
      }
      if (n < 0) throw Error("value " + std::to_string(n) + " is negative");
      return n;
    } catch (const Error& e) {
      throw Error(file_.path() + ": metadata key '" + key + "': " + e.what());
    }
  }

  double real(const std::string& key) const {
    const GgufValue* v = file_.find(key);
    if (v == nullptr) return 0;
    try {
      return v->as_double();
    } catch (const Error& e) {
      throw Error(file_.path() + ": metadata key '" + key + "': " + e.what());
    }
  }

  std::string text(const std::string& key) const {
    const GgufValue* v = file_.find(key);
    if (v == nullptr) return {};
    try {
      return v->as_string();
    } catch (const Error& e) {
      throw Error(file_.path() + ": metadata key '" + key + "': " + e.what());
    }
  }

 private:
  const GgufFile& file_;
};

ModelConfig read_config(const GgufFile& file) {
  const ConfigReader r(file);
  ModelConfig c;
  c.architecture = r.text("general.architecture");
  c.name = r.text("general.name");
  const std::string p = c.architecture + ".";
  c.n_layer = r.count(p + "block_count");
  c.n_embd = r.count(p + "embedding_length");
  c.n_ff = r.count(p + "feed_forward_length");
  c.n_head = r.count(p + "attention.head_count");
  // As in llama.cpp: no separate key-value head count means one per query head.
  c.n_head_kv =
      file.find(p + "attention.head_count_kv") ? r.count(p + "attention.head_count_kv") : c.n_head;
  c.head_dim = r.count(p + "attention.key_length");
  if (c.head_dim == 0 && c.n_head > 0) c.head_dim = c.n_embd / c.n_head;
  c.n_ctx_train = r.count(p + "context_length");
  c.rope_freq_base = r.real(p + "rope.freq_base");
  c.norm_eps = file.find(p + "attention.layer_norm_rms_epsilon")
                   ? r.real(p + "attention.layer_norm_rms_epsilon")
                   : r.real(p + "attention.layer_norm_epsilon");
  c.sliding_window = r.count(p + "attention.sliding_window");
  c.vocab_size = r.count(p + "vocab_size");
  if (c.vocab_size == 0) {
    const GgufValue* tokens = file.find("tokenizer.ggml.tokens");
    if (tokens != nullptr && tokens->is_array()) {
      c.vocab_size = static_cast<int64_t>(tokens->as_array().size());
    }
  }
  return c;
}

class GgufModelFile final : public ModelFile {
 public:
  explicit GgufModelFile(GgufFile file) : file_(std::move(file)) {
    config_ = read_config(file_);
    tensors_.reserve(file_.tensors().size());
    for (const GgufTensorInfo& info : file_.tensors()) {
      tensors_.push_back({info.name, info.type, info.shape, file_.tensor_data(info), info.nbytes});
    }
  }

  ModelFormat format() const override { return ModelFormat::Gguf; }
  const std::string& path() const override { return file_.path(); }
  const ModelConfig& config() const override { return config_; }
  const std::vector<TensorView>& tensors() const override { return tensors_; }
  const GgufFile* gguf() const override { return &file_; }

  nlohmann::json metadata_summary() const override {
    nlohmann::json out = nlohmann::json::object();
    for (const auto& [key, value] : file_.metadata()) out[key] = value_to_json(value);
    return out;
  }

  std::optional<std::string> chat_template() const override {
    const GgufValue* v = file_.find("tokenizer.chat_template");
    if (v == nullptr) return std::nullopt;
    if (!v->is_string()) {
      throw Error(file_.path() + ": metadata key 'tokenizer.chat_template' has type " +
                  std::string(gguf_type_name(v->type())) + ", expected string");
    }
    return v->as_string();
  }

 private:
  GgufFile file_;
  ModelConfig config_;
  std::vector<TensorView> tensors_;
};

}  // namespace

std::unique_ptr<ModelFile> open_gguf_model(const std::string& path) {
  return std::make_unique<GgufModelFile>(GgufFile::open(path));
}

std::unique_ptr<ModelFile> model_file_from_gguf(GgufFile file) {
  return std::make_unique<GgufModelFile>(std::move(file));
}

}  // namespace emovec
