// The paper's emotion classifier: zero-shot classification with an MNLI model, computed as
// transformers' ZeroShotClassificationPipeline computes it. Each text is the premise of one pair
// per candidate label, whose hypothesis is the template filled with the label ("This example is
// joy."); the model's entailment logit of each pair says how well the label fits. With
// multi_label false the entailment logits are softmaxed across the labels (a distribution over
// them); with multi_label true each label gets softmax([contradiction, entailment])[entailment]
// on its own. A premise is cut to fit the model, the hypothesis never (truncation "only_first").
#pragma once

#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "emovec/emotion_scorer.h"
#include "emovec/sequence_classifier.h"

namespace emovec {

class ModelFile;

struct MnliScorerOptions {
  // Candidate labels: the paper's five emotions and "neutral".
  std::vector<std::string> labels = {"anger", "disgust", "fear", "joy", "sadness", "neutral"};
  // Python str.format syntax with one label field ("{}" or "{0}"); the pipeline's default.
  std::string hypothesis_template = "This example is {}.";
  // As the pipeline, which also treats a single label as multi-label.
  bool multi_label = false;
  SequenceClassifierOptions classifier{};
};

class MnliScorer : public EmotionScorer {
 public:
  // From a Hugging Face folder of an MNLI RobertaForSequenceClassification (e.g.
  // roberta-large-mnli). The classes are found by name in config.json id2label, in any order and
  // case: the one starting with "entail" and, for multi_label, the one starting with
  // "contradict". Throws Error for a model SequenceClassifier cannot run, an id2label without
  // those classes, no labels, or a template without a label field.
  explicit MnliScorer(const ModelFile& model, MnliScorerOptions options = {});
  ~MnliScorer() override;
  MnliScorer(const MnliScorer&) = delete;
  MnliScorer& operator=(const MnliScorer&) = delete;

  std::string name() const override { return "mnli"; }
  const std::vector<std::string>& labels() const override;
  // True unless the scores are multi-label.
  bool distribution() const override;
  // An empty text is scored as the pair encoding of "" (the pipeline itself refuses one).
  std::vector<std::vector<double>> score(std::span<const std::string> texts) override;

  // The hypothesis of each label, in labels() order.
  const std::vector<std::string>& hypotheses() const;
  size_t entailment_id() const;
  const SequenceClassifier& classifier() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// template.format(label) as Python computes it, for templates whose fields are all "{}" or all
// "{0}", with "{{" and "}}" for braces. Throws Error for any other field, unbalanced braces, or a
// template without a field.
std::string format_hypothesis(std::string_view hypothesis_template, std::string_view label);

}  // namespace emovec
