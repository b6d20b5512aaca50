// emovec_bench: prefill and decode speed of the engine beside llama.cpp on the same GGUF file and
// thread count, in one run, and the peak memory of a generation. Prints a table.
//
//   emovec_bench [--models a,b] [--threads 1,2] [--prompt-tokens 512] [--gen 128] [--repeat 3]
//                [--no-peer] [--python PATH]
//
// llama.cpp's figures come from tools/peer/llamacpp_bench.py (llama-cpp-python built from
// source: scripts/setup.sh --peer). Medians over the repeats. Steered decoding adds a mix of five
// random emotion vectors (alpha 0.4 each) on every layer: a steered and an unsteered sequence
// decode step by step in turn, each step timed alone; the ratio is the median of the per-repeat
// ratios.
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <random>
#include <string>
#include <vector>

#include "bench_stats.h"
#include "emovec/decoder.h"
#include "emovec/engine.h"
#include "emovec/error.h"
#include "emovec/model_registry.h"
#include "emovec/steering.h"
#include "peer_json.h"

namespace {

using Clock = std::chrono::steady_clock;
using emovec::bench::median;

struct Speed {
  double prefill = 0;  // tokens/s
  double decode = 0;
  double steered_decode = 0;  // with a five-emotion mix on every layer (emovec only)
  double steered_ratio = 0;   // median over repeats of steered / unsteered in the same repeat
};

// A mix of five emotions, each a random vector on every layer at the attention-output site:
// what a steered generation adds per token, whatever the vectors hold.
struct FiveEmotionMix {
  std::vector<emovec::EmotionVector> vectors;
  emovec::Steering steering;
};

FiveEmotionMix five_emotion_mix(const emovec::DecoderModel& model) {
  const auto& h = model.hparams();
  FiveEmotionMix m;
  std::mt19937 rng(7);
  std::normal_distribution<float> normal(0.0f, 0.05f);
  emovec::EmotionMix mix;
  for (const char* e : {"anger", "disgust", "fear", "joy", "sadness"}) {
    emovec::EmotionVector v =
        emovec::make_emotion_vector(e, emovec::ActivationSite::AttentionOut, h.n_layer, h.n_embd);
    for (float& x : v.directions) x = normal(rng);
    m.vectors.push_back(std::move(v));
    mix.terms.emplace_back(e, 0.4f);
  }
  m.steering = emovec::Steering::build(mix, m.vectors, h.n_layer, h.n_embd);
  return m;
}

std::vector<int32_t> random_tokens(int64_t n, int64_t vocab, uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::vector<int32_t> ids(static_cast<size_t>(n));
  // Ordinary tokens (the low ids of byte-level vocabularies are bytes and punctuation).
  for (int32_t& t : ids)
    t = static_cast<int32_t>(1000 +
                             rng() % static_cast<uint64_t>(std::min<int64_t>(vocab - 1000, 30000)));
  return ids;
}

Speed measure_emovec(const emovec::DecoderModel& model, int threads, int64_t n_prompt,
                     int64_t n_gen, int repeat) {
  emovec::EngineOptions o;
  o.n_threads = threads;
  o.n_ctx = n_prompt + n_gen + 16;
  o.n_batch = n_prompt;
  emovec::Engine engine(model, o);
  const std::vector<int32_t> prompt = random_tokens(n_prompt, model.hparams().n_vocab, 1);
  const FiveEmotionMix mix = five_emotion_mix(model);
  std::vector<double> prefill, decode, steered_decode;
  for (int r = 0; r < repeat; ++r) {
    {
      const emovec::SequenceId seq = engine.new_sequence();
      const emovec::BatchEntry e{seq, prompt};
      const auto t0 = Clock::now();
      engine.decode(std::span<const emovec::BatchEntry>(&e, 1));
      prefill.push_back(static_cast<double>(n_prompt) /
                        std::chrono::duration<double>(Clock::now() - t0).count());
      engine.free_sequence(seq);
    }
    // Unsteered and steered decoding step by step in turn: two sequences from the same 8
    // tokens, one with the mix, each decoding step of one followed by one of the other (which
    // goes first alternates between steps), each step timed alone. Both see the same machine at
    // a few milliseconds' distance, so a machine that speeds up or slows down favours neither.
    emovec::SteeringHook hook(mix.steering);
    const std::vector<int32_t> start(prompt.begin(), prompt.begin() + 8);
    emovec::BatchEntry entries[2] = {{engine.new_sequence(), start},
                                     {engine.new_sequence(), start}};
    entries[1].hook = &hook;  // entries[1] is the steered one
    hook.on_generation_start(static_cast<int64_t>(start.size()));
    std::optional<emovec::Logits> logits[2];
    for (int k = 0; k < 2; ++k) {
      logits[k] = engine.decode(std::span<const emovec::BatchEntry>(&entries[k], 1));
    }
    int32_t next[2] = {0, 0};
    double seconds[2] = {0, 0};
    for (int64_t i = 0; i < n_gen; ++i) {
      for (const int k : {static_cast<int>(i % 2), static_cast<int>(1 - i % 2)}) {
        const auto row = logits[k]->last(0);
        next[k] = static_cast<int32_t>(std::max_element(row.begin(), row.end()) - row.begin());
        entries[k].tokens = std::span<const int32_t>(&next[k], 1);
        const auto t0 = Clock::now();
        logits[k] = engine.decode(std::span<const emovec::BatchEntry>(&entries[k], 1));
        seconds[k] += std::chrono::duration<double>(Clock::now() - t0).count();
      }
    }
    decode.push_back(static_cast<double>(n_gen) / seconds[0]);
    steered_decode.push_back(static_cast<double>(n_gen) / seconds[1]);
    for (const emovec::BatchEntry& e : entries) engine.free_sequence(e.sequence);
  }
  std::vector<double> ratios;
  for (size_t i = 0; i < decode.size(); ++i) ratios.push_back(steered_decode[i] / decode[i]);
  return {median(prefill), median(decode), median(steered_decode), median(ratios)};
}

std::optional<Speed> measure_llamacpp(const std::string& python, const std::string& path,
                                      int threads, int64_t n_prompt, int64_t n_gen, int repeat) {
  const std::string cmd = python + " " + EMOVEC_SOURCE_DIR +
                          "/tools/peer/llamacpp_bench.py --model '" + path + "' --threads " +
                          std::to_string(threads) + " --prompt-tokens " + std::to_string(n_prompt) +
                          " --gen " + std::to_string(n_gen) + " --repeat " +
                          std::to_string(repeat) + " --json 2>/dev/null";
  const nlohmann::json j = emovec::bench::run_peer_json(cmd);
  if (j.is_discarded() || !j.contains("prefill_tps")) return std::nullopt;
  return Speed{j["prefill_tps"].get<double>(), j["decode_tps"].get<double>()};
}

// Peak resident memory (MiB) of `emovec generate` on the model, as the kernel counts it.
double generation_peak_rss_mib(const std::string& model, int threads) {
  const pid_t pid = fork();
  if (pid == 0) {
    const std::string t = std::to_string(threads);
    if (freopen("/dev/null", "w", stdout) == nullptr ||
        freopen("/dev/null", "w", stderr) == nullptr)
      _exit(126);
    execl(EMOVEC_CLI, EMOVEC_CLI, "generate", "-m", model.c_str(), "-p", "Tell me about the sea.",
          "--chat", "-n", "64", "--temp", "0", "-t", t.c_str(), static_cast<char*>(nullptr));
    _exit(127);
  }
  int status = 0;
  rusage usage{};
  if (pid < 0 || wait4(pid, &status, 0, &usage) < 0 || !WIFEXITED(status) ||
      WEXITSTATUS(status) != 0) {
    return -1;
  }
  return static_cast<double>(usage.ru_maxrss) / 1024.0;
}

std::string ratio(double a, double b) {
  if (b <= 0) return "-";
  char s[32];
  std::snprintf(s, sizeof s, "%.2fx", a / b);
  return s;
}

std::string number(double v) {
  if (v <= 0) return "-";
  char s[32];
  std::snprintf(s, sizeof s, "%.1f", v);
  return s;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"emovec_bench: engine speed beside llama.cpp"};
  std::vector<std::string> models = {"smollm2-135m-instruct", "qwen2.5-coder-1.5b-instruct"};
  std::vector<int> threads = {1, 2};
  int64_t n_prompt = 512;
  int64_t n_gen = 128;
  int repeat = 3;
  bool no_peer = false;
  std::string python = EMOVEC_PYTHON;
  app.add_option("--models", models, "shipped model names or GGUF paths")->delimiter(',');
  app.add_option("--threads", threads, "thread counts")->delimiter(',');
  app.add_option("--prompt-tokens", n_prompt, "prefill length");
  app.add_option("--gen", n_gen, "decode steps");
  app.add_option("--repeat", repeat, "repeats (the median is shown)");
  app.add_flag("--no-peer", no_peer, "skip llama.cpp");
  app.add_option("--python", python, "Python with llama-cpp-python");
  CLI11_PARSE(app, argc, argv);
  try {
    std::printf(
        "| model | threads | emovec prefill t/s | llama.cpp prefill t/s | ratio | emovec decode "
        "t/s | llama.cpp decode t/s | ratio | steered decode t/s | steered / unsteered |\n");
    std::printf("|---|---|---|---|---|---|---|---|---|---|\n");
    for (const std::string& name : models) {
      const std::string path = emovec::resolve_model_argument(name);
      const auto model = emovec::DecoderModel::load(path);
      for (int t : threads) {
        const Speed ours = measure_emovec(*model, t, n_prompt, n_gen, repeat);
        std::optional<Speed> peer;
        if (!no_peer) peer = measure_llamacpp(python, path, t, n_prompt, n_gen, repeat);
        const Speed p = peer.value_or(Speed{});
        std::printf("| %s | %d | %s | %s | %s | %s | %s | %s | %s | %s |\n", name.c_str(), t,
                    number(ours.prefill).c_str(), number(p.prefill).c_str(),
                    ratio(ours.prefill, p.prefill).c_str(), number(ours.decode).c_str(),
                    number(p.decode).c_str(), ratio(ours.decode, p.decode).c_str(),
                    number(ours.steered_decode).c_str(), ratio(ours.steered_ratio, 1.0).c_str());
        std::fflush(stdout);
      }
    }
    const std::string def = emovec::default_model().name;
    const double file_mib =
        static_cast<double>(std::filesystem::file_size(emovec::resolve_model_argument(def))) /
        (1024.0 * 1024.0);
    const double rss = generation_peak_rss_mib(def, 2);
    std::printf(
        "\npeak RSS of `emovec generate -m %s -n 64 -t 2`: %.1f MiB (file %.1f MiB, "
        "overhead %.1f MiB)\n",
        def.c_str(), rss, file_mib, rss - file_mib);
  } catch (const emovec::Error& e) {
    std::fprintf(stderr, "error: %s\n", e.what());
    return 1;
  }
  return 0;
}
