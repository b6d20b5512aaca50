// safetensors files: a JSON header of tensor entries followed by raw little-endian data.
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "emovec/tensor_type.h"

namespace emovec {

struct SafetensorsTensor {
  std::string name;
  std::string dtype;           // as written in the file: "F32", "F16", "BF16", ...
  TensorType type;             // F32, F16, BF16, F64, I8, I16, I32 or I64 (others refused at open)
  std::vector<int64_t> shape;  // row-major as written (last dimension contiguous)
  uint64_t begin = 0;          // offsets within the data section
  uint64_t end = 0;
};

class SafetensorsFile {
 public:
  static SafetensorsFile open(const std::string& path);  // memory-mapped
  static SafetensorsFile from_bytes(std::span<const uint8_t> bytes);

  SafetensorsFile(SafetensorsFile&&) noexcept;
  SafetensorsFile& operator=(SafetensorsFile&&) noexcept;
  ~SafetensorsFile();

  const std::string& path() const;
  const std::vector<SafetensorsTensor>& tensors() const;
  const SafetensorsTensor* find_tensor(std::string_view name) const;
  const uint8_t* tensor_data(const SafetensorsTensor& t) const;
  const std::vector<std::pair<std::string, std::string>>& metadata() const;  // "__metadata__"

 private:
  struct Impl;
  explicit SafetensorsFile(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace emovec
