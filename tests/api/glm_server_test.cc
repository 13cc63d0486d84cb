// End-to-end tests of the ChatGLM-style surface (spec/api.md §2): the real `shuo serve` on
// stories260K. /chat's reply equals /v1/chat/completions' for the same greedy settings and
// budget (so the prompt and max_length are what they claim), history in both forms, /stream's
// events are well formed and end in /chat's reply, GET /clear, bad inputs, and a client that
// disconnects stops its generation.
#include <gtest/gtest.h>

#include <iostream>

#include "api/surface_test_util.h"

namespace shuo::api::glm_testing {
namespace {

using namespace openai::testing;
using surface_testing::metric;
using surface_testing::sse_events;
using surface_testing::SseEvent;
using surface_testing::TempDir;
using surface_testing::wait_for_metric;

class GlmServer : public surface_testing::SharedServerTest<GlmServer> {
 public:
  static constexpr const char* kName = "glm-test";
  static std::vector<std::string> serve_args() { return {"--max-body-bytes", "65536"}; }

 protected:
  Json chat(const Json& body, int status = 200) {
    Reply r = post(port(), "/chat", body);
    EXPECT_EQ(r.status, status) << r.body;
    return json_of(r);
  }
  // The OpenAI surface's greedy reply to `messages`, and its prompt length.
  std::pair<std::string, int> openai_reply(const Json& messages, int max_tokens) {
    Reply r = post(port(), "/v1/chat/completions",
                   Json{{"messages", messages}, {"max_tokens", max_tokens}, {"temperature", 0}});
    EXPECT_EQ(r.status, 200) << r.body;
    Json j = json_of(r);
    return {j["choices"][0]["message"]["content"].get<std::string>(), j["usage"]["prompt_tokens"].get<int>()};
  }
  // A 400 whose error names `param`.
  void expect_bad(const std::string& path, const std::string& body, const std::string& param) {
    Reply r = post(port(), path, body);
    EXPECT_EQ(r.status, 400) << path << " " << body << " → " << r.body;
    Json j = json_of(r);
    EXPECT_EQ(j["error"]["param"], param) << body << " → " << r.body;
    EXPECT_TRUE(j["error"]["message"].is_string());
  }

};

const Json kQueryMessage = Json::array({{{"role", "user"}, {"content", "Tom went to the park"}}});

TEST_F(GlmServer, ChatAnswersLikeTheChatTemplateWithinMaxLength) {
  // max_length counts the prompt too: with P prompt tokens, max_length P + 20 leaves 20 for
  // the reply, which must then be what /v1/chat/completions gives for max_tokens 20.
  const int p = openai_reply(kQueryMessage, 1).second;
  const std::string want = openai_reply(kQueryMessage, 20).first;
  ASSERT_FALSE(want.empty());
  Json j = chat({{"query", "Tom went to the park"}, {"temperature", 0}, {"max_length", p + 20}});
  EXPECT_EQ(j["query"], "Tom went to the park");
  EXPECT_EQ(j["response"], want);
  EXPECT_EQ(j["history"], Json::array({Json::array({"Tom went to the park", want})}));
  // top_p 0 is greedy too.
  EXPECT_EQ(chat({{"query", "Tom went to the park"}, {"top_p", 0}, {"max_length", p + 20}})["response"], want);
}

TEST_F(GlmServer, HistoryPairsAndMessagesAreTheSameConversation) {
  const Json messages = Json::array({{{"role", "user"}, {"content", "hi"}},
                                     {{"role", "assistant"}, {"content", "hello there"}},
                                     {{"role", "user"}, {"content", "Lily saw a cat"}}});
  const int p = openai_reply(messages, 1).second;
  const std::string want = openai_reply(messages, 16).first;

  Json pairs = chat({{"query", "Lily saw a cat"}, {"history", Json::array({Json::array({"hi", "hello there"})})}, {"temperature", 0},
                     {"max_length", p + 16}});
  EXPECT_EQ(pairs["response"], want);
  EXPECT_EQ(pairs["history"], Json::array({Json::array({"hi", "hello there"}), Json::array({"Lily saw a cat", want})}));

  Json msgs = chat({{"query", "Lily saw a cat"},
                    {"history", Json::array({messages[0], messages[1]})},
                    {"temperature", 0},
                    {"max_length", p + 16}});
  EXPECT_EQ(msgs["response"], want);
  Json expected_history = messages;  // the history comes back in the form it was given
  expected_history.push_back({{"role", "assistant"}, {"content", want}});
  EXPECT_EQ(msgs["history"], expected_history);
}

TEST_F(GlmServer, StreamEventsAreWellFormedAndEndInChatsReply) {
  const Json body = {{"query", "Tom went to the park"}, {"history", Json::array({Json::array({"你好", "你好！"})})}, {"temperature", 0},
                     {"max_length", 120}};
  Json whole = chat(body);
  Reply r = post(port(), "/stream", body);
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(r.header("Content-Type").value_or(""), "text/event-stream");
  std::vector<SseEvent> events = sse_events(r.body);
  ASSERT_GE(events.size(), 2u);
  std::string so_far;
  for (size_t i = 0; i + 1 < events.size(); ++i) {
    const SseEvent& e = events[i];
    EXPECT_EQ(e.event, "delta");
    ASSERT_TRUE(e.data.is_object()) << i;
    EXPECT_EQ(e.data["finished"], false);
    EXPECT_FALSE(e.data.contains("history"));
    const std::string delta = e.data["delta"];
    EXPECT_FALSE(delta.empty());
    so_far += delta;
    EXPECT_EQ(e.data["response"], so_far) << "response must be cumulative, event " << i;
  }
  const SseEvent& last = events.back();
  EXPECT_EQ(last.event, "delta");
  EXPECT_EQ(last.data["finished"], true);
  EXPECT_EQ(last.data["delta"], "");
  EXPECT_EQ(last.data["response"], so_far);
  EXPECT_EQ(last.data["response"], whole["response"]);
  EXPECT_EQ(last.data["query"], "Tom went to the park");
  EXPECT_EQ(last.data["history"], whole["history"]);
  EXPECT_EQ(last.data["history"][0], Json::array({"你好", "你好！"}));
}

TEST_F(GlmServer, ClearAnswersOk) {
  Reply r = get(port(), "/clear");
  ASSERT_EQ(r.status, 200);
  EXPECT_EQ(json_of(r), Json({{"ok", true}}));
}

TEST_F(GlmServer, BadInputsAreClear400s) {
  expect_bad("/stream", R"({"history":[]})", "query");
  expect_bad("/chat", R"({"history":[],"max_length":10})", "query");  // GLM fields, no query
  expect_bad("/chat", R"({"query":5})", "query");
  expect_bad("/stream", R"({"query":""})", "query");
  expect_bad("/chat", R"({"query":"x","history":"hi"})", "history");
  expect_bad("/chat", R"({"query":"x","history":[["q","a","extra"]]})", "history[0]");
  expect_bad("/chat", R"({"query":"x","history":[["q",1]]})", "history[0][1]");
  expect_bad("/chat", R"({"query":"x","history":[["q","a"],"oops"]})", "history[1]");
  expect_bad("/chat", R"({"query":"x","history":[{"role":"robot","content":"x"}]})", "history[0].role");
  expect_bad("/chat", R"({"query":"x","max_length":0})", "max_length");
  expect_bad("/chat", R"({"query":"x","max_length":"long"})", "max_length");
  expect_bad("/chat", R"({"query":"x","temperature":3})", "temperature");
  expect_bad("/stream", R"({"query":"x","top_p":-0.5})", "top_p");
  expect_bad("/stream", R"({"query":"x")", "body");                    // not JSON
  expect_bad("/stream", "{\"query\":\"\xff\xfe\"}", "body");           // not UTF-8
  expect_bad("/chat", "[1,2]", "body");  // not an object: not a chat, and not a reset body either
  expect_bad("/stream", "[1,2]", "body");
  // The prompt alone fills max_length: nothing is left for the reply.
  expect_bad("/chat", R"({"query":"Tom went to the park","max_length":5})", "max_length");
  // The prompt alone is longer than the context (512 for stories260K).
  std::string long_query;
  for (int i = 0; i < 300; ++i) long_query += "the cat sat ";
  Reply r = post(port(), "/stream", Json{{"query", long_query}});
  EXPECT_EQ(r.status, 400) << r.body;
  EXPECT_EQ(json_of(r)["error"]["code"], "context_length_exceeded");
  // A body over --max-body-bytes.
  Reply big = post(port(), "/chat", Json{{"query", std::string(70000, 'a')}});
  EXPECT_EQ(big.status, 413) << big.body;
}

TEST(GlmServeFlags, DisconnectMidStreamStopsGeneration) {
  SHUO_REQUIRE_TESTDATA("stories260K/model.gguf");
  TempDir data("glm-disconnect");
  ServeProcess server({"--ctx", "4096", "--data-dir", data.str()});
  ASSERT_TRUE(server.ok()) << server.log();
  Client c(server.port(), kTimeoutMs);
  // High temperature: stories260K rarely samples its end token in a text this odd.
  ASSERT_TRUE(c.send(http_request("POST", "/stream",
                                  Json{{"query", "Once upon a time"}, {"max_length", 4000}, {"temperature", 2.0},
                                       {"top_p", 1.0}}.dump())));
  Reply head;
  ASSERT_TRUE(c.read_head(head));
  EXPECT_EQ(head.status, 200);
  ASSERT_TRUE(c.read_chunk().has_value());
  EXPECT_EQ(metric(server.port(), "shuo_engine_running_sequences"), 1);
  c.reset();
  EXPECT_TRUE(wait_for_metric(server.port(), "shuo_engine_running_sequences", 0)) << server.log();
  EXPECT_LT(metric(server.port(), "shuo_engine_generated_tokens_total"), 3900);
}

}  // namespace
}  // namespace shuo::api::glm_testing
