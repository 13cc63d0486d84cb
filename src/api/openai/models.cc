// GET /v1/models and /v1/models/{id}: the one model this server serves.
#include "api/openai/generation.h"
#include "api/openai/handlers.h"

namespace shuo::api::openai {

namespace {

OJson model_object(const ServiceState& st) {
  // max_model_len (as vLLM names it): the context per sequence, prompt and reply together; the
  // web page shows it.
  return OJson{{"id", st.config.model_id}, {"object", "model"}, {"created", st.config.created},
               {"owned_by", st.config.owned_by}, {"max_model_len", st.engine.options().n_ctx}};
}

}  // namespace

void handle_models(ServiceState& st, const http::Request&, std::shared_ptr<http::Responder> res) {
  send_json(*res, OJson{{"object", "list"}, {"data", OJson::array({model_object(st)})}});
}

void handle_model(ServiceState& st, const http::Request& req, std::shared_ptr<http::Responder> res) {
  // Model ids may contain '/', which the router's {id} segment cannot hold: match the whole rest.
  const std::string& id = req.param("*");
  if (id.empty()) return handle_models(st, req, std::move(res));  // "/v1/models/" (the route's tail is empty)
  if (id != st.config.model_id) {
    return send_error(st, *res, Error{ErrorCode::kNotFound, "model", "The model '" + id + "' does not exist"});
  }
  send_json(*res, model_object(st));
}

}  // namespace shuo::api::openai
