// `emovec embed` against sentence-transformers' embeddings
// (tests/golden/embed_all-minilm-l6-v2.json).
#include <gtest/gtest.h>
#include <unistd.h>

#include <array>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <memory>
#include <sstream>

#include "support/cli_runner.h"
#include "support/test_support.h"

namespace emovec {
namespace {

using testing::CommandResult;

CommandResult run(const std::string& args) { return testing::run_cli(args); }

// Single-quoted for the shell.
std::string quoted(const std::string& text) {
  std::string out = "'";
  for (char c : text) {
    if (c == '\'') {
      out += "'\\''";
    } else {
      out += c;
    }
  }
  out += '\'';
  return out;
}

double cosine(const std::vector<float>& a, const std::vector<float>& b) {
  double ab = 0, aa = 0, bb = 0;
  for (size_t i = 0; i < a.size(); ++i) {
    ab += double(a[i]) * b[i];
    aa += double(a[i]) * a[i];
    bb += double(b[i]) * b[i];
  }
  return ab / std::sqrt(aa * bb);
}

struct GoldenSentence {
  std::string text;
  std::vector<float> embedding;
};

std::vector<GoldenSentence> golden_sentences(const std::vector<size_t>& which) {
  const nlohmann::json doc =
      testing::read_json(testing::golden_path("embed_all-minilm-l6-v2.json"));
  std::vector<GoldenSentence> out;
  for (size_t i : which) {
    const auto& s = doc.at("sentences").at(i);
    out.push_back({s.at("text"), s.at("embedding").get<std::vector<float>>()});
  }
  return out;
}

TEST(CliEmbed, JsonMatchesSentenceTransformers) {
  // Single-line texts: an emotional one, one with punctuation, a truncated one.
  const auto golden = golden_sentences({3, 38, 93});
  // (Appending, not "literal" + string: g++ 12 -O3 warns falsely, -Wrestrict, on the latter.)
  std::string args = "embed -t 2 --json -m ";
  args += testing::model_path("all-minilm-l6-v2");
  for (const auto& g : golden) {
    args += ' ';
    args += quoted(g.text);
  }
  const CommandResult r = run(args);
  ASSERT_EQ(r.status, 0) << r.output;
  const nlohmann::json got = nlohmann::json::parse(r.output);
  ASSERT_EQ(got.size(), golden.size());
  for (size_t i = 0; i < golden.size(); ++i) {
    EXPECT_GE(cosine(got[i].get<std::vector<float>>(), golden[i].embedding), 0.9999) << i;
  }
}

TEST(CliEmbed, TextsFromAFileOnePerLine) {
  const auto golden = golden_sentences({5, 20});
  const std::filesystem::path file = std::filesystem::temp_directory_path() /
                                     ("emovec-embed-" + std::to_string(::getpid()) + ".txt");
  std::ofstream(file, std::ios::binary) << golden[0].text << "\r\n" << golden[1].text << "\n";
  // The default model is all-minilm-l6-v2; plain output is one line of floats per text.
  std::string args = "embed -f ";
  args += file.string();
  const CommandResult r = run(args);
  std::filesystem::remove(file);
  ASSERT_EQ(r.status, 0) << r.output;
  std::istringstream lines(r.output);
  std::string line;
  for (const auto& g : golden) {
    ASSERT_TRUE(std::getline(lines, line));
    std::istringstream values(line);
    std::vector<float> got;
    for (float v; values >> v;) got.push_back(v);
    ASSERT_EQ(got.size(), 384u);
    EXPECT_GE(cosine(got, g.embedding), 0.9999) << g.text;
  }
  EXPECT_FALSE(std::getline(lines, line));
}

TEST(CliEmbed, Errors) {
  CommandResult r = run("embed");
  EXPECT_EQ(r.status, 1) << r.output;
  EXPECT_NE(r.output.find("no text"), std::string::npos) << r.output;
  std::string args = "embed -m ";
  args += testing::model_path("smollm2-135m-instruct");
  r = run(args + " hello");
  EXPECT_EQ(r.status, 1) << r.output;
  EXPECT_NE(r.output.find("BERT"), std::string::npos) << r.output;
  r = run("embed -f /nonexistent/texts.txt");
  EXPECT_EQ(r.status, 1) << r.output;
  EXPECT_NE(r.output.find("/nonexistent/texts.txt"), std::string::npos) << r.output;
}

}  // namespace
}  // namespace emovec
