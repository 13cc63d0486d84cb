// End-to-end tests of shuo's extensions of the demo chat API for the web page (the real `shuo
// serve` on stories260K, a temporary --data-dir): streamed input (deltas = the non-streamed reply
// under greedy settings, token counts in the last event), Stop (a disconnect) records the partial
// reply and frees the sequence, regenerate replaces the last reply, rename and delete, and every
// bad input is a clear error sent before any stream starts.
#include <gtest/gtest.h>

#include <thread>

#include "api/surface_test_util.h"

namespace shuo::api::demo_testing {
namespace {

using namespace openai::testing;
using surface_testing::body_lines;
using surface_testing::metric;
using surface_testing::sse_events;
using surface_testing::SseEvent;
using surface_testing::TempDir;
using surface_testing::wait_for_metric;

int64_t new_chat(uint16_t port) {
  Reply r = post(port, "/chat", std::string());
  EXPECT_EQ(r.status, 200) << r.body;
  for (const std::string& l : body_lines(r.body))
    if (l.rfind("id:", 0) == 0) return std::stoll(l.substr(3));
  ADD_FAILURE() << "no id in " << r.body;
  return -1;
}

std::string input_path(int64_t id) { return "/chat/" + std::to_string(id) + "/input"; }

// A streamed input: its events, checked for shape (deltas, then one done).
struct Streamed {
  std::string deltas;  // the deltas' text, joined
  size_t n_deltas = 0;
  Json done;
};
Streamed stream(uint16_t port, int64_t id, Json body) {
  body["stream"] = true;
  Reply r = post(port, input_path(id), body);
  EXPECT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(r.header("Content-Type").value_or(""), "text/event-stream");
  Streamed s;
  std::vector<SseEvent> events = sse_events(r.body);
  for (size_t i = 0; i < events.size(); ++i) {
    const SseEvent& e = events[i];
    if (e.event == "delta") {
      EXPECT_TRUE(s.done.is_null()) << "a delta after done";
      EXPECT_FALSE(e.data["text"].get<std::string>().empty());
      s.deltas += e.data["text"].get<std::string>();
      ++s.n_deltas;
    } else {
      EXPECT_EQ(e.event, "done") << e.data.dump();
      EXPECT_EQ(i + 1, events.size()) << "done is the last event";
      s.done = e.data;
    }
  }
  EXPECT_TRUE(s.done.is_object()) << r.body;
  return s;
}

Json history(uint16_t port, int64_t id) {
  Reply r = get(port, "/chat/" + std::to_string(id));
  EXPECT_EQ(r.status, 200) << r.body;
  return json_of(r)["history"];
}

class DemoStream : public surface_testing::SharedServerTest<DemoStream> {
 public:
  static constexpr const char* kName = "demo-stream-test";
  static std::vector<std::string> serve_args() { return {"--ctx", "1024", "--grpc-port", "-1"}; }

 protected:
  void expect_error(const std::string& method, const std::string& path, const Json& body, int status,
                    const std::string& param) {
    Client c(port(), kTimeoutMs);
    c.send(http_request(method, path, body.is_null() ? "" : body.dump()));
    Reply r = c.read_response();
    EXPECT_EQ(r.status, status) << method << " " << path << " " << body.dump().substr(0, 80) << " → " << r.body;
    EXPECT_EQ(r.header("Content-Type").value_or(""), "application/json") << r.body.substr(0, 200);
    Json j = json_of(r);
    EXPECT_TRUE(j["error"]["message"].is_string()) << r.body;
    if (!param.empty()) {
      EXPECT_EQ(j["error"]["param"], param) << path << " → " << r.body;
    }
  }
};

TEST_F(DemoStream, DeltasMakeTheNonStreamedReplyAndTheLastEventCountsTokens) {
  const int64_t a = new_chat(port()), b = new_chat(port());
  const Json greedy = {{"temperature", 0}, {"max_tokens", 40}};
  Json body = greedy;
  body["msg"] = "Once upon a time";
  Reply plain = post(port(), input_path(a), body);
  ASSERT_EQ(plain.status, 200) << plain.body;
  const std::string want = json_of(plain)["msg"];
  ASSERT_FALSE(want.empty());

  Streamed s = stream(port(), b, body);
  EXPECT_EQ(s.deltas, want);
  EXPECT_EQ(s.done["msg"], want);
  EXPECT_GT(s.n_deltas, 1u) << "streamed in pieces, not at once";
  EXPECT_EQ(s.done["finish_reason"], "length");
  EXPECT_EQ(s.done["usage"]["completion_tokens"], 40);
  EXPECT_GT(s.done["usage"]["prompt_tokens"].get<int>(), 3);
  EXPECT_GT(s.done["timing"]["seconds"].get<double>(), 0.0);
  EXPECT_GT(s.done["timing"]["tokens_per_second"].get<double>(), 0.0);
  // Recorded like a non-streamed exchange, and the next turn sees it.
  Json h = history(port(), b);
  ASSERT_EQ(h.size(), 2u) << h.dump();
  EXPECT_EQ(h[0]["dir"], "input");
  EXPECT_EQ(h[0]["msg"], "Once upon a time");
  EXPECT_EQ(h[1]["dir"], "output");
  EXPECT_EQ(h[1]["msg"], want);
  body["msg"] = "What next?";
  Reply plain2 = post(port(), input_path(a), body);
  EXPECT_EQ(stream(port(), b, body).deltas, json_of(plain2)["msg"]);
}

TEST_F(DemoStream, SeedMakesSampledRepliesReproducible) {
  const int64_t id = new_chat(port());
  const Json body = {{"msg", "Tell me a story"}, {"temperature", 1.0}, {"top_p", 1.0}, {"seed", 1234}, {"max_tokens", 30}};
  const std::string first = stream(port(), id, body).deltas;
  Json regen = body;
  regen.erase("msg");
  regen["regenerate"] = true;
  EXPECT_EQ(stream(port(), id, regen).deltas, first);
}

TEST_F(DemoStream, RegenerateReplacesTheLastReply) {
  const int64_t id = new_chat(port());
  expect_error("POST", input_path(id), {{"stream", true}, {"regenerate", true}}, 400, "regenerate");
  stream(port(), id, {{"msg", "Hello"}, {"max_tokens", 8}, {"temperature", 0}});
  stream(port(), id, {{"msg", "Tell me about Lily"}, {"max_tokens", 8}, {"temperature", 0}});
  Streamed again = stream(port(), id, {{"regenerate", true}, {"max_tokens", 12}, {"temperature", 0}});
  Json h = history(port(), id);
  ASSERT_EQ(h.size(), 4u) << h.dump();
  EXPECT_EQ(h[2]["msg"], "Tell me about Lily");
  EXPECT_EQ(h[3]["msg"], again.done["msg"]);
  EXPECT_EQ(again.done["usage"]["completion_tokens"], 12);
  // msg and regenerate together are refused; after a clear there is nothing to regenerate.
  expect_error("POST", input_path(id), {{"stream", true}, {"regenerate", true}, {"msg", "x"}}, 400, "msg");
  ASSERT_EQ(post(port(), "/chat/" + std::to_string(id) + "/clear", std::string()).status, 200);
  expect_error("POST", input_path(id), {{"stream", true}, {"regenerate", true}}, 400, "regenerate");
}

TEST_F(DemoStream, RenameListsTheTitleAndDeleteRemovesTheSession) {
  const int64_t id = new_chat(port());
  auto listed_title = [&](int64_t want_id) -> Json {
    for (const Json& s : json_of(get(port(), "/chat?titles=1")))
      if (s["id"] == want_id) return s["title"];
    return nullptr;
  };
  EXPECT_EQ(listed_title(id), "");
  for (const Json& s : json_of(get(port(), "/chat"))) EXPECT_FALSE(s.contains("title")) << "§3's list unchanged";
  stream(port(), id, {{"msg", "Lily and the big red ball"}, {"max_tokens", 4}});
  EXPECT_EQ(listed_title(id), "Lily and the big red ball");  // the first message until renamed
  Client c(port(), kTimeoutMs);
  c.send(http_request("PATCH", "/chat/" + std::to_string(id), Json{{"title", "红色的球"}}.dump()));
  Reply renamed = c.read_response();
  ASSERT_EQ(renamed.status, 200) << renamed.body;
  EXPECT_EQ(json_of(renamed), Json({{"id", id}, {"title", "红色的球"}}));
  EXPECT_EQ(listed_title(id), "红色的球");

  expect_error("PATCH", "/chat/" + std::to_string(id), {{"title", 7}}, 400, "title");
  expect_error("PATCH", "/chat/" + std::to_string(id), {{"name", "x"}}, 400, "title");
  expect_error("PATCH", "/chat/" + std::to_string(id), {{"title", "two\nlines"}}, 400, "title");
  expect_error("PATCH", "/chat/" + std::to_string(id), {{"title", std::string(300, 'x')}}, 413, "title");
  expect_error("PATCH", "/chat/999999", {{"title", "x"}}, 404, "id");

  Client d(port(), kTimeoutMs);
  d.send(http_request("DELETE", "/chat/" + std::to_string(id), ""));
  Reply deleted = d.read_response();
  EXPECT_EQ(deleted.status, 200) << deleted.body;
  EXPECT_EQ(get(port(), "/chat/" + std::to_string(id)).status, 404);
  EXPECT_TRUE(listed_title(id).is_null());
  expect_error("DELETE", "/chat/" + std::to_string(id), nullptr, 404, "id");
  expect_error("POST", input_path(id), {{"stream", true}, {"msg", "hi"}}, 404, "id");
  EXPECT_GT(new_chat(port()), id);  // a deleted id is not handed out again
}

TEST_F(DemoStream, BadStreamedInputsAreJsonErrorsBeforeAnyStream) {
  const int64_t id = new_chat(port());
  expect_error("POST", input_path(id), {{"stream", "yes"}, {"msg", "hi"}}, 400, "stream");
  expect_error("POST", input_path(id), {{"stream", true}}, 400, "msg");
  expect_error("POST", input_path(id), {{"stream", true}, {"msg", 5}}, 400, "msg");
  expect_error("POST", input_path(id), {{"stream", true}, {"msg", "hi"}, {"seed", -1}}, 400, "seed");
  expect_error("POST", input_path(id), {{"stream", true}, {"msg", "hi"}, {"ignore_eos", 1}}, 400, "ignore_eos");
  expect_error("POST", input_path(id), {{"stream", true}, {"msg", "hi"}, {"regenerate", "no"}}, 400, "regenerate");
  expect_error("POST", input_path(id), {{"stream", true}, {"msg", "hi"}, {"temperature", 9}}, 400, "temperature");
  expect_error("POST", input_path(999999), {{"stream", true}, {"msg", "hi"}}, 404, "id");
  // Longer than the context (1024 tokens): refused with the error's own status, not a stream.
  std::string big;
  for (int i = 0; i < 900; ++i) big += "dog cat ";
  expect_error("POST", input_path(id), {{"stream", true}, {"msg", big}}, 400, "msg");
  EXPECT_TRUE(history(port(), id).empty());  // nothing of the above was recorded
}

// Stop: the page aborts its fetch. The engine's sequence is freed at once and the reply so far
// is recorded, so a reload shows what the person saw.
TEST(DemoStreamStop, DisconnectRecordsThePartialReplyAndFreesTheSequence) {
  SHUO_REQUIRE_TESTDATA("stories260K/model.gguf");
  TempDir data("demo-stream-stop");
  ServeProcess server({"--ctx", "8192", "--grpc-port", "-1", "--data-dir", data.str()});
  ASSERT_TRUE(server.ok()) << server.log();
  const int64_t id = new_chat(server.port());
  Client c(server.port(), kTimeoutMs);
  ASSERT_TRUE(c.send(http_request("POST", input_path(id),
                                  Json{{"msg", "Once upon a time"}, {"stream", true}, {"ignore_eos", true},
                                       {"max_tokens", 8000}}.dump())));
  Reply head;
  ASSERT_TRUE(c.read_head(head));
  ASSERT_EQ(head.status, 200);
  std::string got;
  while (got.find("event: delta") == std::string::npos) {
    auto chunk = c.read_chunk();
    ASSERT_TRUE(chunk) << "stream ended early: " << got;
    got += *chunk;
  }
  EXPECT_EQ(metric(server.port(), "shuo_engine_running_sequences"), 1);
  c.reset();
  EXPECT_TRUE(wait_for_metric(server.port(), "shuo_engine_running_sequences", 0)) << server.log();
  const double generated = metric(server.port(), "shuo_engine_generated_tokens_total");
  EXPECT_LT(generated, 8000);
  // The busy mark goes once the cancelled reply is recorded on the worker.
  Json h;
  for (int i = 0; i < 200; ++i) {
    h = history(server.port(), id);
    if (h.size() == 2) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  ASSERT_EQ(h.size(), 2u) << h.dump();
  EXPECT_EQ(h[0]["msg"], "Once upon a time");
  EXPECT_FALSE(h[1]["msg"].get<std::string>().empty());
  // The session takes the next message.
  Streamed next = stream(server.port(), id, {{"msg", "hello"}, {"max_tokens", 4}});
  EXPECT_EQ(next.done["usage"]["completion_tokens"], 4);
}

}  // namespace
}  // namespace shuo::api::demo_testing
