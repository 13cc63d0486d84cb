// End-to-end tests of the OpenAI surface: the real `shuo serve` binary on stories260K, spoken
// to over HTTP. Covers every endpoint, the error contract, streaming = non-streaming, stop
// strings, UTF-8 safety, n, logprobs, cancellation on disconnect, queue limits and SIGTERM.
#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <cstring>
#include <iostream>
#include <memory>

#include "api/openai_test_util.h"
#include "api/surface_test_util.h"
#include "format/gguf_writer.h"

namespace shuo::api::openai::testing {
namespace {

// One server shared by the tests that need no special flags.
class OpenAiServer : public surface_testing::SharedServerTest<OpenAiServer> {
 public:
  static constexpr const char* kName = "openai-test";
  static std::vector<std::string> serve_args() { return {"--max-body-bytes", "65536"}; }

 protected:
  Json completion(const Json& body, int status = 200) {
    Reply r = post(port(), "/v1/completions", body);
    EXPECT_EQ(r.status, status) << r.body;
    return json_of(r);
  }
  Json chat(const Json& body, int status = 200) {
    Reply r = post(port(), "/v1/chat/completions", body);
    EXPECT_EQ(r.status, status) << r.body;
    return json_of(r);
  }
  // A 400 whose error names `param`.
  void expect_bad(const std::string& path, const std::string& body, const std::string& param) {
    Reply r = post(port(), path, body);
    EXPECT_EQ(r.status, 400) << body << " → " << r.body;
    Json j = json_of(r);
    EXPECT_EQ(j["error"]["type"], "invalid_request_error") << r.body;
    EXPECT_EQ(j["error"]["param"], param) << body << " → " << r.body;
    EXPECT_TRUE(j["error"]["message"].is_string());
  }

};

Json reference_case(const std::string& name) {
  Json ref = Json::parse(shuo::testing::read_file(shuo::testing::testdata_dir() / "stories260K/reference.json"));
  for (const auto& c : ref["cases"])
    if (c["name"] == name) return c;
  ADD_FAILURE() << "no reference case " << name;
  return Json();
}

// Concatenated delta texts of a completions (text) or chat (delta.content) stream, per choice.
std::vector<std::string> stream_texts(const std::vector<Json>& events, bool chat, std::vector<std::string>* finish = nullptr) {
  std::vector<std::string> texts;
  for (const Json& e : events) {
    for (const Json& c : e["choices"]) {
      size_t i = c["index"].get<size_t>();
      if (texts.size() <= i) texts.resize(i + 1);
      if (finish && finish->size() <= i) finish->resize(i + 1);
      if (chat) {
        if (c["delta"].contains("content")) texts[i] += c["delta"]["content"].get<std::string>();
      } else {
        texts[i] += c["text"].get<std::string>();
      }
      if (finish && !c["finish_reason"].is_null()) (*finish)[i] = c["finish_reason"];
    }
  }
  return texts;
}

TEST_F(OpenAiServer, ModelsListsTheServedModel) {
  Reply r = get(port(), "/v1/models");
  ASSERT_EQ(r.status, 200) << r.body;
  Json j = json_of(r);
  EXPECT_EQ(j["object"], "list");
  ASSERT_EQ(j["data"].size(), 1u);
  EXPECT_EQ(j["data"][0]["id"], "stories260K");
  EXPECT_EQ(j["data"][0]["object"], "model");
  EXPECT_TRUE(j["data"][0]["created"].is_number_integer());
  EXPECT_TRUE(j["data"][0]["owned_by"].is_string());
  EXPECT_EQ(get(port(), "/v1/models/stories260K").status, 200);
  Reply missing = get(port(), "/v1/models/gpt-4");
  EXPECT_EQ(missing.status, 404);
  EXPECT_EQ(json_of(missing)["error"]["code"], "model_not_found");
}

TEST_F(OpenAiServer, HealthIsOk) {
  Reply r = get(port(), "/health");
  ASSERT_EQ(r.status, 200);
  EXPECT_EQ(json_of(r)["status"], "ok");
}

TEST_F(OpenAiServer, GreedyCompletionMatchesReference) {
  Json ref = reference_case("once_upon");
  Json j = completion({{"model", "stories260K"}, {"prompt", "Once upon a time"}, {"max_tokens", 64}, {"temperature", 0}});
  EXPECT_EQ(j["object"], "text_completion");
  EXPECT_EQ(j["model"], "stories260K");
  EXPECT_EQ(j["id"].get<std::string>().rfind("cmpl-", 0), 0u);
  ASSERT_EQ(j["choices"].size(), 1u);
  EXPECT_EQ(j["choices"][0]["text"], ref["gen_text"]);
  EXPECT_EQ(j["choices"][0]["finish_reason"], "length");
  EXPECT_EQ(j["choices"][0]["index"], 0);
  EXPECT_EQ(j["usage"]["prompt_tokens"], 5);
  EXPECT_EQ(j["usage"]["completion_tokens"], 64);
  EXPECT_EQ(j["usage"]["total_tokens"], 69);
}

TEST_F(OpenAiServer, PromptFormsGiveTheSameText) {
  // A string, token ids and a list mixing both: same prompt, same greedy text, indexed choices.
  Json ids = {1, 403, 407, 261, 378};
  Json j = completion({{"prompt", {ids, "Once upon a time"}}, {"max_tokens", 12}, {"temperature", 0}});
  ASSERT_EQ(j["choices"].size(), 2u);
  EXPECT_EQ(j["choices"][0]["index"], 0);
  EXPECT_EQ(j["choices"][1]["index"], 1);
  EXPECT_EQ(j["choices"][0]["text"], j["choices"][1]["text"]);
  EXPECT_EQ(j["usage"]["prompt_tokens"], 10);
  Json flat = completion({{"prompt", ids}, {"max_tokens", 12}, {"temperature", 0}});
  EXPECT_EQ(flat["choices"][0]["text"], j["choices"][0]["text"]);
  Json echo = completion({{"prompt", "Once upon a time"}, {"max_tokens", 12}, {"temperature", 0}, {"echo", true}});
  EXPECT_EQ(echo["choices"][0]["text"], "Once upon a time" + flat["choices"][0]["text"].get<std::string>());
}

TEST_F(OpenAiServer, StreamedCompletionEqualsWholeForTheSameSeed) {
  Json body = {{"prompt", "Lily had a"}, {"max_tokens", 40}, {"temperature", 0.9}, {"top_p", 0.95},
               {"seed", 1234}};
  Json whole = completion(body);
  body["stream"] = true;
  body["stream_options"] = {{"include_usage", true}};
  Reply r = post(port(), "/v1/completions", body);
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(r.header("Content-Type").value_or(""), "text/event-stream");
  auto events = sse_json(r.body);
  ASSERT_GE(events.size(), 2u);
  std::vector<std::string> finish;
  auto texts = stream_texts(events, false, &finish);
  ASSERT_EQ(texts.size(), 1u);
  EXPECT_EQ(texts[0], whole["choices"][0]["text"]);
  EXPECT_EQ(finish[0], whole["choices"][0]["finish_reason"]);
  for (size_t i = 0; i + 1 < events.size(); ++i) EXPECT_EQ(events[i]["object"], "text_completion");
  const Json& usage = events.back();
  EXPECT_TRUE(usage["choices"].empty());
  EXPECT_EQ(usage["usage"], whole["usage"]);
}

TEST_F(OpenAiServer, ChatCompletionAndItsStream) {
  Json body = {{"model", "stories260K"},
               {"messages", {{{"role", "system"}, {"content", "Tell a story."}},
                             {{"role", "user"}, {"content", "Once upon a time"}}}},
               {"max_tokens", 30}, {"temperature", 0.7}, {"seed", 7}};
  Json whole = chat(body);
  EXPECT_EQ(whole["object"], "chat.completion");
  EXPECT_EQ(whole["id"].get<std::string>().rfind("chatcmpl-", 0), 0u);
  ASSERT_EQ(whole["choices"].size(), 1u);
  EXPECT_EQ(whole["choices"][0]["message"]["role"], "assistant");
  EXPECT_TRUE(whole["choices"][0]["message"]["content"].is_string());
  EXPECT_TRUE(whole["choices"][0]["logprobs"].is_null());
  EXPECT_GT(whole["usage"]["prompt_tokens"].get<int>(), 5);

  body["stream"] = true;
  Reply r = post(port(), "/v1/chat/completions", body);
  ASSERT_EQ(r.status, 200) << r.body;
  auto events = sse_json(r.body);
  ASSERT_GE(events.size(), 2u);
  EXPECT_EQ(events.front()["choices"][0]["delta"]["role"], "assistant");
  for (const Json& e : events) {
    EXPECT_EQ(e["object"], "chat.completion.chunk");
    EXPECT_EQ(e["id"], events.front()["id"]);
    EXPECT_FALSE(e.contains("usage"));  // only with stream_options.include_usage
  }
  EXPECT_FALSE(events.back()["choices"][0]["finish_reason"].is_null());
  std::vector<std::string> finish;
  auto texts = stream_texts(events, true, &finish);
  EXPECT_EQ(texts[0], whole["choices"][0]["message"]["content"]);
  EXPECT_EQ(finish[0], whole["choices"][0]["finish_reason"]);

  // Content given as text parts is the same message.
  Json parts = body;
  parts["stream"] = false;
  parts["messages"][1]["content"] = {{{"type", "text"}, {"text", "Once upon "}}, {{"type", "text"}, {"text", "a time"}}};
  EXPECT_EQ(chat(parts)["choices"][0]["message"], whole["choices"][0]["message"]);
}

TEST_F(OpenAiServer, StopStringCutsExactly) {
  // Greedy text: ", there was a little girl named Lily. She loved to play ..."
  Json body = {{"prompt", "Once upon a time"}, {"max_tokens", 64}, {"temperature", 0}, {"stop", {" girl", "zzz"}}};
  Json j = completion(body);
  EXPECT_EQ(j["choices"][0]["text"], ", there was a little");
  EXPECT_EQ(j["choices"][0]["finish_reason"], "stop");
  EXPECT_LT(j["usage"]["completion_tokens"].get<int>(), 64);
  body["stream"] = true;
  Reply r = post(port(), "/v1/completions", body);
  std::vector<std::string> finish;
  auto texts = stream_texts(sse_json(r.body), false, &finish);
  EXPECT_EQ(texts[0], ", there was a little");
  EXPECT_EQ(finish[0], "stop");
  // A stop string inside one token's text, and a single string.
  Json k = completion({{"prompt", "Once upon a time"}, {"max_tokens", 64}, {"temperature", 0}, {"stop", "ittl"}});
  EXPECT_EQ(k["choices"][0]["text"], ", there was a l");
}

TEST_F(OpenAiServer, ChineseStreamsWholeCharacters) {
  // The prompt holds byte-fallback tokens; every event must be valid JSON and UTF-8.
  Json body = {{"messages", {{{"role", "user"}, {"content", "Tom said 你好 to"}}}}, {"max_tokens", 24},
               {"temperature", 0}, {"stream", true}};
  Reply r = post(port(), "/v1/chat/completions", body);
  ASSERT_EQ(r.status, 200) << r.body;
  sse_json(r.body);

  // Make the model emit the three byte tokens of 你 (E4 BD A0 → ids 231 192 163) in random
  // order: a character split across tokens must only ever be sent whole, so the stream equals
  // the whole response, which holds at least one 你 for some seed.
  bool saw_char = false;
  for (int seed = 1; seed <= 20 && !saw_char; ++seed) {
    Json b = {{"prompt", "Tom said"}, {"max_tokens", 24}, {"seed", seed}, {"temperature", 1.0},
              {"logit_bias", {{"231", 100}, {"192", 100}, {"163", 100}}}};
    Json whole = completion(b);
    const std::string text = whole["choices"][0]["text"];
    b["stream"] = true;
    Reply s = post(port(), "/v1/completions", b);
    auto events = sse_json(s.body);
    for (const Json& e : events) {
      for (const Json& c : e["choices"]) {
        const std::string piece = c["text"];
        // No event ends in the middle of 你 nor starts inside one.
        EXPECT_EQ(piece.find("\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD"), std::string::npos);
      }
    }
    EXPECT_EQ(stream_texts(events, false)[0], text) << "seed " << seed;
    saw_char = text.find("你") != std::string::npos;
  }
  EXPECT_TRUE(saw_char) << "no seed produced 你; the test needs another way to force it";
}

TEST_F(OpenAiServer, NChoicesAreIndependent) {
  Json body = {{"prompt", "The cat"}, {"max_tokens", 16}, {"temperature", 1.0}, {"seed", 99}, {"n", 2}};
  Json j = completion(body);
  ASSERT_EQ(j["choices"].size(), 2u);
  EXPECT_EQ(j["choices"][0]["index"], 0);
  EXPECT_EQ(j["choices"][1]["index"], 1);
  EXPECT_NE(j["choices"][0]["text"], j["choices"][1]["text"]);
  EXPECT_EQ(j["usage"]["prompt_tokens"], 4);  // BOS The cat
  body["stream"] = true;
  std::vector<std::string> finish;
  auto texts = stream_texts(sse_json(post(port(), "/v1/completions", body).body), false, &finish);
  ASSERT_EQ(texts.size(), 2u);
  EXPECT_EQ(texts[0], j["choices"][0]["text"]);
  EXPECT_EQ(texts[1], j["choices"][1]["text"]);
  EXPECT_EQ(finish[0], j["choices"][0]["finish_reason"]);
  EXPECT_EQ(finish[1], j["choices"][1]["finish_reason"]);

  Json c = chat({{"messages", {{{"role", "user"}, {"content", "Hi"}}}}, {"max_tokens", 8}, {"n", 3}, {"seed", 1}});
  ASSERT_EQ(c["choices"].size(), 3u);
  for (int i = 0; i < 3; ++i) EXPECT_EQ(c["choices"][i]["index"], i);
}

TEST_F(OpenAiServer, CompletionLogprobsLegacyShape) {
  Json j = completion({{"prompt", "Once upon a time"}, {"max_tokens", 8}, {"temperature", 0}, {"logprobs", 3}});
  const Json& lp = j["choices"][0]["logprobs"];
  ASSERT_TRUE(lp.is_object()) << j.dump();
  ASSERT_EQ(lp["tokens"].size(), 8u);
  ASSERT_EQ(lp["token_logprobs"].size(), 8u);
  ASSERT_EQ(lp["top_logprobs"].size(), 8u);
  ASSERT_EQ(lp["text_offset"].size(), 8u);
  std::string joined;
  size_t prev = 0;
  for (size_t i = 0; i < 8; ++i) {
    joined += lp["tokens"][i].get<std::string>();
    const double v = lp["token_logprobs"][i];
    EXPECT_LE(v, 0.0);
    EXPECT_EQ(lp["top_logprobs"][i].size(), 3u);
    double best = -1e9;
    for (const auto& [tok, p] : lp["top_logprobs"][i].items()) best = std::max(best, p.get<double>());
    EXPECT_NEAR(v, best, 1e-5);  // greedy: the chosen token is the most likely one
    const size_t off = lp["text_offset"][i];
    EXPECT_GE(off, prev);
    prev = off;
  }
  EXPECT_EQ(joined, j["choices"][0]["text"]);
}

TEST_F(OpenAiServer, ChatLogprobsShape) {
  Json j = chat({{"messages", {{{"role", "user"}, {"content", "Hello"}}}}, {"max_tokens", 6}, {"temperature", 0},
                 {"logprobs", true}, {"top_logprobs", 2}, {"ignore_eos", true}});
  const Json& content = j["choices"][0]["logprobs"]["content"];
  ASSERT_EQ(content.size(), 6u) << j.dump();
  for (const Json& e : content) {
    EXPECT_TRUE(e["token"].is_string());
    EXPECT_LE(e["logprob"].get<double>(), 0.0);
    EXPECT_TRUE(e["bytes"].is_array());
    ASSERT_EQ(e["top_logprobs"].size(), 2u);
    EXPECT_TRUE(e["top_logprobs"][0].contains("token"));
    EXPECT_TRUE(e["top_logprobs"][0].contains("bytes"));
    EXPECT_GE(e["top_logprobs"][0]["logprob"].get<double>(), e["top_logprobs"][1]["logprob"].get<double>());
  }
  Json plain = chat({{"messages", {{{"role", "user"}, {"content", "Hello"}}}}, {"max_tokens", 2}, {"logprobs", true}});
  EXPECT_TRUE(plain["choices"][0]["logprobs"]["content"][0]["top_logprobs"].empty());
}

TEST_F(OpenAiServer, SamplingFieldsAreAccepted) {
  Json j = completion({{"prompt", "The cat"}, {"max_tokens", 4}, {"max_completion_tokens", 5},
                       {"temperature", 1.2}, {"top_p", 0.9}, {"top_k", 40}, {"min_p", 0.05},
                       {"repetition_penalty", 1.1}, {"presence_penalty", 0.5}, {"frequency_penalty", -0.5},
                       {"logit_bias", {{"269", -100}}}, {"seed", 3}, {"min_tokens", 5}, {"ignore_eos", true},
                       {"do_sample", true}, {"num_beams", 1}, {"user", "someone"}, {"unknown_field", {1, 2}}});
  EXPECT_EQ(j["usage"]["completion_tokens"], 5);  // max_completion_tokens wins
  // do_sample false is greedy whatever the temperature.
  Json a = completion({{"prompt", "Once upon a time"}, {"max_tokens", 10}, {"do_sample", false}, {"temperature", 1.5}});
  Json b = completion({{"prompt", "Once upon a time"}, {"max_tokens", 10}, {"temperature", 0}});
  EXPECT_EQ(a["choices"][0]["text"], b["choices"][0]["text"]);
}

TEST_F(OpenAiServer, BadRequestsName400Fields) {
  Reply bad_json = post(port(), "/v1/completions", std::string("{\"prompt\": \"x\""));
  EXPECT_EQ(bad_json.status, 400);
  EXPECT_EQ(json_of(bad_json)["error"]["param"], "body");
  expect_bad("/v1/completions", R"({"prompt":"x","temperature":"hot"})", "temperature");
  expect_bad("/v1/completions", R"({"prompt":"x","temperature":2.5})", "temperature");
  expect_bad("/v1/completions", R"({"prompt":"x","max_tokens":0})", "max_tokens");
  expect_bad("/v1/completions", R"({"prompt":"x","max_tokens":1.5})", "max_tokens");
  expect_bad("/v1/completions", R"({"prompt":"x","top_p":1.5})", "top_p");
  expect_bad("/v1/completions", R"({"prompt":"x","n":0})", "n");
  expect_bad("/v1/completions", R"({"prompt":"x","stream":"yes"})", "stream");
  expect_bad("/v1/completions", R"({"prompt":"x","stop":["a","b","c","d","e"]})", "stop");
  expect_bad("/v1/completions", R"({"prompt":"x","stop":5})", "stop");
  expect_bad("/v1/completions", R"({"prompt":"x","logit_bias":{"abc":1}})", "logit_bias[\"abc\"]");
  expect_bad("/v1/completions", R"({"prompt":"x","logit_bias":{"5":101}})", "logit_bias[\"5\"]");
  expect_bad("/v1/completions", R"({"prompt":"x","logit_bias":{"100000":1}})", "logit_bias");
  expect_bad("/v1/completions", R"({"prompt":[1, 99999]})", "prompt");
  expect_bad("/v1/completions", R"({"prompt":[]})", "prompt");
  expect_bad("/v1/completions", R"({"prompt":{"a":1}})", "prompt");
  expect_bad("/v1/completions", R"({"max_tokens":3})", "prompt");
  expect_bad("/v1/completions", R"({"prompt":"x","presence_penalty":3})", "presence_penalty");
  expect_bad("/v1/completions", R"({"prompt":"x","logprobs":21})", "logprobs");
  expect_bad("/v1/completions", R"({"prompt":"x","seed":"1"})", "seed");
  expect_bad("/v1/chat/completions", R"({"messages":[]})", "messages");
  expect_bad("/v1/chat/completions", R"({"messages":[{"role":"tool","content":"x"}]})", "messages[0].role");
  expect_bad("/v1/chat/completions", R"({"messages":[{"role":"user","content":5}]})", "messages[0].content");
  expect_bad("/v1/chat/completions", R"({"messages":[{"role":"user","content":[{"type":"image_url"}]}]})",
             "messages[0].content[0].type");
  expect_bad("/v1/chat/completions", R"({"messages":[{"role":"user","content":"x"}],"top_logprobs":2})", "top_logprobs");
  expect_bad("/v1/embeddings", R"({"input":"x","encoding_format":"int8"})", "encoding_format");
  expect_bad("/tokenize", R"({"content":5})", "content");
  expect_bad("/detokenize", R"({"tokens":[1,-2]})", "tokens[1]");
}

// Σ token_logprobs of a legacy-logprobs completion choice.
double logprob_sum(const Json& choice) {
  double sum = 0.0;
  for (const Json& v : choice["logprobs"]["token_logprobs"]) sum += v.get<double>();
  return sum;
}

TEST_F(OpenAiServer, BeamSearchReturnsTheNBestBeams) {
  Json body = {{"prompt", "Lily had a"}, {"max_tokens", 16}, {"num_beams", 3}, {"n", 2},
               {"do_sample", false}, {"logprobs", 0}, {"ignore_eos", true}};
  Json a = completion(body);
  ASSERT_EQ(a["choices"].size(), 2u) << a.dump();
  EXPECT_EQ(a["choices"][0]["index"], 0);
  EXPECT_EQ(a["choices"][1]["index"], 1);
  EXPECT_NE(a["choices"][0]["text"], a["choices"][1]["text"]);
  for (const Json& c : a["choices"]) {
    EXPECT_EQ(c["finish_reason"], "length");
    EXPECT_EQ(c["logprobs"]["token_logprobs"].size(), 16u);
  }
  // Best first (equal lengths: the sum decides), and at least as likely as greedy decoding.
  EXPECT_GE(logprob_sum(a["choices"][0]), logprob_sum(a["choices"][1]) - 1e-4);
  Json greedy = completion({{"prompt", "Lily had a"}, {"max_tokens", 16}, {"temperature", 0}, {"logprobs", 0}, {"ignore_eos", true}});
  EXPECT_GE(logprob_sum(a["choices"][0]), logprob_sum(greedy["choices"][0]) - 1e-4);
  EXPECT_EQ(a["usage"]["prompt_tokens"], 4);
  EXPECT_EQ(a["usage"]["completion_tokens"], 32);

  // Deterministic: the same request gives the same choices.
  Json b = completion(body);
  ASSERT_EQ(b["choices"].size(), 2u);
  EXPECT_EQ(b["choices"][0]["text"], a["choices"][0]["text"]);
  EXPECT_EQ(b["choices"][1]["text"], a["choices"][1]["text"]);

  // Streaming sends the same choices once the search is over.
  body["stream"] = true;
  std::vector<std::string> finish;
  Reply r = post(port(), "/v1/completions", body);
  ASSERT_EQ(r.status, 200) << r.body;
  auto texts = stream_texts(sse_json(r.body), false, &finish);
  ASSERT_EQ(texts.size(), 2u);
  EXPECT_EQ(texts[0], a["choices"][0]["text"]);
  EXPECT_EQ(texts[1], a["choices"][1]["text"]);
  EXPECT_EQ(finish[0], "length");
  EXPECT_NE(r.body.find("data: [DONE]"), std::string::npos);
}

TEST_F(OpenAiServer, BeamSearchOnChatWithStopStrings) {
  Json body = {{"messages", {{{"role", "user"}, {"content", "Tell me a story"}}}}, {"max_tokens", 24},
               {"num_beams", 4}, {"n", 3}, {"length_penalty", 0.0}, {"early_stopping", "never"}};
  Json all = chat(body);
  ASSERT_EQ(all["choices"].size(), 3u) << all.dump();
  // A stop string taken from the best reply ends the beams that reach it; no text after it.
  const std::string best = all["choices"][0]["message"]["content"];
  ASSERT_GE(best.size(), 4u) << best;
  const std::string stop = best.substr(best.size() / 2, 2);
  body["stop"] = stop;
  Json cut = chat(body);
  ASSERT_EQ(cut["choices"].size(), 3u) << cut.dump();
  int stopped = 0;
  for (const Json& c : cut["choices"]) {
    const std::string text = c["message"]["content"];
    EXPECT_EQ(text.find(stop), std::string::npos) << text;
    if (c["finish_reason"] == "stop") ++stopped;
  }
  EXPECT_GT(stopped, 0);
}

TEST_F(OpenAiServer, BeamSearchErrors) {
  expect_bad("/v1/completions", R"({"prompt":"x","num_beams":2,"do_sample":true})", "do_sample");
  expect_bad("/v1/chat/completions", R"({"messages":[{"role":"user","content":"x"}],"num_beams":3,"do_sample":true})", "do_sample");
  expect_bad("/v1/completions", R"({"prompt":"x","num_beams":9})", "num_beams");
  expect_bad("/v1/completions", R"({"prompt":"x","num_beams":3,"n":4})", "n");
  expect_bad("/v1/completions", R"({"prompt":"x","num_beams":3,"early_stopping":"maybe"})", "early_stopping");
  expect_bad("/v1/completions", R"({"prompt":"x","num_beams":3,"length_penalty":100})", "length_penalty");
}

TEST_F(OpenAiServer, ContextLengthExceeded) {
  Reply r = post(port(), "/v1/completions", Json{{"prompt", "Once upon a time"}, {"max_tokens", 600}});
  EXPECT_EQ(r.status, 400) << r.body;
  EXPECT_EQ(json_of(r)["error"]["code"], "context_length_exceeded");
  std::string long_text;
  for (int i = 0; i < 200; ++i) long_text += "Once upon a time ";
  Reply c = post(port(), "/v1/chat/completions", Json{{"messages", {{{"role", "user"}, {"content", long_text}}}}});
  EXPECT_EQ(c.status, 400) << c.body;
  EXPECT_EQ(json_of(c)["error"]["code"], "context_length_exceeded");
}

TEST_F(OpenAiServer, UnknownModelPathAndBodyLimit) {
  Reply m = post(port(), "/v1/completions", Json{{"model", "gpt-4"}, {"prompt", "x"}});
  EXPECT_EQ(m.status, 404);
  EXPECT_EQ(json_of(m)["error"]["code"], "model_not_found");
  Reply p = get(port(), "/v1/nothing");
  EXPECT_EQ(p.status, 404);
  EXPECT_TRUE(json_of(p)["error"].is_object());
  Reply big = post(port(), "/v1/completions", Json{{"prompt", std::string(70000, 'a')}});
  EXPECT_EQ(big.status, 413);
  EXPECT_TRUE(json_of(big)["error"].is_object());
}

TEST_F(OpenAiServer, Embeddings) {
  Reply r = post(port(), "/v1/embeddings", Json{{"model", "stories260K"}, {"input", {"Once upon a time", "The cat"}}});
  ASSERT_EQ(r.status, 200) << r.body;
  Json j = json_of(r);
  EXPECT_EQ(j["object"], "list");
  ASSERT_EQ(j["data"].size(), 2u);
  std::vector<float> first;
  for (const Json& d : j["data"]) {
    EXPECT_EQ(d["object"], "embedding");
    ASSERT_EQ(d["embedding"].size(), 64u);
    double norm = 0;
    for (const Json& v : d["embedding"]) norm += v.get<double>() * v.get<double>();
    EXPECT_NEAR(norm, 1.0, 1e-4);
  }
  first = j["data"][0]["embedding"].get<std::vector<float>>();
  EXPECT_NE(j["data"][0]["embedding"], j["data"][1]["embedding"]);
  EXPECT_EQ(j["usage"]["prompt_tokens"], 5 + 4);

  // Token ids give the same vector; base64 holds the same little-endian floats.
  Json ids = json_of(post(port(), "/v1/embeddings", Json{{"input", {1, 403, 407, 261, 378}}}));
  EXPECT_EQ(ids["data"][0]["embedding"].get<std::vector<float>>(), first);
  Json b64 = json_of(post(port(), "/v1/embeddings", Json{{"input", "Once upon a time"}, {"encoding_format", "base64"}}));
  const std::string s = b64["data"][0]["embedding"];
  std::string bytes;
  auto val = [](char c) { return c >= 'A' && c <= 'Z' ? c - 'A' : c >= 'a' && c <= 'z' ? c - 'a' + 26 : c >= '0' && c <= '9' ? c - '0' + 52 : c == '+' ? 62 : 63; };
  for (size_t i = 0; i + 3 < s.size(); i += 4) {
    uint32_t v = uint32_t(val(s[i])) << 18 | uint32_t(val(s[i + 1])) << 12;
    bytes += char(v >> 16);
    if (s[i + 2] != '=') { v |= uint32_t(val(s[i + 2])) << 6; bytes += char((v >> 8) & 255); }
    if (s[i + 3] != '=') { v |= uint32_t(val(s[i + 3])); bytes += char(v & 255); }
  }
  ASSERT_EQ(bytes.size(), 64u * 4);
  std::vector<float> decoded(64);
  std::memcpy(decoded.data(), bytes.data(), bytes.size());
  EXPECT_EQ(decoded, first);
}

TEST_F(OpenAiServer, TokenizeAndDetokenize) {
  Json t = json_of(post(port(), "/tokenize", Json{{"content", "Once upon a time"}}));
  EXPECT_EQ(t["tokens"], Json({403, 407, 261, 378}));
  Json s = json_of(post(port(), "/tokenize", Json{{"content", "Once upon a time"}, {"add_special", true}}));
  EXPECT_EQ(s["tokens"], Json({1, 403, 407, 261, 378}));
  Json p = json_of(post(port(), "/tokenize", Json{{"content", "Once"}, {"with_pieces", true}}));
  EXPECT_EQ(p["tokens"][0]["id"], 403);
  Json d = json_of(post(port(), "/detokenize", Json{{"tokens", {403, 407, 261, 378}}}));
  EXPECT_EQ(d["content"], "Once upon a time");
}

TEST_F(OpenAiServer, MetricsShowEngineCounters) {
  completion({{"prompt", "The cat"}, {"max_tokens", 4}, {"temperature", 0}});
  Reply r = get(port(), "/metrics");
  ASSERT_EQ(r.status, 200);
  EXPECT_NE(r.header("Content-Type").value_or("").find("text/plain"), std::string::npos);
  for (const char* name : {"shuo_engine_queued_requests ", "shuo_engine_running_sequences ", "shuo_engine_kv_cache_bytes ",
                           "shuo_engine_prompt_tokens_total ", "shuo_engine_generated_tokens_total ",
                           "shuo_time_to_first_token_seconds_count ", "shuo_inter_token_latency_seconds_count "})
    EXPECT_NE(r.body.find(name), std::string::npos) << name;
  EXPECT_EQ(r.body.find("shuo_engine_generated_tokens_total 0\n"), std::string::npos);
}

// --- servers with their own flags -------------------------------------------------------------

double metric(uint16_t port, const std::string& name) {
  Reply r = get(port, "/metrics");
  size_t at = r.body.find("\n" + name + " ");
  if (at == std::string::npos) return -1;
  return std::stod(r.body.substr(at + name.size() + 2));
}

bool wait_for_metric(uint16_t port, const std::string& name, double want) {
  for (int i = 0; i < 500; ++i) {
    if (metric(port, name) == want) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return false;
}

// GET /clear drops the cached prefix blocks: the gauge goes back to 0 and the memory is free.
TEST_F(OpenAiServer, ClearDropsCachedKvBlocks) {
  completion({{"prompt", "Once upon a time there was a little girl"}, {"max_tokens", 24}, {"temperature", 0}});
  ASSERT_TRUE(wait_for_metric(port(), "shuo_engine_running_sequences", 0));
  EXPECT_GT(metric(port(), "shuo_engine_kv_blocks_cached"), 0);
  Reply r = get(port(), "/clear");
  ASSERT_EQ(r.status, 200);
  EXPECT_EQ(Json::parse(r.body), Json({{"ok", true}}));
  EXPECT_TRUE(wait_for_metric(port(), "shuo_engine_kv_blocks_cached", 0));
}

std::string long_stream_request(int max_tokens) {
  Json body = {{"prompt", "Once upon a time"}, {"max_tokens", max_tokens}, {"ignore_eos", true}, {"stream", true}};
  return http_request("POST", "/v1/completions", body.dump());
}

TEST(OpenAiServeFlags, DisconnectMidStreamFreesTheSlot) {
  SHUO_REQUIRE_TESTDATA("stories260K/model.gguf");
  ServeProcess server({"--ctx", "4096"});
  ASSERT_TRUE(server.ok()) << server.log();
  Client c(server.port(), kTimeoutMs);
  ASSERT_TRUE(c.send(long_stream_request(4000)));
  Reply head;
  ASSERT_TRUE(c.read_head(head));
  EXPECT_EQ(head.status, 200);
  ASSERT_TRUE(c.read_chunk().has_value());
  EXPECT_EQ(metric(server.port(), "shuo_engine_running_sequences"), 1);
  c.reset();
  EXPECT_TRUE(wait_for_metric(server.port(), "shuo_engine_running_sequences", 0)) << server.log();
  EXPECT_LT(metric(server.port(), "shuo_engine_generated_tokens_total"), 4000);
}

TEST(OpenAiServeFlags, DisconnectFreesEveryBeam) {
  SHUO_REQUIRE_TESTDATA("stories260K/model.gguf");
  ServeProcess server({"--ctx", "4096"});
  ASSERT_TRUE(server.ok()) << server.log();
  Client c(server.port(), kTimeoutMs);
  // Chat: its stream starts with a role chunk; the beams' text would come only at the end.
  Json body = {{"messages", {{{"role", "user"}, {"content", "Tell me a story"}}}}, {"max_tokens", 4000},
               {"ignore_eos", true}, {"stream", true}, {"num_beams", 4}, {"n", 2}};
  ASSERT_TRUE(c.send(http_request("POST", "/v1/chat/completions", body.dump())));
  Reply head;
  ASSERT_TRUE(c.read_head(head));
  EXPECT_EQ(head.status, 200);
  ASSERT_TRUE(c.read_chunk().has_value());  // the role chunk
  EXPECT_TRUE(wait_for_metric(server.port(), "shuo_engine_running_sequences", 4)) << server.log();
  // 4 beams × up to 4000 tokens: far more blocks are promised than allocated this early.
  EXPECT_GT(metric(server.port(), "shuo_engine_kv_blocks_reserved"), 0);
  c.reset();
  EXPECT_TRUE(wait_for_metric(server.port(), "shuo_engine_running_sequences", 0)) << server.log();
  EXPECT_EQ(metric(server.port(), "shuo_engine_kv_blocks_used"), 0);
  EXPECT_EQ(metric(server.port(), "shuo_engine_kv_blocks_reserved"), 0);
  EXPECT_LT(metric(server.port(), "shuo_engine_generated_tokens_total"), 4 * 4000);
}

TEST(OpenAiServeFlags, BeamsBeyondParallelSequencesAre400) {
  SHUO_REQUIRE_TESTDATA("stories260K/model.gguf");
  ServeProcess server({"--parallel", "2"});
  ASSERT_TRUE(server.ok()) << server.log();
  Reply r = post(server.port(), "/v1/completions", Json{{"prompt", "x"}, {"num_beams", 3}, {"max_tokens", 4}});
  EXPECT_EQ(r.status, 400) << r.body;
  EXPECT_EQ(json_of(r)["error"]["param"], "num_beams") << r.body;
  Reply ok = post(server.port(), "/v1/completions", Json{{"prompt", "x"}, {"num_beams", 2}, {"max_tokens", 4}});
  EXPECT_EQ(ok.status, 200) << ok.body;
}

TEST(OpenAiServeFlags, FullQueueAnswers429) {
  SHUO_REQUIRE_TESTDATA("stories260K/model.gguf");
  ServeProcess server({"--ctx", "4096", "--parallel", "1", "--max-queue", "1"});
  ASSERT_TRUE(server.ok()) << server.log();
  Client running(server.port(), kTimeoutMs), waiting(server.port(), kTimeoutMs);
  ASSERT_TRUE(running.send(long_stream_request(4000)));
  Reply head;
  ASSERT_TRUE(running.read_head(head));  // streaming (the stream starts before the engine admits it)
  ASSERT_TRUE(wait_for_metric(server.port(), "shuo_engine_running_sequences", 1));  // holds the only slot
  ASSERT_TRUE(waiting.send(long_stream_request(4000)));
  ASSERT_TRUE(wait_for_metric(server.port(), "shuo_engine_queued_requests", 1));
  Reply r = post(server.port(), "/v1/completions", Json{{"prompt", "x"}, {"max_tokens", 2}});
  EXPECT_EQ(r.status, 429) << r.body;
  EXPECT_TRUE(r.header("Retry-After").has_value());
  EXPECT_EQ(json_of(r)["error"]["code"], "queue_full");
  running.reset();
  waiting.reset();
  EXPECT_TRUE(wait_for_metric(server.port(), "shuo_engine_running_sequences", 0));
}

// stories260K with a Jinja chat template added: the template is used instead of the built-in
// format, its BOS is not doubled, and its raise_exception is a 400 with the template's words.
TEST(OpenAiServeFlags, ModelChatTemplate) {
  SHUO_REQUIRE_TESTDATA("stories260K/model.gguf");
  auto src = format::GgufFile::open(stories_model());
  ASSERT_TRUE(src.ok());
  format::GgufWriter w;
  w.copy_metadata(*src);
  w.set_str("tokenizer.chat_template",
            "{{ bos_token }}{% for m in messages %}"
            "{% if m['role'] == 'system' and not loop.first %}{{ raise_exception('System message must come first') }}{% endif %}"
            "{{ m['role'] | capitalize }}: {{ m['content'] }}\n{% endfor %}"
            "{% if add_generation_prompt %}Assistant:{% endif %}");
  for (const auto& t : src->tensors())
    ASSERT_TRUE(w.add_tensor(t.name, t.type, t.ne, std::span<const uint8_t>(t.data, t.n_bytes)).ok());
  const auto path = std::filesystem::temp_directory_path() / ("shuo_openai_template_" + std::to_string(::getpid()) + ".gguf");
  ASSERT_TRUE(w.write(path.string()).ok());
  ServeProcess server({}, path.string());
  std::filesystem::remove(path);
  ASSERT_TRUE(server.ok()) << server.log();
  EXPECT_NE(server.log().find("the model's chat template"), std::string::npos) << server.log();

  Json body = {{"messages", {{{"role", "user"}, {"content", "Once upon a time"}}}}, {"max_tokens", 4}};
  Reply r = post(server.port(), "/v1/chat/completions", body);
  ASSERT_EQ(r.status, 200) << r.body;
  const std::string rendered = "<s>User: Once upon a time\nAssistant:";
  Json ids = json_of(post(server.port(), "/tokenize", Json{{"content", rendered}}));
  ASSERT_EQ(ids["tokens"][0], 1);  // the template's <s> is the BOS token
  EXPECT_NE(ids["tokens"][1], 1);
  EXPECT_EQ(json_of(r)["usage"]["prompt_tokens"], ids["tokens"].size());  // no second BOS added

  Json bad = {{"messages", {{{"role", "user"}, {"content", "a"}}, {{"role", "system"}, {"content", "b"}}}}};
  Reply e = post(server.port(), "/v1/chat/completions", bad);
  EXPECT_EQ(e.status, 400) << e.body;
  EXPECT_EQ(json_of(e)["error"]["message"], "System message must come first");
}

TEST(OpenAiServeFlags, ApiKeyIsRequired) {
  SHUO_REQUIRE_TESTDATA("stories260K/model.gguf");
  ServeProcess server({"--api-key", "sk-one", "--api-key", "sk-two", "--cors-origin", "http://app.test"});
  ASSERT_TRUE(server.ok()) << server.log();
  Reply none = get(server.port(), "/v1/models");
  EXPECT_EQ(none.status, 401);
  EXPECT_EQ(json_of(none)["error"]["code"], "invalid_api_key");
  EXPECT_EQ(get(server.port(), "/v1/models", {"Authorization: Bearer sk-three"}).status, 401);
  EXPECT_EQ(get(server.port(), "/v1/models", {"Authorization: Bearer sk-two"}).status, 200);
  EXPECT_EQ(get(server.port(), "/health").status, 200);  // public
  Reply cors = get(server.port(), "/v1/models", {"Authorization: Bearer sk-one", "Origin: http://app.test"});
  EXPECT_EQ(cors.header("Access-Control-Allow-Origin").value_or(""), "http://app.test");
}

TEST(OpenAiServeFlags, SigtermExitsCleanly) {
  SHUO_REQUIRE_TESTDATA("stories260K/model.gguf");
  ServeProcess server({"--alias", "tiny"});
  ASSERT_TRUE(server.ok()) << server.log();
  EXPECT_EQ(json_of(get(server.port(), "/v1/models"))["data"][0]["id"], "tiny");
  const int status = server.stop();
  EXPECT_TRUE(WIFEXITED(status)) << server.log();
  EXPECT_EQ(WEXITSTATUS(status), 0) << server.log();
}

TEST(OpenAiServeFlags, SigtermLetsAStreamFinish) {
  SHUO_REQUIRE_TESTDATA("stories260K/model.gguf");
  ServeProcess server({"--ctx", "2048"});
  ASSERT_TRUE(server.ok()) << server.log();
  Client c(server.port(), kTimeoutMs);
  ASSERT_TRUE(c.send(long_stream_request(1500)));  // about a second: SIGTERM lands mid-stream
  Reply head;
  ASSERT_TRUE(c.read_head(head));
  ASSERT_EQ(head.status, 200);
  std::thread stopper([&] { server.stop(); });
  std::string body;
  while (auto chunk = c.read_chunk()) {
    if (chunk->empty()) break;
    body += *chunk;
  }
  stopper.join();
  auto events = sse_json(body);  // ends in [DONE]
  std::vector<std::string> finish;
  stream_texts(events, false, &finish);
  ASSERT_EQ(finish.size(), 1u);
  EXPECT_EQ(finish[0], "length");
  const int status = server.stop();
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << server.log();
}

TEST(OpenAiServeFlags, UnsupportedOptionsAreRejected) {
  SHUO_REQUIRE_TESTDATA("stories260K/model.gguf");
  // (--lora and --load_in_8bit are real: tests/api/load_flags_server_test.cc.)
  for (std::vector<std::string> extra : {std::vector<std::string>{"--gpus", "0,1"}, {"--flash-attn"}, {"--device", "cuda:0"}}) {
    ServeProcess server(extra);
    EXPECT_FALSE(server.ok());
    EXPECT_NE(server.log().find("not supported yet"), std::string::npos) << extra[0] << ": " << server.log();
    const int status = server.stop();
    EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) != 0) << extra[0];
  }
  ServeProcess cpu({"--only_cpu", "--device", "cpu"});
  EXPECT_TRUE(cpu.ok()) << cpu.log();
}

}  // namespace
}  // namespace shuo::api::openai::testing
