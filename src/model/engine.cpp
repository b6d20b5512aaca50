// The forward pass: embeddings, then per layer attention and MLP sub-blocks with their
// activation sites, then the output head, over a batch of slices of independent sequences.
#include "emovec/engine.h"

#include <cblas.h>

#include <algorithm>
#include <cmath>
#include <map>
#include <set>
#include <string>
#include <thread>

#include "emovec/decoder.h"
#include "emovec/error.h"
#include "emovec/tensor_type.h"
#include "model/decoder_weights.h"
#include "ops/elementwise.h"
#include "ops/matmul.h"
#include "ops/row_dot.h"
#include "runtime/thread_pool.h"

namespace emovec {
namespace {

constexpr int64_t kDefaultMaxCtx = 4096;
// A sequence's cache starts with room for this many positions and doubles as it grows: short
// sequences held in numbers (an extraction's two batches of prompts) stay small.
constexpr int64_t kCacheGranule = 64;

struct SequenceState {
  // Per layer, [capacity x kv_dim]: float32, or float16 (k16, v16) as EngineOptions says.
  std::vector<std::vector<float>> k, v;
  std::vector<std::vector<uint16_t>> k16, v16;
  int64_t length = 0;
  int64_t capacity = 0;
};

// Part of a batch entry processed in one forward pass.
struct Slice {
  size_t entry = 0;
  SequenceState* seq = nullptr;
  const int32_t* tokens = nullptr;
  int64_t n = 0;
  int64_t row = 0;          // first row in the pass's buffers
  bool last = false;        // holds the entry's last token
  bool last_chunk = false;  // ... and the input ends there (BatchEntry::more_follows unset)
  bool logits = false;      // needs logits for its rows (all, or only the last)
  bool all_logits = false;
  bool decoding = false;  // a decoding step's token: an entry of one, not marked as a prompt
  ActivationHook* hook = nullptr;
};

ops::RopeTable make_rope_table(const DecoderHyperParams& h, float theta) {
  ops::RopeTable t;
  const int64_t half = h.head_dim / 2;
  t.inv_freq.resize(static_cast<size_t>(half));
  for (int64_t i = 0; i < half; ++i) {
    const float exponent = static_cast<float>(2 * i) / static_cast<float>(h.head_dim);
    float f = 1.0f / std::pow(theta, exponent);
    if (!h.rope_freq_factors.empty()) f /= h.rope_freq_factors[static_cast<size_t>(i)];
    if (h.rope_scaling == RopeScaling::Linear) f /= h.rope_factor;
    if (h.rope_scaling == RopeScaling::Llama3) {
      // transformers' _compute_llama3_parameters.
      constexpr float kPi = 3.14159265358979323846f;
      const float old_ctx = static_cast<float>(h.rope_original_ctx);
      const float low_wavelen = old_ctx / h.rope_low_freq_factor;
      const float high_wavelen = old_ctx / h.rope_high_freq_factor;
      const float wavelen = 2.0f * kPi / f;
      float scaled = wavelen > low_wavelen ? f / h.rope_factor : f;
      const bool medium = !(wavelen < high_wavelen) && !(wavelen > low_wavelen);
      if (medium) {
        const float smooth = (old_ctx / wavelen - h.rope_low_freq_factor) /
                             (h.rope_high_freq_factor - h.rope_low_freq_factor);
        scaled = (1.0f - smooth) * scaled / h.rope_factor + smooth * scaled;
      }
      f = scaled;
    }
    t.inv_freq[static_cast<size_t>(i)] = f;
  }
  return t;
}

}  // namespace

std::span<const float> Logits::row(size_t entry, int64_t i) const {
  if (entry >= row_count_.size() || i < 0 || i >= row_count_[entry]) {
    throw Error("logits row " + std::to_string(i) + " of batch entry " + std::to_string(entry) +
                " does not exist");
  }
  const auto start = static_cast<size_t>((row_start_[entry] + i) * n_vocab_);
  return {data_.data() + start, static_cast<size_t>(n_vocab_)};
}

struct Engine::Impl {
  Impl(const DecoderModel& m, EngineOptions o)
      : model(m),
        h(m.hparams()),
        w(m.weights()),
        options(o),
        pool(o.n_threads > 0 ? o.n_threads
                             : std::max(1, static_cast<int>(std::thread::hardware_concurrency()))),
        rope_global(make_rope_table(h, h.rope_theta)),
        rope_local(make_rope_table(h, h.rope_theta_local)) {
    if (options.n_ctx <= 0) options.n_ctx = std::min(h.n_ctx_train, kDefaultMaxCtx);
    if (options.n_batch <= 0) options.n_batch = 512;
    // Worker threads call SGEMM on their own tiles.
    openblas_set_num_threads(1);
  }

  const DecoderModel& model;
  const DecoderHyperParams& h;
  const DecoderWeights& w;
  EngineOptions options;
  ThreadPool pool;
  ops::RopeTable rope_global, rope_local;
  std::map<SequenceId, SequenceState> sequences;
  SequenceId next_id = 1;

  // Per-pass buffers, [rows x width].
  std::vector<float> x, xn, q, k, v, attn, proj, gate, up;

  bool half_keys() const { return options.cache_type_k == CacheType::F16; }
  bool half_values() const { return options.cache_type_v == CacheType::F16; }

  SequenceState& state(SequenceId id) {
    const auto it = sequences.find(id);
    if (it == sequences.end()) throw Error("sequence " + std::to_string(id) + " does not exist");
    return it->second;
  }

  void reserve(SequenceState& s, int64_t needed) {
    if (needed <= s.capacity) return;
    int64_t cap = std::max(needed, std::max<int64_t>(kCacheGranule, 2 * s.capacity));
    cap = std::min(cap, options.n_ctx);
    const auto size = static_cast<size_t>(cap * h.n_head_kv * h.head_dim);
    const auto layers = static_cast<size_t>(h.n_layer);
    const auto grow = [&](auto& cache) {
      cache.resize(layers);
      for (auto& c : cache) c.resize(size);
    };
    if (half_keys()) {
      grow(s.k16);
    } else {
      grow(s.k);
    }
    if (half_values()) {
      grow(s.v16);
    } else {
      grow(s.v);
    }
    s.capacity = cap;
  }

  void call_hooks(std::vector<Slice>& slices, int layer, ActivationSite site, float* buffer) {
    for (Slice& s : slices) {
      if (s.hook == nullptr || !s.hook->wants(layer, site)) continue;
      ActivationView view;
      view.layer = layer;
      view.site = site;
      view.first_position = s.seq->length;
      view.n_rows = s.n;
      view.width = h.n_embd;
      view.rows = buffer + s.row * h.n_embd;
      view.last_chunk = s.last_chunk;
      s.hook->on_activation(view);
    }
  }

  // Attention of the rows of slices with at least kGemmAttentionRows new tokens (long prompts),
  // per (slice, head, block of rows): scores and weighted values as two SGEMMs over the block's
  // keys, the causal (and sliding-window) mask applied to the scores. The per-row kernels do
  // the same sums a key at a time, several times slower on long prompts.
  static constexpr int64_t kGemmAttentionRows = 64;
  static constexpr int64_t kGemmAttentionBlock = 64;

  void attention_gemm(const std::vector<const Slice*>& long_slices, int layer) {
    const int64_t hd = h.head_dim;
    const int64_t q_dim = h.n_head * hd;
    const int64_t kv_dim = h.n_head_kv * hd;
    const int64_t group = h.n_head / h.n_head_kv;
    const bool sliding = h.layer_sliding[static_cast<size_t>(layer)] != 0 && h.sliding_window > 0;
    struct Item {
      const Slice* slice;
      int64_t head, first, count;  // rows first .. first + count - 1 of the slice
    };
    std::vector<Item> items;
    for (const Slice* s : long_slices) {
      for (int64_t first = 0; first < s->n; first += kGemmAttentionBlock) {
        for (int64_t head = 0; head < h.n_head; ++head) {
          items.push_back({s, head, first, std::min(kGemmAttentionBlock, s->n - first)});
        }
      }
    }
    pool.parallel_for(static_cast<int64_t>(items.size()), 1, [&](int64_t begin, int64_t end, int) {
      thread_local std::vector<float> scores, k_rows, v_rows;
      for (int64_t it = begin; it < end; ++it) {
        const Item& item = items[static_cast<size_t>(it)];
        const Slice& slice = *item.slice;
        const int64_t pos0 = slice.seq->length + item.first;  // position of the block's first row
        const int64_t last = pos0 + item.count - 1;
        const int64_t lo0 = sliding ? std::max<int64_t>(0, pos0 - h.sliding_window + 1) : 0;
        const int64_t n_keys = last - lo0 + 1;  // keys lo0 .. last cover every row of the block
        const float* qv = q.data() + (slice.row + item.first) * q_dim + item.head * hd;
        const auto kv = static_cast<size_t>(layer);
        const int64_t at = lo0 * kv_dim + (item.head / group) * hd;
        // A float16 cache's keys or values for the block, widened into [n_keys x hd] rows.
        const auto widen = [&](const std::vector<uint16_t>& cache, std::vector<float>& rows) {
          rows.resize(static_cast<size_t>(n_keys * hd));
          for (int64_t j = 0; j < n_keys; ++j) {
            dequantize(TensorType::F16, cache.data() + at + j * kv_dim, rows.data() + j * hd, hd);
          }
          return static_cast<const float*>(rows.data());
        };
        const float* kc =
            half_keys() ? widen(slice.seq->k16[kv], k_rows) : slice.seq->k[kv].data() + at;
        const float* vc =
            half_values() ? widen(slice.seq->v16[kv], v_rows) : slice.seq->v[kv].data() + at;
        const int64_t k_ld = half_keys() ? hd : kv_dim;
        const int64_t v_ld = half_values() ? hd : kv_dim;
        scores.resize(static_cast<size_t>(item.count * n_keys));
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, static_cast<int>(item.count),
                    static_cast<int>(n_keys), static_cast<int>(hd), h.attention_scale, qv,
                    static_cast<int>(q_dim), kc, static_cast<int>(k_ld), 0.0f, scores.data(),
                    static_cast<int>(n_keys));
        for (int64_t i = 0; i < item.count; ++i) {
          // Row i sees keys lo .. pos (relative to lo0); the others get probability 0.
          const int64_t pos = pos0 + i;
          const int64_t lo = sliding ? std::max<int64_t>(0, pos - h.sliding_window + 1) : 0;
          float* row = scores.data() + i * n_keys;
          const int64_t a = lo - lo0, b = pos - lo0 + 1;
          std::fill(row, row + a, 0.0f);
          std::fill(row + b, row + n_keys, 0.0f);
          ops::softmax(row + a, b - a);
        }
        float* out = attn.data() + (slice.row + item.first) * q_dim + item.head * hd;
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, static_cast<int>(item.count),
                    static_cast<int>(hd), static_cast<int>(n_keys), 1.0f, scores.data(),
                    static_cast<int>(n_keys), vc, static_cast<int>(v_ld), 0.0f, out,
                    static_cast<int>(q_dim));
      }
    });
  }

  void attention(const std::vector<Slice>& slices, int layer, int64_t n_rows) {
    const int64_t hd = h.head_dim;
    const int64_t q_dim = h.n_head * hd;
    const int64_t kv_dim = h.n_head_kv * hd;
    const int64_t group = h.n_head / h.n_head_kv;
    const bool sliding = h.layer_sliding[static_cast<size_t>(layer)] != 0 && h.sliding_window > 0;
    std::vector<const Slice*> long_slices;
    for (const Slice& s : slices) {
      if (s.n >= kGemmAttentionRows) long_slices.push_back(&s);
    }
    if (!long_slices.empty()) attention_gemm(long_slices, layer);
    // Work item = (row, head) of the other slices; rows are found through the slices.
    std::vector<std::pair<const Slice*, int64_t>> rows;
    rows.reserve(static_cast<size_t>(n_rows));
    for (const Slice& s : slices) {
      if (s.n >= kGemmAttentionRows) continue;
      for (int64_t i = 0; i < s.n; ++i) rows.emplace_back(&s, i);
    }
    const auto items = static_cast<int64_t>(rows.size()) * h.n_head;
    if (items == 0) return;
    // Short attention (one new token, a short context) costs less than waking the workers.
    int64_t keys = 0;
    for (const Slice& s : slices) {
      if (s.n < kGemmAttentionRows) keys += s.n * (s.seq->length + s.n);
    }
    const int64_t grain =
        keys * h.n_head * hd < (1 << 16) ? items : std::max<int64_t>(1, items / (pool.size() * 32));
    pool.parallel_for(items, grain, [&](int64_t begin, int64_t end, int) {
      thread_local std::vector<float> scores;
      for (int64_t it = begin; it < end; ++it) {
        const auto& [slice, i] = rows[static_cast<size_t>(it / h.n_head)];
        const int64_t head = it % h.n_head;
        const int64_t row = slice->row + i;
        const int64_t pos = slice->seq->length + i;
        const int64_t lo = sliding ? std::max<int64_t>(0, pos - h.sliding_window + 1) : 0;
        const float* qv = q.data() + row * q_dim + head * hd;
        const auto kv = static_cast<size_t>(layer);
        const int64_t at = lo * kv_dim + (head / group) * hd;
        const int64_t n_keys = pos - lo + 1;
        scores.resize(static_cast<size_t>(n_keys));
        if (half_keys()) {
          ops::dot_f16_keys(qv, slice->seq->k16[kv].data() + at, kv_dim, n_keys, hd,
                            h.attention_scale, scores.data());
        } else {
          ops::dot_f32_keys(qv, slice->seq->k[kv].data() + at, kv_dim, n_keys, hd,
                            h.attention_scale, scores.data());
        }
        ops::softmax(scores.data(), n_keys);
        float* out = attn.data() + row * q_dim + head * hd;
        std::fill_n(out, hd, 0.0f);
        if (half_values()) {
          ops::axpy_f16_keys(scores.data(), slice->seq->v16[kv].data() + at, kv_dim, n_keys, hd,
                             out);
        } else {
          ops::axpy_f32_keys(scores.data(), slice->seq->v[kv].data() + at, kv_dim, n_keys, hd, out);
        }
      }
    });
  }

  // One forward pass over the slices; writes the requested logits rows into `out` from
  // out_row on.
  void forward(std::vector<Slice>& slices, Logits& out, std::vector<int64_t>& out_rows) {
    int64_t n_rows = 0;
    for (Slice& s : slices) {
      s.row = n_rows;
      n_rows += s.n;
      reserve(*s.seq, s.seq->length + s.n);
    }
    const int64_t d = h.n_embd;
    const int64_t hd = h.head_dim;
    const int64_t q_dim = h.n_head * hd;
    const int64_t kv_dim = h.n_head_kv * hd;
    // A decoding step (every entry one token) quantises activations on the fast path; a pass
    // with a prompt, or a part of one, keeps float32 throughout, whatever its length, so a
    // reply's first token is sampled from the same logits whether its prompt came in one pass,
    // in parts or after a cached prefix.
    bool decoding_step = true;
    for (const Slice& s : slices) decoding_step = decoding_step && s.decoding;
    const bool exact = options.exact || !decoding_step;
    const auto fast = exact ? ops::Activations::Float : ops::Activations::Int8;
    const bool per_row = options.batch_invariant && decoding_step;
    const auto grow = [](std::vector<float>& b, int64_t n) {
      if (static_cast<int64_t>(b.size()) < n) b.resize(static_cast<size_t>(n));
    };
    grow(x, n_rows * d);
    grow(xn, n_rows * d);
    grow(q, n_rows * q_dim);
    grow(k, n_rows * kv_dim);
    grow(v, n_rows * kv_dim);
    grow(attn, n_rows * q_dim);
    grow(proj, n_rows * d);
    grow(gate, n_rows * h.n_ff);
    grow(up, n_rows * h.n_ff);

    // Which slice and offset each row of the pass belongs to.
    std::vector<std::pair<const Slice*, int64_t>> row_slices;
    row_slices.reserve(static_cast<size_t>(n_rows));
    for (const Slice& s : slices) {
      for (int64_t i = 0; i < s.n; ++i) row_slices.emplace_back(&s, i);
    }
    for (const Slice& s : slices) {
      for (int64_t i = 0; i < s.n; ++i) {
        float* row = x.data() + (s.row + i) * d;
        ops::decode_row(w.token_embd, s.tokens[i], row);
        if (h.embedding_scale != 1.0f) {
          for (int64_t e = 0; e < d; ++e) row[e] *= h.embedding_scale;
        }
      }
    }

    const auto norm_rows = [&](const float* src, const std::vector<float>& weight, float* dst,
                               int64_t width, int64_t count) {
      pool.parallel_for(count, 8, [&](int64_t b, int64_t e, int) {
        for (int64_t r = b; r < e; ++r) {
          ops::rms_norm(src + r * width, weight.data(), width, h.norm_eps, dst + r * width);
        }
      });
    };

    // The last layer's MLP feeds only the logits and the hooks that read after it: a pass that
    // asks for neither (prompt-mode extraction at the attention output) stops before it.
    const int last_layer = static_cast<int>(h.n_layer) - 1;
    bool last_mlp_read = false;
    for (const Slice& s : slices) {
      last_mlp_read = last_mlp_read || (s.logits && (s.all_logits || s.last)) ||
                      (s.hook != nullptr && (s.hook->wants(last_layer, ActivationSite::MlpOut) ||
                                             s.hook->wants(last_layer, ActivationSite::Residual)));
    }

    for (int layer = 0; layer < h.n_layer; ++layer) {
      const LayerWeights& L = w.layers[static_cast<size_t>(layer)];
      // Attention sub-block.
      norm_rows(x.data(), L.attn_norm, xn.data(), d, n_rows);
      const ops::MatmulTarget qkv[] = {
          {&L.wq, q.data(), q_dim}, {&L.wk, k.data(), kv_dim}, {&L.wv, v.data(), kv_dim}};
      ops::matmul(qkv, xn.data(), d, n_rows, pool, fast, per_row);
      const ops::RopeTable& table =
          h.layer_sliding[static_cast<size_t>(layer)] ? rope_local : rope_global;
      pool.parallel_for(n_rows, 4, [&](int64_t b, int64_t e, int) {
        for (int64_t r = b; r < e; ++r) {
          float* qr = q.data() + r * q_dim;
          float* kr = k.data() + r * kv_dim;
          if (h.qkv_bias) {
            ops::add(qr, L.bq.data(), q_dim);
            ops::add(kr, L.bk.data(), kv_dim);
            ops::add(v.data() + r * kv_dim, L.bv.data(), kv_dim);
          }
          if (h.qk_norm) {
            for (int64_t hh = 0; hh < h.n_head; ++hh) {
              ops::rms_norm(qr + hh * hd, L.q_norm.data(), hd, h.norm_eps, qr + hh * hd);
            }
            for (int64_t hh = 0; hh < h.n_head_kv; ++hh) {
              ops::rms_norm(kr + hh * hd, L.k_norm.data(), hd, h.norm_eps, kr + hh * hd);
            }
          }
        }
      });
      pool.parallel_for(n_rows, 16, [&](int64_t b, int64_t e, int) {
        thread_local std::vector<float> cos_sin;
        cos_sin.resize(static_cast<size_t>(hd));
        for (int64_t r = b; r < e; ++r) {
          const auto& [s, i] = row_slices[static_cast<size_t>(r)];
          const int64_t pos = s->seq->length + i;
          ops::rope_angles(pos, table, cos_sin.data());
          for (int64_t hh = 0; hh < h.n_head; ++hh) {
            ops::rope(q.data() + r * q_dim + hh * hd, hd, cos_sin.data(), h.rope_neox);
          }
          for (int64_t hh = 0; hh < h.n_head_kv; ++hh) {
            ops::rope(k.data() + r * kv_dim + hh * hd, hd, cos_sin.data(), h.rope_neox);
          }
          const auto kv = static_cast<size_t>(layer);
          const float* kr = k.data() + r * kv_dim;
          const float* vr = v.data() + r * kv_dim;
          if (half_keys()) {
            ops::f32_to_f16_row(kr, kv_dim, s->seq->k16[kv].data() + pos * kv_dim);
          } else {
            std::copy_n(kr, kv_dim, s->seq->k[kv].data() + pos * kv_dim);
          }
          if (half_values()) {
            ops::f32_to_f16_row(vr, kv_dim, s->seq->v16[kv].data() + pos * kv_dim);
          } else {
            std::copy_n(vr, kv_dim, s->seq->v[kv].data() + pos * kv_dim);
          }
        }
      });
      attention(slices, layer, n_rows);
      ops::matmul(L.wo, attn.data(), n_rows, proj.data(), pool, fast, per_row);
      if (h.sandwich_norms) norm_rows(proj.data(), L.post_attn_norm, proj.data(), d, n_rows);
      call_hooks(slices, layer, ActivationSite::AttentionOut, proj.data());
      ops::add(x.data(), proj.data(), n_rows * d);
      if (layer == last_layer && !last_mlp_read) break;

      // MLP sub-block.
      norm_rows(x.data(), L.ffn_norm, xn.data(), d, n_rows);
      const ops::MatmulTarget gate_up[] = {{&L.w_gate, gate.data(), h.n_ff},
                                           {&L.w_up, up.data(), h.n_ff}};
      ops::matmul(gate_up, xn.data(), d, n_rows, pool, fast, per_row);
      pool.parallel_for(n_rows, 4, [&](int64_t b, int64_t e, int) {
        for (int64_t r = b; r < e; ++r) {
          if (h.activation == FfnActivation::Silu) {
            ops::silu_mul(gate.data() + r * h.n_ff, up.data() + r * h.n_ff, h.n_ff);
          } else {
            ops::gelu_tanh_mul(gate.data() + r * h.n_ff, up.data() + r * h.n_ff, h.n_ff);
          }
        }
      });
      ops::matmul(L.w_down, gate.data(), n_rows, proj.data(), pool, fast, per_row);
      if (h.sandwich_norms) norm_rows(proj.data(), L.post_ffn_norm, proj.data(), d, n_rows);
      call_hooks(slices, layer, ActivationSite::MlpOut, proj.data());
      ops::add(x.data(), proj.data(), n_rows * d);
      call_hooks(slices, layer, ActivationSite::Residual, x.data());
    }

    // Output head, for the rows that need logits.
    std::vector<int64_t> rows;
    for (const Slice& s : slices) {
      if (!s.logits) continue;
      if (s.all_logits) {
        for (int64_t i = 0; i < s.n; ++i) rows.push_back(s.row + i);
      } else if (s.last) {
        rows.push_back(s.row + s.n - 1);
      }
    }
    const auto n_out = static_cast<int64_t>(rows.size());
    for (int64_t i = 0; i < n_out; ++i) {
      ops::rms_norm(x.data() + rows[static_cast<size_t>(i)] * d, w.output_norm.data(), d,
                    h.norm_eps, xn.data() + i * d);
    }
    if (n_out > 0) {
      std::vector<float> logits(static_cast<size_t>(n_out * h.n_vocab));
      // The output head's activations on the fast path: int16 for a Q8_0 head, whose int16
      // kernel is as fast as the int8 one and keeps SmolLM2's top-1 agreement with the exact
      // path at 0.995 (0.992 with int8; tests/test_fast_path.cpp); int8 for the others, where
      // the int16 kernel is the slower (a Q6_K head: Qwen2.5-1.5B decodes 13-22% faster on one
      // thread, top-1 agreement 0.99+, FastPath.KQuantHead).
      const auto head = exact                               ? ops::Activations::Float
                        : w.output.type == TensorType::Q8_0 ? ops::Activations::Int16
                                                            : ops::Activations::Int8;
      ops::matmul(w.output, xn.data(), n_out, logits.data(), pool, head, per_row);
      if (h.final_logit_softcap > 0) {
        for (float& l : logits) l = std::tanh(l / h.final_logit_softcap) * h.final_logit_softcap;
      }
      for (int64_t i = 0; i < n_out; ++i) {
        const int64_t dst = out_rows[static_cast<size_t>(i)];
        std::copy_n(logits.data() + i * h.n_vocab, h.n_vocab, out.data_.data() + dst * h.n_vocab);
      }
    }
    for (Slice& s : slices) s.seq->length += s.n;
  }
};

Engine::Engine(const DecoderModel& model, EngineOptions options)
    : impl_(std::make_unique<Impl>(model, options)) {}
Engine::~Engine() = default;

const DecoderModel& Engine::model() const { return impl_->model; }
int Engine::n_threads() const { return impl_->pool.size(); }
int64_t Engine::n_ctx() const { return impl_->options.n_ctx; }

SequenceId Engine::new_sequence() {
  const SequenceId id = impl_->next_id++;
  impl_->sequences.emplace(id, SequenceState{});
  return id;
}

void Engine::free_sequence(SequenceId id) {
  if (impl_->sequences.erase(id) == 0) {
    throw Error("sequence " + std::to_string(id) + " does not exist");
  }
}

int64_t Engine::sequence_length(SequenceId id) const { return impl_->state(id).length; }

void Engine::truncate(SequenceId id, int64_t length) {
  SequenceState& s = impl_->state(id);
  if (length < 0 || length > s.length) {
    throw Error("cannot truncate sequence " + std::to_string(id) + " of length " +
                std::to_string(s.length) + " to " + std::to_string(length));
  }
  s.length = length;
}

SequenceId Engine::fork_sequence(SequenceId source, int64_t length) {
  Impl& m = *impl_;
  const SequenceState& src = m.state(source);
  if (length < 0 || length > src.length) {
    throw Error("cannot fork " + std::to_string(length) + " positions of sequence " +
                std::to_string(source) + ", which holds " + std::to_string(src.length));
  }
  SequenceState copy;
  if (length > 0) {
    m.reserve(copy, length);
    const auto n = static_cast<size_t>(length * m.h.n_head_kv * m.h.head_dim);
    const auto copy_layers = [n](const auto& from, auto& to) {
      for (size_t l = 0; l < to.size(); ++l) std::copy_n(from[l].begin(), n, to[l].begin());
    };
    copy_layers(src.k, copy.k);
    copy_layers(src.v, copy.v);
    copy_layers(src.k16, copy.k16);
    copy_layers(src.v16, copy.v16);
  }
  copy.length = length;
  const SequenceId id = m.next_id++;
  m.sequences.emplace(id, std::move(copy));
  return id;
}

Logits Engine::decode(std::span<const BatchEntry> batch) {
  Impl& m = *impl_;
  const int64_t n_vocab = m.h.n_vocab;
  // Validate everything before changing anything.
  std::set<SequenceId> seen;
  Logits out;
  out.n_vocab_ = n_vocab;
  int64_t total_rows = 0;
  for (size_t e = 0; e < batch.size(); ++e) {
    const BatchEntry& b = batch[e];
    SequenceState& s = m.state(b.sequence);
    if (!seen.insert(b.sequence).second) {
      throw Error("sequence " + std::to_string(b.sequence) + " appears twice in one batch");
    }
    if (b.tokens.empty()) {
      throw Error("batch entry " + std::to_string(e) + " (sequence " + std::to_string(b.sequence) +
                  ") has no tokens");
    }
    const auto n = static_cast<int64_t>(b.tokens.size());
    if (s.length + n > m.options.n_ctx) {
      throw Error("sequence " + std::to_string(b.sequence) + ": " + std::to_string(s.length) +
                  " cached + " + std::to_string(n) + " new tokens exceed the context of " +
                  std::to_string(m.options.n_ctx) + " positions");
    }
    for (int32_t t : b.tokens) {
      if (t < 0 || t >= n_vocab) {
        throw Error("token id " + std::to_string(t) + " is outside the vocabulary [0, " +
                    std::to_string(n_vocab) + ")");
      }
    }
    out.row_start_.push_back(total_rows);
    const int64_t rows = !b.logits ? 0 : b.all_logits ? n : 1;
    out.row_count_.push_back(rows);
    total_rows += rows;
  }
  out.data_.assign(static_cast<size_t>(total_rows * n_vocab), 0.0f);

  // Passes of at most n_batch tokens; an entry longer than that continues in the next pass.
  std::vector<int64_t> done(batch.size(), 0);
  for (;;) {
    std::vector<Slice> slices;
    std::vector<int64_t> out_rows;
    int64_t budget = m.options.n_batch;
    for (size_t e = 0; e < batch.size() && budget > 0; ++e) {
      const BatchEntry& b = batch[e];
      const auto n = static_cast<int64_t>(b.tokens.size());
      if (done[e] == n) continue;
      Slice s;
      s.entry = e;
      s.seq = &m.state(b.sequence);
      s.tokens = b.tokens.data() + done[e];
      s.n = std::min(n - done[e], budget);
      s.last = done[e] + s.n == n;
      s.last_chunk = s.last && !b.more_follows;
      s.all_logits = b.logits && b.all_logits;
      s.logits = b.logits && (b.all_logits || s.last);
      s.decoding = n == 1 && !b.prompt;
      s.hook = b.hook;
      if (s.all_logits) {
        for (int64_t i = 0; i < s.n; ++i) out_rows.push_back(out.row_start_[e] + done[e] + i);
      } else if (s.logits) {
        out_rows.push_back(out.row_start_[e]);
      }
      done[e] += s.n;
      budget -= s.n;
      slices.push_back(s);
    }
    if (slices.empty()) break;
    m.forward(slices, out, out_rows);
  }
  return out;
}

}  // namespace emovec
