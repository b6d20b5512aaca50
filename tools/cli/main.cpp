#include <cstdio>
#include <exception>

#include "commands.h"
#include "emovec/error.h"

int main(int argc, char** argv) {
  CLI::App app{"emovec: controllable emotion generation with emotion vectors"};
  app.require_subcommand(1);
  emovec::cli::register_models_command(app);
  emovec::cli::register_inspect_command(app);
  emovec::cli::register_tokenize_command(app);
  emovec::cli::register_template_command(app);
  emovec::cli::register_generate_command(app);
  emovec::cli::register_chat_command(app);
  emovec::cli::register_perplexity_command(app);
  emovec::cli::register_embed_command(app);
  emovec::cli::register_extract_command(app);
  emovec::cli::register_vectors_command(app);
  emovec::cli::register_serve_command(app);
  emovec::cli::register_eval_command(app);
  emovec::cli::register_score_command(app);
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e);
  } catch (const emovec::Error& e) {
    std::fprintf(stderr, "error: %s\n", e.what());
    return 1;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "error: %s\n", e.what());
    return 2;
  }
  return 0;
}
