// The hand-written regex splitters against matches found by a backtracking regex engine
// (Python's `regex` module, recorded below), and the split behaviours against the examples of
// the `tokenizers` documentation.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "tokenizer/pretokenize.h"
#include "tokenizer/unicode.h"

namespace emovec::tok {
namespace {

std::vector<std::string> matches(SplitRegex regex, const std::string& text) {
  std::vector<std::string> out;
  for (const Span& s : find_regex_matches(regex, text)) {
    EXPECT_TRUE(s.is_match) << "these patterns leave no gaps";
    out.push_back(text.substr(s.begin, s.end - s.begin));
  }
  return out;
}

using V = std::vector<std::string>;

// regex.findall(pattern, text) for each pattern and text.
struct Fact {
  const char* text;
  V gpt2, llama3, qwen2;
};

const Fact kFacts[] = {
    {"Hello  world", {"Hello", " ", " world"}, {"Hello", " ", " world"}, {"Hello", " ", " world"}},
    {"a  1", {"a", " ", " 1"}, {"a", " ", " ", "1"}, {"a", " ", " ", "1"}},
    {"I'M here", {"I", "'", "M", " here"}, {"I", "'M", " here"}, {"I", "'M", " here"}},
    {"they'LL go", {"they", "'", "LL", " go"}, {"they", "'LL", " go"}, {"they", "'LL", " go"}},
    {"  leading", {" ", " leading"}, {" ", " leading"}, {" ", " leading"}},
    {"trailing  ", {"trailing", "  "}, {"trailing", "  "}, {"trailing", "  "}},
    {"x\n\n  y", {"x", "\n\n ", " y"}, {"x", "\n\n", " ", " y"}, {"x", "\n\n", " ", " y"}},
    {"1234567", {"1234567"}, {"123", "456", "7"}, {"1", "2", "3", "4", "5", "6", "7"}},
    {"\u00a0hello", {"\u00a0", "hello"}, {"\u00a0hello"}, {"\u00a0hello"}},
    {"\tword", {"\t", "word"}, {"\tword"}, {"\tword"}},
    {"a\r\n\r\nb", {"a", "\r\n\r", "\n", "b"}, {"a", "\r\n\r\n", "b"}, {"a", "\r\n\r\n", "b"}},
    {"don't!!!\n\n",
     {"don", "'t", "!!!", "\n\n"},
     {"don", "'t", "!!!\n\n"},
     {"don", "'t", "!!!\n\n"}},
    {"  \n  x", {"  \n ", " x"}, {"  \n", " ", " x"}, {"  \n", " ", " x"}},
    {"\u4f60\u597d world",
     {"\u4f60\u597d", " world"},
     {"\u4f60\u597d", " world"},
     {"\u4f60\u597d", " world"}},
    {"...hi", {"...", "hi"}, {"...", "hi"}, {"...", "hi"}},
    {" 'sup", {" '", "sup"}, {" '", "sup"}, {" '", "sup"}},
    {"\u0645\u0631\u062d\u0628\u0627 123",
     {"\u0645\u0631\u062d\u0628\u0627", " 123"},
     {"\u0645\u0631\u062d\u0628\u0627", " ", "123"},
     {"\u0645\u0631\u062d\u0628\u0627", " ", "1", "2", "3"}},
};

TEST(PreTokenizer, RegexSplittersMatchABacktrackingEngine) {
  for (const Fact& f : kFacts) {
    EXPECT_EQ(matches(SplitRegex::Gpt2, f.text), f.gpt2) << "gpt2: " << f.text;
    EXPECT_EQ(matches(SplitRegex::Llama3, f.text), f.llama3) << "llama3: " << f.text;
    EXPECT_EQ(matches(SplitRegex::Qwen2, f.text), f.qwen2) << "qwen2: " << f.text;
  }
}

TEST(PreTokenizer, CaseInsensitiveContractionsIncludeLongS) {
  // Oniguruma folds U+017F LATIN SMALL LETTER LONG S onto 's' under (?i).
  EXPECT_EQ(matches(SplitRegex::Llama3, "'\u017fx"), (V{"'\u017f", "x"}));
  EXPECT_EQ(matches(SplitRegex::Gpt2, "'\u017fx"), (V{"'", "\u017fx"}));
}

TEST(PreTokenizer, EveryCodePointIsCovered) {
  std::string all;
  for (char32_t c = 1; c < 0x3000; ++c) append_utf8(all, c);
  append_utf8(all, 0x1F600);
  for (SplitRegex r : {SplitRegex::Gpt2, SplitRegex::Llama3, SplitRegex::Qwen2}) {
    std::string joined;
    for (const std::string& m : matches(r, all)) joined += m;
    EXPECT_EQ(joined, all) << regex_name(r);
  }
}

TEST(PreTokenizer, PatternsAreRecognised) {
  EXPECT_EQ(regex_from_pattern(
                R"('s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+)"),
            SplitRegex::Gpt2);
  EXPECT_EQ(
      regex_from_pattern(
          R"((?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+)"),
      SplitRegex::Qwen2);
  EXPECT_FALSE(regex_from_pattern(R"(\w+|[^\w\s]+)").has_value());
}

V split(const std::string& text, SplitBehavior behavior, bool invert = false) {
  V out;
  for (const auto& [b, e] : apply_split(find_literal_matches("-", text), behavior, invert)) {
    out.push_back(text.substr(b, e - b));
  }
  return out;
}

TEST(PreTokenizer, SplitBehavioursAsDocumented) {
  // The example of tokenizers' SplitDelimiterBehavior documentation.
  const std::string t = "the-final--countdown";
  EXPECT_EQ(split(t, SplitBehavior::Removed), (V{"the", "final", "countdown"}));
  EXPECT_EQ(split(t, SplitBehavior::Isolated), (V{"the", "-", "final", "-", "-", "countdown"}));
  EXPECT_EQ(split(t, SplitBehavior::MergedWithPrevious), (V{"the-", "final-", "-", "countdown"}));
  EXPECT_EQ(split(t, SplitBehavior::MergedWithNext), (V{"the", "-final", "-", "-countdown"}));
  EXPECT_EQ(split(t, SplitBehavior::Contiguous), (V{"the", "-", "final", "--", "countdown"}));
  EXPECT_EQ(split("a-b", SplitBehavior::Removed, /*invert=*/true), (V{"-"}));
}

TEST(PreTokenizer, ByteLevelAlphabet) {
  EXPECT_EQ(byte_to_unicode(' '), 0x120u);   // Ġ
  EXPECT_EQ(byte_to_unicode('\n'), 0x10Au);  // Ċ
  EXPECT_EQ(byte_to_unicode('\t'), 0x109u);  // ĉ
  EXPECT_EQ(byte_to_unicode('A'), static_cast<char32_t>('A'));
  EXPECT_EQ(byte_to_unicode(0xAD), 0x143u);  // the soft hyphen is not printable
  EXPECT_EQ(byte_to_unicode(0xE9), 0xE9u);
  for (int b = 0; b < 256; ++b)
    EXPECT_EQ(unicode_to_byte(byte_to_unicode(static_cast<unsigned char>(b))), b);
  EXPECT_EQ(unicode_to_byte(U' '), -1);
  EXPECT_EQ(byte_level_encode(" caf\xC3\xA9"),
            "\xC4\xA0"
            "caf\xC3\x83\xC2\xA9");  // "Ġcafé"
}

TEST(PreTokenizer, BertPunctuation) {
  for (char32_t c : {U'!', U'$', U'+', U'<', U'^', U'`', U'|', U'~', char32_t{0x00BF},
                     char32_t{0x3002}, char32_t{0x2014}}) {
    EXPECT_TRUE(is_bert_punctuation(c)) << static_cast<uint32_t>(c);
  }
  for (char32_t c : {U'a', U'1', U' ', char32_t{0x20AC}, char32_t{0x1F600}}) {
    EXPECT_FALSE(is_bert_punctuation(c)) << static_cast<uint32_t>(c);
  }
}

}  // namespace
}  // namespace emovec::tok
