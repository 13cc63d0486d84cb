// `shuo convert`: stories260K's Hugging Face folder written as GGUF loads in shuo with the
// reference's prompt ids and 64 greedy tokens for every case, and in llama.cpp's llama-server
// (../shared/anchors) with the same prompt ids and greedy ids; --type quantizes on the way;
// inputs that are not folders or not models are refused with a message naming the problem.
#include <gtest/gtest.h>

#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <random>
#include <thread>

#include <nlohmann/json.hpp>

#include "api/openai_test_util.h"
#include "cli/model_source.h"
#include "cli_test_util.h"
#include "format/gguf.h"
#include "model/model.h"
#include "safetensors_test_util.h"
#include "text/tokenizer.h"

namespace shuo::testing {
namespace {

namespace fs = std::filesystem;
using Json = nlohmann::json;

fs::path stories_dir() { return testdata_dir() / "stories260K"; }
Json reference() { return Json::parse(read_file(stories_dir() / "reference.json")); }

struct TempDir {
  fs::path path = fs::temp_directory_path() / ("shuo_convert_test_" + std::to_string(::getpid()) + "_" +
                                               ::testing::UnitTest::GetInstance()->current_test_info()->name());
  TempDir() { fs::create_directories(path); }
  ~TempDir() { fs::remove_all(path); }
};

// Greedy ids of `prompt` (64 steps) with shuo's model.
std::vector<int32_t> greedy(model::Model& m, const std::vector<int32_t>& prompt, int n) {
  tensor::ThreadPool pool(1);
  auto kv = m.make_cache(512);
  model::ForwardOutput out;
  model::SeqChunk chunk{&kv, prompt, false};
  EXPECT_TRUE(m.forward({&chunk, 1}, out, pool).ok());
  std::vector<int32_t> got;
  const int32_t V = m.config().n_vocab;
  for (int i = 0; i < n; ++i) {
    const float* l = out.row(0, 0, V);
    const int32_t next = int32_t(std::max_element(l, l + V) - l);
    got.push_back(next);
    model::SeqChunk step{&kv, {&next, 1}, false};
    EXPECT_TRUE(m.forward({&step, 1}, out, pool).ok());
  }
  return got;
}

TEST(Convert, StoriesFolderBecomesAGgufWithTheReferenceTokens) {
  SHUO_REQUIRE_TESTDATA("stories260K/model.safetensors");
  TempDir d;
  const auto out = d.path / "stories.gguf";
  auto r = run_shuo({"convert", stories_dir().string(), out.string()});
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_NE(r.err.find("as F32 (llama, 48 tensors)"), std::string::npos) << r.err;
  ASSERT_TRUE(fs::exists(out));
  EXPECT_FALSE(fs::exists(out.string() + ".tmp"));

  auto f = format::GgufFile::open(out.string());
  ASSERT_TRUE(f.ok()) << f.error().to_string();
  EXPECT_EQ(*f->get<std::string>("general.architecture"), "llama");
  EXPECT_EQ(*f->get<std::string>("tokenizer.ggml.model"), "llama");
  auto tok = text::Tokenizer::from_gguf(*f);
  ASSERT_TRUE(tok.ok()) << tok.error().to_string();
  auto m = model::load_model(*f);
  ASSERT_TRUE(m.ok()) << m.error().to_string();
  for (const auto& c : reference()["cases"]) {
    const auto prompt = (*tok)->encode(c["prompt"].get<std::string>(), true, false);
    EXPECT_EQ(prompt, c["prompt_ids"].get<std::vector<int32_t>>()) << c["name"];
    EXPECT_EQ(greedy(**m, prompt, 64), c["gen_ids"].get<std::vector<int32_t>>()) << c["name"];
  }
}

TEST(Convert, TypeQuantizesTheMatrices) {
  SHUO_REQUIRE_TESTDATA("stories260K/model.safetensors");
  TempDir d;
  const auto out = d.path / "q8.gguf";
  auto r = run_shuo({"convert", stories_dir().string(), out.string(), "--type", "q8_0"});
  ASSERT_EQ(r.status, 0) << r.err;
  auto f = format::GgufFile::open(out.string());
  ASSERT_TRUE(f.ok()) << f.error().to_string();
  EXPECT_EQ(f->find_tensor("blk.0.attn_q.weight")->type, format::GgmlType::Q8_0);
  EXPECT_EQ(f->find_tensor("blk.0.attn_norm.weight")->type, format::GgmlType::F32);
  EXPECT_EQ(*f->get<uint32_t>("general.file_type"), 7u);
  auto m = model::load_model(*f);
  ASSERT_TRUE(m.ok()) << m.error().to_string();
  // Q8_0 keeps the start of a greedy story (the README: compare only the first few tokens).
  const auto c = reference()["cases"][0];
  const auto want = c["gen_ids"].get<std::vector<int32_t>>();
  const auto got = greedy(**m, c["prompt_ids"].get<std::vector<int32_t>>(), 8);
  EXPECT_EQ(got, std::vector<int32_t>(want.begin(), want.begin() + 8));
}

TEST(Convert, RefusesWhatItCannotConvert) {
  SHUO_REQUIRE_TESTDATA("stories260K/model.gguf");
  TempDir d;
  auto r = run_shuo({"convert", (stories_dir() / "model.gguf").string(), (d.path / "x.gguf").string()});
  EXPECT_EQ(r.status, 1);
  EXPECT_NE(r.err.find("is not a folder (convert reads Hugging Face model folders; to requantize a GGUF file use shuo quantize)"),
            std::string::npos) << r.err;
  r = run_shuo({"convert", d.path.string(), (d.path / "x.gguf").string()});
  EXPECT_EQ(r.status, 1);
  EXPECT_NE(r.err.find("no config.json"), std::string::npos) << r.err;
  r = run_shuo({"convert", stories_dir().string(), (d.path / "x.gguf").string(), "--type", "q3_xs"});
  EXPECT_EQ(r.status, 1);
  EXPECT_NE(r.err.find("--type: unknown type 'q3_xs'"), std::string::npos) << r.err;
  EXPECT_FALSE(fs::exists(d.path / "x.gguf"));
}

// The source documents' spelling: --base_model DIR (and --tokenizer_path DIR) on generate.
TEST(Convert, GenerateTakesTheFolderAsBaseModel) {
  SHUO_REQUIRE_TESTDATA("stories260K/model.safetensors");
  const auto c = reference()["cases"][0];
  auto r = run_shuo({"generate", "--base_model", stories_dir().string(), "--tokenizer_path", stories_dir().string(),
                     "--prompt", c["prompt"].get<std::string>(), "-n", "64", "--temp", "0"});
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_NE(r.out.find(c["gen_text"].get<std::string>()), std::string::npos) << r.out;
}

TEST(Convert, InspectShowsAFolderAsTheGgufItLoadsAs) {
  SHUO_REQUIRE_TESTDATA("stories260K/model.safetensors");
  auto r = run_shuo({"inspect", stories_dir().string()});
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_NE(r.out.find("Hugging Face model as GGUF"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("general.architecture                         string           \"llama\""), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("tokenizer.ggml.model"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("blk.4.ffn_down.weight"), std::string::npos) << r.out;
}

// ---- llama.cpp ----------------------------------------------------------------------------

fs::path llama_server() { return testdata_dir() / "../anchors/llama.cpp/bin/llama-server"; }

uint16_t free_port() {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof a;
  ::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a);
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len);
  ::close(fd);
  return ntohs(a.sin_port);
}

// llama-server on `model` (F32 KV cache, as the reference was checked), killed on destruction.
class LlamaServer {
 public:
  LlamaServer(const fs::path& model, const fs::path& log) : port_(free_port()) {
    pid_ = ::fork();
    if (pid_ == 0) {
      const int fd = ::open(log.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
      ::dup2(fd, 1);
      ::dup2(fd, 2);
      const std::string bin = llama_server().string(), m = model.string(), port = std::to_string(port_);
      ::execl(bin.c_str(), bin.c_str(), "-m", m.c_str(), "--host", "127.0.0.1", "--port", port.c_str(), "-t", "1",
              "-c", "512", "-ctk", "f32", "-ctv", "f32", static_cast<char*>(nullptr));
      ::_exit(127);
    }
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
    while (std::chrono::steady_clock::now() < deadline && !ready_) {
      api::http::testing::Client c(port_, 1000);
      c.send(api::openai::testing::http_request("GET", "/health", ""));
      auto r = c.read_response();
      ready_ = r.ok && r.status == 200;
      if (!ready_) std::this_thread::sleep_for(std::chrono::milliseconds(100));
      int st;
      if (::waitpid(pid_, &st, WNOHANG) == pid_) {
        // The anchors are built for the project's machine kind (-DGGML_NATIVE=ON with AVX-512):
        // elsewhere they die of SIGILL, which says nothing about shuo.
        illegal_instruction_ = WIFSIGNALED(st) && WTERMSIG(st) == SIGILL;
        pid_ = -1;
        break;
      }
    }
  }
  ~LlamaServer() {
    if (pid_ > 0) {
      ::kill(pid_, SIGTERM);
      ::waitpid(pid_, nullptr, 0);
    }
  }
  bool ready() const { return ready_; }
  bool illegal_instruction() const { return illegal_instruction_; }
  uint16_t port() const { return port_; }

 private:
  uint16_t port_;
  pid_t pid_ = -1;
  bool ready_ = false;
  bool illegal_instruction_ = false;
};

#define SKIP_IF_ANCHOR_CANNOT_RUN(server)                                                              \
  if ((server).illegal_instruction())                                                                  \
  GTEST_SKIP() << "llama.cpp anchor stopped with an illegal instruction: it is built for CPUs with " \
                  "AVX-512 (../shared/anchors/llama.cpp/README.md) and this CPU has none"

TEST(Convert, LlamaCppLoadsTheOutputAndGivesTheSameIds) {
  SHUO_REQUIRE_TESTDATA("stories260K/model.safetensors");
  if (!fs::exists(llama_server()))
    GTEST_SKIP() << "llama.cpp anchor not found: " << llama_server() << " (../shared/anchors)";
  TempDir d;
  const auto out = d.path / "stories.gguf";
  auto r = run_shuo({"convert", stories_dir().string(), out.string()});
  ASSERT_EQ(r.status, 0) << r.err;
  LlamaServer server(out, d.path / "llama-server.log");
  SKIP_IF_ANCHOR_CANNOT_RUN(server);
  ASSERT_TRUE(server.ready()) << read_file(d.path / "llama-server.log");
  using api::openai::testing::json_of;
  using api::openai::testing::post;
  for (const auto& c : reference()["cases"]) {
    // llama.cpp's tokenizer, built from the tokenizer keys convert wrote.
    auto t = post(server.port(), "/tokenize", Json{{"content", c["prompt"]}, {"add_special", true}});
    ASSERT_EQ(t.status, 200) << t.body;
    EXPECT_EQ(json_of(t)["tokens"], c["prompt_ids"]) << c["name"];
    auto g = post(server.port(), "/completion",
                  Json{{"prompt", c["prompt_ids"]}, {"n_predict", 64}, {"temperature", 0}, {"ignore_eos", true},
                       {"return_tokens", true}, {"cache_prompt", false}});
    ASSERT_EQ(g.status, 200) << g.body;
    EXPECT_EQ(json_of(g)["tokens"], c["gen_ids"]) << c["name"];
  }
}

// A random-weight Qwen2 folder (q/k/v biases, rotate-half RoPE, tied head) with Qwen's real
// byte-level tokenizer (151,669 tokens, padded to 151,936 embedding rows): shuo on the folder,
// shuo on the converted file and llama.cpp on it tokenize alike and pick the same greedy ids.
// Weights are drawn wide enough (embeddings in ±1) that top logits are far apart compared with
// float rounding, so two correct implementations cannot disagree by a near-tie.
TEST(Convert, Qwen2FolderWithQwenTokenizerAgreesWithLlamaCpp) {
  SHUO_REQUIRE_TESTDATA("hf-tokenizers/qwen3/tokenizer.json");
  if (!fs::exists(llama_server()))
    GTEST_SKIP() << "llama.cpp anchor not found: " << llama_server() << " (../shared/anchors)";
  TempDir d;
  const fs::path dir = d.path / "tiny-qwen2";
  fs::create_directories(dir);
  for (const char* f : {"tokenizer.json", "tokenizer_config.json"})
    fs::copy_file(testdata_dir() / "hf-tokenizers/qwen3" / f, dir / f);
  const int64_t V = 151936, E = 32, F = 64, L = 2, H = 4, KV = 2, HD = 8;
  const Json config = {{"architectures", {"Qwen2ForCausalLM"}}, {"model_type", "qwen2"}, {"hidden_size", E},
                       {"intermediate_size", F}, {"num_hidden_layers", L}, {"num_attention_heads", H},
                       {"num_key_value_heads", KV}, {"max_position_embeddings", 256}, {"vocab_size", V},
                       {"rms_norm_eps", 1e-6}, {"rope_theta", 1000000.0}, {"hidden_act", "silu"},
                       {"tie_word_embeddings", true}, {"use_sliding_window", false}};
  std::ofstream(dir / "config.json") << config.dump(2);
  std::mt19937 rng(1234);
  auto random = [&](std::vector<int64_t> shape, float scale, float offset = 0) {
    int64_t n = 1;
    for (int64_t x : shape) n *= x;
    std::uniform_real_distribution<float> u(-scale, scale);
    std::vector<float> v(static_cast<size_t>(n));
    for (float& x : v) x = offset + u(rng);
    return StTensor{"", "F32", shape, f32_bytes(v)};
  };
  std::vector<StTensor> t;
  auto add = [&](const std::string& name, StTensor x) { x.name = name; t.push_back(std::move(x)); };
  add("model.embed_tokens.weight", random({V, E}, 1.0f));
  add("model.norm.weight", random({E}, 0.1f, 1.0f));
  for (int i = 0; i < L; ++i) {
    const std::string p = "model.layers." + std::to_string(i) + ".";
    add(p + "input_layernorm.weight", random({E}, 0.1f, 1.0f));
    add(p + "post_attention_layernorm.weight", random({E}, 0.1f, 1.0f));
    add(p + "self_attn.q_proj.weight", random({H * HD, E}, 0.4f));
    add(p + "self_attn.q_proj.bias", random({H * HD}, 0.4f));
    add(p + "self_attn.k_proj.weight", random({KV * HD, E}, 0.4f));
    add(p + "self_attn.k_proj.bias", random({KV * HD}, 0.4f));
    add(p + "self_attn.v_proj.weight", random({KV * HD, E}, 0.4f));
    add(p + "self_attn.v_proj.bias", random({KV * HD}, 0.4f));
    add(p + "self_attn.o_proj.weight", random({E, H * HD}, 0.4f));
    add(p + "mlp.gate_proj.weight", random({F, E}, 0.4f));
    add(p + "mlp.up_proj.weight", random({F, E}, 0.4f));
    add(p + "mlp.down_proj.weight", random({E, F}, 0.4f));
  }
  write_bytes(dir / "model.safetensors", safetensors_bytes(t));

  auto source = cli::open_model_source(dir.string());
  ASSERT_TRUE(source.ok()) << source.error().to_string();
  auto m = model::load_model(source->file);
  ASSERT_TRUE(m.ok()) << m.error().to_string();
  const auto out = d.path / "tiny-qwen2.gguf";
  auto r = run_shuo({"convert", dir.string(), out.string()});
  ASSERT_EQ(r.status, 0) << r.err;
  auto converted = format::GgufFile::open(out.string());
  ASSERT_TRUE(converted.ok()) << converted.error().to_string();
  EXPECT_EQ(*converted->get<std::string>("tokenizer.ggml.pre"), "qwen2");
  auto gguf_tok = text::Tokenizer::from_gguf(*converted);
  ASSERT_TRUE(gguf_tok.ok()) << gguf_tok.error().to_string();
  LlamaServer server(out, d.path / "llama-server.log");
  SKIP_IF_ANCHOR_CANNOT_RUN(server);
  ASSERT_TRUE(server.ready()) << read_file(d.path / "llama-server.log");

  using api::openai::testing::json_of;
  using api::openai::testing::post;
  for (const std::string prompt : {"Hello world, 你好！", "The quick brown fox jumps over 13 lazy dogs.",
                                   "def f(x):\n    return x * 2  # <|im_end|>"}) {
    // llama-server's /tokenize matches special tokens in the text (<|im_end|> → 151645).
    const auto ids = source->tokenizer->encode(prompt, true, /*parse_special=*/true);
    EXPECT_EQ((*gguf_tok)->encode(prompt, true, true), ids) << prompt;
    auto tk = post(server.port(), "/tokenize", Json{{"content", prompt}, {"add_special", true}});
    ASSERT_EQ(tk.status, 200) << tk.body;
    EXPECT_EQ(json_of(tk)["tokens"].get<std::vector<int32_t>>(), ids) << prompt;
    auto g = post(server.port(), "/completion",
                  Json{{"prompt", ids}, {"n_predict", 16}, {"temperature", 0}, {"ignore_eos", true},
                       {"return_tokens", true}, {"cache_prompt", false}});
    ASSERT_EQ(g.status, 200) << g.body;
    EXPECT_EQ(json_of(g)["tokens"].get<std::vector<int32_t>>(), greedy(**m, ids, 16)) << prompt;
  }
}

}  // namespace
}  // namespace shuo::testing
