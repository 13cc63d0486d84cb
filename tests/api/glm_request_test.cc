// The ChatGLM-style request without a server: field checks name their field, both history forms
// become the same chat messages and come back in their own form, POST /chat bodies are told
// apart from the demo API's reset, and chatglm models get the [Round n] prompt only when their
// file carries no chat template of its own (ChatGLM3 / GLM-4 files do, with <|user|> tags).
#include <gtest/gtest.h>

#include "api/glm/request.h"
#include "api/glm/service.h"
#include "text/chat_template.h"

namespace shuo::api::glm {
namespace {

using Json = nlohmann::ordered_json;

GlmRequest parse_ok(const std::string& body) {
  auto r = parse_glm_request(body, GlmDefaults{});
  EXPECT_TRUE(r.ok()) << body << ": " << (r.ok() ? "" : r.error().to_string());
  return r.ok() ? std::move(*r) : GlmRequest{};
}

std::string error_field(const std::string& body) {
  auto r = parse_glm_request(body, GlmDefaults{});
  EXPECT_FALSE(r.ok()) << body;
  if (r.ok()) return "";
  EXPECT_EQ(r.error().code, ErrorCode::kBadField) << body;
  return r.error().where;
}

TEST(GlmRequest, DefaultsAreChatGlms) {
  GlmRequest r = parse_ok(R"({"query":"你好"})");
  EXPECT_EQ(r.query, "你好");
  EXPECT_EQ(r.form, HistoryForm::kPairs);
  EXPECT_FALSE(r.max_length);
  EXPECT_FLOAT_EQ(r.sampling.temperature, 0.95f);
  EXPECT_FLOAT_EQ(r.sampling.top_p, 0.7f);
  EXPECT_EQ(r.messages, Json::array({{{"role", "user"}, {"content", "你好"}}}));
  GlmRequest g = parse_ok(R"({"query":"x","top_p":0,"max_length":64,"temperature":0.5})");
  EXPECT_EQ(g.sampling.temperature, 0.0f);  // top_p 0 is greedy
  EXPECT_EQ(*g.max_length, 64);
  EXPECT_EQ(parse_ok(R"({"query":"x","history":null})").history, Json::array());
}

TEST(GlmRequest, BothHistoryFormsAreTheSameConversation) {
  GlmRequest pairs = parse_ok(R"({"query":"q2","history":[["q1","a1"]]})");
  GlmRequest msgs = parse_ok(
      R"({"query":"q2","history":[{"role":"user","content":"q1"},{"role":"assistant","content":"a1"}]})");
  EXPECT_EQ(pairs.messages, msgs.messages);
  EXPECT_EQ(msgs.form, HistoryForm::kMessages);
  EXPECT_EQ(history_with_reply(pairs, "a2"), Json::parse(R"([["q1","a1"],["q2","a2"]])"));
  EXPECT_EQ(history_with_reply(msgs, "a2"),
            Json::parse(R"([{"role":"user","content":"q1"},{"role":"assistant","content":"a1"},)"
                        R"({"role":"user","content":"q2"},{"role":"assistant","content":"a2"}])"));
  // A system message is allowed in the messages form.
  EXPECT_EQ(parse_ok(R"({"query":"q","history":[{"role":"system","content":"Be kind."}]})").messages[0]["role"],
            "system");
}

TEST(GlmRequest, ErrorsNameTheirField) {
  EXPECT_EQ(error_field(R"({})"), "query");
  EXPECT_EQ(error_field(R"({"query":null})"), "query");
  EXPECT_EQ(error_field(R"({"query":["a"]})"), "query");
  EXPECT_EQ(error_field(R"({"query":""})"), "query");
  EXPECT_EQ(error_field(R"({"query":"x","history":{}})"), "history");
  EXPECT_EQ(error_field(R"({"query":"x","history":[["a"]]})"), "history[0]");
  EXPECT_EQ(error_field(R"({"query":"x","history":[["a",null]]})"), "history[0][1]");
  EXPECT_EQ(error_field(R"({"query":"x","history":[["a","b"],{"role":"user","content":"c"}]})"), "history[1]");
  EXPECT_EQ(error_field(R"({"query":"x","history":[{"role":"user"}]})"), "history[0].content");
  EXPECT_EQ(error_field(R"({"query":"x","max_length":-1})"), "max_length");
  EXPECT_EQ(error_field(R"({"query":"x","max_length":1.5})"), "max_length");
  EXPECT_EQ(error_field(R"({"query":"x","temperature":"hot"})"), "temperature");
  EXPECT_EQ(error_field(R"({"query":"x","top_p":1.5})"), "top_p");
  EXPECT_EQ(error_field(R"(not json)"), "body");
  EXPECT_EQ(error_field("{\"query\":\"\xe4\xbd\"}"), "body");  // a cut UTF-8 character
  auto bad_utf8 = parse_glm_request("{\"query\":\"\xe4\xbd\"}", GlmDefaults{});
  EXPECT_EQ(bad_utf8.error().message, "is not valid UTF-8");
}

TEST(GlmRequest, ChatPostsAreToldApartFromResets) {
  EXPECT_EQ(classify_chat_post(R"({"query":"x"})"), ChatPostKind::kGlmChat);
  EXPECT_EQ(classify_chat_post(R"({"query":5})"), ChatPostKind::kGlmChat);  // a chat, with a bad query
  EXPECT_EQ(classify_chat_post(R"({"history":[]})"), ChatPostKind::kGlmMissingQuery);
  EXPECT_EQ(classify_chat_post(R"({"max_length":9})"), ChatPostKind::kGlmMissingQuery);
  EXPECT_EQ(classify_chat_post(""), ChatPostKind::kOther);
  EXPECT_EQ(classify_chat_post("{}"), ChatPostKind::kOther);
  EXPECT_EQ(classify_chat_post(R"({"personality":"p"})"), ChatPostKind::kOther);
  EXPECT_EQ(classify_chat_post("garbage"), ChatPostKind::kOther);
}

TEST(GlmFormat, ChatGlmModelsWithoutATemplateGetRoundN) {
  const Json messages = Json::parse(R"([{"role":"user","content":"你好"},{"role":"assistant","content":"你好！"},)"
                                    R"({"role":"user","content":"讲个故事"}])");
  // What chat_format_for_model gives a chatglm file without tokenizer.chat_template.
  openai::ChatFormat bare(std::nullopt, text::builtin_chat_format_for("chatglm", false), "", "</s>");
  auto glm = glm_chat_format("chatglm", bare).render(messages, true, Json::object());
  ASSERT_TRUE(glm.ok());
  EXPECT_EQ(*glm, "[Round 1]\n\n问：你好\n\n答：你好！\n\n[Round 2]\n\n问：讲个故事\n\n答：");
}

TEST(GlmFormat, ModelsWithATemplateUseIt) {
  // Shaped like ChatGLM3's template: <|role|> tags, the assistant tag as generation prompt.
  auto tpl = text::ChatTemplate::parse(
      "{% for m in messages %}<|{{ m.role }}|>\n{{ m.content }}{% endfor %}"
      "{% if add_generation_prompt %}<|assistant|>{% endif %}");
  ASSERT_TRUE(tpl.ok());
  openai::ChatFormat model(std::move(*tpl), text::BuiltinChatFormat::kChatGLM, "", "</s>");
  const Json messages = Json::parse(R"([{"role":"user","content":"你好"},{"role":"assistant","content":"你好！"},)"
                                    R"({"role":"user","content":"讲个故事"}])");
  const std::string expected = "<|user|>\n你好<|assistant|>\n你好！<|user|>\n讲个故事<|assistant|>";
  for (const char* arch : {"chatglm", "llama"}) {
    auto rendered = glm_chat_format(arch, model).render(messages, true, Json::object());
    ASSERT_TRUE(rendered.ok()) << arch;
    EXPECT_EQ(*rendered, expected) << arch;
  }
}

}  // namespace
}  // namespace shuo::api::glm
