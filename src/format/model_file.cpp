#include "emovec/model_file.h"

#include <filesystem>
#include <string>

#include "emovec/error.h"
#include "format/element_count.h"
#include "format/model_file_impl.h"
#include "format/utf8.h"

namespace emovec {
namespace {

bool ends_with(std::string_view s, std::string_view suffix) {
  return s.size() >= suffix.size() && s.substr(s.size() - suffix.size()) == suffix;
}

// Files that live inside a Hugging Face folder and stand for it.
bool is_hf_member(const std::filesystem::path& p) {
  const std::string name = p.filename().string();
  return name == "config.json" || ends_with(name, ".safetensors") ||
         ends_with(name, ".safetensors.index.json");
}

}  // namespace

int64_t TensorView::elements() const {
  return checked_element_count(shape, "tensor " + quote_for_message(name));
}

const TensorView* ModelFile::find_tensor(std::string_view name) const {
  for (const TensorView& t : tensors()) {
    if (t.name == name) return &t;
  }
  return nullptr;
}

const TensorView& ModelFile::tensor(std::string_view name) const {
  const TensorView* t = find_tensor(name);
  if (t == nullptr) throw Error(path() + ": no tensor named " + quote_for_message(name));
  return *t;
}

std::vector<float> ModelFile::dequantize(const TensorView& t) const {
  const std::string what = path() + ": tensor " + quote_for_message(t.name);
  const int64_t n = t.elements();
  const TensorTypeTraits& tt = traits(t.type);
  if (!tt.can_dequantize) {
    throw Error(what + ": emovec cannot dequantize type " + std::string(tt.name));
  }
  if (n % tt.block_elements != 0 || tensor_bytes(t.type, static_cast<uint64_t>(n)) != t.nbytes) {
    throw Error(what + ": " + std::to_string(t.nbytes) + " bytes do not hold " + std::to_string(n) +
                " " + std::string(tt.name) + " elements");
  }
  if (t.data == nullptr && n > 0) throw Error(what + ": has no data");
  std::vector<float> out(static_cast<size_t>(n));
  if (n > 0) emovec::dequantize(t.type, t.data, out.data(), n);
  return out;
}

nlohmann::json summarise_array(std::string type, size_t length, nlohmann::json head) {
  return {{"type", std::move(type)}, {"length", length}, {"head", std::move(head)}};
}

std::unique_ptr<ModelFile> open_model_file(const std::string& path) {
  namespace fs = std::filesystem;
  std::error_code ec;
  const fs::file_status status = fs::status(path, ec);
  if (ec || !fs::exists(status)) throw Error(path + ": no such file or directory");
  if (fs::is_directory(status)) return open_hf_model(path);
  const fs::path p(path);
  if (is_hf_member(p)) {
    const fs::path parent = p.parent_path();
    return open_hf_model(parent.empty() ? std::string(".") : parent.string());
  }
  return open_gguf_model(path);
}

}  // namespace emovec
