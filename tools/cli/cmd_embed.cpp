// emovec embed [-m MODEL] [-t N] [--json] TEXT... | -f FILE: sentence embeddings, as
// sentence-transformers gives them.
#include <charconv>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <string>
#include <vector>

#include "commands.h"
#include "emovec/encoder.h"
#include "emovec/error.h"
#include "emovec/model_file.h"
#include "emovec/model_registry.h"

namespace emovec::cli {
namespace {

struct EmbedOptions {
  std::string model = "all-minilm-l6-v2";
  int threads = 0;
  std::string file;
  std::vector<std::string> texts;
  bool as_json = false;
};

// One text per line ("-" reads standard input); a final newline does not start another text.
std::vector<std::string> read_lines(const std::string& path) {
  std::ifstream file;
  std::istream* in = &std::cin;
  if (path != "-") {
    file.open(path, std::ios::binary);
    if (!file) throw Error(path + ": cannot open the text file");
    in = &file;
  }
  std::vector<std::string> lines;
  for (std::string line; std::getline(*in, line);) {
    if (!line.empty() && line.back() == '\r') line.pop_back();
    lines.push_back(std::move(line));
  }
  if (in->bad()) throw Error(path + ": read failed");
  return lines;
}

// The shortest decimal that reads back as the same float32.
std::string shortest(float value) {
  char buf[32];
  const auto [end, ec] = std::to_chars(buf, buf + sizeof buf, value);
  return ec == std::errc() ? std::string(buf, end) : std::string("nan");
}

void run_embed(const EmbedOptions& opt) {
  std::vector<std::string> texts = opt.texts;
  if (!opt.file.empty()) {
    const std::vector<std::string> lines = read_lines(opt.file);
    texts.insert(texts.end(), lines.begin(), lines.end());
  }
  if (texts.empty()) throw Error("embed: no text; give TEXT arguments or -f FILE");

  const auto model = open_model_file(resolve_model_argument(opt.model));
  const SentenceEncoder encoder(*model, {.n_threads = opt.threads});
  const std::vector<std::vector<float>> embeddings = encoder.encode(texts);
  // As JSON, an array of arrays; else one line of values per text.
  const char* open = opt.as_json ? "[" : "";
  const char* separator = opt.as_json ? "," : " ";
  std::string out = opt.as_json ? "[" : "";
  for (size_t t = 0; t < embeddings.size(); ++t) {
    if (opt.as_json && t > 0) out += ",";
    out += open;
    for (size_t i = 0; i < embeddings[t].size(); ++i) {
      if (i > 0) out += separator;
      out += shortest(embeddings[t][i]);
    }
    out += opt.as_json ? "]" : "\n";
  }
  if (opt.as_json) out += "]\n";
  std::fwrite(out.data(), 1, out.size(), stdout);
}

}  // namespace

void register_embed_command(CLI::App& app) {
  auto opt = std::make_shared<EmbedOptions>();
  auto* cmd = app.add_subcommand(
      "embed", "Sentence embeddings of texts (BERT-family encoder, e.g. all-minilm-l6-v2)");
  cmd->add_option("-m,--model", opt->model,
                  "Hugging Face BERT folder or shipped model name (default all-minilm-l6-v2)");
  cmd->add_option("-t,--threads", opt->threads, "Threads (default: every core)")
      ->check(CLI::NonNegativeNumber);
  cmd->add_option("-f,--file", opt->file, "Read texts from FILE, one per line ('-': stdin)");
  cmd->add_flag("--json", opt->as_json, "Print a JSON array of embeddings, one per text");
  cmd->add_option("text", opt->texts, "Texts to embed");
  cmd->callback([opt] { run_embed(*opt); });
}

}  // namespace emovec::cli
