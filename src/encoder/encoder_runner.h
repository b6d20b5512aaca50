// What SentenceEncoder and SequenceClassifier share around the forward pass: the thread pool,
// OpenBLAS's thread count, a lock so that calls from several threads take turns, and running a
// list of sequences in groups of bounded size.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <span>
#include <string>
#include <vector>

#include "encoder/bert_model.h"

namespace emovec {
class ThreadPool;
}  // namespace emovec

namespace emovec::encoder {

class EncoderRunner {
 public:
  // n_threads 0 keeps OpenBLAS's own setting (OPENBLAS_NUM_THREADS, else every core); a positive
  // value also sets OpenBLAS's process-wide thread count while this runner runs. `client` names
  // the caller in errors ("sentence encoder"). Throws Error for a negative count.
  EncoderRunner(int n_threads, const std::string& client);
  ~EncoderRunner();

  // The hidden states of `sequences`, computed in groups of consecutive sequences of at most
  // kTokensPerBatch tokens (one longer sequence makes a group of its own); `consume` gets each
  // group and its bert_forward result, in order.
  using Consumer = std::function<void(std::span<const std::vector<int32_t>> group,
                                      const std::vector<float>& hidden)>;
  void run(const BertWeights& w, std::span<const std::vector<int32_t>> sequences,
           const Consumer& consume);

  // Bounds the activations of one group to a few tens of MB.
  static constexpr int64_t kTokensPerBatch = 4096;

 private:
  int n_threads_ = 1;
  bool set_blas_threads_ = false;
  std::mutex mutex_;
  std::unique_ptr<ThreadPool> pool_;
};

}  // namespace emovec::encoder
