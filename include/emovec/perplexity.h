// Perplexity of a text under a model, as llama.cpp's perplexity tool computes it: the tokens
// are cut into chunks of n_ctx; within each chunk the second half is scored, each token given
// all the tokens before it in the chunk.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <span>
#include <vector>

namespace emovec {

class Engine;

struct PerplexityResult {
  double perplexity = 0;
  double uncertainty = 0;  // standard error of the perplexity estimate
  double mean_nll = 0;     // natural log
  int64_t n_scored = 0;
  int64_t n_chunks = 0;
  std::vector<double> running;  // perplexity after each chunk
};

// `bos`: when set, the first token of every chunk is replaced by it (models that add BOS).
// Throws Error when the text is shorter than one chunk.
PerplexityResult perplexity(Engine& engine, std::span<const int32_t> tokens, int64_t chunk,
                            std::optional<int32_t> bos,
                            const std::function<void(int64_t chunk, double ppl)>& progress = {});

// -log softmax(logits)[target], computed stably in double.
double negative_log_likelihood(std::span<const float> logits, int32_t target);

}  // namespace emovec
