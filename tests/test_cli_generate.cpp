// `emovec generate`, `chat` and `perplexity` on the default model: reproducible output, limits,
// stop strings, and clear errors (exit status 1, never a crash) for bad input.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "emovec/gguf.h"
#include "support/cli_runner.h"
#include "support/test_support.h"

namespace emovec {
namespace {

using testing::run_cli;

const std::string kModel = "-m smollm2-135m-instruct -t 2";

std::string temp_path(const std::string& name) {
  return (std::filesystem::temp_directory_path() / ("emovec_test_" + name)).string();
}

nlohmann::json generate_json(const std::string& args) {
  const testing::CommandResult r = run_cli("generate " + kModel + " --json " + args);
  EXPECT_EQ(r.status, 0) << r.output;
  const auto start = r.output.find('{');
  return nlohmann::json::parse(r.output.substr(start == std::string::npos ? 0 : start));
}

void expect_error(const std::string& args, const std::string& message) {
  const testing::CommandResult r = run_cli(args);
  EXPECT_EQ(r.status, 1) << args << "\n" << r.output;
  EXPECT_NE(r.output.find(message), std::string::npos)
      << args << "\nexpected the message to contain: " << message << "\ngot: " << r.output;
}

TEST(CliGenerate, GreedyChatReplyIsReproducibleAndEndsAtTheEndToken) {
  const std::string args = "--chat -p 'What is the capital of France?' --temp 0 -n 64";
  const nlohmann::json a = generate_json(args);
  const nlohmann::json b = generate_json(args);
  EXPECT_EQ(a["text"], b["text"]);
  EXPECT_NE(a["text"].get<std::string>().find("Paris"), std::string::npos) << a["text"];
  EXPECT_EQ(a["finish_reason"], "eos");
}

TEST(CliGenerate, HalfKvCacheIsAnOption) {
  const nlohmann::json a = generate_json(
      "--chat -p 'What is the capital of France?' --temp 0 -n 64 --cache-type-k f16 "
      "--cache-type-v f16");
  EXPECT_NE(a["text"].get<std::string>().find("Paris"), std::string::npos) << a["text"];
  expect_error("generate " + kModel + " -p hi --cache-type-k q8_0", "--cache-type-k");
  expect_error("generate " + kModel + " -p hi --cache-type-v f8", "--cache-type-v");
}

TEST(CliGenerate, SamplingWithASeedIsReproducible) {
  const std::string args = "-p 'Once upon a time' --temp 0.9 --top-k 50 --top-p 0.9 -n 24 ";
  const nlohmann::json a = generate_json(args + "-s 7");
  const nlohmann::json b = generate_json(args + "-s 7");
  const nlohmann::json c = generate_json(args + "-s 8");
  EXPECT_EQ(a["tokens"], b["tokens"]);
  EXPECT_NE(a["tokens"], c["tokens"]);
}

TEST(CliGenerate, TokenLimitsAreKept) {
  const nlohmann::json five = generate_json("-p 'The sea is' --temp 0 -n 5 --ignore-eos");
  EXPECT_EQ(five["tokens"].size(), 5u);
  EXPECT_EQ(five["finish_reason"], "length");
  const nlohmann::json none = generate_json("-p 'The sea is' --temp 0 -n 0");
  EXPECT_EQ(none["tokens"].size(), 0u);
  EXPECT_EQ(none["text"], "");
}

TEST(CliGenerate, StopStringEndsTheReplyBeforeIt) {
  const nlohmann::json full = generate_json("-p 'Count: 1, 2, 3,' --temp 0 -n 24 --ignore-eos");
  const std::string text = full["text"].get<std::string>();
  ASSERT_GT(text.size(), 8u) << text;
  const std::string stop = text.substr(5, 3);
  const nlohmann::json cut =
      generate_json("-p 'Count: 1, 2, 3,' --temp 0 -n 24 --ignore-eos --stop '" + stop + "'");
  EXPECT_EQ(cut["finish_reason"], "stop");
  EXPECT_EQ(cut["text"], text.substr(0, text.find(stop)));
}

TEST(CliGenerate, BadInputGivesClearErrors) {
  std::string long_prompt;
  for (int i = 0; i < 200; ++i) long_prompt += "word ";
  expect_error("generate " + kModel + " -c 64 -p '" + long_prompt + "'",
               "does not fit the context of 64");
  expect_error("generate " + kModel + " -p ''", "the prompt is empty");
  expect_error("generate -m /nonexistent/model.gguf -p hi", "/nonexistent/model.gguf");
  expect_error("generate " + kModel + " -p hi --top-p 1.5", "top_p");
  expect_error("generate " + kModel + " -p hi --temp nan", "temperature");
  expect_error("generate -m smollm2-135m-instruct -p hi --threads=-3", "--threads");
  expect_error("generate -m gemma-3-270m -p hi --chat", "no chat template");
  expect_error("chat -m gemma-3-270m", "no chat template");
}

TEST(CliGenerate, UnknownArchitectureAndBrokenFilesAreRefused) {
  GgufWriter w;
  w.set("general.architecture", GgufValue::string("mamba"));
  const std::vector<float> values(64, 0.5f);
  w.add_tensor("token_embd.weight", {8, 8}, values);
  const std::string mamba = temp_path("mamba.gguf");
  w.write(mamba);
  expect_error("generate -m " + mamba + " -p hi", "architecture 'mamba' is not supported");

  // The first megabyte of the real file: the header is there, the tensor data is not.
  const std::string truncated = temp_path("truncated.gguf");
  {
    std::ifstream in(testing::model_path("smollm2-135m-instruct"), std::ios::binary);
    std::vector<char> head(1 << 20);
    in.read(head.data(), static_cast<std::streamsize>(head.size()));
    std::ofstream(truncated, std::ios::binary).write(head.data(), in.gcount());
  }
  const testing::CommandResult r = run_cli("generate -m " + truncated + " -p hi");
  EXPECT_EQ(r.status, 1) << r.output;
  EXPECT_NE(r.output.find(truncated), std::string::npos) << r.output;
  std::filesystem::remove(mamba);
  std::filesystem::remove(truncated);
}

TEST(CliChat, AnswersEachLineAndKeepsTheConversation) {
  const std::string input = temp_path("chat_input.txt");
  std::ofstream(input) << "What is the capital of France?\nAnd of Italy?\n/exit\n";
  const std::string command =
      std::string(EMOVEC_CLI) + " chat " + kModel + " --temp 0 -n 48 < " + input + " 2>/dev/null";
  const testing::CommandResult r = testing::run_shell(command);
  EXPECT_EQ(r.status, 0) << r.output;
  EXPECT_NE(r.output.find("Paris"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("Rome"), std::string::npos) << r.output;
  std::filesystem::remove(input);
}

// A conversation that outgrows the context: the reply that reaches its end says so, the turn
// that no longer fits is refused with the way out, and /reset starts over.
TEST(CliChat, AConversationPastTheContextPointsToReset) {
  const std::string input = temp_path("chat_context_input.txt");
  std::ofstream(input) << "Tell me a long story about a dragon.\nAnd then?\nMore please.\n/reset\n"
                          "Hi\n/exit\n";
  const testing::CommandResult r = testing::run_shell(
      std::string(EMOVEC_CLI) + " chat " + kModel + " -c 128 -n 48 --temp 0 < " + input + " 2>&1");
  EXPECT_EQ(r.status, 0) << r.output;
  EXPECT_NE(r.output.find("the reply stopped at the end of the context, 128 positions"),
            std::string::npos)
      << r.output;
  EXPECT_NE(r.output.find("which does not fit the context of 128 positions"), std::string::npos)
      << r.output;
  EXPECT_NE(r.output.find("(/reset starts the conversation over)"), std::string::npos) << r.output;
  const auto reset = r.output.find("(/reset starts the conversation over)");
  EXPECT_NE(r.output.find("Hello", reset), std::string::npos) << r.output;  // after /reset
  std::filesystem::remove(input);
}

// tools/golden/make_perplexity_golden.py: the same chunking computed by transformers in float32.
TEST(CliPerplexity, MatchesTransformersOnTheSameChunks) {
  const nlohmann::json golden =
      testing::read_json(testing::golden_path("perplexity_smollm2-135m-instruct.json"));
  const testing::CommandResult r =
      run_cli("perplexity " + kModel + " --json -c " + std::to_string(golden["chunk"].get<int>()) +
              " -f " + testing::data_path("perplexity_text.txt"));
  ASSERT_EQ(r.status, 0) << r.output;
  const nlohmann::json j = nlohmann::json::parse(r.output.substr(r.output.find('{')));
  EXPECT_EQ(j["tokens_scored"], golden["n_scored"]);
  const double want = golden["perplexity"].get<double>();
  EXPECT_NEAR(j["perplexity"].get<double>(), want, 1e-5 * want);
}

TEST(CliPerplexity, ScoresAFileAndRefusesOneTooShort) {
  const std::string text_file = temp_path("ppl.txt");
  {
    std::ofstream out(text_file);
    for (int i = 0; i < 12; ++i) {
      out << "The quick brown fox jumps over the lazy dog. A journey of a thousand miles begins "
             "with a single step. ";
    }
  }
  const testing::CommandResult r =
      run_cli("perplexity " + kModel + " -c 64 --json -f " + text_file);
  ASSERT_EQ(r.status, 0) << r.output;
  const nlohmann::json j = nlohmann::json::parse(r.output.substr(r.output.find('{')));
  // A repeated text becomes very predictable.
  EXPECT_GT(j["perplexity"].get<double>(), 1.0);
  EXPECT_LT(j["perplexity"].get<double>(), 20.0);
  EXPECT_GE(j["chunks"].get<int>(), 3);
  expect_error("perplexity " + kModel + " -c 4096 -f " + text_file, "fewer than one chunk");
  std::filesystem::remove(text_file);
}

}  // namespace
}  // namespace emovec
