// The BERT forward pass (Devlin et al. 2019; transformers' BertModel and RobertaModel),
// post-LayerNorm:
//   x = LN(word[t] + position[p] + token_type[0])
//   per layer:  x = LN(x + Attention(x) W_o + b_o);  x = LN(x + GELU(x W_up + b_up) W_down +
//   b_down)
// over sequences packed one after another, so the linear layers run as one SGEMM over every
// token of the batch and only attention looks at sequence boundaries. RoBERTa differs only in
// the position p of a token (position_ids below) and in the weights.
#include <cblas.h>

#include <algorithm>
#include <cmath>
#include <vector>

#include "encoder/bert_model.h"
#include "runtime/thread_pool.h"

namespace emovec::encoder {
namespace {

// Rows per parallel chunk for the per-token work (LayerNorm, GELU, bias).
constexpr int64_t kRowGrain = 16;

// y[T x n_out] = x[T x n_in] W^T + b
void linear(const Linear& l, const float* x, int64_t n_tokens, float* y) {
  for (int64_t t = 0; t < n_tokens; ++t) {
    std::copy(l.bias.begin(), l.bias.end(), y + t * l.n_out);
  }
  cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, static_cast<int>(n_tokens),
              static_cast<int>(l.n_out), static_cast<int>(l.n_in), 1.0f, x,
              static_cast<int>(l.n_in), l.weight.data(), static_cast<int>(l.n_in), 1.0f, y,
              static_cast<int>(l.n_out));
}

// x = LN(x + residual) row by row (residual may be null).
void add_layer_norm(float* x, const float* residual, const LayerNorm& ln, int64_t n_tokens,
                    int64_t n_embd, float eps, ThreadPool& pool) {
  pool.parallel_for(n_tokens, kRowGrain, [&](int64_t begin, int64_t end, int) {
    for (int64_t t = begin; t < end; ++t) {
      float* row = x + t * n_embd;
      if (residual != nullptr) {
        const float* r = residual + t * n_embd;
        for (int64_t i = 0; i < n_embd; ++i) row[i] += r[i];
      }
      double sum = 0;
      for (int64_t i = 0; i < n_embd; ++i) sum += row[i];
      const double mean = sum / static_cast<double>(n_embd);
      double var = 0;
      for (int64_t i = 0; i < n_embd; ++i) {
        const double d = row[i] - mean;
        var += d * d;
      }
      var /= static_cast<double>(n_embd);
      const auto inv = static_cast<float>(1.0 / std::sqrt(var + eps));
      const auto m = static_cast<float>(mean);
      for (int64_t i = 0; i < n_embd; ++i) {
        row[i] = (row[i] - m) * inv * ln.weight[i] + ln.bias[i];
      }
    }
  });
}

void gelu(float* x, int64_t n_tokens, int64_t width, Activation act, ThreadPool& pool) {
  pool.parallel_for(n_tokens, kRowGrain, [&](int64_t begin, int64_t end, int) {
    float* p = x + begin * width;
    const int64_t n = (end - begin) * width;
    if (act == Activation::GeluErf) {
      for (int64_t i = 0; i < n; ++i) p[i] = 0.5f * p[i] * (1.0f + std::erf(p[i] * 0.70710678f));
    } else {
      for (int64_t i = 0; i < n; ++i) {
        const float v = p[i];
        p[i] = 0.5f * v * (1.0f + std::tanh(0.79788456f * (v + 0.044715f * v * v * v)));
      }
    }
  });
}

struct AttentionScratch {
  std::vector<float> keys_t;  // [head_dim x L]: the head's keys, transposed
  std::vector<float> scores;  // [L]
};

// Scaled dot-product attention of one head over one sequence of `len` tokens starting at row
// `first`; qkv rows are [q | k | v], the result goes to the head's columns of `context`.
void attend(const float* qkv, int64_t first, int64_t len, int64_t head, const BertHyperParams& hp,
            float* context, AttentionScratch& s) {
  const int64_t d_model = hp.n_embd;
  const int64_t d_head = hp.head_dim();
  const int64_t stride = 3 * d_model;
  const float scale = 1.0f / std::sqrt(static_cast<float>(d_head));
  const float* q0 = qkv + first * stride + head * d_head;
  const float* k0 = q0 + d_model;
  const float* v0 = q0 + 2 * d_model;

  s.keys_t.resize(static_cast<size_t>(d_head * len));
  s.scores.resize(static_cast<size_t>(len));
  for (int64_t j = 0; j < len; ++j) {
    for (int64_t d = 0; d < d_head; ++d) s.keys_t[d * len + j] = k0[j * stride + d];
  }
  for (int64_t i = 0; i < len; ++i) {
    const float* q = q0 + i * stride;
    float* scores = s.scores.data();
    std::fill(scores, scores + len, 0.0f);
    for (int64_t d = 0; d < d_head; ++d) {
      const float qd = q[d] * scale;
      const float* kd = s.keys_t.data() + d * len;
      for (int64_t j = 0; j < len; ++j) scores[j] += qd * kd[j];
    }
    const float max = *std::max_element(scores, scores + len);
    float sum = 0;
    for (int64_t j = 0; j < len; ++j) {
      scores[j] = std::exp(scores[j] - max);
      sum += scores[j];
    }
    const float inv_sum = 1.0f / sum;
    float* out = context + (first + i) * d_model + head * d_head;
    std::fill(out, out + d_head, 0.0f);
    for (int64_t j = 0; j < len; ++j) {
      const float p = scores[j] * inv_sum;
      const float* v = v0 + j * stride;
      for (int64_t d = 0; d < d_head; ++d) out[d] += p * v[d];
    }
  }
}

// Positions of one sequence's tokens: 0, 1, 2, ... for BERT. RoBERTa counts only the tokens that
// are not padding, from padding_idx + 1, and puts a padding token (which a text can hold, as
// "<pad>") at padding_idx.
void position_ids(std::span<const int32_t> ids, int32_t padding_idx, std::vector<int64_t>& out) {
  out.resize(ids.size());
  if (padding_idx < 0) {
    for (size_t p = 0; p < ids.size(); ++p) out[p] = static_cast<int64_t>(p);
    return;
  }
  int64_t counted = 0;
  for (size_t p = 0; p < ids.size(); ++p) {
    out[p] = ids[p] == padding_idx ? padding_idx : padding_idx + ++counted;
  }
}

}  // namespace

std::vector<float> bert_forward(const BertWeights& w,
                                std::span<const std::vector<int32_t>> sequences, ThreadPool& pool) {
  const BertHyperParams& hp = w.hp;
  const int64_t d_model = hp.n_embd;
  std::vector<int64_t> first(sequences.size() + 1, 0);
  for (size_t s = 0; s < sequences.size(); ++s) {
    first[s + 1] = first[s] + static_cast<int64_t>(sequences[s].size());
  }
  const int64_t n_tokens = first.back();

  std::vector<float> x(static_cast<size_t>(n_tokens * d_model));
  std::vector<int64_t> positions;
  for (size_t s = 0; s < sequences.size(); ++s) {
    position_ids(sequences[s], hp.padding_idx, positions);
    for (size_t p = 0; p < sequences[s].size(); ++p) {
      const float* word = w.word_embeddings.data() + sequences[s][p] * d_model;
      const float* pos = w.position_embeddings.data() + positions[p] * d_model;
      const float* type = w.token_type_embeddings.data();  // every token is segment 0
      float* row = x.data() + (first[s] + static_cast<int64_t>(p)) * d_model;
      for (int64_t i = 0; i < d_model; ++i) row[i] = word[i] + pos[i] + type[i];
    }
  }
  add_layer_norm(x.data(), nullptr, w.embedding_norm, n_tokens, d_model, hp.norm_eps, pool);

  std::vector<float> qkv(static_cast<size_t>(n_tokens * 3 * d_model));
  std::vector<float> context(static_cast<size_t>(n_tokens * d_model));
  std::vector<float> projected(static_cast<size_t>(n_tokens * d_model));
  std::vector<float> hidden(static_cast<size_t>(n_tokens * hp.n_ff));
  std::vector<AttentionScratch> scratch(static_cast<size_t>(pool.size()));
  const auto n_tasks = static_cast<int64_t>(sequences.size()) * hp.n_head;

  for (const BertLayer& layer : w.layers) {
    linear(layer.qkv, x.data(), n_tokens, qkv.data());
    pool.parallel_for(n_tasks, 1, [&](int64_t begin, int64_t end, int thread) {
      for (int64_t task = begin; task < end; ++task) {
        const auto s = static_cast<size_t>(task / hp.n_head);
        attend(qkv.data(), first[s], first[s + 1] - first[s], task % hp.n_head, hp, context.data(),
               scratch[static_cast<size_t>(thread)]);
      }
    });
    linear(layer.attn_output, context.data(), n_tokens, projected.data());
    add_layer_norm(x.data(), projected.data(), layer.attn_norm, n_tokens, d_model, hp.norm_eps,
                   pool);

    linear(layer.ffn_up, x.data(), n_tokens, hidden.data());
    gelu(hidden.data(), n_tokens, hp.n_ff, hp.activation, pool);
    linear(layer.ffn_down, hidden.data(), n_tokens, projected.data());
    add_layer_norm(x.data(), projected.data(), layer.output_norm, n_tokens, d_model, hp.norm_eps,
                   pool);
  }
  return x;
}

std::vector<float> classify_first_tokens(const ClassificationHead& head,
                                         std::span<const float> hidden,
                                         std::span<const std::vector<int32_t>> sequences) {
  const int64_t d_model = head.dense.n_in;
  const auto n_seq = static_cast<int64_t>(sequences.size());
  std::vector<float> first(static_cast<size_t>(n_seq * d_model));
  size_t row = 0;
  for (int64_t s = 0; s < n_seq; ++s) {
    std::copy_n(hidden.data() + row * d_model, d_model, first.data() + s * d_model);
    row += sequences[static_cast<size_t>(s)].size();
  }
  std::vector<float> dense(static_cast<size_t>(n_seq * head.dense.n_out));
  linear(head.dense, first.data(), n_seq, dense.data());
  for (float& v : dense) v = std::tanh(v);
  std::vector<float> logits(static_cast<size_t>(n_seq * head.out_proj.n_out));
  linear(head.out_proj, dense.data(), n_seq, logits.data());
  return logits;
}

}  // namespace emovec::encoder
