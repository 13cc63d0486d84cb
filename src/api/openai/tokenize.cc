// POST /tokenize and /detokenize, in llama.cpp server's shapes: {"content"} → {"tokens"} and
// {"tokens"} → {"content"}. Raw text is tokenized with special tokens parsed, as llama.cpp does.
#include "api/openai/generation.h"
#include "api/openai/handlers.h"
#include "text/utf8.h"

namespace shuo::api::openai {

void handle_tokenize(ServiceState& st, const http::Request& req, std::shared_ptr<http::Responder> res) {
  auto r = parse_tokenize_request(req.body);
  if (!r.ok()) return send_error(st, *res, r.error());
  const auto ids = st.tokenizer.encode(r->content, r->add_special, /*parse_special=*/true);
  OJson tokens = OJson::array();
  for (int32_t id : ids) {
    if (r->with_pieces) {
      const std::string piece = st.tokenizer.token_to_piece(id, /*render_special=*/true);
      // A piece that is not whole UTF-8 (a byte token) is given as its bytes.
      OJson p = text::is_valid_utf8(piece) ? OJson(piece) : bytes_array(piece);
      tokens.push_back(OJson{{"id", id}, {"piece", std::move(p)}});
    } else {
      tokens.push_back(id);
    }
  }
  send_json(*res, OJson{{"tokens", std::move(tokens)}});
}

void handle_detokenize(ServiceState& st, const http::Request& req, std::shared_ptr<http::Responder> res) {
  auto r = parse_detokenize_request(req.body);
  if (!r.ok()) return send_error(st, *res, r.error());
  for (size_t i = 0; i < r->tokens.size(); ++i) {
    if (r->tokens[i] >= st.tokenizer.n_vocab())
      return send_error(st, *res, Error{ErrorCode::kBadField, "tokens[" + std::to_string(i) + "]",
                                        "token id " + std::to_string(r->tokens[i]) + " is outside the vocabulary [0, " +
                                            std::to_string(st.tokenizer.n_vocab()) + ")"});
  }
  send_json(*res, OJson{{"content", st.tokenizer.decode(r->tokens)}});
}

}  // namespace shuo::api::openai
