// Tokenizer pipeline parts the shipped models do not reach, against the `tokenizers` library
// (tests/data/tokenizer/, written by tools/golden/make_tokenizer_unit_cases.py); loader errors;
// invalid UTF-8; speed.
#include <gtest/gtest.h>

#include <chrono>
#include <cstdio>
#include <fstream>
#include <map>
#include <sstream>

#include "emovec/error.h"
#include "emovec/gguf.h"
#include "emovec/model_file.h"
#include "emovec/tokenizer.h"
#include "support/test_support.h"

namespace emovec {
namespace {

using nlohmann::json;

TEST(Tokenizer, SmallTokenizersMatchTheTokenizersLibrary) {
  const json cases = testing::read_json(testing::data_path("tokenizer/cases.json"));
  ASSERT_FALSE(cases.empty());
  std::map<std::string, std::unique_ptr<Tokenizer>> loaded;
  for (const json& c : cases) {
    const std::string file = c.at("tokenizer").get<std::string>();
    auto& tok = loaded[file];
    if (!tok) tok = Tokenizer::from_json_file(testing::data_path("tokenizer/" + file));
    const std::string text = c.at("text").get<std::string>();
    const auto ids = c.at("ids").get<std::vector<int32_t>>();
    const auto ids_special = c.at("ids_special").get<std::vector<int32_t>>();
    SCOPED_TRACE(file + ": \"" + text + "\"");
    EXPECT_EQ(tok->encode(text, false), ids);
    EXPECT_EQ(tok->encode(text, true), ids_special);
    EXPECT_EQ(tok->encode(text, false, false), c.at("ids_plain").get<std::vector<int32_t>>());
    EXPECT_EQ(tok->decode(ids), c.at("decoded").get<std::string>());
    EXPECT_EQ(tok->decode(ids_special, true), c.at("decoded_skip").get<std::string>());
  }
}

TEST(Tokenizer, DescribesItself) {
  const auto wp = Tokenizer::from_json_file(testing::data_path("tokenizer/wordpiece.json"));
  EXPECT_EQ(wp->kind(), "wordpiece");
  EXPECT_EQ(wp->pre_tokenizer(), "bert");
  EXPECT_EQ(wp->token_text(5), "hello");
  EXPECT_EQ(wp->token_id("hello"), 5);
  EXPECT_EQ(wp->token_id("[CLS]"), 2);
  EXPECT_FALSE(wp->token_id("nope").has_value());
  EXPECT_TRUE(wp->is_special(2));
  EXPECT_FALSE(wp->is_special(5));
  EXPECT_THROW(wp->token_text(wp->vocab_size()), Error);
  const auto spm = Tokenizer::from_json_file(testing::data_path("tokenizer/metaspace_spm.json"));
  EXPECT_EQ(spm->kind(), "sentencepiece-bpe");
  EXPECT_EQ(spm->pre_tokenizer(), "metaspace");
  const auto l3 =
      Tokenizer::from_json_file(testing::data_path("tokenizer/llama3_ignore_merges.json"));
  EXPECT_EQ(l3->kind(), "byte-level-bpe");
  EXPECT_EQ(l3->pre_tokenizer(), "llama3");
}

std::string minimal_bpe(const std::string& vocab, const std::string& merges,
                        const std::string& extra = "") {
  return R"({"model": {"type": "BPE", "vocab": )" + vocab + R"(, "merges": )" + merges + "}" +
         extra + "}";
}

void expect_error(const std::string& tokenizer_json, const std::string& needle) {
  try {
    Tokenizer::from_json_string(tokenizer_json);
    ADD_FAILURE() << "no error for " << tokenizer_json;
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find(needle), std::string::npos)
        << "message \"" << e.what() << "\" does not mention \"" << needle << "\"";
  }
}

TEST(Tokenizer, JsonLoaderNamesTheProblem) {
  expect_error("{", "not valid JSON");
  expect_error("[]", "top level");
  expect_error(R"({"normalizer": null})", "no \"model\"");
  expect_error(R"({"model": {"type": "BPE", "merges": []}})", "no \"vocab\"");
  expect_error(minimal_bpe("{}", "[]"), "vocab is empty");
  expect_error(minimal_bpe(R"({"a": 0, "b": 1})", R"(["a c"])"), "'c'");
  expect_error(minimal_bpe(R"({"a": 0, "b": 1})", R"(["a b"])"), "'ab'");
  expect_error(minimal_bpe(R"({"a": 0, "b": 1, "ab": 2})", R"(["a b c"])"), "one space");
  expect_error(minimal_bpe(R"({"a": -1})", "[]"), "out of range");
  expect_error(minimal_bpe(R"({"a": 0, "b": 99999999})", "[]"), "out of range");
  expect_error(minimal_bpe(R"({"a": 0, "b": 9000000})", "[]"), "corrupt");
  expect_error(minimal_bpe(R"({"a": "x"})", "[]"), "integer id");
  expect_error(minimal_bpe(R"({"a": 0})", "[]", R"(, "pre_tokenizer": {"type": "Split",
      "pattern": {"Regex": "\\w+"}, "behavior": "Isolated"})"),
               "not one of the supported patterns");
  expect_error(minimal_bpe(R"({"a": 0})", "[]", R"(, "normalizer": {"type": "Precompiled"})"),
               "Precompiled");
  expect_error(
      minimal_bpe(R"({"a": 0})", "[]", R"(, "post_processor": {"type": "TemplateProcessing",
      "single": [{"SpecialToken": {"id": "<s>", "type_id": 0}}], "special_tokens": {}})"),
      "<s>");
  expect_error(
      minimal_bpe(R"({"a": 0})", "[]", R"(, "post_processor": {"type": "TemplateProcessing",
      "single": [{"SpecialToken": {"id": "<s>"}}],
      "special_tokens": {"<s>": {"ids": [5]}}})"),
      "outside the vocabulary");
  expect_error(R"({"model": {"type": "Unigram", "vocab": []}})", "Unigram");
  expect_error(R"({"model": {"type": "WordPiece", "vocab": {"a": 0}, "unk_token": "[UNK]"}})",
               "[UNK]");
  expect_error(minimal_bpe(R"({"a": 0})", "[]", R"(, "added_tokens": [{"content": "x"}])"), "id");
  EXPECT_THROW(Tokenizer::from_json_file("/nonexistent/tokenizer.json"), Error);
}

TEST(Tokenizer, ConfigSuppliesBosEos) {
  const std::string tj = minimal_bpe(R"({"<s>": 0, "</s>": 1, "a": 2})", "[]",
                                     R"(, "added_tokens": [
      {"id": 0, "content": "<s>", "special": true, "normalized": false},
      {"id": 1, "content": "</s>", "special": true, "normalized": false}])");
  const auto tok = Tokenizer::from_json_string(
      tj, R"({"bos_token": {"content": "<s>"}, "eos_token": "</s>", "add_bos_token": true})");
  EXPECT_EQ(tok->bos_id(), 0);
  EXPECT_EQ(tok->eos_id(), 1);
  // No post_processor in the tokenizer.json: add_bos_token from the config applies.
  EXPECT_EQ(tok->encode("a"), (std::vector<int32_t>{0, 2}));
  EXPECT_EQ(tok->encode("a", false), (std::vector<int32_t>{2}));
  // Without a decoder the reference joins tokens with spaces.
  const int32_t ids[] = {2, 1, 2};
  EXPECT_EQ(tok->decode(ids), "a </s> a");
  EXPECT_EQ(tok->decode(ids, true), "a a");
  const int32_t bad[] = {3};
  EXPECT_THROW(tok->decode(bad), Error);
}

// Every shipped tokenizer, loaded once for the tests below.
const Tokenizer& shipped(const std::string& name) {
  static std::map<std::string, std::pair<std::unique_ptr<ModelFile>, std::unique_ptr<Tokenizer>>>
      cache;
  auto& entry = cache[name];
  if (!entry.second) {
    entry.first = open_model_file(testing::model_path(name));
    entry.second = load_tokenizer(*entry.first);
  }
  return *entry.second;
}

const char* const kShipped[] = {"smollm2-135m-instruct", "qwen2.5-coder-0.5b-instruct",
                                "gemma-3-270m", "all-minilm-l6-v2"};

TEST(Tokenizer, InvalidUtf8IsReplacedNotFatal) {
  for (const char* name : kShipped) {
    const Tokenizer& tok = shipped(name);
    SCOPED_TRACE(name);
    // Each maximal invalid subsequence reads as U+FFFD.
    EXPECT_EQ(tok.encode("a\xFF"
                         "b"),
              tok.encode("a\xEF\xBF\xBD"
                         "b"));
    EXPECT_EQ(tok.encode("x\xE2\x82 y"), tok.encode("x\xEF\xBF\xBD y"));
    EXPECT_EQ(tok.encode("\xED\xA0\x80"), tok.encode("\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD"));
    std::string noise;
    for (int i = 0; i < 4096; ++i) noise.push_back(static_cast<char>((i * 7919 + 13) & 0xFF));
    const auto ids = tok.encode(noise);
    EXPECT_FALSE(ids.empty());
    EXPECT_NO_THROW(tok.decode(ids));
  }
}

TEST(Tokenizer, DecodeOfCutCharactersGivesReplacement) {
  const Tokenizer& tok = shipped("qwen2.5-coder-0.5b-instruct");
  const std::string rare = "\xF0\xAA\x9B\x96";  // U+2A6D6, a rare ideograph: several byte tokens
  const auto ids = tok.encode(rare, false);
  ASSERT_GT(ids.size(), 1u);
  EXPECT_EQ(tok.decode(ids), rare);
  EXPECT_EQ(tok.decode(std::span<const int32_t>(ids).first(1)), "\xEF\xBF\xBD");
}

TEST(Tokenizer, ShippedDescriptions) {
  EXPECT_EQ(shipped("smollm2-135m-instruct").kind(), "byte-level-bpe");
  EXPECT_EQ(shipped("smollm2-135m-instruct").pre_tokenizer(), "gpt2");
  EXPECT_EQ(shipped("smollm2-135m-instruct").bos_id(), 1);
  EXPECT_EQ(shipped("smollm2-135m-instruct").token_text(2), "<|im_end|>");
  EXPECT_EQ(shipped("qwen2.5-coder-0.5b-instruct").pre_tokenizer(), "qwen2");
  EXPECT_EQ(shipped("qwen2.5-coder-0.5b-instruct").vocab_size(), 151936);
  EXPECT_EQ(shipped("qwen2.5-coder-0.5b-instruct").eos_id(), 151645);
  EXPECT_EQ(shipped("gemma-3-270m").kind(), "sentencepiece-bpe");
  EXPECT_EQ(shipped("gemma-3-270m").vocab_size(), 262144);
  EXPECT_EQ(shipped("gemma-3-270m").bos_id(), 2);
  EXPECT_EQ(shipped("gemma-3-270m").token_text(138), "  ");  // as the GGUF spells it
  EXPECT_EQ(shipped("all-minilm-l6-v2").kind(), "wordpiece");
  EXPECT_EQ(shipped("all-minilm-l6-v2").vocab_size(), 30522);
}

TEST(Tokenizer, FiveHundredQueriesAreInstant) {
  std::vector<std::string> queries;
  for (int i = 0; i < 500; ++i) {
    queries.push_back("Query " + std::to_string(i) +
                      ": how does the model feel about rainy Mondays, café crème, 日本語, "
                      "emoji 😀 and code like `x += " +
                      std::to_string(i * 37) + ";`?");
  }
  for (const char* name : kShipped) {
    const Tokenizer& tok = shipped(name);
    const auto start = std::chrono::steady_clock::now();
    size_t n = 0;
    for (const std::string& q : queries) n += tok.encode(q).size();
    const double ms =
        std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count();
    std::printf("[ speed    ] %s: 500 queries, %zu tokens, %.1f ms\n", name, n, ms);
    EXPECT_LT(ms, 2000.0) << name;
  }
}

GgufValue strings(const std::vector<std::string>& items) {
  GgufValue::Array a;
  for (const std::string& s : items) a.push_back(GgufValue::string(s));
  return GgufValue::array(GgufType::String, a);
}

GgufValue floats(const std::vector<double>& items) {
  GgufValue::Array a;
  for (double v : items) a.push_back(GgufValue::real(GgufType::Float32, v));
  return GgufValue::array(GgufType::Float32, a);
}

GgufValue ints(const std::vector<int64_t>& items) {
  GgufValue::Array a;
  for (int64_t v : items) a.push_back(GgufValue::sint(GgufType::Int32, v));
  return GgufValue::array(GgufType::Int32, a);
}

std::unique_ptr<Tokenizer> from_writer(const GgufWriter& w) {
  const std::vector<uint8_t> bytes = w.to_bytes();
  const GgufFile file = GgufFile::from_bytes(bytes);
  return Tokenizer::from_gguf(file);
}

GgufWriter byte_level_gguf() {
  GgufWriter w;
  w.set("general.architecture", GgufValue::string("llama"));
  w.set("tokenizer.ggml.model", GgufValue::string("gpt2"));
  w.set("tokenizer.ggml.pre", GgufValue::string("llama-bpe"));
  w.set("tokenizer.ggml.tokens", strings({"a", "b", "ab", "\xc4\xa0",
                                          "\xc4\xa0"
                                          "ab",
                                          "<|s|>"}));
  w.set("tokenizer.ggml.token_type", ints({1, 1, 1, 1, 1, 3}));
  w.set("tokenizer.ggml.merges", strings({"a b",
                                          "\xc4\xa0 "
                                          "ab"}));
  w.set("tokenizer.ggml.bos_token_id", GgufValue::uint(GgufType::Uint32, 5));
  w.set("tokenizer.ggml.add_bos_token", GgufValue::boolean(true));
  return w;
}

TEST(Tokenizer, SmallGgufByteLevel) {
  const auto tok = from_writer(byte_level_gguf());
  EXPECT_EQ(tok->kind(), "byte-level-bpe");
  EXPECT_EQ(tok->pre_tokenizer(), "llama3");
  // "ab ab<|s|>": pieces "ab", " ab", then the control token; "c" has no token and is dropped.
  EXPECT_EQ(tok->encode("ab abc<|s|>"), (std::vector<int32_t>{5, 2, 4, 5}));
  EXPECT_EQ(tok->encode("<|s|>", false, false), (std::vector<int32_t>{}));
  const int32_t ids[] = {2, 4, 5};
  EXPECT_EQ(tok->decode(ids), "ab ab<|s|>");
  EXPECT_EQ(tok->decode(ids, true), "ab ab");
}

TEST(Tokenizer, SmallGgufSentencePiece) {
  GgufWriter w;
  w.set("general.architecture", GgufValue::string("llama"));
  w.set("tokenizer.ggml.model", GgufValue::string("llama"));
  w.set("tokenizer.ggml.tokens", strings({"<unk>", "<s>", "</s>", "\xe2\x96\x81", "a", "b",
                                          "\xe2\x96\x81"
                                          "a",
                                          "ab",
                                          "\xe2\x96\x81"
                                          "ab"}));
  w.set("tokenizer.ggml.scores", floats({0, 0, 0, -5, -6, -7, -1, -2, -3}));
  w.set("tokenizer.ggml.token_type", ints({2, 3, 3, 1, 1, 1, 1, 1, 1}));
  w.set("tokenizer.ggml.bos_token_id", GgufValue::uint(GgufType::Uint32, 1));
  w.set("tokenizer.ggml.eos_token_id", GgufValue::uint(GgufType::Uint32, 2));
  const auto tok = from_writer(w);
  EXPECT_EQ(tok->kind(), "sentencepiece-bpe");
  // BOS by default; "▁a" (best score) merges first, then "▁a"+"b" makes "▁ab".
  EXPECT_EQ(tok->encode("ab"), (std::vector<int32_t>{1, 8}));
  // No byte tokens, so an unknown character becomes <unk>.
  EXPECT_EQ(tok->encode("ac", false), (std::vector<int32_t>{6, 0}));
  const int32_t ids[] = {1, 8, 6};
  EXPECT_EQ(tok->decode(ids, true), "ab a");
}

void expect_gguf_error(const GgufWriter& w, const std::string& needle) {
  try {
    from_writer(w);
    ADD_FAILURE() << "no error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find(needle), std::string::npos)
        << "message \"" << e.what() << "\" does not mention \"" << needle << "\"";
  }
}

TEST(Tokenizer, GgufLoaderNamesTheProblem) {
  GgufWriter none;
  none.set("general.architecture", GgufValue::string("llama"));
  expect_gguf_error(none, "carries no tokenizer");

  GgufWriter w;
  w.set("tokenizer.ggml.model", GgufValue::string("gpt2"));
  expect_gguf_error(w, "tokenizer.ggml.tokens is missing");

  w = byte_level_gguf();
  w.set("tokenizer.ggml.tokens", strings({}));
  expect_gguf_error(w, "empty");

  w = byte_level_gguf();
  w.set("tokenizer.ggml.merges", strings({"a c"}));
  expect_gguf_error(w, "'c', which is not in the vocabulary");

  w = byte_level_gguf();
  w.set("tokenizer.ggml.token_type", ints({1, 1}));
  expect_gguf_error(w, "token_type has 2 entries for 6 tokens");

  w = byte_level_gguf();
  w.set("tokenizer.ggml.bos_token_id", GgufValue::uint(GgufType::Uint32, 6));
  expect_gguf_error(w, "bos_token_id = 6 is outside the vocabulary");

  w = byte_level_gguf();
  w.set("tokenizer.ggml.pre", GgufValue::string("tekken"));
  expect_gguf_error(w, "tekken");

  w = byte_level_gguf();
  w.set("tokenizer.ggml.model", GgufValue::string("t5"));
  expect_gguf_error(w, "'t5' is not supported");

  w = byte_level_gguf();
  w.set("tokenizer.ggml.tokens", GgufValue::uint(GgufType::Uint32, 3));
  expect_gguf_error(w, "tokenizer.ggml.tokens");
}

}  // namespace
}  // namespace emovec
