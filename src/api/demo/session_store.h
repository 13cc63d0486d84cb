// Where the demo API keeps its sessions and their histories (spec/api.md §3: they survive a
// restart, even kill -9). An interface so that a store shared by several replicas (PostgreSQL)
// can replace the single-file SQLite one (sqlite_store.h) without touching the Service.
//
// Contract: every call is durable when it returns ok (a crash right after loses nothing it
// wrote); append_exchange writes both messages or neither. A store is used by one thread at a
// time (the demo Service's worker), so implementations need no locking of their own.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "core/result.h"

namespace shuo::api::demo {

enum class SessionKind { kChat, kQa };
const char* session_kind_name(SessionKind kind);  // "chat", "qa"

struct SessionRecord {
  SessionKind kind = SessionKind::kChat;
  int64_t id = 0;             // the id clients use (> 0)
  std::string personality;    // chat sessions
  std::string created;        // local time, ISO 8601 with microseconds
  int64_t context_start = 0;  // seq of the first message the model still knows (after a clear)
  // Chat sessions: the name the web page's sidebar shows (PATCH /chat/{id}); "" until set.
  // list_sessions() fills an unset one with the start of the first input, if any.
  std::string title;
};

struct MessageRecord {
  int64_t seq = 0;            // position in the session's history, from 0 (set by the store)
  bool input = true;          // "dir": input (the user's) or output (the reply)
  std::string msg;
  std::string time;           // local time, ISO 8601 with microseconds
  std::string title;          // QA questions: the title (msg holds the text); "" otherwise
};

class SessionStore {
 public:
  virtual ~SessionStore() = default;

  // A new id for a session of `kind`, never handed out before by this store (ids of sessions
  // that failed to start are simply skipped).
  virtual Result<int64_t> allocate_id(SessionKind kind) = 0;

  // Records a new session. If a session of the same kind and id exists (process mode reuses
  // pids across restarts) the new one replaces it for every lookup; the old rows stay in the
  // store, unreachable.
  virtual Result<void> create_session(const SessionRecord& session) = 0;

  virtual Result<std::optional<SessionRecord>> find_session(SessionKind kind, int64_t id) = 0;
  // Oldest first.
  virtual Result<std::vector<SessionRecord>> list_sessions(SessionKind kind) = 0;

  // The session's messages with seq ≥ from_seq, in order. kNotFound for an unknown session.
  virtual Result<std::vector<MessageRecord>> messages(SessionKind kind, int64_t id, int64_t from_seq = 0) = 0;

  // Appends one finished exchange (the user's input, then the reply) atomically; seqs are
  // assigned here. kNotFound for an unknown session.
  virtual Result<void> append_exchange(SessionKind kind, int64_t id, MessageRecord input, MessageRecord output) = 0;

  // The model forgets: context_start moves past every message recorded so far.
  virtual Result<void> forget_context(SessionKind kind, int64_t id) = 0;

  // shuo's extensions for the web page (kNotFound for an unknown session):
  // Renames a session (any UTF-8 text; "" goes back to the default).
  virtual Result<void> set_title(SessionKind kind, int64_t id, const std::string& title) = 0;
  // Removes a session and its whole history; its id is never handed out again.
  virtual Result<void> delete_session(SessionKind kind, int64_t id) = 0;
  // Regenerate: the last recorded exchange (after context_start) gets `output` as its reply.
  // kNotFound also when there is no such exchange.
  virtual Result<void> replace_last_output(SessionKind kind, int64_t id, MessageRecord output) = 0;
};

// Opens a store. The demo Service calls it on its worker thread, at the first request that needs
// the store (and again after a failure, so a fixed disk heals without a restart).
using StoreOpener = std::function<Result<std::unique_ptr<SessionStore>>()>;

// "2019-12-07T10:07:33.698323": the current local time as the demo API reports it.
std::string local_time_iso8601();

}  // namespace shuo::api::demo
