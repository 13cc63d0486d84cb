// `shuo serve`: load a GGUF model and serve the HTTP APIs and the gRPC ChatHub on it until SIGINT or
// SIGTERM (graceful: responses in flight may finish, then exit 0). Logs go to stderr.
#include <CLI/CLI.hpp>

#include <algorithm>
#include <chrono>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>

#include "api/demo/data_dir.h"
#include "api/demo/engine_backend.h"
#include "api/demo/process_backend.h"
#include "api/demo/service.h"
#include "api/glm/service.h"
#include "api/grpc/grpc_server.h"
#include "api/http/server.h"
#include "api/openai/chat_format.h"
#include "api/openai/embedder.h"
#include "api/openai/service.h"
#include "api/web/web_service.h"
#include "cli/commands.h"
#include "cli/kv_cache_flag.h"
#include "cli/model_source.h"
#include "engine/engine.h"
#include "format/gguf.h"
#include "model/model.h"
#include "text/chat_template.h"
#include "text/tokenizer.h"

namespace shuo::cli {

namespace {

struct ServeArgs {
  std::string model;
  ModelSourceOptions source;  // --tokenizer, …
  format::GgmlType kv_type = format::GgmlType::F16;
  std::string host = "127.0.0.1";
  int port = 19327;
  int grpc_port = 19328;  // -1: no gRPC server
  CLI::Option* grpc_port_opt = nullptr;
  int threads = 0;
  int http_threads = 2;
  int ctx = 0;
  int parallel = 8;
  int max_queue = 64;
  std::vector<std::string> api_keys;
  std::string api_key_file;
  std::vector<std::string> cors_origins;
  size_t max_body_bytes = 8 << 20;
  std::string alias;
  bool only_cpu = false;
  std::string device;
  std::string personality = "I am a friendly and helpful assistant.";  // demo chat sessions
  std::string data_dir;  // demo sessions' SQLite file; "": api::demo::default_data_dir()
  std::string web_root;  // the chat page at /: "" embedded, else this directory (page development)
  // Process mode of the demo API (§3): the program run for chat / QA sessions, fixed here.
  std::string chat_cmd, chat_pwd, chat_args, qa_cmd, qa_pwd, qa_args;
  double backend_start_timeout_s = 180;  // the source's 3 minutes
  double backend_timeout_s = 120;        // one reply; the source's 2 minutes
  // Options of the source documents that shuo does not have yet: rejected, never ignored.
  std::vector<std::pair<std::string, CLI::Option*>> unsupported;
};

// Reads one key per line; blank lines and lines starting with '#' are skipped.
Result<std::vector<std::string>> read_keys(const std::string& path) {
  std::ifstream in(path);
  if (!in) return Error{ErrorCode::kIo, path, "cannot open the API key file"};
  std::vector<std::string> keys;
  std::string line;
  while (std::getline(in, line)) {
    while (!line.empty() && (line.back() == '\r' || line.back() == ' ' || line.back() == '\t')) line.pop_back();
    size_t b = line.find_first_not_of(" \t");
    if (b == std::string::npos || line[b] == '#') continue;
    keys.push_back(line.substr(b));
  }
  if (keys.empty()) return Error{ErrorCode::kBadFile, path, "contains no API key"};
  return keys;
}

api::openai::ChatFormat chat_format_for(const format::GgufFile& file, const model::ModelConfig& cfg,
                                        const text::Tokenizer& tok, spdlog::logger& log) {
  std::string warning;
  api::openai::ChatFormat fmt = api::openai::chat_format_for_model(file, cfg.arch, tok, &warning);
  if (!warning.empty()) log.warn("{}", warning);
  return fmt;
}

int fail(spdlog::logger& log, const std::string& message) {
  log.error("{}", message);
  return 1;
}

std::chrono::milliseconds to_ms(double seconds) { return std::chrono::milliseconds(int64_t(seconds * 1000)); }

// The process-mode backend for --chat-… or --qa-… (`prefix`), or null when its -cmd is not given.
Result<std::unique_ptr<api::demo::process::ProcessChatBackend>> process_backend_for(
    const ServeArgs& a, const std::string& prefix, const std::string& cmd, const std::string& pwd,
    const std::string& args, const std::shared_ptr<spdlog::logger>& log) {
  if (cmd.empty()) {
    if (!pwd.empty() || !args.empty())
      return Error{ErrorCode::kBadField, prefix + (args.empty() ? "-pwd" : "-args"), "needs " + prefix + "-cmd"};
    return std::unique_ptr<api::demo::process::ProcessChatBackend>();
  }
  api::demo::ProcessModeFlags f;
  f.cmd = cmd;
  f.pwd = pwd;
  f.args = args;
  f.flag_prefix = prefix;
  f.start_timeout = to_ms(a.backend_start_timeout_s);
  f.reply_timeout = to_ms(a.backend_timeout_s);
  const std::string what = prefix.substr(2);  // "chat" / "qa"
  f.log = [log, what](std::string_view line) { log->info("{} backend: {}", what, line); };
  return api::demo::make_process_backend(f);
}

int run_serve(const ServeArgs& a) {
  auto log = spdlog::stderr_color_mt("shuo");
  spdlog::set_default_logger(log);

  for (const auto& [name, opt] : a.unsupported)
    if (opt->count() > 0) return fail(*log, name + " is not supported yet");
  if (!a.device.empty() && a.device != "cpu" && a.device != "-1")
    return fail(*log, "--device " + a.device + " is not supported yet: shuo runs on the CPU (use --device cpu)");
  if (a.port < 0 || a.port > 65535) return fail(*log, "--port must be in [0, 65535]");
  if (a.personality.find_first_of("\r\n") != std::string::npos)
    return fail(*log, "--personality must be one line (it is sent as \"personality:<text>\")");
  if (a.grpc_port < -1 || a.grpc_port > 65535) return fail(*log, "--grpc-port must be in [0, 65535], or -1 for no gRPC");
  if (a.parallel < 1) return fail(*log, "--parallel must be ≥ 1");
  if (a.max_queue < 0) return fail(*log, "--max-queue must be ≥ 0");
  if (a.ctx < 0) return fail(*log, "--ctx must be ≥ 0");
  if (a.http_threads < 1) return fail(*log, "--http-threads must be ≥ 1");
  if (!(a.backend_timeout_s >= 0.001)) return fail(*log, "--backend-timeout must be > 0 seconds");
  if (!(a.backend_start_timeout_s >= 0.001)) return fail(*log, "--backend-start-timeout must be > 0 seconds");
  // Process mode: the programs are checked (quoting of --…-args) before the model loads.
  auto chat_process = process_backend_for(a, "--chat", a.chat_cmd, a.chat_pwd, a.chat_args, log);
  if (!chat_process.ok()) return fail(*log, chat_process.error().to_string());
  auto qa_process = process_backend_for(a, "--qa", a.qa_cmd, a.qa_pwd, a.qa_args, log);
  if (!qa_process.ok()) return fail(*log, qa_process.error().to_string());

  std::vector<std::string> keys = a.api_keys;
  if (!a.api_key_file.empty()) {
    auto more = read_keys(a.api_key_file);
    if (!more.ok()) return fail(*log, more.error().to_string());
    keys.insert(keys.end(), more->begin(), more->end());
  }

  auto source = open_model_source(a.model, a.source);
  if (!source.ok()) return fail(*log, source.error().to_string());
  const format::GgufFile* file = &source->file;
  auto model = model::load_model(*file);
  if (!model.ok()) return fail(*log, model.error().to_string());
  if (auto k = (*model)->check_kv_type(a.kv_type); !k.ok()) return fail(*log, k.error().to_string());
  const model::ModelConfig& cfg = (*model)->config();
  const int32_t n_ctx = a.ctx > 0 ? a.ctx : std::min(cfg.n_ctx_train > 0 ? cfg.n_ctx_train : 4096, 4096);

  std::string model_id = a.alias;
  if (model_id.empty()) model_id = cfg.name;
  if (model_id.empty()) model_id = source->label;

  const text::Tokenizer& t = *source->tokenizer;
  engine::EngineOptions eo;
  eo.n_ctx = n_ctx;
  eo.max_running = a.parallel;
  eo.max_queue = a.max_queue;
  eo.threads = a.threads;
  eo.kv_type = a.kv_type;
  eo.is_eog = [&t](int32_t id) { return t.is_eog(id); };
  auto engine = std::make_unique<engine::Engine>(**model, eo);

  auto created = api::openai::Embedder::create(*file, a.threads, n_ctx, a.max_queue > 0 ? a.max_queue : 1);
  if (!created.ok()) return fail(*log, created.error().to_string());
  std::unique_ptr<api::openai::Embedder> embedder = std::move(*created);

  api::openai::ServiceConfig sc;
  sc.model_id = model_id;
  sc.created = int64_t(std::time(nullptr));
  api::openai::Service service(*engine, t, chat_format_for(*file, cfg, t, *log), embedder.get(), sc, log);

  api::http::ServerOptions so;
  so.host = a.host;
  so.port = uint16_t(a.port);
  so.io_threads = a.http_threads;
  so.max_body_bytes = a.max_body_bytes;
  so.cors_origins = a.cors_origins;
  so.api_keys = keys;
  so.public_paths = {"/health"};
  for (std::string& p : api::web::WebService::public_paths()) so.public_paths.push_back(std::move(p));
  so.logger = log;
  api::http::Server server(so);
  service.add_routes(server);
  // ChatGLM-style /chat, /stream (§2) and the demo sessions (§3) share POST /chat: the GLM
  // surface takes bodies with a query, the demo's reset the rest.
  api::glm::Service glm(service.state(), api::glm::glm_chat_format(cfg.arch, service.state().chat));
  // Demo sessions: in-process on the engine, or the programs of --chat-cmd / --qa-cmd.
  std::unique_ptr<api::demo::ChatBackend> demo_chat;
  if (*chat_process) demo_chat = std::make_unique<api::demo::ProcessChatAdapter>(std::move(*chat_process));
  else demo_chat = std::make_unique<api::demo::EngineChatBackend>(*engine, t, service.state().chat);
  std::unique_ptr<api::demo::QaBackend> demo_qa;
  if (*qa_process) demo_qa = std::make_unique<api::demo::ProcessQaAdapter>(std::move(*qa_process));
  else demo_qa = std::make_unique<api::demo::EngineQaBackend>(*engine, t, service.state().chat);
  api::demo::DemoOptions demo_opts;
  demo_opts.default_personality = a.personality;
  demo_opts.log = log;
  const std::string data_dir = a.data_dir.empty() ? api::demo::default_data_dir() : a.data_dir;
  api::demo::Service demo(*demo_chat, *demo_qa, api::demo::sqlite_store_in(data_dir), demo_opts);
  if (!a.data_dir.empty()) {  // given: fail now if it is unusable (the default opens on first use)
    auto opened = demo.open_store_now();
    if (!opened.ok()) return fail(*log, "--data-dir: " + opened.error().to_string());
  }
  demo.add_routes(server);
  glm.add_routes(server, demo.chat_reset_handler());
  api::web::WebService web(api::web::WebOptions{a.web_root});
  web.add_routes(server);
  auto port = server.listen();
  if (!port.ok()) return fail(*log, port.error().to_string());
  server.stop_on_signals();
  std::unique_ptr<api::chathub::GrpcServer> grpc;
  if (a.grpc_port >= 0) {
    api::chathub::GrpcServerOptions go;
    go.host = a.host;
    go.port = a.grpc_port;
    go.max_message_bytes = a.max_body_bytes;
    go.metrics = &server.metrics();
    auto started = api::chathub::GrpcServer::start(service.state(), go);
    if (started.ok()) {
      grpc = std::move(*started);
    } else if (a.grpc_port_opt->count() > 0) {
      return fail(*log, started.error().to_string());
    } else {
      // Only the default port: another shuo may hold it; HTTP still serves.
      log->warn("no gRPC server: {} (choose one with --grpc-port, or -1 for none)", started.error().to_string());
    }
  }
  log->info("model {} ({}, {} layers, vocab {}), context {} per sequence, {} parallel, kernels {}, chat: {}",
            model_id, cfg.arch, cfg.n_layer, cfg.n_vocab, n_ctx, a.parallel, (*model)->kernel_isa(),
            service.state().chat.describe());
  if (!a.chat_cmd.empty()) log->info("demo chat sessions: process mode, {} (in {})", a.chat_cmd, a.chat_pwd.empty() ? "." : a.chat_pwd);
  if (!a.qa_cmd.empty()) log->info("demo QA sessions: process mode, {} (in {})", a.qa_cmd, a.qa_pwd.empty() ? "." : a.qa_pwd);
  log->info("listening on http://{}:{}{}", a.host, *port, keys.empty() ? "" : " (API key required)");
  log->info("chat page at http://{}:{}/ ({})", a.host, *port, web.describe());
  if (grpc) log->info("gRPC listening on {}:{} (aihub.ChatHub, health, reflection)", a.host, grpc->port());
  server.run();
  demo.stop();  // records the replies that are done; nothing new reaches the engine
  // HTTP has stopped (SIGINT/SIGTERM); gRPC calls in flight get their own grace period.
  if (grpc) grpc->shutdown();
  // Requests still in the engine or the embedder are cancelled now, while the service state
  // their callbacks use still exists.
  engine.reset();
  embedder.reset();
  log->info("stopped");
  return 0;
}

}  // namespace

void add_serve_command(CLI::App& app, int* exit_code) {
  auto* cmd = app.add_subcommand("serve", "Serve a GGUF model over the OpenAI-compatible HTTP API");
  auto a = std::make_shared<ServeArgs>();
  cmd->add_option("--model,--base_model", a->model, "GGUF model file or Hugging Face model folder");
  add_model_source_flags(*cmd, a->source);
  cmd->add_option("--host", a->host, "address to listen on")->capture_default_str();
  cmd->add_option("--port", a->port, "port (0: any free port, printed in the log)")->capture_default_str();
  a->grpc_port_opt = cmd->add_option("--grpc-port", a->grpc_port,
                                      "gRPC port for aihub.ChatHub (0: any free port, printed in the log; -1: no gRPC)")
                         ->capture_default_str();
  cmd->add_option("-t,--threads", a->threads, "kernel threads (default: physical cores)");
  cmd->add_option("--http-threads", a->http_threads, "HTTP I/O threads")->capture_default_str();
  cmd->add_option("-c,--ctx", a->ctx, "context per sequence, prompt + reply (default: the model's, at most 4096)");
  cmd->add_option("--parallel", a->parallel, "sequences generated together")->capture_default_str();
  add_kv_cache_flag(*cmd, a->kv_type);
  cmd->add_option("--max-queue", a->max_queue, "requests waiting for a slot before 429")->capture_default_str();
  cmd->add_option("--api-key", a->api_keys, "required API key (Authorization: Bearer KEY); repeatable");
  cmd->add_option("--api-key-file", a->api_key_file, "file with one API key per line");
  cmd->add_option("--cors-origin", a->cors_origins, "allowed CORS origin, or *; repeatable");
  cmd->add_option("--max-body-bytes", a->max_body_bytes, "largest request body (else 413)")->capture_default_str();
  cmd->add_option("--alias", a->alias, "model id in /v1/models (default: general.name or the file name)");
  cmd->add_flag("--only_cpu", a->only_cpu, "run on the CPU (the only device so far)");
  cmd->add_option("--device", a->device, "cpu (or -1); GPUs are not supported yet");
  cmd->add_option("--personality", a->personality, "personality (system prompt) of new demo chat sessions")
      ->capture_default_str();
  cmd->add_option("--data-dir", a->data_dir,
                  "where demo sessions are stored (sessions.sqlite3; default $XDG_DATA_HOME/shuo or ~/.local/share/shuo)");
  cmd->add_option("--web-root", a->web_root, "serve the chat page at / from this directory (default: the embedded page)")
      ->check(CLI::ExistingDirectory);
  cmd->add_option("--chat-cmd", a->chat_cmd,
                  "demo chat sessions run this program (process mode; no shell) instead of in-process");
  cmd->add_option("--chat-pwd", a->chat_pwd, "working directory of --chat-cmd");
  cmd->add_option("--chat-args", a->chat_args, "arguments of --chat-cmd, one string split with shell-like quoting");
  cmd->add_option("--qa-cmd", a->qa_cmd, "demo QA sessions run this program (process mode) instead of in-process");
  cmd->add_option("--qa-pwd", a->qa_pwd, "working directory of --qa-cmd");
  cmd->add_option("--qa-args", a->qa_args, "arguments of --qa-cmd (as --chat-args)");
  cmd->add_option("--backend-start-timeout", a->backend_start_timeout_s,
                  "seconds a process-mode backend may take to get ready (else 504)")
      ->capture_default_str();
  cmd->add_option("--backend-timeout", a->backend_timeout_s,
                  "seconds a process-mode backend may take for one reply (else 504, and it is ended)")
      ->capture_default_str();
  const char* options[] = {"--gpus"};
  for (const char* name : options)
    a->unsupported.emplace_back(name, cmd->add_option(std::string(name))->description("not supported yet")->group(""));
  const char* flags[] = {"--flash-attn", "--use_flash_attention_2"};
  for (const char* name : flags)
    a->unsupported.emplace_back(name, cmd->add_flag(std::string(name))->description("not supported yet")->group(""));
  cmd->callback([=] { *exit_code = run_serve(*a); });
}

}  // namespace shuo::cli
