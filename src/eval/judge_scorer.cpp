// JudgeScorer: prompts built with the model's chat template, label tokens chosen where the answer
// starts, batched prefill through the engine, label probabilities from the last position's logits.
//
// Label tokens. The answer starts a new word right after the text before it: with no space when
// that text ends in whitespace (the chat templates' assistant header ends in a newline), with a
// leading space otherwise (after an answer prefix such as "The emotion is"). Each label counts
// two forms there, as given ("anger") and capitalised ("Anger", how an answer's first word is
// usually written), by their first tokens: a word the vocabulary splits ("Ang|er") is read from
// its first piece, which may also begin other answers (the reason for the default prefix below).
//
// The answer prefix. Accuracy of the top label on data/eval/labelled_emotions.tsv (144 sentences,
// chance 1/6), with "The emotion is" / without a prefix: qwen2.5-coder-1.5b-instruct 0.84 with
// it, qwen2.5-coder-0.5b-instruct 0.44 / 0.33, smollm2-135m-instruct 0.17 / 0.19 (it answers
// "anger", the first label, whatever the text: at chance either way). With the prefix the answer is
// a space-led word, and every default label of these vocabularies is then one whole token, where
// without it several are read from a one- or two-letter first piece ("f" of "fear", "s" of
// "sadness", "J" of "Joy") that also starts other answers; the coverage the prefix gives SmolLM2
// (0.73 against 0.21) shows the same.
#include "eval/judge_scorer.h"

#include <algorithm>
#include <cctype>
#include <cmath>
#include <map>
#include <optional>

#include "emovec/chat_template.h"
#include "emovec/decoder.h"
#include "emovec/error.h"
#include "emovec/model_file.h"
#include "emovec/tokenizer.h"

namespace emovec {
namespace {

constexpr std::string_view kReplacementChar = "\xEF\xBF\xBD";

std::string joined(const std::vector<std::string>& labels) {
  std::string out;
  for (const std::string& l : labels) {
    if (!out.empty()) out += ", ";
    out += l;
  }
  return out;
}

std::string capitalised(std::string s) {
  if (!s.empty()) s[0] = static_cast<char>(std::toupper(static_cast<unsigned char>(s[0])));
  return s;
}

bool ends_in_space(const std::string& s) {
  return s.empty() || std::isspace(static_cast<unsigned char>(s.back())) != 0;
}

std::string quoted_token(const Tokenizer& tok, int32_t id) {
  return "token " + std::to_string(id) + " \"" + tok.token_text(id) + "\"";
}

}  // namespace

std::string format_judge_prompt(std::string_view prompt, std::string_view text,
                                const std::vector<std::string>& labels) {
  static constexpr std::string_view kText = "{text}";
  static constexpr std::string_view kLabels = "{labels}";
  std::string out;
  bool has_text = false;
  for (size_t i = 0; i < prompt.size();) {
    const std::string_view rest = prompt.substr(i);
    if (rest.starts_with(kText)) {
      out += text;
      has_text = true;
      i += kText.size();
    } else if (rest.starts_with(kLabels)) {
      out += joined(labels);
      i += kLabels.size();
    } else {
      out += prompt[i++];
    }
  }
  if (!has_text) {
    throw Error("judge prompt \"" + std::string(prompt) + "\" has no {text} where the text goes");
  }
  return out;
}

struct JudgeScorer::Impl {
  Impl(const DecoderModel& m, JudgeOptions o)
      : model(m), tok(*m.tokenizer()), options(std::move(o)), engine(m, options.engine) {}

  // The prompt's text before the text is cut or filled in; what the model reads once filled.
  std::string render(std::string_view text) const {
    const std::string user = format_judge_prompt(options.prompt, text, options.labels);
    if (model.chat_template() == nullptr) return user + "\n" + options.answer_prefix;
    nlohmann::json vars = nlohmann::json::object();
    if (auto bos = tok.bos_id()) vars["bos_token"] = tok.token_text(*bos);
    if (auto eos = tok.eos_id()) vars["eos_token"] = tok.token_text(*eos);
    return model.chat_template()->render({ChatMessage{"user", user}}, true, vars) +
           options.answer_prefix;
  }

  // The text's first max_text_tokens tokens, as text; a character split by the cut is dropped.
  std::string cut(std::string_view text) const {
    const std::vector<int32_t> ids = tok.encode(text, /*add_special=*/false,
                                                /*parse_special=*/false);
    if (static_cast<int64_t>(ids.size()) <= options.max_text_tokens) return std::string(text);
    const auto keep = static_cast<size_t>(options.max_text_tokens);
    std::string head = tok.decode(std::span(ids).first(keep));
    if (head.ends_with(kReplacementChar) && !text.starts_with(head)) {
      head.resize(head.size() - kReplacementChar.size());
    }
    return head;
  }

  std::vector<int32_t> tokens(std::string_view text) const {
    // The template writes BOS itself where the model wants one; without a template the
    // tokenizer's rules add it.
    const bool add_special = model.chat_template() == nullptr;
    return tok.encode(render(cut(text)), add_special, /*parse_special=*/true);
  }

  void find_label_tokens() {
    const std::string lead = ends_in_space(render("")) ? "" : " ";
    std::map<int32_t, size_t> owner;  // token -> label
    for (size_t l = 0; l < options.labels.size(); ++l) {
      const std::string& label = options.labels[l];
      std::vector<int32_t> ids;
      const std::vector<int32_t> given = tok.encode(lead + label, false, false);
      ids.push_back(given.front());
      const std::vector<int32_t> upper = tok.encode(lead + capitalised(label), false, false);
      if (upper.front() != ids.front()) ids.push_back(upper.front());
      for (int32_t id : ids) {
        const auto [it, fresh] = owner.emplace(id, l);
        if (!fresh) {
          throw Error("judge labels \"" + options.labels[it->second] + "\" and \"" + label +
                      "\" start with the same " + quoted_token(tok, id) +
                      ", so the model's answer cannot tell them apart: use labels whose first "
                      "tokens differ");
        }
      }
      label_tokens.push_back(std::move(ids));
    }
  }

  Judgement read(std::span<const float> logits) const {
    // Probabilities in double, relative to the largest logit, so neither sum overflows.
    const float max = *std::max_element(logits.begin(), logits.end());
    double total = 0;
    for (float z : logits) total += std::exp(double(z) - double(max));
    Judgement j;
    j.probabilities.resize(label_tokens.size());
    double mass = 0;
    for (size_t l = 0; l < label_tokens.size(); ++l) {
      double p = 0;
      for (int32_t id : label_tokens[l]) {
        p += std::exp(double(logits[static_cast<size_t>(id)]) - double(max));
      }
      j.probabilities[l] = p;
      mass += p;
    }
    for (double& p : j.probabilities) p /= mass;
    j.coverage = mass / total;
    return j;
  }

  // The tokens every prompt starts with: the template and the instruction up to the text, as
  // two unlike probe texts tokenize them. Evaluated once, then each prompt that starts with them
  // forks that cache and costs only its own tokens. A prompt that does not (its text merges with
  // the token before it) is evaluated whole, so a text's result does not depend on the others.
  void find_prefix() {
    const std::vector<int32_t> a = tokens("alpha"), b = tokens("Zulu 9.");
    size_t n = 0;
    while (n < a.size() && n < b.size() && a[n] == b[n]) ++n;
    prefix.assign(a.begin(), a.begin() + static_cast<std::ptrdiff_t>(n));
  }

  bool starts_with_prefix(const std::vector<int32_t>& prompt) const {
    return prefix.size() >= 2 && prompt.size() > prefix.size() &&
           std::equal(prefix.begin(), prefix.end(), prompt.begin());
  }

  SequenceId prefix_sequence() {
    if (!prefix_id) {
      const SequenceId id = engine.new_sequence();
      BatchEntry e;
      e.sequence = id;
      e.tokens = prefix;
      e.logits = false;
      try {
        engine.decode(std::span(&e, 1));
      } catch (...) {
        engine.free_sequence(id);
        throw;
      }
      prefix_id = id;
    }
    return *prefix_id;
  }

  const DecoderModel& model;
  const Tokenizer& tok;
  JudgeOptions options;
  Engine engine;
  std::vector<std::vector<int32_t>> label_tokens;
  std::vector<int32_t> prefix;
  std::optional<SequenceId> prefix_id;
};

namespace {

const DecoderModel& with_tokenizer(const DecoderModel& model) {
  if (model.tokenizer() == nullptr) {
    throw Error(model.file().path() + ": the judge model has no tokenizer");
  }
  return model;
}

void check_options(const JudgeOptions& o) {
  if (o.labels.empty()) throw Error("judge: no labels");
  for (size_t i = 0; i < o.labels.size(); ++i) {
    if (o.labels[i].empty()) throw Error("judge: label " + std::to_string(i) + " is empty");
    for (size_t k = 0; k < i; ++k) {
      if (o.labels[k] == o.labels[i]) {
        throw Error("judge: label \"" + o.labels[i] + "\" is given twice");
      }
    }
  }
  format_judge_prompt(o.prompt, "", o.labels);  // throws for a prompt without {text}
  if (o.max_text_tokens < 1) throw Error("judge: max_text_tokens must be at least 1");
  if (o.batch_size == 0) throw Error("judge: batch_size must be at least 1");
}

}  // namespace

JudgeScorer::JudgeScorer(const DecoderModel& model, JudgeOptions options) {
  check_options(options);
  impl_ = std::make_unique<Impl>(with_tokenizer(model), std::move(options));
  impl_->find_label_tokens();
  impl_->find_prefix();
}

JudgeScorer::~JudgeScorer() = default;

const std::vector<std::string>& JudgeScorer::labels() const { return impl_->options.labels; }
const std::vector<std::vector<int32_t>>& JudgeScorer::label_tokens() const {
  return impl_->label_tokens;
}
const JudgeOptions& JudgeScorer::options() const { return impl_->options; }

std::vector<int32_t> JudgeScorer::prompt_tokens(std::string_view text) const {
  return impl_->tokens(text);
}

std::vector<Judgement> JudgeScorer::judge(std::span<const std::string> texts) {
  Impl& m = *impl_;
  std::vector<std::vector<int32_t>> prompts;
  prompts.reserve(texts.size());
  for (const std::string& text : texts) {
    prompts.push_back(m.tokens(text));
    if (static_cast<int64_t>(prompts.back().size()) > m.engine.n_ctx()) {
      throw Error("judge: the prompt of text " + std::to_string(prompts.size() - 1) + " has " +
                  std::to_string(prompts.back().size()) + " tokens, more than the context of " +
                  std::to_string(m.engine.n_ctx()) +
                  " positions (lower max_text_tokens or raise n_ctx)");
    }
  }

  std::vector<Judgement> out;
  out.reserve(texts.size());
  for (size_t start = 0; start < prompts.size(); start += m.options.batch_size) {
    const size_t n = std::min(m.options.batch_size, prompts.size() - start);
    std::vector<SequenceId> sequences;
    // Freed however the decode ends, so a failed batch leaves the engine as it was.
    struct Release {
      Engine& engine;
      std::vector<SequenceId>& ids;
      ~Release() {
        for (SequenceId id : ids) engine.free_sequence(id);
      }
    } release{m.engine, sequences};
    std::vector<BatchEntry> batch(n);
    for (size_t i = 0; i < n; ++i) {
      const std::vector<int32_t>& prompt = prompts[start + i];
      if (m.starts_with_prefix(prompt)) {
        const auto shared = static_cast<int64_t>(m.prefix.size());
        sequences.push_back(m.engine.fork_sequence(m.prefix_sequence(), shared));
        batch[i].tokens = std::span(prompt).subspan(m.prefix.size());
      } else {
        sequences.push_back(m.engine.new_sequence());
        batch[i].tokens = prompt;
      }
      batch[i].sequence = sequences.back();
    }
    const Logits logits = m.engine.decode(batch);
    for (size_t i = 0; i < n; ++i) out.push_back(m.read(logits.last(i)));
  }
  return out;
}

std::vector<std::vector<double>> JudgeScorer::score(std::span<const std::string> texts) {
  std::vector<std::vector<double>> rows;
  for (Judgement& j : judge(texts)) rows.push_back(std::move(j.probabilities));
  return rows;
}

}  // namespace emovec
