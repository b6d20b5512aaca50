// The BERT encoder behind SentenceEncoder: its weights (widened to float32 at load) and its
// forward pass over a batch of token sequences.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <vector>

namespace emovec {
class ModelFile;
class ThreadPool;
}  // namespace emovec

namespace emovec::encoder {

enum class Activation { GeluErf, GeluTanh };

struct BertHyperParams {
  int64_t n_vocab = 0;
  int64_t n_ctx = 0;    // position embeddings (max_position_embeddings)
  int64_t n_type = 0;   // token-type embeddings (type_vocab_size)
  int64_t n_embd = 0;   // hidden_size
  int64_t n_head = 0;   // num_attention_heads
  int64_t n_layer = 0;  // num_hidden_layers
  int64_t n_ff = 0;     // intermediate_size
  float norm_eps = 0;   // layer_norm_eps
  Activation activation = Activation::GeluErf;
  int64_t head_dim() const { return n_embd / n_head; }
};

// y = x W^T + b, W stored row-major as [out x in] (PyTorch's nn.Linear layout).
struct Linear {
  std::vector<float> weight;
  std::vector<float> bias;
  int64_t n_out = 0;
  int64_t n_in = 0;
};

struct LayerNorm {
  std::vector<float> weight;
  std::vector<float> bias;
};

struct BertLayer {
  Linear qkv;  // query, key and value stacked: rows [0, n_embd) are the query
  Linear attn_output;
  LayerNorm attn_norm;
  Linear ffn_up;
  Linear ffn_down;
  LayerNorm output_norm;
};

struct BertWeights {
  BertHyperParams hp;
  std::vector<float> word_embeddings;        // [n_vocab x n_embd]
  std::vector<float> position_embeddings;    // [n_ctx x n_embd]
  std::vector<float> token_type_embeddings;  // [n_type x n_embd]
  LayerNorm embedding_norm;
  std::vector<BertLayer> layers;
};

// Reads and checks every tensor of a Hugging Face BertModel (names with or without a "bert."
// prefix). Throws Error naming the model and, for a bad tensor, its name and expected shape.
BertWeights load_bert_weights(const ModelFile& model);

// The last hidden states of `sequences` (token ids, each at most n_ctx long, every id below
// n_vocab), packed one sequence after another: row r of the [sum of lengths x n_embd] result is
// the r-th token overall. Each sequence attends only to itself, so no padding is involved.
std::vector<float> bert_forward(const BertWeights& w,
                                std::span<const std::vector<int32_t>> sequences, ThreadPool& pool);

}  // namespace emovec::encoder
