// emovec perplexity -m MODEL -f FILE: llama.cpp's perplexity measure on a text file.
#include <cstdio>

#include "commands.h"
#include "emovec/decoder.h"
#include "emovec/engine.h"
#include "emovec/error.h"
#include "emovec/model_file.h"
#include "emovec/model_registry.h"
#include "emovec/perplexity.h"
#include "emovec/tokenizer.h"
#include "format/text_file.h"

namespace emovec::cli {
namespace {

struct PerplexityFlags {
  std::string model = "smollm2-135m-instruct";
  std::string file;
  int64_t ctx = 512;
  int threads = 0;
  int64_t batch = 512;
  bool json = false;
};

void run_perplexity(const PerplexityFlags& f) {
  const std::string text = read_text_file(f.file, "the text file");
  if (f.ctx < 4) throw Error("--ctx-size must be at least 4");
  if (f.threads < 0 || f.threads > 256) {
    throw Error("--threads must be 0 (all cores) or between 1 and 256");
  }
  const auto model = DecoderModel::load(resolve_model_argument(f.model));
  if (model->tokenizer() == nullptr) throw Error(model->file().path() + " has no tokenizer");
  const Tokenizer& tok = *model->tokenizer();
  const std::vector<int32_t> tokens = tok.encode(text, true, false);
  // As llama.cpp: a model that adds BOS gets it at the start of every chunk.
  std::optional<int32_t> bos;
  if (!tokens.empty() && tok.bos_id() && tokens.front() == *tok.bos_id()) bos = tok.bos_id();
  EngineOptions eo;
  eo.n_threads = f.threads;
  eo.n_ctx = f.ctx;
  eo.n_batch = f.batch;
  Engine engine(*model, eo);
  if (!f.json) {
    std::fprintf(stderr, "%zu tokens, %lld chunks of %lld\n", tokens.size(),
                 static_cast<long long>(static_cast<int64_t>(tokens.size()) / f.ctx),
                 static_cast<long long>(f.ctx));
  }
  const PerplexityResult r = perplexity(engine, tokens, f.ctx, bos, [&](int64_t c, double ppl) {
    if (!f.json) {
      std::printf("[%lld]%.4f,", static_cast<long long>(c + 1), ppl);
      std::fflush(stdout);
    }
  });
  if (f.json) {
    const nlohmann::json out = {{"perplexity", r.perplexity}, {"uncertainty", r.uncertainty},
                                {"mean_nll", r.mean_nll},     {"tokens_scored", r.n_scored},
                                {"chunks", r.n_chunks},       {"chunk_size", f.ctx},
                                {"running", r.running}};
    std::printf("%s\n", out.dump(1).c_str());
    return;
  }
  std::printf("\nFinal estimate: PPL = %.4f +/- %.5f\n", r.perplexity, r.uncertainty);
}

}  // namespace

void register_perplexity_command(CLI::App& app) {
  auto flags = std::make_shared<PerplexityFlags>();
  CLI::App* cmd = app.add_subcommand("perplexity", "perplexity of a text file under a model");
  cmd->add_option("-m,--model", flags->model, "model: a GGUF file, a folder or a shipped name")
      ->capture_default_str();
  cmd->add_option("-f,--file", flags->file, "text file")->required();
  cmd->add_option("-c,--ctx-size", flags->ctx, "chunk size in tokens")->capture_default_str();
  cmd->add_option("-t,--threads", flags->threads, "threads (0: all cores)")->capture_default_str();
  cmd->add_option("-b,--batch-size", flags->batch, "tokens per forward pass")
      ->capture_default_str();
  cmd->add_flag("--json", flags->json, "print the result as JSON");
  cmd->callback([flags] { run_perplexity(*flags); });
}

}  // namespace emovec::cli
