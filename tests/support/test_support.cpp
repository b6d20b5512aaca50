#include "support/test_support.h"

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <stdexcept>

#include "emovec/model_registry.h"

namespace emovec::testing {

std::string model_path(const std::string& registry_name) {
  const ShippedModel& model = shipped_model(registry_name);
  const std::string location = model_location(model);
  if (!is_fetched(model)) {
    throw std::runtime_error("model '" + registry_name + "' is not in " + models_dir() +
                             ": run scripts/setup.sh (it fetches every shipped model)");
  }
  return location;
}

std::string test_name(std::string registry_name) {
  for (char& c : registry_name) {
    if (c == '-' || c == '.') c = '_';
  }
  return registry_name;
}

std::string golden_path(const std::string& name) {
  return std::string(EMOVEC_SOURCE_DIR) + "/tests/golden/" + name;
}

std::string data_path(const std::string& name) {
  return std::string(EMOVEC_SOURCE_DIR) + "/tests/data/" + name;
}

nlohmann::json read_json(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw std::runtime_error("cannot open " + path);
  return nlohmann::json::parse(in);
}

double max_relative_difference(std::span<const float> a, std::span<const float> b) {
  double diff = 0, scale = 0;
  for (size_t i = 0; i < a.size() && i < b.size(); ++i) {
    diff = std::max(diff, static_cast<double>(std::abs(a[i] - b[i])));
    scale = std::max(scale, static_cast<double>(std::abs(b[i])));
  }
  return scale > 0 ? diff / scale : diff;
}

}  // namespace emovec::testing
