// shuo — entry point: builds the CLI11 app from the subcommands in src/cli/ and runs one.
#include <CLI/CLI.hpp>

#include "cli/commands.h"

int main(int argc, char** argv) {
  CLI::App app{"shuo — serve local large language models"};
  app.require_subcommand(1);
  int exit_code = 0;
  shuo::cli::add_inspect_command(app, &exit_code);
  shuo::cli::add_render_template_command(app, &exit_code);
  shuo::cli::add_generate_command(app, &exit_code);
  shuo::cli::add_tokenize_command(app, &exit_code);
  shuo::cli::add_quantize_command(app, &exit_code);
  shuo::cli::add_convert_command(app, &exit_code);
  shuo::cli::add_bench_command(app, &exit_code);
  shuo::cli::add_serve_command(app, &exit_code);
  shuo::cli::add_chat_command(app, &exit_code);
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e);
  }
  return exit_code;
}
