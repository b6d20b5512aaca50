// JSON in and out of template values: input variables arrive as nlohmann JSON, and the tojson
// filter must reproduce Python's json.dumps byte for byte (separators, escapes, float repr).
#pragma once

#include <nlohmann/json.hpp>
#include <string>

#include "chat/errors.h"
#include "chat/limits.h"
#include "chat/value.h"

namespace emovec::chat {

// json.dumps options as transformers' tojson filter exposes them.
struct JsonDumpOptions {
  bool ensure_ascii = false;
  bool indent_enabled = false;  // indent=None disables newlines
  std::string indent;
  std::string item_separator = ", ";
  std::string key_separator = ": ";
  bool sort_keys = false;
};

std::string json_dumps(const Value& v, const JsonDumpOptions& options);

// Converts JSON (nlohmann::json or nlohmann::ordered_json) to a Value; object member order is
// the container's iteration order.
template <typename Json>
Value value_from_json(const Json& j, int depth = 0) {
  if (depth > kMaxNesting) throw_limit("JSON input nested too deeply");
  switch (j.type()) {
    case nlohmann::json::value_t::null:
    case nlohmann::json::value_t::discarded:
      return Value::none();
    case nlohmann::json::value_t::boolean:
      return Value::boolean(j.template get<bool>());
    case nlohmann::json::value_t::number_integer:
      return Value::integer(j.template get<int64_t>());
    case nlohmann::json::value_t::number_unsigned: {
      const auto u = j.template get<uint64_t>();
      if (u > static_cast<uint64_t>(INT64_MAX)) return Value::number(static_cast<double>(u));
      return Value::integer(static_cast<int64_t>(u));
    }
    case nlohmann::json::value_t::number_float:
      return Value::number(j.template get<double>());
    case nlohmann::json::value_t::string:
      return Value::string(j.template get<std::string>());
    case nlohmann::json::value_t::array: {
      std::vector<Value> items;
      items.reserve(j.size());
      for (const auto& item : j) items.push_back(value_from_json(item, depth + 1));
      return Value::seq(std::move(items));
    }
    case nlohmann::json::value_t::object: {
      auto d = std::make_shared<DictObj>();
      for (auto it = j.begin(); it != j.end(); ++it) {
        d->set(Value::string(it.key()), value_from_json(it.value(), depth + 1));
      }
      return Value::dict(std::move(d));
    }
    case nlohmann::json::value_t::binary:
      break;
  }
  throw_type_error("binary JSON values are not supported");
}

}  // namespace emovec::chat
