// PEFT LoRA adapters merged at load (model/lora.h + model/load_transform.h): the shared test
// adapter on stories260K gives reference.json's greedy ids (GGUF base and Hugging Face folder
// base), the merged matrices equal merged_targets.safetensors, adapters apply in order, and
// adapters that do not fit are errors naming the tensor or field.
#include <gtest/gtest.h>

#include <unistd.h>

#include <cmath>
#include <filesystem>
#include <fstream>

#include "format/safetensors.h"
#include "model/hf_model.h"
#include "model/lora.h"
#include "model_test_util.h"
#include "safetensors_test_util.h"
#include "tensor/quants.h"

namespace shuo::model {
namespace {

namespace fs = std::filesystem;
using shuo::testing::testdata_dir;

fs::path lora_dir() { return testdata_dir() / "lora"; }

nlohmann::json lora_reference() { return nlohmann::json::parse(shuo::testing::read_file(lora_dir() / "reference.json")); }

struct TempDir {
  fs::path path = fs::temp_directory_path() / ("shuo_lora_test_" + std::to_string(::getpid()) + "_" +
                                               ::testing::UnitTest::GetInstance()->current_test_info()->name());
  TempDir() { fs::create_directories(path); }
  ~TempDir() { fs::remove_all(path); }
};

format::GgufFile open_base() {
  auto f = format::GgufFile::open(shuo::testing::stories_gguf());
  EXPECT_TRUE(f.ok()) << f.error().to_string();
  return std::move(*f);
}

Result<format::GgufFile> merge(format::GgufFile base, const std::vector<std::string>& dirs,
                               std::optional<LoadQuantType> quantize = std::nullopt) {
  LoadTransform t;
  t.quantize = quantize;
  for (const auto& d : dirs) {
    SHUO_ASSIGN(auto a, load_lora_adapter(d, base));
    append_lora(t, std::move(a));
  }
  tensor::ThreadPool pool(2);
  return transform_model(std::move(base), t, pool);
}

std::vector<float> tensor_f32(const format::GgufFile& f, const std::string& name) {
  const auto* t = f.find_tensor(name);
  EXPECT_NE(t, nullptr) << name;
  if (!t) return {};
  std::vector<float> v(size_t(t->n_elements()));
  EXPECT_TRUE(tensor::dequantize(t->type, t->data, v.data(), t->n_elements()).ok());
  return v;
}

// Greedy ids of every reference case, and the largest first-step logit difference.
struct Greedy {
  std::vector<std::vector<int32_t>> ids;
  float max_first_step_diff = 0;
  size_t top5_mismatches = 0;
};

Greedy run_cases(const format::GgufFile& f, const nlohmann::json& ref) {
  Greedy g;
  auto m = load_model(f);
  EXPECT_TRUE(m.ok()) << m.error().to_string();
  if (!m.ok()) return g;
  auto& model = **m;
  const int32_t V = model.config().n_vocab;
  tensor::ThreadPool pool(2);
  for (const auto& c : ref["cases"]) {
    auto kv = model.make_cache(512);
    ForwardOutput out;
    const auto prompt = c["prompt_ids"].get<std::vector<int32_t>>();
    SeqChunk chunk{&kv, prompt, false};
    EXPECT_TRUE(model.forward({&chunk, 1}, out, pool).ok());
    const auto first = c["first_step_logits"].get<std::vector<float>>();
    for (int i = 0; i < V; ++i) g.max_first_step_diff = std::max(g.max_first_step_diff, std::fabs(out.row(0, 0, V)[i] - first[i]));
    std::vector<int32_t> got;
    for (size_t step = 0; step < c["gen_ids"].size(); ++step) {
      const float* logits = out.row(0, 0, V);
      std::vector<int32_t> order(V);
      for (int i = 0; i < V; ++i) order[i] = i;
      std::partial_sort(order.begin(), order.begin() + 5, order.end(),
                        [&](int a, int b) { return logits[a] > logits[b] || (logits[a] == logits[b] && a < b); });
      std::vector<int32_t> mine(order.begin(), order.begin() + 5);
      auto theirs = c["top5_per_step"][step].get<std::vector<int32_t>>();
      std::sort(mine.begin(), mine.end());
      std::sort(theirs.begin(), theirs.end());
      g.top5_mismatches += mine != theirs;
      const int32_t next = shuo::testing::argmax(logits, V);
      got.push_back(next);
      SeqChunk step_chunk{&kv, {&next, 1}, false};
      EXPECT_TRUE(model.forward({&step_chunk, 1}, out, pool).ok());
    }
    g.ids.push_back(got);
  }
  return g;
}

void expect_reference(const Greedy& g, const nlohmann::json& ref) {
  ASSERT_EQ(g.ids.size(), ref["cases"].size());
  for (size_t i = 0; i < g.ids.size(); ++i)
    EXPECT_EQ(g.ids[i], ref["cases"][i]["gen_ids"].get<std::vector<int32_t>>()) << ref["cases"][i]["name"];
  EXPECT_LE(g.max_first_step_diff, 1e-3f);
  EXPECT_EQ(g.top5_mismatches, 0u);
  std::printf("first-step logits max |diff| vs reference: %g\n", g.max_first_step_diff);
}

TEST(Lora, MergedOnGgufGivesReferenceIds) {
  SHUO_REQUIRE_TESTDATA("lora/reference.json");
  const auto ref = lora_reference();
  auto merged = merge(open_base(), {lora_dir().string()});
  ASSERT_TRUE(merged.ok()) << merged.error().to_string();
  const Greedy g = run_cases(*merged, ref);
  expect_reference(g, ref);
  // And the adapter really changed something: the base model's ids differ in every case.
  for (size_t i = 0; i < g.ids.size(); ++i)
    EXPECT_NE(g.ids[i], ref["cases"][i]["base_gen_ids"].get<std::vector<int32_t>>());
}

TEST(Lora, MergedOnHuggingFaceFolderGivesReferenceIds) {
  SHUO_REQUIRE_TESTDATA("lora/reference.json");
  const auto ref = lora_reference();
  auto hf = load_hf_model((testdata_dir() / "stories260K").string());
  ASSERT_TRUE(hf.ok()) << hf.error().to_string();
  auto base = format::GgufFile::assemble(std::move(hf->assembly));
  ASSERT_TRUE(base.ok()) << base.error().to_string();
  auto merged = merge(std::move(*base), {lora_dir().string()});
  ASSERT_TRUE(merged.ok()) << merged.error().to_string();
  expect_reference(run_cases(*merged, ref), ref);
}

// GGUF row i of a llama q/k matrix is HF row rope_row(i) (interleaved pairs per head).
int64_t hf_row(int64_t i, int64_t head_dim) {
  const int64_t h = i / head_dim, r = i % head_dim;
  return h * head_dim + (r % 2) * (head_dim / 2) + r / 2;
}

TEST(Lora, MergedTensorsEqualMergedTargets) {
  SHUO_REQUIRE_TESTDATA("lora/merged_targets.safetensors");
  auto merged = merge(open_base(), {lora_dir().string()});
  ASSERT_TRUE(merged.ok()) << merged.error().to_string();
  auto want = format::SafetensorsFile::open((lora_dir() / "merged_targets.safetensors").string());
  ASSERT_TRUE(want.ok()) << want.error().to_string();
  ASSERT_EQ(want->tensors().size(), 15u);
  float max_diff = 0;
  for (const auto& t : want->tensors()) {
    // model.layers.N.self_attn.q_proj.weight → blk.N.attn_q.weight
    const std::string rest = t.name.substr(std::string("model.layers.").size());
    const std::string layer = rest.substr(0, rest.find('.'));
    const std::string gguf = "blk." + layer + "." +
                             (t.name.find("q_proj") != std::string::npos   ? "attn_q"
                              : t.name.find("v_proj") != std::string::npos ? "attn_v"
                                                                           : "ffn_down") +
                             ".weight";
    const auto got = tensor_f32(*merged, gguf);
    ASSERT_EQ(got.size(), size_t(t.n_elements())) << gguf;
    const auto* exp = reinterpret_cast<const float*>(t.data);
    const int64_t rows = t.shape[0], cols = t.shape[1];
    const bool q = t.name.find("q_proj") != std::string::npos;
    for (int64_t i = 0; i < rows; ++i)
      for (int64_t c = 0; c < cols; ++c) {
        const int64_t src = q ? hf_row(i, 8) : i;  // stories260K: head_dim 8
        max_diff = std::max(max_diff, std::fabs(got[size_t(i * cols + c)] - exp[src * cols + c]));
      }
  }
  std::printf("merged targets max |diff| vs merged_targets.safetensors: %g\n", max_diff);
  EXPECT_LE(max_diff, 1e-5f);
  // Tensors the adapter does not target are the base's own bytes.
  const auto* k = merged->find_tensor("blk.0.attn_k.weight");
  auto base = open_base();
  ASSERT_NE(k, nullptr);
  EXPECT_EQ(std::memcmp(k->data, base.find_tensor("blk.0.attn_k.weight")->data, k->n_bytes), 0);
}

// A copy of the shared adapter whose config and tensors a test can change.
struct AdapterCopy {
  TempDir tmp;
  nlohmann::json config = nlohmann::json::parse(shuo::testing::read_file(lora_dir() / "adapter_config.json"));
  std::vector<shuo::testing::StTensor> tensors;

  AdapterCopy() {
    auto f = format::SafetensorsFile::open((lora_dir() / "adapter_model.safetensors").string());
    EXPECT_TRUE(f.ok());
    for (const auto& t : f->tensors())
      tensors.push_back({t.name, t.dtype, t.shape, std::vector<uint8_t>(t.data, t.data + t.n_bytes)});
  }
  shuo::testing::StTensor* find(const std::string& name) {
    for (auto& t : tensors)
      if (t.name == name) return &t;
    return nullptr;
  }
  std::string write() {
    std::ofstream(tmp.path / "adapter_config.json") << config.dump();
    shuo::testing::write_bytes(tmp.path / "adapter_model.safetensors", shuo::testing::safetensors_bytes(tensors));
    return tmp.path.string();
  }
};

constexpr const char* kQ0A = "base_model.model.model.layers.0.self_attn.q_proj.lora_A.weight";
constexpr const char* kQ0B = "base_model.model.model.layers.0.self_attn.q_proj.lora_B.weight";

TEST(Lora, TwoAdaptersApplyInOrder) {
  SHUO_REQUIRE_TESTDATA("lora/adapter_model.safetensors");
  const auto base_q = tensor_f32(open_base(), "blk.1.attn_v.weight");
  auto once = merge(open_base(), {lora_dir().string()});
  auto twice = merge(open_base(), {lora_dir().string(), lora_dir().string()});
  ASSERT_TRUE(once.ok() && twice.ok());
  const auto q1 = tensor_f32(*once, "blk.1.attn_v.weight"), q2 = tensor_f32(*twice, "blk.1.attn_v.weight");
  float max_diff = 0;
  for (size_t i = 0; i < base_q.size(); ++i)
    max_diff = std::max(max_diff, std::fabs(q2[i] - (base_q[i] + 2 * (q1[i] - base_q[i]))));
  EXPECT_LE(max_diff, 1e-5f) << "two copies of one adapter add its delta twice";

  // Order matters once an adapter replaces a module (modules_to_save): the replacement wipes
  // what came before it, and what comes after is added to it.
  AdapterCopy rep;
  rep.config["modules_to_save"] = {"v_proj"};
  rep.config["target_modules"] = {"q_proj"};
  std::vector<float> ones(32 * 64, 0.25f);  // v_proj is [32, 64] in the HF layout
  rep.tensors = {rep.tensors[0], rep.tensors[1],  // layer 0 q_proj A/B keep it a LoRA adapter
                 {"base_model.model.model.layers.1.self_attn.v_proj.weight", "F32", {32, 64}, shuo::testing::f32_bytes(ones)}};
  const std::string rep_dir = rep.write();
  auto lora_then_rep = merge(open_base(), {lora_dir().string(), rep_dir});
  auto rep_then_lora = merge(open_base(), {rep_dir, lora_dir().string()});
  ASSERT_TRUE(lora_then_rep.ok()) << lora_then_rep.error().to_string();
  ASSERT_TRUE(rep_then_lora.ok()) << rep_then_lora.error().to_string();
  const auto a = tensor_f32(*lora_then_rep, "blk.1.attn_v.weight");
  const auto b = tensor_f32(*rep_then_lora, "blk.1.attn_v.weight");
  float diff_a = 0, diff_b = 0;
  for (size_t i = 0; i < a.size(); ++i) {
    diff_a = std::max(diff_a, std::fabs(a[i] - 0.25f));
    diff_b = std::max(diff_b, std::fabs(b[i] - (0.25f + (q1[i] - base_q[i]))));
  }
  EXPECT_EQ(diff_a, 0.0f);
  EXPECT_LE(diff_b, 1e-5f);
}

// Loading `dir` against stories260K fails with an error whose text contains every `parts`.
void expect_error(const std::string& dir, const std::vector<std::string>& parts) {
  auto base = open_base();
  auto a = load_lora_adapter(dir, base);
  ASSERT_FALSE(a.ok());
  const std::string msg = a.error().to_string();
  for (const auto& p : parts) EXPECT_NE(msg.find(p), std::string::npos) << "'" << p << "' not in: " << msg;
}

TEST(Lora, BadAdaptersNameTheTensorOrField) {
  SHUO_REQUIRE_TESTDATA("lora/adapter_model.safetensors");
  {  // lora_A without its lora_B
    AdapterCopy c;
    std::erase_if(c.tensors, [](const auto& t) { return t.name == kQ0B; });
    expect_error(c.write(), {kQ0A, "lora_B"});
  }
  {  // shape does not fit the base matrix
    AdapterCopy c;
    c.find(kQ0A)->shape = {4, 32};
    c.find(kQ0A)->bytes.resize(4 * 32 * 4);
    expect_error(c.write(), {kQ0A, "blk.0.attn_q.weight", "[4, 32]"});
  }
  {  // rank other than r
    AdapterCopy c;
    c.config["r"] = 8;
    expect_error(c.write(), {kQ0A, "rank 4", "r = 8"});
  }
  {  // a layer the base does not have
    AdapterCopy c;
    c.find(kQ0A)->name = "base_model.model.model.layers.9.self_attn.q_proj.lora_A.weight";
    c.find(kQ0B)->name = "base_model.model.model.layers.9.self_attn.q_proj.lora_B.weight";
    expect_error(c.write(), {"layers.9.self_attn.q_proj", "blk.9.attn_q.weight"});
  }
  {  // a module shuo cannot map
    AdapterCopy c;
    c.find(kQ0A)->name = "base_model.model.model.layers.0.self_attn.rotary.lora_A.weight";
    c.find(kQ0B)->name = "base_model.model.model.layers.0.self_attn.rotary.lora_B.weight";
    c.config["target_modules"] = "all-linear";
    expect_error(c.write(), {"self_attn.rotary"});
  }
  {  // a module outside target_modules
    AdapterCopy c;
    c.config["target_modules"] = {"v_proj", "down_proj"};
    expect_error(c.write(), {kQ0A, "target_modules"});
  }
  {  // DoRA, bias training, other PEFT types, per-module ranks
    for (const auto& [key, value, shown] :
         std::vector<std::tuple<std::string, nlohmann::json, std::string>>{
             {"use_dora", true, "use_dora"}, {"bias", "all", "bias"}, {"peft_type", "IA3", "peft_type"},
             {"rank_pattern", {{"q_proj", 8}}, "rank_pattern"}, {"r", "four", "r"}}) {
      AdapterCopy c;
      c.config[key] = value;
      expect_error(c.write(), {"adapter_config.json: " + shown});
    }
  }
  {  // a tensor that is neither LoRA nor a saved module
    AdapterCopy c;
    c.tensors.push_back({"base_model.model.model.norm.weight", "F32", {64}, shuo::testing::f32_bytes(std::vector<float>(64, 1))});
    expect_error(c.write(), {"base_model.model.model.norm.weight", "modules_to_save"});
  }
  {  // no weights file
    TempDir t;
    std::ofstream(t.path / "adapter_config.json") << R"({"peft_type":"LORA","r":4,"lora_alpha":8})";
    expect_error(t.path.string(), {"adapter_model.safetensors", "missing"});
  }
  {  // no folder at all
    expect_error("/nonexistent/adapter", {"/nonexistent/adapter", "not a folder"});
  }
}

TEST(Lora, QuantizedBaseIsMergedInF32AndRequantized) {
  SHUO_REQUIRE_TESTDATA("lora/merged_targets.safetensors");
  LoadTransform q;
  q.quantize = find_load_quant_type("q8_0");
  tensor::ThreadPool pool(2);
  auto q8 = transform_model(open_base(), q, pool);
  ASSERT_TRUE(q8.ok()) << q8.error().to_string();
  const auto before = tensor_f32(*q8, "blk.2.attn_v.weight");
  auto merged = merge(std::move(*q8), {lora_dir().string()});
  ASSERT_TRUE(merged.ok()) << merged.error().to_string();
  EXPECT_EQ(merged->find_tensor("blk.2.attn_v.weight")->type, format::GgmlType::Q8_0);
  const auto after = tensor_f32(*merged, "blk.2.attn_v.weight");
  auto want = format::SafetensorsFile::open((lora_dir() / "merged_targets.safetensors").string());
  ASSERT_TRUE(want.ok());
  const auto* t = want->find("model.layers.2.self_attn.v_proj.weight");
  ASSERT_NE(t, nullptr);
  const auto* exp = reinterpret_cast<const float*>(t->data);
  float err_after = 0, err_before = 0;
  for (size_t i = 0; i < after.size(); ++i) {
    err_after = std::max(err_after, std::fabs(after[i] - exp[i]));
    err_before = std::max(err_before, std::fabs(before[i] - exp[i]));
  }
  std::printf("Q8_0 base merged: max |diff| vs the F32 merge %g (unmerged Q8_0 base: %g)\n", err_after, err_before);
  EXPECT_LT(err_after, 0.02f);  // Q8_0 rounding (measured 1.9e-3)
  EXPECT_GT(err_before, 10 * err_after);
}

TEST(Lora, MergeThenQuantizeStaysCloseToTheMergedModel) {
  SHUO_REQUIRE_TESTDATA("lora/reference.json");
  const auto ref = lora_reference();
  auto merged = merge(open_base(), {lora_dir().string()}, find_load_quant_type("q8_0"));
  ASSERT_TRUE(merged.ok()) << merged.error().to_string();
  EXPECT_EQ(merged->find_tensor("blk.0.attn_q.weight")->type, format::GgmlType::Q8_0);
  const Greedy g = run_cases(*merged, ref);
  // The README: quantized after merging, compare the first few tokens only.
  size_t same = 0, total = 0;
  for (size_t i = 0; i < g.ids.size(); ++i) {
    const auto want = ref["cases"][i]["gen_ids"].get<std::vector<int32_t>>();
    for (size_t s = 0; s < 4; ++s, ++total) same += g.ids[i][s] == want[s];
  }
  std::printf("merged + Q8_0: %zu of %zu first-4 tokens equal the merged reference\n", same, total);
  EXPECT_GE(same * 10, total * 9);
}

}  // namespace
}  // namespace shuo::model
