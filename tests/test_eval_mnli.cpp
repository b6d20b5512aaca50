// SequenceClassifier and MnliScorer against transformers (tests/golden/mnli_tiny.json, made by
// tools/golden/make_tiny_roberta_mnli.py from the tiny random RoBERTa MNLI model in
// tests/data/tiny/roberta_mnli): the pair token ids (truncation included), the logits of every
// (text, hypothesis) pair, and the zero-shot-classification pipeline's scores with multi_label
// false and true; plus label lookup in any order and case, and the errors.
#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <functional>
#include <iostream>

#include "emovec/error.h"
#include "emovec/model_file.h"
#include "emovec/sequence_classifier.h"
#include "emovec/tokenizer.h"
#include "eval/mnli_scorer.h"
#include "support/test_support.h"

namespace emovec {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

struct GoldenPair {
  std::string hypothesis;
  std::vector<int32_t> ids;
  std::vector<float> logits;
};

struct GoldenCase {
  std::string text;
  bool truncated = false;
  std::vector<GoldenPair> pairs;
  std::vector<double> scores;
  std::vector<double> scores_multi_label;
};

struct Golden {
  std::vector<std::string> labels;
  std::string hypothesis_template;
  int64_t max_length = 0;
  std::vector<GoldenCase> cases;
  std::vector<std::string> texts() const {
    std::vector<std::string> out;
    for (const GoldenCase& c : cases) out.push_back(c.text);
    return out;
  }
};

const Golden& golden() {
  static const Golden g = [] {
    const json doc = testing::read_json(testing::golden_path("mnli_tiny.json"));
    Golden out;
    out.labels = doc.at("labels").get<std::vector<std::string>>();
    out.hypothesis_template = doc.at("template").get<std::string>();
    out.max_length = doc.at("max_length").get<int64_t>();
    for (const json& c : doc.at("cases")) {
      GoldenCase gc;
      gc.text = c.at("text").get<std::string>();
      gc.truncated = c.at("truncated").get<bool>();
      for (const json& p : c.at("pairs")) {
        gc.pairs.push_back({p.at("hypothesis").get<std::string>(),
                            p.at("ids").get<std::vector<int32_t>>(),
                            p.at("logits").get<std::vector<float>>()});
      }
      gc.scores = c.at("scores").get<std::vector<double>>();
      gc.scores_multi_label = c.at("scores_multi_label").get<std::vector<double>>();
      out.cases.push_back(std::move(gc));
    }
    return out;
  }();
  return g;
}

std::string tiny_folder() { return testing::data_path("tiny/roberta_mnli"); }

const ModelFile& tiny_model() {
  static const std::unique_ptr<ModelFile> model = open_model_file(tiny_folder());
  return *model;
}

const SequenceClassifier& classifier() {
  static const SequenceClassifier c(tiny_model(), {.n_threads = 2});
  return c;
}

double max_abs_diff(const std::vector<std::vector<double>>& a,
                    const std::vector<std::vector<double>>& b) {
  double d = 0;
  for (size_t i = 0; i < a.size(); ++i) {
    for (size_t j = 0; j < a[i].size(); ++j) d = std::max(d, std::fabs(a[i][j] - b[i][j]));
  }
  return d;
}

std::string error_of(const std::function<void()>& fn) {
  try {
    fn();
  } catch (const Error& e) {
    return e.what();
  }
  return "(no error)";
}

// A copy of the tiny model folder with config.json edited, removed at the end of the test.
class EditedModel {
 public:
  explicit EditedModel(const std::function<void(json&)>& edit)
      : path_(fs::temp_directory_path() / ("emovec-mnli-" + std::to_string(::getpid()))) {
    fs::remove_all(path_);
    fs::create_directories(path_);
    for (const auto& entry : fs::directory_iterator(tiny_folder())) {
      fs::copy_file(entry.path(), path_ / entry.path().filename());
    }
    json config = testing::read_json((path_ / "config.json").string());
    edit(config);
    std::ofstream(path_ / "config.json", std::ios::binary) << config.dump(1);
  }
  ~EditedModel() { fs::remove_all(path_); }
  std::unique_ptr<ModelFile> open() const { return open_model_file(path_.string()); }

 private:
  fs::path path_;
};

void set_classes(json& config, const std::vector<std::string>& names) {
  config["id2label"] = json::object();
  config["label2id"] = json::object();
  for (size_t i = 0; i < names.size(); ++i) {
    config["id2label"][std::to_string(i)] = names[i];
    config["label2id"][names[i]] = i;
  }
}

TEST(SequenceClassifier, ReadsTheFolder) {
  EXPECT_EQ(classifier().labels(),
            (std::vector<std::string>{"CONTRADICTION", "NEUTRAL", "ENTAILMENT"}));
  // tokenizer_config.json model_max_length; the model has 64 positions after RoBERTa's offset.
  EXPECT_EQ(classifier().max_length(), golden().max_length);
  EXPECT_EQ(classifier().tokenizer().kind(), "byte-level-bpe");
}

TEST(SequenceClassifier, PairTokenIdsMatchTransformers) {
  int truncated = 0;
  for (const GoldenCase& c : golden().cases) {
    for (const GoldenPair& p : c.pairs) {
      EXPECT_EQ(classifier().token_ids(c.text, p.hypothesis), p.ids)
          << "text \"" << c.text << "\", hypothesis \"" << p.hypothesis << "\"";
    }
    truncated += c.truncated;
    if (c.truncated) {
      EXPECT_EQ(c.pairs.front().ids.size(), size_t(golden().max_length));
    }
  }
  EXPECT_GE(truncated, 2) << "the golden set should exercise truncation";
}

TEST(SequenceClassifier, LogitsMatchTransformers) {
  std::vector<TextPair> pairs;
  std::vector<float> want;
  for (const GoldenCase& c : golden().cases) {
    for (const GoldenPair& p : c.pairs) {
      pairs.push_back({c.text, p.hypothesis});
      want.insert(want.end(), p.logits.begin(), p.logits.end());
    }
  }
  const std::vector<std::vector<float>> rows = classifier().logits(pairs);
  ASSERT_EQ(rows.size(), pairs.size());
  std::vector<float> got;
  for (const std::vector<float>& row : rows) {
    ASSERT_EQ(row.size(), 3u);
    got.insert(got.end(), row.begin(), row.end());
  }
  const double err = testing::max_relative_difference(got, want);
  std::cout << "[ stats    ] " << pairs.size() << " pairs: logits max relative error " << err
            << "\n";
  RecordProperty("logits_max_relative_error", std::to_string(err));
  EXPECT_LE(err, 1e-4);

  // One pair at a time, and on one thread, gives what the batch gave.
  const SequenceClassifier single_thread(tiny_model(), {.n_threads = 1});
  for (size_t i : {size_t{0}, size_t{70}, pairs.size() - 1}) {
    const std::vector<float> one = single_thread.logits(pairs[i].first, pairs[i].second);
    EXPECT_LE(testing::max_relative_difference(one, rows[i]), 1e-6) << i;
  }
  EXPECT_TRUE(classifier().logits(std::span<const TextPair>()).empty());
}

TEST(SequenceClassifier, MaxLengthOption) {
  const SequenceClassifier short_pairs(tiny_model(), {.n_threads = 1, .max_length = 16});
  const std::string hypothesis = "This example is joy.";
  const GoldenCase& long_text = golden().cases[16];
  ASSERT_TRUE(long_text.truncated);
  ASSERT_EQ(long_text.pairs[3].hypothesis, hypothesis);
  // The golden pair cut to 64 tokens, cut further: <s>, the text's first tokens, then
  // </s></s> and the whole hypothesis and </s>.
  const std::vector<int32_t>& full = long_text.pairs[3].ids;
  const size_t kept_tail = short_pairs.tokenizer().encode(hypothesis, false).size() + 3;
  std::vector<int32_t> want(full.begin(), full.begin() + (16 - kept_tail));
  want.insert(want.end(), full.end() - kept_tail, full.end());
  EXPECT_EQ(short_pairs.token_ids(long_text.text, hypothesis), want);

  EXPECT_THROW(SequenceClassifier(tiny_model(), {.max_length = 65}), Error);
  EXPECT_THROW(SequenceClassifier(tiny_model(), {.max_length = 4}), Error);
  EXPECT_THROW(SequenceClassifier(tiny_model(), {.n_threads = -1}), Error);
}

TEST(SequenceClassifier, SecondTextTooLongForThePositions) {
  // Cutting the first text cannot make room, so the pipeline would run the pair uncut: more
  // tokens than the model has positions.
  std::string hypothesis;
  for (int i = 0; i < 40; ++i) hypothesis += "joy and fear ";
  const std::string message = error_of([&] { classifier().token_ids("Hello", hypothesis); });
  EXPECT_NE(message.find("positions"), std::string::npos) << message;
}

TEST(MnliScorer, Defaults) {
  const MnliScorer scorer(tiny_model());
  EXPECT_EQ(scorer.name(), "mnli");
  EXPECT_EQ(scorer.labels(), golden().labels);
  EXPECT_TRUE(scorer.distribution());
  EXPECT_EQ(scorer.entailment_id(), 2u);
  ASSERT_EQ(scorer.hypotheses().size(), golden().labels.size());
  for (size_t l = 0; l < golden().labels.size(); ++l) {
    EXPECT_EQ(scorer.hypotheses()[l], golden().cases[0].pairs[l].hypothesis);
  }
  EXPECT_EQ(golden().hypothesis_template, MnliScorerOptions{}.hypothesis_template);
}

TEST(MnliScorer, ScoresMatchThePipeline) {
  const Golden& g = golden();
  std::vector<std::vector<double>> want, want_multi;
  for (const GoldenCase& c : g.cases) {
    want.push_back(c.scores);
    want_multi.push_back(c.scores_multi_label);
  }
  MnliScorer scorer(tiny_model(), {.classifier = {.n_threads = 2}});
  const std::vector<std::string> texts = g.texts();
  const std::vector<std::vector<double>> got = scorer.score(texts);
  ASSERT_EQ(got.size(), texts.size());
  for (const std::vector<double>& row : got) {
    ASSERT_EQ(row.size(), 6u);
    double sum = 0;
    for (double v : row) sum += v;
    EXPECT_NEAR(sum, 1.0, 1e-12);
  }
  const double err = max_abs_diff(got, want);

  MnliScorer multi(tiny_model(), {.multi_label = true, .classifier = {.n_threads = 2}});
  EXPECT_FALSE(multi.distribution());
  const std::vector<std::vector<double>> got_multi = multi.score(texts);
  ASSERT_EQ(got_multi.size(), texts.size());
  const double err_multi = max_abs_diff(got_multi, want_multi);

  std::cout << "[ stats    ] " << texts.size() << " texts: scores max abs diff " << err
            << ", multi-label " << err_multi << "\n";
  RecordProperty("scores_max_abs_diff", std::to_string(err));
  RecordProperty("multi_label_scores_max_abs_diff", std::to_string(err_multi));
  EXPECT_LE(err, 1e-5);
  EXPECT_LE(err_multi, 1e-5);
  EXPECT_TRUE(scorer.score(std::span<const std::string>()).empty());
}

TEST(MnliScorer, OneLabelIsMultiLabelAsInThePipeline) {
  MnliScorer scorer(tiny_model(), {.labels = {"joy"}});
  EXPECT_FALSE(scorer.distribution());
  const GoldenCase& c = golden().cases[0];
  const std::vector<std::vector<double>> got = scorer.score(std::vector<std::string>{c.text});
  EXPECT_NEAR(got[0][0], c.scores_multi_label[3], 1e-5);  // "joy" is the fourth golden label
}

TEST(MnliScorer, FindsTheClassesInAnyOrderAndCase) {
  // The same weights with the classes renamed: class 0 is now entailment, class 2
  // contradiction, so the scores follow from the golden logits with those roles.
  const EditedModel edited([](json& config) {
    set_classes(config, {"entailment", "Neutral", "contradiction"});
  });
  const auto model = edited.open();
  MnliScorer scorer(*model);
  MnliScorer multi(*model, {.multi_label = true});
  EXPECT_EQ(scorer.entailment_id(), 0u);
  const Golden& g = golden();
  const std::vector<std::vector<double>> got = scorer.score(g.texts());
  const std::vector<std::vector<double>> got_multi = multi.score(g.texts());
  double err = 0;
  for (size_t t = 0; t < g.cases.size(); ++t) {
    const std::vector<GoldenPair>& pairs = g.cases[t].pairs;
    double sum = 0;
    for (const GoldenPair& p : pairs) sum += std::exp(double(p.logits[0]));
    for (size_t l = 0; l < pairs.size(); ++l) {
      const double single = std::exp(double(pairs[l].logits[0])) / sum;
      const double multi_label =
          1.0 / (1.0 + std::exp(double(pairs[l].logits[2]) - double(pairs[l].logits[0])));
      err =
          std::max({err, std::fabs(got[t][l] - single), std::fabs(got_multi[t][l] - multi_label)});
    }
  }
  EXPECT_LE(err, 1e-5);
}

TEST(MnliScorer, RejectsAModelWithoutAnEntailmentClass) {
  const EditedModel edited([](json& config) {
    set_classes(config, {"CONTRADICTION", "NEUTRAL", "OTHER"});
  });
  const auto model = edited.open();
  const std::string message = error_of([&] { MnliScorer scorer(*model); });
  EXPECT_NE(message.find("no entailment class"), std::string::npos) << message;
  EXPECT_NE(message.find("\"OTHER\""), std::string::npos) << message;
}

TEST(MnliScorer, MultiLabelNeedsAContradictionClass) {
  const EditedModel edited([](json& config) {
    set_classes(config, {"NEUTRAL", "OTHER", "ENTAILMENT"});
  });
  const auto model = edited.open();
  EXPECT_NO_THROW(MnliScorer scorer(*model));
  const std::string message = error_of([&] { MnliScorer s(*model, {.multi_label = true}); });
  EXPECT_NE(message.find("no contradiction class"), std::string::npos) << message;
}

TEST(MnliScorer, RejectsMalformedClassLists) {
  const EditedModel none([](json& config) { config.erase("id2label"); });
  std::string message = error_of([&] { MnliScorer scorer(*none.open()); });
  EXPECT_NE(message.find("no id2label"), std::string::npos) << message;

  // Two classes where the classifier's output layer has three rows.
  const EditedModel two([](json& config) { set_classes(config, {"CONTRADICTION", "ENTAILMENT"}); });
  message = error_of([&] { MnliScorer scorer(*two.open()); });
  EXPECT_NE(message.find("\"classifier.out_proj.weight\": expected shape [2, 48]"),
            std::string::npos)
      << message;

  const EditedModel gap([](json& config) {
    config["id2label"] = {{"0", "CONTRADICTION"}, {"1", "NEUTRAL"}, {"5", "ENTAILMENT"}};
  });
  message = error_of([&] { MnliScorer scorer(*gap.open()); });
  EXPECT_NE(message.find("id2label"), std::string::npos) << message;
}

TEST(MnliScorer, RejectsABertModelThatIsNotAClassifier) {
  const auto minilm = open_model_file(testing::model_path("all-minilm-l6-v2"));
  const std::string message = error_of([&] { MnliScorer scorer(*minilm); });
  EXPECT_NE(message.find("not a model the sequence classifier can run"), std::string::npos)
      << message;
  EXPECT_NE(message.find("\"bert\""), std::string::npos) << message;
  EXPECT_NE(message.find("RobertaForSequenceClassification"), std::string::npos) << message;

  const EditedModel encoder_only(
      [](json& config) { config["architectures"] = json::array({"RobertaModel"}); });
  const std::string encoder_message = error_of([&] { MnliScorer scorer(*encoder_only.open()); });
  EXPECT_NE(encoder_message.find("[\"RobertaModel\"]"), std::string::npos) << encoder_message;

  const auto gguf = open_model_file(testing::model_path("smollm2-135m-instruct"));
  const std::string gguf_message = error_of([&] { MnliScorer scorer(*gguf); });
  EXPECT_NE(gguf_message.find("GGUF \"llama\""), std::string::npos) << gguf_message;
}

TEST(MnliScorer, RejectsATemplateWithoutALabelField) {
  std::string message =
      error_of([&] { MnliScorer scorer(tiny_model(), {.hypothesis_template = "This is it."}); });
  EXPECT_NE(message.find("has no {} where the label goes"), std::string::npos) << message;
  message = error_of([&] { MnliScorer scorer(tiny_model(), {.labels = {}}); });
  EXPECT_NE(message.find("no candidate labels"), std::string::npos) << message;
}

TEST(FormatHypothesis, AsPythonStrFormat) {
  EXPECT_EQ(format_hypothesis("This example is {}.", "joy"), "This example is joy.");
  EXPECT_EQ(format_hypothesis("{0} or not {0}", "fear"), "fear or not fear");
  EXPECT_EQ(format_hypothesis("{{{}}} and {{}}", "anger"), "{anger} and {}");
  EXPECT_EQ(format_hypothesis("Ça {} — ok", "joie"), "Ça joie — ok");
  for (const char* bad :
       {"no field", "{{}}", "{label}", "{1}", "{} {}", "{} {0}", "{", "}", "a } b {}", "{:>5}"}) {
    EXPECT_THROW(format_hypothesis(bad, "joy"), Error) << bad;
  }
}

}  // namespace
}  // namespace emovec
