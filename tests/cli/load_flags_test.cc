// --lora / --lora_model and --quantize / --load_in_8bit / --load_in_4bit through the real binary:
// `shuo generate` with the shared adapter gives the merged model's reference ids (GGUF and Hugging
// Face folder), load-time Q8_0 gives the same ids as a file written by `shuo quantize Q8_0`, the
// aliases pick the documented types, and bad values fail with messages naming the flag or tensor.
#include <gtest/gtest.h>

#include <unistd.h>

#include <filesystem>
#include <nlohmann/json.hpp>

#include "cli_test_util.h"

using shuo::testing::run_shuo;
using shuo::testing::testdata_dir;

namespace {

namespace fs = std::filesystem;

std::string stories() { return (testdata_dir() / "stories260K/model.gguf").string(); }
std::string stories_hf() { return (testdata_dir() / "stories260K").string(); }
std::string adapter() { return (testdata_dir() / "lora").string(); }

nlohmann::json lora_case(size_t i) {
  return nlohmann::json::parse(shuo::testing::read_file(testdata_dir() / "lora/reference.json"))["cases"][i];
}

std::string ids_line(const nlohmann::json& ids) {
  std::string s;
  for (const auto& id : ids) s += (s.empty() ? "" : " ") + std::to_string(id.get<int>());
  return s + "\n";
}

// Greedy ids of `prompt` with extra flags.
shuo::testing::RunResult greedy(const std::string& model, const std::string& prompt, int n,
                                const std::vector<std::string>& extra) {
  std::vector<std::string> args = {"generate", "-m", model, "-p", prompt, "-n", std::to_string(n), "--temp", "0", "--ids", "-t", "1"};
  args.insert(args.end(), extra.begin(), extra.end());
  return run_shuo(args);
}

}  // namespace

TEST(CliLoadFlags, LoraGivesTheMergedReference) {
  SHUO_REQUIRE_TESTDATA("lora/reference.json");
  for (size_t i : {0u, 3u, 6u}) {
    const auto c = lora_case(i);
    auto r = greedy(stories(), c["prompt"], 32, {"--lora", adapter()});
    ASSERT_EQ(r.status, 0) << r.err;
    EXPECT_EQ(r.out, ids_line(c["gen_ids"])) << c["name"];
    EXPECT_NE(r.err.find("lora: " + adapter()), std::string::npos) << r.err;
    // The alias and a Hugging Face folder as the base.
    auto hf = greedy(stories_hf(), c["prompt"], 32, {"--lora_model", adapter()});
    ASSERT_EQ(hf.status, 0) << hf.err;
    EXPECT_EQ(hf.out, ids_line(c["gen_ids"])) << c["name"];
  }
}

TEST(CliLoadFlags, LoadTimeQ8_0EqualsShuoQuantize) {
  SHUO_REQUIRE_TESTDATA("stories260K/model.gguf");
  const fs::path q8 = fs::temp_directory_path() / ("shuo_load_flags_q8_" + std::to_string(::getpid()) + ".gguf");
  auto q = run_shuo({"quantize", stories(), q8.string(), "Q8_0"});
  ASSERT_EQ(q.status, 0) << q.err;
  const std::string prompt = "Once upon a time";
  auto offline = greedy(q8.string(), prompt, 64, {});
  fs::remove(q8);
  ASSERT_EQ(offline.status, 0) << offline.err;
  auto at_load = greedy(stories(), prompt, 64, {"--quantize", "q8_0"});
  ASSERT_EQ(at_load.status, 0) << at_load.err;
  EXPECT_EQ(at_load.out, offline.out);
  EXPECT_NE(at_load.err.find("quantized to q8_0"), std::string::npos) << at_load.err;
  auto full = greedy(stories(), prompt, 64, {});
  std::printf("F32: %sQ8_0 at load: %s", full.out.c_str(), at_load.out.c_str());
  for (const char* alias : {"--load_in_8bit"}) {
    auto r = greedy(stories(), prompt, 64, {alias});
    ASSERT_EQ(r.status, 0) << r.err;
    EXPECT_EQ(r.out, offline.out) << alias;
  }
  auto eight = greedy(stories(), prompt, 64, {"--quantize", "8"});
  EXPECT_EQ(eight.out, offline.out);
  // The Hugging Face folder holds the same weights (q/k rows permuted back on load).
  auto hf = greedy(stories_hf(), prompt, 64, {"--quantize", "q8_0"});
  ASSERT_EQ(hf.status, 0) << hf.err;
  EXPECT_EQ(hf.out, offline.out);
}

TEST(CliLoadFlags, FourBitAliasesAreQ4K) {
  SHUO_REQUIRE_TESTDATA("stories260K/model.gguf");
  auto q4k = greedy(stories(), "The cat", 24, {"--quantize", "q4_k"});
  ASSERT_EQ(q4k.status, 0) << q4k.err;
  EXPECT_NE(q4k.err.find("quantized to q4_k"), std::string::npos) << q4k.err;
  for (const std::vector<std::string>& flags : {std::vector<std::string>{"--load_in_4bit"}, {"--quantize", "4"}}) {
    auto r = greedy(stories(), "The cat", 24, flags);
    ASSERT_EQ(r.status, 0) << r.err;
    EXPECT_EQ(r.out, q4k.out) << flags[0];
  }
  // q4_0 is a different model.
  auto q40 = greedy(stories(), "The cat", 24, {"--quantize", "q4_0"});
  ASSERT_EQ(q40.status, 0) << q40.err;
  EXPECT_NE(q40.err.find("quantized to q4_0"), std::string::npos) << q40.err;
}

TEST(CliLoadFlags, LoraThenQuantize) {
  SHUO_REQUIRE_TESTDATA("lora/reference.json");
  const auto c = lora_case(3);
  auto r = greedy(stories(), c["prompt"], 4, {"--lora", adapter(), "--quantize", "q8_0"});
  ASSERT_EQ(r.status, 0) << r.err;
  // Merged first, then quantized: the first tokens are the merged model's. (Quantizing costs
  // 1 of the 28 first-4 tokens over all cases, case 0's first: tests/model/lora_test.cc.)
  const auto want = c["gen_ids"];
  EXPECT_EQ(r.out, ids_line(nlohmann::json(std::vector<int>{want[0], want[1], want[2], want[3]})));
}

TEST(CliLoadFlags, BadValuesFailClearly) {
  SHUO_REQUIRE_TESTDATA("lora/adapter_config.json");
  auto bad_type = greedy(stories(), "x", 2, {"--quantize", "q3_k"});
  EXPECT_EQ(bad_type.status, 1);
  EXPECT_NE(bad_type.err.find("--quantize"), std::string::npos) << bad_type.err;
  EXPECT_NE(bad_type.err.find("q8_0"), std::string::npos) << bad_type.err;
  auto both = greedy(stories(), "x", 2, {"--load_in_8bit", "--load_in_4bit"});
  EXPECT_EQ(both.status, 1);
  EXPECT_NE(both.err.find("--load_in_4bit"), std::string::npos) << both.err;
  auto clash = greedy(stories(), "x", 2, {"--load_in_8bit", "--quantize", "q4_0"});
  EXPECT_EQ(clash.status, 1);
  EXPECT_NE(clash.err.find("--quantize"), std::string::npos) << clash.err;
  auto no_dir = greedy(stories(), "x", 2, {"--lora", "/nonexistent-adapter"});
  EXPECT_NE(no_dir.status, 0);
  EXPECT_NE(no_dir.err.find("/nonexistent-adapter"), std::string::npos) << no_dir.err;
  // A folder that is not an adapter: the error names the file it looked for.
  auto not_adapter = greedy(stories(), "x", 2, {"--lora", stories_hf()});
  EXPECT_EQ(not_adapter.status, 1);
  EXPECT_NE(not_adapter.err.find("adapter_config.json"), std::string::npos) << not_adapter.err;
}
