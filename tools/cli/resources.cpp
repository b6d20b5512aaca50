#include "resources.h"

#include <cstdlib>
#include <filesystem>
#include <system_error>
#include <vector>

#include "emovec/model_registry.h"

namespace emovec::cli {
namespace fs = std::filesystem;

std::optional<std::string> find_resource(const std::string& relative) {
  std::vector<fs::path> roots;
  if (const char* dir = std::getenv("EMOVEC_DATA_DIR"); dir != nullptr && *dir != '\0') {
    roots.emplace_back(dir);
  }
  std::error_code ec;
  const fs::path exe = fs::read_symlink("/proc/self/exe", ec);
  if (!ec) {
    roots.push_back(exe.parent_path() / ".." / "..");
    roots.push_back(exe.parent_path() / ".." / "share" / "emovec");
  }
  for (const fs::path& root : roots) {
    const fs::path p = root / relative;
    if (fs::exists(p, ec)) return fs::weakly_canonical(p, ec).string();
  }
  return std::nullopt;
}

std::optional<std::string> shipped_vectors_for(const std::string& model_argument) {
  std::string name;
  for (const ShippedModel& m : shipped_models()) {
    if (m.name == model_argument) {
      name = m.name;
      break;
    }
    std::error_code ec;
    const fs::path location = model_location(m);
    if (fs::exists(model_argument, ec) && fs::exists(location, ec) &&
        fs::equivalent(model_argument, location, ec)) {
      name = m.name;
      break;
    }
  }
  if (name.empty()) return std::nullopt;
  return find_resource("vectors/" + name);
}

}  // namespace emovec::cli
