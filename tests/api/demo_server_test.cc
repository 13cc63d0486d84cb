// End-to-end tests of the demo web API in in-process mode (spec/api.md §3): the real
// `shuo serve` on stories260K with a temporary --data-dir. Resets stream id/personality lines;
// replies are the engine's for personality + recorded history (checked against
// /v1/chat/completions with the same messages, greedy); clear makes the model forget while the
// record stays; many sessions at once; QA; every bad input; a disconnect records nothing; and a
// server killed with SIGKILL mid-conversation comes back with every finished exchange.
#include <gtest/gtest.h>

#include <signal.h>

#include <iostream>
#include <regex>
#include <thread>

#include "api/demo/engine_backend.h"
#include "api/surface_test_util.h"

namespace shuo::api::demo_testing {
namespace {

using namespace openai::testing;
using surface_testing::body_lines;
using surface_testing::metric;
using surface_testing::TempDir;
using surface_testing::wait_for_metric;

constexpr const char* kPersonality = "I like cats.";

// POST /chat or /qa with `body`: the id from the "id:" line; `lines` gets every line.
int64_t reset(uint16_t port, const std::string& path, const std::string& body = "",
              std::vector<std::string>* lines = nullptr) {
  Reply r = post(port, path, std::string(body));
  EXPECT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(r.header("Content-Type").value_or(""), "text/plain; charset=utf-8");
  std::vector<std::string> got = body_lines(r.body);
  int64_t id = -1;
  for (const std::string& l : got)
    if (l.rfind("id:", 0) == 0) id = std::stoll(l.substr(3));
  EXPECT_GT(id, 0) << r.body;
  if (lines) *lines = got;
  return id;
}

// The OpenAI surface's greedy reply to `messages`.
std::string openai_reply(uint16_t port, const Json& messages, int max_tokens) {
  Reply r = post(port, "/v1/chat/completions", Json{{"messages", messages}, {"max_tokens", max_tokens}, {"temperature", 0}});
  EXPECT_EQ(r.status, 200) << r.body;
  return json_of(r)["choices"][0]["message"]["content"].get<std::string>();
}

Json sys(const std::string& s) { return {{"role", "system"}, {"content", s}}; }
Json user(const std::string& s) { return {{"role", "user"}, {"content", s}}; }
Json assistant(const std::string& s) { return {{"role", "assistant"}, {"content", s}}; }

// A greedy 16-token chat input; returns the reply.
std::string say(uint16_t port, int64_t id, const std::string& msg, int max_tokens = 16) {
  Reply r = post(port, "/chat/" + std::to_string(id) + "/input",
                 Json{{"msg", msg}, {"temperature", 0}, {"max_tokens", max_tokens}});
  EXPECT_EQ(r.status, 200) << r.body;
  Json j = json_of(r);
  EXPECT_TRUE(j.is_object() && j["msg"].is_string()) << r.body;
  return j.is_object() && j["msg"].is_string() ? j["msg"].get<std::string>() : "";
}

Json history(uint16_t port, int64_t id, const std::string& kind = "chat") {
  Reply r = get(port, "/" + kind + "/" + std::to_string(id));
  EXPECT_EQ(r.status, 200) << r.body;
  return json_of(r);
}

bool is_iso_time(const std::string& t) {
  static const std::regex kIso(R"(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6})");
  return std::regex_match(t, kIso);
}

class DemoServer : public surface_testing::SharedServerTest<DemoServer> {
 public:
  static constexpr const char* kName = "demo-test";
  static std::vector<std::string> serve_args() { return {"--max-body-bytes", "131072", "--personality", kPersonality}; }

 protected:
  void expect_error(const std::string& method, const std::string& path, const std::string& body, int status,
                    const std::string& param) {
    Reply r = method == "GET" ? get(port(), path) : post(port(), path, body);
    EXPECT_EQ(r.status, status) << method << " " << path << " " << body.substr(0, 80) << " → " << r.body;
    Json j = json_of(r);
    EXPECT_TRUE(j["error"]["message"].is_string()) << r.body;
    if (!param.empty()) {
      EXPECT_EQ(j["error"]["param"], param) << path << " " << body.substr(0, 80) << " → " << r.body;
    }
  }

};

TEST_F(DemoServer, ResetStreamsIdAndPersonalityAndListsTheSession) {
  std::vector<std::string> lines;
  const int64_t a = reset(port(), "/chat", "", &lines);
  EXPECT_EQ(lines, (std::vector<std::string>{"id:" + std::to_string(a), std::string("personality:") + kPersonality}));
  const int64_t b = reset(port(), "/chat", R"({"personality":"我是一名HR。"})", &lines);
  EXPECT_NE(a, b);
  EXPECT_EQ(lines.back(), "personality:我是一名HR。");
  // Both run at once (in-process sessions are not replaced by a reset).
  Reply r = get(port(), "/chat");
  ASSERT_EQ(r.status, 200);
  Json list = json_of(r);
  bool saw_a = false, saw_b = false;
  for (const Json& s : list) {
    if (s["id"] == a) saw_a = s["personality"] == kPersonality;
    if (s["id"] == b) saw_b = s["personality"] == "我是一名HR。";
  }
  EXPECT_TRUE(saw_a && saw_b) << list.dump();
  Json h = history(port(), b);
  EXPECT_EQ(h, Json({{"id", b}, {"personality", "我是一名HR。"}, {"history", Json::array()}}));
}

TEST_F(DemoServer, RepliesComeFromPersonalityAndHistoryAndAreRecorded) {
  const int64_t id = reset(port(), "/chat");
  const std::string r1 = say(port(), id, "Hi! Do you like the park?");
  EXPECT_EQ(r1, openai_reply(port(), {sys(kPersonality), user("Hi! Do you like the park?")}, 16));
  const std::string r2 = say(port(), id, "Tell me about Lily");
  EXPECT_EQ(r2, openai_reply(port(), {sys(kPersonality), user("Hi! Do you like the park?"), assistant(r1),
                                      user("Tell me about Lily")}, 16));
  Json h = history(port(), id);
  EXPECT_EQ(h["id"], id);
  EXPECT_EQ(h["personality"], kPersonality);
  ASSERT_EQ(h["history"].size(), 4u) << h.dump();
  const char* dirs[] = {"input", "output", "input", "output"};
  const std::string msgs[] = {"Hi! Do you like the park?", r1, "Tell me about Lily", r2};
  std::string last_time;
  for (size_t i = 0; i < 4; ++i) {
    const Json& e = h["history"][i];
    EXPECT_EQ(e["dir"], dirs[i]);
    EXPECT_EQ(e["msg"], msgs[i]);
    const std::string t = e["time"];
    EXPECT_TRUE(is_iso_time(t)) << t;
    EXPECT_GE(t, last_time);  // same zone, fixed width: string order is time order
    last_time = t;
  }
}

TEST_F(DemoServer, ClearMakesTheModelForgetButKeepsTheRecord) {
  const int64_t id = reset(port(), "/chat");
  const std::string r1 = say(port(), id, "My name is Tom");
  Reply c = post(port(), "/chat/" + std::to_string(id) + "/clear", std::string());
  ASSERT_EQ(c.status, 200) << c.body;
  EXPECT_EQ(json_of(c), Json({{"ok", true}}));
  const std::string r2 = say(port(), id, "What is my name?");
  EXPECT_EQ(r2, openai_reply(port(), {sys(kPersonality), user("What is my name?")}, 16));
  Json h = history(port(), id);
  ASSERT_EQ(h["history"].size(), 4u);
  EXPECT_EQ(h["history"][0]["msg"], "My name is Tom");
  EXPECT_EQ(h["history"][1]["msg"], r1);
  EXPECT_EQ(h["history"][3]["msg"], r2);
}

TEST_F(DemoServer, ManySessionsAtOnce) {
  constexpr int kSessions = 4;
  std::vector<int64_t> ids;
  for (int i = 0; i < kSessions; ++i) ids.push_back(reset(port(), "/chat"));
  std::vector<std::string> replies(kSessions);
  std::vector<std::thread> threads;
  for (int i = 0; i < kSessions; ++i)
    threads.emplace_back([&, i] { replies[i] = say(port(), ids[i], "Session " + std::to_string(i) + " says hi"); });
  for (auto& t : threads) t.join();
  for (int i = 0; i < kSessions; ++i) {
    const std::string msg = "Session " + std::to_string(i) + " says hi";
    EXPECT_EQ(replies[i], openai_reply(port(), {sys(kPersonality), user(msg)}, 16)) << i;
    Json h = history(port(), ids[i]);
    ASSERT_EQ(h["history"].size(), 2u);
    EXPECT_EQ(h["history"][0]["msg"], msg);
  }
}

TEST_F(DemoServer, QaAnswersFromTheDocumentedPromptAndRecordsIt) {
  std::vector<std::string> lines;
  const int64_t id = reset(port(), "/qa", "", &lines);
  EXPECT_EQ(lines, std::vector<std::string>{"id:" + std::to_string(id)});
  Json list = json_of(get(port(), "/qa"));
  EXPECT_NE(std::find(list.begin(), list.end(), Json({{"id", id}})), list.end()) << list.dump();

  Reply r = post(port(), "/qa/" + std::to_string(id) + "/input",
                 Json{{"title", "武汉是哪里的省会?"}, {"text", "如题。"}, {"temperature", 0}, {"max_tokens", 16}});
  ASSERT_EQ(r.status, 200) << r.body;
  const std::string answer = json_of(r)["answer"];
  EXPECT_EQ(answer, openai_reply(port(), {sys(demo::kQaInstruction), user("武汉是哪里的省会?\n\n如题。")}, 16));
  Json h = history(port(), id, "qa");
  ASSERT_EQ(h["history"].size(), 2u) << h.dump();
  EXPECT_EQ(h["history"][0]["title"], "武汉是哪里的省会?");
  EXPECT_EQ(h["history"][0]["msg"], "如题。");
  EXPECT_EQ(h["history"][1]["msg"], answer);
  // A question without details is its title alone.
  Reply t = post(port(), "/qa/" + std::to_string(id) + "/input",
                 Json{{"title", "Where is the cat?"}, {"temperature", 0}, {"max_tokens", 16}});
  ASSERT_EQ(t.status, 200) << t.body;
  EXPECT_EQ(json_of(t)["answer"], openai_reply(port(), {sys(demo::kQaInstruction), user("Where is the cat?")}, 16));
}

TEST_F(DemoServer, UnknownSessionsAre404) {
  expect_error("GET", "/chat/987654321", "", 404, "id");
  expect_error("GET", "/chat/abc", "", 404, "id");
  expect_error("GET", "/chat/0", "", 404, "id");
  expect_error("GET", "/chat/-3", "", 404, "id");
  expect_error("POST", "/chat/987654321/input", R"({"msg":"hi"})", 404, "id");
  expect_error("POST", "/chat/987654321/clear", "", 404, "id");
  expect_error("POST", "/qa/987654321/input", R"({"title":"t","text":"x"})", 404, "id");
  expect_error("GET", "/qa/987654321", "", 404, "id");
  // Ids are per kind: a QA session's id names no chat session unless one has the same number.
  int64_t max_chat = 0;
  for (const Json& c : json_of(get(port(), "/chat"))) max_chat = std::max(max_chat, c["id"].get<int64_t>());
  int64_t qa = reset(port(), "/qa");
  while (qa <= max_chat) qa = reset(port(), "/qa");
  expect_error("GET", "/chat/" + std::to_string(qa), "", 404, "id");
  expect_error("POST", "/chat/" + std::to_string(qa) + "/input", R"({"msg":"hi"})", 404, "id");
}

TEST_F(DemoServer, BadInputsAreClearErrors) {
  const std::string input = "/chat/" + std::to_string(reset(port(), "/chat")) + "/input";
  expect_error("POST", input, R"({})", 400, "msg");
  expect_error("POST", input, R"({"msg":42})", 400, "msg");
  expect_error("POST", input, R"({"msg":""})", 400, "msg");
  expect_error("POST", input, R"({"msg":"hi","temperature":5})", 400, "temperature");
  expect_error("POST", input, R"({"msg":"hi","max_tokens":"many"})", 400, "max_tokens");
  expect_error("POST", input, R"({"msg":"hi")", 400, "body");
  expect_error("POST", input, "{\"msg\":\"\xc3\x28\"}", 400, "body");  // invalid UTF-8
  expect_error("POST", input, "[]", 400, "body");
  expect_error("POST", input, Json{{"msg", std::string(70000, 'x')}}.dump(), 413, "msg");  // over 64 KiB of text
  expect_error("POST", input, Json{{"msg", std::string(140000, 'x')}}.dump(), 413, "");    // over --max-body-bytes
  std::string long_msg;
  for (int i = 0; i < 300; ++i) long_msg += "the cat sat ";
  Reply ctx = post(port(), input, Json{{"msg", long_msg}});
  EXPECT_EQ(ctx.status, 400) << ctx.body;
  EXPECT_EQ(json_of(ctx)["error"]["code"], "context_length_exceeded");

  expect_error("POST", "/chat", "hello", 400, "body");
  expect_error("POST", "/chat", R"({"personality":7})", 400, "personality");
  expect_error("POST", "/chat", R"({"personality":"two\nlines"})", 400, "personality");
  expect_error("POST", "/qa", "not json", 400, "body");

  const std::string qa = "/qa/" + std::to_string(reset(port(), "/qa")) + "/input";
  expect_error("POST", qa, R"({"text":"x"})", 400, "title");
  expect_error("POST", qa, R"({"title":1,"text":"x"})", 400, "title");
  expect_error("POST", qa, R"({"title":"t","text":[]})", 400, "text");
  expect_error("POST", qa, R"({"title":"","text":""})", 400, "title");
  expect_error("POST", qa, Json{{"title", "t"}, {"text", std::string(70000, 'x')}}.dump(), 413, "text");
  // Nothing of the above was recorded.
  EXPECT_TRUE(history(port(), std::stoll(input.substr(6)))["history"].empty());
}

// One long greedy-free generation in flight: a disconnect cancels it, nothing is recorded and the
// session takes the next message; while it runs, a second message is refused with 409.
TEST(DemoServeFlags, DisconnectCancelsAndBusySessionsRefuseASecondMessage) {
  SHUO_REQUIRE_TESTDATA("stories260K/model.gguf");
  TempDir data("demo-disconnect");
  ServeProcess server({"--ctx", "4096", "--data-dir", data.str()});
  ASSERT_TRUE(server.ok()) << server.log();
  const int64_t id = reset(server.port(), "/chat");
  const std::string path = "/chat/" + std::to_string(id) + "/input";
  Client c(server.port(), kTimeoutMs);
  // High temperature: stories260K rarely samples its end token in a text this odd.
  ASSERT_TRUE(c.send(http_request("POST", path, Json{{"msg", "Once upon a time"}, {"max_tokens", 3900},
                                                     {"temperature", 2.0}, {"top_p", 1.0}}.dump())));
  ASSERT_TRUE(wait_for_metric(server.port(), "shuo_engine_running_sequences", 1)) << server.log();
  Reply busy = post(server.port(), path, Json{{"msg", "me too"}});
  EXPECT_EQ(busy.status, 409) << busy.body;
  EXPECT_EQ(json_of(busy)["error"]["code"], "session_busy");
  c.reset();
  EXPECT_TRUE(wait_for_metric(server.port(), "shuo_engine_running_sequences", 0)) << server.log();
  EXPECT_LT(metric(server.port(), "shuo_engine_generated_tokens_total"), 3800);
  // The busy mark goes with the cancelled reply (recorded on the worker after the engine's end).
  Reply next;
  for (int i = 0; i < 100; ++i) {
    next = post(server.port(), path, Json{{"msg", "hello"}, {"max_tokens", 4}});
    if (next.status != 409) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  EXPECT_EQ(next.status, 200) << next.body;
  Json h = history(server.port(), id);
  ASSERT_EQ(h["history"].size(), 2u) << h.dump();  // only the finished exchange
  EXPECT_EQ(h["history"][0]["msg"], "hello");
}

TEST(DemoServeFlags, SigkillMidConversationKeepsEveryFinishedExchange) {
  SHUO_REQUIRE_TESTDATA("stories260K/model.gguf");
  TempDir data("demo-restart");
  std::vector<std::string> args = {"--ctx", "4096", "--data-dir", data.str(), "--personality", kPersonality};
  int64_t chat = 0, qa = 0;
  std::vector<std::string> sent = {"Hi there", "Tell me a story", "What happened next?"}, replies;
  std::string answer;
  {
    ServeProcess server(args);
    ASSERT_TRUE(server.ok()) << server.log();
    chat = reset(server.port(), "/chat");
    qa = reset(server.port(), "/qa");
    for (const std::string& m : sent) replies.push_back(say(server.port(), chat, m));
    Reply r = post(server.port(), "/qa/" + std::to_string(qa) + "/input", Json{{"title", "Why?"}, {"text", "Just why."}});
    ASSERT_EQ(r.status, 200) << r.body;
    answer = json_of(r)["answer"];
    // A fourth message is being answered when the server dies.
    Client c(server.port(), kTimeoutMs);
    ASSERT_TRUE(c.send(http_request("POST", "/chat/" + std::to_string(chat) + "/input",
                                    Json{{"msg", "unfinished"}, {"max_tokens", 3900}, {"temperature", 2.0}}.dump())));
    ASSERT_TRUE(wait_for_metric(server.port(), "shuo_engine_running_sequences", 1)) << server.log();
    ASSERT_EQ(::kill(server.pid(), SIGKILL), 0);
    const int status = server.stop();
    ASSERT_TRUE(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL) << status;
  }
  ServeProcess server(args);
  ASSERT_TRUE(server.ok()) << server.log();
  Json list = json_of(get(server.port(), "/chat"));
  EXPECT_NE(std::find(list.begin(), list.end(), Json({{"id", chat}, {"personality", kPersonality}})), list.end())
      << list.dump();
  Json h = history(server.port(), chat);
  ASSERT_EQ(h["history"].size(), 6u) << h.dump();
  for (size_t i = 0; i < 3; ++i) {
    EXPECT_EQ(h["history"][2 * i]["dir"], "input");
    EXPECT_EQ(h["history"][2 * i]["msg"], sent[i]);
    EXPECT_EQ(h["history"][2 * i + 1]["dir"], "output");
    EXPECT_EQ(h["history"][2 * i + 1]["msg"], replies[i]);
  }
  Json q = history(server.port(), qa, "qa");
  ASSERT_EQ(q["history"].size(), 2u) << q.dump();
  EXPECT_EQ(q["history"][1]["msg"], answer);
  // The conversation goes on from the recorded history, and new ids follow the old ones.
  const std::string next = say(server.port(), chat, "And then?");
  Json messages = {sys(kPersonality)};
  for (size_t i = 0; i < 3; ++i) {
    messages.push_back(user(sent[i]));
    messages.push_back(assistant(replies[i]));
  }
  messages.push_back(user("And then?"));
  EXPECT_EQ(next, openai_reply(server.port(), messages, 16));
  EXPECT_GT(reset(server.port(), "/chat"), chat);
}

}  // namespace
}  // namespace shuo::api::demo_testing
