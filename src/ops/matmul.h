// Products of quantised weight matrices with float32 activations: y = x W^T for a batch of
// token rows. Weights are used as stored in the model file.
#pragma once

#include <cstdint>
#include <span>
#include <string>

#include "emovec/tensor_type.h"

namespace emovec {
class ThreadPool;
}

namespace emovec::ops {

// A weight matrix as stored: `rows` output features, each a row of `cols` input features in
// the file's block format.
struct WeightMatrix {
  std::string name;
  TensorType type = TensorType::F32;
  const uint8_t* data = nullptr;
  int64_t rows = 0;
  int64_t cols = 0;
  uint64_t row_bytes = 0;
};

// One product of a group: y[t * y_stride + r] = dot(W row r, x[t * x_stride ...]).
struct MatmulTarget {
  const WeightMatrix* weight = nullptr;
  float* y = nullptr;
  int64_t y_stride = 0;
};

// How the few-row path treats the activations.
enum class Activations {
  Float,  // float32 throughout: the exact path
  // Quantised to int8 per 32-element block (as llama.cpp does), integer dot products for the
  // types that have them: about twice as fast, at the cost of the activation rounding.
  Int8,
  // Quantised to int16 per 32-element block: integer dot products for Q8_0 and Q6_K with a
  // rounding far below int8's (the output head), float32 for the other types.
  Int16,
};

// Computes every product of `targets` over the same n_tokens rows of x (x_stride floats apart)
// in one parallel pass. Few rows: per-row dot kernels, with the activations as `activations`
// says; many rows: weight tiles decoded to float32 and multiplied with SGEMM.
//
// With `per_row`, the few-row path is used however many rows there are: every output is then
// computed by the same kernel in the same order whatever else is in the batch.
void matmul(std::span<const MatmulTarget> targets, const float* x, int64_t x_stride,
            int64_t n_tokens, ThreadPool& pool, Activations activations = Activations::Float,
            bool per_row = false);

void matmul(const WeightMatrix& w, const float* x, int64_t n_tokens, float* y, ThreadPool& pool,
            Activations activations = Activations::Float, bool per_row = false);

// Decodes one row of a matrix into float32 (embedding look-ups).
void decode_row(const WeightMatrix& w, int64_t row, float* out);

}  // namespace emovec::ops
