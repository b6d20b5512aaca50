// The BERT-family encoder behind SentenceEncoder (BERT) and SequenceClassifier (RoBERTa): its
// weights (widened to float32 at load), its forward pass over a batch of token sequences, and
// RoBERTa's sequence-classification head. RoBERTa is BERT with other tensor names, its own
// position numbering and one token type, so the two share one forward pass.
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
  // RoBERTa numbers positions from padding_idx + 1 and gives padding tokens padding_idx itself
  // (transformers' create_position_ids_from_input_ids), so its max_position_embeddings includes
  // that offset. -1 for BERT, whose positions are 0, 1, 2, ...
  int32_t padding_idx = -1;

  int64_t head_dim() const { return n_embd / n_head; }
  // The longest sequence the position embeddings cover.
  int64_t max_tokens() const { return padding_idx < 0 ? n_ctx : n_ctx - padding_idx - 1; }
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

// RobertaClassificationHead: logits = out_proj(tanh(dense(h))) of a sequence's first token.
struct ClassificationHead {
  Linear dense;     // [n_embd x n_embd]
  Linear out_proj;  // [n_labels x n_embd]
};

// Reads and checks every tensor of a Hugging Face BertModel (names with or without a "bert."
// prefix). Throws Error naming the model and, for a bad tensor, its name and expected shape.
BertWeights load_bert_weights(const ModelFile& model);

// The same for the encoder of a RobertaModel or RobertaFor* checkpoint (names with or without a
// "roberta." prefix); `client` names what needs it in error messages ("the sequence classifier").
BertWeights load_roberta_weights(const ModelFile& model, const std::string& client);

// RobertaForSequenceClassification's classifier.dense and classifier.out_proj, the latter with
// `n_labels` rows.
ClassificationHead load_classification_head(const ModelFile& model, const BertHyperParams& hp,
                                            int64_t n_labels);

// The last hidden states of `sequences` (token ids, each at most max_tokens() long, every id
// below n_vocab), packed one sequence after another: row r of the [sum of lengths x n_embd]
// result is the r-th token overall. Each sequence attends only to itself, so no padding is
// involved.
std::vector<float> bert_forward(const BertWeights& w,
                                std::span<const std::vector<int32_t>> sequences, ThreadPool& pool);

// The head's logits for each sequence (none empty), [sequences.size() x n_labels], from
// bert_forward's `hidden` states of the same sequences.
std::vector<float> classify_first_tokens(const ClassificationHead& head,
                                         std::span<const float> hidden,
                                         std::span<const std::vector<int32_t>> sequences);

}  // namespace emovec::encoder
