#include "ops/elementwise.h"

#include <algorithm>
#include <cmath>

#include "ops/row_dot.h"

namespace emovec::ops {

void rms_norm(const float* x, const float* weight, int64_t n, float eps, float* out) {
  double ss = 0;
  for (int64_t i = 0; i < n; ++i) ss += static_cast<double>(x[i]) * x[i];
  const float mean = static_cast<float>(ss / static_cast<double>(n));
  const float scale = 1.0f / std::sqrt(mean + eps);
  for (int64_t i = 0; i < n; ++i) out[i] = weight[i] * (x[i] * scale);
}

void exp_f32(float* x, int64_t n) {
#if defined(__x86_64__) || defined(__i386__)
  if (cpu_has_avx2()) {
    avx2::exp_f32(x, n);
    return;
  }
#endif
  for (int64_t i = 0; i < n; ++i) x[i] = std::exp(x[i]);
}

void softmax(float* x, int64_t n) {
  float max_score = -INFINITY;
  for (int64_t j = 0; j < n; ++j) max_score = std::max(max_score, x[j]);
  for (int64_t j = 0; j < n; ++j) x[j] -= max_score;
  exp_f32(x, n);
  float sum = 0;
  for (int64_t j = 0; j < n; ++j) sum += x[j];
  const float inv = 1.0f / sum;
  for (int64_t j = 0; j < n; ++j) x[j] *= inv;
}

void silu_mul(float* gate, const float* up, int64_t n) {
#if defined(__x86_64__) || defined(__i386__)
  if (cpu_has_avx2()) {
    avx2::silu_mul(gate, up, n);
    return;
  }
#endif
  for (int64_t i = 0; i < n; ++i) {
    const float g = gate[i];
    gate[i] = g / (1.0f + std::exp(-g)) * up[i];
  }
}

void gelu_tanh_mul(float* gate, const float* up, int64_t n) {
  constexpr float kSqrt2OverPi = 0.7978845608028654f;
  for (int64_t i = 0; i < n; ++i) {
    const float g = gate[i];
    const float inner = kSqrt2OverPi * (g + 0.044715f * g * g * g);
    gate[i] = 0.5f * g * (1.0f + std::tanh(inner)) * up[i];
  }
}

void rope_angles(int64_t position, const RopeTable& table, float* cos_sin) {
  const auto pos = static_cast<float>(position);
  for (size_t i = 0; i < table.inv_freq.size(); ++i) {
    const float angle = pos * table.inv_freq[i];
    cos_sin[2 * i] = std::cos(angle);
    cos_sin[2 * i + 1] = std::sin(angle);
  }
}

void rope(float* v, int64_t head_dim, const float* cos_sin, bool neox) {
  const int64_t half = head_dim / 2;
  for (int64_t i = 0; i < half; ++i) {
    const float c = cos_sin[2 * i];
    const float s = cos_sin[2 * i + 1];
    const int64_t a = neox ? i : 2 * i;
    const int64_t b = neox ? i + half : 2 * i + 1;
    const float x0 = v[a];
    const float x1 = v[b];
    v[a] = x0 * c - x1 * s;
    v[b] = x1 * c + x0 * s;
  }
}

void add(float* y, const float* x, int64_t n) {
  for (int64_t i = 0; i < n; ++i) y[i] += x[i];
}

}  // namespace emovec::ops
