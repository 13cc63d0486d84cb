// The demo API's data directory (see data_dir.h).
#include "api/demo/data_dir.h"

#include <cstdlib>
#include <filesystem>
#include <system_error>

#include "api/demo/sqlite_store.h"

namespace shuo::api::demo {

std::string default_data_dir() {
  if (const char* xdg = std::getenv("XDG_DATA_HOME"); xdg && *xdg == '/')  // relative: ignored, as the spec says
    return (std::filesystem::path(xdg) / "shuo").string();
  if (const char* home = std::getenv("HOME"); home && *home)
    return (std::filesystem::path(home) / ".local" / "share" / "shuo").string();
  return "shuo-data";
}

StoreOpener sqlite_store_in(std::string dir) {
  return [dir = std::move(dir)]() -> Result<std::unique_ptr<SessionStore>> {
    std::error_code ec;
    std::filesystem::create_directories(dir, ec);
    if (ec) return Error{ErrorCode::kIo, dir, "cannot create the data directory: " + ec.message()};
    SHUO_ASSIGN(auto store, SqliteSessionStore::open((std::filesystem::path(dir) / kSessionsFile).string()));
    return std::unique_ptr<SessionStore>(std::move(store));
  };
}

}  // namespace shuo::api::demo
