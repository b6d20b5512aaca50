// An instruct model as a zero-shot emotion judge, run by emovec's own engine. The model is asked
// which emotion a text expresses (the paper's MNLI labels, put as a question in a user turn, the
// assistant turn opened by the chat template), and the answer is read from the next-token logits
// rather than sampled: each label's probability is the share of the label tokens' probability
// mass that falls on that label's tokens. Reading logits makes the judge deterministic and gives
// a full distribution even when the model would have answered with a word outside the labels;
// how much of the model's mass the labels hold at all (coverage) says whether it understood the
// question.
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "emovec/emotion_scorer.h"
#include "emovec/engine.h"

namespace emovec {

class DecoderModel;

struct JudgeOptions {
  // The paper's five emotions and "neutral".
  std::vector<std::string> labels = {"anger", "disgust", "fear", "joy", "sadness", "neutral"};
  // The user turn. {text} (required) becomes the text, {labels} the labels joined by ", ";
  // every other character, braces included, is kept as written.
  std::string prompt =
      "Which emotion does this text express? Text: \"{text}\" Answer with one word from: "
      "{labels}.";
  // Written after the opened assistant turn, as if the model had begun its answer with it; empty:
  // the label is the answer's first word. With this prefix every default label is read from a
  // whole-word token (" anger", " fear") rather than from the first piece of a split word ("f"
  // of "f|ear"), and the shipped models judge better (notes in judge_scorer.cpp).
  std::string answer_prefix = "The emotion is";
  // A text longer than this many tokens is cut to its first max_text_tokens (a text's emotion
  // shows early, and the prompt must fit the context).
  int64_t max_text_tokens = 384;
  // Texts evaluated together in one engine call (each its own sequence).
  size_t batch_size = 8;
  // n_threads, exact, n_ctx (0: the engine's default); a prompt longer than n_ctx is an error.
  EngineOptions engine{};
};

// One text's judgement.
struct Judgement {
  std::vector<double> probabilities;  // per label, in labels() order; sums to 1
  // The next-token probability (over the whole vocabulary) of all the label tokens together.
  double coverage = 0;
};

class JudgeScorer : public EmotionScorer {
 public:
  // The model must outlive the scorer. The chat template is used when the model has one (a base
  // model reads the user text, a newline and the answer prefix). Throws Error for a model
  // without a tokenizer, no labels, an empty or repeated label, a prompt without {text},
  // max_text_tokens below 1, batch_size 0, or two labels whose answer tokens coincide (the
  // message names both labels and the token).
  explicit JudgeScorer(const DecoderModel& model, JudgeOptions options = {});
  ~JudgeScorer() override;
  JudgeScorer(const JudgeScorer&) = delete;
  JudgeScorer& operator=(const JudgeScorer&) = delete;

  std::string name() const override { return "judge"; }
  const std::vector<std::string>& labels() const override;
  bool distribution() const override { return true; }
  // Each row is judge()'s probabilities.
  std::vector<std::vector<double>> score(std::span<const std::string> texts) override;

  std::vector<Judgement> judge(std::span<const std::string> texts);

  // The token ids the model reads for `text` (after cutting it to max_text_tokens).
  std::vector<int32_t> prompt_tokens(std::string_view text) const;
  // Per label, the distinct first tokens of the forms the answer may take (see
  // judge_scorer.cpp), the label as given first.
  const std::vector<std::vector<int32_t>>& label_tokens() const;
  const JudgeOptions& options() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// The user turn: `prompt` with {text} and {labels} filled in, in one pass (a text that itself
// contains "{labels}" stays as written). Throws Error for a prompt without {text}.
std::string format_judge_prompt(std::string_view prompt, std::string_view text,
                                const std::vector<std::string>& labels);

}  // namespace emovec
