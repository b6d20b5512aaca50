// emovec eval: replies to held-out queries under alpha * EV per emotion and alpha, with the
// unsteered and prompted baselines, scored and written up as a report (src/eval/evaluation.h).
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <memory>

#include "clock_text.h"
#include "commands.h"
#include "emovec/decoder.h"
#include "emovec/encoder.h"
#include "emovec/engine.h"
#include "emovec/error.h"
#include "emovec/extract.h"
#include "emovec/model_file.h"
#include "emovec/model_registry.h"
#include "eval/evaluation.h"
#include "format/sha256.h"
#include "list_flags.h"
#include "resources.h"
#include "scorer_flags.h"

namespace emovec::cli {
namespace {

struct EvalFlags {
  std::string model = "smollm2-135m-instruct";
  std::vector<std::string> ev;
  std::string queries;
  std::string alphas = "-1,0,1,2,4";
  std::string emotions = "anger,disgust,fear,joy,sadness";
  int64_t limit = 20;
  double held_out = 0.2;
  int64_t n_predict = 48;
  float temperature = 0;
  float top_p = 1;
  int64_t seed = 42;
  int threads = 0;
  int64_t batch = 16;
  bool exact = false;
  std::string scorers = "nade";
  std::string output;
  bool overwrite = false;
  bool quiet = false;
};

// The vector of each emotion asked for, in that order, checked against the model.
std::vector<EmotionVector> vectors_for(const EvalFlags& f, const std::vector<std::string>& emotions,
                                       const DecoderModel& model) {
  std::vector<std::string> paths = f.ev;
  if (paths.empty()) {
    const auto dir = shipped_vectors_for(f.model);
    if (!dir) {
      throw Error("no emotion vectors ship with " + f.model +
                  ": give --ev FILE (make them with emovec extract)");
    }
    paths.push_back(*dir);
  }
  std::vector<EmotionVector> all = load_emotion_vectors(paths);
  std::vector<EmotionVector> out;
  for (const std::string& e : emotions) {
    out.push_back(find_emotion_vector(all, e, model.hparams().n_layer, model.hparams().n_embd));
  }
  return out;
}

std::string vector_checksum(const EmotionVector& v) {
  std::string bytes(activation_site_name(v.site));
  bytes.append(reinterpret_cast<const char*>(v.directions.data()),
               v.directions.size() * sizeof(float));
  return sha256_hex(std::string_view(bytes));
}

// Says so when evaluated queries were used to extract a vector (numbers on them flatter it).
void warn_about_extraction_queries(const std::vector<EmotionVector>& vectors,
                                   const eval::EvalSettings& s) {
  for (const EmotionVector& v : vectors) {
    const VectorProvenance& p = v.provenance;
    if (p.queries_sha256.empty() || p.held_out.empty()) continue;
    if (p.queries_sha256 != s.queries_sha256) {
      std::fprintf(stderr, "note: the vector '%s' was extracted from other queries\n",
                   v.emotion.c_str());
      continue;
    }
    const auto used = std::count_if(s.query_ids.begin(), s.query_ids.end(), [&](int64_t q) {
      return std::find(p.held_out.begin(), p.held_out.end(), q) == p.held_out.end();
    });
    if (used > 0) {
      std::fprintf(stderr, "warning: %lld of the evaluated queries were used to extract '%s'\n",
                   static_cast<long long>(used), v.emotion.c_str());
    }
  }
}

void run_eval(EvalFlags f) {
  if (f.output.empty()) throw Error("give the run folder with -o DIR");
  if (f.threads < 0 || f.threads > 256) {
    throw Error("--threads must be 0 (all cores) or between 1 and 256");
  }
  if (f.limit < 0) throw Error("--limit must be 0 (all) or positive");
  if (!(f.held_out > 0 && f.held_out < 1)) throw Error("--held-out must be between 0 and 1");
  if (f.n_predict < 1 || f.n_predict > 4096) throw Error("-n must be between 1 and 4096");
  if (f.batch < 1 || f.batch > 512) throw Error("--batch must be between 1 and 512");
  if (f.seed < 0) throw Error("--seed must not be negative");

  eval::EvalSettings s;
  s.model = f.model;
  s.alphas = eval::parse_alphas(f.alphas);
  s.emotions = split_list(f.emotions);
  if (s.emotions.empty()) throw Error("--emotions: no emotion given");
  for (size_t i = 0; i < s.emotions.size(); ++i) {
    if (std::find(s.emotions.begin(), s.emotions.begin() + static_cast<std::ptrdiff_t>(i),
                  s.emotions[i]) != s.emotions.begin() + static_cast<std::ptrdiff_t>(i)) {
      throw Error("--emotions: '" + s.emotions[i] + "' is given twice");
    }
  }
  s.held_out = f.held_out;
  s.limit = f.limit;
  s.n_predict = f.n_predict;
  s.sampling.temperature = f.temperature;
  s.sampling.top_k = 0;
  s.sampling.top_p = f.top_p;
  s.sampling.min_p = 0;
  s.sampling.seed = static_cast<uint64_t>(f.seed);
  s.sampling.validate();
  s.exact = f.exact;

  if (f.queries.empty()) {
    const auto shipped = find_resource("data/emotionquery/EmotionQuery.json");
    if (!shipped) throw Error("give the queries with --queries FILE");
    f.queries = *shipped;
  }
  const QuerySet queries = load_queries(f.queries);
  s.queries_sha256 = queries.sha256;
  s.query_ids = held_out_queries(queries, f.held_out);
  if (s.query_ids.empty()) throw Error("--held-out leaves no query to evaluate");
  if (f.limit > 0 && static_cast<size_t>(f.limit) < s.query_ids.size()) {
    s.query_ids.resize(static_cast<size_t>(f.limit));
  }
  for (const int64_t q : s.query_ids) s.queries.push_back(queries.queries[static_cast<size_t>(q)]);

  const auto model = DecoderModel::load(resolve_model_argument(f.model));
  const std::vector<EmotionVector> vectors = vectors_for(f, s.emotions, *model);
  for (const EmotionVector& v : vectors) s.vector_sha256.push_back(vector_checksum(v));
  // Scorers and the encoder are loaded before the long part, so a bad one fails early.
  Scorers scorers = make_scorers(f.scorers, f.threads);
  const auto encoder_file = open_model_file(resolve_model_argument("all-minilm-l6-v2"));
  SentenceEncoderOptions eo;
  eo.n_threads = f.threads;
  const SentenceEncoder encoder(*encoder_file, eo);
  s.model_sha256 = model_checksum(*model);
  if (!f.quiet) warn_about_extraction_queries(vectors, s);

  eval::RunFolder folder(f.output, s, f.overwrite);
  EngineOptions options;
  options.n_threads = f.threads;
  options.exact = f.exact;
  // Replies must not depend on which others share their decoding steps (resumed runs).
  options.batch_invariant = true;
  Engine engine(*model, options);

  const bool tty = isatty(STDERR_FILENO) != 0;
  const auto t0 = std::chrono::steady_clock::now();
  int64_t last_tenth = -1;
  eval::generate_replies(
      engine, s, vectors, folder, f.batch, [&](const eval::GenerationProgress& p) {
        if (f.quiet) return;
        const double elapsed =
            std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
        const double eta = p.done > 0 ? elapsed * static_cast<double>(p.total - p.done) /
                                            static_cast<double>(p.done)
                                      : 0;
        const int64_t tenth = p.total > 0 ? 10 * p.done / p.total : 10;
        if (!tty && tenth == last_tenth) return;
        last_tenth = tenth;
        std::fprintf(
            stderr, "%sreplies: %lld/%lld generated (%lld done before) | %s elapsed | ETA %s%s",
            tty ? "\r" : "", static_cast<long long>(p.done), static_cast<long long>(p.total),
            static_cast<long long>(p.skipped), clock_text(elapsed).c_str(), clock_text(eta).c_str(),
            tty && p.done < p.total ? " " : "\n");
      });
  if (!f.quiet) std::fprintf(stderr, "scoring %zu replies\n", folder.replies().size());
  const nlohmann::ordered_json report =
      eval::build_report(engine, encoder, scorers.list, s, folder.replies());
  for (const std::string& path : eval::write_report(report, f.output)) {
    std::printf("wrote %s\n", path.c_str());
  }
}

}  // namespace

void register_eval_command(CLI::App& app) {
  auto f = std::make_shared<EvalFlags>();
  CLI::App* cmd =
      app.add_subcommand("eval", "evaluate emotion vectors on held-out queries (a report)");
  cmd->add_option("-m,--model", f->model, "model: a GGUF file, a model folder or a shipped name")
      ->capture_default_str();
  cmd->add_option("--ev", f->ev, "emotion vector files or folders (default: the shipped ones)");
  cmd->add_option("--queries", f->queries,
                  "queries: EmotionQuery.json, a JSON list or one per line (default: the "
                  "paper's shipped queries)");
  cmd->add_option("--alphas", f->alphas, "steering strengths, comma-separated (0 is added)")
      ->capture_default_str();
  cmd->add_option("--emotions", f->emotions, "emotions, comma-separated")->capture_default_str();
  cmd->add_option("--limit", f->limit,
                  "evaluate the first N held-out queries (0: all of them; the default, 20, is the "
                  "documented subset that runs in minutes)")
      ->capture_default_str();
  cmd->add_option("--held-out", f->held_out,
                  "share of the queries held out of extraction (as emovec extract)")
      ->capture_default_str();
  cmd->add_option("-n,--n-predict", f->n_predict, "reply tokens at most")->capture_default_str();
  cmd->add_option("--temp", f->temperature, "temperature (0: greedy)")->capture_default_str();
  cmd->add_option("--top-p", f->top_p, "top-p when sampling (1: off)")->capture_default_str();
  cmd->add_option("-s,--seed", f->seed, "seed when sampling")->capture_default_str();
  cmd->add_option("-t,--threads", f->threads, "threads (0: all cores)")->capture_default_str();
  cmd->add_option("--batch", f->batch, "replies decoded together")->capture_default_str();
  cmd->add_flag("--exact", f->exact, "float32 activations while decoding (slower)");
  cmd->add_option("--scorers", f->scorers, kScorersHelp)->capture_default_str();
  cmd->add_option("-o,--output", f->output,
                  "run folder: run.json, replies.jsonl (resumable), report.json, report.md, "
                  "charts")
      ->required();
  cmd->add_flag("--overwrite", f->overwrite, "start afresh in a folder holding another run");
  cmd->add_flag("-q,--quiet", f->quiet, "no progress output");
  cmd->callback([f] { run_eval(*f); });
}

}  // namespace emovec::cli
