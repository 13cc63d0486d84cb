// A child program started without a shell, talked to over pipes: its stdout and stderr arrive
// line by line as they are written (a reader thread), lines go to its stdin, and it is always
// terminated and reaped (SIGTERM to its process group, SIGKILL after a grace period).
#pragma once

#include <sys/types.h>

#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <deque>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <utility>
#include <vector>

#include "api/demo/process/line_splitter.h"
#include "core/result.h"

namespace shuo::api::demo::process {

using Clock = std::chrono::steady_clock;

struct ChildSpec {
  // An absolute or relative path (relative to working_dir, as the child resolves it after its
  // chdir), or a bare name looked up in the server's PATH.
  std::string program;
  std::vector<std::string> args;  // argv[1...]; argv[0] is `program`
  std::string working_dir;        // empty: the server's
  // Set (or replace) in the inherited environment, e.g. {"PYTHONUNBUFFERED", "1"}.
  std::vector<std::pair<std::string, std::string>> env;
};

struct ChildOptions {
  size_t max_line_bytes = size_t(1) << 20;    // longer lines arrive in pieces
  // Output read but not yet taken by next(). Beyond it the reader stops reading, so a child
  // that writes faster than it is read blocks in write() instead of growing our memory.
  size_t max_queued_bytes = size_t(4) << 20;
  // A kPartial event is made only while the unterminated line is at most this long (prompts).
  size_t max_partial_bytes = 256;
};

enum class Stream { kStdout, kStderr };
const char* stream_name(Stream s);  // "stdout" / "stderr"

struct ExitStatus {
  int code = -1;    // exit code when it exited normally, else -1
  int signal = 0;   // the signal that killed it, else 0
  // "exited with status 3" / "killed by signal 9 (Killed)"
  std::string describe() const;
};

struct ChildEvent {
  enum class Kind {
    kLine,     // a complete line of `stream` (terminator removed)
    kPartial,  // the unterminated line read so far; made each time it grows (and is short)
    kSynced,   // answers request_sync(): all output written before the request came first
    kExited,   // the child was reaped; always the last event
  };
  Kind kind = Kind::kLine;
  Stream stream = Stream::kStdout;
  std::string text;
  ExitStatus status;  // kExited
};

class ChildProcess {
 public:
  // Starts the child: stdin/stdout/stderr are pipes, every other descriptor is closed in it,
  // signal dispositions and mask are reset to defaults (a server ignoring SIGPIPE does not pass
  // that on), and it leads a new process group (so signals reach its own children too, and a
  // terminal's Ctrl-C does not). Errors: kNotFound / kIo with where = the program or the
  // working directory, naming the OS error.
  static Result<std::unique_ptr<ChildProcess>> spawn(const ChildSpec& spec, ChildOptions opts = {});

  // terminate() with a 2 s grace if it still runs, then joins the reader thread.
  ~ChildProcess();
  ChildProcess(const ChildProcess&) = delete;
  ChildProcess& operator=(const ChildProcess&) = delete;

  pid_t pid() const { return pid_; }

  // The next event, in the order the child wrote each stream (stdout and stderr are separate
  // pipes, so their relative order is the order in which they were read). Waits until
  // `deadline`; nullopt if nothing arrived by then. After kExited, returns nullopt at once.
  // Safe to call from any thread, while another thread writes or terminates.
  std::optional<ChildEvent> next(Clock::time_point deadline);

  // stdout and stderr are two pipes, read as data arrives: a stderr line written just before a
  // stdout line may still be unread when the stdout line is taken. request_sync() makes the
  // reader take everything the pipes hold now and then queue a kSynced event; the events before
  // it include all output the child wrote before this call. (No kSynced once it exited.)
  void request_sync();

  // Writes `line` and a '\n' to the child's stdin, waiting at most until `deadline` for room in
  // the pipe. Never raises SIGPIPE. Errors: kIo "the backend closed its input" (it exited or
  // closed stdin), kLimit on the deadline.
  Result<void> write_line(std::string_view line, Clock::time_point deadline);

  // Closes the child's stdin: it reads end of file. Later write_line() calls fail.
  void close_stdin();

  // SIGTERM to the process group; SIGKILL to it if the child still runs after `grace`; returns
  // once the child is reaped, with its status. Idempotent; safe from any thread. A child that
  // already exited on its own is not signalled again (its pid may be reused by then).
  ExitStatus terminate(std::chrono::milliseconds grace);

  // The status once the child was reaped.
  std::optional<ExitStatus> exit_status() const;

 private:
  ChildProcess(pid_t pid, int stdin_fd, int stdout_fd, int stderr_fd, int pidfd, int wake_fd, ChildOptions opts);
  void read_loop();
  // Reads what is available on one pipe; false once it reached end of file.
  bool read_pipe(int idx, bool drain);
  void push(ChildEvent ev);            // caller holds mu_
  bool try_reap();                     // waitpid(WNOHANG); true once reaped
  void wake_reader();

  const pid_t pid_;
  int stdin_fd_;
  int out_fds_[2];                     // stdout, stderr (read ends, non-blocking); -1 once closed
  int pidfd_;                          // -1: no pidfd, the reader polls waitpid instead
  int wake_fd_;                        // eventfd: stop, or room in the queue again
  ChildOptions opts_;
  LineSplitter splitters_[2];          // reader thread only

  mutable std::mutex mu_;
  std::condition_variable changed_;    // an event was queued, or the child was reaped
  std::deque<ChildEvent> queue_;
  size_t queued_bytes_ = 0;
  bool reaped_ = false;                // waitpid returned the child: never signal pid_ again
  bool exited_event_taken_ = false;
  ExitStatus status_;
  bool stop_ = false;
  int sync_requests_ = 0;

  std::mutex write_mu_;                // one writer at a time, so lines never interleave
  std::thread reader_;                 // last: starts after everything above exists
};

}  // namespace shuo::api::demo::process
