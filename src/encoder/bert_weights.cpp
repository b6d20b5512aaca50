// Loading a Hugging Face BertModel or RobertaModel: hyper-parameters from config.json, every
// tensor checked against the shape they imply and widened to float32.
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "emovec/error.h"
#include "emovec/model_file.h"
#include "encoder/bert_model.h"

namespace emovec::encoder {
namespace {

// What tells the members of the family apart when loading, and how errors name things.
struct Family {
  std::string model_type;  // config.json model_type
  std::string display;     // in messages: "BERT"
  std::string example;     // a model of the family, in messages
  std::string prefix;      // where *For* checkpoints keep the encoder's tensors
  std::string reference;   // the transformers class whose tensors are needed
  bool position_offset;    // positions start at padding_idx + 1 (RoBERTa)
  std::string client;      // what needs the model, in messages
};

Family bert_family() {
  return {"bert", "BERT", "all-minilm-l6-v2", "bert.", "BertModel", false, "the sentence encoder"};
}

Family roberta_family(const std::string& client) {
  return {"roberta", "RoBERTa", "roberta-large-mnli", "roberta.", "RobertaModel", true, client};
}

// "[384, 1536]": a shape as PyTorch and safetensors write it (outermost dimension first).
std::string torch_shape(const std::vector<int64_t>& ggml_shape) {
  std::string out = "[";
  for (size_t i = ggml_shape.size(); i-- > 0;) {
    out += std::to_string(ggml_shape[i]);
    if (i > 0) out += ", ";
  }
  return out + "]";
}

std::string text_setting(const nlohmann::json& config, const char* key) {
  const auto it = config.find(key);
  return it != config.end() && it->is_string() ? it->get<std::string>() : std::string();
}

int64_t count_setting(const nlohmann::json& config, const char* key, int64_t fallback) {
  const auto it = config.find(key);
  return it != config.end() && it->is_number_integer() ? it->get<int64_t>() : fallback;
}

Activation activation_of(const std::string& model_path, const std::string& hidden_act,
                         const Family& family) {
  // transformers' ACT2FN: "gelu" is the exact (erf) GELU; the others are its tanh approximation.
  if (hidden_act.empty() || hidden_act == "gelu") return Activation::GeluErf;
  if (hidden_act == "gelu_new" || hidden_act == "gelu_pytorch_tanh" || hidden_act == "gelu_fast") {
    return Activation::GeluTanh;
  }
  throw Error(model_path + ": config.json hidden_act \"" + hidden_act + "\" is not supported by " +
              family.client +
              " (it implements \"gelu\", \"gelu_new\", \"gelu_pytorch_tanh\" and \"gelu_fast\")");
}

BertHyperParams read_hyper_params(const ModelFile& model, const Family& family) {
  const ModelConfig& c = model.config();
  const nlohmann::json config = model.metadata_summary();
  BertHyperParams hp;
  hp.n_vocab = c.vocab_size;
  hp.n_ctx = c.n_ctx_train;
  hp.n_type = count_setting(config, "type_vocab_size", 2);
  hp.n_embd = c.n_embd;
  hp.n_head = c.n_head;
  hp.n_layer = c.n_layer;
  hp.n_ff = c.n_ff;
  hp.norm_eps = c.norm_eps > 0 ? static_cast<float>(c.norm_eps) : 1e-12f;
  hp.activation = activation_of(model.path(), text_setting(config, "hidden_act"), family);

  const struct {
    const char* key;
    int64_t value;
  } required[] = {{"vocab_size", hp.n_vocab},         {"max_position_embeddings", hp.n_ctx},
                  {"type_vocab_size", hp.n_type},     {"hidden_size", hp.n_embd},
                  {"num_attention_heads", hp.n_head}, {"num_hidden_layers", hp.n_layer},
                  {"intermediate_size", hp.n_ff}};
  for (const auto& r : required) {
    if (r.value <= 0) {
      throw Error(model.path() + ": config.json needs a positive \"" + r.key + "\" for a " +
                  family.display + " encoder");
    }
  }
  if (hp.n_embd % hp.n_head != 0) {
    throw Error(model.path() + ": config.json hidden_size " + std::to_string(hp.n_embd) +
                " is not a multiple of num_attention_heads " + std::to_string(hp.n_head));
  }
  const std::string position_type = text_setting(config, "position_embedding_type");
  if (!position_type.empty() && position_type != "absolute") {
    throw Error(model.path() + ": config.json position_embedding_type \"" + position_type +
                "\" is not supported by " + family.client + " (only \"absolute\")");
  }
  if (family.position_offset) {
    // RobertaConfig's default pad_token_id.
    const int64_t padding_idx = count_setting(config, "pad_token_id", 1);
    if (padding_idx < 0 || padding_idx + 1 >= hp.n_ctx) {
      throw Error(model.path() + ": config.json pad_token_id " + std::to_string(padding_idx) +
                  " leaves no positions below max_position_embeddings " + std::to_string(hp.n_ctx) +
                  " (" + family.display + " numbers positions from pad_token_id + 1)");
    }
    hp.padding_idx = static_cast<int32_t>(padding_idx);
  }
  return hp;
}

class TensorLoader {
 public:
  TensorLoader(const ModelFile& model, std::string prefix, std::string client,
               std::string reference)
      : model_(model),
        prefix_(std::move(prefix)),
        client_(std::move(client)),
        reference_(std::move(reference)) {}

  // A tensor of PyTorch shape `torch_dims` (outermost first), as float32.
  std::vector<float> load(const std::string& name, std::vector<int64_t> torch_dims) const {
    const std::vector<int64_t> want(torch_dims.rbegin(), torch_dims.rend());
    const std::string full = prefix_ + name;
    const TensorView* t = model_.find_tensor(full);
    if (t == nullptr) {
      throw Error(model_.path() + ": tensor \"" + full + "\" (expected shape " + torch_shape(want) +
                  ") is missing; " + client_ + " needs every tensor of a Hugging Face " +
                  reference_);
    }
    if (t->shape != want) {
      throw Error(model_.path() + ": tensor \"" + full + "\": expected shape " + torch_shape(want) +
                  " (from config.json), the file has " + torch_shape(t->shape));
    }
    return model_.dequantize(*t);
  }

  Linear linear(const std::string& name, int64_t n_out, int64_t n_in) const {
    return {load(name + ".weight", {n_out, n_in}), load(name + ".bias", {n_out}), n_out, n_in};
  }

  LayerNorm layer_norm(const std::string& name, int64_t n) const {
    return {load(name + ".weight", {n}), load(name + ".bias", {n})};
  }

 private:
  const ModelFile& model_;
  std::string prefix_;
  std::string client_;
  std::string reference_;
};

// Query, key and value as one [3 n_embd x n_embd] product.
Linear stack_qkv(const Linear& q, const Linear& k, const Linear& v) {
  Linear out;
  out.n_out = q.n_out + k.n_out + v.n_out;
  out.n_in = q.n_in;
  for (const Linear* part : {&q, &k, &v}) {
    out.weight.insert(out.weight.end(), part->weight.begin(), part->weight.end());
    out.bias.insert(out.bias.end(), part->bias.begin(), part->bias.end());
  }
  return out;
}

BertWeights load_encoder(const ModelFile& model, const Family& family) {
  const std::string& arch = model.config().architecture;
  if (arch != family.model_type) {
    throw Error(model.path() + ": " + family.client + " needs a " + family.display +
                "-family model (config.json model_type \"" + family.model_type + "\", e.g. " +
                family.example + "); this model's architecture is \"" + arch + "\"");
  }
  if (model.format() != ModelFormat::HuggingFace) {
    throw Error(model.path() + ": " + family.client + " reads " + family.display +
                " models from Hugging Face folders (config.json, model.safetensors, "
                "tokenizer.json), not GGUF files");
  }
  BertWeights w;
  w.hp = read_hyper_params(model, family);
  const BertHyperParams& hp = w.hp;
  const bool prefixed =
      model.find_tensor("embeddings.word_embeddings.weight") == nullptr &&
      model.find_tensor(family.prefix + "embeddings.word_embeddings.weight") != nullptr;
  const TensorLoader t(model, prefixed ? family.prefix : "", family.client, family.reference);

  w.word_embeddings = t.load("embeddings.word_embeddings.weight", {hp.n_vocab, hp.n_embd});
  w.position_embeddings = t.load("embeddings.position_embeddings.weight", {hp.n_ctx, hp.n_embd});
  w.token_type_embeddings =
      t.load("embeddings.token_type_embeddings.weight", {hp.n_type, hp.n_embd});
  w.embedding_norm = t.layer_norm("embeddings.LayerNorm", hp.n_embd);
  for (int64_t i = 0; i < hp.n_layer; ++i) {
    const std::string p = "encoder.layer." + std::to_string(i) + ".";
    BertLayer layer;
    layer.qkv = stack_qkv(t.linear(p + "attention.self.query", hp.n_embd, hp.n_embd),
                          t.linear(p + "attention.self.key", hp.n_embd, hp.n_embd),
                          t.linear(p + "attention.self.value", hp.n_embd, hp.n_embd));
    layer.attn_output = t.linear(p + "attention.output.dense", hp.n_embd, hp.n_embd);
    layer.attn_norm = t.layer_norm(p + "attention.output.LayerNorm", hp.n_embd);
    layer.ffn_up = t.linear(p + "intermediate.dense", hp.n_ff, hp.n_embd);
    layer.ffn_down = t.linear(p + "output.dense", hp.n_embd, hp.n_ff);
    layer.output_norm = t.layer_norm(p + "output.LayerNorm", hp.n_embd);
    w.layers.push_back(std::move(layer));
  }
  return w;
}

}  // namespace

BertWeights load_bert_weights(const ModelFile& model) { return load_encoder(model, bert_family()); }

BertWeights load_roberta_weights(const ModelFile& model, const std::string& client) {
  return load_encoder(model, roberta_family(client));
}

ClassificationHead load_classification_head(const ModelFile& model, const BertHyperParams& hp,
                                            int64_t n_labels) {
  const TensorLoader t(model, "", "the sequence classifier", "RobertaForSequenceClassification");
  return {t.linear("classifier.dense", hp.n_embd, hp.n_embd),
          t.linear("classifier.out_proj", n_labels, hp.n_embd)};
}

}  // namespace emovec::encoder
