// Durations in progress lines.
#pragma once

#include <cstdio>
#include <string>

namespace emovec::cli {

// "m:ss", rounded to the second.
inline std::string clock_text(double seconds) {
  const auto s = static_cast<long long>(seconds + 0.5);
  char buf[32];
  std::snprintf(buf, sizeof buf, "%lld:%02lld", s / 60, s % 60);
  return buf;
}

}  // namespace emovec::cli
