// Text generation over the engine: prompt building (plain or through the chat template),
// prefill, then token-by-token decoding with a sampler, end-of-generation tokens, stop strings
// and streaming of the text as it forms.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "emovec/chat_template.h"
#include "emovec/engine.h"
#include "emovec/sampler.h"

namespace emovec {

struct GenerateOptions {
  // Tokens to generate at most; negative: until an end token or the context is full. 0 gives
  // an empty reply (the prompt is still evaluated).
  int32_t n_predict = 128;
  SamplingParams sampling;
  std::vector<std::string> stop;   // the reply ends before the first of these
  bool ignore_eos = false;         // keep going past end-of-generation tokens
  ActivationHook* hook = nullptr;  // for the prompt and every generated token
};

struct GenerateResult {
  std::vector<int32_t> tokens;  // generated ids (without the end token)
  std::string text;
  std::string finish_reason;  // "eos", "length", "stop", "context" or "cancelled"
  int64_t n_prompt = 0;       // prompt tokens evaluated (after re-using a cached prefix)
  int64_t n_cached = 0;       // prompt tokens re-used from the cache
  double prefill_seconds = 0;
  double decode_seconds = 0;
};

// Receives each piece of text as soon as it is final; returning false stops the generation.
using TextCallback = std::function<bool(std::string_view piece)>;

// One sequence of an engine across turns: each run re-uses the cached tokens its prompt starts
// with, so a conversation re-renders its whole history without recomputing it. Only positions
// whose keys and values are those of an evaluation without a hook are re-used: with steering,
// the positions before the first one a run's hook saw (ActivationHook::first_position_seen; for
// the default policy, `last`, all of that run's prompt but its last token). A run therefore
// gives what a fresh sequence gives for its prompt and options, up to float rounding, whatever
// the runs before it steered.
class Generator {
 public:
  explicit Generator(Engine& engine);
  ~Generator();
  Generator(const Generator&) = delete;
  Generator& operator=(const Generator&) = delete;

  GenerateResult run(std::span<const int32_t> prompt, const GenerateOptions& options,
                     const TextCallback& on_text = {});
  SequenceId sequence() const { return sequence_; }

 private:
  Engine& engine_;
  SequenceId sequence_;
  std::vector<int32_t> cached_;  // the tokens whose keys and values are in the cache
  size_t unhooked_ = 0;          // ... of which the first unhooked_ as evaluated without a hook
};

// Throws Error for an empty prompt, or one that leaves no position of an n_ctx context to
// generate in (the message names both sizes).
void check_prompt_fits(std::span<const int32_t> prompt, int64_t n_ctx);

// The per-token part of generating one reply, whatever runs the forward passes (Generator,
// generate_batch, the server): samples the next token from the logits of the sequence's last
// position, ends the reply at an end token, a stop string, the token limit or the context, and
// releases the reply's text as it becomes final (held back while it may still start a stop
// string or ends inside a multi-byte character).
class ReplyState {
 public:
  // `prompt` is the whole prompt (the repetition penalty looks back into it). Throws Error for
  // a model without a tokenizer or bad sampling parameters.
  ReplyState(const DecoderModel& model, std::span<const int32_t> prompt,
             const GenerateOptions& options, int64_t n_ctx);
  ~ReplyState();
  ReplyState(const ReplyState&) = delete;
  ReplyState& operator=(const ReplyState&) = delete;

  // Samples from `logits` (the sequence's last position, `sequence_length` positions cached)
  // and returns the text this releases, possibly empty. Afterwards either done(), or
  // next_token() is the token to evaluate before the next step.
  std::string step(std::span<const float> logits, int64_t sequence_length);
  bool done() const { return done_; }
  int32_t next_token() const { return next_; }
  // Ends the reply early with finish reason "cancelled" (no held-back text is released).
  void cancel();
  // The reply so far; complete (text, tokens, finish_reason) once done().
  const GenerateResult& result() const { return result_; }
  GenerateResult& result() { return result_; }

 private:
  std::string finish();

  struct Impl;
  std::unique_ptr<Impl> impl_;
  GenerateResult result_;
  bool done_ = false;
  int32_t next_ = 0;
};

struct GenerateRequest {
  std::vector<int32_t> prompt;
  GenerateOptions options;  // options.hook reads or steers this request's sequence only
};

// How generate_batch evaluates the prompts: all in one forward pass (fewest passes), or each in
// a pass of its own, as a Generator does alone.
enum class PromptPasses : uint8_t { Together, Apart };

// Runs requests together, each in its own new sequence, with batched forward passes; results
// in the requests' order. Each request's result is what a Generator would give it alone, up to
// the last bits of float32 sums where the batch changes a product's kernel: prompts evaluated
// Together go through larger products. With PromptPasses::Apart, and decoding steps computed
// row by row (fewer than 16 sequences, or an engine made with batch_invariant), the results are
// a Generator's bit for bit.
std::vector<GenerateResult> generate_batch(Engine& engine,
                                           std::span<const GenerateRequest> requests,
                                           PromptPasses prompts = PromptPasses::Together);

// The prompt's token ids: plain text (with BOS as the tokenizer's rules say), or a conversation
// rendered with the model's chat template (add_generation_prompt). Throws Error for a model
// without a tokenizer, or --chat on a model without a chat template.
std::vector<int32_t> tokenize_prompt(const DecoderModel& model, const std::string& text);
std::vector<int32_t> tokenize_chat(const DecoderModel& model,
                                   const std::vector<ChatMessage>& messages);

}  // namespace emovec
