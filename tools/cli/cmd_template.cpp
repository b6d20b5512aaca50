// emovec template MODEL: render a conversation with the model's chat template.
#include <cstdio>
#include <fstream>

#include "commands.h"
#include "emovec/error.h"
#include "model_loading.h"

namespace emovec::cli {
namespace {

struct TemplateOptions {
  std::string model;
  std::string system;
  std::vector<std::string> user;
  std::vector<std::string> assistant;
  std::string messages_file;
  bool no_generation_prompt = false;
};

// --user and --assistant alternate, starting with the user: u1 a1 u2 a2 ... Ordered JSON keeps
// the key order of a messages file (tool schemas printed by tojson keep their order).
nlohmann::ordered_json conversation(const TemplateOptions& opt) {
  if (!opt.messages_file.empty()) {
    std::ifstream in(opt.messages_file);
    if (!in) throw Error("cannot open messages file " + opt.messages_file);
    nlohmann::ordered_json messages = nlohmann::ordered_json::parse(in, nullptr, false);
    if (!messages.is_array()) {
      throw Error("messages file " + opt.messages_file +
                  " must hold a JSON array of {\"role\", \"content\"} objects");
    }
    return messages;
  }
  if (opt.assistant.size() > opt.user.size()) {
    throw Error("more --assistant turns than --user turns");
  }
  nlohmann::ordered_json messages = nlohmann::ordered_json::array();
  if (!opt.system.empty()) messages.push_back({{"role", "system"}, {"content", opt.system}});
  for (size_t i = 0; i < opt.user.size(); ++i) {
    messages.push_back({{"role", "user"}, {"content", opt.user[i]}});
    if (i < opt.assistant.size()) {
      messages.push_back({{"role", "assistant"}, {"content", opt.assistant[i]}});
    }
  }
  return messages;
}

void run_template(const TemplateOptions& opt) {
  const LoadedModel m = load_model(opt.model);
  const auto source = m.file->chat_template();
  if (!source) throw Error(m.file->path() + " has no chat template (a base model)");
  const ChatTemplate tmpl(*source);
  std::fputs(tmpl.render_json(conversation(opt), !opt.no_generation_prompt,
                              chat_template_variables(*m.tokenizer))
                 .c_str(),
             stdout);
  std::fputs("\n", stdout);
}

}  // namespace

void register_template_command(CLI::App& app) {
  auto opt = std::make_shared<TemplateOptions>();
  auto* cmd = app.add_subcommand("template", "Render a conversation with the chat template");
  cmd->add_option("model", opt->model, "GGUF file, Hugging Face folder, or shipped model name")
      ->required();
  cmd->add_option("--system", opt->system, "System prompt");
  cmd->add_option("--user", opt->user, "A user turn (repeatable)");
  cmd->add_option("--assistant", opt->assistant, "An assistant turn (repeatable)");
  cmd->add_option("--messages", opt->messages_file, "JSON file with a list of messages");
  cmd->add_flag("--no-generation-prompt", opt->no_generation_prompt,
                "Do not open an assistant turn at the end");
  cmd->callback([opt] { run_template(*opt); });
}

}  // namespace emovec::cli
