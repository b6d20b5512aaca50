// The vectorised element-wise functions against the C library and the scalar formulas they
// replace: the same bits, so the forward pass gives the same results with or without them.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <random>
#include <vector>

#include "ops/elementwise.h"

namespace emovec::ops {
namespace {

bool same_bits(float a, float b) {
  if (std::isnan(a) && std::isnan(b)) return true;
  return std::memcmp(&a, &b, sizeof a) == 0;
}

float from_bits(uint32_t u) {
  float x = 0;
  std::memcpy(&x, &u, sizeof x);
  return x;
}

// A wide sample of all floats: every 61st bit pattern (about 70 million values, both signs,
// denormals, the overflow and underflow ranges, infinities and NaNs), plus the edges of the
// range the vector path takes and the two floats (found by trying all 2^32) whose exp changes
// in the last place if the reduction's product and difference are rounded separately.
std::vector<float> sample_floats() {
  std::vector<float> v;
  v.reserve((uint64_t{1} << 32) / 61 + 64);
  for (uint64_t u = 0; u < (uint64_t{1} << 32); u += 61)
    v.push_back(from_bits(static_cast<uint32_t>(u)));
  for (const float x :
       {0.0f, -0.0f, 88.0f, -88.0f, std::nextafter(88.0f, 0.0f), std::nextafter(-88.0f, 0.0f),
        88.72283f, -103.97208f, -87.33655f, 1e-30f, -1e-30f, std::numeric_limits<float>::infinity(),
        -std::numeric_limits<float>::infinity(), std::numeric_limits<float>::quiet_NaN(),
        std::numeric_limits<float>::denorm_min(), 0x1.04845ep+5f, -0x1.f8cbb2p+5f}) {
    v.push_back(x);
  }
  return v;
}

TEST(VectorMath, ExpEqualsTheCLibraryBitForBit) {
  const std::vector<float> x = sample_floats();
  std::vector<float> y = x;
  exp_f32(y.data(), static_cast<int64_t>(y.size()));
  int64_t mismatches = 0;
  for (size_t i = 0; i < x.size(); ++i) {
    const float ref = std::exp(x[i]);
    if (!same_bits(y[i], ref)) {
      if (++mismatches <= 5) {
        ADD_FAILURE() << "exp(" << x[i] << ") = " << y[i] << ", the C library gives " << ref;
      }
    }
  }
  EXPECT_EQ(mismatches, 0) << "of " << x.size() << " values";
}

TEST(VectorMath, ExpHandlesEveryLengthAndMixedRanges) {
  std::mt19937 rng(5);
  std::uniform_real_distribution<float> wide(-120.0f, 100.0f);
  for (int64_t n = 0; n <= 41; ++n) {
    std::vector<float> x(static_cast<size_t>(n));
    for (float& v : x) v = wide(rng);  // some lanes past +-88: the library's path for their group
    std::vector<float> y = x;
    exp_f32(y.data(), n);
    for (int64_t i = 0; i < n; ++i) {
      const auto k = static_cast<size_t>(i);
      EXPECT_TRUE(same_bits(y[k], std::exp(x[k]))) << "n " << n << " i " << i << " x " << x[k];
    }
  }
}

TEST(VectorMath, SiluMulEqualsTheScalarFormulaBitForBit) {
  std::mt19937 rng(9);
  std::normal_distribution<float> normal(0.0f, 4.0f);
  const std::vector<float> sample = sample_floats();
  for (const int64_t n :
       {int64_t{1}, int64_t{7}, int64_t{8}, int64_t{9}, int64_t{1536}, int64_t{4099}}) {
    std::vector<float> gate(static_cast<size_t>(n)), up(static_cast<size_t>(n));
    for (int64_t i = 0; i < n; ++i) {
      const auto k = static_cast<size_t>(i);
      // Mostly model-like values, every fifth one from anywhere in the float range.
      gate[k] = i % 5 == 4 ? sample[(k * 7919) % sample.size()] : normal(rng);
      up[k] = normal(rng);
    }
    std::vector<float> out = gate;
    silu_mul(out.data(), up.data(), n);
    for (int64_t i = 0; i < n; ++i) {
      const auto k = static_cast<size_t>(i);
      const float ref = gate[k] / (1.0f + std::exp(-gate[k])) * up[k];
      EXPECT_TRUE(same_bits(out[k], ref)) << "n " << n << " gate " << gate[k] << " up " << up[k];
    }
  }
}

TEST(VectorMath, RopeWithSharedAnglesEqualsThePerHeadFormula) {
  std::mt19937 rng(11);
  std::normal_distribution<float> normal(0.0f, 1.0f);
  for (const bool neox : {true, false}) {
    for (const int64_t hd : {64, 128, 256}) {
      RopeTable table;
      for (int64_t i = 0; i < hd / 2; ++i) {
        table.inv_freq.push_back(
            std::pow(10000.0f, -2.0f * static_cast<float>(i) / static_cast<float>(hd)));
      }
      std::vector<float> cos_sin(static_cast<size_t>(hd));
      for (const int64_t pos : {0, 1, 17, 511, 4095, 131071}) {
        rope_angles(pos, table, cos_sin.data());
        std::vector<float> v(static_cast<size_t>(hd));
        for (float& x : v) x = normal(rng);
        std::vector<float> ref = v;
        rope(v.data(), hd, cos_sin.data(), neox);
        for (int64_t i = 0; i < hd / 2; ++i) {
          const float angle = static_cast<float>(pos) * table.inv_freq[static_cast<size_t>(i)];
          const float c = std::cos(angle), s = std::sin(angle);
          const auto a = static_cast<size_t>(neox ? i : 2 * i);
          const auto b = static_cast<size_t>(neox ? i + hd / 2 : 2 * i + 1);
          const float x0 = ref[a], x1 = ref[b];
          EXPECT_TRUE(same_bits(v[a], x0 * c - x1 * s)) << "pos " << pos << " pair " << i;
          EXPECT_TRUE(same_bits(v[b], x1 * c + x0 * s)) << "pos " << pos << " pair " << i;
        }
      }
    }
  }
}

}  // namespace
}  // namespace emovec::ops
