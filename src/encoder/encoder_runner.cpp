#include "encoder/encoder_runner.h"

#include <cblas.h>

#include <algorithm>

#include "emovec/error.h"
#include "runtime/thread_pool.h"

namespace emovec::encoder {

EncoderRunner::EncoderRunner(int n_threads, const std::string& client) {
  if (n_threads < 0) {
    throw Error(client + ": thread count " + std::to_string(n_threads) +
                " is negative (0 means OpenBLAS's default)");
  }
  n_threads_ = n_threads > 0 ? n_threads : std::max(1, openblas_get_num_threads());
  set_blas_threads_ = n_threads > 0;
  pool_ = std::make_unique<ThreadPool>(n_threads_);
}

EncoderRunner::~EncoderRunner() = default;

void EncoderRunner::run(const BertWeights& w, std::span<const std::vector<int32_t>> sequences,
                        const Consumer& consume) {
  const std::lock_guard<std::mutex> lock(mutex_);
  if (set_blas_threads_) openblas_set_num_threads(n_threads_);
  for (size_t begin = 0; begin < sequences.size();) {
    size_t end = begin;
    int64_t tokens = 0;
    while (
        end < sequences.size() &&
        (end == begin || tokens + static_cast<int64_t>(sequences[end].size()) <= kTokensPerBatch)) {
      tokens += static_cast<int64_t>(sequences[end++].size());
    }
    const std::span<const std::vector<int32_t>> group = sequences.subspan(begin, end - begin);
    consume(group, bert_forward(w, group, *pool_));
    begin = end;
  }
}

}  // namespace emovec::encoder
