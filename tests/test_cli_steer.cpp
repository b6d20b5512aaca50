// `emovec extract`, and steering from the command line (`generate --emotion`, llama.cpp's
// control-vector flags, `--compare`, chat's /emotion) on the default model: the shipped vectors
// are found and steer, the same extract command gives the same files, and bad input gets a clear
// error (exit status 1), never a crash.
#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <memory>
#include <string>

#include "emovec/emotion_vector.h"
#include "support/cli_runner.h"
#include "support/test_support.h"

namespace emovec {
namespace {

using testing::run_cli;

const std::string kModel = "-m smollm2-135m-instruct -t 2";

// Per process: CTest runs this file's tests as parallel processes.
std::string temp_path(const std::string& name) {
  std::string file = "emovec_steer_test_";
  file.append(std::to_string(::getpid())).append("_").append(name);
  return (std::filesystem::temp_directory_path() / file).string();
}

void expect_error(const std::string& args, const std::string& message) {
  const testing::CommandResult r = run_cli(args);
  EXPECT_EQ(r.status, 1) << args << "\n" << r.output;
  EXPECT_NE(r.output.find(message), std::string::npos)
      << args << "\nexpected the message to contain: " << message << "\ngot: " << r.output;
}

nlohmann::json json_of(const testing::CommandResult& r) {
  const auto start = r.output.find_first_of("{[");
  return nlohmann::json::parse(r.output.substr(start == std::string::npos ? 0 : start));
}

std::string file_bytes(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

const std::string& small_vectors() {
  // Two emotions from three queries (prompt mode): made once, by the command itself.
  static const std::string dir = [] {
    const std::string d = temp_path("vectors");
    std::filesystem::remove_all(d);
    const testing::CommandResult r = run_cli("extract " + kModel +
                                             " --mode prompt --emotions joy,anger --max-queries 3"
                                             " -q -o " +
                                             d);
    EXPECT_EQ(r.status, 0) << r.output;
    return d;
  }();
  return dir;
}

TEST(CliExtract, TheSameCommandGivesTheSameFiles) {
  const std::string again = temp_path("vectors_again");
  std::filesystem::remove_all(again);
  const testing::CommandResult r = run_cli(
      "extract -m smollm2-135m-instruct -t 1 --mode prompt "
      "--emotions joy,anger --max-queries 3 -q --json -o " +
      again);
  ASSERT_EQ(r.status, 0) << r.output;
  const nlohmann::json j = json_of(r);
  EXPECT_EQ(j["prompts"], 9);  // 3 queries x (neutral, joy, anger)
  EXPECT_EQ(j["queries_held_out"], 90);
  for (const char* name : {"joy.gguf", "anger.gguf", "base.gguf"}) {
    const std::string a = file_bytes(small_vectors() + "/" + name);
    ASSERT_FALSE(a.empty()) << name;
    EXPECT_EQ(a, file_bytes(again + "/" + name)) << name << " differs between runs";
  }
  const EmotionVector v = load_emotion_vector(again + "/joy.gguf");
  EXPECT_EQ(v.emotion, "joy");
  EXPECT_EQ(v.site, ActivationSite::AttentionOut);
  EXPECT_EQ(v.provenance.mode, "prompt");
  EXPECT_EQ(v.provenance.n_queries, 3);
  EXPECT_EQ(v.provenance.held_out.size(), 90u);
  std::filesystem::remove_all(again);
}

std::string python_interpreter() {
  if (const char* env = std::getenv("EMOVEC_PYTHON"); env != nullptr && *env != '\0') return env;
  if (const char* home = std::getenv("HOME"); home != nullptr) {
    const std::filesystem::path venv =
        std::filesystem::path(home) / ".cache/emovec/venv/bin/python";
    if (std::filesystem::exists(venv)) return venv.string();
  }
  return "python3";
}

// What llama.cpp's GGUF reader (gguf-py) sees in an extracted file: a control vector with
// F32 direction.1 .. direction.29 of 576 values, equal to emovec's rows 1 .. 29.
TEST(CliExtract, LlamaCppsReaderSeesTheControlVectorLayout) {
  const std::string path = small_vectors() + "/joy.gguf";
  std::string command = "\"";
  command.append(python_interpreter());
  command.append("\" \"" EMOVEC_SOURCE_DIR "/tests/py/read_control_vector.py\" \"");
  command.append(path);
  command.append("\"");
  const testing::CommandResult r = testing::run_shell(command);
  ASSERT_EQ(r.status, 0) << command << "\n" << r.output;
  const nlohmann::json j = nlohmann::json::parse(r.output);
  EXPECT_EQ(j["architecture"], "controlvector");
  const EmotionVector v = load_emotion_vector(path);
  ASSERT_EQ(j["tensors"].size(), static_cast<size_t>(v.n_layer - 1));
  for (int64_t k = 1; k < v.n_layer; ++k) {
    const nlohmann::json& t = j["tensors"][static_cast<size_t>(k - 1)];
    EXPECT_EQ(t["name"], "direction." + std::to_string(k));
    EXPECT_EQ(t["type"], "F32");
    EXPECT_EQ(t["shape"], nlohmann::json::array({576}));
    const auto row = v.layer(k);
    ASSERT_EQ(t["values"].size(), row.size());
    for (size_t i = 0; i < row.size(); ++i) {
      ASSERT_EQ(t["values"][i].get<float>(), row[i]) << "direction." << k << "[" << i << "]";
    }
  }
}

// The same extraction done the way the Python steering libraries do it, with transformers +
// PyTorch and forward hooks on each layer's attention module, on the GGUF file transformers
// dequantises (tools/peer/transformers_extract_bench.py): every emotion's vector agrees on every
// layer stored as a tensor, to the exact path's tolerance.
TEST(CliExtract, VectorsEqualTransformersWithForwardHooks) {
  const std::string dir = temp_path("vectors_peer");
  std::filesystem::remove_all(dir);
  const testing::CommandResult ours =
      run_cli("extract " + kModel + " --mode prompt --held-out 0 --max-queries 4 -q -o " + dir);
  ASSERT_EQ(ours.status, 0) << ours.output;
  std::string command = "\"";
  command.append(python_interpreter());
  command.append("\" \"" EMOVEC_SOURCE_DIR
                 "/tools/peer/transformers_extract_bench.py\" --model \"");
  command.append(testing::model_path("smollm2-135m-instruct"));
  command.append("\" --max-queries 4 --threads 2 --json --compare \"" + dir + "\" 2>/dev/null");
  const testing::CommandResult r = testing::run_shell(command);
  ASSERT_EQ(r.status, 0) << command << "\n" << r.output;
  const size_t last = r.output.rfind("\n{");
  const nlohmann::json j = nlohmann::json::parse(
      last == std::string::npos ? r.output : r.output.substr(last + 1), nullptr, false);
  ASSERT_FALSE(j.is_discarded()) << r.output;
  EXPECT_EQ(j["prompts"], 24);
  for (const char* e : {"anger", "disgust", "fear", "joy", "sadness"}) {
    EXPECT_GE(j["lowest_cosine"][e].get<double>(), 0.9999) << e << "\n" << r.output;
    EXPECT_LE(j["largest_relative_difference"][e].get<double>(), 1e-3) << e << "\n" << r.output;
  }
  std::filesystem::remove_all(dir);
}

TEST(CliExtract, BadOptionsAreRefused) {
  const std::string out = " -o " + temp_path("never");
  expect_error("extract " + kModel + " --mode fast" + out, "unknown mode 'fast'");
  expect_error("extract " + kModel + " --method svd" + out, "unknown method 'svd'");
  expect_error("extract " + kModel + " --site nowhere" + out, "unknown activation site");
  expect_error("extract " + kModel + " --held-out 1.5" + out, "held-out share");
  expect_error("extract " + kModel + " --emotions joy,joy" + out, "listed twice");
  expect_error("extract " + kModel + " --emotion-instruction 'be {emotion}'" + out,
               "must contain {query}");
  expect_error("extract " + kModel + " --queries /no/such/file.json" + out, "/no/such/file.json");
  const std::string empty = temp_path("empty.json");
  std::ofstream(empty) << "{\"joy\": []}";
  expect_error("extract " + kModel + " --queries " + empty + out, "no queries");
  std::ofstream(empty) << "{\"joy\": [1, 2]}";
  expect_error("extract " + kModel + " --queries " + empty + out, "not a string");
  std::filesystem::remove(empty);
  EXPECT_FALSE(std::filesystem::exists(temp_path("never")));
}

TEST(CliSteer, EmotionFlagsSteerAndBadOnesAreRefused) {
  const std::string ev = " --ev " + small_vectors();
  const std::string base = "generate " + kModel + " --chat -p 'How was your day?' --temp 0 -n 12";
  const testing::CommandResult plain = run_cli(base + " --json");
  const testing::CommandResult joy = run_cli(base + ev + " --emotion joy=4 --json");
  const testing::CommandResult zero = run_cli(base + ev + " --emotion joy=0,anger=0 --json");
  ASSERT_EQ(plain.status, 0) << plain.output;
  ASSERT_EQ(joy.status, 0) << joy.output;
  ASSERT_EQ(zero.status, 0) << zero.output;
  EXPECT_NE(json_of(joy)["tokens"], json_of(plain)["tokens"]);
  EXPECT_EQ(json_of(zero)["tokens"], json_of(plain)["tokens"]);
  EXPECT_NE(joy.output.find("steering: joy=4 | layers 0-29 | positions last"), std::string::npos)
      << joy.output;
  // llama.cpp's spelling adds the same file with a scale, at every position by default.
  const testing::CommandResult cv =
      run_cli(base + " --control-vector-scaled " + small_vectors() + "/joy.gguf 4");
  EXPECT_EQ(cv.status, 0) << cv.output;
  EXPECT_NE(cv.output.find("positions all"), std::string::npos) << cv.output;

  expect_error(base + ev + " --emotion love=1", "no vector for the emotion 'love'");
  expect_error(base + ev + " --emotion joy=1e9", "outside [-100, 100]");
  expect_error(base + ev + " --emotion joy=nan", "outside");
  expect_error(base + ev + " --emotion 'joy=1,joy=2'", "twice");
  expect_error(base + ev + " --emotion joy --steer-positions middle", "unknown position policy");
  expect_error(base + ev + " --emotion joy --control-vector-layer-range 5 2", "layers are 0 to 29");
  expect_error(base + " --control-vector-scaled " + small_vectors() + "/joy.gguf abc",
               "not a number");
  expect_error(base + " --ev /no/such/vectors --emotion joy", "/no/such/vectors");
  // A vector of another width (Qwen's 896) does not fit SmolLM2's 576.
  const std::string wide = temp_path("wide.gguf");
  save_control_vector(make_emotion_vector("joy", ActivationSite::Residual, 30, 896), wide);
  expect_error(base + " --ev " + wide + " --emotion joy", "width 896");
  expect_error(base + " --control-vector " + wide, "width 896");
  std::filesystem::remove(wide);
  // No vectors ship for a model given by another path: say how to get some.
  expect_error("generate -m " + testing::model_path("gemma-3-270m") + " -p hi -n 1 --emotion joy",
               "give --ev FILE");
}

TEST(CliSteer, CompareAnswersNeutralAndEachEmotionInOneBatch) {
  const testing::CommandResult r =
      run_cli("generate " + kModel + " --chat -p 'How was your day?' --temp 0 -n 12 --ev " +
              small_vectors() + " --emotion joy=4,anger=4 --compare --json");
  ASSERT_EQ(r.status, 0) << r.output;
  const nlohmann::json j = json_of(r);
  ASSERT_EQ(j.size(), 3u);
  EXPECT_EQ(j[0]["emotion"], "neutral");
  EXPECT_EQ(j[1]["emotion"], "joy=4");
  EXPECT_EQ(j[2]["emotion"], "anger=4");
  EXPECT_NE(j[1]["tokens"], j[0]["tokens"]);
  EXPECT_NE(j[2]["tokens"], j[1]["tokens"]);
  // Each equals the reply generated alone with that emotion.
  const testing::CommandResult alone =
      run_cli("generate " + kModel + " --chat -p 'How was your day?' --temp 0 -n 12 --ev " +
              small_vectors() + " --emotion joy=4 --json --exact");
  ASSERT_EQ(alone.status, 0) << alone.output;
  const testing::CommandResult batch_exact =
      run_cli("generate " + kModel + " --chat -p 'How was your day?' --temp 0 -n 12 --ev " +
              small_vectors() + " --emotion joy=4,anger=4 --compare --json --exact");
  ASSERT_EQ(batch_exact.status, 0) << batch_exact.output;
  EXPECT_EQ(json_of(batch_exact)[1]["tokens"], json_of(alone)["tokens"]);
}

// On the default path too, with the shipped vectors: the README's main job, whose replies must
// be what `generate --emotion X` prints for each X. (Evaluating the six prompts in one pass
// gave the same neutral, anger and disgust replies but not the same joy one: steered greedy text
// follows the last bits of the prompt's sums.)
TEST(CliSteer, CompareRepliesAreEachMixsReplyAlone) {
  const std::string prompt = " --chat -p 'How was your weekend?' --temp 0 -n 48 --json";
  const testing::CommandResult r =
      run_cli("generate " + kModel + prompt + " --emotion joy=1.25,sadness=1.25 --compare");
  ASSERT_EQ(r.status, 0) << r.output;
  const nlohmann::json j = json_of(r);
  ASSERT_EQ(j.size(), 3u);
  for (size_t i = 0; i < j.size(); ++i) {
    const std::string mix = j[i]["emotion"];
    const testing::CommandResult alone =
        run_cli("generate " + kModel + prompt + (i == 0 ? "" : " --emotion " + mix));
    ASSERT_EQ(alone.status, 0) << alone.output;
    EXPECT_EQ(j[i]["tokens"], json_of(alone)["tokens"]) << mix;
  }
}

TEST(CliSteer, ChatChangesTheMixMidConversation) {
  const std::string input = temp_path("chat_input.txt");
  std::ofstream(input) << "/emotion joy=4\nHow was your day?\n/emotion love=1\n/emotion off\n"
                          "And yesterday?\n/exit\n";
  const std::string command = std::string(EMOVEC_CLI) + " chat " + kModel + " --ev " +
                              small_vectors() + " --temp 0 -n 16 < " + input + " 2>&1";
  const testing::CommandResult r = testing::run_shell(command);
  EXPECT_EQ(r.status, 0) << r.output;
  EXPECT_NE(r.output.find("steering: joy=4"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("error: no vector for the emotion 'love'"), std::string::npos)
      << r.output;
  EXPECT_NE(r.output.find("steering: none"), std::string::npos) << r.output;
  std::filesystem::remove(input);
}

}  // namespace
}  // namespace emovec
