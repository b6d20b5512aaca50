#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <limits>
#include <string>

#include "emovec/error.h"
#include "emovec/gguf.h"
#include "format/element_count.h"
#include "format/gguf_constants.h"
#include "format/utf8.h"
#include "quant/half.h"

namespace emovec {
namespace {

class ByteWriter {
 public:
  explicit ByteWriter(std::vector<uint8_t>& out) : out_(out) {}

  template <typename T>
  void put(T v) {
    put_raw(&v, sizeof v);
  }
  void put_bytes(std::span<const uint8_t> bytes) { put_raw(bytes.data(), bytes.size()); }
  void put_string(std::string_view s) {
    put<uint64_t>(s.size());
    put_raw(s.data(), s.size());
  }
  void pad_to(uint64_t alignment) {
    while (out_.size() % alignment != 0) out_.push_back(0);
  }
  uint64_t size() const { return out_.size(); }

 private:
  void put_raw(const void* data, size_t n) {
    if (n == 0) return;
    const size_t at = out_.size();
    out_.resize(at + n);
    std::memcpy(out_.data() + at, data, n);
  }

  std::vector<uint8_t>& out_;
};

void put_value(ByteWriter& w, const GgufValue& v) {
  switch (v.type()) {
    case GgufType::Uint8:
      w.put(static_cast<uint8_t>(v.as_uint()));
      break;
    case GgufType::Uint16:
      w.put(static_cast<uint16_t>(v.as_uint()));
      break;
    case GgufType::Uint32:
      w.put(static_cast<uint32_t>(v.as_uint()));
      break;
    case GgufType::Uint64:
      w.put(v.as_uint());
      break;
    case GgufType::Int8:
      w.put(static_cast<int8_t>(v.as_int()));
      break;
    case GgufType::Int16:
      w.put(static_cast<int16_t>(v.as_int()));
      break;
    case GgufType::Int32:
      w.put(static_cast<int32_t>(v.as_int()));
      break;
    case GgufType::Int64:
      w.put(v.as_int());
      break;
    case GgufType::Float32:
      w.put(static_cast<float>(v.as_double()));
      break;
    case GgufType::Float64:
      w.put(v.as_double());
      break;
    case GgufType::Bool:
      w.put(static_cast<uint8_t>(v.as_bool() ? 1 : 0));
      break;
    case GgufType::String:
      w.put_string(v.as_string());
      break;
    case GgufType::Array:
      w.put(static_cast<uint32_t>(v.element_type()));
      w.put<uint64_t>(v.as_array().size());
      for (const GgufValue& e : v.as_array()) put_value(w, e);
      break;
  }
}

void check_name(std::string_view name, const char* kind) {
  if (name.empty()) throw Error(std::string("GGUF writer: empty ") + kind);
  if (!is_valid_utf8(name)) {
    throw Error(std::string("GGUF writer: ") + kind + " " + quote_for_message(name) +
                " is not valid UTF-8");
  }
}

int64_t check_shape(const std::string& name, const std::vector<int64_t>& shape) {
  const std::string what = "GGUF writer: tensor " + quote_for_message(name);
  if (shape.empty() || shape.size() > static_cast<size_t>(gguf::kMaxDims)) {
    throw Error(what + ": " + std::to_string(shape.size()) + " dimensions, expected 1 to " +
                std::to_string(gguf::kMaxDims));
  }
  for (const int64_t d : shape) {
    if (d <= 0) throw Error(what + ": dimension " + std::to_string(d) + " is not positive");
  }
  return checked_element_count(shape, what);
}

}  // namespace

GgufWriter::GgufWriter(uint64_t alignment) : alignment_(alignment) {
  if (alignment == 0 || (alignment & (alignment - 1)) != 0 ||
      alignment > std::numeric_limits<uint32_t>::max()) {
    throw Error("GGUF writer: alignment " + std::to_string(alignment) +
                " is not a power of two that fits in uint32");
  }
}

void GgufWriter::set(std::string key, GgufValue value) {
  check_name(key, "metadata key");
  if (key == gguf::kAlignmentKey &&
      (value.type() != GgufType::Uint32 || value.as_uint() != alignment_)) {
    throw Error(std::string("GGUF writer: ") + gguf::kAlignmentKey +
                " must be the uint32 alignment the writer was made with (" +
                std::to_string(alignment_) + ")");
  }
  for (auto& [k, v] : metadata_) {
    if (k == key) {
      v = std::move(value);
      return;
    }
  }
  metadata_.emplace_back(std::move(key), std::move(value));
}

void GgufWriter::add_tensor(std::string name, std::vector<int64_t> shape,
                            std::span<const float> values, TensorType stored_as) {
  const int64_t elements = check_shape(name, shape);
  if (static_cast<uint64_t>(elements) != values.size()) {
    throw Error("GGUF writer: tensor " + quote_for_message(name) + ": shape holds " +
                std::to_string(elements) + " elements but " + std::to_string(values.size()) +
                " values were given");
  }
  std::vector<uint8_t> bytes;
  switch (stored_as) {
    case TensorType::F32:
      bytes.resize(values.size() * 4);
      std::memcpy(bytes.data(), values.data(), bytes.size());
      break;
    case TensorType::F16:
    case TensorType::BF16:
      bytes.resize(values.size() * 2);
      for (size_t i = 0; i < values.size(); ++i) {
        const uint16_t h =
            stored_as == TensorType::F16 ? f32_to_f16(values[i]) : f32_to_bf16(values[i]);
        std::memcpy(bytes.data() + 2 * i, &h, 2);
      }
      break;
    default:
      throw Error("GGUF writer: tensor " + quote_for_message(name) + ": cannot convert floats to " +
                  std::string(tensor_type_name(stored_as)) + "; use add_raw_tensor");
  }
  add_raw_tensor(std::move(name), stored_as, std::move(shape), bytes);
}

void GgufWriter::add_raw_tensor(std::string name, TensorType type, std::vector<int64_t> shape,
                                std::span<const uint8_t> bytes) {
  check_name(name, "tensor name");
  const std::string what = "GGUF writer: tensor " + quote_for_message(name);
  const int64_t elements = check_shape(name, shape);
  const TensorTypeTraits& t = traits(type);
  if (shape[0] % t.block_elements != 0) {
    throw Error(what + ": row length " + std::to_string(shape[0]) + " is not a multiple of the " +
                std::string(t.name) + " block size " + std::to_string(t.block_elements));
  }
  const uint64_t expected = tensor_bytes(type, static_cast<uint64_t>(elements));
  if (bytes.size() != expected) {
    throw Error(what + ": " + std::to_string(bytes.size()) + " bytes given, " +
                std::to_string(expected) + " expected for " + std::to_string(elements) + " " +
                std::string(t.name) + " elements");
  }
  for (const PendingTensor& p : tensors_) {
    if (p.name == name) throw Error(what + ": added twice");
  }
  tensors_.push_back({std::move(name), type, std::move(shape), {bytes.begin(), bytes.end()}});
}

std::vector<uint8_t> GgufWriter::to_bytes() const {
  // Readers assume 32 unless the file says otherwise.
  std::vector<std::pair<std::string, GgufValue>> metadata = metadata_;
  const bool has_alignment_key = std::any_of(metadata.begin(), metadata.end(), [](const auto& kv) {
    return kv.first == gguf::kAlignmentKey;
  });
  if (alignment_ != gguf::kDefaultAlignment && !has_alignment_key) {
    metadata.emplace_back(gguf::kAlignmentKey, GgufValue::uint(GgufType::Uint32, alignment_));
  }

  std::vector<uint8_t> out;
  ByteWriter w(out);
  w.put(gguf::kMagic);
  w.put(gguf::kWriteVersion);
  w.put<uint64_t>(tensors_.size());
  w.put<uint64_t>(metadata.size());
  for (const auto& [key, value] : metadata) {
    w.put_string(key);
    w.put(static_cast<uint32_t>(value.type()));
    put_value(w, value);
  }

  uint64_t offset = 0;
  for (const PendingTensor& t : tensors_) {
    w.put_string(t.name);
    w.put(static_cast<uint32_t>(t.shape.size()));
    for (const int64_t d : t.shape) w.put(static_cast<uint64_t>(d));
    w.put(static_cast<uint32_t>(t.type));
    w.put(offset);
    offset += t.bytes.size();
    offset += (alignment_ - offset % alignment_) % alignment_;
  }
  w.pad_to(alignment_);
  for (const PendingTensor& t : tensors_) {
    w.put_bytes(t.bytes);
    w.pad_to(alignment_);
  }
  return out;
}

void GgufWriter::write(const std::string& path) const {
  const std::vector<uint8_t> bytes = to_bytes();
  const std::string temp = path + ".tmp." + std::to_string(::getpid());
  std::FILE* f = std::fopen(temp.c_str(), "wb");
  if (f == nullptr) throw Error(temp + ": cannot create: " + std::strerror(errno));
  const bool written = std::fwrite(bytes.data(), 1, bytes.size(), f) == bytes.size();
  const int write_errno = errno;
  const bool closed = std::fclose(f) == 0;
  if (!written || !closed) {
    std::remove(temp.c_str());
    throw Error(temp + ": cannot write: " + std::strerror(written ? errno : write_errno));
  }
  std::error_code ec;
  std::filesystem::rename(temp, path, ec);
  if (ec) {
    std::remove(temp.c_str());
    throw Error(path + ": cannot rename " + temp + " into place: " + ec.message());
  }
}

}  // namespace emovec
