// The real `shuo serve` on the tiny gpt2 and chatglm models (shared/testdata/tiny-archs): gpt2
// answers /v1/completions, chatglm answers /v1/chat/completions through its GGUF's ChatGLM3
// template, both with llama.cpp's greedy text for the reference prompt (so the prompt ids were
// the reference's too); a chatglm reply ends at the next role token; ChatGLM's /chat follows
// the template, and a chatglm file without one gets the [Round n] format.
#include <gtest/gtest.h>

#include <iostream>

#include "api/openai_test_util.h"
#include "api/surface_test_util.h"
#include "format/gguf.h"
#include "format/gguf_writer.h"

namespace shuo::api::openai::testing {
namespace {

std::string tiny(const std::string& file) { return (shuo::testing::testdata_dir() / "tiny-archs" / file).string(); }

Json reference_case(const std::string& model, const std::string& name) {
  Json ref = Json::parse(shuo::testing::read_file(tiny(model + ".reference.json")));
  for (const auto& c : ref["cases"])
    if (c["name"] == name) return c;
  ADD_FAILURE() << "no case " << name;
  return Json();
}

struct Server {
  explicit Server(const std::string& model) : p({}, model) {}
  ~Server() {
    if (::testing::Test::HasFailure()) std::cerr << "--- server log ---\n" << p.log();
  }
  ServeProcess p;
};

}  // namespace

TEST(TinyArchsServer, Gpt2AnswersCompletionsWithTheReferenceText) {
  SHUO_REQUIRE_TESTDATA("tiny-archs/gpt2-tiny.reference.json");
  const Json c = reference_case("gpt2-tiny", "hello");
  Server s(tiny("gpt2-tiny.gguf"));
  ASSERT_TRUE(s.p.ok()) << s.p.log();
  Reply r = post(s.p.port(), "/v1/completions",
                 Json{{"prompt", c["prompt"]}, {"max_tokens", 32}, {"temperature", 0}});
  ASSERT_EQ(r.status, 200) << r.body;
  Json j = json_of(r);
  EXPECT_EQ(j["usage"]["prompt_tokens"], c["prompt_ids"].size());
  EXPECT_EQ(j["usage"]["completion_tokens"], 32);
  EXPECT_EQ(j["choices"][0]["text"], c["gen_text"]);
  EXPECT_EQ(j["choices"][0]["finish_reason"], "length");
}

TEST(TinyArchsServer, ChatglmChatUsesTheChatglm3Template) {
  SHUO_REQUIRE_TESTDATA("tiny-archs/chatglm-tiny.reference.json");
  // The reference's chat case: "[gMASK]sop<|user|>\n What is the capital of France?<|assistant|>".
  const Json c = reference_case("chatglm-tiny", "chat_user");
  const Json messages = Json::array({{{"role", "user"}, {"content", "What is the capital of France?"}}});
  Server s(tiny("chatglm-tiny.gguf"));
  ASSERT_TRUE(s.p.ok()) << s.p.log();
  Reply r = post(s.p.port(), "/v1/chat/completions",
                 Json{{"messages", messages}, {"max_tokens", 32}, {"temperature", 0}});
  ASSERT_EQ(r.status, 200) << r.body;
  Json j = json_of(r);
  EXPECT_EQ(j["usage"]["prompt_tokens"], c["prompt_ids"].size());
  EXPECT_EQ(j["choices"][0]["message"]["content"], c["gen_text"]);
  EXPECT_EQ(j["choices"][0]["finish_reason"], "length");

  // ChatGLM's own surface renders the file's template too: the same reply within max_length.
  Reply g = post(s.p.port(), "/chat",
                 Json{{"query", "What is the capital of France?"}, {"temperature", 0},
                      {"max_length", c["prompt_ids"].size() + 32}});
  ASSERT_EQ(g.status, 200) << g.body;
  EXPECT_EQ(json_of(g)["response"], c["gen_text"]);
}

TEST(TinyArchsServer, ChatglmStopsAtTheNextRoleToken) {
  SHUO_REQUIRE_TESTDATA("tiny-archs/chatglm-tiny.gguf");
  Server s(tiny("chatglm-tiny.gguf"));
  ASSERT_TRUE(s.p.ok()) << s.p.log();
  const Json messages = Json::array({{{"role", "user"}, {"content", "Hi"}}});
  // Pushed to pick <|user|> (2302) or <|observation|> (2304) first: the reply ends there,
  // empty, with "stop"; <|assistant|> (2303) is no end and the reply runs to max_tokens.
  for (int id : {2302, 2304, 2303}) {
    Reply r = post(s.p.port(), "/v1/chat/completions",
                   Json{{"messages", messages}, {"max_tokens", 8}, {"temperature", 0},
                        {"logit_bias", {{std::to_string(id), 100}}}});
    ASSERT_EQ(r.status, 200) << r.body;
    Json j = json_of(r);
    EXPECT_EQ(j["choices"][0]["finish_reason"], id == 2303 ? "length" : "stop") << id;
    EXPECT_EQ(j["usage"]["completion_tokens"], id == 2303 ? 8 : 0) << id;
  }
}

TEST(TinyArchsServer, ChatglmWithoutTemplateUsesRoundFormatOnGlmChat) {
  SHUO_REQUIRE_TESTDATA("tiny-archs/chatglm-tiny.gguf");
  // The same model with tokenizer.chat_template removed (as original ChatGLM2 GGUFs come).
  // Its vocab has ChatGLM's [gMASK] and sop tokens, so prompts start with them.
  auto src = format::GgufFile::open(tiny("chatglm-tiny.gguf"));
  ASSERT_TRUE(src.ok()) << src.error().to_string();
  format::GgufWriter w;
  w.copy_metadata(*src);
  w.remove("tokenizer.chat_template");
  for (const auto& t : src->tensors())
    ASSERT_TRUE(w.add_tensor(t.name, t.type, t.ne, {t.data, t.n_bytes}).ok()) << t.name;
  surface_testing::TempDir dir("tiny-chatglm");
  const std::string path = (dir.path() / "chatglm-no-template.gguf").string();
  ASSERT_TRUE(w.write(path).ok());

  Server s(path);
  ASSERT_TRUE(s.p.ok()) << s.p.log();
  // The [Round n] prompt sent as plain text, after ChatGLM2's prefix tokens [gMASK] sop, must
  // give the reply /chat gives for the query.
  const std::string query = "What is the capital of France?";
  const std::string round = "[Round 1]\n\n问：" + query + "\n\n答：";
  Reply r = post(s.p.port(), "/v1/completions",
                 Json{{"prompt", "[gMASK]sop" + round}, {"max_tokens", 24}, {"temperature", 0}});
  ASSERT_EQ(r.status, 200) << r.body;
  Json want = json_of(r);
  const int n_prompt = want["usage"]["prompt_tokens"];
  Reply bare = post(s.p.port(), "/v1/completions", Json{{"prompt", round}, {"max_tokens", 1}});
  ASSERT_EQ(bare.status, 200) << bare.body;
  EXPECT_EQ(json_of(bare)["usage"]["prompt_tokens"], n_prompt - 2);  // the prefix is two special tokens
  Reply g = post(s.p.port(), "/chat", Json{{"query", query}, {"temperature", 0}, {"max_length", n_prompt + 24}});
  ASSERT_EQ(g.status, 200) << g.body;
  EXPECT_EQ(json_of(g)["response"], want["choices"][0]["text"]);
}

}  // namespace shuo::api::openai::testing
