// Summary statistics shared by the benchmark programs.
#pragma once

#include <algorithm>
#include <vector>

namespace emovec::bench {

// The median of the values (the upper one of the middle two for an even count); 0 for none.
inline double median(std::vector<double> v) {
  if (v.empty()) return 0;
  std::nth_element(v.begin(), v.begin() + static_cast<std::ptrdiff_t>(v.size() / 2), v.end());
  return v[v.size() / 2];
}

}  // namespace emovec::bench
