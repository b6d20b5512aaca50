// The int8-activation dot kernels: the AVX2 kernels against the portable ones, both against the
// float dot of the dequantised row (emovec::dequantize, bit-exact with gguf-py) computed in
// double, and the activation quantisation against its definition. Prints a micro-benchmark of
// the float and int8 kernels (informational, not asserted).
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "emovec/tensor_type.h"
#include "ops/q8_activation.h"
#include "ops/row_dot.h"
#include "quant/half.h"
#include "support/random_blocks.h"

namespace emovec::ops {
namespace {

constexpr TensorType kTypes[] = {TensorType::Q4_0, TensorType::Q4_1, TensorType::Q5_0,
                                 TensorType::Q5_1, TensorType::Q8_0, TensorType::Q4_K,
                                 TensorType::Q5_K, TensorType::Q6_K};

std::vector<int64_t> lengths(TensorType type) {
  if (traits(type).block_elements == 256) return {256, 768, 1024, 2816, 4096};
  return {256, 288, 1024, 2080, 4096};
}

TEST(Q8Dot, KernelsExistForTheListedTypesOnly) {
  for (TensorType type : kTypes) {
    EXPECT_NE(q8_dot_kernel(type), nullptr) << tensor_type_name(type);
    EXPECT_NE(scalar::q8_dot_kernel(type), nullptr) << tensor_type_name(type);
  }
  EXPECT_EQ(q8_dot_kernel(TensorType::F32), nullptr);
  EXPECT_EQ(q8_dot_kernel(TensorType::Q2_K), nullptr);
  EXPECT_EQ(scalar::q8_dot_kernel(TensorType::IQ4_NL), nullptr);
}

TEST(Q8Dot, QuantizeActivationRoundTripsWithinHalfAStep) {
  std::mt19937 rng(7);
  const int64_t n = 4096;
  const std::vector<float> x = random_activations(n, rng);
  Q8Activation a;
  quantize_activation(x.data(), n, a);
  ASSERT_EQ(a.n, n);
  ASSERT_EQ(a.q.size(), static_cast<size_t>(n));
  ASSERT_EQ(a.d.size(), static_cast<size_t>(n / 4));
  ASSERT_EQ(a.sum.size(), static_cast<size_t>(n / 32));
  for (int64_t g = 0; g < n / 4; ++g) {
    float amax = 0;
    int32_t qmax = 0;
    for (int64_t j = 4 * g; j < 4 * g + 4; ++j) {
      amax = std::max(amax, std::fabs(x[j]));
      const int32_t q = a.q[j];
      ASSERT_LE(std::abs(q), 127);
      qmax = std::max(qmax, std::abs(q));
      // The rounded reciprocal of d can move a value a last-place step past the tie.
      EXPECT_LE(std::fabs(x[j] - a.d[g] * static_cast<float>(q)), a.d[g] * 0.5f * (1 + 1e-6f))
          << "element " << j;
    }
    EXPECT_EQ(a.d[g], amax / 127.0f) << "group " << g;
    if (amax > 0) {
      EXPECT_EQ(qmax, 127) << "group " << g;
    }
  }
  for (int64_t b = 0; b < n / 32; ++b) {
    double xsum = 0, dequantized_sum = 0, half_steps = 0;
    for (int64_t j = 32 * b; j < 32 * b + 32; ++j) {
      xsum += x[j];
      dequantized_sum += static_cast<double>(a.d[j / 4]) * a.q[j];
      half_steps += 0.5 * a.d[j / 4];
    }
    EXPECT_NEAR(a.sum[b], dequantized_sum, 1e-5 * (std::fabs(dequantized_sum) + half_steps))
        << "block " << b;
    EXPECT_LE(std::fabs(a.sum[b] - xsum), half_steps * (1 + 1e-5) + 1e-6) << "block " << b;
  }
  for (int g = 16; g < 24; ++g) EXPECT_EQ(a.d[g], 0.0f);  // the all-zero block
  EXPECT_EQ(a.sum[2], 0.0f);

  // The AVX2 and portable quantisers agree bit for bit; rows with a stride land one after
  // another.
  Q8Activation rows;
  quantize_activation_rows(x.data(), 2048, 2, 1024, rows);
  ASSERT_EQ(rows.n, 2048);
  std::vector<int8_t> q(1024);
  std::vector<float> d(256), sum(32);
  for (int t = 0; t < 2; ++t) {
    scalar::quantize_activation_blocks(x.data() + 2048 * t, 1024, q.data(), d.data(), sum.data());
    for (int j = 0; j < 1024; ++j) ASSERT_EQ(rows.q[1024 * t + j], q[j]) << t << " " << j;
    for (int g = 0; g < 256; ++g) ASSERT_EQ(rows.d[256 * t + g], d[g]);
    for (int b = 0; b < 32; ++b) ASSERT_EQ(rows.sum[32 * t + b], sum[b]);
  }
  // Storage is reused: a shorter input shrinks it.
  quantize_activation(x.data(), 64, rows);
  EXPECT_EQ(rows.n, 64);
  EXPECT_EQ(rows.q.size(), 64u);
  EXPECT_EQ(rows.d.size(), 16u);
}

// For every type and length: the dispatched (AVX2 here) kernel equals the portable one, both
// equal the dot of the dequantised row with the dequantised activations, and both stay within
// 1e-2 of the exact float dot, errors relative to sum |w x|.
TEST(Q8Dot, MatchesPortableKernelAndExactDot) {
  std::mt19937 rng(42);
  for (TensorType type : kTypes) {
    SCOPED_TRACE(std::string(tensor_type_name(type)));
    const Q8DotFn fast = q8_dot_kernel(type);
    const Q8DotFn reference = scalar::q8_dot_kernel(type);
    ASSERT_NE(fast, nullptr);
    ASSERT_NE(reference, nullptr);
    for (int64_t n : lengths(type)) {
      SCOPED_TRACE("n = " + std::to_string(n));
      for (int trial = 0; trial < 4; ++trial) {
        const std::vector<uint8_t> row = random_row(type, n, rng);
        const std::vector<float> w = dequantized(type, row, n);
        // Two activation rows; the dot uses the second, so first_block is exercised.
        const std::vector<float> x2 = random_activations(2 * n, rng);
        const float* x = x2.data() + n;
        Q8Activation a;
        quantize_activation_rows(x2.data(), n, 2, n, a);
        const int64_t first = n / 32;

        double exact = 0, exact_mass = 0, on_grid = 0, grid_mass = 0;
        for (int64_t j = 0; j < n; ++j) {
          const double xhat = static_cast<double>(a.d[(32 * first + j) / 4]) * a.q[n + j];
          exact += static_cast<double>(w[j]) * x[j];
          exact_mass += std::fabs(static_cast<double>(w[j]) * x[j]);
          on_grid += static_cast<double>(w[j]) * xhat;
          grid_mass += std::fabs(static_cast<double>(w[j]) * xhat);
        }
        const float got_ref = reference(row.data(), a, first, n);
        const float got_fast = fast(row.data(), a, first, n);
        EXPECT_LE(std::fabs(got_fast - got_ref), 1e-5 * grid_mass) << got_fast << " vs " << got_ref;
        EXPECT_LE(std::fabs(got_ref - on_grid), 1e-5 * grid_mass) << got_ref << " vs " << on_grid;
        EXPECT_LE(std::fabs(got_fast - exact), 1e-2 * exact_mass) << got_fast << " vs " << exact;
        EXPECT_LE(std::fabs(got_ref - exact), 1e-2 * exact_mass) << got_ref << " vs " << exact;
      }
    }
  }
}

// The multi-row kernels (batched decoding) give every row the bits of the one-row kernel, for
// 1 to kQ8MultiRows rows spaced apart in one activation buffer: what makes a sequence's logits
// independent of how many others share its decoding step.
TEST(Q8Dot, MultiRowKernelsEqualTheOneRowKernelBitForBit) {
  std::mt19937 rng(7);
  const bool avx2 = cpu_has_avx2();
  for (TensorType type : kTypes) {
    SCOPED_TRACE(std::string(tensor_type_name(type)));
    const Q8DotMultiFn multi = q8_dot_multi_kernel(type);
    EXPECT_EQ(multi != nullptr, avx2);
    const RowDotMultiFn float_multi = row_dot_multi_kernel(type);
    EXPECT_EQ(float_multi != nullptr, avx2);
    if (multi == nullptr && float_multi == nullptr) continue;
    for (int64_t n : lengths(type)) {
      constexpr int64_t kRows = 2 * kQ8MultiRows + 1;  // rows 1, 3, 5, ...: spaced apart
      const std::vector<uint8_t> row = random_row(type, n, rng);
      const std::vector<float> x = random_activations(kRows * n, rng);
      Q8Activation a;
      quantize_activation_rows(x.data(), n, kRows, n, a);
      const int64_t bpt = n / 32;
      for (int count = 1; count <= kQ8MultiRows; ++count) {
        float out[kQ8MultiRows];
        if (multi != nullptr) {
          multi(row.data(), a, bpt, 2 * bpt, n, count, out);
          for (int t = 0; t < count; ++t) {
            const float one = q8_dot_kernel(type)(row.data(), a, (1 + 2 * t) * bpt, n);
            EXPECT_EQ(std::memcmp(&out[t], &one, sizeof one), 0)
                << "n " << n << " count " << count << " row " << t << ": " << out[t] << " vs "
                << one;
          }
        }
        if (float_multi != nullptr && count <= kRowDotMultiRows) {
          // Rows 1, 3, 5, ... (stride 2n floats), their block sums 2 * (n / 32 + 1) apart.
          const int64_t sums_stride = 2 * (n / 32 + 1);
          std::vector<float> sums(static_cast<size_t>(kRows * sums_stride));
          for (int t = 0; t < count; ++t) {
            block_sums_32(x.data() + (1 + 2 * t) * n, n, sums.data() + t * sums_stride);
          }
          float_multi(row.data(), x.data() + n, 2 * n, sums.data(), sums_stride, n, count, out);
          for (int t = 0; t < count; ++t) {
            const float* xt = x.data() + (1 + 2 * t) * n;
            std::vector<float> alone(static_cast<size_t>(n / 32));
            block_sums_32(xt, n, alone.data());
            const float one = row_dot_kernel(type)(row.data(), xt, alone.data(), n);
            EXPECT_EQ(std::memcmp(&out[t], &one, sizeof one), 0)
                << "float, n " << n << " row " << t << ": " << out[t] << " vs " << one;
          }
        }
      }
    }
  }
}

// The same for float weights (safetensors models: F32, F16, BF16), over lengths that leave a
// scalar rest after the vector steps.
TEST(RowDot, FloatWeightMultiRowKernelsEqualTheOneRowKernelBitForBit) {
  std::mt19937 rng(11);
  std::normal_distribution<float> normal(0.0f, 0.05f);
  for (TensorType type : {TensorType::F32, TensorType::F16, TensorType::BF16}) {
    SCOPED_TRACE(std::string(tensor_type_name(type)));
    const RowDotMultiFn multi = row_dot_multi_kernel(type);
    EXPECT_EQ(multi != nullptr, cpu_has_avx2());
    if (multi == nullptr) continue;
    for (int64_t n : {8, 15, 16, 100, 576, 1000, 4096}) {
      std::vector<float> w(static_cast<size_t>(n));
      for (float& v : w) v = normal(rng);
      std::vector<uint8_t> row(static_cast<size_t>(n) * (type == TensorType::F32 ? 4 : 2));
      if (type == TensorType::F32) {
        std::memcpy(row.data(), w.data(), row.size());
      } else if (type == TensorType::F16) {
        f32_to_f16_row(w.data(), n, reinterpret_cast<uint16_t*>(row.data()));
      } else {
        for (int64_t i = 0; i < n; ++i) {
          uint32_t bits;
          std::memcpy(&bits, &w[static_cast<size_t>(i)], 4);
          const auto top = static_cast<uint16_t>(bits >> 16);
          std::memcpy(row.data() + 2 * i, &top, 2);
        }
      }
      std::vector<float> wide(static_cast<size_t>(n));  // the row as the kernels read it
      dequantize(type, row.data(), wide.data(), n);
      constexpr int64_t kRows = 2 * kRowDotMultiRows;
      const std::vector<float> x = random_activations(kRows * n, rng);
      for (int count = 1; count <= kRowDotMultiRows; ++count) {
        float out[kRowDotMultiRows];
        multi(row.data(), x.data() + n, 2 * n, nullptr, 0, n, count, out);  // rows 1, 3, ...
        for (int t = 0; t < count; ++t) {
          const float one =
              row_dot_kernel(type)(row.data(), x.data() + (1 + 2 * t) * n, nullptr, n);
          EXPECT_EQ(std::memcmp(&out[t], &one, sizeof one), 0)
              << "n " << n << " count " << count << " row " << t << ": " << out[t] << " vs " << one;
          double ref = 0;
          for (int64_t i = 0; i < n; ++i) {
            ref += static_cast<double>(wide[static_cast<size_t>(i)]) * x[(1 + 2 * t) * n + i];
          }
          EXPECT_NEAR(one, ref, 1e-4 * (1 + std::fabs(ref))) << "n " << n;
          if (type == TensorType::F32) {  // float32 weights: dot_f32's bits, as attention's
            const float plain = dot_f32(w.data(), x.data() + (1 + 2 * t) * n, n);
            EXPECT_EQ(std::memcmp(&plain, &one, sizeof one), 0) << "n " << n;
          }
        }
      }
    }
  }
}

}  // namespace
}  // namespace emovec::ops
