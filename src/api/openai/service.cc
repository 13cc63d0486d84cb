// The OpenAI surface's routes and shared state (see service.h).
#include "api/openai/service.h"

#include <cstdio>
#include <random>

#include <spdlog/spdlog.h>

#include "api/openai/errors.h"
#include "api/openai/handlers.h"

namespace shuo::api::openai {

namespace {

uint64_t mix64(uint64_t x) {  // splitmix64's finaliser
  x += 0x9E3779B97F4A7C15ull;
  x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ull;
  x = (x ^ (x >> 27)) * 0x94D049BB133111EBull;
  return x ^ (x >> 31);
}

}  // namespace

std::string ServiceState::next_id(const char* prefix) const {
  const uint64_t n = id_counter.fetch_add(1, std::memory_order_relaxed);
  const uint64_t a = mix64(id_seed ^ n), b = mix64(a ^ 0x5851F42D4C957F2Dull);
  char buf[32];
  std::snprintf(buf, sizeof buf, "%016llx%08llx", static_cast<unsigned long long>(a),
                static_cast<unsigned long long>(b & 0xFFFFFFFFull));
  return std::string(prefix) + buf;
}

Service::Service(engine::Engine& engine, const text::Tokenizer& tokenizer, ChatFormat chat,
                 Embedder* embedder, ServiceConfig config, std::shared_ptr<spdlog::logger> log)
    : state_(new ServiceState{engine, tokenizer, std::move(chat), embedder, std::move(config),
                              log ? std::move(log) : spdlog::default_logger()}) {
  std::random_device rd;
  state_->id_seed = (uint64_t(rd()) << 32) ^ rd();
}

Service::~Service() = default;

void Service::refresh_engine_metrics(http::Metrics& m) {
  const engine::EngineStats s = state_->engine.stats();
  m.gauge("shuo_engine_queued_requests", "Requests waiting for a sequence slot").set(double(s.queued));
  m.gauge("shuo_engine_running_sequences", "Sequences in the running batch").set(double(s.running));
  m.gauge("shuo_engine_kv_cache_bytes", "KV cache memory of blocks in use by running sequences").set(double(s.kv_bytes));
  m.gauge("shuo_engine_kv_blocks_total", "KV cache blocks in the pool").set(double(s.kv_blocks_total));
  m.gauge("shuo_engine_kv_blocks_used", "KV cache blocks referenced by running sequences").set(double(s.kv_blocks_used));
  m.gauge("shuo_engine_kv_blocks_cached", "Unreferenced KV cache blocks kept for prefix reuse").set(double(s.kv_blocks_cached));
  m.gauge("shuo_engine_kv_blocks_reserved", "KV cache blocks promised to running beam searches, not yet allocated")
      .set(double(s.kv_blocks_reserved));
  // The engine keeps totals; counters only go up, so add what is new since the last scrape.
  std::lock_guard lock(metrics_mu_);
  auto add = [&](const char* name, const char* help, int64_t now, int64_t& last) {
    m.counter(name, help).inc(double(now - last));
    last = now;
  };
  add("shuo_engine_prompt_tokens_total", "Prompt tokens computed (prefix-cache hits excluded)", s.prompt_tokens, last_stats_.prompt_tokens);
  add("shuo_engine_generated_tokens_total", "Tokens generated", s.generated_tokens, last_stats_.generated_tokens);
  add("shuo_engine_steps_total", "Engine steps (forward passes)", s.steps, last_stats_.steps);
  add("shuo_engine_prefix_hit_tokens_total", "Prompt tokens taken from cached KV blocks", s.prefix_hit_tokens, last_stats_.prefix_hit_tokens);
}

void Service::add_routes(http::Server& server) {
  ServiceState* st = state_.get();
  http::Metrics& m = server.metrics();
  // Seconds: from 1 ms to ~65 s for the first token, from 1 ms to ~4 s between tokens.
  st->time_to_first_token = &m.histogram("shuo_time_to_first_token_seconds",
                                         "Time from request to the first generated token",
                                         http::Metrics::exponential_buckets(0.001, 2.0, 17));
  st->inter_token_latency = &m.histogram("shuo_inter_token_latency_seconds",
                                         "Time between consecutive tokens of one sequence",
                                         http::Metrics::exponential_buckets(0.001, 2.0, 13));
  refresh_engine_metrics(m);  // registers the families so that they render from the start

  server.set_error_formatter(format_server_error);
  auto bind = [st](void (*fn)(ServiceState&, const http::Request&, std::shared_ptr<http::Responder>)) {
    return [st, fn](const http::Request& req, std::shared_ptr<http::Responder> res) { fn(*st, req, std::move(res)); };
  };
  server.route("GET", "/v1/models", bind(handle_models));
  server.route("GET", "/v1/models/*", bind(handle_model));
  server.route("POST", "/v1/completions", bind(handle_completions));
  server.route("POST", "/v1/chat/completions", bind(handle_chat_completions));
  server.route("POST", "/v1/embeddings", bind(handle_embeddings));
  server.route("POST", "/tokenize", bind(handle_tokenize));
  server.route("POST", "/detokenize", bind(handle_detokenize));
  server.route("GET", "/health", [](const http::Request&, std::shared_ptr<http::Responder> res) {
    http::Response r;
    r.body = R"({"status":"ok"})";
    res->send(std::move(r));
  });
  server.route("GET", "/metrics", [this, &server](const http::Request&, std::shared_ptr<http::Responder> res) {
    refresh_engine_metrics(server.metrics());
    http::Response r;
    r.content_type = http::Metrics::kContentType;
    r.body = server.metrics().render();
    res->send(std::move(r));
  });
}

}  // namespace shuo::api::openai
