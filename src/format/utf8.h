// UTF-8 checks for names read from files.
#pragma once

#include <string>
#include <string_view>

namespace emovec {

// Well-formed UTF-8 as Unicode defines it: no overlong forms, surrogates or values past U+10FFFF.
bool is_valid_utf8(std::string_view text);

// `text` with each ill-formed sequence replaced by U+FFFD, for showing untrusted bytes as JSON.
std::string to_valid_utf8(std::string_view text);

// `text` quoted for an error message, cut to `max_bytes` with invalid bytes shown as \xNN.
std::string quote_for_message(std::string_view text, size_t max_bytes = 80);

}  // namespace emovec
