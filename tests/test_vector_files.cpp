// Emotion vector files: GGUF control vectors (llama.cpp's layout, emovec's metadata), files as
// llama.cpp and repeng write them, the paper's JSON, and the refusals of malformed files.
#include <gtest/gtest.h>
#include <unistd.h>

#include <bit>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <limits>
#include <nlohmann/json.hpp>
#include <set>
#include <string>
#include <vector>

#include "emovec/emotion_vector.h"
#include "emovec/error.h"
#include "emovec/gguf.h"

namespace emovec {
namespace {

namespace fs = std::filesystem;

// A folder of its own under the system's temporary folder, removed with its files.
class TempDir {
 public:
  explicit TempDir(const std::string& tag)
      : path_(fs::temp_directory_path() /
              ("emovec-vector-files-" + tag + "-" + std::to_string(::getpid()))) {
    fs::remove_all(path_);
    fs::create_directories(path_);
  }
  ~TempDir() {
    std::error_code ec;
    fs::remove_all(path_, ec);
  }
  std::string file(const std::string& name) const { return (path_ / name).string(); }
  const fs::path& path() const { return path_; }

 private:
  fs::path path_;
};

void write_file(const std::string& path, const std::string& text) {
  std::ofstream out(path, std::ios::binary);
  out << text;
  ASSERT_TRUE(out.good()) << path;
}

// Deterministic values covering signs, magnitudes, subnormals and negative zero.
EmotionVector sample_vector(ActivationSite site, int64_t n_layer, int64_t width) {
  EmotionVector v = make_emotion_vector("joy", site, n_layer, width);
  uint32_t state = 12345;
  for (float& x : v.directions) {
    state = state * 1664525u + 1013904223u;
    x = (static_cast<float>(state >> 8) / 16777216.0f - 0.5f) * 3.0f;
  }
  v.layer(0)[0] = -0.0f;
  v.layer(0)[1] = std::numeric_limits<float>::denorm_min();
  v.layer(0)[2] = 1e-30f;
  v.layer(n_layer - 1)[0] = 3.4e38f;
  v.model_hint = "llama";
  v.source = "emovec";
  return v;
}

EmotionVector with_provenance(EmotionVector v) {
  VectorProvenance& p = v.provenance;
  p.method = "mean-diff";
  p.mode = "response";
  p.model_name = "SmolLM2-135M-Instruct";
  p.model_sha256 = std::string(64, 'a');
  p.queries_sha256 = std::string(64, 'b');
  p.n_queries = 400;
  p.held_out = {3, 17, 250};
  p.neutral_instruction = "Answer: {query}";
  p.emotion_instruction = "Answer with {emotion}: {query}";
  p.reply_tokens = 24;
  p.prompt_tokens = 0;
  return v;
}

std::vector<uint32_t> bits(const std::vector<float>& values) {
  std::vector<uint32_t> out;
  for (const float x : values) out.push_back(std::bit_cast<uint32_t>(x));
  return out;
}

void expect_same_vector(const EmotionVector& a, const EmotionVector& b) {
  EXPECT_EQ(a.emotion, b.emotion);
  EXPECT_EQ(a.site, b.site);
  EXPECT_EQ(a.n_layer, b.n_layer);
  EXPECT_EQ(a.width, b.width);
  EXPECT_EQ(a.exact_layer_count, b.exact_layer_count);
  EXPECT_EQ(a.model_hint, b.model_hint);
  EXPECT_EQ(a.source, b.source);
  EXPECT_EQ(bits(a.directions), bits(b.directions));
  const VectorProvenance& p = a.provenance;
  const VectorProvenance& q = b.provenance;
  EXPECT_EQ(p.method, q.method);
  EXPECT_EQ(p.mode, q.mode);
  EXPECT_EQ(p.model_name, q.model_name);
  EXPECT_EQ(p.model_sha256, q.model_sha256);
  EXPECT_EQ(p.queries_sha256, q.queries_sha256);
  EXPECT_EQ(p.n_queries, q.n_queries);
  EXPECT_EQ(p.held_out, q.held_out);
  EXPECT_EQ(p.neutral_instruction, q.neutral_instruction);
  EXPECT_EQ(p.emotion_instruction, q.emotion_instruction);
  EXPECT_EQ(p.reply_tokens, q.reply_tokens);
  EXPECT_EQ(p.prompt_tokens, q.prompt_tokens);
}

// A control vector as llama.cpp's cvector-generator and repeng write it.
GgufWriter llama_cpp_style(int64_t n_direction, int64_t width, TensorType type) {
  GgufWriter w;
  w.set("general.architecture", GgufValue::string("controlvector"));
  w.set("controlvector.model_hint", GgufValue::string("llama"));
  w.set("controlvector.layer_count", GgufValue::uint(GgufType::Uint32, n_direction));
  for (int64_t k = 1; k <= n_direction; ++k) {
    std::vector<float> row(width);
    for (int64_t i = 0; i < width; ++i)
      row[i] = static_cast<float>(k) + 0.25f * static_cast<float>(i) - 1.5f;
    w.add_tensor("direction." + std::to_string(k), {width}, row, type);
  }
  return w;
}

EmotionVector load_bytes(const GgufWriter& w, const std::string& name = "fallback") {
  const std::vector<uint8_t> bytes = w.to_bytes();
  return control_vector_from_gguf(GgufFile::from_bytes(bytes), name);
}

// The Error message of loading `w`, or "" if it loads.
std::string gguf_error(const GgufWriter& w) {
  try {
    load_bytes(w);
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}

std::string json_error(const std::string& text) {
  try {
    from_paper_json(text, "joy");
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}

std::string fits_error(const EmotionVector& v, int64_t n_layer, int64_t n_embd) {
  try {
    check_vector_fits(v, n_layer, n_embd, "joy.gguf");
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}

::testing::AssertionResult contains(const char* text_expr, const char* part_expr,
                                    const std::string& text, const std::string& part) {
  if (text.find(part) != std::string::npos) return ::testing::AssertionSuccess();
  return ::testing::AssertionFailure()
         << text_expr << " is \"" << text << "\", without " << part_expr << " (\"" << part << "\")";
}
#define EXPECT_CONTAINS(text, part) EXPECT_PRED_FORMAT2(contains, text, part)

TEST(EmotionVector, LayersAndNorms) {
  EmotionVector v = make_emotion_vector("anger", ActivationSite::Residual, 3, 4);
  EXPECT_EQ(v.directions, std::vector<float>(12, 0.0f));
  v.layer(1)[0] = 3.0f;
  v.layer(1)[3] = -4.0f;
  v.layer(2)[2] = 0.5f;
  EXPECT_EQ(v.directions[4], 3.0f);
  EXPECT_EQ(v.directions[7], -4.0f);
  EXPECT_EQ(v.directions[10], 0.5f);
  EXPECT_EQ(v.layer_norm(0), 0.0);
  EXPECT_DOUBLE_EQ(v.layer_norm(1), 5.0);
  EXPECT_DOUBLE_EQ(v.layer_norm(2), 0.5);
  EXPECT_THROW(v.layer(3), std::out_of_range);
  EXPECT_THROW(make_emotion_vector("x", ActivationSite::Residual, 0, 4), Error);
  EXPECT_THROW(make_emotion_vector("x", ActivationSite::Residual, 4, 0), Error);
}

TEST(EmotionVector, CheckVectorFits) {
  EmotionVector v = make_emotion_vector("joy", ActivationSite::AttentionOut, 24, 896);
  EXPECT_EQ(fits_error(v, 24, 896), "");
  EXPECT_EQ(fits_error(v, 24, 576),
            "joy.gguf: vector width 896 does not fit the model's width 576");
  EXPECT_EQ(fits_error(v, 30, 896), "joy.gguf: vector has 24 layers, the model has 30");
  EXPECT_EQ(fits_error(v, 20, 896), "joy.gguf: vector has 24 layers, the model has 20");
  // llama.cpp/repeng files name some layers only: a deeper model fits.
  v.exact_layer_count = false;
  EXPECT_EQ(fits_error(v, 30, 896), "");
  EXPECT_EQ(fits_error(v, 24, 896), "");
  EXPECT_EQ(fits_error(v, 20, 896), "joy.gguf: vector has 24 layers, the model has 20");
}

TEST(ControlVectorGguf, RoundTripIsBitExact) {
  const TempDir dir("roundtrip");
  for (const ActivationSite site :
       {ActivationSite::Residual, ActivationSite::AttentionOut, ActivationSite::MlpOut}) {
    const EmotionVector v = with_provenance(sample_vector(site, 6, 40));
    const std::string path = dir.file("joy.gguf");
    save_control_vector(v, path);
    const EmotionVector back = load_emotion_vector(path);
    SCOPED_TRACE(std::string(activation_site_name(site)));
    expect_same_vector(v, back);
    EXPECT_EQ(std::bit_cast<uint32_t>(back.layer(0)[0]), 0x80000000u);  // -0.0 kept
  }
}

TEST(ControlVectorGguf, RoundTripWithoutProvenance) {
  const TempDir dir("bare");
  EmotionVector v = sample_vector(ActivationSite::AttentionOut, 3, 8);
  v.emotion = "sadness";
  v.model_hint = "";
  const std::string path = dir.file("x.gguf");
  save_control_vector(v, path);
  const GgufFile file = GgufFile::open(path);
  for (const auto& [key, value] : file.metadata()) {
    EXPECT_FALSE(key == "emovec.method" || key == "emovec.n_queries" || key == "emovec.held_out" ||
                 key == "emovec.model_name")
        << key;
  }
  expect_same_vector(v, control_vector_from_gguf(file, "x"));
}

TEST(ControlVectorGguf, FileHasLlamaCppLayout) {
  const TempDir dir("layout");
  const EmotionVector v = with_provenance(sample_vector(ActivationSite::AttentionOut, 5, 24));
  const std::string path = dir.file("joy.gguf");
  save_control_vector(v, path);
  const GgufFile file = GgufFile::open(path);

  EXPECT_EQ(file.get("general.architecture").as_string(), "controlvector");
  EXPECT_EQ(file.get("general.name").as_string(), "joy");
  EXPECT_EQ(file.get("controlvector.model_hint").as_string(), "llama");
  EXPECT_EQ(file.get("controlvector.layer_count").type(), GgufType::Uint32);
  EXPECT_EQ(file.get("controlvector.layer_count").as_uint(), 5u);
  EXPECT_EQ(file.get("emovec.version").type(), GgufType::Uint32);
  EXPECT_EQ(file.get("emovec.version").as_uint(), 1u);
  EXPECT_EQ(file.get("emovec.emotion").as_string(), "joy");
  EXPECT_EQ(file.get("emovec.site").as_string(), "attn_out");
  EXPECT_FALSE(file.get("emovec.llama_cpp_steers").as_bool());
  EXPECT_CONTAINS(file.get("emovec.site_note").as_string(), "residual stream");
  EXPECT_CONTAINS(file.get("emovec.site_note").as_string(), "different place");
  EXPECT_EQ(file.get("emovec.n_layer").as_uint(), 5u);
  EXPECT_EQ(file.get("emovec.width").as_uint(), 24u);
  EXPECT_EQ(file.get("emovec.held_out").element_type(), GgufType::Int32);
  EXPECT_EQ(file.get("emovec.held_out").as_int32_array(), (std::vector<int32_t>{3, 17, 250}));
  const GgufValue& row0 = file.get("emovec.direction_0");
  EXPECT_EQ(row0.element_type(), GgufType::Float32);
  const std::vector<float> layer0(v.layer(0).begin(), v.layer(0).end());
  EXPECT_EQ(bits(row0.as_float_array()), bits(layer0));

  const std::set<std::string> expected_keys = {"general.architecture",
                                               "general.name",
                                               "controlvector.model_hint",
                                               "controlvector.layer_count",
                                               "emovec.version",
                                               "emovec.emotion",
                                               "emovec.site",
                                               "emovec.llama_cpp_steers",
                                               "emovec.site_note",
                                               "emovec.n_layer",
                                               "emovec.width",
                                               "emovec.method",
                                               "emovec.mode",
                                               "emovec.model_name",
                                               "emovec.model_sha256",
                                               "emovec.queries_sha256",
                                               "emovec.n_queries",
                                               "emovec.held_out",
                                               "emovec.neutral_instruction",
                                               "emovec.emotion_instruction",
                                               "emovec.reply_tokens",
                                               "emovec.direction_0"};
  std::set<std::string> keys;
  for (const auto& [key, value] : file.metadata()) keys.insert(key);
  EXPECT_EQ(keys, expected_keys);

  // llama.cpp: F32, 1-D, named direction.<k> for k >= 1, added to block k's output.
  ASSERT_EQ(file.tensors().size(), 4u);
  for (size_t i = 0; i < file.tensors().size(); ++i) {
    const GgufTensorInfo& t = file.tensors()[i];
    const auto k = static_cast<int64_t>(i + 1);
    EXPECT_EQ(t.name, "direction." + std::to_string(k));
    EXPECT_EQ(t.type, TensorType::F32);
    EXPECT_EQ(t.shape, (std::vector<int64_t>{24}));
    std::vector<float> stored(24);
    std::memcpy(stored.data(), file.tensor_data(t), 24 * sizeof(float));
    const std::vector<float> layer(v.layer(k).begin(), v.layer(k).end());
    EXPECT_EQ(bits(stored), bits(layer)) << t.name;
  }
  EXPECT_EQ(file.find_tensor("direction.0"), nullptr);
}

TEST(ControlVectorGguf, ResidualSiteIsSteeredByLlamaCpp) {
  const TempDir dir("resid");
  const std::string path = dir.file("r.gguf");
  save_control_vector(sample_vector(ActivationSite::Residual, 3, 4), path);
  const GgufFile file = GgufFile::open(path);
  EXPECT_EQ(file.get("emovec.site").as_string(), "resid");
  EXPECT_TRUE(file.get("emovec.llama_cpp_steers").as_bool());
}

TEST(ControlVectorGguf, ZeroRowsAreWrittenToo) {
  const TempDir dir("zeros");
  EmotionVector v = make_emotion_vector("base", ActivationSite::MlpOut, 4, 8);
  v.layer(2)[5] = 1.0f;
  const std::string path = dir.file("base.gguf");
  save_control_vector(v, path);
  const GgufFile file = GgufFile::open(path);
  ASSERT_EQ(file.tensors().size(), 3u);
  EXPECT_EQ(file.tensors()[2].name, "direction.3");
  const EmotionVector back = control_vector_from_gguf(file, "x");
  EXPECT_EQ(back.site, ActivationSite::MlpOut);
  EXPECT_EQ(bits(back.directions), bits(v.directions));
}

TEST(ControlVectorGguf, LlamaCppFileLoads) {
  for (const TensorType type : {TensorType::F32, TensorType::F16}) {
    const EmotionVector v = load_bytes(llama_cpp_style(3, 8, type), "calm");
    EXPECT_EQ(v.emotion, "calm");
    EXPECT_EQ(v.site, ActivationSite::Residual);
    EXPECT_FALSE(v.exact_layer_count);
    EXPECT_EQ(v.source, "control-vector");
    EXPECT_EQ(v.model_hint, "llama");
    EXPECT_EQ(v.n_layer, 4);
    EXPECT_EQ(v.width, 8);
    for (int64_t i = 0; i < 8; ++i) EXPECT_EQ(v.layer(0)[i], 0.0f);
    // Every value is a multiple of 0.25 under 8: exact in F16.
    for (int64_t k = 1; k <= 3; ++k) {
      for (int64_t i = 0; i < 8; ++i) {
        EXPECT_EQ(v.layer(k)[i], static_cast<float>(k) + 0.25f * static_cast<float>(i) - 1.5f)
            << k << " " << i;
      }
    }
    EXPECT_EQ(v.provenance.n_queries, 0);
    EXPECT_TRUE(v.provenance.method.empty());
  }
}

TEST(ControlVectorGguf, SparseLayersAndDirectionZero) {
  GgufWriter w;
  w.set("general.architecture", GgufValue::string("controlvector"));
  const std::vector<float> a = {1, 2}, b = {3, 4};
  w.add_tensor("direction.5", {2}, a);
  w.add_tensor("direction.0", {2}, b);
  const EmotionVector v = load_bytes(w);
  EXPECT_EQ(v.n_layer, 6);
  EXPECT_EQ(v.directions, (std::vector<float>{3, 4, 0, 0, 0, 0, 0, 0, 0, 0, 1, 2}));
  EXPECT_EQ(v.model_hint, "");
}

TEST(ControlVectorGguf, ImportedVectorKeepsItsLayerBound) {
  const TempDir dir("imported");
  const EmotionVector v = load_bytes(llama_cpp_style(5, 4, TensorType::F32), "calm");
  ASSERT_FALSE(v.exact_layer_count);
  const std::string path = dir.file("calm.gguf");
  save_control_vector(v, path);
  const EmotionVector back = load_emotion_vector(path);
  EXPECT_FALSE(back.exact_layer_count);
  EXPECT_EQ(back.n_layer, 6);
  EXPECT_EQ(bits(back.directions), bits(v.directions));
  EXPECT_EQ(back.site, ActivationSite::Residual);
}

TEST(ControlVectorGguf, Refusals) {
  {
    GgufWriter w = llama_cpp_style(2, 4, TensorType::F32);
    w.set("general.architecture", GgufValue::string("llama"));
    EXPECT_EQ(gguf_error(w), "<memory>: not a control vector (general.architecture is 'llama')");
  }
  {
    GgufWriter w;
    const std::vector<float> row = {1, 2};
    w.add_tensor("direction.1", {2}, row);
    EXPECT_CONTAINS(gguf_error(w), "not a control vector (no general.architecture)");
  }
  const auto with_tensor = [](const std::string& name, std::vector<int64_t> shape,
                              const std::vector<float>& values, TensorType type = TensorType::F32) {
    GgufWriter w = llama_cpp_style(2, 4, TensorType::F32);
    w.add_tensor(name, std::move(shape), values, type);
    return gguf_error(w);
  };
  const std::vector<float> four = {1, 2, 3, 4};
  EXPECT_CONTAINS(with_tensor("foo", {4}, four), "tensor 'foo' is not a control-vector direction");
  EXPECT_CONTAINS(with_tensor("direction.x", {4}, four),
                  "tensor 'direction.x': layer index 'x' is not a decimal integer");
  EXPECT_CONTAINS(with_tensor("direction.-3", {4}, four), "is not a decimal integer");
  EXPECT_CONTAINS(with_tensor("direction.", {4}, four), "is not a decimal integer");
  EXPECT_CONTAINS(with_tensor("direction.70000", {4}, four), "layer index is past 65535");
  EXPECT_CONTAINS(with_tensor("direction.3", {2, 2}, four),
                  "tensor 'direction.3' has 2 dimensions, expected 1");
  EXPECT_CONTAINS(with_tensor("direction.3", {2}, {1, 2}),
                  "tensor 'direction.3' has width 2, tensor 'direction.1' has width 4");
  EXPECT_CONTAINS(with_tensor("direction.01", {4}, four),
                  "tensors 'direction.1' and 'direction.01' both hold layer 1");
  const float nan = std::numeric_limits<float>::quiet_NaN();
  EXPECT_CONTAINS(with_tensor("direction.3", {4}, {1, nan, 3, 4}),
                  "tensor 'direction.3': value 1 is not finite");
  EXPECT_CONTAINS(with_tensor("direction.3", {4}, {1, 2, 3, 1e6f}, TensorType::F16),
                  "tensor 'direction.3': value 3 is not finite");
  {
    GgufWriter w = llama_cpp_style(2, 32, TensorType::F32);
    const std::vector<uint8_t> q8(34, 0);
    w.add_raw_tensor("direction.3", TensorType::Q8_0, {32}, q8);
    EXPECT_CONTAINS(gguf_error(w), "tensor 'direction.3' has type Q8_0, expected F32 or F16");
  }
}

TEST(ControlVectorGguf, RefusesBadEmovecMetadata) {
  const auto emovec_file = [] {
    GgufWriter w = llama_cpp_style(3, 4, TensorType::F32);
    w.set("emovec.n_layer", GgufValue::uint(GgufType::Uint32, 4));
    w.set("emovec.width", GgufValue::uint(GgufType::Uint32, 4));
    return w;
  };
  EXPECT_EQ(gguf_error(emovec_file()), "");
  {
    GgufWriter w = emovec_file();
    w.set("emovec.n_queries", GgufValue::string("400"));
    EXPECT_CONTAINS(gguf_error(w), "metadata key 'emovec.n_queries': expected an integer");
  }
  {
    GgufWriter w = emovec_file();
    w.set("emovec.method", GgufValue::uint(GgufType::Uint32, 1));
    EXPECT_CONTAINS(gguf_error(w), "metadata key 'emovec.method': expected a string");
  }
  {
    GgufWriter w = emovec_file();
    w.set("emovec.held_out", GgufValue::array(GgufType::String, {GgufValue::string("3")}));
    EXPECT_CONTAINS(gguf_error(w), "metadata key 'emovec.held_out'");
  }
  {
    GgufWriter w = emovec_file();
    w.set("emovec.site", GgufValue::string("nowhere"));
    EXPECT_CONTAINS(gguf_error(w), "metadata key 'emovec.site': unknown activation site");
  }
  {
    GgufWriter w = emovec_file();
    w.set("emovec.n_layer", GgufValue::uint(GgufType::Uint32, 3));
    EXPECT_CONTAINS(gguf_error(w), "tensor 'direction.3' is past the last layer");
  }
  {
    GgufWriter w = emovec_file();
    w.set("emovec.width", GgufValue::uint(GgufType::Uint32, 5));
    EXPECT_CONTAINS(gguf_error(w), "metadata key 'emovec.width': says 5");
  }
  {
    GgufWriter w = emovec_file();
    w.set("emovec.direction_0",
          GgufValue::array(GgufType::Float32, {GgufValue::real(GgufType::Float32, 1.0)}));
    EXPECT_CONTAINS(gguf_error(w),
                    "metadata key 'emovec.direction_0': holds 1 floats, expected the width 4");
  }
  {
    GgufWriter w = emovec_file();
    GgufValue::Array row(4, GgufValue::real(GgufType::Float32, 1.0));
    row[2] = GgufValue::real(GgufType::Float32, std::numeric_limits<double>::infinity());
    w.set("emovec.direction_0", GgufValue::array(GgufType::Float32, row));
    EXPECT_CONTAINS(gguf_error(w), "emovec.direction_0: value 2 is not finite");
  }
  {
    GgufWriter w = emovec_file();
    w.set("emovec.version", GgufValue::uint(GgufType::Uint32, 2));
    EXPECT_CONTAINS(gguf_error(w), "written by a newer emovec");
  }
}

// A file naming one high layer of a wide model would need gigabytes of zeros: refused before any
// allocation.
TEST(ControlVectorGguf, RefusesAbsurdShapes) {
  {
    GgufWriter w;
    w.set("general.architecture", GgufValue::string("controlvector"));
    const std::vector<float> row(size_t{1} << 20, 0.5f);
    w.add_tensor("direction.65535", {int64_t{1} << 20}, row);
    EXPECT_CONTAINS(gguf_error(w), "more than the");
  }
  {
    GgufWriter w = llama_cpp_style(1, 4, TensorType::F32);
    w.set("emovec.n_layer", GgufValue::uint(GgufType::Uint32, 1u << 20));
    EXPECT_CONTAINS(gguf_error(w), "metadata key 'emovec.n_layer'");
  }
}

TEST(ControlVectorGguf, TruncatedBytesAreErrors) {
  const TempDir dir("truncated");
  const std::string path = dir.file("joy.gguf");
  save_control_vector(with_provenance(sample_vector(ActivationSite::AttentionOut, 4, 16)), path);
  std::ifstream in(path, std::ios::binary);
  const std::vector<uint8_t> bytes((std::istreambuf_iterator<char>(in)),
                                   std::istreambuf_iterator<char>());
  const GgufFile whole = GgufFile::from_bytes(bytes);
  const GgufTensorInfo& last = whole.tensors().back();
  const uint64_t data_end = whole.data_offset() + last.offset + last.nbytes;
  ASSERT_LE(data_end, bytes.size());
  for (size_t n = 0; n < data_end; ++n) {
    const std::span<const uint8_t> prefix(bytes.data(), n);
    EXPECT_THROW(control_vector_from_gguf(GgufFile::from_bytes(prefix), "joy"), Error) << n;
  }
}

TEST(PaperJson, RoundTripIsBitExact) {
  EmotionVector v = sample_vector(ActivationSite::AttentionOut, 12, 33);
  v.model_hint = "";
  v.source = "paper-json";
  const std::string text = to_paper_json(v);
  const nlohmann::json doc = nlohmann::json::parse(text);
  ASSERT_TRUE(doc.is_object());
  ASSERT_EQ(doc.size(), 12u);
  for (int l = 0; l < 12; ++l) {
    const nlohmann::json& value = doc.at(std::to_string(l));
    ASSERT_EQ(value.size(), 1u);
    ASSERT_EQ(value[0].size(), 33u);
  }
  const EmotionVector back = from_paper_json(text, "joy");
  expect_same_vector(v, back);
}

TEST(PaperJson, ParsesHandWrittenFiles) {
  const EmotionVector v = from_paper_json(
      R"({"1": [[0.25, 0, -3]], "0": [[1e-3, -2.5, 7]], "2": [[1, 2, 3.5]]})", "fear");
  EXPECT_EQ(v.emotion, "fear");
  EXPECT_EQ(v.site, ActivationSite::AttentionOut);
  EXPECT_TRUE(v.exact_layer_count);
  EXPECT_EQ(v.source, "paper-json");
  EXPECT_EQ(v.n_layer, 3);
  EXPECT_EQ(v.width, 3);
  EXPECT_EQ(v.directions,
            (std::vector<float>{0.001f, -2.5f, 7.0f, 0.25f, 0.0f, -3.0f, 1.0f, 2.0f, 3.5f}));
  // A flat row per layer.
  const EmotionVector flat = from_paper_json(R"({"0": [1, 2], "1": [3, 4]})", "joy");
  EXPECT_EQ(flat.directions, (std::vector<float>{1, 2, 3, 4}));
  // Python writes float32 values as the doubles they are.
  const EmotionVector py = from_paper_json(R"({"0": [[0.10000000149011612]]})", "joy");
  EXPECT_EQ(py.directions[0], 0.1f);
}

TEST(PaperJson, Refusals) {
  EXPECT_CONTAINS(json_error(R"({"0": [[1, 2]], "2": [[3, 4]]})"),
                  "layer 1 is missing: the keys of 2 layers must be \"0\" to \"1\"");
  EXPECT_CONTAINS(json_error(R"({"0": [[1, 2]], "x": [[3, 4]]})"), "key 'x' is not a layer number");
  EXPECT_CONTAINS(json_error(R"({"0": [[1, 2]], "01": [[3, 4]]})"),
                  "key '01' is not a layer number");
  EXPECT_CONTAINS(json_error(R"({"0": [[1, 2]], "1": [[3, 4, 5]]})"),
                  "layer 1 has 3 values, layer 0 has 2");
  EXPECT_CONTAINS(json_error(R"([[1, 2], [3, 4]])"),
                  "expected the paper's JSON object {\"0\": [[numbers]], ...}, found array");
  EXPECT_CONTAINS(json_error("42"), "found number");
  EXPECT_CONTAINS(json_error(R"({"0": [[1, 2]], "1": [[3, )"), "not valid JSON");
  EXPECT_CONTAINS(json_error(R"({"0": [[1, NaN]]})"), "not valid JSON");
  EXPECT_CONTAINS(json_error("{}"), "holds no layers");
  EXPECT_CONTAINS(json_error(R"({"0": [[1, "2"]]})"), "layer 0: value 1 is not a number");
  EXPECT_CONTAINS(json_error(R"({"0": [[1, 2], [3, 4]]})"),
                  "layer 0: expected one row [[numbers]], found 2 rows");
  EXPECT_CONTAINS(json_error(R"({"0": [[]]})"), "layer 0: the row is empty");
  EXPECT_CONTAINS(json_error(R"({"0": {"a": 1}})"), "layer 0: expected [[numbers]]");
  EXPECT_CONTAINS(json_error(R"({"0": [[1, 1e39]]})"),
                  "layer 0: value 1 (1e+39) is not a finite float32");
}

TEST(LoadEmotionVector, ByContentWithTheStemAsName) {
  const TempDir dir("load");
  const std::vector<uint8_t> repeng = llama_cpp_style(2, 4, TensorType::F32).to_bytes();
  {
    std::ofstream out(dir.file("anger.gguf"), std::ios::binary);
    out.write(reinterpret_cast<const char*>(repeng.data()),
              static_cast<std::streamsize>(repeng.size()));
  }
  write_file(dir.file("sadness.json"), R"({"0": [[1, 2, 3, 4]], "1": [[5, 6, 7, 8]]})");
  // Content decides, not the extension.
  write_file(dir.file("disgust.gguf"), R"({"0": [[1]]})");

  const EmotionVector anger = load_emotion_vector(dir.file("anger.gguf"));
  EXPECT_EQ(anger.emotion, "anger");
  EXPECT_EQ(anger.source, "control-vector");
  const EmotionVector sadness = load_emotion_vector(dir.file("sadness.json"));
  EXPECT_EQ(sadness.emotion, "sadness");
  EXPECT_EQ(sadness.source, "paper-json");
  EXPECT_EQ(sadness.directions, (std::vector<float>{1, 2, 3, 4, 5, 6, 7, 8}));
  const EmotionVector disgust = load_emotion_vector(dir.file("disgust.gguf"));
  EXPECT_EQ(disgust.emotion, "disgust");
  EXPECT_EQ(disgust.source, "paper-json");

  const std::string missing = dir.file("nothing.gguf");
  try {
    load_emotion_vector(missing);
    ADD_FAILURE() << "loaded a missing file";
  } catch (const Error& e) {
    EXPECT_CONTAINS(std::string(e.what()), missing);
  }
  write_file(dir.file("bad.json"), R"({"0": [[1]], "2": [[1]]})");
  try {
    load_emotion_vector(dir.file("bad.json"));
    ADD_FAILURE() << "loaded a JSON file with a gap";
  } catch (const Error& e) {
    EXPECT_CONTAINS(std::string(e.what()), dir.file("bad.json") + ": layer 1 is missing");
  }
}

TEST(LoadEmotionVector, FoldersInNameOrder) {
  const TempDir dir("folder");
  fs::create_directories(dir.path() / "set");
  fs::create_directories(dir.path() / "empty");
  const std::string set = (dir.path() / "set").string();
  write_file(set + "/joy.json", R"({"0": [[1, 2]]})");
  EmotionVector anger = make_emotion_vector("anger", ActivationSite::Residual, 1, 2);
  anger.layer(0)[0] = 9;
  save_control_vector(anger, set + "/anger.gguf");
  write_file(set + "/notes.txt", "not a vector");
  write_file(dir.file("fear.json"), R"({"0": [[3, 4]]})");

  const std::vector<EmotionVector> vs = load_emotion_vectors({dir.file("fear.json"), set});
  ASSERT_EQ(vs.size(), 3u);
  EXPECT_EQ(vs[0].emotion, "fear");
  EXPECT_EQ(vs[1].emotion, "anger");
  EXPECT_EQ(vs[1].directions, (std::vector<float>{9, 0}));
  EXPECT_EQ(vs[2].emotion, "joy");
  EXPECT_THROW(load_emotion_vectors({(dir.path() / "empty").string()}), Error);
}

}  // namespace
}  // namespace emovec
