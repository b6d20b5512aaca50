// emovec_kernel_bench: the weight-row dot-product kernels of every weight type, one thread, in ns
// per 32-value block and activation row. Prints two tables: weights in cache (a few rows read
// again and again) and weights from memory (rows enough to pass the caches, read once per pass).
//
//   emovec_kernel_bench [--types Q4_1,Q4_K] [--cols 1024] [--memory-mib 256] [--repeat 7]
//
// Columns, per weight type:
//   float32 activations (the exact path: prompts, extraction), one row and four rows per call;
//   int8 activations (decoding steps of the default path), one row and eight rows per call;
//   int16 activations (the output head of decoding steps), one row and eight rows per call.
// A kernel that takes several rows decodes each weight block once for all of them, so its
// figure per row is what batching gains. "-" where the type has no such kernel on this CPU.
// Each figure is the median of the repeats; a repeat runs the pass over all rows until 20 ms
// have gone by.
#include <CLI/CLI.hpp>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <functional>
#include <optional>
#include <random>
#include <string>
#include <vector>

#include "bench_stats.h"
#include "emovec/tensor_type.h"
#include "ops/q16_activation.h"
#include "ops/q8_activation.h"
#include "ops/row_dot.h"
#include "random_blocks.h"

namespace {

namespace ops = emovec::ops;
using emovec::TensorType;
using emovec::bench::median;
using Clock = std::chrono::steady_clock;

constexpr TensorType kAllTypes[] = {TensorType::F32,  TensorType::F16,  TensorType::BF16,
                                    TensorType::Q4_0, TensorType::Q4_1, TensorType::Q5_0,
                                    TensorType::Q5_1, TensorType::Q8_0, TensorType::Q4_K,
                                    TensorType::Q5_K, TensorType::Q6_K};
constexpr int kActivationRows = 8;

// Results land here so that the loops computing them are not removed.
volatile float g_sink = 0;

// The activations every kernel reads: kActivationRows rows of `cols` values in float32 (with
// their 32-value block sums), in int8 and in int16.
struct Activations {
  int64_t cols = 0;
  std::vector<float> x;
  std::vector<float> sums;
  ops::Q8Activation q8;
  ops::Q16Activation q16;

  explicit Activations(int64_t n) : cols(n) {
    std::mt19937 rng(1);
    x = ops::random_activations(kActivationRows * n, rng);
    sums.resize(static_cast<size_t>(kActivationRows * n / 32));
    for (int t = 0; t < kActivationRows; ++t)
      ops::block_sums_32(x.data() + t * n, n, sums.data() + t * n / 32);
    ops::quantize_activation_rows(x.data(), n, kActivationRows, n, q8);
    ops::quantize_activation16_rows(x.data(), n, kActivationRows, n, q16);
  }
};

// `rows` weight rows of `type`, one after another: 64 distinct random rows repeated (what is
// measured is reading them, not their variety).
std::vector<uint8_t> weight_rows(TensorType type, int64_t cols, int64_t rows) {
  std::mt19937 rng(2);
  std::vector<std::vector<uint8_t>> distinct;
  for (int i = 0; i < 64; ++i) distinct.push_back(ops::random_row(type, cols, rng));
  const size_t row_bytes = distinct[0].size();
  std::vector<uint8_t> w(row_bytes * static_cast<size_t>(rows));
  for (int64_t r = 0; r < rows; ++r)
    std::memcpy(w.data() + static_cast<size_t>(r) * row_bytes, distinct[r % 64].data(), row_bytes);
  return w;
}

// One call of a kernel on one weight row and `count` activation rows, writing out[0..count).
using RowCall = std::function<void(const uint8_t* row, int count, float* out)>;

// The kernel of a column for `type`, or nothing when there is none.
std::optional<RowCall> column_kernel(int column, TensorType type, const Activations& a) {
  const int64_t n = a.cols;
  const int64_t blocks = n / 32;
  switch (column) {
    case 0:
      if (auto f = ops::row_dot_kernel(type))
        return [f, &a, n](const uint8_t* row, int, float* out) {
          out[0] = f(row, a.x.data(), a.sums.data(), n);
        };
      break;
    case 1:
      if (auto f = ops::row_dot_multi_kernel(type))
        return [f, &a, n, blocks](const uint8_t* row, int count, float* out) {
          f(row, a.x.data(), n, a.sums.data(), blocks, n, count, out);
        };
      break;
    case 2:
      if (auto f = ops::q8_dot_kernel(type))
        return [f, &a, n](const uint8_t* row, int, float* out) { out[0] = f(row, a.q8, 0, n); };
      break;
    case 3:
      if (auto f = ops::q8_dot_multi_kernel(type))
        return [f, &a, n, blocks](const uint8_t* row, int count, float* out) {
          f(row, a.q8, 0, blocks, n, count, out);
        };
      break;
    case 4:
      if (auto f = ops::q16_dot_kernel(type))
        return [f, &a, n](const uint8_t* row, int, float* out) { out[0] = f(row, a.q16, 0, n); };
      break;
    case 5:
      if (auto f = ops::q16_dot_multi_kernel(type))
        return [f, &a, n, blocks](const uint8_t* row, int count, float* out) {
          f(row, a.q16, 0, blocks, n, count, out);
        };
      break;
    default:
      break;
  }
  return std::nullopt;
}

struct Column {
  const char* title;
  int count;  // activation rows per call
};
constexpr Column kColumns[] = {{"float32 x1", 1}, {"float32 x4", ops::kRowDotMultiRows},
                               {"int8 x1", 1},    {"int8 x8", ops::kQ8MultiRows},
                               {"int16 x1", 1},   {"int16 x8", ops::kQ16MultiRows}};

// ns per (32-value block, activation row) of `call` over every row of `w`: the median of the
// repeats, each as many passes as fill 20 ms.
double block_ns(const RowCall& call, int count, const std::vector<uint8_t>& w, int64_t row_bytes,
                int64_t cols, int repeat) {
  const int64_t rows = static_cast<int64_t>(w.size()) / row_bytes;
  float out[kActivationRows] = {};
  auto pass = [&] {
    float s = 0;
    for (int64_t r = 0; r < rows; ++r) {
      call(w.data() + r * row_bytes, count, out);
      s += out[count - 1];
    }
    g_sink = g_sink + s;
  };
  pass();  // warm-up: caches, page faults
  std::vector<double> ns;
  for (int rep = 0; rep < repeat; ++rep) {
    int64_t passes = 0;
    const auto t0 = Clock::now();
    double elapsed = 0;
    do {
      pass();
      ++passes;
      elapsed = std::chrono::duration<double, std::nano>(Clock::now() - t0).count();
    } while (elapsed < 2e7);
    ns.push_back(elapsed / static_cast<double>(passes * rows * (cols / 32) * count));
  }
  return median(ns);
}

// Bytes of one weight row of `type` with `cols` values.
int64_t row_bytes_of(TensorType type, int64_t cols) {
  return cols / emovec::traits(type).block_elements * emovec::traits(type).block_bytes;
}

// One table: a line per type, with as many weight rows as `rows_for(row_bytes)` says.
void print_table(const char* title, const std::vector<TensorType>& types, const Activations& a,
                 const std::function<int64_t(int64_t row_bytes)>& rows_for, int repeat) {
  std::printf("\n%s\n\n| type |", title);
  for (const Column& c : kColumns) std::printf(" %s |", c.title);
  std::printf("\n|---|");
  for (size_t i = 0; i < std::size(kColumns); ++i) std::printf("---:|");
  std::printf("\n");
  for (const TensorType type : types) {
    const int64_t row_bytes = row_bytes_of(type, a.cols);
    const std::vector<uint8_t> w = weight_rows(type, a.cols, rows_for(row_bytes));
    std::printf("| %s |", std::string(emovec::tensor_type_name(type)).c_str());
    for (int c = 0; c < static_cast<int>(std::size(kColumns)); ++c) {
      const std::optional<RowCall> call = column_kernel(c, type, a);
      if (!call) {
        std::printf(" - |");
      } else {
        std::printf(" %.2f |", block_ns(*call, kColumns[c].count, w, row_bytes, a.cols, repeat));
      }
      std::fflush(stdout);
    }
    std::printf("\n");
  }
}

constexpr int64_t kCacheRows = 64;

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"emovec_kernel_bench: dot-product kernels per weight type, one thread"};
  std::vector<std::string> type_names;
  int64_t cols = 1024;
  int repeat = 7;
  int memory_mib = 256;
  app.add_option("--types", type_names, "weight types (default: every type with a kernel)")
      ->delimiter(',');
  app.add_option("--cols", cols, "values per weight row (a multiple of 256)")
      ->check(CLI::Range(int64_t{256}, int64_t{1} << 16));
  app.add_option("--memory-mib", memory_mib, "weights read per pass in the from-memory table")
      ->check(CLI::Range(16, 4096));
  app.add_option("--repeat", repeat, "repeats (the median is shown)")->check(CLI::Range(1, 100));
  CLI11_PARSE(app, argc, argv);
  if (cols % 256 != 0) {
    std::fprintf(stderr, "error: --cols %lld is not a multiple of 256\n",
                 static_cast<long long>(cols));
    return 1;
  }
  std::vector<TensorType> types;
  for (const std::string& name : type_names) {
    bool found = false;
    for (const TensorType t : kAllTypes) {
      if (emovec::tensor_type_name(t) == name) {
        types.push_back(t);
        found = true;
      }
    }
    if (!found) {
      std::fprintf(stderr,
                   "error: --types: no kernel type named '%s' (one of F32, F16, BF16, "
                   "Q4_0, Q4_1, Q5_0, Q5_1, Q8_0, Q4_K, Q5_K, Q6_K)\n",
                   name.c_str());
      return 1;
    }
  }
  if (types.empty()) types.assign(std::begin(kAllTypes), std::end(kAllTypes));
  const int64_t memory_bytes = int64_t{memory_mib} << 20;

  const Activations a(cols);
  std::printf(
      "emovec kernels, one thread, AVX2 %s; rows of %lld values; ns per 32-value block "
      "and activation row, median of %d\n",
      ops::cpu_has_avx2() ? "yes" : "no", static_cast<long long>(cols), repeat);
  char title[96];
  std::snprintf(title, sizeof title, "Weights in cache (%lld rows)",
                static_cast<long long>(kCacheRows));
  print_table(
      title, types, a, [](int64_t) { return kCacheRows; }, repeat);
  std::snprintf(title, sizeof title, "Weights from memory (%d MiB per pass)", memory_mib);
  print_table(
      title, types, a,
      [memory_bytes](int64_t row_bytes) { return (memory_bytes + row_bytes - 1) / row_bytes; },
      repeat);
  return 0;
}
