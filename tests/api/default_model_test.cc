// `shuo serve` without --model serves the built-in demo model (models/shuo-demo.gguf linked into
// the binary) and answers through the OpenAI API; --model given still wins.
#include <gtest/gtest.h>

#include "api/openai_test_util.h"

using namespace shuo::api::openai::testing;

TEST(DefaultModel, ServeWithoutModelAnswersFromTheEmbeddedModel) {
  ServeProcess serve({}, /*model=*/"");
  ASSERT_TRUE(serve.ok()) << serve.log();
  const Json models = json_of(get(serve.port(), "/v1/models"));
  ASSERT_TRUE(models.contains("data")) << models.dump();
  EXPECT_EQ(models["data"][0]["id"], "shuo-demo") << models.dump();

  // The README's example.
  const Reply r = post(serve.port(), "/v1/chat/completions",
                       Json{{"messages", {{{"role", "user"}, {"content", "湖北的省会是哪里？"}}}},
                            {"temperature", 0}, {"max_tokens", 32}});
  ASSERT_EQ(r.status, 200) << r.body;
  const Json j = json_of(r);
  EXPECT_EQ(j["choices"][0]["message"]["content"], "武汉") << r.body;
  EXPECT_EQ(j["choices"][0]["finish_reason"], "stop") << r.body;

  const Reply sum = post(serve.port(), "/v1/chat/completions",
                         Json{{"messages", {{{"role", "user"}, {"content", "What is 58 plus 67?"}}}},
                              {"temperature", 0}, {"max_tokens", 32}});
  ASSERT_EQ(sum.status, 200) << sum.body;
  EXPECT_EQ(json_of(sum)["choices"][0]["message"]["content"], "58 + 67 = 125") << sum.body;
}

TEST(DefaultModel, ModelFlagStillWins) {
  SHUO_REQUIRE_TESTDATA("stories260K/model.gguf");
  ServeProcess serve;  // --model stories260K
  ASSERT_TRUE(serve.ok()) << serve.log();
  const Json models = json_of(get(serve.port(), "/v1/models"));
  ASSERT_TRUE(models.contains("data")) << models.dump();
  EXPECT_NE(models["data"][0]["id"], "shuo-demo") << models.dump();
}
