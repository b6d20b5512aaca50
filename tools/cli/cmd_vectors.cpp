// emovec vectors FILE... [--json] [--to-json OUT] [--to-gguf OUT]: what emotion vector files hold
// (site, shape, provenance, per-layer norms, cosine similarities), and conversions between the
// GGUF control-vector format and the paper's JSON.
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "commands.h"
#include "emovec/emotion_vector.h"
#include "emovec/error.h"

namespace emovec::cli {
namespace {

struct VectorsOptions {
  std::vector<std::string> files;
  bool as_json = false;
  std::string to_json;
  std::string to_gguf;
};

// Cosine similarity over all layers; nullopt when the shapes differ or a vector is zero.
std::optional<double> cosine(const EmotionVector& a, const EmotionVector& b) {
  if (a.n_layer != b.n_layer || a.width != b.width) return std::nullopt;
  double ab = 0, aa = 0, bb = 0;
  for (size_t i = 0; i < a.directions.size(); ++i) {
    const double x = a.directions[i];
    const double y = b.directions[i];
    ab += x * y;
    aa += x * x;
    bb += y * y;
  }
  if (aa == 0 || bb == 0) return std::nullopt;
  return ab / std::sqrt(aa * bb);
}

bool has_provenance(const VectorProvenance& p) {
  return !p.method.empty() || !p.mode.empty() || !p.model_name.empty() || !p.model_sha256.empty() ||
         !p.queries_sha256.empty() || p.n_queries != 0 || !p.held_out.empty() ||
         p.reply_tokens != 0 || p.prompt_tokens != 0;
}

nlohmann::ordered_json provenance_json(const VectorProvenance& p) {
  return {{"method", p.method},
          {"mode", p.mode},
          {"model_name", p.model_name},
          {"model_sha256", p.model_sha256},
          {"queries_sha256", p.queries_sha256},
          {"n_queries", p.n_queries},
          {"held_out", p.held_out},
          {"neutral_instruction", p.neutral_instruction},
          {"emotion_instruction", p.emotion_instruction},
          {"reply_tokens", p.reply_tokens},
          {"prompt_tokens", p.prompt_tokens}};
}

nlohmann::ordered_json vectors_json(const std::vector<EmotionVector>& vectors) {
  nlohmann::ordered_json list = nlohmann::ordered_json::array();
  for (const EmotionVector& v : vectors) {
    std::vector<double> norms;
    for (int64_t l = 0; l < v.n_layer; ++l) norms.push_back(v.layer_norm(l));
    list.push_back({{"emotion", v.emotion},
                    {"site", std::string(activation_site_name(v.site))},
                    {"n_layer", v.n_layer},
                    {"width", v.width},
                    {"exact_layer_count", v.exact_layer_count},
                    {"source", v.source},
                    {"model_hint", v.model_hint},
                    {"provenance", provenance_json(v.provenance)},
                    {"norms", norms}});
  }
  nlohmann::ordered_json matrix = nlohmann::ordered_json::array();
  for (const EmotionVector& a : vectors) {
    nlohmann::ordered_json row = nlohmann::ordered_json::array();
    for (const EmotionVector& b : vectors) {
      const auto c = cosine(a, b);
      row.push_back(c ? nlohmann::ordered_json(*c) : nlohmann::ordered_json(nullptr));
    }
    matrix.push_back(std::move(row));
  }
  return {{"vectors", list}, {"cosine", matrix}};
}

void print_summary(const EmotionVector& v) {
  const VectorProvenance& p = v.provenance;
  std::printf("%s\n", v.emotion.c_str());
  std::printf("  site            %s%s\n", std::string(activation_site_name(v.site)).c_str(),
              v.site == ActivationSite::Residual ? "" : " (llama.cpp would steer resid)");
  std::printf("  layers          %lld (%s)\n", static_cast<long long>(v.n_layer),
              v.exact_layer_count ? "for a model with exactly this many"
                                  : "for a model with at least this many");
  std::printf("  width           %lld\n", static_cast<long long>(v.width));
  std::printf("  source          %s\n", v.source.c_str());
  if (!v.model_hint.empty()) std::printf("  model hint      %s\n", v.model_hint.c_str());
  if (!has_provenance(p)) {
    std::printf("  provenance      none recorded\n");
    return;
  }
  if (!p.method.empty()) std::printf("  method          %s\n", p.method.c_str());
  if (!p.mode.empty()) std::printf("  mode            %s\n", p.mode.c_str());
  if (!p.model_name.empty()) std::printf("  model           %s\n", p.model_name.c_str());
  if (!p.model_sha256.empty()) std::printf("  model sha256    %s\n", p.model_sha256.c_str());
  std::printf("  queries used    %lld, %zu held out\n", static_cast<long long>(p.n_queries),
              p.held_out.size());
  if (p.reply_tokens != 0) {
    std::printf("  reply tokens    %lld\n", static_cast<long long>(p.reply_tokens));
  }
  if (p.prompt_tokens != 0) {
    std::printf("  prompt tokens   %lld\n", static_cast<long long>(p.prompt_tokens));
  }
}

int column_width(const EmotionVector& v) {
  return std::max(12, static_cast<int>(v.emotion.size()) + 2);
}

void print_norms(const std::vector<EmotionVector>& vectors) {
  int64_t n_layer = 0;
  for (const EmotionVector& v : vectors) n_layer = std::max(n_layer, v.n_layer);
  std::printf("\nper-layer norms\n%5s", "layer");
  for (const EmotionVector& v : vectors) std::printf("%*s", column_width(v), v.emotion.c_str());
  std::printf("\n");
  for (int64_t l = 0; l < n_layer; ++l) {
    std::printf("%5lld", static_cast<long long>(l));
    for (const EmotionVector& v : vectors) {
      if (l < v.n_layer) {
        std::printf("%*.6g", column_width(v), v.layer_norm(l));
      } else {
        std::printf("%*s", column_width(v), "-");
      }
    }
    std::printf("\n");
  }
}

void print_cosines(const std::vector<EmotionVector>& vectors) {
  int label = 5;
  for (const EmotionVector& v : vectors)
    label = std::max(label, static_cast<int>(v.emotion.size()));
  std::printf("\ncosine similarity (all layers)\n%-*s", label, "");
  for (const EmotionVector& v : vectors) std::printf("%*s", column_width(v), v.emotion.c_str());
  std::printf("\n");
  for (const EmotionVector& a : vectors) {
    std::printf("%-*s", label, a.emotion.c_str());
    for (const EmotionVector& b : vectors) {
      const auto c = cosine(a, b);
      if (c) {
        std::printf("%*.4f", column_width(b), *c);
      } else {
        std::printf("%*s", column_width(b), "-");
      }
    }
    std::printf("\n");
  }
}

void write_text(const std::string& path, const std::string& text) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  if (!out) throw Error(path + ": cannot create");
  out << text << "\n";
  out.close();
  if (!out) throw Error(path + ": cannot write");
}

void convert(const EmotionVector& v, const VectorsOptions& opt) {
  const std::string shape = std::to_string(v.n_layer) + " layers x " + std::to_string(v.width);
  if (!opt.to_json.empty()) {
    if (v.site != ActivationSite::AttentionOut) {
      std::fprintf(stderr,
                   "note: the paper's JSON records no site and reads back as attn_out; this "
                   "vector is for %s\n",
                   std::string(activation_site_name(v.site)).c_str());
    }
    write_text(opt.to_json, to_paper_json(v));
    std::printf("wrote %s (paper JSON, %s)\n", opt.to_json.c_str(), shape.c_str());
  }
  if (!opt.to_gguf.empty()) {
    save_control_vector(v, opt.to_gguf);
    std::printf("wrote %s (GGUF control vector, %s, site %s)\n", opt.to_gguf.c_str(), shape.c_str(),
                std::string(activation_site_name(v.site)).c_str());
  }
}

void run_vectors(const VectorsOptions& opt) {
  const std::vector<EmotionVector> vectors = load_emotion_vectors(opt.files);
  if (!opt.to_json.empty() || !opt.to_gguf.empty()) {
    if (vectors.size() != 1) {
      throw Error("vectors: --to-json and --to-gguf convert one vector; " +
                  std::to_string(vectors.size()) + " were given");
    }
    convert(vectors.front(), opt);
    return;
  }
  if (opt.as_json) {
    std::cout << vectors_json(vectors).dump(2) << "\n";
    return;
  }
  for (size_t i = 0; i < vectors.size(); ++i) {
    if (i > 0) std::printf("\n");
    print_summary(vectors[i]);
  }
  print_norms(vectors);
  if (vectors.size() > 1) print_cosines(vectors);
}

}  // namespace

void register_vectors_command(CLI::App& app) {
  auto opt = std::make_shared<VectorsOptions>();
  auto* cmd = app.add_subcommand(
      "vectors",
      "Show emotion vector files (GGUF control vectors, the paper's JSON); convert them");
  cmd->add_option("files", opt->files,
                  "Vector files (.gguf, .json) or folders of them (read in name order)")
      ->required();
  cmd->add_flag("--json", opt->as_json, "Print JSON (summaries, per-layer norms, cosines)");
  cmd->add_option("--to-json", opt->to_json, "Write the one vector given as the paper's JSON");
  cmd->add_option("--to-gguf", opt->to_gguf,
                  "Write the one vector given as a GGUF control vector (llama.cpp's layout)");
  cmd->callback([opt] { run_vectors(*opt); });
}

}  // namespace emovec::cli
