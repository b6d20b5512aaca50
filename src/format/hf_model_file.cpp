// ModelFile over a Hugging Face folder: config.json, model.safetensors or shards listed in
// model.safetensors.index.json, and tokenizer_config.json for the chat template.
#include <algorithm>
#include <cmath>
#include <filesystem>
#include <limits>
#include <map>
#include <set>
#include <string>

#include "emovec/error.h"
#include "emovec/safetensors.h"
#include "format/model_file_impl.h"
#include "format/text_file.h"
#include "format/utf8.h"

namespace emovec {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

json summarise(const json& v) {
  if (v.is_array()) {
    const size_t shown = v.size() > kSummaryArrayLimit ? kSummaryHeadElements : v.size();
    json head = json::array();
    for (size_t i = 0; i < shown; ++i) head.push_back(summarise(v[i]));
    if (v.size() <= kSummaryArrayLimit) return head;
    return summarise_array("json", v.size(), std::move(head));
  }
  if (v.is_object()) {
    json out = json::object();
    for (const auto& [key, value] : v.items()) out[key] = summarise(value);
    return out;
  }
  return v;
}

// Reads hyper-parameters from config.json, falling back to a nested "text_config" (multimodal
// checkpoints keep the language model's settings there).
class ConfigReader {
 public:
  ConfigReader(const json& config, std::string path) : config_(config), path_(std::move(path)) {}

  const json* find(const std::string& key) const {
    const auto it = config_.find(key);
    if (it != config_.end() && !it->is_null()) return &*it;
    const auto text = config_.find("text_config");
    if (text != config_.end() && text->is_object()) {
      const auto nested = text->find(key);
      if (nested != text->end() && !nested->is_null()) return &*nested;
    }
    return nullptr;
  }

  int64_t count(const std::string& key) const {
    const json* v = find(key);
    if (v == nullptr) return 0;
    if (v->is_number_unsigned()) {
      const auto n = v->get<uint64_t>();
      if (n <= static_cast<uint64_t>(std::numeric_limits<int64_t>::max()))
        return static_cast<int64_t>(n);
    } else if (v->is_number_float()) {
      const double d = v->get<double>();
      if (d >= 0 && d < 9.2e18 && std::floor(d) == d) return static_cast<int64_t>(d);
    }
    throw Error(path_ + ": '" + key + "' is " + v->dump() + ", expected a non-negative integer");
  }

  double real(const std::string& key) const {
    const json* v = find(key);
    if (v == nullptr) return 0;
    if (!v->is_number())
      throw Error(path_ + ": '" + key + "' is " + v->dump() + ", expected a number");
    return v->get<double>();
  }

  std::string text(const std::string& key) const {
    const json* v = find(key);
    if (v == nullptr) return {};
    if (!v->is_string())
      throw Error(path_ + ": '" + key + "' is " + v->dump() + ", expected a string");
    return v->get<std::string>();
  }

 private:
  const json& config_;
  std::string path_;
};

ModelConfig read_config(const json& config, const fs::path& config_path, std::string name) {
  if (!config.is_object()) throw Error(config_path.string() + ": not a JSON object");
  const ConfigReader r(config, config_path.string());
  ModelConfig c;
  c.architecture = r.text("model_type");
  c.name = std::move(name);
  c.n_layer = r.count("num_hidden_layers");
  c.n_embd = r.count("hidden_size");
  c.n_ff = r.count("intermediate_size");
  c.n_head = r.count("num_attention_heads");
  // As in transformers: no separate key-value head count means one per query head.
  c.n_head_kv = r.find("num_key_value_heads") ? r.count("num_key_value_heads") : c.n_head;
  c.head_dim = r.count("head_dim");
  if (c.head_dim == 0 && c.n_head > 0) c.head_dim = c.n_embd / c.n_head;
  c.n_ctx_train = r.count("max_position_embeddings");
  c.vocab_size = r.count("vocab_size");
  c.rope_freq_base = r.real("rope_theta");
  c.norm_eps = r.find("rms_norm_eps") ? r.real("rms_norm_eps") : r.real("layer_norm_eps");
  // Qwen2 configs carry a window size even when "use_sliding_window" turns it off.
  const json* use_window = r.find("use_sliding_window");
  const bool window_off =
      use_window != nullptr && use_window->is_boolean() && !use_window->get<bool>();
  c.sliding_window = window_off ? 0 : r.count("sliding_window");
  return c;
}

// "models/all-MiniLM-L6-v2/" -> "all-MiniLM-L6-v2"
std::string folder_name(const fs::path& dir) {
  fs::path p = fs::absolute(dir).lexically_normal();
  if (p.filename().empty()) p = p.parent_path();
  return p.filename().string();
}

// A shard named by the index must be a plain file in the folder, not a path out of it.
void check_shard_name(const std::string& name, const fs::path& index_path) {
  if (name.empty() || name.find('/') != std::string::npos || name.find('\\') != std::string::npos ||
      name == "." || name == "..") {
    throw Error(index_path.string() + ": shard name " + quote_for_message(name) +
                " is not a file name in the model folder");
  }
}

class HfModelFile final : public ModelFile {
 public:
  explicit HfModelFile(const std::string& folder) : folder_(folder), path_(folder) {
    const fs::path dir(folder);
    const fs::path config_path = dir / "config.json";
    if (!fs::exists(config_path)) {
      throw Error(folder + ": not a Hugging Face model folder (no config.json)");
    }
    config_json_ = read_json_file(config_path);
    config_ = read_config(config_json_, config_path, folder_name(dir));
    open_weights(dir);
    chat_template_ = read_chat_template(dir);
  }

  ModelFormat format() const override { return ModelFormat::HuggingFace; }
  const std::string& path() const override { return path_; }
  const ModelConfig& config() const override { return config_; }
  const std::vector<TensorView>& tensors() const override { return tensors_; }
  nlohmann::json metadata_summary() const override { return summarise(config_json_); }
  std::optional<std::string> chat_template() const override { return chat_template_; }
  std::string folder() const override { return folder_; }

 private:
  void open_weights(const fs::path& dir) {
    const fs::path index_path = dir / "model.safetensors.index.json";
    const fs::path single = dir / "model.safetensors";
    if (fs::exists(index_path)) {
      open_sharded(dir, index_path);
    } else if (fs::exists(single)) {
      add_shard(single);
    } else {
      throw Error(dir.string() + ": no model.safetensors or model.safetensors.index.json");
    }
  }

  void open_sharded(const fs::path& dir, const fs::path& index_path) {
    const json index = read_json_file(index_path);
    const auto map = index.find("weight_map");
    if (!index.is_object() || map == index.end() || !map->is_object()) {
      throw Error(index_path.string() + ": no 'weight_map' object");
    }
    std::vector<std::string> shards;  // in order of first mention
    for (const auto& [tensor, shard] : map->items()) {
      if (!shard.is_string()) {
        throw Error(index_path.string() + ": weight_map entry " + quote_for_message(tensor) +
                    " is not a file name");
      }
      const auto name = shard.get<std::string>();
      check_shard_name(name, index_path);
      if (std::find(shards.begin(), shards.end(), name) == shards.end()) shards.push_back(name);
    }
    for (const std::string& name : shards) add_shard(dir / name);
    for (const auto& [tensor, shard] : map->items()) {
      const SafetensorsFile& file = files_[shard_index_.at(shard.get<std::string>())];
      if (file.find_tensor(tensor) == nullptr) {
        throw Error(index_path.string() + ": tensor " + quote_for_message(tensor) +
                    " is listed in " + shard.get<std::string>() + " but that file lacks it");
      }
    }
  }

  void add_shard(const fs::path& path) {
    shard_index_.emplace(path.filename().string(), files_.size());
    files_.push_back(SafetensorsFile::open(path.string()));
    const SafetensorsFile& file = files_.back();
    for (const SafetensorsTensor& t : file.tensors()) {
      if (!names_.insert(t.name).second) {
        throw Error(path.string() + ": tensor " + quote_for_message(t.name) +
                    " also appears in another shard");
      }
      TensorView view;
      view.name = t.name;
      view.type = t.type;
      view.shape.assign(t.shape.rbegin(), t.shape.rend());  // row-major -> ggml order
      view.data = file.tensor_data(t);
      view.nbytes = t.end - t.begin;
      tensors_.push_back(std::move(view));
    }
  }

  static std::optional<std::string> read_chat_template(const fs::path& dir) {
    const fs::path config_path = dir / "tokenizer_config.json";
    if (fs::exists(config_path)) {
      const json config = read_json_file(config_path);
      const auto it = config.is_object() ? config.find("chat_template") : config.end();
      if (it != config.end() && !it->is_null()) return template_from(*it, config_path);
    }
    // Newer transformers save the template as its own file.
    const fs::path jinja = dir / "chat_template.jinja";
    if (fs::exists(jinja)) return read_text_file(jinja, "the chat template");
    return std::nullopt;
  }

  // A string, or a list of {"name", "template"} from which "default" (else the first) is used.
  static std::string template_from(const json& v, const fs::path& config_path) {
    if (v.is_string()) return v.get<std::string>();
    if (v.is_array() && !v.empty()) {
      const json* chosen = &v[0];
      for (const json& entry : v) {
        if (entry.is_object() && entry.value("name", "") == "default") chosen = &entry;
      }
      if (chosen->is_object() && chosen->contains("template") &&
          (*chosen)["template"].is_string()) {
        return (*chosen)["template"].get<std::string>();
      }
    }
    throw Error(config_path.string() + ": 'chat_template' is neither a string nor a list of " +
                "{name, template} entries");
  }

  std::string folder_;
  std::string path_;
  json config_json_;
  ModelConfig config_;
  std::vector<SafetensorsFile> files_;
  std::map<std::string, size_t> shard_index_;
  std::set<std::string> names_;
  std::vector<TensorView> tensors_;
  std::optional<std::string> chat_template_;
};

}  // namespace

std::unique_ptr<ModelFile> open_hf_model(const std::string& folder) {
  return std::make_unique<HfModelFile>(folder);
}

}  // namespace emovec
