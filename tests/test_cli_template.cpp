// `emovec template` on each shipped chat model against transformers' apply_chat_template
// (tests/golden/chat_templates.json): the whole path from the GGUF's template and tokenizer to
// the printed prompt.
#include <gtest/gtest.h>

#include <fstream>

#include "support/cli_runner.h"
#include "support/test_support.h"

namespace emovec {
namespace {

TEST(CliTemplate, ShippedChatModelsRenderAsTransformers) {
  const auto golden = testing::read_json(testing::golden_path("chat_templates.json"));
  std::map<std::string, nlohmann::ordered_json> conversations;
  for (const auto& c : golden["conversations"]) {
    if (c["extra"].empty()) conversations[c["name"]] = nlohmann::ordered_json(c["messages"]);
  }
  const std::string messages_file = std::string(EMOVEC_BINARY_DIR) + "/cli_template_messages.json";
  int checked = 0;
  for (const auto& tmpl : golden["templates"]) {
    const std::string source = tmpl["source"];
    if (source.rfind("model:", 0) != 0) continue;
    const std::string model = testing::model_path(source.substr(6));
    int per_model = 0;
    for (const auto& c : tmpl["cases"]) {
      if (!c.contains("expected") || !conversations.count(c["conversation"])) continue;
      if (++per_model > 12) break;  // each run loads the model; a dozen cases cover the path
      std::ofstream(messages_file) << conversations[c["conversation"]].dump();
      const bool generation_prompt = c["add_generation_prompt"];
      const auto [status, out] =
          testing::run_cli("template " + model + " --messages " + messages_file +
                           (generation_prompt ? "" : " --no-generation-prompt"));
      EXPECT_EQ(status, 0) << out;
      EXPECT_EQ(out, c["expected"].get<std::string>() + "\n")
          << source << " / " << c["conversation"] << " / generation prompt " << generation_prompt;
      ++checked;
    }
  }
  EXPECT_GE(checked, 30);
}

}  // namespace
}  // namespace emovec
