// The OpenAI surface's HTTP handlers, one file each (completions.cc, chat.cc, embeddings.cc,
// models.cc, tokenize.cc). They run on an I/O thread, parse and validate, and hand work to the
// engine or the embedder; Service::add_routes mounts them.
#pragma once

#include <memory>

#include "api/http/message.h"
#include "api/openai/service.h"

namespace shuo::api::openai {

void handle_completions(ServiceState& st, const http::Request& req, std::shared_ptr<http::Responder> res);
void handle_chat_completions(ServiceState& st, const http::Request& req, std::shared_ptr<http::Responder> res);
void handle_embeddings(ServiceState& st, const http::Request& req, std::shared_ptr<http::Responder> res);
void handle_models(ServiceState& st, const http::Request& req, std::shared_ptr<http::Responder> res);
void handle_model(ServiceState& st, const http::Request& req, std::shared_ptr<http::Responder> res);
void handle_tokenize(ServiceState& st, const http::Request& req, std::shared_ptr<http::Responder> res);
void handle_detokenize(ServiceState& st, const http::Request& req, std::shared_ptr<http::Responder> res);

}  // namespace shuo::api::openai
