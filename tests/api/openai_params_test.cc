// OpenAI request parsing, error mapping and per-choice text assembly, without a server.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "api/openai/errors.h"
#include "api/openai/generation.h"
#include "api/openai/params.h"
#include "format/gguf.h"
#include "test_support.h"
#include "text/tokenizer.h"

namespace shuo::api::openai {
namespace {

Error parse_error(std::string_view body) {
  auto r = parse_completion_request(body);
  EXPECT_FALSE(r.ok()) << body;
  return r.ok() ? Error{} : r.error();
}

TEST(OpenAiParams, CompletionDefaultsAndFields) {
  auto r = parse_completion_request(R"({"prompt":"hi"})");
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->prompts.size(), 1u);
  EXPECT_FALSE(r->gen.max_tokens.has_value());  // up to the context
  EXPECT_EQ(r->gen.n, 1);
  EXPECT_FLOAT_EQ(r->gen.sampling.temperature, 1.0f);

  auto f = parse_completion_request(R"({"prompt":[[1,2],[3]],"max_tokens":8,"max_completion_tokens":9,
      "temperature":0.5,"top_p":0.9,"top_k":-1,"min_p":0.1,"repetition_penalty":1.2,"presence_penalty":-1,
      "frequency_penalty":1,"logit_bias":{"7":-100,"8":2.5},"seed":-1,"stop":"\n","n":2,"logprobs":2,
      "stream":true,"stream_options":{"include_usage":true},"ignore_eos":true,"min_tokens":3,
      "num_beams":1,"temperature_unknown":"x","max_tokens_extra":null})");
  ASSERT_TRUE(f.ok()) << f.error().to_string();
  const auto& g = f->gen;
  EXPECT_EQ(f->prompts.size(), 2u);
  EXPECT_TRUE(f->prompts[0].is_ids);
  EXPECT_EQ(f->prompts[1].ids, std::vector<int32_t>{3});
  EXPECT_EQ(*g.max_tokens, 9);
  EXPECT_FLOAT_EQ(g.sampling.temperature, 0.5f);
  EXPECT_EQ(g.sampling.top_k, 0);
  EXPECT_EQ(g.sampling.logit_bias.size(), 2u);
  EXPECT_TRUE(g.sampling.has_seed);
  EXPECT_EQ(g.sampling.seed, ~uint64_t(0));
  EXPECT_EQ(g.stop, std::vector<std::string>{"\n"});
  EXPECT_EQ(g.n, 2);
  EXPECT_TRUE(g.want_logprobs);
  EXPECT_EQ(g.top_logprobs, 2);
  EXPECT_TRUE(g.stream && g.include_usage && g.ignore_eos);
  EXPECT_EQ(g.min_tokens, 3);
}

TEST(OpenAiParams, GreedyAliases) {
  EXPECT_EQ(parse_completion_request(R"({"prompt":"x","do_sample":false})")->gen.sampling.temperature, 0.0f);
  EXPECT_EQ(parse_completion_request(R"({"prompt":"x","top_p":0})")->gen.sampling.temperature, 0.0f);
  EXPECT_EQ(parse_completion_request(R"({"prompt":"x","temperature":null})")->gen.sampling.temperature, 1.0f);
}

TEST(OpenAiParams, WrongTypesAndRangesNameTheField) {
  struct Case {
    const char* body;
    const char* where;
  } cases[] = {
      {R"([1,2])", "body"},
      {R"({"prompt":"x",})", "body"},
      {R"({"prompt":"x","temperature":true})", "temperature"},
      {R"({"prompt":"x","temperature":-0.1})", "temperature"},
      {R"({"prompt":"x","top_k":-2})", "top_k"},
      {R"({"prompt":"x","min_p":2})", "min_p"},
      {R"({"prompt":"x","repetition_penalty":0})", "repetition_penalty"},
      {R"({"prompt":"x","frequency_penalty":-2.5})", "frequency_penalty"},
      {R"({"prompt":"x","max_tokens":"5"})", "max_tokens"},
      {R"({"prompt":"x","max_tokens":4,"min_tokens":5})", "min_tokens"},
      {R"({"prompt":"x","n":129})", "n"},
      {R"({"prompt":"x","stop":["ok",""]})", "stop"},
      {R"({"prompt":"x","stop":["ok",3]})", "stop[1]"},
      {R"({"prompt":"x","logit_bias":[1]})", "logit_bias"},
      {R"({"prompt":"x","logit_bias":{"-1":1}})", "logit_bias[\"-1\"]"},
      {R"({"prompt":"x","logit_bias":{"1":"a"}})", "logit_bias[\"1\"]"},
      {R"({"prompt":"x","stream_options":{"include_usage":1}})", "stream_options.include_usage"},
      {R"({"prompt":["a",[1,-1]]})", "prompt[1][1]"},
      {R"({"prompt":["a",[]]})", "prompt[1]"},
      {R"({"prompt":[1.5]})", "prompt[0]"},
      {R"({"prompt":"x","model":5})", "model"},
      {R"({"prompt":"x","deep":[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]})", "body"},
  };
  for (const auto& c : cases) {
    Error e = parse_error(c.body);
    EXPECT_EQ(e.code, ErrorCode::kBadField) << c.body;
    EXPECT_EQ(e.where, c.where) << c.body << " → " << e.to_string();
    ApiError api = to_api_error(e);
    EXPECT_EQ(api.status, 400);
    EXPECT_EQ(api.param, c.where);
  }
  // Brackets inside strings do not count as nesting.
  EXPECT_TRUE(parse_completion_request(R"({"prompt":"[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[\"{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{"})").ok());
}

TEST(OpenAiParams, BeamSearchFields) {
  auto r = parse_completion_request(R"({"prompt":"x","num_beams":4,"n":3,"length_penalty":0.5,"early_stopping":"never"})");
  ASSERT_TRUE(r.ok()) << r.error().to_string();
  EXPECT_EQ(r->gen.num_beams, 4);
  EXPECT_EQ(r->gen.n, 3);
  EXPECT_FLOAT_EQ(r->gen.length_penalty, 0.5f);
  EXPECT_EQ(r->gen.early_stopping, engine::EarlyStopping::kNever);
  // do_sample false is explicit beam search; absent is taken as false (Hugging Face's default).
  auto c = parse_chat_request(R"({"messages":[{"role":"user","content":"x"}],"num_beams":2,"do_sample":false,"early_stopping":true})");
  ASSERT_TRUE(c.ok()) << c.error().to_string();
  EXPECT_EQ(c->gen.num_beams, 2);
  EXPECT_EQ(c->gen.early_stopping, engine::EarlyStopping::kFirst);
  EXPECT_EQ(parse_completion_request(R"({"prompt":"x"})")->gen.num_beams, 1);
  EXPECT_EQ(parse_completion_request(R"({"prompt":"x","early_stopping":false})")->gen.early_stopping,
            engine::EarlyStopping::kHeuristic);

  struct Case {
    const char* body;
    const char* where;
  } cases[] = {
      {R"({"prompt":"x","num_beams":2,"do_sample":true})", "do_sample"},
      {R"({"prompt":"x","num_beams":9})", "num_beams"},
      {R"({"prompt":"x","num_beams":0})", "num_beams"},
      {R"({"prompt":"x","num_beams":"4"})", "num_beams"},
      {R"({"prompt":"x","num_beams":3,"n":4})", "n"},
      {R"({"prompt":"x","num_beams":3,"length_penalty":11})", "length_penalty"},
      {R"({"prompt":"x","num_beams":3,"length_penalty":"long"})", "length_penalty"},
      {R"({"prompt":"x","num_beams":3,"early_stopping":"sometimes"})", "early_stopping"},
      {R"({"prompt":"x","num_beams":3,"early_stopping":1})", "early_stopping"},
  };
  for (const auto& k : cases) {
    Error e = parse_error(k.body);
    EXPECT_EQ(e.code, ErrorCode::kBadField) << k.body;
    EXPECT_EQ(e.where, k.where) << k.body << " → " << e.to_string();
    EXPECT_EQ(to_api_error(e).status, 400) << k.body;
  }
  // vLLM's use_beam_search: best_of (else n) beams.
  auto v = parse_completion_request(R"({"prompt":"x","use_beam_search":true,"best_of":4,"n":2})");
  ASSERT_TRUE(v.ok()) << v.error().to_string();
  EXPECT_EQ(v->gen.num_beams, 4);
  EXPECT_EQ(v->gen.n, 2);
  EXPECT_EQ(parse_completion_request(R"({"prompt":"x","use_beam_search":true,"n":3})")->gen.num_beams, 3);
  EXPECT_EQ(parse_completion_request(R"({"prompt":"x","use_beam_search":true})")->gen.sampling.temperature, 0.0f);
  EXPECT_EQ(parse_error(R"({"prompt":"x","use_beam_search":true,"best_of":9})").where, "best_of");
  EXPECT_EQ(parse_error(R"({"prompt":"x","use_beam_search":"yes"})").where, "use_beam_search");
  EXPECT_EQ(parse_error(R"({"prompt":"x","best_of":3,"n":2})").code, ErrorCode::kUnsupported);
  // One beam is no beam search: do_sample true stays sampling.
  EXPECT_TRUE(parse_completion_request(R"({"prompt":"x","num_beams":1,"do_sample":true})").ok());
}

TEST(OpenAiParams, ChatMessages) {
  auto r = parse_chat_request(R"({"messages":[{"role":"developer","content":"be brief"},
      {"role":"user","content":[{"type":"text","text":"a"},{"type":"text","text":"b"}],"name":"u"},
      {"role":"assistant","content":null}],"logprobs":true,"top_logprobs":3,"tools":[]})");
  ASSERT_TRUE(r.ok()) << r.error().to_string();
  ASSERT_EQ(r->messages.size(), 3u);
  EXPECT_EQ(r->messages[0]["role"], "system");
  EXPECT_EQ(r->messages[1]["content"], "ab");
  EXPECT_EQ(r->messages[1]["name"], "u");
  EXPECT_EQ(r->messages[2]["content"], "");
  EXPECT_TRUE(r->gen.want_logprobs);
  EXPECT_EQ(r->gen.top_logprobs, 3);

  auto no_content = parse_chat_request(R"({"messages":[{"role":"user"}]})");
  ASSERT_FALSE(no_content.ok());
  EXPECT_EQ(no_content.error().where, "messages[0].content");
  auto tools = parse_chat_request(R"({"messages":[{"role":"user","content":"x"}],"tools":[{"type":"function"}]})");
  ASSERT_FALSE(tools.ok());
  EXPECT_EQ(tools.error().code, ErrorCode::kUnsupported);
  auto json_mode = parse_chat_request(R"({"messages":[{"role":"user","content":"x"}],"response_format":{"type":"json_object"}})");
  ASSERT_FALSE(json_mode.ok());
  EXPECT_EQ(json_mode.error().where, "response_format");
}

TEST(OpenAiParams, EmbeddingsTokenizeDetokenize) {
  auto e = parse_embedding_request(R"({"input":["a","b"],"encoding_format":"base64"})");
  ASSERT_TRUE(e.ok());
  EXPECT_EQ(e->inputs.size(), 2u);
  EXPECT_TRUE(e->base64);
  EXPECT_FALSE(parse_embedding_request(R"({"input":"a","dimensions":8})").ok());
  EXPECT_EQ(parse_tokenize_request(R"({"content":"x","add_special":true})")->add_special, true);
  EXPECT_EQ(parse_detokenize_request(R"({"tokens":[1,2]})")->tokens.size(), 2u);
  EXPECT_EQ(parse_detokenize_request(R"({"tokens":"12"})").error().where, "tokens");
}

TEST(OpenAiErrors, StatusCodesAndShape) {
  EXPECT_EQ(to_api_error({ErrorCode::kLimit, "context", "too long"}).code, "context_length_exceeded");
  EXPECT_EQ(to_api_error({ErrorCode::kLimit, "context", "too long"}).status, 400);
  ApiError q = to_api_error({ErrorCode::kLimit, "queue", "full"});
  EXPECT_EQ(q.status, 429);
  EXPECT_GT(q.retry_after_s, 0);
  EXPECT_EQ(to_api_error({ErrorCode::kLimit, "engine", "shutting down"}).status, 503);
  EXPECT_EQ(to_api_error({ErrorCode::kNotFound, "model", "no"}).status, 404);
  // raise_exception's message is shown as the template wrote it.
  ApiError t = to_api_error({ErrorCode::kBadField, "raise_exception", "Conversation roles must alternate"});
  EXPECT_EQ(t.status, 400);
  EXPECT_EQ(t.message, "Conversation roles must alternate");
  ApiError bug = to_api_error({ErrorCode::kInternal, "x", "invariant"});
  EXPECT_EQ(bug.status, 500);
  http::Response r = error_response(bug, "req-1", nullptr);
  EXPECT_EQ(r.status, 500);
  auto j = nlohmann::json::parse(r.body);
  EXPECT_EQ(j["error"]["message"], "internal error (request id req-1)");  // details go to the log
  EXPECT_EQ(j["error"]["type"], "server_error");
  EXPECT_TRUE(j["error"]["param"].is_null());
  http::Response full = error_response(q, "req-2", nullptr);
  ASSERT_EQ(full.headers.size(), 1u);
  EXPECT_EQ(full.headers[0].first, "Retry-After");
}

TEST(OpenAiLogprobText, PartialCharactersAreSpelledAsBytes) {
  EXPECT_EQ(logprob_token_text("ab"), "ab");
  EXPECT_EQ(logprob_token_text("\xE4\xBD"), "bytes:\\xe4\\xbd");
  EXPECT_EQ(bytes_array("\xE4\x41"), nlohmann::ordered_json({228, 65}));
}

class ChoiceTextTest : public ::testing::Test {
 protected:
  void SetUp() override {
    SHUO_REQUIRE_TESTDATA("stories260K/model.gguf");
    auto f = format::GgufFile::open((shuo::testing::testdata_dir() / "stories260K/model.gguf").string());
    ASSERT_TRUE(f.ok());
    file_ = std::make_unique<format::GgufFile>(std::move(*f));
    auto t = text::Tokenizer::from_gguf(*file_);
    ASSERT_TRUE(t.ok());
    tok_ = std::move(*t);
  }
  ChoiceText make(std::vector<std::string> stops, bool logprobs = false) {
    return ChoiceText(*tok_, *text::StopStringMatcher::create(std::move(stops)), false, logprobs);
  }
  static engine::TokenEvent ev(int32_t id) {
    engine::TokenEvent e;
    e.token = id;
    e.logprob = -0.5f;
    return e;
  }
  std::unique_ptr<format::GgufFile> file_;
  std::unique_ptr<text::Tokenizer> tok_;
};

TEST_F(ChoiceTextTest, SplitCharacterIsSentWhole) {
  // 你 = E4 BD A0 = byte tokens 231 192 163.
  ChoiceText c = make({}, /*logprobs=*/true);
  ChoiceDelta a = c.push(ev(231)), b = c.push(ev(192)), d = c.push(ev(163));
  EXPECT_EQ(a.text, "");
  EXPECT_EQ(b.text, "");
  EXPECT_EQ(d.text, "你");
  ASSERT_EQ(a.logprobs.size(), 1u);  // a token's logprob is reported even while its text waits
  EXPECT_EQ(a.logprobs[0].bytes, "\xE4");
  EXPECT_EQ(d.logprobs[0].text_offset, 2u);
  // An unfinished character at the end is dropped, not sent as U+FFFD.
  ChoiceText e = make({});
  EXPECT_EQ(e.push(ev(231)).text, "");
  EXPECT_EQ(e.finish().text, "");
}

TEST_F(ChoiceTextTest, NothingAfterAStopString) {
  ChoiceText c = make({" upon"});
  const std::vector<int32_t> ids = {403, 407, 261, 378};  // "Once upon a time" (first has a leading space)
  std::string out;
  for (int32_t id : ids) {
    out += c.push(ev(id)).text;
    if (c.stopped()) break;
  }
  out += c.finish().text;
  EXPECT_TRUE(c.stopped());
  EXPECT_EQ(out, " Once");
  EXPECT_EQ(c.push(ev(403)).text, "");
}

}  // namespace
}  // namespace shuo::api::openai
