#include "emovec/stop_strings.h"

#include <algorithm>
#include <string>
#include <utility>

#include "emovec/error.h"

namespace emovec {

namespace {

// How many bytes a UTF-8 lead byte announces; 0 for a continuation or invalid byte.
size_t utf8_sequence_length(unsigned char lead) {
  if (lead < 0x80) return 1;
  if (lead >= 0xC2 && lead <= 0xDF) return 2;
  if (lead >= 0xE0 && lead <= 0xEF) return 3;
  if (lead >= 0xF0 && lead <= 0xF4) return 4;
  return 0;
}

// `cut` moved back to the start of a UTF-8 character that would otherwise be split by it. Bytes
// that are not valid UTF-8 are not held back (they would never complete).
size_t utf8_safe_cut(std::string_view text, size_t cut) {
  size_t start = cut;
  size_t continuation = 0;
  while (start > 0 && continuation < 3 &&
         (static_cast<unsigned char>(text[start - 1]) & 0xC0) == 0x80) {
    --start;
    ++continuation;
  }
  if (start == 0) return cut;
  const size_t lead_at = start - 1;
  const size_t need = utf8_sequence_length(static_cast<unsigned char>(text[lead_at]));
  if (need > 1 && continuation + 1 < need) return lead_at;
  return cut;
}

// Length of the longest tail of `text` that is a proper prefix of `stop`.
size_t partial_match(std::string_view text, std::string_view stop) {
  const size_t longest = std::min(text.size(), stop.size() - 1);
  for (size_t n = longest; n > 0; --n) {
    if (text.substr(text.size() - n) == stop.substr(0, n)) return n;
  }
  return 0;
}

}  // namespace

StopStringMatcher::StopStringMatcher(std::vector<std::string> stops) : stops_(std::move(stops)) {
  for (size_t i = 0; i < stops_.size(); ++i) {
    if (stops_[i].empty()) {
      throw Error("stop string " + std::to_string(i) +
                  " is empty; an empty stop string would stop generation before any text");
    }
  }
}

StopFeed StopStringMatcher::feed(std::string_view text) {
  if (stopped_) return {"", true, stop_index_};
  pending_.append(text);

  // The earliest occurrence wins; at the same position, the first stop string in the list.
  size_t found_at = std::string::npos;
  for (size_t i = 0; i < stops_.size(); ++i) {
    const size_t at = pending_.find(stops_[i]);
    if (at < found_at) {
      found_at = at;
      stop_index_ = i;
    }
  }
  if (found_at != std::string::npos) {
    stopped_ = true;
    StopFeed out{pending_.substr(0, found_at), true, stop_index_};
    pending_.clear();
    return out;
  }

  size_t hold = 0;
  for (const std::string& stop : stops_) hold = std::max(hold, partial_match(pending_, stop));
  const size_t cut = utf8_safe_cut(pending_, pending_.size() - hold);
  StopFeed out{pending_.substr(0, cut), false, std::nullopt};
  pending_.erase(0, cut);
  return out;
}

std::string StopStringMatcher::flush() {
  std::string out;
  out.swap(pending_);
  return out;
}

void StopStringMatcher::reset() {
  pending_.clear();
  stopped_ = false;
  stop_index_.reset();
}

}  // namespace emovec
