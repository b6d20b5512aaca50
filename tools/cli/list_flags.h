// Comma-separated flag values ("--emotions anger,joy").
#pragma once

#include <sstream>
#include <string>
#include <vector>

namespace emovec::cli {

// The non-empty items of a comma-separated list.
inline std::vector<std::string> split_list(const std::string& s) {
  std::vector<std::string> out;
  std::stringstream in(s);
  std::string item;
  while (std::getline(in, item, ',')) {
    if (!item.empty()) out.push_back(item);
  }
  return out;
}

}  // namespace emovec::cli
