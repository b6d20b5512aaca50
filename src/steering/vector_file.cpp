// Emotion vectors on disk: GGUF control vectors in llama.cpp's layout with emovec's metadata,
// llama.cpp/repeng control vectors, and the paper's JSON files.
#include <algorithm>
#include <charconv>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <limits>
#include <nlohmann/json.hpp>
#include <optional>
#include <stdexcept>
#include <utility>

#include "emovec/emotion_vector.h"
#include "emovec/error.h"
#include "emovec/gguf.h"
#include "format/text_file.h"
#include "format/utf8.h"

namespace emovec {
namespace {

constexpr int64_t kMaxLayerIndex = 65535;
constexpr int64_t kMaxLayers = kMaxLayerIndex + 1;
constexpr int64_t kMaxWidth = int64_t{1} << 20;
// Bounds n_layer x width: far above real models (126 layers x 16384 = 2M floats), low enough that
// a small file naming one high layer index cannot make the reader allocate gigabytes.
constexpr int64_t kMaxFloats = int64_t{1} << 26;

constexpr uint32_t kFormatVersion = 1;
constexpr std::string_view kControlVectorArchitecture = "controlvector";
constexpr std::string_view kDirectionPrefix = "direction.";

constexpr const char* kKeyArchitecture = "general.architecture";
constexpr const char* kKeyName = "general.name";
constexpr const char* kKeyModelHint = "controlvector.model_hint";
constexpr const char* kKeyLayerCount = "controlvector.layer_count";
constexpr const char* kKeyVersion = "emovec.version";
constexpr const char* kKeyEmotion = "emovec.emotion";
constexpr const char* kKeySite = "emovec.site";
constexpr const char* kKeyLlamaCppSteers = "emovec.llama_cpp_steers";
constexpr const char* kKeySiteNote = "emovec.site_note";
constexpr const char* kKeyNLayer = "emovec.n_layer";
constexpr const char* kKeyWidth = "emovec.width";
constexpr const char* kKeyMethod = "emovec.method";
constexpr const char* kKeyMode = "emovec.mode";
constexpr const char* kKeyModelName = "emovec.model_name";
constexpr const char* kKeyModelSha256 = "emovec.model_sha256";
constexpr const char* kKeyQueriesSha256 = "emovec.queries_sha256";
constexpr const char* kKeyNQueries = "emovec.n_queries";
constexpr const char* kKeyHeldOut = "emovec.held_out";
constexpr const char* kKeyNeutralInstruction = "emovec.neutral_instruction";
constexpr const char* kKeyEmotionInstruction = "emovec.emotion_instruction";
constexpr const char* kKeyReplyTokens = "emovec.reply_tokens";
constexpr const char* kKeyPromptTokens = "emovec.prompt_tokens";
constexpr const char* kKeyDirection0 = "emovec.direction_0";

std::string str(int64_t v) { return std::to_string(v); }

void check_shape(int64_t n_layer, int64_t width, const std::string& what) {
  if (n_layer < 1 || n_layer > kMaxLayers) {
    throw Error(what + ": " + str(n_layer) + " layers, expected 1 to " + str(kMaxLayers));
  }
  if (width < 1 || width > kMaxWidth) {
    throw Error(what + ": width " + str(width) + ", expected 1 to " + str(kMaxWidth));
  }
  if (n_layer * width > kMaxFloats) {
    throw Error(what + ": " + str(n_layer) + " layers x width " + str(width) + " = " +
                str(n_layer * width) + " floats, more than the " + str(kMaxFloats) +
                " an emotion vector may hold");
  }
}

void check_finite(std::span<const float> values, const std::string& what) {
  for (size_t i = 0; i < values.size(); ++i) {
    if (!std::isfinite(values[i])) {
      throw Error(what + ": value " + std::to_string(i) + " is not finite (" +
                  std::to_string(values[i]) + ")");
    }
  }
}

// The layer index of a tensor named "direction.<k>" (k decimal, 0..kMaxLayerIndex).
int64_t direction_index(const std::string& name, const std::string& what) {
  if (!name.starts_with(kDirectionPrefix)) {
    throw Error(what + ": tensor " + quote_for_message(name) +
                " is not a control-vector direction (expected direction.<layer>)");
  }
  const std::string_view digits = std::string_view(name).substr(kDirectionPrefix.size());
  const bool decimal = !digits.empty() && std::all_of(digits.begin(), digits.end(),
                                                      [](char c) { return c >= '0' && c <= '9'; });
  if (!decimal) {
    throw Error(what + ": tensor " + quote_for_message(name) + ": layer index " +
                quote_for_message(digits) + " is not a decimal integer");
  }
  int64_t index = 0;
  const auto [end, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), index);
  if (ec != std::errc() || end != digits.data() + digits.size() || index > kMaxLayerIndex) {
    throw Error(what + ": tensor " + quote_for_message(name) + ": layer index is past " +
                str(kMaxLayerIndex));
  }
  return index;
}

std::string site_note(ActivationSite site) {
  if (site == ActivationSite::Residual) {
    return "emovec adds this vector to the residual stream (the output of block k), where "
           "llama.cpp adds control vectors, so llama.cpp steers the same place; llama.cpp has no "
           "direction for block 0 (kept in emovec.direction_0)";
  }
  return "emovec adds this vector to the " + std::string(activation_site_name(site)) +
         " activations of each block; llama.cpp adds control vectors to the residual stream "
         "(block output), so loading this file in llama.cpp steers a different place than emovec "
         "does";
}

GgufValue uint32_value(int64_t v, const char* key, const std::string& what) {
  if (v < 0 || v > static_cast<int64_t>(std::numeric_limits<uint32_t>::max())) {
    throw Error(what + ": " + key + " = " + str(v) + " does not fit in uint32");
  }
  return GgufValue::uint(GgufType::Uint32, static_cast<uint64_t>(v));
}

// Typed access to optional metadata: an absent key is nullopt, a key of the wrong type an Error
// naming it.
class MetadataReader {
 public:
  explicit MetadataReader(const GgufFile& file) : file_(file) {}

  [[noreturn]] void fail(std::string_view key, const std::string& message) const {
    throw Error(file_.path() + ": metadata key " + quote_for_message(key) + ": " + message);
  }

  std::optional<std::string> string(std::string_view key) const {
    const GgufValue* v = file_.find(key);
    if (v == nullptr) return std::nullopt;
    if (!v->is_string()) fail(key, "expected a string, found " + type_of(*v));
    return v->as_string();
  }

  std::optional<bool> boolean(std::string_view key) const {
    const GgufValue* v = file_.find(key);
    if (v == nullptr) return std::nullopt;
    if (v->type() != GgufType::Bool) fail(key, "expected a bool, found " + type_of(*v));
    return v->as_bool();
  }

  // An integer in [lo, hi], of any integer type.
  std::optional<int64_t> integer(std::string_view key, int64_t lo, int64_t hi) const {
    const GgufValue* v = file_.find(key);
    if (v == nullptr) return std::nullopt;
    int64_t out = 0;
    try {
      out = v->as_int();
    } catch (const Error& e) {
      fail(key, e.what());
    }
    if (out < lo || out > hi) {
      fail(key, str(out) + " is out of range (" + str(lo) + " to " + str(hi) + ")");
    }
    return out;
  }

  std::optional<std::vector<int32_t>> int32_array(std::string_view key) const {
    const GgufValue* v = file_.find(key);
    if (v == nullptr) return std::nullopt;
    if (!v->is_array()) fail(key, "expected an array of integers, found " + type_of(*v));
    try {
      return v->as_int32_array();
    } catch (const Error& e) {
      fail(key, e.what());
    }
  }

  std::optional<std::vector<float>> float32_array(std::string_view key) const {
    const GgufValue* v = file_.find(key);
    if (v == nullptr) return std::nullopt;
    if (!v->is_array() || v->element_type() != GgufType::Float32) {
      fail(key, "expected an array of float32, found " + type_of(*v));
    }
    return v->as_float_array();
  }

 private:
  static std::string type_of(const GgufValue& v) {
    if (!v.is_array()) return std::string(gguf_type_name(v.type()));
    return "an array of " + std::string(gguf_type_name(v.element_type()));
  }

  const GgufFile& file_;
};

struct DirectionTensor {
  int64_t index;
  const GgufTensorInfo* info;
};

// The direction tensors, checked for names, types, shapes and duplicates, before any data is read.
std::vector<DirectionTensor> direction_tensors(const GgufFile& file, int64_t& width) {
  const std::string& what = file.path();
  std::vector<DirectionTensor> out;
  const GgufTensorInfo* first = nullptr;
  for (const GgufTensorInfo& t : file.tensors()) {
    const int64_t index = direction_index(t.name, what);
    const std::string name = quote_for_message(t.name);
    if (t.shape.size() != 1) {
      throw Error(what + ": tensor " + name + " has " + std::to_string(t.shape.size()) +
                  " dimensions, expected 1 (one row of width floats)");
    }
    if (t.type != TensorType::F32 && t.type != TensorType::F16) {
      throw Error(what + ": tensor " + name + " has type " + std::string(tensor_type_name(t.type)) +
                  ", expected F32 or F16");
    }
    const int64_t w = t.shape[0];
    if (w < 1 || w > kMaxWidth) {
      throw Error(what + ": tensor " + name + " has width " + str(w) + ", expected 1 to " +
                  str(kMaxWidth));
    }
    if (first == nullptr) {
      first = &t;
    } else if (w != first->shape[0]) {
      throw Error(what + ": tensor " + name + " has width " + str(w) + ", tensor " +
                  quote_for_message(first->name) + " has width " + str(first->shape[0]));
    }
    out.push_back({index, &t});
  }
  std::sort(out.begin(), out.end(), [](const auto& a, const auto& b) { return a.index < b.index; });
  for (size_t i = 1; i < out.size(); ++i) {
    if (out[i].index == out[i - 1].index) {
      throw Error(what + ": tensors " + quote_for_message(out[i - 1].info->name) + " and " +
                  quote_for_message(out[i].info->name) + " both hold layer " + str(out[i].index));
    }
  }
  width = first == nullptr ? 0 : first->shape[0];
  return out;
}

VectorProvenance read_provenance(const MetadataReader& meta) {
  constexpr int64_t kMaxCount = std::numeric_limits<int64_t>::max();
  VectorProvenance p;
  p.method = meta.string(kKeyMethod).value_or("");
  p.mode = meta.string(kKeyMode).value_or("");
  p.model_name = meta.string(kKeyModelName).value_or("");
  p.model_sha256 = meta.string(kKeyModelSha256).value_or("");
  p.queries_sha256 = meta.string(kKeyQueriesSha256).value_or("");
  p.n_queries = meta.integer(kKeyNQueries, 0, kMaxCount).value_or(0);
  if (const auto held_out = meta.int32_array(kKeyHeldOut)) {
    for (const int32_t id : *held_out) {
      if (id < 0) meta.fail(kKeyHeldOut, "query id " + str(id) + " is negative");
      p.held_out.push_back(id);
    }
  }
  p.neutral_instruction = meta.string(kKeyNeutralInstruction).value_or("");
  p.emotion_instruction = meta.string(kKeyEmotionInstruction).value_or("");
  p.reply_tokens = meta.integer(kKeyReplyTokens, 0, kMaxCount).value_or(0);
  p.prompt_tokens = meta.integer(kKeyPromptTokens, 0, kMaxCount).value_or(0);
  return p;
}

// One layer of the paper's JSON: [[w numbers]] or [w numbers].
std::vector<float> paper_json_row(const nlohmann::json& value, const std::string& key) {
  const std::string what = "layer " + key;
  if (!value.is_array()) throw Error(what + ": expected [[numbers]], found " + value.type_name());
  const nlohmann::json* row = &value;
  if (!value.empty() && value.front().is_array()) {
    if (value.size() != 1) {
      throw Error(what + ": expected one row [[numbers]], found " + std::to_string(value.size()) +
                  " rows");
    }
    row = &value.front();
  }
  if (row->empty()) throw Error(what + ": the row is empty");
  if (static_cast<int64_t>(row->size()) > kMaxWidth) {
    throw Error(what + ": width " + std::to_string(row->size()) + ", expected at most " +
                str(kMaxWidth));
  }
  std::vector<float> out;
  out.reserve(row->size());
  for (size_t i = 0; i < row->size(); ++i) {
    const nlohmann::json& x = (*row)[i];
    if (!x.is_number()) {
      throw Error(what + ": value " + std::to_string(i) + " is not a number (found " +
                  x.type_name() + ")");
    }
    const auto f = static_cast<float>(x.get<double>());
    if (!std::isfinite(f)) {
      throw Error(what + ": value " + std::to_string(i) + " (" + x.dump() +
                  ") is not a finite float32");
    }
    out.push_back(f);
  }
  return out;
}

// A key of the paper's JSON as a layer number: decimal, no sign, no leading zeros.
std::optional<int64_t> layer_key(const std::string& key) {
  if (key.empty() || key.size() > 5 || (key.size() > 1 && key[0] == '0')) return std::nullopt;
  int64_t l = 0;
  const auto [end, ec] = std::from_chars(key.data(), key.data() + key.size(), l);
  if (ec != std::errc() || end != key.data() + key.size()) return std::nullopt;
  return l;
}

bool has_gguf_magic(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw Error(path + ": cannot open");
  char magic[4] = {};
  in.read(magic, sizeof magic);
  return in.gcount() == 4 && std::string_view(magic, 4) == "GGUF";
}

}  // namespace

std::span<const float> EmotionVector::layer(int64_t l) const {
  if (l < 0 || l >= n_layer || directions.size() != static_cast<size_t>(n_layer * width)) {
    throw std::out_of_range("EmotionVector::layer(" + str(l) + ") of a vector with " +
                            str(n_layer) + " layers");
  }
  return {directions.data() + l * width, static_cast<size_t>(width)};
}

std::span<float> EmotionVector::layer(int64_t l) {
  const std::span<const float> row = std::as_const(*this).layer(l);
  return {directions.data() + (row.data() - directions.data()), row.size()};
}

double EmotionVector::layer_norm(int64_t l) const {
  double sum = 0;
  for (const float x : layer(l)) sum += static_cast<double>(x) * x;
  return std::sqrt(sum);
}

EmotionVector make_emotion_vector(std::string emotion, ActivationSite site, int64_t n_layer,
                                  int64_t width) {
  check_shape(n_layer, width, "emotion vector " + quote_for_message(emotion));
  EmotionVector v;
  v.emotion = std::move(emotion);
  v.site = site;
  v.n_layer = n_layer;
  v.width = width;
  v.directions.assign(static_cast<size_t>(n_layer * width), 0.0f);
  return v;
}

void check_vector_fits(const EmotionVector& v, int64_t n_layer, int64_t n_embd,
                       const std::string& what) {
  if (v.n_layer < 1 || v.width < 1 ||
      v.directions.size() != static_cast<size_t>(v.n_layer) * static_cast<size_t>(v.width)) {
    throw Error(what + ": vector holds " + std::to_string(v.directions.size()) + " floats, not " +
                str(v.n_layer) + " layers x width " + str(v.width));
  }
  if (v.width != n_embd) {
    throw Error(what + ": vector width " + str(v.width) + " does not fit the model's width " +
                str(n_embd));
  }
  if (v.exact_layer_count ? v.n_layer != n_layer : v.n_layer > n_layer) {
    throw Error(what + ": vector has " + str(v.n_layer) + " layers, the model has " + str(n_layer));
  }
}

const EmotionVector& find_emotion_vector(std::span<const EmotionVector> vectors,
                                         std::string_view emotion, int64_t n_layer,
                                         int64_t n_embd) {
  const EmotionVector* found = nullptr;
  std::string known;
  for (const EmotionVector& v : vectors) {
    if (found == nullptr && v.emotion == emotion) found = &v;
    if (known.find(v.emotion) != std::string::npos) continue;
    known += known.empty() ? "" : ", ";
    known += v.emotion;
  }
  if (found == nullptr) {
    throw Error("no vector for the emotion '" + std::string(emotion) + "'" +
                (known.empty() ? std::string(" (no vectors are loaded: give --ev FILE)")
                               : " (loaded: " + known + ")"));
  }
  check_vector_fits(*found, n_layer, n_embd, "the vector for '" + std::string(emotion) + "'");
  return *found;
}

void save_control_vector(const EmotionVector& v, const std::string& path) {
  check_shape(v.n_layer, v.width, path);
  if (v.directions.size() != static_cast<size_t>(v.n_layer * v.width)) {
    throw Error(path + ": vector holds " + std::to_string(v.directions.size()) + " floats, not " +
                str(v.n_layer) + " layers x width " + str(v.width));
  }
  for (int64_t l = 0; l < v.n_layer; ++l) check_finite(v.layer(l), path + ": layer " + str(l));

  GgufWriter w;
  w.set(kKeyArchitecture, GgufValue::string(std::string(kControlVectorArchitecture)));
  w.set(kKeyName, GgufValue::string(v.emotion));
  w.set(kKeyModelHint, GgufValue::string(v.model_hint));
  w.set(kKeyLayerCount, uint32_value(v.n_layer, kKeyLayerCount, path));
  w.set(kKeyVersion, GgufValue::uint(GgufType::Uint32, kFormatVersion));
  w.set(kKeyEmotion, GgufValue::string(v.emotion));
  w.set(kKeySite, GgufValue::string(std::string(activation_site_name(v.site))));
  w.set(kKeyLlamaCppSteers, GgufValue::boolean(v.site == ActivationSite::Residual));
  w.set(kKeySiteNote, GgufValue::string(site_note(v.site)));
  // Without emovec.n_layer a reader takes the layer count as a lower bound, as for llama.cpp's
  // own files, so vectors imported from them keep that meaning.
  if (v.exact_layer_count) w.set(kKeyNLayer, uint32_value(v.n_layer, kKeyNLayer, path));
  w.set(kKeyWidth, uint32_value(v.width, kKeyWidth, path));

  const VectorProvenance& p = v.provenance;
  const auto set_string = [&w](const char* key, const std::string& value) {
    if (!value.empty()) w.set(key, GgufValue::string(value));
  };
  const auto set_count = [&w, &path](const char* key, int64_t value) {
    if (value != 0) w.set(key, uint32_value(value, key, path));
  };
  set_string(kKeyMethod, p.method);
  set_string(kKeyMode, p.mode);
  set_string(kKeyModelName, p.model_name);
  set_string(kKeyModelSha256, p.model_sha256);
  set_string(kKeyQueriesSha256, p.queries_sha256);
  set_count(kKeyNQueries, p.n_queries);
  if (!p.held_out.empty()) {
    GgufValue::Array ids;
    ids.reserve(p.held_out.size());
    for (const int64_t id : p.held_out) {
      if (id < 0 || id > std::numeric_limits<int32_t>::max()) {
        throw Error(path + ": " + kKeyHeldOut + ": query id " + str(id) + " does not fit in int32");
      }
      ids.push_back(GgufValue::sint(GgufType::Int32, id));
    }
    w.set(kKeyHeldOut, GgufValue::array(GgufType::Int32, std::move(ids)));
  }
  set_string(kKeyNeutralInstruction, p.neutral_instruction);
  set_string(kKeyEmotionInstruction, p.emotion_instruction);
  set_count(kKeyReplyTokens, p.reply_tokens);
  set_count(kKeyPromptTokens, p.prompt_tokens);

  GgufValue::Array row0;
  row0.reserve(static_cast<size_t>(v.width));
  for (const float x : v.layer(0)) row0.push_back(GgufValue::real(GgufType::Float32, x));
  w.set(kKeyDirection0, GgufValue::array(GgufType::Float32, std::move(row0)));

  for (int64_t l = 1; l < v.n_layer; ++l) {
    w.add_tensor(std::string(kDirectionPrefix) + str(l), {v.width}, v.layer(l));
  }
  w.write(path);
}

EmotionVector control_vector_from_gguf(const GgufFile& file, const std::string& fallback_name) {
  const std::string& what = file.path();
  const MetadataReader meta(file);

  const auto architecture = meta.string(kKeyArchitecture);
  if (!architecture) throw Error(what + ": not a control vector (no general.architecture)");
  if (*architecture != kControlVectorArchitecture) {
    throw Error(what + ": not a control vector (general.architecture is " +
                quote_for_message(*architecture) + ")");
  }
  if (const auto version = meta.integer(kKeyVersion, 0, std::numeric_limits<int64_t>::max());
      version && *version > kFormatVersion) {
    throw Error(what + ": written by a newer emovec (format version " + str(*version) +
                ", this build reads up to " + str(kFormatVersion) + ")");
  }

  int64_t width = 0;
  const std::vector<DirectionTensor> tensors = direction_tensors(file, width);
  const auto width_key = meta.integer(kKeyWidth, 1, kMaxWidth);
  const auto row0 = meta.float32_array(kKeyDirection0);
  if (width_key) {
    if (width != 0 && *width_key != width) {
      meta.fail(kKeyWidth,
                "says " + str(*width_key) + ", the direction tensors have width " + str(width));
    }
    width = *width_key;
  }
  if (row0) {
    if (width != 0 && static_cast<int64_t>(row0->size()) != width) {
      meta.fail(kKeyDirection0, "holds " + std::to_string(row0->size()) +
                                    " floats, expected the width " + str(width));
    }
    if (row0->empty()) meta.fail(kKeyDirection0, "is empty");
    width = static_cast<int64_t>(row0->size());
    if (!tensors.empty() && tensors.front().index == 0) {
      throw Error(what + ": both tensor 'direction.0' and " + kKeyDirection0 + " hold layer 0");
    }
  }
  if (width == 0) throw Error(what + ": no direction tensors");

  const int64_t max_index = tensors.empty() ? 0 : tensors.back().index;
  const auto n_layer_key = meta.integer(kKeyNLayer, 1, kMaxLayers);
  if (n_layer_key && max_index >= *n_layer_key) {
    throw Error(what + ": tensor " + quote_for_message(tensors.back().info->name) +
                " is past the last layer (" + kKeyNLayer + " is " + str(*n_layer_key) + ")");
  }

  EmotionVector v;
  v.n_layer = n_layer_key.value_or(max_index + 1);
  v.width = width;
  check_shape(v.n_layer, v.width, what);
  v.exact_layer_count = n_layer_key.has_value();
  v.source = n_layer_key ? "emovec" : "control-vector";
  v.emotion = meta.string(kKeyEmotion).value_or(fallback_name);
  v.model_hint = meta.string(kKeyModelHint).value_or("");
  if (const auto site = meta.string(kKeySite)) {
    try {
      v.site = parse_activation_site(*site);
    } catch (const Error& e) {
      meta.fail(kKeySite, e.what());
    }
  } else {
    v.site = ActivationSite::Residual;
  }
  // Derived from the site; read only to check their types.
  (void)meta.boolean(kKeyLlamaCppSteers);
  (void)meta.string(kKeySiteNote);
  v.provenance = read_provenance(meta);

  v.directions.assign(static_cast<size_t>(v.n_layer * v.width), 0.0f);
  if (row0) {
    check_finite(*row0, what + ": " + kKeyDirection0);
    std::copy(row0->begin(), row0->end(), v.layer(0).begin());
  }
  for (const DirectionTensor& t : tensors) {
    const std::vector<float> row = file.dequantize(*t.info);
    check_finite(row, what + ": tensor " + quote_for_message(t.info->name));
    std::copy(row.begin(), row.end(), v.layer(t.index).begin());
  }
  return v;
}

std::string to_paper_json(const EmotionVector& v) {
  nlohmann::ordered_json doc = nlohmann::ordered_json::object();
  for (int64_t l = 0; l < v.n_layer; ++l) {
    nlohmann::ordered_json row = nlohmann::ordered_json::array();
    // Doubles printed shortest-exact, as Python prints a float32 tensor's tolist(): each reads
    // back as the same double, hence the same float.
    for (const float x : v.layer(l)) row.push_back(static_cast<double>(x));
    doc[str(l)] = nlohmann::ordered_json::array({std::move(row)});
  }
  return doc.dump();
}

EmotionVector from_paper_json(std::string_view text, const std::string& emotion) {
  nlohmann::json doc;
  try {
    doc = nlohmann::json::parse(text.begin(), text.end());
  } catch (const nlohmann::json::exception& e) {
    throw Error(std::string("not valid JSON: ") + e.what());
  }
  if (!doc.is_object()) {
    throw Error(std::string("expected the paper's JSON object {\"0\": [[numbers]], ...}, found ") +
                doc.type_name());
  }
  if (doc.empty()) throw Error("the JSON object holds no layers");
  const auto n_layer = static_cast<int64_t>(doc.size());
  for (const auto& [key, value] : doc.items()) {
    const std::optional<int64_t> l = layer_key(key);
    if (!l) {
      throw Error("key " + quote_for_message(key) + " is not a layer number (keys are \"0\" to \"" +
                  str(n_layer - 1) + "\")");
    }
  }
  std::vector<std::vector<float>> rows;
  rows.reserve(static_cast<size_t>(n_layer));
  for (int64_t l = 0; l < n_layer; ++l) {
    const auto it = doc.find(str(l));
    if (it == doc.end()) {
      throw Error("layer " + str(l) + " is missing: the keys of " + str(n_layer) +
                  " layers must be \"0\" to \"" + str(n_layer - 1) + "\" without gaps");
    }
    rows.push_back(paper_json_row(*it, str(l)));
    if (rows.back().size() != rows.front().size()) {
      throw Error("layer " + str(l) + " has " + std::to_string(rows.back().size()) +
                  " values, layer 0 has " + std::to_string(rows.front().size()));
    }
  }
  EmotionVector v = make_emotion_vector(emotion, ActivationSite::AttentionOut, n_layer,
                                        static_cast<int64_t>(rows.front().size()));
  for (int64_t l = 0; l < n_layer; ++l) {
    std::copy(rows[l].begin(), rows[l].end(), v.layer(l).begin());
  }
  v.exact_layer_count = true;
  v.source = "paper-json";
  return v;
}

EmotionVector load_emotion_vector(const std::string& path) {
  namespace fs = std::filesystem;
  std::error_code ec;
  const fs::file_status status = fs::status(path, ec);
  if (!fs::exists(status)) throw Error(path + ": no such file");
  if (fs::is_directory(status)) throw Error(path + ": is a folder, not a vector file");
  const std::string stem = fs::path(path).stem().string();
  if (has_gguf_magic(path)) return control_vector_from_gguf(GgufFile::open(path), stem);
  try {
    return from_paper_json(read_text_file(path), stem);
  } catch (const Error& e) {
    throw Error(path + ": " + e.what());
  }
}

std::vector<EmotionVector> load_emotion_vectors(const std::vector<std::string>& paths) {
  namespace fs = std::filesystem;
  std::vector<EmotionVector> out;
  for (const std::string& path : paths) {
    std::error_code ec;
    if (!fs::is_directory(path, ec)) {
      out.push_back(load_emotion_vector(path));
      continue;
    }
    std::vector<fs::path> files;
    for (fs::directory_iterator it(path, ec), end; !ec && it != end; it.increment(ec)) {
      const fs::path& p = it->path();
      const std::string ext = p.extension().string();
      std::error_code file_ec;
      if ((ext == ".gguf" || ext == ".json") && fs::is_regular_file(p, file_ec)) {
        files.push_back(p);
      }
    }
    if (ec) throw Error(path + ": cannot list the folder: " + ec.message());
    if (files.empty()) throw Error(path + ": the folder holds no .gguf or .json vector files");
    std::sort(files.begin(), files.end(),
              [](const fs::path& a, const fs::path& b) { return a.filename() < b.filename(); });
    for (const fs::path& p : files) out.push_back(load_emotion_vector(p.string()));
  }
  return out;
}

}  // namespace emovec
