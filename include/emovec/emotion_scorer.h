// Emotion scorers: anything that reads a text and says how much of each emotion it expresses.
// Evaluation runs several of them side by side (an instruct model as a zero-shot judge, the nade
// lexical model, an MNLI classifier), so they share this small interface.
#pragma once

#include <span>
#include <string>
#include <vector>

namespace emovec {

// The paper's five target emotions, in the order reports use.
inline constexpr const char* kTargetEmotions[] = {"anger", "disgust", "fear", "joy", "sadness"};

class EmotionScorer {
 public:
  virtual ~EmotionScorer() = default;

  // Short identifier used in reports and on the command line ("judge", "nade", "mnli").
  virtual std::string name() const = 0;

  // The labels this scorer gives a value for, in the order of score()'s rows. Lower-case English
  // emotion names ("anger", "joy", ..., and "neutral" where the scorer has that class).
  virtual const std::vector<std::string>& labels() const = 0;

  // True when a row is a probability distribution over labels() (non-negative, sums to 1); false
  // when each value is an independent intensity in [0, 1] (nade's Plutchik regressors).
  virtual bool distribution() const = 0;

  // One row of labels().size() values per text, in order. An empty list gives an empty result.
  // Throws Error for what the scorer cannot read.
  virtual std::vector<std::vector<double>> score(std::span<const std::string> texts) = 0;
};

}  // namespace emovec
