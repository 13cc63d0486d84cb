// The OpenAI-compatible surface on one engine: the state its handlers share (engine, tokenizer,
// chat format, embedder, model id, metrics) and the routes it adds to an http::Server.
//
// Threads: handlers run on the server's I/O threads and only parse, tokenize and submit. Token
// events arrive on the engine thread, which decodes them (StreamDecoder → StopStringMatcher,
// cheap) and hands the bytes to the Responder, which never blocks. Embeddings run on the
// Embedder's own thread.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>

#include "api/http/server.h"
#include "api/openai/chat_format.h"
#include "engine/engine.h"
#include "text/tokenizer.h"

namespace spdlog {
class logger;
}

namespace shuo::api::openai {

class Embedder;

struct ServiceConfig {
  std::string model_id;        // shown in /v1/models and echoed in responses
  int64_t created = 0;         // unix seconds, for /v1/models
  std::string owned_by = "shuo";
};

// What every handler reads. Everything here is thread-safe to use from any thread.
struct ServiceState {
  engine::Engine& engine;
  const text::Tokenizer& tokenizer;
  ChatFormat chat;
  Embedder* embedder = nullptr;  // null: /v1/embeddings answers 400
  ServiceConfig config;
  std::shared_ptr<spdlog::logger> log;

  // Latency histograms, observed on the engine thread.
  http::Histogram* time_to_first_token = nullptr;  // seconds from request to first token
  http::Histogram* inter_token_latency = nullptr;  // seconds between tokens of one sequence

  // "chatcmpl-…", "cmpl-…": a prefix and 24 hex digits, unique per process.
  std::string next_id(const char* prefix) const;

  mutable std::atomic<uint64_t> id_counter{0};
  uint64_t id_seed = 0;
};

class Service {
 public:
  // `engine`, `tokenizer`, `embedder` (may be null) must outlive the service.
  Service(engine::Engine& engine, const text::Tokenizer& tokenizer, ChatFormat chat,
          Embedder* embedder, ServiceConfig config, std::shared_ptr<spdlog::logger> log = nullptr);
  ~Service();

  // Adds /v1/models, /v1/models/{id}, /v1/completions, /v1/chat/completions, /v1/embeddings,
  // /tokenize, /detokenize, /health and /metrics, sets the OpenAI error shape, and registers the
  // engine's metrics in the server's registry. Call before server.listen(); the service must
  // outlive the server's run().
  void add_routes(http::Server& server);

  ServiceState& state() { return *state_; }

 private:
  void refresh_engine_metrics(http::Metrics& m);

  std::unique_ptr<ServiceState> state_;
  std::mutex metrics_mu_;
  engine::EngineStats last_stats_;  // totals already added to the counters (guarded by metrics_mu_)
};

}  // namespace shuo::api::openai
