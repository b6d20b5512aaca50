// nade (natural affect detection, the `nade` Python package 0.3.1): Plutchik emotion intensities
// of a text in two stages. A fastText classifier predicts the probabilities of 151 emojis; eight
// LightGBM regressors map those 151 probabilities to anger, anticipation, disgust, fear, joy,
// sadness, surprise and trust, each clipped to [0, 1]. nade reports them rounded to 3 decimals.
//
// The data is the shipped entry "nade-socialmedia-en" (emovec models): a folder with
// nade_250k_hp.ftz, emoji_frequencies.jsonl and reg_<emotion>.txt.
#pragma once

#include <array>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "emovec/emotion_scorer.h"

namespace emovec {

inline constexpr size_t kNadeEmotionCount = 8;

struct NadeScores {
  std::array<double, kNadeEmotionCount> value{};    // clipped to [0, 1], not rounded
  std::array<double, kNadeEmotionCount> rounded{};  // what nade reports: 3 decimals, half to even
};

class NadeScorer : public EmotionScorer {
 public:
  // Loads the fastText classifier and the eight regressors from `data_dir`. Throws Error naming
  // the file for a missing or malformed one, or when the classifier's labels, the emoji list and
  // the regressors' inputs disagree.
  explicit NadeScorer(const std::string& data_dir);
  ~NadeScorer() override;
  NadeScorer(const NadeScorer&) = delete;
  NadeScorer& operator=(const NadeScorer&) = delete;

  std::string name() const override { return "nade"; }
  // anger, anticipation, disgust, fear, joy, sadness, surprise, trust (nade's order).
  const std::vector<std::string>& labels() const override;
  bool distribution() const override { return false; }
  // The rounded values, as nade's predict() reports them. Text that is not valid UTF-8 is read
  // with each invalid sequence replaced by U+FFFD.
  std::vector<std::vector<double>> score(std::span<const std::string> texts) override;

  // Both the unrounded and the rounded values of one text.
  NadeScores score_one(std::string_view text) const;

  // The classifier's 151 emoji probabilities for a text (preprocessed first, as nade does), in
  // the order of emojis(): the regressors' input.
  std::vector<double> emoji_probabilities(std::string_view text) const;
  // The emojis in the order of emoji_probabilities(): ascending by the classifier's label id.
  const std::vector<std::string>& emojis() const;

  // nade's text normalisation: a space on both sides of every run of punctuation (Unicode
  // category P) with the ASCII whitespace around it, runs of ASCII whitespace (\t \n \f \r and
  // space) to one space, simple Unicode lower case, then Unicode whitespace trimmed at both ends.
  static std::string preprocess(std::string_view text);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace emovec
