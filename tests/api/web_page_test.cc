// The chat page's files from the real `shuo serve`: the embedded page at / with its content
// types, ETag revalidation and security headers; `--web-root DIR` serves DIR (edits show at once)
// and no request path reaches a file outside it — "..", percent-encoded dots and slashes,
// absolute and empty segments, backslashes, NUL, and symbolic links that lead out.
#include <gtest/gtest.h>

#include <fstream>

#include "api/surface_test_util.h"
#include "api/web/static_files.h"

namespace shuo::api::web_testing {
namespace {

using namespace openai::testing;
using surface_testing::TempDir;

void write_file(const std::filesystem::path& p, const std::string& text) {
  std::filesystem::create_directories(p.parent_path());
  std::ofstream(p, std::ios::binary) << text;
}

Reply raw_get(uint16_t port, const std::string& path, const std::vector<std::string>& headers = {}) {
  Client c(port, kTimeoutMs);
  c.send(http_request("GET", path, "", headers));
  return c.read_response();
}

TEST(WebPage, EmbeddedPageIsServedWithTypesCachingAndPolicy) {
  SHUO_REQUIRE_TESTDATA("stories260K/model.gguf");
  TempDir data("web-embedded");
  ServeProcess server({"--grpc-port", "-1", "--data-dir", data.str()});
  ASSERT_TRUE(server.ok()) << server.log();
  Reply page = raw_get(server.port(), "/");
  ASSERT_EQ(page.status, 200) << page.body;
  EXPECT_EQ(page.header("Content-Type").value_or(""), "text/html; charset=utf-8");
  EXPECT_NE(page.body.find("assets/app.js"), std::string::npos);
  EXPECT_NE(page.header("Content-Security-Policy").value_or("").find("script-src 'self'"), std::string::npos);
  EXPECT_EQ(page.header("X-Content-Type-Options").value_or(""), "nosniff");
  EXPECT_EQ(page.header("Cache-Control").value_or(""), "no-cache");
  const std::string etag = page.header("ETag").value_or("");
  ASSERT_FALSE(etag.empty());
  // Revalidation: the same ETag is a 304 without a body; another one gets the page.
  Reply same = raw_get(server.port(), "/", {"If-None-Match: " + etag});
  EXPECT_EQ(same.status, 304);
  EXPECT_TRUE(same.body.empty());
  EXPECT_EQ(raw_get(server.port(), "/", {"If-None-Match: \"0000\""}).status, 200);

  Reply js = raw_get(server.port(), "/assets/app.js");
  EXPECT_EQ(js.status, 200);
  EXPECT_EQ(js.header("Content-Type").value_or(""), "text/javascript; charset=utf-8");
  EXPECT_GT(js.body.size(), 10000u) << "the bundle holds marked, DOMPurify and highlight.js";
  EXPECT_NE(js.body.find("DOMPurify"), std::string::npos);
  Reply css = raw_get(server.port(), "/assets/app.css");
  EXPECT_EQ(css.status, 200);
  EXPECT_EQ(css.header("Content-Type").value_or(""), "text/css; charset=utf-8");
  EXPECT_NE(css.body.find("prefers-color-scheme: dark"), std::string::npos);
  EXPECT_EQ(raw_get(server.port(), "/assets/missing.js").status, 404);
  EXPECT_EQ(raw_get(server.port(), "/assets/%2e%2e/index.html").status, 404);
  // The page and the APIs share the port; the APIs are untouched.
  EXPECT_EQ(raw_get(server.port(), "/v1/models").status, 200);
}

TEST(WebPage, ThePageNeedsNoApiKeyButTheApisDo) {
  SHUO_REQUIRE_TESTDATA("stories260K/model.gguf");
  TempDir data("web-key");
  ServeProcess server({"--grpc-port", "-1", "--data-dir", data.str(), "--api-key", "sekret"});
  ASSERT_TRUE(server.ok()) << server.log();
  EXPECT_EQ(raw_get(server.port(), "/").status, 200);
  EXPECT_EQ(raw_get(server.port(), "/assets/app.js").status, 200);
  EXPECT_EQ(raw_get(server.port(), "/chat").status, 401);
  EXPECT_EQ(raw_get(server.port(), "/chat", {"Authorization: Bearer sekret"}).status, 200);
}

TEST(WebPage, WebRootServesADirectoryAndNothingOutsideIt) {
  SHUO_REQUIRE_TESTDATA("stories260K/model.gguf");
  TempDir tmp("web-root");
  const auto root = tmp.path() / "root";
  const std::string secret = "SECRET-OUTSIDE-THE-ROOT";
  write_file(tmp.path() / "secret.txt", secret);
  write_file(tmp.path() / "outside" / "secret.txt", secret);
  write_file(root / "index.html", "<!doctype html><title>dev page</title>");
  write_file(root / "assets" / "app.js", "console.log('v1');");
  write_file(root / "assets" / "sub" / "x.css", "body{}");
  write_file(root / "secret-in-root.txt", "not an asset");
  namespace fs = std::filesystem;
  fs::create_symlink(tmp.path() / "secret.txt", root / "assets" / "escape.js");
  fs::create_symlink("../../secret.txt", root / "assets" / "relative-escape.js");
  fs::create_directory_symlink(tmp.path() / "outside", root / "assets" / "outdir");
  fs::create_symlink("app.js", root / "assets" / "alias.js");  // stays inside: allowed

  TempDir data("web-root-data");
  ServeProcess server({"--grpc-port", "-1", "--data-dir", data.str(), "--web-root", root.string()});
  ASSERT_TRUE(server.ok()) << server.log();
  const uint16_t port = server.port();

  Reply page = raw_get(port, "/");
  EXPECT_EQ(page.status, 200);
  EXPECT_EQ(page.body, "<!doctype html><title>dev page</title>");
  EXPECT_EQ(raw_get(port, "/assets/app.js").body, "console.log('v1');");
  EXPECT_EQ(raw_get(port, "/assets/sub/x.css").header("Content-Type").value_or(""), "text/css; charset=utf-8");
  EXPECT_EQ(raw_get(port, "/assets/alias.js").body, "console.log('v1');");
  write_file(root / "assets" / "app.js", "console.log('v2');");  // page development: no restart
  EXPECT_EQ(raw_get(port, "/assets/app.js").body, "console.log('v2');");

  const std::vector<std::string> attacks = {
      "/assets/../secret-in-root.txt",
      "/assets/../../secret.txt",
      "/assets/%2e%2e/%2e%2e/secret.txt",
      "/assets/%2E%2E/%2E%2E/secret.txt",
      "/assets/..%2f..%2fsecret.txt",
      "/assets/%2e%2e%2f%2e%2e%2fsecret.txt",
      "/assets/.%2e/.%2e/secret.txt",
      "/assets//etc/passwd",
      "/assets/%2fetc%2fpasswd",
      "/assets/%2F" + tmp.path().string().substr(1) + "/secret.txt",
      "/assets/..%5c..%5csecret.txt",
      "/assets/app.js%00.html",
      "/assets/./app.js",
      "/assets/escape.js",
      "/assets/relative-escape.js",
      "/assets/outdir/secret.txt",
      "/assets/sub",
      "/../secret.txt",
      "/%2e%2e/secret.txt",
      "/..%2fsecret.txt",
  };
  for (const std::string& path : attacks) {
    Reply r = raw_get(port, path);
    EXPECT_TRUE(r.status == 404 || r.status == 400) << path << " → " << r.status << " " << r.body;
    EXPECT_EQ(r.body.find(secret), std::string::npos) << path;
    EXPECT_EQ(r.body.find("root:"), std::string::npos) << path;
    EXPECT_EQ(r.body.find("not an asset"), std::string::npos) << path;
  }
  EXPECT_EQ(raw_get(port, "/assets/app.js").status, 200) << "still serving after the attempts";
}

TEST(WebPage, BadWebRootFailsAtStartNamingTheFlag) {
  SHUO_REQUIRE_TESTDATA("stories260K/model.gguf");
  ServeProcess server({"--grpc-port", "-1", "--web-root", "/nonexistent/shuo-web-root"});
  EXPECT_FALSE(server.ok());
  EXPECT_NE(server.log().find("--web-root"), std::string::npos) << server.log();
}

TEST(WebStaticFiles, SafeRelativePathAcceptsOnlyPlainNames) {
  EXPECT_EQ(web::safe_relative_path("app.js"), "app.js");
  EXPECT_EQ(web::safe_relative_path("sub/x.css"), "sub/x.css");
  EXPECT_EQ(web::safe_relative_path("..x/a..b"), "..x/a..b");  // dots inside names are fine
  for (const char* bad : {"", "/etc/passwd", "..", "../a", "a/..", "a/../b", ".", "./a", "a//b", "a/", "a\\b",
                          "a\nb"})
    EXPECT_FALSE(web::safe_relative_path(bad)) << bad;
  EXPECT_FALSE(web::safe_relative_path(std::string("a\0b", 3)));
}

TEST(WebStaticFiles, ContentTypesAndEtags) {
  EXPECT_EQ(web::content_type_for("index.html"), "text/html; charset=utf-8");
  EXPECT_EQ(web::content_type_for("assets/app.js"), "text/javascript; charset=utf-8");
  EXPECT_EQ(web::content_type_for("a.svg"), "image/svg+xml");
  EXPECT_EQ(web::content_type_for("a.bin"), "application/octet-stream");
  EXPECT_EQ(web::etag_for("a"), web::etag_for("a"));
  EXPECT_NE(web::etag_for("a"), web::etag_for("b"));
  EXPECT_EQ(web::etag_for("").size(), 18u);
}

}  // namespace
}  // namespace shuo::api::web_testing
