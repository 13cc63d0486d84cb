// A chat backend that is an external program (process mode of the demo API, spec §3): started
// without a shell from a command fixed at server start-up, its start-up log streamed as
// "stdout:"/"stderr:" lines until it is ready, then one message in, one reply out over the line
// protocol (line_protocol.h). The session id is the child's pid. One backend runs at a time;
// start() replaces it. Every call blocks the calling thread (start for up to start_timeout, a
// message for up to reply_timeout): call it from a worker thread, never from an I/O thread.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <variant>

#include "api/demo/process/child_process.h"
#include "api/demo/process/line_protocol.h"
#include "core/result.h"

namespace shuo::api::demo::process {

struct BackendError {
  enum class Kind {
    kSpawnFailed,  // the program could not be started (command, working directory)   → 502
    kDied,         // it exited (or closed its stdin) before ready / before the reply  → 502
    kTimedOut,     // not ready / no complete reply in time; the backend was ended    → 504
    kNotRunning,   // no ready backend with this id (never started, reset or ended)   → 404
    kBadMessage,   // the message cannot be sent: empty or holds a NUL byte            → 400
    kUnsupported,  // clear() while the protocol has no clear command                  → 501
    kReplaced,     // another start()/reset() ended this backend while the call waited → 409
  };
  Kind kind = Kind::kDied;
  // One line for the client: what happened, with the exit status and the backend's last stderr
  // lines where there are any.
  std::string message;
  int http_status() const;
};
const char* backend_error_kind_name(BackendError::Kind kind);  // "died", "timed_out", ...

template <typename T>
class [[nodiscard]] BackendResult {
 public:
  BackendResult(T value) : v_(std::move(value)) {}         // NOLINT: implicit by design
  BackendResult(BackendError error) : v_(std::move(error)) {}  // NOLINT
  bool ok() const { return v_.index() == 0; }
  explicit operator bool() const { return ok(); }
  T& value() { return std::get<0>(v_); }
  const T& value() const { return std::get<0>(v_); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }
  T& operator*() { return value(); }
  const T& operator*() const { return value(); }
  const BackendError& error() const { return std::get<1>(v_); }

 private:
  std::variant<T, BackendError> v_;
};

struct Done {};  // the value of a call that only succeeds or fails

struct BackendInfo {
  int64_t id = 0;           // the child's pid: the session id
  std::string personality;  // announced by the backend, else LineProtocol::default_personality
};

struct ProcessChatOptions {
  ChildSpec command;  // see make_backend_command()
  LineProtocol protocol;
  std::chrono::milliseconds start_timeout = std::chrono::minutes(3);  // spawn → ready (the source suggests 3 min)
  std::chrono::milliseconds reply_timeout = std::chrono::minutes(2);  // message written → reply complete
  std::chrono::milliseconds kill_grace = std::chrono::seconds(3);     // SIGTERM → SIGKILL
  ChildOptions child;
  // Receives the backend's log lines ("stderr:…", stray "stdout:…") outside start(), for the
  // server log; called on the thread of send()/clear(). May be empty.
  std::function<void(std::string_view line)> log;
};

// The command from the server's flags (--chat-cmd, --chat-pwd, --chat-args; or --qa-…): `args`
// is split with argv_split() (errors name `<flag_prefix>-args`). PYTHONUNBUFFERED=1 is set in
// the child's environment so that a Python backend's stdout log reaches us line by line instead
// of in 8 KiB blocks. Errors: kBadField naming the flag (empty command, bad quoting).
Result<ChildSpec> make_backend_command(std::string_view cmd, std::string_view pwd, std::string_view args,
                                       std::string_view flag_prefix = "--chat");

class ProcessChatBackend {
 public:
  // Errors: an invalid protocol (validate()), an empty program, non-positive timeouts.
  static Result<std::unique_ptr<ProcessChatBackend>> create(ProcessChatOptions opts);
  ~ProcessChatBackend();  // reset(); no call may still be running
  ProcessChatBackend(const ProcessChatBackend&) = delete;
  ProcessChatBackend& operator=(const ProcessChatBackend&) = delete;

  // "stdout:<line>" or "stderr:<line>": one start-up log line, valid UTF-8, no line break.
  using ProgressFn = std::function<void(std::string_view line)>;

  // Ends the running backend (reset()), starts a new one and passes on its start-up log through
  // `progress` line by line as it is written, until the backend is ready. Returns its id and
  // personality. Errors: kSpawnFailed, kDied, kTimedOut, kReplaced (a newer start()/reset()).
  BackendResult<BackendInfo> start(const ProgressFn& progress);

  // Sends one message to backend `id` and returns its whole reply (valid UTF-8; may hold "\n";
  // may be empty). Calls for the same backend are answered one after the other. Errors:
  // kBadMessage, kNotRunning, kDied, kTimedOut, kReplaced. After kDied or kTimedOut the backend
  // is gone (kTimedOut ends it: a late reply would be taken as the next message's).
  BackendResult<std::string> send(int64_t id, std::string_view message);

  // Sends the protocol's clear command and discards the reply, so the backend forgets the
  // conversation. Errors: as send(), and kUnsupported without a clear command.
  BackendResult<Done> clear(int64_t id);

  // Ends the running backend, if any: SIGTERM to its process group, SIGKILL after kill_grace,
  // reaped before this returns. A call waiting on it fails with kReplaced.
  void reset();

  // The ready backend, if there is one.
  std::optional<BackendInfo> running() const;

 private:
  struct Instance;
  explicit ProcessChatBackend(ProcessChatOptions opts) : opts_(std::move(opts)) {}
  std::shared_ptr<Instance> find_ready(int64_t id) const;
  BackendResult<std::string> exchange(const std::shared_ptr<Instance>& inst, const std::string& line);
  // Ends `inst` after a failure and forgets it if it is still the current one.
  ExitStatus discard(const std::shared_ptr<Instance>& inst);
  BackendError ended_error(const Instance& inst, const std::string& what, const ExitStatus& status) const;
  void log(std::string_view line) const;

  ProcessChatOptions opts_;
  mutable std::mutex mu_;               // guards current_ and each Instance's ready/info
  std::shared_ptr<Instance> current_;  // starting or ready; null when none
};

}  // namespace shuo::api::demo::process
