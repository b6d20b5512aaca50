// emovec models [--json]: the shipped models, whether they are fetched, and where.
#include <cstdio>
#include <iostream>
#include <nlohmann/json.hpp>

#include "commands.h"
#include "emovec/model_registry.h"

namespace emovec::cli {
namespace {

void run_models(bool as_json) {
  if (as_json) {
    nlohmann::json out = nlohmann::json::array();
    for (const auto& m : shipped_models()) {
      out.push_back({{"name", m.name},
                     {"family", m.family},
                     {"format", m.format},
                     {"default", m.is_default},
                     {"chat", m.chat},
                     {"size", m.size},
                     {"license", m.license},
                     {"description", m.description},
                     {"path", model_location(m)},
                     {"fetched", is_fetched(m)}});
    }
    std::cout << out.dump(2) << "\n";
    return;
  }
  std::printf("models folder: %s\n\n", models_dir().c_str());
  std::printf("%-30s %-7s %-12s %9s  %-8s %s\n", "name", "family", "format", "size", "status",
              "location");
  for (const auto& m : shipped_models()) {
    std::printf("%-30s %-7s %-12s %6.1f MB  %-8s %s%s\n", m.name.c_str(), m.family.c_str(),
                m.format.c_str(), static_cast<double>(m.size) / 1e6,
                is_fetched(m) ? "fetched" : "missing", model_location(m).c_str(),
                m.is_default ? "  (default)" : "");
  }
}

}  // namespace

void register_models_command(CLI::App& app) {
  auto* cmd = app.add_subcommand("models", "List the shipped models and where they are cached");
  auto as_json = std::make_shared<bool>(false);
  cmd->add_flag("--json", *as_json, "Print JSON");
  cmd->callback([as_json] { run_models(*as_json); });
}

}  // namespace emovec::cli
