// Row-wise operations of the forward pass: normalisation, activation functions, rotary
// position embedding.
#pragma once

#include <cstdint>
#include <vector>

namespace emovec::ops {

// out = x / sqrt(mean(x^2) + eps) * weight, over n values (out may be x).
void rms_norm(const float* x, const float* weight, int64_t n, float eps, float* out);

// gate[i] = act(gate[i]) * up[i].
void silu_mul(float* gate, const float* up, int64_t n);
void gelu_tanh_mul(float* gate, const float* up, int64_t n);

// Inverse frequencies of the rotated pairs, as Hugging Face computes them in float32.
struct RopeTable {
  std::vector<float> inv_freq;  // head_dim / 2
};

// Rotates one head vector of `head_dim` values at `position`: pairs (i, i + head_dim/2) when
// neox, else (2i, 2i + 1).
void rope(float* v, int64_t head_dim, int64_t position, const RopeTable& table, bool neox);

void add(float* y, const float* x, int64_t n);

}  // namespace emovec::ops
