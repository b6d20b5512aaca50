// The OpenAI-style API of `emovec serve`: request parsing and checking (every field a client can
// get wrong is named in the error), response and error bodies.
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

#include "emovec/chat_template.h"
#include "emovec/generate.h"
#include "emovec/steering.h"

namespace emovec::server {

// An error answered to the client: HTTP status and OpenAI's error object.
class ApiError : public std::runtime_error {
 public:
  ApiError(int status, std::string type, const std::string& message, std::string param = {},
           std::string code = {})
      : std::runtime_error(message),
        status_(status),
        type_(std::move(type)),
        param_(std::move(param)),
        code_(std::move(code)) {}
  int status() const { return status_; }
  nlohmann::json body() const;

 private:
  int status_;
  std::string type_;
  std::string param_;
  std::string code_;
};

// 400 invalid_request_error about `param`.
ApiError bad_request(const std::string& message, const std::string& param = {});
nlohmann::json error_body(const std::string& type, const std::string& message,
                          const std::string& param = {}, const std::string& code = {});

// What the model and server allow, for checking requests.
struct RequestLimits {
  int64_t n_ctx = 0;    // positions per sequence
  int64_t n_layer = 0;  // for steering.layers
};

// Per-request steering: the emotion mix and where it is applied.
struct SteeringRequest {
  EmotionMix mix;
  bool mix_given = false;  // the request had an "emotion" field (even an empty one)
  SteeringOptions options;
  std::optional<ActivationSite> site;  // the vectors must be at this site
};

struct ParsedRequest {
  bool chat = true;
  std::vector<ChatMessage> messages;  // chat
  std::string prompt;                 // completions
  GenerateOptions generation;
  bool stream = false;
  bool include_usage = false;
  bool cache_prompt = false;  // re-use (and leave) cached keys and values: Scheduler's cache
  SteeringRequest steering;
};

// Parses a /v1/chat/completions (chat = true) or /v1/completions body. `defaults` gives the
// steering used when the request has no "emotion" / "steering" field. Throws ApiError.
ParsedRequest parse_generation_request(const std::string& body, bool chat,
                                       const RequestLimits& limits,
                                       const SteeringRequest& defaults);

// "stop" for an end token or stop string, "length" for the token limit or the context.
std::string openai_finish_reason(const std::string& finish_reason);

nlohmann::json mix_to_json(const EmotionMix& mix);

}  // namespace emovec::server
