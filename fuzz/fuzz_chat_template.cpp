// libFuzzer target: arbitrary bytes as a chat template source, parsed and rendered against a
// fixed conversation (with tool calls and tools). Only emovec::Error may escape the library;
// anything else (crash, sanitizer report, other exception, hang) is a finding. Jinja tokens for
// -dict= are in fuzz/chat_template.dict; seeds (real templates) in fuzz/corpus/chat_template/.
#include <cstddef>
#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>

#include "emovec/chat_template.h"
#include "emovec/error.h"

namespace {

const nlohmann::ordered_json& conversation() {
  static const nlohmann::ordered_json messages = nlohmann::ordered_json::parse(R"([
    {"role": "system", "content": "You are helpful."},
    {"role": "user", "content": "Weather in Paris? {{ x }} {% y %}\n\u00e9\ud83d\ude00"},
    {"role": "assistant", "content": "", "tool_calls": [{"id": "a1b2c3d4e", "type": "function",
      "function": {"name": "get_weather", "arguments": {"city": "Paris", "days": [1, 2.5, null]}}}]},
    {"role": "tool", "tool_call_id": "a1b2c3d4e", "content": "{\"t\": 22}"},
    {"role": "assistant", "content": "<think>hm</think>It is 22.", "reasoning_content": "r"},
    {"role": "user", "content": ["not", "a", "string"]}
  ])");
  return messages;
}

const nlohmann::ordered_json& extra() {
  static const nlohmann::ordered_json vars = nlohmann::ordered_json::parse(R"({
    "bos_token": "<s>", "eos_token": "</s>",
    "tools": [{"type": "function", "function": {"name": "get_weather", "description": "d",
      "parameters": {"type": "object", "properties": {"city": {"type": "string"}},
      "required": ["city"]}}}]
  })");
  return vars;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string source(reinterpret_cast<const char*>(data), size);
  try {
    const emovec::ChatTemplate tmpl(source);
    tmpl.render_json(conversation(), true, extra());
    tmpl.render({{"user", "hi"}}, false);
  } catch (const emovec::Error&) {
    // Bad templates and render errors are expected outcomes.
  }
  return 0;
}
