// GgufFile against gguf-py's view of the shipped models (tests/golden/dequant_<model>.json) and
// against small files built byte by byte here.
#include <gtest/gtest.h>

#include <cstring>
#include <string>
#include <vector>

#include "emovec/error.h"
#include "emovec/gguf.h"
#include "emovec/model_registry.h"
#include "format/sha256.h"
#include "support/test_support.h"

namespace emovec {
namespace {

// The GGUF encoding of an array's elements (strings: u64 length + bytes), as the golden file
// hashes it.
void hash_elements(Sha256& h, const GgufValue& array) {
  for (const GgufValue& e : array.as_array()) {
    switch (e.type()) {
      case GgufType::String: {
        const uint64_t n = e.as_string().size();
        h.update(&n, 8);
        h.update(e.as_string());
        break;
      }
      case GgufType::Uint8: {
        const auto v = static_cast<uint8_t>(e.as_uint());
        h.update(&v, 1);
        break;
      }
      case GgufType::Int8: {
        const auto v = static_cast<int8_t>(e.as_int());
        h.update(&v, 1);
        break;
      }
      case GgufType::Uint16: {
        const auto v = static_cast<uint16_t>(e.as_uint());
        h.update(&v, 2);
        break;
      }
      case GgufType::Int16: {
        const auto v = static_cast<int16_t>(e.as_int());
        h.update(&v, 2);
        break;
      }
      case GgufType::Uint32: {
        const auto v = static_cast<uint32_t>(e.as_uint());
        h.update(&v, 4);
        break;
      }
      case GgufType::Int32: {
        const auto v = static_cast<int32_t>(e.as_int());
        h.update(&v, 4);
        break;
      }
      case GgufType::Uint64: {
        const auto v = e.as_uint();
        h.update(&v, 8);
        break;
      }
      case GgufType::Int64: {
        const auto v = e.as_int();
        h.update(&v, 8);
        break;
      }
      case GgufType::Float32: {
        const auto v = static_cast<float>(e.as_double());
        h.update(&v, 4);
        break;
      }
      case GgufType::Float64: {
        const auto v = e.as_double();
        h.update(&v, 8);
        break;
      }
      case GgufType::Bool: {
        const uint8_t v = e.as_bool();
        h.update(&v, 1);
        break;
      }
      case GgufType::Array:
        FAIL() << "nested array in a shipped model";
    }
  }
}

void expect_value_matches(const std::string& key, const GgufValue& v, const nlohmann::json& want) {
  SCOPED_TRACE(key);
  const std::string type = want["type"];
  ASSERT_EQ(std::string(gguf_type_name(v.type())), type);
  if (type == "array") {
    EXPECT_EQ(std::string(gguf_type_name(v.element_type())),
              want["element_type"].get<std::string>());
    EXPECT_EQ(v.as_array().size(), want["length"].get<size_t>());
    Sha256 h;
    hash_elements(h, v);
    EXPECT_EQ(h.finish_hex(), want["sha256"].get<std::string>());
  } else if (type == "string") {
    EXPECT_EQ(v.as_string().size(), want["length"].get<size_t>());
    EXPECT_EQ(sha256_hex(v.as_string()), want["sha256"].get<std::string>());
    if (want.contains("value")) {
      EXPECT_EQ(v.as_string(), want["value"].get<std::string>());
    }
  } else if (type == "float32" || type == "float64") {
    EXPECT_EQ(v.as_double(), std::stod(want["value"].get<std::string>()));
  } else if (type == "bool") {
    EXPECT_EQ(v.as_bool(), want["value"].get<bool>());
  } else if (type.rfind("uint", 0) == 0) {
    EXPECT_EQ(v.as_uint(), want["value"].get<uint64_t>());
  } else {
    EXPECT_EQ(v.as_int(), want["value"].get<int64_t>());
  }
}

class ShippedGguf : public ::testing::TestWithParam<std::string> {};

TEST_P(ShippedGguf, HeaderMetadataAndTensorInfosMatchGgufPy) {
  const nlohmann::json golden =
      testing::read_json(testing::golden_path("dequant_" + GetParam() + ".json"));
  const GgufFile f = GgufFile::open(testing::model_path(GetParam()));
  EXPECT_EQ(f.version(), golden["version"].get<uint32_t>());
  EXPECT_EQ(f.alignment(), golden["alignment"].get<uint64_t>());
  EXPECT_EQ(f.data_offset(), golden["data_offset"].get<uint64_t>());
  EXPECT_EQ(f.file_size(), golden["file_size"].get<uint64_t>());

  const auto& metadata = golden["metadata"];
  ASSERT_EQ(f.metadata().size(), metadata.size());
  for (const auto& [key, value] : f.metadata()) {
    ASSERT_TRUE(metadata.contains(key)) << key;
    expect_value_matches(key, value, metadata[key]);
    EXPECT_EQ(f.find(key), &value);
  }

  const auto& tensors = golden["tensors"];
  ASSERT_EQ(f.tensors().size(), tensors.size());
  for (size_t i = 0; i < tensors.size(); ++i) {
    const GgufTensorInfo& t = f.tensors()[i];
    SCOPED_TRACE(t.name);
    EXPECT_EQ(t.name, tensors[i]["name"].get<std::string>());
    EXPECT_EQ(tensor_type_name(t.type), tensors[i]["type"].get<std::string>());
    EXPECT_EQ(t.shape, tensors[i]["shape"].get<std::vector<int64_t>>());
    EXPECT_EQ(t.elements(), tensors[i]["elements"].get<int64_t>());
    EXPECT_EQ(t.offset, tensors[i]["offset"].get<uint64_t>());
    EXPECT_EQ(t.nbytes, tensors[i]["bytes"].get<uint64_t>());
    EXPECT_EQ(&f.tensor(t.name), &t);
  }
  EXPECT_THROW(f.get("no.such.key"), Error);
  EXPECT_THROW(f.tensor("no.such.tensor"), Error);
}

std::vector<std::string> shipped_gguf_names() {
  std::vector<std::string> names;
  for (const ShippedModel& m : shipped_models()) {
    if (m.format == "gguf") names.push_back(m.name);
  }
  return names;
}

INSTANTIATE_TEST_SUITE_P(Shipped, ShippedGguf, ::testing::ValuesIn(shipped_gguf_names()),
                         [](const ::testing::TestParamInfo<std::string>& param) {
                           std::string n = param.param;
                           for (char& c : n) {
                             if (!std::isalnum(static_cast<unsigned char>(c))) c = '_';
                           }
                           return n;
                         });

// Builds GGUF bytes field by field, following the format description rather than emovec's
// writer.
class Bytes {
 public:
  template <typename T>
  Bytes& put(T v) {
    const auto* p = reinterpret_cast<const uint8_t*>(&v);
    data.insert(data.end(), p, p + sizeof v);
    return *this;
  }
  Bytes& str(const std::string& s) {
    put<uint64_t>(s.size());
    data.insert(data.end(), s.begin(), s.end());
    return *this;
  }
  Bytes& pad(size_t alignment) {
    while (data.size() % alignment) data.push_back(0);
    return *this;
  }
  std::vector<uint8_t> data;
};

TEST(GgufReader, ReadsVersion2WithCustomAlignmentAndTensorData) {
  Bytes b;
  b.put<uint32_t>(0x46554747).put<uint32_t>(2).put<uint64_t>(1).put<uint64_t>(2);
  b.str("general.alignment").put<uint32_t>(4).put<uint32_t>(64);
  b.str("names").put<uint32_t>(9).put<uint32_t>(8).put<uint64_t>(2).str("x").str("y\xc3\xa9");
  b.str("w").put<uint32_t>(2).put<uint64_t>(3).put<uint64_t>(2).put<uint32_t>(0).put<uint64_t>(0);
  b.pad(64);
  const size_t data_offset = b.data.size();
  for (int i = 0; i < 6; ++i) b.put<float>(static_cast<float>(i) * 0.5f);
  const GgufFile f = GgufFile::from_bytes(b.data);
  EXPECT_EQ(f.version(), 2u);
  EXPECT_EQ(f.alignment(), 64u);
  EXPECT_EQ(f.data_offset(), data_offset);
  EXPECT_EQ(f.get("names").as_string_array(), (std::vector<std::string>{"x", "y\xc3\xa9"}));
  const GgufTensorInfo& w = f.tensor("w");
  EXPECT_EQ(w.shape, (std::vector<int64_t>{3, 2}));
  EXPECT_EQ(w.nbytes, 24u);
  EXPECT_EQ(f.dequantize(w), (std::vector<float>{0, 0.5f, 1, 1.5f, 2, 2.5f}));
}

TEST(GgufReader, NestedArraysWithinTheDepthLimit) {
  Bytes b;
  b.put<uint32_t>(0x46554747).put<uint32_t>(3).put<uint64_t>(0).put<uint64_t>(1);
  b.str("nested").put<uint32_t>(9).put<uint32_t>(9).put<uint64_t>(2);
  b.put<uint32_t>(5).put<uint64_t>(2).put<int32_t>(-1).put<int32_t>(2);
  b.put<uint32_t>(8).put<uint64_t>(1).str("z");
  const GgufFile f = GgufFile::from_bytes(b.data);
  const GgufValue& v = f.get("nested");
  ASSERT_EQ(v.as_array().size(), 2u);
  EXPECT_EQ(v.as_array()[0].as_int32_array(), (std::vector<int32_t>{-1, 2}));
  EXPECT_EQ(v.as_array()[1].as_string_array(), (std::vector<std::string>{"z"}));
}

TEST(GgufReader, ErrorsNameTheFileAndField) {
  Bytes b;
  b.put<uint32_t>(0x46554747).put<uint32_t>(3).put<uint64_t>(0).put<uint64_t>(1);
  b.str("tokenizer.ggml.tokens").put<uint32_t>(9).put<uint32_t>(8).put<uint64_t>(~0ull);
  try {
    GgufFile::from_bytes(b.data);
    FAIL() << "no error";
  } catch (const Error& e) {
    EXPECT_STREQ(e.what(),
                 "<memory>: metadata key 'tokenizer.ggml.tokens': array length "
                 "18446744073709551615 exceeds the file (0 bytes left at offset 69)");
  }
}

}  // namespace
}  // namespace emovec
