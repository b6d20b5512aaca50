// Continuous batching on the default model: with a batch-invariant engine a sequence's logits do
// not depend on what else is in the batch (checked bit for bit past the 16 rows where products
// would otherwise switch kernels), so the scheduler gives every job the reply it gets alone,
// whatever joins or leaves meanwhile; a prompt fed in parts is steered once; cancelled jobs free
// their slot; a full queue and bad jobs are refused.
#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstring>
#include <limits>
#include <memory>
#include <string>
#include <vector>

#include "emovec/chat_template.h"
#include "emovec/decoder.h"
#include "emovec/engine.h"
#include "emovec/error.h"
#include "emovec/extract.h"
#include "emovec/generate.h"
#include "emovec/scheduler.h"
#include "emovec/steering.h"
#include "support/test_support.h"

namespace emovec {
namespace {

const DecoderModel& smollm2() {
  static const auto model = DecoderModel::load(testing::model_path("smollm2-135m-instruct"));
  return *model;
}

// The shipped vectors of the default model.
const std::vector<EmotionVector>& shipped() {
  static const auto v =
      load_emotion_vectors({std::string(EMOVEC_SOURCE_DIR) + "/vectors/smollm2-135m-instruct"});
  return v;
}

std::shared_ptr<const Steering> mix(const std::string& spec,
                                    SteeringPositions positions = SteeringPositions::Last) {
  if (spec.empty()) return nullptr;
  const auto& h = smollm2().hparams();
  SteeringOptions o;
  o.positions = positions;
  return std::make_shared<Steering>(
      Steering::build(parse_emotion_mix(spec), shipped(), h.n_layer, h.n_embd, o));
}

std::vector<int32_t> chat(const std::string& text) {
  return tokenize_chat(smollm2(), {ChatMessage{"user", text}});
}

bool same(std::span<const float> a, std::span<const float> b) {
  return a.size() == b.size() && std::memcmp(a.data(), b.data(), a.size() * sizeof(float)) == 0;
}

int32_t argmax(std::span<const float> row) {
  return static_cast<int32_t>(std::max_element(row.begin(), row.end()) - row.begin());
}

const std::vector<std::string>& questions() {
  static const std::vector<std::string> q = {
      "How was your weekend?",          "What do you think of rainy days?",
      "Tell me about your neighbour.",  "What happened at work today?",
      "How do you feel about spiders?", "Describe your favourite meal.",
      "What is your commute like?",     "Did you see the game last night?",
  };
  return q;
}

const std::vector<std::string>& mixes() {
  static const std::vector<std::string> m = {
      "",       "joy=2",    "anger=2",          "sadness=1.5,fear=1", "disgust=1.5",
      "joy=-1", "fear=2.5", "anger=0.5,joy=0.5"};
  return m;
}

EngineOptions invariant(bool exact = false) {
  EngineOptions o;
  o.n_threads = 2;
  o.n_ctx = 1024;
  o.exact = exact;
  o.batch_invariant = true;
  return o;
}

// Twenty sequences decoding together (past the 16 rows where products would switch to SGEMM)
// give each sequence the same logits, bit for bit, as decoding it alone; on both paths.
void check_decoding_steps_are_batch_invariant(bool exact) {
  Engine engine(smollm2(), invariant(exact));
  constexpr size_t kSequences = 20;
  constexpr int kSteps = 3;
  std::vector<std::vector<int32_t>> prompts;
  std::vector<std::shared_ptr<const Steering>> steerings;
  std::vector<std::unique_ptr<SteeringHook>> hooks;
  for (size_t i = 0; i < kSequences; ++i) {
    prompts.push_back(chat(questions()[i % questions().size()]));
    steerings.push_back(mix(mixes()[i % mixes().size()]));
  }
  const auto hook_for = [&](size_t i) -> std::unique_ptr<SteeringHook> {
    return steerings[i] ? std::make_unique<SteeringHook>(*steerings[i]) : nullptr;
  };
  // Alone: each prompt, then greedy steps, one sequence at a time.
  std::vector<std::vector<std::vector<float>>> alone(kSequences);
  for (size_t i = 0; i < kSequences; ++i) {
    const auto hook = hook_for(i);
    const SequenceId s = engine.new_sequence();
    BatchEntry e{s, prompts[i], false, hook.get()};
    Logits l = engine.decode(std::span<const BatchEntry>(&e, 1));
    if (hook) hook->on_generation_start(static_cast<int64_t>(prompts[i].size()));
    for (int k = 0; k < kSteps; ++k) {
      const int32_t next = argmax(l.last(0));
      e = BatchEntry{s, std::span<const int32_t>(&next, 1), false, hook.get()};
      l = engine.decode(std::span<const BatchEntry>(&e, 1));
      alone[i].emplace_back(l.last(0).begin(), l.last(0).end());
    }
    engine.free_sequence(s);
  }
  // Together: prompts alone (as the scheduler does), then every step in one batch.
  std::vector<SequenceId> ids;
  std::vector<int32_t> next(kSequences);
  for (size_t i = 0; i < kSequences; ++i) {
    hooks.push_back(hook_for(i));
    ids.push_back(engine.new_sequence());
    const BatchEntry e{ids.back(), prompts[i], false, hooks[i].get()};
    const Logits l = engine.decode(std::span<const BatchEntry>(&e, 1));
    next[i] = argmax(l.last(0));
    if (hooks[i]) hooks[i]->on_generation_start(static_cast<int64_t>(prompts[i].size()));
  }
  int differing = 0;
  for (int k = 0; k < kSteps; ++k) {
    std::vector<BatchEntry> batch;
    for (size_t i = 0; i < kSequences; ++i) {
      batch.push_back({ids[i], std::span<const int32_t>(&next[i], 1), false, hooks[i].get()});
    }
    const Logits l = engine.decode(batch);
    for (size_t i = 0; i < kSequences; ++i) {
      const bool equal = same(l.last(i), alone[i][static_cast<size_t>(k)]);
      differing += equal ? 0 : 1;
      EXPECT_TRUE(equal) << "sequence " << i << " step " << k << " differs from alone";
      next[i] = argmax(l.last(i));
    }
  }
  EXPECT_EQ(differing, 0);
  for (const SequenceId id : ids) engine.free_sequence(id);
}

TEST(BatchInvariance, TwentySequencesDecodeBitIdenticalToAloneOnTheDefaultPath) {
  check_decoding_steps_are_batch_invariant(false);
}

TEST(BatchInvariance, TwentySequencesDecodeBitIdenticalToAloneOnTheExactPath) {
  check_decoding_steps_are_batch_invariant(true);
}

// A prompt fed in two calls, the first marked more_follows, is steered at its last position only,
// as when fed in one call; without the mark the end of the first part is steered too.
TEST(BatchInvariance, PromptInPartsIsSteeredOnceAtItsEnd) {
  Engine engine(smollm2(), {.n_threads = 2, .exact = true});
  const auto steering = mix("anger=3");
  const std::vector<int32_t> prompt =
      chat("Tell me a long story about a lighthouse keeper and the storm that changed his life.");
  ASSERT_GT(prompt.size(), 20u);
  const size_t cut = prompt.size() / 2;
  const auto last_logits = [&](bool parts, bool mark) {
    SteeringHook hook(*steering);
    const SequenceId s = engine.new_sequence();
    std::vector<float> out;
    if (!parts) {
      const BatchEntry e{s, prompt, false, &hook};
      const Logits l = engine.decode(std::span<const BatchEntry>(&e, 1));
      out.assign(l.last(0).begin(), l.last(0).end());
    } else {
      BatchEntry first{s, std::span<const int32_t>(prompt.data(), cut), false, &hook};
      first.logits = false;
      first.more_follows = mark;
      engine.decode(std::span<const BatchEntry>(&first, 1));
      const BatchEntry rest{s, std::span<const int32_t>(prompt.data() + cut, prompt.size() - cut),
                            false, &hook};
      const Logits l = engine.decode(std::span<const BatchEntry>(&rest, 1));
      out.assign(l.last(0).begin(), l.last(0).end());
    }
    engine.free_sequence(s);
    return out;
  };
  const auto whole = last_logits(false, false);
  const auto marked = last_logits(true, true);
  const auto unmarked = last_logits(true, false);
  const double d_marked = testing::max_relative_difference(marked, whole);
  const double d_unmarked = testing::max_relative_difference(unmarked, whole);
  std::printf("in parts, marked: %.2e; unmarked: %.2e\n", d_marked, d_unmarked);
  EXPECT_LT(d_marked, 1e-5);
  EXPECT_GT(d_unmarked, 1e-3);
}

struct Reply {
  std::vector<int32_t> tokens;
  std::string text;
  std::string streamed;
  std::string finish;
};

JobRequest request(size_t i, int n_predict = 24) {
  JobRequest r;
  r.prompt = chat(questions()[i % questions().size()]);
  r.options.n_predict = n_predict;
  r.options.sampling.temperature = 0;
  r.steering = mix(mixes()[i % mixes().size()]);
  return r;
}

Reply collect(Job& job) {
  Reply r;
  for (;;) {
    const Job::Wait w = job.wait_text(r.streamed, std::chrono::milliseconds(1000));
    if (w == Job::Wait::Finished) break;
  }
  const GenerateResult g = job.wait_result();
  r.tokens = g.tokens;
  r.text = g.text;
  r.finish = g.finish_reason;
  return r;
}

// Jobs with eight different mixes give the same reply whether run alone, all submitted at once
// (four at a time, the rest queued and joining as slots free), or joining a running batch.
TEST(Scheduler, EveryJobGetsTheReplyItGetsAloneWhateverElseRuns) {
  Engine engine(smollm2(), invariant());
  Scheduler scheduler(engine, {.max_parallel = 4, .max_queue = 16});
  constexpr size_t kJobs = 8;
  std::vector<Reply> alone;
  for (size_t i = 0; i < kJobs; ++i) {
    alone.push_back(collect(*scheduler.submit(request(i))));
    EXPECT_EQ(alone.back().text, alone.back().streamed);
    EXPECT_FALSE(alone.back().tokens.empty());
  }
  // The mixes matter: the steered replies are not all the unsteered one.
  int differ_from_neutral = 0;
  for (size_t i = 1; i < kJobs; ++i) differ_from_neutral += alone[i].text != alone[0].text;
  EXPECT_GE(differ_from_neutral, 5);

  std::vector<std::shared_ptr<Job>> jobs;
  for (size_t i = 0; i < kJobs; ++i) jobs.push_back(scheduler.submit(request(i)));
  for (size_t i = 0; i < kJobs; ++i) {
    const Reply r = collect(*jobs[i]);
    EXPECT_EQ(r.tokens, alone[i].tokens) << "job " << i << " submitted with the others";
    EXPECT_EQ(r.streamed, alone[i].text);
  }
  // Staggered: later jobs join while the first ones are half way.
  jobs.clear();
  for (size_t i = 0; i < kJobs; ++i) {
    jobs.push_back(scheduler.submit(request(kJobs - 1 - i)));
    std::string ignored;
    if (i % 3 == 0) jobs.front()->wait_text(ignored, std::chrono::milliseconds(300));
  }
  for (size_t i = 0; i < kJobs; ++i) {
    const Reply r = collect(*jobs[i]);
    EXPECT_EQ(r.tokens, alone[kJobs - 1 - i].tokens) << "job " << kJobs - 1 - i << " staggered";
  }
  const Scheduler::Stats stats = scheduler.stats();
  EXPECT_EQ(stats.active, 0);
  EXPECT_EQ(stats.completed, 3 * kJobs);
  uint64_t generated = 0, prompts = 0;
  for (size_t i = 0; i < kJobs; ++i) {
    generated += alone[i].tokens.size();
    prompts += request(i).prompt.size();
  }
  EXPECT_EQ(stats.tokens_generated, 3 * generated);
  EXPECT_EQ(stats.prompt_tokens, 3 * prompts);
  EXPECT_GT(stats.prefill_seconds, 0.0);
  EXPECT_GT(stats.decode_seconds, 0.0);
}

// A job's reply is Generator's for the same prompt and options on the same engine.
TEST(Scheduler, ReplyEqualsTheGeneratorsAlone) {
  Engine engine(smollm2(), invariant());
  Scheduler scheduler(engine, {.max_parallel = 2});
  for (size_t i = 0; i < 3; ++i) {
    JobRequest r = request(i, 20);
    r.options.sampling.temperature = 0.9f;
    r.options.sampling.seed = 1234 + i;
    r.options.stop = {"\n\n"};
    GenerateOptions o = r.options;
    const std::shared_ptr<const Steering> steering = r.steering;
    std::unique_ptr<SteeringHook> hook;
    if (steering) hook = std::make_unique<SteeringHook>(*steering);
    o.hook = hook.get();
    const std::vector<int32_t> prompt = r.prompt;
    const Reply got = collect(*scheduler.submit(std::move(r)));
    Generator g(engine);
    const GenerateResult want = g.run(prompt, o);
    EXPECT_EQ(got.tokens, want.tokens) << "job " << i;
    EXPECT_EQ(got.text, want.text);
    EXPECT_EQ(got.finish, want.finish_reason);
  }
}

// With cache_prompt, a conversation's next turn takes the keys and values its earlier turn left
// and evaluates only the rest, as Generator does across turns (the same positions re-used, the
// same reply); steered positions are not re-used; without cache_prompt nothing is; the cache
// keeps at most max_parallel sequences (or prompt_cache when set), the oldest dropped.
TEST(Scheduler, PromptCacheRepliesAsGeneratorAcrossTurns) {
  Engine engine(smollm2(), invariant());
  const std::shared_ptr<const Steering> all_positions = mix("sadness=2", SteeringPositions::All);
  struct Case {
    const char* name;
    std::shared_ptr<const Steering> turn1, turn2;
    bool cache_prompt = true;
    const char* evicted_by = nullptr;  // a question asked in between, by another client
    int prompt_cache = -1;             // SchedulerOptions::prompt_cache
  };
  const std::vector<Case> cases = {
      {"unsteered", nullptr, nullptr},
      {"joy, then anger", mix("joy=2"), mix("anger=2")},
      {"unsteered, then all positions", nullptr, all_positions},
      {"without cache_prompt", nullptr, nullptr, false},
      {"evicted", nullptr, nullptr, true, "Did you see the game last night?"},
      {"kept beside another (prompt cache of 2)", nullptr, nullptr, true,
       "Did you see the game last night?", 2},
      {"nothing kept (prompt cache of 0)", nullptr, nullptr, true, nullptr, 0},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.name);
    Scheduler scheduler(engine, {.max_parallel = 1, .prompt_cache = c.prompt_cache});
    Generator g(engine);
    uint64_t from_cache = 0;
    // `alone`: the Generator (one cached sequence) sees this turn too; the other client's
    // question is kept from it when the scheduler's cache holds two sequences.
    const auto turn = [&](const std::vector<int32_t>& prompt,
                          const std::shared_ptr<const Steering>& steering, bool alone = true) {
      JobRequest r;
      r.prompt = prompt;
      r.options.n_predict = 12;
      r.options.sampling.temperature = 0;
      r.steering = steering;
      r.cache_prompt = c.cache_prompt;
      const GenerateResult got = scheduler.submit(r)->wait_result();
      from_cache += static_cast<uint64_t>(got.n_cached);
      if (!alone) return got;
      std::unique_ptr<SteeringHook> hook;
      if (steering) hook = std::make_unique<SteeringHook>(*steering);
      GenerateOptions o = r.options;
      o.hook = hook.get();
      const GenerateResult want = g.run(prompt, o);
      EXPECT_EQ(got.tokens, want.tokens);
      EXPECT_EQ(got.n_cached + got.n_prompt, static_cast<int64_t>(prompt.size()));
      if (c.cache_prompt && c.prompt_cache != 0) {
        EXPECT_EQ(got.n_cached, want.n_cached);
      } else {
        EXPECT_EQ(got.n_cached, 0);
      }
      return got;
    };
    const ChatMessage first{"user", "What do you think of rainy days?"};
    const std::vector<int32_t> p1 = tokenize_chat(smollm2(), {first});
    const GenerateResult r1 = turn(p1, c.turn1);
    EXPECT_EQ(r1.n_cached, 0);
    if (c.evicted_by != nullptr) turn(chat(c.evicted_by), nullptr, c.prompt_cache < 2);
    const std::vector<int32_t> p2 = tokenize_chat(
        smollm2(), {first, ChatMessage{"assistant", r1.text}, ChatMessage{"user", "Why?"}});
    const GenerateResult r2 = turn(p2, c.turn2);
    std::printf("%s: %lld of %zu prompt tokens from the cache\n", c.name,
                static_cast<long long>(r2.n_cached), p2.size());
    const auto n1 = static_cast<int64_t>(p1.size());
    if (c.turn2 == all_positions || !c.cache_prompt || c.prompt_cache == 0) {
      EXPECT_EQ(r2.n_cached, 0);
    } else if (c.turn1 || c.turn2) {
      EXPECT_EQ(r2.n_cached, n1 - 1);  // the first turn's last prompt token was steered
    } else if (c.evicted_by != nullptr && c.prompt_cache < 2) {
      EXPECT_GT(r2.n_cached, 0);  // the chat template's start, shared with the other question
      EXPECT_LT(r2.n_cached, n1 - 8);
    } else {
      EXPECT_GT(r2.n_cached, n1);  // the first turn and part of its reply
    }
    EXPECT_EQ(scheduler.stats().prompt_tokens_cached, from_cache);
  }
}

TEST(Scheduler, CancelledJobEndsAndFreesItsSlot) {
  Engine engine(smollm2(), invariant());
  Scheduler scheduler(engine, {.max_parallel = 1, .max_queue = 4});
  JobRequest long_job = request(0, 900);
  long_job.options.ignore_eos = true;
  const auto job = scheduler.submit(std::move(long_job));
  std::string text;
  while (text.empty()) job->wait_text(text, std::chrono::milliseconds(1000));
  job->cancel();
  const GenerateResult r = job->wait_result();
  EXPECT_EQ(r.finish_reason, "cancelled");
  EXPECT_LT(r.tokens.size(), 900u);
  // The one slot is free again: the next job completes.
  const Reply next = collect(*scheduler.submit(request(1, 8)));
  EXPECT_EQ(next.tokens.size(), 8u);
}

TEST(Scheduler, FullQueueAndBadJobsAreRefused) {
  Engine engine(smollm2(), invariant());
  Scheduler scheduler(engine, {.max_parallel = 1, .max_queue = 1});
  std::vector<std::shared_ptr<Job>> jobs;
  for (int i = 0; i < 2; ++i) {
    JobRequest r = request(static_cast<size_t>(i), 600);
    r.options.ignore_eos = true;
    jobs.push_back(scheduler.submit(std::move(r)));
  }
  EXPECT_THROW(scheduler.submit(request(2)), QueueFull);
  for (auto& j : jobs) j->cancel();
  for (auto& j : jobs) EXPECT_EQ(j->wait_result().finish_reason, "cancelled");

  JobRequest empty;
  EXPECT_THROW(scheduler.submit(std::move(empty)), Error);
  JobRequest too_long = request(0);
  too_long.prompt.assign(static_cast<size_t>(engine.n_ctx()), too_long.prompt[0]);
  EXPECT_THROW(scheduler.submit(std::move(too_long)), Error);
  JobRequest bad_sampling = request(0);
  bad_sampling.options.sampling.temperature = std::numeric_limits<float>::quiet_NaN();
  EXPECT_THROW(scheduler.submit(std::move(bad_sampling)), Error);

  // No tokens asked: the prompt is evaluated, the reply is empty.
  const Reply none = collect(*scheduler.submit(request(3, 0)));
  EXPECT_TRUE(none.tokens.empty());
  EXPECT_EQ(none.finish, "length");
}

// Replies that reach the end of the context stop there with finish reason "context".
TEST(Scheduler, ReplyStopsAtTheContext) {
  EngineOptions o = invariant();
  o.n_ctx = 64;
  Engine engine(smollm2(), o);
  Scheduler scheduler(engine, {.max_parallel = 2});
  JobRequest r = request(0, -1);
  r.options.ignore_eos = true;
  const size_t n_prompt = r.prompt.size();
  const Reply got = collect(*scheduler.submit(std::move(r)));
  EXPECT_EQ(got.finish, "context");
  // Every position is used: the last token comes from the logits of position 63 and needs none.
  EXPECT_EQ(n_prompt + got.tokens.size(), 65u);
}

}  // namespace
}  // namespace emovec
