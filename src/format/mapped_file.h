// A read-only view of a whole file: memory-mapped when opened from a path, or a private copy of
// caller-owned bytes.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <vector>

namespace emovec {

class MappedFile {
 public:
  // Maps `path` read-only; throws Error naming the path and the system error.
  static MappedFile map(const std::string& path);
  static MappedFile copy_of(std::span<const uint8_t> bytes);

  MappedFile() = default;
  MappedFile(MappedFile&& other) noexcept;
  MappedFile& operator=(MappedFile&& other) noexcept;
  MappedFile(const MappedFile&) = delete;
  MappedFile& operator=(const MappedFile&) = delete;
  ~MappedFile();

  const uint8_t* data() const { return data_; }
  uint64_t size() const { return size_; }
  std::span<const uint8_t> bytes() const { return {data_, static_cast<size_t>(size_)}; }

 private:
  void release();

  const uint8_t* data_ = nullptr;
  uint64_t size_ = 0;
  bool mapped_ = false;
  std::vector<uint8_t> copy_;
};

}  // namespace emovec
