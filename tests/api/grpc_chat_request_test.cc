// ChatHub request rules without a network: consecutive turns of one role are merged as
// 002_*.txt's messages_to_tuple_history does, and every bad field is named.
#include <gtest/gtest.h>

#include <cmath>
#include <limits>

#include "api/grpc/chat_request.h"

namespace shuo::api::chathub {
namespace {

using OJson = nlohmann::ordered_json;

ChatHubRequest with(std::vector<ChatMessage> history, std::string prompt = "next") {
  ChatHubRequest r;
  r.history = std::move(history);
  r.prompt = std::move(prompt);
  return r;
}

OJson msg(const char* role, const char* content) { return OJson{{"role", role}, {"content", content}}; }

TEST(GrpcChatRequest, ConsecutiveTurnsOfOneRoleAreJoinedWithABlankLine) {
  ChatHubRequest r = with({{"system", "Be brief."},
                           {"user", "q1"},
                           {"user", "q1b"},
                           {"assistant", "a1"},
                           {"assistant", "a1b"},
                           {"user", "q2"}},
                          "q2b");
  EXPECT_EQ(chat_messages(r), OJson::array({msg("system", "Be brief."), msg("user", "q1\n\nq1b"),
                                            msg("assistant", "a1\n\na1b"), msg("user", "q2\n\nq2b")}));
}

TEST(GrpcChatRequest, ThePromptIsANewUserTurnAfterAnAnswer) {
  EXPECT_EQ(chat_messages(with({{"user", "q1"}, {"assistant", "a1"}}, "q2")),
            OJson::array({msg("user", "q1"), msg("assistant", "a1"), msg("user", "q2")}));
  EXPECT_EQ(chat_messages(with({}, "only")), OJson::array({msg("user", "only")}));
}

TEST(GrpcChatRequest, EmptyContentAddsNoBlankLine) {
  EXPECT_EQ(chat_messages(with({{"assistant", ""}, {"assistant", "a"}, {"user", ""}}, "q")),
            OJson::array({msg("assistant", "a"), msg("user", "q")}));
}

std::string error_of(const ChatHubRequest& r) {
  auto v = validate(r);
  return v.ok() ? "ok" : v.error().to_string();
}

TEST(GrpcChatRequest, ValidFieldsAtTheirBounds) {
  ChatHubRequest r = with({{"system", "s"}, {"user", "u"}, {"assistant", ""}}, "你好");
  r.max_length = 0;
  r.top_p = 1.0f;
  r.temperature = 2.0f;
  EXPECT_EQ(error_of(r), "ok");
  r.max_length = std::numeric_limits<int32_t>::max();
  r.top_p = 0.0f;
  r.temperature = 0.0f;
  EXPECT_EQ(error_of(r), "ok");
}

TEST(GrpcChatRequest, EachBadFieldIsNamed) {
  EXPECT_EQ(error_of(with({}, "")), "prompt: must not be empty");
  EXPECT_EQ(error_of(with({}, "a\xc3")), "prompt: is not valid UTF-8 (first bad byte at offset 1)");
  EXPECT_EQ(error_of(with({{"user", "ok"}, {"User", "x"}})),
            "history[1].role: must be \"system\", \"user\" or \"assistant\", got \"User\"");
  EXPECT_EQ(error_of(with({{"function", "x"}})).rfind("history[0].role: ", 0), 0u);
  EXPECT_EQ(error_of(with({{"user", "\xed\xa0\x80"}})).rfind("history[0].content: is not valid UTF-8", 0), 0u)
      << "a UTF-16 surrogate is not UTF-8";
  EXPECT_EQ(error_of(with({{"\xff", "x"}})).rfind("history[0].role: is not valid UTF-8", 0), 0u);

  ChatHubRequest r = with({});
  r.max_length = -5;
  EXPECT_EQ(error_of(r), "max_length: must be ≥ 0 (0 = server default), got -5");
  r = with({});
  r.top_p = 1.01f;
  EXPECT_EQ(error_of(r), "top_p: must be in [0, 1] (0 = server default), got 1.01");
  r.top_p = -std::numeric_limits<float>::infinity();
  EXPECT_EQ(error_of(r).rfind("top_p: ", 0), 0u);
  r = with({});
  r.temperature = std::nanf("");
  EXPECT_EQ(error_of(r).rfind("temperature: must be in [0, 2]", 0), 0u);
  r.temperature = -0.1f;
  EXPECT_EQ(error_of(r), "temperature: must be in [0, 2] (0 = server default), got -0.1");
}

}  // namespace
}  // namespace shuo::api::chathub
