#include "chat/lexer.h"

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <string_view>

#include "chat/unicode.h"
#include "chat/value.h"
#include "emovec/error.h"

namespace emovec::chat {

void throw_syntax_error(const std::string& message, int line, int col) {
  throw Error("chat template syntax error at line " + std::to_string(line) + ", column " +
              std::to_string(col) + ": " + message);
}

LineMap::LineMap(const std::string& source) : source_(source) {
  starts_.push_back(0);
  for (size_t i = 0; i < source.size(); ++i) {
    if (source[i] == '\n') starts_.push_back(i + 1);
  }
}

void LineMap::locate(size_t offset, int& line, int& col) const {
  const auto it = std::upper_bound(starts_.begin(), starts_.end(), offset);
  const size_t index = static_cast<size_t>(it - starts_.begin()) - 1;
  line = static_cast<int>(index + 1);
  const size_t start = starts_[index];
  const size_t end = std::min(offset, source_.size());
  col =
      static_cast<int>(code_point_count(std::string_view(source_).substr(start, end - start))) + 1;
}

std::string normalize_template_source(const std::string& source) {
  std::string out;
  out.reserve(source.size());
  for (size_t i = 0; i < source.size(); ++i) {
    if (source[i] == '\r') {
      out.push_back('\n');
      if (i + 1 < source.size() && source[i + 1] == '\n') ++i;
    } else {
      out.push_back(source[i]);
    }
  }
  if (!out.empty() && out.back() == '\n') out.pop_back();
  return out;
}

namespace {

bool starts_with_at(std::string_view s, size_t pos, std::string_view prefix) {
  return pos <= s.size() && s.substr(pos, prefix.size()) == prefix;
}

// End of a run of Python (Unicode) whitespace starting at pos.
size_t skip_ws(std::string_view s, size_t pos) {
  while (pos < s.size()) {
    size_t next = pos;
    if (!is_py_space(decode_utf8(s, next))) break;
    pos = next;
  }
  return pos;
}

bool is_digit(char c) { return c >= '0' && c <= '9'; }

// `(\d+_)*\d+`: digits with single underscores between groups. Returns end or npos.
size_t match_digit_groups(std::string_view s, size_t pos, bool (*digit)(char)) {
  if (pos >= s.size() || !digit(s[pos])) return std::string_view::npos;
  size_t end = pos;
  while (end < s.size() && digit(s[end])) ++end;
  while (end + 1 < s.size() && s[end] == '_' && digit(s[end + 1])) {
    end += 1;
    while (end < s.size() && digit(s[end])) ++end;
  }
  return end;
}

size_t match_exponent(std::string_view s, size_t pos) {
  if (pos >= s.size() || (s[pos] != 'e' && s[pos] != 'E')) return std::string_view::npos;
  size_t q = pos + 1;
  if (q < s.size() && (s[q] == '+' || s[q] == '-')) ++q;
  return match_digit_groups(s, q, is_digit);
}

// jinja2.lexer.float_re. Returns end or npos.
size_t match_float(std::string_view s, size_t pos) {
  if (pos > 0 && s[pos - 1] == '.') return std::string_view::npos;
  const size_t whole = match_digit_groups(s, pos, is_digit);
  if (whole == std::string_view::npos) return whole;
  size_t fraction = std::string_view::npos;
  if (whole < s.size() && s[whole] == '.') fraction = match_digit_groups(s, whole + 1, is_digit);
  if (fraction != std::string_view::npos) {
    const size_t e = match_exponent(s, fraction);
    if (e != std::string_view::npos) return e;
  }
  const size_t e = match_exponent(s, whole);
  if (e != std::string_view::npos) return e;
  return fraction;
}

bool is_bin(char c) { return c == '0' || c == '1'; }
bool is_oct(char c) { return c >= '0' && c <= '7'; }
bool is_hex(char c) { return is_digit(c) || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F'); }

// `(_?[digit])+` after a base prefix.
size_t match_prefixed(std::string_view s, size_t pos, bool (*digit)(char)) {
  size_t end = pos;
  while (true) {
    if (end < s.size() && digit(s[end])) {
      ++end;
    } else if (end + 1 < s.size() && s[end] == '_' && digit(s[end + 1])) {
      end += 2;
    } else {
      break;
    }
  }
  return end == pos ? std::string_view::npos : end;
}

// jinja2.lexer.integer_re; sets base. Returns end or npos.
size_t match_integer(std::string_view s, size_t pos, int& base) {
  if (pos >= s.size() || !is_digit(s[pos])) return std::string_view::npos;
  if (s[pos] == '0' && pos + 1 < s.size()) {
    const char p = static_cast<char>(s[pos + 1] | 0x20);
    bool (*digit)(char) = p == 'b' ? is_bin : p == 'o' ? is_oct : p == 'x' ? is_hex : nullptr;
    if (digit != nullptr) {
      const size_t end = match_prefixed(s, pos + 2, digit);
      if (end != std::string_view::npos) {
        base = p == 'b' ? 2 : p == 'o' ? 8 : 16;
        return end;
      }
    }
  }
  base = 10;
  if (s[pos] != '0') {
    size_t end = pos + 1;
    while (true) {
      if (end < s.size() && is_digit(s[end])) {
        ++end;
      } else if (end + 1 < s.size() && s[end] == '_' && is_digit(s[end + 1])) {
        end += 2;
      } else {
        return end;
      }
    }
  }
  size_t end = pos + 1;  // 0(_?0)*
  while (true) {
    if (end < s.size() && s[end] == '0') {
      ++end;
    } else if (end + 1 < s.size() && s[end] == '_' && s[end + 1] == '0') {
      end += 2;
    } else {
      return end;
    }
  }
}

// The one-character escapes of Python's unicode-escape codec (0 when `e` is not one).
char simple_escape(char e) {
  switch (e) {
    case '\\':
    case '\'':
    case '"':
      return e;
    case 'a':
      return '\a';
    case 'b':
      return '\b';
    case 'f':
      return '\f';
    case 'n':
      return '\n';
    case 'r':
      return '\r';
    case 't':
      return '\t';
    case 'v':
      return '\v';
    default:
      return 0;
  }
}

// \xHH, \uHHHH or \UHHHHHHHH with `digits` hex digits at in[i+1...]; advances i past them.
bool hex_escape(std::string_view in, size_t& i, size_t digits, std::string& out,
                std::string& error) {
  uint32_t cp = 0;
  for (size_t k = 0; k < digits; ++k) {
    if (i + 1 + k >= in.size() || !is_hex(in[i + 1 + k])) {
      error = digits == 2   ? "truncated \\xXX escape"
              : digits == 4 ? "truncated \\uXXXX escape"
                            : "truncated \\UXXXXXXXX escape";
      return false;
    }
    const char h = in[i + 1 + k];
    cp = cp * 16 + static_cast<uint32_t>(is_digit(h) ? h - '0' : (h | 0x20) - 'a' + 10);
  }
  i += digits;
  if (cp > 0x10FFFF) {
    error = "illegal Unicode character";
    return false;
  }
  append_utf8(out, (cp >= 0xD800 && cp <= 0xDFFF) ? 0xFFFD : cp);  // no lone surrogates in UTF-8
  return true;
}

// Python's unicode-escape codec applied to ASCII text (jinja encodes string literals with
// backslashreplace first, so every non-ASCII character arrives as a \x, \u or \U escape).
bool decode_unicode_escape(std::string_view in, std::string& out, std::string& error) {
  for (size_t i = 0; i < in.size(); ++i) {
    if (in[i] != '\\') {
      out.push_back(in[i]);
      continue;
    }
    if (i + 1 >= in.size()) {
      error = "\\ at end of string";
      return false;
    }
    const char e = in[++i];
    if (const char simple = simple_escape(e)) {
      out.push_back(simple);
    } else if (e == '\n') {
      // A backslash-newline continues the line.
    } else if (e == 'x' || e == 'u' || e == 'U') {
      if (!hex_escape(in, i, e == 'x' ? 2 : e == 'u' ? 4 : 8, out, error)) return false;
    } else if (e == 'N') {
      error = "named Unicode escapes (\\N{...}) are not supported";
      return false;
    } else if (is_oct(e)) {
      uint32_t cp = static_cast<uint32_t>(e - '0');
      for (int k = 0; k < 2 && i + 1 < in.size() && is_oct(in[i + 1]); ++k) {
        cp = cp * 8 + static_cast<uint32_t>(in[++i] - '0');
      }
      append_utf8(out, cp);
    } else {
      out.push_back('\\');  // unknown escapes stay as written
      out.push_back(e);
    }
  }
  return true;
}

class Lexer {
 public:
  explicit Lexer(const std::string& source) : src_(source), lines_(source) {}

  std::vector<Token> run() {
    while (pos_ < src_.size()) {
      if (!lex_root_step()) break;
    }
    push(Tok::Eof, src_.size());
    return std::move(tokens_);
  }

 private:
  [[noreturn]] void fail(const std::string& message, size_t offset) const {
    int line = 0;
    int col = 0;
    lines_.locate(offset, line, col);
    throw_syntax_error(message, line, col);
  }

  Token& push(Tok type, size_t offset, std::string text = {}) {
    Token t;
    t.type = type;
    t.text = std::move(text);
    lines_.locate(offset, t.line, t.col);
    tokens_.push_back(std::move(t));
    return tokens_.back();
  }

  void set_line_starting(size_t match_end) {
    line_starting_ = match_end > 0 && src_[match_end - 1] == '\n';
  }

  // Applies `-` (strip all trailing whitespace) or lstrip_blocks (strip the indentation before
  // a block/comment tag that is alone on its line) to the data in front of a tag.
  std::string_view strip_before_tag(std::string_view text, char sign, bool is_variable) const {
    if (sign == '-') return py_strip(text, nullptr, false, true);
    if (sign == '+' || is_variable) return text;
    const size_t nl = text.rfind('\n');
    const size_t l_pos = nl == std::string_view::npos ? 0 : nl + 1;
    if (l_pos == 0 && !line_starting_) return text;
    const std::string_view tail = text.substr(l_pos);
    if (tail.empty() || skip_ws(tail, 0) != tail.size()) return text;
    return text.substr(0, l_pos);
  }

  void push_data(std::string_view text, size_t offset) {
    if (!text.empty()) push(Tok::Data, offset, std::string(text));
  }

  // One step of the root state: data up to the next tag, then the tag. False at the end.
  bool lex_root_step() {
    size_t k = pos_;
    while (true) {
      k = src_.find('{', k);
      if (k == std::string::npos || k + 1 >= src_.size()) {
        push_data(std::string_view(src_).substr(pos_), pos_);
        pos_ = src_.size();
        return false;
      }
      const char c = src_[k + 1];
      if (c == '{' || c == '%' || c == '#') break;
      ++k;
    }
    const char kind = src_[k + 1];
    const char sign =
        (k + 2 < src_.size() && (src_[k + 2] == '-' || src_[k + 2] == '+')) ? src_[k + 2] : '\0';
    const std::string_view text = std::string_view(src_).substr(pos_, k - pos_);
    push_data(strip_before_tag(text, sign, kind == '{'), pos_);
    line_starting_ = false;
    const size_t after_open = k + 2 + (sign != '\0' ? 1 : 0);
    if (kind == '%') {
      const size_t raw_end = match_raw_begin(k);
      if (raw_end != std::string::npos) {
        lex_raw(k, raw_end);
        return true;
      }
    }
    if (kind == '#') {
      lex_comment(k, after_open);
      return true;
    }
    push(kind == '{' ? Tok::VarBegin : Tok::BlockBegin, k);
    pos_ = after_open;
    lex_tag(kind == '{');
    return true;
  }

  size_t match_raw_begin(size_t k) const {
    size_t q = k + 2;
    if (q < src_.size() && (src_[q] == '-' || src_[q] == '+')) ++q;
    q = skip_ws(src_, q);
    if (!starts_with_at(src_, q, "raw")) return std::string::npos;
    q = skip_ws(src_, q + 3);
    if (starts_with_at(src_, q, "-%}")) return skip_ws(src_, q + 3);
    if (starts_with_at(src_, q, "%}")) return q + 2;
    return std::string::npos;
  }

  // {% endraw %} with its whitespace control; returns the match end, sets sign.
  size_t match_raw_end(size_t j, char& sign) const {
    if (!starts_with_at(src_, j, "{%")) return std::string::npos;
    size_t q = j + 2;
    sign = '\0';
    if (q < src_.size() && (src_[q] == '-' || src_[q] == '+')) sign = src_[q++];
    q = skip_ws(src_, q);
    if (!starts_with_at(src_, q, "endraw")) return std::string::npos;
    q = skip_ws(src_, q + 6);
    return match_block_end(q);
  }

  // `\+%}|\-%}\s*|%}\n?` at q.
  size_t match_block_end(size_t q) const {
    if (starts_with_at(src_, q, "+%}")) return q + 3;
    if (starts_with_at(src_, q, "-%}")) return skip_ws(src_, q + 3);
    if (starts_with_at(src_, q, "%}")) {
      return q + 2 + ((q + 2 < src_.size() && src_[q + 2] == '\n') ? 1 : 0);
    }
    return std::string::npos;
  }

  size_t match_variable_end(size_t q) const {
    if (starts_with_at(src_, q, "-}}")) return skip_ws(src_, q + 3);
    if (starts_with_at(src_, q, "}}")) return q + 2;
    return std::string::npos;
  }

  void lex_raw(size_t open, size_t body_start) {
    set_line_starting(body_start);
    for (size_t j = body_start; j < src_.size(); ++j) {
      char sign = '\0';
      const size_t end = match_raw_end(j, sign);
      if (end == std::string::npos) continue;
      const std::string_view text = std::string_view(src_).substr(body_start, j - body_start);
      push_data(strip_before_tag(text, sign, false), body_start);
      pos_ = end;
      set_line_starting(end);
      return;
    }
    fail("Missing end of raw directive", open);
  }

  void lex_comment(size_t open, size_t body_start) {
    for (size_t j = body_start; j < src_.size(); ++j) {
      size_t end = std::string::npos;
      if (starts_with_at(src_, j, "+#}")) {
        end = j + 3;
      } else if (starts_with_at(src_, j, "-#}")) {
        end = skip_ws(src_, j + 3);
      } else if (starts_with_at(src_, j, "#}")) {
        end = j + 2 + ((j + 2 < src_.size() && src_[j + 2] == '\n') ? 1 : 0);
      }
      if (end == std::string::npos) continue;
      pos_ = end;
      set_line_starting(end);
      return;
    }
    fail("Missing end of comment tag", open);
  }

  // Tokens inside {{ }} or {% %} up to the closing delimiter (only when brackets balance).
  void lex_tag(bool variable) {
    std::vector<char> balance;
    while (pos_ < src_.size()) {
      if (balance.empty()) {
        const size_t end = variable ? match_variable_end(pos_) : match_block_end(pos_);
        if (end != std::string::npos) {
          push(variable ? Tok::VarEnd : Tok::BlockEnd, pos_);
          pos_ = end;
          set_line_starting(end);
          return;
        }
      }
      const size_t ws = skip_ws(src_, pos_);
      if (ws != pos_) {
        pos_ = ws;
        continue;
      }
      lex_tag_token(balance);
    }
  }

  void lex_tag_token(std::vector<char>& balance) {
    if (lex_number() || lex_name() || lex_string()) return;
    lex_operator(balance);
  }

  bool lex_number() {
    const size_t float_end = match_float(src_, pos_);
    if (float_end != std::string::npos) {
      std::string digits;
      for (size_t i = pos_; i < float_end; ++i) {
        if (src_[i] != '_') digits.push_back(src_[i]);
      }
      Token& t = push(Tok::Float, pos_, digits);
      t.float_value = std::strtod(digits.c_str(), nullptr);
      pos_ = float_end;
      return true;
    }
    int base = 10;
    const size_t int_end = match_integer(src_, pos_, base);
    if (int_end == std::string::npos) return false;
    std::string digits;
    for (size_t i = pos_ + (base == 10 ? 0 : 2); i < int_end; ++i) {
      if (src_[i] != '_') digits.push_back(src_[i]);
    }
    errno = 0;
    const unsigned long long value = std::strtoull(digits.c_str(), nullptr, base);
    if (errno == ERANGE || value > static_cast<unsigned long long>(INT64_MAX)) {
      fail("integer literal too large", pos_);
    }
    Token& t = push(Tok::Int, pos_, src_.substr(pos_, int_end - pos_));
    t.int_value = static_cast<int64_t>(value);
    pos_ = int_end;
    return true;
  }

  bool lex_name() {
    size_t end = pos_;
    while (end < src_.size()) {
      size_t next = end;
      if (!is_py_word(decode_utf8(src_, next))) break;
      end = next;
    }
    if (end == pos_) return false;
    push(Tok::Name, pos_, src_.substr(pos_, end - pos_));
    pos_ = end;
    return true;
  }

  bool lex_string() {
    const char quote = src_[pos_];
    if (quote != '\'' && quote != '"') return false;
    size_t q = pos_ + 1;
    while (q < src_.size() && src_[q] != quote) q += (src_[q] == '\\') ? 2 : 1;
    if (q >= src_.size()) return false;  // unterminated: reported as an unexpected char
    std::string ascii;
    const std::string_view body = std::string_view(src_).substr(pos_ + 1, q - pos_ - 1);
    size_t p = 0;
    while (p < body.size()) {
      const size_t start = p;
      const char32_t cp = decode_utf8(body, p);
      if (cp < 0x80) {
        ascii.append(body.substr(start, p - start));
        continue;
      }
      char buf[16];
      std::snprintf(buf, sizeof(buf),
                    cp < 0x100     ? "\\x%02x"
                    : cp < 0x10000 ? "\\u%04x"
                                   : "\\U%08x",
                    static_cast<unsigned>(cp));
      ascii += buf;
    }
    std::string decoded;
    std::string error;
    if (!decode_unicode_escape(ascii, decoded, error)) fail(error, pos_);
    push(Tok::String, pos_, std::move(decoded));
    pos_ = q + 1;
    return true;
  }

  void lex_operator(std::vector<char>& balance) {
    static constexpr std::string_view kTwo[] = {"//", "**", "==", "!=", ">=", "<="};
    for (std::string_view op : kTwo) {
      if (starts_with_at(src_, pos_, op)) {
        push(Tok::Op, pos_, std::string(op));
        pos_ += 2;
        return;
      }
    }
    const char c = src_[pos_];
    if (std::string_view("+-/*%~[](){}><=.:|,;").find(c) == std::string_view::npos) {
      size_t p = pos_;
      decode_utf8(src_, p);
      fail("unexpected char " + py_repr_string(src_.substr(pos_, p - pos_)) + " at " +
               std::to_string(code_point_count(std::string_view(src_).substr(0, pos_))),
           pos_);
    }
    if (c == '{' || c == '(' || c == '[') {
      balance.push_back(c == '{' ? '}' : c == '(' ? ')' : ']');
    } else if (c == '}' || c == ')' || c == ']') {
      if (balance.empty()) fail(std::string("unexpected '") + c + "'", pos_);
      const char expected = balance.back();
      balance.pop_back();
      if (expected != c) {
        fail(std::string("unexpected '") + c + "', expected '" + expected + "'", pos_);
      }
    }
    push(Tok::Op, pos_, std::string(1, c));
    ++pos_;
  }

  const std::string& src_;
  LineMap lines_;
  std::vector<Token> tokens_;
  size_t pos_ = 0;
  bool line_starting_ = true;
};

}  // namespace

std::vector<Token> tokenize(const std::string& normalized_source) {
  return Lexer(normalized_source).run();
}

}  // namespace emovec::chat
