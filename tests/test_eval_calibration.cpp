// Scorer calibration on a labelled set (src/eval/calibration.h) and the scorer-agreement
// statistic: the real nade scorer on data/eval/labelled_emotions.tsv against the Python nade
// package with scikit-learn's metrics (tests/golden/nade_calibration.json, written by
// tools/golden/make_scorer_calibration_golden.py); reading errors; and the counting on scorers
// whose answers are known.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "emovec/error.h"
#include "emovec/nade.h"
#include "eval/calibration.h"
#include "eval/metrics.h"
#include "support/test_support.h"

namespace emovec::eval {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

std::string labelled_path() {
  return std::string(EMOVEC_SOURCE_DIR) + "/data/eval/labelled_emotions.tsv";
}

// A scorer with fixed answers: the row of each text is one-hot on the label `answer` gives.
class FixedScorer : public EmotionScorer {
 public:
  FixedScorer(std::vector<std::string> labels, std::function<std::string(const std::string&)> f)
      : labels_(std::move(labels)), answer_(std::move(f)) {}
  std::string name() const override { return "fixed"; }
  const std::vector<std::string>& labels() const override { return labels_; }
  bool distribution() const override { return true; }
  std::vector<std::vector<double>> score(std::span<const std::string> texts) override {
    std::vector<std::vector<double>> out;
    for (const std::string& t : texts) {
      std::vector<double> row(labels_.size());
      const std::string a = answer_(t);
      for (size_t i = 0; i < labels_.size(); ++i) row[i] = labels_[i] == a ? 1.0 : 0.0;
      out.push_back(row);
    }
    return out;
  }

 private:
  std::vector<std::string> labels_;
  std::function<std::string(const std::string&)> answer_;
};

std::string write_temp(const std::string& name, const std::string& text) {
  const fs::path p = fs::temp_directory_path() / ("emovec_calibration_" + name);
  std::ofstream(p, std::ios::binary) << text;
  return p.string();
}

TEST(Calibration, TheShippedSetHas24SentencesPerClass) {
  const LabelledSet set = load_labelled_set(labelled_path());
  ASSERT_EQ(set.texts.size(), 144u);
  for (const char* l : {"anger", "disgust", "fear", "joy", "sadness", "neutral"}) {
    EXPECT_EQ(std::count(set.labels.begin(), set.labels.end(), l), 24) << l;
  }
}

TEST(Calibration, NadeMatchesThePythonPackageAndScikitLearn) {
  const json g = testing::read_json(testing::golden_path("nade_calibration.json"));
  NadeScorer nade(testing::model_path("nade-socialmedia-en"));
  const ScorerAccuracy a = scorer_accuracy(nade, load_labelled_set(labelled_path()));
  std::cout << accuracy_text(a);
  EXPECT_EQ(a.target_texts, g.at("texts").get<int64_t>());
  EXPECT_EQ(a.target_correct, g.at("correct").get<int64_t>());
  EXPECT_DOUBLE_EQ(a.target_accuracy(), g.at("accuracy").get<double>());
  EXPECT_FALSE(a.all_texts.has_value());  // nade has no neutral label
  ASSERT_EQ(a.rows, g.at("labels").get<std::vector<std::string>>());
  ASSERT_EQ(a.columns, g.at("labels").get<std::vector<std::string>>());
  EXPECT_EQ(a.confusion, g.at("confusion").get<std::vector<std::vector<int64_t>>>());

  // Cohen's kappa between the labels and nade's top emotions, as scikit-learn computes it.
  std::vector<size_t> truth, top;
  for (size_t r = 0; r < a.rows.size(); ++r) {
    for (size_t c = 0; c < a.columns.size(); ++c) {
      for (int64_t n = 0; n < a.confusion[r][c]; ++n) {
        truth.push_back(r);
        top.push_back(c);
      }
    }
  }
  const Agreement k = label_agreement(truth, top, a.columns.size());
  EXPECT_DOUBLE_EQ(k.observed, g.at("observed_truth_vs_top").get<double>());
  ASSERT_TRUE(k.kappa.has_value());
  EXPECT_NEAR(*k.kappa, g.at("kappa_truth_vs_top").get<double>(), 1e-12);
}

TEST(Calibration, CountsOnScorersWithKnownAnswers) {
  const LabelledSet set = load_labelled_set(labelled_path());
  const std::vector<std::string> six = {"anger", "disgust", "fear", "joy", "sadness", "neutral"};
  // An oracle (it looks the text up) is right on every sentence, neutral included.
  FixedScorer oracle(six, [&](const std::string& t) {
    return set.labels[static_cast<size_t>(std::find(set.texts.begin(), set.texts.end(), t) -
                                          set.texts.begin())];
  });
  const ScorerAccuracy o = scorer_accuracy(oracle, set);
  EXPECT_EQ(o.target_texts, 120);
  EXPECT_EQ(o.target_correct, 120);
  ASSERT_TRUE(o.all_texts.has_value());
  EXPECT_EQ(*o.all_texts, 144);
  EXPECT_EQ(*o.all_correct, 144);
  for (size_t r = 0; r < o.rows.size(); ++r) {
    for (size_t c = 0; c < o.columns.size(); ++c) {
      EXPECT_EQ(o.confusion[r][c], o.rows[r] == o.columns[c] ? 24 : 0);
    }
  }
  // Always "neutral": among the five targets every row is 0 (a tie, the first, anger, wins),
  // so 24 of 120 by the targets and 24 of 144 (the neutral ones) over all labels.
  FixedScorer neutral(six, [](const std::string&) { return std::string("neutral"); });
  const ScorerAccuracy n = scorer_accuracy(neutral, set);
  EXPECT_EQ(n.target_correct, 24);
  EXPECT_EQ(*n.all_correct, 24);
  // A scorer without a target emotion cannot be calibrated on them.
  FixedScorer four({"anger", "fear", "joy", "sadness"}, [](const std::string&) { return "joy"; });
  EXPECT_THROW(scorer_accuracy(four, set), Error);
}

TEST(Calibration, BadFilesAreNamedErrors) {
  const auto expect_error = [](const std::string& text, const std::string& what) {
    const std::string path = write_temp("bad.tsv", text);
    try {
      load_labelled_set(path);
      ADD_FAILURE() << "no error for: " << text;
    } catch (const Error& e) {
      EXPECT_NE(std::string(e.what()).find(what), std::string::npos) << e.what();
    }
  };
  expect_error("", "header");
  expect_error("text\tlabel\njoy\thi\n", "header");
  expect_error("label\ttext\n", "no sentence");
  expect_error("label\ttext\njoy hi\n", ":2: no tab");
  expect_error("label\ttext\njoy\thi\nJoy\tho\n", ":3: the label 'Joy'");
  expect_error("label\ttext\njoy\t\n", "empty");
  expect_error("label\ttext\njoy\ta\tb\n", "more than one tab");
  EXPECT_THROW(load_labelled_set("/nonexistent/labelled.tsv"), Error);
  // CRLF line ends and blank lines are accepted.
  const LabelledSet ok = load_labelled_set(write_temp("ok.tsv", "label\ttext\r\n\r\njoy\thi\r\n"));
  EXPECT_EQ(ok.texts, std::vector<std::string>{"hi"});
}

}  // namespace
}  // namespace emovec::eval
