#include "chat/json_io.h"

#include <cmath>
#include <cstdio>
#include <numeric>

#include "chat/evaluator.h"
#include "chat/unicode.h"

namespace emovec::chat {

namespace {

void append_u_escape(std::string& out, unsigned code) {
  char buf[16];
  std::snprintf(buf, sizeof(buf), "\\u%04x", code);
  out += buf;
}

// json.encoder.py_encode_basestring(_ascii).
void encode_string(std::string& out, const std::string& s, bool ensure_ascii) {
  out.push_back('"');
  size_t pos = 0;
  while (pos < s.size()) {
    const size_t start = pos;
    const char32_t cp = decode_utf8(s, pos);
    switch (cp) {
      case '"':
        out += "\\\"";
        continue;
      case '\\':
        out += "\\\\";
        continue;
      case '\n':
        out += "\\n";
        continue;
      case '\r':
        out += "\\r";
        continue;
      case '\t':
        out += "\\t";
        continue;
      case '\b':
        out += "\\b";
        continue;
      case '\f':
        out += "\\f";
        continue;
      default:
        break;
    }
    if (cp < 0x20 || (ensure_ascii && cp > 0x7E)) {
      if (cp >= 0x10000) {
        const unsigned v = static_cast<unsigned>(cp) - 0x10000;
        append_u_escape(out, 0xD800 | (v >> 10));
        append_u_escape(out, 0xDC00 | (v & 0x3FF));
      } else {
        append_u_escape(out, static_cast<unsigned>(cp));
      }
    } else {
      out.append(s, start, pos - start);
    }
  }
  out.push_back('"');
}

std::string float_json(double d) {
  if (std::isnan(d)) return "NaN";
  if (std::isinf(d)) return d > 0 ? "Infinity" : "-Infinity";
  return py_float_repr(d);
}

class Dumper {
 public:
  explicit Dumper(const JsonDumpOptions& o) : opt_(o) {}

  void dump(const Value& v, int level) {
    if (level > kMaxNesting) throw_limit("values nested too deeply");
    if (out_.size() > Renderer::budget()) throw_limit("output too large");
    switch (v.kind()) {
      case Kind::None:
        out_ += "null";
        return;
      case Kind::Bool:
        out_ += v.as_bool() ? "true" : "false";
        return;
      case Kind::Int:
        out_ += std::to_string(v.as_int());
        return;
      case Kind::Float:
        out_ += float_json(v.as_float());
        return;
      case Kind::String:
        encode_string(out_, v.str(), opt_.ensure_ascii);
        return;
      case Kind::Seq:
        if (v.seq().kind == SeqKind::List || v.seq().kind == SeqKind::Tuple) {
          dump_list(v.seq().items, level);
          return;
        }
        break;
      case Kind::Dict:
        dump_dict(v.dict(), level);
        return;
      default:
        break;
    }
    throw_type_error("Object of type " + type_name(v) + " is not JSON serializable");
  }

  std::string take() { return std::move(out_); }

 private:
  void newline(int level) {
    if (!opt_.indent_enabled) return;
    out_.push_back('\n');
    for (int i = 0; i < level; ++i) out_ += opt_.indent;
  }

  void dump_list(const std::vector<Value>& items, int level) {
    if (items.empty()) {
      out_ += "[]";
      return;
    }
    out_.push_back('[');
    newline(level + 1);
    for (size_t i = 0; i < items.size(); ++i) {
      if (i > 0) {
        out_ += opt_.item_separator;
        newline(level + 1);
      }
      dump(items[i], level + 1);
    }
    newline(level);
    out_.push_back(']');
  }

  std::string key_string(const Value& k) {
    switch (k.kind()) {
      case Kind::String:
        return k.str();
      case Kind::Float:
        return float_json(k.as_float());
      case Kind::Bool:
        return k.as_bool() ? "true" : "false";
      case Kind::None:
        return "null";
      case Kind::Int:
        return std::to_string(k.as_int());
      default:
        throw_type_error("keys must be str, int, float, bool or None, not " + type_name(k));
    }
  }

  void dump_dict(const DictObj& d, int level) {
    if (d.items.empty()) {
      out_ += "{}";
      return;
    }
    std::vector<size_t> order(d.items.size());
    std::iota(order.begin(), order.end(), size_t{0});
    if (opt_.sort_keys) {
      py_stable_sort(
          order, [&](size_t a, size_t b) { return py_less(d.items[a].first, d.items[b].first); });
    }
    out_.push_back('{');
    newline(level + 1);
    bool first = true;
    for (size_t i : order) {
      if (!first) {
        out_ += opt_.item_separator;
        newline(level + 1);
      }
      first = false;
      encode_string(out_, key_string(d.items[i].first), opt_.ensure_ascii);
      out_ += opt_.key_separator;
      dump(d.items[i].second, level + 1);
    }
    newline(level);
    out_.push_back('}');
  }

  const JsonDumpOptions& opt_;
  std::string out_;
};

}  // namespace

std::string json_dumps(const Value& v, const JsonDumpOptions& options) {
  Dumper d(options);
  d.dump(v, 0);
  std::string out = d.take();
  if (out.size() > Renderer::budget()) throw_limit("output too large");
  charge_bytes(out.size());
  return out;
}

}  // namespace emovec::chat
