// SentenceEncoder: tokenize -> truncate -> BERT -> masked mean pooling -> L2 normalisation, the
// pipeline sentence-transformers runs for all-MiniLM-L6-v2.
#include <algorithm>
#include <cmath>
#include <string>

#include "emovec/encoder.h"
#include "emovec/error.h"
#include "emovec/model_file.h"
#include "emovec/tokenizer.h"
#include "encoder/bert_model.h"
#include "encoder/encoder_runner.h"
#include "encoder/special_tokens.h"

namespace emovec {
namespace {

// Mean over a text's token states (all of them: a packed batch has no padding), then
// x / max(|x|, 1e-12) as torch.nn.functional.normalize.
std::vector<float> mean_pool(const float* rows, size_t n_tokens, int64_t d_model, bool normalize) {
  std::vector<double> sum(static_cast<size_t>(d_model), 0.0);
  for (size_t t = 0; t < n_tokens; ++t, rows += d_model) {
    for (int64_t i = 0; i < d_model; ++i) sum[i] += rows[i];
  }
  const double count = std::max<double>(static_cast<double>(n_tokens), 1e-9);
  double norm2 = 0;
  for (int64_t i = 0; i < d_model; ++i) {
    sum[i] /= count;
    norm2 += sum[i] * sum[i];
  }
  const double scale = normalize ? 1.0 / std::max(std::sqrt(norm2), 1e-12) : 1.0;
  std::vector<float> embedding(static_cast<size_t>(d_model));
  for (int64_t i = 0; i < d_model; ++i) embedding[i] = static_cast<float>(sum[i] * scale);
  return embedding;
}

}  // namespace

struct SentenceEncoder::Impl {
  encoder::BertWeights weights;
  std::unique_ptr<Tokenizer> tokenizer;
  SentencePipeline pipeline;
  encoder::SpecialTokens specials;
  // encode() is const but runs on the runner's one pool; calls take turns there.
  std::unique_ptr<encoder::EncoderRunner> runner;
};

SentenceEncoder::SentenceEncoder(const ModelFile& model, SentenceEncoderOptions options)
    : impl_(std::make_unique<Impl>()) {
  Impl& m = *impl_;
  m.weights = encoder::load_bert_weights(model);
  m.tokenizer = load_tokenizer(model);
  m.pipeline = read_sentence_pipeline(model.folder(), m.weights.hp.n_ctx);
  if (options.max_seq_length != 0) {
    if (options.max_seq_length < 0 || options.max_seq_length > m.weights.hp.n_ctx) {
      throw Error(model.path() + ": max_seq_length " + std::to_string(options.max_seq_length) +
                  " is outside [1, " + std::to_string(m.weights.hp.n_ctx) +
                  "] (the model's max_position_embeddings)");
    }
    m.pipeline.max_seq_length = options.max_seq_length;
  }
  m.specials = encoder::special_tokens_around_text(*m.tokenizer);
  if (m.pipeline.max_seq_length <=
      static_cast<int64_t>(m.specials.prefix.size() + m.specials.suffix.size())) {
    throw Error(model.path() + ": max_seq_length " + std::to_string(m.pipeline.max_seq_length) +
                " leaves no room for text beside the special tokens");
  }
  if (m.tokenizer->vocab_size() > m.weights.hp.n_vocab) {
    throw Error(model.path() + ": the tokenizer has " + std::to_string(m.tokenizer->vocab_size()) +
                " tokens but config.json vocab_size is " + std::to_string(m.weights.hp.n_vocab));
  }
  m.runner = std::make_unique<encoder::EncoderRunner>(options.n_threads, "sentence encoder");
}

SentenceEncoder::~SentenceEncoder() = default;
SentenceEncoder::SentenceEncoder(SentenceEncoder&&) noexcept = default;
SentenceEncoder& SentenceEncoder::operator=(SentenceEncoder&&) noexcept = default;

std::vector<int32_t> SentenceEncoder::token_ids(std::string_view text) const {
  const Impl& m = *impl_;
  std::vector<int32_t> ids = m.tokenizer->encode(text, true);
  const auto limit = static_cast<size_t>(m.pipeline.max_seq_length);
  if (ids.size() > limit) {
    // Cut the text, keep the special tokens after it (as tokenizers' truncation does).
    const auto suffix = static_cast<std::ptrdiff_t>(m.specials.suffix.size());
    ids.erase(ids.begin() + static_cast<std::ptrdiff_t>(limit) - suffix, ids.end() - suffix);
  }
  for (int32_t id : ids) {
    if (id < 0 || id >= m.weights.hp.n_vocab) {
      throw Error("sentence encoder: token id " + std::to_string(id) +
                  " is outside the model's vocabulary of " + std::to_string(m.weights.hp.n_vocab));
    }
  }
  return ids;
}

std::vector<std::vector<float>> SentenceEncoder::encode(
    const std::vector<std::string>& texts) const {
  std::vector<std::vector<int32_t>> sequences;
  sequences.reserve(texts.size());
  for (const std::string& text : texts) sequences.push_back(token_ids(text));

  Impl& m = *impl_;
  const int64_t d_model = m.weights.hp.n_embd;
  std::vector<std::vector<float>> out;
  out.reserve(texts.size());
  m.runner->run(m.weights, sequences,
                [&](std::span<const std::vector<int32_t>> batch, const std::vector<float>& hidden) {
                  const float* rows = hidden.data();
                  for (const std::vector<int32_t>& seq : batch) {
                    out.push_back(mean_pool(rows, seq.size(), d_model, m.pipeline.normalize));
                    rows += static_cast<int64_t>(seq.size()) * d_model;
                  }
                });
  return out;
}

std::vector<float> SentenceEncoder::encode_one(std::string_view text) const {
  return std::move(encode(std::vector<std::string>{std::string(text)}).front());
}

int64_t SentenceEncoder::dimension() const { return impl_->weights.hp.n_embd; }
const SentencePipeline& SentenceEncoder::pipeline() const { return impl_->pipeline; }
const Tokenizer& SentenceEncoder::tokenizer() const { return *impl_->tokenizer; }

}  // namespace emovec
