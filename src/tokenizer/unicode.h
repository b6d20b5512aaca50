// Unicode support for the tokenizers: UTF-8 conversion with defined handling of invalid input,
// general categories, the whitespace class of the reference regex engine, lowercase, NFD, NFC.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace emovec::tok {

// Order matches tools/unicode/make_tables.py.
// clang-format off
enum class Category : uint8_t {
  Cn, Lu, Ll, Lt, Lm, Lo, Mn, Mc, Me, Nd, Nl, No, Pc, Pd, Ps,
  Pe, Pi, Pf, Po, Sm, Sc, Sk, So, Zs, Zl, Zp, Cc, Cf, Cs, Co,
};
// clang-format on

Category category(char32_t cp);
inline bool is_letter(char32_t cp) {  // \p{L}
  const Category c = category(cp);
  return c >= Category::Lu && c <= Category::Lo;
}
inline bool is_number(char32_t cp) {  // \p{N}; also Rust's char::is_numeric
  const Category c = category(cp);
  return c >= Category::Nd && c <= Category::No;
}
inline bool is_mark(char32_t cp) {
  const Category c = category(cp);
  return c >= Category::Mn && c <= Category::Me;
}
inline bool is_punctuation(char32_t cp) {
  const Category c = category(cp);
  return c >= Category::Pc && c <= Category::Po;
}
// The White_Space property: Oniguruma's \s in Unicode mode and Rust's char::is_whitespace
// (U+0009..U+000D, U+0020, U+0085, U+00A0, U+1680, U+2000..U+200A, U+2028, U+2029, U+202F,
// U+205F, U+3000). Not Python's str.isspace, which adds U+001C..U+001F.
bool is_whitespace(char32_t cp);

// Appends the full lowercase mapping of `cp` (U+0130 lowers to two code points).
void append_lowercase(std::u32string& out, char32_t cp);
uint8_t combining_class(char32_t cp);
// Canonical decomposition (NFD) with canonical ordering of combining marks.
std::u32string nfd(std::u32string_view text);
// Canonical composition (NFC).
std::u32string nfc(std::u32string_view text);

const char* unicode_version();

// UTF-8. decode_utf8 replaces each maximal invalid subsequence by U+FFFD (the Unicode
// recommended practice, as Python's "replace" error handler and Rust's from_utf8_lossy do).
std::u32string decode_utf8(std::string_view text);
// The same replacement, staying in UTF-8; returns `text` unchanged when it is valid.
std::string to_valid_utf8(std::string_view text);
bool is_valid_utf8(std::string_view text);
void append_utf8(std::string& out, char32_t cp);
std::string to_utf8(std::u32string_view text);
// Length in bytes of the UTF-8 sequence starting with lead byte `b` of valid UTF-8.
inline size_t utf8_length(unsigned char b) {
  return b < 0x80 ? 1 : b < 0xE0 ? 2 : b < 0xF0 ? 3 : 4;
}
// The code point of the (valid) UTF-8 sequence at `pos`, whose length is `len`; U+FFFD if the
// sequence runs past the end of `text`.
inline char32_t decode_at(std::string_view text, size_t pos, size_t len) {
  if (pos + len > text.size()) return 0xFFFD;
  const auto b = [&](size_t i) {
    return static_cast<char32_t>(static_cast<unsigned char>(text[pos + i]));
  };
  switch (len) {
    case 1:
      return b(0);
    case 2:
      return ((b(0) & 0x1F) << 6) | (b(1) & 0x3F);
    case 3:
      return ((b(0) & 0x0F) << 12) | ((b(1) & 0x3F) << 6) | (b(2) & 0x3F);
    default:
      return ((b(0) & 0x07) << 18) | ((b(1) & 0x3F) << 12) | ((b(2) & 0x3F) << 6) | (b(3) & 0x3F);
  }
}
// Number of code points of valid UTF-8.
size_t count_code_points(std::string_view text);

}  // namespace emovec::tok
