// Every crafted bad file in tests/data/malformed/ (tools/golden/make_malformed.py) must raise
// emovec::Error naming the file and containing the substring recorded in expected.json.
#include <gtest/gtest.h>

#include <filesystem>
#include <string>

#include "emovec/error.h"
#include "emovec/gguf.h"
#include "emovec/model_file.h"
#include "emovec/safetensors.h"
#include "support/test_support.h"

namespace emovec {
namespace {

namespace fs = std::filesystem;

bool is_safetensors(const std::string& name) {
  return fs::path(name).extension() == ".safetensors";
}

void open_directly(const std::string& path) {
  if (is_safetensors(path)) {
    SafetensorsFile::open(path);
  } else {
    GgufFile::open(path);
  }
}

TEST(MalformedFiles, EachRaisesErrorWithTheExpectedMessage) {
  const nlohmann::json expected = testing::read_json(testing::data_path("malformed/expected.json"));
  ASSERT_GE(expected.size(), 50u);
  for (const auto& [name, substring] : expected.items()) {
    SCOPED_TRACE(name);
    const std::string path = testing::data_path("malformed/" + name);
    try {
      open_directly(path);
      ADD_FAILURE() << "opened without an error";
    } catch (const Error& e) {
      const std::string message = e.what();
      EXPECT_NE(message.find(substring.get<std::string>()), std::string::npos)
          << "message: " << message << "\nexpected to contain: " << substring;
      EXPECT_EQ(message.rfind(path + ": ", 0), 0u)
          << "message does not start with the path: " << message;
    }
  }
}

// The same files through open_model_file: GGUF files directly, safetensors as the weights of a
// Hugging Face folder.
TEST(MalformedFiles, OpenModelFileRaisesErrorToo) {
  const nlohmann::json expected = testing::read_json(testing::data_path("malformed/expected.json"));
  for (const auto& [name, substring] : expected.items()) {
    if (is_safetensors(name)) continue;
    SCOPED_TRACE(name);
    EXPECT_THROW(open_model_file(testing::data_path("malformed/" + name)), Error);
  }
}

TEST(MalformedFiles, EveryFileIsListed) {
  const nlohmann::json expected = testing::read_json(testing::data_path("malformed/expected.json"));
  for (const auto& entry : fs::directory_iterator(testing::data_path("malformed"))) {
    const std::string name = entry.path().filename().string();
    if (name == "expected.json") continue;
    EXPECT_TRUE(expected.contains(name)) << name << " has no expected message";
    EXPECT_LT(entry.file_size(), 64u * 1024u) << name;
  }
}

// The fuzzers' valid seeds (written by the same script) must open: they anchor the corpus in
// files that get past every check.
TEST(FuzzSeeds, ValidSeedsOpenAndDecode) {
  int opened = 0;
  for (const char* kind : {"gguf", "safetensors"}) {
    for (const auto& entry :
         fs::directory_iterator(fs::path(EMOVEC_SOURCE_DIR) / "fuzz/corpus" / kind)) {
      const std::string name = entry.path().filename().string();
      if (name.rfind("valid_", 0) != 0) continue;
      SCOPED_TRACE(name);
      if (is_safetensors(name)) {
        EXPECT_NO_THROW(SafetensorsFile::open(entry.path().string()));
      } else {
        const auto model = open_model_file(entry.path().string());
        for (const TensorView& t : model->tensors()) {
          EXPECT_EQ(model->dequantize(t).size(), static_cast<size_t>(t.elements()));
        }
      }
      ++opened;
    }
  }
  EXPECT_EQ(opened, 5);
}

}  // namespace
}  // namespace emovec
