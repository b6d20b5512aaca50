// Code-point level string helpers for the template interpreter. Jinja runs on Python str, whose
// length, indexing, slicing, whitespace and case rules are per code point, while emovec keeps
// strings as UTF-8 bytes; these helpers bridge the two.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

namespace emovec::chat {

// Decodes the code point starting at `pos` and advances `pos`. A byte that does not start a valid
// sequence decodes to itself (U+0080..U+00FF range) and advances by one, so malformed input is
// still walked byte by byte and slices keep the original bytes.
char32_t decode_utf8(std::string_view s, size_t& pos);
void append_utf8(std::string& out, char32_t cp);

// Byte offsets of each code point start, plus s.size() at the end (size() == code points + 1).
std::vector<size_t> code_point_offsets(std::string_view s);
size_t code_point_count(std::string_view s);
bool is_ascii(std::string_view s);

// Python str.isspace() for one code point.
bool is_py_space(char32_t cp);
// The separators str.splitlines() breaks on (besides "\r\n", handled by the caller).
bool is_py_linebreak(char32_t cp);
// Python's `\w` for str patterns, approximated outside ASCII as "not space and not punctuation".
bool is_py_word(char32_t cp);
bool is_py_printable(char32_t cp);
bool is_py_digit(char32_t cp);
bool is_py_alpha(char32_t cp);

// Simple (one-to-one) case mappings for the scripts chat content commonly uses: ASCII, Latin-1,
// Latin Extended-A, Greek, Cyrillic and fullwidth Latin. Other code points are returned as is.
char32_t to_upper_cp(char32_t cp);
char32_t to_lower_cp(char32_t cp);
bool is_cased_upper(char32_t cp);
bool is_cased_lower(char32_t cp);

std::string py_upper(std::string_view s);
std::string py_lower(std::string_view s);

// Python str.strip()/lstrip()/rstrip(): with chars == nullptr strips whitespace, otherwise any
// of the code points in *chars.
std::string_view py_strip(std::string_view s, const std::string* chars, bool left, bool right);

}  // namespace emovec::chat
