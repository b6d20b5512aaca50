// GgufWriter: files read back by emovec's reader and by gguf-py (tests/py/check_gguf_roundtrip.py).
#include <gtest/gtest.h>
#include <unistd.h>

#include <bit>
#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <limits>
#include <string>
#include <vector>

#include "emovec/error.h"
#include "emovec/gguf.h"
#include "format/sha256.h"
#include "support/test_support.h"

namespace emovec {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

std::string hex_of(const void* data, size_t n) {
  return to_hex({static_cast<const uint8_t*>(data), n});
}

// What the test means to write, in the form check_gguf_roundtrip.py reads.
json describe(const GgufValue& v) {
  json d = {{"type", std::string(gguf_type_name(v.type()))}};
  switch (v.type()) {
    case GgufType::Float32: {
      const auto f = static_cast<float>(v.as_double());
      d["bits"] = hex_of(&f, 4);
      break;
    }
    case GgufType::Float64: {
      const double f = v.as_double();
      d["bits"] = hex_of(&f, 8);
      break;
    }
    case GgufType::String:
      d["hex"] = hex_of(v.as_string().data(), v.as_string().size());
      break;
    case GgufType::Bool:
      d["value"] = v.as_bool();
      break;
    case GgufType::Array:
      d["element_type"] = std::string(gguf_type_name(v.element_type()));
      d["elements"] = json::array();
      for (const GgufValue& e : v.as_array()) d["elements"].push_back(describe(e));
      break;
    case GgufType::Int8:
    case GgufType::Int16:
    case GgufType::Int32:
    case GgufType::Int64:
      d["value"] = v.as_int();
      break;
    default:
      d["value"] = v.as_uint();
      break;
  }
  return d;
}

GgufValue u(GgufType t, uint64_t v) { return GgufValue::uint(t, v); }
GgufValue s(GgufType t, int64_t v) { return GgufValue::sint(t, v); }

std::vector<std::pair<std::string, GgufValue>> sample_metadata() {
  using T = GgufType;
  std::vector<std::pair<std::string, GgufValue>> m = {
      {"general.architecture", GgufValue::string("llama")},
      {"test.u8", u(T::Uint8, 255)},
      {"test.i8", s(T::Int8, -128)},
      {"test.u16", u(T::Uint16, 65535)},
      {"test.i16", s(T::Int16, -32768)},
      {"test.u32", u(T::Uint32, 4294967295u)},
      {"test.i32", s(T::Int32, std::numeric_limits<int32_t>::min())},
      {"test.u64", u(T::Uint64, std::numeric_limits<uint64_t>::max())},
      {"test.i64", s(T::Int64, std::numeric_limits<int64_t>::min())},
      {"test.f32", GgufValue::real(T::Float32, 1e-5)},
      {"test.f32_neg_zero", GgufValue::real(T::Float32, -0.0)},
      {"test.f64", GgufValue::real(T::Float64, 3.141592653589793)},
      {"test.true", GgufValue::boolean(true)},
      {"test.false", GgufValue::boolean(false)},
      {"test.empty_string", GgufValue::string("")},
      {"test.unicode", GgufValue::string("h\xc3\xa9llo \xe2\x9c\x93 \xf0\x9f\x98\x80")},
      {"test.template",
       GgufValue::string("{% for m in messages %}{{ m['content'] }}\n{% endfor %}")},
      {"test.strings", GgufValue::array(T::String, {GgufValue::string("a"), GgufValue::string(""),
                                                    GgufValue::string("\xc4\xa0the")})},
      {"test.floats", GgufValue::array(T::Float32, {GgufValue::real(T::Float32, -1.5),
                                                    GgufValue::real(T::Float32, 1e30)})},
      {"test.f64s", GgufValue::array(T::Float64, {GgufValue::real(T::Float64, 0.1)})},
      {"test.bools",
       GgufValue::array(T::Bool, {GgufValue::boolean(true), GgufValue::boolean(false)})},
      {"test.empty_array", GgufValue::array(T::Int32, {})},
      {"test.nested",
       GgufValue::array(T::Array, {GgufValue::array(T::Int32, {s(T::Int32, 1), s(T::Int32, -2)}),
                                   GgufValue::array(T::String, {GgufValue::string("x")}),
                                   GgufValue::array(T::Uint8, {})})},
  };
  for (const auto t :
       {T::Uint8, T::Int8, T::Uint16, T::Int16, T::Uint32, T::Int32, T::Uint64, T::Int64}) {
    GgufValue::Array elements;
    for (int i = 0; i < 20; ++i) {
      const bool is_unsigned = t == T::Uint8 || t == T::Uint16 || t == T::Uint32 || t == T::Uint64;
      elements.push_back(is_unsigned ? u(t, static_cast<uint64_t>(i * 7)) : s(t, i * 5 - 50));
    }
    m.emplace_back("test.array_" + std::string(gguf_type_name(t)), GgufValue::array(t, elements));
  }
  return m;
}

struct SampleTensor {
  std::string name;
  TensorType type;
  std::vector<int64_t> shape;
  std::vector<float> source;  // for F32/F16/BF16
  std::vector<uint8_t> raw;   // for other types
};

std::vector<SampleTensor> sample_tensors() {
  std::vector<SampleTensor> t;
  std::vector<float> values(3 * 5);
  for (size_t i = 0; i < values.size(); ++i) values[i] = std::sin(static_cast<float>(i)) * 100.0f;
  // Halfway cases and overflow for the f16 rounding, subnormals, infinities.
  std::vector<float> tricky = {1.0f + 0x1p-11f,
                               1.0f + 3 * 0x1p-11f,
                               65519.0f,
                               65520.0f,
                               1e-7f,
                               -3e-8f,
                               0x1p-25f,
                               0x1.8p-25f,
                               -0.0f,
                               std::numeric_limits<float>::infinity(),
                               0.1f,
                               -2.5e-3f};
  t.push_back({"f32.weight", TensorType::F32, {5, 3}, values, {}});
  t.push_back({"f16.weight", TensorType::F16, {12}, tricky, {}});
  t.push_back({"bf16.weight", TensorType::BF16, {3, 4, 1}, tricky, {}});
  t.push_back({"f32.vector", TensorType::F32, {1}, {42.0f}, {}});
  std::vector<uint8_t> q8(2 * 34);
  for (size_t i = 0; i < q8.size(); ++i) q8[i] = static_cast<uint8_t>(i * 37 + 11);
  t.push_back({"q8.weight", TensorType::Q8_0, {32, 2}, {}, q8});
  std::vector<uint8_t> q4k(144);
  for (size_t i = 0; i < q4k.size(); ++i) q4k[i] = static_cast<uint8_t>(i * 13 + 5);
  t.push_back({"q4k.weight", TensorType::Q4_K, {256, 1, 1, 1}, {}, q4k});
  return t;
}

GgufWriter make_writer(uint64_t alignment) {
  GgufWriter w(alignment);
  for (auto& [key, value] : sample_metadata()) w.set(key, value);
  for (const SampleTensor& t : sample_tensors()) {
    if (t.raw.empty()) {
      w.add_tensor(t.name, t.shape, t.source, t.type);
    } else {
      w.add_raw_tensor(t.name, t.type, t.shape, t.raw);
    }
  }
  return w;
}

TEST(GgufWriter, ReadsBackIdenticallyInEmovec) {
  const GgufWriter w = make_writer(32);
  const GgufFile f = GgufFile::from_bytes(w.to_bytes());
  const auto expected = sample_metadata();
  ASSERT_EQ(f.metadata().size(), expected.size());
  for (size_t i = 0; i < expected.size(); ++i) {
    EXPECT_EQ(f.metadata()[i].first, expected[i].first);
    EXPECT_TRUE(f.metadata()[i].second == expected[i].second) << expected[i].first;
  }
  const auto tensors = sample_tensors();
  ASSERT_EQ(f.tensors().size(), tensors.size());
  for (const SampleTensor& t : tensors) {
    const GgufTensorInfo& info = f.tensor(t.name);
    EXPECT_EQ(info.type, t.type);
    EXPECT_EQ(info.shape, t.shape);
    EXPECT_EQ(info.offset % 32, 0u);
    if (t.type == TensorType::F32) {
      EXPECT_EQ(f.dequantize(info), t.source);
    }
    if (!t.raw.empty()) {
      EXPECT_EQ(std::vector<uint8_t>(f.tensor_data(info), f.tensor_data(info) + info.nbytes),
                t.raw);
    }
  }
}

TEST(GgufWriter, NonDefaultAlignmentIsRecordedInTheFile) {
  const GgufFile f = GgufFile::from_bytes(make_writer(64).to_bytes());
  EXPECT_EQ(f.alignment(), 64u);
  EXPECT_EQ(f.get("general.alignment").as_uint(), 64u);
  EXPECT_EQ(f.data_offset() % 64, 0u);
  for (const GgufTensorInfo& t : f.tensors()) EXPECT_EQ(t.offset % 64, 0u);
}

TEST(GgufWriter, SetReplacesAKeyInPlace) {
  GgufWriter w;
  w.set("a", GgufValue::string("1"));
  w.set("b", GgufValue::string("2"));
  w.set("a", GgufValue::uint(GgufType::Uint32, 3));
  const GgufFile f = GgufFile::from_bytes(w.to_bytes());
  ASSERT_EQ(f.metadata().size(), 2u);
  EXPECT_EQ(f.metadata()[0].first, "a");
  EXPECT_EQ(f.metadata()[0].second.as_uint(), 3u);
}

TEST(GgufWriter, RejectsInconsistentInput) {
  GgufWriter w;
  const std::vector<float> six(6, 1.0f);
  EXPECT_THROW(GgufWriter(0), Error);
  EXPECT_THROW(GgufWriter(24), Error);
  EXPECT_THROW(w.add_tensor("t", {4}, six), Error);              // wrong count
  EXPECT_THROW(w.add_tensor("t", {6, 0}, {}), Error);            // zero dimension
  EXPECT_THROW(w.add_tensor("t", {1, 1, 1, 1, 6}, six), Error);  // five dimensions
  EXPECT_THROW(w.add_tensor("t", {6}, six, TensorType::Q4_0), Error);
  EXPECT_THROW(w.add_raw_tensor("t", TensorType::Q4_0, {16}, std::vector<uint8_t>(9)), Error);
  EXPECT_THROW(w.set("bad\xff", GgufValue::boolean(true)), Error);
  EXPECT_THROW(w.set("general.alignment", GgufValue::uint(GgufType::Uint32, 64)), Error);
  w.add_tensor("t", {6}, six);
  EXPECT_THROW(w.add_tensor("t", {6}, six), Error);  // duplicate name
}

std::string python_interpreter() {
  if (const char* env = std::getenv("EMOVEC_PYTHON"); env != nullptr && *env != '\0') return env;
#ifdef EMOVEC_PYTHON
  return EMOVEC_PYTHON;
#endif
  // The set-up's virtual environment has gguf-py; a bare python3 usually does not.
  if (const char* home = std::getenv("HOME"); home != nullptr) {
    const fs::path venv = fs::path(home) / ".cache/emovec/venv/bin/python";
    if (fs::exists(venv)) return venv.string();
  }
  return "python3";
}

TEST(GgufWriter, GgufPyReadsBackEveryKeyValueAndTensor) {
  const fs::path dir =
      fs::temp_directory_path() / ("emovec-gguf-writer-" + std::to_string(::getpid()));
  fs::create_directories(dir);
  for (const uint64_t alignment : {32u, 128u}) {
    SCOPED_TRACE(alignment);
    const std::string file = "roundtrip_" + std::to_string(alignment) + ".gguf";
    make_writer(alignment).write((dir / file).string());

    json desc = {{"file", file},
                 {"alignment", alignment},
                 {"metadata", json::array()},
                 {"tensors", json::array()}};
    for (const auto& [key, value] : sample_metadata()) {
      json m = describe(value);
      m["key"] = key;
      desc["metadata"].push_back(m);
    }
    if (alignment != 32) {
      desc["metadata"].push_back(
          {{"key", "general.alignment"}, {"type", "uint32"}, {"value", alignment}});
    }
    for (const SampleTensor& t : sample_tensors()) {
      json d = {
          {"name", t.name}, {"type", std::string(tensor_type_name(t.type))}, {"shape", t.shape}};
      if (t.raw.empty()) {
        d["source_bits"] = hex_of(t.source.data(), t.source.size() * 4);
        // The bytes emovec's reader sees; gguf-py must see the same.
        const GgufFile f = GgufFile::open((dir / file).string());
        const GgufTensorInfo& info = f.tensor(t.name);
        d["bytes"] = hex_of(f.tensor_data(info), info.nbytes);
      } else {
        d["bytes"] = hex_of(t.raw.data(), t.raw.size());
      }
      desc["tensors"].push_back(d);
    }
    const fs::path desc_path = dir / (file + ".json");
    std::ofstream(desc_path) << desc.dump(1);

    const std::string command = "\"" + python_interpreter() +
                                "\" \"" EMOVEC_SOURCE_DIR "/tests/py/check_gguf_roundtrip.py\" \"" +
                                desc_path.string() + "\"";
    const int status = std::system(command.c_str());
    EXPECT_EQ(status, 0) << "gguf-py disagrees with what emovec wrote (see the output above); ran: "
                         << command << "\nSet EMOVEC_PYTHON to an interpreter with the gguf "
                         << "package (scripts/setup.sh makes one in ~/.cache/emovec/venv).";
  }
  fs::remove_all(dir);
}

}  // namespace
}  // namespace emovec
