// SentenceEncoder against sentence-transformers (tests/golden/embed_all-minilm-l6-v2.json, made by
// tools/golden/make_embed_golden.py): the same token ids after truncation, and embeddings with
// cosine >= 0.9999 for each of 200 sentences; plus the errors and edge cases.
#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <iostream>

#include "emovec/encoder.h"
#include "emovec/error.h"
#include "emovec/model_file.h"
#include "support/test_support.h"

namespace emovec {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

struct Golden {
  std::vector<std::string> texts;
  std::vector<std::vector<int32_t>> ids;
  std::vector<std::vector<float>> embeddings;
  int64_t max_seq_length = 0;
};

const Golden& golden() {
  static const Golden g = [] {
    const json doc = testing::read_json(testing::golden_path("embed_all-minilm-l6-v2.json"));
    Golden out;
    out.max_seq_length = doc.at("max_seq_length").get<int64_t>();
    for (const json& s : doc.at("sentences")) {
      out.texts.push_back(s.at("text").get<std::string>());
      out.ids.push_back(s.at("ids").get<std::vector<int32_t>>());
      out.embeddings.push_back(s.at("embedding").get<std::vector<float>>());
    }
    return out;
  }();
  return g;
}

const ModelFile& minilm() {
  static const std::unique_ptr<ModelFile> model =
      open_model_file(testing::model_path("all-minilm-l6-v2"));
  return *model;
}

const SentenceEncoder& encoder() {
  static const SentenceEncoder e(minilm(), {.n_threads = 2});
  return e;
}

double cosine(const std::vector<float>& a, const std::vector<float>& b) {
  double ab = 0, aa = 0, bb = 0;
  for (size_t i = 0; i < a.size(); ++i) {
    ab += double(a[i]) * b[i];
    aa += double(a[i]) * a[i];
    bb += double(b[i]) * b[i];
  }
  return ab / std::sqrt(aa * bb);
}

double max_abs_diff(const std::vector<float>& a, const std::vector<float>& b) {
  double d = 0;
  for (size_t i = 0; i < a.size(); ++i) d = std::max(d, std::fabs(double(a[i]) - b[i]));
  return d;
}

TEST(SentenceEncoder, PipelineFromTheShippedFolder) {
  // The folder carries sentence-transformers' modules.json (Transformer, Pooling, Normalize) and
  // sentence_bert_config.json (max_seq_length 256).
  EXPECT_EQ(encoder().pipeline().max_seq_length, 256);
  EXPECT_EQ(encoder().pipeline().max_seq_length, golden().max_seq_length);
  EXPECT_TRUE(encoder().pipeline().normalize);
  EXPECT_EQ(encoder().dimension(), 384);
}

TEST(SentenceEncoder, TokenIdsMatchSentenceTransformers) {
  const Golden& g = golden();
  int truncated = 0;
  for (size_t i = 0; i < g.texts.size(); ++i) {
    EXPECT_EQ(encoder().token_ids(g.texts[i]), g.ids[i]) << "sentence " << i << ": " << g.texts[i];
    truncated += g.ids[i].size() == static_cast<size_t>(g.max_seq_length);
  }
  EXPECT_GE(truncated, 5) << "the golden set should exercise truncation";
}

TEST(SentenceEncoder, EmbeddingsMatchSentenceTransformers) {
  const Golden& g = golden();
  ASSERT_EQ(g.texts.size(), 200u);
  const std::vector<std::vector<float>> got = encoder().encode(g.texts);
  ASSERT_EQ(got.size(), g.texts.size());
  double min_cos = 1, max_diff = 0;
  for (size_t i = 0; i < got.size(); ++i) {
    ASSERT_EQ(got[i].size(), 384u);
    const double c = cosine(got[i], g.embeddings[i]);
    EXPECT_GE(c, 0.9999) << "sentence " << i << ": " << g.texts[i];
    min_cos = std::min(min_cos, c);
    max_diff = std::max(max_diff, max_abs_diff(got[i], g.embeddings[i]));
  }
  std::cout << "[ stats    ] 200 sentences: min cosine " << min_cos << ", 1 - min cosine "
            << 1 - min_cos << ", max abs diff " << max_diff << "\n";
  RecordProperty("min_cosine", std::to_string(min_cos));
  RecordProperty("max_abs_diff", std::to_string(max_diff));
  EXPECT_LT(max_diff, 1e-3);
}

TEST(SentenceEncoder, BatchingAndThreadsDoNotChangeTheResult) {
  const Golden& g = golden();
  // Short and truncated texts, in one batch and one at a time, on one thread and on two.
  const std::vector<std::string> texts = {g.texts[3], g.texts[0], g.texts[95], g.texts[150]};
  const std::vector<std::vector<float>> batch = encoder().encode(texts);
  const SentenceEncoder single_thread(minilm(), {.n_threads = 1});
  for (size_t i = 0; i < texts.size(); ++i) {
    EXPECT_LT(max_abs_diff(encoder().encode_one(texts[i]), batch[i]), 1e-6) << i;
    EXPECT_LT(max_abs_diff(single_thread.encode_one(texts[i]), batch[i]), 1e-6) << i;
  }
}

TEST(SentenceEncoder, EmptyInputs) {
  EXPECT_TRUE(encoder().encode(std::vector<std::string>{}).empty());
  // An empty string is [CLS] [SEP], and is in the golden set.
  EXPECT_EQ(encoder().token_ids(""), (std::vector<int32_t>{101, 102}));
  const Golden& g = golden();
  ASSERT_EQ(g.texts[0], "");
  EXPECT_GE(cosine(encoder().encode_one(""), g.embeddings[0]), 0.9999);
}

TEST(SentenceEncoder, MaxSeqLengthOption) {
  const SentenceEncoder short_encoder(minilm(), {.n_threads = 1, .max_seq_length = 8});
  const std::vector<int32_t> ids = short_encoder.token_ids(golden().texts[100]);
  ASSERT_EQ(ids.size(), 8u);
  EXPECT_EQ(ids.front(), 101);
  EXPECT_EQ(ids.back(), 102);
  EXPECT_THROW(SentenceEncoder(minilm(), {.max_seq_length = 513}), Error);
  EXPECT_THROW(SentenceEncoder(minilm(), {.max_seq_length = -1}), Error);
  EXPECT_THROW(SentenceEncoder(minilm(), {.max_seq_length = 2}), Error);
  EXPECT_THROW(SentenceEncoder(minilm(), {.n_threads = -1}), Error);
}

std::string error_of(const std::function<void()>& fn) {
  try {
    fn();
  } catch (const Error& e) {
    return e.what();
  }
  return "(no error)";
}

TEST(SentenceEncoder, RejectsAModelThatIsNotBert) {
  const auto gguf = open_model_file(testing::model_path("smollm2-135m-instruct"));
  const std::string message = error_of([&] { SentenceEncoder e(*gguf); });
  EXPECT_NE(message.find("BERT"), std::string::npos) << message;
  EXPECT_NE(message.find("\"llama\""), std::string::npos) << message;
}

// A scratch folder, removed at the end of the test.
class ScratchFolder {
 public:
  ScratchFolder()
      : path_(fs::temp_directory_path() / ("emovec-encoder-" + std::to_string(::getpid()))) {
    fs::remove_all(path_);
    fs::create_directories(path_);
  }
  ~ScratchFolder() { fs::remove_all(path_); }
  std::string path() const { return path_.string(); }
  void write(const std::string& name, const std::string& text) const {
    std::ofstream(path_ / name, std::ios::binary) << text;
  }

 private:
  fs::path path_;
};

// A safetensors file of zero-filled F32 tensors.
std::string safetensors_file(const std::vector<std::pair<std::string, std::vector<int64_t>>>& ts) {
  json header = json::object();
  size_t offset = 0;
  for (const auto& [name, shape] : ts) {
    size_t n = 1;
    for (int64_t d : shape) n *= static_cast<size_t>(d);
    header[name] = {{"dtype", "F32"}, {"shape", shape}, {"data_offsets", {offset, offset + 4 * n}}};
    offset += 4 * n;
  }
  const std::string h = header.dump();
  std::string out(8, '\0');
  const uint64_t n = h.size();
  std::memcpy(out.data(), &n, 8);
  return out + h + std::string(offset, '\0');
}

// The tensors of a one-layer BERT of hidden size 4 (PyTorch shapes).
std::vector<std::pair<std::string, std::vector<int64_t>>> tiny_bert_tensors() {
  std::vector<std::pair<std::string, std::vector<int64_t>>> ts = {
      {"embeddings.word_embeddings.weight", {16, 4}},
      {"embeddings.position_embeddings.weight", {8, 4}},
      {"embeddings.token_type_embeddings.weight", {2, 4}},
      {"embeddings.LayerNorm.weight", {4}},
      {"embeddings.LayerNorm.bias", {4}}};
  const std::string p = "encoder.layer.0.";
  for (const char* name : {"attention.self.query", "attention.self.key", "attention.self.value",
                           "attention.output.dense"}) {
    ts.push_back({p + name + ".weight", {4, 4}});
    ts.push_back({p + name + ".bias", {4}});
  }
  ts.push_back({p + "intermediate.dense.weight", {8, 4}});
  ts.push_back({p + "intermediate.dense.bias", {8}});
  ts.push_back({p + "output.dense.weight", {4, 8}});
  ts.push_back({p + "output.dense.bias", {4}});
  for (const char* name : {"attention.output.LayerNorm", "output.LayerNorm"}) {
    ts.push_back({p + name + ".weight", {4}});
    ts.push_back({p + name + ".bias", {4}});
  }
  return ts;
}

TEST(SentenceEncoder, NamesAMissingOrMisshapenTensor) {
  const ScratchFolder dir;
  dir.write("config.json", R"({"model_type":"bert","vocab_size":16,"hidden_size":4,
    "num_hidden_layers":1,"num_attention_heads":2,"intermediate_size":8,
    "max_position_embeddings":8,"type_vocab_size":2,"layer_norm_eps":1e-12,"hidden_act":"gelu"})");

  auto ts = tiny_bert_tensors();
  std::erase_if(
      ts, [](const auto& t) { return t.first == "encoder.layer.0.attention.self.key.weight"; });
  dir.write("model.safetensors", safetensors_file(ts));
  std::string message = error_of([&] { SentenceEncoder e(*open_model_file(dir.path())); });
  EXPECT_NE(message.find("\"encoder.layer.0.attention.self.key.weight\""), std::string::npos)
      << message;
  EXPECT_NE(message.find("expected shape [4, 4]"), std::string::npos) << message;
  EXPECT_NE(message.find("missing"), std::string::npos) << message;

  ts = tiny_bert_tensors();
  for (auto& t : ts) {
    if (t.first == "encoder.layer.0.output.dense.weight") t.second = {8, 4};
  }
  dir.write("model.safetensors", safetensors_file(ts));
  message = error_of([&] { SentenceEncoder e(*open_model_file(dir.path())); });
  EXPECT_NE(message.find("\"encoder.layer.0.output.dense.weight\": expected shape [4, 8]"),
            std::string::npos)
      << message;
  EXPECT_NE(message.find("the file has [8, 4]"), std::string::npos) << message;

  // Every tensor right, but an activation the encoder does not implement.
  dir.write("model.safetensors", safetensors_file(tiny_bert_tensors()));
  dir.write("config.json", R"({"model_type":"bert","vocab_size":16,"hidden_size":4,
    "num_hidden_layers":1,"num_attention_heads":2,"intermediate_size":8,
    "max_position_embeddings":8,"hidden_act":"swish"})");
  message = error_of([&] { SentenceEncoder e(*open_model_file(dir.path())); });
  EXPECT_NE(message.find("hidden_act \"swish\""), std::string::npos) << message;
}

TEST(SentencePipeline, ReadsSentenceTransformersFiles) {
  const ScratchFolder dir;
  // No sentence-transformers files: mean pooling, no normalisation, every position.
  SentencePipeline p = read_sentence_pipeline(dir.path(), 512);
  EXPECT_EQ(p.max_seq_length, 512);
  EXPECT_FALSE(p.normalize);

  dir.write("modules.json", R"([
    {"idx":0,"name":"0","path":"","type":"sentence_transformers.models.Transformer"},
    {"idx":1,"name":"1","path":"1_Pooling","type":"sentence_transformers.models.Pooling"},
    {"idx":2,"name":"2","path":"2_Normalize","type":"sentence_transformers.models.Normalize"}])");
  dir.write("sentence_bert_config.json", R"({"max_seq_length": 1000, "do_lower_case": false})");
  p = read_sentence_pipeline(dir.path(), 512);
  EXPECT_EQ(p.max_seq_length, 512);  // capped by the position embeddings
  EXPECT_TRUE(p.normalize);

  fs::create_directories(fs::path(dir.path()) / "1_Pooling");
  dir.write("1_Pooling/config.json",
            R"({"pooling_mode_cls_token": true, "pooling_mode_mean_tokens": false})");
  const std::string message = error_of([&] { read_sentence_pipeline(dir.path(), 512); });
  EXPECT_NE(message.find("pooling_mode_cls_token"), std::string::npos) << message;

  dir.write("1_Pooling/config.json", R"({"pooling_mode_mean_tokens": true})");
  dir.write("modules.json", R"([{"type":"sentence_transformers.models.Dense","path":"2_Dense"}])");
  EXPECT_THROW(read_sentence_pipeline(dir.path(), 512), Error);
  dir.write("modules.json", "[");
  EXPECT_THROW(read_sentence_pipeline(dir.path(), 512), Error);
}

}  // namespace
}  // namespace emovec
