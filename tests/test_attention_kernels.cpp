// The attention kernels over a cache (several keys per call) against the one-key kernels they
// replace: the same bits for every key and head width, and within float rounding of a double
// reference. Over a float16 cache: the bits of the float32 kernels given the widened values, and
// the cache's rounding that of numpy's float16.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <random>
#include <vector>

#include "emovec/tensor_type.h"
#include "ops/row_dot.h"
#include "quant/half.h"

namespace emovec::ops {
namespace {

std::vector<float> random_floats(size_t n, std::mt19937& rng) {
  std::normal_distribution<float> normal(0.0f, 1.0f);
  std::vector<float> v(n);
  for (float& x : v) x = normal(rng);
  return v;
}

bool same_bits(float a, float b) { return std::memcmp(&a, &b, sizeof a) == 0; }

TEST(AttentionKernels, ScoresEqualOneKeyDotsBitForBit) {
  std::mt19937 rng(3);
  for (const int64_t n : {64, 128, 256, 72, 8, 3}) {
    for (const int64_t n_keys : {1, 3, 4, 5, 17}) {
      const int64_t stride = 3 * n + 5;  // keys of one head among others, as in the cache
      const std::vector<float> q = random_floats(static_cast<size_t>(n), rng);
      const std::vector<float> keys = random_floats(static_cast<size_t>(stride * n_keys), rng);
      std::vector<float> out(static_cast<size_t>(n_keys));
      const float scale = 0.125f;
      dot_f32_keys(q.data(), keys.data(), stride, n_keys, n, scale, out.data());
      for (int64_t j = 0; j < n_keys; ++j) {
        const float one = dot_f32(q.data(), keys.data() + j * stride, n) * scale;
        EXPECT_TRUE(same_bits(out[static_cast<size_t>(j)], one))
            << "n " << n << " keys " << n_keys << " key " << j;
        double exact = 0, mass = 0;
        for (int64_t i = 0; i < n; ++i) {
          const double p = static_cast<double>(q[static_cast<size_t>(i)]) *
                           keys[static_cast<size_t>(j * stride + i)];
          exact += p;
          mass += std::fabs(p);
        }
        EXPECT_NEAR(out[static_cast<size_t>(j)], exact * scale, 1e-6 * mass * scale + 1e-30);
      }
    }
  }
}

TEST(AttentionKernels, WeightedValueSumsEqualOneKeyAxpysBitForBit) {
  std::mt19937 rng(4);
  for (const int64_t n : {64, 128, 256, 72, 8, 3}) {
    for (const int64_t n_keys : {1, 3, 4, 5, 17}) {
      const int64_t stride = 2 * n + 3;
      const std::vector<float> p = random_floats(static_cast<size_t>(n_keys), rng);
      const std::vector<float> values = random_floats(static_cast<size_t>(stride * n_keys), rng);
      const std::vector<float> start = random_floats(static_cast<size_t>(n), rng);
      std::vector<float> got = start, want = start;
      axpy_f32_keys(p.data(), values.data(), stride, n_keys, n, got.data());
      for (int64_t j = 0; j < n_keys; ++j) {
        axpy_f32(p[static_cast<size_t>(j)], values.data() + j * stride, want.data(), n);
      }
      for (int64_t i = 0; i < n; ++i) {
        const auto e = static_cast<size_t>(i);
        EXPECT_TRUE(same_bits(got[e], want[e])) << "n " << n << " keys " << n_keys << " i " << i;
        double exact = start[e], mass = std::fabs(start[e]);
        for (int64_t j = 0; j < n_keys; ++j) {
          const double t = static_cast<double>(p[static_cast<size_t>(j)]) *
                           values[static_cast<size_t>(j * stride + i)];
          exact += t;
          mass += std::fabs(t);
        }
        EXPECT_NEAR(got[e], exact, 1e-6 * mass);
      }
    }
  }
}

// A float16 copy of v (the portable, numpy-matching conversion) and its values widened back.
struct Half {
  std::vector<uint16_t> bits;
  std::vector<float> widened;
  explicit Half(const std::vector<float>& v) {
    for (float x : v) {
      bits.push_back(f32_to_f16(x));
      widened.push_back(f16_to_f32(bits.back()));
    }
  }
};

TEST(AttentionKernels, HalfCacheKernelsEqualTheFloatOnesOnTheWidenedValues) {
  std::mt19937 rng(5);
  for (const int64_t n : {64, 128, 72, 8, 3}) {
    for (const int64_t n_keys : {1, 3, 4, 5, 17}) {
      const int64_t stride = 3 * n + 5;
      const std::vector<float> q = random_floats(static_cast<size_t>(n), rng);
      const Half keys(random_floats(static_cast<size_t>(stride * n_keys), rng));
      std::vector<float> got(static_cast<size_t>(n_keys)), want(got.size());
      dot_f16_keys(q.data(), keys.bits.data(), stride, n_keys, n, 0.125f, got.data());
      dot_f32_keys(q.data(), keys.widened.data(), stride, n_keys, n, 0.125f, want.data());
      for (size_t j = 0; j < got.size(); ++j) {
        EXPECT_TRUE(same_bits(got[j], want[j])) << "scores, n " << n << " keys " << n_keys;
      }
      const std::vector<float> p = random_floats(static_cast<size_t>(n_keys), rng);
      const std::vector<float> start = random_floats(static_cast<size_t>(n), rng);
      std::vector<float> acc = start, acc_want = start;
      axpy_f16_keys(p.data(), keys.bits.data(), stride, n_keys, n, acc.data());
      axpy_f32_keys(p.data(), keys.widened.data(), stride, n_keys, n, acc_want.data());
      for (size_t i = 0; i < acc.size(); ++i) {
        EXPECT_TRUE(same_bits(acc[i], acc_want[i])) << "values, n " << n << " keys " << n_keys;
      }
    }
  }
}

TEST(AttentionKernels, HalfCacheRowsRoundAsNumpyAndWidenExactly) {
  std::mt19937 rng(6);
  std::vector<float> x = random_floats(1000, rng);
  for (float& v : x) v *= 300.0f;  // past float16's range (65504) for a few after the scaling
  // Ties, the subnormal range, overflow, signed zero and infinities.
  for (float v : {1.0f + 0x1p-11f, 1.0f + 3 * 0x1p-11f, 0x1p-20f, -0x1.8p-24f, 0x1p-26f, 65504.0f,
                  65520.0f, 1e6f, -0.0f, INFINITY, -INFINITY}) {
    x.push_back(v);
  }
  for (float& v : x) {
    if (std::fabs(v) > 1000) v *= 100;
  }
  std::vector<uint16_t> h(x.size());
  f32_to_f16_row(x.data(), static_cast<int64_t>(x.size()), h.data());
  std::vector<float> back(x.size());
  dequantize(TensorType::F16, h.data(), back.data(), static_cast<int64_t>(h.size()));
  for (size_t i = 0; i < x.size(); ++i) {
    EXPECT_EQ(h[i], f32_to_f16(x[i])) << x[i];
    EXPECT_TRUE(same_bits(back[i], f16_to_f32(h[i]))) << x[i];
  }
}

}  // namespace
}  // namespace emovec::ops
