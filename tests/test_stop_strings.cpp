// Streaming stop strings: what is released after each piece of text, what is held back, and
// what is dropped once a stop string appears.
#include <gtest/gtest.h>

#include <optional>
#include <string>
#include <vector>

#include "emovec/error.h"
#include "emovec/stop_strings.h"

namespace emovec {
namespace {

struct Streamed {
  std::vector<std::string> released;  // per feed
  std::string text;                   // everything released, flush included
  bool stopped = false;
  std::optional<size_t> stop_index;
};

Streamed stream(const std::vector<std::string>& stops, const std::vector<std::string>& pieces) {
  StopStringMatcher matcher(stops);
  Streamed out;
  for (const std::string& piece : pieces) {
    StopFeed feed = matcher.feed(piece);
    out.released.push_back(feed.text);
    out.text += feed.text;
    out.stopped = feed.stopped;
    out.stop_index = feed.stop_index;
  }
  out.text += matcher.flush();
  return out;
}

TEST(StopStrings, NoStopReleasesEverything) {
  const Streamed s = stream({"</s>"}, {"Hello", " world", "!"});
  EXPECT_EQ(s.released, (std::vector<std::string>{"Hello", " world", "!"}));
  EXPECT_EQ(s.text, "Hello world!");
  EXPECT_FALSE(s.stopped);
  EXPECT_FALSE(s.stop_index.has_value());
}

TEST(StopStrings, NoStopStringsAtAll) {
  const Streamed s = stream({}, {"a", "bc"});
  EXPECT_EQ(s.released, (std::vector<std::string>{"a", "bc"}));
  EXPECT_FALSE(s.stopped);
}

TEST(StopStrings, StopInsideOnePiece) {
  const Streamed s = stream({"STOP"}, {"abc STOP def"});
  EXPECT_EQ(s.released, (std::vector<std::string>{"abc "}));
  EXPECT_EQ(s.text, "abc ");
  EXPECT_TRUE(s.stopped);
  EXPECT_EQ(s.stop_index, 0u);
}

TEST(StopStrings, StopSplitOverSeveralFeeds) {
  const Streamed s = stream({"<|end|>"}, {"Hi <", "|e", "nd", "|", "> junk"});
  EXPECT_EQ(s.released, (std::vector<std::string>{"Hi ", "", "", "", ""}));
  EXPECT_EQ(s.text, "Hi ");
  EXPECT_TRUE(s.stopped);
}

TEST(StopStrings, FalseStartIsReleasedOnceItCannotMatch) {
  const Streamed s = stream({"<|end|>"}, {"a <|e", "x", "!"});
  EXPECT_EQ(s.released, (std::vector<std::string>{"a ", "<|ex", "!"}));
  EXPECT_FALSE(s.stopped);
}

TEST(StopStrings, HeldTextComesOutOnFlush) {
  StopStringMatcher m({"\n\nUser:"});
  EXPECT_EQ(m.feed("Done.\n").text, "Done.");
  EXPECT_EQ(m.feed("\nUs").text, "");
  EXPECT_EQ(m.flush(), "\n\nUs");
  EXPECT_EQ(m.flush(), "");
  EXPECT_FALSE(m.stopped());
}

TEST(StopStrings, OverlappingPrefixes) {
  // "aab" inside "aaab": the held "aa" must slide, not be dropped or released too early.
  const Streamed s = stream({"aab"}, {"x", "a", "a", "a", "b", "tail"});
  EXPECT_EQ(s.released, (std::vector<std::string>{"x", "", "", "a", "", ""}));
  EXPECT_EQ(s.text, "xa");
  EXPECT_TRUE(s.stopped);

  // The longest tail that could still start a stop string is held.
  StopStringMatcher m({"abab"});
  EXPECT_EQ(m.feed("zaba").text, "z");
  EXPECT_EQ(m.feed("b").text, "");
  EXPECT_TRUE(m.stopped());
}

TEST(StopStrings, EarliestOfSeveralStopsWins) {
  const Streamed s = stream({"world", "lo w", "xyz"}, {"hel", "lo wor", "ld"});
  EXPECT_EQ(s.text, "hel");
  EXPECT_EQ(s.stop_index, 1u);

  // Same position: the first in the list; the text released is the same either way.
  const Streamed t = stream({"abc", "ab"}, {"xxabc"});
  EXPECT_EQ(t.text, "xx");
  EXPECT_EQ(t.stop_index, 0u);

  // One stop string being a prefix of another: the shorter one already stops.
  const Streamed u = stream({"</s>", "</"}, {"ok </", "s>"});
  EXPECT_EQ(u.text, "ok ");
  EXPECT_EQ(u.stop_index, 1u);
}

TEST(StopStrings, HoldBackUsesTheLongestCandidate) {
  StopStringMatcher m({"ab", "xyzw"});
  EXPECT_EQ(m.feed("1xy").text, "1");  // "xy" may start "xyzw"
  EXPECT_EQ(m.feed("z").text, "");
  EXPECT_EQ(m.feed("a").text, "xyz");  // "xyza" cannot be "xyzw"; "a" may start "ab"
  EXPECT_EQ(m.feed("c").text, "ac");
}

TEST(StopStrings, AfterStopNothingMore) {
  StopStringMatcher m({"END"});
  StopFeed f = m.feed("oneEND two");
  EXPECT_EQ(f.text, "one");
  EXPECT_TRUE(f.stopped);
  f = m.feed("more text");
  EXPECT_EQ(f.text, "");
  EXPECT_TRUE(f.stopped);
  EXPECT_EQ(f.stop_index, 0u);
  EXPECT_EQ(m.flush(), "");

  m.reset();
  EXPECT_FALSE(m.stopped());
  EXPECT_EQ(m.feed("again").text, "again");
}

TEST(StopStrings, Utf8CharacterIsNeverSplit) {
  // "é" is C3 A9, "€" is E2 82 AC, "😀" is F0 9F 98 80, fed a byte at a time.
  const std::string text = "caf\xC3\xA9 \xE2\x82\xAC \xF0\x9F\x98\x80!";
  StopStringMatcher m({});
  std::vector<std::string> released;
  for (const char byte : text) released.push_back(m.feed(std::string(1, byte)).text);
  const std::vector<std::string> expected = {
      "c", "a", "f", "", "\xC3\xA9",         " ", "", "", "\xE2\x82\xAC",
      " ", "",  "",  "", "\xF0\x9F\x98\x80", "!"};
  EXPECT_EQ(released, expected);
  EXPECT_EQ(m.flush(), "");
}

TEST(StopStrings, Utf8WithStopStrings) {
  // The stop string itself is multi-byte and split mid-character.
  const Streamed s = stream({"\xE2\x80\x94"
                             "END"},
                            {"x\xE2", "\x80", "\x94", "EN", "D"});
  EXPECT_EQ(s.released, (std::vector<std::string>{"x", "", "", "", ""}));
  EXPECT_EQ(s.text, "x");
  EXPECT_TRUE(s.stopped);

  // A different character with the same lead byte is released whole, not half.
  StopStringMatcher m({"\xE2\x80\x94"});
  EXPECT_EQ(m.feed("a\xE2\x80").text, "a");
  EXPECT_EQ(m.feed("\xA6").text, "\xE2\x80\xA6");  // "…"
}

TEST(StopStrings, IncompleteUtf8AtTheEndComesOutOnFlush) {
  StopStringMatcher m({"zz"});
  EXPECT_EQ(m.feed("ok\xF0\x9F").text, "ok");
  EXPECT_EQ(m.flush(), "\xF0\x9F");
}

TEST(StopStrings, InvalidBytesAreNotHeldForever) {
  StopStringMatcher m({});
  EXPECT_EQ(m.feed("a\x80\x80").text, "a\x80\x80");  // stray continuation bytes
  EXPECT_EQ(m.feed("\xFF").text, "\xFF");            // never a lead byte
  EXPECT_EQ(m.feed("\xC3\x41").text, "\xC3\x41");    // lead byte cut short by ASCII
}

TEST(StopStrings, EmptyStopStringIsRefused) {
  EXPECT_THROW(StopStringMatcher({"ok", ""}), Error);
  try {
    StopStringMatcher m({"ok", ""});
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("stop string 1"), std::string::npos) << e.what();
  }
}

}  // namespace
}  // namespace emovec
