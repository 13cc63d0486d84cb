// POST /v1/completions: prompt (string, strings, token ids, arrays of token ids) → text
// completions, whole or streamed as "text_completion" events; legacy logprobs shape.
#include <ctime>

#include "api/openai/generation.h"
#include "api/openai/handlers.h"

namespace shuo::api::openai {

namespace {

// Legacy logprobs: {"tokens", "token_logprobs", "top_logprobs": [{token: logprob}], "text_offset"}.
OJson legacy_logprobs(const text::Tokenizer& tok, const std::vector<TokenLogprob>& lps) {
  OJson tokens = OJson::array(), values = OJson::array(), tops = OJson::array(), offsets = OJson::array();
  for (const TokenLogprob& lp : lps) {
    tokens.push_back(logprob_token_text(lp.bytes));
    values.push_back(lp.logprob);
    OJson top = OJson::object();
    for (const auto& [id, v] : lp.top) {
      const std::string key = logprob_token_text(tok.token_to_piece(id));
      if (!top.contains(key)) top[key] = v;
    }
    tops.push_back(std::move(top));
    offsets.push_back(lp.text_offset);
  }
  return OJson{{"tokens", std::move(tokens)}, {"token_logprobs", std::move(values)},
               {"top_logprobs", std::move(tops)}, {"text_offset", std::move(offsets)}};
}

class CompletionFormat final : public ResponseFormat {
 public:
  CompletionFormat(const ServiceState& st, bool want_logprobs, bool include_usage,
                   std::vector<std::string> echoes)
      : tok_(st.tokenizer), id_(st.next_id("cmpl-")), created_(std::time(nullptr)),
        model_(st.config.model_id), want_logprobs_(want_logprobs), include_usage_(include_usage),
        echoes_(std::move(echoes)) {}

  std::vector<OJson> stream_start(int n_choices) override {
    std::vector<OJson> out;
    for (int i = 0; i < n_choices; ++i)
      if (!echoes_[size_t(i)].empty()) out.push_back(chunk(i, echoes_[size_t(i)], nullptr, nullptr));
    return out;
  }
  OJson stream_delta(int index, const ChoiceDelta& d) override {
    return chunk(index, d.text, want_logprobs_ ? legacy_logprobs(tok_, d.logprobs) : OJson(nullptr), nullptr);
  }
  OJson stream_finish(int index, const std::string& reason) override {
    return chunk(index, "", want_logprobs_ ? legacy_logprobs(tok_, {}) : OJson(nullptr), reason);
  }
  OJson stream_usage(const Usage& u) override {
    OJson j = head();
    j["choices"] = OJson::array();
    j["usage"] = usage_json(u);
    return j;
  }
  OJson whole(const std::vector<ChoiceResult>& choices, const Usage& u) override {
    OJson j = head();
    OJson arr = OJson::array();
    for (size_t i = 0; i < choices.size(); ++i) {
      arr.push_back(OJson{{"text", choices[i].text},
                          {"index", i},
                          {"logprobs", want_logprobs_ ? legacy_logprobs(tok_, choices[i].logprobs) : OJson(nullptr)},
                          {"finish_reason", choices[i].finish_reason}});
    }
    j["choices"] = std::move(arr);
    j["usage"] = usage_json(u);
    return j;
  }

 private:
  OJson head() const {
    return OJson{{"id", id_}, {"object", "text_completion"}, {"created", created_}, {"model", model_}};
  }
  OJson chunk(int index, const std::string& text, OJson logprobs, const OJson& finish) const {
    OJson j = head();
    j["choices"] = OJson::array({OJson{{"text", text}, {"index", index}, {"logprobs", std::move(logprobs)},
                                       {"finish_reason", finish}}});
    if (include_usage_) j["usage"] = nullptr;
    return j;
  }

  const text::Tokenizer& tok_;
  std::string id_;
  int64_t created_;
  std::string model_;
  bool want_logprobs_, include_usage_;
  std::vector<std::string> echoes_;  // per choice
};

}  // namespace

void handle_completions(ServiceState& st, const http::Request& req, std::shared_ptr<http::Responder> res) {
  auto parsed = parse_completion_request(req.body);
  if (!parsed.ok()) return send_error(st, *res, parsed.error());
  CompletionRequest& r = *parsed;
  if (auto m = check_model(st, r.gen.model); !m.ok()) return send_error(st, *res, m.error());

  std::vector<PreparedPrompt> prompts;
  std::vector<std::string> echoes;
  for (const PromptInput& in : r.prompts) {
    PreparedPrompt p;
    if (in.is_ids) {
      p.ids = in.ids;
    } else {
      // The prompt is the model's whole input, so special tokens spelled in it are tokens.
      p.ids = st.tokenizer.encode(in.text, /*add_special=*/true, /*parse_special=*/true);
    }
    // A prompt of only BOS starts a text: SentencePiece's first word then has no leading space.
    p.strip_leading_space = st.tokenizer.adds_space_prefix() && p.ids.size() == 1 &&
                            p.ids[0] == st.tokenizer.bos_id();
    if (r.echo) p.echo = in.is_ids ? st.tokenizer.decode(in.ids) : in.text;
    for (int j = 0; j < r.gen.n; ++j) echoes.push_back(p.echo);
    prompts.push_back(std::move(p));
  }
  auto format = std::make_unique<CompletionFormat>(st, r.gen.want_logprobs, r.gen.stream && r.gen.include_usage,
                                                   std::move(echoes));
  run_generation(st, std::move(res), std::move(prompts), r.gen, std::move(format));
}

}  // namespace shuo::api::openai
