#include "emovec/generate.h"

#include <algorithm>
#include <chrono>

#include "emovec/decoder.h"
#include "emovec/error.h"
#include "emovec/model_file.h"
#include "emovec/stop_strings.h"
#include "emovec/tokenizer.h"

namespace emovec {
namespace {

using Clock = std::chrono::steady_clock;

double seconds_since(Clock::time_point t) {
  return std::chrono::duration<double>(Clock::now() - t).count();
}

const Tokenizer& require_tokenizer(const DecoderModel& model) {
  if (model.tokenizer() == nullptr) {
    throw Error(model.file().path() + ": the model has no tokenizer");
  }
  return *model.tokenizer();
}

// U+FFFD at the end of decoded text: a multi-byte character still being formed.
bool ends_incomplete(const std::string& s) {
  return s.size() >= 3 && s.compare(s.size() - 3, 3, "\xEF\xBF\xBD") == 0;
}

}  // namespace

std::vector<int32_t> tokenize_prompt(const DecoderModel& model, const std::string& text) {
  return require_tokenizer(model).encode(text, /*add_special=*/true, /*parse_special=*/true);
}

std::vector<int32_t> tokenize_chat(const DecoderModel& model,
                                   const std::vector<ChatMessage>& messages) {
  const Tokenizer& tok = require_tokenizer(model);
  if (model.chat_template() == nullptr) {
    throw Error(model.file().path() + " has no chat template (a base model): use a plain prompt");
  }
  nlohmann::json vars = nlohmann::json::object();
  if (auto bos = tok.bos_id()) vars["bos_token"] = tok.token_text(*bos);
  if (auto eos = tok.eos_id()) vars["eos_token"] = tok.token_text(*eos);
  const std::string text = model.chat_template()->render(messages, true, vars);
  // The template writes BOS itself where the model wants one.
  return tok.encode(text, /*add_special=*/false, /*parse_special=*/true);
}

Generator::Generator(Engine& engine) : engine_(engine), sequence_(engine.new_sequence()) {}

Generator::~Generator() {
  try {
    engine_.free_sequence(sequence_);
  } catch (...) {
  }
}

GenerateResult Generator::run(std::span<const int32_t> prompt, const GenerateOptions& options,
                              const TextCallback& on_text) {
  const DecoderModel& model = engine_.model();
  const Tokenizer& tok = require_tokenizer(model);
  if (prompt.empty()) throw Error("the prompt is empty: there is nothing to continue from");
  options.sampling.validate();
  const auto n_prompt = static_cast<int64_t>(prompt.size());
  if (n_prompt >= engine_.n_ctx()) {
    throw Error("the prompt has " + std::to_string(n_prompt) +
                " tokens, which does not fit the context of " + std::to_string(engine_.n_ctx()) +
                " positions (raise --ctx-size or shorten the prompt)");
  }
  StopStringMatcher stops(options.stop);
  Sampler sampler(options.sampling);

  // Re-use the cached prefix, but always evaluate at least the last prompt token for logits.
  size_t common = 0;
  while (common < cached_.size() && common + 1 < prompt.size() &&
         cached_[common] == prompt[common]) {
    ++common;
  }
  engine_.truncate(sequence_, static_cast<int64_t>(common));
  cached_.resize(common);

  GenerateResult result;
  result.n_cached = static_cast<int64_t>(common);
  result.n_prompt = n_prompt - result.n_cached;
  const auto t0 = Clock::now();
  BatchEntry entry;
  entry.sequence = sequence_;
  entry.tokens = prompt.subspan(common);
  entry.hook = options.hook;
  Logits logits = engine_.decode(std::span<const BatchEntry>(&entry, 1));
  cached_.assign(prompt.begin(), prompt.end());
  result.prefill_seconds = seconds_since(t0);

  const std::vector<int32_t>& eog = model.end_of_generation_tokens();
  std::vector<int32_t> history(prompt.begin(), prompt.end());
  std::string decoded;  // all generated text so far
  size_t released = 0;  // bytes of `decoded` given to the stop matcher
  bool cancelled = false;
  const auto emit = [&](const std::string& piece) {
    if (piece.empty() || cancelled) return;
    result.text += piece;
    if (on_text && !on_text(piece)) cancelled = true;
  };
  const auto t1 = Clock::now();
  const int64_t limit = options.n_predict < 0 ? engine_.n_ctx() : options.n_predict;
  result.finish_reason = "length";
  for (int64_t i = 0; i < limit; ++i) {
    const int32_t token = sampler.sample(logits.last(0), history);
    if (!options.ignore_eos && std::find(eog.begin(), eog.end(), token) != eog.end()) {
      result.finish_reason = "eos";
      break;
    }
    result.tokens.push_back(token);
    history.push_back(token);
    decoded = tok.decode(result.tokens, /*skip_special=*/true);
    if (!ends_incomplete(decoded) && decoded.size() > released) {
      const StopFeed fed = stops.feed(std::string_view(decoded).substr(released));
      released = decoded.size();
      emit(fed.text);
      if (fed.stopped) {
        result.finish_reason = "stop";
        break;
      }
    }
    if (cancelled) {
      result.finish_reason = "cancelled";
      break;
    }
    if (i + 1 == limit) break;
    if (engine_.sequence_length(sequence_) + 1 > engine_.n_ctx()) {
      result.finish_reason = "context";
      break;
    }
    entry.tokens = std::span<const int32_t>(&result.tokens.back(), 1);
    logits = engine_.decode(std::span<const BatchEntry>(&entry, 1));
    cached_.push_back(token);
  }
  if (result.finish_reason != "stop" && result.finish_reason != "cancelled") {
    if (decoded.size() > released)
      emit(stops.feed(std::string_view(decoded).substr(released)).text);
    if (!stops.stopped()) emit(stops.flush());
    if (stops.stopped()) result.finish_reason = "stop";
  }
  result.decode_seconds = seconds_since(t1);
  return result;
}

}  // namespace emovec
