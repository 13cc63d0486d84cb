// The ChatGLM-style surface (spec/api.md §2, seeds/003_*.txt): POST /chat with a `query` body
// (one JSON answer), POST /stream (SSE, event `delta`, cumulative `response`, a last event with
// `finished: true`) and GET /clear (drops the engine's cached KV blocks → {"ok": true}).
//
// Prompt: history + query rendered with this surface's ChatFormat — the model's own chat
// template when its file has one (ChatGLM3 and GLM-4 GGUFs do), else the `[Round n]` format for
// ChatGLM-architecture models and the built-in format otherwise (glm_chat_format()). `max_length` is ChatGLM's total budget: the reply gets what the prompt
// leaves of min(max_length, context).
//
// Threads: handlers run on an I/O thread (parse, render, tokenize, submit); pieces arrive on the
// engine thread and go straight to the Responder. A client that goes away cancels generation.
#pragma once

#include <memory>
#include <string_view>

#include "api/glm/request.h"
#include "api/http/server.h"
#include "api/openai/chat_format.h"
#include "api/openai/service.h"

namespace shuo::api::glm {

// `model_format` (the OpenAI surface's) when it has the file's template; else [Round n] (the
// built-in ChatGLM format) when `arch` (GGUF general.architecture) is a ChatGLM one, and
// `model_format` otherwise.
openai::ChatFormat glm_chat_format(std::string_view arch, const openai::ChatFormat& model_format);

class Service {
 public:
  // `state` (engine, tokenizer, log) must outlive the service.
  Service(openai::ServiceState& state, openai::ChatFormat format, GlmDefaults defaults = {});

  // Mounts GET /clear, POST /stream and POST /chat. POST /chat is shared with the demo API
  // (§3): a body that is a JSON object with `query` is a chat; a body with ChatGLM fields but no
  // `query` is a 400 naming it; any other body goes to `other_chat_post` (the demo's reset), or
  // is a 400 when that is empty. The service must outlive the server's run().
  void add_routes(http::Server& server, http::Handler other_chat_post = nullptr);

  void handle_chat(const http::Request& req, std::shared_ptr<http::Responder> res, bool stream);

  const openai::ChatFormat& format() const { return format_; }

 private:
  openai::ServiceState& st_;
  openai::ChatFormat format_;
  GlmDefaults defaults_;
};

}  // namespace shuo::api::glm
