// Chat templates: byte-identical agreement with transformers/jinja2 on the golden set
// (tests/golden/chat_templates.json, written by tools/golden/make_chat_golden.py), plus the API,
// parse errors with their positions, and the limits that keep hostile templates bounded.
// Suites are named chat_template_* so that `ctest -R chat` selects them.
#include <gtest/gtest.h>

#include <chrono>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>

#include "chat/render.h"
#include "emovec/chat_template.h"
#include "emovec/error.h"
#include "emovec/gguf.h"
#include "support/test_support.h"

namespace {

using emovec::ChatMessage;
using emovec::ChatTemplate;
using nlohmann::ordered_json;

// Key order matters (tool schemas are printed with tojson), so the golden file is read ordered.
const ordered_json& golden() {
  static const ordered_json data = [] {
    std::ifstream in(emovec::testing::golden_path("chat_templates.json"));
    std::stringstream text;
    text << in.rdbuf();
    return ordered_json::parse(text.str());
  }();
  return data;
}

bool is_syntax_error(const std::string& type) {
  return type == "TemplateSyntaxError" || type == "TemplateAssertionError" || type == "SyntaxError";
}

// How an error must read: raise_exception's message verbatim; other runtime errors as
// "<PythonType>: <jinja message> (chat template line N)".
std::string check_runtime_error(const std::string& what, const ordered_json& expected) {
  const std::string type = expected["error_type"].get<std::string>();
  const std::string message = expected["error"].get<std::string>();
  if (type == "TemplateError") {
    return what == message ? "" : "message '" + what + "' != '" + message + "'";
  }
  const std::string want = type + ": " + message;
  return what.rfind(want, 0) == 0 ? ""
                                  : "message '" + what + "' does not start with '" + want + "'";
}

// Syntax errors carry "line L, column C: <jinja message>".
std::string check_syntax_error(const std::string& what, const ordered_json& expected) {
  const std::string message = expected["error"].get<std::string>();
  if (expected.contains("error_line") && expected["error_type"] != "SyntaxError") {
    const std::string line = "line " + std::to_string(expected["error_line"].get<int>()) + ",";
    if (what.find(line) == std::string::npos) return "'" + what + "' lacks '" + line + "'";
  }
  if (expected["error_type"] == "SyntaxError") return "";  // Python's own compile error text
  return what.find(message) != std::string::npos ? "" : "'" + what + "' lacks '" + message + "'";
}

const ordered_json& conversation(const std::string& name) {
  for (const ordered_json& c : golden()["conversations"]) {
    if (c["name"] == name) return c;
  }
  throw std::runtime_error("golden conversation " + name + " is missing");
}

// The template's variables (special tokens) updated by the conversation's extra ones.
ordered_json case_variables(const ordered_json& entry, const ordered_json& conv) {
  ordered_json vars = entry["variables"];
  for (const auto& [key, value] : conv["extra"].items()) vars[key] = value;
  return vars;
}

std::string check_case(const ChatTemplate& tmpl, const ordered_json& entry, const ordered_json& c) {
  const ordered_json& conv = conversation(c["conversation"].get<std::string>());
  try {
    const std::string out = tmpl.render_json(
        conv["messages"], c["add_generation_prompt"].get<bool>(), case_variables(entry, conv));
    if (c.contains("error"))
      return "rendered, but the reference raised: " + c["error"].get<std::string>();
    const std::string want = c["expected"].get<std::string>();
    if (out == want) return "";
    size_t at = 0;
    while (at < out.size() && at < want.size() && out[at] == want[at]) ++at;
    return "differs at byte " + std::to_string(at) + ":\n got: " + ordered_json(out).dump() +
           "\nwant: " + ordered_json(want).dump();
  } catch (const emovec::Error& e) {
    if (!c.contains("error")) return std::string("raised: ") + e.what();
    return check_runtime_error(e.what(), c);
  }
}

void run_template_entries(const std::string& source_prefix, size_t& checked) {
  for (const ordered_json& entry : golden()["templates"]) {
    if (entry["source"].get<std::string>().rfind(source_prefix, 0) != 0) continue;
    SCOPED_TRACE(entry["name"].get<std::string>());
    std::unique_ptr<ChatTemplate> tmpl;
    ASSERT_NO_THROW(tmpl = std::make_unique<ChatTemplate>(entry["template"].get<std::string>()));
    for (const ordered_json& c : entry["cases"]) {
      const std::string problem = check_case(*tmpl, entry, c);
      EXPECT_EQ(problem, "") << entry["name"].get<std::string>() << " / "
                             << c["conversation"].get<std::string>()
                             << (c["add_generation_prompt"].get<bool>() ? " (generation prompt)"
                                                                        : "");
      ++checked;
    }
  }
}

TEST(chat_template_golden, ShippedModelsMatchTransformers) {
  size_t checked = 0;
  run_template_entries("model:", checked);
  EXPECT_GE(checked, 150u);
}

TEST(chat_template_golden, ExtraTemplatesMatchTransformers) {
  size_t checked = 0;
  run_template_entries("file:", checked);
  EXPECT_GE(checked, 600u);
}

TEST(chat_template_golden, ExtraTemplateFilesAreTheGoldenOnes) {
  for (const ordered_json& entry : golden()["templates"]) {
    const std::string source = entry["source"].get<std::string>();
    if (source.rfind("file:", 0) != 0) continue;
    std::ifstream in(emovec::testing::data_path("chat_templates/" + source.substr(5)));
    std::stringstream text;
    text << in.rdbuf();
    EXPECT_EQ(text.str(), entry["template"].get<std::string>()) << source;
  }
}

TEST(chat_template_golden, ShippedGgufTemplatesAreTheGoldenOnes) {
  for (const ordered_json& entry : golden()["templates"]) {
    const std::string source = entry["source"].get<std::string>();
    if (source.rfind("model:", 0) != 0) continue;
    const auto file = emovec::GgufFile::open(emovec::testing::model_path(source.substr(6)));
    EXPECT_EQ(file.get("tokenizer.chat_template").as_string(), entry["template"].get<std::string>())
        << source;
  }
}

TEST(chat_template_snippets, MatchJinja) {
  size_t checked = 0;
  for (const ordered_json& s : golden()["snippets"]) {
    const std::string name = s["name"].get<std::string>();
    std::string problem;
    try {
      const std::string out = emovec::chat::render_template_string(s["template"], s["vars"]);
      if (s.contains("error")) {
        problem = "rendered " + ordered_json(out).dump() + ", reference raised " +
                  s["error_type"].get<std::string>() + ": " + s["error"].get<std::string>();
      } else if (out != s["expected"].get<std::string>()) {
        problem = "got  " + ordered_json(out).dump() + "\nwant " + s["expected"].dump();
      }
    } catch (const emovec::Error& e) {
      if (!s.contains("error")) {
        problem = std::string("raised: ") + e.what();
      } else if (is_syntax_error(s["error_type"])) {
        problem = check_syntax_error(e.what(), s);
      } else {
        problem = check_runtime_error(e.what(), s);
      }
    }
    EXPECT_EQ(problem, "") << name;
    ++checked;
  }
  EXPECT_GE(checked, 150u);
}

// ---- API -------------------------------------------------------------------------------------

const char* kChatMl =
    "{% for m in messages %}<|im_start|>{{ m.role }}\n{{ m.content }}<|im_end|>\n{% endfor %}"
    "{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}";

TEST(chat_template_api, RendersChatMessages) {
  const ChatTemplate tmpl(kChatMl);
  const std::vector<ChatMessage> messages = {{"system", "Be nice."}, {"user", "Hi"}};
  EXPECT_EQ(tmpl.render(messages, true),
            "<|im_start|>system\nBe nice.<|im_end|>\n<|im_start|>user\nHi<|im_end|>\n"
            "<|im_start|>assistant\n");
  EXPECT_EQ(tmpl.render(messages, false),
            "<|im_start|>system\nBe nice.<|im_end|>\n<|im_start|>user\nHi<|im_end|>\n");
  EXPECT_EQ(tmpl.source(), kChatMl);
}

TEST(chat_template_api, RenderAndRenderJsonAgree) {
  const ChatTemplate tmpl(kChatMl);
  const nlohmann::json messages = {{{"role", "user"}, {"content", "x"}}};
  EXPECT_EQ(tmpl.render({{"user", "x"}}, true), tmpl.render_json(messages, true));
}

TEST(chat_template_api, ExtraVariablesAndDefaults) {
  const ChatTemplate tmpl(
      "{{ bos_token }}|{{ tools is none }}|{{ documents is none }}|{{ custom | default('-') }}");
  EXPECT_EQ(tmpl.render({{"user", "x"}}, false, {{"bos_token", "<s>"}}), "<s>|True|True|-");
  EXPECT_EQ(tmpl.render({{"user", "x"}}, false, {{"custom", 7}, {"tools", {1}}}), "|False|True|7");
}

TEST(chat_template_api, OrderedJsonKeepsKeyOrder) {
  const ChatTemplate tmpl("{{ messages[0] | tojson }}");
  const ordered_json messages =
      ordered_json::parse(R"([{"role": "user", "content": "c", "a": 1}])");
  EXPECT_EQ(tmpl.render_json(messages, false), R"({"role": "user", "content": "c", "a": 1})");
}

TEST(chat_template_api, NullFieldsAreDroppedLikeTransformers) {
  const ChatTemplate tmpl("{{ messages[0].name is defined }}{{ messages[0] | length }}");
  const nlohmann::json messages = {{{"role", "user"}, {"content", "c"}, {"name", nullptr}}};
  EXPECT_EQ(tmpl.render_json(messages, false), "False2");
}

TEST(chat_template_api, EmptyConversationIsAnError) {
  const ChatTemplate tmpl(kChatMl);
  EXPECT_THROW(tmpl.render({}, true), emovec::Error);
}

TEST(chat_template_api, RaiseExceptionCarriesTheTemplateMessage) {
  const ChatTemplate tmpl(
      "{% if messages[0].role != 'user' %}{{ raise_exception('first must be user') }}{% endif "
      "%}ok");
  EXPECT_EQ(tmpl.render({{"user", "x"}}, false), "ok");
  try {
    tmpl.render({{"assistant", "x"}}, false);
    FAIL() << "expected an Error";
  } catch (const emovec::Error& e) {
    EXPECT_STREQ(e.what(), "first must be user");
  }
}

TEST(chat_template_api, RuntimeErrorsNameTypeAndLine) {
  const ChatTemplate tmpl("line1\n{{ messages[0].missing + 1 }}");
  try {
    tmpl.render({{"user", "x"}}, false);
    FAIL() << "expected an Error";
  } catch (const emovec::Error& e) {
    EXPECT_EQ(std::string(e.what()),
              "UndefinedError: 'dict object' has no attribute 'missing' (chat template line 2)");
  }
}

TEST(chat_template_api, StrftimeNowUsesTheLocalClock) {
  const ChatTemplate tmpl(
      "{{ strftime_now('%Y') }}|{{ strftime_now('') }}|{{ strftime_now('%%') }}");
  const std::time_t now = std::time(nullptr);
  std::tm local{};
  localtime_r(&now, &local);
  EXPECT_EQ(tmpl.render({{"user", "x"}}, false), std::to_string(local.tm_year + 1900) + "||%");
}

TEST(chat_template_api, TemplatesAreReusableAndCopyable) {
  const ChatTemplate a(kChatMl);
  const ChatTemplate b = a;  // NOLINT(performance-unnecessary-copy-initialization)
  EXPECT_EQ(a.render({{"user", "1"}}, false), b.render({{"user", "1"}}, false));
  EXPECT_EQ(a.render({{"user", "2"}}, false), "<|im_start|>user\n2<|im_end|>\n");
}

// ---- parse errors ----------------------------------------------------------------------------

std::string parse_error(const std::string& source) {
  try {
    ChatTemplate tmpl(source);
  } catch (const emovec::Error& e) {
    return e.what();
  }
  return "(no error)";
}

TEST(chat_template_parse, ErrorsNameLineAndColumn) {
  EXPECT_EQ(parse_error("ab\n  {% foo %}"),
            "chat template syntax error at line 2, column 6: Encountered unknown tag 'foo'.");
  EXPECT_EQ(parse_error("{{ 'unterminated }}"),
            "chat template syntax error at line 1, column 4: unexpected char \"'\" at 3");
  EXPECT_EQ(parse_error("x\ny {{ 1 + }}"),
            "chat template syntax error at line 2, column 10: unexpected 'end of print statement'");
  EXPECT_EQ(parse_error("{% if x %}\n{% for y in z %}"),
            "chat template syntax error at line 2, column 17: Unexpected end of template. Jinja "
            "was looking for the following tags: 'endfor' or 'else'. The innermost block that "
            "needs to be closed is 'for'.");
  EXPECT_EQ(parse_error("é {{ x | nosuch }}"),
            "chat template syntax error at line 1, column 10: No filter named 'nosuch'.");
  EXPECT_EQ(parse_error("{# open"),
            "chat template syntax error at line 1, column 1: Missing end of comment tag");
  EXPECT_EQ(parse_error("{{ x"),
            "chat template syntax error at line 1, column 5: unexpected end of template, expected "
            "'end of print statement'.");
  EXPECT_EQ(parse_error("{% include 'x' %}"),
            "chat template syntax error at line 1, column 4: the 'include' tag is not supported in "
            "chat templates");
}

TEST(chat_template_parse, FuzzSeedsAreValidTemplates) {
  namespace fs = std::filesystem;
  size_t seeds = 0;
  for (const auto& entry :
       fs::directory_iterator(fs::path(EMOVEC_SOURCE_DIR) / "fuzz/corpus/chat_template")) {
    std::ifstream in(entry.path());
    std::stringstream text;
    text << in.rdbuf();
    EXPECT_NO_THROW(ChatTemplate{text.str()}) << entry.path();
    ++seeds;
  }
  EXPECT_GE(seeds, 10u);
}

// ---- limits ----------------------------------------------------------------------------------

std::string render_error(const std::string& source) {
  try {
    ChatTemplate tmpl(source);
    tmpl.render({{"user", "x"}}, false);
  } catch (const emovec::Error& e) {
    return e.what();
  }
  return "(no error)";
}

TEST(chat_template_limits, HostileTemplatesFailFast) {
  const auto start = std::chrono::steady_clock::now();
  EXPECT_NE(render_error(
                "{% for a in range(100000) %}{% for b in range(100000) %}{% endfor %}{% endfor %}")
                .find("LimitError"),
            std::string::npos);
  EXPECT_NE(render_error("{% macro f() %}{{ f() }}{% endmacro %}{{ f() }}").find("LimitError"),
            std::string::npos);
  EXPECT_NE(render_error("{{ 'x' * 1000000000 }}").find("LimitError"), std::string::npos);
  EXPECT_NE(render_error("{% set ns = namespace(s='xxxxxxxx') %}{% for i in range(40) %}"
                         "{% set ns.s = ns.s ~ ns.s %}{% endfor %}")
                .find("LimitError"),
            std::string::npos);
  EXPECT_NE(render_error("{% set ns = namespace(l=[]) %}{% for i in range(300) %}"
                         "{% set ns.l = [ns.l] %}{% endfor %}")
                .find("LimitError"),
            std::string::npos);
  EXPECT_NE(parse_error("{{ " + std::string(500, '(') + "1" + std::string(500, ')') + " }}")
                .find("nested too deeply"),
            std::string::npos);
  std::string chain = "{{ 1";
  for (int i = 0; i < 5000; ++i) chain += " + 1";
  EXPECT_NE(parse_error(chain + " }}").find("nested too deeply"), std::string::npos);
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(30));
}

TEST(chat_template_limits, SelfReferencingNamespaceDoesNotLeakOrLoop) {
  EXPECT_NE(
      render_error("{% set ns = namespace() %}{% set ns.me = ns %}{{ ns }}").find("LimitError"),
      std::string::npos);
}

}  // namespace
