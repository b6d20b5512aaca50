#include "emovec/perplexity.h"

#include <cmath>
#include <string>

#include "emovec/engine.h"
#include "emovec/error.h"

namespace emovec {

double negative_log_likelihood(std::span<const float> logits, int32_t target) {
  double max_logit = -INFINITY;
  for (float l : logits) max_logit = std::max(max_logit, static_cast<double>(l));
  double sum = 0;
  for (float l : logits) sum += std::exp(static_cast<double>(l) - max_logit);
  return std::log(sum) + max_logit - static_cast<double>(logits[static_cast<size_t>(target)]);
}

PerplexityResult perplexity(Engine& engine, std::span<const int32_t> tokens, int64_t chunk,
                            std::optional<int32_t> bos,
                            const std::function<void(int64_t, double)>& progress) {
  if (chunk < 4) throw Error("perplexity chunk size " + std::to_string(chunk) + " is too small");
  if (chunk > engine.n_ctx()) {
    throw Error("perplexity chunk size " + std::to_string(chunk) + " exceeds the context of " +
                std::to_string(engine.n_ctx()));
  }
  const auto n_tokens = static_cast<int64_t>(tokens.size());
  PerplexityResult r;
  r.n_chunks = n_tokens / chunk;
  if (r.n_chunks == 0) {
    throw Error("the text has " + std::to_string(n_tokens) + " tokens, fewer than one chunk of " +
                std::to_string(chunk) + " (use a smaller --ctx-size or a longer text)");
  }
  const int64_t first = chunk / 2;
  double nll = 0;
  double nll2 = 0;
  std::vector<int32_t> ids(static_cast<size_t>(chunk));
  for (int64_t c = 0; c < r.n_chunks; ++c) {
    std::copy_n(tokens.begin() + c * chunk, chunk, ids.begin());
    if (bos) ids[0] = *bos;
    const SequenceId seq = engine.new_sequence();
    BatchEntry entry;
    entry.sequence = seq;
    entry.tokens = ids;
    entry.all_logits = true;
    entry.prompt = true;
    Logits logits;
    try {
      logits = engine.decode(std::span<const BatchEntry>(&entry, 1));
    } catch (...) {
      engine.free_sequence(seq);
      throw;
    }
    engine.free_sequence(seq);
    for (int64_t j = first; j < chunk - 1; ++j) {
      // The target is the file's token (not the BOS substitute).
      const double v =
          negative_log_likelihood(logits.row(0, j), tokens[static_cast<size_t>(c * chunk + j + 1)]);
      nll += v;
      nll2 += v * v;
      ++r.n_scored;
    }
    const double mean = nll / static_cast<double>(r.n_scored);
    r.running.push_back(std::exp(mean));
    if (progress) progress(c, r.running.back());
  }
  r.mean_nll = nll / static_cast<double>(r.n_scored);
  r.perplexity = std::exp(r.mean_nll);
  const double var = nll2 / static_cast<double>(r.n_scored) - r.mean_nll * r.mean_nll;
  if (r.n_scored > 1 && var > 0) {
    r.uncertainty = r.perplexity * std::sqrt(var / static_cast<double>(r.n_scored - 1));
  }
  return r;
}

}  // namespace emovec
