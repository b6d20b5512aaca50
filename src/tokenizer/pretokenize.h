// Pre-tokenizers: the regex splitters of GPT-2, Llama-3 and Qwen2 written out by hand, and the
// split machinery of the `tokenizers` library (match lists and delimiter behaviours).
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace emovec::tok {

// The regexes the reference runs with Oniguruma, matched here without a regex engine.
enum class SplitRegex {
  // 's|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+
  Gpt2,
  // (?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|
  // \s*[\r\n]+|\s+(?!\S)|\s+
  Llama3,
  // As Llama3 with \p{N} instead of \p{N}{1,3}.
  Qwen2,
};

std::string_view regex_name(SplitRegex regex);
// The SplitRegex whose pattern is exactly `pattern` (as written in tokenizer.json), if any.
std::optional<SplitRegex> regex_from_pattern(std::string_view pattern);
std::string_view regex_pattern(SplitRegex regex);

// A piece of a split: byte range and whether it is a match of the pattern.
struct Span {
  size_t begin = 0;
  size_t end = 0;
  bool is_match = false;
};

// Every match of `regex` in `text` (valid UTF-8), leftmost-first as a backtracking engine finds
// them, together with the text between matches: the spans cover `text` in order.
std::vector<Span> find_regex_matches(SplitRegex regex, std::string_view text);
// Non-overlapping occurrences of `literal`, left to right, with the text between them.
std::vector<Span> find_literal_matches(std::string_view literal, std::string_view text);
// Each code point for which `pred` holds is a match of its own.
template <typename Pred>
std::vector<Span> find_char_matches(std::string_view text, Pred pred);

enum class SplitBehavior { Removed, Isolated, MergedWithPrevious, MergedWithNext, Contiguous };

// The byte ranges that a split with `behavior` keeps (`invert` swaps matches and non-matches),
// without empty ones: tokenizers' NormalizedString::split.
std::vector<std::pair<size_t, size_t>> apply_split(std::vector<Span> spans, SplitBehavior behavior,
                                                   bool invert);

// GPT-2's map from bytes to printable code points (the "byte-level" alphabet).
char32_t byte_to_unicode(unsigned char byte);
// The byte a code point of that alphabet stands for, or -1.
int unicode_to_byte(char32_t cp);
// `text` with every byte replaced by its alphabet code point, in UTF-8.
std::string byte_level_encode(std::string_view text);

// BERT punctuation: ASCII punctuation or a code point of category P.
bool is_bert_punctuation(char32_t cp);

}  // namespace emovec::tok

#include "tokenizer/pretokenize_inl.h"
