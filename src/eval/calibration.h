// Calibration of emotion scorers on a labelled set of sentences (data/eval/labelled_emotions.tsv):
// how often a scorer's top label is the sentence's label, with the confusion matrix.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "emovec/emotion_scorer.h"

namespace emovec::eval {

struct LabelledSet {
  std::vector<std::string> labels;  // per sentence: an emotion name or "neutral"
  std::vector<std::string> texts;
};

// Reads a labelled set: a header line "label<TAB>text", then one "label<TAB>text" per line.
// Throws Error naming the line for a missing tab, an empty label or text, a label not in lower
// case letters, or a file with no sentence.
LabelledSet load_labelled_set(const std::string& path);

struct ScorerAccuracy {
  std::string scorer;
  // Over the sentences labelled with one of the five target emotions: the top label among those
  // five equals the label.
  int64_t target_texts = 0;
  int64_t target_correct = 0;
  // Over every sentence, when the scorer has a label for each of the set's labels (a judge with
  // "neutral"): the top label among all the scorer's labels equals the label. Else nullopt.
  std::optional<int64_t> all_texts;
  std::optional<int64_t> all_correct;
  // confusion[i][j]: sentences labelled rows[i] whose top label is columns[j] (among all the
  // scorer's labels when all_texts is set, else among the five targets; the rows then leave out
  // the other labels).
  std::vector<std::string> rows;
  std::vector<std::string> columns;
  std::vector<std::vector<int64_t>> confusion;

  double target_accuracy() const;
  std::optional<double> all_accuracy() const;
};

// Scores every sentence of `set` with `scorer` and counts. Throws Error when the scorer lacks
// one of the five target emotions.
ScorerAccuracy scorer_accuracy(EmotionScorer& scorer, const LabelledSet& set);

// The result as text: the accuracies, then the confusion matrix (rows: the true label).
std::string accuracy_text(const ScorerAccuracy& a);

}  // namespace emovec::eval
