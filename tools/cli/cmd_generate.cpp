// emovec generate / emovec chat: text generation with llama.cpp's flag names.
#include <chrono>
#include <cstdio>
#include <iostream>
#include <random>

#include "cache_flags.h"
#include "commands.h"
#include "emovec/decoder.h"
#include "emovec/error.h"
#include "emovec/generate.h"
#include "emovec/model_file.h"
#include "emovec/model_registry.h"
#include "emovec/steering.h"
#include "emovec/tokenizer.h"
#include "format/text_file.h"
#include "steering_flags.h"

namespace emovec::cli {
namespace {

struct GenerationFlags {
  std::string model = "smollm2-135m-instruct";
  std::string prompt;
  std::string prompt_file;
  std::string system;
  bool chat = false;
  GenerateOptions generation;  // flags bind to its fields; its defaults are llama.cpp's
  int64_t seed = -1;           // -1: a random seed, printed
  int threads = 0;
  int64_t ctx = 0;
  int64_t batch = 512;
  bool exact = false;
  CacheFlags cache;
  bool json = false;
  SteeringFlags steer;
  bool compare = false;
};

void add_common_flags(CLI::App* cmd, GenerationFlags& f) {
  cmd->add_option("-m,--model", f.model, "model: a GGUF file, a model folder or a shipped name")
      ->capture_default_str();
  cmd->add_option("-n,--n-predict", f.generation.n_predict,
                  "tokens to generate at most (-1: until the end of the reply)")
      ->capture_default_str();
  cmd->add_option("--temp", f.generation.sampling.temperature, "temperature (0: greedy)")
      ->capture_default_str();
  cmd->add_option("--top-k", f.generation.sampling.top_k, "top-k sampling (0: off)")
      ->capture_default_str();
  cmd->add_option("--top-p", f.generation.sampling.top_p, "top-p sampling (1: off)")
      ->capture_default_str();
  cmd->add_option("--min-p", f.generation.sampling.min_p, "min-p sampling (0: off)")
      ->capture_default_str();
  cmd->add_option("--repeat-penalty", f.generation.sampling.repeat_penalty,
                  "repetition penalty (1: off)")
      ->capture_default_str();
  cmd->add_option("--repeat-last-n", f.generation.sampling.repeat_last_n,
                  "tokens the penalty looks back at")
      ->capture_default_str();
  cmd->add_option("-s,--seed", f.seed, "random seed (-1: a random one, printed)")
      ->capture_default_str();
  cmd->add_option("-t,--threads", f.threads, "threads (0: all cores)")->capture_default_str();
  cmd->add_option("-c,--ctx-size", f.ctx, "context size (0: the model's, at most 4096)")
      ->capture_default_str();
  cmd->add_option("-b,--batch-size", f.batch, "tokens per forward pass during prefill")
      ->capture_default_str();
  cmd->add_option("--stop", f.generation.stop, "stop string (repeatable)");
  cmd->add_flag("--ignore-eos", f.generation.ignore_eos,
                "keep generating past end-of-reply tokens");
  cmd->add_flag("--exact", f.exact,
                "float32 activations in every product (slower; the path checked against "
                "transformers) instead of int8-quantised activations while decoding");
  add_cache_flags(cmd, f.cache);
  cmd->add_option("--system-prompt", f.system, "system message (with --chat / in chat)");
  add_steering_flags(cmd, f.steer);
}

GenerateOptions generate_options(const GenerationFlags& f) {
  GenerateOptions o = f.generation;
  if (f.seed < 0 && !o.sampling.greedy()) {
    o.sampling.seed = std::random_device{}();
    std::fprintf(stderr, "seed: %llu\n", static_cast<unsigned long long>(o.sampling.seed));
  } else {
    o.sampling.seed = static_cast<uint64_t>(f.seed);
  }
  o.sampling.validate();
  return o;
}

std::unique_ptr<DecoderModel> load_decoder(const std::string& argument) {
  return DecoderModel::load(resolve_model_argument(argument));
}

EngineOptions engine_options(const GenerationFlags& f) {
  if (f.threads < 0 || f.threads > 256) {
    throw Error("--threads must be 0 (all cores) or between 1 and 256");
  }
  if (f.ctx < 0) throw Error("--ctx-size must be 0 (the model's) or positive");
  if (f.batch <= 0) throw Error("--batch-size must be positive");
  EngineOptions e;
  e.n_threads = f.threads;
  e.n_ctx = f.ctx;
  e.n_batch = f.batch;
  e.exact = f.exact;
  // --compare: each reply what the same command without --compare gives for its mix.
  e.batch_invariant = f.compare;
  apply_cache_flags(f.cache, e);
  return e;
}

void print_timings(const GenerateResult& r) {
  const double pre =
      r.prefill_seconds > 0 ? static_cast<double>(r.n_prompt) / r.prefill_seconds : 0;
  const double dec = r.decode_seconds > 0 && !r.tokens.empty()
                         ? static_cast<double>(r.tokens.size()) / r.decode_seconds
                         : 0;
  std::fprintf(stderr,
               "\n[prompt: %lld tokens, %.1f tokens/s | reply: %zu tokens, %.1f tokens/s | "
               "finish: %s]\n",
               static_cast<long long>(r.n_prompt), pre, r.tokens.size(), dec,
               r.finish_reason.c_str());
}

// The prompt answered without steering and once per term of --emotion, decoded in one batch;
// each prompt is evaluated in a pass of its own, so each reply is, bit for bit, what generate
// gives alone with that mix.
void run_compare(const GenerationFlags& f, const GenerateOptions& options,
                 const SteeringSetup& setup, Engine& engine, const std::vector<int32_t>& ids) {
  if (f.steer.emotion.empty()) {
    throw Error("--compare needs --emotion with the emotions to compare, e.g. joy=1.5,anger=1.5");
  }
  const EmotionMix mix = parse_emotion_mix(f.steer.emotion);
  std::vector<std::string> labels = {"neutral"};
  std::vector<std::unique_ptr<Steering>> steerings(1);
  for (const auto& [name, alpha] : mix.terms) {
    EmotionMix one;
    one.terms.emplace_back(name, alpha);
    labels.push_back(to_string(one));
    steerings.push_back(setup.make_steering(labels.back()));
  }
  std::vector<std::unique_ptr<SteeringHook>> hooks;
  std::vector<GenerateRequest> requests(labels.size());
  for (size_t i = 0; i < labels.size(); ++i) {
    requests[i].prompt = ids;
    requests[i].options = options;
    if (steerings[i]) {
      hooks.push_back(std::make_unique<SteeringHook>(*steerings[i]));
      requests[i].options.hook = hooks.back().get();
    }
  }
  if (steerings[1]) {
    std::fprintf(stderr, "%s\n", setup.describe(*steerings[1], f.steer.emotion).c_str());
  }
  const std::vector<GenerateResult> results = generate_batch(engine, requests, PromptPasses::Apart);
  if (f.json) {
    nlohmann::json out = nlohmann::json::array();
    for (size_t i = 0; i < results.size(); ++i) {
      out.push_back({{"emotion", labels[i]},
                     {"text", results[i].text},
                     {"tokens", results[i].tokens},
                     {"finish_reason", results[i].finish_reason}});
    }
    std::printf("%s\n", out.dump(1).c_str());
    return;
  }
  if (!f.chat) std::printf("%s\n", f.prompt.c_str());
  for (size_t i = 0; i < results.size(); ++i) {
    std::printf("\n[%s]\n%s\n", labels[i].c_str(), results[i].text.c_str());
  }
  std::fprintf(stderr, "\n[%zu replies in one batch: prompt %.2f s, replies %.2f s]\n",
               results.size(), results[0].prefill_seconds, results[0].decode_seconds);
}

void run_generate(const GenerationFlags& f) {
  std::string prompt = f.prompt;
  if (!f.prompt_file.empty()) {
    prompt = read_text_file(f.prompt_file, "the prompt file");
  }
  if (prompt.empty()) throw Error("the prompt is empty: give one with -p TEXT or -f FILE");
  const GenerateOptions options = generate_options(f);
  const auto model = load_decoder(f.model);
  std::vector<int32_t> ids;
  if (f.chat) {
    std::vector<ChatMessage> messages;
    if (!f.system.empty()) messages.push_back({"system", f.system});
    messages.push_back({"user", prompt});
    ids = tokenize_chat(*model, messages);
  } else {
    ids = tokenize_prompt(*model, prompt);
  }
  if (ids.empty()) throw Error("the prompt gives no tokens");
  const SteeringSetup setup(f.steer, *model, f.model);
  Engine engine(*model, engine_options(f));
  if (f.compare) {
    run_compare(f, options, setup, engine, ids);
    return;
  }
  const std::unique_ptr<Steering> steering = setup.make_steering(f.steer.emotion);
  std::unique_ptr<SteeringHook> hook;
  GenerateOptions steered = options;
  if (steering) {
    hook = std::make_unique<SteeringHook>(*steering);
    steered.hook = hook.get();
    std::fprintf(stderr, "%s\n", setup.describe(*steering, f.steer.emotion).c_str());
  }
  Generator generator(engine);
  if (f.json) {
    const GenerateResult r = generator.run(ids, steered);
    nlohmann::json out = {{"text", r.text},
                          {"tokens", r.tokens},
                          {"prompt_tokens", ids.size()},
                          {"prompt_ids", ids},
                          {"finish_reason", r.finish_reason},
                          {"emotion", f.steer.emotion},
                          {"prefill_seconds", r.prefill_seconds},
                          {"decode_seconds", r.decode_seconds}};
    std::printf("%s\n", out.dump(1).c_str());
    return;
  }
  if (!f.chat) std::fwrite(prompt.data(), 1, prompt.size(), stdout);
  const GenerateResult r = generator.run(ids, steered, [](std::string_view piece) {
    std::fwrite(piece.data(), 1, piece.size(), stdout);
    std::fflush(stdout);
    return true;
  });
  std::fputs("\n", stdout);
  print_timings(r);
}

void run_chat(const GenerationFlags& f) {
  const GenerateOptions options = generate_options(f);
  const auto model = load_decoder(f.model);
  if (model->chat_template() == nullptr) {
    throw Error(model->file().path() +
                " has no chat template (a base model): use emovec generate instead");
  }
  const SteeringSetup setup(f.steer, *model, f.model);
  Engine engine(*model, engine_options(f));
  Generator generator(engine);
  std::string spec = f.steer.emotion;
  std::unique_ptr<Steering> steering = setup.make_steering(spec);
  std::unique_ptr<SteeringHook> hook;
  GenerateOptions steered = options;
  const auto install = [&] {
    hook = steering ? std::make_unique<SteeringHook>(*steering) : nullptr;
    steered.hook = hook.get();
    std::fprintf(stderr, "%s\n",
                 steering ? setup.describe(*steering, spec).c_str() : "steering: none");
  };
  if (steering) install();
  std::vector<ChatMessage> messages;
  if (!f.system.empty()) messages.push_back({"system", f.system});
  std::fprintf(stderr,
               "chat with %s: type a message; /emotion joy=1.5 sets the emotion mix (/emotion "
               "off clears it), /reset starts over, /exit quits\n",
               f.model.c_str());
  std::string line;
  for (;;) {
    std::fputs("> ", stdout);
    std::fflush(stdout);
    if (!std::getline(std::cin, line)) break;
    if (line == "/exit" || line == "/quit") break;
    if (line == "/reset") {
      messages.resize(f.system.empty() ? 0 : 1);
      continue;
    }
    if (line.rfind("/emotion", 0) == 0) {
      std::string next = line.substr(8);
      next.erase(0, next.find_first_not_of(" \t"));
      if (next == "off" || next == "none") next.clear();
      try {
        std::unique_ptr<Steering> replacement = setup.make_steering(next);
        steering = std::move(replacement);
        spec = next;
        install();
      } catch (const Error& e) {
        std::fprintf(stderr, "error: %s\n", e.what());
      }
      continue;
    }
    if (line.empty()) continue;
    messages.push_back({"user", line});
    const std::vector<int32_t> ids = tokenize_chat(*model, messages);
    GenerateResult r;
    try {
      r = generator.run(ids, steered, [](std::string_view piece) {
        std::fwrite(piece.data(), 1, piece.size(), stdout);
        std::fflush(stdout);
        return true;
      });
    } catch (const Error& e) {
      messages.pop_back();
      std::fprintf(stderr, "error: %s\n", e.what());
      if (messages.size() > (f.system.empty() ? 0u : 1u)) {
        std::fprintf(stderr, "(/reset starts the conversation over)\n");
      }
      continue;
    }
    std::fputs("\n", stdout);
    std::fflush(stdout);
    if (r.finish_reason == "context") {
      std::fprintf(stderr,
                   "(the reply stopped at the end of the context, %lld positions: /reset starts "
                   "the conversation over, or raise --ctx-size)\n",
                   static_cast<long long>(engine.n_ctx()));
    }
    messages.push_back({"assistant", r.text});
  }
}

}  // namespace

void register_generate_command(CLI::App& app) {
  auto flags = std::make_shared<GenerationFlags>();
  CLI::App* cmd = app.add_subcommand("generate", "generate text from a prompt");
  add_common_flags(cmd, *flags);
  cmd->add_option("-p,--prompt", flags->prompt, "prompt text");
  cmd->add_option("-f,--file", flags->prompt_file, "read the prompt from a file");
  cmd->add_flag("--chat", flags->chat, "apply the model's chat template to the prompt");
  cmd->add_flag("--json", flags->json, "print the result as JSON (no streaming)");
  cmd->add_flag("--compare", flags->compare,
                "answer unsteered and once per emotion of --emotion, side by side (one batch)");
  cmd->callback([flags] { run_generate(*flags); });
}

void register_chat_command(CLI::App& app) {
  auto flags = std::make_shared<GenerationFlags>();
  CLI::App* cmd = app.add_subcommand("chat", "interactive chat, streaming the replies");
  add_common_flags(cmd, *flags);
  cmd->callback([flags] { run_chat(*flags); });
}

}  // namespace emovec::cli
