#include <algorithm>
#include <limits>
#include <map>
#include <string>

#include "emovec/error.h"
#include "emovec/gguf.h"
#include "format/element_count.h"
#include "format/gguf_constants.h"
#include "format/mapped_file.h"
#include "format/utf8.h"
#include "quant/half.h"

namespace emovec {
namespace {

constexpr const char* kMemoryPath = "<memory>";

std::string quote_name(std::string_view name) { return quote_for_message(name); }

// Reads the header of a GGUF file front to back. Every read is checked against the bytes left,
// and every failure names the file, the field and the numbers involved.
class Cursor {
 public:
  Cursor(const std::string& path, std::span<const uint8_t> bytes) : path_(path), bytes_(bytes) {}

  uint64_t offset() const { return pos_; }
  uint64_t remaining() const { return bytes_.size() - pos_; }

  [[noreturn]] void fail(const std::string& what) const { throw Error(path_ + ": " + what); }

  // `what` and `part` together name the field; they are joined only when reporting an error,
  // since this runs for every element of arrays with hundreds of thousands of entries.
  void need(uint64_t n, const std::string& what, const char* part = "") const {
    if (n > remaining()) {
      fail("truncated: " + what + part + " at offset " + std::to_string(pos_) + " needs " +
           std::to_string(n) + " bytes, the file has " + std::to_string(remaining()) + " left");
    }
  }

  template <typename T>
  T read(const std::string& what, const char* part = "") {
    need(sizeof(T), what, part);
    const T v = load_le<T>(bytes_.data() + pos_);
    pos_ += sizeof(T);
    return v;
  }

  // A length-prefixed string; `what` + `part` name it in errors ("metadata key 'x': string").
  std::string read_string(const std::string& what, const char* part) {
    const uint64_t length = read<uint64_t>(what, part);
    if (length > remaining()) {
      fail(what + part + " length " + std::to_string(length) + " exceeds the file (" +
           std::to_string(remaining()) + " bytes left at offset " + std::to_string(pos_) + ")");
    }
    std::string s(reinterpret_cast<const char*>(bytes_.data() + pos_), static_cast<size_t>(length));
    pos_ += length;
    return s;
  }

 private:
  const std::string& path_;
  std::span<const uint8_t> bytes_;
  uint64_t pos_ = 0;
};

bool is_known_value_type(uint32_t t) { return t <= static_cast<uint32_t>(GgufType::Float64); }

GgufValue read_scalar(Cursor& in, GgufType type, const std::string& what) {
  switch (type) {
    case GgufType::Uint8:
      return GgufValue::uint(type, in.read<uint8_t>(what));
    case GgufType::Uint16:
      return GgufValue::uint(type, in.read<uint16_t>(what));
    case GgufType::Uint32:
      return GgufValue::uint(type, in.read<uint32_t>(what));
    case GgufType::Uint64:
      return GgufValue::uint(type, in.read<uint64_t>(what));
    case GgufType::Int8:
      return GgufValue::sint(type, in.read<int8_t>(what));
    case GgufType::Int16:
      return GgufValue::sint(type, in.read<int16_t>(what));
    case GgufType::Int32:
      return GgufValue::sint(type, in.read<int32_t>(what));
    case GgufType::Int64:
      return GgufValue::sint(type, in.read<int64_t>(what));
    case GgufType::Float32:
      return GgufValue::real(type, in.read<float>(what));
    case GgufType::Float64:
      return GgufValue::real(type, in.read<double>(what));
    case GgufType::Bool:
      return GgufValue::boolean(in.read<uint8_t>(what) != 0);
    case GgufType::String:
      return GgufValue::string(in.read_string(what, ": string"));
    case GgufType::Array:
      break;
  }
  in.fail(what + ": not a scalar type");
}

GgufValue read_value(Cursor& in, uint32_t raw_type, const std::string& what, int depth);

GgufValue read_array(Cursor& in, const std::string& what, int depth) {
  if (depth >= gguf::kMaxArrayDepth) {
    in.fail(what + ": arrays nested deeper than " + std::to_string(gguf::kMaxArrayDepth) +
            " levels");
  }
  const auto element_type = in.read<uint32_t>(what, " element type");
  if (!is_known_value_type(element_type)) {
    in.fail(what + ": unknown array element type " + std::to_string(element_type));
  }
  const auto length = in.read<uint64_t>(what, " array length");
  // Each element takes at least this many bytes, which bounds the length before anything is
  // allocated for it.
  const uint64_t min_size = gguf::min_encoded_size(element_type);
  if (length > in.remaining() / min_size) {
    in.fail(what + ": array length " + std::to_string(length) + " exceeds the file (" +
            std::to_string(in.remaining()) + " bytes left at offset " +
            std::to_string(in.offset()) + ")");
  }
  GgufValue::Array elements;
  elements.reserve(static_cast<size_t>(length));
  for (uint64_t i = 0; i < length; ++i) {
    elements.push_back(read_value(in, element_type, what, depth + 1));
  }
  return GgufValue::array(static_cast<GgufType>(element_type), std::move(elements));
}

GgufValue read_value(Cursor& in, uint32_t raw_type, const std::string& what, int depth) {
  if (!is_known_value_type(raw_type)) {
    in.fail(what + ": unknown value type " + std::to_string(raw_type));
  }
  const auto type = static_cast<GgufType>(raw_type);
  if (type == GgufType::Array) return read_array(in, what, depth);
  return read_scalar(in, type, what);
}

uint64_t align_up(uint64_t offset, uint64_t alignment) {
  const uint64_t rest = offset % alignment;
  return rest == 0 ? offset : offset + (alignment - rest);
}

}  // namespace

int64_t GgufTensorInfo::elements() const {
  return checked_element_count(shape, "tensor " + quote_name(name));
}

struct GgufFile::Impl {
  std::string path;
  MappedFile file;
  uint32_t version = 0;
  uint64_t alignment = gguf::kDefaultAlignment;
  uint64_t data_offset = 0;
  std::vector<std::pair<std::string, GgufValue>> metadata;
  std::map<std::string, size_t, std::less<>> key_index;
  std::vector<GgufTensorInfo> tensors;
  std::map<std::string, size_t, std::less<>> tensor_index;

  [[noreturn]] void fail(const std::string& what) const { throw Error(path + ": " + what); }

  void parse();
  void parse_header(Cursor& in, uint64_t& tensor_count, uint64_t& kv_count);
  void parse_metadata(Cursor& in, uint64_t kv_count);
  void read_alignment();
  void parse_tensor_infos(Cursor& in, uint64_t tensor_count);
  GgufTensorInfo parse_tensor_info(Cursor& in, uint64_t index);
  void check_tensor_data();
  uint64_t data_size() const { return data_offset <= file.size() ? file.size() - data_offset : 0; }
};

void GgufFile::Impl::parse() {
  Cursor in(path, file.bytes());
  uint64_t tensor_count = 0, kv_count = 0;
  parse_header(in, tensor_count, kv_count);
  parse_metadata(in, kv_count);
  read_alignment();
  parse_tensor_infos(in, tensor_count);
  data_offset = align_up(in.offset(), alignment);
  check_tensor_data();
}

void GgufFile::Impl::parse_header(Cursor& in, uint64_t& tensor_count, uint64_t& kv_count) {
  if (file.size() < 4) {
    fail("not a GGUF file: " + std::to_string(file.size()) + " bytes, too short for the magic");
  }
  const auto magic = in.read<uint32_t>("magic");
  if (magic != gguf::kMagic) {
    std::string shown;
    for (int i = 0; i < 4; ++i) shown.push_back(static_cast<char>((magic >> (8 * i)) & 0xff));
    fail("not a GGUF file: bad magic " + quote_name(shown) + " (expected 'GGUF')");
  }
  version = in.read<uint32_t>("version");
  if (version == 1) fail("GGUF version 1 is not supported (emovec reads versions 2 and 3)");
  if (version != 2 && version != 3) {
    if ((version & 0xffff) == 0) fail("big-endian GGUF files are not supported");
    fail("unsupported GGUF version " + std::to_string(version) + " (emovec reads 2 and 3)");
  }
  tensor_count = in.read<uint64_t>("tensor count");
  kv_count = in.read<uint64_t>("metadata count");
  // Bound both counts by the smallest encoding of an entry before anything is sized by them.
  constexpr uint64_t kMinKvBytes = 8 + 4 + 1;
  constexpr uint64_t kMinTensorInfoBytes = 8 + 4 + 4 + 8;
  if (kv_count > in.remaining() / kMinKvBytes) {
    fail("metadata count " + std::to_string(kv_count) + " exceeds the file (" +
         std::to_string(in.remaining()) + " bytes left)");
  }
  if (tensor_count > in.remaining() / kMinTensorInfoBytes) {
    fail("tensor count " + std::to_string(tensor_count) + " exceeds the file (" +
         std::to_string(in.remaining()) + " bytes left)");
  }
}

void GgufFile::Impl::parse_metadata(Cursor& in, uint64_t kv_count) {
  metadata.reserve(static_cast<size_t>(kv_count));
  for (uint64_t i = 0; i < kv_count; ++i) {
    const std::string entry = "metadata entry " + std::to_string(i);
    std::string key = in.read_string(entry, ": key");
    if (!is_valid_utf8(key)) fail(entry + ": key " + quote_name(key) + " is not valid UTF-8");
    const std::string what = "metadata key " + quote_name(key);
    if (key_index.count(key) != 0) fail("duplicate " + what);
    const auto type = in.read<uint32_t>(what, ": value type");
    GgufValue value = read_value(in, type, what, 0);
    key_index.emplace(key, metadata.size());
    metadata.emplace_back(std::move(key), std::move(value));
  }
}

void GgufFile::Impl::read_alignment() {
  const auto it = key_index.find(gguf::kAlignmentKey);
  if (it == key_index.end()) return;
  const GgufValue& v = metadata[it->second].second;
  // gguf-py and ggml both insist on uint32 here.
  if (v.type() != GgufType::Uint32) {
    fail(std::string("metadata key '") + gguf::kAlignmentKey + "' has type " +
         std::string(gguf_type_name(v.type())) + ", expected uint32");
  }
  const uint64_t a = v.as_uint();
  if (a == 0 || (a & (a - 1)) != 0) {
    fail(std::string("metadata key '") + gguf::kAlignmentKey + "': alignment " + std::to_string(a) +
         " is not a power of two");
  }
  alignment = a;
}

void GgufFile::Impl::parse_tensor_infos(Cursor& in, uint64_t tensor_count) {
  tensors.reserve(static_cast<size_t>(tensor_count));
  for (uint64_t i = 0; i < tensor_count; ++i) {
    GgufTensorInfo info = parse_tensor_info(in, i);
    if (!tensor_index.emplace(info.name, tensors.size()).second) {
      fail("duplicate tensor name " + quote_name(info.name));
    }
    tensors.push_back(std::move(info));
  }
}

GgufTensorInfo GgufFile::Impl::parse_tensor_info(Cursor& in, uint64_t index) {
  GgufTensorInfo info;
  const std::string entry = "tensor info " + std::to_string(index);
  info.name = in.read_string(entry, ": name");
  if (!is_valid_utf8(info.name))
    fail(entry + ": name " + quote_name(info.name) + " is not valid UTF-8");
  const std::string what = "tensor " + quote_name(info.name);

  const auto n_dims = in.read<uint32_t>(what, ": n_dims");
  if (n_dims > static_cast<uint32_t>(gguf::kMaxDims)) {
    fail(what + ": n_dims " + std::to_string(n_dims) + " exceeds " +
         std::to_string(gguf::kMaxDims));
  }
  uint64_t elements = 1;
  for (uint32_t d = 0; d < n_dims; ++d) {
    const auto dim = in.read<uint64_t>(what + ": dimension " + std::to_string(d));
    if (dim == 0) fail(what + ": dimension " + std::to_string(d) + " is 0");
    if (dim > static_cast<uint64_t>(std::numeric_limits<int64_t>::max())) {
      fail(what + ": dimension " + std::to_string(d) + " is negative or too large (" +
           std::to_string(dim) + ")");
    }
    if (elements > static_cast<uint64_t>(std::numeric_limits<int64_t>::max()) / dim) {
      fail(what + ": element count overflows (dimension " + std::to_string(d) + " is " +
           std::to_string(dim) + ")");
    }
    elements *= dim;
    info.shape.push_back(static_cast<int64_t>(dim));
  }

  const auto type_id = in.read<uint32_t>(what, ": type");
  const auto type_traits = tensor_type_traits(type_id);
  if (!type_traits) fail(what + ": unknown tensor type id " + std::to_string(type_id));
  info.type = static_cast<TensorType>(type_id);
  const uint64_t row = info.shape.empty() ? 1 : static_cast<uint64_t>(info.shape[0]);
  if (row % static_cast<uint64_t>(type_traits->block_elements) != 0) {
    fail(what + ": row length " + std::to_string(row) + " is not a multiple of the " +
         std::string(type_traits->name) + " block size " +
         std::to_string(type_traits->block_elements));
  }
  const uint64_t blocks = elements / static_cast<uint64_t>(type_traits->block_elements);
  if (blocks >
      std::numeric_limits<uint64_t>::max() / static_cast<uint64_t>(type_traits->block_bytes)) {
    fail(what + ": byte size overflows (" + std::to_string(elements) + " elements of " +
         std::string(type_traits->name) + ")");
  }
  info.nbytes = blocks * static_cast<uint64_t>(type_traits->block_bytes);

  info.offset = in.read<uint64_t>(what, ": data offset");
  if (info.offset % alignment != 0) {
    fail(what + ": data offset " + std::to_string(info.offset) +
         " is not a multiple of the alignment " + std::to_string(alignment));
  }
  return info;
}

void GgufFile::Impl::check_tensor_data() {
  if (tensors.empty()) return;
  if (data_offset > file.size()) {
    fail("tensor data section starts at offset " + std::to_string(data_offset) +
         ", past the end of the file (" + std::to_string(file.size()) + " bytes)");
  }
  const uint64_t available = data_size();
  for (const GgufTensorInfo& t : tensors) {
    if (t.offset > available || t.nbytes > available - t.offset) {
      fail("tensor " + quote_name(t.name) + ": data at offset " + std::to_string(t.offset) + " (+" +
           std::to_string(t.nbytes) +
           " bytes) extends past the end of the file (data section has " +
           std::to_string(available) + " bytes)");
    }
  }
  std::vector<const GgufTensorInfo*> by_offset;
  by_offset.reserve(tensors.size());
  for (const GgufTensorInfo& t : tensors) by_offset.push_back(&t);
  std::sort(by_offset.begin(), by_offset.end(),
            [](const auto* a, const auto* b) { return a->offset < b->offset; });
  for (size_t i = 1; i < by_offset.size(); ++i) {
    const GgufTensorInfo& prev = *by_offset[i - 1];
    const GgufTensorInfo& cur = *by_offset[i];
    if (prev.offset + prev.nbytes > cur.offset) {
      fail("tensors " + quote_name(prev.name) + " (offset " + std::to_string(prev.offset) + ", " +
           std::to_string(prev.nbytes) + " bytes) and " + quote_name(cur.name) + " (offset " +
           std::to_string(cur.offset) + ") overlap");
    }
  }
}

GgufFile::GgufFile(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
GgufFile::GgufFile(GgufFile&&) noexcept = default;
GgufFile& GgufFile::operator=(GgufFile&&) noexcept = default;
GgufFile::~GgufFile() = default;

GgufFile GgufFile::open(const std::string& path) {
  auto impl = std::make_unique<Impl>();
  impl->path = path;
  impl->file = MappedFile::map(path);
  impl->parse();
  return GgufFile(std::move(impl));
}

GgufFile GgufFile::from_bytes(std::span<const uint8_t> bytes) {
  auto impl = std::make_unique<Impl>();
  impl->path = kMemoryPath;
  impl->file = MappedFile::copy_of(bytes);
  impl->parse();
  return GgufFile(std::move(impl));
}

const std::string& GgufFile::path() const { return impl_->path; }
uint32_t GgufFile::version() const { return impl_->version; }
uint64_t GgufFile::alignment() const { return impl_->alignment; }
uint64_t GgufFile::data_offset() const { return impl_->data_offset; }
uint64_t GgufFile::file_size() const { return impl_->file.size(); }

const std::vector<std::pair<std::string, GgufValue>>& GgufFile::metadata() const {
  return impl_->metadata;
}

const GgufValue* GgufFile::find(std::string_view key) const {
  const auto it = impl_->key_index.find(key);
  return it == impl_->key_index.end() ? nullptr : &impl_->metadata[it->second].second;
}

const GgufValue& GgufFile::get(std::string_view key) const {
  const GgufValue* v = find(key);
  if (v == nullptr) impl_->fail("metadata key " + quote_name(key) + " is missing");
  return *v;
}

const std::vector<GgufTensorInfo>& GgufFile::tensors() const { return impl_->tensors; }

const GgufTensorInfo* GgufFile::find_tensor(std::string_view name) const {
  const auto it = impl_->tensor_index.find(name);
  return it == impl_->tensor_index.end() ? nullptr : &impl_->tensors[it->second];
}

const GgufTensorInfo& GgufFile::tensor(std::string_view name) const {
  const GgufTensorInfo* t = find_tensor(name);
  if (t == nullptr) impl_->fail("no tensor named " + quote_name(name));
  return *t;
}

const uint8_t* GgufFile::tensor_data(const GgufTensorInfo& info) const {
  // The info may not come from this file; check it like one read from disk.
  const uint64_t available = impl_->data_size();
  if (info.offset > available || info.nbytes > available - info.offset) {
    impl_->fail("tensor " + quote_name(info.name) + ": data at offset " +
                std::to_string(info.offset) + " (+" + std::to_string(info.nbytes) +
                " bytes) lies outside the data section");
  }
  return impl_->file.data() + impl_->data_offset + info.offset;
}

std::vector<float> GgufFile::dequantize(const GgufTensorInfo& info) const {
  const uint8_t* data = tensor_data(info);
  const int64_t n = info.elements();
  const TensorTypeTraits& t = traits(info.type);
  if (!t.can_dequantize) {
    impl_->fail("tensor " + quote_name(info.name) + ": emovec cannot dequantize type " +
                std::string(t.name));
  }
  if (n < 0 || tensor_bytes(info.type, static_cast<uint64_t>(n)) != info.nbytes) {
    impl_->fail("tensor " + quote_name(info.name) + ": " + std::to_string(info.nbytes) +
                " bytes do not hold " + std::to_string(n) + " " + std::string(t.name) +
                " elements");
  }
  std::vector<float> out(static_cast<size_t>(n));
  emovec::dequantize(info.type, data, out.data(), n);
  return out;
}

}  // namespace emovec
