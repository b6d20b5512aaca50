// libFuzzer target for the tokenizers. The first byte picks what the rest is:
//   0: tokenizer.json text: load it, then encode and decode a few texts with it;
//   1: GGUF bytes: load the tokenizer from its metadata, then encode and decode;
//   2..: text to encode, with parse_special on and off, and to decode back, by one of several
//        small but real tokenizers built from the seeds below (byte-level BPE with the Llama-3
//        split and flagged added tokens, GPT-2 + digits, WordPiece with the BERT normalizer,
//        Metaspace with byte fallback, NFC + literal splits).
// Only emovec::Error may escape the library, and only from loading; encoding any bytes and
// decoding what encode returned must succeed. Anything else is a finding.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "emovec/error.h"
#include "emovec/gguf.h"
#include "emovec/tokenizer.h"

namespace {

// A byte alphabet vocabulary ("!".."~" etc. plus the shifted bytes) written out as JSON
// entries, so the seeds below stay short.
std::string byte_vocab_entries() {
  std::string out;
  int next = 256;
  for (int b = 0; b < 256; ++b) {
    const bool printable = (b >= '!' && b <= '~') || (b >= 0xA1 && b <= 0xAC) || b >= 0xAE;
    const int cp = printable ? b : next++;
    std::string utf8;
    if (cp < 0x80) {
      if (cp == '"' || cp == '\\') utf8 += '\\';
      utf8 += static_cast<char>(cp);
    } else {
      utf8 += static_cast<char>(0xC0 | (cp >> 6));
      utf8 += static_cast<char>(0x80 | (cp & 0x3F));
    }
    out += "\"" + utf8 + "\": " + std::to_string(b) + ", ";
  }
  return out;
}

std::string byte_level_seed(const std::string& pre_tokenizer) {
  return R"({"added_tokens": [
  {"id": 270, "content": "<s>", "special": true, "normalized": false},
  {"id": 271, "content": "<mask>", "special": true, "normalized": false, "lstrip": true, "rstrip": true},
  {"id": 272, "content": "word", "special": false, "normalized": false, "single_word": true},
  {"id": 273, "content": "Hi", "special": false, "normalized": true}],
 "normalizer": {"type": "Lowercase"},
 "pre_tokenizer": )" +
         pre_tokenizer + R"(,
 "post_processor": {"type": "TemplateProcessing", "single": [{"SpecialToken": {"id": "<s>"}},
   {"Sequence": {"id": "A"}}], "special_tokens": {"<s>": {"ids": [270]}}},
 "decoder": {"type": "ByteLevel"},
 "model": {"type": "BPE", "vocab": {)" +
         byte_vocab_entries() +
         R"("Ġt": 256, "he": 257, "Ġthe": 258, "in": 259, "ing": 260, "ĠĠ": 261, "12": 262,
   "123": 263, "Ġw": 264, "or": 265, "Ġwor": 266, "Ġword": 267, "ll": 268, "ell": 269},
  "merges": ["Ġ t", "h e", "Ġt he", "i n", "in g", "Ġ Ġ", "1 2", "12 3", "Ġ w", "o r",
             "Ġw or", "Ġwor d", "l l", "e ll"]}})";
}

const char kWordPieceSeed[] = R"({"added_tokens": [
  {"id": 0, "content": "[PAD]", "special": true, "normalized": false},
  {"id": 1, "content": "[UNK]", "special": true, "normalized": false},
  {"id": 2, "content": "[CLS]", "special": true, "normalized": false},
  {"id": 3, "content": "[SEP]", "special": true, "normalized": false}],
 "normalizer": {"type": "BertNormalizer", "clean_text": true, "handle_chinese_chars": true,
                "strip_accents": null, "lowercase": true},
 "pre_tokenizer": {"type": "BertPreTokenizer"},
 "post_processor": {"type": "BertProcessing", "sep": ["[SEP]", 3], "cls": ["[CLS]", 2]},
 "decoder": {"type": "WordPiece", "prefix": "##", "cleanup": true},
 "model": {"type": "WordPiece", "unk_token": "[UNK]", "continuing_subword_prefix": "##",
  "max_input_chars_per_word": 12, "vocab": {"[PAD]": 0, "[UNK]": 1, "[CLS]": 2, "[SEP]": 3,
  "hello": 4, "world": 5, "##s": 6, "un": 7, "##aff": 8, "##able": 9, "cafe": 10, "!": 11,
  ",": 12, "a": 13, "##a": 14, "中": 15, "'": 16, "s": 17, "n": 18, "##t": 19}}})";

const char kMetaspaceSeed[] = R"({"added_tokens": [
  {"id": 1, "content": "<s>", "special": true, "normalized": false},
  {"id": 2, "content": "</s>", "special": true, "normalized": false}],
 "pre_tokenizer": {"type": "Metaspace", "replacement": "▁", "prepend_scheme": "first", "split": false},
 "post_processor": {"type": "TemplateProcessing", "single": [{"SpecialToken": {"id": "<s>"}},
   {"Sequence": {"id": "A"}}], "special_tokens": {"<s>": {"ids": [1]}}},
 "decoder": {"type": "Sequence", "decoders": [{"type": "Replace", "pattern": {"String": "▁"},
   "content": " "}, {"type": "ByteFallback"}, {"type": "Fuse"},
   {"type": "Strip", "content": " ", "start": 1, "stop": 0}]},
 "model": {"type": "BPE", "unk_token": "<unk>", "fuse_unk": true, "byte_fallback": true,
  "vocab": {"<unk>": 0, "<s>": 1, "</s>": 2, "<0x41>": 3, "<0xC3>": 4, "<0xA9>": 5, "<0xE2>": 6,
   "<0x96>": 7, "<0x81>": 8, "▁": 9, "h": 10, "e": 11, "l": 12, "o": 13, "▁h": 14, "▁he": 15,
   "ll": 16, "▁hell": 17, "▁hello": 18, "▁▁": 19},
  "merges": ["▁ h", "▁h e", "l l", "▁he ll", "▁hell o", "▁ ▁"]}})";

const char kCharSeed[] = R"({"normalizer": {"type": "Sequence", "normalizers": [{"type": "NFC"},
   {"type": "Lowercase"}, {"type": "Replace", "pattern": {"String": " "}, "content": "▁"},
   {"type": "Strip", "strip_left": true, "strip_right": true}]},
 "pre_tokenizer": {"type": "Sequence", "pretokenizers": [
   {"type": "Split", "pattern": {"String": "-"}, "behavior": "MergedWithNext", "invert": false},
   {"type": "Digits", "individual_digits": false}, {"type": "Punctuation", "behavior": "Contiguous"},
   {"type": "WhitespaceSplit"}]},
 "decoder": {"type": "Metaspace", "replacement": "▁", "prepend_scheme": "always"},
 "model": {"type": "BPE", "unk_token": "<unk>", "continuing_subword_prefix": "##",
  "end_of_word_suffix": "</w>", "vocab": {"<unk>": 0, "a": 1, "b": 2, "é": 3, "##a": 4,
   "##b": 5, "a</w>": 6, "##b</w>": 7, "ab": 8, "ab</w>": 9, "-": 10, "1": 11, "##1": 12},
  "merges": ["a ##b", "a ##b</w>"]}})";

struct Seeds {
  std::vector<std::unique_ptr<emovec::Tokenizer>> tokenizers;
  Seeds() {
    const std::string llama3 =
        R"({"type": "Sequence", "pretokenizers": [{"type": "Split", "pattern": {"Regex":
        "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}{1,3}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+"},
        "behavior": "Isolated", "invert": false}, {"type": "ByteLevel", "add_prefix_space": false,
        "use_regex": false}]})";
    const std::string gpt2_digits =
        R"({"type": "Sequence", "pretokenizers": [{"type": "Digits", "individual_digits": true},
        {"type": "ByteLevel", "add_prefix_space": true, "use_regex": true}]})";
    for (const std::string& seed :
         {byte_level_seed(llama3), byte_level_seed(gpt2_digits), std::string(kWordPieceSeed),
          std::string(kMetaspaceSeed), std::string(kCharSeed)}) {
      tokenizers.push_back(emovec::Tokenizer::from_json_string(seed));
    }
  }
};

// Encoding and decoding must work for any text once a tokenizer has loaded.
void exercise(const emovec::Tokenizer& tok, std::string_view text) {
  for (bool parse_special : {true, false}) {
    const std::vector<int32_t> ids = tok.encode(text, true, parse_special);
    for (int32_t id : ids) {
      if (id < 0 || id >= tok.vocab_size()) std::abort();
    }
    (void)tok.decode(ids, false);
    (void)tok.decode(ids, true);
  }
  (void)tok.encode(text, false, true);
}

void exercise_loaded(const emovec::Tokenizer& tok, std::string_view source) {
  exercise(tok, "Hello world, it's 2024!  <s> [CLS] \xE2\x96\x81x caf\xC3\xA9 \xF0\x9F\x98\x80\n");
  exercise(tok, source.substr(0, 512));
  std::vector<int32_t> all;
  for (int32_t id = 0; id < tok.vocab_size() && id < 4096; ++id) all.push_back(id);
  (void)tok.decode(all, false);
  (void)tok.decode(all, true);
  for (int32_t id = 0; id < tok.vocab_size() && id < 64; ++id) (void)tok.token_text(id);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const Seeds seeds;
  if (size == 0) return 0;
  const std::string_view rest(reinterpret_cast<const char*>(data + 1), size - 1);
  const unsigned mode = data[0] % (2 + seeds.tokenizers.size());
  if (mode == 0) {
    std::unique_ptr<emovec::Tokenizer> tok;
    try {
      tok = emovec::Tokenizer::from_json_string(rest);
    } catch (const emovec::Error&) {
      return 0;
    }
    exercise_loaded(*tok, rest);
  } else if (mode == 1) {
    std::unique_ptr<emovec::Tokenizer> tok;
    try {
      const emovec::GgufFile file =
          emovec::GgufFile::from_bytes(std::span<const uint8_t>(data + 1, size - 1));
      tok = emovec::Tokenizer::from_gguf(file);
    } catch (const emovec::Error&) {
      return 0;
    }
    exercise_loaded(*tok, rest);
  } else {
    exercise(*seeds.tokenizers[mode - 2], rest);
  }
  return 0;
}
