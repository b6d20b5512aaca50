// Evaluation of emotion vectors, after the paper's protocol: replies to held-out queries under
// alpha * EV for every emotion and alpha, beside two baselines (the unsteered model, alpha 0,
// and the emotion asked for in the prompt), then emotion scores, topic adherence, perplexity
// and diversity per emotion and alpha (docs/metrics.md).
//
// Steps, each a function here so that the command line stays thin: plan the replies, generate
// those not yet in the run folder's replies.jsonl (appended one line per reply, so an
// interrupted run resumes), then measure and write report.json, report.md and SVG charts.
// Replies are greedy by default and each is computed the same way whatever else is in the
// batch, so a resumed run gives the same report, byte for byte, as an uninterrupted one.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "emovec/emotion_scorer.h"
#include "emovec/emotion_vector.h"
#include "emovec/sampler.h"

namespace emovec {
class Engine;
class SentenceEncoder;
}  // namespace emovec

namespace emovec::eval {

// What decides the replies of a run: recorded in run.json, and a resumed run must match it.
struct EvalSettings {
  std::string model;         // the model argument as given
  std::string model_sha256;  // of its weights
  std::vector<std::string> emotions;
  std::vector<float> alphas;  // ascending, distinct, 0 among them
  std::vector<int64_t> query_ids;
  std::vector<std::string> queries;  // the texts of query_ids
  std::string queries_sha256;        // of the whole de-duplicated query set
  double held_out = 0.2;
  int64_t limit = 0;
  int64_t n_predict = 48;
  SamplingParams sampling;  // greedy unless asked otherwise
  bool exact = false;       // float32 activations while decoding
  // The prompt baseline's wording, with {emotion} and {query} (extraction's default).
  std::string prompt_instruction = "Please answer the following query with {emotion}: {query}";
  std::vector<std::string> vector_sha256;  // per emotion, of the vector's site and directions

  nlohmann::ordered_json to_json() const;
};

// "-1", "0.5", "2": how an alpha names a column and a key.
std::string alpha_name(float alpha);

// "-1,0,1,2,4" -> ascending alphas with 0 added when missing. Throws Error for an entry that is
// not a number, one that is not finite or beyond kMaxAlpha, a repeated one, or an empty list.
std::vector<float> parse_alphas(const std::string& list);

// What a reply is: the query answered unsteered ("none", shared by every emotion), under
// alpha * EV of an emotion ("steered", alpha != 0), or asked for the emotion in the prompt
// ("prompt").
struct ReplyKey {
  int64_t query_id = 0;
  std::string condition;  // "none", "steered" or "prompt"
  std::string emotion;    // empty for "none"
  float alpha = 0;        // "steered" only

  // Unique within a run, e.g. "12|steered|joy|1".
  std::string id() const;
};

struct Reply {
  ReplyKey key;
  std::string text;
  std::vector<int32_t> tokens;
  std::string finish_reason;
};

nlohmann::ordered_json reply_to_json(const Reply& r);
Reply reply_from_json(const nlohmann::json& j);  // throws Error for a malformed record

// Every reply a run needs, in a fixed order: per query, the unsteered reply, the prompt
// baselines, then each emotion's steered replies by alpha.
std::vector<ReplyKey> planned_replies(const EvalSettings& settings);

// The run folder: run.json (the settings) and replies.jsonl (one reply per line, appended and
// flushed as each finishes).
class RunFolder {
 public:
  // Creates the folder, or re-opens it for a run with the same settings: a replies.jsonl line
  // cut short by an interruption is dropped. Throws Error when the folder holds a run with
  // other settings (naming the first that differs), unless `overwrite`, which starts afresh.
  RunFolder(const std::string& dir, const EvalSettings& settings, bool overwrite);
  ~RunFolder();
  RunFolder(const RunFolder&) = delete;
  RunFolder& operator=(const RunFolder&) = delete;

  const std::string& dir() const { return dir_; }
  bool has(const ReplyKey& key) const;
  void append(const Reply& reply);
  // Replies read back and appended, in no particular order.
  const std::vector<Reply>& replies() const { return replies_; }

 private:
  std::string dir_;
  std::vector<Reply> replies_;
  std::vector<std::string> ids_;  // sorted ids of replies_
  struct Output;
  std::unique_ptr<Output> out_;
};

struct GenerationProgress {
  int64_t done = 0;     // replies finished in this call
  int64_t total = 0;    // replies this call generates
  int64_t skipped = 0;  // already in the run folder
};

// Generates the planned replies missing from `folder` and appends each as it finishes.
// `vectors` holds one vector per settings.emotions entry, in that order. Up to `batch`
// sequences decode together; each prompt is evaluated on its own and the engine should be
// batch-invariant, so a reply does not depend on its neighbours. Needs a model with a chat
// template (a model without one gets the plain query).
void generate_replies(Engine& engine, const EvalSettings& settings,
                      std::span<const EmotionVector> vectors, RunFolder& folder, int64_t batch,
                      const std::function<void(const GenerationProgress&)>& progress = {});

// Everything measured on a run's replies. `engine` (unsteered) gives the perplexities;
// `encoder` (all-MiniLM-L6-v2) topic adherence; each scorer its emotion scores. Throws Error
// when a planned reply is missing from `replies`.
nlohmann::ordered_json build_report(Engine& engine, const SentenceEncoder& encoder,
                                    std::span<EmotionScorer* const> scorers,
                                    const EvalSettings& settings, std::span<const Reply> replies);

// The report's tables in Markdown: one per metric (and scorer), rows emotions, columns alphas
// then the prompt baseline.
std::string report_markdown(const nlohmann::ordered_json& report);

// Writes report.json, report.md and the charts (*.svg) into `dir`; returns the files written.
std::vector<std::string> write_report(const nlohmann::ordered_json& report, const std::string& dir);

}  // namespace emovec::eval
