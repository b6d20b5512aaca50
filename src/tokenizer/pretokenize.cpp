#include "tokenizer/pretokenize.h"

#include <algorithm>
#include <array>

#include "tokenizer/unicode.h"

namespace emovec::tok {
namespace {

constexpr std::string_view kGpt2Pattern =
    R"('s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+)";
constexpr std::string_view kLlama3Pattern =
    R"((?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+)";
constexpr std::string_view kQwen2Pattern =
    R"((?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+)";

// Character classes the patterns use, computed once per code point.
enum : uint8_t { kLetter = 1, kNumber = 2, kSpace = 4, kNewline = 8 };

struct Text {
  std::u32string cps;
  std::vector<size_t> offsets;  // byte offset of each code point, plus the total length
  std::vector<uint8_t> classes;
};

Text analyse(std::string_view text) {
  Text t;
  t.cps.reserve(text.size());
  t.offsets.reserve(text.size() + 1);
  size_t pos = 0;
  while (pos < text.size()) {
    t.offsets.push_back(pos);
    // The pipeline only hands valid UTF-8 here (input is sanitised first).
    const size_t len = utf8_length(static_cast<unsigned char>(text[pos]));
    t.cps.push_back(decode_at(text, pos, len));
    pos += len;
  }
  t.offsets.push_back(text.size());
  t.classes.resize(t.cps.size());
  for (size_t i = 0; i < t.cps.size(); ++i) {
    const char32_t c = t.cps[i];
    uint8_t k = 0;
    if (c < 0x80) {
      if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'))
        k = kLetter;
      else if (c >= '0' && c <= '9')
        k = kNumber;
      else if (c == ' ' || (c >= 0x09 && c <= 0x0D))
        k = kSpace;
    } else {
      if (is_letter(c))
        k = kLetter;
      else if (is_number(c))
        k = kNumber;
      else if (is_whitespace(c))
        k = kSpace;
    }
    if (c == '\r' || c == '\n') k |= kNewline;
    t.classes[i] = k;
  }
  return t;
}

// ASCII-only case folding plus U+017F LATIN SMALL LETTER LONG S, which Oniguruma's
// case-insensitive match also accepts for 's' (measured against the reference; no other code
// point folds onto the letters of the contractions).
char32_t fold_contraction_letter(char32_t c) {
  if (c >= 'A' && c <= 'Z') return c + 32;
  if (c == 0x17F) return 's';
  return c;
}

// Length (in code points) of a contraction at i, or 0.
size_t contraction_at(const Text& t, size_t i, bool ignore_case) {
  const size_t n = t.cps.size();
  if (t.cps[i] != '\'' || i + 1 >= n) return 0;
  const auto at = [&](size_t k) {
    return ignore_case ? fold_contraction_letter(t.cps[k]) : t.cps[k];
  };
  const char32_t c1 = at(i + 1);
  if (c1 == 's' || c1 == 't' || c1 == 'm' || c1 == 'd') return 2;
  if (i + 2 < n) {
    const char32_t c2 = at(i + 2);
    if ((c1 == 'r' && c2 == 'e') || (c1 == 'v' && c2 == 'e') || (c1 == 'l' && c2 == 'l')) {
      return 3;
    }
  }
  return 0;
}

bool is_other(uint8_t k) { return (k & (kLetter | kNumber | kSpace)) == 0; }

// `\s+(?!\S)|\s+` at i (t.classes[i] is whitespace): the run of whitespace, less its last
// code point when a non-space follows, unless that leaves nothing.
size_t whitespace_tail(const Text& t, size_t i) {
  const size_t n = t.cps.size();
  size_t j = i;
  while (j < n && (t.classes[j] & kSpace)) ++j;
  if (j == n) return j;
  if (j - 1 > i) return j - 1;
  return j;
}

// End (code point index) of the match starting at i, or i when none starts there.
size_t match_gpt2(const Text& t, size_t i) {
  const size_t n = t.cps.size();
  if (size_t len = contraction_at(t, i, false)) return i + len;
  const size_t k = t.cps[i] == ' ' ? i + 1 : i;  // the optional leading space
  if (k < n) {
    const uint8_t c = t.classes[k];
    for (const uint8_t cls : {uint8_t{kLetter}, uint8_t{kNumber}}) {
      if (c & cls) {
        size_t j = k;
        while (j < n && (t.classes[j] & cls)) ++j;
        return j;
      }
    }
    if (is_other(c)) {
      size_t j = k;
      while (j < n && is_other(t.classes[j])) ++j;
      return j;
    }
  }
  if (t.classes[i] & kSpace) return whitespace_tail(t, i);
  return i;
}

size_t match_llama3(const Text& t, size_t i, size_t max_digits) {
  const size_t n = t.cps.size();
  if (size_t len = contraction_at(t, i, true)) return i + len;
  const uint8_t c = t.classes[i];
  // [^\r\n\p{L}\p{N}]?\p{L}+
  {
    size_t k = i;
    if (!(c & (kLetter | kNumber | kNewline)) && i + 1 < n && (t.classes[i + 1] & kLetter))
      k = i + 1;
    if (t.classes[k] & kLetter) {
      size_t j = k;
      while (j < n && (t.classes[j] & kLetter)) ++j;
      return j;
    }
  }
  // \p{N}{1,max}
  if (c & kNumber) {
    size_t j = i;
    while (j < n && j - i < max_digits && (t.classes[j] & kNumber)) ++j;
    return j;
  }
  // ' ?[^\s\p{L}\p{N}]+[\r\n]*'
  {
    const size_t k = t.cps[i] == ' ' ? i + 1 : i;
    if (k < n && is_other(t.classes[k])) {
      size_t j = k;
      while (j < n && is_other(t.classes[j])) ++j;
      while (j < n && (t.classes[j] & kNewline)) ++j;
      return j;
    }
  }
  if (c & kSpace) {
    // \s*[\r\n]+ : backtracking leaves the match just after the run's last \r or \n.
    size_t j = i;
    size_t after_newline = i;
    while (j < n && (t.classes[j] & kSpace)) {
      if (t.classes[j] & kNewline) after_newline = j + 1;
      ++j;
    }
    if (after_newline > i) return after_newline;
    return whitespace_tail(t, i);
  }
  return i;
}

}  // namespace

std::string_view regex_name(SplitRegex regex) {
  switch (regex) {
    case SplitRegex::Gpt2:
      return "gpt2";
    case SplitRegex::Llama3:
      return "llama3";
    case SplitRegex::Qwen2:
      return "qwen2";
  }
  return "?";
}

std::string_view regex_pattern(SplitRegex regex) {
  switch (regex) {
    case SplitRegex::Gpt2:
      return kGpt2Pattern;
    case SplitRegex::Llama3:
      return kLlama3Pattern;
    case SplitRegex::Qwen2:
      return kQwen2Pattern;
  }
  return {};
}

std::optional<SplitRegex> regex_from_pattern(std::string_view pattern) {
  for (SplitRegex r : {SplitRegex::Gpt2, SplitRegex::Llama3, SplitRegex::Qwen2}) {
    if (pattern == regex_pattern(r)) return r;
  }
  return std::nullopt;
}

std::vector<Span> find_regex_matches(SplitRegex regex, std::string_view text) {
  const Text t = analyse(text);
  std::vector<Span> out;
  const size_t n = t.cps.size();
  size_t i = 0;
  size_t gap_start = 0;
  while (i < n) {
    size_t end = i;
    switch (regex) {
      case SplitRegex::Gpt2:
        end = match_gpt2(t, i);
        break;
      case SplitRegex::Llama3:
        end = match_llama3(t, i, 3);
        break;
      case SplitRegex::Qwen2:
        end = match_llama3(t, i, 1);
        break;
    }
    if (end == i) {  // no match starts here (cannot happen with these patterns, kept for safety)
      ++i;
      continue;
    }
    if (gap_start < i) out.push_back({t.offsets[gap_start], t.offsets[i], false});
    out.push_back({t.offsets[i], t.offsets[end], true});
    i = end;
    gap_start = end;
  }
  if (gap_start < n) out.push_back({t.offsets[gap_start], t.offsets[n], false});
  return out;
}

std::vector<Span> find_literal_matches(std::string_view literal, std::string_view text) {
  std::vector<Span> out;
  if (literal.empty()) {
    if (!text.empty()) out.push_back({0, text.size(), false});
    return out;
  }
  size_t last = 0;
  size_t pos = text.find(literal);
  while (pos != std::string_view::npos) {
    if (last < pos) out.push_back({last, pos, false});
    out.push_back({pos, pos + literal.size(), true});
    last = pos + literal.size();
    pos = text.find(literal, last);
  }
  if (last < text.size()) out.push_back({last, text.size(), false});
  return out;
}

std::vector<std::pair<size_t, size_t>> apply_split(std::vector<Span> spans, SplitBehavior behavior,
                                                   bool invert) {
  if (invert) {
    for (Span& s : spans) s.is_match = !s.is_match;
  }
  std::vector<std::pair<size_t, size_t>> out;
  bool previous_match = false;
  switch (behavior) {
    case SplitBehavior::Removed:
      for (const Span& s : spans) {
        if (!s.is_match) out.emplace_back(s.begin, s.end);
      }
      break;
    case SplitBehavior::Isolated:
      for (const Span& s : spans) out.emplace_back(s.begin, s.end);
      break;
    case SplitBehavior::MergedWithPrevious:
      for (const Span& s : spans) {
        if (s.is_match && !previous_match && !out.empty()) {
          out.back().second = s.end;
        } else {
          out.emplace_back(s.begin, s.end);
        }
        previous_match = s.is_match;
      }
      break;
    case SplitBehavior::MergedWithNext:
      for (size_t k = spans.size(); k-- > 0;) {
        const Span& s = spans[k];
        if (s.is_match && !previous_match && !out.empty()) {
          out.back().first = s.begin;
        } else {
          out.emplace_back(s.begin, s.end);
        }
        previous_match = s.is_match;
      }
      std::reverse(out.begin(), out.end());
      break;
    case SplitBehavior::Contiguous:
      for (const Span& s : spans) {
        if (s.is_match == previous_match && !out.empty()) {
          out.back().second = s.end;
        } else {
          out.emplace_back(s.begin, s.end);
        }
        previous_match = s.is_match;
      }
      break;
  }
  std::erase_if(out, [](const auto& r) { return r.first == r.second; });
  return out;
}

namespace {

struct ByteLevelTables {
  std::array<char32_t, 256> to_unicode{};
  std::array<int, 512> to_byte{};  // every alphabet code point is below 0x144
};

ByteLevelTables make_byte_level_tables() {
  ByteLevelTables t;
  t.to_byte.fill(-1);
  // GPT-2's bytes_to_unicode: printable Latin-1 bytes stand for themselves, the rest are
  // shifted to U+0100 and up, in byte order.
  char32_t next = 256;
  for (int b = 0; b < 256; ++b) {
    const bool printable = (b >= '!' && b <= '~') || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE);
    const char32_t cp = printable ? static_cast<char32_t>(b) : next++;
    t.to_unicode[static_cast<size_t>(b)] = cp;
    t.to_byte[cp] = b;
  }
  return t;
}

const ByteLevelTables& byte_level_tables() {
  static const ByteLevelTables tables = make_byte_level_tables();
  return tables;
}

}  // namespace

char32_t byte_to_unicode(unsigned char byte) { return byte_level_tables().to_unicode[byte]; }

int unicode_to_byte(char32_t cp) { return cp < 512 ? byte_level_tables().to_byte[cp] : -1; }

std::string byte_level_encode(std::string_view text) {
  std::string out;
  out.reserve(text.size() * 2);
  for (unsigned char c : text) append_utf8(out, byte_to_unicode(c));
  return out;
}

bool is_bert_punctuation(char32_t cp) {
  if (cp < 0x80) {
    return (cp >= 33 && cp <= 47) || (cp >= 58 && cp <= 64) || (cp >= 91 && cp <= 96) ||
           (cp >= 123 && cp <= 126);
  }
  return is_punctuation(cp);
}

}  // namespace emovec::tok
