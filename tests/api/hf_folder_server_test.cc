// `shuo serve --model DIR` (alias --base_model) on stories260K's Hugging Face folder
// (safetensors + config.json + tokenizer.json): every reference prompt gives the reference's
// prompt length and 64 greedy tokens' text through /v1/completions; a GGUF with
// --tokenizer_path DIR serves the same; a folder that is not a model stops the server at
// start-up with an error naming what is wrong.
#include <gtest/gtest.h>

#include <unistd.h>

#include <filesystem>
#include <fstream>

#include "api/openai_test_util.h"

namespace shuo::api::openai::testing {
namespace {

std::string stories_dir() { return (shuo::testing::testdata_dir() / "stories260K").string(); }

Json reference() { return Json::parse(shuo::testing::read_file(shuo::testing::testdata_dir() / "stories260K/reference.json")); }

// Every reference case through /v1/completions, greedy, 64 tokens.
void expect_reference_completions(uint16_t port) {
  for (const auto& c : reference()["cases"]) {
    Reply r = post(port, "/v1/completions", Json{{"prompt", c["prompt"]}, {"max_tokens", 64}, {"temperature", 0}});
    ASSERT_EQ(r.status, 200) << r.body;
    Json j = json_of(r);
    EXPECT_EQ(j["choices"][0]["text"], c["gen_text"]) << c["name"];
    EXPECT_EQ(j["usage"]["prompt_tokens"], c["prompt_ids"].size()) << c["name"];
    EXPECT_EQ(j["usage"]["completion_tokens"], 64) << c["name"];
  }
}

TEST(HfFolderServer, ModelFolderGivesTheReferenceCompletions) {
  SHUO_REQUIRE_TESTDATA("stories260K/model.safetensors");
  ServeProcess server({"--grpc-port", "-1"}, stories_dir());
  ASSERT_TRUE(server.ok()) << server.log();
  Reply models = get(server.port(), "/v1/models");
  ASSERT_EQ(models.status, 200);
  EXPECT_EQ(json_of(models)["data"][0]["id"], "stories260K");  // general.name: the folder's name
  expect_reference_completions(server.port());
}

TEST(HfFolderServer, GgufWithTokenizerPathServesTheSame) {
  SHUO_REQUIRE_TESTDATA("stories260K/tokenizer.json");
  ServeProcess server({"--grpc-port", "-1", "--tokenizer_path", stories_dir()});
  ASSERT_TRUE(server.ok()) << server.log();
  expect_reference_completions(server.port());
}

TEST(HfFolderServer, AFolderThatIsNoModelStopsStartUp) {
  SHUO_REQUIRE_TESTDATA("stories260K/model.safetensors");
  const auto dir = std::filesystem::temp_directory_path() / ("shuo_hf_serve_" + std::to_string(::getpid()));
  std::filesystem::create_directories(dir);
  std::filesystem::copy_file(shuo::testing::testdata_dir() / "stories260K/model.safetensors", dir / "model.safetensors");
  ServeProcess server({"--grpc-port", "-1"}, dir.string());
  EXPECT_FALSE(server.ok());
  server.stop();
  EXPECT_NE(server.log().find("no config.json: not a Hugging Face model folder"), std::string::npos) << server.log();
  std::ofstream(dir / "config.json") << R"({"architectures": ["BloomForCausalLM"]})";
  ServeProcess unknown({"--grpc-port", "-1"}, dir.string());
  EXPECT_FALSE(unknown.ok());
  unknown.stop();
  EXPECT_NE(unknown.log().find("architectures: 'BloomForCausalLM' is not supported"), std::string::npos) << unknown.log();
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace shuo::api::openai::testing
