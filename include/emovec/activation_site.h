// Named places in a decoder's forward pass where activations can be read (to extract emotion
// vectors) and changed (to steer): per layer, the residual stream after the block, and what the
// attention and MLP sub-blocks add to it.
#pragma once

#include <cstdint>
#include <string_view>

namespace emovec {

enum class ActivationSite : uint8_t {
  // The residual stream after layer l: the layer's output, where llama.cpp's control vectors
  // are added.
  Residual = 0,
  // What the attention sub-block adds to the residual stream, before the add (llama/qwen2: the
  // output projection; gemma3: after its post-attention norm). The paper's injection point.
  AttentionOut = 1,
  // What the MLP sub-block adds (gemma3: after its post-feed-forward norm).
  MlpOut = 2,
};
inline constexpr int kActivationSiteCount = 3;

// "resid", "attn_out", "mlp_out".
std::string_view activation_site_name(ActivationSite site);
// Accepts those names (and "residual", "attention", "mlp"); throws Error listing them otherwise.
ActivationSite parse_activation_site(std::string_view name);

// The activations of one sequence of a batch at one site of one layer, for the tokens of this
// forward pass: n_rows consecutive positions starting at first_position, each `width` floats.
// Writable: a hook may add to them, and the forward pass continues from what it leaves.
struct ActivationView {
  int32_t layer = 0;
  ActivationSite site = ActivationSite::Residual;
  int64_t first_position = 0;
  int64_t n_rows = 0;
  int64_t width = 0;
  float* rows = nullptr;
  // True when this forward pass is the last one of a prompt or a generated token, i.e. its last
  // row is the newest position of the sequence that the caller asked logits for.
  bool last_chunk = true;
};

// Called by the forward pass for the sites it wants, per sequence. Implementations: steering
// (add vectors), capture (record rows). A batch entry without a hook costs nothing.
class ActivationHook {
 public:
  virtual ~ActivationHook() = default;
  virtual bool wants(int32_t layer, ActivationSite site) const = 0;
  virtual void on_activation(const ActivationView& view) = 0;
  // Told before the first generated token is evaluated: positions from `position` on hold
  // generated tokens, the ones before it the prompt.
  virtual void on_generation_start(int64_t position) { (void)position; }
  // The first position this hook reads or changes in a run whose prompt has n_prompt tokens
  // (it may change it and every later one). A caller that keeps a sequence's cache across runs
  // (Generator) re-uses cached positions only before it, and afterwards counts the positions
  // from it on as changed: their keys and values, and those of every later position, are not
  // what an evaluation without the hook gives. The default, 0, is every position.
  virtual int64_t first_position_seen(int64_t n_prompt) const {
    (void)n_prompt;
    return 0;
  }
};

}  // namespace emovec
