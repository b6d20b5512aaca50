#include "ops/matmul.h"

#include <cblas.h>

#include <algorithm>
#include <vector>

#include "ops/q16_activation.h"
#include "ops/q8_activation.h"
#include "ops/row_dot.h"
#include "runtime/thread_pool.h"

namespace emovec::ops {
namespace {

// From this many token rows on, a weight tile is decoded once and multiplied with SGEMM.
constexpr int64_t kGemmMinTokens = 16;
constexpr int64_t kTileRows = 64;
// From this many token rows on, tiles grow to about kLargeTileRows: SGEMM packs the activations
// once per tile, which costs as much as a tenth of a long prefill with 64-row tiles.
constexpr int64_t kLargeTileTokens = 256;
constexpr int64_t kLargeTileRows = 256;

// Rows per tile of a matrix with `rows` rows: an even number of tiles of nearly equal size (so
// two threads share them evenly), whatever the thread count, so results do not depend on it.
int64_t tile_rows_for(int64_t rows, int64_t n_tokens) {
  if (n_tokens < kLargeTileTokens || rows <= kTileRows) return kTileRows;
  const int64_t tiles = 2 * ((rows + 2 * kLargeTileRows - 1) / (2 * kLargeTileRows));
  const int64_t per_tile = (rows + tiles - 1) / tiles;
  return (per_tile + 15) / 16 * 16;
}
// Few-row products hand out rows in chunks of about 1/16 of a thread's share (at least 16 rows):
// each thread then streams long runs of consecutive weight rows, which the hardware prefetchers
// follow, where 16-row chunks taken in turn by the threads made both jump every few kilobytes
// (SmolLM2 decoding on 2 threads: 95 -> 110-128 tokens/s). Rows are computed independently,
// so the chunking changes no result.
constexpr int64_t kDotGrain = 16;
constexpr int64_t kChunksPerThread = 16;

struct Scratch {
  std::vector<float> row;
  std::vector<float> tile;
};

Scratch& scratch() {
  thread_local Scratch s;
  return s;
}

// Row r of target list `targets`, where rows of all targets are numbered one after another.
struct RowRef {
  const MatmulTarget* target;
  int64_t row;
  size_t index = 0;  // of the target
};

// The few-row kernels of one weight matrix, looked up once per product.
struct RowKernels {
  Q8DotFn q8 = nullptr;             // int8 activations, one token row
  Q8DotMultiFn q8_multi = nullptr;  // ... several token rows at once
  Q16DotFn q16 = nullptr;           // int16 activations, one token row
  Q16DotMultiFn q16_multi = nullptr;
  RowDotFn dot = nullptr;  // float activations, one token row
  RowDotMultiFn dot_multi = nullptr;
};

RowKernels row_kernels(TensorType type, bool use_q8, bool use_q16, int64_t n_tokens) {
  RowKernels k;
  k.q8 = use_q8 ? q8_dot_kernel(type) : nullptr;
  k.q16 = use_q16 ? q16_dot_kernel(type) : nullptr;
  k.dot = row_dot_kernel(type);
  // Several token rows: kernels that decode each weight block once for several of them,
  // with the same bits per row as the one-row kernels.
  if (n_tokens > 1) {
    if (k.q8 != nullptr) {
      k.q8_multi = q8_dot_multi_kernel(type);
    } else if (k.q16 != nullptr) {
      k.q16_multi = q16_dot_multi_kernel(type);
    } else {
      k.dot_multi = row_dot_multi_kernel(type);
    }
  }
  return k;
}

}  // namespace

void decode_row(const WeightMatrix& w, int64_t row, float* out) {
  dequantize(w.type, w.data + static_cast<uint64_t>(row) * w.row_bytes, out, w.cols);
}

void matmul(std::span<const MatmulTarget> targets, const float* x, int64_t x_stride,
            int64_t n_tokens, ThreadPool& pool, Activations activations, bool per_row) {
  if (targets.empty() || n_tokens <= 0) return;
  const int64_t cols = targets[0].weight->cols;
  std::vector<int64_t> first_row(targets.size() + 1, 0);
  for (size_t i = 0; i < targets.size(); ++i) {
    first_row[i + 1] = first_row[i] + targets[i].weight->rows;
  }
  const int64_t total_rows = first_row.back();
  auto locate = [&](int64_t r) {
    const auto it = std::upper_bound(first_row.begin(), first_row.end(), r) - 1;
    const auto idx = static_cast<size_t>(it - first_row.begin());
    return RowRef{&targets[idx], r - *it, idx};
  };

  if (n_tokens < kGemmMinTokens || per_row) {
    const bool use_q8 = activations == Activations::Int8 && cols % kQ8Block == 0;
    const bool use_q16 = activations == Activations::Int16 && cols % kQ16Block == 0;
    std::vector<RowKernels> kernels;
    bool any_q8 = false, any_q16 = false, any_float = false;
    for (const MatmulTarget& t : targets) {
      const RowKernels& k =
          kernels.emplace_back(row_kernels(t.weight->type, use_q8, use_q16, n_tokens));
      any_q8 |= k.q8 != nullptr;
      any_q16 |= k.q16 != nullptr;
      any_float |= k.q8 == nullptr && k.q16 == nullptr;
    }
    // Each activation form is made once, shared by every row of every target that uses it, and
    // only when one does. (References: worker threads must see the calling thread's buffers.)
    std::vector<float> sums;  // per-token block sums for the float kernels
    const int64_t sums_stride = cols / 32 + 1;
    if (any_float) sums.resize(static_cast<size_t>(n_tokens * sums_stride));
    if (any_float && cols % 32 == 0) {
      for (int64_t t = 0; t < n_tokens; ++t) {
        block_sums_32(x + t * x_stride, cols, sums.data() + t * sums_stride);
      }
    }
    thread_local Q8Activation q8_storage;
    Q8Activation& q8 = q8_storage;
    if (any_q8) quantize_activation_rows(x, x_stride, n_tokens, cols, q8);
    thread_local Q16Activation q16_storage;
    Q16Activation& q16 = q16_storage;
    if (any_q16) quantize_activation16_rows(x, x_stride, n_tokens, cols, q16);
    const int64_t blocks_per_token = cols / kQ8Block;
    static_assert(kQ8Block == kQ16Block);
    const int64_t grain =
        std::max<int64_t>(kDotGrain, total_rows / (pool.size() * kChunksPerThread));
    pool.parallel_for(total_rows, grain, [&](int64_t begin, int64_t end, int) {
      Scratch& s = scratch();
      RowRef ref = locate(begin);
      // The chunk's rows, a run of consecutive rows of one matrix at a time: its kernel is
      // chosen once per run.
      for (int64_t r = begin; r < end;) {
        while (ref.row == ref.target->weight->rows) {  // on to the next matrix
          ++ref.index;
          ref.target = &targets[ref.index];
          ref.row = 0;
        }
        const WeightMatrix& w = *ref.target->weight;
        const int64_t run = std::min(end - r, w.rows - ref.row);
        const uint8_t* row = w.data + static_cast<uint64_t>(ref.row) * w.row_bytes;
        float* y = ref.target->y + ref.row;
        const int64_t y_stride = ref.target->y_stride;
        r += run;
        ref.row += run;
        const auto [q8_dot, q8_multi, q16_dot, q16_multi, dot, dot_multi] = kernels[ref.index];
        constexpr int kMaxMulti = 8;
        static_assert(kQ8MultiRows <= kMaxMulti && kQ16MultiRows <= kMaxMulti &&
                      kRowDotMultiRows <= kMaxMulti);
        if (q8_dot != nullptr && n_tokens == 1) {  // a decoding step of one sequence
          for (int64_t i = 0; i < run; ++i, row += w.row_bytes) y[i] = q8_dot(row, q8, 0, w.cols);
          continue;
        }
        float out[kMaxMulti];
        for (int64_t i = 0; i < run; ++i, row += w.row_bytes, ++y) {
          if (q8_multi != nullptr) {
            for (int64_t t = 0; t < n_tokens; t += kQ8MultiRows) {
              const int count = static_cast<int>(std::min<int64_t>(kQ8MultiRows, n_tokens - t));
              q8_multi(row, q8, t * blocks_per_token, blocks_per_token, w.cols, count, out);
              for (int j = 0; j < count; ++j) y[(t + j) * y_stride] = out[j];
            }
          } else if (q16_multi != nullptr) {
            for (int64_t t = 0; t < n_tokens; t += kQ16MultiRows) {
              const int count = static_cast<int>(std::min<int64_t>(kQ16MultiRows, n_tokens - t));
              q16_multi(row, q16, t * blocks_per_token, blocks_per_token, w.cols, count, out);
              for (int j = 0; j < count; ++j) y[(t + j) * y_stride] = out[j];
            }
          } else if (dot_multi != nullptr) {
            for (int64_t t = 0; t < n_tokens; t += kRowDotMultiRows) {
              const int count = static_cast<int>(std::min<int64_t>(kRowDotMultiRows, n_tokens - t));
              dot_multi(row, x + t * x_stride, x_stride, sums.data() + t * sums_stride, sums_stride,
                        w.cols, count, out);
              for (int j = 0; j < count; ++j) y[(t + j) * y_stride] = out[j];
            }
          } else if (q8_dot != nullptr) {
            for (int64_t t = 0; t < n_tokens; ++t) {
              y[t * y_stride] = q8_dot(row, q8, t * blocks_per_token, w.cols);
            }
          } else if (q16_dot != nullptr) {
            for (int64_t t = 0; t < n_tokens; ++t) {
              y[t * y_stride] = q16_dot(row, q16, t * blocks_per_token, w.cols);
            }
          } else if (dot != nullptr) {
            for (int64_t t = 0; t < n_tokens; ++t) {
              y[t * y_stride] = dot(row, x + t * x_stride, sums.data() + t * sums_stride, w.cols);
            }
          } else {
            s.row.resize(static_cast<size_t>(w.cols));
            dequantize(w.type, row, s.row.data(), w.cols);
            for (int64_t t = 0; t < n_tokens; ++t) {
              y[t * y_stride] = dot_f32(s.row.data(), x + t * x_stride, w.cols);
            }
          }
        }
      }
    });
    return;
  }

  // Tiles never straddle two matrices.
  std::vector<RowRef> tiles;
  std::vector<int64_t> tile_size;
  for (const MatmulTarget& t : targets) {
    const int64_t step = tile_rows_for(t.weight->rows, n_tokens);
    for (int64_t r = 0; r < t.weight->rows; r += step) {
      tiles.push_back({&t, r});
      tile_size.push_back(std::min(step, t.weight->rows - r));
    }
  }
  pool.parallel_for(static_cast<int64_t>(tiles.size()), 1, [&](int64_t begin, int64_t end, int) {
    Scratch& s = scratch();
    for (int64_t i = begin; i < end; ++i) {
      const RowRef& tile = tiles[static_cast<size_t>(i)];
      const WeightMatrix& w = *tile.target->weight;
      const int64_t n_rows = tile_size[static_cast<size_t>(i)];
      s.tile.resize(static_cast<size_t>(n_rows * w.cols));
      dequantize(w.type, w.data + static_cast<uint64_t>(tile.row) * w.row_bytes, s.tile.data(),
                 n_rows * w.cols);
      // y[t, row0 + j] = sum_k x[t, k] * tile[j, k]
      cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, static_cast<int>(n_tokens),
                  static_cast<int>(n_rows), static_cast<int>(w.cols), 1.0f, x,
                  static_cast<int>(x_stride), s.tile.data(), static_cast<int>(w.cols), 0.0f,
                  tile.target->y + tile.row, static_cast<int>(tile.target->y_stride));
    }
  });
  (void)cols;
}

void matmul(const WeightMatrix& w, const float* x, int64_t n_tokens, float* y, ThreadPool& pool,
            Activations activations, bool per_row) {
  const MatmulTarget target{&w, y, w.rows};
  matmul(std::span<const MatmulTarget>(&target, 1), x, w.cols, n_tokens, pool, activations,
         per_row);
}

}  // namespace emovec::ops
