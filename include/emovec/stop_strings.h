// Stop strings for streamed generation: text is fed as it is decoded, and only text that can no
// longer turn out to be part of a stop string is released.
//
// What feed() holds back: the longest tail of the pending text that is a proper prefix of some
// stop string, and an incomplete UTF-8 sequence at the end (so a multi-byte character is never
// split between two releases). When a stop string appears, the text before its earliest
// occurrence is released and everything from the stop string on is dropped; after that the
// matcher stays stopped and releases nothing more.
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace emovec {

struct StopFeed {
  std::string text;                  // safe to show now
  bool stopped = false;              // a stop string was hit (now or before)
  std::optional<size_t> stop_index;  // which stop string (index into the constructor's list)
};

class StopStringMatcher {
 public:
  // Throws Error for an empty stop string. An empty list is allowed (only UTF-8 hold-back).
  explicit StopStringMatcher(std::vector<std::string> stops);

  // Newly decoded text (bytes, normally UTF-8) in; the part safe to emit out.
  StopFeed feed(std::string_view text);
  // At the end of generation: whatever is still held back (empty once stopped).
  std::string flush();
  // Forgets held text and the stopped state, for a new generation with the same stop strings.
  void reset();

  bool stopped() const { return stopped_; }
  const std::vector<std::string>& stops() const { return stops_; }

 private:
  std::vector<std::string> stops_;
  std::string pending_;
  bool stopped_ = false;
  std::optional<size_t> stop_index_;
};

}  // namespace emovec
