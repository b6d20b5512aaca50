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
  if (options.hook != nullptr) options.hook->on_generation_start(n_prompt);
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

std::vector<GenerateResult> generate_batch(Engine& engine,
                                           std::span<const GenerateRequest> requests) {
  const DecoderModel& model = engine.model();
  const Tokenizer& tok = require_tokenizer(model);
  const size_t n = requests.size();
  std::vector<GenerateResult> results(n);
  if (n == 0) return results;
  for (size_t i = 0; i < n; ++i) {
    const GenerateRequest& r = requests[i];
    if (r.prompt.empty()) throw Error("request " + std::to_string(i) + " has an empty prompt");
    r.options.sampling.validate();
    if (static_cast<int64_t>(r.prompt.size()) >= engine.n_ctx()) {
      throw Error("request " + std::to_string(i) + ": the prompt has " +
                  std::to_string(r.prompt.size()) + " tokens, which does not fit the context of " +
                  std::to_string(engine.n_ctx()) + " positions");
    }
  }
  struct State {
    SequenceId seq = 0;
    std::vector<int32_t> history;
    std::unique_ptr<Sampler> sampler;
    std::unique_ptr<StopStringMatcher> stops;
    std::string decoded;
    size_t released = 0;
    int64_t limit = 0;
    size_t row = 0;
    int32_t next = 0;
  };
  std::vector<State> st(n);
  struct Release {
    Engine& e;
    std::vector<State>& s;
    ~Release() {
      for (State& x : s) {
        if (x.seq != 0) e.free_sequence(x.seq);
      }
    }
  } release{engine, st};
  std::vector<BatchEntry> entries(n);
  for (size_t i = 0; i < n; ++i) {
    const GenerateRequest& r = requests[i];
    st[i].seq = engine.new_sequence();
    st[i].history = r.prompt;
    st[i].sampler = std::make_unique<Sampler>(r.options.sampling);
    st[i].stops = std::make_unique<StopStringMatcher>(r.options.stop);
    st[i].limit = r.options.n_predict < 0 ? engine.n_ctx() : r.options.n_predict;
    st[i].row = i;
    entries[i].sequence = st[i].seq;
    entries[i].tokens = r.prompt;
    entries[i].hook = r.options.hook;
    results[i].n_prompt = static_cast<int64_t>(r.prompt.size());
    results[i].finish_reason = "length";
  }
  const auto t0 = Clock::now();
  Logits logits = engine.decode(entries);
  const double prefill = seconds_since(t0);
  const auto t1 = Clock::now();
  for (size_t i = 0; i < n; ++i) {
    if (requests[i].options.hook != nullptr) {
      requests[i].options.hook->on_generation_start(results[i].n_prompt);
    }
  }
  const std::vector<int32_t>& eog = model.end_of_generation_tokens();
  std::vector<size_t> active;
  for (size_t i = 0; i < n; ++i) {
    if (st[i].limit > 0) active.push_back(i);
  }
  while (!active.empty()) {
    std::vector<size_t> still;
    for (const size_t i : active) {
      State& s = st[i];
      GenerateResult& res = results[i];
      const int32_t token = s.sampler->sample(logits.last(s.row), s.history);
      if (!requests[i].options.ignore_eos &&
          std::find(eog.begin(), eog.end(), token) != eog.end()) {
        res.finish_reason = "eos";
        continue;
      }
      res.tokens.push_back(token);
      s.history.push_back(token);
      s.decoded = tok.decode(res.tokens, /*skip_special=*/true);
      if (!ends_incomplete(s.decoded) && s.decoded.size() > s.released) {
        const StopFeed fed = s.stops->feed(std::string_view(s.decoded).substr(s.released));
        s.released = s.decoded.size();
        res.text += fed.text;
        if (fed.stopped) {
          res.finish_reason = "stop";
          continue;
        }
      }
      if (static_cast<int64_t>(res.tokens.size()) >= s.limit) continue;
      if (engine.sequence_length(s.seq) + 1 > engine.n_ctx()) {
        res.finish_reason = "context";
        continue;
      }
      s.next = token;
      still.push_back(i);
    }
    if (still.empty()) break;
    std::vector<BatchEntry> step(still.size());
    for (size_t j = 0; j < still.size(); ++j) {
      State& s = st[still[j]];
      step[j].sequence = s.seq;
      step[j].tokens = std::span<const int32_t>(&s.next, 1);
      step[j].hook = requests[still[j]].options.hook;
      s.row = j;
    }
    logits = engine.decode(step);
    active = std::move(still);
  }
  const double decode = seconds_since(t1);
  for (size_t i = 0; i < n; ++i) {
    State& s = st[i];
    GenerateResult& res = results[i];
    if (res.finish_reason != "stop") {
      if (s.decoded.size() > s.released) {
        res.text += s.stops->feed(std::string_view(s.decoded).substr(s.released)).text;
      }
      if (!s.stops->stopped()) res.text += s.stops->flush();
      if (s.stops->stopped()) res.finish_reason = "stop";
    }
    res.prefill_seconds = prefill;
    res.decode_seconds = decode;
  }
  return results;
}

}  // namespace emovec
