// Row-wise operations of the forward pass: normalisation, activation functions, rotary
// position embedding.
#pragma once

#include <cstdint>
#include <vector>

namespace emovec::ops {

// out = x / sqrt(mean(x^2) + eps) * weight, over n values (out may be x).
void rms_norm(const float* x, const float* weight, int64_t n, float eps, float* out);

// x[i] = std::exp(x[i]), with the C library's results bit for bit (AVX2 when the CPU has it).
void exp_f32(float* x, int64_t n);

// x = softmax(x) over n > 0 values: the maximum subtracted, exp_f32, then each divided by the sum
// (summed in order), as a multiplication by its inverse.
void softmax(float* x, int64_t n);

// gate[i] = act(gate[i]) * up[i]. SiLU is g / (1 + exp(-g)) * up with exp as exp_f32's.
void silu_mul(float* gate, const float* up, int64_t n);
void gelu_tanh_mul(float* gate, const float* up, int64_t n);

// Inverse frequencies of the rotated pairs, as Hugging Face computes them in float32.
struct RopeTable {
  std::vector<float> inv_freq;  // head_dim / 2
};

// The rotation of every pair at `position`: cos_sin[2i], cos_sin[2i + 1] = cos, sin of
// position * inv_freq[i] (head_dim values). Every head of a position shares them.
void rope_angles(int64_t position, const RopeTable& table, float* cos_sin);

// Rotates one head vector of `head_dim` values by rope_angles' result: pairs (i, i + head_dim/2)
// when neox, else (2i, 2i + 1).
void rope(float* v, int64_t head_dim, const float* cos_sin, bool neox);

void add(float* y, const float* x, int64_t n);

// AVX2 implementations (exp_avx2.cpp); call only when cpu_has_avx2().
namespace avx2 {
void exp_f32(float* x, int64_t n);
void silu_mul(float* gate, const float* up, int64_t n);
}  // namespace avx2

}  // namespace emovec::ops
