// The emovec command line: each subcommand registers itself on the app.
#pragma once

#include <CLI/CLI.hpp>

namespace emovec::cli {

void register_models_command(CLI::App& app);
void register_inspect_command(CLI::App& app);
void register_tokenize_command(CLI::App& app);
void register_template_command(CLI::App& app);
void register_generate_command(CLI::App& app);
void register_chat_command(CLI::App& app);
void register_perplexity_command(CLI::App& app);
void register_embed_command(CLI::App& app);
void register_extract_command(CLI::App& app);
void register_vectors_command(CLI::App& app);
void register_serve_command(CLI::App& app);
void register_eval_command(CLI::App& app);
void register_score_command(CLI::App& app);

}  // namespace emovec::cli
