// SentenceEncoder: tokenize -> truncate -> BERT -> masked mean pooling -> L2 normalisation, the
// pipeline sentence-transformers runs for all-MiniLM-L6-v2.
#include <cblas.h>

#include <algorithm>
#include <cmath>
#include <mutex>
#include <string>

#include "emovec/encoder.h"
#include "emovec/error.h"
#include "emovec/model_file.h"
#include "emovec/tokenizer.h"
#include "encoder/bert_model.h"
#include "runtime/thread_pool.h"

namespace emovec {
namespace {

// Texts go through the encoder in groups of at most this many tokens (one long text may exceed
// it alone), which bounds the activations to a few tens of MB.
constexpr int64_t kTokensPerBatch = 4096;

int thread_count(const SentenceEncoderOptions& options) {
  if (options.n_threads < 0) {
    throw Error("sentence encoder: thread count " + std::to_string(options.n_threads) +
                " is negative (0 means OpenBLAS's default)");
  }
  if (options.n_threads > 0) return options.n_threads;
  return std::max(1, openblas_get_num_threads());
}

// How many special tokens the tokenizer puts before and after a text ([CLS] and [SEP] for BERT),
// found by encoding a one-word text with and without them.
struct SpecialLayout {
  size_t prefix = 0;
  size_t suffix = 0;
};

SpecialLayout special_layout(const Tokenizer& tokenizer) {
  const std::vector<int32_t> plain = tokenizer.encode("a", false);
  const std::vector<int32_t> full = tokenizer.encode("a", true);
  const auto at = std::search(full.begin(), full.end(), plain.begin(), plain.end());
  if (plain.empty() || at == full.end()) return {};
  const auto prefix = static_cast<size_t>(at - full.begin());
  return {prefix, full.size() - prefix - plain.size()};
}

}  // namespace

struct SentenceEncoder::Impl {
  encoder::BertWeights weights;
  std::unique_ptr<Tokenizer> tokenizer;
  SentencePipeline pipeline;
  SpecialLayout specials;
  int n_threads = 1;
  bool set_blas_threads = false;
  // encode() is const but runs on one pool; the lock makes concurrent calls take turns.
  std::mutex mutex;
  std::unique_ptr<ThreadPool> pool;
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
  m.specials = special_layout(*m.tokenizer);
  if (m.pipeline.max_seq_length <= static_cast<int64_t>(m.specials.prefix + m.specials.suffix)) {
    throw Error(model.path() + ": max_seq_length " + std::to_string(m.pipeline.max_seq_length) +
                " leaves no room for text beside the special tokens");
  }
  if (m.tokenizer->vocab_size() > m.weights.hp.n_vocab) {
    throw Error(model.path() + ": the tokenizer has " + std::to_string(m.tokenizer->vocab_size()) +
                " tokens but config.json vocab_size is " + std::to_string(m.weights.hp.n_vocab));
  }
  m.n_threads = thread_count(options);
  m.set_blas_threads = options.n_threads > 0;
  m.pool = std::make_unique<ThreadPool>(m.n_threads);
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
    ids.erase(ids.begin() + static_cast<std::ptrdiff_t>(limit - m.specials.suffix),
              ids.end() - static_cast<std::ptrdiff_t>(m.specials.suffix));
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
  const std::lock_guard<std::mutex> lock(m.mutex);
  if (m.set_blas_threads) openblas_set_num_threads(m.n_threads);
  const int64_t d_model = m.weights.hp.n_embd;
  std::vector<std::vector<float>> out;
  out.reserve(texts.size());
  for (size_t begin = 0; begin < sequences.size();) {
    size_t end = begin;
    int64_t tokens = 0;
    while (
        end < sequences.size() &&
        (end == begin || tokens + static_cast<int64_t>(sequences[end].size()) <= kTokensPerBatch)) {
      tokens += static_cast<int64_t>(sequences[end++].size());
    }
    const std::span<const std::vector<int32_t>> batch(sequences.data() + begin, end - begin);
    const std::vector<float> hidden = encoder::bert_forward(m.weights, batch, *m.pool);

    // Mean over the tokens of each text (all of them: a packed batch has no padding), then
    // x / max(|x|, 1e-12) as torch.nn.functional.normalize.
    const float* row = hidden.data();
    for (const std::vector<int32_t>& seq : batch) {
      std::vector<double> sum(static_cast<size_t>(d_model), 0.0);
      for (size_t t = 0; t < seq.size(); ++t, row += d_model) {
        for (int64_t i = 0; i < d_model; ++i) sum[i] += row[i];
      }
      std::vector<float> embedding(static_cast<size_t>(d_model));
      const double count = std::max<double>(static_cast<double>(seq.size()), 1e-9);
      double norm2 = 0;
      for (int64_t i = 0; i < d_model; ++i) {
        sum[i] /= count;
        norm2 += sum[i] * sum[i];
      }
      const double scale = m.pipeline.normalize ? 1.0 / std::max(std::sqrt(norm2), 1e-12) : 1.0;
      for (int64_t i = 0; i < d_model; ++i) embedding[i] = static_cast<float>(sum[i] * scale);
      out.push_back(std::move(embedding));
    }
    begin = end;
  }
  return out;
}

std::vector<float> SentenceEncoder::encode_one(std::string_view text) const {
  return std::move(encode(std::vector<std::string>{std::string(text)}).front());
}

int64_t SentenceEncoder::dimension() const { return impl_->weights.hp.n_embd; }
const SentencePipeline& SentenceEncoder::pipeline() const { return impl_->pipeline; }
const Tokenizer& SentenceEncoder::tokenizer() const { return *impl_->tokenizer; }

}  // namespace emovec
