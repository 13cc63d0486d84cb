// ProcessChatBackend against the small backends in tests/api/backends: start-up log streamed
// live, personality, replies (multi-line, both framings), clear, and the failures a client must
// see as 502 (died) or 504 (timed out) instead of a hung request. No process is left behind.
#include <gtest/gtest.h>

#include <fstream>
#include <future>

#include "api/demo/process/process_chat_backend.h"
#include "api/process_test_util.h"

namespace shuo::api::demo::process {
namespace {

using shuo::testing::backend_script;
using shuo::testing::fresh_temp_path;
using shuo::testing::pid_gone;
using Kind = BackendError::Kind;
using namespace std::chrono_literals;

std::unique_ptr<ProcessChatBackend> make_backend(const std::string& cmd, const std::string& args,
                                                  LineProtocol protocol = {}, std::chrono::milliseconds reply_timeout = 20s,
                                                  std::chrono::milliseconds start_timeout = 60s) {
  auto command = make_backend_command(cmd, "", args);
  EXPECT_TRUE(command.ok()) << (command.ok() ? "" : command.error().to_string());
  if (!command.ok()) return nullptr;
  ProcessChatOptions o;
  o.command = std::move(*command);
  o.protocol = std::move(protocol);
  o.reply_timeout = reply_timeout;
  o.start_timeout = start_timeout;
  o.kill_grace = 5s;
  auto b = ProcessChatBackend::create(std::move(o));
  EXPECT_TRUE(b.ok()) << (b.ok() ? "" : b.error().to_string());
  return b.ok() ? std::move(*b) : nullptr;
}

BackendInfo start_ok(ProcessChatBackend& b, std::vector<std::string>* progress = nullptr) {
  auto info = b.start([&](std::string_view l) {
    if (progress) progress->emplace_back(l);
  });
  EXPECT_TRUE(info.ok()) << (info.ok() ? "" : info.error().message);
  return info.ok() ? *info : BackendInfo{};
}

TEST(ProcessChatBackend, StartStreamsTheLogLiveThenIsReadyWithItsPersonality) {
  const auto gate = fresh_temp_path("gate_backend");
  auto b = make_backend("python3", "'" + backend_script("slow_start.py") + "' --delay 0.3 --gate " + gate.string());
  ASSERT_TRUE(b);
  std::vector<std::string> progress;
  bool gate_opened_by_first_line = false;
  // The backend cannot become ready before the gate exists, and the gate is opened only by the
  // first progress line: start() can only succeed if that line came while it was starting.
  auto info = b->start([&](std::string_view line) {
    if (progress.empty()) {
      gate_opened_by_first_line = !std::filesystem::exists(gate);
      std::ofstream(gate) << "go";
    }
    progress.emplace_back(line);
  });
  std::filesystem::remove(gate);
  ASSERT_TRUE(info.ok()) << info.error().message;
  EXPECT_TRUE(gate_opened_by_first_line);
  // The first line is gated (nothing else is written before it); after it, stdout and stderr
  // are separate pipes with no reliable relative order, so each stream is compared on its own.
  ASSERT_EQ(progress.size(), 5u);
  EXPECT_EQ(progress[0], "stderr:INFO:slow_start:loading tokenizer....");
  auto only = [&progress](const std::string& prefix) {
    std::vector<std::string> v;
    for (size_t i = 1; i < progress.size(); ++i)
      if (progress[i].rfind(prefix, 0) == 0) v.push_back(progress[i]);
    return v;
  };
  EXPECT_EQ(only("stdout:"), (std::vector<std::string>{"stdout:> loading checkpoint part 1", "stdout:> loading checkpoint part 3"}));
  EXPECT_EQ(only("stderr:"), (std::vector<std::string>{"stderr:INFO:slow_start:load model part 2....",
                                                       "stderr:INFO:slow_start:Selected personality: i like slow mornings"}));
  EXPECT_GT(info->id, 0);
  EXPECT_EQ(info->personality, "i like slow mornings");
  ASSERT_TRUE(b->running());
  EXPECT_EQ(b->running()->id, info->id);

  auto reply = b->send(info->id, "你好!");
  ASSERT_TRUE(reply.ok()) << reply.error().message;
  EXPECT_EQ(*reply, "you said: 你好!");
  auto again = b->send(info->id, "second");
  ASSERT_TRUE(again.ok()) << again.error().message;
  EXPECT_EQ(*again, "you said: second");
}

TEST(ProcessChatBackend, MultiLineMessagesAndReplies) {
  auto b = make_backend("python3", backend_script("echo.py"));
  ASSERT_TRUE(b);
  const BackendInfo info = start_ok(*b);
  EXPECT_EQ(info.personality, "");  // none announced, no default configured
  auto reply = b->send(info.id, "line one\nline two\\with a backslash");
  ASSERT_TRUE(reply.ok()) << reply.error().message;
  EXPECT_EQ(*reply, "turn 1\necho: line one\necho: line two\\with a backslash");
}

TEST(ProcessChatBackend, EndMarkerFraming) {
  LineProtocol p;
  p.framing = ReplyFraming::kEndMarker;
  auto b = make_backend("python3", backend_script("echo.py") + " --marker", p);
  ASSERT_TRUE(b);
  std::vector<std::string> progress;
  const BackendInfo info = start_ok(*b, &progress);
  EXPECT_EQ(info.personality, "I repeat what you say");
  EXPECT_EQ(progress, (std::vector<std::string>{"stderr:echo backend starting"}));
  auto reply = b->send(info.id, "a\nb");
  ASSERT_TRUE(reply.ok()) << reply.error().message;
  EXPECT_EQ(*reply, "turn 1\necho: a\necho: b");
}

TEST(ProcessChatBackend, ClearMakesTheBackendForget) {
  LineProtocol p;
  p.default_personality = "a parrot";
  auto b = make_backend("python3", backend_script("echo.py"), p);
  ASSERT_TRUE(b);
  const BackendInfo info = start_ok(*b);
  EXPECT_EQ(info.personality, "a parrot");
  EXPECT_EQ(*b->send(info.id, "x"), "turn 1\necho: x");
  EXPECT_EQ(*b->send(info.id, "y"), "turn 2\necho: y");
  ASSERT_TRUE(b->clear(info.id).ok());
  EXPECT_EQ(*b->send(info.id, "z"), "turn 1\necho: z");

  p.clear_command = "";
  auto no_clear = make_backend("python3", backend_script("echo.py"), p);
  ASSERT_TRUE(no_clear);
  const BackendInfo other = start_ok(*no_clear);
  auto r = no_clear->clear(other.id);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().kind, Kind::kUnsupported);
}

TEST(ProcessChatBackend, ABackendThatCrashesIsA502AndIsGone) {
  auto b = make_backend("sh", backend_script("crash.sh"));
  ASSERT_TRUE(b);
  std::vector<std::string> progress;
  const BackendInfo info = start_ok(*b, &progress);
  EXPECT_EQ(progress, (std::vector<std::string>{"stderr:crash: ready"}));
  auto r = b->send(info.id, "hello");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().kind, Kind::kDied);
  EXPECT_EQ(r.error().http_status(), 502);
  EXPECT_NE(r.error().message.find("exited with status 3"), std::string::npos) << r.error().message;
  EXPECT_NE(r.error().message.find("fatal: cannot handle 'hello'"), std::string::npos) << r.error().message;
  EXPECT_FALSE(b->running());
  EXPECT_TRUE(pid_gone(pid_t(info.id)));
  auto after = b->send(info.id, "again");
  ASSERT_FALSE(after.ok());
  EXPECT_EQ(after.error().kind, Kind::kNotRunning);
  EXPECT_EQ(after.error().http_status(), 404);
}

TEST(ProcessChatBackend, ABackendThatDiesWhileStartingIsA502) {
  auto b = make_backend("sh", "-c 'echo \"no model here\" >&2; exit 2'");
  ASSERT_TRUE(b);
  std::vector<std::string> progress;
  auto r = b->start([&](std::string_view l) { progress.emplace_back(l); });
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().kind, Kind::kDied);
  EXPECT_NE(r.error().message.find("exited with status 2 before it was ready"), std::string::npos) << r.error().message;
  EXPECT_NE(r.error().message.find("no model here"), std::string::npos);
  EXPECT_EQ(progress, (std::vector<std::string>{"stderr:no model here"}));
  EXPECT_FALSE(b->running());
}

TEST(ProcessChatBackend, ABackendThatNeverAnswersIsA504AndIsEnded) {
  auto b = make_backend("sh", backend_script("hang.sh"), {}, 500ms);
  ASSERT_TRUE(b);
  const BackendInfo info = start_ok(*b);
  auto r = b->send(info.id, "are you there?");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().kind, Kind::kTimedOut);
  EXPECT_EQ(r.error().http_status(), 504);
  EXPECT_EQ(r.error().message, "the chat backend gave no complete reply within 500 ms; it was stopped");
  EXPECT_FALSE(b->running());
  EXPECT_TRUE(pid_gone(pid_t(info.id)));
}

TEST(ProcessChatBackend, ABackendThatNeverGetsReadyIsA504) {
  auto b = make_backend("sh", backend_script("hang.sh") + " never-ready", {}, 20s, 500ms);
  ASSERT_TRUE(b);
  std::vector<std::string> progress;
  pid_t pid = 0;
  auto r = b->start([&](std::string_view l) { progress.emplace_back(l); });
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().kind, Kind::kTimedOut);
  EXPECT_EQ(r.error().message, "the chat backend was not ready within 500 ms; it was stopped");
  EXPECT_EQ(progress, (std::vector<std::string>{"stderr:hang: loading forever"}));
  EXPECT_FALSE(b->running());
  (void)pid;
}

TEST(ProcessChatBackend, SpawnFailureIsA502) {
  auto b = make_backend("/nonexistent/chat-backend", "");
  ASSERT_TRUE(b);
  auto r = b->start(nullptr);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().kind, Kind::kSpawnFailed);
  EXPECT_EQ(r.error().http_status(), 502);
  EXPECT_EQ(r.error().message, "cannot start the chat backend: /nonexistent/chat-backend: no such file");
}

TEST(ProcessChatBackend, BadMessagesAndUnknownIds) {
  auto b = make_backend("python3", backend_script("echo.py"));
  ASSERT_TRUE(b);
  const BackendInfo info = start_ok(*b);
  auto empty = b->send(info.id, "");
  ASSERT_FALSE(empty.ok());
  EXPECT_EQ(empty.error().kind, Kind::kBadMessage);
  EXPECT_EQ(empty.error().http_status(), 400);
  auto nul = b->send(info.id, std::string_view("a\0b", 3));
  ASSERT_FALSE(nul.ok());
  EXPECT_EQ(nul.error().kind, Kind::kBadMessage);
  auto other = b->send(info.id + 1, "hi");
  ASSERT_FALSE(other.ok());
  EXPECT_EQ(other.error().kind, Kind::kNotRunning);
  EXPECT_EQ(*b->send(info.id, "still fine"), "turn 1\necho: still fine");  // the bad ones never reached it
}

TEST(ProcessChatBackend, ResetAndRestartEndTheOldProcess) {
  auto b = make_backend("python3", backend_script("echo.py"));
  ASSERT_TRUE(b);
  const BackendInfo first = start_ok(*b);
  const BackendInfo second = start_ok(*b);  // a reset: the first one is ended and reaped
  EXPECT_NE(first.id, second.id);
  EXPECT_TRUE(pid_gone(pid_t(first.id)));
  EXPECT_EQ(b->send(first.id, "x").error().kind, Kind::kNotRunning);
  EXPECT_EQ(*b->send(second.id, "x"), "turn 1\necho: x");
  b->reset();
  EXPECT_FALSE(b->running());
  EXPECT_TRUE(pid_gone(pid_t(second.id)));
  b->reset();  // nothing running: nothing to do
}

TEST(ProcessChatBackend, AResetEndsAMessageThatIsWaiting) {
  auto b = make_backend("sh", backend_script("hang.sh"), {}, std::chrono::minutes(10));
  ASSERT_TRUE(b);
  const BackendInfo info = start_ok(*b);
  auto waiting = std::async(std::launch::async, [&] { return b->send(info.id, "never answered"); });
  std::this_thread::sleep_for(100ms);  // usually enough for the send to be waiting; either way it must end
  b->reset();
  auto r = waiting.get();  // would take 10 minutes if the reset did not reach it
  ASSERT_FALSE(r.ok());
  EXPECT_TRUE(r.error().kind == Kind::kReplaced || r.error().kind == Kind::kNotRunning) << r.error().message;
  EXPECT_TRUE(pid_gone(pid_t(info.id)));
}

TEST(ProcessChatBackend, DestroyingTheBackendEndsItsProcess) {
  int64_t id;
  {
    auto b = make_backend("python3", backend_script("echo.py"));
    ASSERT_TRUE(b);
    id = start_ok(*b).id;
  }
  EXPECT_TRUE(pid_gone(pid_t(id)));
}

TEST(ProcessChatBackend, CommandFromFlags) {
  auto spec = make_backend_command("/usr/bin/python3", "/tmp", "interact.py --model 'my model' --temp \"0.7\"");
  ASSERT_TRUE(spec.ok());
  EXPECT_EQ(spec->program, "/usr/bin/python3");
  EXPECT_EQ(spec->working_dir, "/tmp");
  EXPECT_EQ(spec->args, (std::vector<std::string>{"interact.py", "--model", "my model", "--temp", "0.7"}));
  auto bad = make_backend_command("python3", "", "x.py 'open", "--qa");
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.error().where, "--qa-args");
  EXPECT_EQ(bad.error().message, "unterminated single quote opened at position 5");
  auto empty = make_backend_command("", "", "");
  ASSERT_FALSE(empty.ok());
  EXPECT_EQ(empty.error().where, "--chat-cmd");
  ProcessChatOptions o;
  o.command = *spec;
  o.protocol.prompt = "";
  auto invalid = ProcessChatBackend::create(o);
  ASSERT_FALSE(invalid.ok());
  EXPECT_EQ(invalid.error().where, "prompt");
}

}  // namespace
}  // namespace shuo::api::demo::process
