// ChildProcess: started without a shell, output streamed line by line while the child runs,
// stdin lines, exit detection, and terminate-and-reap (SIGTERM, then SIGKILL) with no zombie.
#include <gtest/gtest.h>

#include <fcntl.h>
#include <sys/wait.h>

#include <fstream>

#include "api/demo/process/child_process.h"
#include "api/process_test_util.h"

namespace shuo::api::demo::process {
namespace {

using shuo::testing::backend_script;
using shuo::testing::fresh_temp_path;
using shuo::testing::pid_gone;
using shuo::testing::soon;
using Kind = ChildEvent::Kind;

std::unique_ptr<ChildProcess> spawn_ok(ChildSpec spec, ChildOptions opts = {}) {
  auto c = ChildProcess::spawn(spec, opts);
  EXPECT_TRUE(c.ok()) << (c.ok() ? "" : c.error().to_string());
  return c.ok() ? std::move(*c) : nullptr;
}

// Events up to and including kExited (complete lines only), as "stdout:x" / "stderr:x" / "exit:…".
std::vector<std::string> lines_until_exit(ChildProcess& c) {
  std::vector<std::string> out;
  while (auto ev = c.next(soon())) {
    if (ev->kind == Kind::kLine) out.push_back(std::string(stream_name(ev->stream)) + ":" + ev->text);
    if (ev->kind == Kind::kExited) {
      out.push_back("exit:" + ev->status.describe());
      break;
    }
  }
  return out;
}

TEST(ChildProcess, ArgumentsReachTheProgramUnchangedWithoutAShell) {
  auto c = spawn_ok({"printf", {"%s|", "a b", "'q'", "$HOME", "*", "; exit 1"}, "", {}});
  ASSERT_TRUE(c);
  EXPECT_EQ(lines_until_exit(*c), (std::vector<std::string>{"stdout:a b|'q'|$HOME|*|; exit 1|", "exit:exited with status 0"}));
}

TEST(ChildProcess, RunsInTheWorkingDirectoryWithTheGivenEnvironment) {
  const auto dir = std::filesystem::canonical(std::filesystem::temp_directory_path());
  auto c = spawn_ok({"sh", {"-c", "pwd; echo \"$SHUO_TEST_VAR\""}, dir.string(), {{"SHUO_TEST_VAR", "from the test"}}});
  ASSERT_TRUE(c);
  EXPECT_EQ(lines_until_exit(*c), (std::vector<std::string>{"stdout:" + dir.string(), "stdout:from the test",
                                                            "exit:exited with status 0"}));
}

TEST(ChildProcess, OnlyStdioIsInherited) {
  // A descriptor this process opened without O_CLOEXEC must not leak into the child.
  const int leaky = ::open("/dev/null", O_RDONLY);
  ASSERT_GE(leaky, 3);
  auto c = spawn_ok({"sh", {"-c", "ls /proc/self/fd"}, "", {}});
  ::close(leaky);
  ASSERT_TRUE(c);
  std::vector<std::string> fds = lines_until_exit(*c);
  // ls itself opens one descriptor for the listing (3); nothing else may be there.
  for (const std::string& l : fds) {
    if (l.rfind("stdout:", 0) == 0) {
      EXPECT_LE(std::stoi(l.substr(7)), 3) << l;
    }
  }
  EXPECT_EQ(fds.back(), "exit:exited with status 0");
}

TEST(ChildProcess, SpawnErrorsNameTheProgramOrDirectory) {
  auto missing = ChildProcess::spawn({"/nonexistent/shuo-backend", {}, "", {}});
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.error().code, ErrorCode::kNotFound);
  EXPECT_EQ(missing.error().where, "/nonexistent/shuo-backend");
  auto unknown = ChildProcess::spawn({"shuo-no-such-program-anywhere", {}, "", {}});
  ASSERT_FALSE(unknown.ok());
  EXPECT_EQ(unknown.error().message, "not found in PATH");
  auto bad_dir = ChildProcess::spawn({"true", {}, "/nonexistent/dir", {}});
  ASSERT_FALSE(bad_dir.ok());
  EXPECT_EQ(bad_dir.error().where, "/nonexistent/dir");
  auto not_exec = ChildProcess::spawn({backend_script("echo.py").substr(0, backend_script("echo.py").rfind('/')), {}, "", {}});
  EXPECT_FALSE(not_exec.ok());  // a directory
}

TEST(ChildProcess, LinesArriveWhileTheChildStillRuns) {
  // slow_start.py writes its first log line, then waits for the gate file. The test creates the
  // gate only after it got that line: if output were held until later (exit, readiness, a
  // full buffer), the line would never come and the backend would never get ready.
  const auto gate = fresh_temp_path("gate_child");
  auto c = spawn_ok({"python3", {backend_script("slow_start.py"), "--gate", gate.string(), "--delay", "0"}, "",
                     {{"PYTHONUNBUFFERED", "1"}}});
  ASSERT_TRUE(c);
  std::optional<ChildEvent> first;
  do {
    first = c->next(soon());  // (Python writes a line's text and its newline separately)
  } while (first && first->kind == Kind::kPartial);
  ASSERT_TRUE(first);
  EXPECT_EQ(first->kind, Kind::kLine);
  EXPECT_EQ(first->stream, Stream::kStderr);
  EXPECT_EQ(first->text, "INFO:slow_start:loading tokenizer....");
  std::ofstream(gate) << "go";
  std::vector<std::string> seen;
  bool prompt = false;
  while (auto ev = c->next(soon())) {
    ASSERT_NE(ev->kind, Kind::kExited);
    if (ev->kind == Kind::kPartial && ev->stream == Stream::kStdout && ev->text == ">>> ") {
      prompt = true;
      break;
    }
    if (ev->kind == Kind::kLine) seen.push_back(std::string(stream_name(ev->stream)) + ":" + ev->text);
  }
  std::filesystem::remove(gate);
  EXPECT_TRUE(prompt);
  // The stderr line written right before the prompt may still be in its pipe: a sync takes it.
  c->request_sync();
  while (auto ev = c->next(soon())) {
    ASSERT_NE(ev->kind, Kind::kExited);
    if (ev->kind == Kind::kSynced) break;
    if (ev->kind == Kind::kLine) seen.push_back(std::string(stream_name(ev->stream)) + ":" + ev->text);
  }
  // stdout and stderr are separate pipes, so lines of the two have no reliable relative order
  // (a busy machine reorders them); within each stream the order is kept.
  auto only = [&seen](const std::string& prefix) {
    std::vector<std::string> v;
    for (const auto& line : seen)
      if (line.rfind(prefix, 0) == 0) v.push_back(line);
    return v;
  };
  EXPECT_EQ(seen.size(), 4u);
  EXPECT_EQ(only("stdout:"), (std::vector<std::string>{"stdout:> loading checkpoint part 1", "stdout:> loading checkpoint part 3"}));
  EXPECT_EQ(only("stderr:"), (std::vector<std::string>{"stderr:INFO:slow_start:load model part 2....",
                                                       "stderr:INFO:slow_start:Selected personality: i like slow mornings"}));
  // It answers a line on stdin.
  ASSERT_TRUE(c->write_line("hi there", soon()).ok());
  std::optional<ChildEvent> reply;
  do {
    reply = c->next(soon());
  } while (reply && reply->kind == Kind::kPartial);
  ASSERT_TRUE(reply);
  EXPECT_EQ(reply->text, ">>> you said: hi there");  // the prompt started this line
  EXPECT_EQ(c->terminate(std::chrono::seconds(5)).signal, SIGTERM);
}

TEST(ChildProcess, LineEndingsAndPiecesOfLongLines) {
  ChildOptions opts;
  opts.max_line_bytes = 100;
  auto c = spawn_ok({"sh", {"-c", "printf 'a\\r\\nb\\rc\\n'; head -c 250 /dev/zero | tr '\\0' x; printf 'no newline'"}, "", {}},
                    opts);
  ASSERT_TRUE(c);
  EXPECT_EQ(lines_until_exit(*c), (std::vector<std::string>{"stdout:a", "stdout:b", "stdout:c",
                                                            "stdout:" + std::string(100, 'x'),
                                                            "stdout:" + std::string(100, 'x'),
                                                            "stdout:" + std::string(50, 'x') + "no newline",
                                                            "exit:exited with status 0"}));
}

TEST(ChildProcess, ASmallQueueSlowsTheChildButLosesNothing) {
  ChildOptions opts;
  opts.max_queued_bytes = 4096;  // far less than the output: the reader must pause and resume
  auto c = spawn_ok({"seq", {"1", "20000"}, "", {}}, opts);
  ASSERT_TRUE(c);
  int expect = 1;
  std::optional<ExitStatus> status;
  while (auto ev = c->next(soon())) {
    if (ev->kind == Kind::kExited) {
      status = ev->status;
      break;
    }
    if (ev->kind == Kind::kLine) {
      ASSERT_EQ(ev->text, std::to_string(expect));
      ++expect;
    }
  }
  EXPECT_EQ(expect, 20001);
  ASSERT_TRUE(status);
  EXPECT_EQ(status->code, 0);
}

TEST(ChildProcess, ExitStatusAndSignalAreReported) {
  auto exits = spawn_ok({"sh", {"-c", "echo bye >&2; exit 7"}, "", {}});
  ASSERT_TRUE(exits);
  EXPECT_EQ(lines_until_exit(*exits), (std::vector<std::string>{"stderr:bye", "exit:exited with status 7"}));
  EXPECT_EQ(exits->next(std::chrono::steady_clock::now() + std::chrono::seconds(60)), std::nullopt);  // at once
  EXPECT_TRUE(pid_gone(exits->pid()));

  auto killed = spawn_ok({"sh", {"-c", "kill -9 $$"}, "", {}});
  ASSERT_TRUE(killed);
  EXPECT_EQ(lines_until_exit(*killed), (std::vector<std::string>{"exit:killed by signal 9 (SIGKILL)"}));
  EXPECT_EQ(killed->exit_status()->signal, SIGKILL);
}

TEST(ChildProcess, WritingToAChildThatIsGoneIsAnErrorNotSigpipe) {
  auto c = spawn_ok({"true", {}, "", {}});
  ASSERT_TRUE(c);
  while (auto ev = c->next(soon()))
    if (ev->kind == Kind::kExited) break;
  // Without the guard this write would raise SIGPIPE and end the test process.
  auto w = c->write_line("anyone there?", soon());
  ASSERT_FALSE(w.ok());
  EXPECT_EQ(w.error().message, "the backend closed its input");
  EXPECT_FALSE(c->write_line("two\nlines", soon()).ok());
}

TEST(ChildProcess, StdinLinesRoundTripThroughCat) {
  auto c = spawn_ok({"cat", {}, "", {}});
  ASSERT_TRUE(c);
  for (std::string l : {"one", "two ünïcode", ""}) {
    ASSERT_TRUE(c->write_line(l, soon()).ok());
    std::optional<ChildEvent> ev;
    do {
      ev = c->next(soon());
    } while (ev && ev->kind == Kind::kPartial);
    ASSERT_TRUE(ev);
    EXPECT_EQ(ev->text, l);
  }
}

TEST(ChildProcess, ClosingStdinIsEndOfFileForTheChild) {
  auto c = spawn_ok({"cat", {}, "", {}});
  ASSERT_TRUE(c);
  ASSERT_TRUE(c->write_line("last words", soon()).ok());
  c->close_stdin();
  EXPECT_EQ(lines_until_exit(*c), (std::vector<std::string>{"stdout:last words", "exit:exited with status 0"}));
  auto w = c->write_line("too late", soon());
  ASSERT_FALSE(w.ok());
  EXPECT_EQ(w.error().message, "the backend's input is closed");
}

TEST(ChildProcess, TerminateEndsAndReapsTheChild) {
  auto c = spawn_ok({"sleep", {"1000"}, "", {}});
  ASSERT_TRUE(c);
  const pid_t pid = c->pid();
  EXPECT_FALSE(pid_gone(pid));
  const ExitStatus st = c->terminate(std::chrono::seconds(10));
  EXPECT_EQ(st.signal, SIGTERM);
  EXPECT_TRUE(pid_gone(pid));  // no zombie either
  errno = 0;
  EXPECT_EQ(::waitpid(pid, nullptr, WNOHANG), -1);
  EXPECT_EQ(errno, ECHILD);
  EXPECT_EQ(c->terminate(std::chrono::seconds(10)).signal, SIGTERM);  // idempotent
}

TEST(ChildProcess, AChildIgnoringSigtermGetsSigkill) {
  auto c = spawn_ok({"sh", {backend_script("ignore_term.sh")}, "", {}});
  ASSERT_TRUE(c);
  auto first = c->next(soon());  // the trap is set once it has said so
  ASSERT_TRUE(first);
  EXPECT_EQ(first->text, "ignoring SIGTERM");
  const ExitStatus st = c->terminate(std::chrono::milliseconds(300));
  EXPECT_EQ(st.signal, SIGKILL);
  EXPECT_TRUE(pid_gone(c->pid()));
}

TEST(ChildProcess, TheWholeProcessGroupIsSignalled) {
  // The shell starts a sleep in the background and waits; SIGTERM to the group ends both.
  auto c = spawn_ok({"sh", {"-c", "sleep 1000 & echo $!; wait"}, "", {}});
  ASSERT_TRUE(c);
  auto ev = c->next(soon());
  ASSERT_TRUE(ev);
  const pid_t grandchild = std::stoi(ev->text);
  EXPECT_EQ(::getpgid(grandchild), c->pid());
  c->terminate(std::chrono::seconds(10));
  // The grandchild was killed; its reaping is up to init, so look at its state, not its absence.
  bool ended = false;
  for (int i = 0; i < 2000 && !ended; ++i) {
    std::ifstream stat("/proc/" + std::to_string(grandchild) + "/stat");
    std::string content;
    std::getline(stat, content);
    const size_t close = content.rfind(')');
    ended = !stat || close == std::string::npos || content.substr(close + 2, 1) == "Z";
    if (!ended) ::usleep(5000);
  }
  EXPECT_TRUE(ended);
}

TEST(ChildProcess, DestroyingTheObjectEndsTheChild) {
  pid_t pid;
  {
    auto c = spawn_ok({"sleep", {"1000"}, "", {}});
    ASSERT_TRUE(c);
    pid = c->pid();
  }
  EXPECT_TRUE(pid_gone(pid));
}

}  // namespace
}  // namespace shuo::api::demo::process
