// Tokenizers against llama.cpp's test vectors (shared/testdata/tokenizers: every
// ggml-vocab-*.gguf with its .inp/.out) and stories260K's reference.json. One ctest case per
// (vocab, test string) and per stories case.
#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <map>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "format/gguf.h"
#include "test_support.h"
#include "tokenizer_vector_files.h"
#include "text/tokenizer.h"

namespace shuo::text {
namespace {

namespace fs = std::filesystem;
using namespace testing_vectors;

fs::path vocab_dir() { return testing::testdata_dir() / "tokenizers"; }

struct VectorCase {
  std::string vocab;  // file name, e.g. "ggml-vocab-gpt-2.gguf"; "" when the data is absent
  int index = 0;      // test string number in the .inp file
};

void PrintTo(const VectorCase& c, std::ostream* os) { *os << c.vocab << " #" << c.index; }

std::vector<VectorCase> vector_cases() {
  std::vector<VectorCase> cases;
  std::error_code ec;
  std::vector<std::string> vocabs;
  for (const auto& e : fs::directory_iterator(vocab_dir(), ec)) {
    const std::string name = e.path().filename().string();
    if (name.starts_with("ggml-vocab-") && name.ends_with(".gguf")) vocabs.push_back(name);
  }
  std::sort(vocabs.begin(), vocabs.end());
  for (const auto& v : vocabs) {
    if (v == "ggml-vocab-bert-bge.gguf") {  // WordPiece: one case asserting the clean error
      cases.push_back({v, -1});
      continue;
    }
    const auto n = split_inp(testing::read_file(vocab_dir() / (v + ".inp"))).size();
    for (size_t i = 0; i < std::max<size_t>(n, 1); ++i) cases.push_back({v, static_cast<int>(i)});
  }
  if (cases.empty()) cases.push_back({"", 0});
  return cases;
}

// Loading a large vocab takes a while; load each once per process.
const Tokenizer* load_tokenizer(const fs::path& path, Error* error) {
  static std::map<std::string, std::unique_ptr<Tokenizer>> cache;
  auto& slot = cache[path.string()];
  if (!slot) {
    auto file = format::GgufFile::open(path.string());
    if (!file) {
      *error = file.error();
      return nullptr;
    }
    auto tok = Tokenizer::from_gguf(*file);
    if (!tok) {
      *error = tok.error();
      return nullptr;
    }
    slot = std::move(*tok);
  }
  return slot.get();
}

class TokenizerVectors : public ::testing::TestWithParam<VectorCase> {};

TEST_P(TokenizerVectors, EncodeMatchesAndDecodeRoundTrips) {
  SHUO_REQUIRE_TESTDATA("tokenizers");
  const VectorCase& c = GetParam();
  ASSERT_FALSE(c.vocab.empty()) << "no ggml-vocab-*.gguf in " << vocab_dir();
  const fs::path path = vocab_dir() / c.vocab;
  Error error;
  const Tokenizer* tok = load_tokenizer(path, &error);

  if (c.index < 0) {  // bert-bge: WordPiece is not implemented and must say so
    ASSERT_EQ(tok, nullptr);
    EXPECT_EQ(error.code, ErrorCode::kUnsupported);
    EXPECT_EQ(error.where, "tokenizer.ggml.model");
    EXPECT_NE(error.message.find("bert"), std::string::npos) << error.message;
    return;
  }
  ASSERT_NE(tok, nullptr) << error.to_string();

  const auto inputs = split_inp(testing::read_file(path.string() + ".inp"));
  const auto expected = parse_out(testing::read_file(path.string() + ".out"));
  ASSERT_LT(static_cast<size_t>(c.index), inputs.size());
  ASSERT_LT(static_cast<size_t>(c.index), expected.size());
  const std::string& text = inputs[c.index];
  SCOPED_TRACE("text: \"" + escape(text) + "\"");

  const std::vector<int32_t> ids = tok->encode(text, /*add_special=*/false, /*parse_special=*/false);
  EXPECT_EQ(ids, expected[c.index]);

  // Every vocab here is lossless: byte-level BPE trivially, SentencePiece through byte fallback,
  // with decode() dropping the one space that the add_space_prefix rule put in front.
  EXPECT_EQ(tok->decode(expected[c.index]), text);
  if (tok->adds_space_prefix() && !text.empty()) {
    EXPECT_EQ(tok->decode(expected[c.index], true, /*from_start=*/false), " " + text);
  }
}

std::string vector_case_name(const ::testing::TestParamInfo<VectorCase>& info) {
  if (info.param.vocab.empty()) return "testdata_missing";
  std::string name = info.param.vocab.substr(std::string("ggml-vocab-").size());
  name = name.substr(0, name.size() - std::string(".gguf").size());
  std::replace(name.begin(), name.end(), '-', '_');
  if (info.param.index < 0) return name + "_unsupported";
  return name + "_" + std::to_string(info.param.index);
}

INSTANTIATE_TEST_SUITE_P(Vocab, TokenizerVectors, ::testing::ValuesIn(vector_cases()),
                         vector_case_name);

// ---- stories260K: SentencePiece vocab inside a real model file ----

fs::path stories_dir() { return testing::testdata_dir() / "stories260K"; }

std::vector<std::string> stories_cases() {
  std::vector<std::string> names;
  const auto path = stories_dir() / "reference.json";
  if (fs::exists(path)) {
    auto j = nlohmann::json::parse(testing::read_file(path), nullptr, /*allow_exceptions=*/false);
    if (j.is_object() && j["cases"].is_array())
      for (const auto& c : j["cases"]) names.push_back(c.value("name", ""));
  }
  if (names.empty()) names.push_back("testdata_missing");
  return names;
}

class Stories260K : public ::testing::TestWithParam<std::string> {};

TEST_P(Stories260K, PromptIdsAndGeneratedText) {
  SHUO_REQUIRE_TESTDATA("stories260K/reference.json");
  const auto j = nlohmann::json::parse(testing::read_file(stories_dir() / "reference.json"));
  const nlohmann::json* c = nullptr;
  for (const auto& x : j["cases"])
    if (x["name"] == GetParam()) c = &x;
  ASSERT_NE(c, nullptr) << GetParam();

  Error error;
  const Tokenizer* tok = load_tokenizer(stories_dir() / "model.gguf", &error);
  ASSERT_NE(tok, nullptr) << error.to_string();

  const auto prompt = (*c)["prompt"].get<std::string>();
  const auto prompt_ids = (*c)["prompt_ids"].get<std::vector<int32_t>>();
  const auto gen_ids = (*c)["gen_ids"].get<std::vector<int32_t>>();
  const auto gen_text = (*c)["gen_text"].get<std::string>();

  EXPECT_EQ(tok->encode(prompt, /*add_special=*/true, /*parse_special=*/false), prompt_ids);
  // The continuation starts a sequence only when the prompt was just BOS.
  EXPECT_EQ(tok->decode(gen_ids, true, /*from_start=*/prompt.empty()), gen_text);
  std::vector<int32_t> all = prompt_ids;
  all.insert(all.end(), gen_ids.begin(), gen_ids.end());
  EXPECT_EQ(tok->decode(all), prompt + gen_text);
}

INSTANTIATE_TEST_SUITE_P(Case, Stories260K, ::testing::ValuesIn(stories_cases()),
                         [](const ::testing::TestParamInfo<std::string>& info) {
                           return info.param;
                         });

}  // namespace
}  // namespace shuo::text
