// Python attributes and methods of the builtin types (str, dict, list, ...), the loop object and
// namespaces, plus the globals Jinja and transformers provide to chat templates.
#include <algorithm>
#include <cmath>
#include <ctime>
#include <set>

#include "chat/builtins.h"
#include "chat/errors.h"
#include "chat/limits.h"
#include "chat/unicode.h"

namespace emovec::chat {

namespace {

constexpr int kGlobalFunction = 0;
constexpr int kMethod = 1;

[[noreturn]] void raise_undefined(const Value& v) {
  const UndefinedObj& u = v.undef();
  throw RenderError(u.security ? "SecurityError" : "UndefinedError", u.message);
}

Value bound(const Value& self, const std::string& name, int kind) {
  auto fn = std::make_shared<CallableObj>();
  fn->type = CallableObj::Type::Builtin;
  fn->builtin = kind;
  fn->name = name;
  fn->self = self;
  return Value::callable(std::move(fn));
}

// What ImmutableSandboxedEnvironment hands out for a mutating method or a private attribute:
// an Undefined that raises SecurityError when used.
Value unsafe(const Value& obj, const std::string& name) {
  return Value::undefined("access to attribute " + py_repr_string(name) + " of " +
                              py_repr_string(type_name(obj)) + " object is unsafe.",
                          true);
}

bool one_of(const std::string& name, std::initializer_list<const char*> names) {
  return std::any_of(names.begin(), names.end(), [&](const char* n) { return name == n; });
}

const std::set<std::string>& str_methods() {
  static const std::set<std::string> names = {
      "capitalize",   "casefold",    "center",    "count",      "encode",       "endswith",
      "expandtabs",   "find",        "format",    "format_map", "index",        "isalnum",
      "isalpha",      "isascii",     "isdecimal", "isdigit",    "isidentifier", "islower",
      "isnumeric",    "isprintable", "isspace",   "istitle",    "isupper",      "join",
      "ljust",        "lower",       "lstrip",    "maketrans",  "partition",    "removeprefix",
      "removesuffix", "replace",     "rfind",     "rindex",     "rjust",        "rpartition",
      "rsplit",       "rstrip",      "split",     "splitlines", "startswith",   "strip",
      "swapcase",     "title",       "translate", "upper",      "zfill"};
  return names;
}

bool loop_attribute(const Value& obj, const std::string& name, Value& out) {
  LoopObj& l = obj.loop();
  const auto length = static_cast<int64_t>(l.items.size());
  const auto index0 = static_cast<int64_t>(l.index0);
  if (name == "index") {
    out = Value::integer(index0 + 1);
  } else if (name == "index0") {
    out = Value::integer(index0);
  } else if (name == "revindex") {
    out = Value::integer(length - index0);
  } else if (name == "revindex0") {
    out = Value::integer(length - index0 - 1);
  } else if (name == "first") {
    out = Value::boolean(index0 == 0);
  } else if (name == "last") {
    out = Value::boolean(index0 + 1 == length);
  } else if (name == "length") {
    out = Value::integer(length);
  } else if (name == "depth") {
    out = Value::integer(l.depth0 + 1);
  } else if (name == "depth0") {
    out = Value::integer(l.depth0);
  } else if (name == "previtem") {
    out = index0 == 0 ? Value::undefined("there is no previous item") : l.items[l.index0 - 1];
  } else if (name == "nextitem") {
    out = index0 + 1 >= length ? Value::undefined("there is no next item") : l.items[l.index0 + 1];
  } else if (name == "cycle" || name == "changed") {
    out = bound(obj, name, kMethod);
  } else {
    return false;
  }
  return true;
}

bool seq_attribute(const Value& obj, const std::string& name, Value& out) {
  const SeqObj& s = obj.seq();
  switch (s.kind) {
    case SeqKind::List:
      if (one_of(name,
                 {"append", "clear", "extend", "insert", "pop", "remove", "reverse", "sort"})) {
        out = unsafe(obj, name);
        return true;
      }
      if (one_of(name, {"copy", "count", "index"})) {
        out = bound(obj, name, kMethod);
        return true;
      }
      return false;
    case SeqKind::Tuple:
      if (s.group_tuple && (name == "grouper" || name == "list")) {
        out = s.items[name == "grouper" ? 0 : 1];
        return true;
      }
      if (one_of(name, {"count", "index"})) {
        out = bound(obj, name, kMethod);
        return true;
      }
      return false;
    case SeqKind::Range:
      if (name == "start" || name == "stop" || name == "step") {
        out = Value::integer(name == "start"  ? s.range_start
                             : name == "stop" ? s.range_stop
                                              : s.range_step);
        return true;
      }
      if (one_of(name, {"count", "index"})) {
        out = bound(obj, name, kMethod);
        return true;
      }
      return false;
    default:
      return false;
  }
}

bool number_attribute(const Value& obj, const std::string& name, Value& out) {
  if (name == "real") {
    out = obj.kind() == Kind::Float ? obj : Value::integer(obj.as_int());
  } else if (name == "imag") {
    out = obj.kind() == Kind::Float ? Value::number(0.0) : Value::integer(0);
  } else if (obj.kind() != Kind::Float && name == "numerator") {
    out = Value::integer(obj.as_int());
  } else if (obj.kind() != Kind::Float && name == "denominator") {
    out = Value::integer(1);
  } else if (one_of(name, {"conjugate", "as_integer_ratio"}) ||
             (obj.kind() == Kind::Float && one_of(name, {"is_integer", "hex", "fromhex"})) ||
             (obj.kind() != Kind::Float &&
              one_of(name, {"bit_length", "bit_count", "to_bytes", "from_bytes"}))) {
    out = bound(obj, name, kMethod);
  } else {
    return false;
  }
  return true;
}

}  // namespace

bool python_attribute(const Value& obj, const std::string& name, Value& out) {
  if (name.size() > 4 && name.rfind("__", 0) == 0 && name.compare(name.size() - 2, 2, "__") == 0) {
    out = unsafe(obj, name);
    return true;
  }
  switch (obj.kind()) {
    case Kind::String:
      if (str_methods().count(name) == 0) return false;
      out = bound(obj, name, kMethod);
      return true;
    case Kind::Dict:
      if (one_of(name, {"clear", "pop", "popitem", "setdefault", "update"})) {
        out = unsafe(obj, name);
        return true;
      }
      if (!one_of(name, {"copy", "fromkeys", "get", "items", "keys", "values"})) return false;
      out = bound(obj, name, kMethod);
      return true;
    case Kind::Seq:
      return seq_attribute(obj, name, out);
    case Kind::Bool:
    case Kind::Int:
    case Kind::Float:
      return number_attribute(obj, name, out);
    case Kind::Namespace:
      if (const Value* v = obj.dict().find(name)) {
        out = *v;
        return true;
      }
      return false;
    case Kind::Loop:
      return loop_attribute(obj, name, out);
    default:
      return false;
  }
}

// ---- str methods -----------------------------------------------------------------------------

namespace {

std::string arg_str(const Value& v, const char* method) {
  if (!v.is_string()) {
    throw_type_error(std::string(method) + "() argument must be str, not " + type_name(v));
  }
  return v.str();
}

void no_kwargs(const Args& a, const std::string& method) {
  if (!a.kw.empty()) throw_type_error(method + "() takes no keyword arguments");
}

void arg_count(const Args& a, size_t min, size_t max, const std::string& method) {
  no_kwargs(a, method);
  if (a.pos.size() < min || a.pos.size() > max) {
    throw_type_error(method + "() takes " +
                     (min == max ? "exactly " + std::to_string(min)
                                 : "from " + std::to_string(min) + " to " + std::to_string(max)) +
                     " arguments (" + std::to_string(a.pos.size()) + " given)");
  }
}

// Python's ADJUST_INDICES for find/count/startswith: optional start/end in code points.
void adjust_range(const Args& a, size_t first, int64_t length, int64_t& start, int64_t& end) {
  start = 0;
  end = length;
  auto get = [&](size_t i, int64_t& out) {
    if (a.pos.size() <= i || a.pos[i].is_none()) return;
    if (!a.pos[i].is_int()) {
      throw_type_error("slice indices must be integers or None or have an __index__ method");
    }
    out = a.pos[i].as_int();
  };
  get(first, start);
  get(first + 1, end);
  if (end > length) end = length;
  if (end < 0) end = std::max<int64_t>(end + length, 0);
  if (start < 0) start = std::max<int64_t>(start + length, 0);
}

struct CodePoints {
  explicit CodePoints(const std::string& s) : text(s), offsets(code_point_offsets(s)) {}
  int64_t size() const { return static_cast<int64_t>(offsets.size() - 1); }
  std::string sub(int64_t a, int64_t b) const {
    if (b <= a) return "";
    return text.substr(offsets[static_cast<size_t>(a)],
                       offsets[static_cast<size_t>(b)] - offsets[static_cast<size_t>(a)]);
  }
  int64_t index_of_byte(size_t byte) const {
    return static_cast<int64_t>(std::lower_bound(offsets.begin(), offsets.end(), byte) -
                                offsets.begin());
  }
  const std::string& text;
  std::vector<size_t> offsets;
};

Value str_find(const std::string& s, const Args& a, const std::string& method) {
  arg_count(a, 1, 3, method);
  const std::string sub = arg_str(a.pos[0], method.c_str());
  const CodePoints cp(s);
  int64_t start = 0;
  int64_t end = 0;
  adjust_range(a, 1, cp.size(), start, end);
  const bool reverse = method[0] == 'r';
  int64_t found = -1;
  if (start <= end) {
    const std::string hay = cp.sub(start, end);
    const size_t pos = reverse ? hay.rfind(sub) : hay.find(sub);
    if (pos != std::string::npos) found = start + CodePoints(hay).index_of_byte(pos);
  }
  if (found < 0 && (method == "index" || method == "rindex"))
    throw_value_error("substring not found");
  return Value::integer(found);
}

Value str_count(const std::string& s, const Args& a) {
  arg_count(a, 1, 3, "count");
  const std::string sub = arg_str(a.pos[0], "count");
  const CodePoints cp(s);
  int64_t start = 0;
  int64_t end = 0;
  adjust_range(a, 1, cp.size(), start, end);
  if (start > end) return Value::integer(0);
  const std::string hay = cp.sub(start, end);
  if (sub.empty()) return Value::integer(end - start + 1);
  int64_t n = 0;
  for (size_t pos = hay.find(sub); pos != std::string::npos;
       pos = hay.find(sub, pos + sub.size())) {
    ++n;
  }
  return Value::integer(n);
}

Value str_startswith(const std::string& s, const Args& a, bool ends) {
  const std::string method = ends ? "endswith" : "startswith";
  arg_count(a, 1, 3, method);
  const CodePoints cp(s);
  int64_t start = 0;
  int64_t end = 0;
  adjust_range(a, 1, cp.size(), start, end);
  std::vector<std::string> affixes;
  if (a.pos[0].is_string()) {
    affixes.push_back(a.pos[0].str());
  } else if (a.pos[0].is_seq() && a.pos[0].seq().kind == SeqKind::Tuple) {
    for (const Value& v : a.pos[0].seq().items) {
      if (!v.is_string()) {
        throw_type_error("tuple for " + method + " must only contain str, not " + type_name(v));
      }
      affixes.push_back(v.str());
    }
  } else {
    throw_type_error(method + " first arg must be str or a tuple of str, not " +
                     type_name(a.pos[0]));
  }
  if (start > end) return Value::boolean(false);
  const std::string hay = cp.sub(start, end);
  for (const std::string& x : affixes) {
    if (x.size() > hay.size()) continue;
    if (ends ? hay.compare(hay.size() - x.size(), x.size(), x) == 0
             : hay.compare(0, x.size(), x) == 0) {
      return Value::boolean(true);
    }
  }
  return Value::boolean(false);
}

// str.split()/rsplit() without a separator: runs of whitespace separate and leading or
// trailing whitespace yields no empty parts; past maxsplit the rest is kept as one part.
std::vector<std::string> split_whitespace(const std::string& s, int64_t maxsplit, bool reverse) {
  const CodePoints cp(s);
  const int64_t n = cp.size();
  auto space_at = [&](int64_t k) {
    size_t p = cp.offsets[static_cast<size_t>(k)];
    return is_py_space(decode_utf8(s, p));
  };
  auto full = [&](size_t count) {
    return maxsplit >= 0 && static_cast<int64_t>(count) == maxsplit;
  };
  std::vector<std::string> words;
  if (!reverse) {
    for (int64_t i = 0; i < n;) {
      while (i < n && space_at(i)) ++i;
      if (i >= n) break;
      int64_t j = full(words.size()) ? n : i;
      while (j < n && !space_at(j)) ++j;
      words.push_back(cp.sub(i, j));
      i = j;
    }
    return words;
  }
  for (int64_t j = n; j > 0;) {
    while (j > 0 && space_at(j - 1)) --j;
    if (j <= 0) break;
    int64_t k = full(words.size()) ? 0 : j;
    while (k > 0 && !space_at(k - 1)) --k;
    words.push_back(cp.sub(k, j));
    j = k;
  }
  std::reverse(words.begin(), words.end());
  return words;
}

std::vector<std::string> split_separator(const std::string& s, const std::string& sep,
                                         int64_t maxsplit, bool reverse) {
  std::vector<std::string> pieces;
  auto more = [&] { return maxsplit < 0 || static_cast<int64_t>(pieces.size()) < maxsplit; };
  if (!reverse) {
    size_t pos = 0;
    for (size_t hit = s.find(sep); more() && hit != std::string::npos; hit = s.find(sep, pos)) {
      pieces.push_back(s.substr(pos, hit - pos));
      pos = hit + sep.size();
    }
    pieces.push_back(s.substr(pos));
    return pieces;
  }
  size_t end = s.size();
  while (more() && end >= sep.size()) {
    const size_t hit = s.rfind(sep, end - sep.size());
    if (hit == std::string::npos) break;
    pieces.push_back(s.substr(hit + sep.size(), end - hit - sep.size()));
    end = hit;
  }
  pieces.push_back(s.substr(0, end));
  std::reverse(pieces.begin(), pieces.end());
  return pieces;
}

Value str_split(const std::string& s, const Args& a, bool reverse) {
  const auto b = bind_args(a, {"sep", "maxsplit"}, reverse ? "rsplit" : "split");
  int64_t maxsplit = -1;
  if (b[1]) {
    if (!b[1]->is_int()) {
      throw_type_error("'" + type_name(*b[1]) + "' object cannot be interpreted as an integer");
    }
    maxsplit = b[1]->as_int();
  }
  std::vector<std::string> pieces;
  if (!b[0] || b[0]->is_none()) {
    pieces = split_whitespace(s, maxsplit, reverse);
  } else {
    const std::string sep = arg_str(*b[0], "split");
    if (sep.empty()) throw_value_error("empty separator");
    pieces = split_separator(s, sep, maxsplit, reverse);
  }
  std::vector<Value> parts;
  parts.reserve(pieces.size());
  for (std::string& p : pieces) parts.push_back(Value::string(std::move(p)));
  return Value::seq(std::move(parts));
}

Value str_splitlines(const std::string& s, const Args& a) {
  const auto b = bind_args(a, {"keepends"}, "splitlines");
  const bool keep = b[0] && py_truthy(*b[0]);
  std::vector<Value> lines;
  size_t start = 0;
  size_t pos = 0;
  while (pos < s.size()) {
    const size_t here = pos;
    const char32_t cp = decode_utf8(s, pos);
    if (!is_py_linebreak(cp)) continue;
    size_t end = pos;
    if (cp == '\r' && end < s.size() && s[end] == '\n') ++end;
    lines.push_back(Value::string(s.substr(start, (keep ? end : here) - start)));
    start = pos = end;
  }
  if (start < s.size()) lines.push_back(Value::string(s.substr(start)));
  return Value::seq(std::move(lines));
}

Value str_strip(const std::string& s, const Args& a, bool left, bool right, const char* method) {
  arg_count(a, 0, 1, method);
  if (a.pos.empty() || a.pos[0].is_none())
    return Value::string(std::string(py_strip(s, nullptr, left, right)));
  if (!a.pos[0].is_string()) throw_type_error(std::string(method) + " arg must be None or str");
  return Value::string(std::string(py_strip(s, &a.pos[0].str(), left, right)));
}

std::string py_title(const std::string& s) {
  std::string out;
  size_t pos = 0;
  bool prev_cased = false;
  while (pos < s.size()) {
    const size_t start = pos;
    const char32_t cp = decode_utf8(s, pos);
    const bool cased = is_cased_upper(cp) || is_cased_lower(cp);
    const std::string piece = s.substr(start, pos - start);
    if (cased) {
      out += prev_cased ? py_lower(piece) : py_upper(piece);
    } else {
      out += piece;
    }
    prev_cased = cased;
  }
  return out;
}

std::string py_swapcase(const std::string& s) {
  std::string out;
  size_t pos = 0;
  while (pos < s.size()) {
    const size_t start = pos;
    const char32_t cp = decode_utf8(s, pos);
    const std::string piece = s.substr(start, pos - start);
    out += is_cased_upper(cp) ? py_lower(piece) : is_cased_lower(cp) ? py_upper(piece) : piece;
  }
  return out;
}

template <typename Pred>
bool all_code_points(const std::string& s, bool empty_result, Pred pred) {
  if (s.empty()) return empty_result;
  size_t pos = 0;
  while (pos < s.size()) {
    if (!pred(decode_utf8(s, pos))) return false;
  }
  return true;
}

bool str_is_case(const std::string& s, bool lower) {
  bool cased = false;
  size_t pos = 0;
  while (pos < s.size()) {
    const char32_t cp = decode_utf8(s, pos);
    if (is_cased_upper(cp)) {
      if (lower) return false;
      cased = true;
    } else if (is_cased_lower(cp)) {
      if (!lower) return false;
      cased = true;
    }
  }
  return cased;
}

bool str_istitle(const std::string& s) {
  bool cased = false;
  bool prev_cased = false;
  size_t pos = 0;
  while (pos < s.size()) {
    const char32_t cp = decode_utf8(s, pos);
    if (is_cased_upper(cp)) {
      if (prev_cased) return false;
      prev_cased = cased = true;
    } else if (is_cased_lower(cp)) {
      if (!prev_cased) return false;
      prev_cased = cased = true;
    } else {
      prev_cased = false;
    }
  }
  return cased;
}

Value str_pad(const std::string& s, const Args& a, const std::string& method) {
  arg_count(a, 1, method == "zfill" ? 1 : 2, method);
  if (!a.pos[0].is_int()) {
    throw_type_error("'" + type_name(a.pos[0]) + "' object cannot be interpreted as an integer");
  }
  const int64_t width = a.pos[0].as_int();
  std::string fill = " ";
  if (a.pos.size() > 1) {
    if (!a.pos[1].is_string() || code_point_count(a.pos[1].str()) != 1) {
      throw_type_error("The fill character must be exactly one character long");
    }
    fill = a.pos[1].str();
  }
  const auto len = static_cast<int64_t>(code_point_count(s));
  if (width <= len) return Value::string(s);
  if (static_cast<uint64_t>(width) > Renderer::budget()) throw_limit("string too large");
  const int64_t marg = width - len;
  auto rep = [&](int64_t n) {
    std::string out;
    for (int64_t i = 0; i < n; ++i) out += fill;
    return out;
  };
  if (method == "ljust") return Value::string(s + rep(marg));
  if (method == "rjust") return Value::string(rep(marg) + s);
  if (method == "zfill") {
    const bool sign = !s.empty() && (s[0] == '+' || s[0] == '-');
    fill = "0";
    return Value::string(sign ? s.substr(0, 1) + rep(marg) + s.substr(1) : rep(marg) + s);
  }
  const int64_t left = marg / 2 + (marg & width & 1);
  return Value::string(rep(left) + s + rep(marg - left));
}

Value str_partition(const std::string& s, const Args& a, bool reverse) {
  arg_count(a, 1, 1, reverse ? "rpartition" : "partition");
  const std::string sep = arg_str(a.pos[0], "partition");
  if (sep.empty()) throw_value_error("empty separator");
  const size_t hit = reverse ? s.rfind(sep) : s.find(sep);
  if (hit == std::string::npos) {
    return reverse ? Value::seq({Value::string(""), Value::string(""), Value::string(s)},
                                SeqKind::Tuple)
                   : Value::seq({Value::string(s), Value::string(""), Value::string("")},
                                SeqKind::Tuple);
  }
  return Value::seq({Value::string(s.substr(0, hit)), Value::string(sep),
                     Value::string(s.substr(hit + sep.size()))},
                    SeqKind::Tuple);
}

Value str_join(Renderer& r, const std::string& sep, const Args& a) {
  arg_count(a, 1, 1, "join");
  std::string out;
  size_t i = 0;
  for (const Value& item : py_iterate(a.pos[0])) {
    r.step();
    if (!item.is_string()) {
      throw_type_error("sequence item " + std::to_string(i) + ": expected str instance, " +
                       type_name(item) + " found");
    }
    if (i++ > 0) out += sep;
    out += item.str();
    if (out.size() > Renderer::budget()) throw_limit("string too large");
  }
  return Value::string(std::move(out));
}

Value call_str_method(Renderer& r, const std::string& s, const std::string& name, const Args& a) {
  charge_bytes(s.size());
  if (name == "strip") return str_strip(s, a, true, true, "strip");
  if (name == "lstrip") return str_strip(s, a, true, false, "lstrip");
  if (name == "rstrip") return str_strip(s, a, false, true, "rstrip");
  if (name == "split") return str_split(s, a, false);
  if (name == "rsplit") return str_split(s, a, true);
  if (name == "splitlines") return str_splitlines(s, a);
  if (name == "startswith") return str_startswith(s, a, false);
  if (name == "endswith") return str_startswith(s, a, true);
  if (name == "find" || name == "rfind" || name == "index" || name == "rindex") {
    return str_find(s, a, name);
  }
  if (name == "count") return str_count(s, a);
  if (name == "join") return str_join(r, s, a);
  if (name == "format") return Value::string(str_format(r, s, a));
  if (name == "partition") return str_partition(s, a, false);
  if (name == "rpartition") return str_partition(s, a, true);
  if (name == "center" || name == "ljust" || name == "rjust" || name == "zfill") {
    return str_pad(s, a, name);
  }
  if (name == "replace") {
    arg_count(a, 2, 3, "replace");
    const std::string old = arg_str(a.pos[0], "replace");
    const std::string repl = arg_str(a.pos[1], "replace");
    int64_t count = -1;
    if (a.pos.size() > 2) {
      if (!a.pos[2].is_int())
        throw_type_error("'" + type_name(a.pos[2]) +
                         "' object cannot be interpreted as an integer");
      count = a.pos[2].as_int();
    }
    Args fa;
    fa.pos = {Value::string(old), Value::string(repl), Value::integer(count)};
    if (count < 0) fa.pos.pop_back();
    return run_filter(r, "replace", Value::string(s), fa);
  }
  if (name == "removeprefix" || name == "removesuffix") {
    arg_count(a, 1, 1, name);
    const std::string x = arg_str(a.pos[0], name.c_str());
    if (name == "removeprefix") {
      return Value::string(s.compare(0, x.size(), x) == 0 ? s.substr(x.size()) : s);
    }
    return Value::string(x.size() <= s.size() && s.compare(s.size() - x.size(), x.size(), x) == 0
                             ? s.substr(0, s.size() - x.size())
                             : s);
  }
  arg_count(a, 0, 0, name);
  if (name == "upper") return Value::string(py_upper(s));
  if (name == "lower" || name == "casefold") return Value::string(py_lower(s));
  if (name == "title") return Value::string(py_title(s));
  if (name == "swapcase") return Value::string(py_swapcase(s));
  if (name == "capitalize") return run_filter(r, "capitalize", Value::string(s), Args{});
  if (name == "isdigit" || name == "isdecimal" || name == "isnumeric") {
    return Value::boolean(all_code_points(s, false, is_py_digit));
  }
  if (name == "isalpha") return Value::boolean(all_code_points(s, false, is_py_alpha));
  if (name == "isalnum") {
    return Value::boolean(
        all_code_points(s, false, [](char32_t c) { return is_py_alpha(c) || is_py_digit(c); }));
  }
  if (name == "isspace") return Value::boolean(all_code_points(s, false, is_py_space));
  if (name == "isascii") return Value::boolean(is_ascii(s));
  if (name == "isprintable") return Value::boolean(all_code_points(s, true, is_py_printable));
  if (name == "islower") return Value::boolean(str_is_case(s, true));
  if (name == "isupper") return Value::boolean(str_is_case(s, false));
  if (name == "istitle") return Value::boolean(str_istitle(s));
  throw RenderError("TemplateRuntimeError",
                    "str." + name + "() is not supported in chat templates");
}

// ---- dict, sequence, number and loop methods ---------------------------------------------------

Value dict_view(const DictObj& d, SeqKind kind) {
  std::vector<Value> out;
  out.reserve(d.items.size());
  for (const auto& [k, v] : d.items) {
    if (kind == SeqKind::DictItems) {
      out.push_back(Value::seq({k, v}, SeqKind::Tuple));
    } else {
      out.push_back(kind == SeqKind::DictKeys ? k : v);
    }
  }
  return Value::seq(std::move(out), kind);
}

Value build_dict(const Args& a, const char* function) {
  if (a.pos.size() > 1) {
    throw_type_error(std::string(function) + " expected at most 1 argument, got " +
                     std::to_string(a.pos.size()));
  }
  auto d = std::make_shared<DictObj>();
  if (!a.pos.empty()) {
    const Value& init = a.pos[0];
    if (init.kind() == Kind::Dict) {
      for (const auto& [k, v] : init.dict().items) d->set(k, v);
    } else {
      for (const Value& pair : py_iterate(init)) {
        const std::vector<Value> kv = py_iterate(pair);
        if (kv.size() != 2) {
          throw_value_error("dictionary update sequence element has length " +
                            std::to_string(kv.size()) + "; 2 is required");
        }
        d->set(kv[0], kv[1]);
      }
    }
  }
  for (const auto& [k, v] : a.kw) d->set(Value::string(k), v);
  return Value::dict(std::move(d));
}

Value call_dict_method(const Value& self, const std::string& name, const Args& a) {
  const DictObj& d = self.dict();
  if (name == "get") {
    arg_count(a, 1, 2, "get");
    const Value* v = d.find(a.pos[0]);
    return v != nullptr ? *v : (a.pos.size() > 1 ? a.pos[1] : Value::none());
  }
  if (name == "fromkeys") {
    arg_count(a, 1, 2, "fromkeys");
    auto out = std::make_shared<DictObj>();
    for (const Value& k : py_iterate(a.pos[0]))
      out->set(k, a.pos.size() > 1 ? a.pos[1] : Value::none());
    return Value::dict(std::move(out));
  }
  arg_count(a, 0, 0, name);
  if (name == "items") return dict_view(d, SeqKind::DictItems);
  if (name == "keys") return dict_view(d, SeqKind::DictKeys);
  if (name == "values") return dict_view(d, SeqKind::DictValues);
  auto copy = std::make_shared<DictObj>(d);
  return Value::dict(std::move(copy));
}

Value call_seq_method(Renderer& r, const Value& self, const std::string& name, const Args& a) {
  const std::vector<Value>& items = self.seq().items;
  if (name == "copy") {
    arg_count(a, 0, 0, name);
    return Value::seq(items, self.seq().kind);
  }
  if (name == "count") {
    arg_count(a, 1, 1, name);
    r.step(items.size() / 64 + 1);
    return Value::integer(std::count_if(items.begin(), items.end(),
                                        [&](const Value& v) { return py_equal(v, a.pos[0]); }));
  }
  arg_count(a, 1, 3, name);
  int64_t start = 0;
  int64_t end = 0;
  adjust_range(a, 1, static_cast<int64_t>(items.size()), start, end);
  for (int64_t i = start; i < end; ++i) {
    if (py_equal(items[static_cast<size_t>(i)], a.pos[0])) return Value::integer(i);
  }
  throw_value_error(self.seq().kind == SeqKind::Tuple
                        ? "tuple.index(x): x not in tuple"
                        : py_repr(a.pos[0], Renderer::budget()) + " is not in list");
}

Value call_number_method(const Value& self, const std::string& name, const Args& a) {
  arg_count(a, 0, 0, name);
  if (name == "conjugate") return self.kind() == Kind::Float ? self : Value::integer(self.as_int());
  if (name == "is_integer") {
    const double d = self.as_float();
    return Value::boolean(std::isfinite(d) && std::floor(d) == d);
  }
  if (name == "bit_length") {
    uint64_t v = self.as_int() < 0 ? 0 - static_cast<uint64_t>(self.as_int())
                                   : static_cast<uint64_t>(self.as_int());
    int64_t bits = 0;
    while (v != 0) {
      ++bits;
      v >>= 1;
    }
    return Value::integer(bits);
  }
  throw RenderError("TemplateRuntimeError", name + "() is not supported in chat templates");
}

Value call_loop_method(const Value& self, const std::string& name, const Args& a) {
  no_kwargs(a, name);
  LoopObj& l = self.loop();
  if (name == "cycle") {
    if (a.pos.empty()) throw_type_error("no items for cycling given");
    return a.pos[l.index0 % a.pos.size()];
  }
  // changed(*values): true when the values differ from the previous call's.
  const bool same = l.changed_called && l.last_changed.size() == a.pos.size() &&
                    std::equal(a.pos.begin(), a.pos.end(), l.last_changed.begin(),
                               [](const Value& x, const Value& y) { return py_equal(x, y); });
  l.changed_called = true;
  l.last_changed = a.pos;
  return Value::boolean(!same);
}

// ---- globals ---------------------------------------------------------------------------------

int64_t range_arg(const Value& v) {
  if (!v.is_int())
    throw_type_error("'" + type_name(v) + "' object cannot be interpreted as an integer");
  return v.as_int();
}

Value global_range(const Args& a) {
  if (!a.kw.empty()) throw_type_error("range() takes no keyword arguments");
  if (a.pos.empty() || a.pos.size() > 3) {
    throw_type_error(a.pos.empty() ? "range expected at least 1 argument, got 0"
                                   : "range expected at most 3 arguments, got " +
                                         std::to_string(a.pos.size()));
  }
  int64_t start = 0;
  int64_t stop = 0;
  int64_t step = 1;
  if (a.pos.size() == 1) {
    stop = range_arg(a.pos[0]);
  } else {
    start = range_arg(a.pos[0]);
    stop = range_arg(a.pos[1]);
    if (a.pos.size() == 3) step = range_arg(a.pos[2]);
  }
  if (step == 0) throw_value_error("range() arg 3 must not be zero");
  // Unsigned differences cannot overflow where signed ones could (start and stop near limits).
  uint64_t length = 0;
  if (step > 0 && start < stop) {
    length = (static_cast<uint64_t>(stop) - static_cast<uint64_t>(start) - 1) /
                 static_cast<uint64_t>(step) +
             1;
  } else if (step < 0 && start > stop) {
    length = (static_cast<uint64_t>(start) - static_cast<uint64_t>(stop) - 1) /
                 (0 - static_cast<uint64_t>(step)) +
             1;
  }
  if (length > static_cast<uint64_t>(kMaxRange)) {
    throw RenderError("OverflowError",
                      "Range too big. The sandbox blocks ranges larger than MAX_RANGE (100000).");
  }
  return Value::range(start, stop, step);
}

Value global_strftime_now(const Args& a) {
  const auto b = bind_args(a, {"format"}, "strftime_now");
  if (!b[0]) throw_type_error("strftime_now() missing 1 required positional argument: 'format'");
  if (!b[0]->is_string()) {
    throw_type_error("strftime() argument 1 must be str, not " + type_name(*b[0]));
  }
  const std::string& fmt = b[0]->str();
  if (fmt.find('\0') != std::string::npos) throw_value_error("embedded null character");
  const std::time_t now = std::time(nullptr);
  std::tm local{};
  localtime_r(&now, &local);
  // strftime returns 0 both for "empty" and "too small"; a leading space tells them apart.
  const std::string padded = " " + fmt;
  std::vector<char> buf(padded.size() * 16 + 64);
  const size_t n = std::strftime(buf.data(), buf.size(), padded.c_str(), &local);
  if (n == 0) throw_limit("strftime result too large");
  return Value::string(std::string(buf.data() + 1, n - 1));
}

Value call_global(Renderer& r, const std::string& name, const Args& a) {
  if (name == "range") return global_range(a);
  if (name == "dict") return build_dict(a, "dict");
  if (name == "namespace") return r.make_namespace(a);
  if (name == "raise_exception") {
    const auto b = bind_args(a, {"message"}, "raise_exception");
    if (!b[0])
      throw_type_error("raise_exception() missing 1 required positional argument: 'message'");
    throw RenderError("TemplateError", py_str(*b[0], Renderer::budget()));
  }
  if (name == "strftime_now") return global_strftime_now(a);
  throw RenderError("TemplateRuntimeError",
                    "the global '" + name + "' is not supported in chat templates");
}

}  // namespace

Value global_value(const std::string& name) {
  static const char* const kGlobals[] = {"range",        "dict",   "namespace", "raise_exception",
                                         "strftime_now", "lipsum", "cycler",    "joiner"};
  for (const char* g : kGlobals) {
    if (name == g) return bound(Value::none(), name, kGlobalFunction);
  }
  return Value();
}

Value call_builtin(Renderer& r, const CallableObj& fn, const Args& args) {
  if (fn.builtin == kGlobalFunction) return call_global(r, fn.name, args);
  const Value& self = fn.self;
  switch (self.kind()) {
    case Kind::String:
      return call_str_method(r, self.str(), fn.name, args);
    case Kind::Dict:
      return call_dict_method(self, fn.name, args);
    case Kind::Seq:
      return call_seq_method(r, self, fn.name, args);
    case Kind::Bool:
    case Kind::Int:
    case Kind::Float:
      return call_number_method(self, fn.name, args);
    case Kind::Loop:
      return call_loop_method(self, fn.name, args);
    default:
      break;
  }
  if (self.is_undefined()) raise_undefined(self);
  throw_type_error("'" + type_name(self) + "' object is not callable");
}

// ---- numeric parsing ---------------------------------------------------------------------------

namespace {

int digit_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'z') return c - 'a' + 10;
  if (c >= 'A' && c <= 'Z') return c - 'A' + 10;
  return 99;
}

}  // namespace

bool parse_py_int(std::string_view text, int base, int64_t& out) {
  const std::string s(text);
  std::string_view t = py_strip(s, nullptr, true, true);
  bool negative = false;
  if (!t.empty() && (t[0] == '+' || t[0] == '-')) {
    negative = t[0] == '-';
    t.remove_prefix(1);
  }
  bool prefixed = false;
  if (t.size() >= 2 && t[0] == '0') {
    const char p = static_cast<char>(t[1] | 0x20);
    const int prefix_base = p == 'x' ? 16 : p == 'o' ? 8 : p == 'b' ? 2 : 0;
    if (prefix_base != 0 && (base == 0 || base == prefix_base)) {
      base = prefix_base;
      t.remove_prefix(2);
      prefixed = true;
    }
  }
  if (base == 0) {
    base = 10;
    // Base 0 rejects leading zeros in non-zero decimals ("012").
    if (t.size() > 1 && t[0] == '0' && t.find_first_not_of("0_") != std::string_view::npos) {
      return false;
    }
  }
  if (t.empty()) return false;
  uint64_t value = 0;
  bool need_digit = !prefixed;  // an underscore may directly follow a base prefix
  bool last_underscore = false;
  for (size_t i = 0; i < t.size(); ++i) {
    if (t[i] == '_') {
      if (last_underscore || (need_digit && !(prefixed && i == 0))) return false;
      last_underscore = true;
      continue;
    }
    const int d = digit_value(t[i]);
    if (d >= base) return false;
    if (__builtin_mul_overflow(value, static_cast<uint64_t>(base), &value) ||
        __builtin_add_overflow(value, static_cast<uint64_t>(d), &value) ||
        value > static_cast<uint64_t>(INT64_MAX) + 1) {
      return false;
    }
    last_underscore = false;
    need_digit = false;
  }
  if (last_underscore || need_digit) return false;
  if (!negative && value > static_cast<uint64_t>(INT64_MAX)) return false;
  out = negative ? static_cast<int64_t>(0 - static_cast<uint64_t>(value))
                 : static_cast<int64_t>(value);
  return true;
}

bool parse_py_float(std::string_view text, double& out) {
  const std::string s(text);
  std::string_view t = py_strip(s, nullptr, true, true);
  std::string clean;
  if (!t.empty() && (t[0] == '+' || t[0] == '-')) {
    clean.push_back(t[0]);
    t.remove_prefix(1);
  }
  std::string lower;
  for (char c : t) lower.push_back(static_cast<char>(c >= 'A' && c <= 'Z' ? c + 32 : c));
  if (lower == "inf" || lower == "infinity" || lower == "nan") {
    out = std::strtod((clean + lower).c_str(), nullptr);
    return true;
  }
  // digits [. digits] [e [sign] digits], underscores only between digits.
  size_t i = 0;
  int mantissa_digits = 0;
  auto digits = [&](int& count) {
    while (i < t.size()) {
      if (t[i] >= '0' && t[i] <= '9') {
        clean.push_back(t[i++]);
        ++count;
      } else if (t[i] == '_' && count > 0 && i + 1 < t.size() && t[i + 1] >= '0' &&
                 t[i + 1] <= '9' && clean.back() >= '0' && clean.back() <= '9') {
        ++i;
      } else {
        break;
      }
    }
  };
  digits(mantissa_digits);
  if (i < t.size() && t[i] == '.') {
    clean.push_back(t[i++]);
    int frac = 0;
    digits(frac);
    mantissa_digits += frac;
  }
  if (mantissa_digits == 0) return false;
  if (i < t.size() && (t[i] == 'e' || t[i] == 'E')) {
    clean.push_back(t[i++]);
    if (i < t.size() && (t[i] == '+' || t[i] == '-')) clean.push_back(t[i++]);
    int exp_digits = 0;
    digits(exp_digits);
    if (exp_digits == 0) return false;
  }
  if (i != t.size()) return false;
  out = std::strtod(clean.c_str(), nullptr);
  return true;
}

}  // namespace emovec::chat
