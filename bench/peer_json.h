// Runs a peer script (tools/peer/) and reads the JSON object it prints on its last line.
#pragma once

#include <cstdio>
#include <nlohmann/json.hpp>
#include <string>

namespace emovec::bench {

// The JSON object on the last line of the command's standard output; a discarded value when the
// command fails or prints none.
inline nlohmann::json run_peer_json(const std::string& command) {
  FILE* pipe = popen(command.c_str(), "r");
  if (pipe == nullptr) return nlohmann::json(nlohmann::json::value_t::discarded);
  std::string out;
  char buf[4096];
  size_t n;
  while ((n = fread(buf, 1, sizeof buf, pipe)) > 0) out.append(buf, n);
  if (pclose(pipe) != 0) return nlohmann::json(nlohmann::json::value_t::discarded);
  const auto start = out.rfind("\n{");
  return nlohmann::json::parse(start == std::string::npos ? out : out.substr(start + 1), nullptr,
                               false);
}

}  // namespace emovec::bench
