// Errors raised while a template renders. They carry the Python exception type Jinja would raise
// (TypeError, UndefinedError, ...) so messages read like the reference's, and the template line
// the evaluator was at; ChatTemplate turns them into emovec::Error at the API boundary.
#pragma once

#include <stdexcept>
#include <string>
#include <utility>

namespace emovec::chat {

class RenderError : public std::runtime_error {
 public:
  RenderError(std::string type, std::string message)
      : std::runtime_error(message), type_(std::move(type)), message_(std::move(message)) {}
  const std::string& type() const { return type_; }
  const std::string& message() const { return message_; }
  int line() const { return line_; }
  void set_line(int line) {
    if (line_ == 0) line_ = line;
  }

 private:
  std::string type_;
  std::string message_;
  int line_ = 0;
};

[[noreturn]] inline void throw_type_error(std::string message) {
  throw RenderError("TypeError", std::move(message));
}
[[noreturn]] inline void throw_value_error(std::string message) {
  throw RenderError("ValueError", std::move(message));
}
[[noreturn]] inline void throw_zero_division(const char* message) {
  throw RenderError("ZeroDivisionError", message);
}
// Resource limits (output size, steps, nesting) that keep hostile templates bounded.
[[noreturn]] inline void throw_limit(std::string message) {
  throw RenderError("LimitError", std::move(message));
}

}  // namespace emovec::chat
