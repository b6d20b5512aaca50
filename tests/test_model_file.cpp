// ModelFile over the shipped models (hyper-parameters and chat templates against
// tests/golden/dequant_<model>.json, from gguf-py / config.json) and over Hugging Face folders
// built here.
#include <gtest/gtest.h>
#include <unistd.h>

#include <cstring>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "emovec/error.h"
#include "emovec/gguf.h"
#include "emovec/model_file.h"
#include "emovec/model_registry.h"
#include "format/sha256.h"
#include "support/test_support.h"

namespace emovec {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

class ShippedModelFile : public ::testing::TestWithParam<std::string> {};

TEST_P(ShippedModelFile, ConfigAndChatTemplateMatchTheReference) {
  const json golden = testing::read_json(testing::golden_path("dequant_" + GetParam() + ".json"));
  const auto model = open_model_file(testing::model_path(GetParam()));
  const bool is_gguf = golden["format"] == "gguf";
  EXPECT_EQ(model->format(), is_gguf ? ModelFormat::Gguf : ModelFormat::HuggingFace);
  EXPECT_EQ(model->gguf() != nullptr, is_gguf);
  EXPECT_EQ(model->folder().empty(), is_gguf);

  const json& want = golden["config"];
  const ModelConfig& c = model->config();
  EXPECT_EQ(c.architecture, want["architecture"].get<std::string>());
  EXPECT_EQ(c.name, want["name"].get<std::string>());
  EXPECT_EQ(c.n_layer, want["n_layer"].get<int64_t>());
  EXPECT_EQ(c.n_embd, want["n_embd"].get<int64_t>());
  EXPECT_EQ(c.n_ff, want["n_ff"].get<int64_t>());
  EXPECT_EQ(c.n_head, want["n_head"].get<int64_t>());
  EXPECT_EQ(c.n_head_kv, want["n_head_kv"].get<int64_t>());
  EXPECT_EQ(c.head_dim, want["head_dim"].get<int64_t>());
  EXPECT_EQ(c.n_ctx_train, want["n_ctx_train"].get<int64_t>());
  EXPECT_EQ(c.vocab_size, want["vocab_size"].get<int64_t>());
  EXPECT_EQ(c.rope_freq_base, std::stod(want["rope_freq_base"].get<std::string>()));
  EXPECT_EQ(c.norm_eps, std::stod(want["norm_eps"].get<std::string>()));
  EXPECT_EQ(c.sliding_window, want["sliding_window"].get<int64_t>());

  const auto chat = model->chat_template();
  if (golden["chat_template_sha256"].is_null()) {
    EXPECT_FALSE(chat.has_value());
  } else {
    ASSERT_TRUE(chat.has_value());
    EXPECT_EQ(sha256_hex(*chat), golden["chat_template_sha256"].get<std::string>());
  }
  EXPECT_EQ(model->tensors().size(), golden["tensors"].size());
  const std::string first = golden["tensors"][0]["name"];
  EXPECT_EQ(model->tensor(first).name, first);
  EXPECT_THROW(model->tensor("no.such.tensor"), Error);
}

std::vector<std::string> shipped_names() {
  std::vector<std::string> names;
  for (const ShippedModel& m : shipped_models()) {
    if (is_engine_model(m)) names.push_back(m.name);
  }
  return names;
}

INSTANTIATE_TEST_SUITE_P(Shipped, ShippedModelFile, ::testing::ValuesIn(shipped_names()),
                         [](const ::testing::TestParamInfo<std::string>& param) {
                           std::string n = param.param;
                           for (char& c : n) {
                             if (!std::isalnum(static_cast<unsigned char>(c))) c = '_';
                           }
                           return n;
                         });

TEST(ModelFile, GgufMetadataSummaryShortensLongArrays) {
  const auto model = open_model_file(testing::model_path("smollm2-135m-instruct"));
  const json summary = model->metadata_summary();
  const json& tokens = summary["tokenizer.ggml.tokens"];
  EXPECT_EQ(tokens["type"], "string");
  EXPECT_EQ(tokens["length"], 49152);
  ASSERT_TRUE(tokens["head"].is_array());
  EXPECT_LE(tokens["head"].size(), 16u);
  EXPECT_EQ(tokens["head"][0],
            model->gguf()->get("tokenizer.ggml.tokens").as_array()[0].as_string());
  EXPECT_EQ(summary["general.languages"], json::array({"en"}));  // short arrays stay whole
  EXPECT_EQ(summary["llama.block_count"], 30);
  EXPECT_NO_THROW((void)summary.dump());  // valid UTF-8 throughout
}

TEST(ModelFile, HuggingFaceFolderOpensFromAnyMember) {
  const std::string folder = testing::model_path("all-minilm-l6-v2");
  for (const std::string& p : {folder, folder + "/config.json", folder + "/model.safetensors"}) {
    const auto model = open_model_file(p);
    EXPECT_EQ(model->format(), ModelFormat::HuggingFace) << p;
    EXPECT_EQ(model->config().architecture, "bert");
  }
  const auto model = open_model_file(folder);
  EXPECT_EQ(model->metadata_summary()["hidden_size"], 384);
  // Safetensors shapes are row-major; TensorView shapes are ggml order.
  EXPECT_EQ(model->tensor("embeddings.word_embeddings.weight").shape,
            (std::vector<int64_t>{384, 30522}));
}

// A scratch folder, removed at the end of the test.
class ScratchFolder {
 public:
  ScratchFolder()
      : path_(fs::temp_directory_path() / ("emovec-model-file-" + std::to_string(::getpid()))) {
    fs::remove_all(path_);
    fs::create_directories(path_);
  }
  ~ScratchFolder() { fs::remove_all(path_); }
  const fs::path& path() const { return path_; }
  void write(const std::string& name, const std::string& text) const {
    std::ofstream(path_ / name, std::ios::binary) << text;
  }

 private:
  fs::path path_;
};

std::string safetensors_file(const std::string& name, const std::vector<int64_t>& shape,
                             const std::vector<float>& values) {
  const json header = {
      {name, {{"dtype", "F32"}, {"shape", shape}, {"data_offsets", {0, values.size() * 4}}}}};
  const std::string h = header.dump();
  std::string out(8, '\0');
  const uint64_t n = h.size();
  std::memcpy(out.data(), &n, 8);
  out += h;
  out.append(reinterpret_cast<const char*>(values.data()), values.size() * 4);
  return out;
}

TEST(ModelFile, ShardedHuggingFaceFolder) {
  const ScratchFolder dir;
  dir.write("config.json", R"({"model_type":"qwen2","num_hidden_layers":2,"hidden_size":8,
    "num_attention_heads":2,"num_key_value_heads":1,"rms_norm_eps":1e-6,"rope_theta":10000.0,
    "sliding_window":null,"vocab_size":10})");
  dir.write("model-00001-of-00002.safetensors",
            safetensors_file("a.weight", {2, 3}, {1, 2, 3, 4, 5, 6}));
  dir.write("model-00002-of-00002.safetensors", safetensors_file("b.weight", {4}, {7, 8, 9, 10}));
  dir.write("model.safetensors.index.json", R"({"metadata":{},"weight_map":{
    "a.weight":"model-00001-of-00002.safetensors","b.weight":"model-00002-of-00002.safetensors"}})");
  dir.write("tokenizer_config.json", R"({"chat_template":[{"name":"tool_use","template":"T"},
    {"name":"default","template":"D"}]})");
  const auto model = open_model_file(dir.path().string());
  ASSERT_EQ(model->tensors().size(), 2u);
  const TensorView& a = model->tensor("a.weight");
  EXPECT_EQ(a.shape, (std::vector<int64_t>{3, 2}));
  EXPECT_EQ(model->dequantize(a), (std::vector<float>{1, 2, 3, 4, 5, 6}));
  EXPECT_EQ(model->dequantize(model->tensor("b.weight")), (std::vector<float>{7, 8, 9, 10}));
  EXPECT_EQ(model->chat_template(), "D");
  const ModelConfig& c = model->config();
  EXPECT_EQ(c.n_head_kv, 1);
  EXPECT_EQ(c.head_dim, 4);
  EXPECT_EQ(c.sliding_window, 0);
  EXPECT_EQ(c.norm_eps, 1e-6);
  dir.write("config.json",
            R"({"model_type":"qwen2","sliding_window":4096,"use_sliding_window":false})");
  EXPECT_EQ(open_model_file(dir.path().string())->config().sliding_window, 0);
  dir.write("config.json",
            R"({"model_type":"qwen2","sliding_window":4096,"use_sliding_window":true})");
  EXPECT_EQ(open_model_file(dir.path().string())->config().sliding_window, 4096);

  // A template kept in its own file, as newer transformers save it.
  dir.write("tokenizer_config.json", "{}");
  dir.write("chat_template.jinja", "{{ messages }}");
  EXPECT_EQ(open_model_file(dir.path().string())->chat_template(), "{{ messages }}");

  // The index may only name files inside the folder.
  dir.write("model.safetensors.index.json", R"({"weight_map":{"a.weight":"../x.safetensors"}})");
  EXPECT_THROW(open_model_file(dir.path().string()), Error);
  dir.write("model.safetensors.index.json", R"({"weight_map":{
    "a.weight":"model-00002-of-00002.safetensors"}})");
  EXPECT_THROW(open_model_file(dir.path().string()), Error);  // listed in the wrong shard
}

TEST(ModelFile, ErrorsForPathsThatAreNotModels) {
  const ScratchFolder dir;
  EXPECT_THROW(open_model_file((dir.path() / "missing.gguf").string()), Error);
  EXPECT_THROW(open_model_file(dir.path().string()), Error);  // no config.json
  dir.write("config.json", "{}");
  EXPECT_THROW(open_model_file(dir.path().string()), Error);  // no weights
  dir.write("config.json", "{not json");
  EXPECT_THROW(open_model_file(dir.path().string()), Error);
  dir.write("notes.txt", "hello");
  EXPECT_THROW(open_model_file((dir.path() / "notes.txt").string()), Error);  // not GGUF
}

}  // namespace
}  // namespace emovec
