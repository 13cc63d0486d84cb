// The demo API's session store in one SQLite file (WAL mode, synchronous=FULL: a committed
// exchange survives kill -9 and power loss). The schema is versioned with PRAGMA user_version
// and upgraded in place by numbered migrations when the file is opened (see sqlite_store.cc);
// a file written by a newer shuo is refused rather than guessed at.
#pragma once

#include <memory>
#include <string>

#include "api/demo/session_store.h"
#include "core/result.h"

struct sqlite3;

namespace shuo::api::demo {

class SqliteSessionStore final : public SessionStore {
 public:
  // The schema version this build writes.
  static constexpr int kSchemaVersion = 3;

  // Opens or creates `path` (its folder must exist) and migrates it to kSchemaVersion. Errors:
  // kIo (cannot open, not a database, locked too long, WAL unavailable), kUnsupported (a newer
  // schema), each naming the file.
  static Result<std::unique_ptr<SqliteSessionStore>> open(const std::string& path);
  ~SqliteSessionStore() override;
  SqliteSessionStore(const SqliteSessionStore&) = delete;
  SqliteSessionStore& operator=(const SqliteSessionStore&) = delete;

  Result<int64_t> allocate_id(SessionKind kind) override;
  Result<void> create_session(const SessionRecord& session) override;
  Result<std::optional<SessionRecord>> find_session(SessionKind kind, int64_t id) override;
  Result<std::vector<SessionRecord>> list_sessions(SessionKind kind) override;
  Result<std::vector<MessageRecord>> messages(SessionKind kind, int64_t id, int64_t from_seq) override;
  Result<void> append_exchange(SessionKind kind, int64_t id, MessageRecord input, MessageRecord output) override;
  Result<void> forget_context(SessionKind kind, int64_t id) override;
  Result<void> set_title(SessionKind kind, int64_t id, const std::string& title) override;
  Result<void> delete_session(SessionKind kind, int64_t id) override;
  Result<void> replace_last_output(SessionKind kind, int64_t id, MessageRecord output) override;

  // For tests and the log: PRAGMA user_version and PRAGMA journal_mode ("wal").
  Result<int> schema_version();
  Result<std::string> journal_mode();
  const std::string& path() const { return path_; }

 private:
  SqliteSessionStore(sqlite3* db, std::string path) : db_(db), path_(std::move(path)) {}
  Result<void> migrate();
  Result<void> exec(const char* sql);
  // The live session's row key, or kNotFound.
  Result<int64_t> session_key(SessionKind kind, int64_t id);
  Error error(const std::string& what) const;

  sqlite3* db_;
  std::string path_;
};

}  // namespace shuo::api::demo
