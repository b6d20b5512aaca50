// `emovec eval` end to end on the default model with its shipped vectors, in a tiny setting
// (2 held-out queries x 2 emotions x alphas 0 and 1, 8 reply tokens): the report files are
// written and hold numbers in range; an interrupted run (its last reply cut short, or the
// process killed), resumed, gives the same report byte for byte whatever the batch; bad input
// gets a clear error (exit status 1), never a crash.
#include <gtest/gtest.h>
#include <unistd.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>

#include "support/cli_runner.h"

namespace emovec {
namespace {

using testing::run_cli;
namespace fs = std::filesystem;

const std::string kTiny =
    "eval -m smollm2-135m-instruct -t 2 --limit 2 --emotions joy,anger --alphas=0,1 -n 8 "
    "--scorers nade -q";

// Per process: CTest runs this file's tests as parallel processes.
std::string temp_path(const std::string& name) {
  std::string file = "emovec_eval_test_";
  file.append(std::to_string(::getpid())).append("_").append(name);
  return (fs::temp_directory_path() / file).string();
}

std::string file_bytes(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

std::string fresh_dir(const std::string& name) {
  const std::string d = temp_path(name);
  fs::remove_all(d);
  return d;
}

void expect_error(const std::string& args, const std::string& message) {
  const testing::CommandResult r = run_cli(args);
  EXPECT_EQ(r.status, 1) << args << "\n" << r.output;
  EXPECT_NE(r.output.find(message), std::string::npos)
      << args << "\nexpected the message to contain: " << message << "\ngot: " << r.output;
}

// The uninterrupted run, made once.
const std::string& full_run() {
  static const std::string dir = [] {
    const std::string d = fresh_dir("full");
    const testing::CommandResult r = run_cli(kTiny + " -o " + d);
    EXPECT_EQ(r.status, 0) << r.output;
    return d;
  }();
  return dir;
}

void expect_table_in(const nlohmann::json& table, double lo, double hi, const std::string& what) {
  ASSERT_EQ(table.size(), 2u) << what;  // joy, anger
  for (const auto& [emotion, row] : table.items()) {
    for (const char* column : {"0", "1", "prompt"}) {
      ASSERT_TRUE(row.contains(column)) << what << " " << emotion << " " << column;
      ASSERT_TRUE(row[column].is_number()) << what << " " << emotion << " " << column;
      const double v = row[column].get<double>();
      EXPECT_GE(v, lo) << what << " " << emotion << " " << column;
      EXPECT_LE(v, hi) << what << " " << emotion << " " << column;
    }
  }
}

TEST(CliEval, WritesAReportWithNumbersInRange) {
  const std::string& d = full_run();
  for (const char* name : {"run.json", "replies.jsonl", "report.json", "report.md",
                           "probability_nade.svg", "absolute_nade.svg", "topic_adherence.svg",
                           "similarity_to_unsteered.svg", "perplexity.svg"}) {
    EXPECT_TRUE(fs::exists(fs::path(d) / name)) << name;
  }
  // Per query: unsteered, 2 prompt baselines, 2 steered (alpha 1).
  std::ifstream replies(fs::path(d) / "replies.jsonl");
  int lines = 0;
  for (std::string line; std::getline(replies, line); ++lines) {
    const nlohmann::json j = nlohmann::json::parse(line);
    EXPECT_TRUE(j["text"].is_string());
    EXPECT_LE(j["tokens"].size(), 8u);
  }
  EXPECT_EQ(lines, 10);

  const nlohmann::json report = nlohmann::json::parse(file_bytes(d + "/report.json"));
  EXPECT_EQ(report["replies"], 10);
  EXPECT_EQ(report["columns"], nlohmann::json({"0", "1", "prompt"}));
  EXPECT_EQ(report["settings"]["query_ids"].size(), 2u);
  ASSERT_EQ(report["scorers"].size(), 1u);
  const nlohmann::json& nade = report["scorers"][0];
  EXPECT_EQ(nade["name"], "nade");
  EXPECT_EQ(nade["top_among"], nlohmann::json({"anger", "disgust", "fear", "joy", "sadness"}));
  expect_table_in(nade["probability"], 0, 1, "probability");
  expect_table_in(nade["absolute"], 0, 1, "absolute");
  expect_table_in(report["topic_adherence"]["query_reply"], -1, 1, "query_reply");
  expect_table_in(report["topic_adherence"]["reply_unsteered"], -1, 1, "reply_unsteered");
  expect_table_in(report["perplexity"], 1, 1e6, "perplexity");
  expect_table_in(report["distinct_1"], 0, 1, "distinct_1");
  expect_table_in(report["distinct_2"], 0, 1, "distinct_2");
  // At alpha 0 a reply is the unsteered reply itself.
  EXPECT_DOUBLE_EQ(report["topic_adherence"]["reply_unsteered"]["joy"]["0"].get<double>(), 1.0);
  EXPECT_EQ(report["perplexity"]["joy"]["0"], report["perplexity"]["anger"]["0"]);

  const std::string md = file_bytes(d + "/report.md");
  EXPECT_NE(md.find("## Emotion probability score (nade)"), std::string::npos) << md;
  EXPECT_NE(md.find("| joy |"), std::string::npos) << md;
  EXPECT_EQ(file_bytes(d + "/perplexity.svg").rfind("<svg", 0), 0u);
}

TEST(CliEval, AResumedRunGivesTheSameReportByteForByte) {
  const std::string& full = full_run();
  const std::string expected = file_bytes(full + "/report.json");
  ASSERT_FALSE(expected.empty());

  // An interrupted run: the first 4 replies written, the 5th cut short mid-line. Resumed with
  // another batch size, so the remaining replies share their decoding steps differently.
  const std::string resumed = fresh_dir("resumed");
  fs::create_directories(resumed);
  fs::copy_file(full + "/run.json", resumed + "/run.json");
  {
    std::istringstream all(file_bytes(full + "/replies.jsonl"));
    std::ofstream out(resumed + "/replies.jsonl", std::ios::binary);
    std::string line;
    for (int i = 0; i < 4 && std::getline(all, line); ++i) out << line << '\n';
    std::getline(all, line);
    out << line.substr(0, line.size() / 2);
  }
  testing::CommandResult r = run_cli(kTiny + " --batch 3 -o " + resumed);
  ASSERT_EQ(r.status, 0) << r.output;
  EXPECT_EQ(file_bytes(resumed + "/report.json"), expected);

  // One reply at a time, from scratch.
  const std::string single = fresh_dir("single");
  r = run_cli(kTiny + " --batch 1 -o " + single);
  ASSERT_EQ(r.status, 0) << r.output;
  EXPECT_EQ(file_bytes(single + "/report.json"), expected);

  // A finished run, run again, generates nothing and reports the same.
  r = run_cli(kTiny.substr(0, kTiny.size() - 3) + " -o " + single);
  ASSERT_EQ(r.status, 0) << r.output;
  EXPECT_NE(r.output.find("0/0 generated (10 done before)"), std::string::npos) << r.output;
  EXPECT_EQ(file_bytes(single + "/report.json"), expected);

  // Scorers are not part of the run: the same replies, scored by the zero-shot judge.
  r = run_cli(
      "eval -m smollm2-135m-instruct -t 2 --limit 2 --emotions joy,anger --alphas=0,1 -n 8 "
      "--scorers judge -q -o " +
      single);
  ASSERT_EQ(r.status, 0) << r.output;
  const nlohmann::json judged = nlohmann::json::parse(file_bytes(single + "/report.json"));
  ASSERT_EQ(judged["scorers"].size(), 1u);
  EXPECT_EQ(judged["scorers"][0]["name"], "judge");
  EXPECT_EQ(judged["scorers"][0]["top_among"].size(), 6u);  // the five emotions and neutral
  expect_table_in(judged["scorers"][0]["probability"], 0, 1, "judge probability");
  EXPECT_EQ(judged["perplexity"], nlohmann::json::parse(expected)["perplexity"]);
}

TEST(CliEval, AKilledRunResumesToTheSameReport) {
  const std::string expected = file_bytes(full_run() + "/report.json");
  ASSERT_FALSE(expected.empty());
  // One reply at a time, killed (SIGKILL, no chance to tidy up) once 3 replies are written.
  const std::string d = fresh_dir("killed");
  const std::string replies = d + "/replies.jsonl";
  const testing::CommandResult killed = testing::run_shell(
      std::string(EMOVEC_CLI) + " " + kTiny + " --batch 1 -o " + d +
      " >/dev/null 2>&1 & pid=$!; for i in $(seq 1 6000); do "
      "[ \"$(cat " +
      replies +
      " 2>/dev/null | wc -l)\" -ge 3 ] && break; sleep 0.01; done; kill -9 $pid; "
      "wait $pid; wc -l < " +
      replies);
  const int written = std::stoi(killed.output);
  EXPECT_GE(written, 3) << killed.output;
  EXPECT_LT(written, 10) << "the run ended before it was killed";
  EXPECT_FALSE(fs::exists(d + "/report.json"));
  const testing::CommandResult r = run_cli(kTiny + " -o " + d);
  ASSERT_EQ(r.status, 0) << r.output;
  EXPECT_EQ(file_bytes(d + "/report.json"), expected);
}

// Two scorers: the report's agreement between them equals what their per-text scores, read
// with emovec score, give when counted here (top emotion among the five targets, the first on
// a tie; Cohen's kappa from the two label frequencies).
TEST(CliEval, ScorerAgreementIsCountedFromEachReplysScores) {
  const std::string d = fresh_dir("agreement");
  fs::copy(full_run(), d, fs::copy_options::recursive);
  const std::string two = "--scorers nade,judge=smollm2-135m-instruct";
  std::string command = kTiny;
  command.replace(command.find("--scorers nade"), std::string("--scorers nade").size(), two);
  const testing::CommandResult run = run_cli(command + " -o " + d);
  ASSERT_EQ(run.status, 0) << run.output;
  const auto report = nlohmann::json::parse(file_bytes(d + "/report.json"));
  ASSERT_EQ(report.at("scorer_agreement").size(), 1u);
  const nlohmann::json& g = report.at("scorer_agreement")[0];
  EXPECT_EQ(g.at("scorers"), nlohmann::json({"nade", "judge"}));
  EXPECT_NE(file_bytes(d + "/report.md").find("## Agreement between scorers"), std::string::npos);

  nlohmann::json texts = nlohmann::json::array();
  std::ifstream replies(d + "/replies.jsonl");
  for (std::string line; std::getline(replies, line);) {
    texts.push_back(nlohmann::json::parse(line).at("text"));
  }
  ASSERT_EQ(g.at("replies").get<size_t>(), texts.size());
  std::ofstream(d + "/texts.json") << texts.dump();
  const testing::CommandResult scored =
      run_cli("score --json -t 2 " + two + " -f " + d + "/texts.json");
  ASSERT_EQ(scored.status, 0) << scored.output;
  const auto rows = nlohmann::json::parse(scored.output);
  ASSERT_EQ(rows.size(), 2 * texts.size());
  const char* targets[] = {"anger", "disgust", "fear", "joy", "sadness"};
  const auto top = [&](const nlohmann::json& scores) {
    int best = 0;
    for (int i = 1; i < 5; ++i) {
      if (scores.at(targets[i]).get<double>() > scores.at(targets[best]).get<double>()) best = i;
    }
    return best;
  };
  double same = 0, count_a[5] = {}, count_b[5] = {};
  const double n = static_cast<double>(texts.size());
  for (size_t i = 0; i < texts.size(); ++i) {
    ASSERT_EQ(rows[i].at("scorer"), "nade");
    ASSERT_EQ(rows[texts.size() + i].at("scorer"), "judge");
    const int a = top(rows[i].at("scores")), b = top(rows[texts.size() + i].at("scores"));
    same += a == b;
    ++count_a[a];
    ++count_b[b];
  }
  double chance = 0;
  for (int k = 0; k < 5; ++k) chance += count_a[k] / n * count_b[k] / n;
  EXPECT_NEAR(g.at("same_top_emotion").get<double>(), same / n, 1e-12);
  if (chance < 1) {
    EXPECT_NEAR(g.at("cohen_kappa").get<double>(), (same / n - chance) / (1 - chance), 1e-12);
  } else {
    EXPECT_TRUE(g.at("cohen_kappa").is_null());
  }
}

TEST(CliEval, ScoreCommandErrors) {
  const std::string d = fresh_dir("score");
  fs::create_directories(d);
  expect_error("score", "nothing to score");
  expect_error("score --calibrate hello", "not both");
  expect_error("score --scorers vibes hello", "unknown scorer 'vibes'");
  expect_error("score --scorers nade,nade hello", "'nade' is given twice");
  expect_error("score --scorers judge=" + d + "/none.gguf hello", d + "/none.gguf");
  std::ofstream(d + "/list.json") << R"({"not": "a list"})";
  expect_error("score -f " + d + "/list.json", "not a JSON list of texts");
  std::ofstream(d + "/bad.tsv") << "label\ttext\njoy no tab here\n";
  expect_error("score --labelled " + d + "/bad.tsv", ":2: no tab");
  // The shipped labelled set, with nade: the figures tests/test_eval_calibration.cpp holds to
  // the Python package.
  const testing::CommandResult r = run_cli("score --calibrate --scorers nade");
  EXPECT_EQ(r.status, 0) << r.output;
  EXPECT_NE(r.output.find("nade: accuracy on the five emotions 0.683 (82/120)"), std::string::npos)
      << r.output;
}

TEST(CliEval, BadInputGetsAClearError) {
  const std::string d = fresh_dir("bad");
  const std::string base = "eval -m smollm2-135m-instruct -t 2 -n 4 -q -o " + d + " ";
  const std::string ok = base + "--limit 1 --alphas=0,1 --emotions joy ";
  expect_error(base + "--limit 1 --emotions joy,rage", "no vector for the emotion 'rage'");
  expect_error(ok + "--ev " + d + "-missing.gguf", d + "-missing.gguf: no such file");
  expect_error(base + "--emotions joy --alphas=1,x", "--alphas: 'x' is not a number");
  expect_error(base + "--emotions joy --alphas=1,500", "--alphas: 500 is out of range");
  expect_error(ok + "--scorers nade,vibes", "unknown scorer 'vibes'");
  expect_error(base + "--emotions joy --limit -1", "--limit must be");

  // A vector for another model size: the paper's JSON format, 30 layers of width 64.
  const std::string other = d + "-vectors";
  fs::create_directories(other);
  {
    nlohmann::json j = nlohmann::json::object();
    for (int l = 0; l < 30; ++l) j[std::to_string(l)] = {std::vector<float>(64, 0.01f)};
    std::ofstream(other + "/joy.json") << j.dump();
  }
  const testing::CommandResult r = run_cli(ok + "--ev " + other + "/joy.json");
  EXPECT_EQ(r.status, 1) << r.output;
  EXPECT_NE(r.output.find("the vector for 'joy'"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("64"), std::string::npos) << r.output;

  // A folder holding a run with other arguments.
  const std::string& full = full_run();
  expect_error(
      "eval -m smollm2-135m-instruct -t 2 --limit 2 --emotions joy,anger --alphas=0,1 -n 9 "
      "--scorers nade -q -o " +
          full,
      "holds a run with other settings (n_predict: 8 there, 9 now)");
  // Nothing was overwritten.
  EXPECT_NE(file_bytes(full + "/run.json").find("\"n_predict\": 8"), std::string::npos);
}

}  // namespace
}  // namespace emovec
