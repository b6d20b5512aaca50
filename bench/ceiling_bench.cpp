// emovec_ceiling_bench: what this machine can do at most, beside what emovec's kernels do, so
// that a speed target can be checked against the hardware before it is chased. Prints a table.
//
//   emovec_ceiling_bench [--models a,b] [--threads 1,2] [--repeat 5]
//
// Rows: the peak rate of float32 fused multiply-adds (ten independent chains of 8-float FMAs in
// registers) and of int8 multiply-adds (_mm256_maddubs_epi16, eight independent chains), per
// thread count (each thread runs its own loop); OpenBLAS SGEMM on one thread at the shape of a
// 512-token prefill product (512 x 1536 times 1536 x 1536, as the engine calls it); a streaming
// read of 512 MiB (AVX2 loads, summed); and emovec's int8 Q4_1 kernel (the default path's
// decoding product for SmolLM2) on one and eight activation rows, in cache, per 32-value block
// and row. Then, per model, the multiply-adds per token of the layers' products and of the
// output head, and the tokens/s that the FMA peak allows a float32 forward pass (no head, as
// prompt-mode extraction runs) on the largest thread count. Medians of the repeats.
#include <cblas.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <random>
#include <string>
#include <thread>
#include <vector>

#if defined(__x86_64__)
#include <immintrin.h>
#endif

#include "bench_stats.h"
#include "emovec/decoder.h"
#include "emovec/error.h"
#include "emovec/model_registry.h"
#include "ops/q8_activation.h"

namespace {

using Clock = std::chrono::steady_clock;
using emovec::bench::median;

// Results land here so that the loops computing them are not removed.
volatile double g_sink = 0;

double seconds_since(Clock::time_point t0) {
  return std::chrono::duration<double>(Clock::now() - t0).count();
}

// Runs fn(thread index) on `threads` threads at once; returns the wall seconds of the slowest.
template <typename Fn>
double on_threads(int threads, Fn fn) {
  std::atomic<int> ready{0};
  std::vector<std::thread> pool;
  pool.reserve(static_cast<size_t>(threads));
  const auto t0 = Clock::now();
  for (int t = 0; t < threads; ++t) {
    pool.emplace_back([&, t] {
      ready.fetch_add(1);
      while (ready.load() < threads) {
      }
      fn(t);
    });
  }
  for (std::thread& th : pool) th.join();
  return seconds_since(t0);
}

#if defined(__x86_64__)
constexpr int64_t kIterations = 100'000'000;

// Ten independent FMA chains: the FMA units' throughput, not their latency. Returns a sum so that
// the loop is not removed.
[[gnu::target("avx2,fma"), gnu::noinline]] float fma_loop(int64_t iterations, float seed) {
  const __m256 m = _mm256_set1_ps(0.999f), c = _mm256_set1_ps(1e-3f * seed);
  __m256 r[10];
  for (int i = 0; i < 10; ++i) r[i] = _mm256_set1_ps(seed + static_cast<float>(i));
  for (int64_t k = 0; k < iterations; ++k) {
#pragma GCC unroll 10
    for (int i = 0; i < 10; ++i) r[i] = _mm256_fmadd_ps(r[i], m, c);
  }
  __m256 s = r[0];
  for (int i = 1; i < 10; ++i) s = _mm256_add_ps(s, r[i]);
  return _mm256_cvtss_f32(s);
}

// Eight independent maddubs chains (32 int8 multiply-adds each).
[[gnu::target("avx2"), gnu::noinline]] int maddubs_loop(int64_t iterations, int seed) {
  const __m256i u = _mm256_set1_epi8(static_cast<char>(seed));
  __m256i r[8];
  for (int i = 0; i < 8; ++i) r[i] = _mm256_set1_epi8(static_cast<char>(seed + i));
  for (int64_t k = 0; k < iterations; ++k) {
#pragma GCC unroll 8
    for (int i = 0; i < 8; ++i) r[i] = _mm256_maddubs_epi16(u, r[i]);
  }
  __m256i s = r[0];
  for (int i = 1; i < 8; ++i) s = _mm256_add_epi16(s, r[i]);
  return _mm256_extract_epi32(s, 0);
}

[[gnu::target("avx2"), gnu::noinline]] int64_t read_loop(const uint8_t* p, int64_t bytes) {
  __m256i acc0 = _mm256_setzero_si256(), acc1 = acc0, acc2 = acc0, acc3 = acc0;
  for (int64_t i = 0; i + 128 <= bytes; i += 128) {
    acc0 = _mm256_add_epi64(acc0, _mm256_load_si256(reinterpret_cast<const __m256i*>(p + i)));
    acc1 = _mm256_add_epi64(acc1, _mm256_load_si256(reinterpret_cast<const __m256i*>(p + i + 32)));
    acc2 = _mm256_add_epi64(acc2, _mm256_load_si256(reinterpret_cast<const __m256i*>(p + i + 64)));
    acc3 = _mm256_add_epi64(acc3, _mm256_load_si256(reinterpret_cast<const __m256i*>(p + i + 96)));
  }
  const __m256i s = _mm256_add_epi64(_mm256_add_epi64(acc0, acc1), _mm256_add_epi64(acc2, acc3));
  return _mm256_extract_epi64(s, 0);
}
#endif

#if defined(__x86_64__)
// Runs loop(t) on `threads` threads at once and returns `work` (per thread) times the thread
// count per second, in billions; each loop's result is kept so that it is not removed.
template <typename Loop>
double rate_on_threads(int threads, double work, Loop loop) {
  std::vector<double> sink(static_cast<size_t>(threads));
  const double s = on_threads(
      threads, [&](int t) { sink[static_cast<size_t>(t)] = static_cast<double>(loop(t)); });
  g_sink = g_sink + sink[0];
  return work * threads / s / 1e9;
}
#endif

// GFLOP/s of the FMA loop on `threads` threads.
double fma_peak(int threads) {
#if defined(__x86_64__)
  return rate_on_threads(threads, static_cast<double>(kIterations) * 10 * 16,
                         [](int t) { return fma_loop(kIterations, 1.0f + static_cast<float>(t)); });
#else
  (void)threads;
  return 0;
#endif
}

// G int8 multiply-adds/s of the maddubs loop.
double int8_peak(int threads) {
#if defined(__x86_64__)
  return rate_on_threads(threads, static_cast<double>(kIterations) * 8 * 32,
                         [](int t) { return maddubs_loop(kIterations, 3 + t); });
#else
  (void)threads;
  return 0;
#endif
}

// GB/s reading `bytes` split between the threads.
double read_bandwidth(int threads, const uint8_t* base, int64_t bytes) {
#if defined(__x86_64__)
  const int64_t share = bytes / threads / 128 * 128;
  return rate_on_threads(threads, static_cast<double>(share),
                         [&](int t) { return read_loop(base + t * share, share); });
#else
  (void)threads, (void)base, (void)bytes;
  return 0;
#endif
}

// GFLOP/s of one-thread SGEMM at a 512-token prefill product's shape.
double sgemm_rate() {
  constexpr int kTokens = 512, kIn = 1536, kOut = 1536;
  std::mt19937 rng(1);
  std::normal_distribution<float> normal;
  std::vector<float> x(static_cast<size_t>(kTokens) * kIn), w(static_cast<size_t>(kOut) * kIn),
      y(static_cast<size_t>(kTokens) * kOut);
  for (float& v : x) v = normal(rng);
  for (float& v : w) v = 0.02f * normal(rng);
  openblas_set_num_threads(1);
  const auto t0 = Clock::now();
  cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, kTokens, kOut, kIn, 1.0f, x.data(), kIn,
              w.data(), kIn, 0.0f, y.data(), kOut);
  return 2.0 * kTokens * kIn * kOut / seconds_since(t0) / 1e9;
}

// ns per (32-value block, activation row) of the int8 Q4_1 kernel on `rows` activation rows, in
// cache: 256 weight rows of 576 values (SmolLM2's width), each against the same rows.
double q4_1_block_ns(int rows) {
  namespace ops = emovec::ops;
  constexpr int64_t kCols = 576, kWeightRows = 256, kBlockBytes = 20, kPasses = 200;
  const int64_t blocks = kCols / 32;
  std::mt19937 rng(2);
  std::vector<uint8_t> w(static_cast<size_t>(kWeightRows * blocks * kBlockBytes));
  for (uint8_t& b : w) b = static_cast<uint8_t>(rng());
  for (int64_t b = 0; b < kWeightRows * blocks; ++b) {  // finite half scales d and m
    const uint16_t h = static_cast<uint16_t>(0x2000 + (rng() & 0xff));
    std::memcpy(&w[static_cast<size_t>(b * kBlockBytes)], &h, 2);
    std::memcpy(&w[static_cast<size_t>(b * kBlockBytes + 2)], &h, 2);
  }
  std::normal_distribution<float> normal;
  std::vector<float> x(static_cast<size_t>(8 * kCols));
  for (float& v : x) v = normal(rng);
  ops::Q8Activation q;
  ops::quantize_activation_rows(x.data(), kCols, 8, kCols, q);
  const ops::Q8DotFn one = ops::q8_dot_kernel(emovec::TensorType::Q4_1);
  const ops::Q8DotMultiFn multi = ops::q8_dot_multi_kernel(emovec::TensorType::Q4_1);
  if (one == nullptr || (rows > 1 && multi == nullptr)) return 0;
  float out[8] = {};
  float sink = 0;
  const auto t0 = Clock::now();
  for (int64_t pass = 0; pass < kPasses; ++pass) {
    for (int64_t r = 0; r < kWeightRows; ++r) {
      const uint8_t* row = w.data() + r * blocks * kBlockBytes;
      if (rows == 1) {
        out[0] = one(row, q, 0, kCols);
      } else {
        multi(row, q, 0, blocks, kCols, rows, out);
      }
      sink += out[0];
    }
  }
  const double s = seconds_since(t0);
  g_sink = g_sink + sink;
  return s / static_cast<double>(kPasses * kWeightRows * blocks * rows) * 1e9;
}

struct ModelCount {
  std::string name;
  double layer_macs = 0;  // per token
  double head_macs = 0;
};

ModelCount count_model(const std::string& name) {
  const auto model = emovec::DecoderModel::load(emovec::resolve_model_argument(name));
  const auto& h = model->hparams();
  const double d = static_cast<double>(h.n_embd);
  const double q = static_cast<double>(h.n_head * h.head_dim);
  const double kv = static_cast<double>(h.n_head_kv * h.head_dim);
  const double ff = static_cast<double>(h.n_ff);
  ModelCount c;
  c.name = name;
  c.layer_macs = static_cast<double>(h.n_layer) * (d * q + 2 * d * kv + q * d + 3 * d * ff);
  c.head_macs = d * static_cast<double>(h.n_vocab);
  return c;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"emovec_ceiling_bench: this machine's peak rates beside emovec's kernels"};
  std::vector<std::string> models{"smollm2-135m-instruct"};
  std::vector<int> threads{1, 2};
  int repeat = 5;
  app.add_option("--models", models, "shipped model names or GGUF paths")->delimiter(',');
  app.add_option("--threads", threads, "thread counts")->delimiter(',');
  app.add_option("--repeat", repeat, "repeats (the median is shown)")->check(CLI::Range(1, 100));
  CLI11_PARSE(app, argc, argv);
  try {
    std::printf("| measure | threads | median | unit |\n|---|---|---|---|\n");
    double fma_top = 0;
    int top_threads = 0;
    for (const int t : threads) {
      std::vector<double> f, i8;
      for (int r = 0; r < repeat; ++r) {
        f.push_back(fma_peak(t));
        i8.push_back(int8_peak(t));
      }
      std::printf("| float32 FMA peak | %d | %.1f | GFLOP/s |\n", t, median(f));
      std::printf("| int8 maddubs peak | %d | %.1f | G multiply-adds/s |\n", t, median(i8));
      if (t >= top_threads) {
        top_threads = t;
        fma_top = median(f);
      }
    }
    {
      std::vector<double> g;
      for (int r = 0; r < repeat; ++r) g.push_back(sgemm_rate());
      std::printf("| OpenBLAS SGEMM, 512 x 1536 x 1536 | 1 | %.1f | GFLOP/s |\n", median(g));
    }
    {
      constexpr int64_t kBytes = int64_t{512} << 20;
      std::vector<uint8_t> buffer(static_cast<size_t>(kBytes + 64), 1);
      const auto* base = reinterpret_cast<const uint8_t*>(
          (reinterpret_cast<uintptr_t>(buffer.data()) + 63) & ~uintptr_t{63});
      for (const int t : threads) {
        std::vector<double> b;
        for (int r = 0; r < repeat; ++r) b.push_back(read_bandwidth(t, base, kBytes));
        std::printf("| streaming read, 512 MiB | %d | %.1f | GB/s |\n", t, median(b));
      }
    }
    for (const int rows : {1, 8}) {
      std::vector<double> ns;
      for (int r = 0; r < repeat; ++r) ns.push_back(q4_1_block_ns(rows));
      std::printf(
          "| emovec int8 Q4_1 kernel, %d activation row%s, in cache | 1 | %.3f | ns per "
          "32-value block and row |\n",
          rows, rows > 1 ? "s" : "", median(ns));
    }
    std::printf(
        "\n| model | layer multiply-adds per token | head multiply-adds per token | "
        "float32 ceiling without the head, %d thread%s at the FMA peak |\n|---|---|---|---|\n",
        top_threads, top_threads > 1 ? "s" : "");
    for (const std::string& m : models) {
      const ModelCount c = count_model(m);
      std::printf("| %s | %.1f M | %.1f M | %.0f tokens/s |\n", c.name.c_str(), c.layer_macs / 1e6,
                  c.head_macs / 1e6, fma_top * 1e9 / (2 * c.layer_macs));
    }
  } catch (const emovec::Error& e) {
    std::fprintf(stderr, "error: %s\n", e.what());
    return 1;
  }
  return 0;
}
