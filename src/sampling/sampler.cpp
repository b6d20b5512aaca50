#include "emovec/sampler.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <functional>
#include <limits>
#include <string>

#include "emovec/error.h"

namespace emovec {

namespace {

constexpr float kMaxTemperature = 100.0f;
// Top-p without top-k narrows the cut by selection down to this many candidates, then sorts them.
constexpr size_t kTopPSortBelow = 64;
// Weights (relative to the best token) below which top-p first looks for its cut.
constexpr double kTopPCutoffs[2] = {1e-3, 1e-6};

std::string format_number(double value) {
  char buf[64];
  std::snprintf(buf, sizeof(buf), "%.9g", value);
  return buf;
}

[[noreturn]] void bad_param(const char* name, double value, const char* expected) {
  throw Error("sampling parameter " + std::string(name) + " = " + format_number(value) + ": " +
              expected);
}

float penalise(float logit, float penalty) {
  return logit < 0.0f ? logit * penalty : logit / penalty;
}

// Candidates in the order every step uses: higher logit first, ties by lower id. A strict total
// order, so sorting gives the same sequence on every platform.
bool before(int32_t id_a, float logit_a, int32_t id_b, float logit_b) {
  return logit_a != logit_b ? logit_a > logit_b : id_a < id_b;
}

uint64_t splitmix64(uint64_t& x) {
  uint64_t z = (x += 0x9E3779B97F4A7C15ULL);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
  return z ^ (z >> 31);
}

uint64_t rotl(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }

}  // namespace

void SamplingParams::validate() const {
  if (std::isnan(temperature) || std::isinf(temperature) || temperature > kMaxTemperature) {
    bad_param("temperature", temperature,
              "expected a finite number <= 100 (<= 0 means greedy decoding)");
  }
  if (!(top_p >= 0.0f && top_p <= 1.0f)) {
    bad_param("top_p", top_p, "expected a number in [0, 1] (1 disables top-p)");
  }
  if (!(min_p >= 0.0f && min_p <= 1.0f)) {
    bad_param("min_p", min_p, "expected a number in [0, 1] (0 disables min-p)");
  }
  if (!(repeat_penalty > 0.0f) || std::isinf(repeat_penalty)) {
    bad_param("repeat_penalty", repeat_penalty,
              "expected a finite number > 0 (1 disables the penalty, > 1 discourages repeats)");
  }
  if (repeat_last_n < -1) {
    bad_param("repeat_last_n", repeat_last_n,
              "expected -1 (all recent tokens), 0 (none) or a positive count");
  }
}

Sampler::Sampler(const SamplingParams& params) : params_(params) {
  params_.validate();
  reseed(params_.seed);
}

void Sampler::reseed(uint64_t seed) {
  params_.seed = seed;
  uint64_t x = seed;
  for (uint64_t& word : state_) word = splitmix64(x);
}

// xoshiro256** (Blackman and Vigna), then the top 53 bits as a double in [0, 1).
double Sampler::next_uniform() {
  const uint64_t result = rotl(state_[1] * 5, 7) * 9;
  const uint64_t t = state_[1] << 17;
  state_[2] ^= state_[0];
  state_[3] ^= state_[1];
  state_[1] ^= state_[2];
  state_[0] ^= state_[3];
  state_[2] ^= t;
  state_[3] = rotl(state_[3], 45);
  return static_cast<double>(result >> 11) * 0x1.0p-53;
}

void Sampler::check_inputs(std::span<const float> logits, std::span<const int32_t> recent_tokens) {
  const size_t vocab = logits.size();
  if (vocab == 0) throw Error("sampler: the logits are empty (a vocabulary of 0 tokens)");
  if (vocab > static_cast<size_t>(std::numeric_limits<int32_t>::max())) {
    throw Error("sampler: " + std::to_string(vocab) + " logits is more than token ids can index");
  }
  for (size_t i = 0; i < vocab; ++i) {
    const float v = logits[i];
    if (std::isnan(v) || v == std::numeric_limits<float>::infinity()) {
      throw Error("sampler: logit of token " + std::to_string(i) + " is " +
                  (std::isnan(v) ? "NaN" : "+inf") + " (vocabulary of " + std::to_string(vocab) +
                  "); the forward pass produced an invalid value");
    }
  }

  penalised_.clear();
  if (params_.repeat_penalty == 1.0f || params_.repeat_last_n == 0) return;
  size_t window = recent_tokens.size();
  if (params_.repeat_last_n > 0) {
    window = std::min(window, static_cast<size_t>(params_.repeat_last_n));
  }
  for (const int32_t id : recent_tokens.subspan(recent_tokens.size() - window)) {
    if (id < 0 || static_cast<size_t>(id) >= vocab) {
      throw Error("sampler: recent token " + std::to_string(id) +
                  " is outside the vocabulary [0, " + std::to_string(vocab) + ")");
    }
    penalised_.push_back(id);
  }
  std::sort(penalised_.begin(), penalised_.end());
  penalised_.erase(std::unique(penalised_.begin(), penalised_.end()), penalised_.end());
}

int32_t Sampler::argmax(std::span<const float> logits) const {
  const float penalty = params_.repeat_penalty;
  size_t best = 0;
  float best_logit = -std::numeric_limits<float>::infinity();
  bool found = false;
  auto scan = [&](size_t begin, size_t end) {
    for (size_t i = begin; i < end; ++i) {
      if (!found || logits[i] > best_logit) {
        best = i;
        best_logit = logits[i];
        found = true;
      }
    }
  };
  // Walk the penalised ids (sorted) alongside the logits, so no penalised copy is made.
  size_t next = 0;
  for (const int32_t id : penalised_) {
    scan(next, static_cast<size_t>(id));
    const float v = penalise(logits[id], penalty);
    if (!found || v > best_logit) {
      best = static_cast<size_t>(id);
      best_logit = v;
      found = true;
    }
    next = static_cast<size_t>(id) + 1;
  }
  scan(next, logits.size());
  if (best_logit == -std::numeric_limits<float>::infinity()) {
    throw Error("sampler: every logit is -inf, so no token can be chosen");
  }
  return static_cast<int32_t>(best);
}

void Sampler::filter(std::span<const float> logits) {
  const float penalty = params_.repeat_penalty;
  const float temperature = params_.temperature;
  constexpr float kNegInf = -std::numeric_limits<float>::infinity();

  // 1. Repetition penalty, into scaled_.
  const size_t vocab = logits.size();
  scaled_.resize(vocab);
  std::copy(logits.begin(), logits.end(), scaled_.begin());
  for (const int32_t id : penalised_) scaled_[id] = penalise(scaled_[id], penalty);
  float max_logit = kNegInf;
  for (const float v : scaled_) max_logit = std::max(max_logit, v);
  if (max_logit == kNegInf) throw Error("sampler: every logit is -inf, so no token can be chosen");

  // 2. Temperature, as transformers divides; with a tiny temperature the largest logits would
  // overflow, and dividing their distance from the maximum instead gives the same softmax.
  if (std::isinf(max_logit / temperature)) {
    for (float& v : scaled_) v = (v - max_logit) / temperature;
  } else {
    for (float& v : scaled_) v /= temperature;
  }

  // 3. Top-k: the k best and everything tied with the k-th. A min-heap of the k largest values
  // finds the k-th in one pass without moving the vocabulary around.
  float kth_logit = kNegInf;
  const int32_t top_k = params_.top_k;
  if (top_k > 0 && static_cast<size_t>(top_k) < vocab) {
    const size_t k = static_cast<size_t>(top_k);
    heap_.clear();
    for (const float v : scaled_) {
      if (v == kNegInf) continue;
      if (heap_.size() < k) {
        heap_.push_back(v);
        std::push_heap(heap_.begin(), heap_.end(), std::greater<>());
      } else if (v > heap_.front()) {
        std::pop_heap(heap_.begin(), heap_.end(), std::greater<>());
        heap_.back() = v;
        std::push_heap(heap_.begin(), heap_.end(), std::greater<>());
      }
    }
    if (heap_.size() == k) kth_logit = heap_.front();
  }

  // Tokens at -inf can never be drawn, so they are left out from here on.
  candidates_.clear();
  for (size_t i = 0; i < vocab; ++i) {
    const float v = scaled_[i];
    if (v != kNegInf && v >= kth_logit) candidates_.push_back({static_cast<int32_t>(i), v, 0.0});
  }
  auto order = [](const Candidate& a, const Candidate& b) {
    return before(a.id, a.logit, b.id, b.logit);
  };
  // After top-k the candidates are few: sorted, top-p needs no selection.
  const bool sorted = kth_logit != kNegInf;
  if (sorted) std::sort(candidates_.begin(), candidates_.end(), order);

  // Unnormalised probabilities relative to the best candidate (which every filter keeps), summed
  // in double; top-p, min-p and the draw all use these.
  float best = kNegInf;
  for (const Candidate& c : candidates_) best = std::max(best, c.logit);
  double total = 0.0;
  for (Candidate& c : candidates_) {
    c.weight = static_cast<double>(std::exp(c.logit - best));  // float exp: 150k of them
    total += c.weight;
  }

  // 4. Top-p: keep tokens, best first, while the mass before them is below top_p.
  const float top_p = params_.top_p;
  if (top_p < 1.0f && candidates_.size() > 1) {
    const double target = static_cast<double>(top_p) * total;
    if (sorted) {
      candidates_.resize(top_p_count_sorted(target));
    } else {
      // Unsorted, the candidates stay in id order: sorting thousands of survivors of a flat
      // distribution for every token would cost more than the rest of sampling.
      const Candidate last = top_p_last_kept(target);
      std::erase_if(candidates_, [&](const Candidate& c) { return order(last, c); });
    }
  }

  // 5. Min-p: p < min_p * p_max, i.e. exp(logit - max_logit) < min_p; the best always stays.
  const float min_p = params_.min_p;
  if (min_p > 0.0f && candidates_.size() > 1) {
    const double threshold = static_cast<double>(min_p);
    std::erase_if(candidates_, [threshold](const Candidate& c) { return c.weight < threshold; });
  }
}

size_t Sampler::top_p_count_sorted(double target) const {
  double mass = 0.0;
  size_t keep = 0;
  while (keep < candidates_.size() && (keep == 0 || mass < target)) {
    mass += candidates_[keep].weight;
    ++keep;
  }
  return keep;
}

// The last candidate top-p keeps, found without sorting everything: quickselect on the mass,
// over a copy. [0, lo) always holds the lo best candidates (in some order) with mass before_lo <
// target, and the answer is in (lo, hi]. Expected O(n).
Sampler::Candidate Sampler::top_p_last_kept(double target) {
  auto order = [](const Candidate& a, const Candidate& b) {
    return before(a.id, a.logit, b.id, b.logit);
  };
  // The nucleus is a prefix of the order, so when the tokens with weight >= cutoff already reach
  // the target it lies among them, and only those (usually a few hundred) need selecting.
  double mass_above[2] = {0.0, 0.0};
  for (const Candidate& c : candidates_) {
    if (c.weight >= kTopPCutoffs[1]) {
      mass_above[1] += c.weight;
      if (c.weight >= kTopPCutoffs[0]) mass_above[0] += c.weight;
    }
  }
  const double cutoff = mass_above[0] >= target   ? kTopPCutoffs[0]
                        : mass_above[1] >= target ? kTopPCutoffs[1]
                                                  : 0.0;
  selection_.clear();
  for (const Candidate& c : candidates_) {
    if (c.weight >= cutoff) selection_.push_back(c);
  }
  const auto first = selection_.begin();
  size_t lo = 0;
  size_t hi = selection_.size();
  double before_lo = 0.0;
  while (hi - lo > kTopPSortBelow) {
    const size_t mid = lo + (hi - lo) / 2;
    std::nth_element(first + lo, first + mid, first + hi, order);
    double mass = before_lo;
    for (size_t i = lo; i < mid; ++i) mass += selection_[i].weight;
    if (mass >= target) {
      hi = mid;
    } else {
      lo = mid;
      before_lo = mass;
    }
  }
  std::sort(first + lo, first + hi, order);
  double mass = before_lo;
  size_t keep = lo;
  while (keep < hi && (keep == 0 || mass < target)) {
    mass += selection_[keep].weight;
    ++keep;
  }
  return selection_[keep - 1];
}

int32_t Sampler::sample(std::span<const float> logits, std::span<const int32_t> recent_tokens) {
  check_inputs(logits, recent_tokens);
  if (params_.greedy()) return argmax(logits);
  filter(logits);
  double total = 0.0;
  for (const Candidate& c : candidates_) total += c.weight;
  // One number per draw, even with a single candidate, so the stream stays in step.
  const double target = next_uniform() * total;
  double mass = 0.0;
  for (const Candidate& c : candidates_) {
    mass += c.weight;
    if (target < mass) return c.id;
  }
  return candidates_.back().id;  // rounding left target at the very end
}

std::vector<TokenProbability> Sampler::distribution(std::span<const float> logits,
                                                    std::span<const int32_t> recent_tokens) {
  check_inputs(logits, recent_tokens);
  if (params_.greedy()) return {{argmax(logits), 1.0}};
  filter(logits);
  double total = 0.0;
  for (const Candidate& c : candidates_) total += c.weight;
  std::vector<TokenProbability> out(candidates_.size());
  for (size_t i = 0; i < candidates_.size(); ++i) {
    out[i] = {candidates_[i].id, candidates_[i].weight / total};
  }
  std::sort(out.begin(), out.end(), [](const TokenProbability& a, const TokenProbability& b) {
    return a.probability != b.probability ? a.probability > b.probability : a.id < b.id;
  });
  return out;
}

}  // namespace emovec
