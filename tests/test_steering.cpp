// Steering and extraction on the default model: alpha 0 changes nothing, a mix adds the sum of
// its parts, sequences of one batch steer independently (each equals running it alone with its
// mix), the position policies touch the right rows, and extraction computes the mean
// difference it promises (checked against an independent computation) and is deterministic.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <functional>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "emovec/chat_template.h"
#include "emovec/decoder.h"
#include "emovec/engine.h"
#include "emovec/error.h"
#include "emovec/extract.h"
#include "emovec/generate.h"
#include "emovec/model_registry.h"
#include "emovec/steering.h"
#include "support/test_support.h"

namespace emovec {
namespace {

const DecoderModel& smollm2() {
  static const auto model = DecoderModel::load(testing::model_path("smollm2-135m-instruct"));
  return *model;
}

const QuerySet& queries() {
  static const QuerySet q =
      load_queries(std::string(EMOVEC_SOURCE_DIR) + "/data/emotionquery/EmotionQuery.json");
  return q;
}

// Vectors at the attention output from a few queries (prompt mode): real directions, quickly.
const std::vector<EmotionVector>& vectors(ActivationSite site = ActivationSite::AttentionOut) {
  static std::vector<EmotionVector> by_site[kActivationSiteCount];
  auto& v = by_site[static_cast<int>(site)];
  if (v.empty()) {
    Engine engine(smollm2(), {.n_threads = 2, .exact = true});
    ExtractOptions o;
    o.mode = "prompt";
    o.site = site;
    o.max_queries = 6;
    v = extract_emotion_vectors(engine, queries(), o).vectors;
  }
  return v;
}

std::vector<int32_t> chat(const std::string& text) {
  return tokenize_chat(smollm2(), {ChatMessage{"user", text}});
}

bool same(std::span<const float> a, std::span<const float> b) {
  return a.size() == b.size() && std::memcmp(a.data(), b.data(), a.size() * sizeof(float)) == 0;
}

Steering steering(const std::string& spec, const SteeringOptions& o = {},
                  ActivationSite site = ActivationSite::AttentionOut) {
  const auto& h = smollm2().hparams();
  return Steering::build(parse_emotion_mix(spec), vectors(site), h.n_layer, h.n_embd, o);
}

// All logits of a prompt, then `steps` greedy steps, for one sequence with an optional hook.
std::vector<std::vector<float>> run(Engine& engine, const std::vector<int32_t>& prompt,
                                    ActivationHook* hook, int steps) {
  std::vector<std::vector<float>> rows;
  const SequenceId s = engine.new_sequence();
  BatchEntry e{s, prompt, /*all_logits=*/true, hook};
  Logits l = engine.decode(std::span<const BatchEntry>(&e, 1));
  for (int64_t i = 0; i < l.rows(0); ++i) rows.emplace_back(l.row(0, i).begin(), l.row(0, i).end());
  if (hook != nullptr) hook->on_generation_start(static_cast<int64_t>(prompt.size()));
  for (int i = 0; i < steps; ++i) {
    const auto& last = rows.back();
    const int32_t next =
        static_cast<int32_t>(std::max_element(last.begin(), last.end()) - last.begin());
    e = BatchEntry{s, std::span<const int32_t>(&next, 1), false, hook};
    l = engine.decode(std::span<const BatchEntry>(&e, 1));
    rows.emplace_back(l.last(0).begin(), l.last(0).end());
  }
  engine.free_sequence(s);
  return rows;
}

TEST(Steering, AlphaZeroIsBitIdenticalToNoSteering) {
  Engine engine(smollm2(), {.n_threads = 2});
  const auto prompt = chat("How was your day at the office?");
  const auto plain = run(engine, prompt, nullptr, 6);
  for (const auto positions :
       {SteeringPositions::Last, SteeringPositions::All, SteeringPositions::Generated}) {
    for (const bool keep_norm : {false, true}) {
      SteeringOptions o;
      o.positions = positions;
      o.preserve_norm = keep_norm;
      const Steering zero = steering("joy=0,anger=0,sadness=0", o);
      EXPECT_TRUE(zero.empty());
      SteeringHook hook(zero);
      const auto steered = run(engine, prompt, &hook, 6);
      ASSERT_EQ(steered.size(), plain.size());
      for (size_t i = 0; i < plain.size(); ++i) {
        EXPECT_TRUE(same(steered[i], plain[i]))
            << "row " << i << " policy " << steering_positions_name(positions);
      }
    }
  }
  // And a non-zero alpha does change them (the comparison above can fail).
  const Steering joy = steering("joy=1");
  SteeringHook hook(joy);
  EXPECT_FALSE(same(run(engine, prompt, &hook, 0).back(), plain[prompt.size() - 1]));
}

TEST(Steering, MixAddsTheSumOfItsParts) {
  const auto& h = smollm2().hparams();
  const Steering mix = steering("joy=1.5,anger=-0.5,fear=0.25");
  const auto& v = vectors();
  const auto find = [&](const std::string& name) -> const EmotionVector& {
    return *std::find_if(v.begin(), v.end(), [&](const auto& x) { return x.emotion == name; });
  };
  for (int32_t l = 0; l < h.n_layer; ++l) {
    const auto d = mix.direction(l, ActivationSite::AttentionOut);
    ASSERT_EQ(static_cast<int64_t>(d.size()), h.n_embd);
    for (int64_t i = 0; i < h.n_embd; ++i) {
      const double expect = 1.5 * find("joy").layer(l)[static_cast<size_t>(i)] -
                            0.5 * find("anger").layer(l)[static_cast<size_t>(i)] +
                            0.25 * find("fear").layer(l)[static_cast<size_t>(i)];
      ASSERT_NEAR(d[static_cast<size_t>(i)], expect, 1e-5 * (1 + std::abs(expect)));
    }
    EXPECT_TRUE(mix.direction(l, ActivationSite::Residual).empty());
  }
  // In the forward pass: what the mix adds at layer 0's site is the sum of what each part adds.
  struct Capture : ActivationHook {
    ActivationHook* inner;
    std::vector<float> rows;
    explicit Capture(ActivationHook* h) : inner(h) {}
    bool wants(int32_t layer, ActivationSite site) const override {
      return layer == 0 && site == ActivationSite::AttentionOut;
    }
    void on_activation(const ActivationView& view) override {
      if (inner != nullptr && inner->wants(view.layer, view.site)) inner->on_activation(view);
      rows.assign(view.rows, view.rows + view.n_rows * view.width);
    }
  };
  Engine engine(smollm2(), {.n_threads = 2, .exact = true});
  const auto prompt = chat("Tell me about your neighbour.");
  SteeringOptions all;
  all.positions = SteeringPositions::All;
  const auto added = [&](const std::string& spec) {
    std::unique_ptr<Steering> s;
    std::unique_ptr<SteeringHook> hook;
    if (!spec.empty()) {
      s = std::make_unique<Steering>(steering(spec, all));
      hook = std::make_unique<SteeringHook>(*s);
    }
    Capture cap(hook.get());
    const SequenceId id = engine.new_sequence();
    const BatchEntry e{id, prompt, false, &cap};
    engine.decode(std::span<const BatchEntry>(&e, 1));
    engine.free_sequence(id);
    return cap.rows;
  };
  const auto base = added("");
  const auto both = added("joy=1.5,anger=-0.5");
  const auto joy = added("joy=1.5");
  const auto anger = added("anger=-0.5");
  double worst = 0;
  for (size_t i = 0; i < base.size(); ++i) {
    worst = std::max(worst, std::abs(static_cast<double>(both[i] - base[i]) -
                                     ((joy[i] - base[i]) + (anger[i] - base[i]))));
  }
  EXPECT_LT(worst, 1e-5);
  EXPECT_FALSE(same(both, base));
}

using testing::max_relative_difference;

struct BatchCase {
  std::vector<std::vector<int32_t>> prompts;
  std::vector<Steering> mixes;
};

const BatchCase& batch_case() {
  static const BatchCase c = [] {
    BatchCase b;
    for (const char* t : {"What do you think about the weather this week?",
                          "Describe the last meal you cooked for your friends, in detail.",
                          "How did you feel when the train was cancelled again this morning?",
                          "Write two sentences about the sea."}) {
      b.prompts.push_back(chat(t));
    }
    SteeringOptions norm;
    norm.preserve_norm = true;
    SteeringOptions all;
    all.positions = SteeringPositions::All;
    SteeringOptions generated;
    generated.positions = SteeringPositions::Generated;
    b.mixes.push_back(steering("joy=2"));
    b.mixes.push_back(steering("anger=1.5,sadness=-1", all));
    b.mixes.push_back(steering("fear=3", norm));
    b.mixes.push_back(steering("disgust=1,joy=0.5", generated));
    return b;
  }();
  return c;
}

// Decoding steps of four sequences with four mixes in one batch equal each sequence's steps
// alone with its mix, bit for bit: every row takes the same kernels either way.
TEST(Steering, BatchedDecodingStepsWithFourMixesAreBitIdenticalToAlone) {
  Engine engine(smollm2(), {.n_threads = 2});
  const BatchCase& c = batch_case();
  constexpr int kSteps = 8;
  std::vector<std::vector<std::vector<float>>> alone;
  for (size_t i = 0; i < c.prompts.size(); ++i) {
    SteeringHook hook(c.mixes[i]);
    alone.push_back(run(engine, c.prompts[i], &hook, kSteps));
  }
  // Each prompt evaluated alone (so the caches match), then the steps together.
  std::vector<SteeringHook> hooks;
  for (const auto& m : c.mixes) hooks.emplace_back(m);
  std::vector<SequenceId> ids;
  std::vector<int32_t> next(c.prompts.size());
  for (size_t i = 0; i < c.prompts.size(); ++i) {
    ids.push_back(engine.new_sequence());
    const BatchEntry e{ids.back(), c.prompts[i], true, &hooks[i]};
    const Logits l = engine.decode(std::span<const BatchEntry>(&e, 1));
    ASSERT_TRUE(same(l.last(0), alone[i][c.prompts[i].size() - 1]));
    next[i] = static_cast<int32_t>(std::max_element(l.last(0).begin(), l.last(0).end()) -
                                   l.last(0).begin());
    hooks[i].on_generation_start(static_cast<int64_t>(c.prompts[i].size()));
  }
  for (int step = 0; step < kSteps; ++step) {
    std::vector<BatchEntry> b;
    for (size_t i = 0; i < c.prompts.size(); ++i) {
      b.push_back({ids[i], std::span<const int32_t>(&next[i], 1), false, &hooks[i]});
    }
    const Logits l = engine.decode(b);
    for (size_t i = 0; i < c.prompts.size(); ++i) {
      const auto& expect = alone[i][c.prompts[i].size() + static_cast<size_t>(step)];
      EXPECT_TRUE(same(l.last(i), expect)) << "sequence " << i << " step " << step;
      next[i] = static_cast<int32_t>(std::max_element(l.last(i).begin(), l.last(i).end()) -
                                     l.last(i).begin());
    }
  }
  for (const SequenceId id : ids) engine.free_sequence(id);
}

// Prompts evaluated together take the matrix-multiply path over all their rows at once, whose
// sums may round differently from a prompt's alone: on the exact path, equal to float32
// rounding, and each sequence is far from what another sequence's mix would give it. (On the
// default path the int8 rounding of later steps can amplify those last bits, as in llama.cpp.)
TEST(Steering, BatchedPromptsWithFourMixesEqualEachAloneToRounding) {
  Engine engine(smollm2(), {.n_threads = 2, .exact = true});
  const BatchCase& c = batch_case();
  constexpr int kSteps = 8;
  std::vector<std::vector<std::vector<float>>> alone, other_mix;
  std::vector<std::vector<int32_t>> forced(c.prompts.size());
  for (size_t i = 0; i < c.prompts.size(); ++i) {
    SteeringHook hook(c.mixes[i]);
    alone.push_back(run(engine, c.prompts[i], &hook, kSteps));
    SteeringHook other(c.mixes[(i + 1) % c.mixes.size()]);
    other_mix.push_back(run(engine, c.prompts[i], &other, 0));
    for (int s = 0; s < kSteps; ++s) {
      const auto& row = alone[i][c.prompts[i].size() - 1 + static_cast<size_t>(s)];
      forced[i].push_back(
          static_cast<int32_t>(std::max_element(row.begin(), row.end()) - row.begin()));
    }
  }
  std::vector<SteeringHook> hooks;
  for (const auto& m : c.mixes) hooks.emplace_back(m);
  std::vector<SequenceId> ids;
  std::vector<BatchEntry> batch;
  for (size_t i = 0; i < c.prompts.size(); ++i) {
    ids.push_back(engine.new_sequence());
    batch.push_back({ids.back(), c.prompts[i], true, &hooks[i]});
  }
  double worst = 0, nearest_other = 1e9;
  const Logits l = engine.decode(batch);
  for (size_t i = 0; i < c.prompts.size(); ++i) {
    for (int64_t r = 0; r < l.rows(i); ++r) {
      const double d = max_relative_difference(l.row(i, r), alone[i][static_cast<size_t>(r)]);
      worst = std::max(worst, d);
    }
    nearest_other =
        std::min(nearest_other, max_relative_difference(l.last(i), other_mix[i].back()));
    hooks[i].on_generation_start(static_cast<int64_t>(c.prompts[i].size()));
  }
  for (int step = 0; step < kSteps; ++step) {
    std::vector<BatchEntry> b;
    for (size_t i = 0; i < c.prompts.size(); ++i) {
      b.push_back({ids[i], std::span<const int32_t>(&forced[i][static_cast<size_t>(step)], 1),
                   false, &hooks[i]});
    }
    const Logits s = engine.decode(b);
    for (size_t i = 0; i < c.prompts.size(); ++i) {
      const double d = max_relative_difference(
          s.last(i), alone[i][c.prompts[i].size() + static_cast<size_t>(step)]);
      worst = std::max(worst, d);
    }
  }
  for (const SequenceId id : ids) engine.free_sequence(id);
  std::printf("batched vs alone: max relative logit difference %.2e; vs another mix %.2e\n", worst,
              nearest_other);
  EXPECT_LT(worst, 1e-5);
  EXPECT_GT(nearest_other, 1e-2);
}

// generate_batch runs requests with different mixes together; each reply is the one its
// request gets alone, except where a near-tie meets the rounding of the batched prompt pass.
TEST(Steering, GenerateBatchGivesEachRequestItsOwnReply) {
  Engine engine(smollm2(), {.n_threads = 2, .exact = true});
  const BatchCase& c = batch_case();
  std::vector<GenerateRequest> requests(c.prompts.size());
  std::vector<SteeringHook> hooks;
  for (const auto& m : c.mixes) hooks.emplace_back(m);
  for (size_t i = 0; i < c.prompts.size(); ++i) {
    requests[i].prompt = c.prompts[i];
    requests[i].options.n_predict = 16;
    requests[i].options.sampling.temperature = 0;
    requests[i].options.hook = &hooks[i];
  }
  const auto results = generate_batch(engine, requests);
  for (size_t i = 0; i < c.prompts.size(); ++i) {
    SteeringHook hook(c.mixes[i]);
    const auto rows = run(engine, c.prompts[i], &hook, 16);
    std::vector<int32_t> greedy;
    for (size_t s = 0; s < 16; ++s) {
      const auto& row = rows[c.prompts[i].size() - 1 + s];
      greedy.push_back(
          static_cast<int32_t>(std::max_element(row.begin(), row.end()) - row.begin()));
    }
    size_t k = 0;
    while (k < results[i].tokens.size() && results[i].tokens[k] == greedy[k]) ++k;
    if (k < results[i].tokens.size()) {
      auto row = rows[c.prompts[i].size() - 1 + k];
      std::sort(row.begin(), row.end(), std::greater<>());
      const double gap = row[0] - row[1];
      std::printf("request %zu diverges at token %zu, top-2 gap %.2e\n", i, k, gap);
      EXPECT_LT(gap, 1e-3) << "request " << i << " diverges at token " << k;
    }
  }
}

TEST(Steering, PositionPoliciesTouchTheirRowsOnly) {
  Engine engine(smollm2(), {.n_threads = 2, .exact = true});
  const auto prompt = chat("Where would you like to travel next year?");
  const auto n = prompt.size();
  const auto plain = run(engine, prompt, nullptr, 2);
  const auto rows_with = [&](SteeringPositions p) {
    SteeringOptions o;
    o.positions = p;
    const Steering s = steering("sadness=2", o);
    SteeringHook hook(s);
    return run(engine, prompt, &hook, 2);
  };
  // last: the prompt's rows before its last are untouched, the last one and every step change.
  const auto last = rows_with(SteeringPositions::Last);
  for (size_t i = 0; i + 1 < n; ++i) EXPECT_TRUE(same(last[i], plain[i])) << i;
  for (size_t i = n - 1; i < last.size(); ++i) EXPECT_FALSE(same(last[i], plain[i])) << i;
  // all: every row changes.
  const auto all = rows_with(SteeringPositions::All);
  for (size_t i = 0; i < all.size(); ++i) EXPECT_FALSE(same(all[i], plain[i])) << i;
  // generated: the whole prompt is untouched, the generated tokens' rows change.
  const auto gen = rows_with(SteeringPositions::Generated);
  for (size_t i = 0; i < n; ++i) EXPECT_TRUE(same(gen[i], plain[i])) << i;
  for (size_t i = n; i < gen.size(); ++i) EXPECT_FALSE(same(gen[i], plain[i])) << i;
  // Layer range: steering only layers 30.. (none exist) is refused; layers [29, 30) steer.
  SteeringOptions late;
  late.layer_begin = 29;
  const Steering s = steering("sadness=2", late);
  for (int32_t l = 0; l < 29; ++l)
    EXPECT_TRUE(s.direction(l, ActivationSite::AttentionOut).empty());
  EXPECT_FALSE(s.direction(29, ActivationSite::AttentionOut).empty());
  late.layer_begin = 30;
  EXPECT_THROW(steering("sadness=2", late), Error);
}

// Forwards to `inner` (if any) and keeps the last layer's residual stream at the prompt's last
// position: the state the first reply token is sampled from.
struct LastStateRecorder final : ActivationHook {
  ActivationHook* inner = nullptr;
  int32_t last_layer = 0;
  std::vector<float> state;
  bool wants(int32_t layer, ActivationSite site) const override {
    return (layer == last_layer && site == ActivationSite::Residual) ||
           (inner != nullptr && inner->wants(layer, site));
  }
  void on_activation(const ActivationView& v) override {
    if (inner != nullptr && inner->wants(v.layer, v.site)) inner->on_activation(v);
    if (v.layer == last_layer && v.site == ActivationSite::Residual && v.last_chunk &&
        state.empty() && v.n_rows > 0) {
      const float* row = v.rows + (v.n_rows - 1) * v.width;
      state.assign(row, row + v.width);
    }
  }
  void on_generation_start(int64_t position) override {
    if (inner != nullptr) inner->on_generation_start(position);
  }
  int64_t first_position_seen(int64_t n_prompt) const override {
    return std::min(n_prompt - 1,
                    inner != nullptr ? inner->first_position_seen(n_prompt) : n_prompt);
  }
};

double max_relative_difference(const std::vector<float>& a, const std::vector<float>& b) {
  EXPECT_EQ(a.size(), b.size());
  double scale = 0, diff = 0;
  for (size_t i = 0; i < a.size() && i < b.size(); ++i) {
    scale = std::max(scale, std::abs(static_cast<double>(b[i])));
    diff = std::max(diff, std::abs(static_cast<double>(a[i]) - b[i]));
  }
  return diff / scale;
}

// A conversation's second turn on one Generator (which re-uses the cached first turn) gives the
// state a fresh sequence gives for the same prompt and steering, whatever the first turn
// steered: steered positions, and everything after them, are evaluated again.
TEST(Steering, ASecondTurnReusesOnlyWhatNoSteeringChanged) {
  Engine engine(smollm2(), {.n_threads = 2, .exact = true});
  const int32_t last_layer = static_cast<int32_t>(smollm2().hparams().n_layer - 1);
  const ChatMessage first{"user", "What do you think of rainy days?"};
  const std::vector<int32_t> p1 = tokenize_chat(smollm2(), {first});
  SteeringOptions all_positions;
  all_positions.positions = SteeringPositions::All;
  SteeringOptions generated_only;
  generated_only.positions = SteeringPositions::Generated;
  const Steering joy = steering("joy=2");
  const Steering sadness = steering("sadness=2");
  const Steering sadness_all = steering("sadness=2", all_positions);
  const Steering sadness_generated = steering("sadness=2", generated_only);
  struct Case {
    const char* name;
    const Steering* turn1;  // nullptr: no steering
    const Steering* turn2;
    // Positions of the second prompt re-used: a function of the first prompt's length and of
    // the prefix the second prompt shares with what the first turn cached.
    std::function<int64_t(int64_t n1, int64_t shared)> cached;
  };
  const std::vector<Case> cases = {
      {"unsteered, then unsteered", nullptr, nullptr, [](int64_t, int64_t c) { return c; }},
      {"last, then last with another mix", &joy, &sadness,
       [](int64_t n1, int64_t) { return n1 - 1; }},
      {"unsteered, then all positions", nullptr, &sadness_all, [](int64_t, int64_t) { return 0; }},
      {"all positions, then unsteered", &sadness_all, nullptr, [](int64_t, int64_t) { return 0; }},
      {"generated, then last", &sadness_generated, &joy, [](int64_t n1, int64_t) { return n1; }},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.name);
    Generator g(engine);
    GenerateOptions o;
    o.n_predict = 12;
    o.sampling.temperature = 0;
    std::unique_ptr<SteeringHook> h1 = c.turn1 ? std::make_unique<SteeringHook>(*c.turn1) : nullptr;
    o.hook = h1.get();
    const GenerateResult r1 = g.run(p1, o);
    ASSERT_EQ(r1.n_cached, 0);
    const std::vector<int32_t> p2 = tokenize_chat(
        smollm2(), {first, ChatMessage{"assistant", r1.text}, ChatMessage{"user", "Why?"}});
    ASSERT_TRUE(std::equal(p1.begin(), p1.end(), p2.begin()));
    // What the first turn cached: its prompt and the reply tokens evaluated (all but the last).
    std::vector<int32_t> cached = p1;
    const size_t evaluated = r1.tokens.size() - (r1.finish_reason == "length" ? 1 : 0);
    cached.insert(cached.end(), r1.tokens.begin(),
                  r1.tokens.begin() + static_cast<long>(evaluated));
    int64_t shared = 0;
    while (shared < static_cast<int64_t>(cached.size()) &&
           cached[static_cast<size_t>(shared)] == p2[static_cast<size_t>(shared)]) {
      ++shared;
    }
    ASSERT_GT(shared, static_cast<int64_t>(p1.size()));  // the reply's first tokens re-render

    std::unique_ptr<SteeringHook> h2 = c.turn2 ? std::make_unique<SteeringHook>(*c.turn2) : nullptr;
    LastStateRecorder again, fresh;
    again.inner = fresh.inner = h2.get();
    again.last_layer = fresh.last_layer = last_layer;
    o.n_predict = 1;
    o.hook = &again;
    const GenerateResult r2 = g.run(p2, o);
    EXPECT_EQ(r2.n_cached, c.cached(static_cast<int64_t>(p1.size()), shared));
    EXPECT_EQ(r2.n_cached + r2.n_prompt, static_cast<int64_t>(p2.size()));
    Generator alone(engine);
    o.hook = &fresh;
    EXPECT_EQ(alone.run(p2, o).n_cached, 0);
    const double d = max_relative_difference(again.state, fresh.state);
    std::printf("%s: %lld of %zu positions re-used, state within %.2e of a fresh sequence's\n",
                c.name, static_cast<long long>(r2.n_cached), p2.size(), d);
    EXPECT_LT(d, 1e-4);
  }
}

TEST(Steering, BadMixesAreRefusedWithClearErrors) {
  const auto message = [](const std::string& spec) {
    try {
      (void)steering(spec);
    } catch (const Error& e) {
      return std::string(e.what());
    }
    return std::string("no error");
  };
  EXPECT_NE(message("love=1").find("no vector for the emotion 'love'"), std::string::npos);
  EXPECT_NE(message("love=1").find("anger, disgust, fear, joy, sadness, base"), std::string::npos);
  EXPECT_NE(message("joy=1e9").find("outside [-100, 100]"), std::string::npos);
  EXPECT_NE(message("joy=nan").find("outside"), std::string::npos);
  EXPECT_NE(message("joy=inf").find("outside"), std::string::npos);
  EXPECT_NE(message("joy=abc").find("not a number"), std::string::npos);
  EXPECT_NE(message("joy=1,joy=2").find("twice"), std::string::npos);
  EXPECT_NE(message("joy=1,,anger=2").find("empty term"), std::string::npos);
  EXPECT_NE(message("").find("empty"), std::string::npos);
  EXPECT_NE(message("j o y=1").find("not an emotion name"), std::string::npos);
  const EmotionMix m = parse_emotion_mix(" joy = 1.5 , anger=-0.5,fear");
  ASSERT_EQ(m.terms.size(), 3u);
  EXPECT_EQ(m.terms[0], (std::pair<std::string, float>("joy", 1.5f)));
  EXPECT_EQ(m.terms[1], (std::pair<std::string, float>("anger", -0.5f)));
  EXPECT_EQ(m.terms[2], (std::pair<std::string, float>("fear", 1.0f)));
  EXPECT_EQ(to_string(m), "joy=1.5,anger=-0.5,fear=1");
  // A vector of another model's width.
  const EmotionVector wide = make_emotion_vector("joy", ActivationSite::AttentionOut, 30, 896);
  const auto& h = smollm2().hparams();
  EXPECT_THROW(Steering::single(wide, 1.0f, h.n_layer, h.n_embd), Error);
}

// The mean over the capture positions of one prompt's site activations, computed alone.
std::vector<double> mean_alone(const std::vector<int32_t>& prompt, int64_t from, int reply,
                               ActivationSite site) {
  struct Mean : ActivationHook {
    ActivationSite site;
    int64_t from;
    std::vector<double> sum;
    std::vector<int64_t> count;
    bool wants(int32_t, ActivationSite s) const override { return s == site; }
    void on_activation(const ActivationView& v) override {
      for (int64_t r = 0; r < v.n_rows; ++r) {
        if (v.first_position + r < from) continue;
        for (int64_t i = 0; i < v.width; ++i) {
          sum[static_cast<size_t>(v.layer * v.width + i)] += v.rows[r * v.width + i];
        }
        ++count[static_cast<size_t>(v.layer)];
      }
    }
  };
  const auto& h = smollm2().hparams();
  Mean m;
  m.site = site;
  m.from = from;
  m.sum.assign(static_cast<size_t>(h.n_layer * h.n_embd), 0.0);
  m.count.assign(static_cast<size_t>(h.n_layer), 0);
  Engine engine(smollm2(), {.n_threads = 2, .exact = true});
  Generator g(engine);
  GenerateOptions o;
  o.n_predict = reply;
  o.sampling.temperature = 0;
  o.hook = &m;
  g.run(prompt, o);
  for (int64_t l = 0; l < h.n_layer; ++l) {
    for (int64_t i = 0; i < h.n_embd; ++i) {
      m.sum[static_cast<size_t>(l * h.n_embd + i)] /=
          static_cast<double>(m.count[static_cast<size_t>(l)]);
    }
  }
  return m.sum;
}

// Extraction's vectors against the mean differences of each prompt run alone; `tokens` gets the
// number of tokens the extraction evaluated.
void expect_extraction_matches_independent_means(const std::string& mode, const QuerySet& set,
                                                 int64_t max_queries, int64_t batch_sequences,
                                                 int64_t* tokens = nullptr) {
  Engine engine(smollm2(), {.n_threads = 2, .exact = true});
  ExtractOptions o;
  o.mode = mode;
  o.emotions = {"joy", "fear"};
  o.max_queries = max_queries;
  o.held_out = 0;
  o.reply_tokens = 6;
  o.site = ActivationSite::Residual;
  o.batch_sequences = batch_sequences;
  const ExtractResult r = extract_emotion_vectors(engine, set, o);
  if (tokens != nullptr) *tokens = r.n_tokens;
  ASSERT_EQ(r.vectors.size(), 3u);
  EXPECT_EQ(r.vectors[2].emotion, "base");
  const auto& h = smollm2().hparams();
  const auto size = static_cast<size_t>(h.n_layer * h.n_embd);
  std::vector<std::vector<double>> expected(3, std::vector<double>(size, 0.0));
  for (const int64_t q : r.used) {
    const std::string& query = set.queries[static_cast<size_t>(q)];
    const auto prompt_mean = [&](const std::string& emotion) {
      const auto p = chat(instruction_for(o, query, emotion));
      const bool response = mode == "response";
      // Response mode: the last prompt token, then the reply tokens fed back (a greedy reply of
      // reply_tokens tokens feeds all but its last one).
      return mean_alone(p, static_cast<int64_t>(p.size()) - (response ? 1 : o.prompt_tokens),
                        response ? static_cast<int>(o.reply_tokens) : 0, o.site);
    };
    const auto neutral = prompt_mean("");
    const auto joy = prompt_mean("joy");
    const auto fear = prompt_mean("fear");
    const auto n = static_cast<double>(r.used.size());
    for (size_t i = 0; i < size; ++i) {
      expected[0][i] += (joy[i] - neutral[i]) / n;
      expected[1][i] += (fear[i] - neutral[i]) / n;
      expected[2][i] += ((joy[i] - neutral[i]) + (fear[i] - neutral[i])) / (2.0 * n);
    }
  }
  for (size_t k = 0; k < 3; ++k) {
    double worst = 0, scale = 0;
    for (size_t i = 0; i < size; ++i) {
      worst = std::max(worst, std::abs(r.vectors[k].directions[i] - expected[k][i]));
      scale = std::max(scale, std::abs(expected[k][i]));
    }
    EXPECT_LT(worst / scale, 2e-4) << r.vectors[k].emotion << " (" << mode << ")";
    EXPECT_GT(scale, 0.1);
  }
}

TEST(Extraction, PromptModeIsTheMeanDifferenceOfTheLastPromptTokens) {
  // Batches span queries.
  expect_extraction_matches_independent_means("prompt", queries(), 2, 4);
}

TEST(Extraction, ResponseModeIsTheMeanDifferenceOverTheReply) {
  expect_extraction_matches_independent_means("response", queries(), 2, 4);
}

// Prompts that share more than the template's prefix (an emotion word, then a query's first
// words) copy the cache of what they share from a prompt of the batch before: the vectors still
// equal each prompt run alone, and each distinct prompt prefix is evaluated once.
TEST(Extraction, PromptsSharingTheirFirstWordsEqualEachRunAlone) {
  const QuerySet set = make_query_set({"What is the best way to learn a new language quickly?",
                                       "What is the best way to cook rice?",
                                       "What is the capital of France?", "Why is the sky blue?"});
  ExtractOptions wording;
  std::set<std::vector<int32_t>> prefixes;  // of every prompt, past the part all prompts share
  std::vector<std::vector<int32_t>> prompts;
  for (const std::string& q : set.queries) {
    for (const std::string e : {"", "joy", "fear"}) {
      prompts.push_back(chat(instruction_for(wording, q, e)));
    }
  }
  size_t common = prompts[0].size();
  for (const auto& p : prompts) {
    common = std::min(
        common, static_cast<size_t>(
                    std::mismatch(p.begin(), p.end(), prompts[0].begin(), prompts[0].end()).first -
                    p.begin()));
  }
  int64_t one_by_one = 0;
  for (const auto& p : prompts) {
    one_by_one += static_cast<int64_t>(p.size() - common);
    for (size_t n = common + 1; n <= p.size(); ++n) prefixes.emplace(p.begin(), p.begin() + n);
  }
  // 12 prompts in batches of 3: three runs of four consecutive prompts in token order, one run
  // per kind (the emotion word comes first), so a run's first prompt evaluates the kind's prefix
  // and each other one only what it does not share with the one before.
  int64_t tokens = 0;
  expect_extraction_matches_independent_means("prompt", set, 0, 3, &tokens);
  // (The part all prompts share is evaluated once, first.)
  const auto once = static_cast<int64_t>(common);
  EXPECT_EQ(tokens, once + static_cast<int64_t>(prefixes.size()));
  EXPECT_LT(tokens, once + one_by_one - 24);
  expect_extraction_matches_independent_means("response", set, 0, 3);
}

TEST(Extraction, IsDeterministicAcrossThreadCountsAndPcaOfOneQueryIsItsDifference) {
  ExtractOptions o;
  o.mode = "prompt";
  o.max_queries = 3;
  o.emotions = {"anger", "sadness"};
  Engine one(smollm2(), {.n_threads = 1, .exact = true});
  Engine two(smollm2(), {.n_threads = 2, .exact = true});
  const ExtractResult a = extract_emotion_vectors(one, queries(), o);
  const ExtractResult b = extract_emotion_vectors(two, queries(), o);
  ASSERT_EQ(a.vectors.size(), b.vectors.size());
  for (size_t k = 0; k < a.vectors.size(); ++k) {
    EXPECT_TRUE(same(a.vectors[k].directions, b.vectors[k].directions)) << k;
  }
  // The checksum is the file's, as the model registry records it.
  EXPECT_EQ(a.vectors[0].provenance.model_sha256, shipped_model("smollm2-135m-instruct").sha256);
  EXPECT_EQ(a.vectors[0].provenance.n_queries, 3);
  EXPECT_EQ(a.held_out.size(), 90u);  // 20% of the 448 distinct queries
  // One query: the principal direction of a single difference is that difference.
  o.max_queries = 1;
  const ExtractResult mean = extract_emotion_vectors(two, queries(), o);
  o.method = "pca";
  const ExtractResult pca = extract_emotion_vectors(two, queries(), o);
  for (size_t k = 0; k < mean.vectors.size(); ++k) {
    double worst = 0, scale = 0;
    for (size_t i = 0; i < mean.vectors[k].directions.size(); ++i) {
      worst = std::max(worst, static_cast<double>(std::abs(mean.vectors[k].directions[i] -
                                                           pca.vectors[k].directions[i])));
      scale = std::max(scale, static_cast<double>(std::abs(mean.vectors[k].directions[i])));
    }
    // The base vector pools two differences, so only the emotions' vectors are single rows.
    if (mean.vectors[k].emotion != "base") {
      EXPECT_LT(worst / scale, 1e-4) << k;
    }
  }
}

TEST(Extraction, HeldOutQueriesDependOnlyOnTheQueries) {
  std::vector<std::string> raw = queries().queries;
  const auto ids = held_out_queries(queries(), 0.2);
  std::vector<std::string> held;
  for (const int64_t i : ids) held.push_back(raw[static_cast<size_t>(i)]);
  std::reverse(raw.begin(), raw.end());
  raw.push_back(raw.front());  // a duplicate is dropped
  const QuerySet reversed = make_query_set(raw);
  EXPECT_EQ(reversed.queries.size(), queries().queries.size());
  std::vector<std::string> held2;
  for (const int64_t i : held_out_queries(reversed, 0.2)) {
    held2.push_back(reversed.queries[static_cast<size_t>(i)]);
  }
  std::sort(held.begin(), held.end());
  std::sort(held2.begin(), held2.end());
  EXPECT_EQ(held, held2);
  EXPECT_EQ(queries().n_read, 500);
  EXPECT_EQ(queries().queries.size(), 448u);
}

// The shipped vectors steer: on held-out queries the replies generated under alpha * EV lean
// further along the EV (read back unsteered) as alpha goes -1, 0, 1, 2, for every emotion.
TEST(ShippedVectors, ReplyProjectionRisesWithAlphaOnHeldOutQueries) {
  const auto shipped =
      load_emotion_vectors({std::string(EMOVEC_SOURCE_DIR) + "/vectors/smollm2-135m-instruct"});
  ASSERT_EQ(shipped.size(), 6u);
  const auto& h = smollm2().hparams();
  std::vector<std::string> held;
  for (const int64_t id : shipped.front().provenance.held_out) {
    if (held.size() == 12) break;
    held.push_back(queries().queries[static_cast<size_t>(id)]);
  }
  ASSERT_EQ(held.size(), 12u);
  EXPECT_EQ(shipped.front().provenance.queries_sha256, queries().sha256);
  Engine engine(smollm2(), {.n_threads = 2, .exact = true});
  ProjectionOptions o;
  o.reply_tokens = 24;
  for (const EmotionVector& v : shipped) {
    check_vector_fits(v, h.n_layer, h.n_embd, v.emotion);
    EXPECT_EQ(v.provenance.model_sha256, shipped_model("smollm2-135m-instruct").sha256);
    const auto p = reply_projections(engine, v, held, {-1.0f, 0.0f, 1.0f, 2.0f}, o);
    std::printf("%-8s projection at alpha -1, 0, 1, 2: %.3f %.3f %.3f %.3f\n", v.emotion.c_str(),
                p[0], p[1], p[2], p[3]);
    for (size_t i = 1; i < p.size(); ++i) EXPECT_GT(p[i], p[i - 1]) << v.emotion << " step " << i;
  }
}

// Every folder of vectors/ is named after a shipped model and holds vectors for that model: the
// five emotions and base, the model's layer count and width, its weights' checksum, the shipped
// queries with their held-out share recorded.
TEST(ShippedVectors, EachFolderFitsTheModelItIsNamedAfter) {
  namespace fs = std::filesystem;
  int folders = 0;
  for (const auto& entry : fs::directory_iterator(std::string(EMOVEC_SOURCE_DIR) + "/vectors")) {
    if (!entry.is_directory()) continue;
    ++folders;
    const std::string name = entry.path().filename().string();
    const ShippedModel& m = shipped_model(name);  // throws for a folder named after no model
    const auto model = DecoderModel::load(testing::model_path(name));
    const auto& h = model->hparams();
    std::vector<std::string> emotions;
    for (const EmotionVector& v : load_emotion_vectors({entry.path().string()})) {
      check_vector_fits(v, h.n_layer, h.n_embd, name + "/" + v.emotion);
      EXPECT_EQ(v.provenance.model_sha256, m.sha256) << name << "/" << v.emotion;
      EXPECT_EQ(v.provenance.queries_sha256, queries().sha256) << name << "/" << v.emotion;
      EXPECT_FALSE(v.provenance.held_out.empty()) << name << "/" << v.emotion;
      emotions.push_back(v.emotion);
    }
    std::sort(emotions.begin(), emotions.end());
    EXPECT_EQ(emotions,
              (std::vector<std::string>{"anger", "base", "disgust", "fear", "joy", "sadness"}))
        << name;
  }
  EXPECT_GE(folders, 2);
}

}  // namespace
}  // namespace emovec
