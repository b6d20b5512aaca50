#include "format/mapped_file.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <utility>

#include "emovec/error.h"

namespace emovec {
namespace {

[[noreturn]] void throw_system_error(const std::string& path, const char* what, int error) {
  throw Error(path + ": cannot " + what + ": " + std::strerror(error));
}

// Closes the descriptor on every path out of map(); the mapping outlives it.
class FileDescriptor {
 public:
  explicit FileDescriptor(int fd) : fd_(fd) {}
  FileDescriptor(const FileDescriptor&) = delete;
  FileDescriptor& operator=(const FileDescriptor&) = delete;
  ~FileDescriptor() {
    if (fd_ >= 0) ::close(fd_);
  }
  int get() const { return fd_; }

 private:
  int fd_;
};

}  // namespace

MappedFile MappedFile::map(const std::string& path) {
  FileDescriptor fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (fd.get() < 0) throw_system_error(path, "open", errno);
  struct stat st {};
  if (::fstat(fd.get(), &st) != 0) throw_system_error(path, "stat", errno);
  if (S_ISDIR(st.st_mode)) throw Error(path + ": is a directory, expected a file");
  if (!S_ISREG(st.st_mode)) throw Error(path + ": is not a regular file");
  MappedFile file;
  file.size_ = static_cast<uint64_t>(st.st_size);
  if (file.size_ == 0) return file;  // mmap refuses empty files; parsers report "too small"
  void* addr =
      ::mmap(nullptr, static_cast<size_t>(file.size_), PROT_READ, MAP_PRIVATE, fd.get(), 0);
  if (addr == MAP_FAILED) throw_system_error(path, "mmap", errno);
  file.data_ = static_cast<const uint8_t*>(addr);
  file.mapped_ = true;
  return file;
}

MappedFile MappedFile::copy_of(std::span<const uint8_t> bytes) {
  MappedFile file;
  file.copy_.assign(bytes.begin(), bytes.end());
  file.data_ = file.copy_.data();
  file.size_ = file.copy_.size();
  return file;
}

MappedFile::MappedFile(MappedFile&& other) noexcept { *this = std::move(other); }

MappedFile& MappedFile::operator=(MappedFile&& other) noexcept {
  if (this != &other) {
    release();
    copy_ = std::move(other.copy_);
    mapped_ = std::exchange(other.mapped_, false);
    size_ = std::exchange(other.size_, 0);
    const uint8_t* other_data = std::exchange(other.data_, nullptr);
    // A moved vector keeps its buffer, but point at our own copy to make that plain.
    data_ = mapped_ ? other_data : (copy_.empty() ? nullptr : copy_.data());
  }
  return *this;
}

MappedFile::~MappedFile() { release(); }

void MappedFile::release() {
  if (mapped_) ::munmap(const_cast<uint8_t*>(data_), static_cast<size_t>(size_));
  mapped_ = false;
  data_ = nullptr;
  size_ = 0;
  copy_.clear();
}

}  // namespace emovec
