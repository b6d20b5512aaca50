#include "emovec/model_registry.h"

#include <cstdlib>
#include <filesystem>
#include <mutex>
#include <nlohmann/json.hpp>

#include "emovec/error.h"

namespace emovec {
namespace detail {
extern const char* const kShippedModelsJson;
}

namespace {

std::vector<ShippedModel> parse_registry() {
  const auto root = nlohmann::json::parse(detail::kShippedModelsJson);
  std::vector<ShippedModel> models;
  for (const auto& entry : root.at("models")) {
    ShippedModel m;
    m.name = entry.at("name").get<std::string>();
    m.family = entry.at("family").get<std::string>();
    m.format = entry.at("format").get<std::string>();
    m.path = entry.at("path").get<std::string>();
    m.description = entry.value("description", "");
    m.license = entry.value("license", "");
    m.sha256 = entry.value("sha256", "");
    m.size = entry.value("size", uint64_t{0});
    m.is_default = entry.value("default", false);
    m.chat = entry.value("chat", false);
    if (const auto files = entry.find("files"); files != entry.end()) {
      for (const auto& [rel, file] : files->items()) {
        m.files.emplace_back(rel, file.at("size").get<uint64_t>());
      }
    }
    for (const auto& part : entry.at("parts")) {
      m.parts.push_back({part.at("package").get<std::string>(), part.value("member", ""),
                         part.value("member_dir", "")});
    }
    models.push_back(std::move(m));
  }
  return models;
}

}  // namespace

bool is_engine_model(const ShippedModel& model) {
  return model.format == "gguf" || model.format == "huggingface";
}

const std::vector<ShippedModel>& shipped_models() {
  static const std::vector<ShippedModel> models = parse_registry();
  return models;
}

const ShippedModel& shipped_model(std::string_view name) {
  for (const auto& m : shipped_models()) {
    if (m.name == name) return m;
  }
  std::string known;
  for (const auto& m : shipped_models()) known += (known.empty() ? "" : ", ") + m.name;
  throw Error("unknown model name '" + std::string(name) + "' (shipped models: " + known + ")");
}

const ShippedModel& default_model() {
  for (const auto& m : shipped_models()) {
    if (m.is_default) return m;
  }
  return shipped_models().front();
}

const ShippedModel& default_judge_model() {
  const ShippedModel* best = nullptr;
  for (const auto& m : shipped_models()) {
    if (is_engine_model(m) && m.chat && (best == nullptr || m.size > best->size)) best = &m;
  }
  return best != nullptr ? *best : default_model();
}

std::string models_dir() {
  if (const char* dir = std::getenv("EMOVEC_MODELS_DIR"); dir != nullptr && *dir != '\0') {
    return dir;
  }
  // The set-up's cache (scripts/setup.sh puts the models there too).
  if (const char* dir = std::getenv("EMOVEC_CACHE_DIR"); dir != nullptr && *dir != '\0') {
    return std::string(dir) + "/models";
  }
  const char* home = std::getenv("HOME");
  return std::string(home != nullptr ? home : ".") + "/.cache/emovec/models";
}

std::string model_location(const ShippedModel& model) { return models_dir() + "/" + model.path; }

bool is_fetched(const ShippedModel& model) {
  namespace fs = std::filesystem;
  std::error_code ec;
  const fs::path location = model_location(model);
  if (model.format == "gguf") {
    return fs::is_regular_file(location, ec) && fs::file_size(location, ec) == model.size;
  }
  if (model.files.empty()) return fs::is_regular_file(location / "config.json", ec);
  for (const auto& [rel, size] : model.files) {
    const fs::path p = location / rel;
    if (!fs::is_regular_file(p, ec) || fs::file_size(p, ec) != size) return false;
  }
  return true;
}

std::string resolve_model_argument(const std::string& argument) {
  for (const auto& m : shipped_models()) {
    if (m.name != argument) continue;
    if (!is_engine_model(m)) {
      throw Error("'" + m.name + "' is not a model emovec can run: it is the data of the " +
                  m.family + " emotion scorer (format " + m.format + ")");
    }
    return model_location(m);
  }
  return argument;
}

}  // namespace emovec
