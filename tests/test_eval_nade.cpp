// The nade emotion scorer against the Python package nade 0.3.1, and the LightGBM reader against
// the lightgbm package: tests/golden/nade.json and tests/data/lightgbm/, written by
// tools/golden/make_nade_golden.py.
#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <limits>
#include <map>
#include <sstream>
#include <string>
#include <vector>

#include "emovec/error.h"
#include "emovec/model_registry.h"
#include "emovec/nade.h"
#include "eval/lightgbm_model.h"
#include "eval/nade_scorer.h"
#include "support/test_support.h"
#include "tokenizer/unicode.h"

namespace emovec {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

constexpr const char* kEntry = "nade-socialmedia-en";

const json& golden() {
  static const json g = testing::read_json(testing::golden_path("nade.json"));
  return g;
}

const std::string& data_dir() {
  static const std::string dir = testing::model_path(kEntry);
  return dir;
}

NadeScorer& scorer() {
  static NadeScorer s(data_dir());
  return s;
}

std::string read_text(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw std::runtime_error("cannot open " + path);
  std::ostringstream out;
  out << in.rdbuf();
  return out.str();
}

// Golden numbers: JSON has no NaN or infinity, so those are the strings "nan", "inf", "-inf".
double golden_number(const json& v) {
  if (v.is_number()) return v.get<double>();
  const std::string s = v.get<std::string>();
  if (s == "nan") return std::numeric_limits<double>::quiet_NaN();
  if (s == "inf") return std::numeric_limits<double>::infinity();
  if (s == "-inf") return -std::numeric_limits<double>::infinity();
  throw std::runtime_error("bad golden number " + s);
}

std::string show(const std::string& s) {
  std::string out;
  for (const unsigned char c : s) {
    if (c < 0x20) {
      char buf[8];
      std::snprintf(buf, sizeof buf, "\\x%02x", c);
      out += buf;
    } else {
      out += static_cast<char>(c);
    }
  }
  return out;
}

// ---- the nade scorer --------------------------------------------------------------------------

TEST(NadeGolden, TextsFileIsWhatTheGoldenWasMadeFrom) {
  const std::string text = read_text(testing::data_path("nade_texts.txt"));
  std::vector<std::string> lines;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) lines.push_back(line);
  const size_t n = golden()["text_file_lines"].get<size_t>();
  ASSERT_EQ(lines.size(), n) << "regenerate tests/golden/nade.json";
  EXPECT_EQ(n, 200u);
  for (size_t i = 0; i < n; ++i) {
    EXPECT_EQ(lines[i], golden()["cases"][i]["text"].get<std::string>()) << "line " << i + 1;
  }
}

TEST(NadePreprocess, MatchesPyarrowOnEveryText) {
  for (const json& c : golden()["cases"]) {
    const std::string text = c["text"];
    EXPECT_EQ(NadeScorer::preprocess(text), c["preprocessed"].get<std::string>()) << show(text);
  }
}

bool in_ranges(const json& ranges, char32_t c) {
  for (const json& r : ranges) {
    if (c >= r[0].get<char32_t>() && c <= r[1].get<char32_t>()) return true;
  }
  return false;
}

// "x<c>x" and "<c>x<c>" for every code point: punctuation (Unicode P*), RE2's ASCII \s,
// lower case and trimming, each against pyarrow. Code points assigned after the golden's Unicode
// version may differ: pyarrow's RE2 and utf8proc and emovec's tables each follow a different,
// later version; those differences are counted, not failed.
TEST(NadePreprocess, MatchesPyarrowOnEveryCodePoint) {
  std::map<char32_t, std::pair<std::string, std::string>> changed;
  for (const json& p : golden()["unicode_probes"]) {
    changed[p[0].get<char32_t>()] = {p[1].get<std::string>(), p[2].get<std::string>()};
  }
  const json& newer = golden()["unicode_unassigned"];
  size_t mismatches = 0, newer_mismatches = 0, checked = 0;
  std::ostringstream first;
  for (char32_t c = 0; c <= 0x10FFFF; ++c) {
    if (c >= 0xD800 && c <= 0xDFFF) continue;
    std::string ch;
    tok::append_utf8(ch, c);
    std::string inner = "x" + ch + "x", outer = ch + "x" + ch;
    if (const auto it = changed.find(c); it != changed.end()) {
      inner = it->second.first;
      outer = it->second.second;
    }
    const std::string got_inner = NadeScorer::preprocess("x" + ch + "x");
    const std::string got_outer = NadeScorer::preprocess(ch + "x" + ch);
    ++checked;
    if (got_inner == inner && got_outer == outer) continue;
    if (in_ranges(newer, c)) {
      ++newer_mismatches;
      continue;
    }
    if (++mismatches <= 20) {
      first << "  U+" << std::hex << static_cast<uint32_t>(c) << std::dec << ": emovec '"
            << show(got_inner) << "' / '" << show(got_outer) << "', pyarrow '" << show(inner)
            << "' / '" << show(outer) << "'\n";
    }
  }
  std::cout << checked << " code points: " << mismatches << " preprocess differently from pyarrow, "
            << newer_mismatches << " more among those new since Unicode "
            << golden()["unicode_version"].get<std::string>() << "\n"
            << first.str();
  EXPECT_EQ(mismatches, 0u);
}

TEST(NadeScorer, Interface) {
  NadeScorer& s = scorer();
  EXPECT_EQ(s.name(), "nade");
  EXPECT_FALSE(s.distribution());
  EXPECT_EQ(s.labels(), golden()["labels"].get<std::vector<std::string>>());
  EXPECT_EQ(s.emojis(), golden()["emojis"].get<std::vector<std::string>>());
  EXPECT_TRUE(s.score({}).empty());
}

TEST(NadeScorer, EmojiProbabilitiesMatchFastText) {
  double max_diff = 0;
  for (const json& c : golden()["emoji_cases"]) {
    const std::vector<double> got = scorer().emoji_probabilities(c["text"].get<std::string>());
    const auto want = c["probabilities"].get<std::vector<double>>();
    ASSERT_EQ(got.size(), want.size());
    for (size_t i = 0; i < got.size(); ++i) {
      max_diff = std::max(max_diff, std::abs(got[i] - want[i]));
      EXPECT_EQ(static_cast<float>(got[i]), static_cast<float>(want[i]))
          << show(c["text"]) << ", emoji " << i;
    }
  }
  std::cout << "fastText emoji probabilities, " << golden()["emoji_cases"].size()
            << " texts: max |emovec - python| = " << max_diff << "\n";
}

// The regressors alone, on the very float32 probabilities nade handed LightGBM.
TEST(NadeScorer, RegressorsMatchLightGbmOnTheSameInput) {
  const auto& labels = golden()["labels"];
  double max_diff = 0;
  for (size_t k = 0; k < labels.size(); ++k) {
    const auto model =
        eval::LightGbmModel::load(data_dir() + "/reg_" + labels[k].get<std::string>() + ".txt");
    for (const json& c : golden()["emoji_cases"]) {
      const auto x = c["probabilities"].get<std::vector<double>>();
      const double want = c["raw"][k].get<double>();
      const double got = model.predict(x);
      max_diff = std::max(max_diff, std::abs(got - want));
      EXPECT_EQ(got, want) << labels[k] << ": " << show(c["text"]);
    }
  }
  std::cout << "LightGBM regressors: max |emovec - lightgbm| = " << max_diff << "\n";
}

TEST(NadeScorer, MatchesPythonNadeOnEveryText) {
  const json& cases = golden()["cases"];
  double max_diff = 0;
  size_t rounded_equal = 0, values = 0;
  std::vector<std::string> texts;
  for (const json& c : cases) {
    const std::string text = c["text"];
    texts.push_back(text);
    const NadeScores got = scorer().score_one(text);
    for (size_t k = 0; k < kNadeEmotionCount; ++k) {
      const double want = c["value"][k].get<double>();
      max_diff = std::max(max_diff, std::abs(got.value[k] - want));
      EXPECT_LE(std::abs(got.value[k] - want), 1e-5) << show(text) << ", " << golden()["labels"][k];
      EXPECT_EQ(got.rounded[k], c["rounded"][k].get<double>())
          << show(text) << ", " << golden()["labels"][k];
      rounded_equal += got.rounded[k] == c["rounded"][k].get<double>() ? 1 : 0;
      ++values;
    }
  }
  std::cout << cases.size() << " texts x 8 emotions: max |emovec - nade| (unrounded) = " << max_diff
            << ", rounded equal " << rounded_equal << "/" << values << "\n";

  const auto rows = scorer().score(texts);
  ASSERT_EQ(rows.size(), cases.size());
  for (size_t i = 0; i < rows.size(); ++i) {
    EXPECT_EQ(rows[i], cases[i]["rounded"].get<std::vector<double>>()) << show(texts[i]);
  }
}

TEST(NadeScorer, InvalidUtf8IsReadWithReplacementCharacters) {
  const std::string bad = "I love this \xff\xfe so much";
  const std::string replaced = "I love this \xEF\xBF\xBD\xEF\xBF\xBD so much";
  EXPECT_EQ(NadeScorer::preprocess(bad), NadeScorer::preprocess(replaced));
  EXPECT_EQ(scorer().score_one(bad).rounded, scorer().score_one(replaced).rounded);
}

TEST(NadeRounding, AsPyarrowRound) {
  for (const json& p : golden()["round_probes"]) {
    const double x = p[0].get<double>();
    EXPECT_EQ(eval::arrow_round(x, 3), p[1].get<double>()) << x;
  }
  EXPECT_TRUE(std::isnan(eval::arrow_round(std::nan(""), 3)));
  EXPECT_EQ(eval::nade_clip(1.5), 1.0);
  EXPECT_EQ(eval::nade_clip(-0.1), 0.0);
  EXPECT_EQ(eval::nade_clip(0.3), 0.3);
  EXPECT_TRUE(std::isnan(eval::nade_clip(std::nan(""))));
}

// A folder holding links to the shipped files, less `without`, plus `extra` files; removed with
// the object.
class ScratchFolder {
 public:
  ScratchFolder(const std::string& without, const std::map<std::string, std::string>& extra = {})
      : path_(fs::temp_directory_path() / ("emovec-nade-" + std::to_string(::getpid()))) {
    fs::remove_all(path_);
    fs::create_directories(path_);
    for (const auto& entry : fs::directory_iterator(data_dir())) {
      const std::string file = entry.path().filename().string();
      if (file == without || extra.count(file) != 0) continue;
      fs::create_symlink(fs::absolute(entry.path()), path_ / file);
    }
    for (const auto& [file, content] : extra) {
      std::ofstream(path_ / file, std::ios::binary) << content;
    }
  }
  ~ScratchFolder() {
    std::error_code ec;
    fs::remove_all(path_, ec);
  }
  std::string path() const { return path_.string(); }

 private:
  fs::path path_;
};

void expect_load_error(const std::string& dir, const std::string& needle) {
  try {
    NadeScorer s(dir);
    ADD_FAILURE() << "no error; expected one mentioning '" << needle << "'";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find(needle), std::string::npos) << e.what();
  }
}

TEST(NadeScorer, BadDataFoldersAreErrors) {
  expect_load_error("/nonexistent/nade", "is not a folder");
  expect_load_error(ScratchFolder("reg_trust.txt").path(), "reg_trust.txt");
  expect_load_error(ScratchFolder("nade_250k_hp.ftz").path(), "nade_250k_hp.ftz");
  expect_load_error(ScratchFolder("", {{"nade_250k_hp.ftz", "not a fastText model"}}).path(),
                    "nade_250k_hp.ftz");
  expect_load_error(ScratchFolder("", {{"emoji_frequencies.jsonl", "{\"emoji\": \"x\"\n"}}).path(),
                    "emoji_frequencies.jsonl, line 1");
  expect_load_error(
      ScratchFolder("", {{"emoji_frequencies.jsonl", "{\"emoji\": \"x\", \"hash\": 1}\n"}}).path(),
      "lists 1 emojis");
  // A well-formed LightGBM model for 5 features where nade needs 151.
  expect_load_error(
      ScratchFolder("", {{"reg_joy.txt", read_text(testing::data_path("lightgbm/binary.txt"))}})
          .path(),
      "takes 5 features");
  expect_load_error(ScratchFolder("", {{"reg_fear.txt", "tree\nversion=v4\n"}}).path(),
                    "reg_fear.txt");
}

TEST(NadeRegistry, ListedButNotAModelToRun) {
  const ShippedModel& m = shipped_model(kEntry);
  EXPECT_EQ(m.format, "nade");
  EXPECT_TRUE(is_fetched(m));
  try {
    (void)resolve_model_argument(kEntry);
    ADD_FAILURE() << "resolve_model_argument accepted the nade data";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("not a model emovec can run"), std::string::npos)
        << e.what();
  }
}

// ---- the LightGBM reader ----------------------------------------------------------------------

TEST(LightGbm, PredictionsMatchLightGbm) {
  for (const auto& [name, spec] : golden()["lightgbm"].items()) {
    const auto model = eval::LightGbmModel::load(testing::data_path(spec["file"]));
    EXPECT_EQ(model.num_features(), 5u) << name;
    const json& rows = spec["rows"];
    double max_diff = 0;
    for (size_t r = 0; r < rows.size(); ++r) {
      std::vector<double> x;
      for (const json& v : rows[r]) x.push_back(golden_number(v));
      const double want = spec["predict"][r].get<double>();
      const double want_raw = spec["raw"][r].get<double>();
      const double got = model.predict(x);
      max_diff = std::max(max_diff, std::abs(got - want));
      EXPECT_EQ(got, want) << name << ", row " << r;
      EXPECT_EQ(model.predict_raw(x), want_raw) << name << ", row " << r;
    }
    std::cout << name << " (" << model.objective() << ", decision types "
              << spec["decision_types"].dump() << "): " << rows.size()
              << " rows, max |emovec - lightgbm| = " << max_diff << "\n";
  }
}

TEST(LightGbm, ModelsCoverMissingValueKindsAndObjectives) {
  const json& models = golden()["lightgbm"];
  const auto types = [&](const char* name) {
    return models[name]["decision_types"].get<std::vector<int>>();
  };
  // 2: no missing type, default left; 8/10: NaN missing, right/left; 4/6: zero missing.
  EXPECT_EQ(types("regression_nan"), (std::vector<int>{2, 8, 10}));
  EXPECT_EQ(types("regression_zero"), (std::vector<int>{4, 6}));
  EXPECT_EQ(eval::LightGbmModel::load(testing::data_path("lightgbm/binary.txt")).objective(),
            "binary sigmoid:1");
  const auto rf = eval::LightGbmModel::load(testing::data_path("lightgbm/rf_sqrt.txt"));
  EXPECT_TRUE(rf.average_output());
  EXPECT_EQ(rf.objective(), "regression sqrt");
}

std::string model_text() { return read_text(testing::data_path("lightgbm/regression_nan.txt")); }

// `text` with the first line that starts with `key=` replaced by `key=value`, or removed.
std::string with_line(std::string text, const std::string& key, const std::string* value) {
  const size_t at = text.find("\n" + key + "=");
  if (at == std::string::npos) throw std::runtime_error("no line " + key);
  const size_t end = text.find('\n', at + 1);
  text.replace(at + 1, end - at, value ? key + "=" + *value + "\n" : "");
  return text;
}

std::string first_value(const std::string& text, const std::string& key) {
  const size_t at = text.find("\n" + key + "=") + key.size() + 2;
  return text.substr(at, text.find('\n', at) - at);
}

// `line` with its first space-separated token replaced.
std::string with_first_token(const std::string& line, const std::string& token) {
  return token + line.substr(line.find(' '));
}

void expect_parse_error(const std::string& text, const std::string& needle) {
  try {
    (void)eval::LightGbmModel::parse(text, "test.txt");
    ADD_FAILURE() << "no error; expected one mentioning '" << needle << "'";
  } catch (const Error& e) {
    const std::string what = e.what();
    EXPECT_NE(what.find("test.txt"), std::string::npos) << what;
    EXPECT_NE(what.find(needle), std::string::npos) << what;
  }
}

TEST(LightGbm, MalformedFilesAreErrors) {
  const std::string text = model_text();
  ASSERT_NO_THROW((void)eval::LightGbmModel::parse(text, "test.txt"));
  const auto set = [&](const std::string& key, const std::string& value) {
    return with_line(text, key, &value);
  };
  const auto tokens = [&](const std::string& key, const std::string& token) {
    return set(key, with_first_token(first_value(text, key), token));
  };

  expect_parse_error("", "not a LightGBM text model");
  expect_parse_error("hello\nworld\n", "not a LightGBM text model");
  expect_parse_error(with_line(text, "leaf_value", nullptr), "missing field 'leaf_value'");
  expect_parse_error(with_line(text, "left_child", nullptr), "missing field 'left_child'");
  expect_parse_error(with_line(text, "max_feature_idx", nullptr), "max_feature_idx");
  expect_parse_error(with_line(text, "num_leaves", nullptr), "missing field 'num_leaves'");
  expect_parse_error(tokens("threshold", "0.5abc"), "'0.5abc' is not a valid number");
  expect_parse_error(tokens("leaf_value", "--1"), "'--1' is not a valid number");
  expect_parse_error(tokens("split_feature", "x"), "'x' is not a valid number");
  expect_parse_error(set("num_leaves", "seven"), "num_leaves: 'seven' is not a valid number");
  expect_parse_error(set("num_leaves", "-3"), "num_leaves=-3 is out of range");
  expect_parse_error(set("num_leaves", "9"), "leaf_value has 7 values, expected 9");
  expect_parse_error(tokens("left_child", "99"), "has child 99");
  expect_parse_error(tokens("right_child", "-99"), "leaf child -99");
  expect_parse_error(tokens("left_child", "0"), "reached twice");
  expect_parse_error(tokens("split_feature", "7"), "splits on feature 7");
  expect_parse_error(tokens("decision_type", "1"), "categorical split");
  expect_parse_error(tokens("decision_type", "12"), "invalid decision_type 12");
  expect_parse_error(set("num_cat", "1"), "categorical splits");
  expect_parse_error(set("is_linear", "1"), "linear trees");
  expect_parse_error(set("num_class", "3"), "num_class=3");
  expect_parse_error(set("objective", "lambdamart_xyz"), "objective 'lambdamart_xyz'");
  expect_parse_error(set("objective", "binary sigmoid:-1"), "sigmoid");
  expect_parse_error(set("tree_sizes", "1 2 3"), "tree_sizes lists 3 trees, the file has 12");

  // Cut anywhere before the end of the trees: always an Error, never a crash.
  const size_t end = text.find("end of trees") + std::string("end of trees").size();
  size_t cuts = 0;
  for (size_t cut = 0; cut < end; cut += 7) {
    EXPECT_THROW((void)eval::LightGbmModel::parse(text.substr(0, cut), "test.txt"), Error)
        << "cut at byte " << cut;
    ++cuts;
  }
  EXPECT_NO_THROW((void)eval::LightGbmModel::parse(text.substr(0, end), "test.txt"));
  std::cout << cuts << " truncations, each an Error\n";
}

TEST(LightGbm, WrongInputsAreErrors) {
  EXPECT_THROW((void)eval::LightGbmModel::load("/nonexistent/model.txt"), Error);
  const auto model = eval::LightGbmModel::parse(model_text(), "test.txt");
  const std::vector<double> four(4, 0.0), six(6, 0.0);
  EXPECT_THROW((void)model.predict(four), Error);
  EXPECT_THROW((void)model.predict(six), Error);
}

}  // namespace
}  // namespace emovec
