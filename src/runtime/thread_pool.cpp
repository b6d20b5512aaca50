#include "runtime/thread_pool.h"

#include <chrono>

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#define EMOVEC_CPU_RELAX() _mm_pause()
#else
#define EMOVEC_CPU_RELAX() ((void)0)
#endif

namespace emovec {
namespace {
// How long a worker keeps polling for the next loop before it sleeps.
constexpr auto kSpinTime = std::chrono::microseconds(200);
}  // namespace

ThreadPool::ThreadPool(int n_threads) : n_threads_(n_threads < 1 ? 1 : n_threads) {
  workers_.reserve(static_cast<size_t>(n_threads_ - 1));
  for (int i = 1; i < n_threads_; ++i) workers_.emplace_back([this, i] { worker(i); });
}

ThreadPool::~ThreadPool() {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    stop_.store(true);
    generation_.fetch_add(1);
  }
  wake_.notify_all();
  for (std::thread& t : workers_) t.join();
}

void ThreadPool::work_on_current(int thread_index) {
  const int64_t chunks = (n_ + grain_ - 1) / grain_;
  for (;;) {
    const int64_t c = next_chunk_.fetch_add(1, std::memory_order_relaxed);
    if (c >= chunks) break;
    const int64_t begin = c * grain_;
    const int64_t end = begin + grain_ < n_ ? begin + grain_ : n_;
    thunk_(ctx_, begin, end, thread_index);
  }
}

void ThreadPool::run(int64_t n, int64_t grain, Thunk thunk, void* ctx) {
  thunk_ = thunk;
  ctx_ = ctx;
  n_ = n;
  grain_ = grain;
  next_chunk_.store(0, std::memory_order_relaxed);
  pending_.store(n_threads_ - 1, std::memory_order_relaxed);
  {
    std::lock_guard<std::mutex> lock(mutex_);
    generation_.fetch_add(1, std::memory_order_release);
  }
  if (sleepers_.load(std::memory_order_acquire) > 0) wake_.notify_all();
  work_on_current(0);
  // A worker that lost its core (a busy machine) is waited for without burning this one.
  for (int polls = 0; pending_.load(std::memory_order_acquire) != 0; ++polls) {
    if (polls < 4096) {
      EMOVEC_CPU_RELAX();
    } else {
      std::this_thread::yield();
    }
  }
}

void ThreadPool::worker(int index) {
  uint64_t seen = 0;
  for (;;) {
    // Poll for a while, then sleep until the generation changes.
    const auto spin_until = std::chrono::steady_clock::now() + kSpinTime;
    uint64_t g = generation_.load(std::memory_order_acquire);
    int polls = 0;
    while (g == seen) {
      EMOVEC_CPU_RELAX();
      if (++polls % 64 == 0 && std::chrono::steady_clock::now() > spin_until) {
        std::unique_lock<std::mutex> lock(mutex_);
        sleepers_.fetch_add(1);
        wake_.wait(lock, [&] { return generation_.load(std::memory_order_acquire) != seen; });
        sleepers_.fetch_sub(1);
      }
      g = generation_.load(std::memory_order_acquire);
    }
    seen = g;
    if (stop_.load()) return;
    work_on_current(index);
    pending_.fetch_sub(1, std::memory_order_acq_rel);
  }
}

}  // namespace emovec
