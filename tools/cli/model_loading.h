// What the commands share: opening a model argument (a registry name or a path) with its
// tokenizer and chat template.
#pragma once

#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>

#include "emovec/chat_template.h"
#include "emovec/model_file.h"
#include "emovec/tokenizer.h"

namespace emovec::cli {

struct LoadedModel {
  std::unique_ptr<ModelFile> file;
  std::unique_ptr<Tokenizer> tokenizer;
};

LoadedModel load_model(const std::string& argument);

// Variables a chat template expects beside the messages (bos_token, eos_token), as
// transformers passes them.
nlohmann::ordered_json chat_template_variables(const Tokenizer& tokenizer);

// Shows a token's text with control characters escaped, for tables.
std::string printable(const std::string& text);

}  // namespace emovec::cli
