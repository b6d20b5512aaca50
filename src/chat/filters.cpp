// Jinja's builtin filters and tests (jinja2/filters.py, jinja2/tests.py) with transformers'
// tojson override, reimplemented over Values with the same argument names and edge cases.
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <unordered_map>

#include "chat/builtins.h"
#include "chat/errors.h"
#include "chat/json_io.h"
#include "chat/limits.h"
#include "chat/unicode.h"

namespace emovec::chat {

namespace {

using FilterFn = Value (*)(Renderer&, const Value&, const Args&);
using TestFn = bool (*)(Renderer&, const Value&, const Args&);

[[noreturn]] void filter_argument_error(std::string message) {
  throw RenderError("FilterArgumentError", std::move(message));
}

[[noreturn]] void raise_undefined(const Value& v) {
  const UndefinedObj& u = v.undef();
  throw RenderError(u.security ? "SecurityError" : "UndefinedError", u.message);
}

std::string soft_str(const Value& v) { return py_str(v, Renderer::budget()); }

Value arg_or(const std::optional<Value>& a, Value fallback) { return a ? *a : fallback; }

bool bool_arg(const std::optional<Value>& a, bool fallback) { return a ? py_truthy(*a) : fallback; }

int64_t int_arg(const std::optional<Value>& a, int64_t fallback, const char* what) {
  if (!a) return fallback;
  if (a->kind() == Kind::Float) {
    throw_type_error("'float' object cannot be interpreted as an integer");
  }
  if (!a->is_int())
    throw_type_error(std::string(what) + " must be an integer, not " + type_name(*a));
  return a->as_int();
}

Value generator(std::vector<Value> items) {
  return Value::seq(std::move(items), SeqKind::Generator);
}

Value lower_if_string(const Value& v) {
  return v.is_string() ? Value::string(py_lower(v.str())) : v;
}

// jinja2.filters.make_attrgetter: dotted attribute path, integer parts looked up as integers.
struct AttrGetter {
  std::vector<Value> parts;
  bool ignore_case = false;
  std::optional<Value> default_value;

  AttrGetter(const std::optional<Value>& attribute, bool lower) : ignore_case(lower) {
    if (!attribute || attribute->is_none()) return;
    if (!attribute->is_string()) {
      parts.push_back(*attribute);
      return;
    }
    const std::string& path = attribute->str();
    size_t start = 0;
    while (true) {
      const size_t dot = path.find('.', start);
      const std::string part = path.substr(start, dot == std::string::npos ? dot : dot - start);
      const bool digits = !part.empty() && std::all_of(part.begin(), part.end(),
                                                       [](char c) { return c >= '0' && c <= '9'; });
      int64_t n = 0;
      if (digits && parse_py_int(part, 10, n)) {
        parts.push_back(Value::integer(n));
      } else {
        parts.push_back(Value::string(part));
      }
      if (dot == std::string::npos) break;
      start = dot + 1;
    }
  }

  Value operator()(Renderer& r, Value item) const {
    for (const Value& part : parts) {
      item = r.get_item(item, part);
      if (default_value && item.is_undefined()) item = *default_value;
    }
    return ignore_case ? lower_if_string(item) : item;
  }
};

// sorted(items, key=keys, reverse=reverse) with Python's stability under reverse.
std::vector<Value> sorted_by(Renderer& r, std::vector<Value> items, const std::vector<Value>& keys,
                             bool reverse) {
  r.step(items.size());
  std::vector<size_t> order(items.size());
  for (size_t i = 0; i < order.size(); ++i) order[i] = reverse ? order.size() - 1 - i : i;
  py_stable_sort(order, [&](size_t a, size_t b) { return py_less(keys[a], keys[b]); });
  if (reverse) std::reverse(order.begin(), order.end());
  std::vector<Value> out;
  out.reserve(items.size());
  for (size_t i : order) out.push_back(items[i]);
  return out;
}

// ---- filters ---------------------------------------------------------------------------------

Value f_abs(Renderer&, const Value& in, const Args& a) {
  bind_args(a, {}, "abs");
  if (in.kind() == Kind::Float) return Value::number(std::fabs(in.as_float()));
  if (in.is_int()) {
    if (in.as_int() == INT64_MIN) throw RenderError("OverflowError", "integer too large");
    return Value::integer(in.as_int() < 0 ? -in.as_int() : in.as_int());
  }
  throw_type_error("bad operand type for abs(): '" + type_name(in) + "'");
}

Value f_attr(Renderer&, const Value& in, const Args& a) {
  const auto b = bind_args(a, {"name"}, "do_attr");
  if (!b[0]) throw_type_error("do_attr() missing 1 required positional argument: 'name'");
  Value out;
  if (b[0]->is_string() && python_attribute(in, b[0]->str(), out)) return out;
  if (in.kind() == Kind::Namespace || in.is_undefined()) {
    if (in.is_undefined()) raise_undefined(in);
  }
  return Value::undefined(py_repr_string(object_type_repr(in)) + " has no attribute " +
                          py_repr(*b[0], Renderer::budget()));
}

Value f_batch(Renderer& r, const Value& in, const Args& a) {
  const auto b = bind_args(a, {"linecount", "fill_with"}, "do_batch");
  const int64_t count = int_arg(b[0], 0, "linecount");
  std::vector<Value> out;
  std::vector<Value> row;
  for (const Value& item : py_iterate(in)) {
    r.step();
    if (static_cast<int64_t>(row.size()) == count) {
      out.push_back(Value::seq(std::move(row)));
      row.clear();
    }
    row.push_back(item);
  }
  if (!row.empty()) {
    if (b[1] && !b[1]->is_none()) {
      if (count > static_cast<int64_t>(kMaxItems)) throw_limit("sequence too long");
      while (static_cast<int64_t>(row.size()) < count) row.push_back(*b[1]);
    }
    out.push_back(Value::seq(std::move(row)));
  }
  return generator(std::move(out));
}

// str.capitalize(): the first code point upper-cased, the rest lower-cased.
std::string capitalize(const std::string& s) {
  if (s.empty()) return s;
  size_t first_end = 0;
  decode_utf8(s, first_end);
  return py_upper(std::string_view(s).substr(0, first_end)) +
         py_lower(std::string_view(s).substr(first_end));
}

Value f_capitalize(Renderer&, const Value& in, const Args& a) {
  bind_args(a, {}, "do_capitalize");
  return Value::string(capitalize(soft_str(in)));
}

std::string center(const std::string& s, int64_t width, const std::string& fill) {
  const auto len = static_cast<int64_t>(code_point_count(s));
  if (width <= len) return s;
  if (static_cast<uint64_t>(width) * fill.size() > Renderer::budget())
    throw_limit("string too large");
  const int64_t marg = width - len;
  const int64_t left = marg / 2 + (marg & width & 1);
  std::string out;
  for (int64_t i = 0; i < left; ++i) out += fill;
  out += s;
  for (int64_t i = 0; i < marg - left; ++i) out += fill;
  return out;
}

Value f_center(Renderer&, const Value& in, const Args& a) {
  const auto b = bind_args(a, {"width"}, "do_center");
  return Value::string(center(soft_str(in), int_arg(b[0], 80, "width"), " "));
}

Value f_length(Renderer&, const Value& in, const Args& a) {
  bind_args(a, {}, "len");
  return Value::integer(static_cast<int64_t>(py_len(in)));
}

Value f_default(Renderer&, const Value& in, const Args& a) {
  const auto b = bind_args(a, {"default_value", "boolean"}, "do_default");
  if (in.is_undefined() || (bool_arg(b[1], false) && !py_truthy(in))) {
    return arg_or(b[0], Value::string(""));
  }
  return in;
}

Value f_dictsort(Renderer& r, const Value& in, const Args& a) {
  const auto b = bind_args(a, {"case_sensitive", "by", "reverse"}, "do_dictsort");
  const bool case_sensitive = bool_arg(b[0], false);
  const Value by = arg_or(b[1], Value::string("key"));
  size_t pos = 0;
  if (by.is_string() && by.str() == "key") {
    pos = 0;
  } else if (by.is_string() && by.str() == "value") {
    pos = 1;
  } else {
    filter_argument_error("You can only sort by either \"key\" or \"value\"");
  }
  const Value items_fn = r.get_attr(in, "items");
  const std::vector<Value> items = py_iterate(r.call(items_fn, Args{}));
  std::vector<Value> keys;
  for (const Value& item : items) {
    if (!item.is_seq() || item.seq().items.size() != 2) {
      throw_type_error("dictsort expects (key, value) pairs from items()");
    }
    const Value& k = item.seq().items[pos];
    keys.push_back(case_sensitive ? k : lower_if_string(k));
  }
  return Value::seq(sorted_by(r, items, keys, bool_arg(b[2], false)));
}

std::string html_escape(const std::string& s) {
  std::string out;
  for (char c : s) {
    switch (c) {
      case '&':
        out += "&amp;";
        break;
      case '<':
        out += "&lt;";
        break;
      case '>':
        out += "&gt;";
        break;
      case '"':
        out += "&#34;";
        break;
      case '\'':
        out += "&#39;";
        break;
      default:
        out.push_back(c);
    }
  }
  return out;
}

Value f_escape(Renderer&, const Value& in, const Args& a) {
  bind_args(a, {}, "escape");
  return Value::string(html_escape(soft_str(in)));
}

Value f_first(Renderer&, const Value& in, const Args& a) {
  bind_args(a, {}, "do_first");
  if (in.is_seq() && (in.seq().kind == SeqKind::Generator || in.seq().kind == SeqKind::Iterator)) {
    SeqObj& s = in.seq_mut();
    if (s.consumed < s.items.size()) return s.items[s.consumed++];
  } else {
    const std::vector<Value> items = py_iterate(in);
    if (!items.empty()) return items.front();
  }
  return Value::undefined("No first item, sequence was empty.");
}

Value f_last(Renderer&, const Value& in, const Args& a) {
  bind_args(a, {}, "do_last");
  const bool reversible =
      in.is_undefined() || in.is_string() || in.kind() == Kind::Dict ||
      (in.is_seq() && in.seq().kind != SeqKind::Generator && in.seq().kind != SeqKind::DictItems);
  if (!reversible) throw_type_error("'" + type_name(in) + "' object is not reversible");
  const std::vector<Value> items = py_iterate(in);
  if (items.empty()) return Value::undefined("No last item, sequence was empty.");
  return items.back();
}

Value f_float(Renderer&, const Value& in, const Args& a) {
  const auto b = bind_args(a, {"default"}, "do_float");
  const Value fallback = arg_or(b[0], Value::number(0.0));
  if (in.is_undefined()) raise_undefined(in);
  if (in.is_number()) return Value::number(in.as_float());
  double d = 0;
  if (in.is_string() && parse_py_float(in.str(), d)) return Value::number(d);
  return fallback;
}

Value f_format(Renderer&, const Value& in, const Args& a) {
  if (!a.pos.empty() && !a.kw.empty()) {
    filter_argument_error("can't handle positional and keyword arguments at the same time");
  }
  Value values;
  if (!a.kw.empty()) {
    auto d = std::make_shared<DictObj>();
    for (const auto& [k, v] : a.kw) d->set(Value::string(k), v);
    values = Value::dict(d);
  } else {
    values = Value::seq(a.pos, SeqKind::Tuple);
  }
  return Value::string(percent_format(soft_str(in), values));
}

Value f_groupby(Renderer& r, const Value& in, const Args& a) {
  const auto b = bind_args(a, {"attribute", "default", "case_sensitive"}, "do_groupby");
  if (!b[0]) throw_type_error("do_groupby() missing 1 required positional argument: 'attribute'");
  const bool case_sensitive = bool_arg(b[2], false);
  AttrGetter key(b[0], !case_sensitive);
  AttrGetter raw_key(b[0], false);
  if (b[1] && !b[1]->is_none()) key.default_value = raw_key.default_value = *b[1];
  const std::vector<Value> items = py_iterate(in);
  std::vector<Value> keys;
  for (const Value& item : items) keys.push_back(key(r, item));
  std::vector<size_t> order(items.size());
  for (size_t i = 0; i < order.size(); ++i) order[i] = i;
  py_stable_sort(order, [&](size_t x, size_t y) { return py_less(keys[x], keys[y]); });
  std::vector<Value> groups;
  size_t i = 0;
  while (i < order.size()) {
    std::vector<Value> members;
    size_t j = i;
    while (j < order.size() && py_equal(keys[order[j]], keys[order[i]])) {
      members.push_back(items[order[j]]);
      ++j;
    }
    const Value grouper = case_sensitive ? keys[order[i]] : raw_key(r, members.front());
    Value group = Value::seq({grouper, Value::seq(std::move(members))}, SeqKind::Tuple);
    group.seq_mut().group_tuple = true;
    groups.push_back(std::move(group));
    i = j;
  }
  return Value::seq(std::move(groups));
}

std::vector<std::string> splitlines(const std::string& s, bool keepends) {
  std::vector<std::string> lines;
  size_t start = 0;
  size_t pos = 0;
  while (pos < s.size()) {
    const size_t here = pos;
    const char32_t cp = decode_utf8(s, pos);
    if (!is_py_linebreak(cp)) continue;
    size_t end = pos;
    if (cp == '\r' && end < s.size() && s[end] == '\n') end++;
    lines.push_back(s.substr(start, (keepends ? end : here) - start));
    start = pos = end;
  }
  if (start < s.size()) lines.push_back(s.substr(start));
  return lines;
}

Value f_indent(Renderer&, const Value& in, const Args& a) {
  const auto b = bind_args(a, {"width", "first", "blank"}, "do_indent");
  std::string indention = "    ";
  if (b[0]) {
    if (b[0]->is_string()) {
      indention = b[0]->str();
    } else if (b[0]->is_int()) {
      const int64_t n = b[0]->as_int();
      if (n > static_cast<int64_t>(Renderer::budget())) throw_limit("indent too large");
      indention = std::string(n > 0 ? static_cast<size_t>(n) : 0, ' ');
    } else {
      throw_type_error("can't multiply sequence by non-int of type '" + type_name(*b[0]) + "'");
    }
  }
  if (in.is_undefined()) raise_undefined(in);
  if (in.is_seq() && in.seq().kind == SeqKind::List) {
    // `s += "\n"` extends a list with characters, then s.splitlines() fails.
    throw RenderError("AttributeError", "'list' object has no attribute 'splitlines'");
  }
  if (!in.is_string()) {
    throw_type_error("unsupported operand type(s) for +=: '" + type_name(in) + "' and 'str'");
  }
  const std::vector<std::string> lines = splitlines(in.str() + "\n", false);
  std::string out;
  if (bool_arg(b[2], false)) {
    for (size_t i = 0; i < lines.size(); ++i) {
      if (i > 0) out += "\n" + indention;
      out += lines[i];
      if (out.size() > Renderer::budget()) throw_limit("string too large");
    }
  } else {
    out = lines.empty() ? "" : lines[0];
    for (size_t i = 1; i < lines.size(); ++i) {
      out += "\n";
      if (!lines[i].empty()) out += indention;
      out += lines[i];
      if (out.size() > Renderer::budget()) throw_limit("string too large");
    }
  }
  if (bool_arg(b[1], false)) out = indention + out;
  return Value::string(std::move(out));
}

Value f_int(Renderer&, const Value& in, const Args& a) {
  const auto b = bind_args(a, {"default", "base"}, "do_int");
  const Value fallback = arg_or(b[0], Value::integer(0));
  const int64_t base = int_arg(b[1], 10, "base");
  if (in.is_undefined()) raise_undefined(in);
  if (in.is_int()) return Value::integer(in.as_int());
  if (in.kind() == Kind::Float) {
    const double d = in.as_float();
    if (std::isnan(d)) return fallback;
    if (std::isinf(d))
      throw RenderError("OverflowError", "cannot convert float infinity to integer");
    if (std::fabs(d) >= 9.2233720368547758e18)
      throw RenderError("OverflowError", "integer too large");
    return Value::integer(static_cast<int64_t>(d));
  }
  if (!in.is_string()) return fallback;
  int64_t n = 0;
  if (base >= 0 && base <= 36 && base != 1 && parse_py_int(in.str(), static_cast<int>(base), n)) {
    return Value::integer(n);
  }
  double d = 0;
  if (parse_py_float(in.str(), d) && std::isfinite(d) && std::fabs(d) < 9.2233720368547758e18) {
    return Value::integer(static_cast<int64_t>(d));
  }
  return fallback;
}

Value f_items(Renderer&, const Value& in, const Args& a) {
  bind_args(a, {}, "do_items");
  if (in.is_undefined()) return generator({});
  if (in.kind() != Kind::Dict) throw_type_error("Can only get item pairs from a mapping.");
  std::vector<Value> out;
  for (const auto& [k, v] : in.dict().items) out.push_back(Value::seq({k, v}, SeqKind::Tuple));
  return generator(std::move(out));
}

Value f_join(Renderer& r, const Value& in, const Args& a) {
  const auto b = bind_args(a, {"d", "attribute"}, "do_join");
  const std::string sep = b[0] ? soft_str(*b[0]) : "";
  const AttrGetter getter(b[1], false);
  std::string out;
  bool first = true;
  for (const Value& item : py_iterate(in)) {
    r.step();
    if (!first) out += sep;
    first = false;
    out += soft_str(b[1] && !b[1]->is_none() ? getter(r, item) : item);
    if (out.size() > Renderer::budget()) throw_limit("string too large");
  }
  return Value::string(std::move(out));
}

Value f_list(Renderer&, const Value& in, const Args& a) {
  bind_args(a, {}, "do_list");
  return Value::seq(py_iterate(in));
}

Value f_lower(Renderer&, const Value& in, const Args& a) {
  bind_args(a, {}, "do_lower");
  return Value::string(py_lower(soft_str(in)));
}

Value f_upper(Renderer&, const Value& in, const Args& a) {
  bind_args(a, {}, "do_upper");
  return Value::string(py_upper(soft_str(in)));
}

Value f_map(Renderer& r, const Value& in, const Args& a) {
  if (!py_truthy(in)) return generator({});
  std::vector<Value> out;
  if (a.pos.empty() && a.find_kw("attribute") != nullptr) {
    AttrGetter getter(*a.find_kw("attribute"), false);
    for (const auto& [k, v] : a.kw) {
      if (k == "default") {
        if (!v.is_none()) getter.default_value = v;
      } else if (k != "attribute") {
        filter_argument_error("Unexpected keyword argument " + py_repr_string(k));
      }
    }
    for (const Value& item : py_iterate(in)) {
      r.step();
      out.push_back(getter(r, item));
    }
    return generator(std::move(out));
  }
  if (a.pos.empty()) filter_argument_error("map requires a filter argument");
  if (!a.pos[0].is_string()) throw_type_error("filter name must be a string");
  const std::string name = a.pos[0].str();
  Args rest;
  rest.pos.assign(a.pos.begin() + 1, a.pos.end());
  rest.kw = a.kw;
  for (const Value& item : py_iterate(in)) out.push_back(r.apply_filter(name, item, rest));
  return generator(std::move(out));
}

Value min_max(Renderer& r, const Value& in, const Args& a, const char* op, const char* fn) {
  const auto b = bind_args(a, {"case_sensitive", "attribute"}, fn);
  const std::vector<Value> items = py_iterate(in);
  if (items.empty()) return Value::undefined("No aggregated item, sequence was empty.");
  const AttrGetter key(b[1], !bool_arg(b[0], false));
  size_t best = 0;
  Value best_key = key(r, items[0]);
  for (size_t i = 1; i < items.size(); ++i) {
    r.step();
    Value k = key(r, items[i]);
    if (py_compare(k, best_key, op)) {
      best = i;
      best_key = std::move(k);
    }
  }
  return items[best];
}

Value f_min(Renderer& r, const Value& in, const Args& a) {
  return min_max(r, in, a, "<", "do_min");
}
Value f_max(Renderer& r, const Value& in, const Args& a) {
  return min_max(r, in, a, ">", "do_max");
}

Value f_pprint(Renderer&, const Value& in, const Args& a) {
  bind_args(a, {}, "do_pprint");
  return Value::string(py_repr(in, Renderer::budget()));
}

Value select_or_reject(Renderer& r, const Value& in, const Args& a, bool select, bool by_attr) {
  if (!py_truthy(in)) return generator({});
  size_t off = 0;
  std::optional<AttrGetter> getter;
  if (by_attr) {
    if (a.pos.empty()) filter_argument_error("Missing parameter for attribute name");
    getter.emplace(a.pos[0], false);
    off = 1;
  }
  std::string test;
  Args rest;
  const bool has_test = a.pos.size() > off;
  if (has_test) {
    if (!a.pos[off].is_string()) throw_type_error("test name must be a string");
    test = a.pos[off].str();
    rest.pos.assign(a.pos.begin() + static_cast<std::ptrdiff_t>(off + 1), a.pos.end());
    rest.kw = a.kw;
  }
  std::vector<Value> out;
  for (const Value& item : py_iterate(in)) {
    r.step();
    const Value subject = getter ? (*getter)(r, item) : item;
    const bool ok = has_test ? r.apply_test(test, subject, rest) : py_truthy(subject);
    if (ok == select) out.push_back(item);
  }
  return generator(std::move(out));
}

Value f_select(Renderer& r, const Value& in, const Args& a) {
  return select_or_reject(r, in, a, true, false);
}
Value f_reject(Renderer& r, const Value& in, const Args& a) {
  return select_or_reject(r, in, a, false, false);
}
Value f_selectattr(Renderer& r, const Value& in, const Args& a) {
  return select_or_reject(r, in, a, true, true);
}
Value f_rejectattr(Renderer& r, const Value& in, const Args& a) {
  return select_or_reject(r, in, a, false, true);
}

std::string py_replace(const std::string& s, const std::string& old, const std::string& repl,
                       int64_t count) {
  std::string out;
  if (old.empty()) {
    // Python inserts the replacement before every code point and at the end.
    const std::vector<size_t> offsets = code_point_offsets(s);
    int64_t done = 0;
    for (size_t i = 0; i + 1 < offsets.size(); ++i) {
      if (count < 0 || done < count) {
        out += repl;
        ++done;
      }
      out.append(s, offsets[i], offsets[i + 1] - offsets[i]);
      if (out.size() > Renderer::budget()) throw_limit("string too large");
    }
    if (count < 0 || done < count) out += repl;
    return out;
  }
  size_t pos = 0;
  int64_t done = 0;
  while (count < 0 || done < count) {
    const size_t hit = s.find(old, pos);
    if (hit == std::string::npos) break;
    out.append(s, pos, hit - pos);
    out += repl;
    pos = hit + old.size();
    ++done;
    if (out.size() > Renderer::budget()) throw_limit("string too large");
  }
  out.append(s, pos, std::string::npos);
  return out;
}

Value f_replace(Renderer&, const Value& in, const Args& a) {
  const auto b = bind_args(a, {"old", "new", "count"}, "do_replace");
  if (!b[0] || !b[1]) throw_type_error("do_replace() missing required positional arguments");
  const int64_t count = (b[2] && !b[2]->is_none()) ? int_arg(b[2], -1, "count") : -1;
  return Value::string(py_replace(soft_str(in), soft_str(*b[0]), soft_str(*b[1]), count));
}

Value f_reverse(Renderer&, const Value& in, const Args& a) {
  bind_args(a, {}, "do_reverse");
  if (in.is_string()) {
    const std::vector<size_t> offsets = code_point_offsets(in.str());
    std::string out;
    for (size_t i = offsets.size() - 1; i > 0; --i) {
      out.append(in.str(), offsets[i - 1], offsets[i] - offsets[i - 1]);
    }
    return Value::string(std::move(out));
  }
  const bool generator_like =
      in.is_seq() && (in.seq().kind == SeqKind::Generator || in.seq().kind == SeqKind::DictItems);
  std::vector<Value> items = py_iterate(in);
  std::reverse(items.begin(), items.end());
  // reversed() works on sequences and dicts; a generator falls back to a reversed list.
  return Value::seq(std::move(items), generator_like ? SeqKind::List : SeqKind::Iterator);
}

double round_half_even_digits(double x, int64_t ndigits) {
  if (ndigits > 323) return x;
  if (ndigits < -308) return 0.0 * x;
  if (ndigits >= 0) {
    // glibc's printf rounds the exact binary value correctly, as Python's round() does.
    std::vector<char> buf(static_cast<size_t>(ndigits) + 400);
    std::snprintf(buf.data(), buf.size(), "%.*f", static_cast<int>(ndigits), x);
    return std::strtod(buf.data(), nullptr);
  }
  const double p = std::pow(10.0, static_cast<double>(-ndigits));
  return std::nearbyint(x / p) * p;
}

Value f_round(Renderer&, const Value& in, const Args& a) {
  const auto b = bind_args(a, {"precision", "method"}, "do_round");
  const int64_t precision = int_arg(b[0], 0, "precision");
  const Value method = arg_or(b[1], Value::string("common"));
  const std::string m = method.is_string() ? method.str() : "";
  if (m != "common" && m != "ceil" && m != "floor") {
    filter_argument_error("method must be common, ceil or floor");
  }
  if (!in.is_number()) {
    throw_type_error("type " + type_name(in) + " doesn't define __round__ method");
  }
  if (m == "common") {
    if (in.is_int()) {
      if (precision >= 0) return Value::integer(in.as_int());
      if (precision < -18) return Value::integer(0);
      int64_t p = 1;
      for (int64_t i = 0; i < -precision; ++i) p *= 10;
      const int64_t v = in.as_int();
      int64_t q = v / p;
      int64_t rem = v % p;
      if (rem < 0) {
        rem += p;
        --q;
      }
      if (2 * rem > p || (2 * rem == p && (q & 1))) ++q;
      int64_t rounded = 0;
      if (__builtin_mul_overflow(q, p, &rounded)) {
        throw RenderError("OverflowError", "integer result too large for this interpreter");
      }
      return Value::integer(rounded);
    }
    return Value::number(round_half_even_digits(in.as_float(), precision));
  }
  const double p = std::pow(10.0, static_cast<double>(precision));
  const double scaled = in.as_float() * p;
  return Value::number((m == "ceil" ? std::ceil(scaled) : std::floor(scaled)) / p);
}

Value f_safe(Renderer&, const Value& in, const Args& a) {
  bind_args(a, {}, "do_mark_safe");
  return Value::string(soft_str(in));
}

Value f_slice(Renderer& r, const Value& in, const Args& a) {
  const auto b = bind_args(a, {"slices", "fill_with"}, "do_slice");
  const int64_t slices = int_arg(b[0], 0, "slices");
  const std::vector<Value> seq = py_iterate(in);
  if (slices <= 0) {
    if (slices == 0) throw_zero_division("integer division or modulo by zero");
    return generator({});
  }
  r.step(static_cast<uint64_t>(slices));
  const auto length = static_cast<int64_t>(seq.size());
  const int64_t per = length / slices;
  const int64_t extra = length % slices;
  int64_t offset = 0;
  std::vector<Value> out;
  for (int64_t n = 0; n < slices; ++n) {
    const int64_t start = offset + n * per;
    if (n < extra) ++offset;
    const int64_t end = offset + (n + 1) * per;
    std::vector<Value> part(seq.begin() + start, seq.begin() + end);
    if (b[1] && !b[1]->is_none() && n >= extra) part.push_back(*b[1]);
    out.push_back(Value::seq(std::move(part)));
  }
  return generator(std::move(out));
}

Value f_sort(Renderer& r, const Value& in, const Args& a) {
  const auto b = bind_args(a, {"reverse", "case_sensitive", "attribute"}, "do_sort");
  std::vector<Value> items = py_iterate(in);
  std::vector<Value> keys;
  const bool ignore_case = !bool_arg(b[1], false);
  // A comma-separated attribute list sorts by a tuple of keys.
  std::vector<AttrGetter> getters;
  if (b[2] && b[2]->is_string() && b[2]->str().find(',') != std::string::npos) {
    const std::string& list = b[2]->str();
    size_t start = 0;
    while (true) {
      const size_t comma = list.find(',', start);
      getters.emplace_back(Value::string(list.substr(start, comma - start)), ignore_case);
      if (comma == std::string::npos) break;
      start = comma + 1;
    }
  } else {
    getters.emplace_back(b[2], ignore_case);
  }
  for (const Value& item : items) {
    std::vector<Value> parts;
    for (const AttrGetter& g : getters) parts.push_back(g(r, item));
    keys.push_back(Value::seq(std::move(parts)));
  }
  return Value::seq(sorted_by(r, std::move(items), keys, bool_arg(b[0], false)));
}

Value f_string(Renderer&, const Value& in, const Args& a) {
  bind_args(a, {}, "soft_str");
  return Value::string(soft_str(in));
}

Value f_sum(Renderer& r, const Value& in, const Args& a) {
  const auto b = bind_args(a, {"attribute", "start"}, "do_sum");
  Value total = arg_or(b[1], Value::integer(0));
  if (total.is_string()) throw_type_error("sum() can't sum strings [use ''.join(seq) instead]");
  const AttrGetter getter(b[0], false);
  Args none;
  for (const Value& item : py_iterate(in)) {
    const Value v = (b[0] && !b[0]->is_none()) ? getter(r, item) : item;
    if (v.is_undefined()) raise_undefined(v);
    if (total.is_number() && v.is_number()) {
      if (total.kind() == Kind::Float || v.kind() == Kind::Float) {
        total = Value::number(total.as_float() + v.as_float());
      } else {
        int64_t s = 0;
        if (__builtin_add_overflow(total.as_int(), v.as_int(), &s)) {
          throw RenderError("OverflowError", "integer result too large for this interpreter");
        }
        total = Value::integer(s);
      }
    } else if (total.is_seq() && v.is_seq() && total.seq().kind == v.seq().kind &&
               (v.seq().kind == SeqKind::List || v.seq().kind == SeqKind::Tuple)) {
      std::vector<Value> items = total.seq().items;
      items.insert(items.end(), v.seq().items.begin(), v.seq().items.end());
      total = Value::seq(std::move(items), v.seq().kind);
    } else {
      throw_type_error("unsupported operand type(s) for +: '" + type_name(total) + "' and '" +
                       type_name(v) + "'");
    }
    r.step();
  }
  return total;
}

Value f_title(Renderer&, const Value& in, const Args& a) {
  bind_args(a, {}, "do_title");
  // re.split(r"([-\s({\[<]+)") keeps the separators; each piece gets its first letter upper-cased.
  const std::string s = soft_str(in);
  std::string out;
  size_t pos = 0;
  bool at_piece_start = true;
  while (pos < s.size()) {
    const size_t start = pos;
    const char32_t cp = decode_utf8(s, pos);
    const bool sep =
        is_py_space(cp) || cp == '-' || cp == '(' || cp == '{' || cp == '[' || cp == '<';
    const std::string piece = s.substr(start, pos - start);
    if (sep) {
      out += piece;
      at_piece_start = true;
    } else {
      out += at_piece_start ? py_upper(piece) : py_lower(piece);
      at_piece_start = false;
    }
  }
  return Value::string(std::move(out));
}

Value f_tojson(Renderer&, const Value& in, const Args& a) {
  const auto b = bind_args(a, {"ensure_ascii", "indent", "separators", "sort_keys"}, "tojson");
  JsonDumpOptions opt;
  opt.ensure_ascii = bool_arg(b[0], false);
  opt.sort_keys = bool_arg(b[3], false);
  if (b[1] && !b[1]->is_none()) {
    opt.indent_enabled = true;
    if (b[1]->is_string()) {
      opt.indent = b[1]->str();
    } else if (b[1]->is_int()) {
      const int64_t n = b[1]->as_int();
      if (n > 1000) throw_limit("indent too large");
      opt.indent = std::string(n > 0 ? static_cast<size_t>(n) : 0, ' ');
    } else {
      throw_type_error("can't multiply sequence by non-int of type '" + type_name(*b[1]) + "'");
    }
    opt.item_separator = ",";
  }
  if (b[2] && !b[2]->is_none()) {
    const std::vector<Value> seps = py_iterate(*b[2]);
    if (seps.size() != 2 || !seps[0].is_string() || !seps[1].is_string()) {
      throw_value_error("separators must be a pair of strings");
    }
    opt.item_separator = seps[0].str();
    opt.key_separator = seps[1].str();
  }
  return Value::string(json_dumps(in, opt));
}

Value f_trim(Renderer&, const Value& in, const Args& a) {
  const auto b = bind_args(a, {"chars"}, "do_trim");
  std::string chars;
  const bool has_chars = b[0] && !b[0]->is_none();
  if (has_chars) {
    if (!b[0]->is_string()) {
      throw_type_error("strip arg must be None or str");
    }
    chars = b[0]->str();
  }
  const std::string s = soft_str(in);
  return Value::string(std::string(py_strip(s, has_chars ? &chars : nullptr, true, true)));
}

Value f_truncate(Renderer&, const Value& in, const Args& a) {
  const auto b = bind_args(a, {"length", "killwords", "end", "leeway"}, "do_truncate");
  const int64_t length = int_arg(b[0], 255, "length");
  const std::string end = b[2] ? soft_str(*b[2]) : "...";
  const int64_t leeway = (b[3] && !b[3]->is_none()) ? int_arg(b[3], 5, "leeway") : 5;
  const auto end_len = static_cast<int64_t>(code_point_count(end));
  if (length < end_len) {
    throw RenderError("AssertionError", "expected length >= " + std::to_string(end_len) + ", got " +
                                            std::to_string(length));
  }
  if (leeway < 0) {
    throw RenderError("AssertionError", "expected leeway >= 0, got " + std::to_string(leeway));
  }
  if (!in.is_string()) throw_type_error("object of type '" + type_name(in) + "' has no len()");
  const std::string& s = in.str();
  const std::vector<size_t> offsets = code_point_offsets(s);
  const auto n = static_cast<int64_t>(offsets.size() - 1);
  if (n <= length || n - length <= leeway) return in;
  const std::string head = s.substr(0, offsets[static_cast<size_t>(length - end_len)]);
  if (bool_arg(b[1], false)) return Value::string(head + end);
  const size_t space = head.rfind(' ');
  return Value::string((space == std::string::npos ? head : head.substr(0, space)) + end);
}

Value f_unique(Renderer& r, const Value& in, const Args& a) {
  const auto b = bind_args(a, {"case_sensitive", "attribute"}, "do_unique");
  const AttrGetter key(b[1], !bool_arg(b[0], false));
  std::vector<Value> seen;
  std::vector<Value> out;
  for (const Value& item : py_iterate(in)) {
    const Value k = key(r, item);
    if (k.kind() == Kind::Dict || (k.is_seq() && k.seq().kind == SeqKind::List)) {
      throw_type_error("unhashable type: '" + type_name(k) + "'");
    }
    r.step(seen.size() / 64 + 1);
    const bool dup =
        std::any_of(seen.begin(), seen.end(), [&](const Value& s) { return py_equal(s, k); });
    if (!dup) {
      seen.push_back(k);
      out.push_back(item);
    }
  }
  return generator(std::move(out));
}

Value f_wordcount(Renderer&, const Value& in, const Args& a) {
  bind_args(a, {}, "do_wordcount");
  const std::string s = soft_str(in);
  int64_t words = 0;
  bool in_word = false;
  size_t pos = 0;
  while (pos < s.size()) {
    const bool w = is_py_word(decode_utf8(s, pos));
    if (w && !in_word) ++words;
    in_word = w;
  }
  return Value::integer(words);
}

[[noreturn]] Value f_unsupported(Renderer&, const Value&, const Args&) {
  throw RenderError("TemplateRuntimeError",
                    "this filter is not supported by emovec's chat templates");
}

const std::unordered_map<std::string_view, FilterFn>& filters() {
  static const std::unordered_map<std::string_view, FilterFn> table = {
      {"abs", f_abs},
      {"attr", f_attr},
      {"batch", f_batch},
      {"capitalize", f_capitalize},
      {"center", f_center},
      {"count", f_length},
      {"d", f_default},
      {"default", f_default},
      {"dictsort", f_dictsort},
      {"e", f_escape},
      {"escape", f_escape},
      {"filesizeformat", f_unsupported},
      {"first", f_first},
      {"float", f_float},
      {"forceescape", f_escape},
      {"format", f_format},
      {"groupby", f_groupby},
      {"indent", f_indent},
      {"int", f_int},
      {"items", f_items},
      {"join", f_join},
      {"last", f_last},
      {"length", f_length},
      {"list", f_list},
      {"lower", f_lower},
      {"map", f_map},
      {"max", f_max},
      {"min", f_min},
      {"pprint", f_pprint},
      {"random", f_unsupported},
      {"reject", f_reject},
      {"rejectattr", f_rejectattr},
      {"replace", f_replace},
      {"reverse", f_reverse},
      {"round", f_round},
      {"safe", f_safe},
      {"select", f_select},
      {"selectattr", f_selectattr},
      {"slice", f_slice},
      {"sort", f_sort},
      {"string", f_string},
      {"striptags", f_unsupported},
      {"sum", f_sum},
      {"title", f_title},
      {"tojson", f_tojson},
      {"trim", f_trim},
      {"truncate", f_truncate},
      {"unique", f_unique},
      {"upper", f_upper},
      {"urlencode", f_unsupported},
      {"urlize", f_unsupported},
      {"wordcount", f_wordcount},
      {"wordwrap", f_unsupported},
      {"xmlattr", f_unsupported},
  };
  return table;
}

// ---- tests -----------------------------------------------------------------------------------

Value one_arg(const Args& a, const char* test) {
  const auto b = bind_args(a, {"other"}, test);
  if (!b[0]) throw_type_error(std::string(test) + "() missing 1 required positional argument");
  return *b[0];
}

Value mod2(const Value& in) {
  if (in.is_undefined()) raise_undefined(in);
  if (!in.is_number()) throw_type_error("not all arguments converted during string formatting");
  if (in.kind() == Kind::Float)
    return Value::number(std::fmod(std::fmod(in.as_float(), 2.0) + 2.0, 2.0));
  return Value::integer(((in.as_int() % 2) + 2) % 2);
}

bool t_odd(Renderer&, const Value& in, const Args& a) {
  bind_args(a, {}, "test_odd");
  return mod2(in).as_float() == 1.0;
}
bool t_even(Renderer&, const Value& in, const Args& a) {
  bind_args(a, {}, "test_even");
  return mod2(in).as_float() == 0.0;
}
bool t_divisibleby(Renderer&, const Value& in, const Args& a) {
  const Value n = one_arg(a, "test_divisibleby");
  if (in.is_undefined()) raise_undefined(in);
  if (!in.is_number() || !n.is_number()) {
    throw_type_error("unsupported operand type(s) for %: '" + type_name(in) + "' and '" +
                     type_name(n) + "'");
  }
  if (in.kind() == Kind::Float || n.kind() == Kind::Float) {
    if (n.as_float() == 0.0) throw_zero_division("float modulo");
    return std::fmod(in.as_float(), n.as_float()) == 0.0;
  }
  if (n.as_int() == 0) throw_zero_division("integer modulo by zero");
  if (n.as_int() == -1) return true;
  return in.as_int() % n.as_int() == 0;
}
bool t_defined(Renderer&, const Value& in, const Args&) { return !in.is_undefined(); }
bool t_undefined(Renderer&, const Value& in, const Args&) { return in.is_undefined(); }
bool t_filter(Renderer&, const Value& in, const Args&) {
  return in.is_string() && is_filter_name(in.str());
}
bool t_test(Renderer&, const Value& in, const Args&) {
  return in.is_string() && is_test_name(in.str());
}
bool t_none(Renderer&, const Value& in, const Args&) { return in.is_none(); }
bool t_boolean(Renderer&, const Value& in, const Args&) { return in.kind() == Kind::Bool; }
bool t_false(Renderer&, const Value& in, const Args&) {
  return in.kind() == Kind::Bool && !in.as_bool();
}
bool t_true(Renderer&, const Value& in, const Args&) {
  return in.kind() == Kind::Bool && in.as_bool();
}
bool t_integer(Renderer&, const Value& in, const Args&) { return in.kind() == Kind::Int; }
bool t_float(Renderer&, const Value& in, const Args&) { return in.kind() == Kind::Float; }
bool t_number(Renderer&, const Value& in, const Args&) { return in.is_number(); }
bool t_string(Renderer&, const Value& in, const Args&) { return in.is_string(); }
bool t_mapping(Renderer&, const Value& in, const Args&) { return in.kind() == Kind::Dict; }

// str.islower()/isupper(): at least one cased character and none of the other case.
bool case_test(const Value& in, bool want_lower) {
  const std::string s = py_str(in, Renderer::budget());
  bool cased = false;
  size_t pos = 0;
  while (pos < s.size()) {
    const char32_t cp = decode_utf8(s, pos);
    if (is_cased_upper(cp)) {
      if (want_lower) return false;
      cased = true;
    } else if (is_cased_lower(cp)) {
      if (!want_lower) return false;
      cased = true;
    }
  }
  return cased;
}
bool t_lower(Renderer&, const Value& in, const Args&) { return case_test(in, true); }
bool t_upper(Renderer&, const Value& in, const Args&) { return case_test(in, false); }

bool t_sequence(Renderer&, const Value& in, const Args&) {
  if (in.is_undefined() || in.is_string() || in.kind() == Kind::Dict) return true;
  if (!in.is_seq()) return false;
  const SeqKind k = in.seq().kind;
  return k == SeqKind::List || k == SeqKind::Tuple || k == SeqKind::Range;
}
bool t_iterable(Renderer&, const Value& in, const Args&) {
  return is_iterable(in) || in.kind() == Kind::Loop;
}
bool t_callable(Renderer&, const Value& in, const Args&) {
  return in.kind() == Kind::Callable || in.kind() == Kind::Loop || in.is_undefined();
}
bool t_sameas(Renderer&, const Value& in, const Args& a) {
  const Value other = one_arg(a, "test_sameas");
  if (in.kind() != other.kind()) return false;
  switch (in.kind()) {
    case Kind::None:
    case Kind::Undefined:
      return in.is_none() || in.identity() == other.identity();
    case Kind::Bool:
      return in.as_bool() == other.as_bool();
    case Kind::Int:  // CPython caches small ints, so equal small ints are the same object
      return in.as_int() == other.as_int() && in.as_int() >= -5 && in.as_int() <= 256;
    default:
      return in.identity() != nullptr && in.identity() == other.identity();
  }
}
bool t_escaped(Renderer&, const Value&, const Args&) { return false; }
bool t_in(Renderer& r, const Value& in, const Args& a) {
  const Value seq = one_arg(a, "test_in");
  if (seq.is_undefined()) return false;
  if (seq.is_string()) {
    if (!in.is_string()) {
      throw_type_error("'in <string>' requires string as left operand, not " + type_name(in));
    }
    return seq.str().find(in.str()) != std::string::npos;
  }
  if (seq.kind() == Kind::Dict) return seq.dict().find(in) != nullptr;
  if (seq.is_seq()) {
    for (const Value& item : py_iterate(seq)) {
      r.step();
      if (py_equal(item, in)) return true;
    }
    return false;
  }
  throw_type_error("argument of type '" + type_name(seq) + "' is not iterable");
}
bool t_eq(Renderer&, const Value& in, const Args& a) { return py_equal(in, one_arg(a, "eq")); }
bool t_ne(Renderer&, const Value& in, const Args& a) { return !py_equal(in, one_arg(a, "ne")); }
bool ordered(const Value& in, const Args& a, const char* op) {
  const Value other = one_arg(a, op);
  if (in.is_undefined()) raise_undefined(in);
  if (other.is_undefined()) raise_undefined(other);
  return py_compare(in, other, op);
}
bool t_gt(Renderer&, const Value& in, const Args& a) { return ordered(in, a, ">"); }
bool t_ge(Renderer&, const Value& in, const Args& a) { return ordered(in, a, ">="); }
bool t_lt(Renderer&, const Value& in, const Args& a) { return ordered(in, a, "<"); }
bool t_le(Renderer&, const Value& in, const Args& a) { return ordered(in, a, "<="); }

const std::unordered_map<std::string_view, TestFn>& tests() {
  static const std::unordered_map<std::string_view, TestFn> table = {
      {"odd", t_odd},
      {"even", t_even},
      {"divisibleby", t_divisibleby},
      {"defined", t_defined},
      {"undefined", t_undefined},
      {"filter", t_filter},
      {"test", t_test},
      {"none", t_none},
      {"boolean", t_boolean},
      {"false", t_false},
      {"true", t_true},
      {"integer", t_integer},
      {"float", t_float},
      {"lower", t_lower},
      {"upper", t_upper},
      {"string", t_string},
      {"mapping", t_mapping},
      {"number", t_number},
      {"sequence", t_sequence},
      {"iterable", t_iterable},
      {"callable", t_callable},
      {"sameas", t_sameas},
      {"escaped", t_escaped},
      {"in", t_in},
      {"==", t_eq},
      {"eq", t_eq},
      {"equalto", t_eq},
      {"!=", t_ne},
      {"ne", t_ne},
      {">", t_gt},
      {"gt", t_gt},
      {"greaterthan", t_gt},
      {">=", t_ge},
      {"ge", t_ge},
      {"<", t_lt},
      {"lt", t_lt},
      {"lessthan", t_lt},
      {"<=", t_le},
      {"le", t_le},
  };
  return table;
}

}  // namespace

bool is_filter_name(std::string_view name) { return filters().count(name) != 0; }
bool is_test_name(std::string_view name) { return tests().count(name) != 0; }

Value run_filter(Renderer& r, const std::string& name, const Value& input, const Args& args) {
  const auto it = filters().find(name);
  if (it == filters().end()) {
    throw RenderError("TemplateRuntimeError",
                      "No filter named " + py_repr_string(name) + " found.");
  }
  return it->second(r, input, args);
}

bool run_test(Renderer& r, const std::string& name, const Value& input, const Args& args) {
  const auto it = tests().find(name);
  if (it == tests().end()) {
    throw RenderError("TemplateRuntimeError", "No test named " + py_repr_string(name) + " found.");
  }
  return it->second(r, input, args);
}

std::vector<std::optional<Value>> bind_args(const Args& args, const std::vector<const char*>& names,
                                            const char* function) {
  if (args.pos.size() > names.size()) {
    throw_type_error(std::string(function) + "() takes at most " +
                     std::to_string(names.size() + 1) + " positional arguments but " +
                     std::to_string(args.pos.size() + 1) + " were given");
  }
  std::vector<std::optional<Value>> out(names.size());
  for (size_t i = 0; i < args.pos.size(); ++i) out[i] = args.pos[i];
  for (const auto& [k, v] : args.kw) {
    size_t i = 0;
    while (i < names.size() && k != names[i]) ++i;
    if (i == names.size()) {
      throw_type_error(std::string(function) + "() got an unexpected keyword argument " +
                       py_repr_string(k));
    }
    if (out[i]) {
      throw_type_error(std::string(function) + "() got multiple values for argument " +
                       py_repr_string(k));
    }
    out[i] = v;
  }
  return out;
}

}  // namespace emovec::chat
