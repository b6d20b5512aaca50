// Whole-file reading and line splitting, against Python's str.splitlines() on "\n" and "\r\n".
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "emovec/error.h"
#include "format/text_file.h"

namespace emovec {
namespace {

using Lines = std::vector<std::string>;

TEST(TextFile, LinesDropTheirEndsAndKeepEmptyOnes) {
  EXPECT_EQ(text_lines(""), Lines{});
  EXPECT_EQ(text_lines("a"), Lines{"a"});
  EXPECT_EQ(text_lines("a\n"), Lines{"a"});
  EXPECT_EQ(text_lines("a\r\nb\r\n"), (Lines{"a", "b"}));
  EXPECT_EQ(text_lines("a\n\nb"), (Lines{"a", "", "b"}));
  EXPECT_EQ(text_lines("\r\n\n"), (Lines{"", ""}));
  // A carriage return inside a line is text, not a line end.
  EXPECT_EQ(text_lines("a\rb\n"), Lines{"a\rb"});
}

TEST(TextFile, ReadsBytesAndNamesWhatCannotBeRead) {
  const auto dir = std::filesystem::path(testing::TempDir()) / "emovec_text_file";
  std::filesystem::create_directories(dir);
  const auto path = dir / "bytes.txt";
  const std::string bytes("x\r\n\0y", 5);
  std::ofstream(path, std::ios::binary) << bytes;
  EXPECT_EQ(read_text_file(path), bytes);
  try {
    read_text_file(dir / "missing.txt", "the queries file");
    FAIL() << "no error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("the queries file"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("missing.txt: cannot open"), std::string::npos)
        << e.what();
  }
}

TEST(TextFile, JsonFilesAreCheckedForSizeAndSyntax) {
  const auto dir = std::filesystem::path(testing::TempDir()) / "emovec_text_file";
  std::filesystem::create_directories(dir);
  const auto good = dir / "good.json";
  std::ofstream(good, std::ios::binary) << R"({"a": [1, 2]})";
  EXPECT_EQ(read_json_file(good)["a"][1], 2);
  EXPECT_THROW(read_json_file(good, 4), Error);  // larger than 4 bytes
  const auto bad = dir / "bad.json";
  std::ofstream(bad, std::ios::binary) << R"({"a": )";
  try {
    read_json_file(bad);
    FAIL() << "no error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("not valid JSON"), std::string::npos) << e.what();
  }
}

}  // namespace
}  // namespace emovec
