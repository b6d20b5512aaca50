// Steering flags shared by generate and chat: emotion vectors by emotion name (--ev, --emotion)
// and llama.cpp's control-vector flags.
#pragma once

#include <CLI/CLI.hpp>
#include <memory>
#include <string>
#include <vector>

#include "emovec/emotion_vector.h"
#include "emovec/steering.h"

namespace emovec {
class DecoderModel;
}

namespace emovec::cli {

struct SteeringFlags {
  std::vector<std::string> ev;              // vector files or folders
  std::string emotion;                      // "joy=1.5,anger=-0.5"
  std::vector<std::string> control;         // --control-vector FILE (scale 1)
  std::vector<std::string> control_scaled;  // --control-vector-scaled FILE S, flattened pairs
  std::vector<int> layer_range;             // inclusive, as llama.cpp
  std::string positions;                    // empty: "last" for --emotion, "all" otherwise
  bool preserve_norm = false;
};

void add_steering_flags(CLI::App* cmd, SteeringFlags& f);

// The vectors and options the flags name, checked against the model; the mix is built by
// make_steering. `model_argument` finds the shipped vectors when --emotion comes without --ev.
class SteeringSetup {
 public:
  SteeringSetup(const SteeringFlags& flags, const DecoderModel& model,
                const std::string& model_argument);
  // The mix of --emotion (or `spec` when given) plus the control vectors, or null when nothing
  // is steered.
  std::unique_ptr<Steering> make_steering(const std::string& spec) const;
  const std::string& emotion_spec() const { return flags_.emotion; }
  // One line on what is steered, for stderr.
  std::string describe(const Steering& s, const std::string& spec) const;

 private:
  void load_emotion_vectors_if_needed() const;

  SteeringFlags flags_;
  const DecoderModel& model_;
  std::string model_argument_;
  mutable std::vector<EmotionVector> emotion_vectors_;
  mutable bool emotion_vectors_loaded_ = false;
  std::vector<EmotionVector> control_vectors_;
  std::vector<float> control_scales_;
};

}  // namespace emovec::cli
