// emovec tokenize MODEL TEXT: token ids and pieces, as the model's tokenizer gives them.
#include <cstdio>
#include <iostream>

#include "commands.h"
#include "model_loading.h"

namespace emovec::cli {
namespace {

struct TokenizeOptions {
  std::string model;
  std::string text;
  bool no_special = false;
  bool no_parse_special = false;
  bool ids_only = false;
  bool as_json = false;
};

void run_tokenize(const TokenizeOptions& opt) {
  const LoadedModel m = load_model(opt.model);
  const std::vector<int32_t> ids =
      m.tokenizer->encode(opt.text, !opt.no_special, !opt.no_parse_special);
  if (opt.as_json) {
    nlohmann::json pieces = nlohmann::json::array();
    for (int32_t id : ids) pieces.push_back(m.tokenizer->token_text(id));
    std::cout << nlohmann::json{{"ids", ids}, {"pieces", pieces}, {"count", ids.size()}}.dump(2)
              << "\n";
    return;
  }
  if (opt.ids_only) {
    for (size_t i = 0; i < ids.size(); ++i) std::printf("%s%d", i ? " " : "", ids[i]);
    std::printf("\n");
    return;
  }
  for (int32_t id : ids) {
    const int32_t one[] = {id};
    std::printf("%8d  %-24s %s\n", id, printable(m.tokenizer->token_text(id)).c_str(),
                printable(m.tokenizer->decode(one)).c_str());
  }
  std::printf("%zu tokens\n", ids.size());
}

}  // namespace

void register_tokenize_command(CLI::App& app) {
  auto opt = std::make_shared<TokenizeOptions>();
  auto* cmd = app.add_subcommand("tokenize", "Show the token ids and pieces of a text");
  cmd->add_option("model", opt->model, "GGUF file, Hugging Face folder, or shipped model name")
      ->required();
  cmd->add_option("text", opt->text, "Text to tokenize")->required();
  cmd->add_flag("--no-special", opt->no_special, "Do not add BOS/EOS (or CLS/SEP) tokens");
  cmd->add_flag("--no-parse-special", opt->no_parse_special,
                "Treat special-token text as plain text");
  cmd->add_flag("--ids", opt->ids_only, "Print the ids only, on one line");
  cmd->add_flag("--json", opt->as_json, "Print JSON");
  cmd->callback([opt] { run_tokenize(*opt); });
}

}  // namespace emovec::cli
