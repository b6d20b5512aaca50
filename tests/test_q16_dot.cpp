// The int16-activation dot kernels (the output head's fast path): the AVX2 kernels against the
// portable ones, both against the float dot of the dequantised row computed in double, their
// error against int8 activations', and the quantisation against its definition. Prints a
// micro-benchmark beside the float kernels (informational, not asserted).
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "emovec/tensor_type.h"
#include "ops/q16_activation.h"
#include "ops/q8_activation.h"
#include "ops/row_dot.h"
#include "support/random_blocks.h"

namespace emovec::ops {
namespace {

constexpr TensorType kTypes[] = {TensorType::Q8_0, TensorType::Q6_K};

std::vector<int64_t> lengths(TensorType type) {
  if (traits(type).block_elements == 256) return {256, 768, 1536, 2816};
  return {32, 96, 576, 640, 1536};
}

TEST(Q16Dot, KernelsExistForQ8_0AndQ6_KOnly) {
  for (TensorType type : kTypes) {
    EXPECT_NE(q16_dot_kernel(type), nullptr) << tensor_type_name(type);
    EXPECT_NE(scalar::q16_dot_kernel(type), nullptr) << tensor_type_name(type);
    EXPECT_EQ(q16_dot_multi_kernel(type) != nullptr, cpu_has_avx2()) << tensor_type_name(type);
  }
  for (TensorType type : {TensorType::F32, TensorType::Q4_K, TensorType::Q4_1}) {
    EXPECT_EQ(q16_dot_kernel(type), nullptr) << tensor_type_name(type);
    EXPECT_EQ(q16_dot_multi_kernel(type), nullptr) << tensor_type_name(type);
  }
}

TEST(Q16Dot, QuantizeActivationRoundTripsWithinHalfAStep) {
  std::mt19937 rng(7);
  const int64_t n = 4096;
  const std::vector<float> x = random_activations(2 * n, rng);
  Q16Activation a;
  quantize_activation16_rows(x.data(), n, 2, n, a);
  ASSERT_EQ(a.n, 2 * n);
  ASSERT_EQ(a.q.size(), static_cast<size_t>(2 * n));
  ASSERT_EQ(a.d.size(), static_cast<size_t>(2 * n / 32));
  for (int64_t b = 0; b < 2 * n / 32; ++b) {
    float amax = 0;
    int32_t qmax = 0;
    for (int64_t j = 32 * b; j < 32 * b + 32; ++j) {
      amax = std::max(amax, std::fabs(x[j]));
      const int32_t q = a.q[j];
      ASSERT_LE(std::abs(q), 32767);
      qmax = std::max(qmax, std::abs(q));
      // x * (1 / d) is rounded to float before it is rounded to an integer: up to 32767 * 2^-24
      // of a step past the tie.
      EXPECT_LE(std::fabs(x[j] - static_cast<double>(a.d[b]) * q), a.d[b] * (0.5 + 0.002))
          << "element " << j;
    }
    EXPECT_EQ(a.d[b], amax / 32767.0f) << "block " << b;
    if (amax > 0) {
      EXPECT_EQ(qmax, 32767) << "block " << b;
    }
  }
  EXPECT_EQ(a.d[2], 0.0f);  // the all-zero block

  // The dispatched and portable quantisers agree bit for bit.
  std::vector<int16_t> q(static_cast<size_t>(n));
  std::vector<float> d(static_cast<size_t>(n / 32));
  for (int t = 0; t < 2; ++t) {
    scalar::quantize_activation16_blocks(x.data() + n * t, n, q.data(), d.data());
    for (int64_t j = 0; j < n; ++j) ASSERT_EQ(a.q[n * t + j], q[j]) << t << " " << j;
    for (int64_t b = 0; b < n / 32; ++b) ASSERT_EQ(a.d[n / 32 * t + b], d[b]);
  }
}

// For each type and length: the dispatched kernel equals the portable one, both equal the dot of
// the dequantised row with the dequantised activations, and their distance from the exact float
// dot is far below int8 activations' (the reason the head uses int16).
TEST(Q16Dot, MatchesPortableKernelAndExactDotFarCloserThanInt8) {
  std::mt19937 rng(42);
  for (TensorType type : kTypes) {
    SCOPED_TRACE(std::string(tensor_type_name(type)));
    const Q16DotFn fast = q16_dot_kernel(type);
    const Q16DotFn reference = scalar::q16_dot_kernel(type);
    const Q8DotFn int8 = q8_dot_kernel(type);
    double err16 = 0, err8 = 0;
    int dots = 0;
    for (int64_t n : lengths(type)) {
      SCOPED_TRACE("n = " + std::to_string(n));
      for (int trial = 0; trial < 8; ++trial) {
        const std::vector<uint8_t> row = random_row(type, n, rng);
        const std::vector<float> w = dequantized(type, row, n);
        // Two activation rows; the dot uses the second, so first_block is exercised.
        const std::vector<float> x2 = random_activations(2 * n, rng);
        const float* x = x2.data() + n;
        Q16Activation a;
        quantize_activation16_rows(x2.data(), n, 2, n, a);
        Q8Activation a8;
        quantize_activation_rows(x2.data(), n, 2, n, a8);
        const int64_t first = n / 32;

        double exact = 0, mass = 0, on_grid = 0;
        for (int64_t j = 0; j < n; ++j) {
          const double xhat = static_cast<double>(a.d[first + j / 32]) * a.q[n + j];
          exact += static_cast<double>(w[j]) * x[j];
          mass += std::fabs(static_cast<double>(w[j]) * x[j]);
          on_grid += static_cast<double>(w[j]) * xhat;
        }
        const float got_ref = reference(row.data(), a, first, n);
        const float got_fast = fast(row.data(), a, first, n);
        EXPECT_LE(std::fabs(got_fast - got_ref), 1e-5 * mass) << got_fast << " vs " << got_ref;
        EXPECT_LE(std::fabs(got_ref - on_grid), 1e-5 * mass) << got_ref << " vs " << on_grid;
        EXPECT_LE(std::fabs(got_fast - exact), 1e-4 * mass) << got_fast << " vs " << exact;
        err16 += std::fabs(got_fast - exact) / mass;
        err8 += std::fabs(int8(row.data(), a8, first, n) - exact) / mass;
        ++dots;
      }
    }
    std::printf("%s: mean relative error, int16 activations %.3g, int8 %.3g\n",
                std::string(tensor_type_name(type)).c_str(), err16 / dots, err8 / dots);
    EXPECT_LT(30 * err16, err8);
  }
}

// Batched decoding: the multi-row kernels give every row the bits of the one-row kernel.
TEST(Q16Dot, MultiRowKernelsEqualTheOneRowKernelBitForBit) {
  std::mt19937 rng(7);
  for (TensorType type : kTypes) {
    SCOPED_TRACE(std::string(tensor_type_name(type)));
    const Q16DotMultiFn multi = q16_dot_multi_kernel(type);
    if (multi == nullptr) GTEST_SKIP() << "no AVX2 on this CPU";
    for (int64_t n : lengths(type)) {
      constexpr int64_t kRows = 2 * kQ16MultiRows + 1;  // rows 1, 3, 5, ...: spaced apart
      const std::vector<uint8_t> row = random_row(type, n, rng);
      const std::vector<float> x = random_activations(kRows * n, rng);
      Q16Activation a;
      quantize_activation16_rows(x.data(), n, kRows, n, a);
      const int64_t bpt = n / 32;
      for (int count = 1; count <= kQ16MultiRows; ++count) {
        float out[kQ16MultiRows];
        multi(row.data(), a, bpt, 2 * bpt, n, count, out);
        for (int t = 0; t < count; ++t) {
          const float one = q16_dot_kernel(type)(row.data(), a, (1 + 2 * t) * bpt, n);
          EXPECT_EQ(std::memcmp(&out[t], &one, sizeof one), 0)
              << "n " << n << " count " << count << " row " << t << ": " << out[t] << " vs " << one;
        }
      }
    }
  }
}

}  // namespace
}  // namespace emovec::ops
