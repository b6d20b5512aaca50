// Unicode tables and algorithms against facts from the Unicode Character Database and the
// standard's own examples.
#include <gtest/gtest.h>

#include "tokenizer/unicode.h"

namespace emovec::tok {
namespace {

TEST(Unicode, GeneralCategories) {
  EXPECT_EQ(category(U'A'), Category::Lu);
  EXPECT_EQ(category(U'z'), Category::Ll);
  EXPECT_EQ(category(0x01C5), Category::Lt);  // Dž
  EXPECT_EQ(category(0x02B0), Category::Lm);
  EXPECT_EQ(category(0x4E2D), Category::Lo);  // 中
  EXPECT_EQ(category(0xAC00), Category::Lo);  // 가
  EXPECT_EQ(category(0x0301), Category::Mn);
  EXPECT_EQ(category(0x0903), Category::Mc);
  EXPECT_EQ(category(0x20DD), Category::Me);
  EXPECT_EQ(category(0x0663), Category::Nd);  // Arabic-Indic three
  EXPECT_EQ(category(0x2167), Category::Nl);  // Roman numeral eight
  EXPECT_EQ(category(0x00BD), Category::No);  // ½
  EXPECT_EQ(category(U'_'), Category::Pc);
  EXPECT_EQ(category(0x2014), Category::Pd);
  EXPECT_EQ(category(0x00BF), Category::Po);
  EXPECT_EQ(category(U'+'), Category::Sm);
  EXPECT_EQ(category(0x20AC), Category::Sc);
  EXPECT_EQ(category(U'^'), Category::Sk);
  EXPECT_EQ(category(0x1F600), Category::So);
  EXPECT_EQ(category(0x00A0), Category::Zs);
  EXPECT_EQ(category(0x2028), Category::Zl);
  EXPECT_EQ(category(0x2029), Category::Zp);
  EXPECT_EQ(category(0x0085), Category::Cc);
  EXPECT_EQ(category(0x200B), Category::Cf);
  EXPECT_EQ(category(0xE000), Category::Co);
  EXPECT_EQ(category(0x0378), Category::Cn);
  EXPECT_EQ(category(0x10FFFF), Category::Cn);
  EXPECT_EQ(category(0x110000), Category::Cn);
  // Letters added in Unicode 16 (Garay), which the reference regex engine knows.
  EXPECT_TRUE(is_letter(0x10D50));
}

TEST(Unicode, WhiteSpaceIsTheRegexClass) {
  for (char32_t c :
       std::u32string(U"\t\n\v\f\r \u0085\u00a0\u1680\u2000\u200a\u2028\u2029\u202f\u205f\u3000")) {
    EXPECT_TRUE(is_whitespace(c)) << std::hex << static_cast<uint32_t>(c);
  }
  // Python's str.isspace accepts the information separators; \s does not. Nor is a zero-width
  // space or a BOM white space.
  for (char32_t c : {U'\x1c', U'\x1f', U'\u200b', U'\ufeff', U'\u180e', U'a'}) {
    EXPECT_FALSE(is_whitespace(c)) << std::hex << static_cast<uint32_t>(c);
  }
}

std::u32string lower(std::u32string_view s) {
  std::u32string out;
  for (char32_t c : s) append_lowercase(out, c);
  return out;
}

TEST(Unicode, Lowercase) {
  EXPECT_EQ(lower(U"HeLLo"), U"hello");
  EXPECT_EQ(lower(U"\u0130"), U"i\u0307");  // İ lowers to i + combining dot above
  EXPECT_EQ(lower(U"\u03a3"), U"\u03c3");   // Σ (no final-sigma context rule)
  EXPECT_EQ(lower(U"\u1e9e"), U"\u00df");   // ẞ -> ß
  EXPECT_EQ(lower(U"\u0410\u0042"), U"\u0430b");
  EXPECT_EQ(lower(U"\u01c5"), U"\u01c6");
  EXPECT_EQ(lower(U"\u2160"), U"\u2170");  // Roman numerals have case
  EXPECT_EQ(lower(U"\U00010400"), U"\U00010428");
  EXPECT_EQ(lower(U"\u4e2d1!"), U"\u4e2d1!");
}

TEST(Unicode, NfdDecomposesAndReorders) {
  EXPECT_EQ(nfd(U"\u00e9"), U"e\u0301");
  EXPECT_EQ(nfd(U"\u1e69"), U"s\u0323\u0307");  // ṩ: dot below (220) before dot above (230)
  EXPECT_EQ(nfd(U"s\u0307\u0323"), U"s\u0323\u0307");  // canonical ordering of a sequence
  EXPECT_EQ(nfd(U"\u01d5"), U"U\u0308\u0304");         // Ǖ, two levels deep
  EXPECT_EQ(nfd(U"\u212b"), U"A\u030a");               // Angstrom sign, a singleton
  EXPECT_EQ(nfd(U"\uac00"), U"\u1100\u1161");          // 가
  EXPECT_EQ(nfd(U"\uac01"), U"\u1100\u1161\u11a8");    // 각
  EXPECT_EQ(nfd(U"\ufb01"), U"\ufb01");                // ﬁ has only a compatibility mapping
  EXPECT_EQ(combining_class(0x0301), 230);
  EXPECT_EQ(combining_class(0x0323), 220);
  EXPECT_EQ(combining_class(0x05B4), 14);
  EXPECT_EQ(combining_class(U'a'), 0);
}

TEST(Unicode, NfcComposes) {
  EXPECT_EQ(nfc(U"e\u0301"), U"\u00e9");
  EXPECT_EQ(nfc(U"\u212b"), U"\u00c5");
  EXPECT_EQ(nfc(U"\u1100\u1161\u11a8"), U"\uac01");
  EXPECT_EQ(nfc(U"s\u0307\u0323"), U"\u1e69");
  // Composition exclusions stay decomposed.
  EXPECT_EQ(nfc(U"\u0958"), U"\u0915\u093c");
  // A blocked mark does not compose: a + grave(230) + grave(230) composes only the first.
  EXPECT_EQ(nfc(U"a\u0300\u0300"), U"\u00e0\u0300");
}

TEST(Unicode, InvalidUtf8BecomesReplacementCharacters) {
  // One U+FFFD per maximal subpart, as Python's "replace" handler gives.
  EXPECT_EQ(decode_utf8("a\xC3\x28"), U"a\uFFFD(");
  EXPECT_EQ(decode_utf8("\xE2\x82"), U"\uFFFD");
  EXPECT_EQ(decode_utf8("\xE2\x82x"), U"\uFFFDx");
  EXPECT_EQ(decode_utf8("\xF0\x80\x80"), U"\uFFFD\uFFFD\uFFFD");
  EXPECT_EQ(decode_utf8("\xED\xA0\x80"), U"\uFFFD\uFFFD\uFFFD");  // a surrogate
  EXPECT_EQ(decode_utf8("\xC0\xAF"), U"\uFFFD\uFFFD");            // overlong
  EXPECT_EQ(decode_utf8("\xF4\x90\x80\x80"), U"\uFFFD\uFFFD\uFFFD\uFFFD");
  EXPECT_EQ(decode_utf8("\xFF\xFE"), U"\uFFFD\uFFFD");
  EXPECT_EQ(decode_utf8("\xF0\x9F\x98\x80"), U"\U0001F600");
  EXPECT_EQ(to_valid_utf8("a\xFF"
                          "b"),
            "a\xEF\xBF\xBD"
            "b");
  EXPECT_EQ(to_valid_utf8("ok \xE2\x9C\x93"), "ok \xE2\x9C\x93");
  EXPECT_TRUE(is_valid_utf8("\xE4\xB8\xAD"));
  EXPECT_FALSE(is_valid_utf8("\xE4\xB8"));
  EXPECT_EQ(count_code_points("a\xC3\xA9\xF0\x9F\x98\x80"), 3u);
}

TEST(Unicode, Utf8RoundTripsEveryScalarValue) {
  for (char32_t c = 0; c <= 0x10FFFF; c += (c < 0x800 ? 1 : 37)) {
    if (c >= 0xD800 && c <= 0xDFFF) continue;
    std::string s;
    append_utf8(s, c);
    ASSERT_EQ(decode_utf8(s), std::u32string(1, c)) << std::hex << static_cast<uint32_t>(c);
  }
}

}  // namespace
}  // namespace emovec::tok
