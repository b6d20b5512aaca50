// Template definitions for pretokenize.h.
#pragma once

#include "tokenizer/unicode.h"

namespace emovec::tok {

template <typename Pred>
std::vector<Span> find_char_matches(std::string_view text, Pred pred) {
  std::vector<Span> out;
  size_t last = 0;
  size_t pos = 0;
  while (pos < text.size()) {
    const size_t len = utf8_length(static_cast<unsigned char>(text[pos]));
    const char32_t cp = decode_at(text, pos, len);
    if (pred(cp)) {
      if (last < pos) out.push_back({last, pos, false});
      out.push_back({pos, pos + len, true});
      last = pos + len;
    }
    pos += len;
  }
  if (last < text.size()) out.push_back({last, text.size(), false});
  return out;
}

}  // namespace emovec::tok
