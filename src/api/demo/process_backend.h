// Process mode of the demo API (spec/api.md §3): ChatBackend and QaBackend over an external
// program (process::ProcessChatBackend), as the source demo ran its chat and QA backends. One
// backend process per kind at a time; a reset starts a new one and the old one is ended (SIGTERM,
// SIGKILL after a grace period) and reaped. The session id is the child's pid, so is_live() is
// true only for the running child's pid.
//
// Threads. ProcessChatBackend's calls block (start up to the start timeout, a message up to the
// reply timeout), while the demo Service calls a backend on its worker thread and needs it to
// return at once. So each adapter has two threads of its own: one for starts, one for messages.
// Two, not one, so that a reset is never stuck behind a message that hangs: start() ends the
// running child first, which makes the waiting message fail at once (409, replaced).
//
// Messages. Chat: the user's msg as it is. QA: the title, then "\n\n" and the text when the text is
// not empty (the same user message as the in-process QA prompt); the line protocol escapes the
// line breaks, so the backend reads one line "TITLE\n\nTEXT" and decodes it (line_protocol.h).
//
// A client that goes away while a message is answered does not stop the backend (the line
// protocol has no way to interrupt a reply, and the program remembers the message anyway): the
// reply is still recorded. The backend keeps its own memory, so the recorded turns the Service
// passes are not sent.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <string>

#include "api/demo/backend.h"
#include "api/demo/process/process_chat_backend.h"
#include "api/demo/worker.h"
#include "core/result.h"

namespace shuo::api::demo {

// process::BackendError → what the client sees: 502 died / could not start, 504 timed out,
// 404 not running, 400 bad message (param "msg"), 409 replaced, 501 no clear command. The code
// is the kind's name ("died", "timed_out", ...; "session_not_running" for 404).
BackendError backend_error_from(const process::BackendError& e);

// The blocking backend and the two threads that call it; shared by the chat and QA adapters.
class ProcessRunner {
 public:
  // `what` names the backend in errors ("chat", "QA").
  ProcessRunner(std::unique_ptr<process::ProcessChatBackend> backend, std::string what);
  // Fails what is still queued (503), ends the running child and joins the threads.
  ~ProcessRunner();
  ProcessRunner(const ProcessRunner&) = delete;
  ProcessRunner& operator=(const ProcessRunner&) = delete;

  // `fallback_personality` is used when the program announces none.
  void start(std::string fallback_personality, ProgressFn progress, std::function<void(Outcome<SessionInfo>)> done);
  bool is_live(int64_t id) const;
  void send(int64_t id, std::string message, std::function<void(Outcome<std::string>)> done);
  void clear(int64_t id, std::function<void(Outcome<Done>)> done);

 private:
  BackendError closing_error() const;

  std::unique_ptr<process::ProcessChatBackend> backend_;
  std::string what_;
  std::atomic<bool> closing_{false};
  std::atomic<int> starts_running_{0};  // start tasks between their closing_ check and their end
  Worker starts_;    // start()
  Worker messages_;  // send(), clear()
};

class ProcessChatAdapter final : public ChatBackend {
 public:
  explicit ProcessChatAdapter(std::unique_ptr<process::ProcessChatBackend> backend)
      : runner_(std::move(backend), "chat") {}

  // The personality announced by the program, else the requested one.
  void start(StartRequest request, ProgressFn progress, std::function<void(Outcome<SessionInfo>)> done) override;
  bool is_live(int64_t id) const override { return runner_.is_live(id); }
  CancelFn send(ChatContext context, std::string msg, ReplyOptions options,
                std::function<void(Outcome<std::string>)> done) override;
  // Sends the protocol's clear command ("/clear").
  void forget(int64_t id, std::function<void(Outcome<Done>)> done) override;

 private:
  ProcessRunner runner_;
};

class ProcessQaAdapter final : public QaBackend {
 public:
  explicit ProcessQaAdapter(std::unique_ptr<process::ProcessChatBackend> backend)
      : runner_(std::move(backend), "QA") {}

  void start(StartRequest request, ProgressFn progress, std::function<void(Outcome<SessionInfo>)> done) override;
  bool is_live(int64_t id) const override { return runner_.is_live(id); }
  CancelFn answer(int64_t id, QaQuestion question, ReplyOptions options,
                  std::function<void(Outcome<std::string>)> done) override;

 private:
  ProcessRunner runner_;
};

// The QA message for `q` (see above).
std::string qa_process_message(const QaQuestion& q);

struct ProcessModeFlags {
  std::string cmd, pwd, args;       // --chat-cmd/--chat-pwd/--chat-args (or --qa-…)
  std::string flag_prefix;          // "--chat" or "--qa": errors name the flag
  std::chrono::milliseconds start_timeout = std::chrono::minutes(3);
  std::chrono::milliseconds reply_timeout = std::chrono::minutes(2);
  std::function<void(std::string_view line)> log;  // the backend's log lines outside a reset
};

// The blocking backend for the server's flags. Errors name the flag (bad quoting in ARGS, an
// empty command).
Result<std::unique_ptr<process::ProcessChatBackend>> make_process_backend(const ProcessModeFlags& flags);

}  // namespace shuo::api::demo
