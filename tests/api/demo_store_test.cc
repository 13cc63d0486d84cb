// The demo API's SQLite session store: a fresh file is WAL at the newest schema, sessions and
// exchanges round-trip and survive reopening, ids are never handed out twice, a reused id
// replaces the old session, clear moves the model's context, a file at schema version 1 (as the
// first release wrote it) is migrated in place keeping its data, and a newer file is refused.
#include <gtest/gtest.h>

#include <sqlite3.h>

#include <atomic>
#include <filesystem>
#include <string>

#include "api/demo/data_dir.h"
#include "api/demo/session_store.h"
#include "api/demo/sqlite_store.h"

namespace shuo::api::demo {
namespace {

namespace fs = std::filesystem;

class TempDir {
 public:
  TempDir() {
    static std::atomic<int> n{0};
    path_ = fs::temp_directory_path() /
            ("shuo-store-test-" + std::to_string(::getpid()) + "-" + std::to_string(n++));
    fs::remove_all(path_);
    fs::create_directories(path_);
  }
  ~TempDir() { fs::remove_all(path_); }
  fs::path file(const std::string& name = "sessions.sqlite3") const { return path_ / name; }
  const fs::path& path() const { return path_; }

 private:
  fs::path path_;
};

std::unique_ptr<SqliteSessionStore> open_ok(const fs::path& p) {
  auto s = SqliteSessionStore::open(p.string());
  EXPECT_TRUE(s.ok()) << (s.ok() ? "" : s.error().to_string());
  return s.ok() ? std::move(*s) : nullptr;
}

MessageRecord message(bool input, std::string msg, std::string title = {}) {
  MessageRecord m;
  m.input = input;
  m.msg = std::move(msg);
  m.title = std::move(title);
  m.time = local_time_iso8601();
  return m;
}

SessionRecord session(SessionKind kind, int64_t id, std::string personality = "p") {
  SessionRecord s;
  s.kind = kind;
  s.id = id;
  s.personality = std::move(personality);
  s.created = local_time_iso8601();
  return s;
}

// Runs SQL on a file directly, bypassing the store.
void raw_exec(const fs::path& p, const std::string& sql) {
  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open(p.string().c_str(), &db), SQLITE_OK);
  char* err = nullptr;
  EXPECT_EQ(sqlite3_exec(db, sql.c_str(), nullptr, nullptr, &err), SQLITE_OK) << (err ? err : "");
  sqlite3_free(err);
  sqlite3_close(db);
}

TEST(DemoStore, NewFileIsWalAtTheNewestSchema) {
  TempDir dir;
  auto store = open_ok(dir.file());
  ASSERT_TRUE(store);
  EXPECT_EQ(*store->journal_mode(), "wal");
  EXPECT_EQ(*store->schema_version(), SqliteSessionStore::kSchemaVersion);
  EXPECT_TRUE(fs::exists(dir.file("sessions.sqlite3-wal")));
}

TEST(DemoStore, SessionsAndExchangesSurviveReopening) {
  TempDir dir;
  {
    auto store = open_ok(dir.file());
    ASSERT_TRUE(store);
    auto id = store->allocate_id(SessionKind::kChat);
    ASSERT_TRUE(id.ok());
    EXPECT_EQ(*id, 1);
    ASSERT_TRUE(store->create_session(session(SessionKind::kChat, *id, "我是一名HR。")).ok());
    ASSERT_TRUE(store->append_exchange(SessionKind::kChat, *id, message(true, "你好"), message(false, "好!吃了么?")).ok());
    ASSERT_TRUE(store->append_exchange(SessionKind::kChat, *id, message(true, "second"), message(false, "reply 2")).ok());
  }
  auto store = open_ok(dir.file());
  ASSERT_TRUE(store);
  auto s = store->find_session(SessionKind::kChat, 1);
  ASSERT_TRUE(s.ok() && *s);
  EXPECT_EQ((*s)->personality, "我是一名HR。");
  EXPECT_EQ((*s)->context_start, 0);
  auto m = store->messages(SessionKind::kChat, 1, 0);
  ASSERT_TRUE(m.ok());
  ASSERT_EQ(m->size(), 4u);
  EXPECT_TRUE((*m)[0].input);
  EXPECT_EQ((*m)[0].msg, "你好");
  EXPECT_FALSE((*m)[1].input);
  EXPECT_EQ((*m)[1].msg, "好!吃了么?");
  EXPECT_EQ((*m)[3].msg, "reply 2");
  for (size_t i = 0; i < m->size(); ++i) EXPECT_EQ((*m)[i].seq, int64_t(i));
  // The same id in the other kind is another session.
  EXPECT_FALSE(*store->find_session(SessionKind::kQa, 1));
  auto missing = store->messages(SessionKind::kQa, 1, 0);
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.error().code, ErrorCode::kNotFound);
  EXPECT_EQ(store->append_exchange(SessionKind::kChat, 99, message(true, "x"), message(false, "y")).error().code,
            ErrorCode::kNotFound);
}

TEST(DemoStore, IdsAreNeverHandedOutTwice) {
  TempDir dir;
  {
    auto store = open_ok(dir.file());
    EXPECT_EQ(*store->allocate_id(SessionKind::kChat), 1);
    EXPECT_EQ(*store->allocate_id(SessionKind::kChat), 2);  // 1 never became a session: still skipped
    EXPECT_EQ(*store->allocate_id(SessionKind::kQa), 1);    // per kind
    // A process-mode session named by its pid: new ids continue after it.
    ASSERT_TRUE(store->create_session(session(SessionKind::kChat, 4242)).ok());
  }
  auto store = open_ok(dir.file());
  EXPECT_EQ(*store->allocate_id(SessionKind::kChat), 4243);
  EXPECT_EQ(*store->allocate_id(SessionKind::kQa), 2);
}

TEST(DemoStore, AReusedIdReplacesTheOldSession) {
  TempDir dir;
  auto store = open_ok(dir.file());
  ASSERT_TRUE(store->create_session(session(SessionKind::kChat, 7, "old")).ok());
  ASSERT_TRUE(store->append_exchange(SessionKind::kChat, 7, message(true, "a"), message(false, "b")).ok());
  ASSERT_TRUE(store->create_session(session(SessionKind::kChat, 7, "new")).ok());
  auto s = store->find_session(SessionKind::kChat, 7);
  EXPECT_EQ((*s)->personality, "new");
  EXPECT_TRUE(store->messages(SessionKind::kChat, 7, 0)->empty());
  auto all = store->list_sessions(SessionKind::kChat);
  ASSERT_EQ(all->size(), 1u);
  EXPECT_EQ((*all)[0].personality, "new");
}

TEST(DemoStore, ForgetMovesTheContextStartButKeepsTheHistory) {
  TempDir dir;
  auto store = open_ok(dir.file());
  ASSERT_TRUE(store->create_session(session(SessionKind::kChat, 1)).ok());
  ASSERT_TRUE(store->append_exchange(SessionKind::kChat, 1, message(true, "a"), message(false, "b")).ok());
  ASSERT_TRUE(store->forget_context(SessionKind::kChat, 1).ok());
  ASSERT_TRUE(store->append_exchange(SessionKind::kChat, 1, message(true, "c"), message(false, "d")).ok());
  auto s = store->find_session(SessionKind::kChat, 1);
  EXPECT_EQ((*s)->context_start, 2);
  EXPECT_EQ(store->messages(SessionKind::kChat, 1, 0)->size(), 4u);
  auto context = store->messages(SessionKind::kChat, 1, (*s)->context_start);
  ASSERT_EQ(context->size(), 2u);
  EXPECT_EQ((*context)[0].msg, "c");
  EXPECT_EQ(store->forget_context(SessionKind::kChat, 5).error().code, ErrorCode::kNotFound);
}

TEST(DemoStore, QaTitlesRoundTrip) {
  TempDir dir;
  auto store = open_ok(dir.file());
  ASSERT_TRUE(store->create_session(session(SessionKind::kQa, 1, "")).ok());
  ASSERT_TRUE(store->append_exchange(SessionKind::kQa, 1, message(true, "如题。", "武汉是哪里的省会?"),
                                     message(false, "湖北")).ok());
  auto m = store->messages(SessionKind::kQa, 1, 0);
  ASSERT_EQ(m->size(), 2u);
  EXPECT_EQ((*m)[0].title, "武汉是哪里的省会?");
  EXPECT_EQ((*m)[0].msg, "如题。");
  EXPECT_EQ((*m)[1].title, "");
}

// The schema as version 1 wrote it (copied from the migration, frozen here on purpose: this is
// what files in the field look like).
constexpr const char* kSchemaV1 = R"sql(
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
  CREATE TABLE id_counters (kind TEXT PRIMARY KEY, last_id INTEGER NOT NULL) WITHOUT ROWID;
  INSERT INTO sessions (kind, id, personality, created) VALUES ('chat', 3, 'v1 personality', '2019-12-07T10:07:33.698323');
  INSERT INTO messages VALUES (1, 0, 'input', 'old question', '2019-12-07T10:07:33.698323');
  INSERT INTO messages VALUES (1, 1, 'output', 'old answer', '2019-12-07T10:07:34.741251');
  INSERT INTO id_counters VALUES ('chat', 3);
  PRAGMA user_version = 1;
)sql";

TEST(DemoStore, MigratesAVersion1FileKeepingItsData) {
  TempDir dir;
  raw_exec(dir.file(), kSchemaV1);
  auto store = open_ok(dir.file());
  ASSERT_TRUE(store);
  EXPECT_EQ(*store->schema_version(), SqliteSessionStore::kSchemaVersion);
  EXPECT_EQ(*store->journal_mode(), "wal");  // a rollback-journal file is switched to WAL
  auto s = store->find_session(SessionKind::kChat, 3);
  ASSERT_TRUE(s.ok() && *s);
  EXPECT_EQ((*s)->personality, "v1 personality");
  auto m = store->messages(SessionKind::kChat, 3, 0);
  ASSERT_EQ(m->size(), 2u);
  EXPECT_EQ((*m)[0].msg, "old question");
  EXPECT_EQ((*m)[0].time, "2019-12-07T10:07:33.698323");
  EXPECT_EQ((*m)[0].title, "");  // the column version 2 added
  EXPECT_EQ((*m)[1].msg, "old answer");
  // Version 2 features work on the migrated file, and ids continue after the old ones.
  ASSERT_TRUE(store->append_exchange(SessionKind::kChat, 3, message(true, "q", "t"), message(false, "a")).ok());
  EXPECT_EQ((*store->messages(SessionKind::kChat, 3, 2))[0].title, "t");
  EXPECT_EQ(*store->allocate_id(SessionKind::kChat), 4);
  // Opening again does not migrate twice.
  store.reset();
  auto again = open_ok(dir.file());
  EXPECT_EQ(*again->schema_version(), SqliteSessionStore::kSchemaVersion);
  EXPECT_EQ(again->messages(SessionKind::kChat, 3, 0)->size(), 4u);
}

// Version 3 (the web page's rename, delete and regenerate) on a version-2 file.
TEST(DemoStore, TitlesDeletionAndRegenerateOnAMigratedFile) {
  TempDir dir;
  raw_exec(dir.file(), kSchemaV1);
  {
    auto v2 = open_ok(dir.file());  // migrates to the newest; step back to 2 to test 2 → 3
    ASSERT_TRUE(v2);
  }
  raw_exec(dir.file(), "ALTER TABLE sessions DROP COLUMN title; PRAGMA user_version = 2;");
  auto store = open_ok(dir.file());
  ASSERT_TRUE(store);
  EXPECT_EQ(*store->schema_version(), 3);
  // An unset title reads as the start of the first input.
  EXPECT_EQ((*store->find_session(SessionKind::kChat, 3))->title, "old question");
  ASSERT_TRUE(store->set_title(SessionKind::kChat, 3, "重命名").ok());
  EXPECT_EQ((*store->list_sessions(SessionKind::kChat))[0].title, "重命名");
  EXPECT_EQ(store->set_title(SessionKind::kChat, 99, "x").error().code, ErrorCode::kNotFound);

  ASSERT_TRUE(store->replace_last_output(SessionKind::kChat, 3, message(false, "new answer")).ok());
  auto m = store->messages(SessionKind::kChat, 3, 0);
  ASSERT_EQ(m->size(), 2u);
  EXPECT_EQ((*m)[1].msg, "new answer");
  EXPECT_EQ((*m)[0].msg, "old question");
  ASSERT_TRUE(store->forget_context(SessionKind::kChat, 3).ok());  // a clear ends what can be redone
  EXPECT_EQ(store->replace_last_output(SessionKind::kChat, 3, message(false, "x")).error().code, ErrorCode::kNotFound);

  ASSERT_TRUE(store->delete_session(SessionKind::kChat, 3).ok());
  EXPECT_FALSE(*store->find_session(SessionKind::kChat, 3));
  EXPECT_EQ(store->messages(SessionKind::kChat, 3, 0).error().code, ErrorCode::kNotFound);
  EXPECT_EQ(store->delete_session(SessionKind::kChat, 3).error().code, ErrorCode::kNotFound);
  EXPECT_EQ(*store->allocate_id(SessionKind::kChat), 4);  // the deleted id is not reused
}

TEST(DemoStore, RefusesAFileFromANewerShuo) {
  TempDir dir;
  raw_exec(dir.file(), "PRAGMA user_version = 99;");
  auto s = SqliteSessionStore::open(dir.file().string());
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.error().code, ErrorCode::kUnsupported);
  EXPECT_NE(s.error().message.find("99"), std::string::npos) << s.error().message;
}

TEST(DemoStore, RefusesAFileThatIsNotADatabase) {
  TempDir dir;
  {
    std::FILE* f = std::fopen(dir.file().string().c_str(), "wb");
    std::fputs("this is not an SQLite database, just some text that is long enough to have a header", f);
    std::fclose(f);
  }
  auto s = SqliteSessionStore::open(dir.file().string());
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.error().code, ErrorCode::kIo);
  EXPECT_EQ(s.error().where, dir.file().string());
}

TEST(DemoStore, OpenerCreatesTheDataDirectory) {
  TempDir dir;
  const fs::path nested = dir.path() / "a" / "b";
  auto store = sqlite_store_in(nested.string())();
  ASSERT_TRUE(store.ok()) << store.error().to_string();
  EXPECT_TRUE(fs::exists(nested / kSessionsFile));
  // A data directory that cannot be created (a file is in the way) is a clear error.
  const fs::path blocked = dir.path() / "file";
  { std::FILE* f = std::fopen(blocked.string().c_str(), "wb"); std::fclose(f); }
  auto bad = sqlite_store_in((blocked / "sub").string())();
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.error().code, ErrorCode::kIo);
}

TEST(DemoStore, LocalTimeHasMicroseconds) {
  const std::string t = local_time_iso8601();
  // 2019-12-07T10:07:33.698323
  ASSERT_EQ(t.size(), 26u) << t;
  EXPECT_EQ(t[4], '-');
  EXPECT_EQ(t[10], 'T');
  EXPECT_EQ(t[19], '.');
  for (size_t i : {0u, 1u, 2u, 3u, 5u, 6u, 8u, 9u, 11u, 12u, 14u, 15u, 17u, 18u, 20u, 25u})
    EXPECT_TRUE(t[i] >= '0' && t[i] <= '9') << t;
}

}  // namespace
}  // namespace shuo::api::demo
