// Splits a template into tokens the way jinja2's Lexer does under transformers' settings
// (trim_blocks=True, lstrip_blocks=True, default delimiters, keep_trailing_newline=False):
// template data, the {{ }} / {% %} delimiters, and the names, literals and operators inside them.
// Comments and {% raw %} are resolved here; whitespace control (-/+) is applied to the data.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace emovec::chat {

enum class Tok : uint8_t {
  Data,
  VarBegin,
  VarEnd,
  BlockBegin,
  BlockEnd,
  Name,
  String,
  Int,
  Float,
  Op,
  Eof,
};

struct Token {
  Tok type = Tok::Eof;
  std::string text;  // data, name, decoded string literal, or operator spelling
  int64_t int_value = 0;
  double float_value = 0.0;
  int line = 1;
  int col = 1;

  bool is_op(const char* op) const { return type == Tok::Op && text == op; }
  bool is_name(const char* name) const { return type == Tok::Name && text == name; }
};

// Where each line starts, to turn byte offsets into 1-based line and code-point column.
class LineMap {
 public:
  explicit LineMap(const std::string& source);
  void locate(size_t offset, int& line, int& col) const;

 private:
  const std::string& source_;
  std::vector<size_t> starts_;
};

// Jinja's newline handling: \r\n and \r become \n, and one trailing newline is dropped.
std::string normalize_template_source(const std::string& source);

// Tokenizes normalized source. Throws emovec::Error (with line and column) on lexical errors.
std::vector<Token> tokenize(const std::string& normalized_source);

// "line L, column C" error text shared by the lexer and the parser.
[[noreturn]] void throw_syntax_error(const std::string& message, int line, int col);

}  // namespace emovec::chat
