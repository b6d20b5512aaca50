// The sentence-transformers files of a model folder, read the way SentenceTransformer reads them:
// modules.json (Transformer -> Pooling [-> Normalize]), sentence_bert_config.json
// (max_seq_length, do_lower_case) and the pooling module's config.json.
#include <algorithm>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <string>

#include "emovec/encoder.h"
#include "emovec/error.h"
#include "format/text_file.h"

namespace emovec {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

// The folder's file as JSON, or null when the file does not exist.
json read_optional_json(const fs::path& path) {
  std::error_code ec;
  if (!fs::exists(path, ec)) return nullptr;
  return read_json_file(path);
}

bool flag(const json& config, const char* key) {
  const auto it = config.find(key);
  return it != config.end() && it->is_boolean() && it->get<bool>();
}

void check_pooling(const fs::path& path) {
  const json config = read_optional_json(path);
  if (config.is_null()) return;  // sentence-transformers' default: mean pooling
  if (!config.is_object()) throw Error(path.string() + ": expected a JSON object");
  const auto mode = config.find("pooling_mode");
  const bool mean =
      mode != config.end() ? *mode == "mean" : flag(config, "pooling_mode_mean_tokens");
  for (const char* other :
       {"pooling_mode_cls_token", "pooling_mode_max_tokens", "pooling_mode_mean_sqrt_len_tokens",
        "pooling_mode_weightedmean_tokens", "pooling_mode_lasttoken"}) {
    if (flag(config, other)) {
      throw Error(path.string() + ": " + other +
                  " is set; emovec's sentence encoder implements mean pooling only");
    }
  }
  if (!mean) {
    throw Error(path.string() + ": no pooling_mode_mean_tokens; emovec's sentence encoder " +
                "implements mean pooling only");
  }
}

}  // namespace

SentencePipeline read_sentence_pipeline(const std::string& folder,
                                        int64_t max_position_embeddings) {
  const fs::path dir(folder);
  SentencePipeline pipeline;
  pipeline.max_seq_length = max_position_embeddings > 0 ? max_position_embeddings : 512;

  const fs::path modules_path = dir / "modules.json";
  const json modules = read_optional_json(modules_path);
  if (!modules.is_null()) {
    if (!modules.is_array()) throw Error(modules_path.string() + ": expected a JSON array");
    for (const json& module : modules) {
      const std::string type = module.is_object() ? module.value("type", "") : "";
      const std::string sub = module.is_object() ? module.value("path", "") : "";
      if (type.ends_with(".Transformer")) continue;
      if (type.ends_with(".Pooling")) {
        check_pooling(dir / sub / "config.json");
      } else if (type.ends_with(".Normalize")) {
        pipeline.normalize = true;
      } else {
        throw Error(modules_path.string() + ": module " + module.dump() +
                    " is not supported (emovec's sentence encoder implements Transformer, "
                    "mean Pooling and Normalize)");
      }
    }
  }

  const fs::path st_config_path = dir / "sentence_bert_config.json";
  const json st_config = read_optional_json(st_config_path);
  if (!st_config.is_null()) {
    if (!st_config.is_object()) throw Error(st_config_path.string() + ": expected a JSON object");
    if (flag(st_config, "do_lower_case")) {
      throw Error(st_config_path.string() +
                  ": do_lower_case is not supported by emovec's sentence encoder");
    }
    const auto it = st_config.find("max_seq_length");
    if (it != st_config.end() && !it->is_null()) {
      if (!it->is_number_integer() || it->get<int64_t>() < 1) {
        throw Error(st_config_path.string() + ": max_seq_length " + it->dump() +
                    " is not a positive integer");
      }
      // As sentence-transformers: the model cannot see more positions than it has.
      pipeline.max_seq_length = std::min(pipeline.max_seq_length, it->get<int64_t>());
    }
  }
  return pipeline;
}

}  // namespace emovec
