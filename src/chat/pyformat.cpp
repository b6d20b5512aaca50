// Python's two string formatting languages: printf-style `fmt % values` (and Jinja's format
// filter) and str.format() with its format-spec mini-language, for the value types templates use.
#include <algorithm>
#include <cmath>
#include <cstdio>

#include "chat/builtins.h"
#include "chat/errors.h"
#include "chat/unicode.h"

namespace emovec::chat {

namespace {

std::string repeat_str(const std::string& s, int64_t n) {
  std::string out;
  if (n <= 0) return out;
  if (static_cast<uint64_t>(n) * s.size() > Renderer::budget()) throw_limit("string too large");
  for (int64_t i = 0; i < n; ++i) out += s;
  return out;
}

std::string to_base(uint64_t v, int base, bool upper) {
  if (v == 0) return "0";
  const char* digits = upper ? "0123456789ABCDEF" : "0123456789abcdef";
  std::string out;
  while (v != 0) {
    out.insert(out.begin(), digits[v % static_cast<uint64_t>(base)]);
    v /= static_cast<uint64_t>(base);
  }
  return out;
}

uint64_t magnitude(int64_t v) {
  return v < 0 ? 0 - static_cast<uint64_t>(v) : static_cast<uint64_t>(v);
}

std::string format_double(double d, char type, int precision, bool alternate) {
  precision = std::clamp(precision, 0, 300);
  if (std::isnan(d)) return (type >= 'A' && type <= 'Z') ? "NAN" : "nan";
  if (std::isinf(d)) {
    const std::string s = (type >= 'A' && type <= 'Z') ? "INF" : "inf";
    return d < 0 ? "-" + s : s;
  }
  char fmt[16];
  std::snprintf(fmt, sizeof(fmt), "%%%s.%d%c", alternate ? "#" : "", precision, type);
  std::vector<char> buf(static_cast<size_t>(precision) + 400);
  std::snprintf(buf.data(), buf.size(), fmt, d);
  return buf.data();
}

// Pads `body` (with its sign) to `width` code points.
std::string pad(const std::string& sign, const std::string& body, int64_t width, char align,
                const std::string& fill) {
  const auto len = static_cast<int64_t>(code_point_count(sign) + code_point_count(body));
  const int64_t marg = width - len;
  if (marg <= 0) return sign + body;
  if (static_cast<uint64_t>(marg) > Renderer::budget()) throw_limit("string too large");
  switch (align) {
    case '<':
      return sign + body + repeat_str(fill, marg);
    case '^':
      return repeat_str(fill, marg / 2) + sign + body + repeat_str(fill, marg - marg / 2);
    case '=':
      return sign + repeat_str(fill, marg) + body;
    default:
      return repeat_str(fill, marg) + sign + body;
  }
}

// ---- printf-style ----------------------------------------------------------------------------

struct PercentSpec {
  bool left = false, zero = false, plus = false, space = false, alt = false;
  int64_t width = -1;
  int64_t precision = -1;
  char type = 's';
};

std::string sign_of(bool negative, const PercentSpec& spec) {
  if (negative) return "-";
  if (spec.plus) return "+";
  if (spec.space) return " ";
  return "";
}

std::string percent_one(const Value& v, const PercentSpec& spec, size_t index) {
  std::string sign;
  std::string body;
  bool numeric = true;
  const char t = spec.type;
  if (t == 's' || t == 'r' || t == 'a') {
    numeric = false;
    body = t == 's' ? py_str(v, Renderer::budget()) : py_repr(v, Renderer::budget());
    if (spec.precision >= 0) {
      const std::vector<size_t> offsets = code_point_offsets(body);
      if (static_cast<size_t>(spec.precision) + 1 < offsets.size()) {
        body = body.substr(0, offsets[static_cast<size_t>(spec.precision)]);
      }
    }
  } else if (t == 'c') {
    numeric = false;
    if (v.is_string() && code_point_count(v.str()) == 1) {
      body = v.str();
    } else if (v.is_int() && v.as_int() >= 0 && v.as_int() <= 0x10FFFF) {
      append_utf8(body, static_cast<char32_t>(v.as_int()));
    } else {
      throw_type_error("%c requires an int or a unicode character, not " + type_name(v));
    }
  } else if (t == 'd' || t == 'i' || t == 'u' || t == 'x' || t == 'X' || t == 'o') {
    if (!v.is_number()) {
      throw_type_error(std::string("%") + t + " format: " +
                       (t == 'x' || t == 'X' || t == 'o' ? "an integer" : "a real number") +
                       " is required, not " + type_name(v));
    }
    if (v.kind() == Kind::Float && (t == 'x' || t == 'X' || t == 'o')) {
      throw_type_error(std::string("%") + t + " format: an integer is required, not float");
    }
    const int base = (t == 'x' || t == 'X') ? 16 : t == 'o' ? 8 : 10;
    if (v.kind() == Kind::Float) {
      // %d truncates a float to an integer of any size: print its digits exactly.
      const double d = std::trunc(v.as_float());
      if (!std::isfinite(d)) throw RenderError("OverflowError", "cannot convert float to integer");
      sign = sign_of(d < 0, spec);
      body = format_double(std::fabs(d), 'f', 0, false);
    } else {
      const int64_t n = v.as_int();
      sign = sign_of(n < 0, spec);
      body = to_base(magnitude(n), base, t == 'X');
    }
    if (spec.precision > static_cast<int64_t>(Renderer::budget())) throw_limit("string too large");
    if (spec.precision > static_cast<int64_t>(body.size())) {
      body = std::string(static_cast<size_t>(spec.precision) - body.size(), '0') + body;
    }
    if (spec.alt && base != 10) sign += t == 'o' ? "0o" : t == 'x' ? "0x" : "0X";
  } else if (t == 'e' || t == 'E' || t == 'f' || t == 'F' || t == 'g' || t == 'G') {
    if (!v.is_number()) throw_type_error("must be real number, not " + type_name(v));
    const double d = v.as_float();
    std::string s = format_double(
        std::fabs(d), t,
        spec.precision < 0 ? 6 : static_cast<int>(std::min<int64_t>(spec.precision, 300)),
        spec.alt);
    sign = sign_of(std::signbit(d) && !std::isnan(d), spec);
    body = s;
  } else {
    char buf[64];
    std::snprintf(buf, sizeof(buf), "unsupported format character '%c' (0x%x) at index %zu", t,
                  static_cast<unsigned>(static_cast<unsigned char>(t)), index);
    throw_value_error(buf);
  }
  if (spec.left) return pad(sign, body, spec.width, '<', " ");
  if (spec.zero && numeric) return pad(sign, body, spec.width, '=', "0");
  return pad(sign, body, spec.width, '>', " ");
}

}  // namespace

namespace {

// The right operand of `fmt % values`: a tuple supplies positional arguments, a dict supplies
// %(key)s fields (and is itself the argument of plain fields), anything else is one argument.
struct PercentArgs {
  explicit PercentArgs(const Value& v)
      : values(v),
        is_tuple(v.is_seq() && v.seq().kind == SeqKind::Tuple),
        is_mapping(v.kind() == Kind::Dict),
        items(is_tuple ? v.seq().items : std::vector<Value>{v}) {}

  Value take() {
    if (next >= items.size()) throw_type_error("not enough arguments for format string");
    return items[next++];
  }

  const Value& values;
  const bool is_tuple;
  const bool is_mapping;
  std::vector<Value> items;
  size_t next = 0;
  bool used_key = false;
};

// %(key)... at fmt[i] (just past the '%'): looks the key up and advances i past ')'.
std::optional<Value> percent_key(const std::string& fmt, size_t& i, PercentArgs& args) {
  if (fmt[i] != '(') return std::nullopt;
  if (!args.is_mapping) throw_type_error("format requires a mapping");
  int depth = 1;
  const size_t key_start = ++i;
  while (i < fmt.size() && depth > 0) {
    depth += fmt[i] == '(' ? 1 : fmt[i] == ')' ? -1 : 0;
    ++i;
  }
  if (depth > 0) throw_value_error("incomplete format key");
  const std::string key = fmt.substr(key_start, i - 1 - key_start);
  const Value* v = args.values.dict().find(key);
  if (v == nullptr) throw RenderError("KeyError", py_repr_string(key));
  args.used_key = true;
  return *v;
}

// A width or precision: digits, or '*' taking the next argument.
void percent_number(const std::string& fmt, size_t& i, PercentArgs& args, int64_t& target) {
  if (i < fmt.size() && fmt[i] == '*') {
    const Value w = args.take();
    if (!w.is_int()) throw_type_error("* wants int");
    target = w.as_int();
    ++i;
    return;
  }
  if (i >= fmt.size() || fmt[i] < '0' || fmt[i] > '9') return;
  target = 0;
  while (i < fmt.size() && fmt[i] >= '0' && fmt[i] <= '9') {
    target = std::min<int64_t>(target * 10 + (fmt[i] - '0'), 1 << 24);
    ++i;
  }
}

// Flags, width, precision, length modifier and conversion type after '%' (and any key).
PercentSpec parse_percent_spec(const std::string& fmt, size_t& i, PercentArgs& args) {
  PercentSpec spec;
  for (; i < fmt.size(); ++i) {
    const char f = fmt[i];
    if (f == '-') {
      spec.left = true;
    } else if (f == '0') {
      spec.zero = true;
    } else if (f == '+') {
      spec.plus = true;
    } else if (f == ' ') {
      spec.space = true;
    } else if (f == '#') {
      spec.alt = true;
    } else {
      break;
    }
  }
  percent_number(fmt, i, args, spec.width);
  if (spec.width < -1) {  // a negative '*' width left-justifies
    spec.left = true;
    spec.width = spec.width == INT64_MIN ? INT64_MAX : -spec.width;
  }
  if (i < fmt.size() && fmt[i] == '.') {
    ++i;
    spec.precision = 0;
    percent_number(fmt, i, args, spec.precision);
    spec.precision = std::max<int64_t>(spec.precision, 0);  // a negative '*' precision means 0
  }
  while (i < fmt.size() && (fmt[i] == 'h' || fmt[i] == 'l' || fmt[i] == 'L')) ++i;
  if (i >= fmt.size()) throw_value_error("incomplete format");
  spec.type = fmt[i++];
  return spec;
}

}  // namespace

std::string percent_format(const std::string& fmt, const Value& values) {
  PercentArgs args(values);
  std::string out;
  size_t i = 0;
  while (i < fmt.size()) {
    if (fmt[i] != '%') {
      out.push_back(fmt[i++]);
      continue;
    }
    if (++i >= fmt.size()) throw_value_error("incomplete format");
    const std::optional<Value> keyed = percent_key(fmt, i, args);
    const PercentSpec spec = parse_percent_spec(fmt, i, args);
    if (spec.type == '%') {
      out.push_back('%');
      continue;
    }
    const Value v = keyed ? *keyed : (args.is_mapping ? values : args.take());
    out += percent_one(v, spec, i - 1);
    if (out.size() > Renderer::budget()) throw_limit("string too large");
  }
  if (!args.is_mapping && !args.used_key && args.next < args.items.size()) {
    throw_type_error("not all arguments converted during string formatting");
  }
  return out;
}

// ---- str.format ------------------------------------------------------------------------------

namespace {

struct FormatSpec {
  std::string fill = " ";
  char align = '\0';
  char sign = '-';
  bool alternate = false;
  bool zero = false;
  int64_t width = -1;
  char grouping = '\0';
  int64_t precision = -1;
  char type = '\0';
};

FormatSpec parse_spec(const std::string& spec) {
  FormatSpec f;
  size_t i = 0;
  const std::vector<size_t> offsets = code_point_offsets(spec);
  auto is_align = [](char c) { return c == '<' || c == '>' || c == '^' || c == '='; };
  if (offsets.size() > 2 && is_align(spec[offsets[1]])) {
    f.fill = spec.substr(0, offsets[1]);
    f.align = spec[offsets[1]];
    i = offsets[1] + 1;
  } else if (!spec.empty() && is_align(spec[0])) {
    f.align = spec[0];
    i = 1;
  }
  if (i < spec.size() && (spec[i] == '+' || spec[i] == '-' || spec[i] == ' ')) f.sign = spec[i++];
  if (i < spec.size() && spec[i] == '#') {
    f.alternate = true;
    ++i;
  }
  if (i < spec.size() && spec[i] == '0') {
    f.zero = true;
    ++i;
  }
  auto number = [&](int64_t& target) {
    if (i < spec.size() && spec[i] >= '0' && spec[i] <= '9') {
      target = 0;
      while (i < spec.size() && spec[i] >= '0' && spec[i] <= '9') {
        target = std::min<int64_t>(target * 10 + (spec[i] - '0'), 1 << 24);
        ++i;
      }
    }
  };
  number(f.width);
  if (i < spec.size() && (spec[i] == ',' || spec[i] == '_')) f.grouping = spec[i++];
  if (i < spec.size() && spec[i] == '.') {
    ++i;
    f.precision = 0;
    const size_t before = i;
    number(f.precision);
    if (i == before) throw_value_error("Format specifier missing precision");
  }
  if (i < spec.size()) f.type = spec[i++];
  if (i < spec.size()) throw_value_error("Invalid format specifier");
  return f;
}

std::string group_digits(const std::string& digits, char sep) {
  std::string out;
  const size_t n = digits.size();
  for (size_t i = 0; i < n; ++i) {
    if (i > 0 && (n - i) % 3 == 0) out.push_back(sep);
    out.push_back(digits[i]);
  }
  return out;
}

std::string spec_sign(bool negative, char flag) {
  if (negative) return std::string(1, '-');
  if (flag == '+' || flag == ' ') return std::string(1, flag);
  return std::string();
}

// A formatted value before padding: its sign (and base prefix) and its digits or text.
struct Formatted {
  std::string sign;
  std::string body;
};

Formatted format_str_spec(const Value& v, const FormatSpec& f) {
  if (f.type != '\0' && f.type != 's') {
    throw_value_error(std::string("Unknown format code '") + f.type + "' for object of type 'str'");
  }
  if (f.sign != '-') throw_value_error("Sign not allowed in string format specifier");
  Formatted out{"", v.str()};
  if (f.precision >= 0) {
    const std::vector<size_t> offsets = code_point_offsets(out.body);
    if (static_cast<size_t>(f.precision) + 1 < offsets.size()) {
      out.body.resize(offsets[static_cast<size_t>(f.precision)]);
    }
  }
  return out;
}

Formatted format_int_spec(const Value& v, const FormatSpec& f) {
  if (f.precision >= 0) throw_value_error("Precision not allowed in integer format specifier");
  const char t = f.type;
  const int64_t n = v.as_int();
  Formatted out;
  if (t == 'c') {
    append_utf8(out.body, static_cast<char32_t>(magnitude(n) & 0x1FFFFF));
    return out;
  }
  out.sign = spec_sign(n < 0, f.sign);
  const int base = t == 'b' ? 2 : t == 'o' ? 8 : (t == 'x' || t == 'X') ? 16 : 10;
  out.body = to_base(magnitude(n), base, t == 'X');
  if (f.grouping != '\0') out.body = group_digits(out.body, f.grouping);
  if (f.alternate && base != 10)
    out.sign += t == 'b' ? "0b" : t == 'o' ? "0o" : t == 'x' ? "0x" : "0X";
  return out;
}

Formatted format_float_spec(const Value& v, const FormatSpec& f) {
  const char t = f.type;
  const char ft = (t == '\0' || t == 'n') ? 'g' : t;
  if (ft != 'e' && ft != 'E' && ft != 'f' && ft != 'F' && ft != 'g' && ft != 'G' && ft != '%') {
    throw_value_error(std::string("Unknown format code '") + t + "' for object of type '" +
                      type_name(v) + "'");
  }
  const double d = v.as_float();
  Formatted out{spec_sign(std::signbit(d) && !std::isnan(d), f.sign), ""};
  const int precision = f.precision < 0 ? 6 : static_cast<int>(std::min<int64_t>(f.precision, 300));
  if (t == '\0' && f.precision < 0) {
    out.body = py_float_repr(std::fabs(d));
  } else if (ft == '%') {
    out.body = format_double(std::fabs(d) * 100.0, 'f', precision, f.alternate) + "%";
  } else {
    out.body = format_double(std::fabs(d), ft, precision, f.alternate);
    if (t == '\0' && out.body.find_first_of(".eEn") == std::string::npos) out.body += ".0";
  }
  if (f.grouping != '\0') {
    const size_t end = out.body.find_first_not_of("0123456789");
    out.body = group_digits(out.body.substr(0, end), f.grouping) +
               (end == std::string::npos ? "" : out.body.substr(end));
  }
  return out;
}

bool is_int_format(char t) {
  return t == '\0' || t == 'd' || t == 'b' || t == 'o' || t == 'x' || t == 'X' || t == 'n' ||
         t == 'c';
}

// format(value, spec): Python's format-spec mini-language for str, int and float.
std::string apply_spec(const Value& v, const std::string& spec_text) {
  if (spec_text.empty()) return py_str(v, Renderer::budget());
  if (!v.is_string() && !v.is_number()) {
    throw_type_error("unsupported format string passed to " + type_name(v) + ".__format__");
  }
  const FormatSpec f = parse_spec(spec_text);
  const Formatted formatted = v.is_string() ? format_str_spec(v, f)
                              : (v.kind() != Kind::Float && is_int_format(f.type))
                                  ? format_int_spec(v, f)
                                  : format_float_spec(v, f);
  char align = f.align != '\0' ? f.align : v.is_string() ? '<' : '>';
  std::string fill = f.fill;
  if (f.zero && f.align == '\0') {
    fill.assign(1, '0');
    if (!v.is_string()) align = '=';
  }
  return pad(formatted.sign, formatted.body, f.width, align, fill);
}

}  // namespace

namespace {

// Automatic ({}) and manual ({0}) field numbering may not be mixed.
struct FieldNumbering {
  size_t next = 0;
  bool used_auto = false;
  bool used_manual = false;
};

// The argument a field name selects: "" (next positional), digits (positional) or a keyword.
Value field_argument(const std::string& name, const Args& args, FieldNumbering& numbering) {
  const bool digits =
      std::all_of(name.begin(), name.end(), [](char ch) { return ch >= '0' && ch <= '9'; });
  if (!name.empty() && !digits) {
    const Value* kw = args.find_kw(name);
    if (kw == nullptr) throw RenderError("KeyError", py_repr_string(name));
    return *kw;
  }
  size_t index = 0;
  if (name.empty()) {
    if (numbering.used_manual) {
      throw_value_error(
          "cannot switch from manual field specification to automatic field numbering");
    }
    numbering.used_auto = true;
    index = numbering.next++;
  } else {
    if (numbering.used_auto) {
      throw_value_error(
          "cannot switch from automatic field numbering to manual field specification");
    }
    numbering.used_manual = true;
    index = name.size() > 6 ? SIZE_MAX : std::stoul(name);
  }
  if (index >= args.pos.size()) {
    throw RenderError("IndexError", "Replacement index " + std::to_string(index) +
                                        " out of range for positional args tuple");
  }
  return args.pos[index];
}

// Applies the .attr and [key] parts of a field starting at field[k]; returns where they end.
size_t field_accessors(Renderer& r, const std::string& field, size_t k, Value& v) {
  while (k < field.size() && (field[k] == '.' || field[k] == '[')) {
    if (field[k] == '.') {
      size_t e = field.find_first_of(".[!:", k + 1);
      if (e == std::string::npos) e = field.size();
      v = r.get_attr(v, field.substr(k + 1, e - k - 1));
      k = e;
      continue;
    }
    const size_t e = field.find(']', k);
    if (e == std::string::npos) throw_value_error("Missing ']' in format string");
    const std::string key = field.substr(k + 1, e - k - 1);
    int64_t n = 0;
    const bool numeric = !key.empty() && key.find_first_not_of("0123456789") == std::string::npos &&
                         parse_py_int(key, 10, n);
    v = numeric ? r.get_item(v, Value::integer(n)) : r.get_item(v, Value::string(key));
    k = e + 1;
  }
  return k;
}

// One replacement field {name[.attr|[key]]...[!conv][:spec]} (the text between the braces).
std::string format_field(Renderer& r, const std::string& field, const Args& args,
                         FieldNumbering& numbering) {
  size_t name_end = field.find_first_of(".[!:");
  if (name_end == std::string::npos) name_end = field.size();
  Value v = field_argument(field.substr(0, name_end), args, numbering);
  size_t k = field_accessors(r, field, name_end, v);
  char conversion = '\0';
  if (k < field.size() && field[k] == '!') {
    if (k + 1 >= field.size()) {
      throw_value_error("end of string while looking for conversion specifier");
    }
    conversion = field[k + 1];
    k += 2;
    if (k < field.size() && field[k] != ':') {
      throw_value_error("expected ':' after conversion specifier");
    }
  }
  std::string spec;
  if (k < field.size() && field[k] == ':') spec = field.substr(k + 1);
  if (spec.find('{') != std::string::npos) {
    throw RenderError("TemplateRuntimeError", "nested format specs are not supported");
  }
  if (conversion == 'r' || conversion == 'a') {
    v = Value::string(py_repr(v, Renderer::budget()));
  } else if (conversion == 's') {
    v = Value::string(py_str(v, Renderer::budget()));
  } else if (conversion != '\0') {
    throw_value_error(std::string("Unknown conversion specifier ") + conversion);
  }
  return apply_spec(v, spec);
}

}  // namespace

std::string str_format(Renderer& r, const std::string& fmt, const Args& args) {
  std::string out;
  FieldNumbering numbering;
  size_t i = 0;
  while (i < fmt.size()) {
    const char c = fmt[i];
    const bool doubled = i + 1 < fmt.size() && fmt[i + 1] == c;
    if ((c == '{' || c == '}') && doubled) {
      out.push_back(c);
      i += 2;
      continue;
    }
    if (c == '}') throw_value_error("Single '}' encountered in format string");
    if (c != '{') {
      out.push_back(c);
      ++i;
      continue;
    }
    size_t j = i + 1;  // the matching '}', allowing nested braces in the spec
    for (int depth = 1; j < fmt.size(); ++j) {
      depth += fmt[j] == '{' ? 1 : fmt[j] == '}' ? -1 : 0;
      if (depth == 0) break;
    }
    if (j >= fmt.size()) throw_value_error("expected '}' before end of string");
    out += format_field(r, fmt.substr(i + 1, j - i - 1), args, numbering);
    if (out.size() > Renderer::budget()) throw_limit("string too large");
    i = j + 1;
  }
  return out;
}

}  // namespace emovec::chat
