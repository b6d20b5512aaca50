// emovec_decode_stream_bench: the cost of turning a reply's tokens into streamed text, per reply
// length, for each shipped decoder's tokenizer: DecodeStream (what replies use: each token decodes
// the tokens since the last piece) beside decoding the whole reply again at every token (what
// replies did before; quadratic in the length). Medians of --repeat runs; prints a table.
//
//   emovec_decode_stream_bench [--models a,b] [--lengths 512,2048,8192] [--repeat 3]
#include <CLI/CLI.hpp>
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <string>
#include <utility>
#include <vector>

#include "bench_stats.h"
#include "emovec/decoder.h"
#include "emovec/error.h"
#include "emovec/model_registry.h"
#include "emovec/tokenizer.h"

namespace {

using Clock = std::chrono::steady_clock;

template <typename F>
double median_ms(int repeat, F&& run) {
  std::vector<double> ms;
  for (int i = 0; i < repeat; ++i) {
    const auto t0 = Clock::now();
    run();
    ms.push_back(std::chrono::duration<double, std::milli>(Clock::now() - t0).count());
  }
  return emovec::bench::median(std::move(ms));
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"streamed reply text: incremental decoding beside decoding the whole reply"};
  std::vector<std::string> models = {"smollm2-135m-instruct", "qwen2.5-coder-0.5b-instruct",
                                     "gemma-3-270m"};
  std::vector<size_t> lengths = {512, 2048, 8192};
  int repeat = 3;
  app.add_option("--models", models, "shipped decoder models, comma-separated")->delimiter(',');
  app.add_option("--lengths", lengths, "reply lengths in tokens, comma-separated")
      ->delimiter(',')
      ->check(CLI::Range(1, 1 << 20));
  app.add_option("--repeat", repeat, "runs per measure (median)")->check(CLI::Range(1, 100));
  CLI11_PARSE(app, argc, argv);
  try {
    std::printf(
        "| model | reply tokens | whole reply at every token, ms | DecodeStream, ms | ratio |\n");
    std::printf("|---|---|---|---|---|\n");
    for (const std::string& name : models) {
      const auto model = emovec::DecoderModel::load(emovec::resolve_model_argument(name));
      const emovec::Tokenizer& tok = *model->tokenizer();
      std::string text;
      while (text.size() < 200000) {
        text += "The quick brown fox jumps over the lazy dog; naïve café owners say “ça va”. ";
      }
      const std::vector<int32_t> all = tok.encode(text, false, false);
      for (const size_t length : lengths) {
        const auto n = std::min(all.size(), length);
        const std::vector<int32_t> ids(all.begin(), all.begin() + static_cast<std::ptrdiff_t>(n));
        size_t sink = 0;
        const double whole = median_ms(repeat, [&] {
          std::vector<int32_t> reply;
          for (const int32_t id : ids) {
            reply.push_back(id);
            sink += tok.decode(reply, true).size();
          }
        });
        const double stream = median_ms(repeat, [&] {
          emovec::DecodeStream s(tok, true);
          for (const int32_t id : ids) sink += s.push(id).size();
          sink += s.flush().size();
        });
        std::printf("| %s | %zu | %.1f | %.2f | %.0fx |\n", name.c_str(), n, whole, stream,
                    whole / stream);
        if (sink == 0) std::printf("(no text)\n");
      }
    }
  } catch (const emovec::Error& e) {
    std::fprintf(stderr, "error: %s\n", e.what());
    return 1;
  }
  return 0;
}
