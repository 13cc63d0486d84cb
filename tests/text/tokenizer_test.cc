// Tokenizer behaviour beyond the test vectors: special tokens on/off, BOS/EOS, byte fallback,
// end-of-generation ids, decode rules and load errors (on small GGUFs built in memory).
#include <gtest/gtest.h>

#include <memory>
#include <string>
#include <vector>

#include "format/gguf.h"
#include "format/gguf_writer.h"
#include "test_support.h"
#include "text/pre_tokenizer.h"
#include "text/tokenizer.h"

namespace shuo::text {
namespace {

// Loads a tokenizer from shared test data; the caller has checked that it exists.
std::unique_ptr<Tokenizer> load(const std::string& rel) {
  auto f = format::GgufFile::open((testing::testdata_dir() / rel).string());
  EXPECT_TRUE(f.ok()) << f.error().to_string();
  if (!f) return nullptr;
  auto t = Tokenizer::from_gguf(*f);
  EXPECT_TRUE(t.ok()) << t.error().to_string();
  if (!t) return nullptr;
  return std::move(*t);
}

#define LOAD_OR_SKIP(var, rel)   \
  SHUO_REQUIRE_TESTDATA(rel);    \
  auto var = load(rel);          \
  ASSERT_NE(var, nullptr)

constexpr const char* kQwen2 = "tokenizers/ggml-vocab-qwen2.gguf";
constexpr const char* kLlamaSpm = "tokenizers/ggml-vocab-llama-spm.gguf";
constexpr const char* kLlamaBpe = "tokenizers/ggml-vocab-llama-bpe.gguf";
constexpr const char* kGpt2 = "tokenizers/ggml-vocab-gpt-2.gguf";
constexpr const char* kStories = "stories260K/model.gguf";

bool contains(const std::vector<int32_t>& ids, int32_t id) {
  return std::find(ids.begin(), ids.end(), id) != ids.end();
}

// ---- special tokens ----

TEST(TokenizerSpecial, ChatMarkersMatchOnlyWhenAsked) {
  LOAD_OR_SKIP(tok, kQwen2);
  const std::string text = "<|im_start|>user\nhi<|im_end|>";
  const int32_t start = *tok->find_token("<|im_start|>");
  const int32_t end = *tok->find_token("<|im_end|>");

  const auto on = tok->encode(text, false, /*parse_special=*/true);
  ASSERT_GE(on.size(), 3u);
  EXPECT_EQ(on.front(), start);
  EXPECT_EQ(on.back(), end);
  EXPECT_EQ(tok->decode(on, /*skip_special=*/false), text);
  EXPECT_EQ(tok->decode(on, /*skip_special=*/true), "user\nhi");

  const auto off = tok->encode(text, false, /*parse_special=*/false);
  EXPECT_FALSE(contains(off, start));
  EXPECT_FALSE(contains(off, end));
  EXPECT_EQ(tok->decode(off), text);  // the markers survive as plain text
}

TEST(TokenizerSpecial, SpmAddsSpacePrefixAfterSpecialToken) {
  LOAD_OR_SKIP(tok, kLlamaSpm);
  const auto ids = tok->encode("<s>Hello", false, /*parse_special=*/true);
  const std::vector<int32_t> want = {1, *tok->find_token("\xE2\x96\x81Hello")};
  EXPECT_EQ(ids, want);
  // Without parse_special "<s>" is text: no id 1 anywhere.
  EXPECT_FALSE(contains(tok->encode("<s>Hello", false, false), 1));
}

TEST(TokenizerSpecial, ControlPiecesRenderOnlyWhenAsked) {
  LOAD_OR_SKIP(tok, kQwen2);
  const int32_t start = *tok->find_token("<|im_start|>");
  EXPECT_EQ(tok->token_type(start), TokenType::kControl);
  EXPECT_EQ(tok->token_to_piece(start), "");
  EXPECT_EQ(tok->token_to_piece(start, /*render_special=*/true), "<|im_start|>");
  EXPECT_EQ(tok->token_to_piece(-1), "");
  EXPECT_EQ(tok->token_to_piece(tok->n_vocab()), "");
  EXPECT_EQ(tok->token_text(tok->n_vocab()), "");
  EXPECT_EQ(tok->token_type(-5), TokenType::kUndefined);
}

TEST(TokenizerSpecial, EndOfGeneration) {
  LOAD_OR_SKIP(tok, kQwen2);
  EXPECT_TRUE(tok->is_eog(tok->eos_id()));
  EXPECT_TRUE(tok->is_eog(*tok->find_token("<|im_end|>")));
  EXPECT_TRUE(tok->is_eog(*tok->find_token("<|endoftext|>")));
  EXPECT_FALSE(tok->is_eog(*tok->find_token("<|im_start|>")));
  EXPECT_FALSE(tok->is_eog(*tok->find_token("hello")));
}

// ---- BOS / EOS ----

TEST(TokenizerBosEos, FromMetadata) {
  {
    LOAD_OR_SKIP(spm, kLlamaSpm);
    EXPECT_TRUE(spm->add_bos());
    EXPECT_FALSE(spm->add_eos());
    const auto ids = spm->encode("Hello", /*add_special=*/true, false);
    EXPECT_EQ(ids.front(), 1);
    EXPECT_NE(ids.back(), 2);
    EXPECT_EQ(spm->encode("", true, false), std::vector<int32_t>{1});
    EXPECT_TRUE(spm->encode("", false, false).empty());
  }
  {
    LOAD_OR_SKIP(qwen, kQwen2);
    EXPECT_FALSE(qwen->add_bos());
    EXPECT_EQ(qwen->encode("Hello", true, false), qwen->encode("Hello", false, false));
  }
  {
    LOAD_OR_SKIP(llama3, kLlamaBpe);
    EXPECT_TRUE(llama3->add_bos());
    EXPECT_EQ(llama3->encode("Hello", true, false).front(), 128000);
    EXPECT_FALSE(llama3->adds_space_prefix());
  }
}

// ---- SentencePiece byte fallback and the leading-space rule ----

TEST(TokenizerSpm, ChineseFallsBackToBytes) {
  LOAD_OR_SKIP(tok, kStories);
  const std::string text = "你好";  // not in the 512-token vocab
  const auto ids = tok->encode(text, false, false);
  // "▁" (the add_space_prefix space), then the six UTF-8 bytes as <0xXX> tokens.
  ASSERT_EQ(ids.size(), 7u);
  EXPECT_EQ(tok->token_to_piece(ids[0]), " ");
  std::string bytes;
  for (size_t i = 1; i < ids.size(); ++i) {
    EXPECT_EQ(tok->token_type(ids[i]), TokenType::kByte) << tok->token_text(ids[i]);
    bytes += tok->token_to_piece(ids[i]);
  }
  EXPECT_EQ(bytes, text);
  EXPECT_EQ(tok->token_text(ids[1]), "<0xE4>");
  EXPECT_EQ(tok->decode(ids), text);
}

TEST(TokenizerSpm, LeadingSpaceRule) {
  LOAD_OR_SKIP(tok, kStories);
  EXPECT_TRUE(tok->adds_space_prefix());
  const auto ids = tok->encode("Once upon", true, false);  // BOS "▁Once" "▁upon"…
  EXPECT_EQ(tok->decode(ids), "Once upon");
  EXPECT_EQ(tok->decode(ids, true, /*from_start=*/false), " Once upon");
  // The first text token after BOS loses the space even when BOS is rendered.
  EXPECT_EQ(tok->decode(ids, /*skip_special=*/false), "<s>Once upon");
}

// ---- lossless round trips ----

TEST(TokenizerRoundTrip, InvalidUtf8AndLongWords) {
  const std::string weird = "ok \xFF\xFE x\xE4\xBD tail\xC3";
  const std::string long_word(20000, 'a');
  std::string long_cjk;
  for (int i = 0; i < 3000; ++i) long_cjk += "汉字";
  for (const char* rel : {kGpt2, kLlamaSpm, kLlamaBpe}) {
    SCOPED_TRACE(rel);
    LOAD_OR_SKIP(tok, rel);
    for (const std::string& text : {weird, long_word, long_cjk}) {
      EXPECT_EQ(tok->decode(tok->encode(text, false, false)), text);
    }
  }
}

// ---- load errors, on small GGUFs built in memory ----

struct Built {
  std::vector<uint8_t> bytes;
  Result<format::GgufFile> file = Error{};
};

std::unique_ptr<Built> build(const format::GgufWriter& w) {
  auto b = std::make_unique<Built>();
  b->bytes = w.to_bytes();
  b->file = format::GgufFile::parse(b->bytes, "test.gguf");
  return b;
}

format::GgufWriter tiny_bpe(const std::string& pre) {
  format::GgufWriter w;
  w.set_str("general.architecture", "gpt2");
  w.set_str("tokenizer.ggml.model", "gpt2");
  w.set_str("tokenizer.ggml.pre", pre);
  w.set_str_array("tokenizer.ggml.tokens", {"a", "b", "ab", "<|end|>"});
  w.set_i32_array("tokenizer.ggml.token_type", {1, 1, 1, 3});
  w.set_str_array("tokenizer.ggml.merges", {"a b"});
  w.set_u32("tokenizer.ggml.eos_token_id", 3);
  return w;
}

TEST(TokenizerLoad, TinyBpeWorks) {
  auto b = build(tiny_bpe("gpt-2"));
  ASSERT_TRUE(b->file.ok()) << b->file.error().to_string();
  auto tok = Tokenizer::from_gguf(*b->file);
  ASSERT_TRUE(tok.ok()) << tok.error().to_string();
  EXPECT_EQ((*tok)->encode("abab", false, false), (std::vector<int32_t>{2, 2}));
  EXPECT_EQ((*tok)->encode("ab<|end|>", false, true), (std::vector<int32_t>{2, 3}));
  EXPECT_FALSE((*tok)->add_bos());
  EXPECT_TRUE((*tok)->is_eog(3));
}

TEST(TokenizerLoad, AddEosFromMetadata) {
  auto w = tiny_bpe("gpt-2");
  w.set_bool("tokenizer.ggml.add_eos_token", true);
  auto b = build(w);
  auto tok = Tokenizer::from_gguf(*b->file);
  ASSERT_TRUE(tok.ok()) << tok.error().to_string();
  EXPECT_EQ((*tok)->encode("ab", /*add_special=*/true, false), (std::vector<int32_t>{2, 3}));
  EXPECT_EQ((*tok)->encode("ab", /*add_special=*/false, false), (std::vector<int32_t>{2}));
}

TEST(TokenizerLoad, UnsupportedPreTokenizerNamesTheValue) {
  auto b = build(tiny_bpe("made-up-pre"));
  auto tok = Tokenizer::from_gguf(*b->file);
  ASSERT_FALSE(tok.ok());
  EXPECT_EQ(tok.error().code, ErrorCode::kUnsupported);
  EXPECT_EQ(tok.error().where, "tokenizer.ggml.pre");
  EXPECT_NE(tok.error().message.find("made-up-pre"), std::string::npos) << tok.error().message;

  auto pre = PreTokenizer::create("qwen3-ish");
  ASSERT_FALSE(pre.ok());
  EXPECT_NE(pre.error().message.find("qwen3-ish"), std::string::npos);
}

TEST(TokenizerLoad, UnsupportedModelAndBadIds) {
  {
    auto w = tiny_bpe("gpt-2");
    w.set_str("tokenizer.ggml.model", "rwkv");
    auto tok = Tokenizer::from_gguf(*build(w)->file);
    ASSERT_FALSE(tok.ok());
    EXPECT_EQ(tok.error().code, ErrorCode::kUnsupported);
    EXPECT_EQ(tok.error().where, "tokenizer.ggml.model");
  }
  {
    auto w = tiny_bpe("gpt-2");
    w.set_u32("tokenizer.ggml.bos_token_id", 99);
    auto tok = Tokenizer::from_gguf(*build(w)->file);
    ASSERT_FALSE(tok.ok());
    EXPECT_EQ(tok.error().code, ErrorCode::kBadFile);
    EXPECT_EQ(tok.error().where, "tokenizer.ggml.bos_token_id");
  }
  {
    auto w = tiny_bpe("gpt-2");
    w.remove("tokenizer.ggml.tokens");
    auto tok = Tokenizer::from_gguf(*build(w)->file);
    ASSERT_FALSE(tok.ok());
    EXPECT_EQ(tok.error().where, "tokenizer.ggml.tokens");
  }
  {
    auto w = tiny_bpe("gpt-2");
    w.set_i32_array("tokenizer.ggml.token_type", {1, 1});
    auto tok = Tokenizer::from_gguf(*build(w)->file);
    ASSERT_FALSE(tok.ok());
    EXPECT_EQ(tok.error().where, "tokenizer.ggml.token_type");
  }
}

}  // namespace
}  // namespace shuo::text
