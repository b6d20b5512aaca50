// Emotion vectors: one direction per decoder layer, added (times a scale) at one activation site.
// Stored as GGUF control vectors in llama.cpp's layout (general.architecture "controlvector",
// F32 tensors "direction.<k>" added to the output of block k, k >= 1) with emovec's own metadata
// under "emovec.*"; imported from llama.cpp/repeng control vectors and from the JSON files the
// paper's code released ({"0": [[h floats]], ..., "L-1": [[...]]}, one file per emotion).
#pragma once

#include <array>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "emovec/activation_site.h"

namespace emovec {

class GgufFile;

// The emotions of the paper, in its fixed order.
inline constexpr std::array<std::string_view, 5> kEmotions = {"anger", "disgust", "fear", "joy",
                                                              "sadness"};
// The name of the pooled vector: every emotion against neutral.
inline constexpr std::string_view kBaseVectorName = "base";

// How a vector was made. Filled by extraction and kept in emovec's files; empty for imports.
struct VectorProvenance {
  std::string method;               // "mean-diff" or "pca"
  std::string mode;                 // "response" or "prompt"
  std::string model_name;           // the model file's general.name (or its file name)
  std::string model_sha256;         // of the model file (GGUF) or its weight files (folder)
  std::string queries_sha256;       // of the de-duplicated query list, one query per line
  int64_t n_queries = 0;            // queries averaged over
  std::vector<int64_t> held_out;    // ids (positions in the de-duplicated list) left out
  std::string neutral_instruction;  // prompt wordings, with {query} (and {emotion})
  std::string emotion_instruction;
  int64_t reply_tokens = 0;   // response mode: reply tokens generated per prompt
  int64_t prompt_tokens = 0;  // prompt mode: last prompt tokens averaged over
};

struct EmotionVector {
  std::string emotion;  // "joy", "base", or any name a user gives
  ActivationSite site = ActivationSite::AttentionOut;
  int64_t n_layer = 0;
  int64_t width = 0;
  // n_layer x width floats, row l for block l; an all-zero row means no direction there.
  std::vector<float> directions;
  // True for emovec's files and the paper's JSON (a direction for every layer of one model):
  // the model must then have exactly n_layer layers. llama.cpp/repeng files list some layers
  // only: the model must have at least n_layer.
  bool exact_layer_count = true;
  std::string model_hint;  // the model's architecture, e.g. "llama"
  std::string source;      // "emovec", "control-vector" or "paper-json"
  VectorProvenance provenance;

  std::span<const float> layer(int64_t l) const;
  std::span<float> layer(int64_t l);
  double layer_norm(int64_t l) const;
};

// A vector of zeros for a model's shape.
EmotionVector make_emotion_vector(std::string emotion, ActivationSite site, int64_t n_layer,
                                  int64_t width);

// Throws Error naming the vector (`what`, e.g. its file) unless it fits a model with n_layer
// layers of width n_embd.
void check_vector_fits(const EmotionVector& v, int64_t n_layer, int64_t n_embd,
                       const std::string& what);

// The first of `vectors` for `emotion`, checked to fit a model with n_layer layers of width
// n_embd. Throws Error when there is none (listing the emotions there are) or it does not fit.
const EmotionVector& find_emotion_vector(std::span<const EmotionVector> vectors,
                                         std::string_view emotion, int64_t n_layer, int64_t n_embd);

// Writes a GGUF control vector that llama.cpp loads. Block 0's direction, which llama.cpp cannot
// hold (its indices start at 1), is kept in the metadata key "emovec.direction_0".
void save_control_vector(const EmotionVector& v, const std::string& path);
// Reads an emovec file or a llama.cpp/repeng control vector. `fallback_name` names the emotion
// when the file does not (e.g. the file name's stem). Throws Error for anything that is not a
// well-formed control vector (wrong architecture, bad tensor names, shapes or types, non-finite
// values, widths that differ between layers).
EmotionVector control_vector_from_gguf(const GgufFile& file, const std::string& fallback_name);

// The paper's JSON format: {"0": [[w floats]], ..., "L-1": [[...]]}, site AttentionOut.
std::string to_paper_json(const EmotionVector& v);
EmotionVector from_paper_json(std::string_view text, const std::string& emotion);

// By content: GGUF magic, else the paper's JSON. The emotion defaults to the file name's stem.
EmotionVector load_emotion_vector(const std::string& path);
// Files, or folders whose *.gguf and *.json files are read in name order.
std::vector<EmotionVector> load_emotion_vectors(const std::vector<std::string>& paths);

}  // namespace emovec
