// The tensors of a decoder, bound by role and checked for shape when the model loads.
#pragma once

#include <vector>

#include "ops/matmul.h"

namespace emovec {

struct LayerWeights {
  std::vector<float> attn_norm;
  ops::WeightMatrix wq, wk, wv, wo;
  std::vector<float> bq, bk, bv;      // qwen2
  std::vector<float> q_norm, k_norm;  // gemma3, per head_dim
  std::vector<float> post_attn_norm;  // gemma3
  std::vector<float> ffn_norm;
  ops::WeightMatrix w_gate, w_up, w_down;
  std::vector<float> post_ffn_norm;  // gemma3
};

struct DecoderWeights {
  ops::WeightMatrix token_embd;
  std::vector<LayerWeights> layers;
  std::vector<float> output_norm;
  ops::WeightMatrix output;  // the token embedding when tied
};

}  // namespace emovec
