// Element counts of shapes that may come from untrusted files.
#pragma once

#include <cstdint>
#include <span>
#include <string>

#include "emovec/error.h"

namespace emovec {

// Product of `shape`; throws Error naming `what` for a negative dimension or int64 overflow.
inline int64_t checked_element_count(std::span<const int64_t> shape, const std::string& what) {
  int64_t n = 1;
  for (const int64_t d : shape) {
    if (d < 0) throw Error(what + ": negative dimension " + std::to_string(d));
    if (__builtin_mul_overflow(n, d, &n)) throw Error(what + ": element count overflows int64");
  }
  return n;
}

}  // namespace emovec
