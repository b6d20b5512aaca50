// The forward pass over a batch of independent sequences, each with its own KV cache and
// position. Sequences join (new_sequence) and leave (free_sequence) between calls, so a server
// can batch requests continuously.
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <vector>

#include "emovec/activation_site.h"

namespace emovec {

class DecoderModel;

using SequenceId = int64_t;

// How the KV cache stores keys or values (llama.cpp's --cache-type-k / --cache-type-v).
enum class CacheType { F32, F16 };

struct EngineOptions {
  int n_threads = 0;      // 0: the machine's hardware threads
  int64_t n_ctx = 0;      // positions per sequence; 0: the model's training context, at most 4096
  int64_t n_batch = 512;  // tokens per forward pass; longer inputs are processed in chunks
  // float32 activations in every product (the path checked against transformers). Otherwise
  // decoding steps (passes whose every entry is one token, not marked BatchEntry::prompt)
  // quantise activations to int8 per block, as llama.cpp does: faster, within the tolerance
  // tests/test_fast_path.cpp measures. A pass with a prompt or a part of one keeps float32.
  bool exact = false;
  // A pass whose entries are all single tokens (a decoding step) computes every row with the
  // per-row kernels, however many sequences it holds, so each sequence's logits are the same
  // bits as when it is decoded alone (a server's replies do not depend on what else is in the
  // batch). Otherwise passes of 16 rows or more use SGEMM, whose sums are ordered differently.
  bool batch_invariant = false;
  // float16 (llama.cpp's default) halves the cache's memory and the bytes attention reads (most
  // of a decoding step's attention time once several sequences' caches no longer fit the CPU's
  // caches). Its rounding adds to that of the fast path's int8 activations
  // (tests/test_fast_path.cpp measures both), which is why float32 is the default.
  CacheType cache_type_k = CacheType::F32;
  CacheType cache_type_v = CacheType::F32;
};

struct BatchEntry {
  SequenceId sequence = 0;
  std::span<const int32_t> tokens;  // appended to the sequence, at its next positions
  bool all_logits = false;          // logits for every token, else for the last one only
  ActivationHook* hook = nullptr;   // reads/changes this sequence's activations
  bool logits = true;               // false: no logits at all (activations only, e.g. extraction)
  // More tokens of the same input follow in a later call (a long prompt fed in parts): hooks
  // see this call's last pass as not the last chunk, so a prompt steered at its last position
  // is steered once, as if it had come in one call.
  bool more_follows = false;
  // The tokens are (part of) a prompt: evaluated in float32 on the fast path too, however few.
  // An entry of several tokens counts as one anyway; a single token not marked so is a
  // decoding step's (see EngineOptions::exact).
  bool prompt = false;
};

// Logits of one decode call: for each batch entry, its rows in order (none for an entry that
// asked for no logits).
class Logits {
 public:
  int64_t n_vocab() const { return n_vocab_; }
  int64_t rows(size_t entry) const { return row_count_[entry]; }
  std::span<const float> row(size_t entry, int64_t i) const;
  std::span<const float> last(size_t entry) const { return row(entry, rows(entry) - 1); }

 private:
  friend class Engine;
  int64_t n_vocab_ = 0;
  std::vector<float> data_;
  std::vector<int64_t> row_start_;
  std::vector<int64_t> row_count_;
};

class Engine {
 public:
  Engine(const DecoderModel& model, EngineOptions options = {});
  ~Engine();
  Engine(const Engine&) = delete;
  Engine& operator=(const Engine&) = delete;

  const DecoderModel& model() const;
  int n_threads() const;
  int64_t n_ctx() const;

  SequenceId new_sequence();
  void free_sequence(SequenceId id);
  // Positions held in the cache.
  int64_t sequence_length(SequenceId id) const;
  // Forgets positions from `length` on (e.g. to re-use a shared prefix).
  void truncate(SequenceId id, int64_t length);
  // A new sequence whose first `length` positions are a copy of `source`'s (a shared prompt
  // prefix evaluated once). Throws Error for an unknown source or a length it does not hold.
  SequenceId fork_sequence(SequenceId source, int64_t length);

  // Appends each entry's tokens to its sequence and runs the model over all of them. Throws
  // Error for an unknown sequence, a sequence listed twice, a token id outside the vocabulary,
  // an empty entry, or a sequence that would pass n_ctx (nothing is changed then).
  Logits decode(std::span<const BatchEntry> batch);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace emovec
