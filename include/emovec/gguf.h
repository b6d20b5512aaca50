// GGUF files (versions 2 and 3): metadata, tensor infos, memory-mapped tensor data; and a writer.
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <variant>
#include <vector>

#include "emovec/tensor_type.h"

namespace emovec {

enum class GgufType : uint32_t {
  Uint8 = 0,
  Int8 = 1,
  Uint16 = 2,
  Int16 = 3,
  Uint32 = 4,
  Int32 = 5,
  Float32 = 6,
  Bool = 7,
  String = 8,
  Array = 9,
  Uint64 = 10,
  Int64 = 11,
  Float64 = 12,
};

std::string_view gguf_type_name(GgufType type);

// One metadata value: a scalar, a string, or an array of values of one type (arrays may nest).
class GgufValue {
 public:
  using Array = std::vector<GgufValue>;

  GgufValue() = default;
  static GgufValue uint(GgufType type, uint64_t v);
  static GgufValue sint(GgufType type, int64_t v);
  static GgufValue real(GgufType type, double v);
  static GgufValue boolean(bool v);
  static GgufValue string(std::string v);
  static GgufValue array(GgufType element_type, Array elements);

  GgufType type() const { return type_; }
  GgufType element_type() const { return element_type_; }  // for arrays
  bool is_array() const { return type_ == GgufType::Array; }
  bool is_string() const { return type_ == GgufType::String; }

  // Accessors convert between integer widths and throw Error on a kind mismatch
  // (e.g. a string read as a number) or on a value out of the target's range.
  uint64_t as_uint() const;
  int64_t as_int() const;
  double as_double() const;
  bool as_bool() const;
  const std::string& as_string() const;
  const Array& as_array() const;

  std::vector<std::string> as_string_array() const;
  std::vector<float> as_float_array() const;
  std::vector<int32_t> as_int32_array() const;

  bool operator==(const GgufValue& other) const = default;

 private:
  GgufType type_ = GgufType::Uint8;
  GgufType element_type_ = GgufType::Uint8;
  std::variant<uint64_t, int64_t, double, bool, std::string, Array> value_;
};

struct GgufTensorInfo {
  std::string name;
  TensorType type = TensorType::F32;
  std::vector<int64_t> shape;  // ggml order: shape[0] is the contiguous (fastest) dimension
  uint64_t offset = 0;         // from the start of the tensor data section
  uint64_t nbytes = 0;
  int64_t elements() const;
};

// A parsed GGUF file. Every count, length, offset and size is checked against the file before
// it is used; a bad file raises Error naming the field, never reads out of bounds.
class GgufFile {
 public:
  // Memory-maps `path`.
  static GgufFile open(const std::string& path);
  // Parses bytes held by the caller (copied). For tests and fuzzing.
  static GgufFile from_bytes(std::span<const uint8_t> bytes);

  GgufFile(GgufFile&&) noexcept;
  GgufFile& operator=(GgufFile&&) noexcept;
  ~GgufFile();

  const std::string& path() const;
  uint32_t version() const;
  uint64_t alignment() const;
  uint64_t data_offset() const;  // absolute offset of the tensor data section
  uint64_t file_size() const;

  const std::vector<std::pair<std::string, GgufValue>>& metadata() const;  // in file order
  const GgufValue* find(std::string_view key) const;
  const GgufValue& get(std::string_view key) const;  // throws Error naming a missing key

  const std::vector<GgufTensorInfo>& tensors() const;
  const GgufTensorInfo* find_tensor(std::string_view name) const;
  const GgufTensorInfo& tensor(std::string_view name) const;  // throws Error if absent
  const uint8_t* tensor_data(const GgufTensorInfo& info) const;
  std::vector<float> dequantize(const GgufTensorInfo& info) const;

 private:
  struct Impl;
  explicit GgufFile(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

// Writes GGUF version 3: metadata of every type and F32/F16 tensors (any type whose bytes the
// caller provides is accepted too).
class GgufWriter {
 public:
  explicit GgufWriter(uint64_t alignment = 32);
  void set(std::string key, GgufValue value);  // replaces an existing key, keeps order otherwise
  void add_tensor(std::string name, std::vector<int64_t> shape, std::span<const float> values,
                  TensorType stored_as = TensorType::F32);
  void add_raw_tensor(std::string name, TensorType type, std::vector<int64_t> shape,
                      std::span<const uint8_t> bytes);
  std::vector<uint8_t> to_bytes() const;
  void write(const std::string& path) const;  // to a temporary file, then renamed into place

 private:
  struct PendingTensor {
    std::string name;
    TensorType type;
    std::vector<int64_t> shape;
    std::vector<uint8_t> bytes;
  };
  uint64_t alignment_;
  std::vector<std::pair<std::string, GgufValue>> metadata_;
  std::vector<PendingTensor> tensors_;
};

}  // namespace emovec
