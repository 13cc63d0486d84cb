// The built-in chat page at `/` (issue 8): index.html at GET /, its files at GET /assets/*, from
// the copy embedded in the binary or, with `shuo serve --web-root DIR`, from DIR (page
// development: edits show on reload). The page talks to the demo sessions API on the same port.
//
// Responses carry a strong ETag and Cache-Control: no-cache (the browser revalidates and gets a
// 304 while nothing changed), X-Content-Type-Options: nosniff, and index.html a
// Content-Security-Policy that allows only the page's own scripts and styles: a reply that
// slipped HTML past the page's own escaping still could not run a script.
#pragma once

#include <filesystem>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "api/http/server.h"

namespace shuo::api::web {

struct WebOptions {
  std::string web_root;  // "": the embedded page
};

class WebService {
 public:
  explicit WebService(WebOptions options);

  // GET / and GET /assets/*. The service must outlive the server's run().
  void add_routes(http::Server& server);
  // The paths to serve without an API key (the page asks for the key in its settings).
  static std::vector<std::string> public_paths() { return {"/", "/assets/*"}; }

  // What `/` serves, for the log: "embedded (N files)" or the directory.
  std::string describe() const;

 private:
  struct File {
    std::string_view bytes;
    std::string etag;
  };
  void serve(const http::Request& req, http::Responder& res, const std::string& relative) const;

  std::filesystem::path root_;             // set: serve this directory
  std::map<std::string, File, std::less<>> embedded_;
};

}  // namespace shuo::api::web
