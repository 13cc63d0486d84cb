// Hugging Face gpt2 and chatglm folders as models: the tiny-archs GGUFs written back as HF
// checkpoints (GPT-2's Conv1D weights transposed to [in, out], ChatGLM's names) map to exactly
// the GGUF's tensors, byte for byte, and give the same logits; bad configs are errors that name
// the key.
#include <gtest/gtest.h>

#include <unistd.h>

#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>

#include "model/hf_model.h"
#include "model_test_util.h"
#include "safetensors_test_util.h"

namespace shuo::model {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

struct TempDir {
  fs::path path = fs::temp_directory_path() / ("shuo_hf_archs_" + std::to_string(::getpid()) + "_" +
                                               ::testing::UnitTest::GetInstance()->current_test_info()->name());
  TempDir() { fs::create_directories(path); }
  ~TempDir() { fs::remove_all(path); }
};

format::GgufFile open_tiny(const std::string& name) {
  auto f = format::GgufFile::open((shuo::testing::testdata_dir() / "tiny-archs" / (name + ".gguf")).string());
  EXPECT_TRUE(f.ok()) << f.error().to_string();
  return std::move(*f);
}

// A GGUF tensor as a safetensors tensor: row-major shape = ne reversed; `transpose` stores a
// 2-D [rows, cols] matrix as [cols, rows] (GPT-2's Conv1D layout).
shuo::testing::StTensor st(const format::GgufFile& f, const std::string& gguf, const std::string& hf, bool transpose = false) {
  const auto* t = f.find_tensor(gguf);
  EXPECT_TRUE(t) << gguf;
  std::vector<int64_t> shape(t->ne.rbegin(), t->ne.rend());
  std::vector<uint8_t> bytes(t->data, t->data + t->n_bytes);
  if (transpose) {
    const int64_t rows = shape[0], cols = shape[1];
    std::vector<uint8_t> tr(bytes.size());
    for (int64_t r = 0; r < rows; ++r)
      for (int64_t c = 0; c < cols; ++c) std::memcpy(&tr[size_t(c * rows + r) * 4], &bytes[size_t(r * cols + c) * 4], 4);
    bytes = std::move(tr);
    shape = {cols, rows};
  }
  return {hf, "F32", shape, std::move(bytes)};
}

std::string b(int i, const char* what) { return "blk." + std::to_string(i) + "." + what; }

json gpt2_config() {
  return {{"architectures", {"GPT2LMHeadModel"}}, {"model_type", "gpt2"}, {"n_embd", 64}, {"n_layer", 3},
          {"n_head", 4}, {"n_inner", nullptr}, {"vocab_size", 2457}, {"n_positions", 256},
          {"layer_norm_epsilon", 1e-5}, {"activation_function", "gelu_new"}};
}

std::vector<shuo::testing::StTensor> gpt2_tensors(const format::GgufFile& f) {
  std::vector<shuo::testing::StTensor> v = {
      st(f, "token_embd.weight", "transformer.wte.weight"), st(f, "position_embd.weight", "transformer.wpe.weight"),
      st(f, "output_norm.weight", "transformer.ln_f.weight"), st(f, "output_norm.bias", "transformer.ln_f.bias"),
      st(f, "output.weight", "lm_head.weight")};
  for (int i = 0; i < 3; ++i) {
    const std::string h = "transformer.h." + std::to_string(i) + ".";
    for (auto [g, n, tr] : std::initializer_list<std::tuple<const char*, const char*, bool>>{
             {"attn_norm.weight", "ln_1.weight", false}, {"attn_norm.bias", "ln_1.bias", false},
             {"attn_qkv.weight", "attn.c_attn.weight", true}, {"attn_qkv.bias", "attn.c_attn.bias", false},
             {"attn_output.weight", "attn.c_proj.weight", true}, {"attn_output.bias", "attn.c_proj.bias", false},
             {"ffn_norm.weight", "ln_2.weight", false}, {"ffn_norm.bias", "ln_2.bias", false},
             {"ffn_up.weight", "mlp.c_fc.weight", true}, {"ffn_up.bias", "mlp.c_fc.bias", false},
             {"ffn_down.weight", "mlp.c_proj.weight", true}, {"ffn_down.bias", "mlp.c_proj.bias", false}})
      v.push_back(st(f, b(i, g), h + n, tr));
    // The causal-mask buffer older exports carry.
    v.push_back({h + "attn.bias", "F32", {1, 1, 4, 4}, std::vector<uint8_t>(64, 0)});
  }
  return v;
}

json chatglm_config() {
  return {{"architectures", {"ChatGLMModel"}}, {"model_type", "chatglm"}, {"hidden_size", 64}, {"num_layers", 3},
          {"num_attention_heads", 4}, {"multi_query_attention", true}, {"multi_query_group_num", 2},
          {"kv_channels", 16}, {"ffn_hidden_size", 128}, {"padded_vocab_size", 2305}, {"seq_length", 256},
          {"layernorm_epsilon", 1e-5}, {"add_qkv_bias", true}, {"add_bias_linear", false}, {"rmsnorm", true}};
}

std::vector<shuo::testing::StTensor> chatglm_tensors(const format::GgufFile& f) {
  std::vector<shuo::testing::StTensor> v = {
      st(f, "token_embd.weight", "transformer.embedding.word_embeddings.weight"),
      st(f, "output_norm.weight", "transformer.encoder.final_layernorm.weight"),
      st(f, "output.weight", "transformer.output_layer.weight"),
      {"transformer.rotary_pos_emb.inv_freq", "F32", {4}, std::vector<uint8_t>(16, 0)}};
  for (int i = 0; i < 3; ++i) {
    const std::string l = "transformer.encoder.layers." + std::to_string(i) + ".";
    for (auto [g, n] : std::initializer_list<std::pair<const char*, const char*>>{
             {"attn_norm.weight", "input_layernorm.weight"},
             {"attn_qkv.weight", "self_attention.query_key_value.weight"},
             {"attn_qkv.bias", "self_attention.query_key_value.bias"},
             {"attn_output.weight", "self_attention.dense.weight"},
             {"ffn_norm.weight", "post_attention_layernorm.weight"},
             {"ffn_up.weight", "mlp.dense_h_to_4h.weight"},
             {"ffn_down.weight", "mlp.dense_4h_to_h.weight"}})
      v.push_back(st(f, b(i, g), l + n));
  }
  return v;
}

void write_folder(const fs::path& dir, const json& config, const std::vector<shuo::testing::StTensor>& tensors) {
  std::ofstream(dir / "config.json") << config.dump(2);
  shuo::testing::write_bytes(dir / "model.safetensors", shuo::testing::safetensors_bytes(tensors));
}

// The folder's model has the GGUF's tensors byte for byte, and the same logits on every
// reference prompt.
void expect_same_model(const fs::path& dir, const format::GgufFile& gguf, const std::string& ref_name) {
  auto hf = load_hf_model(dir.string());
  ASSERT_TRUE(hf.ok()) << hf.error().to_string();
  auto assembled = format::GgufFile::assemble(std::move(hf->assembly));
  ASSERT_TRUE(assembled.ok()) << assembled.error().to_string();
  const format::GgufFile& f = *assembled;
  ASSERT_EQ(f.tensors().size(), gguf.tensors().size());
  for (const auto& t : gguf.tensors()) {
    const auto* u = f.find_tensor(t.name);
    ASSERT_TRUE(u) << t.name;
    EXPECT_EQ(u->ne, t.ne) << t.name;
    ASSERT_EQ(u->n_bytes, t.n_bytes) << t.name;
    EXPECT_EQ(std::memcmp(u->data, t.data, t.n_bytes), 0) << t.name << " differs";
  }
  auto a = load_model(f);
  auto g = load_model(gguf);
  ASSERT_TRUE(a.ok()) << a.error().to_string();
  ASSERT_TRUE(g.ok());
  EXPECT_EQ((*a)->config().n_ctx_train, (*g)->config().n_ctx_train);
  EXPECT_EQ((*a)->config().rope_dims, (*g)->config().rope_dims);
  const auto ref = json::parse(shuo::testing::read_file(shuo::testing::testdata_dir() / "tiny-archs" / (ref_name + ".reference.json")));
  tensor::ThreadPool pool(2);
  const int32_t V = (*g)->config().n_vocab;
  for (const auto& c : ref["cases"]) {
    const auto prompt = c["prompt_ids"].get<std::vector<int32_t>>();
    std::vector<float> logits[2];
    int k = 0;
    for (auto* m : {a->get(), g->get()}) {
      auto kv = m->make_cache(256);
      ForwardOutput out;
      SeqChunk chunk{&kv, prompt};
      ASSERT_TRUE(m->forward({&chunk, 1}, out, pool).ok());
      logits[k++].assign(out.row(0, 0, V), out.row(0, 0, V) + V);
    }
    EXPECT_EQ(logits[0], logits[1]) << c["name"];
  }
}

}  // namespace

TEST(HfArchs, Gpt2FolderIsTheGgufModel) {
  SHUO_REQUIRE_TESTDATA("tiny-archs/gpt2-tiny.reference.json");
  auto gguf = open_tiny("gpt2-tiny");
  TempDir dir;
  write_folder(dir.path, gpt2_config(), gpt2_tensors(gguf));
  expect_same_model(dir.path, gguf, "gpt2-tiny");
}

TEST(HfArchs, ChatglmFolderIsTheGgufModel) {
  SHUO_REQUIRE_TESTDATA("tiny-archs/chatglm-tiny.reference.json");
  auto gguf = open_tiny("chatglm-tiny");
  TempDir dir;
  write_folder(dir.path, chatglm_config(), chatglm_tensors(gguf));
  expect_same_model(dir.path, gguf, "chatglm-tiny");
}

TEST(HfArchs, Gpt2TiedHeadWithoutLmHead) {
  SHUO_REQUIRE_TESTDATA("tiny-archs/gpt2-tiny.gguf");
  auto gguf = open_tiny("gpt2-tiny");
  auto tensors = gpt2_tensors(gguf);
  std::erase_if(tensors, [](const auto& t) { return t.name == "lm_head.weight"; });
  TempDir dir;
  write_folder(dir.path, gpt2_config(), tensors);
  auto hf = load_hf_model(dir.path.string());
  ASSERT_TRUE(hf.ok()) << hf.error().to_string();
  auto f = format::GgufFile::assemble(std::move(hf->assembly));
  ASSERT_TRUE(f.ok());
  EXPECT_EQ(f->find_tensor("output.weight"), nullptr);
  auto m = load_model(*f);
  ASSERT_TRUE(m.ok()) << m.error().to_string();
  EXPECT_TRUE((*m)->config().tied_embeddings);
}

TEST(HfArchs, BadConfigsNameTheKey) {
  SHUO_REQUIRE_TESTDATA("tiny-archs/chatglm-tiny.gguf");
  auto glm = open_tiny("chatglm-tiny");
  auto gpt = open_tiny("gpt2-tiny");
  struct Case {
    json config;
    bool chatglm;
    std::string want;  // in the error text
  };
  json act = gpt2_config(), ffn = chatglm_config(), groups = chatglm_config(), post = chatglm_config();
  act["activation_function"] = "relu";
  ffn["ffn_hidden_size"] = 256;  // dense_h_to_4h is 256 rows, not 512
  groups["multi_query_group_num"] = 3;
  post["apply_residual_connection_post_layernorm"] = true;
  for (const Case& c : {Case{act, false, "activation_function"}, Case{ffn, true, "transformer.encoder.layers.0.mlp.dense_h_to_4h.weight"},
                        Case{groups, true, "multi_query_group_num"}, Case{post, true, "apply_residual_connection_post_layernorm"}}) {
    TempDir dir;
    write_folder(dir.path, c.config, c.chatglm ? chatglm_tensors(glm) : gpt2_tensors(gpt));
    auto hf = load_hf_model(dir.path.string());
    ASSERT_FALSE(hf.ok()) << c.want;
    EXPECT_NE(hf.error().to_string().find(c.want), std::string::npos) << hf.error().to_string();
  }
}

}  // namespace shuo::model
