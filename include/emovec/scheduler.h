// Continuous batching: requests join a running batch as slots free up, each with its own
// steering, and stream their text as it forms. One worker thread owns the engine; any number of
// threads submit jobs and read their results.
//
// A job's output does not depend on what else runs: its prompt is evaluated in passes of its
// own, and decoding steps (one token per sequence) use the engine's batch-invariant kernels when
// the engine was made with EngineOptions::batch_invariant. (A job that asks for the prompt cache
// below depends, to float rounding, on what the cache holds.)
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "emovec/error.h"
#include "emovec/generate.h"
#include "emovec/steering.h"

namespace emovec {

struct SchedulerOptions {
  int max_parallel = 4;   // sequences decoded together
  int max_queue = 64;     // jobs waiting for a slot beyond those; more are refused
  int prompt_cache = -1;  // finished sequences the prompt cache keeps (-1: max_parallel; 0: none)
};
// Prompt cache: a job with cache_prompt leaves its sequence (prompt and reply) cached when it
// ends, up to prompt_cache sequences, the least recently used dropped first; a later job with
// cache_prompt takes the one it shares the longest prefix with and evaluates only the rest (a
// conversation's next turn re-evaluates only the new messages). Positions that steering changed,
// and everything after them, are never re-used (ActivationHook::first_position_seen), so a
// reply is what a fresh sequence gives for its prompt and mix, to float rounding: a pass over
// fewer tokens rounds differently, so the text can differ after a near-tie.

struct JobRequest {
  std::vector<int32_t> prompt;
  GenerateOptions options;                   // options.hook is not used: see `steering`
  std::shared_ptr<const Steering> steering;  // null: unsteered
  bool cache_prompt = false;                 // see the prompt cache above
};

// Thrown by Scheduler::submit when max_parallel jobs run and max_queue wait already.
class QueueFull : public Error {
 public:
  using Error::Error;
};

// One submitted job, shared by the worker and the thread that reads it.
class Job {
 public:
  enum class Wait : uint8_t { Text, Finished, Timeout };
  // Appends the text released since the last call to `out`. Returns Text when there was some,
  // Finished when the job has ended and all its text was read, Timeout when neither happened
  // within `timeout`.
  Wait wait_text(std::string& out, std::chrono::milliseconds timeout);
  // Blocks until the job ends; returns its result (throws Error if it failed).
  GenerateResult wait_result();
  // Stops the job at its next step (e.g. the client went away); its slot is freed.
  void cancel();
  bool cancelled() const;

 private:
  friend class Scheduler;
  struct State;
  explicit Job(std::shared_ptr<State> state);
  std::shared_ptr<State> state_;
};

class Scheduler {
 public:
  Scheduler(Engine& engine, SchedulerOptions options = {});
  ~Scheduler();  // cancels what runs and waits; jobs left fail with "the server is stopping"
  Scheduler(const Scheduler&) = delete;
  Scheduler& operator=(const Scheduler&) = delete;

  // Checks the request (empty prompt, prompt past the context, sampling parameters: Error) and
  // queues it (QueueFull when full).
  std::shared_ptr<Job> submit(JobRequest request);

  struct Stats {
    int active = 0;          // jobs holding a slot
    int queued = 0;          // jobs waiting for one
    uint64_t completed = 0;  // jobs ended (any reason)
    uint64_t tokens_generated = 0;
    uint64_t prompt_tokens = 0;         // prompt tokens evaluated
    uint64_t prompt_tokens_cached = 0;  // prompt tokens taken from the prompt cache
    double prefill_seconds = 0;         // time in the passes that evaluate prompts
    double decode_seconds = 0;          // time in decoding steps, their sampling included
  };
  Stats stats() const;
  // Refuses new jobs and ends those running or waiting with the error "the server is stopping"
  // (their readers wake up). The destructor does the same.
  void shutdown();
  const SchedulerOptions& options() const { return options_; }

 private:
  struct Impl;
  SchedulerOptions options_;
  std::unique_ptr<Impl> impl_;
};

}  // namespace emovec
