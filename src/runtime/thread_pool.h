// A fixed set of worker threads for data-parallel loops. Workers spin briefly after a loop (the
// next one usually follows within microseconds during decoding) and then sleep on a condition
// variable, so an idle pool costs no CPU.
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <mutex>
#include <thread>
#include <vector>

namespace emovec {

class ThreadPool {
 public:
  // n_threads counts the calling thread: 1 runs everything inline.
  explicit ThreadPool(int n_threads);
  ThreadPool(const ThreadPool&) = delete;
  ThreadPool& operator=(const ThreadPool&) = delete;
  ~ThreadPool();

  int size() const { return n_threads_; }

  // Calls fn(begin, end, thread_index) on chunks of [0, n) of at most `grain` items, spread
  // over the threads; returns when all are done. Not re-entrant: fn must not call run.
  template <typename Fn>
  void parallel_for(int64_t n, int64_t grain, Fn&& fn) {
    if (n <= 0) return;
    if (grain < 1) grain = 1;
    if (n_threads_ == 1 || n <= grain) {
      fn(int64_t{0}, n, 0);
      return;
    }
    auto thunk = [](void* ctx, int64_t b, int64_t e, int t) {
      (*static_cast<std::remove_reference_t<Fn>*>(ctx))(b, e, t);
    };
    run(n, grain, thunk, &fn);
  }

 private:
  using Thunk = void (*)(void*, int64_t, int64_t, int);
  void run(int64_t n, int64_t grain, Thunk thunk, void* ctx);
  void worker(int index);
  void work_on_current(int thread_index);

  int n_threads_;
  std::vector<std::thread> workers_;

  // The current job, published by bumping generation_.
  Thunk thunk_ = nullptr;
  void* ctx_ = nullptr;
  int64_t n_ = 0;
  int64_t grain_ = 1;
  std::atomic<int64_t> next_chunk_{0};
  std::atomic<int> pending_{0};
  std::atomic<uint64_t> generation_{0};
  std::atomic<bool> stop_{false};

  std::mutex mutex_;
  std::condition_variable wake_;
  std::atomic<int> sleepers_{0};
};

}  // namespace emovec
