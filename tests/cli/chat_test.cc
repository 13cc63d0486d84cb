// `shuo chat` end to end on the stories260K model: the test types into the real binary over a
// pipe (ChildProcess) and reads each reply before it types the next message, so replies must
// stream while the program keeps running. --verbose shows each rendered prompt on stderr, which
// is how /system and /clear are checked. Ctrl-C is a real SIGINT.
#include <gtest/gtest.h>

#include <signal.h>

#include "api/demo/process/child_process.h"
#include "cli/cli_test_util.h"

namespace shuo::testing {
namespace {

using api::demo::process::ChildEvent;
using api::demo::process::ChildProcess;
using api::demo::process::Clock;
using api::demo::process::Stream;
using Kind = ChildEvent::Kind;

Clock::time_point soon() { return Clock::now() + std::chrono::seconds(60); }

std::string join(const std::vector<std::string>& lines) {
  std::string s;
  for (size_t i = 0; i < lines.size(); ++i) {
    if (i > 0) s += '\n';
    s += lines[i];
  }
  return s;
}

struct Turn {
  std::string prompt;  // as --verbose printed it
  std::string reply;   // stdout
  std::string stats;   // "[reply: …]"
  std::vector<std::string> notes;  // other stderr lines
};

class Chat {
 public:
  explicit Chat(std::vector<std::string> extra) {
    std::vector<std::string> args = {"chat", "--model", (testdata_dir() / "stories260K/model.gguf").string(),
                                     "--temp", "0", "--threads", "1", "--verbose"};
    args.insert(args.end(), extra.begin(), extra.end());
    auto c = ChildProcess::spawn({SHUO_BINARY_PATH, args, "", {}});
    EXPECT_TRUE(c.ok()) << (c.ok() ? "" : c.error().to_string());
    if (c.ok()) child_ = std::move(*c);
  }
  explicit operator bool() const { return child_ != nullptr; }
  ChildProcess& child() { return *child_; }

  void type(const std::string& line) { ASSERT_TRUE(child_->write_line(line, soon()).ok()); }

  // Reads until `stop` says so for a stderr line (or the program ends); then takes what the
  // pipes still hold, so stdout written before that stderr line is in too.
  Turn read_until(const std::function<bool(const std::string&)>& stop, bool* saw_stdout_first = nullptr) {
    Turn t;
    std::vector<std::string> out, prompt;
    bool in_prompt = false;
    auto take = [&](const ChildEvent& ev) {
      if (ev.kind == Kind::kExited) exited_ = ev.status;
      if (ev.kind == Kind::kPartial && ev.stream == Stream::kStdout && saw_stdout_first) *saw_stdout_first = true;
      if (ev.kind != Kind::kLine) return false;
      if (ev.stream == Stream::kStdout) {
        if (saw_stdout_first) *saw_stdout_first = true;
        out.push_back(ev.text);
        return false;
      }
      if (ev.text.rfind("--- prompt (", 0) == 0) {
        in_prompt = true;
      } else if (ev.text == "--- end of prompt ---") {
        in_prompt = false;
      } else if (in_prompt) {
        prompt.push_back(ev.text);
      } else if (ev.text.rfind("[reply:", 0) == 0) {
        t.stats = ev.text;
      } else {
        t.notes.push_back(ev.text);
      }
      return stop(ev.text);
    };
    while (auto ev = child_->next(soon())) {
      const bool done = take(*ev);
      if (ev->kind == Kind::kExited) break;
      if (done) {
        child_->request_sync();
        while (auto more = child_->next(soon())) {
          if (more->kind == Kind::kSynced || more->kind == Kind::kExited) break;
          take(*more);
        }
        break;
      }
    }
    t.prompt = join(prompt);
    t.reply = join(out);
    return t;
  }

  Turn say(const std::string& message) {
    type(message);
    return read_until([](const std::string& l) { return l.rfind("[reply:", 0) == 0; });
  }
  // A command that answers with one note on stderr.
  std::string command(const std::string& line) {
    type(line);
    Turn t = read_until([](const std::string&) { return true; });
    return t.notes.empty() ? "" : t.notes.front();
  }

  std::optional<api::demo::process::ExitStatus> wait_exit() {
    while (!exited_) {
      auto ev = child_->next(soon());
      if (!ev) break;
      if (ev->kind == Kind::kExited) exited_ = ev->status;
    }
    return exited_;
  }

 private:
  std::unique_ptr<ChildProcess> child_;
  std::optional<api::demo::process::ExitStatus> exited_;
};

TEST(ChatCommand, RepliesStreamAndClearAndSystemChangeThePrompt) {
  SHUO_REQUIRE_TESTDATA("stories260K/model.gguf");
  Chat chat({"-n", "24"});
  ASSERT_TRUE(chat);

  // The reply comes while stdin is still open: it is streamed, not held until the input ends.
  const Turn first = chat.say("Once upon a time");
  EXPECT_EQ(first.prompt, "User: Once upon a time\nAssistant:");  // stories260K: the built-in plain format
  EXPECT_FALSE(first.reply.empty());
  EXPECT_NE(first.stats.find("finish: "), std::string::npos) << first.stats;
  EXPECT_NE(first.stats.find("generated"), std::string::npos);

  const Turn second = chat.say("What happened next?");
  EXPECT_EQ(second.prompt, "User: Once upon a time\nAssistant: " + first.reply + "\nUser: What happened next?\nAssistant:");

  EXPECT_EQ(chat.command("/system You tell short stories."), "(system prompt set)");
  const Turn third = chat.say("Go on");
  EXPECT_EQ(third.prompt.rfind("System: You tell short stories.\nUser: Once upon a time\n", 0), 0u) << third.prompt;

  EXPECT_EQ(chat.command("/clear"), "(the conversation is forgotten)");
  const Turn cleared = chat.say("Once upon a time");
  EXPECT_EQ(cleared.prompt, "System: You tell short stories.\nUser: Once upon a time\nAssistant:");

  EXPECT_EQ(chat.command("/system"), "(no system prompt)");
  EXPECT_EQ(chat.command("/clear"), "(the conversation is forgotten)");
  const Turn again = chat.say("Once upon a time");
  EXPECT_EQ(again.prompt, first.prompt);

  // A multi-line message, typed as a """ block.
  chat.type("/clear");
  chat.read_until([](const std::string&) { return true; });
  chat.type("\"\"\"");
  chat.type("line one");
  chat.type("line two");
  const Turn block = chat.say("\"\"\"");
  EXPECT_EQ(block.prompt, "User: line one\nline two\nAssistant:");

  EXPECT_EQ(chat.command("/frobnicate"), "unknown command /frobnicate (/help lists them; // sends a message starting with /)");

  chat.child().close_stdin();  // EOF leaves
  auto status = chat.wait_exit();
  ASSERT_TRUE(status);
  EXPECT_EQ(status->code, 0) << status->describe();
}

TEST(ChatCommand, CtrlCStopsTheReplyNotTheProgramAndTwiceAtThePromptLeaves) {
  SHUO_REQUIRE_TESTDATA("stories260K/model.gguf");
  Chat chat({"-n", "-1"});  // replies until the context (512) is full or the story ends
  ASSERT_TRUE(chat);
  // The interrupt must come while the reply is written: it is sent at the reply's first output.
  bool interrupted = false;
  chat.type("Tell me a long story");
  Turn t;
  for (;;) {
    auto ev = chat.child().next(soon());
    ASSERT_TRUE(ev);
    ASSERT_NE(ev->kind, Kind::kExited) << ev->status.describe();
    if (!interrupted && ev->stream == Stream::kStdout && (ev->kind == Kind::kPartial || ev->kind == Kind::kLine)) {
      ASSERT_EQ(::kill(chat.child().pid(), SIGINT), 0);
      interrupted = true;
    }
    if (ev->kind == Kind::kLine && ev->stream == Stream::kStderr) {
      if (ev->text.rfind("[reply:", 0) == 0) {
        t.stats = ev->text;
        break;
      }
    }
  }
  ASSERT_TRUE(interrupted);
  // The reply stopped early ("cancelled"), unless it had already ended by itself when the signal
  // came: then the signal reached the prompt, which says how to leave. Either way it runs on.
  const bool cancelled = t.stats.find("finish: cancelled") != std::string::npos;
  if (!cancelled) {
    Turn hint = chat.read_until([](const std::string& l) { return l.rfind("(Ctrl-C again", 0) == 0; });
    EXPECT_EQ(hint.notes.back(), "(Ctrl-C again or Ctrl-D to leave)") << t.stats;
  }
  const Turn after = chat.say("And then?");
  EXPECT_NE(after.stats.find("finish: "), std::string::npos);
  EXPECT_NE(after.prompt.find("User: Tell me a long story\nAssistant:"), std::string::npos) << after.prompt;

  // At the prompt: the first Ctrl-C only says how to leave, the second leaves with status 0.
  ASSERT_EQ(::kill(chat.child().pid(), SIGINT), 0);
  Turn hint = chat.read_until([](const std::string& l) { return l.rfind("(Ctrl-C again", 0) == 0; });
  ASSERT_FALSE(hint.notes.empty());
  EXPECT_EQ(hint.notes.back(), "(Ctrl-C again or Ctrl-D to leave)");
  ASSERT_EQ(::kill(chat.child().pid(), SIGINT), 0);
  auto status = chat.wait_exit();
  ASSERT_TRUE(status);
  EXPECT_EQ(status->code, 0) << status->describe();
}

TEST(ChatCommand, ExitCommandAndBadFlags) {
  SHUO_REQUIRE_TESTDATA("stories260K/model.gguf");
  Chat chat({});
  ASSERT_TRUE(chat);
  chat.type("/exit");
  chat.type("this is never read");
  auto status = chat.wait_exit();
  ASSERT_TRUE(status);
  EXPECT_EQ(status->code, 0);

  const RunResult bad = run_shuo({"chat", "--model", (testdata_dir() / "stories260K/model.gguf").string(), "-n", "0"});
  EXPECT_EQ(bad.status, 1);
  EXPECT_NE(bad.err.find("-n: must be ≥ 1, or -1"), std::string::npos) << bad.err;
  const RunResult missing = run_shuo({"chat", "--model", "/nonexistent.gguf"});
  EXPECT_EQ(missing.status, 1);
  EXPECT_NE(missing.err.find("/nonexistent.gguf"), std::string::npos) << missing.err;
}

}  // namespace
}  // namespace shuo::testing
