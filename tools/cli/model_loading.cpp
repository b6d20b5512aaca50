#include "model_loading.h"

#include <cstdio>

#include "emovec/model_registry.h"

namespace emovec::cli {

LoadedModel load_model(const std::string& argument) {
  LoadedModel loaded;
  loaded.file = open_model_file(resolve_model_argument(argument));
  loaded.tokenizer = load_tokenizer(*loaded.file);
  return loaded;
}

nlohmann::ordered_json chat_template_variables(const Tokenizer& tokenizer) {
  nlohmann::ordered_json vars = nlohmann::ordered_json::object();
  if (auto bos = tokenizer.bos_id()) vars["bos_token"] = tokenizer.token_text(*bos);
  if (auto eos = tokenizer.eos_id()) vars["eos_token"] = tokenizer.token_text(*eos);
  return vars;
}

std::string printable(const std::string& text) {
  std::string out;
  for (unsigned char c : text) {
    switch (c) {
      case '\n':
        out += "\\n";
        break;
      case '\r':
        out += "\\r";
        break;
      case '\t':
        out += "\\t";
        break;
      case '\\':
        out += "\\\\";
        break;
      default:
        if (c < 0x20 || c == 0x7f) {
          char buf[8];
          std::snprintf(buf, sizeof buf, "\\x%02x", c);
          out += buf;
        } else {
          out += static_cast<char>(c);
        }
    }
  }
  return out;
}

}  // namespace emovec::cli
