#include "steering_flags.h"

#include <cmath>
#include <cstdlib>

#include "emovec/decoder.h"
#include "emovec/error.h"
#include "resources.h"

namespace emovec::cli {

void add_steering_flags(CLI::App* cmd, SteeringFlags& f) {
  cmd->add_option("--ev", f.ev, "emotion vector files or folders (default: the shipped ones)");
  cmd->add_option("--emotion", f.emotion,
                  "emotion mix, e.g. joy=1.5,anger=-0.5 (a bare name: alpha 1)");
  cmd->add_option("--control-vector", f.control, "add a control vector (GGUF) with scale 1");
  cmd->add_option("--control-vector-scaled", f.control_scaled,
                  "add a control vector with a scale: FILE SCALE")
      ->type_size(2)
      ->allow_extra_args(false);
  cmd->add_option("--control-vector-layer-range", f.layer_range,
                  "first and last layer steered (inclusive)")
      ->expected(2);
  cmd->add_option("--steer-positions", f.positions,
                  "where vectors are added: last (the last position of every pass, the "
                  "paper's; default with --emotion), all (default for control vectors), "
                  "generated");
  cmd->add_flag("--preserve-norm", f.preserve_norm,
                "rescale steered activations to their norm before steering");
}

SteeringSetup::SteeringSetup(const SteeringFlags& flags, const DecoderModel& model,
                             const std::string& model_argument)
    : flags_(flags), model_(model), model_argument_(model_argument) {
  const auto& h = model.hparams();
  std::vector<std::pair<std::string, float>> files;
  for (const std::string& f : flags.control) files.emplace_back(f, 1.0f);
  for (size_t i = 0; i + 1 < flags.control_scaled.size(); i += 2) {
    const std::string& s = flags.control_scaled[i + 1];
    char* end = nullptr;
    const float scale = std::strtof(s.c_str(), &end);
    if (s.empty() || end != s.c_str() + s.size()) {
      throw Error("--control-vector-scaled " + flags.control_scaled[i] + " " + s +
                  ": the scale is not a number");
    }
    files.emplace_back(flags.control_scaled[i], scale);
  }
  for (const auto& [path, scale] : files) {
    EmotionVector v = load_emotion_vector(path);
    check_vector_fits(v, h.n_layer, h.n_embd, path);
    v.emotion = "control-vector-" + std::to_string(control_vectors_.size());
    control_vectors_.push_back(std::move(v));
    control_scales_.push_back(scale);
  }
  if (!flags.ev.empty()) {
    emotion_vectors_ = load_emotion_vectors(flags.ev);
    for (const EmotionVector& v : emotion_vectors_) {
      check_vector_fits(v, h.n_layer, h.n_embd, "the vector '" + v.emotion + "'");
    }
    emotion_vectors_loaded_ = true;
  }
  if (!flags.layer_range.empty()) {
    SteeringOptions check;
    check.set_layers(flags.layer_range[0], flags.layer_range[1], h.n_layer,
                     "--control-vector-layer-range");
  }
  if (!flags.positions.empty()) (void)parse_steering_positions(flags.positions);
  // Checks the mix (names, alphas, vectors) before any work is done.
  if (!flags.emotion.empty()) (void)make_steering(flags.emotion);
}

void SteeringSetup::load_emotion_vectors_if_needed() const {
  if (emotion_vectors_loaded_) return;
  const auto dir = shipped_vectors_for(model_argument_);
  if (!dir) {
    throw Error("no emotion vectors ship with " + model_argument_ +
                ": give --ev FILE (make them with emovec extract)");
  }
  emotion_vectors_ = load_emotion_vectors({*dir});
  const auto& h = model_.hparams();
  for (const EmotionVector& v : emotion_vectors_) {
    check_vector_fits(v, h.n_layer, h.n_embd, *dir + ": '" + v.emotion + "'");
  }
  emotion_vectors_loaded_ = true;
}

std::unique_ptr<Steering> SteeringSetup::make_steering(const std::string& spec) const {
  EmotionMix mix;
  if (!spec.empty()) {
    mix = parse_emotion_mix(spec);
    load_emotion_vectors_if_needed();
  }
  std::vector<EmotionVector> all = emotion_vectors_;
  for (size_t i = 0; i < control_vectors_.size(); ++i) {
    all.push_back(control_vectors_[i]);
    mix.terms.emplace_back(control_vectors_[i].emotion, control_scales_[i]);
  }
  if (mix.empty()) return nullptr;
  SteeringOptions o;
  o.positions = !flags_.positions.empty() ? parse_steering_positions(flags_.positions)
                : !spec.empty()           ? SteeringPositions::Last
                                          : SteeringPositions::All;
  const auto& h = model_.hparams();
  if (!flags_.layer_range.empty()) {
    o.set_layers(flags_.layer_range[0], flags_.layer_range[1], h.n_layer,
                 "--control-vector-layer-range");
  }
  o.preserve_norm = flags_.preserve_norm;
  auto s = std::make_unique<Steering>(Steering::build(mix, all, h.n_layer, h.n_embd, o));
  if (s->empty()) return nullptr;
  return s;
}

std::string SteeringSetup::describe(const Steering& s, const std::string& spec) const {
  std::string what = spec;
  for (size_t i = 0; i < control_vectors_.size(); ++i) {
    if (!what.empty()) what += ", ";
    char buf[32];
    std::snprintf(buf, sizeof buf, " x %g", static_cast<double>(control_scales_[i]));
    what += "control vector " + std::to_string(i) + buf;
  }
  const SteeringOptions& o = s.options();
  return "steering: " + what + " | layers " + std::to_string(o.layer_begin) + "-" +
         std::to_string(o.layer_end - 1) + " | positions " +
         std::string(steering_positions_name(o.positions)) +
         (o.preserve_norm ? " | norm preserved" : "");
}

}  // namespace emovec::cli
