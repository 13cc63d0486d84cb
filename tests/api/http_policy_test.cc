// Socket-free parts of the HTTP server: route matching, API keys, request ids, CORS decisions,
// JSON escaping and the default error shape.
#include <gtest/gtest.h>

#include "api/http/message.h"
#include "api/http/policy.h"
#include "api/http/router.h"

namespace shuo::api::http {
namespace {

Handler tagged(int* out, int tag) {
  return [out, tag](const Request&, std::shared_ptr<Responder>) { *out = tag; };
}

TEST(Router, PrefersLiteralOverParamOverTail) {
  Router r;
  int hit = 0;
  r.add("GET", "/chat/{id}", tagged(&hit, 1));
  r.add("GET", "/chat/list", tagged(&hit, 2));
  r.add("GET", "/chat/*", tagged(&hit, 3));
  r.add("POST", "/chat/{id}/input", tagged(&hit, 4));

  auto m = r.match("GET", "/chat/list");
  ASSERT_TRUE(m.handler);
  (*m.handler)(Request{}, nullptr);
  EXPECT_EQ(hit, 2);

  m = r.match("GET", "/chat/17");
  ASSERT_TRUE(m.handler);
  EXPECT_EQ(m.pattern, "/chat/{id}");
  EXPECT_EQ(m.params.at("id"), "17");

  m = r.match("GET", "/chat/17/history/all");
  ASSERT_TRUE(m.handler);
  EXPECT_EQ(m.pattern, "/chat/*");
  EXPECT_EQ(m.params.at("*"), "17/history/all");

  m = r.match("DELETE", "/chat/17");
  EXPECT_FALSE(m.handler);
  EXPECT_TRUE(m.path_known);
  EXPECT_EQ(m.allow, "GET");

  m = r.match("GET", "/other");
  EXPECT_FALSE(m.handler);
  EXPECT_FALSE(m.path_known);
}

// An exact route beats a tail route that would match the same path with an empty tail,
// whichever was added first.
TEST(Router, ExactRouteBeatsEmptyTail) {
  for (bool tail_first : {true, false}) {
    Router r;
    int hit = 0;
    if (tail_first) r.add("GET", "/v1/models/*", tagged(&hit, 2));
    r.add("GET", "/v1/models", tagged(&hit, 1));
    if (!tail_first) r.add("GET", "/v1/models/*", tagged(&hit, 2));
    auto m = r.match("GET", "/v1/models");
    ASSERT_TRUE(m.handler);
    EXPECT_EQ(m.pattern, "/v1/models") << "tail_first=" << tail_first;
    m = r.match("GET", "/v1/models/stories");
    ASSERT_TRUE(m.handler);
    EXPECT_EQ(m.pattern, "/v1/models/*");
    EXPECT_EQ(m.params.at("*"), "stories");
  }
}

TEST(Router, HeadFallsBackToGetAndParamsNeedASegment) {
  Router r;
  int hit = 0;
  r.add("GET", "/", tagged(&hit, 1));
  r.add("GET", "/qa/{id}", tagged(&hit, 2));
  EXPECT_TRUE(r.match("HEAD", "/").handler);
  EXPECT_TRUE(r.match("GET", "/").handler);
  EXPECT_FALSE(r.match("GET", "/qa/").handler);
  EXPECT_FALSE(r.match("GET", "/qa").handler);
  EXPECT_FALSE(r.match("get", "/").handler);  // methods are case-sensitive
}

TEST(Policy, ConstantTimeEqual) {
  EXPECT_TRUE(constant_time_equal("", ""));
  EXPECT_TRUE(constant_time_equal("sk-abc", "sk-abc"));
  EXPECT_FALSE(constant_time_equal("sk-abc", "sk-abd"));
  EXPECT_FALSE(constant_time_equal("sk-abc", "sk-ab"));
  EXPECT_FALSE(constant_time_equal("sk-ab", "sk-abc"));
  EXPECT_FALSE(constant_time_equal(std::string("a\0", 2), "a"));
}

TEST(Policy, ApiKeyNeedsBearerScheme) {
  std::vector<std::string> keys = {"k1", "k2"};
  EXPECT_TRUE(api_key_matches(keys, "Bearer k1"));
  EXPECT_TRUE(api_key_matches(keys, "bearer   k2  "));
  EXPECT_FALSE(api_key_matches(keys, "Bearer"));
  EXPECT_FALSE(api_key_matches(keys, "Bearer "));
  EXPECT_FALSE(api_key_matches(keys, "Bearerk1"));
  EXPECT_FALSE(api_key_matches(keys, "Basic k1"));
  EXPECT_FALSE(api_key_matches(keys, "k1"));
  EXPECT_FALSE(api_key_matches(keys, std::nullopt));
  EXPECT_FALSE(api_key_matches({}, "Bearer "));
}

TEST(Policy, PublicPathsExactOrPrefix) {
  std::vector<std::string> pub = {"/health", "/", "/static/*"};
  EXPECT_TRUE(is_public_path(pub, "/health"));
  EXPECT_TRUE(is_public_path(pub, "/"));
  EXPECT_TRUE(is_public_path(pub, "/static/app.js"));
  EXPECT_FALSE(is_public_path(pub, "/health/x"));
  EXPECT_FALSE(is_public_path(pub, "/v1/models"));
}

TEST(Policy, RequestIds) {
  EXPECT_EQ(sanitize_request_id("abc-DEF_1.2:3"), "abc-DEF_1.2:3");
  EXPECT_EQ(sanitize_request_id("a b\r\nc\x01\xff"), "abc");
  EXPECT_EQ(sanitize_request_id(std::string(100, 'x')).size(), kMaxRequestIdBytes);
  EXPECT_EQ(sanitize_request_id(" \t"), "");
  RequestIdGenerator gen;
  std::string a = gen.next(), b = gen.next();
  EXPECT_NE(a, b);
  EXPECT_EQ(a.size(), 20u);
  EXPECT_EQ(sanitize_request_id(a), a);
}

TEST(Policy, Cors) {
  EXPECT_EQ(cors_allow_origin({"https://a"}, "https://a"), "https://a");
  EXPECT_EQ(cors_allow_origin({"https://a"}, "https://b"), std::nullopt);
  EXPECT_EQ(cors_allow_origin({"*"}, "https://b"), "*");
  EXPECT_EQ(cors_allow_origin({"*"}, std::nullopt), std::nullopt);
  EXPECT_EQ(cors_allow_headers("x-a, bad header, x-b\r\nInjected: 1"),
            "Authorization, Content-Type, X-Request-Id, x-a");
}

TEST(Message, JsonEscapeKeepsJsonValid) {
  EXPECT_EQ(json_escape("a\"b\\c\n\x01"), "a\\\"b\\\\c\\n\\u0001");
  EXPECT_EQ(json_escape("\xE4\xBD\xA0"), "\xE4\xBD\xA0");          // 你
  EXPECT_EQ(json_escape("x\xE4\xBD"), "x\xEF\xBF\xBD\xEF\xBF\xBD");  // truncated: U+FFFD each
  EXPECT_EQ(json_escape("\xC0\x80"), "\xEF\xBF\xBD\xEF\xBF\xBD");    // overlong
}

TEST(Message, OpenAiErrorShape) {
  Response r = openai_error_response(404, "not_found", "no route for \"x\"");
  EXPECT_EQ(r.status, 404);
  EXPECT_EQ(r.content_type, "application/json");
  EXPECT_EQ(r.body,
            "{\"error\":{\"message\":\"no route for \\\"x\\\"\",\"type\":\"invalid_request_error\","
            "\"param\":null,\"code\":\"not_found\"}}");
  EXPECT_NE(openai_error_response(500, "", "x").body.find("\"type\":\"server_error\",\"param\":null,\"code\":null"),
            std::string::npos);
}

TEST(Message, RequestHelpers) {
  Request q;
  q.headers = {{"Content-Type", "a"}, {"X-Two", "1"}, {"x-two", "2"}};
  q.query = "a=1&b=x+y%2Fz&flag&a=2";
  EXPECT_EQ(q.header("content-type"), "a");
  EXPECT_EQ(q.header("X-TWO"), "1");
  EXPECT_EQ(q.header("missing"), std::nullopt);
  EXPECT_EQ(q.query_param("a"), "1");
  EXPECT_EQ(q.query_param("b"), "x y/z");
  EXPECT_EQ(q.query_param("flag"), "");
  EXPECT_EQ(q.query_param("c"), std::nullopt);
  EXPECT_EQ(percent_decode("%zz%4", false), "%zz%4");
  EXPECT_EQ(percent_decode("a+b%20c", false), "a+b c");
}

}  // namespace
}  // namespace shuo::api::http
