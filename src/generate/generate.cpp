#include "emovec/generate.h"

#include <algorithm>
#include <chrono>

#include "emovec/decoder.h"
#include "emovec/error.h"
#include "emovec/model_file.h"
#include "emovec/stop_strings.h"
#include "emovec/tokenizer.h"
#include "generate/prefix_reuse.h"

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

void check_prompt_fits(std::span<const int32_t> prompt, int64_t n_ctx) {
  if (prompt.empty()) throw Error("the prompt is empty: there is nothing to continue from");
  if (static_cast<int64_t>(prompt.size()) >= n_ctx) {
    throw Error("the prompt has " + std::to_string(prompt.size()) +
                " tokens, which does not fit the context of " + std::to_string(n_ctx) +
                " positions (raise --ctx-size or shorten the prompt)");
  }
}

struct ReplyState::Impl {
  Impl(const DecoderModel& model, std::span<const int32_t> prompt, const GenerateOptions& options)
      : tok(require_tokenizer(model)),
        eog(model.end_of_generation_tokens()),
        sampler(options.sampling),
        stops(options.stop),
        history(prompt.begin(), prompt.end()),
        text(tok, /*skip_special=*/true),
        ignore_eos(options.ignore_eos) {}
  const Tokenizer& tok;
  const std::vector<int32_t>& eog;
  Sampler sampler;
  StopStringMatcher stops;
  std::vector<int32_t> history;  // prompt and reply, for the repetition penalty
  DecodeStream text;             // the reply's text, for the stop matcher
  int64_t limit = 0;
  int64_t n_ctx = 0;
  bool ignore_eos = false;
};

ReplyState::ReplyState(const DecoderModel& model, std::span<const int32_t> prompt,
                       const GenerateOptions& options, int64_t n_ctx) {
  options.sampling.validate();
  impl_ = std::make_unique<Impl>(model, prompt, options);
  impl_->n_ctx = n_ctx;
  impl_->limit = options.n_predict < 0 ? n_ctx : options.n_predict;
  result_.n_prompt = static_cast<int64_t>(prompt.size());
  result_.finish_reason = "length";
  if (impl_->limit <= 0) done_ = true;
}

ReplyState::~ReplyState() = default;

std::string ReplyState::step(std::span<const float> logits, int64_t sequence_length) {
  if (done_) throw Error("the reply has ended: there is no next token to sample");
  Impl& m = *impl_;
  const int32_t token = m.sampler.sample(logits, m.history);
  if (!m.ignore_eos && std::find(m.eog.begin(), m.eog.end(), token) != m.eog.end()) {
    result_.finish_reason = "eos";
    return finish();
  }
  result_.tokens.push_back(token);
  m.history.push_back(token);
  std::string out;
  if (const std::string piece = m.text.push(token); !piece.empty()) {
    const StopFeed fed = m.stops.feed(piece);
    out = fed.text;
    result_.text += out;
    if (fed.stopped) {
      result_.finish_reason = "stop";
      done_ = true;
      return out;
    }
  }
  if (static_cast<int64_t>(result_.tokens.size()) >= m.limit) return out + finish();
  if (sequence_length + 1 > m.n_ctx) {
    result_.finish_reason = "context";
    return out + finish();
  }
  next_ = token;
  return out;
}

void ReplyState::cancel() {
  if (done_) return;
  result_.finish_reason = "cancelled";
  done_ = true;
}

std::string ReplyState::finish() {
  Impl& m = *impl_;
  done_ = true;
  std::string out;
  if (const std::string rest = m.text.flush(); !rest.empty()) out += m.stops.feed(rest).text;
  if (!m.stops.stopped()) out += m.stops.flush();
  if (m.stops.stopped()) result_.finish_reason = "stop";
  result_.text += out;
  return out;
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
  check_prompt_fits(prompt, engine_.n_ctx());
  const auto n_prompt = static_cast<int64_t>(prompt.size());
  ReplyState reply(engine_.model(), prompt, options, engine_.n_ctx());

  // Re-use the cached prefix that no hook has seen and this run's hook does not need to see.
  const auto common = static_cast<size_t>(
      detail::reusable_prefix(cached_, static_cast<int64_t>(unhooked_), prompt, options.hook));
  engine_.truncate(sequence_, static_cast<int64_t>(common));
  cached_.resize(common);
  unhooked_ = common;  // until this run ends (an error leaves it so)

  const auto t0 = Clock::now();
  BatchEntry entry;
  entry.sequence = sequence_;
  entry.tokens = prompt.subspan(common);
  entry.hook = options.hook;
  entry.prompt = true;
  Logits logits = engine_.decode(std::span<const BatchEntry>(&entry, 1));
  cached_.assign(prompt.begin(), prompt.end());
  const double prefill_seconds = seconds_since(t0);

  if (options.hook != nullptr) options.hook->on_generation_start(n_prompt);
  const auto t1 = Clock::now();
  while (!reply.done()) {
    const std::string piece = reply.step(logits.last(0), engine_.sequence_length(sequence_));
    if (!piece.empty() && on_text && !on_text(piece)) reply.cancel();
    if (reply.done()) break;
    const int32_t next = reply.next_token();
    entry.tokens = std::span<const int32_t>(&next, 1);
    entry.prompt = false;  // a decoding step
    logits = engine_.decode(std::span<const BatchEntry>(&entry, 1));
    cached_.push_back(next);
  }
  unhooked_ = static_cast<size_t>(detail::unhooked_after(
      static_cast<int64_t>(cached_.size()), static_cast<int64_t>(common), n_prompt, options.hook));
  GenerateResult result = std::move(reply.result());
  result.n_cached = static_cast<int64_t>(common);
  result.n_prompt = n_prompt - result.n_cached;
  result.prefill_seconds = prefill_seconds;
  result.decode_seconds = seconds_since(t1);
  return result;
}

std::vector<GenerateResult> generate_batch(Engine& engine,
                                           std::span<const GenerateRequest> requests,
                                           PromptPasses prompts) {
  const DecoderModel& model = engine.model();
  const size_t n = requests.size();
  std::vector<GenerateResult> results(n);
  if (n == 0) return results;
  for (size_t i = 0; i < n; ++i) {
    try {
      check_prompt_fits(requests[i].prompt, engine.n_ctx());
      requests[i].options.sampling.validate();
    } catch (const Error& e) {
      throw Error("request " + std::to_string(i) + ": " + e.what());
    }
  }
  struct State {
    SequenceId seq = 0;
    std::unique_ptr<ReplyState> reply;
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
    st[i].reply = std::make_unique<ReplyState>(model, r.prompt, r.options, engine.n_ctx());
    st[i].row = i;
    entries[i].sequence = st[i].seq;
    entries[i].tokens = r.prompt;
    entries[i].hook = r.options.hook;
    entries[i].prompt = true;
  }
  const auto t0 = Clock::now();
  Logits logits;
  std::vector<Logits> alone;  // PromptPasses::Apart: each prompt's pass, until the first step
  if (prompts == PromptPasses::Together) {
    logits = engine.decode(entries);
  } else {
    for (size_t i = 0; i < n; ++i) {
      alone.push_back(engine.decode(std::span<const BatchEntry>(&entries[i], 1)));
    }
  }
  const double prefill = seconds_since(t0);
  const auto t1 = Clock::now();
  for (size_t i = 0; i < n; ++i) {
    if (requests[i].options.hook != nullptr) {
      requests[i].options.hook->on_generation_start(
          static_cast<int64_t>(requests[i].prompt.size()));
    }
  }
  std::vector<size_t> active;
  for (size_t i = 0; i < n; ++i) {
    if (!st[i].reply->done()) active.push_back(i);
  }
  while (!active.empty()) {
    std::vector<size_t> still;
    for (const size_t i : active) {
      State& s = st[i];
      s.reply->step(alone.empty() ? logits.last(s.row) : alone[i].last(0),
                    engine.sequence_length(s.seq));
      if (s.reply->done()) continue;
      s.next = s.reply->next_token();
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
    alone.clear();
    active = std::move(still);
  }
  const double decode = seconds_since(t1);
  for (size_t i = 0; i < n; ++i) {
    results[i] = std::move(st[i].reply->result());
    results[i].prefill_seconds = prefill;
    results[i].decode_seconds = decode;
  }
  return results;
}

}  // namespace emovec
