// The attention kernels over a cache (several keys per call) against the one-key kernels they
// replace: the same bits for every key and head width, and within float rounding of a double
// reference.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <random>
#include <vector>

#include "ops/row_dot.h"

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

}  // namespace
}  // namespace emovec::ops
