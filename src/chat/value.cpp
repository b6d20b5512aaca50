#include "chat/value.h"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstdio>

#include "chat/errors.h"
#include "chat/limits.h"
#include "chat/unicode.h"

namespace emovec::chat {

namespace {

int child_depth(const Value& v) { return v.depth(); }

void check_depth(int depth) {
  if (depth > kMaxNesting) throw_limit("values nested too deeply");
}

}  // namespace

namespace {
thread_local WorkMeter* active_meter = nullptr;
}  // namespace

WorkMeter::WorkMeter() : previous_(active_meter) { active_meter = this; }
WorkMeter::~WorkMeter() { active_meter = previous_; }

void WorkMeter::charge(uint64_t units) {
  used_ += units;
  if (used_ > kMaxWork) throw_limit("template took too many steps");
}

void charge_work(uint64_t units) {
  if (active_meter != nullptr && units != 0) active_meter->charge(units);
}

Value::Value() : i_(0) {}

Value Value::undefined(std::string message, bool security) {
  Value v;
  auto u = std::make_shared<UndefinedObj>();
  u->message = std::move(message);
  u->security = security;
  v.obj_ = std::move(u);
  return v;
}

Value Value::none() {
  Value v;
  v.kind_ = Kind::None;
  return v;
}

Value Value::boolean(bool b) {
  Value v;
  v.kind_ = Kind::Bool;
  v.b_ = b;
  return v;
}

Value Value::integer(int64_t i) {
  Value v;
  v.kind_ = Kind::Int;
  v.i_ = i;
  return v;
}

Value Value::number(double f) {
  Value v;
  v.kind_ = Kind::Float;
  v.f_ = f;
  return v;
}

Value Value::string(std::string s) {
  charge_bytes(s.size());
  Value v;
  v.kind_ = Kind::String;
  v.obj_ = std::make_shared<StringObj>(std::move(s));
  return v;
}

Value Value::seq(std::vector<Value> items, SeqKind kind) {
  auto obj = std::make_shared<SeqObj>();
  int depth = 1;
  for (const Value& item : items) depth = std::max(depth, 1 + child_depth(item));
  check_depth(depth);
  if (items.size() > kMaxItems) throw_limit("sequence too long");
  charge_items(items.size());
  obj->items = std::move(items);
  obj->kind = kind;
  obj->depth = depth;
  Value v;
  v.kind_ = Kind::Seq;
  v.obj_ = std::move(obj);
  return v;
}

Value Value::range(int64_t start, int64_t stop, int64_t step) {
  // Counted in unsigned arithmetic: start + k * step stays between start and stop, but the
  // step after the last item could overflow a signed counter.
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
  if (length > static_cast<uint64_t>(kMaxRange)) throw_limit("range too long");
  std::vector<Value> items;
  items.reserve(length);
  for (uint64_t k = 0; k < length; ++k) {
    items.push_back(Value::integer(
        static_cast<int64_t>(static_cast<uint64_t>(start) + k * static_cast<uint64_t>(step))));
  }
  Value v = seq(std::move(items), SeqKind::Range);
  SeqObj& obj = v.seq_mut();
  obj.range_start = start;
  obj.range_stop = stop;
  obj.range_step = step;
  return v;
}

Value Value::dict(std::shared_ptr<DictObj> d) {
  Value v;
  v.kind_ = Kind::Dict;
  v.obj_ = std::move(d);
  return v;
}

Value Value::new_dict() { return dict(std::make_shared<DictObj>()); }

Value Value::namespace_(std::shared_ptr<DictObj> attrs) {
  Value v;
  v.kind_ = Kind::Namespace;
  v.obj_ = std::move(attrs);
  return v;
}

Value Value::callable(std::shared_ptr<CallableObj> c) {
  Value v;
  v.kind_ = Kind::Callable;
  v.obj_ = std::move(c);
  return v;
}

Value Value::loop(std::shared_ptr<LoopObj> l) {
  Value v;
  v.kind_ = Kind::Loop;
  v.obj_ = std::move(l);
  return v;
}

double Value::as_float() const {
  if (kind_ == Kind::Float) return f_;
  return static_cast<double>(as_int());
}

const std::string& Value::str() const { return static_cast<const StringObj*>(obj_.get())->s; }
const SeqObj& Value::seq() const { return *static_cast<const SeqObj*>(obj_.get()); }
SeqObj& Value::seq_mut() const { return *static_cast<SeqObj*>(obj_.get()); }
const DictObj& Value::dict() const { return *static_cast<const DictObj*>(obj_.get()); }
DictObj& Value::dict_mut() const { return *static_cast<DictObj*>(obj_.get()); }
const CallableObj& Value::callable() const { return *static_cast<const CallableObj*>(obj_.get()); }
LoopObj& Value::loop() const { return *static_cast<LoopObj*>(obj_.get()); }
const UndefinedObj& Value::undef() const {
  static const UndefinedObj kPlain = [] {
    UndefinedObj u;
    u.message = "value is undefined";
    return u;
  }();
  if (obj_ == nullptr) return kPlain;
  return *static_cast<const UndefinedObj*>(obj_.get());
}

int Value::depth() const {
  switch (kind_) {
    case Kind::Seq:
      return seq().depth;
    case Kind::Dict:
      return dict().depth;
    case Kind::Namespace:
      return 1;
    default:
      return 0;
  }
}

const Value* DictObj::find(const std::string& key) const {
  const auto it = string_index.find(key);
  return it == string_index.end() ? nullptr : &items[it->second].second;
}

const Value* DictObj::find(const Value& key) const {
  if (key.is_string()) return find(key.str());
  for (const auto& [k, v] : items) {
    if (!k.is_string() && py_equal(k, key)) return &v;
  }
  return nullptr;
}

void DictObj::set(Value key, Value value) {
  depth = std::max({depth, 1 + key.depth(), 1 + value.depth()});
  check_depth(depth);
  if (key.is_string()) {
    const auto it = string_index.find(key.str());
    if (it != string_index.end()) {
      items[it->second].second = std::move(value);
      return;
    }
    string_index.emplace(key.str(), items.size());
  } else {
    for (auto& [k, v] : items) {
      if (!k.is_string() && py_equal(k, key)) {
        v = std::move(value);
        return;
      }
    }
  }
  if (items.size() >= kMaxItems) throw_limit("dict too large");
  items.emplace_back(std::move(key), std::move(value));
}

bool py_truthy(const Value& v) {
  switch (v.kind()) {
    case Kind::Undefined:
    case Kind::None:
      return false;
    case Kind::Bool:
      return v.as_bool();
    case Kind::Int:
      return v.as_int() != 0;
    case Kind::Float:
      return v.as_float() != 0.0;
    case Kind::String:
      return !v.str().empty();
    case Kind::Seq:
      if (v.seq().kind == SeqKind::Generator || v.seq().kind == SeqKind::Iterator) return true;
      return !v.seq().items.empty();
    case Kind::Dict:
      return !v.dict().items.empty();
    case Kind::Namespace:
    case Kind::Callable:
    case Kind::Loop:
      return true;
  }
  return true;
}

namespace {

bool numbers_equal(const Value& a, const Value& b) {
  if (a.kind() != Kind::Float && b.kind() != Kind::Float) return a.as_int() == b.as_int();
  if (a.kind() == Kind::Float && b.kind() == Kind::Float) return a.as_float() == b.as_float();
  // int against float: exact, as Python compares them.
  const double f = a.kind() == Kind::Float ? a.as_float() : b.as_float();
  const int64_t i = a.kind() == Kind::Float ? b.as_int() : a.as_int();
  if (!std::isfinite(f) || std::floor(f) != f) return false;
  if (f < -9.2233720368547758e18 || f >= 9.2233720368547758e18) return false;
  return static_cast<int64_t>(f) == i;
}

bool is_list_like(SeqKind k) { return k == SeqKind::List; }

bool sequences_comparable(const SeqObj& a, const SeqObj& b) {
  if (a.kind == SeqKind::Tuple || b.kind == SeqKind::Tuple) {
    return a.kind == SeqKind::Tuple && b.kind == SeqKind::Tuple;
  }
  if (a.kind == SeqKind::Range || b.kind == SeqKind::Range) {
    return a.kind == SeqKind::Range && b.kind == SeqKind::Range;
  }
  return is_list_like(a.kind) && is_list_like(b.kind);
}

}  // namespace

bool py_equal(const Value& a, const Value& b, int depth) {
  if (depth > kMaxNesting) throw_limit("values nested too deeply");
  if (a.is_number() && b.is_number()) return numbers_equal(a, b);
  if (a.kind() != b.kind()) return false;
  switch (a.kind()) {
    case Kind::Undefined:
    case Kind::None:
      return true;
    case Kind::String:
      return a.str() == b.str();
    case Kind::Seq: {
      const SeqObj& x = a.seq();
      const SeqObj& y = b.seq();
      if (&x == &y) return true;
      if (!sequences_comparable(x, y)) return false;
      if (x.items.size() != y.items.size()) return false;
      charge_items(x.items.size());
      for (size_t i = 0; i < x.items.size(); ++i) {
        if (!py_equal(x.items[i], y.items[i], depth + 1)) return false;
      }
      return true;
    }
    case Kind::Dict: {
      const DictObj& x = a.dict();
      const DictObj& y = b.dict();
      if (x.items.size() != y.items.size()) return false;
      for (const auto& [k, v] : x.items) {
        const Value* other = y.find(k);
        if (other == nullptr || !py_equal(v, *other, depth + 1)) return false;
      }
      return true;
    }
    default:
      return a.identity() == b.identity();
  }
}

namespace {

bool compare_numbers(const Value& a, const Value& b, std::string_view op) {
  if (a.kind() != Kind::Float && b.kind() != Kind::Float) {
    const int64_t x = a.as_int();
    const int64_t y = b.as_int();
    if (op == "<") return x < y;
    if (op == "<=") return x <= y;
    if (op == ">") return x > y;
    return x >= y;
  }
  const double x = a.as_float();
  const double y = b.as_float();
  if (op == "<") return x < y;
  if (op == "<=") return x <= y;
  if (op == ">") return x > y;
  return x >= y;
}

template <typename T>
bool compare_ordered(const T& x, const T& y, std::string_view op) {
  if (op == "<") return x < y;
  if (op == "<=") return x <= y;
  if (op == ">") return x > y;
  return x >= y;
}

}  // namespace

bool py_compare(const Value& a, const Value& b, std::string_view op, int depth) {
  if (depth > kMaxNesting) throw_limit("values nested too deeply");
  if (a.is_number() && b.is_number()) return compare_numbers(a, b, op);
  if (a.is_string() && b.is_string()) return compare_ordered(a.str(), b.str(), op);
  if (a.is_seq() && b.is_seq() && a.seq().kind == b.seq().kind &&
      (a.seq().kind == SeqKind::List || a.seq().kind == SeqKind::Tuple)) {
    const auto& x = a.seq().items;
    const auto& y = b.seq().items;
    for (size_t i = 0; i < x.size() && i < y.size(); ++i) {
      if (!py_equal(x[i], y[i], depth + 1)) return py_compare(x[i], y[i], op, depth + 1);
    }
    return compare_ordered(x.size(), y.size(), op);
  }
  std::string message = "'";
  message += op;
  message +=
      "' not supported between instances of '" + type_name(a) + "' and '" + type_name(b) + "'";
  throw_type_error(std::move(message));
}

bool py_less(const Value& a, const Value& b, int depth) { return py_compare(a, b, "<", depth); }

std::string type_name(const Value& v) {
  switch (v.kind()) {
    case Kind::Undefined:
      return "Undefined";
    case Kind::None:
      return "NoneType";
    case Kind::Bool:
      return "bool";
    case Kind::Int:
      return "int";
    case Kind::Float:
      return "float";
    case Kind::String:
      return "str";
    case Kind::Seq:
      switch (v.seq().kind) {
        case SeqKind::List:
          return "list";
        case SeqKind::Tuple:
          return "tuple";
        case SeqKind::Generator:
          return "generator";
        case SeqKind::Iterator:
          return "list_reverseiterator";
        case SeqKind::Range:
          return "range";
        case SeqKind::DictItems:
          return "dict_items";
        case SeqKind::DictKeys:
          return "dict_keys";
        case SeqKind::DictValues:
          return "dict_values";
      }
      return "list";
    case Kind::Dict:
      return "dict";
    case Kind::Namespace:
      return "TemplateNamespace";
    case Kind::Callable:
      return "function";
    case Kind::Loop:
      return "LoopContext";
  }
  return "object";
}

std::string object_type_repr(const Value& v) {
  switch (v.kind()) {
    case Kind::None:
      return "None";
    case Kind::Namespace:
      return "transformers.utils.chat_template_utils.TemplateNamespace object";
    case Kind::Loop:
      return "jinja2.runtime.LoopContext object";
    case Kind::Undefined:
      return "jinja2.runtime.Undefined object";
    default:
      return type_name(v) + " object";
  }
}

std::string py_float_repr(double d) {
  if (std::isnan(d)) return "nan";
  if (std::isinf(d)) return d > 0 ? "inf" : "-inf";
  if (d == 0.0) return std::signbit(d) ? "-0.0" : "0.0";
  // Shortest round-trip digits, then Python's layout: positional when the decimal exponent is in
  // [-4, 16), otherwise d.ddde+XX with at least two exponent digits.
  char buf[64];
  const auto res = std::to_chars(buf, buf + sizeof(buf), d, std::chars_format::scientific);
  std::string sci(buf, res.ptr);
  const size_t e_pos = sci.find('e');
  std::string mantissa = sci.substr(0, e_pos);
  const int exponent = std::stoi(sci.substr(e_pos + 1));
  const bool negative = mantissa[0] == '-';
  if (negative) mantissa.erase(0, 1);
  std::string digits;
  for (char c : mantissa) {
    if (c != '.') digits.push_back(c);
  }
  std::string out = negative ? "-" : "";
  if (exponent >= -4 && exponent < 16) {
    if (exponent < 0) {
      out += "0." + std::string(static_cast<size_t>(-exponent - 1), '0') + digits;
    } else if (static_cast<size_t>(exponent) + 1 >= digits.size()) {
      out += digits + std::string(static_cast<size_t>(exponent) + 1 - digits.size(), '0') + ".0";
    } else {
      out += digits.substr(0, static_cast<size_t>(exponent) + 1);
      out += '.';
      out += digits.substr(static_cast<size_t>(exponent) + 1);
    }
    return out;
  }
  out += digits.substr(0, 1);
  if (digits.size() > 1) {
    out += '.';
    out += digits.substr(1);
  }
  char exp_buf[16];
  std::snprintf(exp_buf, sizeof(exp_buf), "e%c%02d", exponent < 0 ? '-' : '+', std::abs(exponent));
  return out + exp_buf;
}

std::string py_repr_string(std::string_view s) {
  const bool has_single = s.find('\'') != std::string_view::npos;
  const bool has_double = s.find('"') != std::string_view::npos;
  const char quote = (has_single && !has_double) ? '"' : '\'';
  std::string out(1, quote);
  size_t pos = 0;
  while (pos < s.size()) {
    const size_t start = pos;
    const char32_t cp = decode_utf8(s, pos);
    if (cp == static_cast<char32_t>(quote) || cp == '\\') {
      out.push_back('\\');
      out.push_back(static_cast<char>(cp));
    } else if (cp == '\n') {
      out += "\\n";
    } else if (cp == '\r') {
      out += "\\r";
    } else if (cp == '\t') {
      out += "\\t";
    } else if (is_py_printable(cp)) {
      out.append(s.substr(start, pos - start));
    } else {
      char buf[16];
      if (cp < 0x100) {
        std::snprintf(buf, sizeof(buf), "\\x%02x", static_cast<unsigned>(cp));
      } else if (cp < 0x10000) {
        std::snprintf(buf, sizeof(buf), "\\u%04x", static_cast<unsigned>(cp));
      } else {
        std::snprintf(buf, sizeof(buf), "\\U%08x", static_cast<unsigned>(cp));
      }
      out += buf;
    }
  }
  out.push_back(quote);
  return out;
}

namespace {

void repr_into(std::string& out, const Value& v, size_t budget, int depth);

void check_budget(const std::string& out, size_t budget) {
  if (out.size() > budget) throw_limit("output too large");
}

void repr_items(std::string& out, const std::vector<Value>& items, size_t budget, int depth) {
  for (size_t i = 0; i < items.size(); ++i) {
    if (i > 0) out += ", ";
    repr_into(out, items[i], budget, depth + 1);
    check_budget(out, budget);
  }
}

void repr_dict_body(std::string& out, const DictObj& d, size_t budget, int depth) {
  out += "{";
  bool first = true;
  for (const auto& [k, val] : d.items) {
    if (!first) out += ", ";
    first = false;
    repr_into(out, k, budget, depth + 1);
    out += ": ";
    repr_into(out, val, budget, depth + 1);
    check_budget(out, budget);
  }
  out += "}";
}

void repr_seq(std::string& out, const SeqObj& s, size_t budget, int depth) {
  switch (s.kind) {
    case SeqKind::List:
      out += "[";
      repr_items(out, s.items, budget, depth);
      out += "]";
      return;
    case SeqKind::Tuple:
      out += "(";
      repr_items(out, s.items, budget, depth);
      out += s.items.size() == 1 ? ",)" : ")";
      return;
    case SeqKind::Generator:
      out += "<generator object>";
      return;
    case SeqKind::Iterator:
      out += "<list_reverseiterator object>";
      return;
    case SeqKind::Range:
      out += "range(" + std::to_string(s.range_start) + ", " + std::to_string(s.range_stop);
      if (s.range_step != 1) out += ", " + std::to_string(s.range_step);
      out += ")";
      return;
    case SeqKind::DictItems:
    case SeqKind::DictKeys:
    case SeqKind::DictValues:
      out += s.kind == SeqKind::DictItems  ? "dict_items(["
             : s.kind == SeqKind::DictKeys ? "dict_keys(["
                                           : "dict_values([";
      repr_items(out, s.items, budget, depth);
      out += "])";
      return;
  }
}

void repr_into(std::string& out, const Value& v, size_t budget, int depth) {
  if (depth > kMaxNesting) throw_limit("values nested too deeply");
  switch (v.kind()) {
    case Kind::Undefined:
      out += "Undefined";
      return;
    case Kind::String:
      out += py_repr_string(v.str());
      break;
    case Kind::Seq:
      repr_seq(out, v.seq(), budget, depth);
      break;
    case Kind::Dict:
      repr_dict_body(out, v.dict(), budget, depth);
      break;
    case Kind::Namespace:
      out += "<Namespace ";
      repr_dict_body(out, v.dict(), budget, depth);
      out += ">";
      break;
    case Kind::Loop: {
      const LoopObj& l = v.loop();
      out += "<LoopContext " + std::to_string(l.index0 + 1) + "/" + std::to_string(l.items.size()) +
             ">";
      break;
    }
    case Kind::Callable:
      out += "<function>";
      break;
    default:
      out += py_str(v, budget);
      break;
  }
  check_budget(out, budget);
}

}  // namespace

std::string py_repr(const Value& v, size_t budget) {
  std::string out;
  repr_into(out, v, budget, 0);
  charge_bytes(out.size());
  return out;
}

std::string py_str(const Value& v, size_t budget) {
  switch (v.kind()) {
    case Kind::Undefined:
      return "";
    case Kind::None:
      return "None";
    case Kind::Bool:
      return v.as_bool() ? "True" : "False";
    case Kind::Int:
      return std::to_string(v.as_int());
    case Kind::Float:
      return py_float_repr(v.as_float());
    case Kind::String:
      return v.str();
    default:
      return py_repr(v, budget);
  }
}

bool has_len(const Value& v) {
  switch (v.kind()) {
    case Kind::Undefined:
    case Kind::String:
    case Kind::Dict:
    case Kind::Loop:
      return true;
    case Kind::Seq:
      return v.seq().kind != SeqKind::Generator && v.seq().kind != SeqKind::Iterator;
    default:
      return false;
  }
}

size_t py_len(const Value& v) {
  if (!has_len(v)) throw_type_error("object of type '" + type_name(v) + "' has no len()");
  switch (v.kind()) {
    case Kind::String:
      return code_point_count(v.str());
    case Kind::Dict:
      return v.dict().items.size();
    case Kind::Seq:
      return v.seq().items.size();
    case Kind::Loop:
      return v.loop().items.size();
    default:
      return 0;
  }
}

bool is_iterable(const Value& v) {
  switch (v.kind()) {
    case Kind::Undefined:
    case Kind::String:
    case Kind::Seq:
    case Kind::Dict:
      return true;
    default:
      return false;
  }
}

std::vector<Value> py_iterate(const Value& v) {
  if (v.is_string()) charge_bytes(v.str().size() * 8);  // one Value per code point
  if (v.is_seq()) charge_items(v.seq().items.size());
  if (v.is_dict()) charge_items(v.dict().items.size());
  switch (v.kind()) {
    case Kind::Undefined:
      return {};
    case Kind::String: {
      std::vector<Value> out;
      const std::string& s = v.str();
      size_t pos = 0;
      while (pos < s.size()) {
        const size_t start = pos;
        decode_utf8(s, pos);
        out.push_back(Value::string(s.substr(start, pos - start)));
      }
      return out;
    }
    case Kind::Seq: {
      SeqObj& s = v.seq_mut();
      if (s.kind == SeqKind::Generator || s.kind == SeqKind::Iterator) {
        std::vector<Value> rest(s.items.begin() + static_cast<std::ptrdiff_t>(s.consumed),
                                s.items.end());
        s.consumed = s.items.size();
        return rest;
      }
      return s.items;
    }
    case Kind::Dict: {
      std::vector<Value> keys;
      keys.reserve(v.dict().items.size());
      for (const auto& kv : v.dict().items) keys.push_back(kv.first);
      return keys;
    }
    default:
      throw_type_error("'" + type_name(v) + "' object is not iterable");
  }
}

void py_stable_sort(std::vector<size_t>& order, const std::function<bool(size_t, size_t)>& less) {
  std::vector<size_t> tmp(order.size());
  for (size_t width = 1; width < order.size(); width *= 2) {
    for (size_t lo = 0; lo < order.size(); lo += 2 * width) {
      const size_t mid = std::min(lo + width, order.size());
      const size_t hi = std::min(lo + 2 * width, order.size());
      size_t i = lo;
      size_t j = mid;
      size_t k = lo;
      while (i < mid && j < hi) tmp[k++] = less(order[j], order[i]) ? order[j++] : order[i++];
      while (i < mid) tmp[k++] = order[i++];
      while (j < hi) tmp[k++] = order[j++];
    }
    order.swap(tmp);
  }
}

}  // namespace emovec::chat
