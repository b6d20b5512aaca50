// Streamed decoding (DecodeStream, and the replies built on it) against the tokenizer's
// decoding of the whole sequence at once: the pieces must add up to it, and every prefix of them
// must be a prefix of it, on the shipped models' tokenizers and the unit-test tokenizers (a
// SentencePiece one with byte fallback and a leading-space Strip, byte-level BPE, WordPiece),
// over real text with multi-byte characters and over random ids (special tokens, byte tokens
// that cut or break characters).
#include <gtest/gtest.h>

#include <algorithm>
#include <cctype>
#include <map>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "emovec/decoder.h"
#include "emovec/error.h"
#include "emovec/generate.h"
#include "emovec/tokenizer.h"
#include "support/test_support.h"

namespace emovec {
namespace {

const std::string kText =
    "Hello, world! Où est la gare ? 東京は晴れです。Emoji: 😀🎉👍🏽 — “quotes” and math "
    "∑∫√. "
    "Tabs\tand\nnewlines,   runs of   spaces, and a number 1234567.";

const DecoderModel& model(const std::string& name) {
  static std::map<std::string, std::unique_ptr<DecoderModel>> models;
  auto& m = models[name];
  if (!m) m = DecoderModel::load(testing::model_path(name));
  return *m;
}

// Pieces concatenate to the whole decoding; every prefix of them is a prefix of it.
void check_pieces(const std::string& whole, const std::vector<std::string>& pieces,
                  const std::string& what) {
  std::string sofar;
  for (size_t i = 0; i < pieces.size(); ++i) {
    sofar += pieces[i];
    ASSERT_EQ(whole.compare(0, sofar.size(), sofar), 0)
        << what << ": after piece " << i << " the text given out is not a prefix of the whole";
  }
  EXPECT_EQ(sofar, whole) << what;
}

void check_stream(const Tokenizer& tok, const std::vector<int32_t>& ids, bool skip_special,
                  const std::string& what) {
  DecodeStream stream(tok, skip_special);
  std::vector<std::string> pieces;
  for (const int32_t id : ids) pieces.push_back(stream.push(id));
  pieces.push_back(stream.flush());
  EXPECT_EQ(stream.ids(), ids);
  EXPECT_EQ(stream.flush(), "") << what;
  check_pieces(tok.decode(ids, skip_special), pieces, what);
}

// Real text, random ids, and text interleaved with special tokens and cut characters.
void check_tokenizer(const Tokenizer& tok, const std::string& name) {
  for (const bool skip : {true, false}) {
    const std::string how = name + (skip ? ", skipping special tokens" : "");
    check_stream(tok, tok.encode(kText, false, false), skip, how + ": text");
    std::mt19937 rng(7);
    std::uniform_int_distribution<int32_t> any(0, tok.vocab_size() - 1);
    for (int round = 0; round < 20; ++round) {
      std::vector<int32_t> ids(200);
      for (int32_t& id : ids) id = any(rng);
      check_stream(tok, ids, skip, how + ": random ids, round " + std::to_string(round));
    }
    std::vector<int32_t> mixed;
    const std::vector<int32_t> words = tok.encode("Un café, s'il vous plaît. 😀", false, false);
    const std::vector<int32_t> emoji = tok.encode("😀", false, false);
    for (int round = 0; round < 30; ++round) {
      mixed.insert(mixed.end(), words.begin(), words.end());
      for (const AddedToken& a : tok.added_tokens()) {
        if (a.special && (round + a.id) % 7 == 0) mixed.push_back(a.id);
      }
      mixed.insert(mixed.end(), emoji.begin(), emoji.begin() + 1);  // maybe a cut character
    }
    check_stream(tok, mixed, skip, how + ": mixed");
  }
}

std::string test_name(const ::testing::TestParamInfo<std::string>& param) {
  std::string n = param.param;
  std::replace_if(
      n.begin(), n.end(), [](unsigned char c) { return std::isalnum(c) == 0; }, '_');
  return n;
}

class ShippedTokenizer : public ::testing::TestWithParam<std::string> {};

TEST_P(ShippedTokenizer, PiecesAddUpToTheWholeDecoding) {
  check_tokenizer(*model(GetParam()).tokenizer(), GetParam());
}

INSTANTIATE_TEST_SUITE_P(DecodeStream, ShippedTokenizer,
                         ::testing::Values("smollm2-135m-instruct", "qwen2.5-coder-0.5b-instruct",
                                           "gemma-3-270m"),
                         test_name);

class UnitTokenizer : public ::testing::TestWithParam<std::string> {};

TEST_P(UnitTokenizer, PiecesAddUpToTheWholeDecoding) {
  const auto tok = Tokenizer::from_json_file(testing::data_path("tokenizer/" + GetParam()));
  check_tokenizer(*tok, GetParam());
}

INSTANTIATE_TEST_SUITE_P(DecodeStream, UnitTokenizer,
                         ::testing::Values("metaspace_spm.json", "byte_level_bpe.json",
                                           "wordpiece.json"),
                         test_name);

// A character spelled by byte tokens is given out only when a token other than a byte follows:
// a further byte could make the run invalid, and the run would then decode as one U+FFFD per
// byte.
TEST(DecodeStream, ByteRunsAreHeldUntilTheyEnd) {
  const auto tok = Tokenizer::from_json_file(testing::data_path("tokenizer/metaspace_spm.json"));
  const auto byte = [&](const char* t) { return *tok->token_id(t); };
  const std::vector<int32_t> euro = {byte("<0xE2>"), byte("<0x82>"), byte("<0xAC>")};
  DecodeStream stream(*tok, true);
  for (const int32_t id : euro) EXPECT_EQ(stream.push(id), "");
  // One more byte: the run E2 82 AC E2 is not UTF-8, so the euro sign was never final.
  EXPECT_EQ(stream.push(byte("<0xE2>")), "");
  std::vector<int32_t> all = euro;
  all.push_back(byte("<0xE2>"));
  const std::string whole = tok->decode(all, true);
  EXPECT_EQ(whole, "\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD");
  EXPECT_EQ(stream.flush(), whole);

  DecodeStream ok(*tok, true);
  for (const int32_t id : euro) EXPECT_EQ(ok.push(id), "");
  EXPECT_EQ(ok.flush(), "\xE2\x82\xAC");
  EXPECT_THROW(ok.push(tok->vocab_size()), Error);
}

// A reply built token by token (greedy on one-hot logits) releases the same text as the
// tokenizer gives for its tokens.
TEST(DecodeStream, ReplyTextEqualsTheDecodingOfItsTokens) {
  const DecoderModel& m = model("smollm2-135m-instruct");
  std::vector<int32_t> tokens = m.tokenizer()->encode(kText + " " + kText, false, false);
  std::mt19937 rng(11);
  std::uniform_int_distribution<int32_t> any(0, m.tokenizer()->vocab_size() - 1);
  for (int i = 0; i < 300; ++i) tokens.push_back(any(rng));
  GenerateOptions o;
  o.n_predict = static_cast<int32_t>(tokens.size());
  o.sampling.temperature = 0;
  o.ignore_eos = true;
  const std::vector<int32_t> prompt = {0};
  ReplyState reply(m, prompt, o, 1 << 20);
  std::vector<float> logits(static_cast<size_t>(m.tokenizer()->vocab_size()), 0.0f);
  std::vector<std::string> pieces;
  for (size_t i = 0; i < tokens.size() && !reply.done(); ++i) {
    logits[static_cast<size_t>(tokens[i])] = 1.0f;
    pieces.push_back(reply.step(logits, static_cast<int64_t>(i + 1)));
    logits[static_cast<size_t>(tokens[i])] = 0.0f;
  }
  ASSERT_TRUE(reply.done());
  EXPECT_EQ(reply.result().tokens, tokens);
  EXPECT_EQ(reply.result().finish_reason, "length");
  check_pieces(m.tokenizer()->decode(tokens, true), pieces, "reply");
  std::string all;
  for (const std::string& p : pieces) all += p;
  EXPECT_EQ(reply.result().text, all);
}

}  // namespace
}  // namespace emovec
