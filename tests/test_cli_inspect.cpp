// `emovec inspect --json` and `emovec models --json` against what the reference readers (gguf,
// safetensors) say of each shipped model (tests/golden/inspect_<name>.json).
#include <gtest/gtest.h>

#include <array>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <memory>

#include "emovec/model_registry.h"
#include "support/cli_runner.h"
#include "support/test_support.h"

namespace emovec {
namespace {

using testing::CommandResult;

CommandResult run(const std::string& args) { return testing::run_cli(args); }

nlohmann::json run_json(const std::string& args) {
  const CommandResult r = run(args);
  EXPECT_EQ(r.status, 0) << r.output;
  return nlohmann::json::parse(r.output);
}

void expect_metadata_matches(const nlohmann::json& golden, const nlohmann::json& summary) {
  for (const auto& [key, fact] : golden.items()) {
    ASSERT_TRUE(summary.contains(key)) << "metadata key " << key << " missing";
    const nlohmann::json& got = summary[key];
    if (fact.contains("value")) {
      EXPECT_EQ(got, fact["value"]) << key;
    } else if (fact.contains("float")) {
      const double want = fact["float"].get<double>();
      EXPECT_EQ(static_cast<float>(got.get<double>()), static_cast<float>(want)) << key;
    } else {
      const auto length = fact["array_length"].get<size_t>();
      const size_t got_length = got.is_array() ? got.size() : got.at("length").get<size_t>();
      EXPECT_EQ(got_length, length) << key;
    }
  }
}

class InspectShippedModel : public ::testing::TestWithParam<std::string> {};

TEST_P(InspectShippedModel, MatchesReferenceReaders) {
  const std::string name = GetParam();
  const nlohmann::json golden =
      testing::read_json(testing::golden_path("inspect_" + name + ".json"));
  const nlohmann::json got = run_json("inspect --json " + testing::model_path(name));

  EXPECT_EQ(got["format"], golden["format"]);
  const auto& want_tensors = golden["tensors"];
  const auto& got_tensors = got["tensors"];
  ASSERT_EQ(got_tensors.size(), want_tensors.size());
  std::map<std::string, nlohmann::json> by_name;
  for (const auto& t : got_tensors) by_name[t["name"].get<std::string>()] = t;
  for (const auto& want : want_tensors) {
    const std::string tensor_name = want["name"];
    ASSERT_TRUE(by_name.count(tensor_name)) << tensor_name;
    const auto& t = by_name[tensor_name];
    EXPECT_EQ(t["type"], want["type"]) << tensor_name;
    EXPECT_EQ(t["shape"], want["shape"]) << tensor_name;
    EXPECT_EQ(t["bytes"], want["bytes"]) << tensor_name;
  }
  if (golden["format"] == "gguf") {
    expect_metadata_matches(golden["metadata"], got["metadata"]);
  } else {
    EXPECT_EQ(got["metadata"], golden["config"]);
  }
}

INSTANTIATE_TEST_SUITE_P(AllShipped, InspectShippedModel,
                         ::testing::Values("smollm2-135m-instruct", "qwen2.5-coder-0.5b-instruct",
                                           "qwen2.5-coder-1.5b-instruct", "gemma-3-270m",
                                           "all-minilm-l6-v2"),
                         [](const auto& param_info) {
                           std::string s = param_info.param;
                           for (char& c : s) {
                             if (!std::isalnum(static_cast<unsigned char>(c))) c = '_';
                           }
                           return s;
                         });

TEST(CliModels, ListsEveryShippedModelAsFetched) {
  const nlohmann::json got = run_json("models --json");
  ASSERT_EQ(got.size(), shipped_models().size());
  for (const auto& m : got) {
    EXPECT_TRUE(m["fetched"].get<bool>()) << m["name"];
  }
}

// The models folder follows the set-up's variables: EMOVEC_MODELS_DIR first, then
// EMOVEC_CACHE_DIR/models. A cache that does not exist lists every model as not fetched, there.
TEST(CliModels, FolderFollowsTheCacheVariables) {
  const std::string cache =
      (std::filesystem::temp_directory_path() / "emovec_cache_never_made").string();
  const CommandResult r = testing::run_shell("env -u EMOVEC_MODELS_DIR EMOVEC_CACHE_DIR=" + cache +
                                             " " EMOVEC_CLI " models --json 2>&1");
  ASSERT_EQ(r.status, 0) << r.output;
  const nlohmann::json got = nlohmann::json::parse(r.output);
  ASSERT_EQ(got.size(), shipped_models().size());
  for (const auto& m : got) {
    EXPECT_FALSE(m["fetched"].get<bool>()) << m["name"];
    EXPECT_EQ(m["path"].get<std::string>().rfind(cache + "/models/", 0), 0u) << m;
  }
  const CommandResult both =
      testing::run_shell("EMOVEC_MODELS_DIR=" + cache + "/elsewhere EMOVEC_CACHE_DIR=" + cache +
                         " " EMOVEC_CLI " models --json 2>&1");
  ASSERT_EQ(both.status, 0) << both.output;
  for (const auto& m : nlohmann::json::parse(both.output)) {
    EXPECT_EQ(m["path"].get<std::string>().rfind(cache + "/elsewhere/", 0), 0u) << m;
  }
}

TEST(CliErrors, BadModelPathIsAClearError) {
  const CommandResult r = run("inspect /nonexistent/model.gguf");
  EXPECT_EQ(r.status, 1);
  EXPECT_NE(r.output.find("/nonexistent/model.gguf"), std::string::npos) << r.output;
}

TEST(CliErrors, ModelWithoutTemplateSaysSo) {
  const CommandResult r = run("template " + testing::model_path("gemma-3-270m") + " --user hi");
  EXPECT_EQ(r.status, 1);
  EXPECT_NE(r.output.find("no chat template"), std::string::npos) << r.output;
}

}  // namespace
}  // namespace emovec
