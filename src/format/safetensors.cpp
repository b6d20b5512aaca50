#include "emovec/safetensors.h"

#include <algorithm>
#include <limits>
#include <map>
#include <nlohmann/json.hpp>
#include <string>

#include "emovec/error.h"
#include "format/mapped_file.h"
#include "format/utf8.h"
#include "quant/half.h"

namespace emovec {
namespace {

using Json = nlohmann::ordered_json;

// The reference implementation's own limit; real headers are a few hundred KiB.
constexpr uint64_t kMaxHeaderBytes = 100ull << 20;
constexpr uint64_t kLengthPrefixBytes = 8;
constexpr const char* kMetadataKey = "__metadata__";

struct DtypeInfo {
  const char* name;
  TensorType type;
  uint64_t size;
};

// Integer and F64 tensors are read too: Hugging Face checkpoints carry buffers such as BERT's
// int64 position_ids next to the float weights.
constexpr DtypeInfo kDtypes[] = {
    {"F32", TensorType::F32, 4}, {"F16", TensorType::F16, 2}, {"BF16", TensorType::BF16, 2},
    {"F64", TensorType::F64, 8}, {"I8", TensorType::I8, 1},   {"I16", TensorType::I16, 2},
    {"I32", TensorType::I32, 4}, {"I64", TensorType::I64, 8},
};

const DtypeInfo* find_dtype(const std::string& name) {
  for (const DtypeInfo& d : kDtypes) {
    if (name == d.name) return &d;
  }
  return nullptr;
}

std::string quote_name(std::string_view s) { return quote_for_message(s); }

}  // namespace

struct SafetensorsFile::Impl {
  std::string path;
  MappedFile file;
  uint64_t data_start = 0;
  std::vector<SafetensorsTensor> tensors;
  std::map<std::string, size_t, std::less<>> index;
  std::vector<std::pair<std::string, std::string>> metadata;

  [[noreturn]] void fail(const std::string& what) const { throw Error(path + ": " + what); }
  uint64_t data_size() const { return file.size() - data_start; }

  void parse();
  Json parse_header();
  void read_metadata(const Json& entry);
  SafetensorsTensor read_tensor(const std::string& name, const Json& entry);
  uint64_t read_unsigned(const Json& v, const std::string& what);
  void check_overlaps();
};

void SafetensorsFile::Impl::parse() {
  const Json header = parse_header();
  if (!header.is_object()) fail("header is not a JSON object");
  for (const auto& [name, entry] : header.items()) {
    if (name == kMetadataKey) {
      read_metadata(entry);
      continue;
    }
    SafetensorsTensor t = read_tensor(name, entry);
    if (!index.emplace(t.name, tensors.size()).second) fail("duplicate tensor " + quote_name(name));
    tensors.push_back(std::move(t));
  }
  check_overlaps();
}

Json SafetensorsFile::Impl::parse_header() {
  if (file.size() < kLengthPrefixBytes) {
    fail("not a safetensors file: " + std::to_string(file.size()) +
         " bytes, too short for the header length");
  }
  const auto header_bytes = load_le<uint64_t>(file.data());
  const uint64_t after_prefix = file.size() - kLengthPrefixBytes;
  if (header_bytes > after_prefix) {
    fail("header length " + std::to_string(header_bytes) + " exceeds the file (" +
         std::to_string(after_prefix) + " bytes after the length)");
  }
  if (header_bytes > kMaxHeaderBytes) {
    fail("header length " + std::to_string(header_bytes) + " exceeds the limit of " +
         std::to_string(kMaxHeaderBytes) + " bytes");
  }
  data_start = kLengthPrefixBytes + header_bytes;
  const auto* begin = reinterpret_cast<const char*>(file.data() + kLengthPrefixBytes);
  try {
    return Json::parse(begin, begin + header_bytes);
  } catch (const Json::exception& e) {
    fail(std::string("header is not valid JSON: ") + e.what());
  }
}

void SafetensorsFile::Impl::read_metadata(const Json& entry) {
  if (!entry.is_object()) fail(std::string(kMetadataKey) + " is not a JSON object");
  for (const auto& [key, value] : entry.items()) {
    if (!value.is_string()) {
      fail(std::string(kMetadataKey) + " entry " + quote_name(key) + " is not a string");
    }
    metadata.emplace_back(key, value.get<std::string>());
  }
}

uint64_t SafetensorsFile::Impl::read_unsigned(const Json& v, const std::string& what) {
  if (v.is_number_unsigned()) return v.get<uint64_t>();
  if (v.is_number_integer()) fail(what + " is negative (" + v.dump() + ")");
  fail(what + " is not an integer");
}

SafetensorsTensor SafetensorsFile::Impl::read_tensor(const std::string& name, const Json& entry) {
  const std::string what = "tensor " + quote_name(name);
  if (!entry.is_object()) fail(what + ": entry is not a JSON object");
  SafetensorsTensor t;
  t.name = name;

  const auto dtype = entry.find("dtype");
  if (dtype == entry.end() || !dtype->is_string()) fail(what + ": missing string field 'dtype'");
  t.dtype = dtype->get<std::string>();
  const DtypeInfo* info = find_dtype(t.dtype);
  if (info == nullptr) {
    fail(what + ": dtype " + quote_name(t.dtype) +
         " is not supported (emovec reads F32, F16, BF16, F64, I8, I16, I32, I64)");
  }
  t.type = info->type;

  const auto shape = entry.find("shape");
  if (shape == entry.end() || !shape->is_array()) fail(what + ": missing array field 'shape'");
  uint64_t elements = 1;
  for (size_t d = 0; d < shape->size(); ++d) {
    const uint64_t dim = read_unsigned((*shape)[d], what + ": shape[" + std::to_string(d) + "]");
    if (dim > static_cast<uint64_t>(std::numeric_limits<int64_t>::max()) ||
        (dim != 0 && elements > static_cast<uint64_t>(std::numeric_limits<int64_t>::max()) / dim)) {
      fail(what + ": element count of shape " + shape->dump() + " overflows");
    }
    elements *= dim;
    t.shape.push_back(static_cast<int64_t>(dim));
  }

  const auto offsets = entry.find("data_offsets");
  if (offsets == entry.end() || !offsets->is_array() || offsets->size() != 2) {
    fail(what + ": missing field 'data_offsets' of two integers");
  }
  t.begin = read_unsigned((*offsets)[0], what + ": data_offsets[0]");
  t.end = read_unsigned((*offsets)[1], what + ": data_offsets[1]");
  if (t.begin > t.end) {
    fail(what + ": data_offsets [" + std::to_string(t.begin) + ", " + std::to_string(t.end) +
         "] are inverted");
  }
  if (t.end > data_size()) {
    fail(what + ": data_offsets [" + std::to_string(t.begin) + ", " + std::to_string(t.end) +
         "] extend past the data section (" + std::to_string(data_size()) + " bytes)");
  }
  if (elements > std::numeric_limits<uint64_t>::max() / info->size ||
      elements * info->size != t.end - t.begin) {
    fail(what + ": shape " + shape->dump() + " of " + t.dtype + " needs " +
         (elements > std::numeric_limits<uint64_t>::max() / info->size
              ? std::string("more than 2^64")
              : std::to_string(elements * info->size)) +
         " bytes but data_offsets span " + std::to_string(t.end - t.begin));
  }
  return t;
}

void SafetensorsFile::Impl::check_overlaps() {
  std::vector<const SafetensorsTensor*> by_offset;
  by_offset.reserve(tensors.size());
  for (const SafetensorsTensor& t : tensors) {
    if (t.end > t.begin) by_offset.push_back(&t);
  }
  std::sort(by_offset.begin(), by_offset.end(),
            [](const auto* a, const auto* b) { return a->begin < b->begin; });
  for (size_t i = 1; i < by_offset.size(); ++i) {
    if (by_offset[i - 1]->end > by_offset[i]->begin) {
      fail("tensors " + quote_name(by_offset[i - 1]->name) + " and " +
           quote_name(by_offset[i]->name) + " overlap");
    }
  }
}

SafetensorsFile::SafetensorsFile(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
SafetensorsFile::SafetensorsFile(SafetensorsFile&&) noexcept = default;
SafetensorsFile& SafetensorsFile::operator=(SafetensorsFile&&) noexcept = default;
SafetensorsFile::~SafetensorsFile() = default;

SafetensorsFile SafetensorsFile::open(const std::string& path) {
  auto impl = std::make_unique<Impl>();
  impl->path = path;
  impl->file = MappedFile::map(path);
  impl->parse();
  return SafetensorsFile(std::move(impl));
}

SafetensorsFile SafetensorsFile::from_bytes(std::span<const uint8_t> bytes) {
  auto impl = std::make_unique<Impl>();
  impl->path = "<memory>";
  impl->file = MappedFile::copy_of(bytes);
  impl->parse();
  return SafetensorsFile(std::move(impl));
}

const std::string& SafetensorsFile::path() const { return impl_->path; }
const std::vector<SafetensorsTensor>& SafetensorsFile::tensors() const { return impl_->tensors; }

const SafetensorsTensor* SafetensorsFile::find_tensor(std::string_view name) const {
  const auto it = impl_->index.find(name);
  return it == impl_->index.end() ? nullptr : &impl_->tensors[it->second];
}

const uint8_t* SafetensorsFile::tensor_data(const SafetensorsTensor& t) const {
  if (t.begin > t.end || t.end > impl_->data_size()) {
    impl_->fail("tensor " + quote_name(t.name) + ": data_offsets lie outside the data section");
  }
  return impl_->file.data() + impl_->data_start + t.begin;
}

const std::vector<std::pair<std::string, std::string>>& SafetensorsFile::metadata() const {
  return impl_->metadata;
}

}  // namespace emovec
