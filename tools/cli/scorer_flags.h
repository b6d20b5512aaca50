// The --scorers flag of emovec eval and emovec score: "nade,judge=MODEL,mnli=DIR" to scorers.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "emovec/decoder.h"
#include "emovec/emotion_scorer.h"
#include "emovec/model_file.h"

namespace emovec::cli {

// What --scorers says about the scorers it accepts (for --help).
extern const char* const kScorersHelp;

struct Scorers {
  std::vector<std::unique_ptr<ModelFile>> files;
  std::vector<std::unique_ptr<DecoderModel>> judges;
  std::vector<std::unique_ptr<EmotionScorer>> owned;
  std::vector<EmotionScorer*> list;  // in the order given
  std::vector<std::string> titles;   // per scorer: its name, and its model for a judge
};

// Loads the scorers of a comma-separated list: nade (the shipped nade-socialmedia-en data),
// judge[=MODEL] (an instruct model asked which emotion; default: the largest shipped chat
// model), mnli=DIR (a Hugging Face RoBERTa-family MNLI classifier). Throws Error for an unknown
// or repeated scorer, missing data or an empty list.
Scorers make_scorers(const std::string& spec, int threads);

}  // namespace emovec::cli
