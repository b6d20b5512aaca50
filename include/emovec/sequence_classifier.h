// Text-pair classification with a RoBERTa-family model fine-tuned for it (an MNLI model such as
// roberta-large-mnli): the logits transformers' RobertaForSequenceClassification gives for the
// encoding tokenizer(first, second, truncation="only_first") of a pair.
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace emovec {

class ModelFile;
class Tokenizer;

struct SequenceClassifierOptions {
  // As SentenceEncoderOptions::n_threads: 0 keeps OpenBLAS's own setting; a positive value also
  // sets OpenBLAS's process-wide thread count.
  int n_threads = 0;
  // Tokens per pair, special tokens included; a longer pair loses tokens from the end of its
  // first text. 0: tokenizer_config.json model_max_length, capped by the positions the model
  // has (a missing model_max_length means that cap).
  int64_t max_length = 0;
};

// Two texts classified together, e.g. an NLI premise (first) and hypothesis (second).
struct TextPair {
  std::string_view first;
  std::string_view second;
};

class SequenceClassifier {
 public:
  // From a Hugging Face folder of a RobertaForSequenceClassification (config.json model_type
  // "roberta" with id2label, *.safetensors, tokenizer.json whose post-processor wraps a text in
  // <s> ... </s>). Throws Error for another kind of model (a BERT sentence encoder, a GGUF
  // decoder), a config.json without id2label, a missing or misshapen tensor, or a tokenizer
  // that does not fit the model.
  explicit SequenceClassifier(const ModelFile& model, SequenceClassifierOptions options = {});
  ~SequenceClassifier();
  SequenceClassifier(const SequenceClassifier&) = delete;
  SequenceClassifier& operator=(const SequenceClassifier&) = delete;
  SequenceClassifier(SequenceClassifier&&) noexcept;
  SequenceClassifier& operator=(SequenceClassifier&&) noexcept;

  // The token ids the model runs on: <s> first </s></s> second </s> (RobertaProcessing), special
  // tokens in either text parsed as transformers' tokenizer parses them. When the pair is longer
  // than max_length(), the first text is cut from its end; when that cannot make it fit (the
  // second text is too long), it is left whole, as transformers' zero-shot pipeline does. Throws
  // Error when the result is longer than the model's positions.
  std::vector<int32_t> token_ids(std::string_view first, std::string_view second) const;

  // One row of labels().size() logits per pair, in order; an empty list gives an empty result.
  // Pairs are run in batches without padding, so a pair's logits do not depend on its
  // neighbours. Calls from several threads on one classifier are safe; they take turns.
  std::vector<std::vector<float>> logits(std::span<const TextPair> pairs) const;
  // logits() of one pair.
  std::vector<float> logits(std::string_view first, std::string_view second) const;

  // The classes, by id, as config.json id2label names them ("CONTRADICTION", "NEUTRAL", ...).
  const std::vector<std::string>& labels() const;
  int64_t max_length() const;
  const Tokenizer& tokenizer() const;

  struct Impl;

 private:
  std::unique_ptr<Impl> impl_;
};

}  // namespace emovec
