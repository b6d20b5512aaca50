// The server's request parsing: OpenAI fields reach the generation options they name, the
// extra "emotion" and "steering" fields become the request's steering, and every malformed
// field is refused with HTTP 400 and an error naming it (checked without a network).
#include <gtest/gtest.h>

#include <string>

#include "server/api.h"

namespace emovec::server {
namespace {

const RequestLimits kLimits{.n_ctx = 2048, .n_layer = 30};

ParsedRequest chat(const std::string& body, const SteeringRequest& defaults = {}) {
  return parse_generation_request(body, true, kLimits, defaults);
}

// The error a body gets: status and the 'param' of its error object.
std::pair<int, std::string> refusal(const std::string& body, bool is_chat = true) {
  try {
    parse_generation_request(body, is_chat, kLimits, {});
  } catch (const ApiError& e) {
    const nlohmann::json b = e.body();
    EXPECT_TRUE(b["error"]["message"].is_string());
    EXPECT_FALSE(b["error"]["message"].get<std::string>().empty());
    EXPECT_EQ(b["error"]["type"], "invalid_request_error");
    return {e.status(),
            b["error"]["param"].is_null() ? "" : b["error"]["param"].get<std::string>()};
  }
  ADD_FAILURE() << "accepted: " << body;
  return {0, ""};
}

constexpr const char* kUser = R"("messages": [{"role": "user", "content": "hi"}])";

std::string with(const std::string& fields) {
  return std::string("{") + kUser + (fields.empty() ? "" : ", " + fields) + "}";
}

TEST(ServerApi, FieldsReachTheGenerationOptions) {
  const ParsedRequest r = chat(with(
      R"("max_tokens": 17, "temperature": 0.3, "top_p": 0.9, "top_k": 5, "min_p": 0.1,
         "seed": 99, "stop": ["END", "\n\n"], "stream": true,
         "stream_options": {"include_usage": true}, "repetition_penalty": 1.2)"));
  EXPECT_EQ(r.generation.n_predict, 17);
  EXPECT_FLOAT_EQ(r.generation.sampling.temperature, 0.3f);
  EXPECT_FLOAT_EQ(r.generation.sampling.top_p, 0.9f);
  EXPECT_EQ(r.generation.sampling.top_k, 5);
  EXPECT_FLOAT_EQ(r.generation.sampling.min_p, 0.1f);
  EXPECT_EQ(r.generation.sampling.seed, 99u);
  EXPECT_FLOAT_EQ(r.generation.sampling.repeat_penalty, 1.2f);
  EXPECT_EQ(r.generation.stop, (std::vector<std::string>{"END", "\n\n"}));
  EXPECT_TRUE(r.stream);
  EXPECT_TRUE(r.include_usage);
  ASSERT_EQ(r.messages.size(), 1u);
  EXPECT_EQ(r.messages[0].role, "user");
  EXPECT_EQ(r.messages[0].content, "hi");
}

TEST(ServerApi, OpenAIDefaultsAndMessageForms) {
  const ParsedRequest r = chat(R"({"messages": [
      {"role": "developer", "content": "Be brief."},
      {"role": "user", "content": [{"type": "text", "text": "a"}, {"type": "text", "text": "b"}]},
      {"role": "assistant", "content": null}, {"role": "user", "content": "c"}]})");
  EXPECT_EQ(r.generation.n_predict, -1);  // until the end of the reply or the context
  EXPECT_FLOAT_EQ(r.generation.sampling.temperature, 1.0f);
  EXPECT_FLOAT_EQ(r.generation.sampling.top_p, 1.0f);
  EXPECT_FALSE(r.stream);
  ASSERT_EQ(r.messages.size(), 4u);
  EXPECT_EQ(r.messages[0].role, "system");
  EXPECT_EQ(r.messages[1].content, "ab");
  EXPECT_EQ(r.messages[2].content, "");
  // max_completion_tokens is the newer name of max_tokens.
  EXPECT_EQ(chat(with(R"("max_completion_tokens": 5)")).generation.n_predict, 5);
  // Completions take a prompt (or a list of one).
  const ParsedRequest c =
      parse_generation_request(R"({"prompt": ["Once"], "max_tokens": 3})", false, kLimits, {});
  EXPECT_EQ(c.prompt, "Once");
  EXPECT_FALSE(c.chat);
}

TEST(ServerApi, EmotionAndSteeringFields) {
  SteeringRequest defaults;
  defaults.mix = parse_emotion_mix("joy=1");
  // No field: the server's default mix.
  const ParsedRequest d = chat(with(""), defaults);
  ASSERT_EQ(d.steering.mix.terms.size(), 1u);
  EXPECT_EQ(d.steering.mix.terms[0].first, "joy");
  EXPECT_FALSE(d.steering.mix_given);
  // A mix replaces it; null or {} means no steering.
  const ParsedRequest r = chat(with(R"("emotion": {"anger": 1.5, "sadness": -0.5},
      "steering": {"layers": [3, 20], "positions": "all", "preserve_norm": true,
                   "site": "attn_out"})"),
                               defaults);
  ASSERT_EQ(r.steering.mix.terms.size(), 2u);
  EXPECT_EQ(r.steering.mix.terms[0], (std::pair<std::string, float>{"anger", 1.5f}));
  EXPECT_EQ(r.steering.mix.terms[1], (std::pair<std::string, float>{"sadness", -0.5f}));
  EXPECT_EQ(r.steering.options.layer_begin, 3);
  EXPECT_EQ(r.steering.options.layer_end, 21);
  EXPECT_EQ(r.steering.options.positions, SteeringPositions::All);
  EXPECT_TRUE(r.steering.options.preserve_norm);
  ASSERT_TRUE(r.steering.site.has_value());
  EXPECT_EQ(*r.steering.site, ActivationSite::AttentionOut);
  EXPECT_TRUE(chat(with(R"("emotion": null)"), defaults).steering.mix.empty());
  EXPECT_TRUE(chat(with(R"("emotion": {})"), defaults).steering.mix.empty());
}

TEST(ServerApi, MalformedRequestsAreRefusedNamingTheField) {
  struct Case {
    std::string body;
    std::string param;
  };
  const std::vector<Case> cases = {
      {"{not json", ""},
      {"[1, 2]", ""},
      {"{}", "messages"},
      {R"({"messages": "hi"})", "messages"},
      {R"({"messages": []})", "messages"},
      {R"({"messages": [3]})", "messages[0]"},
      {R"({"messages": [{"content": "hi"}]})", "messages[0].role"},
      {R"({"messages": [{"role": "robot", "content": "hi"}]})", "messages[0].role"},
      {R"({"messages": [{"role": "user", "content": 5}]})", "messages[0].content"},
      {R"({"messages": [{"role": "user", "content": [{"type": "image_url"}]}]})",
       "messages[0].content"},
      {with(R"("temperature": "hot")"), "temperature"},
      {with(R"("temperature": 7)"), "temperature"},
      {with(R"("top_p": -0.1)"), "top_p"},
      {with(R"("max_tokens": -1)"), "max_tokens"},
      {with(R"("max_tokens": 0)"), "max_tokens"},
      {with(R"("max_tokens": 1000000000)"), "max_tokens"},
      {with(R"("max_tokens": 2.5)"), "max_tokens"},
      {with(R"("max_tokens": "10")"), "max_tokens"},
      {with(R"("stream": "yes")"), "stream"},
      {with(R"("n": 2)"), "n"},
      {with(R"("stop": 5)"), "stop"},
      {with(R"("stop": [""])"), "stop"},
      {with(R"("seed": "x")"), "seed"},
      {with(R"("emotion": "joy")"), "emotion"},
      {with(R"("emotion": {"joy": "2"})"), "emotion.joy"},
      {with(R"("emotion": {"joy": 1e9})"), "emotion.joy"},
      {with(R"("emotion": {"joy": -101})"), "emotion.joy"},
      {with(R"("emotion": {"joy": NaN})"), ""},
      {with(R"("emotion": {"joy": 1e999})"), ""},
      {with(R"("steering": {"layers": [5, 40]})"), "steering.layers"},
      {with(R"("steering": {"layers": [7, 3]})"), "steering.layers"},
      {with(R"("steering": {"layers": "all"})"), "steering.layers"},
      {with(R"("steering": {"positions": "sideways"})"), "steering.positions"},
      {with(R"("steering": {"site": "elsewhere"})"), "steering.site"},
      {with(R"("steering": {"strength": 3})"), "steering.strength"},
      {with(R"("steering": 1)"), "steering"},
      {with(R"("model": {"x": 1})"), "model"},
  };
  for (const Case& c : cases) {
    const auto [status, param] = refusal(c.body);
    EXPECT_EQ(status, 400) << c.body;
    EXPECT_EQ(param, c.param) << c.body;
  }
  EXPECT_EQ(refusal(R"({"prompt": 3})", false).second, "prompt");
  EXPECT_EQ(refusal(R"({"prompt": ""})", false).second, "prompt");
  EXPECT_EQ(refusal(R"({"prompt": "a", "echo": true})", false).second, "echo");
}

TEST(ServerApi, FinishReasonsAreOpenAIs) {
  EXPECT_EQ(openai_finish_reason("eos"), "stop");
  EXPECT_EQ(openai_finish_reason("stop"), "stop");
  EXPECT_EQ(openai_finish_reason("length"), "length");
  EXPECT_EQ(openai_finish_reason("context"), "length");
}

}  // namespace
}  // namespace emovec::server
