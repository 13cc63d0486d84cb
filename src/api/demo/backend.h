// What the demo API (spec/api.md §3) needs from whatever answers its chat and QA sessions: start
// a session (streaming start-up log lines), answer a message, forget a conversation. Two kinds
// plug in: in-process sessions on the loaded model (engine_backend.h, the default) and external
// programs (process mode, api/demo/process). The demo Service owns ids, records, persistence and
// the one-message-at-a-time rule per session; a backend only produces replies.
//
// Threads: every method is called from the demo Service's worker thread and must return at once
// (a backend that blocks — a child process — does its waiting on its own threads). Callbacks may
// run on any thread; `done` runs exactly once per call, and a start's progress lines all come
// before its `done`.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace shuo::api::demo {

// A failure the client should see as it is: HTTP status (400 bad message, 404 session not
// running, 409 replaced, 429 busy engine, 502 backend died, 504 backend timed out, ...), a
// machine-readable code ("died", "timed_out", "context_length_exceeded"), one line of text.
struct BackendError {
  int status = 500;
  std::string code;
  std::string message;
  std::string param;      // the request field at fault ("msg"), if any
  int retry_after_s = 0;  // > 0: sent as Retry-After (429, 503)
};

// A call's value or its failure.
template <typename T>
struct Outcome {
  std::optional<BackendError> error;  // set: the call failed and `value` means nothing
  T value{};
  bool ok() const { return !error; }
};

struct Done {};  // the value of calls that only succeed or fail

struct SessionInfo {
  int64_t id = 0;            // the session id the client uses (> 0)
  std::string personality;   // chat only; no line breaks
};

struct StartRequest {
  // An id reserved in the session store, unique for this kind. A backend that names its sessions
  // itself (process mode: the child's pid) returns its own id instead.
  int64_t id = 0;
  // The personality asked for (POST /chat's `personality`, else --personality). A backend whose
  // program announces its own returns that one instead.
  std::string personality;
};

// One line of a starting backend's log: "stdout:<text>" or "stderr:<text>", valid UTF-8, no
// line break. Sent to the resetting client as it is, followed by "\n".
using ProgressFn = std::function<void(std::string_view line)>;

// Stops a call in flight (its client went away). Its `done` still runs (with an error). May be
// called from any thread, more than once, and after `done`.
using CancelFn = std::function<void()>;

// Optional per-message sampling settings (POST /chat/{id}/input's `temperature`, `top_p`,
// `max_tokens`, and shuo's `seed`, `ignore_eos`); a backend that cannot honour them ignores them.
struct ReplyOptions {
  std::optional<float> temperature;
  std::optional<float> top_p;
  std::optional<int32_t> max_tokens;
  std::optional<uint64_t> seed;
  bool ignore_eos = false;  // generate max_tokens whatever the model says (the web page's tests)
};

// A streamed chat reply's end (shuo's streaming extension of POST /chat/{id}/input): the text
// so far — all of it, or what was generated before a cancel — and what is known about it.
struct StreamedReply {
  std::string text;
  std::string finish = "stop";  // "stop", "length" or "cancelled"
  // Known only for in-process replies (-1: unknown).
  int32_t prompt_tokens = -1;
  int32_t completion_tokens = -1;
  double seconds = 0;             // from the call to the end
  double first_piece_seconds = -1;  // from the call to the first piece (-1: none)
};

// Whole UTF-8 characters of a streamed reply as they are produced (never empty). May run on any
// thread, never after the call's `done`.
using PieceFn = std::function<void(std::string_view piece)>;

struct ChatTurn {
  bool input = true;  // true: the user's message; false: the backend's reply
  std::string msg;
};

// What a chat reply is made from. `turns` is the session's recorded history since its last
// clear, oldest first (the Service reads it from the store, so it survives restarts); a backend
// that keeps its own memory (a child process) may ignore it.
struct ChatContext {
  int64_t id = 0;
  std::string personality;
  std::vector<ChatTurn> turns;
};

class Backend {
 public:
  virtual ~Backend() = default;

  // Starts a session; `done` gets its id and personality once it takes messages.
  virtual void start(StartRequest request, ProgressFn progress, std::function<void(Outcome<SessionInfo>)> done) = 0;

  // Whether session `id` (known to the store) can take messages now. In-process: always; process
  // mode: only the running child. Listings (GET /chat, GET /qa) show only live sessions.
  virtual bool is_live(int64_t id) const = 0;
};

class ChatBackend : public Backend {
 public:
  // Answers `msg` in the conversation `context`; `done` gets the reply (valid UTF-8).
  virtual CancelFn send(ChatContext context, std::string msg, ReplyOptions options,
                        std::function<void(Outcome<std::string>)> done) = 0;

  // Like send(), with the reply's pieces as they come. A cancel ends the call with what was
  // produced so far (finish "cancelled") rather than an error. The default sends and passes the
  // whole reply as one piece (a backend that cannot stream, such as a child process).
  virtual CancelFn send_streamed(ChatContext context, std::string msg, ReplyOptions options, PieceFn on_piece,
                                 std::function<void(Outcome<StreamedReply>)> done);

  // Makes the session forget its conversation (POST /chat/{id}/clear). The Service then starts
  // the context it passes to send() after this point; the recorded history is kept.
  virtual void forget(int64_t id, std::function<void(Outcome<Done>)> done) = 0;
};

struct QaQuestion {
  std::string title;
  std::string text;
};

class QaBackend : public Backend {
 public:
  // Answers one question in session `id`; `done` gets the answer (valid UTF-8).
  virtual CancelFn answer(int64_t id, QaQuestion question, ReplyOptions options,
                          std::function<void(Outcome<std::string>)> done) = 0;
};

}  // namespace shuo::api::demo
