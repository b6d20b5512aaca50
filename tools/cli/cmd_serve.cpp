// emovec serve: the OpenAI-compatible server with per-request emotions.
#include <cstdio>
#include <filesystem>

#include "cache_flags.h"
#include "commands.h"
#include "emovec/decoder.h"
#include "emovec/engine.h"
#include "emovec/error.h"
#include "emovec/model_registry.h"
#include "resources.h"
#include "server/server.h"

namespace emovec::cli {
namespace {

struct ServeFlags {
  std::string model = "smollm2-135m-instruct";
  std::vector<std::string> ev;
  std::string host = "127.0.0.1";
  int port = 8080;
  int parallel = 4;
  int max_queue = 64;
  int prompt_cache = -1;
  int64_t ctx = 0;
  int threads = 0;
  std::string api_key;
  size_t max_body_bytes = 1 << 20;
  bool exact = false;
  CacheFlags cache;
  std::string emotion;
  std::string positions = "last";
  std::vector<int> layer_range;
  bool preserve_norm = false;
};

std::string model_id(const std::string& argument) {
  const std::filesystem::path p(argument);
  if (!std::filesystem::exists(p)) return argument;  // a registry name
  return p.has_filename() ? p.filename().string() : p.parent_path().filename().string();
}

void run_serve(const ServeFlags& f) {
  if (f.port < 0 || f.port > 65535) throw Error("--port must be between 0 and 65535");
  if (f.parallel < 1 || f.parallel > 256) throw Error("--parallel must be between 1 and 256");
  if (f.max_queue < 0 || f.max_queue > 4096) throw Error("--max-queue must be between 0 and 4096");
  if (f.prompt_cache < -1 || f.prompt_cache > 256) {
    throw Error("--prompt-cache must be -1 (as many as --parallel), 0 (none) or up to 256");
  }
  if (f.threads < 0 || f.threads > 256) throw Error("--threads must be 0 (all cores) or 1 to 256");
  if (f.ctx < 0) throw Error("--ctx-size must be 0 (the model's) or positive");
  if (f.max_body_bytes < 1024) throw Error("--max-body-bytes must be at least 1024");

  const auto model = DecoderModel::load(resolve_model_argument(f.model));
  const auto& h = model->hparams();

  std::vector<server::NamedVector> vectors;
  std::vector<std::string> sources = f.ev;
  if (sources.empty()) {
    if (const auto dir = shipped_vectors_for(f.model)) sources.push_back(*dir);
  }
  for (const std::string& src : sources) {
    const bool folder = std::filesystem::is_directory(src);
    for (EmotionVector& v : load_emotion_vectors({src})) {
      check_vector_fits(v, h.n_layer, h.n_embd, "the vector '" + v.emotion + "' of " + src);
      server::NamedVector nv;
      nv.source = folder ? (std::filesystem::path(src) / (v.emotion + ".gguf")).string() : src;
      nv.vector = std::move(v);
      vectors.push_back(std::move(nv));
    }
  }
  if (vectors.empty()) {
    std::fprintf(stderr, "no emotion vectors loaded (give --ev FILE, or POST /v1/emotions)\n");
  }

  server::ServerOptions o;
  o.host = f.host;
  o.port = f.port;
  o.model_id = model_id(f.model);
  o.api_key = f.api_key;
  o.max_body_bytes = f.max_body_bytes;
  o.max_parallel = f.parallel;
  o.prompt_cache = f.prompt_cache;
  o.max_queue = f.max_queue;
  o.default_steering.options.positions = parse_steering_positions(f.positions);
  o.default_steering.options.preserve_norm = f.preserve_norm;
  if (!f.layer_range.empty()) {
    o.default_steering.options.set_layers(f.layer_range[0], f.layer_range[1], h.n_layer,
                                          "--layer-range");
  }
  if (!f.emotion.empty()) o.default_steering.mix = parse_emotion_mix(f.emotion);

  EngineOptions e;
  e.n_threads = f.threads;
  e.n_ctx = f.ctx;
  e.exact = f.exact;
  apply_cache_flags(f.cache, e);
  e.batch_invariant = true;
  Engine engine(*model, e);
  std::fprintf(stderr, "%s: %lld positions per request, %d in parallel, %zu emotion vectors\n",
               o.model_id.c_str(), static_cast<long long>(engine.n_ctx()), f.parallel,
               vectors.size());
  server::serve(*model, engine, std::move(vectors), o);
}

}  // namespace

void register_serve_command(CLI::App& app) {
  auto f = std::make_shared<ServeFlags>();
  CLI::App* cmd = app.add_subcommand(
      "serve", "OpenAI-compatible HTTP server with a per-request emotion mix, and a chat page");
  cmd->add_option("-m,--model", f->model, "model: a GGUF file, a model folder or a shipped name")
      ->capture_default_str();
  cmd->add_option("--ev", f->ev, "emotion vector files or folders (default: the shipped ones)");
  cmd->add_option("--host", f->host, "address to listen on")->capture_default_str();
  cmd->add_option("--port", f->port, "port (0: any free one)")->capture_default_str();
  cmd->add_option("--parallel", f->parallel, "requests decoded together")->capture_default_str();
  cmd->add_option("--max-queue", f->max_queue, "requests waiting beyond those; more get HTTP 429")
      ->capture_default_str();
  cmd->add_option("--prompt-cache", f->prompt_cache,
                  "finished sequences kept for requests with \"cache_prompt\": true (-1: as "
                  "many as --parallel; 0: none)")
      ->capture_default_str();
  cmd->add_option("-c,--ctx-size,--ctx", f->ctx,
                  "positions per request (0: the model's, at most 4096)")
      ->capture_default_str();
  cmd->add_option("-t,--threads", f->threads, "threads (0: all cores)")->capture_default_str();
  cmd->add_option("--api-key", f->api_key, "require 'Authorization: Bearer KEY' on /v1/");
  cmd->add_option("--max-body-bytes", f->max_body_bytes, "largest request body accepted")
      ->capture_default_str();
  cmd->add_flag("--exact", f->exact, "float32 activations in every product (slower)");
  add_cache_flags(cmd, f->cache);
  cmd->add_option("--emotion", f->emotion,
                  "mix for requests without an \"emotion\" field, e.g. joy=1");
  cmd->add_option("--steer-positions", f->positions,
                  "default positions steered: last (the paper's), all, generated")
      ->capture_default_str();
  cmd->add_option("--layer-range", f->layer_range,
                  "default steered layers, first and last (inclusive)")
      ->expected(2);
  cmd->add_flag("--preserve-norm", f->preserve_norm, "by default, keep each steered row's norm");
  cmd->callback([f] { run_serve(*f); });
}

}  // namespace emovec::cli
