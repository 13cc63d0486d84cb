// Hugging Face tokenizer.json / tokenizer_config.json / tokenizer.model loading
// (text/hf_tokenizer.h) against shared/testdata/hf-tokenizers: every expected.json case of every
// directory (ids, ids_with_special, decoded), the GGUF metadata written from each file (a GGUF
// tokenizer built from it gives the same ids), equality with the GGUF vocab files of the same
// vocabularies, the Qwen3 chat case, errors naming JSON paths, and a SentencePiece model trained
// at test time with Debian's spm_train and checked against spm_encode.
#include <gtest/gtest.h>

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <unistd.h>
#include <filesystem>
#include <map>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "format/gguf.h"
#include "format/gguf_writer.h"
#include "test_support.h"
#include "tokenizer_vector_files.h"
#include "text/chat_template.h"
#include "text/hf_tokenizer.h"
#include "text/hf_tokenizer_json.h"
#include "text/spm_model.h"

namespace shuo::text {
namespace {

namespace fs = std::filesystem;
using namespace testing_vectors;
using nlohmann::json;

fs::path hf_dir() { return testing::testdata_dir() / "hf-tokenizers"; }

const std::string kDirs[] = {"gpt2", "llama3", "qwen3", "mistral", "stories260K", "stories260K-metaspace"};

class HfTokenizerDir : public ::testing::TestWithParam<std::string> {
 protected:
  void SetUp() override {
    SHUO_REQUIRE_TESTDATA("hf-tokenizers/" + GetParam() + "/tokenizer.json");
    auto tok = load_hf_tokenizer((hf_dir() / GetParam()).string());
    ASSERT_TRUE(tok.ok()) << tok.error().to_string();
    hf_ = std::move(*tok);
    expected_ = json::parse(testing::read_file(hf_dir() / GetParam() / "expected.json"));
  }
  HfTokenizer hf_;
  json expected_;
};

TEST_P(HfTokenizerDir, EveryExpectedCase) {
  const Tokenizer& tok = *hf_.tokenizer;
  int n = 0;
  for (const json& c : expected_["cases"]) {
    if (c["group"] == "chat") continue;  // ChatTemplateCase
    const auto text = c["text"].get<std::string>();
    SCOPED_TRACE(c["group"].get<std::string>() + " \"" + escape(text) + "\"");
    const auto ids = c["ids"].get<std::vector<int32_t>>();
    EXPECT_EQ(tok.encode(text, /*add_special=*/false, /*parse_special=*/true), ids);
    EXPECT_EQ(tok.encode(text, /*add_special=*/true, /*parse_special=*/true),
              c["ids_with_special"].get<std::vector<int32_t>>());
    EXPECT_EQ(tok.decode(ids, /*skip_special=*/false), c["decoded"].get<std::string>());
    ++n;
  }
  EXPECT_GE(n, 54);
}

TEST_P(HfTokenizerDir, ExpectedOutFile) {
  const auto inputs = split_inp(testing::read_file(hf_dir() / "tests.inp"));
  const auto expected = parse_out(testing::read_file(hf_dir() / GetParam() / "expected.out"));
  ASSERT_EQ(inputs.size(), 46u);
  ASSERT_EQ(expected.size(), inputs.size());
  for (size_t i = 0; i < inputs.size(); ++i)
    EXPECT_EQ(hf_.tokenizer->encode(inputs[i], false, true), expected[i]) << escape(inputs[i]);
}

// The GGUF keys written for this tokenizer describe the same vocabulary: shuo's GGUF tokenizer
// built from them encodes the llama.cpp strings to the same ids. Where HF's Metaspace "first"
// deliberately differs from SentencePiece (text starting with a space), the GGUF path must give
// SentencePiece's ids, which expected.json lists for run.c.
TEST_P(HfTokenizerDir, GgufMetadataEncodesTheSame) {
  ASSERT_TRUE(hf_.gguf_metadata.ok()) << hf_.gguf_metadata.error().to_string();
  format::GgufWriter w;
  w.set_str("general.architecture", "llama");
  for (const auto& [key, value] : *hf_.gguf_metadata) w.set(key, value);
  const std::vector<uint8_t> bytes = w.to_bytes();
  auto file = format::GgufFile::parse(bytes, GetParam() + ".gguf");
  ASSERT_TRUE(file.ok()) << file.error().to_string();
  auto gguf_tok = Tokenizer::from_gguf(*file);
  ASSERT_TRUE(gguf_tok.ok()) << gguf_tok.error().to_string();

  const Tokenizer& g = **gguf_tok;
  const Tokenizer& h = *hf_.tokenizer;
  EXPECT_EQ(g.n_vocab(), h.n_vocab());
  EXPECT_EQ(g.bos_id(), h.bos_id());
  EXPECT_EQ(g.eos_id(), h.eos_id());
  EXPECT_EQ(g.add_bos(), h.add_bos());
  const json& runc = expected_.contains("runc_encode_ids_where_different")
                         ? expected_["runc_encode_ids_where_different"]
                         : json::object();
  int i = 0, compared = 0;
  for (const json& c : expected_["cases"]) {
    if (c["group"] != "llama.cpp") continue;
    const auto text = c["text"].get<std::string>();
    SCOPED_TRACE("#" + std::to_string(i) + " \"" + escape(text) + "\"");
    const std::string key = std::to_string(i++);
    const auto want = runc.contains(key) ? runc[key].get<std::vector<int32_t>>()
                                         : c["ids"].get<std::vector<int32_t>>();
    EXPECT_EQ(g.encode(text, false, false), want);
    ++compared;
  }
  EXPECT_EQ(compared, 46);
}

INSTANTIATE_TEST_SUITE_P(HfTokenizers, HfTokenizerDir, ::testing::ValuesIn(kDirs),
                         [](const auto& info) {
                           std::string s = info.param;
                           for (char& c : s)
                             if (c == '-') c = '_';
                           return s;
                         });

// The same vocabulary through tokenizer.json and through llama.cpp's GGUF gives the same ids.
struct GgufPair {
  const char* hf;
  const char* gguf;  // relative to testdata
  // Whether both add the same BOS. llama.cpp's llama-bpe GGUF adds <|begin_of_text|>; this Llama 3
  // tokenizer.json revision (ByteLevel post-processor) adds nothing (see the testdata README).
  bool same_bos = true;
};

class HfVersusGguf : public ::testing::TestWithParam<GgufPair> {};

TEST_P(HfVersusGguf, SameIdsOnTheTestStrings) {
  const GgufPair p = GetParam();
  SHUO_REQUIRE_TESTDATA(std::string("hf-tokenizers/") + p.hf + "/tokenizer.json");
  SHUO_REQUIRE_TESTDATA(p.gguf);
  auto hf = load_hf_tokenizer((hf_dir() / p.hf).string());
  ASSERT_TRUE(hf.ok()) << hf.error().to_string();
  auto file = format::GgufFile::open((testing::testdata_dir() / p.gguf).string());
  ASSERT_TRUE(file.ok()) << file.error().to_string();
  auto gguf = Tokenizer::from_gguf(*file);
  ASSERT_TRUE(gguf.ok()) << gguf.error().to_string();
  const auto inputs = split_inp(testing::read_file(hf_dir() / "tests.inp"));
  ASSERT_EQ(inputs.size(), 46u);
  for (const std::string& text : inputs) {
    EXPECT_EQ(hf->tokenizer->encode(text, false, false), (*gguf)->encode(text, false, false))
        << escape(text);
    if (p.same_bos) {
      EXPECT_EQ(hf->tokenizer->encode(text, true, false), (*gguf)->encode(text, true, false))
          << escape(text);
    }
  }
}

INSTANTIATE_TEST_SUITE_P(
    Vocabs, HfVersusGguf,
    ::testing::Values(GgufPair{"gpt2", "tokenizers/ggml-vocab-gpt-2.gguf"},
                      GgufPair{"llama3", "tokenizers/ggml-vocab-llama-bpe.gguf", false},
                      GgufPair{"qwen3", "tokenizers/ggml-vocab-qwen2.gguf"},
                      GgufPair{"stories260K", "stories260K/model.gguf"}),
    [](const auto& info) {
      std::string s = info.param.hf;
      return s;
    });

// stories260K as a Hugging Face folder: its tokenizer.json gives reference.json's prompt ids
// (BOS from the TemplateProcessing post-processor) and decodes the generated ids to its text.
TEST(HfTokenizer, Stories260KFolderGivesReferencePromptIds) {
  SHUO_REQUIRE_TESTDATA("stories260K/tokenizer.json");
  SHUO_REQUIRE_TESTDATA("stories260K/reference.json");
  auto hf = load_hf_tokenizer((testing::testdata_dir() / "stories260K").string());
  ASSERT_TRUE(hf.ok()) << hf.error().to_string();
  const json ref = json::parse(testing::read_file(testing::testdata_dir() / "stories260K/reference.json"));
  int n = 0;
  for (const json& c : ref["cases"]) {
    const auto prompt = c["prompt"].get<std::string>();
    SCOPED_TRACE(prompt);
    EXPECT_EQ(hf->tokenizer->encode(prompt, true, false), c["prompt_ids"].get<std::vector<int32_t>>());
    EXPECT_EQ(hf->tokenizer->decode(c["gen_ids"].get<std::vector<int32_t>>(), true, prompt.empty()),
              c["gen_text"].get<std::string>());
    ++n;
  }
  EXPECT_GE(n, 7);
}

// The GGUF token list is padded to the model's embedding rows, and cannot be shorter.
TEST(HfTokenizer, GgufVocabPadding) {
  SHUO_REQUIRE_TESTDATA("hf-tokenizers/stories260K/tokenizer.json");
  auto hf = load_hf_tokenizer((hf_dir() / "stories260K").string(), {.vocab_size = 520});
  ASSERT_TRUE(hf.ok()) << hf.error().to_string();
  ASSERT_TRUE(hf->gguf_metadata.ok()) << hf->gguf_metadata.error().to_string();
  for (const auto& [key, value] : *hf->gguf_metadata) {
    if (key != "tokenizer.ggml.tokens" && key != "tokenizer.ggml.token_type" && key != "tokenizer.ggml.scores") continue;
    const auto& arr = std::get<std::shared_ptr<const format::GgufArray>>(value.v);
    EXPECT_EQ(arr->items.size(), 520u) << key;
    if (key == "tokenizer.ggml.tokens") {
      EXPECT_EQ(std::get<std::string>(arr->items[519].v), "[PAD519]");
    }
  }
  auto small = load_hf_tokenizer((hf_dir() / "stories260K").string(), {.vocab_size = 100});
  ASSERT_TRUE(small.ok());
  ASSERT_FALSE(small->gguf_metadata.ok());
  EXPECT_EQ(small->gguf_metadata.error().where, "vocab_size");
}

// Qwen3's chat case: its chat_template (from tokenizer_config.json) rendered like transformers'
// apply_chat_template, then tokenized with special tokens matched.
TEST(HfTokenizer, Qwen3ChatTemplateCase) {
  SHUO_REQUIRE_TESTDATA("hf-tokenizers/qwen3/expected.json");
  auto hf = load_hf_tokenizer((hf_dir() / "qwen3").string());
  ASSERT_TRUE(hf.ok()) << hf.error().to_string();
  ASSERT_FALSE(hf->chat_template.empty());
  const json e = json::parse(testing::read_file(hf_dir() / "qwen3/expected.json"));
  const json* chat_case = nullptr;
  for (const json& c : e["cases"])
    if (c["group"] == "chat") chat_case = &c;
  ASSERT_NE(chat_case, nullptr);

  auto tpl = ChatTemplate::parse(hf->chat_template);
  ASSERT_TRUE(tpl.ok()) << tpl.error().to_string();
  ChatTemplateInputs in;
  in.messages = e["chat"]["messages"];
  in.add_generation_prompt = e["chat"]["add_generation_prompt"].get<bool>();
  auto rendered = tpl->render(in);
  ASSERT_TRUE(rendered.ok()) << rendered.error().to_string();
  EXPECT_EQ(*rendered, (*chat_case)["text"].get<std::string>());
  EXPECT_EQ(hf->tokenizer->encode(*rendered, false, true), (*chat_case)["ids"].get<std::vector<int32_t>>());

  // The template also travels in the GGUF metadata.
  ASSERT_TRUE(hf->gguf_metadata.ok());
  bool found = false;
  for (const auto& [key, value] : *hf->gguf_metadata)
    if (key == "tokenizer.chat_template") found = std::get<std::string>(value.v) == hf->chat_template;
  EXPECT_TRUE(found);
}

// Raw user text: special tokens stay text unless parse_special; non-special added tokens match.
TEST(HfTokenizer, ParseSpecialOnlyMatchesSpecialTokensWhenAsked) {
  SHUO_REQUIRE_TESTDATA("hf-tokenizers/qwen3/tokenizer.json");
  auto hf = load_hf_tokenizer((hf_dir() / "qwen3").string());
  ASSERT_TRUE(hf.ok()) << hf.error().to_string();
  const Tokenizer& t = *hf->tokenizer;
  const auto im_start = t.find_token("<|im_start|>");
  const auto think = t.find_token("<think>");
  ASSERT_TRUE(im_start && think);
  const auto raw = t.encode("<|im_start|>", false, false);
  EXPECT_GT(raw.size(), 1u);
  EXPECT_EQ(t.decode(raw), "<|im_start|>");
  EXPECT_EQ(t.encode("<|im_start|>", false, true), std::vector<int32_t>{*im_start});
  EXPECT_EQ(t.encode("<think>", false, false), std::vector<int32_t>{*think});  // special: false
  EXPECT_TRUE(t.is_eog(*t.find_token("<|im_end|>")));
  EXPECT_EQ(t.eos_id(), *t.find_token("<|im_end|>"));
}

// Streaming pieces: byte tokens are single bytes, "▁" is a space, added tokens are their text.
TEST(HfTokenizer, PiecesForStreaming) {
  SHUO_REQUIRE_TESTDATA("hf-tokenizers/mistral/tokenizer.json");
  auto hf = load_hf_tokenizer((hf_dir() / "mistral").string());
  ASSERT_TRUE(hf.ok()) << hf.error().to_string();
  const Tokenizer& t = *hf->tokenizer;
  EXPECT_EQ(t.token_to_piece(*t.find_token("<0x0A>")), "\n");
  EXPECT_EQ(t.token_to_piece(*t.find_token("\xE2\x96\x81the")), " the");
  EXPECT_EQ(t.token_to_piece(1), "");  // <s> is special
  EXPECT_EQ(t.token_to_piece(1, true), "<s>");
  EXPECT_TRUE(t.adds_space_prefix());
  // A continuation keeps its leading space; a sequence start loses the one encode added.
  const auto ids = t.encode("Hello world", false, false);
  EXPECT_EQ(t.decode(ids), "Hello world");
  EXPECT_EQ(t.decode(ids, true, /*from_start=*/false), " Hello world");
}

// ---- errors name the file and the JSON path ----

std::string error_of(std::string_view json_text) {
  auto spec = parse_hf_tokenizer_json(json_text);
  if (!spec.ok()) return spec.error().to_string();
  auto tok = make_hf_tokenizer(*spec);
  return tok.ok() ? std::string("(no error)") : tok.error().to_string();
}

constexpr const char* kTinyModel =
    R"({"type":"BPE","vocab":{"a":0,"b":1,"ab":2},"merges":["a b"]})";

TEST(HfTokenizerErrors, NamePathsAndValues) {
  EXPECT_NE(error_of("{").find("tokenizer.json: (top level): is not valid JSON"), std::string::npos)
      << error_of("{");
  EXPECT_NE(error_of("[]").find("must be an object"), std::string::npos);
  EXPECT_NE(error_of("{}").find("tokenizer.json: model: is missing"), std::string::npos);
  EXPECT_NE(error_of(R"({"model":{"type":"WordPiece","vocab":{}}})").find("model.type"), std::string::npos);
  EXPECT_NE(error_of(R"({"model":{"type":"BPE","vocab":{"a":"x"},"merges":[]}})").find("model.vocab.a"),
            std::string::npos);
  EXPECT_NE(error_of(R"({"model":{"type":"BPE","vocab":{"a":0},"merges":5}})").find("model.merges: must be an array"),
            std::string::npos);
  EXPECT_NE(error_of(R"({"model":{"type":"BPE","vocab":{"a":0},"merges":["a"]}})").find("model.merges[0]"),
            std::string::npos);
  EXPECT_NE(error_of(R"({"model":{"type":"BPE","vocab":{"a":0},"merges":[["a","b"]]}})").find("model.merges[0]"),
            std::string::npos);
  const std::string m = kTinyModel;
  EXPECT_NE(error_of(R"({"model":)" + m + R"(,"normalizer":{"type":"BertNormalizer"}})").find("normalizer.type"),
            std::string::npos);
  EXPECT_NE(error_of(R"({"model":)" + m +
                     R"(,"pre_tokenizer":{"type":"Sequence","pretokenizers":[{"type":"Punctuation"}]}})")
                .find("pre_tokenizer.pretokenizers[0].type"),
            std::string::npos);
  EXPECT_NE(error_of(R"({"model":)" + m + R"(,"pre_tokenizer":{"type":"Split","pattern":{"Regex":"("},"behavior":"Isolated"}})")
                .find("regex does not compile"),
            std::string::npos);
  EXPECT_NE(error_of(R"({"model":)" + m + R"(,"added_tokens":[{"id":-1,"content":"x"}]})").find("added_tokens[0].id"),
            std::string::npos);
  EXPECT_NE(error_of(R"({"model":)" + m + R"(,"decoder":{"type":"Strip","content":" ","start":"1"}})").find("decoder.start"),
            std::string::npos);
  EXPECT_EQ(error_of(R"({"model":)" + m + "}"), "(no error)");

  HfTokenizerSpec spec;
  auto cfg = parse_hf_tokenizer_config(R"({"bos_token": 3})", &spec);
  ASSERT_FALSE(cfg.ok());
  EXPECT_EQ(cfg.error().where, "tokenizer_config.json: bos_token");
  cfg = parse_hf_tokenizer_config(R"({"add_bos_token": "yes"})", &spec);
  ASSERT_FALSE(cfg.ok());
  EXPECT_EQ(cfg.error().where, "tokenizer_config.json: add_bos_token");
  cfg = parse_hf_tokenizer_config(R"({"chat_template": [{"name": "default"}]})", &spec);
  ASSERT_FALSE(cfg.ok());
  EXPECT_EQ(cfg.error().where, "tokenizer_config.json: chat_template[0].template");
}

TEST(HfTokenizerErrors, ConfigTokensAndTemplates) {
  auto spec = parse_hf_tokenizer_json(std::string(R"({"model":)") + kTinyModel +
                                      R"(,"added_tokens":[{"id":3,"content":"<s>","special":true}]})");
  ASSERT_TRUE(spec.ok()) << spec.error().to_string();
  ASSERT_TRUE(parse_hf_tokenizer_config(
                  R"({"bos_token":{"__type":"AddedToken","content":"<s>"},"add_bos_token":true,)"
                  R"("chat_template":[{"name":"default","template":"A"},{"name":"tool_use","template":"B"}]})",
                  &*spec)
                  .ok());
  auto hf = build_hf_tokenizer(*spec);
  ASSERT_TRUE(hf.ok()) << hf.error().to_string();
  EXPECT_EQ(hf->tokenizer->encode("ab", true, false), (std::vector<int32_t>{3, 2}));
  EXPECT_EQ(hf->chat_template, "A");
  // A pre-tokenizer-less, non-byte-level model has no GGUF spelling: the tokenizer still works,
  // the metadata says why it cannot be written.
  ASSERT_FALSE(hf->gguf_metadata.ok());
  EXPECT_EQ(hf->gguf_metadata.error().code, ErrorCode::kUnsupported);

  // A bos_token the vocabulary does not have.
  auto spec2 = parse_hf_tokenizer_json(std::string(R"({"model":)") + kTinyModel + "}");
  ASSERT_TRUE(spec2.ok());
  ASSERT_TRUE(parse_hf_tokenizer_config(R"({"bos_token":"<nope>"})", &*spec2).ok());
  auto bad = build_hf_tokenizer(*spec2);
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.error().where, "tokenizer_config.json: bos_token");
}

// A byte-level tokenizer whose split regex is no llama.cpp pre-tokenizer: it encodes with its own
// regex, and its GGUF metadata is an error that quotes the regex.
TEST(HfTokenizer, UnknownRegexWorksButHasNoGgufName) {
  auto spec = parse_hf_tokenizer_json(
      R"({"model":{"type":"BPE","vocab":{"a":0,"b":1,"ab":2,"Ġ":3},"merges":["a b"]},)"
      R"("pre_tokenizer":{"type":"Sequence","pretokenizers":[)"
      R"({"type":"Split","pattern":{"Regex":"b"},"behavior":"Isolated","invert":false},)"
      R"({"type":"ByteLevel","add_prefix_space":false,"use_regex":false}]},)"
      R"("decoder":{"type":"ByteLevel"}})");
  ASSERT_TRUE(spec.ok()) << spec.error().to_string();
  auto hf = build_hf_tokenizer(*spec);
  ASSERT_TRUE(hf.ok()) << hf.error().to_string();
  // "ab" is split into "a" | "b" by the regex before BPE, so "ab" (2) is never formed.
  EXPECT_EQ(hf->tokenizer->encode("ab", false, false), (std::vector<int32_t>{0, 1}));
  EXPECT_EQ(hf->tokenizer->encode("a b", false, false), (std::vector<int32_t>{0, 3, 1}));
  EXPECT_EQ(hf->tokenizer->decode(std::vector<int32_t>{0, 3, 1}), "a b");
  ASSERT_FALSE(hf->gguf_metadata.ok());
  EXPECT_NE(hf->gguf_metadata.error().message.find("\"b\""), std::string::npos)
      << hf->gguf_metadata.error().to_string();
}

// lstrip / rstrip added tokens absorb the spaces around them; other Split behaviors.
TEST(HfTokenizer, AddedTokenStripAndSplitBehaviors) {
  auto spec = parse_hf_tokenizer_json(
      R"({"model":{"type":"BPE","vocab":{"a":0,"b":1," ":2,"-":3},"merges":[]},)"
      R"("added_tokens":[{"id":4,"content":"<m>","special":true,"lstrip":true,"rstrip":true}],)"
      R"("pre_tokenizer":{"type":"Split","pattern":{"String":"-"},"behavior":"MergedWithNext"}})");
  ASSERT_TRUE(spec.ok()) << spec.error().to_string();
  auto hf = build_hf_tokenizer(*spec);
  ASSERT_TRUE(hf.ok()) << hf.error().to_string();
  EXPECT_EQ(hf->tokenizer->encode("a  <m>  b", false, true), (std::vector<int32_t>{0, 4, 1}));
  EXPECT_EQ(hf->tokenizer->encode("a-b", false, true), (std::vector<int32_t>{0, 3, 1}));
}

// Invalid UTF-8 never crashes and never loses a byte in byte-level models.
TEST(HfTokenizer, InvalidUtf8RoundTripsThroughByteLevel) {
  SHUO_REQUIRE_TESTDATA("hf-tokenizers/gpt2/tokenizer.json");
  auto hf = load_hf_tokenizer((hf_dir() / "gpt2").string());
  ASSERT_TRUE(hf.ok()) << hf.error().to_string();
  const std::string text = "a\xff\xfe b\xe4\xb8 \xe4\xb8\xad";
  const auto ids = hf->tokenizer->encode(text, false, false);
  std::string pieces;
  for (int32_t id : ids) pieces += hf->tokenizer->token_to_piece(id);
  EXPECT_EQ(pieces, text);
}

// ---- SentencePiece tokenizer.model ----

TEST(SpmModel, MalformedProtobufIsAnError) {
  EXPECT_FALSE(parse_spm_model("").ok());
  auto r = parse_spm_model(std::string("\x0a\xff\xff\xff\xff\x0f", 6));
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().message.find("runs past the end"), std::string::npos) << r.error().to_string();
  r = parse_spm_model(std::string("\x0a\x02\x18\x09", 4));  // pieces[0].type = 9
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().where, "tokenizer.model: pieces[0].type");
}

std::string run_command(const std::string& cmd) {
  std::string out;
  FILE* p = popen(cmd.c_str(), "r");
  if (!p) return out;
  char buf[4096];
  size_t n;
  while ((n = fread(buf, 1, sizeof(buf), p)) > 0) out.append(buf, n);
  pclose(p);
  return out;
}

// Trains a small BPE model with spm_train on text from the test data, then checks shuo's ids for
// it against spm_encode's, line by line.
TEST(SpmModel, TrainedModelMatchesSpmEncode) {
  if (!fs::exists("/usr/bin/spm_train") || !fs::exists("/usr/bin/spm_encode"))
    GTEST_SKIP() << "Debian's sentencepiece package (spm_train, spm_encode) is not installed";
  SHUO_REQUIRE_TESTDATA("hf-tokenizers/README.md");
  const fs::path dir = fs::temp_directory_path() / ("shuo_spm_" + std::to_string(::getpid()));
  fs::create_directories(dir);
  // Training text: the test data's READMEs (English prose, code, numbers) and the test strings.
  std::string corpus = testing::read_file(hf_dir() / "README.md") +
                       testing::read_file(testing::testdata_dir() / "README.md");
  const auto inputs = split_inp(testing::read_file(hf_dir() / "tests.inp"));
  for (const auto& s : inputs) corpus += s + "\n";
  { std::ofstream(dir / "corpus.txt", std::ios::binary) << corpus; }
  const std::string train =
      "/usr/bin/spm_train --input=" + (dir / "corpus.txt").string() + " --model_prefix=" +
      (dir / "tokenizer").string() +
      " --model_type=bpe --vocab_size=400 --byte_fallback=true --character_coverage=0.995"
      " --normalization_rule_name=identity --remove_extra_whitespaces=false"
      " --user_defined_symbols='<tool>' --minloglevel=2 2>&1";
  run_command(train);
  ASSERT_TRUE(fs::exists(dir / "tokenizer.model")) << "spm_train failed";

  // Single-line strings only: spm_encode reads one sentence per line.
  std::vector<std::string> lines;
  for (const auto& s : inputs)
    if (!s.empty() && s.find('\n') == std::string::npos && s.find('\r') == std::string::npos) lines.push_back(s);
  lines.push_back("a <tool> call");
  lines.push_back("\xe4\xbd\xa0\xe5\xa5\xbd \xf0\x9f\x8c\x8d rare characters use byte fallback");
  std::string joined;
  for (const auto& s : lines) joined += s + "\n";
  { std::ofstream(dir / "lines.txt", std::ios::binary) << joined; }
  const auto expected = parse_out(run_command("/usr/bin/spm_encode --model=" + (dir / "tokenizer.model").string() +
                                              " --output_format=id < " + (dir / "lines.txt").string()));
  ASSERT_EQ(expected.size(), lines.size());

  auto hf = load_hf_tokenizer(dir.string());
  ASSERT_TRUE(hf.ok()) << hf.error().to_string();
  EXPECT_EQ(hf->source, (dir / "tokenizer.model").string());
  const Tokenizer& t = *hf->tokenizer;
  EXPECT_EQ(t.bos_id(), 1);
  EXPECT_EQ(t.eos_id(), 2);
  size_t equal = 0;
  for (size_t i = 0; i < lines.size(); ++i) {
    const auto ids = t.encode(lines[i], false, false);
    EXPECT_EQ(ids, expected[i]) << escape(lines[i]);
    equal += ids == expected[i];
    EXPECT_EQ(t.decode(ids), lines[i]);
    EXPECT_EQ(t.encode(lines[i], true, false).front(), 1);
  }
  EXPECT_GT(lines.size(), 20u);
  std::printf("spm_encode agreement: %zu / %zu lines\n", equal, lines.size());
  // The GGUF spelling of the same model gives the same ids.
  ASSERT_TRUE(hf->gguf_metadata.ok()) << hf->gguf_metadata.error().to_string();
  format::GgufWriter w;
  for (const auto& [key, value] : *hf->gguf_metadata) w.set(key, value);
  const auto bytes = w.to_bytes();
  auto file = format::GgufFile::parse(bytes, "spm.gguf");
  ASSERT_TRUE(file.ok()) << file.error().to_string();
  auto g = Tokenizer::from_gguf(*file);
  ASSERT_TRUE(g.ok()) << g.error().to_string();
  // (Except the user-defined symbol: GGUF readers, llama.cpp too, put a "▁" after it.)
  for (size_t i = 0; i < lines.size(); ++i)
    if (lines[i].find("<tool>") == std::string::npos) {
      EXPECT_EQ((*g)->encode(lines[i], false, false), expected[i]) << escape(lines[i]);
    }
  fs::remove_all(dir);
}

}  // namespace
}  // namespace shuo::text
