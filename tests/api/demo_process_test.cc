// End-to-end tests of the demo API's process mode (spec/api.md §3): the real `shuo serve` with
// --chat-cmd / --qa-cmd running the test backends in tests/api/backends/. A reset streams the
// backend's start-up log live (the first line reaches the client while the backend still waits
// for the test), then id:<pid> and personality:<text>; messages get the program's replies and are
// recorded; a second reset ends and reaps the old process; a crash is a 502, a hang a 504;
// QA questions reach the program as one documented message; bad flags fail at start-up.
#include <gtest/gtest.h>

#include <algorithm>
#include <fstream>
#include <iostream>

#include "api/process_test_util.h"
#include "api/surface_test_util.h"

namespace shuo::api::demo_testing {
namespace {

using namespace openai::testing;
using shuo::testing::backend_script;
using shuo::testing::pid_gone;
using surface_testing::body_lines;
using surface_testing::TempDir;

// A word for --chat-args: single-quoted, so paths with spaces stay one word.
std::string quoted(const std::string& s) { return "'" + s + "'"; }

// A streamed text/plain response read one line at a time, as a browser would see it.
class LineReader {
 public:
  LineReader(uint16_t port, const std::string& path) : c_(port, kTimeoutMs) {
    c_.send(http_request("POST", path, ""));
    ok_ = c_.read_head(head_);
  }
  const Reply& head() const { return head_; }
  bool ok() const { return ok_; }
  // The next line without its "\n"; nullopt at the end of the body or on an error.
  std::optional<std::string> next() {
    for (;;) {
      size_t nl = buf_.find('\n');
      if (nl != std::string::npos) {
        std::string line = buf_.substr(0, nl);
        buf_.erase(0, nl + 1);
        return line;
      }
      if (done_) return std::nullopt;
      std::optional<std::string> chunk = c_.read_chunk();
      if (!chunk || chunk->empty()) {
        done_ = true;
        continue;
      }
      buf_ += *chunk;
    }
  }
  std::vector<std::string> rest() {
    std::vector<std::string> out;
    while (auto l = next()) out.push_back(*l);
    return out;
  }

 private:
  Client c_;
  Reply head_;
  bool ok_ = false;
  bool done_ = false;
  std::string buf_;
};

// The value of the "key:" line, or "".
std::string value_of(const std::vector<std::string>& lines, const std::string& key) {
  for (const std::string& l : lines)
    if (l.rfind(key + ":", 0) == 0) return l.substr(key.size() + 1);
  return "";
}

int64_t reset(uint16_t port, const std::string& path, std::vector<std::string>* lines = nullptr) {
  Reply r = post(port, path, std::string());
  EXPECT_EQ(r.status, 200) << r.body;
  std::vector<std::string> got = body_lines(r.body);
  const std::string id = value_of(got, "id");
  EXPECT_FALSE(id.empty()) << r.body;
  if (lines) *lines = got;
  return id.empty() ? -1 : std::stoll(id);
}

Reply say(uint16_t port, int64_t id, const std::string& msg) {
  return post(port, "/chat/" + std::to_string(id) + "/input", Json{{"msg", msg}});
}

Json history(uint16_t port, const std::string& kind, int64_t id) {
  Reply r = get(port, "/" + kind + "/" + std::to_string(id));
  EXPECT_EQ(r.status, 200) << r.body;
  return json_of(r)["history"];
}

std::vector<int64_t> listed_ids(uint16_t port, const std::string& kind) {
  Reply r = get(port, "/" + kind);
  EXPECT_EQ(r.status, 200) << r.body;
  std::vector<int64_t> ids;
  for (const Json& s : json_of(r)) ids.push_back(s["id"].get<int64_t>());
  return ids;
}

class ProcessMode : public ::testing::Test {
 protected:
  void SetUp() override { SHUO_REQUIRE_TESTDATA("stories260K/model.gguf"); }
  void TearDown() override {
    if (HasFailure() && server_) std::cerr << "--- server log ---\n" << server_->log();
  }
  // `shuo serve` with a temporary data dir and `flags`.
  void serve(std::vector<std::string> flags) {
    flags.insert(flags.end(), {"--data-dir", data_.str(), "--grpc-port", "-1"});
    server_ = std::make_unique<ServeProcess>(flags);
    ASSERT_TRUE(server_->ok()) << server_->log();
  }
  uint16_t port() const { return server_->port(); }

  TempDir data_{"demo-process"};
  std::unique_ptr<ServeProcess> server_;
};

TEST_F(ProcessMode, ResetStreamsTheStartUpLogLiveThenTalksToTheProgram) {
  const std::filesystem::path gate = data_.path() / "gate";
  serve({"--chat-cmd", "python3", "--chat-args",
         quoted(backend_script("slow_start.py")) + " --delay 0.05 --lines 4 --gate " + quoted(gate.string())});

  LineReader reset1(port(), "/chat");
  ASSERT_TRUE(reset1.ok());
  EXPECT_EQ(reset1.head().status, 200);
  EXPECT_EQ(reset1.head().header("Content-Type").value_or(""), "text/plain; charset=utf-8");
  // The backend now waits for the gate: this line can only have come while it was starting.
  EXPECT_EQ(reset1.next().value_or("(none)"), "stderr:INFO:slow_start:loading tokenizer....");
  std::ofstream(gate).put('\n');
  std::vector<std::string> lines = reset1.rest();
  ASSERT_GE(lines.size(), 2u);
  // Each log line once, on its stream, in the order of its stream; then the id and personality.
  std::vector<std::string> logs(lines.begin(), lines.end() - 2);
  std::sort(logs.begin(), logs.end());
  EXPECT_EQ(logs, (std::vector<std::string>{"stderr:INFO:slow_start:Selected personality: i like slow mornings",
                                            "stderr:INFO:slow_start:load model part 2....",
                                            "stdout:> loading checkpoint part 1", "stdout:> loading checkpoint part 3"}));
  ASSERT_EQ(lines[lines.size() - 2].rfind("id:", 0), 0u) << lines[lines.size() - 2];
  const int64_t pid = std::stoll(lines[lines.size() - 2].substr(3));
  EXPECT_EQ(lines.back(), "personality:i like slow mornings");
  EXPECT_FALSE(pid_gone(pid_t(pid)));

  Reply r = say(port(), pid, "hello there");
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(json_of(r), Json({{"msg", "you said: hello there"}}));
  Json h = history(port(), "chat", pid);
  ASSERT_EQ(h.size(), 2u) << h.dump();
  EXPECT_EQ(h[0]["dir"], "input");
  EXPECT_EQ(h[0]["msg"], "hello there");
  EXPECT_EQ(h[1]["dir"], "output");
  EXPECT_EQ(h[1]["msg"], "you said: hello there");
  Reply list = get(port(), "/chat");
  EXPECT_EQ(json_of(list), Json::parse(R"([{"id":)" + std::to_string(pid) + R"(,"personality":"i like slow mornings"}])"));

  // A second reset replaces the program: the old one is ended and reaped (no zombie left).
  const int64_t pid2 = reset(port(), "/chat");
  EXPECT_NE(pid2, pid);
  EXPECT_TRUE(pid_gone(pid_t(pid))) << "pid " << pid << " still exists";
  EXPECT_FALSE(pid_gone(pid_t(pid2)));
  EXPECT_EQ(listed_ids(port(), "chat"), std::vector<int64_t>{pid2});
  Reply old = say(port(), pid, "still there?");
  EXPECT_EQ(old.status, 404) << old.body;
  EXPECT_EQ(json_of(old)["error"]["code"], "session_not_running");
  EXPECT_EQ(history(port(), "chat", pid).size(), 2u);  // the record stays
  Reply next = say(port(), pid2, "again");
  EXPECT_EQ(json_of(next), Json({{"msg", "you said: again"}}));

  // Stopping the server ends the running program too.
  EXPECT_EQ(server_->stop(), 0);
  EXPECT_TRUE(pid_gone(pid_t(pid2)));
}

TEST_F(ProcessMode, MultiLineRepliesClearAndQaMessages) {
  serve({"--chat-cmd", "python3", "--chat-args", quoted(backend_script("echo.py")), "--personality", "I echo.",
         "--qa-cmd", "python3", "--qa-args", quoted(backend_script("echo.py"))});
  std::vector<std::string> lines;
  const int64_t id = reset(port(), "/chat", &lines);
  // echo.py announces no personality in prompt framing: the configured one is shown.
  EXPECT_EQ(lines, (std::vector<std::string>{"stderr:echo backend starting", "id:" + std::to_string(id),
                                             "personality:I echo."}));
  Reply r = say(port(), id, "two\nlines");
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(json_of(r)["msg"], "turn 1\necho: two\necho: lines");
  r = say(port(), id, "back\\slash");
  EXPECT_EQ(json_of(r)["msg"], "turn 2\necho: back\\slash");
  Reply cleared = post(port(), "/chat/" + std::to_string(id) + "/clear", std::string());
  ASSERT_EQ(cleared.status, 200) << cleared.body;
  r = say(port(), id, "after");
  EXPECT_EQ(json_of(r)["msg"], "turn 1\necho: after");  // the program forgot its turns
  EXPECT_EQ(history(port(), "chat", id).size(), 6u);    // the record did not

  // QA: title and text reach the program as one message, "TITLE\n\nTEXT".
  const int64_t qa = reset(port(), "/qa", &lines);
  EXPECT_EQ(lines, (std::vector<std::string>{"stderr:echo backend starting", "id:" + std::to_string(qa)}));
  EXPECT_NE(qa, id);
  EXPECT_EQ(listed_ids(port(), "qa"), std::vector<int64_t>{qa});
  Reply a = post(port(), "/qa/" + std::to_string(qa) + "/input", Json{{"title", "Why?"}, {"text", "Line 1\nLine 2"}});
  ASSERT_EQ(a.status, 200) << a.body;
  EXPECT_EQ(json_of(a), Json({{"answer", "turn 1\necho: Why?\necho: \necho: Line 1\necho: Line 2"}}));
  a = post(port(), "/qa/" + std::to_string(qa) + "/input", Json{{"title", "Only a title"}, {"text", ""}});
  EXPECT_EQ(json_of(a)["answer"], "turn 2\necho: Only a title");
  Json h = history(port(), "qa", qa);
  ASSERT_EQ(h.size(), 4u) << h.dump();
  EXPECT_EQ(h[0]["title"], "Why?");
  // The chat program is a different process and still answers.
  EXPECT_EQ(json_of(say(port(), id, "x"))["msg"], "turn 2\necho: x");
}

TEST_F(ProcessMode, ACrashIs502AndAHangIs504) {
  serve({"--chat-cmd", "sh", "--chat-args", quoted(backend_script("crash.sh")), "--qa-cmd", "sh", "--qa-args",
         quoted(backend_script("hang.sh")), "--backend-timeout", "1"});
  const int64_t id = reset(port(), "/chat");
  Reply r = say(port(), id, "boom");
  EXPECT_EQ(r.status, 502) << r.body;
  Json e = json_of(r)["error"];
  EXPECT_EQ(e["code"], "died");
  EXPECT_NE(e["message"].get<std::string>().find("exited with status 3"), std::string::npos) << r.body;
  EXPECT_NE(e["message"].get<std::string>().find("fatal: cannot handle 'boom'"), std::string::npos) << r.body;
  EXPECT_TRUE(history(port(), "chat", id).empty());  // nothing was answered, nothing recorded
  EXPECT_EQ(say(port(), id, "again").status, 404);
  EXPECT_TRUE(pid_gone(pid_t(id)));

  const int64_t qa = reset(port(), "/qa");
  Reply a = post(port(), "/qa/" + std::to_string(qa) + "/input", Json{{"title", "t"}, {"text", "x"}});
  EXPECT_EQ(a.status, 504) << a.body;
  EXPECT_EQ(json_of(a)["error"]["code"], "timed_out");
  EXPECT_TRUE(pid_gone(pid_t(qa)));  // a backend that timed out is ended
  EXPECT_TRUE(listed_ids(port(), "qa").empty());
}

TEST_F(ProcessMode, StartFailuresAndUnknownIds) {
  serve({"--chat-cmd", "/nonexistent/backend", "--qa-cmd", "sh", "--qa-args",
         quoted(backend_script("hang.sh")) + " never-ready", "--backend-start-timeout", "1"});
  // Nothing streamed yet: a JSON error.
  Reply r = post(port(), "/chat", std::string());
  EXPECT_EQ(r.status, 502) << r.body;
  EXPECT_EQ(json_of(r)["error"]["code"], "spawn_failed");
  // A log line went out first: the stream ends with an error line.
  r = post(port(), "/qa", std::string());
  EXPECT_EQ(r.status, 200) << r.body;
  std::vector<std::string> lines = body_lines(r.body);
  ASSERT_EQ(lines.size(), 2u) << r.body;
  EXPECT_EQ(lines[0], "stderr:hang: loading forever");
  EXPECT_EQ(lines[1].rfind("error:", 0), 0u) << lines[1];
  EXPECT_NE(lines[1].find("not ready within"), std::string::npos) << lines[1];

  Reply unknown = say(port(), 999999999, "hi");
  EXPECT_EQ(unknown.status, 404) << unknown.body;
  EXPECT_EQ(get(port(), "/chat/999999999").status, 404);
  EXPECT_EQ(post(port(), "/qa/999999999/input", Json{{"title", "t"}}).status, 404);
}

TEST(ProcessModeFlags, BadFlagsFailAtStartUpNamingTheFlag) {
  SHUO_REQUIRE_TESTDATA("stories260K/model.gguf");
  struct Case {
    std::vector<std::string> flags;
    std::string names;
  };
  const Case cases[] = {
      {{"--chat-cmd", "python3", "--chat-args", "'unterminated"}, "--chat-args"},
      {{"--qa-cmd", "sh", "--qa-args", "a \"b"}, "--qa-args"},
      {{"--chat-pwd", "/tmp"}, "--chat-pwd"},
      {{"--chat-cmd", "sh", "--backend-timeout", "0"}, "--backend-timeout"},
  };
  for (const Case& c : cases) {
    ServeProcess server(c.flags);
    EXPECT_FALSE(server.ok()) << c.names;
    EXPECT_NE(server.log().find(c.names), std::string::npos) << server.log();
    EXPECT_NE(server.stop(), 0) << c.names;
  }
}

}  // namespace
}  // namespace shuo::api::demo_testing
