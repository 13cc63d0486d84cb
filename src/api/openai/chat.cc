// POST /v1/chat/completions: messages → the model's chat template (or a built-in format) →
// prompt tokens → assistant reply, whole ("chat.completion") or streamed
// ("chat.completion.chunk"), with OpenAI's chat logprobs shape.
#include <ctime>

#include "api/openai/generation.h"
#include "api/openai/handlers.h"

namespace shuo::api::openai {

namespace {

OJson top_entry(const std::string& bytes, float logprob) {
  return OJson{{"token", logprob_token_text(bytes)}, {"logprob", logprob}, {"bytes", bytes_array(bytes)}};
}

// {"content": [{"token", "logprob", "bytes", "top_logprobs": [{"token", "logprob", "bytes"}]}]}
OJson chat_logprobs(const text::Tokenizer& tok, const std::vector<TokenLogprob>& lps) {
  OJson content = OJson::array();
  for (const TokenLogprob& lp : lps) {
    OJson e = top_entry(lp.bytes, lp.logprob);
    OJson top = OJson::array();
    for (const auto& [id, v] : lp.top) top.push_back(top_entry(tok.token_to_piece(id), v));
    e["top_logprobs"] = std::move(top);
    content.push_back(std::move(e));
  }
  return OJson{{"content", std::move(content)}, {"refusal", nullptr}};
}

class ChatFormatJson final : public ResponseFormat {
 public:
  ChatFormatJson(const ServiceState& st, bool want_logprobs, bool include_usage)
      : tok_(st.tokenizer), id_(st.next_id("chatcmpl-")), created_(std::time(nullptr)),
        model_(st.config.model_id), want_logprobs_(want_logprobs), include_usage_(include_usage) {}

  std::vector<OJson> stream_start(int n_choices) override {
    std::vector<OJson> out;
    for (int i = 0; i < n_choices; ++i)
      out.push_back(chunk(i, OJson{{"role", "assistant"}, {"content", ""}}, nullptr, nullptr));
    return out;
  }
  OJson stream_delta(int index, const ChoiceDelta& d) override {
    return chunk(index, OJson{{"content", d.text}},
                 want_logprobs_ ? chat_logprobs(tok_, d.logprobs) : OJson(nullptr), nullptr);
  }
  OJson stream_finish(int index, const std::string& reason) override {
    return chunk(index, OJson::object(), nullptr, reason);
  }
  OJson stream_usage(const Usage& u) override {
    OJson j = head("chat.completion.chunk");
    j["choices"] = OJson::array();
    j["usage"] = usage_json(u);
    return j;
  }
  OJson whole(const std::vector<ChoiceResult>& choices, const Usage& u) override {
    OJson j = head("chat.completion");
    OJson arr = OJson::array();
    for (size_t i = 0; i < choices.size(); ++i) {
      arr.push_back(OJson{{"index", i},
                          {"message", OJson{{"role", "assistant"}, {"content", choices[i].text}}},
                          {"logprobs", want_logprobs_ ? chat_logprobs(tok_, choices[i].logprobs) : OJson(nullptr)},
                          {"finish_reason", choices[i].finish_reason}});
    }
    j["choices"] = std::move(arr);
    j["usage"] = usage_json(u);
    return j;
  }

 private:
  OJson head(const char* object) const {
    return OJson{{"id", id_}, {"object", object}, {"created", created_}, {"model", model_}};
  }
  OJson chunk(int index, OJson delta, OJson logprobs, const OJson& finish) const {
    OJson j = head("chat.completion.chunk");
    j["choices"] = OJson::array({OJson{{"index", index}, {"delta", std::move(delta)},
                                       {"logprobs", std::move(logprobs)}, {"finish_reason", finish}}});
    if (include_usage_) j["usage"] = nullptr;
    return j;
  }

  const text::Tokenizer& tok_;
  std::string id_;
  int64_t created_;
  std::string model_;
  bool want_logprobs_, include_usage_;
};

}  // namespace

void handle_chat_completions(ServiceState& st, const http::Request& req, std::shared_ptr<http::Responder> res) {
  auto parsed = parse_chat_request(req.body);
  if (!parsed.ok()) return send_error(st, *res, parsed.error());
  ChatRequest& r = *parsed;
  if (auto m = check_model(st, r.gen.model); !m.ok()) return send_error(st, *res, m.error());

  auto rendered = st.chat.render(r.messages, r.add_generation_prompt, r.template_kwargs);
  if (!rendered.ok()) return send_error(st, *res, rendered.error());
  std::vector<PreparedPrompt> prompts;
  prompts.push_back(prepare_chat_prompt(st, *rendered));
  auto format = std::make_unique<ChatFormatJson>(st, r.gen.want_logprobs, r.gen.stream && r.gen.include_usage);
  run_generation(st, std::move(res), std::move(prompts), r.gen, std::move(format));
}

}  // namespace shuo::api::openai
