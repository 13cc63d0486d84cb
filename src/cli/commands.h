// Each `shuo` subcommand registers itself on the CLI11 app from its own file (cmd_<name>.cc).
// A registration adds the subcommand and a callback that sets *exit_code when it runs.
#pragma once

namespace CLI {
class App;
}

namespace shuo::cli {

void add_inspect_command(CLI::App& app, int* exit_code);
void add_render_template_command(CLI::App& app, int* exit_code);
void add_generate_command(CLI::App& app, int* exit_code);
void add_tokenize_command(CLI::App& app, int* exit_code);
void add_quantize_command(CLI::App& app, int* exit_code);
void add_convert_command(CLI::App& app, int* exit_code);
void add_bench_command(CLI::App& app, int* exit_code);
void add_serve_command(CLI::App& app, int* exit_code);
void add_chat_command(CLI::App& app, int* exit_code);

}  // namespace shuo::cli
