// POST /v1/embeddings: input (string, strings, token ids, arrays of token ids) → one
// L2-normalised vector per input, as floats or base64 of little-endian float32.
#include <bit>
#include <cstring>

#include "api/openai/embedder.h"
#include "api/openai/generation.h"
#include "api/openai/handlers.h"

namespace shuo::api::openai {

namespace {

std::string base64(const unsigned char* p, size_t n) {
  static constexpr char kAlphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  out.reserve((n + 2) / 3 * 4);
  size_t i = 0;
  for (; i + 2 < n; i += 3) {
    const uint32_t v = uint32_t(p[i]) << 16 | uint32_t(p[i + 1]) << 8 | p[i + 2];
    out += kAlphabet[v >> 18];
    out += kAlphabet[(v >> 12) & 63];
    out += kAlphabet[(v >> 6) & 63];
    out += kAlphabet[v & 63];
  }
  if (i < n) {
    const uint32_t v = uint32_t(p[i]) << 16 | (i + 1 < n ? uint32_t(p[i + 1]) << 8 : 0);
    out += kAlphabet[v >> 18];
    out += kAlphabet[(v >> 12) & 63];
    out += i + 1 < n ? kAlphabet[(v >> 6) & 63] : '=';
    out += '=';
  }
  return out;
}

// float32 little-endian bytes (x86 and ARM are little-endian; checked at compile time).
std::string base64_floats(const std::vector<float>& v) {
  static_assert(std::endian::native == std::endian::little, "base64 embeddings assume little-endian floats");
  return base64(reinterpret_cast<const unsigned char*>(v.data()), v.size() * sizeof(float));
}

}  // namespace

void handle_embeddings(ServiceState& st, const http::Request& req, std::shared_ptr<http::Responder> res) {
  auto parsed = parse_embedding_request(req.body);
  if (!parsed.ok()) return send_error(st, *res, parsed.error());
  if (auto m = check_model(st, parsed->model); !m.ok()) return send_error(st, *res, m.error());
  if (!st.embedder)
    return send_error(st, *res, Error{ErrorCode::kUnsupported, "model", "this server does not serve embeddings"});

  std::vector<std::vector<int32_t>> inputs;
  int64_t n_tokens = 0;
  for (const PromptInput& in : parsed->inputs) {
    // User text: special tokens are not parsed; BOS as the model's tokenizer wants it.
    inputs.push_back(in.is_ids ? in.ids : st.tokenizer.encode(in.text, /*add_special=*/true, /*parse_special=*/false));
    n_tokens += int64_t(inputs.back().size());
  }
  const bool b64 = parsed->base64;
  const std::string model = st.config.model_id;
  ServiceState* state = &st;
  auto submitted = st.embedder->submit(std::move(inputs), [res, b64, model, n_tokens, state](Result<Embedder::Vectors> r) {
    if (!r.ok()) return send_error(*state, *res, r.error());
    OJson data = OJson::array();
    for (size_t i = 0; i < r->size(); ++i) {
      OJson e = b64 ? OJson(base64_floats((*r)[i])) : OJson((*r)[i]);
      data.push_back(OJson{{"object", "embedding"}, {"index", i}, {"embedding", std::move(e)}});
    }
    send_json(*res, OJson{{"object", "list"}, {"data", std::move(data)}, {"model", model},
                          {"usage", OJson{{"prompt_tokens", n_tokens}, {"total_tokens", n_tokens}}}});
  });
  if (!submitted.ok()) send_error(st, *res, submitted.error());
}

}  // namespace shuo::api::openai
