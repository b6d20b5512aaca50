// The engine's batch semantics on the default model: sequences in one batch are independent,
// chunked prefill equals one pass, sequences join and leave, activation hooks see and change
// the right rows, and bad requests are refused without changing any state.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "emovec/decoder.h"
#include "emovec/engine.h"
#include "emovec/error.h"
#include "support/activation_capture.h"
#include "support/test_support.h"

namespace emovec {
namespace {

const DecoderModel& smollm2() {
  static const auto model = DecoderModel::load(testing::model_path("smollm2-135m-instruct"));
  return *model;
}

std::vector<int32_t> tokens(int n, int seed) {
  std::vector<int32_t> t;
  for (int i = 0; i < n; ++i) t.push_back(1000 + (seed * 7919 + i * 104729) % 40000);
  return t;
}

using testing::max_relative_difference;

std::vector<float> run_alone(Engine& engine, const std::vector<int32_t>& ids) {
  const SequenceId s = engine.new_sequence();
  const BatchEntry e{s, ids};
  const Logits l = engine.decode(std::span<const BatchEntry>(&e, 1));
  engine.free_sequence(s);
  return {l.last(0).begin(), l.last(0).end()};
}

TEST(Engine, SequencesInOneBatchEqualEachRunAlone) {
  Engine engine(smollm2(), {.n_threads = 2});
  const std::vector<std::vector<int32_t>> prompts = {tokens(3, 1), tokens(11, 2), tokens(1, 3),
                                                     tokens(6, 4)};
  // Prefill each alone, then decode two steps with all four in one batch at different positions.
  std::vector<SequenceId> batch_ids, alone_ids;
  for (const auto& p : prompts) {
    for (auto* ids : {&batch_ids, &alone_ids}) {
      ids->push_back(engine.new_sequence());
      const BatchEntry e{ids->back(), p};
      engine.decode(std::span<const BatchEntry>(&e, 1));
    }
  }
  for (int step = 0; step < 2; ++step) {
    std::vector<int32_t> next(prompts.size());
    std::vector<BatchEntry> batch;
    for (size_t i = 0; i < prompts.size(); ++i) {
      next[i] = 2000 + static_cast<int32_t>(i) * 13 + step;
      batch.push_back({batch_ids[i], std::span<const int32_t>(&next[i], 1)});
    }
    const Logits together = engine.decode(batch);
    for (size_t i = 0; i < prompts.size(); ++i) {
      const BatchEntry e{alone_ids[i], std::span<const int32_t>(&next[i], 1)};
      const Logits alone = engine.decode(std::span<const BatchEntry>(&e, 1));
      // The same kernels run per row, so the results are identical, not merely close.
      EXPECT_TRUE(std::equal(alone.last(0).begin(), alone.last(0).end(), together.last(i).begin()))
          << "sequence " << i << " step " << step;
    }
  }
}

TEST(Engine, ChunkedPrefillEqualsOnePass) {
  const std::vector<int32_t> ids = tokens(40, 5);
  // Exact path in both: chunks of 7 rows would otherwise take the int8 decoding path.
  Engine whole(smollm2(), {.n_threads = 2, .n_ctx = 256, .n_batch = 512, .exact = true});
  Engine chunked(smollm2(), {.n_threads = 2, .n_ctx = 256, .n_batch = 7, .exact = true});
  const std::vector<float> a = run_alone(whole, ids);
  const std::vector<float> b = run_alone(chunked, ids);
  EXPECT_LT(max_relative_difference(b, a), 1e-5);
}

// Prompts of 64 tokens or more take the SGEMM attention (scores and weighted values per block
// of rows, masked); shorter chunks take the per-row kernels. The two must agree at every
// position and layer: SmolLM2 (grouped queries, 3 per key head) and Gemma-3-270M, whose local
// layers' 512-position sliding window is shorter than the prompt, so the mask's lower edge
// moves inside the blocks.
TEST(Engine, LongPromptAttentionEqualsRowByRow) {
  const auto gemma = DecoderModel::load(testing::model_path("gemma-3-270m"));
  struct Case {
    const DecoderModel* model;
    int n;
    CacheType cache;  // a float16 cache is widened for SGEMM, read as it is by the row kernels
  };
  for (const auto& [model, n, cache] :
       {Case{&smollm2(), 150, CacheType::F32}, Case{gemma.get(), 600, CacheType::F32},
        Case{gemma.get(), 600, CacheType::F16}}) {
    const DecoderHyperParams& h = model->hparams();
    const std::vector<int32_t> ids = tokens(n, 9);
    std::vector<std::unique_ptr<testing::CaptureAll>> captures;
    std::vector<std::vector<float>> last;
    for (const int64_t n_batch : {1024, 32}) {
      Engine engine(*model, {.n_threads = 2,
                             .n_ctx = 1024,
                             .n_batch = n_batch,
                             .exact = true,
                             .cache_type_k = cache,
                             .cache_type_v = cache});
      captures.push_back(
          std::make_unique<testing::CaptureAll>(static_cast<int>(h.n_layer), h.n_embd));
      const BatchEntry e{engine.new_sequence(), ids, false, captures.back().get()};
      const Logits l = engine.decode(std::span<const BatchEntry>(&e, 1));
      last.emplace_back(l.last(0).begin(), l.last(0).end());
    }
    // A float16 cache rounds keys and values whose float32 sums differ in the last bits between
    // the two paths, some to neighbouring float16 values (2^-11 apart, relative), and that grows
    // through the layers: about 1e-2 at worst, where a key or value read from the wrong place
    // is off by the whole.
    const double tolerance = cache == CacheType::F16 ? 3e-2 : 1e-4;
    EXPECT_LT(max_relative_difference(last[1], last[0]), tolerance) << model->hparams().n_layer;
    double worst = 0;
    for (int layer = 0; layer < h.n_layer; ++layer) {
      ASSERT_EQ(captures[0]->recorded(layer, ActivationSite::AttentionOut), n);
      ASSERT_EQ(captures[1]->recorded(layer, ActivationSite::AttentionOut), n);
      for (int64_t pos = 0; pos < n; ++pos) {
        const std::span<const float> a(captures[0]->row(layer, ActivationSite::AttentionOut, pos),
                                       static_cast<size_t>(h.n_embd));
        const std::span<const float> b(captures[1]->row(layer, ActivationSite::AttentionOut, pos),
                                       static_cast<size_t>(h.n_embd));
        const double d = max_relative_difference(b, a);
        worst = std::max(worst, d);
        ASSERT_LT(d, tolerance) << "layer " << layer << " position " << pos;
      }
    }
    std::printf(
        "[%d tokens, %d layers, %s cache] attention output, one pass vs 32-token chunks: max "
        "relative difference %.3g\n",
        n, static_cast<int>(h.n_layer), cache == CacheType::F16 ? "float16" : "float32", worst);
  }
}

// On the exact path: on the fast one the five-token pass is a prompt (float32 activations) and
// the one-token passes are decoding steps (int8):
// FastPath.APromptIsEvaluatedInFloat32HoweverItIsSplit.
TEST(Engine, AllLogitsRowsEqualIncrementalDecoding) {
  const std::vector<int32_t> ids = tokens(5, 6);
  Engine engine(smollm2(), {.n_threads = 1, .exact = true});
  const SequenceId s = engine.new_sequence();
  const BatchEntry all{s, ids, true};
  const Logits rows = engine.decode(std::span<const BatchEntry>(&all, 1));
  ASSERT_EQ(rows.rows(0), 5);
  const SequenceId t = engine.new_sequence();
  for (size_t i = 0; i < ids.size(); ++i) {
    const BatchEntry one{t, std::span<const int32_t>(&ids[i], 1)};
    const Logits l = engine.decode(std::span<const BatchEntry>(&one, 1));
    EXPECT_LT(max_relative_difference(l.last(0), rows.row(0, static_cast<int64_t>(i))), 1e-5)
        << "position " << i;
  }
}

TEST(Engine, SequencesJoinAndLeaveWithoutDisturbingOthers) {
  Engine engine(smollm2(), {.n_threads = 2});
  const std::vector<int32_t> p = tokens(8, 7);
  const std::vector<float> reference = run_alone(engine, p);
  const SequenceId a = engine.new_sequence();
  const SequenceId b = engine.new_sequence();
  const std::vector<int32_t> head(p.begin(), p.begin() + 4), tail(p.begin() + 4, p.end());
  const std::vector<int32_t> other = tokens(5, 8);
  const BatchEntry first[] = {{a, head}, {b, other}};
  engine.decode(first);
  engine.free_sequence(b);
  const SequenceId c = engine.new_sequence();
  const BatchEntry second[] = {{c, other}, {a, tail}};
  const Logits l = engine.decode(second);
  EXPECT_TRUE(std::equal(reference.begin(), reference.end(), l.last(1).begin()));
  EXPECT_EQ(engine.sequence_length(a), 8);
  EXPECT_EQ(engine.sequence_length(c), 5);
}

TEST(Engine, TruncateThenContinueEqualsFresh) {
  Engine engine(smollm2(), {.n_threads = 2});
  const std::vector<int32_t> p = tokens(9, 9);
  const std::vector<float> reference = run_alone(engine, p);
  const SequenceId s = engine.new_sequence();
  std::vector<int32_t> detour(p.begin(), p.begin() + 5);
  detour.push_back(4242);
  detour.push_back(4343);
  const BatchEntry e1{s, detour};
  engine.decode(std::span<const BatchEntry>(&e1, 1));
  engine.truncate(s, 5);
  const std::vector<int32_t> rest(p.begin() + 5, p.end());
  const BatchEntry e2{s, rest};
  const Logits l = engine.decode(std::span<const BatchEntry>(&e2, 1));
  EXPECT_TRUE(std::equal(reference.begin(), reference.end(), l.last(0).begin()));
}

class AddAtSite : public ActivationHook {
 public:
  AddAtSite(ActivationSite site, int layer, float value)
      : site_(site), layer_(layer), value_(value) {}
  bool wants(int32_t layer, ActivationSite site) const override {
    return site == site_ && layer == layer_;
  }
  void on_activation(const ActivationView& v) override {
    ++calls;
    rows_seen += v.n_rows;
    EXPECT_EQ(v.layer, layer_);
    EXPECT_EQ(v.site, site_);
    for (int64_t i = 0; i < v.n_rows * v.width; ++i) v.rows[i] += value_;
  }
  int calls = 0;
  int64_t rows_seen = 0;

 private:
  ActivationSite site_;
  int layer_;
  float value_;
};

TEST(Engine, HooksSeeTheirSequenceAndChangeOnlyIt) {
  Engine engine(smollm2(), {.n_threads = 2});
  const std::vector<int32_t> p = tokens(6, 10), q = tokens(4, 11);
  const std::vector<float> p_alone = run_alone(engine, p);
  const std::vector<float> q_alone = run_alone(engine, q);
  for (ActivationSite site :
       {ActivationSite::Residual, ActivationSite::AttentionOut, ActivationSite::MlpOut}) {
    AddAtSite zero(site, 3, 0.0f);
    AddAtSite push(site, 3, 0.5f);
    const SequenceId a = engine.new_sequence();
    const SequenceId b = engine.new_sequence();
    const BatchEntry batch[] = {{a, p, false, &zero}, {b, q, false, &push}};
    const Logits l = engine.decode(batch);
    // Adding zero changes nothing, bit for bit; the other sequence is steered.
    EXPECT_TRUE(std::equal(p_alone.begin(), p_alone.end(), l.last(0).begin()));
    EXPECT_GT(max_relative_difference(l.last(1), q_alone), 1e-3);
    EXPECT_EQ(zero.calls, 1);
    EXPECT_EQ(zero.rows_seen, 6);
    EXPECT_EQ(push.rows_seen, 4);
    engine.free_sequence(a);
    engine.free_sequence(b);
  }
}

TEST(Engine, BadRequestsAreRefusedAndChangeNothing) {
  Engine engine(smollm2(), {.n_threads = 1, .n_ctx = 16});
  const SequenceId s = engine.new_sequence();
  const std::vector<int32_t> ok = tokens(4, 12);
  const BatchEntry first{s, ok};
  engine.decode(std::span<const BatchEntry>(&first, 1));

  const std::vector<int32_t> too_long = tokens(13, 13);
  const BatchEntry overflow{s, too_long};
  EXPECT_THROW(
      {
        try {
          engine.decode(std::span<const BatchEntry>(&overflow, 1));
        } catch (const Error& e) {
          EXPECT_NE(std::string(e.what()).find("exceed the context of 16"), std::string::npos)
              << e.what();
          throw;
        }
      },
      Error);
  const std::vector<int32_t> bad_id = {5, 49152};
  const BatchEntry out_of_vocab{s, bad_id};
  EXPECT_THROW(engine.decode(std::span<const BatchEntry>(&out_of_vocab, 1)), Error);
  const std::vector<int32_t> negative = {-1};
  const BatchEntry neg{s, negative};
  EXPECT_THROW(engine.decode(std::span<const BatchEntry>(&neg, 1)), Error);
  const BatchEntry empty{s, {}};
  EXPECT_THROW(engine.decode(std::span<const BatchEntry>(&empty, 1)), Error);
  const BatchEntry twice[] = {{s, ok}, {s, ok}};
  EXPECT_THROW(engine.decode(twice), Error);
  const BatchEntry unknown{s + 100, ok};
  EXPECT_THROW(engine.decode(std::span<const BatchEntry>(&unknown, 1)), Error);
  EXPECT_THROW(engine.truncate(s, 5), Error);
  EXPECT_THROW(engine.free_sequence(s + 100), Error);
  EXPECT_EQ(engine.sequence_length(s), 4);
  // Exactly filling the context is fine.
  const std::vector<int32_t> fill = tokens(12, 14);
  const BatchEntry last{s, fill};
  EXPECT_NO_THROW(engine.decode(std::span<const BatchEntry>(&last, 1)));
  EXPECT_EQ(engine.sequence_length(s), 16);
}

}  // namespace
}  // namespace emovec
