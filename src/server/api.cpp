#include "server/api.h"

#include <cmath>
#include <set>

#include "emovec/error.h"

namespace emovec::server {
namespace {

using nlohmann::json;

// Largest stop-string list and length accepted.
constexpr size_t kMaxStops = 16;
constexpr size_t kMaxStopBytes = 256;
constexpr size_t kMaxMessages = 4096;

std::string type_name(const json& v) {
  if (v.is_null()) return "null";
  if (v.is_boolean()) return "a boolean";
  if (v.is_number()) return "a number";
  if (v.is_string()) return "a string";
  if (v.is_array()) return "an array";
  return "an object";
}

double number_field(const json& body, const char* name, double lo, double hi) {
  const json& v = body[name];
  if (!v.is_number()) {
    throw bad_request(std::string("'") + name + "' must be a number, not " + type_name(v), name);
  }
  const double x = v.get<double>();
  if (!std::isfinite(x) || x < lo || x > hi) {
    throw bad_request(std::string("'") + name + "' must be between " + json(lo).dump() + " and " +
                          json(hi).dump() + ", not " + v.dump(),
                      name);
  }
  return x;
}

int64_t integer_field(const json& body, const char* name, int64_t lo, int64_t hi) {
  const json& v = body[name];
  if (!v.is_number_integer() && !(v.is_number_float() && std::isfinite(v.get<double>()) &&
                                  std::floor(v.get<double>()) == v.get<double>())) {
    throw bad_request(std::string("'") + name + "' must be an integer, not " +
                          (v.is_number() ? v.dump() : type_name(v)),
                      name);
  }
  const double x = v.get<double>();
  if (x < static_cast<double>(lo) || x > static_cast<double>(hi)) {
    throw bad_request(std::string("'") + name + "' must be between " + std::to_string(lo) +
                          " and " + std::to_string(hi) + ", not " + v.dump(),
                      name);
  }
  return v.is_number_integer()
             ? (v.is_number_unsigned() ? static_cast<int64_t>(v.get<uint64_t>()) : v.get<int64_t>())
             : static_cast<int64_t>(x);
}

bool bool_field(const json& body, const char* name) {
  const json& v = body[name];
  if (!v.is_boolean()) {
    throw bad_request(std::string("'") + name + "' must be true or false, not " + type_name(v),
                      name);
  }
  return v.get<bool>();
}

std::string message_content(const json& m, size_t i) {
  const std::string param = "messages[" + std::to_string(i) + "].content";
  if (!m.contains("content") || m["content"].is_null()) return {};
  const json& c = m["content"];
  if (c.is_string()) return c.get<std::string>();
  if (c.is_array()) {
    std::string text;
    for (const json& part : c) {
      if (!part.is_object() || !part.contains("type") || part["type"] != "text" ||
          !part.contains("text") || !part["text"].is_string()) {
        throw bad_request(param +
                              ": only text parts ({\"type\": \"text\", \"text\": ...}) are "
                              "supported",
                          param);
      }
      text += part["text"].get<std::string>();
    }
    return text;
  }
  throw bad_request(param + " must be a string or a list of text parts, not " + type_name(c),
                    param);
}

std::vector<ChatMessage> parse_messages(const json& body) {
  if (!body.contains("messages")) throw bad_request("'messages' is required", "messages");
  const json& ms = body["messages"];
  if (!ms.is_array()) {
    throw bad_request("'messages' must be an array of messages, not " + type_name(ms), "messages");
  }
  if (ms.empty()) throw bad_request("'messages' is empty: there is nothing to answer", "messages");
  if (ms.size() > kMaxMessages) {
    throw bad_request("'messages' has more than " + std::to_string(kMaxMessages) + " messages",
                      "messages");
  }
  static const std::set<std::string> roles = {"system", "developer", "user", "assistant"};
  std::vector<ChatMessage> out;
  for (size_t i = 0; i < ms.size(); ++i) {
    const json& m = ms[i];
    const std::string where = "messages[" + std::to_string(i) + "]";
    if (!m.is_object()) throw bad_request(where + " must be an object, not " + type_name(m), where);
    if (!m.contains("role") || !m["role"].is_string()) {
      throw bad_request(where + " needs a 'role' string", where + ".role");
    }
    std::string role = m["role"].get<std::string>();
    if (roles.count(role) == 0) {
      throw bad_request(
          where + ".role '" + role + "' is not one of system, developer, user, assistant",
          where + ".role");
    }
    if (role == "developer") role = "system";
    out.push_back({role, message_content(m, i)});
  }
  return out;
}

std::vector<std::string> parse_stop(const json& v) {
  std::vector<std::string> out;
  if (v.is_null()) return out;
  if (v.is_string()) {
    out.push_back(v.get<std::string>());
  } else if (v.is_array()) {
    for (const json& s : v) {
      if (!s.is_string()) throw bad_request("'stop' must hold strings only", "stop");
      out.push_back(s.get<std::string>());
    }
  } else {
    throw bad_request("'stop' must be a string or a list of strings, not " + type_name(v), "stop");
  }
  if (out.size() > kMaxStops) {
    throw bad_request("'stop' has more than " + std::to_string(kMaxStops) + " strings", "stop");
  }
  for (const std::string& s : out) {
    if (s.empty()) throw bad_request("'stop' strings cannot be empty", "stop");
    if (s.size() > kMaxStopBytes) {
      throw bad_request("'stop' strings are at most " + std::to_string(kMaxStopBytes) + " bytes",
                        "stop");
    }
  }
  return out;
}

EmotionMix parse_mix(const json& v) {
  if (!v.is_object()) {
    throw bad_request(
        "'emotion' must be an object of emotion -> alpha, e.g. {\"joy\": 1.5}, not " + type_name(v),
        "emotion");
  }
  EmotionMix mix;
  for (const auto& [name, alpha] : v.items()) {
    const std::string param = "emotion." + name;
    if (!alpha.is_number()) {
      throw bad_request("the alpha of '" + name + "' must be a number, not " + type_name(alpha),
                        param);
    }
    const double a = alpha.get<double>();
    if (!std::isfinite(a) || std::fabs(a) > kMaxAlpha) {
      throw bad_request("the alpha of '" + name + "' is " + alpha.dump() +
                            ": it must be finite and at most " +
                            std::to_string(static_cast<int>(kMaxAlpha)) + " either way",
                        param);
    }
    mix.terms.emplace_back(name, static_cast<float>(a));
  }
  return mix;
}

void parse_steering(const json& v, const RequestLimits& limits, SteeringRequest& out) {
  if (!v.is_object()) {
    throw bad_request("'steering' must be an object, not " + type_name(v), "steering");
  }
  for (const auto& [key, value] : v.items()) {
    const std::string param = "steering." + key;
    if (key == "layers") {
      if (!value.is_array() || value.size() != 2 || !value[0].is_number_integer() ||
          !value[1].is_number_integer()) {
        throw bad_request("'steering.layers' must be [first, last], two layer numbers", param);
      }
      try {
        out.options.set_layers(value[0].get<int64_t>(), value[1].get<int64_t>(), limits.n_layer,
                               "'steering.layers'");
      } catch (const Error& e) {
        throw bad_request(e.what(), param);
      }
    } else if (key == "positions") {
      if (!value.is_string()) throw bad_request("'steering.positions' must be a string", param);
      try {
        out.options.positions = parse_steering_positions(value.get<std::string>());
      } catch (const Error& e) {
        throw bad_request(std::string("'steering.positions': ") + e.what(), param);
      }
    } else if (key == "preserve_norm") {
      if (!value.is_boolean())
        throw bad_request("'steering.preserve_norm' must be a boolean", param);
      out.options.preserve_norm = value.get<bool>();
    } else if (key == "site") {
      if (!value.is_string()) throw bad_request("'steering.site' must be a string", param);
      try {
        out.site = parse_activation_site(value.get<std::string>());
      } catch (const Error& e) {
        throw bad_request(std::string("'steering.site': ") + e.what(), param);
      }
    } else {
      throw bad_request(
          "'steering' has no field '" + key + "' (fields: layers, positions, preserve_norm, site)",
          param);
    }
  }
}

}  // namespace

json ApiError::body() const { return error_body(type_, what(), param_, code_); }

ApiError bad_request(const std::string& message, const std::string& param) {
  return ApiError(400, "invalid_request_error", message, param);
}

json error_body(const std::string& type, const std::string& message, const std::string& param,
                const std::string& code) {
  return {{"error",
           {{"message", message},
            {"type", type},
            {"param", param.empty() ? json(nullptr) : json(param)},
            {"code", code.empty() ? json(nullptr) : json(code)}}}};
}

ParsedRequest parse_generation_request(const std::string& text, bool chat,
                                       const RequestLimits& limits,
                                       const SteeringRequest& defaults) {
  json body;
  try {
    body = json::parse(text);
  } catch (const json::exception& e) {
    throw bad_request(std::string("the body is not valid JSON: ") + e.what());
  }
  if (!body.is_object()) {
    throw bad_request("the body must be a JSON object, not " + type_name(body));
  }
  if (body.contains("model") && !body["model"].is_null() && !body["model"].is_string()) {
    throw bad_request("'model' must be a string, not " + type_name(body["model"]), "model");
  }
  ParsedRequest r;
  r.chat = chat;
  if (chat) {
    r.messages = parse_messages(body);
  } else {
    if (!body.contains("prompt")) throw bad_request("'prompt' is required", "prompt");
    const json& p = body["prompt"];
    if (p.is_string()) {
      r.prompt = p.get<std::string>();
    } else if (p.is_array() && p.size() == 1 && p[0].is_string()) {
      r.prompt = p[0].get<std::string>();
    } else {
      throw bad_request("'prompt' must be a string (or a list of one string)", "prompt");
    }
    if (r.prompt.empty()) throw bad_request("'prompt' is empty", "prompt");
    if (body.contains("echo") && !body["echo"].is_null() && bool_field(body, "echo")) {
      throw bad_request("'echo' is not supported", "echo");
    }
  }

  // OpenAI's defaults where it has them; the sampler's otherwise.
  GenerateOptions& g = r.generation;
  g.sampling.temperature = 1.0f;
  g.sampling.top_p = 1.0f;
  g.sampling.top_k = 0;
  g.sampling.min_p = 0.0f;
  g.n_predict = -1;
  const auto present = [&](const char* name) {
    return body.contains(name) && !body[name].is_null();
  };
  for (const char* name : {"max_tokens", "max_completion_tokens", "n_predict"}) {
    if (present(name)) {
      g.n_predict = static_cast<int32_t>(integer_field(body, name, 1, limits.n_ctx));
    }
  }
  if (present("temperature")) {
    g.sampling.temperature = static_cast<float>(number_field(body, "temperature", 0, 2));
  }
  if (present("top_p")) g.sampling.top_p = static_cast<float>(number_field(body, "top_p", 0, 1));
  if (present("top_k")) {
    g.sampling.top_k = static_cast<int32_t>(integer_field(body, "top_k", 0, 1 << 20));
  }
  if (present("min_p")) g.sampling.min_p = static_cast<float>(number_field(body, "min_p", 0, 1));
  for (const char* name : {"repetition_penalty", "repeat_penalty"}) {
    if (present(name)) {
      g.sampling.repeat_penalty = static_cast<float>(number_field(body, name, 0.01, 10));
    }
  }
  for (const char* name : {"presence_penalty", "frequency_penalty"}) {
    // Accepted for compatibility (checked, not applied): the repetition penalty is emovec's.
    if (present(name)) number_field(body, name, -2, 2);
  }
  if (present("seed")) {
    const int64_t seed = integer_field(body, "seed", INT64_MIN, INT64_MAX);
    g.sampling.seed = static_cast<uint64_t>(seed);
  }
  if (present("stop")) g.stop = parse_stop(body["stop"]);
  if (present("ignore_eos")) g.ignore_eos = bool_field(body, "ignore_eos");
  if (present("cache_prompt")) r.cache_prompt = bool_field(body, "cache_prompt");
  if (present("n") && (!body["n"].is_number_integer() || body["n"].get<int64_t>() != 1)) {
    throw bad_request("'n' must be 1: one choice per request", "n");
  }
  if (present("stream")) r.stream = bool_field(body, "stream");
  if (present("stream_options")) {
    const json& so = body["stream_options"];
    if (!so.is_object()) throw bad_request("'stream_options' must be an object", "stream_options");
    if (so.contains("include_usage") && !so["include_usage"].is_null()) {
      r.include_usage = bool_field(so, "include_usage");
    }
  }
  try {
    g.sampling.validate();
  } catch (const Error& e) {
    throw bad_request(e.what());
  }

  r.steering = defaults;
  if (body.contains("emotion")) {
    r.steering.mix = body["emotion"].is_null() ? EmotionMix{} : parse_mix(body["emotion"]);
    r.steering.mix_given = true;
  }
  if (present("steering")) parse_steering(body["steering"], limits, r.steering);
  return r;
}

std::string openai_finish_reason(const std::string& finish_reason) {
  if (finish_reason == "length" || finish_reason == "context") return "length";
  return "stop";
}

nlohmann::json mix_to_json(const EmotionMix& mix) {
  json out = json::object();
  for (const auto& [name, alpha] : mix.terms) out[name] = alpha;
  return out;
}

}  // namespace emovec::server
