// Where `shuo serve` keeps the demo API's sessions: one SQLite file, kSessionsFile, in the data
// directory (--data-dir; default below).
#pragma once

#include <string>

#include "api/demo/session_store.h"

namespace shuo::api::demo {

inline constexpr const char* kSessionsFile = "sessions.sqlite3";

// $XDG_DATA_HOME/shuo, else $HOME/.local/share/shuo, else ./shuo-data (no home at all).
std::string default_data_dir();

// Opens (creating the directory and the file when needed) `dir`/kSessionsFile.
StoreOpener sqlite_store_in(std::string dir);

}  // namespace shuo::api::demo
