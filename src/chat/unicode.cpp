#include "chat/unicode.h"

#include <algorithm>

#include "chat/limits.h"

namespace emovec::chat {

char32_t decode_utf8(std::string_view s, size_t& pos) {
  const auto b0 = static_cast<unsigned char>(s[pos]);
  if (b0 < 0x80) {
    ++pos;
    return b0;
  }
  size_t len = 0;
  char32_t cp = 0;
  if ((b0 & 0xE0) == 0xC0) {
    len = 2;
    cp = b0 & 0x1F;
  } else if ((b0 & 0xF0) == 0xE0) {
    len = 3;
    cp = b0 & 0x0F;
  } else if ((b0 & 0xF8) == 0xF0) {
    len = 4;
    cp = b0 & 0x07;
  }
  if (len == 0 || pos + len > s.size()) {
    ++pos;
    return b0;
  }
  for (size_t i = 1; i < len; ++i) {
    const auto b = static_cast<unsigned char>(s[pos + i]);
    if ((b & 0xC0) != 0x80) {
      ++pos;
      return b0;
    }
    cp = (cp << 6) | (b & 0x3F);
  }
  // Overlong forms and out-of-range values are malformed: walk them byte by byte.
  static constexpr char32_t kMin[5] = {0, 0, 0x80, 0x800, 0x10000};
  if (cp < kMin[len] || cp > 0x10FFFF) {
    ++pos;
    return b0;
  }
  pos += len;
  return cp;
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

std::vector<size_t> code_point_offsets(std::string_view s) {
  charge_bytes(s.size() * 8);  // one offset per byte at worst
  std::vector<size_t> offsets;
  offsets.reserve(s.size() + 1);
  size_t pos = 0;
  while (pos < s.size()) {
    offsets.push_back(pos);
    decode_utf8(s, pos);
  }
  offsets.push_back(s.size());
  return offsets;
}

size_t code_point_count(std::string_view s) {
  if (is_ascii(s)) return s.size();
  size_t n = 0;
  size_t pos = 0;
  while (pos < s.size()) {
    decode_utf8(s, pos);
    ++n;
  }
  return n;
}

bool is_ascii(std::string_view s) {
  return std::all_of(s.begin(), s.end(),
                     [](char c) { return static_cast<unsigned char>(c) < 0x80; });
}

bool is_py_space(char32_t cp) {
  if (cp < 0x80) return cp == ' ' || (cp >= 0x09 && cp <= 0x0D) || (cp >= 0x1C && cp <= 0x1F);
  return cp == 0x85 || cp == 0xA0 || cp == 0x1680 || (cp >= 0x2000 && cp <= 0x200A) ||
         cp == 0x2028 || cp == 0x2029 || cp == 0x202F || cp == 0x205F || cp == 0x3000;
}

bool is_py_linebreak(char32_t cp) {
  return cp == '\n' || cp == '\r' || cp == 0x0B || cp == 0x0C || cp == 0x1C || cp == 0x1D ||
         cp == 0x1E || cp == 0x85 || cp == 0x2028 || cp == 0x2029;
}

bool is_py_digit(char32_t cp) { return cp >= '0' && cp <= '9'; }

bool is_py_alpha(char32_t cp) {
  if (cp < 0x80) return (cp >= 'a' && cp <= 'z') || (cp >= 'A' && cp <= 'Z');
  if (cp == 0xAA || cp == 0xB5 || cp == 0xBA) return true;
  if (cp < 0xC0) return false;
  if (cp == 0xD7 || cp == 0xF7) return false;
  return is_py_word(cp);
}

bool is_py_word(char32_t cp) {
  if (cp < 0x80) {
    return (cp >= 'a' && cp <= 'z') || (cp >= 'A' && cp <= 'Z') || (cp >= '0' && cp <= '9') ||
           cp == '_';
  }
  if (is_py_space(cp) || !is_py_printable(cp)) return false;
  if (cp < 0xC0)
    return cp == 0xAA || cp == 0xB2 || cp == 0xB3 || cp == 0xB5 || cp == 0xB9 || cp == 0xBA ||
           (cp >= 0xBC && cp <= 0xBE);
  if (cp == 0xD7 || cp == 0xF7) return false;
  // General punctuation, symbols and CJK punctuation blocks are not word characters.
  if ((cp >= 0x2000 && cp <= 0x2BFF) || (cp >= 0x3000 && cp <= 0x303F) ||
      (cp >= 0xFF00 && cp <= 0xFF0F) || (cp >= 0xFF1A && cp <= 0xFF20) ||
      (cp >= 0xFF3B && cp <= 0xFF40) || (cp >= 0xFF5B && cp <= 0xFF65) ||
      (cp >= 0x1F000 && cp <= 0x1FAFF)) {
    return false;
  }
  return true;
}

bool is_py_printable(char32_t cp) {
  if (cp < 0x20 || (cp >= 0x7F && cp <= 0xA0) || cp == 0xAD) return false;
  if (cp < 0x300) return true;
  if (cp == 0x61C || cp == 0x180E || cp == 0x1680 || (cp >= 0x2000 && cp <= 0x200F) ||
      (cp >= 0x2028 && cp <= 0x202F) || (cp >= 0x205F && cp <= 0x206F) || cp == 0x3000 ||
      cp == 0xFEFF || (cp >= 0xFFF9 && cp <= 0xFFFB)) {
    return false;
  }
  if (cp >= 0xD800 && cp <= 0xF8FF) return false;  // surrogates and private use
  if (cp >= 0xE0000) return false;                 // tags, variation selectors, private use
  return true;
}

namespace {

// Pairs where upper = lower - 1 and the upper letter sits on an even (or odd) code point.
bool in_pair_block(char32_t cp, char32_t lo, char32_t hi) { return cp >= lo && cp <= hi; }

}  // namespace

char32_t to_upper_cp(char32_t cp) {
  if (cp < 0x80) return (cp >= 'a' && cp <= 'z') ? cp - 32 : cp;
  if (cp == 0xB5) return 0x39C;
  if (cp == 0xFF) return 0x178;
  if (cp >= 0xE0 && cp <= 0xFE && cp != 0xF7) return cp - 32;
  if (cp == 0x131) return 'I';
  if (cp == 0x17F) return 'S';
  if ((in_pair_block(cp, 0x100, 0x137) || in_pair_block(cp, 0x14A, 0x177)) && (cp & 1)) {
    return cp - 1;
  }
  if ((in_pair_block(cp, 0x139, 0x148) || in_pair_block(cp, 0x179, 0x17E)) && !(cp & 1)) {
    return cp - 1;
  }
  if (cp == 0x3C2) return 0x3A3;
  if (cp >= 0x3B1 && cp <= 0x3CB) return cp - 32;
  if (cp == 0x3AC) return 0x386;
  if (cp >= 0x3AD && cp <= 0x3AF) return cp - 37;
  if (cp == 0x3CC) return 0x38C;
  if (cp == 0x3CD || cp == 0x3CE) return cp - 63;
  if (cp >= 0x430 && cp <= 0x44F) return cp - 32;
  if (cp >= 0x450 && cp <= 0x45F) return cp - 80;
  if ((in_pair_block(cp, 0x460, 0x481) || in_pair_block(cp, 0x48A, 0x4BF)) && (cp & 1)) {
    return cp - 1;
  }
  if (cp >= 0xFF41 && cp <= 0xFF5A) return cp - 32;
  return cp;
}

char32_t to_lower_cp(char32_t cp) {
  if (cp < 0x80) return (cp >= 'A' && cp <= 'Z') ? cp + 32 : cp;
  if (cp >= 0xC0 && cp <= 0xDE && cp != 0xD7) return cp + 32;
  if (cp == 0x178) return 0xFF;
  if (cp == 0x130) return 'i';
  if ((in_pair_block(cp, 0x100, 0x137) || in_pair_block(cp, 0x14A, 0x177)) && !(cp & 1)) {
    return cp + 1;
  }
  if ((in_pair_block(cp, 0x139, 0x148) || in_pair_block(cp, 0x179, 0x17E)) && (cp & 1)) {
    return cp + 1;
  }
  if (cp >= 0x391 && cp <= 0x3AB && cp != 0x3A2) return cp + 32;
  if (cp == 0x386) return 0x3AC;
  if (cp >= 0x388 && cp <= 0x38A) return cp + 37;
  if (cp == 0x38C) return 0x3CC;
  if (cp == 0x38E || cp == 0x38F) return cp + 63;
  if (cp >= 0x410 && cp <= 0x42F) return cp + 32;
  if (cp >= 0x400 && cp <= 0x40F) return cp + 80;
  if ((in_pair_block(cp, 0x460, 0x481) || in_pair_block(cp, 0x48A, 0x4BF)) && !(cp & 1)) {
    return cp + 1;
  }
  if (cp >= 0xFF21 && cp <= 0xFF3A) return cp + 32;
  return cp;
}

bool is_cased_upper(char32_t cp) { return to_lower_cp(cp) != cp; }
bool is_cased_lower(char32_t cp) { return to_upper_cp(cp) != cp || cp == 0xDF; }

namespace {

template <typename F>
std::string map_code_points(std::string_view s, F f) {
  std::string out;
  out.reserve(s.size());
  size_t pos = 0;
  while (pos < s.size()) {
    const size_t start = pos;
    const char32_t cp = decode_utf8(s, pos);
    const char32_t mapped = f(cp);
    if (mapped == cp) {
      out.append(s.substr(start, pos - start));  // keeps malformed bytes as they were
    } else {
      append_utf8(out, mapped);
    }
  }
  return out;
}

}  // namespace

std::string py_upper(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  size_t pos = 0;
  while (pos < s.size()) {
    const size_t start = pos;
    const char32_t cp = decode_utf8(s, pos);
    if (cp == 0xDF) {
      out += "SS";  // the one full case mapping common in Latin text
      continue;
    }
    const char32_t mapped = to_upper_cp(cp);
    if (mapped == cp) {
      out.append(s.substr(start, pos - start));
    } else {
      append_utf8(out, mapped);
    }
  }
  return out;
}

std::string py_lower(std::string_view s) { return map_code_points(s, to_lower_cp); }

std::string_view py_strip(std::string_view s, const std::string* chars, bool left, bool right) {
  std::vector<char32_t> set;
  if (chars != nullptr) {
    size_t p = 0;
    while (p < chars->size()) set.push_back(decode_utf8(*chars, p));
  }
  auto strippable = [&](char32_t cp) {
    if (chars == nullptr) return is_py_space(cp);
    return std::find(set.begin(), set.end(), cp) != set.end();
  };
  const std::vector<size_t> offsets = code_point_offsets(s);
  size_t first = 0;                  // index of the first kept code point
  size_t last = offsets.size() - 1;  // one past the last kept code point
  auto cp_at = [&](size_t i) {
    size_t p = offsets[i];
    return decode_utf8(s, p);
  };
  if (left) {
    while (first < last && strippable(cp_at(first))) ++first;
  }
  if (right) {
    while (last > first && strippable(cp_at(last - 1))) --last;
  }
  const size_t begin = offsets[first];
  const size_t end = offsets[last];
  return s.substr(begin, end - begin);
}

}  // namespace emovec::chat
