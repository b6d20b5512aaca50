// Choosing the next token from a model's logits: greedy, or a seeded draw after llama.cpp's usual
// filters, applied in transformers' order so that the filtered distribution equals what
// transformers' logits processors give (tests/golden/sampler.json checks it).
//
// The order, each step seeing the previous one's output:
//   1. repetition penalty  every distinct token among the last `repeat_last_n` recent tokens gets
//                          logit < 0 ? logit * repeat_penalty : logit / repeat_penalty
//                          (transformers' RepetitionPenaltyLogitsProcessor);
//   2. temperature         logits / temperature; temperature <= 0 means greedy: the argmax of the
//                          penalised logits, ties going to the lowest id, and no steps below;
//   3. top-k               keep the top_k highest logits and every logit equal to the k-th;
//   4. top-p               keep the smallest set of most probable tokens whose probability sums
//                          to at least top_p (the most probable token always stays; ties at the
//                          cut go to the lower id);
//   5. min-p               drop tokens whose probability is below min_p times the top token's;
//   6. softmax over what is left, and a draw from the sampler's own PRNG.
// Each of 3-5 keeps at least one token, as transformers' warpers do with min_tokens_to_keep=1.
//
// Reproducibility: the PRNG is xoshiro256** seeded by splitmix64, and the uniform number is made
// from its raw bits, so the same seed gives the same tokens for the same logits everywhere
// (up to the last bit of the platform's exp(), which moves a draw only when it falls within
// ~1e-16 of a boundary between two tokens).
#pragma once

#include <cstdint>
#include <span>
#include <vector>

namespace emovec {

struct SamplingParams {
  // Divides the logits; <= 0 means greedy (argmax). At most 100.
  float temperature = 0.8f;
  // Keep only the top_k most likely tokens (and ties with the k-th); <= 0 disables.
  int32_t top_k = 40;
  // Nucleus sampling, in [0, 1]; 1 disables, 0 keeps only the most likely token.
  float top_p = 0.95f;
  // Drop tokens less likely than min_p times the most likely one, in [0, 1]; 0 disables.
  float min_p = 0.05f;
  // > 0; 1 disables, > 1 discourages repeating recent tokens, < 1 encourages it.
  float repeat_penalty = 1.0f;
  // How many of the most recent tokens the penalty looks at: 0 none, -1 all that are passed.
  int32_t repeat_last_n = 64;
  // Fixed by default so that runs are reproducible; a caller wanting variety passes its own.
  uint64_t seed = 42;

  // Throws Error naming the field and its value when a parameter is NaN, infinite or out of its
  // range (see each field).
  void validate() const;
  bool greedy() const { return temperature <= 0.0f; }
};

// A token that survived the filters with its probability (they sum to 1).
struct TokenProbability {
  int32_t id = 0;
  double probability = 0.0;
};

class Sampler {
 public:
  // Validates the parameters (throws Error).
  explicit Sampler(const SamplingParams& params);

  // The next token. `logits` has one entry per vocabulary id; `recent_tokens` are the tokens so
  // far, oldest first (prompt included, as in transformers and llama.cpp), used only by the
  // repetition penalty. Throws Error for an empty vocabulary, NaN or +inf logits, all logits
  // -inf, or a recent token outside [0, logits.size()).
  int32_t sample(std::span<const float> logits, std::span<const int32_t> recent_tokens);

  // The distribution sample() draws from for these inputs (after every filter, before the draw),
  // most probable first (ties by lower id). Greedy gives its one token with probability 1. Same
  // errors as sample(); does not advance the PRNG.
  std::vector<TokenProbability> distribution(std::span<const float> logits,
                                             std::span<const int32_t> recent_tokens);

  // Restarts the PRNG as if constructed with this seed.
  void reseed(uint64_t seed);

  const SamplingParams& params() const { return params_; }

 private:
  struct Candidate {
    int32_t id;
    float logit;
    double weight;  // exp(logit - best logit), once the logits are final
  };

  void check_inputs(std::span<const float> logits, std::span<const int32_t> recent_tokens);
  int32_t argmax(std::span<const float> logits) const;
  // Leaves in candidates_ the tokens that survive every filter, with their weights.
  void filter(std::span<const float> logits);
  // How many of the sorted candidates top-p keeps; for unsorted ones, the last it keeps.
  size_t top_p_count_sorted(double target) const;
  Candidate top_p_last_kept(double target);
  double next_uniform();

  SamplingParams params_;
  uint64_t state_[4] = {};
  // Reused between calls so that sampling does not allocate once warmed up.
  std::vector<int32_t> penalised_;  // distinct ids the repetition penalty applies to, sorted
  std::vector<float> scaled_;       // logits after the penalty and the temperature
  std::vector<float> heap_;         // top-k's k largest values
  std::vector<Candidate> candidates_;
  std::vector<Candidate> selection_;  // top-p's working copy
};

}  // namespace emovec
