// The sampler against transformers' logits processors (tests/golden/sampler.json, made by
// tools/golden/make_sampler_golden.py), and its properties: greedy is the argmax, seeds repeat,
// draws follow the distribution, bad parameters and logits are refused.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <limits>
#include <map>
#include <random>
#include <set>
#include <string>
#include <vector>

#include "emovec/error.h"
#include "emovec/sampler.h"
#include "support/test_support.h"

namespace emovec {
namespace {

constexpr float kNegInf = -std::numeric_limits<float>::infinity();

std::vector<float> random_logits(size_t vocab, uint64_t seed, float scale = 3.0f) {
  // The test's own generator only makes inputs; std::normal_distribution's exact values do not
  // matter here.
  std::mt19937_64 gen(seed);
  std::normal_distribution<float> normal(0.0f, scale);
  std::vector<float> out(vocab);
  for (float& v : out) v = normal(gen);
  return out;
}

SamplingParams params_from_json(const nlohmann::json& p) {
  SamplingParams out;
  out.temperature = p.at("temperature").get<float>();
  out.top_k = p.at("top_k").get<int32_t>();
  out.top_p = p.at("top_p").get<float>();
  out.min_p = p.at("min_p").get<float>();
  out.repeat_penalty = p.at("repeat_penalty").get<float>();
  out.repeat_last_n = p.at("repeat_last_n").get<int32_t>();
  return out;
}

TEST(SamplerGolden, MatchesTransformersLogitsProcessors) {
  const nlohmann::json doc = testing::read_json(testing::golden_path("sampler.json"));
  const float scale = doc.at("logit_scale").get<float>();
  ASSERT_GE(doc.at("cases").size(), 40u);
  for (const auto& c : doc.at("cases")) {
    const std::string name = c.at("name").get<std::string>();
    SCOPED_TRACE(name);
    std::vector<float> logits;
    for (const auto& v : c.at("logits"))
      logits.push_back(static_cast<float>(v.get<int64_t>()) / scale);
    for (const auto& i : c.at("neg_inf")) logits.at(i.get<size_t>()) = kNegInf;
    const std::vector<int32_t> recent = c.at("recent").get<std::vector<int32_t>>();
    Sampler sampler(params_from_json(c.at("params")));

    const std::vector<TokenProbability> dist = sampler.distribution(logits, recent);
    if (c.contains("greedy_token")) {
      const int32_t token = c.at("greedy_token").get<int32_t>();
      EXPECT_EQ(sampler.sample(logits, recent), token);
      ASSERT_EQ(dist.size(), 1u);
      EXPECT_EQ(dist[0].id, token);
      EXPECT_EQ(dist[0].probability, 1.0);
      continue;
    }
    std::map<int32_t, double> got;
    double sum = 0.0;
    for (const TokenProbability& t : dist) {
      got[t.id] = t.probability;
      sum += t.probability;
    }
    EXPECT_NEAR(sum, 1.0, 1e-9);
    const auto& expected = c.at("expected");
    EXPECT_EQ(got.size(), expected.size()) << "number of tokens left after filtering";
    for (const auto& e : expected) {
      const int32_t id = e.at(0).get<int32_t>();
      const double p = e.at(1).get<double>();
      const auto it = got.find(id);
      if (it == got.end()) {
        ADD_FAILURE() << "token " << id << " (p=" << p << ") was filtered out";
        continue;
      }
      EXPECT_NEAR(it->second, p, 1e-6) << "token " << id;
    }
    // Each draw is a token the distribution has.
    for (int i = 0; i < 20; ++i) EXPECT_TRUE(got.count(sampler.sample(logits, recent)));
  }
}

TEST(Sampler, DistributionIsSortedMostProbableFirst) {
  SamplingParams p;
  p.top_k = 0;
  p.top_p = 1.0f;
  p.min_p = 0.0f;
  p.temperature = 1.0f;
  Sampler sampler(p);
  const std::vector<float> logits = {1.0f, 3.0f, 2.0f, 3.0f, kNegInf};
  const auto dist = sampler.distribution(logits, {});
  ASSERT_EQ(dist.size(), 4u);
  EXPECT_EQ(dist[0].id, 1);
  EXPECT_EQ(dist[1].id, 3);
  EXPECT_EQ(dist[2].id, 2);
  EXPECT_EQ(dist[3].id, 0);
  EXPECT_DOUBLE_EQ(dist[0].probability, dist[1].probability);
}

TEST(Sampler, GreedyIsArgmaxWithTiesToLowestId) {
  SamplingParams p;
  p.temperature = 0.0f;
  Sampler sampler(p);
  for (uint64_t seed = 1; seed <= 5; ++seed) {
    std::vector<float> logits = random_logits(151936, seed);
    size_t best = 0;
    for (size_t i = 1; i < logits.size(); ++i) {
      if (logits[i] > logits[best]) best = i;
    }
    EXPECT_EQ(sampler.sample(logits, {}), static_cast<int32_t>(best));
    // A later tie does not win; an earlier one does.
    logits[logits.size() - 1] = logits[best];
    EXPECT_EQ(sampler.sample(logits, {}), static_cast<int32_t>(best));
    logits[3] = logits[best];
    EXPECT_EQ(sampler.sample(logits, {}), best < 3 ? static_cast<int32_t>(best) : 3);
  }
  // Negative temperature is greedy too.
  p.temperature = -1.0f;
  Sampler negative(p);
  EXPECT_EQ(negative.sample(std::vector<float>{0.0f, 2.0f, 1.0f}, {}), 1);
}

TEST(Sampler, GreedyAppliesTheRepetitionPenalty) {
  SamplingParams p;
  p.temperature = 0.0f;
  p.repeat_penalty = 2.0f;
  Sampler sampler(p);
  const std::vector<float> logits = {1.0f, 4.0f, 3.0f, -0.5f};
  EXPECT_EQ(sampler.sample(logits, std::vector<int32_t>{1}), 2);           // 4 / 2 = 2 < 3
  EXPECT_EQ(sampler.sample(logits, std::vector<int32_t>{1, 2}), 1);        // 2 > 1.5 > 1
  EXPECT_EQ(sampler.sample(logits, std::vector<int32_t>{1, 2, 1, 2}), 1);  // once per token
  // A negative logit is multiplied: -0.5 * 2 = -1 < -0.6.
  const std::vector<float> negative = {-0.6f, -0.5f};
  EXPECT_EQ(sampler.sample(negative, std::vector<int32_t>{1}), 0);
}

TEST(Sampler, TopK1EqualsGreedy) {
  SamplingParams sampled;
  sampled.temperature = 1.3f;
  sampled.top_k = 1;
  sampled.repeat_penalty = 1.3f;
  SamplingParams greedy = sampled;
  greedy.temperature = 0.0f;
  Sampler a(sampled);
  Sampler b(greedy);
  for (uint64_t seed = 10; seed < 60; ++seed) {
    const std::vector<float> logits = random_logits(5000, seed);
    const std::vector<int32_t> recent = {7, 100, 4999, 7, 0};
    EXPECT_EQ(a.sample(logits, recent), b.sample(logits, recent));
  }
}

TEST(Sampler, SameSeedSameTokensDifferentSeedDifferent) {
  SamplingParams p;
  p.temperature = 1.0f;
  p.top_k = 0;
  p.top_p = 1.0f;
  p.min_p = 0.0f;
  const std::vector<float> logits = random_logits(1000, 3, 0.5f);
  auto run = [&](uint64_t seed) {
    p.seed = seed;
    Sampler sampler(p);
    std::vector<int32_t> out;
    for (int i = 0; i < 200; ++i) out.push_back(sampler.sample(logits, {}));
    return out;
  };
  const std::vector<int32_t> first = run(1234);
  EXPECT_EQ(first, run(1234));
  EXPECT_NE(first, run(1235));
  EXPECT_NE(first, run(0));

  // reseed restarts the stream; distribution() does not advance it.
  p.seed = 1234;
  Sampler sampler(p);
  for (int i = 0; i < 50; ++i) {
    (void)sampler.distribution(logits, {});
    (void)sampler.sample(logits, {});
  }
  sampler.reseed(1234);
  std::vector<int32_t> again;
  for (int i = 0; i < 200; ++i) {
    (void)sampler.distribution(logits, {});
    again.push_back(sampler.sample(logits, {}));
  }
  EXPECT_EQ(first, again);
}

TEST(Sampler, DrawsFollowTheDistribution) {
  struct Setup {
    float temperature;
    int32_t top_k;
    float top_p;
    float min_p;
    size_t vocab;
  };
  const std::vector<Setup> setups = {
      {1.0f, 0, 1.0f, 0.0f, 12},       // plain softmax
      {0.8f, 40, 0.95f, 0.05f, 1000},  // llama.cpp's defaults
      {1.5f, 0, 0.9f, 0.0f, 3000},     // top-p alone over a larger vocabulary
  };
  constexpr int kDraws = 20000;
  for (size_t s = 0; s < setups.size(); ++s) {
    SCOPED_TRACE(s);
    SamplingParams p;
    p.temperature = setups[s].temperature;
    p.top_k = setups[s].top_k;
    p.top_p = setups[s].top_p;
    p.min_p = setups[s].min_p;
    p.seed = 77 + s;
    Sampler sampler(p);
    const std::vector<float> logits = random_logits(setups[s].vocab, 500 + s, 1.0f);
    const auto dist = sampler.distribution(logits, {});
    ASSERT_GE(dist.size(), 3u);
    std::map<int32_t, int> counts;
    for (int i = 0; i < kDraws; ++i) ++counts[sampler.sample(logits, {})];
    // Pearson's chi-square over the tokens, the improbable ones pooled into one bin (expected
    // count >= 5 each).
    double chi2 = 0.0;
    double pooled_expected = 0.0;
    double pooled_observed = 0.0;
    size_t bins = 0;
    size_t seen = 0;
    for (const TokenProbability& t : dist) {
      const double expected = t.probability * kDraws;
      const double observed = counts.count(t.id) ? counts[t.id] : 0;
      seen += counts.count(t.id);
      if (expected < 5.0) {
        pooled_expected += expected;
        pooled_observed += observed;
        continue;
      }
      chi2 += (observed - expected) * (observed - expected) / expected;
      ++bins;
    }
    if (pooled_expected > 0.0) {
      chi2 += (pooled_observed - pooled_expected) * (pooled_observed - pooled_expected) /
              std::max(pooled_expected, 1.0);
      ++bins;
    }
    EXPECT_EQ(seen, counts.size()) << "a draw outside the filtered distribution";
    const double df = static_cast<double>(bins - 1);
    // Mean df, standard deviation sqrt(2 df): 6 deviations is far beyond chance.
    EXPECT_LT(chi2, df + 6.0 * std::sqrt(2.0 * df) + 10.0) << "bins " << bins;
  }
}

TEST(Sampler, LargeVocabularyAllPaths) {
  const std::vector<float> logits = random_logits(151936, 99, 2.0f);
  const std::vector<int32_t> recent = {1, 2, 3, 151935, 2};
  for (const int32_t top_k : {0, 1, 40, 200000}) {
    for (const float top_p : {1.0f, 0.95f, 0.0f}) {
      SamplingParams p;
      p.top_k = top_k;
      p.top_p = top_p;
      p.repeat_penalty = 1.1f;
      Sampler sampler(p);
      const auto dist = sampler.distribution(logits, recent);
      ASSERT_FALSE(dist.empty());
      double sum = 0.0;
      for (const auto& t : dist) sum += t.probability;
      EXPECT_NEAR(sum, 1.0, 1e-9);
      if (top_k == 1 || top_p == 0.0f) {
        EXPECT_EQ(dist.size(), 1u);
      }
      for (int i = 0; i < 5; ++i) {
        const int32_t token = sampler.sample(logits, recent);
        EXPECT_GE(token, 0);
        EXPECT_LT(token, 151936);
      }
    }
  }
}

TEST(Sampler, TinyTemperatureDoesNotOverflow) {
  SamplingParams p;
  p.temperature = 1e-30f;
  p.top_k = 0;
  p.top_p = 1.0f;
  p.min_p = 0.0f;
  Sampler sampler(p);
  const std::vector<float> logits = {10.0f, 30.0f, 20.0f};
  const auto dist = sampler.distribution(logits, {});
  ASSERT_FALSE(dist.empty());
  EXPECT_EQ(dist[0].id, 1);
  EXPECT_DOUBLE_EQ(dist[0].probability, 1.0);
  EXPECT_EQ(sampler.sample(logits, {}), 1);
}

void expect_param_error(SamplingParams p, const std::string& field) {
  try {
    p.validate();
    ADD_FAILURE() << "no error for " << field;
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find(field), std::string::npos) << e.what();
  }
  EXPECT_THROW(Sampler{p}, Error);
}

TEST(Sampler, ValidationNamesTheField) {
  const float nan = std::numeric_limits<float>::quiet_NaN();
  const float inf = std::numeric_limits<float>::infinity();
  SamplingParams ok;
  EXPECT_NO_THROW(ok.validate());
  auto with = [&](auto setter) {
    SamplingParams p = ok;
    setter(p);
    return p;
  };
  expect_param_error(with([&](SamplingParams& p) { p.temperature = nan; }), "temperature");
  expect_param_error(with([&](SamplingParams& p) { p.temperature = inf; }), "temperature");
  expect_param_error(with([&](SamplingParams& p) { p.temperature = 101.0f; }), "temperature");
  expect_param_error(with([&](SamplingParams& p) { p.top_p = 1.5f; }), "top_p");
  expect_param_error(with([&](SamplingParams& p) { p.top_p = -0.1f; }), "top_p");
  expect_param_error(with([&](SamplingParams& p) { p.top_p = nan; }), "top_p");
  expect_param_error(with([&](SamplingParams& p) { p.min_p = 2.0f; }), "min_p");
  expect_param_error(with([&](SamplingParams& p) { p.min_p = nan; }), "min_p");
  expect_param_error(with([&](SamplingParams& p) { p.repeat_penalty = 0.0f; }), "repeat_penalty");
  expect_param_error(with([&](SamplingParams& p) { p.repeat_penalty = -1.0f; }), "repeat_penalty");
  expect_param_error(with([&](SamplingParams& p) { p.repeat_penalty = inf; }), "repeat_penalty");
  expect_param_error(with([&](SamplingParams& p) { p.repeat_last_n = -2; }), "repeat_last_n");
  // The value is in the message too.
  try {
    with([&](SamplingParams& p) { p.top_p = 1.5f; }).validate();
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("1.5"), std::string::npos) << e.what();
  }
  // Edges that are allowed.
  EXPECT_NO_THROW(with([&](SamplingParams& p) {
                    p.temperature = -3.0f;
                    p.top_k = -1;
                    p.top_p = 0.0f;
                    p.min_p = 1.0f;
                    p.repeat_last_n = -1;
                    p.repeat_penalty = 0.5f;
                  }).validate());
}

TEST(Sampler, RefusesBadLogits) {
  for (const float temperature : {0.0f, 0.8f}) {
    SCOPED_TRACE(temperature);
    SamplingParams p;
    p.temperature = temperature;
    p.repeat_penalty = 1.2f;
    Sampler sampler(p);
    const float nan = std::numeric_limits<float>::quiet_NaN();
    EXPECT_THROW(sampler.sample(std::vector<float>{}, {}), Error);
    EXPECT_THROW(sampler.sample(std::vector<float>{1.0f, nan, 2.0f}, {}), Error);
    EXPECT_THROW(sampler.sample(std::vector<float>{1.0f, -kNegInf}, {}), Error);
    EXPECT_THROW(sampler.sample(std::vector<float>{kNegInf, kNegInf}, {}), Error);
    EXPECT_THROW(sampler.distribution(std::vector<float>{1.0f, nan}, {}), Error);
    EXPECT_THROW(sampler.sample(std::vector<float>{1.0f, 2.0f}, std::vector<int32_t>{2}), Error);
    EXPECT_THROW(sampler.sample(std::vector<float>{1.0f, 2.0f}, std::vector<int32_t>{-1}), Error);
    try {
      sampler.sample(std::vector<float>{1.0f, nan, 2.0f}, {});
    } catch (const Error& e) {
      EXPECT_NE(std::string(e.what()).find("token 1"), std::string::npos) << e.what();
      EXPECT_NE(std::string(e.what()).find("NaN"), std::string::npos) << e.what();
    }
    // -inf entries are fine while one token is left.
    EXPECT_EQ(sampler.sample(std::vector<float>{kNegInf, 0.5f, kNegInf}, {}), 1);
  }
}

TEST(Sampler, RecentTokensOutsideTheWindowAreNotChecked) {
  SamplingParams p;
  p.temperature = 0.0f;
  p.repeat_penalty = 1.5f;
  p.repeat_last_n = 2;
  Sampler sampler(p);
  // 99 is out of range but older than the last 2 tokens, so the penalty never looks at it.
  EXPECT_EQ(sampler.sample(std::vector<float>{1.0f, 2.0f, 1.8f}, std::vector<int32_t>{99, 0, 1}),
            2);
}

}  // namespace
}  // namespace emovec
