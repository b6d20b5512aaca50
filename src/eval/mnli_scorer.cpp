// MnliScorer: ZeroShotClassificationPipeline's pairs and scores over a SequenceClassifier.
#include "eval/mnli_scorer.h"

#include <algorithm>
#include <cctype>
#include <cmath>
#include <optional>

#include "emovec/error.h"
#include "emovec/model_file.h"

namespace emovec {
namespace {

std::string lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

// The id of the first class whose lower-cased name starts with `prefix`: the pipeline's rule
// for "entail". The pipeline takes contradiction to be class 0 (or the last class when
// entailment is 0), which is the same class for MNLI models labelled in either usual order;
// looking the name up is right for any order.
std::optional<size_t> class_id(const std::vector<std::string>& classes, std::string_view prefix) {
  for (size_t i = 0; i < classes.size(); ++i) {
    if (lower(classes[i]).starts_with(prefix)) return i;
  }
  return std::nullopt;
}

std::string quoted_list(const std::vector<std::string>& names) {
  std::string out;
  for (const std::string& n : names) out += (out.empty() ? "\"" : ", \"") + n + "\"";
  return out;
}

}  // namespace

std::string format_hypothesis(std::string_view hypothesis_template, std::string_view label) {
  const std::string_view t = hypothesis_template;
  const auto fail = [&](const std::string& why) {
    throw Error("hypothesis template \"" + std::string(t) + "\": " + why);
  };
  std::string out;
  int automatic = 0;
  int manual = 0;
  for (size_t i = 0; i < t.size(); ++i) {
    if (t[i] == '{' && i + 1 < t.size() && t[i + 1] == '{') {
      out += '{';
      ++i;
    } else if (t[i] == '}' && i + 1 < t.size() && t[i + 1] == '}') {
      out += '}';
      ++i;
    } else if (t[i] == '}') {
      fail("a single '}' (write \"}}\" for a brace)");
    } else if (t[i] == '{') {
      const size_t close = t.find('}', i);
      if (close == std::string_view::npos) fail("a '{' without its '}' (write \"{{\" for a brace)");
      const std::string_view field = t.substr(i + 1, close - i - 1);
      if (field.empty()) {
        ++automatic;
      } else if (field == "0") {
        ++manual;
      } else {
        fail("field {" + std::string(field) + "} is not supported (the label goes where {} is)");
      }
      out += label;
      i = close;
    } else {
      out += t[i];
    }
  }
  // As Python's str.format with one argument.
  if (automatic > 0 && manual > 0) fail("mixes {} and {0}");
  if (automatic > 1) fail("has more than one {} for its one label");
  if (automatic + manual == 0) fail("has no {} where the label goes");
  return out;
}

struct MnliScorer::Impl {
  Impl(const ModelFile& model, const SequenceClassifierOptions& options)
      : classifier(model, options) {}

  SequenceClassifier classifier;
  std::vector<std::string> labels;
  std::vector<std::string> hypotheses;
  bool multi_label = false;
  size_t entailment = 0;
  size_t contradiction = 0;
};

MnliScorer::MnliScorer(const ModelFile& model, MnliScorerOptions options) {
  if (options.labels.empty()) throw Error("mnli scorer: no candidate labels");
  std::vector<std::string> hypotheses;
  for (const std::string& label : options.labels) {
    hypotheses.push_back(format_hypothesis(options.hypothesis_template, label));
  }
  impl_ = std::make_unique<Impl>(model, options.classifier);
  Impl& m = *impl_;
  m.labels = std::move(options.labels);
  m.hypotheses = std::move(hypotheses);
  m.multi_label = options.multi_label || m.labels.size() == 1;

  const std::vector<std::string>& classes = m.classifier.labels();
  const std::optional<size_t> entailment = class_id(classes, "entail");
  if (!entailment) {
    throw Error(model.path() + ": config.json id2label has no entailment class (classes " +
                quoted_list(classes) +
                "); zero-shot classification needs an MNLI model whose id2label names one "
                "starting with \"entail\"");
  }
  m.entailment = *entailment;
  if (m.multi_label) {
    const std::optional<size_t> contradiction = class_id(classes, "contradict");
    if (!contradiction) {
      throw Error(model.path() + ": config.json id2label has no contradiction class (classes " +
                  quoted_list(classes) +
                  "); multi-label zero-shot scores need one starting with \"contradict\"");
    }
    m.contradiction = *contradiction;
  }
}

MnliScorer::~MnliScorer() = default;

const std::vector<std::string>& MnliScorer::labels() const { return impl_->labels; }
bool MnliScorer::distribution() const { return !impl_->multi_label; }
const std::vector<std::string>& MnliScorer::hypotheses() const { return impl_->hypotheses; }
size_t MnliScorer::entailment_id() const { return impl_->entailment; }
const SequenceClassifier& MnliScorer::classifier() const { return impl_->classifier; }

std::vector<std::vector<double>> MnliScorer::score(std::span<const std::string> texts) {
  const Impl& m = *impl_;
  const size_t n_labels = m.labels.size();
  std::vector<TextPair> pairs;
  pairs.reserve(texts.size() * n_labels);
  for (const std::string& text : texts) {
    for (const std::string& hypothesis : m.hypotheses) pairs.push_back({text, hypothesis});
  }
  const std::vector<std::vector<float>> logits = m.classifier.logits(pairs);

  std::vector<std::vector<double>> out(texts.size(), std::vector<double>(n_labels));
  for (size_t t = 0; t < texts.size(); ++t) {
    const std::vector<float>* row = logits.data() + t * n_labels;
    std::vector<double>& scores = out[t];
    if (m.multi_label) {
      // softmax([contradiction, entailment])[entailment]
      for (size_t l = 0; l < n_labels; ++l) {
        const double margin = double(row[l][m.contradiction]) - double(row[l][m.entailment]);
        scores[l] = 1.0 / (1.0 + std::exp(margin));
      }
      continue;
    }
    double max = -INFINITY;
    for (size_t l = 0; l < n_labels; ++l) {
      scores[l] = row[l][m.entailment];
      max = std::max(max, scores[l]);
    }
    double sum = 0;
    for (double& s : scores) sum += (s = std::exp(s - max));
    for (double& s : scores) s /= sum;
  }
  return out;
}

}  // namespace emovec
