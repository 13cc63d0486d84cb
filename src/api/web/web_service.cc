// The chat page's routes (see web_service.h).
#include "api/web/web_service.h"

#include <utility>

#include "api/web/embedded_files.h"
#include "api/web/static_files.h"

namespace shuo::api::web {

namespace {

// script-src 'self': no inline scripts, no event-handler attributes, no eval.
constexpr const char* kPagePolicy =
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; "
    "object-src 'none'; base-uri 'none'; frame-ancestors 'none'; form-action 'none'";

}  // namespace

WebService::WebService(WebOptions options) {
  if (!options.web_root.empty()) {
    root_ = options.web_root;
    return;
  }
  for (const EmbeddedFile& f : embedded_web_files()) embedded_.emplace(std::string(f.path), File{f.bytes, etag_for(f.bytes)});
}

std::string WebService::describe() const {
  if (!root_.empty()) return root_.string();
  return "embedded (" + std::to_string(embedded_.size()) + " files)";
}

void WebService::add_routes(http::Server& server) {
  server.route("GET", "/", [this](const http::Request& req, std::shared_ptr<http::Responder> res) {
    serve(req, *res, "index.html");
  });
  server.route("GET", "/assets/*", [this](const http::Request& req, std::shared_ptr<http::Responder> res) {
    // The router percent-decodes the tail, so "%2e%2e" arrives as ".." and is refused here.
    auto rel = safe_relative_path(req.param("*"));
    if (!rel) return res->send_error(404, "not_found", "no such file");
    serve(req, *res, "assets/" + *rel);
  });
}

void WebService::serve(const http::Request& req, http::Responder& res, const std::string& relative) const {
  std::string owned;
  std::string_view bytes;
  std::string etag;
  if (!root_.empty()) {
    auto read = read_below(root_, relative);
    if (!read.ok()) return res.send_error(500, "internal_error", read.error().to_string());
    if (!*read) return res.send_error(404, "not_found", "no such file: /" + relative);
    owned = std::move(**read);
    bytes = owned;
    etag = etag_for(bytes);
  } else {
    auto it = embedded_.find(relative);
    if (it == embedded_.end()) {
      const char* why = embedded_.empty() ? "this shuo was built without the web page (-DSHUO_WEB_PAGE=OFF); "
                                            "use --web-root"
                                          : "no such file";
      return res.send_error(404, "not_found", std::string(why) + ": /" + relative);
    }
    bytes = it->second.bytes;
    etag = it->second.etag;
  }

  http::Response r;
  r.content_type = content_type_for(relative);
  r.headers = {{"ETag", etag}, {"Cache-Control", "no-cache"}, {"X-Content-Type-Options", "nosniff"}};
  if (relative == "index.html") r.headers.emplace_back("Content-Security-Policy", kPagePolicy);
  if (req.header("If-None-Match").value_or("") == etag) {
    r.status = 304;
  } else {
    r.body.assign(bytes);
  }
  res.send(std::move(r));
}

}  // namespace shuo::api::web
