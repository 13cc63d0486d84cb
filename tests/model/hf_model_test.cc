// Hugging Face folders as models: stories260K's HF folder maps to exactly the tensors of its
// GGUF (q/k rows permuted back to interleaved pairs, byte for byte) and gives the reference's
// greedy tokens; the same weights declared as qwen2 (rotate-half RoPE, no permutation, zero
// biases) give them too; bad folders are errors that name the file and key or tensor.
#include <gtest/gtest.h>

#include <unistd.h>

#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>

#include "format/safetensors.h"
#include "model/hf_model.h"
#include "model_test_util.h"
#include "safetensors_test_util.h"

namespace shuo::model {
namespace {

namespace fs = std::filesystem;
using shuo::testing::testdata_dir;

fs::path stories_dir() { return testdata_dir() / "stories260K"; }

struct TempDir {
  fs::path path = fs::temp_directory_path() / ("shuo_hf_test_" + std::to_string(::getpid()) + "_" +
                                               ::testing::UnitTest::GetInstance()->current_test_info()->name());
  TempDir() { fs::create_directories(path); }
  ~TempDir() { fs::remove_all(path); }
};

nlohmann::json stories_config() {
  return nlohmann::json::parse(shuo::testing::read_file(stories_dir() / "config.json"));
}

// stories260K's safetensors tensors as writable copies.
std::vector<shuo::testing::StTensor> stories_tensors() {
  auto f = format::SafetensorsFile::open((stories_dir() / "model.safetensors").string());
  EXPECT_TRUE(f.ok()) << f.error().to_string();
  std::vector<shuo::testing::StTensor> out;
  for (const auto& t : f->tensors()) out.push_back({t.name, t.dtype, t.shape, std::vector<uint8_t>(t.data, t.data + t.n_bytes)});
  return out;
}

void write_folder(const fs::path& dir, const nlohmann::json& config, const std::vector<shuo::testing::StTensor>& tensors) {
  std::ofstream(dir / "config.json") << config.dump(2);
  shuo::testing::write_bytes(dir / "model.safetensors", shuo::testing::safetensors_bytes(tensors));
}

// 64 greedy tokens of every reference case (first-step logits within the README's 1e-3).
void expect_reference_tokens(const format::GgufFile& file) {
  auto m = load_model(file);
  ASSERT_TRUE(m.ok()) << m.error().to_string();
  auto& model = **m;
  const int32_t V = model.config().n_vocab;
  tensor::ThreadPool pool(2);
  const auto ref = shuo::testing::stories_reference();
  for (const auto& c : ref["cases"]) {
    auto kv = model.make_cache(512);
    ForwardOutput out;
    const auto prompt = c["prompt_ids"].get<std::vector<int32_t>>();
    SeqChunk chunk{&kv, prompt, false};
    ASSERT_TRUE(model.forward({&chunk, 1}, out, pool).ok());
    const auto first = c["first_step_logits"].get<std::vector<float>>();
    float max_diff = 0;
    for (int i = 0; i < V; ++i) max_diff = std::max(max_diff, std::fabs(out.row(0, 0, V)[i] - first[i]));
    EXPECT_LE(max_diff, 1e-3f) << c["name"];
    std::vector<int32_t> got;
    for (size_t step = 0; step < 64; ++step) {
      const int32_t next = shuo::testing::argmax(out.row(0, 0, V), V);
      got.push_back(next);
      SeqChunk step_chunk{&kv, {&next, 1}, false};
      ASSERT_TRUE(model.forward({&step_chunk, 1}, out, pool).ok());
    }
    EXPECT_EQ(got, c["gen_ids"].get<std::vector<int32_t>>()) << c["name"];
  }
}

Result<format::GgufFile> assemble(const fs::path& dir) {
  SHUO_ASSIGN(HfModel m, load_hf_model(dir.string()));
  return format::GgufFile::assemble(std::move(m.assembly));
}

std::string error_of(const fs::path& dir) {
  auto r = load_hf_model(dir.string());
  return r.ok() ? std::string("ok") : r.error().to_string();
}

TEST(HfModel, Stories260KMapsToItsGgufByteForByte) {
  SHUO_REQUIRE_TESTDATA("stories260K/model.safetensors");
  auto m = load_hf_model(stories_dir().string());
  ASSERT_TRUE(m.ok()) << m.error().to_string();
  EXPECT_EQ(m->arch, "llama");
  EXPECT_EQ(m->hf_class, "LlamaForCausalLM");
  EXPECT_EQ(m->vocab_size, 512);
  auto hf = format::GgufFile::assemble(std::move(m->assembly));
  ASSERT_TRUE(hf.ok()) << hf.error().to_string();
  auto gguf = format::GgufFile::open(shuo::testing::stories_gguf());
  ASSERT_TRUE(gguf.ok()) << gguf.error().to_string();

  ASSERT_EQ(hf->tensors().size(), gguf->tensors().size());
  for (const auto& t : gguf->tensors()) {
    const auto* h = hf->find_tensor(t.name);
    ASSERT_NE(h, nullptr) << t.name;
    EXPECT_EQ(h->type, t.type) << t.name;
    EXPECT_EQ(h->ne, t.ne) << t.name;
    ASSERT_EQ(h->n_bytes, t.n_bytes) << t.name;
    EXPECT_EQ(std::memcmp(h->data, t.data, t.n_bytes), 0) << t.name << " differs from model.gguf";
  }
  // Every hyper-parameter key the GGUF has for llama, with the same value.
  for (const auto& [key, value] : gguf->metadata()) {
    if (key.rfind("llama.", 0) != 0) continue;
    const auto* v = hf->find(key);
    ASSERT_NE(v, nullptr) << key;
    EXPECT_EQ(format::gguf_value_to_string(*v), format::gguf_value_to_string(value)) << key;
  }
  EXPECT_EQ(*hf->get<std::string>("general.architecture"), "llama");
  EXPECT_EQ(*hf->get<uint32_t>("general.file_type"), 0u);
}

TEST(HfModel, Stories260KFolderGivesTheReferenceTokens) {
  SHUO_REQUIRE_TESTDATA("stories260K/reference.json");
  auto f = assemble(stories_dir());
  ASSERT_TRUE(f.ok()) << f.error().to_string();
  expect_reference_tokens(*f);
}

// Without the permutation the same weights diverge (the README's negative control): proves
// the test above depends on it.
TEST(HfModel, UnpermutedQkWouldNotMatch) {
  SHUO_REQUIRE_TESTDATA("stories260K/model.gguf");
  auto hf = assemble(stories_dir());
  ASSERT_TRUE(hf.ok()) << hf.error().to_string();
  auto st = format::SafetensorsFile::open((stories_dir() / "model.safetensors").string());
  ASSERT_TRUE(st.ok());
  const auto* q_hf = st->find("model.layers.0.self_attn.q_proj.weight");
  const auto* q = hf->find_tensor("blk.0.attn_q.weight");
  EXPECT_NE(std::memcmp(q_hf->data, q->data, q->n_bytes), 0);
}

TEST(HfModel, SameWeightsAsQwen2UseRotateHalfAsStored) {
  SHUO_REQUIRE_TESTDATA("stories260K/reference.json");
  TempDir d;
  auto config = stories_config();
  config["architectures"] = {"Qwen2ForCausalLM"};
  config["model_type"] = "qwen2";
  auto tensors = stories_tensors();
  for (int i = 0; i < 5; ++i)  // qwen2 has q/k/v biases: zero ones keep the function
    for (auto [proj, n] : {std::pair{"q_proj", 64}, {"k_proj", 32}, {"v_proj", 32}})
      tensors.push_back({"model.layers." + std::to_string(i) + ".self_attn." + proj + ".bias", "F32", {n},
                         std::vector<uint8_t>(size_t(n) * 4, 0)});
  write_folder(d.path, config, tensors);
  auto m = load_hf_model(d.path.string());
  ASSERT_TRUE(m.ok()) << m.error().to_string();
  EXPECT_EQ(m->arch, "qwen2");
  auto f = format::GgufFile::assemble(std::move(m->assembly));
  ASSERT_TRUE(f.ok()) << f.error().to_string();
  expect_reference_tokens(*f);
}

TEST(HfModel, ShardedFolderLoadsLikeTheSingleFile) {
  SHUO_REQUIRE_TESTDATA("stories260K/reference.json");
  TempDir d;
  std::ofstream(d.path / "config.json") << stories_config().dump();
  auto tensors = stories_tensors();
  const size_t half = tensors.size() / 2;
  nlohmann::json index = {{"metadata", nlohmann::json::object()}, {"weight_map", nlohmann::json::object()}};
  const std::string shard[2] = {"model-00001-of-00002.safetensors", "model-00002-of-00002.safetensors"};
  std::vector<shuo::testing::StTensor> parts[2];
  for (size_t i = 0; i < tensors.size(); ++i) {
    index["weight_map"][tensors[i].name] = shard[i >= half];
    parts[i >= half].push_back(tensors[i]);
  }
  for (int s = 0; s < 2; ++s) shuo::testing::write_bytes(d.path / shard[s], shuo::testing::safetensors_bytes(parts[s]));
  std::ofstream(d.path / "model.safetensors.index.json") << index.dump();
  auto sharded = assemble(d.path);
  ASSERT_TRUE(sharded.ok()) << sharded.error().to_string();
  auto single = assemble(stories_dir());
  ASSERT_TRUE(single.ok()) << single.error().to_string();
  ASSERT_EQ(sharded->tensors().size(), single->tensors().size());
  for (const auto& t : single->tensors()) {
    const auto* u = sharded->find_tensor(t.name);
    ASSERT_NE(u, nullptr) << t.name;
    ASSERT_EQ(u->n_bytes, t.n_bytes);
    EXPECT_EQ(std::memcmp(u->data, t.data, t.n_bytes), 0) << t.name;
  }
  expect_reference_tokens(*sharded);
}

TEST(HfModel, HalfPrecisionWeightsStayInTheirType) {
  SHUO_REQUIRE_TESTDATA("stories260K/model.safetensors");
  TempDir d;
  auto tensors = stories_tensors();
  for (auto& t : tensors) {  // F32 → BF16 by truncation: a valid BF16 checkpoint
    if (t.shape.size() != 2) continue;
    std::vector<uint8_t> b(t.bytes.size() / 2);
    for (size_t i = 0; i < b.size() / 2; ++i) std::memcpy(&b[2 * i], &t.bytes[4 * i + 2], 2);
    t.bytes = std::move(b);
    t.dtype = "BF16";
  }
  write_folder(d.path, stories_config(), tensors);
  auto f = assemble(d.path);
  ASSERT_TRUE(f.ok()) << f.error().to_string();
  EXPECT_EQ(f->find_tensor("blk.0.attn_q.weight")->type, format::GgmlType::BF16);
  EXPECT_EQ(f->find_tensor("blk.0.attn_norm.weight")->type, format::GgmlType::F32);
  EXPECT_EQ(*f->get<uint32_t>("general.file_type"), 32u);
  auto m = load_model(*f);
  ASSERT_TRUE(m.ok()) << m.error().to_string();
}

TEST(HfModel, TiedEmbeddingsLeaveOutTheHead) {
  SHUO_REQUIRE_TESTDATA("stories260K/model.safetensors");
  TempDir d;
  auto config = stories_config();
  config["tie_word_embeddings"] = true;
  auto tensors = stories_tensors();
  std::erase_if(tensors, [](const auto& t) { return t.name == "lm_head.weight"; });
  write_folder(d.path, config, tensors);
  auto f = assemble(d.path);
  ASSERT_TRUE(f.ok()) << f.error().to_string();
  EXPECT_EQ(f->find_tensor("output.weight"), nullptr);
  auto m = load_model(*f);
  ASSERT_TRUE(m.ok()) << m.error().to_string();
  EXPECT_TRUE((*m)->config().tied_embeddings);
}

TEST(HfModel, Llama3RopeScalingBecomesRopeFreqs) {
  SHUO_REQUIRE_TESTDATA("stories260K/model.safetensors");
  TempDir d;
  auto config = stories_config();
  config["rope_theta"] = 500000.0;
  config["rope_scaling"] = {{"rope_type", "llama3"}, {"factor", 8.0}, {"low_freq_factor", 1.0},
                            {"high_freq_factor", 4.0}, {"original_max_position_embeddings", 64}};
  write_folder(d.path, config, stories_tensors());
  auto f = assemble(d.path);
  ASSERT_TRUE(f.ok()) << f.error().to_string();
  const auto* rf = f->find_tensor("rope_freqs.weight");
  ASSERT_NE(rf, nullptr);
  ASSERT_EQ(rf->ne, (std::vector<int64_t>{4}));
  const float* v = reinterpret_cast<const float*>(rf->data);
  // head_dim 8, theta 5e5: wavelengths 2π·5e5^(i/8) = 6.28, 169, 4551, 122k against 16 and 64.
  EXPECT_EQ(v[0], 1.0f);
  EXPECT_EQ(v[2], 8.0f);
  EXPECT_EQ(v[3], 8.0f);
  const double wl = 2 * M_PI * std::pow(500000.0, 2.0 / 8), smooth = (64 / wl - 1) / 3;
  const double want = wl > 64 ? 8.0 : wl < 16 ? 1.0 : 1 / ((1 - smooth) / 8 + smooth);
  EXPECT_NEAR(v[1], want, 1e-6);
  EXPECT_TRUE(load_model(*f).ok());
}

TEST(HfModel, BadFoldersNameWhatIsWrong) {
  SHUO_REQUIRE_TESTDATA("stories260K/model.safetensors");
  TempDir d;
  auto has = [](const std::string& err, const std::string& part) {
    return err.find(part) != std::string::npos ? ::testing::AssertionSuccess()
                                               : ::testing::AssertionFailure() << err << "\n  lacks: " << part;
  };
  EXPECT_TRUE(has(error_of(d.path), "no config.json: not a Hugging Face model folder"));

  auto with_config = [&](nlohmann::json config) {
    write_folder(d.path, config, stories_tensors());
    return error_of(d.path);
  };
  auto c = stories_config();
  c["architectures"] = {"BloomForCausalLM"};
  EXPECT_TRUE(has(with_config(c), "config.json: architectures: 'BloomForCausalLM' is not supported (supported: LlamaForCausalLM"));
  c = stories_config();
  c.erase("architectures");
  EXPECT_TRUE(has(with_config(c), "architectures: must be a list"));
  c = stories_config();
  c["hidden_size"] = "64";
  EXPECT_TRUE(has(with_config(c), "config.json: hidden_size: must be an integer, got \"64\""));
  c = stories_config();
  c["num_key_value_heads"] = 3;
  EXPECT_TRUE(has(with_config(c), "num_key_value_heads: 3 does not divide num_attention_heads 8"));
  c = stories_config();
  c["intermediate_size"] = 100;
  EXPECT_TRUE(has(with_config(c), "model.layers.0.mlp.gate_proj.weight: shape [172, 64] in"));
  EXPECT_TRUE(has(with_config(c), "but config.json says [100, 64]"));
  c = stories_config();
  c["rope_scaling"] = {{"rope_type", "yarn"}, {"factor", 4.0}};
  EXPECT_TRUE(has(with_config(c), "rope_scaling.rope_type: 'yarn' is not supported"));
  c = stories_config();
  c["hidden_act"] = "gelu";
  EXPECT_TRUE(has(with_config(c), "hidden_act: 'gelu' is not supported"));
  std::ofstream(d.path / "config.json") << "{\"architectures\": [";
  EXPECT_TRUE(has(error_of(d.path), "config.json: not valid JSON"));

  // Tensors: one missing, one extra, one of a dtype shuo cannot use, a truncated file.
  auto t = stories_tensors();
  std::erase_if(t, [](const auto& x) { return x.name == "model.layers.3.mlp.up_proj.weight"; });
  write_folder(d.path, stories_config(), t);
  EXPECT_TRUE(has(error_of(d.path), "model.layers.3.mlp.up_proj.weight: tensor is missing"));
  t = stories_tensors();
  t.push_back({"model.layers.0.self_attn.o_proj.bias", "F32", {64}, std::vector<uint8_t>(256, 0)});
  write_folder(d.path, stories_config(), t);
  EXPECT_TRUE(has(error_of(d.path), "model.layers.0.self_attn.o_proj.bias: tensor is not part of the LlamaForCausalLM mapping"));
  t = stories_tensors();
  for (auto& x : t)
    if (x.name == "model.norm.weight") x.dtype = "I32";
  write_folder(d.path, stories_config(), t);
  EXPECT_TRUE(has(error_of(d.path), "model.norm.weight: dtype I32 is not supported (F32, F16, BF16)"));
  write_folder(d.path, stories_config(), stories_tensors());
  fs::resize_file(d.path / "model.safetensors", fs::file_size(d.path / "model.safetensors") - 100);
  EXPECT_TRUE(has(error_of(d.path), "model.safetensors: "));
  EXPECT_TRUE(has(error_of(d.path), "file is truncated"));
}

}  // namespace
}  // namespace shuo::model
