// SQLite session store (see sqlite_store.h).
//
// Schema (version = PRAGMA user_version; each migration runs in one transaction with the
// version bump, so a crash mid-migration leaves the old version intact):
//   1  sessions(key, kind, id, personality, created, context_start, replaced): one row per
//      session; `id` is the client's id, unique per kind among rows not `replaced`.
//      messages(session → sessions.key, seq, dir 'input'|'output', msg, time): the history.
//      id_counters(kind, last_id): ids handed out, so that none is handed out twice.
//   2  messages.title: a QA question's title (its text is `msg`).
//   3  sessions.title: the name a chat session was given (the web page's rename).
#include "api/demo/sqlite_store.h"

#include <sqlite3.h>

#include <utility>

namespace shuo::api::demo {

namespace {

struct Migration {
  int version;
  const char* sql;
};

constexpr Migration kMigrations[] = {
    {1, R"sql(
      CREATE TABLE sessions (
        key INTEGER PRIMARY KEY,
        kind TEXT NOT NULL CHECK (kind IN ('chat', 'qa')),
        id INTEGER NOT NULL,
        personality TEXT NOT NULL DEFAULT '',
        created TEXT NOT NULL,
        context_start INTEGER NOT NULL DEFAULT 0,
        replaced INTEGER NOT NULL DEFAULT 0
      );
      CREATE UNIQUE INDEX sessions_by_id ON sessions (kind, id) WHERE replaced = 0;
      CREATE TABLE messages (
        session INTEGER NOT NULL REFERENCES sessions (key),
        seq INTEGER NOT NULL,
        dir TEXT NOT NULL CHECK (dir IN ('input', 'output')),
        msg TEXT NOT NULL,
        time TEXT NOT NULL,
        PRIMARY KEY (session, seq)
      ) WITHOUT ROWID;
      CREATE TABLE id_counters (
        kind TEXT PRIMARY KEY,
        last_id INTEGER NOT NULL
      ) WITHOUT ROWID;
    )sql"},
    {2, R"sql(
      ALTER TABLE messages ADD COLUMN title TEXT NOT NULL DEFAULT '';
    )sql"},
    {3, R"sql(
      ALTER TABLE sessions ADD COLUMN title TEXT NOT NULL DEFAULT '';
    )sql"},
};
static_assert(sizeof kMigrations / sizeof kMigrations[0] == SqliteSessionStore::kSchemaVersion);

// One prepared statement; finalized on destruction.
class Stmt {
 public:
  Stmt(sqlite3* db, const char* sql) { rc_ = sqlite3_prepare_v2(db, sql, -1, &s_, nullptr); }
  ~Stmt() { sqlite3_finalize(s_); }
  Stmt(const Stmt&) = delete;
  Stmt& operator=(const Stmt&) = delete;

  bool prepared() const { return rc_ == SQLITE_OK; }
  Stmt& bind(int i, int64_t v) {
    if (rc_ == SQLITE_OK) rc_ = sqlite3_bind_int64(s_, i, v);
    return *this;
  }
  Stmt& bind(int i, const std::string& v) {
    if (rc_ == SQLITE_OK) rc_ = sqlite3_bind_text(s_, i, v.data(), int(v.size()), SQLITE_TRANSIENT);
    return *this;
  }
  // SQLITE_ROW, SQLITE_DONE, or an error code (bind errors included).
  int step() {
    if (rc_ != SQLITE_OK) return rc_;
    return sqlite3_step(s_);
  }
  int64_t int_at(int col) const { return sqlite3_column_int64(s_, col); }
  std::string text_at(int col) const {
    const auto* p = reinterpret_cast<const char*>(sqlite3_column_text(s_, col));
    return p ? std::string(p, size_t(sqlite3_column_bytes(s_, col))) : std::string();
  }

 private:
  sqlite3_stmt* s_ = nullptr;
  int rc_ = SQLITE_OK;
};

}  // namespace

Error SqliteSessionStore::error(const std::string& what) const {
  return Error{ErrorCode::kIo, path_, what + ": " + sqlite3_errmsg(db_)};
}

Result<void> SqliteSessionStore::exec(const char* sql) {
  char* msg = nullptr;
  if (sqlite3_exec(db_, sql, nullptr, nullptr, &msg) == SQLITE_OK) return {};
  Error e{ErrorCode::kIo, path_, msg ? msg : sqlite3_errmsg(db_)};
  sqlite3_free(msg);
  return e;
}

namespace {

// BEGIN IMMEDIATE (takes the write lock at once, so two writers never deadlock on an upgrade);
// rolled back unless commit() succeeded.
class Transaction {
 public:
  explicit Transaction(sqlite3* db) : db_(db) {
    ok_ = sqlite3_exec(db, "BEGIN IMMEDIATE", nullptr, nullptr, nullptr) == SQLITE_OK;
  }
  ~Transaction() {
    if (ok_ && !done_) sqlite3_exec(db_, "ROLLBACK", nullptr, nullptr, nullptr);
  }
  bool begun() const { return ok_; }
  bool commit() {
    done_ = sqlite3_exec(db_, "COMMIT", nullptr, nullptr, nullptr) == SQLITE_OK;
    return done_;
  }

 private:
  sqlite3* db_;
  bool ok_ = false, done_ = false;
};

}  // namespace

Result<std::unique_ptr<SqliteSessionStore>> SqliteSessionStore::open(const std::string& path) {
  sqlite3* db = nullptr;
  const int rc = sqlite3_open_v2(path.c_str(), &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX,
                                 nullptr);
  std::unique_ptr<SqliteSessionStore> store(new SqliteSessionStore(db, path));
  if (rc != SQLITE_OK) {
    if (!db) return Error{ErrorCode::kIo, path, "cannot open: out of memory"};
    return store->error("cannot open the session database");
  }
  // Another shuo (or a backup) holding the write lock briefly is waited for, not an error.
  sqlite3_busy_timeout(db, 5000);
  SHUO_TRY(store->exec("PRAGMA foreign_keys = ON"));
  auto mode = store->journal_mode();
  if (!mode.ok()) return mode.error();
  if (*mode != "wal") {
    Stmt s(db, "PRAGMA journal_mode = WAL");
    if (s.step() != SQLITE_ROW) return store->error("cannot switch to WAL mode");
    if (s.text_at(0) != "wal")
      return Error{ErrorCode::kIo, path, "the file system does not support SQLite's WAL mode (journal mode \"" +
                                             s.text_at(0) + "\")"};
  }
  // FULL: every commit is on disk when it returns (WAL's default, NORMAL, may lose the last
  // commits on power loss; a finished exchange is a promise to the client).
  SHUO_TRY(store->exec("PRAGMA synchronous = FULL"));
  SHUO_TRY(store->migrate());
  return store;
}

SqliteSessionStore::~SqliteSessionStore() { sqlite3_close_v2(db_); }

Result<int> SqliteSessionStore::schema_version() {
  Stmt s(db_, "PRAGMA user_version");
  if (s.step() != SQLITE_ROW) return error("cannot read the schema version");
  return int(s.int_at(0));
}

Result<std::string> SqliteSessionStore::journal_mode() {
  Stmt s(db_, "PRAGMA journal_mode");
  if (s.step() != SQLITE_ROW) return error("cannot read the journal mode");
  return s.text_at(0);
}

Result<void> SqliteSessionStore::migrate() {
  // The version is read inside the write transaction: two processes opening one new file at
  // once must not both run migration 1.
  for (;;) {
    Transaction t(db_);
    if (!t.begun()) return error("cannot lock the session database for its schema check");
    SHUO_ASSIGN(int version, schema_version());
    if (version > kSchemaVersion)
      return Error{ErrorCode::kUnsupported, path_,
                   "the session database has schema version " + std::to_string(version) +
                       ", newer than this shuo's " + std::to_string(kSchemaVersion) + "; use a newer shuo or another --data-dir"};
    if (version == kSchemaVersion) return {};
    const Migration& m = kMigrations[version];  // migrations are numbered 1..kSchemaVersion
    SHUO_TRY(exec(m.sql));
    SHUO_TRY(exec(("PRAGMA user_version = " + std::to_string(m.version)).c_str()));
    if (!t.commit()) return error("cannot commit schema migration " + std::to_string(m.version));
  }
}

Result<int64_t> SqliteSessionStore::allocate_id(SessionKind kind) {
  const std::string k = session_kind_name(kind);
  Transaction t(db_);
  if (!t.begun()) return error("cannot begin a transaction");
  // Start after every id already used by a session of this kind (process mode's pids too).
  Stmt s(db_, R"sql(
    INSERT INTO id_counters (kind, last_id)
      VALUES (?1, (SELECT COALESCE(MAX(id), 0) FROM sessions WHERE kind = ?1) + 1)
    ON CONFLICT (kind) DO UPDATE
      SET last_id = MAX(last_id, (SELECT COALESCE(MAX(id), 0) FROM sessions WHERE kind = ?1)) + 1
    RETURNING last_id
  )sql");
  s.bind(1, k);
  if (s.step() != SQLITE_ROW) return error("cannot allocate a session id");
  const int64_t id = s.int_at(0);
  if (s.step() != SQLITE_DONE) return error("cannot allocate a session id");
  if (!t.commit()) return error("cannot commit a session id");
  return id;
}

Result<void> SqliteSessionStore::create_session(const SessionRecord& r) {
  const std::string k = session_kind_name(r.kind);
  Transaction t(db_);
  if (!t.begun()) return error("cannot begin a transaction");
  Stmt old(db_, "UPDATE sessions SET replaced = 1 WHERE kind = ? AND id = ? AND replaced = 0");
  old.bind(1, k).bind(2, r.id);
  if (old.step() != SQLITE_DONE) return error("cannot replace session " + std::to_string(r.id));
  Stmt ins(db_, "INSERT INTO sessions (kind, id, personality, created, context_start) VALUES (?, ?, ?, ?, ?)");
  ins.bind(1, k).bind(2, r.id).bind(3, r.personality).bind(4, r.created).bind(5, r.context_start);
  if (ins.step() != SQLITE_DONE) return error("cannot record session " + std::to_string(r.id));
  if (!t.commit()) return error("cannot commit session " + std::to_string(r.id));
  return {};
}

namespace {

// An unset title reads as the first 60 characters of the session's first input.
constexpr const char* kSessionColumns = R"sql(id, personality, created, context_start,
  COALESCE(NULLIF(title, ''),
           (SELECT substr(msg, 1, 60) FROM messages WHERE session = sessions.key AND dir = 'input' ORDER BY seq LIMIT 1),
           ''))sql";

SessionRecord session_from(const Stmt& s, SessionKind kind) {
  SessionRecord r;
  r.kind = kind;
  r.id = s.int_at(0);
  r.personality = s.text_at(1);
  r.created = s.text_at(2);
  r.context_start = s.int_at(3);
  r.title = s.text_at(4);
  return r;
}

}  // namespace

Result<std::optional<SessionRecord>> SqliteSessionStore::find_session(SessionKind kind, int64_t id) {
  const std::string sql = std::string("SELECT ") + kSessionColumns +
                          " FROM sessions WHERE kind = ? AND id = ? AND replaced = 0";
  Stmt s(db_, sql.c_str());
  s.bind(1, std::string(session_kind_name(kind))).bind(2, id);
  const int rc = s.step();
  if (rc == SQLITE_DONE) return std::optional<SessionRecord>();
  if (rc != SQLITE_ROW) return error("cannot read session " + std::to_string(id));
  return std::optional<SessionRecord>(session_from(s, kind));
}

Result<std::vector<SessionRecord>> SqliteSessionStore::list_sessions(SessionKind kind) {
  const std::string sql = std::string("SELECT ") + kSessionColumns +
                          " FROM sessions WHERE kind = ? AND replaced = 0 ORDER BY key";
  Stmt s(db_, sql.c_str());
  s.bind(1, std::string(session_kind_name(kind)));
  std::vector<SessionRecord> out;
  int rc;
  while ((rc = s.step()) == SQLITE_ROW) out.push_back(session_from(s, kind));
  if (rc != SQLITE_DONE) return error("cannot list sessions");
  return out;
}

Result<int64_t> SqliteSessionStore::session_key(SessionKind kind, int64_t id) {
  Stmt s(db_, "SELECT key FROM sessions WHERE kind = ? AND id = ? AND replaced = 0");
  s.bind(1, std::string(session_kind_name(kind))).bind(2, id);
  const int rc = s.step();
  if (rc == SQLITE_DONE)
    return Error{ErrorCode::kNotFound, "id", std::string("no ") + session_kind_name(kind) + " session " + std::to_string(id)};
  if (rc != SQLITE_ROW) return error("cannot read session " + std::to_string(id));
  return s.int_at(0);
}

Result<std::vector<MessageRecord>> SqliteSessionStore::messages(SessionKind kind, int64_t id, int64_t from_seq) {
  SHUO_ASSIGN(int64_t key, session_key(kind, id));
  Stmt s(db_, "SELECT seq, dir, msg, time, title FROM messages WHERE session = ? AND seq >= ? ORDER BY seq");
  s.bind(1, key).bind(2, from_seq);
  std::vector<MessageRecord> out;
  int rc;
  while ((rc = s.step()) == SQLITE_ROW) {
    MessageRecord m;
    m.seq = s.int_at(0);
    m.input = s.text_at(1) == "input";
    m.msg = s.text_at(2);
    m.time = s.text_at(3);
    m.title = s.text_at(4);
    out.push_back(std::move(m));
  }
  if (rc != SQLITE_DONE) return error("cannot read the history of session " + std::to_string(id));
  return out;
}

Result<void> SqliteSessionStore::append_exchange(SessionKind kind, int64_t id, MessageRecord input,
                                                 MessageRecord output) {
  Transaction t(db_);
  if (!t.begun()) return error("cannot begin a transaction");
  SHUO_ASSIGN(int64_t key, session_key(kind, id));
  Stmt next(db_, "SELECT COALESCE(MAX(seq) + 1, 0) FROM messages WHERE session = ?");
  next.bind(1, key);
  if (next.step() != SQLITE_ROW) return error("cannot read the history of session " + std::to_string(id));
  int64_t seq = next.int_at(0);
  for (MessageRecord* m : {&input, &output}) {
    Stmt ins(db_, "INSERT INTO messages (session, seq, dir, msg, time, title) VALUES (?, ?, ?, ?, ?, ?)");
    ins.bind(1, key).bind(2, seq++).bind(3, std::string(m->input ? "input" : "output"))
        .bind(4, m->msg).bind(5, m->time).bind(6, m->title);
    if (ins.step() != SQLITE_DONE) return error("cannot record a message of session " + std::to_string(id));
  }
  if (!t.commit()) return error("cannot commit a message of session " + std::to_string(id));
  return {};
}

Result<void> SqliteSessionStore::forget_context(SessionKind kind, int64_t id) {
  SHUO_ASSIGN(int64_t key, session_key(kind, id));
  Stmt s(db_, R"sql(
    UPDATE sessions SET context_start = (SELECT COALESCE(MAX(seq) + 1, 0) FROM messages WHERE session = ?1)
    WHERE key = ?1
  )sql");
  s.bind(1, key);
  if (s.step() != SQLITE_DONE) return error("cannot clear session " + std::to_string(id));
  return {};
}

Result<void> SqliteSessionStore::set_title(SessionKind kind, int64_t id, const std::string& title) {
  SHUO_ASSIGN(int64_t key, session_key(kind, id));
  Stmt s(db_, "UPDATE sessions SET title = ? WHERE key = ?");
  s.bind(1, title).bind(2, key);
  if (s.step() != SQLITE_DONE) return error("cannot rename session " + std::to_string(id));
  return {};
}

Result<void> SqliteSessionStore::delete_session(SessionKind kind, int64_t id) {
  Transaction t(db_);
  if (!t.begun()) return error("cannot begin a transaction");
  SHUO_ASSIGN(int64_t key, session_key(kind, id));
  // allocate_id keeps its counter in id_counters, so the id is not handed out again.
  for (const char* sql : {"DELETE FROM messages WHERE session = ?", "DELETE FROM sessions WHERE key = ?"}) {
    Stmt s(db_, sql);
    s.bind(1, key);
    if (s.step() != SQLITE_DONE) return error("cannot delete session " + std::to_string(id));
  }
  if (!t.commit()) return error("cannot commit the deletion of session " + std::to_string(id));
  return {};
}

Result<void> SqliteSessionStore::replace_last_output(SessionKind kind, int64_t id, MessageRecord output) {
  SHUO_ASSIGN(int64_t key, session_key(kind, id));
  // The last message, if it is a reply the model still knows (a clear ends what can be redone).
  Stmt s(db_, R"sql(
    UPDATE messages SET msg = ?1, time = ?2
    WHERE session = ?3 AND dir = 'output'
      AND seq = (SELECT MAX(seq) FROM messages WHERE session = ?3)
      AND seq >= (SELECT context_start FROM sessions WHERE key = ?3)
  )sql");
  s.bind(1, output.msg).bind(2, output.time).bind(3, key);
  if (s.step() != SQLITE_DONE) return error("cannot record a message of session " + std::to_string(id));
  if (sqlite3_changes(db_) != 1)
    return Error{ErrorCode::kNotFound, "regenerate", "session " + std::to_string(id) + " has no reply to regenerate since its last clear"};
  return {};
}

}  // namespace shuo::api::demo
