#include "eval/evaluation.h"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>
#include <utility>

#include "emovec/decoder.h"
#include "emovec/encoder.h"
#include "emovec/engine.h"
#include "emovec/error.h"
#include "emovec/extract.h"
#include "emovec/generate.h"
#include "emovec/perplexity.h"
#include "emovec/steering.h"
#include "eval/metrics.h"
#include "eval/plot.h"
#include "format/sha256.h"
#include "format/text_file.h"

namespace emovec::eval {
namespace fs = std::filesystem;
using json = nlohmann::ordered_json;

namespace {

constexpr const char* kPromptColumn = "prompt";

json optional_json(std::optional<double> v) {
  if (!v || !std::isfinite(*v)) return nullptr;
  return *v;
}

std::string replace_all(std::string text, const std::string& from, const std::string& to) {
  for (size_t at = text.find(from); at != std::string::npos; at = text.find(from, at + to.size())) {
    text.replace(at, from.size(), to);
  }
  return text;
}

std::vector<int32_t> user_turn(const DecoderModel& model, const std::string& text) {
  if (model.chat_template() == nullptr) return tokenize_prompt(model, text);
  return tokenize_chat(model, {ChatMessage{"user", text}});
}

// The text a reply answers: the query, or the query with the emotion asked for.
std::string prompt_text(const EvalSettings& s, const ReplyKey& key, const std::string& query) {
  if (key.condition != "prompt") return query;
  return replace_all(replace_all(s.prompt_instruction, "{emotion}", key.emotion), "{query}", query);
}

const std::string& query_text(const EvalSettings& s, int64_t query_id) {
  const auto it = std::find(s.query_ids.begin(), s.query_ids.end(), query_id);
  if (it == s.query_ids.end()) {
    throw Error("reply for query " + std::to_string(query_id) + ", which the run does not hold");
  }
  return s.queries[static_cast<size_t>(it - s.query_ids.begin())];
}

// A per-reply seed, so that a sampled reply does not depend on the order replies are made in.
uint64_t reply_seed(uint64_t seed, const std::string& id) {
  uint64_t h = 1469598103934665603ull;
  for (const char c : id) h = (h ^ static_cast<uint8_t>(c)) * 1099511628211ull;
  return seed ^ h;
}

}  // namespace

nlohmann::ordered_json EvalSettings::to_json() const {
  json alpha_list = json::array();
  for (const float a : alphas) alpha_list.push_back(alpha_name(a));
  return json{{"model", model},
              {"model_sha256", model_sha256},
              {"emotions", emotions},
              {"alphas", alpha_list},
              {"vector_sha256", vector_sha256},
              {"queries_sha256", queries_sha256},
              {"held_out", held_out},
              {"limit", limit},
              {"query_ids", query_ids},
              {"queries", queries},
              {"n_predict", n_predict},
              {"temperature", sampling.temperature},
              {"top_k", sampling.top_k},
              {"top_p", sampling.top_p},
              {"min_p", sampling.min_p},
              {"repeat_penalty", sampling.repeat_penalty},
              {"seed", sampling.seed},
              {"exact", exact},
              {"prompt_instruction", prompt_instruction}};
}

std::string alpha_name(float alpha) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%g", static_cast<double>(alpha));
  return buf;
}

std::vector<float> parse_alphas(const std::string& list) {
  if (list.empty()) throw Error("--alphas: no alpha given");
  std::vector<float> out;
  for (size_t start = 0; start <= list.size();) {
    const size_t comma = std::min(list.find(',', start), list.size());
    const std::string item = list.substr(start, comma - start);
    start = comma + 1;
    char* end = nullptr;
    const double v = std::strtod(item.c_str(), &end);
    if (item.empty() || end != item.c_str() + item.size()) {
      throw Error("--alphas: '" + item + "' is not a number");
    }
    if (!std::isfinite(v) || std::fabs(v) > static_cast<double>(kMaxAlpha)) {
      throw Error("--alphas: " + item + " is out of range (|alpha| <= " + alpha_name(kMaxAlpha) +
                  ")");
    }
    const float a = static_cast<float>(v) + 0.0f;  // -0 is 0
    if (std::find(out.begin(), out.end(), a) != out.end()) {
      throw Error("--alphas: " + item + " is given twice");
    }
    out.push_back(a);
  }
  if (std::find(out.begin(), out.end(), 0.0f) == out.end()) out.push_back(0.0f);
  std::sort(out.begin(), out.end());
  return out;
}

std::string ReplyKey::id() const {
  std::string out = std::to_string(query_id);
  out.append("|").append(condition);
  if (condition != "none") out.append("|").append(emotion);
  if (condition == "steered") out.append("|").append(alpha_name(alpha));
  return out;
}

nlohmann::ordered_json reply_to_json(const Reply& r) {
  json j = {{"id", r.key.id()}, {"query", r.key.query_id}, {"condition", r.key.condition}};
  if (r.key.condition != "none") j["emotion"] = r.key.emotion;
  if (r.key.condition == "steered") j["alpha"] = r.key.alpha;
  j["text"] = r.text;
  j["tokens"] = r.tokens;
  j["finish_reason"] = r.finish_reason;
  return j;
}

Reply reply_from_json(const nlohmann::json& j) {
  try {
    Reply r;
    r.key.query_id = j.at("query").get<int64_t>();
    r.key.condition = j.at("condition").get<std::string>();
    if (r.key.condition != "none" && r.key.condition != "steered" && r.key.condition != "prompt") {
      throw Error("unknown condition '" + r.key.condition + "'");
    }
    if (r.key.condition != "none") r.key.emotion = j.at("emotion").get<std::string>();
    if (r.key.condition == "steered") r.key.alpha = j.at("alpha").get<float>();
    r.text = j.at("text").get<std::string>();
    r.tokens = j.at("tokens").get<std::vector<int32_t>>();
    r.finish_reason = j.at("finish_reason").get<std::string>();
    return r;
  } catch (const nlohmann::json::exception& e) {
    throw Error(std::string("malformed reply record: ") + e.what());
  }
}

std::vector<ReplyKey> planned_replies(const EvalSettings& s) {
  std::vector<ReplyKey> out;
  for (const int64_t q : s.query_ids) {
    out.push_back({q, "none", "", 0.0f});
    for (const std::string& e : s.emotions) out.push_back({q, "prompt", e, 0.0f});
    for (const std::string& e : s.emotions) {
      for (const float a : s.alphas) {
        if (a != 0.0f) out.push_back({q, "steered", e, a});
      }
    }
  }
  return out;
}

// ---- the run folder ----

struct RunFolder::Output {
  std::ofstream file;
};

RunFolder::RunFolder(const std::string& dir, const EvalSettings& settings, bool overwrite)
    : dir_(dir), out_(std::make_unique<Output>()) {
  const fs::path run = fs::path(dir) / "run.json";
  const fs::path replies = fs::path(dir) / "replies.jsonl";
  std::error_code ec;
  fs::create_directories(dir, ec);
  if (ec || !fs::is_directory(dir)) throw Error("cannot create the run folder " + dir);
  const json wanted = settings.to_json();
  if (fs::exists(run) && !overwrite) {
    std::ifstream in(run);
    json recorded;
    try {
      recorded = json::parse(in);
    } catch (const nlohmann::json::exception&) {
      throw Error(run.string() + " is not valid JSON: use another folder or --overwrite");
    }
    for (const auto& [name, value] : wanted.items()) {
      if (!recorded.contains(name) || recorded[name] != value) {
        std::string was = recorded.contains(name) ? recorded[name].dump() : "nothing";
        std::string now = value.dump();
        if (was.size() > 80) was = was.substr(0, 77) + "...";
        if (now.size() > 80) now = now.substr(0, 77) + "...";
        throw Error(dir + " holds a run with other settings (" + name + ": " + was + " there, " +
                    now +
                    " now): resume it with the same arguments, use another folder, or "
                    "--overwrite");
      }
    }
  } else {
    if (fs::exists(replies) && !overwrite) {
      throw Error(dir + " has replies.jsonl but no run.json: use another folder or --overwrite");
    }
    fs::remove(replies);
    for (const char* name : {"report.json", "report.md"}) fs::remove(fs::path(dir) / name);
    std::ofstream o(run, std::ios::binary | std::ios::trunc);
    o << wanted.dump(1) << '\n';
    if (!o.flush()) throw Error("cannot write " + run.string());
  }
  if (fs::exists(replies)) {
    const std::string all = read_text_file(replies);
    // A line without its newline was cut short by an interruption: drop it.
    const size_t complete = all.rfind('\n') == std::string::npos ? 0 : all.rfind('\n') + 1;
    int64_t n = 0;
    for (const std::string& line : text_lines(std::string_view(all).substr(0, complete))) {
      ++n;
      if (line.empty()) continue;
      Reply r;
      try {
        r = reply_from_json(nlohmann::json::parse(line));
      } catch (const std::exception& e) {
        throw Error(replies.string() + " line " + std::to_string(n) + ": " + e.what());
      }
      if (has(r.key)) continue;
      ids_.insert(std::lower_bound(ids_.begin(), ids_.end(), r.key.id()), r.key.id());
      replies_.push_back(std::move(r));
    }
    if (complete != all.size()) fs::resize_file(replies, complete);
  }
  out_->file.open(replies, std::ios::binary | std::ios::app);
  if (!out_->file) throw Error("cannot write " + replies.string());
}

RunFolder::~RunFolder() = default;

bool RunFolder::has(const ReplyKey& key) const {
  return std::binary_search(ids_.begin(), ids_.end(), key.id());
}

void RunFolder::append(const Reply& reply) {
  out_->file << reply_to_json(reply).dump() << '\n';
  if (!out_->file.flush()) throw Error("cannot write to " + dir_ + "/replies.jsonl");
  ids_.insert(std::lower_bound(ids_.begin(), ids_.end(), reply.key.id()), reply.key.id());
  replies_.push_back(reply);
}

// ---- generation ----

void generate_replies(Engine& engine, const EvalSettings& settings,
                      std::span<const EmotionVector> vectors, RunFolder& folder, int64_t batch,
                      const std::function<void(const GenerationProgress&)>& progress) {
  if (vectors.size() != settings.emotions.size()) {
    throw Error("generate_replies: one vector per emotion is needed");
  }
  if (batch < 1) throw Error("the batch must hold at least one sequence");
  const DecoderModel& model = engine.model();
  const auto& h = model.hparams();
  // One Steering per (emotion, alpha), shared by the replies that use it.
  std::map<std::string, Steering> steerings;
  for (size_t e = 0; e < vectors.size(); ++e) {
    for (const float a : settings.alphas) {
      if (a == 0.0f) continue;
      steerings.emplace(ReplyKey{0, "steered", settings.emotions[e], a}.id(),
                        Steering::single(vectors[e], a, h.n_layer, h.n_embd));
    }
  }
  std::vector<ReplyKey> pending;
  GenerationProgress p;
  for (ReplyKey& k : planned_replies(settings)) {
    if (folder.has(k)) {
      ++p.skipped;
    } else {
      pending.push_back(std::move(k));
    }
  }
  p.total = static_cast<int64_t>(pending.size());
  if (progress) progress(p);

  struct Active {
    Reply reply;
    std::vector<int32_t> prompt;
    std::unique_ptr<SteeringHook> hook;
    std::unique_ptr<ReplyState> state;
    SequenceId seq = 0;
    int32_t next = 0;
  };
  std::vector<std::unique_ptr<Active>> active;
  struct Release {
    Engine& engine;
    std::vector<std::unique_ptr<Active>>& active;
    ~Release() {
      for (const auto& a : active) {
        if (a->seq != 0) engine.free_sequence(a->seq);
      }
    }
  } release{engine, active};

  const auto finish_done = [&] {
    for (auto it = active.begin(); it != active.end();) {
      Active& a = **it;
      if (!a.state->done()) {
        ++it;
        continue;
      }
      const GenerateResult& r = a.state->result();
      a.reply.text = r.text;
      a.reply.tokens = r.tokens;
      a.reply.finish_reason = r.finish_reason;
      folder.append(a.reply);
      engine.free_sequence(a.seq);
      a.seq = 0;
      it = active.erase(it);
      ++p.done;
      if (progress) progress(p);
    }
  };

  size_t next_pending = 0;
  while (next_pending < pending.size() || !active.empty()) {
    // New replies join as others finish; each prompt is evaluated in a pass of its own, so
    // its logits do not depend on what else is being generated.
    while (static_cast<int64_t>(active.size()) < batch && next_pending < pending.size()) {
      auto a = std::make_unique<Active>();
      a->reply.key = pending[next_pending++];
      const ReplyKey& key = a->reply.key;
      a->prompt = user_turn(model, prompt_text(settings, key, query_text(settings, key.query_id)));
      check_prompt_fits(a->prompt, engine.n_ctx());
      GenerateOptions o;
      o.n_predict = static_cast<int32_t>(settings.n_predict);
      o.sampling = settings.sampling;
      o.sampling.seed = reply_seed(settings.sampling.seed, key.id());
      if (key.condition == "steered") {
        ReplyKey any_query = key;
        any_query.query_id = 0;
        a->hook = std::make_unique<SteeringHook>(steerings.at(any_query.id()));
        o.hook = a->hook.get();
      }
      a->state = std::make_unique<ReplyState>(model, a->prompt, o, engine.n_ctx());
      a->seq = engine.new_sequence();
      BatchEntry entry;
      entry.sequence = a->seq;
      entry.tokens = a->prompt;
      entry.hook = o.hook;
      entry.prompt = true;
      const Logits logits = engine.decode(std::span<const BatchEntry>(&entry, 1));
      if (a->hook) a->hook->on_generation_start(static_cast<int64_t>(a->prompt.size()));
      a->state->step(logits.last(0), engine.sequence_length(a->seq));
      if (!a->state->done()) a->next = a->state->next_token();
      active.push_back(std::move(a));
    }
    finish_done();
    if (active.empty()) continue;
    std::vector<BatchEntry> step(active.size());
    for (size_t j = 0; j < active.size(); ++j) {
      step[j].sequence = active[j]->seq;
      step[j].tokens = std::span<const int32_t>(&active[j]->next, 1);
      step[j].hook = active[j]->hook.get();
    }
    const Logits logits = engine.decode(step);
    for (size_t j = 0; j < active.size(); ++j) {
      Active& a = *active[j];
      a.state->step(logits.last(j), engine.sequence_length(a.seq));
      if (!a.state->done()) a.next = a.state->next_token();
    }
    finish_done();
  }
}

// ---- measures ----

namespace {

// The replies of one table cell: an emotion under one column (an alpha, or the prompt
// baseline), one per query in the run's order.
class ReplyIndex {
 public:
  ReplyIndex(const EvalSettings& s, std::span<const Reply> replies) : s_(s) {
    std::map<std::string, const Reply*> by_id;
    for (const Reply& r : replies) by_id.emplace(r.key.id(), &r);
    for (const ReplyKey& k : planned_replies(s)) {
      const auto it = by_id.find(k.id());
      if (it == by_id.end()) throw Error("the reply " + k.id() + " is missing");
      index_.emplace(k.id(), ordered_.size());
      ordered_.push_back(it->second);
    }
  }
  const std::vector<const Reply*>& all() const { return ordered_; }
  size_t index(const ReplyKey& k) const { return index_.at(k.id()); }
  size_t unsteered(int64_t q) const { return index({q, "none", "", 0.0f}); }
  std::vector<size_t> cell(const std::string& emotion, const std::string& column) const {
    std::vector<size_t> out;
    for (const int64_t q : s_.query_ids) {
      if (column == kPromptColumn) {
        out.push_back(index({q, "prompt", emotion, 0.0f}));
        continue;
      }
      const float a = std::strtof(column.c_str(), nullptr);
      out.push_back(a == 0.0f ? unsteered(q) : index({q, "steered", emotion, a}));
    }
    return out;
  }

 private:
  const EvalSettings& s_;
  std::vector<const Reply*> ordered_;
  std::map<std::string, size_t> index_;
};

std::vector<std::string> columns_of(const EvalSettings& s) {
  std::vector<std::string> out;
  for (const float a : s.alphas) out.push_back(alpha_name(a));
  out.emplace_back(kPromptColumn);
  return out;
}

// emotion -> column -> f(the cell's reply indices).
template <typename F>
json table(const EvalSettings& s, const ReplyIndex& index, F&& f) {
  json t = json::object();
  for (const std::string& e : s.emotions) {
    json row = json::object();
    for (const std::string& c : columns_of(s)) row[c] = optional_json(f(e, c, index.cell(e, c)));
    t[e] = std::move(row);
  }
  return t;
}

struct TokenNll {
  double sum = 0;
  int64_t count = 0;
};

// Frees the sequences it holds, also when scoring fails half-way.
class SequenceGuard {
 public:
  explicit SequenceGuard(Engine& engine) : engine_(engine) {}
  ~SequenceGuard() { reset(); }
  SequenceGuard(const SequenceGuard&) = delete;
  SequenceGuard& operator=(const SequenceGuard&) = delete;
  SequenceId get() const { return id_; }
  void reset(SequenceId id = 0) {
    if (id_ != 0) engine_.free_sequence(id_);
    id_ = id;
  }

 private:
  Engine& engine_;
  SequenceId id_ = 0;
};

// Each reply's tokens scored by the unsteered model after the chat prompt of its query. The
// prompt is evaluated once per query and its cache copied for each reply (replies come grouped
// by query).
std::vector<TokenNll> reply_nll(Engine& engine, const EvalSettings& s, const ReplyIndex& index) {
  std::vector<TokenNll> out;
  SequenceGuard prompt_seq(engine);
  SequenceGuard reply_seq(engine);
  int64_t prompt_query = -1;
  int64_t prompt_length = 0;
  std::vector<float> first_logits;  // the prompt's last position: predicts a reply's first token
  for (const Reply* r : index.all()) {
    TokenNll t;
    if (!r->tokens.empty()) {
      if (r->key.query_id != prompt_query) {
        const std::vector<int32_t> prompt =
            user_turn(engine.model(), query_text(s, r->key.query_id));
        prompt_seq.reset(engine.new_sequence());
        BatchEntry entry;
        entry.sequence = prompt_seq.get();
        entry.tokens = prompt;
        entry.prompt = true;
        const Logits logits = engine.decode(std::span<const BatchEntry>(&entry, 1));
        first_logits.assign(logits.last(0).begin(), logits.last(0).end());
        prompt_query = r->key.query_id;
        prompt_length = static_cast<int64_t>(prompt.size());
      }
      const auto n = static_cast<int64_t>(r->tokens.size());
      if (prompt_length + n > engine.n_ctx()) {
        throw Error("the reply " + r->key.id() + " does not fit the context for its perplexity");
      }
      t.sum = negative_log_likelihood(first_logits, r->tokens[0]);
      if (n > 1) {
        reply_seq.reset(engine.fork_sequence(prompt_seq.get(), prompt_length));
        BatchEntry entry;
        entry.sequence = reply_seq.get();
        entry.tokens = std::span<const int32_t>(r->tokens).first(static_cast<size_t>(n - 1));
        entry.all_logits = true;
        entry.prompt = true;  // text read, not generated: float32 even for one token
        const Logits logits = engine.decode(std::span<const BatchEntry>(&entry, 1));
        for (int64_t i = 1; i < n; ++i) {
          t.sum += negative_log_likelihood(logits.row(0, i - 1), r->tokens[static_cast<size_t>(i)]);
        }
        reply_seq.reset();
      }
      t.count = n;
    }
    out.push_back(t);
  }
  return out;
}

}  // namespace

nlohmann::ordered_json build_report(Engine& engine, const SentenceEncoder& encoder,
                                    std::span<EmotionScorer* const> scorers, const EvalSettings& s,
                                    std::span<const Reply> replies) {
  const ReplyIndex index(s, replies);
  std::vector<std::string> texts;
  for (const Reply* r : index.all()) texts.push_back(r->text);

  json report = json::object();
  report["settings"] = s.to_json();
  report["columns"] = columns_of(s);
  report["replies"] = texts.size();

  json scorer_reports = json::array();
  // Per scorer that has all five targets: each reply's top label among them (0..4).
  std::vector<std::pair<std::string, std::vector<size_t>>> target_tops;
  for (EmotionScorer* scorer : scorers) {
    const std::vector<std::vector<double>> rows = scorer->score(texts);
    const std::vector<std::string>& labels = scorer->labels();
    std::vector<size_t> targets;
    for (const char* t : kTargetEmotions) {
      if (const auto i = label_position(labels, t)) targets.push_back(*i);
    }
    if (targets.size() == std::size(kTargetEmotions)) {
      std::vector<size_t> tops;
      for (const auto& row : rows) {
        const size_t top = top_label(row, targets);
        tops.push_back(
            static_cast<size_t>(std::find(targets.begin(), targets.end(), top) - targets.begin()));
      }
      target_tops.emplace_back(scorer->name(), std::move(tops));
    }
    // A distribution's top label is taken over all its labels (neutral included); independent
    // intensities (nade: eight Plutchik emotions) are compared among the five targets only.
    std::vector<size_t> candidates;
    if (scorer->distribution()) {
      for (size_t i = 0; i < labels.size(); ++i) candidates.push_back(i);
    } else {
      for (const char* t : kTargetEmotions) {
        if (const auto i = label_position(labels, t)) candidates.push_back(*i);
      }
    }
    const auto cell_rows = [&](const std::vector<size_t>& cell) {
      std::vector<std::vector<double>> out;
      for (const size_t i : cell) out.push_back(rows[i]);
      return out;
    };
    json top_among = json::array();
    for (const size_t c : candidates) top_among.push_back(labels[c]);
    json sr = {{"name", scorer->name()},
               {"labels", labels},
               {"distribution", scorer->distribution()},
               {"top_among", top_among}};
    sr["probability"] = table(
        s, index, [&](const std::string& e, const std::string&, const std::vector<size_t>& cell) {
          const auto t = label_position(labels, e);
          if (!t || std::find(candidates.begin(), candidates.end(), *t) == candidates.end()) {
            return std::optional<double>{};
          }
          return probability_score(cell_rows(cell), candidates, *t);
        });
    const auto absolute = [&](const std::string& e, const std::vector<size_t>& cell) {
      const auto t = label_position(labels, e);
      if (!t) return std::optional<double>{};
      return absolute_score(cell_rows(cell), *t);
    };
    sr["absolute"] = table(
        s, index, [&](const std::string& e, const std::string&, const std::vector<size_t>& cell) {
          return absolute(e, cell);
        });
    sr["absolute_change_percent"] = table(
        s, index, [&](const std::string& e, const std::string&, const std::vector<size_t>& cell) {
          return percent_change(absolute(e, cell), absolute(e, index.cell(e, "0")));
        });
    scorer_reports.push_back(std::move(sr));
  }
  report["scorers"] = std::move(scorer_reports);
  json agreement = json::array();
  for (size_t a = 0; a < target_tops.size(); ++a) {
    for (size_t b = a + 1; b < target_tops.size(); ++b) {
      const Agreement g =
          label_agreement(target_tops[a].second, target_tops[b].second, std::size(kTargetEmotions));
      agreement.push_back({{"scorers", {target_tops[a].first, target_tops[b].first}},
                           {"replies", g.texts},
                           {"same_top_emotion", g.observed},
                           {"cohen_kappa", optional_json(g.kappa)}});
    }
  }
  report["scorer_agreement"] = std::move(agreement);

  const std::vector<std::vector<float>> query_embeddings = encoder.encode(s.queries);
  const std::vector<std::vector<float>> reply_embeddings = encoder.encode(texts);
  const auto query_position = [&](int64_t q) {
    return static_cast<size_t>(std::find(s.query_ids.begin(), s.query_ids.end(), q) -
                               s.query_ids.begin());
  };
  json topic = json::object();
  topic["query_reply"] =
      table(s, index, [&](const std::string&, const std::string&, const std::vector<size_t>& cell) {
        std::vector<double> v;
        for (const size_t i : cell) {
          v.push_back(cosine(query_embeddings[query_position(index.all()[i]->key.query_id)],
                             reply_embeddings[i]));
        }
        return mean(v);
      });
  topic["reply_unsteered"] =
      table(s, index, [&](const std::string&, const std::string&, const std::vector<size_t>& cell) {
        std::vector<double> v;
        for (const size_t i : cell) {
          v.push_back(cosine(reply_embeddings[index.unsteered(index.all()[i]->key.query_id)],
                             reply_embeddings[i]));
        }
        return mean(v);
      });
  report["topic_adherence"] = std::move(topic);

  const std::vector<TokenNll> nll = reply_nll(engine, s, index);
  report["perplexity"] =
      table(s, index, [&](const std::string&, const std::string&, const std::vector<size_t>& cell) {
        TokenNll pooled;
        for (const size_t i : cell) {
          pooled.sum += nll[i].sum;
          pooled.count += nll[i].count;
        }
        return pooled_perplexity(pooled.sum, pooled.count);
      });
  const auto cell_texts = [&](const std::vector<size_t>& cell) {
    std::vector<std::string> out;
    for (const size_t i : cell) out.push_back(texts[i]);
    return out;
  };
  report["distinct_1"] =
      table(s, index, [&](const std::string&, const std::string&, const std::vector<size_t>& cell) {
        return distinct_n(cell_texts(cell), 1);
      });
  report["distinct_2"] =
      table(s, index, [&](const std::string&, const std::string&, const std::vector<size_t>& cell) {
        return distinct_n(cell_texts(cell), 2);
      });
  report["reply_tokens"] =
      table(s, index, [&](const std::string&, const std::string&, const std::vector<size_t>& cell) {
        std::vector<double> v;
        for (const size_t i : cell) v.push_back(static_cast<double>(index.all()[i]->tokens.size()));
        return mean(v);
      });
  return report;
}

// ---- output ----

namespace {

struct TableSpec {
  std::string title;
  const json* table;
  const char* format;  // printf format of one value
};

std::vector<TableSpec> tables_of(const json& report) {
  std::vector<TableSpec> out;
  for (const json& sr : report.at("scorers")) {
    const std::string name = sr.at("name").get<std::string>();
    out.push_back({"Emotion probability score (" + name + ")", &sr.at("probability"), "%.3f"});
    out.push_back({"Emotion absolute score (" + name + ")", &sr.at("absolute"), "%.3f"});
    out.push_back({"Emotion absolute score, change from alpha 0 (" + name + ")",
                   &sr.at("absolute_change_percent"), "%+.0f%%"});
  }
  const json& topic = report.at("topic_adherence");
  out.push_back({"Topic adherence: cosine(query, reply)", &topic.at("query_reply"), "%.3f"});
  out.push_back(
      {"Topic adherence: cosine(reply, unsteered reply)", &topic.at("reply_unsteered"), "%.3f"});
  out.push_back({"Perplexity under the unsteered model", &report.at("perplexity"), "%.2f"});
  out.push_back({"distinct-1", &report.at("distinct_1"), "%.3f"});
  out.push_back({"distinct-2", &report.at("distinct_2"), "%.3f"});
  out.push_back({"Reply length (tokens, mean)", &report.at("reply_tokens"), "%.1f"});
  return out;
}

std::string cell_text(const json& v, const char* format) {
  if (v.is_null()) return "–";
  char buf[64];
  std::snprintf(buf, sizeof buf, format, v.get<double>());
  return buf;
}

std::vector<float> column_alphas(const json& report) {
  std::vector<float> out;
  for (const json& c : report.at("columns")) {
    const std::string name = c.get<std::string>();
    if (name != kPromptColumn) out.push_back(std::strtof(name.c_str(), nullptr));
  }
  return out;
}

LineChart alpha_chart(const json& table, const json& report, std::string title,
                      std::string y_label) {
  LineChart chart;
  chart.title = std::move(title);
  chart.x_label = "alpha (steering strength)";
  chart.y_label = std::move(y_label);
  for (const auto& [emotion, row] : table.items()) {
    PlotSeries series;
    series.name = emotion;
    for (const float a : column_alphas(report)) {
      const json& v = row.at(alpha_name(a));
      series.points.push_back({static_cast<double>(a), v.is_null() ? NAN : v.get<double>()});
    }
    chart.series.push_back(std::move(series));
  }
  return chart;
}

void write_file(const fs::path& path, const std::string& text) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out << text;
  if (!out.flush()) throw Error("cannot write " + path.string());
}

}  // namespace

std::string report_markdown(const nlohmann::ordered_json& report) {
  const json& s = report.at("settings");
  std::ostringstream md;
  md << "# Emotion vector evaluation\n\n";
  md << "Model `" << s.at("model").get<std::string>() << "`; "
     << report.at("replies").get<int64_t>() << " replies to " << s.at("query_ids").size()
     << " held-out queries; up to " << s.at("n_predict").get<int64_t>() << " tokens, "
     << (s.at("temperature").get<double>() <= 0 ? "greedy" : "sampled") << ".\n\n";
  md << "Columns: alpha (the steering strength; alpha 0 is the unsteered model, the baseline "
        "without emotion), then `prompt`: unsteered, with the emotion asked for in the prompt. "
        "Definitions: docs/metrics.md.\n";
  for (const TableSpec& t : tables_of(report)) {
    md << "\n## " << t.title << "\n\n| emotion |";
    for (const json& c : report.at("columns")) {
      const std::string name = c.get<std::string>();
      md << (name == kPromptColumn ? " prompt" : " α=" + name) << " |";
    }
    md << "\n|---|";
    for (size_t i = 0; i < report.at("columns").size(); ++i) md << "---:|";
    md << "\n";
    for (const auto& [emotion, row] : t.table->items()) {
      md << "| " << emotion << " |";
      for (const json& c : report.at("columns")) {
        md << " " << cell_text(row.at(c.get<std::string>()), t.format) << " |";
      }
      md << "\n";
    }
  }
  const json& agreement = report.at("scorer_agreement");
  if (!agreement.empty()) {
    md << "\n## Agreement between scorers\n\nEach reply's top emotion among the five targets, "
          "compared between two scorers over all the replies.\n\n"
          "| scorers | replies | same top emotion | Cohen's kappa |\n|---|---:|---:|---:|\n";
    for (const json& g : agreement) {
      md << "| " << g.at("scorers")[0].get<std::string>() << " / "
         << g.at("scorers")[1].get<std::string>() << " | " << g.at("replies").get<int64_t>()
         << " | " << cell_text(g.at("same_top_emotion"), "%.3f") << " | "
         << cell_text(g.at("cohen_kappa"), "%.3f") << " |\n";
    }
  }
  return md.str();
}

std::vector<std::string> write_report(const nlohmann::ordered_json& report,
                                      const std::string& dir) {
  const fs::path d(dir);
  std::vector<std::string> written;
  const auto put = [&](const std::string& name, const std::string& text) {
    write_file(d / name, text);
    written.push_back((d / name).string());
  };
  put("report.json", report.dump(1) + "\n");
  put("report.md", report_markdown(report));
  for (const json& sr : report.at("scorers")) {
    const std::string name = sr.at("name").get<std::string>();
    LineChart p = alpha_chart(sr.at("probability"), report,
                              "Emotion probability score (" + name + ")", "share of replies");
    p.y_range = PlotRange{0, 1};
    put("probability_" + name + ".svg", render_svg(p));
    put("absolute_" + name + ".svg",
        render_svg(alpha_chart(sr.at("absolute"), report, "Emotion absolute score (" + name + ")",
                               "mean score of the target emotion")));
  }
  const json& topic = report.at("topic_adherence");
  LineChart t = alpha_chart(topic.at("query_reply"), report,
                            "Topic adherence: cosine(query, reply)", "cosine (all-MiniLM-L6-v2)");
  put("topic_adherence.svg", render_svg(t));
  put("similarity_to_unsteered.svg",
      render_svg(alpha_chart(topic.at("reply_unsteered"), report,
                             "Similarity to the unsteered reply", "cosine (all-MiniLM-L6-v2)")));
  LineChart ppl = alpha_chart(report.at("perplexity"), report,
                              "Perplexity under the unsteered model", "perplexity (log scale)");
  ppl.y_scale = YScale::Log;
  put("perplexity.svg", render_svg(ppl));

  // One figure for a README: each scorer's probability score (and its absolute score when there
  // is one scorer), topic adherence and perplexity, with one legend.
  std::vector<LineChart> panels;
  for (const json& sr : report.at("scorers")) {
    const std::string name = sr.at("name").get<std::string>();
    LineChart p = alpha_chart(sr.at("probability"), report,
                              "Emotion probability score (" + name + ")", "share of replies");
    p.y_range = PlotRange{0, 1};
    panels.push_back(std::move(p));
    if (report.at("scorers").size() == 1) {
      panels.push_back(alpha_chart(sr.at("absolute"), report,
                                   "Emotion absolute score (" + name + ")", "mean score"));
    }
  }
  panels.push_back(std::move(t));
  panels.push_back(std::move(ppl));
  ChartGridLayout layout;
  const json& settings = report.at("settings");
  layout.title = settings.at("model").get<std::string>() + ": steering with emotion vectors, " +
                 std::to_string(settings.at("query_ids").size()) + " held-out queries";
  layout.columns = 2;
  layout.panel_width = 420;
  layout.panel_height = 300;
  layout.shared_legend = true;
  put("overview.svg", render_svg_grid(panels, layout));
  return written;
}

}  // namespace emovec::eval
