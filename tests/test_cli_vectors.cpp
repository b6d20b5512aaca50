// `emovec vectors`: summaries, per-layer norms and cosines of vector files written here, and the
// conversions between GGUF control vectors and the paper's JSON.
#include <gtest/gtest.h>
#include <unistd.h>

#include <bit>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <vector>

#include "emovec/emotion_vector.h"
#include "emovec/error.h"
#include "support/cli_runner.h"

namespace emovec {
namespace {

namespace fs = std::filesystem;
using testing::CommandResult;
using testing::run_cli;

class CliVectors : public ::testing::Test {
 protected:
  void SetUp() override {
    const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
    dir_ = fs::temp_directory_path() /
           ("emovec-cli-vectors-" + std::string(info->name()) + "-" + std::to_string(::getpid()));
    fs::remove_all(dir_);
    fs::create_directories(dir_);
    // joy: layer l is (3(l+1), 4(l+1), 0, ...), norm 5(l+1); layer 0 is in emovec.direction_0.
    joy_ = make_emotion_vector("joy", ActivationSite::AttentionOut, 4, 6);
    for (int64_t l = 0; l < 4; ++l) {
      joy_.layer(l)[0] = 3.0f * static_cast<float>(l + 1);
      joy_.layer(l)[1] = 4.0f * static_cast<float>(l + 1);
    }
    joy_.provenance.method = "mean-diff";
    joy_.provenance.mode = "response";
    joy_.provenance.model_name = "SmolLM2-135M-Instruct";
    joy_.provenance.n_queries = 80;
    joy_.provenance.held_out = {1, 2, 3};
    joy_.source = "emovec";
    save_control_vector(joy_, file("joy.gguf"));
    // anger: irregular values, written as the paper's JSON.
    anger_ = make_emotion_vector("anger", ActivationSite::AttentionOut, 4, 6);
    for (size_t i = 0; i < anger_.directions.size(); ++i) {
      anger_.directions[i] = std::sin(0.7f * static_cast<float>(i)) * 1.3f;
    }
    std::ofstream(file("anger.json")) << to_paper_json(anger_);
  }
  void TearDown() override {
    std::error_code ec;
    fs::remove_all(dir_, ec);
  }

  std::string file(const std::string& name) const { return (dir_ / name).string(); }

  fs::path dir_;
  EmotionVector joy_;
  EmotionVector anger_;
};

double expected_cosine(const EmotionVector& a, const EmotionVector& b) {
  double ab = 0, aa = 0, bb = 0;
  for (size_t i = 0; i < a.directions.size(); ++i) {
    ab += double(a.directions[i]) * b.directions[i];
    aa += double(a.directions[i]) * a.directions[i];
    bb += double(b.directions[i]) * b.directions[i];
  }
  return ab / std::sqrt(aa * bb);
}

std::vector<uint32_t> bits(const std::vector<float>& values) {
  std::vector<uint32_t> out;
  for (const float x : values) out.push_back(std::bit_cast<uint32_t>(x));
  return out;
}

std::vector<std::string> words(const std::string& line) {
  std::istringstream in(line);
  std::vector<std::string> out;
  for (std::string w; in >> w;) out.push_back(w);
  return out;
}

TEST_F(CliVectors, PrintsSummariesNormsAndCosines) {
  const CommandResult r = run_cli("vectors " + file("joy.gguf") + " " + file("anger.json"));
  ASSERT_EQ(r.status, 0) << r.output;
  const std::string& out = r.output;
  EXPECT_NE(out.find("site            attn_out"), std::string::npos) << out;
  EXPECT_NE(out.find("layers          4 (for a model with exactly this many)"), std::string::npos)
      << out;
  EXPECT_NE(out.find("width           6"), std::string::npos) << out;
  EXPECT_NE(out.find("source          emovec"), std::string::npos) << out;
  EXPECT_NE(out.find("source          paper-json"), std::string::npos) << out;
  EXPECT_NE(out.find("method          mean-diff"), std::string::npos) << out;
  EXPECT_NE(out.find("model           SmolLM2-135M-Instruct"), std::string::npos) << out;
  EXPECT_NE(out.find("queries used    80, 3 held out"), std::string::npos) << out;

  // The norm table: "layer joy anger", then one row per layer.
  std::istringstream lines(out);
  std::string line;
  while (std::getline(lines, line) &&
         words(line) != std::vector<std::string>{"layer", "joy", "anger"}) {
  }
  ASSERT_TRUE(lines) << "no norm table in:\n" << out;
  for (int64_t l = 0; l < 4; ++l) {
    ASSERT_TRUE(std::getline(lines, line));
    const std::vector<std::string> row = words(line);
    ASSERT_EQ(row.size(), 3u) << line;
    EXPECT_EQ(row[0], std::to_string(l));
    EXPECT_DOUBLE_EQ(std::stod(row[1]), 5.0 * static_cast<double>(l + 1)) << line;
    EXPECT_NEAR(std::stod(row[2]), anger_.layer_norm(l), 1e-5 * anger_.layer_norm(l)) << line;
  }
  // The cosine matrix.
  while (std::getline(lines, line) && words(line) != std::vector<std::string>{"joy", "anger"}) {
  }
  ASSERT_TRUE(lines) << "no cosine matrix in:\n" << out;
  ASSERT_TRUE(std::getline(lines, line));
  const std::vector<std::string> joy_row = words(line);
  ASSERT_EQ(joy_row.size(), 3u) << line;
  EXPECT_EQ(joy_row[0], "joy");
  EXPECT_EQ(joy_row[1], "1.0000");
  EXPECT_NEAR(std::stod(joy_row[2]), expected_cosine(joy_, anger_), 5e-5);
}

TEST_F(CliVectors, JsonOutput) {
  const CommandResult r =
      run_cli("vectors --json " + file("joy.gguf") + " " + file("anger.json") + " 2>/dev/null");
  ASSERT_EQ(r.status, 0) << r.output;
  const nlohmann::json doc = nlohmann::json::parse(r.output);
  const nlohmann::json& vs = doc.at("vectors");
  ASSERT_EQ(vs.size(), 2u);
  EXPECT_EQ(vs[0].at("emotion"), "joy");
  EXPECT_EQ(vs[0].at("site"), "attn_out");
  EXPECT_EQ(vs[0].at("n_layer"), 4);
  EXPECT_EQ(vs[0].at("width"), 6);
  EXPECT_EQ(vs[0].at("source"), "emovec");
  EXPECT_EQ(vs[0].at("provenance").at("n_queries"), 80);
  EXPECT_EQ(vs[0].at("provenance").at("held_out"), nlohmann::json({1, 2, 3}));
  EXPECT_EQ(vs[1].at("emotion"), "anger");
  EXPECT_EQ(vs[1].at("source"), "paper-json");
  for (int64_t l = 0; l < 4; ++l) {
    EXPECT_DOUBLE_EQ(vs[0].at("norms")[l].get<double>(), 5.0 * static_cast<double>(l + 1));
    EXPECT_DOUBLE_EQ(vs[1].at("norms")[l].get<double>(), anger_.layer_norm(l));
  }
  const nlohmann::json& cos = doc.at("cosine");
  EXPECT_DOUBLE_EQ(cos[0][0].get<double>(), 1.0);
  EXPECT_DOUBLE_EQ(cos[1][1].get<double>(), 1.0);
  EXPECT_NEAR(cos[0][1].get<double>(), expected_cosine(joy_, anger_), 1e-12);
  EXPECT_EQ(cos[0][1], cos[1][0]);
}

TEST_F(CliVectors, ConvertsGgufToJsonAndBack) {
  CommandResult r = run_cli("vectors " + file("joy.gguf") + " --to-json " + file("joy_out.json"));
  ASSERT_EQ(r.status, 0) << r.output;
  EXPECT_NE(r.output.find("wrote " + file("joy_out.json")), std::string::npos) << r.output;
  const EmotionVector from_json = load_emotion_vector(file("joy_out.json"));
  EXPECT_EQ(from_json.source, "paper-json");
  EXPECT_EQ(from_json.n_layer, 4);
  EXPECT_EQ(bits(from_json.directions), bits(joy_.directions));

  r = run_cli("vectors " + file("anger.json") + " --to-gguf " + file("anger_out.gguf"));
  ASSERT_EQ(r.status, 0) << r.output;
  const EmotionVector from_gguf = load_emotion_vector(file("anger_out.gguf"));
  EXPECT_EQ(from_gguf.emotion, "anger");
  EXPECT_EQ(from_gguf.site, ActivationSite::AttentionOut);
  EXPECT_EQ(from_gguf.source, "emovec");
  EXPECT_TRUE(from_gguf.exact_layer_count);
  EXPECT_EQ(bits(from_gguf.directions), bits(anger_.directions));
}

TEST_F(CliVectors, ErrorsExitWithStatusOne) {
  const std::string missing = file("nothing.gguf");
  CommandResult r = run_cli("vectors " + missing);
  EXPECT_EQ(r.status, 1) << r.output;
  EXPECT_NE(r.output.find("error: " + missing + ": no such file"), std::string::npos) << r.output;

  r = run_cli("vectors " + file("joy.gguf") + " " + file("anger.json") + " --to-json " +
              file("both.json"));
  EXPECT_EQ(r.status, 1) << r.output;
  EXPECT_NE(r.output.find("convert one vector; 2 were given"), std::string::npos) << r.output;
  EXPECT_FALSE(fs::exists(file("both.json")));

  std::ofstream(file("bad.json")) << R"({"0": [[1, 2]], "1": [[3]]})";
  r = run_cli("vectors " + file("bad.json"));
  EXPECT_EQ(r.status, 1) << r.output;
  EXPECT_NE(r.output.find("layer 1 has 1 values, layer 0 has 2"), std::string::npos) << r.output;
}

}  // namespace
}  // namespace emovec
