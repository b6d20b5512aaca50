// Chat templates: renders a conversation into a model's prompt format exactly as transformers'
// apply_chat_template renders it from the same Jinja template (the GGUF key
// tokenizer.chat_template). The template language is a Jinja2 subset interpreted in C++ with
// transformers' environment: trim_blocks, lstrip_blocks, the sandbox's immutable builtins, and
// the globals raise_exception, strftime_now, namespace and dict, plus its tojson filter.
#pragma once

#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

namespace emovec {

struct ChatMessage {
  std::string role;
  std::string content;
};

class ChatTemplate {
 public:
  // Parses the template. Throws Error naming the line and column of a syntax error, of a tag
  // this interpreter does not support (extends, include, import, autoescape) or of an unknown
  // filter or test.
  explicit ChatTemplate(std::string source);

  // Renders `messages` (each becomes a {role, content} dict) with `extra` variables such as
  // bos_token, eos_token or tools. add_generation_prompt ends the prompt with the assistant
  // header. Throws Error for an empty conversation, for errors the template raises
  // (raise_exception: the message is the template's) and for runtime errors (UndefinedError,
  // TypeError, ... as Jinja would raise them, with the template line).
  std::string render(const std::vector<ChatMessage>& messages, bool add_generation_prompt,
                     const nlohmann::json& extra = nlohmann::json::object()) const;

  // Messages with arbitrary fields (tool_calls, tool_call_id, name, ...). As in transformers,
  // fields whose value is null are dropped first. nlohmann::json sorts object keys; use the
  // ordered_json overload where key order matters (e.g. tool schemas printed with tojson).
  std::string render_json(const nlohmann::json& messages, bool add_generation_prompt,
                          const nlohmann::json& extra = nlohmann::json::object()) const;
  std::string render_json(
      const nlohmann::ordered_json& messages, bool add_generation_prompt,
      const nlohmann::ordered_json& extra = nlohmann::ordered_json::object()) const;

  const std::string& source() const;

 private:
  struct Impl;
  std::shared_ptr<const Impl> impl_;
};

}  // namespace emovec
