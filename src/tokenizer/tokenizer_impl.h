// The parts a Tokenizer is assembled from, mirroring the `tokenizers` pipeline: added tokens,
// normalizer, pre-tokenizer, model, post-processor and decoder. Loaders (tokenizer.json, GGUF)
// fill a Tokenizer::Impl; tokenizer.cpp runs it.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "emovec/error.h"
#include "emovec/tokenizer.h"
#include "tokenizer/pretokenize.h"

namespace emovec::tok {

// std::string keys looked up by string_view without a copy.
struct StringHash {
  using is_transparent = void;
  size_t operator()(std::string_view s) const noexcept { return std::hash<std::string_view>{}(s); }
};
using StringIdMap = std::unordered_map<std::string, int32_t, StringHash, std::equal_to<>>;

struct NormalizerStep {
  enum class Kind { Bert, Lowercase, Nfd, Nfc, StripAccents, Replace, Prepend, Strip };
  Kind kind = Kind::Lowercase;
  // Bert
  bool clean_text = true;
  bool handle_chinese_chars = true;
  bool strip_accents = true;  // already resolved from lowercase when the JSON says null
  bool lowercase = true;
  // Replace (literal pattern) / Prepend
  std::string pattern;
  std::string content;
  // Strip
  bool strip_left = false;
  bool strip_right = false;
};

enum class PrependScheme { Always, First, Never };

struct PreTokenizerStep {
  enum class Kind {
    ByteLevel,
    SplitRegex,
    SplitLiteral,
    Digits,
    Bert,
    Metaspace,
    WhitespaceSplit,
    Punctuation
  };
  Kind kind = Kind::Bert;
  // ByteLevel
  bool add_prefix_space = false;
  bool use_regex = true;
  // Split
  SplitRegex regex = SplitRegex::Gpt2;
  std::string literal;
  SplitBehavior behavior = SplitBehavior::Isolated;
  bool invert = false;
  // Digits
  bool individual_digits = false;
  // Metaspace
  std::string replacement = "\xE2\x96\x81";  // U+2581
  PrependScheme prepend_scheme = PrependScheme::Always;
  bool split = true;
};

struct DecoderStep {
  enum class Kind { ByteLevel, Replace, ByteFallback, Fuse, Strip, WordPiece, Metaspace };
  Kind kind = Kind::Fuse;
  std::string pattern;  // Replace (literal)
  std::string content;  // Replace; Strip (one code point)
  size_t strip_start = 0, strip_stop = 0;
  std::string prefix = "##";                 // WordPiece
  bool cleanup = true;                       // WordPiece
  std::string replacement = "\xE2\x96\x81";  // Metaspace
  PrependScheme prepend_scheme = PrependScheme::Always;
};

// The order in which merges apply. Explicit merges use `rank` alone; merges derived from
// SentencePiece scores compare (score of the merged token descending, then the left piece's and
// the right piece's length descending, then the merged token's position), which is the order
// transformers' generate_merges sorts them into.
struct MergeRank {
  float neg_score = 0;
  int32_t neg_left_len = 0;
  int32_t neg_right_len = 0;
  int32_t rank = 0;
  friend bool operator<(const MergeRank& a, const MergeRank& b) {
    if (a.neg_score != b.neg_score) return a.neg_score < b.neg_score;
    if (a.neg_left_len != b.neg_left_len) return a.neg_left_len < b.neg_left_len;
    if (a.neg_right_len != b.neg_right_len) return a.neg_right_len < b.neg_right_len;
    return a.rank < b.rank;
  }
};

struct BpeModel {
  // Merges listed in the file: (left id, right id) -> (rank, merged id).
  std::unordered_map<uint64_t, std::pair<uint32_t, int32_t>> merges;
  // Instead of listed merges: any two tokens whose concatenation is a token merge, ordered by
  // that token's score (GGUF SentencePiece vocabularies without merges).
  bool merges_from_scores = false;
  std::vector<float> scores;
  std::vector<int32_t> code_point_lengths;  // per id, for the derived order

  std::optional<int32_t> unk_id;
  bool fuse_unk = false;
  bool byte_fallback = false;
  bool ignore_merges = false;
  std::string continuing_subword_prefix;
  std::string end_of_word_suffix;
  std::vector<int32_t> byte_fallback_ids;  // 256 entries, -1 where <0xXX> is missing
};

struct WordPieceModel {
  int32_t unk_id = 0;
  std::string continuing_subword_prefix = "##";
  size_t max_input_chars_per_word = 100;
};

// Longest-match lookup of added tokens by bytes.
class ByteTrie {
 public:
  void insert(std::string_view key, int32_t value);
  // Longest key that is a prefix of `text`: its length and value, or length 0.
  std::pair<size_t, int32_t> longest_prefix(std::string_view text) const;
  bool empty() const { return nodes_.size() <= 1; }

 private:
  struct Node {
    std::vector<std::pair<unsigned char, int32_t>> children;  // sorted by byte
    int32_t value = -1;
  };
  std::vector<Node> nodes_{Node{}};
};

}  // namespace emovec::tok

namespace emovec {

struct Tokenizer::Impl {
  std::string kind;
  std::string pre_tokenizer_name;

  // Vocabulary in the form the model matches (byte-level alphabet, "▁"), by id; holes are "".
  std::vector<std::string> vocab;
  // The source's own spelling where it differs (GGUF Gemma spaces), for token_text; else empty.
  std::vector<std::string> display;
  tok::StringIdMap token_to_id;  // model vocabulary, last entry wins as in a JSON object

  std::vector<AddedToken> added;           // by insertion order
  std::vector<std::string> added_text;     // what decode shows: normalized content if normalized
  tok::StringIdMap added_by_content;       // content -> index into `added`
  std::vector<int32_t> added_index_by_id;  // id -> index into `added`, or -1
  tok::ByteTrie raw_trie;                  // non-normalized added tokens -> index into `added`
  tok::ByteTrie normalized_trie;           // normalized added tokens (their normalized text)
  std::vector<uint8_t> skip_on_decode;     // per id: its text is a special token's

  std::vector<tok::NormalizerStep> normalizer;
  std::vector<tok::PreTokenizerStep> pre_tokenizer;
  bool wordpiece = false;
  tok::BpeModel bpe;
  tok::WordPieceModel wp;

  std::vector<int32_t> prefix_ids;  // post-processor, single sequence
  std::vector<int32_t> suffix_ids;

  bool has_decoder = false;
  std::vector<tok::DecoderStep> decoder;

  std::optional<int32_t> bos;
  std::optional<int32_t> eos;

  // Called by loaders once everything above is set: sizes tables, builds tries.
  void finish();

  int32_t size() const { return static_cast<int32_t>(vocab.size()); }
  std::optional<int32_t> lookup(std::string_view token) const;
  // What the reference's decoder sees for `id`: an added token's content, else the vocab entry.
  const std::string& decoder_text(int32_t id) const;

  // Pipeline stages (tokenizer.cpp).
  std::string normalize(std::string_view text) const;
  void encode_segment(std::string_view text, bool at_start, bool parse_special,
                      std::vector<int32_t>& out) const;
  void encode_normalized(std::string_view text, bool at_start, std::vector<int32_t>& out) const;
  void model_tokenize(std::string_view word, std::vector<int32_t>& out) const;
  void bpe_tokenize(std::string_view word, std::vector<int32_t>& out) const;
  void wordpiece_tokenize(std::string_view word, std::vector<int32_t>& out) const;
  bool find_merge(int32_t left, int32_t right, tok::MergeRank& rank, int32_t& merged) const;
};

}  // namespace emovec
