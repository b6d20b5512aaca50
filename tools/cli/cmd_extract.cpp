// emovec extract: emotion vectors for a model from a set of queries.
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <filesystem>

#include "clock_text.h"
#include "commands.h"
#include "emovec/decoder.h"
#include "emovec/engine.h"
#include "emovec/error.h"
#include "emovec/extract.h"
#include "emovec/model_file.h"
#include "emovec/model_registry.h"
#include "list_flags.h"
#include "resources.h"

namespace emovec::cli {
namespace {

struct ExtractFlags {
  std::string model = "smollm2-135m-instruct";
  std::string queries;
  std::string emotions = "anger,disgust,fear,joy,sadness";
  std::string site = "attn_out";
  std::string output;
  int threads = 0;
  int64_t ctx = 0;
  bool json = false;
  bool quiet = false;
  ExtractOptions options;
};

void run_extract(ExtractFlags f) {
  if (f.queries.empty()) {
    const auto shipped = find_resource("data/emotionquery/EmotionQuery.json");
    if (!shipped) throw Error("give the queries with --queries FILE");
    f.queries = *shipped;
  }
  f.options.emotions = split_list(f.emotions);
  f.options.site = parse_activation_site(f.site);
  if (f.threads < 0 || f.threads > 256) {
    throw Error("--threads must be 0 (all cores) or between 1 and 256");
  }
  const QuerySet queries = load_queries(f.queries);
  const auto model = DecoderModel::load(resolve_model_argument(f.model));
  if (f.output.empty()) {
    f.output = std::filesystem::path(model->file().path()).stem().string() + "-vectors";
  }
  EngineOptions eo;
  eo.n_threads = f.threads;
  eo.n_ctx = f.ctx;
  eo.n_batch = 4096;
  eo.exact = true;
  Engine engine(*model, eo);
  const bool bar = !f.quiet && isatty(STDERR_FILENO) != 0;
  const auto t0 = std::chrono::steady_clock::now();
  f.options.progress = [&](int64_t done, int64_t total) {
    if (!bar) return;
    const double elapsed =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    const double eta =
        done > 0 ? elapsed * static_cast<double>(total - done) / static_cast<double>(done) : 0;
    constexpr int kWidth = 30;
    const auto filled = static_cast<int>(kWidth * done / std::max<int64_t>(1, total));
    std::fprintf(stderr, "\r[%s%s] %lld/%lld prompts | %s elapsed | ETA %s ",
                 std::string(static_cast<size_t>(filled), '#').c_str(),
                 std::string(static_cast<size_t>(kWidth - filled), ' ').c_str(),
                 static_cast<long long>(done), static_cast<long long>(total),
                 clock_text(elapsed).c_str(), clock_text(eta).c_str());
    if (done == total) std::fputc('\n', stderr);
  };
  if (!f.quiet) {
    std::fprintf(stderr, "%lld queries read, %zu distinct; %zu emotions, mode %s, site %s\n",
                 static_cast<long long>(queries.n_read), queries.queries.size(),
                 f.options.emotions.size(), f.options.mode.c_str(), f.site.c_str());
  }
  const ExtractResult r = extract_emotion_vectors(engine, queries, f.options);
  std::filesystem::create_directories(f.output);
  nlohmann::json files = nlohmann::json::array();
  for (const EmotionVector& v : r.vectors) {
    const std::string path = (std::filesystem::path(f.output) / (v.emotion + ".gguf")).string();
    save_control_vector(v, path);
    double max_norm = 0;
    int64_t max_layer = 0;
    for (int64_t l = 0; l < v.n_layer; ++l) {
      if (v.layer_norm(l) > max_norm) {
        max_norm = v.layer_norm(l);
        max_layer = l;
      }
    }
    files.push_back({{"emotion", v.emotion},
                     {"file", path},
                     {"max_norm", max_norm},
                     {"max_norm_layer", max_layer}});
  }
  const double tps = r.seconds > 0 ? static_cast<double>(r.n_tokens) / r.seconds : 0;
  if (f.json) {
    nlohmann::json out = {{"vectors", files},
                          {"queries_used", r.used.size()},
                          {"queries_held_out", r.held_out.size()},
                          {"prompts", r.n_prompts},
                          {"tokens", r.n_tokens},
                          {"seconds", r.seconds},
                          {"threads", engine.n_threads()}};
    std::printf("%s\n", out.dump(1).c_str());
    return;
  }
  for (const auto& file : files) {
    std::printf("wrote %s (largest norm %.3f at layer %lld)\n",
                file["file"].get<std::string>().c_str(), file["max_norm"].get<double>(),
                static_cast<long long>(file["max_norm_layer"].get<int64_t>()));
  }
  std::printf(
      "%zu queries (%zu held out), %lld prompts, %lld tokens in %.1f s (%.0f tokens/s, "
      "%d threads)\n",
      r.used.size(), r.held_out.size(), static_cast<long long>(r.n_prompts),
      static_cast<long long>(r.n_tokens), r.seconds, tps, engine.n_threads());
}

}  // namespace

void register_extract_command(CLI::App& app) {
  auto f = std::make_shared<ExtractFlags>();
  CLI::App* cmd = app.add_subcommand("extract", "extract emotion vectors from queries");
  cmd->add_option("-m,--model", f->model, "model: a GGUF file, a model folder or a shipped name")
      ->capture_default_str();
  cmd->add_option("--queries", f->queries,
                  "queries: EmotionQuery.json, a JSON list or one per line (default: the "
                  "paper's 500 shipped queries)");
  cmd->add_option("--emotions", f->emotions, "emotions to extract, comma-separated")
      ->capture_default_str();
  cmd->add_option("--site", f->site,
                  "activation site: attn_out (the paper's) or resid (llama.cpp's)")
      ->capture_default_str();
  cmd->add_option("--method", f->options.method, "mean-diff or pca")->capture_default_str();
  cmd->add_option("--mode", f->options.mode,
                  "response (average over greedy replies, the paper's way) or prompt (prefill "
                  "only, average over the prompt's last tokens)")
      ->capture_default_str();
  cmd->add_option("-o,--output", f->output,
                  "output folder: one GGUF control vector per emotion, plus base.gguf "
                  "(default: MODEL-vectors)");
  cmd->add_option("-n,--reply-tokens", f->options.reply_tokens,
                  "response mode: reply tokens per prompt at most")
      ->capture_default_str();
  cmd->add_option("--prompt-tokens", f->options.prompt_tokens,
                  "prompt mode: last prompt tokens averaged over")
      ->capture_default_str();
  cmd->add_option("--held-out", f->options.held_out,
                  "share of the queries left out, for evaluation")
      ->capture_default_str();
  cmd->add_option("--max-queries", f->options.max_queries,
                  "use at most this many queries (0: all that are not held out)")
      ->capture_default_str();
  cmd->add_option("--batch", f->options.batch_sequences, "prompts evaluated together")
      ->capture_default_str();
  cmd->add_option("--neutral-instruction", f->options.neutral_instruction,
                  "neutral prompt, with {query}")
      ->capture_default_str();
  cmd->add_option("--emotion-instruction", f->options.emotion_instruction,
                  "emotion prompt, with {emotion} and {query}")
      ->capture_default_str();
  cmd->add_option("-t,--threads", f->threads, "threads (0: all cores)")->capture_default_str();
  cmd->add_option("-c,--ctx-size", f->ctx, "context size (0: the model's, at most 4096)")
      ->capture_default_str();
  cmd->add_flag("--json", f->json, "print a JSON summary");
  cmd->add_flag("-q,--quiet", f->quiet, "no progress output");
  cmd->callback([f] { run_extract(*f); });
}

}  // namespace emovec::cli
