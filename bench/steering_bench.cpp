// emovec_steering_bench: emotion vectors on the default model, in one run.
//  1. Extraction time of all five emotions (plus base) over the shipped queries, prompt mode
//     and (with --response) response mode, on the given threads.
//  2. For each emotion: the projection of reply activations onto its vector at each alpha, on
//     held-out queries (replies generated steered, read back unsteered), and whether it rises
//     monotonically with alpha.
//  3. With --peer N: prompt-mode extraction of the first N queries beside transformers + PyTorch
//     with forward hooks (tools/peer/transformers_extract_bench.py, packages from the default
//     setup), and how closely the vectors agree.
// Prints tables.
//
//   emovec_steering_bench [--model NAME] [--vectors DIR] [--threads 2] [--response]
//                         [--held-out-queries 20] [--reply-tokens 32] [--alphas -1,0,1,2]
//                         [--no-extract] [--no-projection] [--peer N]
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <vector>

#include "emovec/decoder.h"
#include "emovec/emotion_vector.h"
#include "emovec/engine.h"
#include "emovec/error.h"
#include "emovec/extract.h"
#include "emovec/model_registry.h"
#include "peer_json.h"

namespace {

std::vector<float> parse_floats(const std::string& s) {
  std::vector<float> out;
  std::stringstream in(s);
  std::string item;
  while (std::getline(in, item, ',')) out.push_back(std::stof(item));
  return out;
}

// Whether extraction with the default options reproduces the shipped vectors bit for bit.
std::string compare_with_shipped(const emovec::ExtractResult& r, const std::string& dir) {
  try {
    for (const auto& v : r.vectors) {
      const auto shipped = emovec::load_emotion_vector(dir + "/" + v.emotion + ".gguf");
      if (shipped.directions != v.directions) return "differs (" + v.emotion + ")";
    }
    return "identical";
  } catch (const std::exception& e) {
    return std::string("not compared: ") + e.what();
  }
}

// The exact path, as extraction runs it.
emovec::EngineOptions engine_options(int threads) {
  emovec::EngineOptions eo;
  eo.n_threads = threads;
  eo.n_batch = 4096;
  eo.exact = true;
  return eo;
}

void extraction_table(const emovec::DecoderModel& model, const emovec::QuerySet& queries,
                      int threads, bool response, const std::string& shipped_dir) {
  std::printf("\n## Extraction: five emotions + base, %zu distinct queries, %d threads\n\n",
              queries.queries.size(), threads);
  std::printf(
      "| mode | held out | queries used | prompts | tokens | seconds | tokens/s | vs shipped |\n");
  std::printf("|---|---|---|---|---|---|---|---|\n");
  struct Run {
    std::string mode;
    double held_out;
  };
  std::vector<Run> runs = {{"prompt", 0.2}, {"prompt", 0.0}};
  if (response) runs.push_back({"response", 0.2});
  for (const Run& run : runs) {
    emovec::Engine engine(model, engine_options(threads));
    emovec::ExtractOptions o;
    o.mode = run.mode;
    o.held_out = run.held_out;
    const emovec::ExtractResult r = emovec::extract_emotion_vectors(engine, queries, o);
    const std::string shipped =
        run.mode == "response" && run.held_out == 0.2 ? compare_with_shipped(r, shipped_dir) : "-";
    std::printf("| %s%s | %.0f%% | %zu | %lld | %lld | %.1f | %.0f | %s |\n", run.mode.c_str(),
                run.mode == "response" ? " (48 reply tokens)" : " (last 8 tokens)",
                run.held_out * 100, r.used.size(), static_cast<long long>(r.n_prompts),
                static_cast<long long>(r.n_tokens), r.seconds,
                static_cast<double>(r.n_tokens) / r.seconds, shipped.c_str());
    std::fflush(stdout);
  }
}

// The same prompt-mode extraction (first n_queries queries, none held out) by emovec and by
// transformers + PyTorch with forward hooks (tools/peer/transformers_extract_bench.py), on the
// same threads: times, the speed-up, and the lowest cosine between the two vectors of an emotion.
void peer_extraction_table(const emovec::DecoderModel& model, const std::string& model_path,
                           const emovec::QuerySet& queries, const std::string& queries_path,
                           int threads, int64_t n_queries) {
  emovec::Engine engine(model, engine_options(threads));
  emovec::ExtractOptions o;
  o.mode = "prompt";
  o.held_out = 0.0;
  o.max_queries = n_queries;
  const emovec::ExtractResult r = emovec::extract_emotion_vectors(engine, queries, o);
  const std::filesystem::path dir =
      std::filesystem::temp_directory_path() / ("emovec_peer_extract_" + std::to_string(getpid()));
  std::filesystem::create_directories(dir);
  for (const auto& v : r.vectors)
    emovec::save_control_vector(v, (dir / (v.emotion + ".gguf")).string());
  const std::string cmd = std::string(EMOVEC_PYTHON) + " " + EMOVEC_SOURCE_DIR +
                          "/tools/peer/transformers_extract_bench.py --model '" + model_path +
                          "' --queries '" + queries_path + "' --max-queries " +
                          std::to_string(n_queries) + " --threads " + std::to_string(threads) +
                          " --compare '" + dir.string() + "' --json 2>/dev/null";
  const nlohmann::json j = emovec::bench::run_peer_json(cmd);
  std::filesystem::remove_all(dir);
  std::printf(
      "\n## Extraction beside transformers + forward hooks: prompt mode, first %lld queries, "
      "%d threads\n\n",
      static_cast<long long>(n_queries), threads);
  std::printf(
      "| engine | prompts | tokens evaluated | seconds | emovec speed-up "
      "|\n|---|---|---|---|---|\n");
  std::printf("| emovec | %lld | %lld | %.1f | |\n", static_cast<long long>(r.n_prompts),
              static_cast<long long>(r.n_tokens), r.seconds);
  if (j.is_discarded() || !j.contains("seconds")) {
    std::printf("| transformers | - | - | - | (the peer script failed: bash scripts/setup.sh) |\n");
    return;
  }
  const double peer_seconds = j["seconds"].get<double>();
  std::printf("| transformers %s + torch %s + hooks | %lld | %lld | %.1f | %.2fx |\n",
              j.value("transformers", std::string()).c_str(),
              j.value("torch", std::string()).c_str(), j["prompts"].get<long long>(),
              j["tokens"].get<long long>(), peer_seconds, peer_seconds / r.seconds);
  double lowest = 1.0;
  for (const auto& [emotion, c] : j["lowest_cosine"].items())
    lowest = std::min(lowest, c.get<double>());
  std::printf(
      "\nLowest cosine between the two implementations' vectors (any emotion, layers 1..L-1): "
      "%.6f\n",
      lowest);
  std::fflush(stdout);
}

void projection_table(const emovec::DecoderModel& model, const emovec::QuerySet& queries,
                      const std::string& vectors_dir, int threads, int64_t n_queries,
                      int64_t reply_tokens, const std::vector<float>& alphas) {
  const auto vectors = emovec::load_emotion_vectors({vectors_dir});
  // The held-out queries the vectors record (the first n_queries of them).
  std::vector<std::string> held;
  for (const int64_t id : vectors.front().provenance.held_out) {
    if (static_cast<int64_t>(held.size()) >= n_queries) break;
    if (id >= 0 && id < static_cast<int64_t>(queries.queries.size())) {
      held.push_back(queries.queries[static_cast<size_t>(id)]);
    }
  }
  if (held.empty()) throw emovec::Error(vectors_dir + ": the vectors record no held-out queries");
  std::printf(
      "\n## Projection of reply activations on each vector (%zu held-out queries, %lld "
      "reply tokens, %s site)\n\n",
      held.size(), static_cast<long long>(reply_tokens),
      std::string(emovec::activation_site_name(vectors.front().site)).c_str());
  std::printf("| vector |");
  for (const float a : alphas) std::printf(" alpha %g |", static_cast<double>(a));
  std::printf(" rises monotonically |\n|---|");
  for (size_t i = 0; i <= alphas.size(); ++i) std::printf("---|");
  std::printf("\n");
  emovec::Engine engine(model, engine_options(threads));
  emovec::ProjectionOptions po;
  po.reply_tokens = reply_tokens;
  for (const auto& v : vectors) {
    const std::vector<double> p = emovec::reply_projections(engine, v, held, alphas, po);
    bool rising = true;
    std::printf("| %s |", v.emotion.c_str());
    for (size_t i = 0; i < p.size(); ++i) {
      std::printf(" %.3f |", p[i]);
      if (i > 0 && !(p[i] > p[i - 1])) rising = false;
    }
    std::printf(" %s |\n", rising ? "yes" : "no");
    std::fflush(stdout);
  }
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"emotion vectors on the default model: extraction time and steering projection"};
  std::string model_name = emovec::default_model().name;
  std::string vectors_dir;
  std::string queries_path =
      std::string(EMOVEC_SOURCE_DIR) + "/data/emotionquery/EmotionQuery.json";
  int threads = 2;
  bool response = false;
  bool no_extract = false;
  bool no_projection = false;
  int64_t n_queries = 20;
  int64_t reply_tokens = 32;
  std::string alphas = "-1,0,1,2";
  int64_t peer_queries = 0;
  app.add_option("--model", model_name, "model")->capture_default_str();
  app.add_option("--vectors", vectors_dir, "vector folder (default: the shipped ones)");
  app.add_option("--queries", queries_path, "queries file")->capture_default_str();
  app.add_option("--threads", threads, "threads")->capture_default_str();
  app.add_flag("--response", response, "also time response-mode extraction (long)");
  app.add_flag("--no-extract", no_extract, "skip the extraction timings");
  app.add_flag("--no-projection", no_projection, "skip the projection table");
  app.add_option("--held-out-queries", n_queries, "held-out queries to project")
      ->capture_default_str();
  app.add_option("--reply-tokens", reply_tokens, "reply tokens")->capture_default_str();
  app.add_option("--alphas", alphas, "alphas, comma-separated")->capture_default_str();
  app.add_option("--peer", peer_queries,
                 "also extract the first N queries with transformers + hooks and compare (0: no)")
      ->capture_default_str();
  CLI11_PARSE(app, argc, argv);
  try {
    if (vectors_dir.empty()) {
      vectors_dir = std::string(EMOVEC_SOURCE_DIR) + "/vectors/" + model_name;
    }
    const std::string model_path = emovec::resolve_model_argument(model_name);
    const auto model = emovec::DecoderModel::load(model_path);
    const emovec::QuerySet queries = emovec::load_queries(queries_path);
    std::printf("# emovec_steering_bench: %s\n", model_name.c_str());
    if (!no_extract) extraction_table(*model, queries, threads, response, vectors_dir);
    if (peer_queries > 0) {
      peer_extraction_table(*model, model_path, queries, queries_path, threads, peer_queries);
    }
    if (!no_projection) {
      projection_table(*model, queries, vectors_dir, threads, n_queries, reply_tokens,
                       parse_floats(alphas));
    }
  } catch (const std::exception& e) {
    std::fprintf(stderr, "error: %s\n", e.what());
    return 1;
  }
  return 0;
}
