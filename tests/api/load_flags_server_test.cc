// `shuo serve` with the source documents' loading flags: --lora_model merges the shared adapter
// (greedy completions equal the merged model's reference text) and --load_in_8bit quantizes at
// load (the log says so, and completions run).
#include <gtest/gtest.h>

#include "api/openai_test_util.h"

namespace shuo::api::openai::testing {
namespace {

Json lora_reference() {
  return Json::parse(shuo::testing::read_file(shuo::testing::testdata_dir() / "lora/reference.json"));
}

TEST(LoadFlagsServer, LoraModelGivesTheMergedReferenceText) {
  SHUO_REQUIRE_TESTDATA("lora/reference.json");
  ServeProcess serve({"--lora_model", (shuo::testing::testdata_dir() / "lora").string()});
  ASSERT_TRUE(serve.ok()) << serve.log();
  const Json ref = lora_reference();
  for (size_t i : {0u, 1u, 5u}) {
    const Json& c = ref["cases"][i];
    Reply r = post(serve.port(), "/v1/completions",
                   Json{{"prompt", c["prompt"]}, {"max_tokens", 32}, {"temperature", 0}});
    ASSERT_EQ(r.status, 200) << r.body;
    EXPECT_EQ(json_of(r)["choices"][0]["text"], c["gen_text"]) << c["name"];
  }
}

TEST(LoadFlagsServer, LoadIn8bitQuantizesAtLoad) {
  SHUO_REQUIRE_TESTDATA("stories260K/model.gguf");
  ServeProcess serve({"--load_in_8bit"});
  ASSERT_TRUE(serve.ok()) << serve.log();
  EXPECT_NE(serve.log().find("quantized to q8_0"), std::string::npos) << serve.log();
  Reply r = post(serve.port(), "/v1/completions", Json{{"prompt", "Once upon a time"}, {"max_tokens", 8}, {"temperature", 0}});
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(json_of(r)["usage"]["completion_tokens"], 8);
}

}  // namespace
}  // namespace shuo::api::openai::testing
