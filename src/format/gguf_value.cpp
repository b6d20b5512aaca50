#include <limits>
#include <string>

#include "emovec/error.h"
#include "emovec/gguf.h"

namespace emovec {
namespace {

bool is_unsigned(GgufType t) {
  return t == GgufType::Uint8 || t == GgufType::Uint16 || t == GgufType::Uint32 ||
         t == GgufType::Uint64;
}

bool is_signed(GgufType t) {
  return t == GgufType::Int8 || t == GgufType::Int16 || t == GgufType::Int32 ||
         t == GgufType::Int64;
}

bool is_real(GgufType t) { return t == GgufType::Float32 || t == GgufType::Float64; }

uint64_t unsigned_max(GgufType t) {
  switch (t) {
    case GgufType::Uint8:
      return std::numeric_limits<uint8_t>::max();
    case GgufType::Uint16:
      return std::numeric_limits<uint16_t>::max();
    case GgufType::Uint32:
      return std::numeric_limits<uint32_t>::max();
    default:
      return std::numeric_limits<uint64_t>::max();
  }
}

std::pair<int64_t, int64_t> signed_range(GgufType t) {
  switch (t) {
    case GgufType::Int8:
      return {std::numeric_limits<int8_t>::min(), std::numeric_limits<int8_t>::max()};
    case GgufType::Int16:
      return {std::numeric_limits<int16_t>::min(), std::numeric_limits<int16_t>::max()};
    case GgufType::Int32:
      return {std::numeric_limits<int32_t>::min(), std::numeric_limits<int32_t>::max()};
    default:
      return {std::numeric_limits<int64_t>::min(), std::numeric_limits<int64_t>::max()};
  }
}

std::string describe(GgufType t) { return std::string(gguf_type_name(t)); }

[[noreturn]] void kind_mismatch(const char* wanted, GgufType found) {
  throw Error(std::string("expected ") + wanted + ", found a value of type " + describe(found));
}

}  // namespace

std::string_view gguf_type_name(GgufType type) {
  switch (type) {
    case GgufType::Uint8:
      return "uint8";
    case GgufType::Int8:
      return "int8";
    case GgufType::Uint16:
      return "uint16";
    case GgufType::Int16:
      return "int16";
    case GgufType::Uint32:
      return "uint32";
    case GgufType::Int32:
      return "int32";
    case GgufType::Float32:
      return "float32";
    case GgufType::Bool:
      return "bool";
    case GgufType::String:
      return "string";
    case GgufType::Array:
      return "array";
    case GgufType::Uint64:
      return "uint64";
    case GgufType::Int64:
      return "int64";
    case GgufType::Float64:
      return "float64";
  }
  return "unknown";
}

GgufValue GgufValue::uint(GgufType type, uint64_t v) {
  if (!is_unsigned(type))
    throw Error("GgufValue::uint needs an unsigned type, got " + describe(type));
  if (v > unsigned_max(type)) {
    throw Error("value " + std::to_string(v) + " does not fit in " + describe(type));
  }
  GgufValue out;
  out.type_ = type;
  out.value_ = v;
  return out;
}

GgufValue GgufValue::sint(GgufType type, int64_t v) {
  if (!is_signed(type)) throw Error("GgufValue::sint needs a signed type, got " + describe(type));
  const auto [lo, hi] = signed_range(type);
  if (v < lo || v > hi)
    throw Error("value " + std::to_string(v) + " does not fit in " + describe(type));
  GgufValue out;
  out.type_ = type;
  out.value_ = v;
  return out;
}

GgufValue GgufValue::real(GgufType type, double v) {
  if (!is_real(type)) throw Error("GgufValue::real needs a float type, got " + describe(type));
  GgufValue out;
  out.type_ = type;
  // Hold a float32 value as the file will, so a written and re-read value compares equal.
  out.value_ = type == GgufType::Float32 ? static_cast<double>(static_cast<float>(v)) : v;
  return out;
}

GgufValue GgufValue::boolean(bool v) {
  GgufValue out;
  out.type_ = GgufType::Bool;
  out.value_ = v;
  return out;
}

GgufValue GgufValue::string(std::string v) {
  GgufValue out;
  out.type_ = GgufType::String;
  out.value_ = std::move(v);
  return out;
}

GgufValue GgufValue::array(GgufType element_type, Array elements) {
  if (static_cast<uint32_t>(element_type) > static_cast<uint32_t>(GgufType::Float64)) {
    throw Error("unknown GGUF element type " + std::to_string(static_cast<uint32_t>(element_type)));
  }
  for (size_t i = 0; i < elements.size(); ++i) {
    if (elements[i].type() != element_type) {
      throw Error("array of " + describe(element_type) + " has element " + std::to_string(i) +
                  " of type " + describe(elements[i].type()));
    }
  }
  GgufValue out;
  out.type_ = GgufType::Array;
  out.element_type_ = element_type;
  out.value_ = std::move(elements);
  return out;
}

uint64_t GgufValue::as_uint() const {
  if (is_unsigned(type_)) return std::get<uint64_t>(value_);
  if (is_signed(type_)) {
    const int64_t v = std::get<int64_t>(value_);
    if (v < 0) throw Error("expected an unsigned integer, found " + std::to_string(v));
    return static_cast<uint64_t>(v);
  }
  kind_mismatch("an integer", type_);
}

int64_t GgufValue::as_int() const {
  if (is_signed(type_)) return std::get<int64_t>(value_);
  if (is_unsigned(type_)) {
    const uint64_t v = std::get<uint64_t>(value_);
    if (v > static_cast<uint64_t>(std::numeric_limits<int64_t>::max())) {
      throw Error("integer " + std::to_string(v) + " exceeds the int64 range");
    }
    return static_cast<int64_t>(v);
  }
  kind_mismatch("an integer", type_);
}

double GgufValue::as_double() const {
  if (is_real(type_)) return std::get<double>(value_);
  if (is_unsigned(type_)) return static_cast<double>(std::get<uint64_t>(value_));
  if (is_signed(type_)) return static_cast<double>(std::get<int64_t>(value_));
  kind_mismatch("a number", type_);
}

bool GgufValue::as_bool() const {
  if (type_ != GgufType::Bool) kind_mismatch("a bool", type_);
  return std::get<bool>(value_);
}

const std::string& GgufValue::as_string() const {
  if (type_ != GgufType::String) kind_mismatch("a string", type_);
  return std::get<std::string>(value_);
}

const GgufValue::Array& GgufValue::as_array() const {
  if (type_ != GgufType::Array) kind_mismatch("an array", type_);
  return std::get<Array>(value_);
}

std::vector<std::string> GgufValue::as_string_array() const {
  const Array& elements = as_array();
  if (element_type_ != GgufType::String) kind_mismatch("an array of strings", element_type_);
  std::vector<std::string> out;
  out.reserve(elements.size());
  for (const GgufValue& e : elements) out.push_back(e.as_string());
  return out;
}

std::vector<float> GgufValue::as_float_array() const {
  const Array& elements = as_array();
  if (!is_real(element_type_) && !is_unsigned(element_type_) && !is_signed(element_type_)) {
    kind_mismatch("an array of numbers", element_type_);
  }
  std::vector<float> out;
  out.reserve(elements.size());
  for (const GgufValue& e : elements) out.push_back(static_cast<float>(e.as_double()));
  return out;
}

std::vector<int32_t> GgufValue::as_int32_array() const {
  const Array& elements = as_array();
  if (!is_unsigned(element_type_) && !is_signed(element_type_)) {
    kind_mismatch("an array of integers", element_type_);
  }
  std::vector<int32_t> out;
  out.reserve(elements.size());
  for (size_t i = 0; i < elements.size(); ++i) {
    const GgufValue& e = elements[i];
    if (is_unsigned(e.type_)) {
      const uint64_t v = e.as_uint();
      if (v > static_cast<uint64_t>(std::numeric_limits<int32_t>::max())) {
        throw Error("array element " + std::to_string(i) + " (" + std::to_string(v) +
                    ") exceeds the int32 range");
      }
      out.push_back(static_cast<int32_t>(v));
    } else {
      const int64_t v = e.as_int();
      if (v < std::numeric_limits<int32_t>::min() || v > std::numeric_limits<int32_t>::max()) {
        throw Error("array element " + std::to_string(i) + " (" + std::to_string(v) +
                    ") exceeds the int32 range");
      }
      out.push_back(static_cast<int32_t>(v));
    }
  }
  return out;
}

}  // namespace emovec
