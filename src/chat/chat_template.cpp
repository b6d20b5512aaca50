#include "emovec/chat_template.h"

#include "chat/errors.h"
#include "chat/evaluator.h"
#include "chat/json_io.h"
#include "chat/lexer.h"
#include "chat/parser.h"
#include "chat/render.h"
#include "emovec/error.h"

namespace emovec {

struct ChatTemplate::Impl {
  std::string source;
  chat::Body body;
};

namespace {

using chat::Value;

// transformers' _alias_reasoning_fields: the first non-null of reasoning_content, thinking and
// reasoning is exposed as both `thinking` (first key) and `reasoning_content`.
Value alias_reasoning(const Value& message) {
  const chat::DictObj& d = message.dict();
  const Value* reasoning = nullptr;
  for (const char* field : {"reasoning_content", "thinking", "reasoning"}) {
    const Value* v = d.find(std::string(field));
    if (v != nullptr && !v->is_none()) {
      reasoning = v;
      break;
    }
  }
  if (reasoning == nullptr) return message;
  auto out = std::make_shared<chat::DictObj>();
  out->set(Value::string("thinking"), *reasoning);
  for (const auto& [k, v] : d.items) out->set(k, v);
  out->set(Value::string("reasoning_content"), *reasoning);
  return Value::dict(std::move(out));
}

// transformers' _normalize_chat_messages: every message must be a dict; null fields are dropped.
Value normalize_messages(const Value& messages) {
  if (!messages.is_seq()) throw Error("chat template: messages must be a JSON array");
  if (messages.seq().items.empty()) {
    throw Error(
        "Cannot apply chat template to an empty conversation. Provide at least one message.");
  }
  std::vector<Value> out;
  for (const Value& m : messages.seq().items) {
    if (m.kind() != chat::Kind::Dict) {
      throw Error("Chat messages should be dicts, dataclasses or pydantic models, but got " +
                  chat::py_repr(m, 4096) + ".");
    }
    auto kept = std::make_shared<chat::DictObj>();
    for (const auto& [k, v] : m.dict().items) {
      if (!v.is_none()) kept->set(k, v);
    }
    out.push_back(alias_reasoning(Value::dict(std::move(kept))));
  }
  return Value::seq(std::move(out));
}

std::string describe(const chat::RenderError& e) {
  // raise_exception's message is the template author's text: pass it through unchanged.
  if (e.type() == "TemplateError") return e.message();
  std::string text = e.type() + ": " + e.message();
  if (e.line() > 0) text += " (chat template line " + std::to_string(e.line()) + ")";
  return text;
}

std::string render_values(const chat::Body& body, const Value& messages, bool add_generation_prompt,
                          const Value& extra) {
  if (extra.kind() != chat::Kind::Dict) throw Error("chat template: extra must be a JSON object");
  std::vector<std::pair<std::string, Value>> context;
  bool has_tools = false;
  bool has_documents = false;
  for (const auto& [k, v] : extra.dict().items) {
    has_tools |= k.str() == "tools";
    has_documents |= k.str() == "documents";
    context.emplace_back(k.str(), v);
  }
  // render_jinja_template always passes these, so templates see them defined (as None).
  if (!has_tools) context.emplace_back("tools", Value::none());
  if (!has_documents) context.emplace_back("documents", Value::none());
  context.emplace_back("messages", normalize_messages(messages));
  context.emplace_back("add_generation_prompt", Value::boolean(add_generation_prompt));
  try {
    chat::Renderer renderer(body, context);
    return renderer.render();
  } catch (const chat::RenderError& e) {
    throw Error(describe(e));
  }
}

template <typename Json>
Value convert(const Json& j) {
  try {
    return chat::value_from_json(j);
  } catch (const chat::RenderError& e) {
    throw Error("chat template input: " + e.message());
  }
}

}  // namespace

ChatTemplate::ChatTemplate(std::string source) {
  auto impl = std::make_shared<Impl>();
  impl->source = std::move(source);
  impl->body = chat::parse_template(chat::tokenize(chat::normalize_template_source(impl->source)));
  impl_ = std::move(impl);
}

const std::string& ChatTemplate::source() const { return impl_->source; }

std::string ChatTemplate::render(const std::vector<ChatMessage>& messages,
                                 bool add_generation_prompt, const nlohmann::json& extra) const {
  std::vector<Value> list;
  list.reserve(messages.size());
  for (const ChatMessage& m : messages) {
    auto d = std::make_shared<chat::DictObj>();
    d->set(Value::string("role"), Value::string(m.role));
    d->set(Value::string("content"), Value::string(m.content));
    list.push_back(Value::dict(std::move(d)));
  }
  return render_values(impl_->body, Value::seq(std::move(list)), add_generation_prompt,
                       convert(extra));
}

std::string ChatTemplate::render_json(const nlohmann::json& messages, bool add_generation_prompt,
                                      const nlohmann::json& extra) const {
  return render_values(impl_->body, convert(messages), add_generation_prompt, convert(extra));
}

std::string ChatTemplate::render_json(const nlohmann::ordered_json& messages,
                                      bool add_generation_prompt,
                                      const nlohmann::ordered_json& extra) const {
  return render_values(impl_->body, convert(messages), add_generation_prompt, convert(extra));
}

namespace chat {

std::string render_template_string(const std::string& source,
                                   const nlohmann::ordered_json& variables) {
  const Body body = parse_template(tokenize(normalize_template_source(source)));
  const Value vars = convert(variables);
  if (vars.kind() != Kind::Dict) throw Error("chat template: variables must be a JSON object");
  std::vector<std::pair<std::string, Value>> context;
  for (const auto& [k, v] : vars.dict().items) context.emplace_back(k.str(), v);
  try {
    Renderer renderer(body, context);
    return renderer.render();
  } catch (const RenderError& e) {
    throw Error(describe(e));
  }
}

}  // namespace chat

}  // namespace emovec
