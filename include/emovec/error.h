// Errors raised where input enters emovec: every message names what is wrong and where.
#pragma once

#include <stdexcept>
#include <string>

namespace emovec {

// The one exception type the library throws for bad input (files, text, requests) and for
// failed system calls. Programming errors are not reported through it.
class Error : public std::runtime_error {
 public:
  explicit Error(const std::string& message) : std::runtime_error(message) {}
};

}  // namespace emovec
