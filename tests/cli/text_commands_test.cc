// `shuo tokenize` and `shuo render-template` end to end: --ids output is byte-identical to the
// llama.cpp .out vector lines, --file reads the text, and render-template prints exactly the
// expected render or the template's error with exit status 2.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include <filesystem>
#include <fstream>

#include "cli_test_util.h"

using shuo::testing::run_shuo;
using shuo::testing::testdata_dir;

namespace {

// The .inp test strings (separated by "\n__ggml_vocab_test__\n") and the .out lines.
std::vector<std::string> split_inp(const std::string& text) {
  const std::string sep = "\n__ggml_vocab_test__\n";
  std::vector<std::string> out;
  size_t pos = 0, next;
  while ((next = text.find(sep, pos)) != std::string::npos) {
    out.push_back(text.substr(pos, next - pos));
    pos = next + sep.size();
  }
  return out;
}

std::vector<std::string> lines(const std::string& text) {
  std::vector<std::string> out;
  size_t pos = 0, next;
  while ((next = text.find('\n', pos)) != std::string::npos) {
    out.push_back(text.substr(pos, next - pos));
    pos = next + 1;
  }
  return out;
}

std::filesystem::path temp_file(const std::string& name, const std::string& content) {
  const auto p = std::filesystem::temp_directory_path() / ("shuo_" + std::to_string(::getpid()) + "_" + name);
  std::ofstream(p, std::ios::binary) << content;
  return p;
}

}  // namespace

TEST(CliTokenize, IdsMatchVectorFilesExactly) {
  SHUO_REQUIRE_TESTDATA("tokenizers/ggml-vocab-gpt-2.gguf");
  // A few strings per vocab (each run loads the vocab; the full vectors run in-process in
  // tokenizer_vectors_test). Index 7 and up include Chinese, emoji and whitespace runs.
  for (const char* vocab : {"llama-spm", "gpt-2", "qwen2", "llama-bpe"}) {
    const auto base = testdata_dir() / "tokenizers" / (std::string("ggml-vocab-") + vocab + ".gguf");
    const auto inputs = split_inp(shuo::testing::read_file(base.string() + ".inp"));
    const auto expected = lines(shuo::testing::read_file(base.string() + ".out"));
    ASSERT_EQ(inputs.size(), expected.size());
    for (size_t i : {size_t(7), inputs.size() - 1}) {
      const auto file = temp_file("tok.txt", inputs[i]);
      auto r = run_shuo({"tokenize", "--model", base.string(), "--ids", "--file", file.string()});
      std::filesystem::remove(file);
      ASSERT_EQ(r.status, 0) << r.err;
      EXPECT_EQ(r.out, expected[i] + "\n") << vocab << " case " << i;
    }
  }
}

TEST(CliTokenize, PiecesAndSpecialTokens) {
  SHUO_REQUIRE_TESTDATA("stories260K/model.gguf");
  const auto model = (testdata_dir() / "stories260K/model.gguf").string();
  auto plain = run_shuo({"tokenize", "--model", model, "--ids", "Once upon a time"});
  ASSERT_EQ(plain.status, 0) << plain.err;
  auto special = run_shuo({"tokenize", "--model", model, "--ids", "--special", "Once upon a time"});
  ASSERT_EQ(special.status, 0) << special.err;
  EXPECT_EQ(special.out, " 1" + plain.out);  // BOS only with --special
  auto pieces = run_shuo({"tokenize", "--model", model, "Tom said 你好"});
  ASSERT_EQ(pieces.status, 0);
  EXPECT_NE(pieces.out.find("\t"), std::string::npos);  // id<TAB>piece lines
  auto bad = run_shuo({"tokenize", "--model", "/nonexistent.gguf", "x"});
  EXPECT_NE(bad.status, 0);
  EXPECT_NE(bad.err.find("/nonexistent.gguf"), std::string::npos) << bad.err;
}

TEST(CliRenderTemplate, PrintsExactRenderOrErrorWithStatus2) {
  SHUO_REQUIRE_TESTDATA("templates/cases.json");
  const auto cases = nlohmann::ordered_json::parse(shuo::testing::read_file(testdata_dir() / "templates/cases.json"));
  int ok = 0, errors = 0;
  for (const auto& c : cases) {
    const bool is_error = !c["error"].is_null();
    if ((is_error && errors > 0) || (!is_error && ok >= 2)) continue;
    nlohmann::ordered_json input = {{"messages", c["messages"]}, {"bos_token", c["bos_token"]}, {"eos_token", c["eos_token"]}};
    const auto msgs = temp_file("msgs.json", input.dump());
    std::vector<std::string> args = {"render-template", "--template", (testdata_dir() / "templates" / c["template"].get<std::string>()).string(),
                                     "--messages", msgs.string()};
    if (c["add_generation_prompt"].get<bool>()) args.push_back("--add-generation-prompt");
    auto r = run_shuo(args);
    std::filesystem::remove(msgs);
    if (is_error) {
      EXPECT_EQ(r.status, 2) << c["template"] << " " << c["case"];
      EXPECT_TRUE(r.out.empty());
      const std::string msg = c["error"].get<std::string>().substr(std::string("TemplateError: ").size());
      EXPECT_NE(r.err.find(msg), std::string::npos) << r.err;
      ++errors;
    } else {
      ASSERT_EQ(r.status, 0) << r.err;
      EXPECT_EQ(r.out, c["expected"].get<std::string>()) << c["template"] << " " << c["case"];
      ++ok;
    }
  }
  EXPECT_EQ(ok, 2);
  EXPECT_EQ(errors, 1);
}
