// emovec inspect MODEL: architecture, hyper-parameters, tensors, tokenizer and chat template.
#include <cstdio>
#include <iostream>
#include <map>

#include "commands.h"
#include "emovec/gguf.h"
#include "model_loading.h"

namespace emovec::cli {
namespace {

struct InspectOptions {
  std::string model;
  bool as_json = false;
  int tensor_rows = -1;  // -1: all
  bool full_template = false;
};

std::string shape_text(const std::vector<int64_t>& shape) {
  std::string s;
  for (size_t i = 0; i < shape.size(); ++i) s += (i ? " x " : "") + std::to_string(shape[i]);
  return s;
}

nlohmann::json config_json(const ModelConfig& c) {
  return {{"architecture", c.architecture},
          {"name", c.name},
          {"n_layer", c.n_layer},
          {"n_embd", c.n_embd},
          {"n_ff", c.n_ff},
          {"n_head", c.n_head},
          {"n_head_kv", c.n_head_kv},
          {"head_dim", c.head_dim},
          {"n_ctx_train", c.n_ctx_train},
          {"vocab_size", c.vocab_size},
          {"rope_freq_base", c.rope_freq_base},
          {"norm_eps", c.norm_eps},
          {"sliding_window", c.sliding_window}};
}

nlohmann::json tokenizer_json(const Tokenizer& t) {
  nlohmann::json j = {
      {"kind", t.kind()}, {"pre_tokenizer", t.pre_tokenizer()}, {"vocab_size", t.vocab_size()}};
  if (auto bos = t.bos_id()) j["bos"] = {{"id", *bos}, {"text", t.token_text(*bos)}};
  if (auto eos = t.eos_id()) j["eos"] = {{"id", *eos}, {"text", t.token_text(*eos)}};
  return j;
}

nlohmann::json inspect_json(const LoadedModel& m) {
  nlohmann::json tensors = nlohmann::json::array();
  for (const auto& t : m.file->tensors()) {
    tensors.push_back({{"name", t.name},
                       {"type", tensor_type_name(t.type)},
                       {"shape", t.shape},
                       {"bytes", t.nbytes}});
  }
  nlohmann::json out = {
      {"path", m.file->path()},
      {"format", m.file->format() == ModelFormat::Gguf ? "gguf" : "huggingface"},
      {"config", config_json(m.file->config())},
      {"metadata", m.file->metadata_summary()},
      {"tensors", tensors},
      {"tokenizer", tokenizer_json(*m.tokenizer)},
  };
  auto tmpl = m.file->chat_template();
  out["chat_template"] = tmpl ? nlohmann::json(*tmpl) : nlohmann::json(nullptr);
  return out;
}

void print_config(const ModelConfig& c) {
  std::printf("architecture      %s\n", c.architecture.c_str());
  if (!c.name.empty()) std::printf("name              %s\n", c.name.c_str());
  std::printf("layers            %lld\n", static_cast<long long>(c.n_layer));
  std::printf("embedding         %lld\n", static_cast<long long>(c.n_embd));
  std::printf("feed-forward      %lld\n", static_cast<long long>(c.n_ff));
  std::printf("heads (q / kv)    %lld / %lld, head dim %lld\n", static_cast<long long>(c.n_head),
              static_cast<long long>(c.n_head_kv), static_cast<long long>(c.head_dim));
  std::printf("context (train)   %lld\n", static_cast<long long>(c.n_ctx_train));
  std::printf("vocabulary        %lld\n", static_cast<long long>(c.vocab_size));
  if (c.rope_freq_base > 0) std::printf("rope base         %g\n", c.rope_freq_base);
  if (c.norm_eps > 0) std::printf("norm epsilon      %g\n", c.norm_eps);
  if (c.sliding_window > 0) {
    std::printf("sliding window    %lld\n", static_cast<long long>(c.sliding_window));
  }
}

void print_tensors(const ModelFile& file, int rows) {
  std::map<std::string, std::pair<int, uint64_t>> by_type;
  uint64_t total_bytes = 0;
  int64_t total_params = 0;
  for (const auto& t : file.tensors()) {
    auto& [count, bytes] = by_type[std::string(tensor_type_name(t.type))];
    ++count;
    bytes += t.nbytes;
    total_bytes += t.nbytes;
    total_params += t.elements();
  }
  std::printf("\ntensors           %zu, %.1f M parameters, %.1f MB\n", file.tensors().size(),
              static_cast<double>(total_params) / 1e6, static_cast<double>(total_bytes) / 1e6);
  for (const auto& [type, stat] : by_type) {
    std::printf("  %-8s %5d tensors  %9.1f MB\n", type.c_str(), stat.first,
                static_cast<double>(stat.second) / 1e6);
  }
  const size_t n =
      rows < 0 ? file.tensors().size() : std::min(file.tensors().size(), static_cast<size_t>(rows));
  if (n == 0) return;
  std::printf("\n  %-40s %-6s %-20s %12s\n", "name", "type", "shape", "bytes");
  for (size_t i = 0; i < n; ++i) {
    const auto& t = file.tensors()[i];
    std::printf("  %-40s %-6s %-20s %12llu\n", t.name.c_str(),
                std::string(tensor_type_name(t.type)).c_str(), shape_text(t.shape).c_str(),
                static_cast<unsigned long long>(t.nbytes));
  }
  if (n < file.tensors().size()) std::printf("  ... %zu more\n", file.tensors().size() - n);
}

void print_tokenizer(const Tokenizer& t) {
  std::printf("\ntokenizer         %s (pre-tokenizer %s), %d tokens\n",
              std::string(t.kind()).c_str(), std::string(t.pre_tokenizer()).c_str(),
              t.vocab_size());
  if (auto bos = t.bos_id()) {
    std::printf("  bos             %d %s\n", *bos, printable(t.token_text(*bos)).c_str());
  }
  if (auto eos = t.eos_id()) {
    std::printf("  eos             %d %s\n", *eos, printable(t.token_text(*eos)).c_str());
  }
}

void print_template(const std::optional<std::string>& tmpl, bool full) {
  if (!tmpl) {
    std::printf("\nchat template     none (a base model: use plain prompts)\n");
    return;
  }
  std::printf("\nchat template     %zu characters%s\n", tmpl->size(),
              full ? "" : " (--template prints it whole)");
  if (full) std::printf("%s\n", tmpl->c_str());
}

void run_inspect(const InspectOptions& opt) {
  const LoadedModel m = load_model(opt.model);
  if (opt.as_json) {
    std::cout << inspect_json(m).dump(2) << "\n";
    return;
  }
  std::printf("file              %s (%s)\n", m.file->path().c_str(),
              m.file->format() == ModelFormat::Gguf ? "GGUF" : "Hugging Face folder");
  if (const GgufFile* g = m.file->gguf()) {
    std::printf("gguf              version %u, %zu metadata keys, alignment %llu\n", g->version(),
                g->metadata().size(), static_cast<unsigned long long>(g->alignment()));
  }
  print_config(m.file->config());
  print_tensors(*m.file, opt.tensor_rows);
  print_tokenizer(*m.tokenizer);
  print_template(m.file->chat_template(), opt.full_template);
}

}  // namespace

void register_inspect_command(CLI::App& app) {
  auto opt = std::make_shared<InspectOptions>();
  auto* cmd = app.add_subcommand("inspect", "Show what a model file holds");
  cmd->add_option("model", opt->model, "GGUF file, Hugging Face folder, or shipped model name")
      ->required();
  cmd->add_flag("--json", opt->as_json, "Print JSON (every metadata key, every tensor)");
  cmd->add_option("--tensors", opt->tensor_rows, "Tensor rows to list (default: all)");
  cmd->add_flag("--template", opt->full_template, "Print the whole chat template");
  cmd->callback([opt] { run_inspect(*opt); });
}

}  // namespace emovec::cli
