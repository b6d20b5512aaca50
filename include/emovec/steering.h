// Steering: a mix of emotion vectors (emotion -> alpha) added to a model's activations at the
// vectors' site, on a range of layers, at the positions a policy chooses. Mixes add linearly:
// the steering of {joy: a, anger: b} adds a * joy + b * anger.
#pragma once

#include <cstdint>
#include <limits>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "emovec/activation_site.h"
#include "emovec/emotion_vector.h"

namespace emovec {

// alpha beyond this (either sign) is refused: the paper's text degenerates at 4 already.
inline constexpr float kMaxAlpha = 100.0f;

struct EmotionMix {
  std::vector<std::pair<std::string, float>> terms;  // emotion -> alpha, in the order given
  bool empty() const { return terms.empty(); }
};

// "joy=1.5,anger=-0.5" (a bare name means alpha 1). Throws Error for a malformed term, an
// emotion named twice, or an alpha that is not finite or beyond kMaxAlpha.
EmotionMix parse_emotion_mix(std::string_view spec);
std::string to_string(const EmotionMix& mix);

// Where along a sequence vectors are added.
enum class SteeringPositions : uint8_t {
  // The last position of every forward pass: the last prompt token, then each generated token
  // (the paper's released code).
  Last,
  All,        // every position, prompt included (llama.cpp's control vectors)
  Generated,  // generated tokens only
};
SteeringPositions parse_steering_positions(std::string_view name);  // "last", "all", "generated"
std::string_view steering_positions_name(SteeringPositions p);

struct SteeringOptions {
  int32_t layer_begin = 0;  // first layer steered
  int32_t layer_end = -1;   // one past the last layer steered; -1: through the last layer
  SteeringPositions positions = SteeringPositions::Last;
  // Rescale each steered row to the norm it had before the vectors were added.
  bool preserve_norm = false;

  // Steers layers first..last (inclusive, as llama.cpp's --control-vector-layer-range gives
  // them). Throws Error naming `what` when they are not a range of the model's n_layer layers.
  void set_layers(int64_t first, int64_t last, int64_t n_layer, std::string_view what);
};

// The summed vectors of a mix, per site and layer, for one model. Immutable: any number of
// sequences (and threads) can steer with one Steering.
class Steering {
 public:
  Steering() = default;
  // Each term's emotion is looked up among `vectors` by name. Throws Error for an emotion
  // without a vector (listing those there are), a vector that does not fit the model, or a bad
  // layer range. Terms with alpha 0 add nothing, so an all-zero mix steers nothing at all.
  static Steering build(const EmotionMix& mix, std::span<const EmotionVector> vectors,
                        int64_t n_layer, int64_t n_embd, const SteeringOptions& options = {});
  // alpha * v for a single vector.
  static Steering single(const EmotionVector& v, float alpha, int64_t n_layer, int64_t n_embd,
                         const SteeringOptions& options = {});

  bool empty() const { return empty_; }
  const SteeringOptions& options() const { return options_; }
  int64_t n_layer() const { return n_layer_; }
  int64_t width() const { return width_; }
  // The vector added at (layer, site), or an empty span where nothing is added.
  std::span<const float> direction(int32_t layer, ActivationSite site) const;

 private:
  void add(const EmotionVector& v, float alpha);

  SteeringOptions options_;
  int64_t n_layer_ = 0;
  int64_t width_ = 0;
  // [site][layer] -> width floats, empty where nothing is added.
  std::vector<std::vector<float>> sums_;
  bool empty_ = true;
};

// Applies one Steering to one sequence. Cheap to make: one per request or batch entry.
class SteeringHook final : public ActivationHook {
 public:
  explicit SteeringHook(const Steering& steering) : steering_(&steering) {}
  bool wants(int32_t layer, ActivationSite site) const override;
  void on_activation(const ActivationView& view) override;
  void on_generation_start(int64_t position) override { generated_from_ = position; }
  // Last: the prompt's last position; Generated: the first generated one; All: 0.
  int64_t first_position_seen(int64_t n_prompt) const override;

 private:
  const Steering* steering_;
  int64_t generated_from_ = std::numeric_limits<int64_t>::max();
};

}  // namespace emovec
