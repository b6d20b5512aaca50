#include "tokenizer/unicode.h"

#include <algorithm>
#include <array>

#include "tokenizer/unicode_tables.h"

namespace emovec::tok {
namespace {

Category category_by_search(char32_t cp) {
  const uint32_t* begin = tables::kCategoryRunStart;
  const uint32_t* end = begin + tables::kCategoryRunStartSize;
  const uint32_t* it = std::upper_bound(begin, end, static_cast<uint32_t>(cp));
  if (it == begin) return Category::Cn;
  return static_cast<Category>(tables::kCategoryRunValue[it - begin - 1]);
}

std::array<Category, 256> make_latin1_categories() {
  std::array<Category, 256> t{};
  for (char32_t cp = 0; cp < 256; ++cp) t[cp] = category_by_search(cp);
  return t;
}

// Latin-1 is by far the most frequent input; a direct table skips the binary search.
const std::array<Category, 256>& latin1_categories() {
  static const std::array<Category, 256> table = make_latin1_categories();
  return table;
}

// Hangul syllable composition constants (Unicode chapter 3.12).
constexpr char32_t kSBase = 0xAC00, kLBase = 0x1100, kVBase = 0x1161, kTBase = 0x11A7;
constexpr char32_t kLCount = 19, kVCount = 21, kTCount = 28;
constexpr char32_t kNCount = kVCount * kTCount, kSCount = kLCount * kNCount;

void append_decomposition(std::u32string& out, char32_t cp) {
  if (cp >= kSBase && cp < kSBase + kSCount) {
    const char32_t s = cp - kSBase;
    out.push_back(kLBase + s / kNCount);
    out.push_back(kVBase + (s % kNCount) / kTCount);
    if (s % kTCount != 0) out.push_back(kTBase + s % kTCount);
    return;
  }
  const uint32_t* begin = tables::kDecompFrom;
  const uint32_t* end = begin + tables::kDecompFromSize;
  const uint32_t* it = std::lower_bound(begin, end, static_cast<uint32_t>(cp));
  if (it == end || *it != cp) {
    out.push_back(cp);
    return;
  }
  const size_t i = static_cast<size_t>(it - begin);
  for (size_t k = tables::kDecompOffset[i]; k < tables::kDecompOffset[i + 1]; ++k) {
    out.push_back(static_cast<char32_t>(tables::kDecompData[k]));
  }
}

}  // namespace

Category category(char32_t cp) {
  if (cp < 256) return latin1_categories()[cp];
  if (cp > 0x10FFFF) return Category::Cn;
  return category_by_search(cp);
}

bool is_whitespace(char32_t cp) {
  if (cp <= 0x20) return cp == 0x20 || (cp >= 0x09 && cp <= 0x0D);
  if (cp < 0x85) return false;
  return cp == 0x85 || cp == 0xA0 || cp == 0x1680 || (cp >= 0x2000 && cp <= 0x200A) ||
         cp == 0x2028 || cp == 0x2029 || cp == 0x202F || cp == 0x205F || cp == 0x3000;
}

void append_lowercase(std::u32string& out, char32_t cp) {
  if (cp < 0x80) {
    out.push_back(cp >= 'A' && cp <= 'Z' ? cp + 32 : cp);
    return;
  }
  {
    const uint32_t* begin = tables::kLowerFrom;
    const uint32_t* end = begin + tables::kLowerFromSize;
    const uint32_t* it = std::lower_bound(begin, end, static_cast<uint32_t>(cp));
    if (it != end && *it == cp) {
      out.push_back(static_cast<char32_t>(tables::kLowerTo[it - begin]));
      return;
    }
  }
  for (size_t i = 0; i < tables::kLowerMultiFromSize; ++i) {
    if (tables::kLowerMultiFrom[i] == cp) {
      for (size_t k = tables::kLowerMultiOffset[i]; k < tables::kLowerMultiOffset[i + 1]; ++k) {
        out.push_back(static_cast<char32_t>(tables::kLowerMultiData[k]));
      }
      return;
    }
  }
  out.push_back(cp);
}

uint8_t combining_class(char32_t cp) {
  if (cp < 0x300) return 0;
  const uint32_t* begin = tables::kCombiningStart;
  const uint32_t* end = begin + tables::kCombiningStartSize;
  const uint32_t* it = std::upper_bound(begin, end, static_cast<uint32_t>(cp));
  if (it == begin) return 0;
  const size_t i = static_cast<size_t>(it - begin - 1);
  return cp <= tables::kCombiningEnd[i] ? tables::kCombiningClass[i] : 0;
}

std::u32string nfd(std::u32string_view text) {
  std::u32string out;
  out.reserve(text.size());
  for (char32_t cp : text) append_decomposition(out, cp);
  // Canonical ordering: a stable sort of every run of non-starters by combining class.
  size_t i = 0;
  while (i < out.size()) {
    if (combining_class(out[i]) == 0) {
      ++i;
      continue;
    }
    size_t j = i;
    while (j < out.size() && combining_class(out[j]) != 0) ++j;
    if (j - i > 1) {
      std::stable_sort(out.begin() + static_cast<std::ptrdiff_t>(i),
                       out.begin() + static_cast<std::ptrdiff_t>(j), [](char32_t a, char32_t b) {
                         return combining_class(a) < combining_class(b);
                       });
    }
    i = j;
  }
  return out;
}

namespace {

// The primary composite of a starter and a following code point, or 0.
char32_t compose_pair(char32_t first, char32_t second) {
  if (first >= kLBase && first < kLBase + kLCount && second >= kVBase &&
      second < kVBase + kVCount) {
    return kSBase + ((first - kLBase) * kVCount + (second - kVBase)) * kTCount;
  }
  if (first >= kSBase && first < kSBase + kSCount && (first - kSBase) % kTCount == 0 &&
      second > kTBase && second < kTBase + kTCount) {
    return first + (second - kTBase);
  }
  const uint32_t* begin = tables::kComposeFirst;
  const uint32_t* end = begin + tables::kComposeFirstSize;
  auto range = std::equal_range(begin, end, static_cast<uint32_t>(first));
  for (const uint32_t* it = range.first; it != range.second; ++it) {
    const size_t i = static_cast<size_t>(it - begin);
    if (tables::kComposeSecond[i] == second)
      return static_cast<char32_t>(tables::kComposeResult[i]);
  }
  return 0;
}

}  // namespace

std::u32string nfc(std::u32string_view text) {
  const std::u32string d = nfd(text);
  std::u32string out;
  out.reserve(d.size());
  size_t starter = std::u32string::npos;
  for (char32_t c : d) {
    const uint8_t cc = combining_class(c);
    if (starter != std::u32string::npos) {
      // Blocked when something between the starter and c has class 0 or >= c's class.
      const bool adjacent = out.size() - 1 == starter;
      const uint8_t prev = adjacent ? 0 : combining_class(out.back());
      const bool blocked = !adjacent && (prev == 0 || prev >= cc);
      if (!blocked) {
        if (char32_t composite = compose_pair(out[starter], c)) {
          out[starter] = composite;
          continue;
        }
      }
    }
    if (cc == 0) starter = out.size();
    out.push_back(c);
  }
  return out;
}

const char* unicode_version() { return tables::kUnicodeVersion; }

namespace {

// Decodes one code point at `pos` of `s`. On success returns the code point and advances `pos`
// past it; on an invalid sequence returns U+FFFD and advances past its maximal subpart (at
// least one byte), so that a caller replacing it emits one U+FFFD per maximal subpart.
char32_t next_code_point(std::string_view s, size_t& pos, bool& valid) {
  const auto byte = [&](size_t i) { return static_cast<unsigned char>(s[i]); };
  const unsigned char b0 = byte(pos);
  valid = true;
  if (b0 < 0x80) {
    ++pos;
    return b0;
  }
  size_t need = 0;
  char32_t cp = 0;
  unsigned char lo = 0x80, hi = 0xBF;  // the allowed range of the second byte
  if (b0 >= 0xC2 && b0 <= 0xDF) {
    need = 1;
    cp = b0 & 0x1F;
  } else if (b0 >= 0xE0 && b0 <= 0xEF) {
    need = 2;
    cp = b0 & 0x0F;
    if (b0 == 0xE0) lo = 0xA0;
    if (b0 == 0xED) hi = 0x9F;  // no surrogates
  } else if (b0 >= 0xF0 && b0 <= 0xF4) {
    need = 3;
    cp = b0 & 0x07;
    if (b0 == 0xF0) lo = 0x90;
    if (b0 == 0xF4) hi = 0x8F;  // nothing above U+10FFFF
  } else {
    ++pos;
    valid = false;
    return 0xFFFD;
  }
  size_t i = pos + 1;
  for (size_t k = 0; k < need; ++k, ++i) {
    const unsigned char lo_k = k == 0 ? lo : 0x80, hi_k = k == 0 ? hi : 0xBF;
    if (i >= s.size() || byte(i) < lo_k || byte(i) > hi_k) {
      pos = i;  // the maximal subpart ends before the offending byte
      valid = false;
      return 0xFFFD;
    }
    cp = (cp << 6) | (byte(i) & 0x3F);
  }
  pos = i;
  return cp;
}

}  // namespace

std::u32string decode_utf8(std::string_view text) {
  std::u32string out;
  out.reserve(text.size());
  size_t pos = 0;
  bool valid = true;
  while (pos < text.size()) out.push_back(next_code_point(text, pos, valid));
  return out;
}

bool is_valid_utf8(std::string_view text) {
  size_t pos = 0;
  bool valid = true;
  while (pos < text.size()) {
    next_code_point(text, pos, valid);
    if (!valid) return false;
  }
  return true;
}

std::string to_valid_utf8(std::string_view text) {
  if (is_valid_utf8(text)) return std::string(text);
  std::string out;
  out.reserve(text.size() + 8);
  size_t pos = 0;
  bool valid = true;
  while (pos < text.size()) {
    const size_t start = pos;
    const char32_t cp = next_code_point(text, pos, valid);
    if (valid) {
      out.append(text.substr(start, pos - start));
    } else {
      append_utf8(out, cp);
    }
  }
  return out;
}

void append_utf8(std::string& out, char32_t cp) {
  if (cp < 0x80) {
    out.push_back(static_cast<char>(cp));
  } else if (cp < 0x800) {
    out.push_back(static_cast<char>(0xC0 | (cp >> 6)));
    out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  } else if (cp < 0x10000) {
    out.push_back(static_cast<char>(0xE0 | (cp >> 12)));
    out.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  } else {
    out.push_back(static_cast<char>(0xF0 | (cp >> 18)));
    out.push_back(static_cast<char>(0x80 | ((cp >> 12) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  }
}

std::string to_utf8(std::u32string_view text) {
  std::string out;
  out.reserve(text.size());
  for (char32_t cp : text) append_utf8(out, cp);
  return out;
}

size_t count_code_points(std::string_view text) {
  size_t n = 0;
  for (unsigned char c : text) n += (c & 0xC0) != 0x80;
  return n;
}

}  // namespace emovec::tok
