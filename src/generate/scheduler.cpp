#include "emovec/scheduler.h"

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <deque>
#include <mutex>
#include <thread>

#include "emovec/decoder.h"
#include "generate/prefix_reuse.h"

namespace emovec {
namespace {

using Clock = std::chrono::steady_clock;

double seconds_since(Clock::time_point t) {
  return std::chrono::duration<double>(Clock::now() - t).count();
}

}  // namespace

struct Job::State {
  std::mutex mutex;
  std::condition_variable changed;
  std::string pending;  // released text not read yet
  bool finished = false;
  std::string error;  // set when the job failed
  GenerateResult result;
  std::atomic<bool> cancel_requested{false};

  int text_waiters = 0;  // readers in wait_text: only they need waking for text

  void push(const std::string& text) {
    if (text.empty()) return;
    bool wake = false;
    {
      const std::lock_guard lock(mutex);
      pending += text;
      wake = text_waiters > 0;
    }
    if (wake) changed.notify_all();
  }
  void finish(GenerateResult r, std::string err) {
    {
      const std::lock_guard lock(mutex);
      result = std::move(r);
      error = std::move(err);
      finished = true;
    }
    changed.notify_all();
  }
};

Job::Job(std::shared_ptr<State> state) : state_(std::move(state)) {}

Job::Wait Job::wait_text(std::string& out, std::chrono::milliseconds timeout) {
  State& s = *state_;
  std::unique_lock lock(s.mutex);
  ++s.text_waiters;
  s.changed.wait_for(lock, timeout, [&] { return !s.pending.empty() || s.finished; });
  --s.text_waiters;
  if (!s.pending.empty()) {
    out += s.pending;
    s.pending.clear();
    return Wait::Text;
  }
  return s.finished ? Wait::Finished : Wait::Timeout;
}

GenerateResult Job::wait_result() {
  State& s = *state_;
  std::unique_lock lock(s.mutex);
  s.changed.wait(lock, [&] { return s.finished; });
  if (!s.error.empty()) throw Error(s.error);
  return s.result;
}

void Job::cancel() { state_->cancel_requested = true; }
bool Job::cancelled() const { return state_->cancel_requested; }

struct Scheduler::Impl {
  struct Pending {
    JobRequest request;
    std::unique_ptr<ReplyState> reply;
    std::shared_ptr<Job::State> state;
  };
  struct Slot {
    Pending job;
    SequenceId sequence = 0;
    std::unique_ptr<SteeringHook> hook;
    int64_t prefilled = 0;  // prompt tokens evaluated or taken from the prompt cache
    int64_t reused = 0;     // ... of which taken from the prompt cache
    bool decoding = false;  // the prompt is done; next_token waits to be evaluated
    int32_t next = 0;
    Clock::time_point started;
    Clock::time_point decode_started;
    double prefill_seconds = 0;
  };

  Impl(Engine& e, const SchedulerOptions& o) : engine(e), options(o) {
    worker = std::thread([this] { run(); });
  }

  ~Impl() {
    shutdown();
    worker.join();
  }

  void shutdown() {
    {
      const std::lock_guard lock(mutex);
      stopping = true;
    }
    wake.notify_all();
  }

  void run() {
    for (;;) {
      {
        std::unique_lock lock(mutex);
        wake.wait(lock, [&] { return stopping || !queue.empty() || !slots.empty(); });
        if (stopping) break;
        while (static_cast<int>(slots.size()) < options.max_parallel && !queue.empty()) {
          Slot slot;
          slot.job = std::move(queue.front());
          queue.pop_front();
          slots.push_back(std::move(slot));
          ++active_count;
        }
      }
      try {
        step();
      } catch (const std::exception& e) {
        // A failure that is no one job's: every running job ends with it.
        for (Slot& s : slots) end(s, e.what());
        slots.clear();
      }
    }
    for (Slot& s : slots) end(s, "the server is stopping");
    slots.clear();
    for (const Cached& c : cache) engine.free_sequence(c.sequence);
    cache.clear();
    const std::lock_guard lock(mutex);
    for (Pending& p : queue) p.state->finish({}, "the server is stopping");
    queue.clear();
  }

  // One round: drop cancelled jobs, evaluate (part of) one new prompt, one decoding step for
  // every running reply.
  void step() {
    for (Slot& s : slots) {
      if (s.job.state->cancel_requested) {
        s.job.reply->cancel();
        end(s, {});
      }
    }
    erase_ended();

    const auto waiting =
        std::find_if(slots.begin(), slots.end(), [](const Slot& s) { return !s.decoding; });
    if (waiting != slots.end()) prefill(*waiting);
    erase_ended();

    std::vector<BatchEntry> entries;
    std::vector<Slot*> stepping;
    for (Slot& s : slots) {
      if (!s.decoding) continue;
      BatchEntry b;
      b.sequence = s.sequence;
      b.tokens = std::span<const int32_t>(&s.next, 1);
      b.hook = s.hook.get();
      entries.push_back(b);
      stepping.push_back(&s);
    }
    if (entries.empty()) return;
    const auto t0 = Clock::now();
    const Logits logits = engine.decode(entries);
    for (size_t i = 0; i < stepping.size(); ++i) {
      Slot& s = *stepping[i];
      advance(s, logits.last(i));
    }
    add_time(decode_ns, t0);
    erase_ended();
  }

  // Evaluates the next part of a slot's prompt (at most the engine's pass size), in a pass of
  // its own; after the last part, samples the reply's first token.
  void prefill(Slot& s) {
    const std::vector<int32_t>& prompt = s.job.request.prompt;
    try {
      if (s.sequence == 0) {
        s.started = Clock::now();
        if (s.job.request.steering && !s.job.request.steering->empty()) {
          s.hook = std::make_unique<SteeringHook>(*s.job.request.steering);
        }
        if (s.job.request.cache_prompt) take_cached(s);
        if (s.sequence == 0) s.sequence = engine.new_sequence();
      }
      const auto total = static_cast<int64_t>(prompt.size());
      const int64_t n = std::min<int64_t>(kPromptPart, total - s.prefilled);
      BatchEntry b;
      b.sequence = s.sequence;
      b.tokens = std::span<const int32_t>(prompt.data() + s.prefilled, static_cast<size_t>(n));
      b.hook = s.hook.get();
      b.prompt = true;
      const bool last = s.prefilled + n == total;
      b.logits = last;
      b.more_follows = !last;
      const auto t0 = Clock::now();
      const Logits logits = engine.decode(std::span<const BatchEntry>(&b, 1));
      add_time(prefill_ns, t0);
      prompt_tokens += static_cast<uint64_t>(n);
      s.prefilled += n;
      if (!last) return;
      s.prefill_seconds = seconds_since(s.started);
      if (s.hook) s.hook->on_generation_start(total);
      s.decode_started = Clock::now();
      s.decoding = true;
      if (s.job.reply->done()) {  // nothing to generate (max tokens 0)
        end(s, {});
        return;
      }
      advance(s, logits.last(0));
    } catch (const std::exception& e) {
      end(s, e.what());
    }
  }

  void advance(Slot& s, std::span<const float> logits) {
    ReplyState& reply = *s.job.reply;
    const size_t before = reply.result().tokens.size();
    const std::string text = reply.step(logits, engine.sequence_length(s.sequence));
    tokens_generated += reply.result().tokens.size() - before;
    s.job.state->push(text);
    if (reply.done()) {
      end(s, {});
    } else {
      s.next = reply.next_token();
    }
  }

  // The cached sequence whose positions the slot's prompt can re-use most of, if any: a prompt
  // that continues it (re-uses at least half of its positions) takes it over, cut to those
  // positions; one that shares less (another conversation that starts with the same chat
  // template) gets a copy of the shared positions, and the cached sequence stays for its own.
  void take_cached(Slot& s) {
    const std::vector<int32_t>& prompt = s.job.request.prompt;
    int64_t best = 0;
    size_t at = cache.size();
    for (size_t i = 0; i < cache.size(); ++i) {
      const int64_t n =
          detail::reusable_prefix(cache[i].tokens, cache[i].unhooked, prompt, s.hook.get());
      if (n > best) {
        best = n;
        at = i;
      }
    }
    if (at == cache.size()) return;
    if (2 * best >= static_cast<int64_t>(cache[at].tokens.size())) {
      s.sequence = cache[at].sequence;
      cache.erase(cache.begin() + static_cast<std::ptrdiff_t>(at));
      engine.truncate(s.sequence, best);
    } else {
      s.sequence = engine.fork_sequence(cache[at].sequence, best);
      cache[at].stored = ++cache_clock;  // used just now
    }
    s.prefilled = s.reused = best;
    prompt_tokens_cached += static_cast<uint64_t>(best);
  }

  // Keeps the sequence of a slot whose job asked for the prompt cache and got past its prompt
  // (`tokens`: its prompt and reply), or frees it.
  void keep_or_free(Slot& s, std::vector<int32_t> tokens) {
    const int64_t length = engine.sequence_length(s.sequence);
    const int64_t unhooked = detail::unhooked_after(
        length, s.reused, static_cast<int64_t>(s.job.request.prompt.size()), s.hook.get());
    const size_t limit =
        static_cast<size_t>(options.prompt_cache < 0 ? options.max_parallel : options.prompt_cache);
    if (tokens.empty() || length > static_cast<int64_t>(tokens.size()) || unhooked <= 0 ||
        limit == 0) {
      engine.free_sequence(s.sequence);
    } else {
      tokens.resize(static_cast<size_t>(length));
      cache.push_back({s.sequence, std::move(tokens), unhooked, ++cache_clock});
      if (cache.size() > limit) {
        const auto oldest =
            std::min_element(cache.begin(), cache.end(),
                             [](const Cached& a, const Cached& b) { return a.stored < b.stored; });
        engine.free_sequence(oldest->sequence);
        cache.erase(oldest);
      }
    }
    s.sequence = 0;
  }

  // Finishes a slot's job (with `error` when it failed) and frees its sequence, or keeps it in
  // the prompt cache.
  void end(Slot& s, std::string error) {
    if (s.job.state == nullptr) return;
    GenerateResult r = std::move(s.job.reply->result());
    r.n_cached = s.reused;
    r.n_prompt = static_cast<int64_t>(s.job.request.prompt.size()) - s.reused;
    // What the sequence holds, for the prompt cache (empty: nothing to keep).
    std::vector<int32_t> held;
    if (s.job.request.cache_prompt && error.empty() && s.decoding) {
      held = s.job.request.prompt;
      held.insert(held.end(), r.tokens.begin(), r.tokens.end());
    }
    r.prefill_seconds = s.prefill_seconds;
    if (s.decoding) r.decode_seconds = seconds_since(s.decode_started);
    {
      // Counted before the reader can see the end, so stats() agree with what it saw.
      const std::lock_guard lock(mutex);
      --active_count;
      ++completed;
    }
    s.job.state->finish(std::move(r), std::move(error));
    if (s.sequence != 0) keep_or_free(s, std::move(held));
    s.job.state.reset();
    s.decoding = false;
  }

  void erase_ended() {
    const auto gone = std::remove_if(slots.begin(), slots.end(),
                                     [](const Slot& s) { return s.job.state == nullptr; });
    slots.erase(gone, slots.end());
  }

  // Prompt tokens per pass: the engine's own pass size, so a long prompt is evaluated in the
  // same passes as when given to the engine in one call, while running replies keep stepping
  // between them.
  static constexpr int64_t kPromptPart = 512;

  Engine& engine;
  SchedulerOptions options;
  mutable std::mutex mutex;
  std::condition_variable wake;
  std::deque<Pending> queue;  // guarded by mutex
  int active_count = 0;       // guarded by mutex
  uint64_t completed = 0;     // guarded by mutex
  bool stopping = false;      // guarded by mutex
  std::atomic<uint64_t> tokens_generated{0};
  std::atomic<uint64_t> prompt_tokens{0};
  std::atomic<uint64_t> prompt_tokens_cached{0};
  std::atomic<int64_t> prefill_ns{0};
  std::atomic<int64_t> decode_ns{0};

  static void add_time(std::atomic<int64_t>& total, Clock::time_point since) {
    total += std::chrono::duration_cast<std::chrono::nanoseconds>(Clock::now() - since).count();
  }
  std::vector<Slot> slots;  // the worker's own
  // The prompt cache (the worker's own): finished jobs' sequences and what their positions hold.
  struct Cached {
    SequenceId sequence = 0;
    std::vector<int32_t> tokens;
    int64_t unhooked = 0;  // leading positions as evaluated without a hook
    uint64_t stored = 0;   // when (cache_clock)
  };
  std::vector<Cached> cache;
  uint64_t cache_clock = 0;
  std::thread worker;
};

Scheduler::Scheduler(Engine& engine, SchedulerOptions options) : options_(options) {
  if (options_.max_parallel < 1) throw Error("the scheduler needs at least one parallel slot");
  if (options_.max_queue < 0) throw Error("the scheduler's queue length cannot be negative");
  if (options_.prompt_cache < -1) {
    throw Error("the prompt cache's size must be -1 (the parallel slots), 0 (none) or positive");
  }
  impl_ = std::make_unique<Impl>(engine, options_);
}

Scheduler::~Scheduler() = default;

void Scheduler::shutdown() { impl_->shutdown(); }

std::shared_ptr<Job> Scheduler::submit(JobRequest request) {
  Engine& engine = impl_->engine;
  check_prompt_fits(request.prompt, engine.n_ctx());
  request.options.hook = nullptr;
  Impl::Pending p;
  p.reply =
      std::make_unique<ReplyState>(engine.model(), request.prompt, request.options, engine.n_ctx());
  p.request = std::move(request);
  p.state = std::make_shared<Job::State>();
  auto job = std::shared_ptr<Job>(new Job(p.state));
  {
    const std::lock_guard lock(impl_->mutex);
    if (impl_->stopping) throw Error("the server is stopping");
    const int running = impl_->active_count;
    const auto waiting = static_cast<int>(impl_->queue.size());
    if (running + waiting >= options_.max_parallel + options_.max_queue) {
      throw QueueFull("too many requests: " + std::to_string(running + waiting) +
                      " are running or waiting, the most there can be (" +
                      std::to_string(options_.max_parallel) + " in parallel and " +
                      std::to_string(options_.max_queue) + " queued); try again later");
    }
    impl_->queue.push_back(std::move(p));
  }
  impl_->wake.notify_all();
  return job;
}

Scheduler::Stats Scheduler::stats() const {
  Stats s;
  const std::lock_guard lock(impl_->mutex);
  s.active = impl_->active_count;
  s.queued = static_cast<int>(impl_->queue.size());
  s.completed = impl_->completed;
  s.tokens_generated = impl_->tokens_generated;
  s.prompt_tokens = impl_->prompt_tokens;
  s.prompt_tokens_cached = impl_->prompt_tokens_cached;
  s.prefill_seconds = static_cast<double>(impl_->prefill_ns.load()) * 1e-9;
  s.decode_seconds = static_cast<double>(impl_->decode_ns.load()) * 1e-9;
  return s;
}

}  // namespace emovec
