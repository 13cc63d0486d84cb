// Load-time quantization (model/load_transform.h): Q8_0 of stories260K agrees with the reference
// on ≥ 90 % of the tokens (the measured agreement is printed), the tensor rules match
// `shuo quantize`, what is already quantized stays, resident memory never holds the source and
// its quantized copy in full (VmHWM measured), and edits that do not fit are errors.
#include <gtest/gtest.h>

#include <unistd.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <random>

#include "format/gguf_stream_writer.h"
#include "model/load_transform.h"
#include "model_test_util.h"
#include "tensor/quants.h"

namespace shuo::model {
namespace {

namespace fs = std::filesystem;
using format::GgmlType;

format::GgufFile open_stories() {
  auto f = format::GgufFile::open(shuo::testing::stories_gguf());
  EXPECT_TRUE(f.ok()) << f.error().to_string();
  return std::move(*f);
}

Result<format::GgufFile> quantized(format::GgufFile f, const std::string& type, TransformStats* st = nullptr,
                                   const std::string& scratch_dir = "") {
  LoadTransform t;
  t.quantize = find_load_quant_type(type);
  EXPECT_TRUE(t.quantize.has_value()) << type;
  t.scratch_dir = scratch_dir;
  tensor::ThreadPool pool(2);
  return transform_model(std::move(f), t, pool, {}, st);
}

// Teacher-forced agreement: at every reference step the model sees the reference's tokens so
// far and its greedy choice is compared with the reference's next token (so one early
// difference does not make every later step count as wrong). Also the free-running prefix.
struct Agreement {
  size_t same = 0, total = 0, free_prefix = 0, free_total = 0;
};

Agreement agreement(const format::GgufFile& f) {
  Agreement a;
  const auto ref = shuo::testing::stories_reference();
  auto m = load_model(f);
  EXPECT_TRUE(m.ok()) << m.error().to_string();
  if (!m.ok()) return a;
  auto& model = **m;
  const int32_t V = model.config().n_vocab;
  tensor::ThreadPool pool(2);
  for (const auto& c : ref["cases"]) {
    const auto prompt = c["prompt_ids"].get<std::vector<int32_t>>();
    const auto want = c["gen_ids"].get<std::vector<int32_t>>();
    for (int free = 0; free < 2; ++free) {
      auto kv = model.make_cache(512);
      ForwardOutput out;
      SeqChunk chunk{&kv, prompt, false};
      EXPECT_TRUE(model.forward({&chunk, 1}, out, pool).ok());
      bool diverged = false;
      for (size_t step = 0; step < want.size(); ++step) {
        const int32_t next = shuo::testing::argmax(out.row(0, 0, V), V);
        if (free) {
          if (!diverged && next == want[step]) ++a.free_prefix;
          diverged |= next != want[step];
          ++a.free_total;
        } else {
          a.same += next == want[step];
          ++a.total;
        }
        const int32_t fed = free ? next : want[step];
        SeqChunk step_chunk{&kv, {&fed, 1}, false};
        EXPECT_TRUE(model.forward({&step_chunk, 1}, out, pool).ok());
      }
    }
  }
  return a;
}

TEST(LoadQuantize, TypeNamesAndAliases) {
  EXPECT_EQ(find_load_quant_type("q8_0")->preset.default_type, GgmlType::Q8_0);
  EXPECT_EQ(find_load_quant_type("Q8_0")->preset.default_type, GgmlType::Q8_0);
  EXPECT_EQ(find_load_quant_type("8")->preset.default_type, GgmlType::Q8_0);
  EXPECT_EQ(find_load_quant_type("q4_0")->preset.default_type, GgmlType::Q4_0);
  EXPECT_EQ(find_load_quant_type("q4_k")->preset.default_type, GgmlType::Q4_K);
  EXPECT_EQ(find_load_quant_type("4")->preset.default_type, GgmlType::Q4_K);
  EXPECT_FALSE(find_load_quant_type("q5_k").has_value());
  EXPECT_FALSE(find_load_quant_type("").has_value());
}

TEST(LoadQuantize, Q8_0OfStoriesAgreesWithTheReference) {
  SHUO_REQUIRE_TESTDATA("stories260K/reference.json");
  TransformStats st;
  auto f = quantized(open_stories(), "q8_0", &st);
  ASSERT_TRUE(f.ok()) << f.error().to_string();
  // The rules of `shuo quantize Q8_0`: 64-wide matrices become Q8_0, ffn_down (172 columns, not
  // a multiple of 32) falls back to F16, norms stay F32.
  EXPECT_EQ(f->find_tensor("token_embd.weight")->type, GgmlType::Q8_0);
  EXPECT_EQ(f->find_tensor("output.weight")->type, GgmlType::Q8_0);
  EXPECT_EQ(f->find_tensor("blk.0.attn_q.weight")->type, GgmlType::Q8_0);
  EXPECT_EQ(f->find_tensor("blk.4.ffn_up.weight")->type, GgmlType::Q8_0);
  EXPECT_EQ(f->find_tensor("blk.0.ffn_down.weight")->type, GgmlType::F16);
  EXPECT_EQ(f->find_tensor("blk.0.attn_norm.weight")->type, GgmlType::F32);
  EXPECT_EQ(st.n_quantized, 2u + 5u * 7u);
  EXPECT_EQ(st.n_fallback, 5u);
  EXPECT_EQ(*f->get<uint32_t>("general.file_type"), 7u);
  std::printf("storage: %s; %.3f MiB -> %.3f MiB\n", st.storage.c_str(), st.in_bytes / 1048576.0, st.out_bytes / 1048576.0);

  const Agreement a = agreement(*f);
  std::printf("Q8_0 at load: %zu of %zu reference tokens agree teacher-forced (%.1f %%); free-running, "
              "%zu of %zu tokens before the first difference\n",
              a.same, a.total, 100.0 * double(a.same) / double(a.total), a.free_prefix, a.free_total);
  ::testing::Test::RecordProperty("q8_0_agreement", std::to_string(double(a.same) / double(a.total)));
  ASSERT_EQ(a.total, 7u * 64u);
  EXPECT_GE(a.same * 10, a.total * 9);
}

TEST(LoadQuantize, FourBitTypesFollowTheQuantizeRules) {
  SHUO_REQUIRE_TESTDATA("stories260K/reference.json");
  auto q40 = quantized(open_stories(), "q4_0");
  ASSERT_TRUE(q40.ok()) << q40.error().to_string();
  EXPECT_EQ(q40->find_tensor("blk.0.attn_q.weight")->type, GgmlType::Q4_0);
  // The LM head gets more bits; 64 columns are no K-quant super-block, so Q8_0.
  EXPECT_EQ(q40->find_tensor("output.weight")->type, GgmlType::Q8_0);
  // q4_k: 64 columns cannot hold a 256-wide K block, so the rules fall back to Q5_0.
  auto q4k = quantized(open_stories(), "q4_k");
  ASSERT_TRUE(q4k.ok()) << q4k.error().to_string();
  EXPECT_EQ(q4k->find_tensor("blk.0.attn_q.weight")->type, GgmlType::Q5_0);
  for (auto* f : {&*q40, &*q4k}) {
    const Agreement a = agreement(*f);
    std::printf("%s: %zu of %zu reference tokens agree teacher-forced\n", f == &*q40 ? "q4_0" : "q4_k", a.same, a.total);
    EXPECT_GE(a.same * 2, a.total);  // a 4-bit model of 260K parameters still mostly agrees
  }
}

TEST(LoadQuantize, QuantizedTensorsStayAsTheyAre) {
  SHUO_REQUIRE_TESTDATA("stories260K/model.gguf");
  auto once = quantized(open_stories(), "q8_0");
  ASSERT_TRUE(once.ok());
  TransformStats st;
  auto twice = quantized(std::move(*once), "q4_0", &st);
  ASSERT_TRUE(twice.ok()) << twice.error().to_string();
  EXPECT_EQ(st.n_rewritten, 0u);
  EXPECT_EQ(twice->find_tensor("blk.0.attn_q.weight")->type, GgmlType::Q8_0);
}

TEST(LoadQuantize, HeapWhenNoScratchFileCanBeMade) {
  SHUO_REQUIRE_TESTDATA("stories260K/model.gguf");
  TransformStats st_file, st_heap;
  auto a = quantized(open_stories(), "q8_0", &st_file);
  auto b = quantized(open_stories(), "q8_0", &st_heap, "/nonexistent-dir");
  ASSERT_TRUE(a.ok() && b.ok());
  EXPECT_EQ(st_file.storage.rfind("scratch file", 0), 0u) << st_file.storage;
  EXPECT_EQ(st_heap.storage.rfind("heap", 0), 0u) << st_heap.storage;
  for (const auto& t : a->tensors()) {
    const auto* u = b->find_tensor(t.name);
    ASSERT_TRUE(u && u->n_bytes == t.n_bytes) << t.name;
    EXPECT_EQ(std::memcmp(u->data, t.data, t.n_bytes), 0) << t.name;
  }
}

TEST(LoadQuantize, EditsThatDoNotFitAreErrors) {
  SHUO_REQUIRE_TESTDATA("stories260K/model.gguf");
  tensor::ThreadPool pool(1);
  {
    LoadTransform t;
    t.edits.push_back({"blk.7.attn_q.weight", "test", nullptr, GgmlType::F32, 1, 1.0, std::vector<float>(64), std::vector<float>(64)});
    auto r = transform_model(open_stories(), t, pool);
    ASSERT_FALSE(r.ok());
    EXPECT_EQ(r.error().where, "blk.7.attn_q.weight");
  }
  {
    LoadTransform t;
    t.edits.push_back({"blk.0.attn_q.weight", "test", nullptr, GgmlType::F32, 2, 1.0, std::vector<float>(64), std::vector<float>(64)});
    auto r = transform_model(open_stories(), t, pool);
    ASSERT_FALSE(r.ok());
    EXPECT_EQ(r.error().where, "blk.0.attn_q.weight");
    EXPECT_NE(r.error().message.find("rank 2"), std::string::npos) << r.error().to_string();
  }
  {  // a delta that makes a row infinite cannot be quantized
    LoadTransform t;
    t.quantize = find_load_quant_type("q8_0");
    std::vector<float> a(64, 0.0f);
    a[3] = 1.0f;
    t.edits.push_back({"blk.0.attn_v.weight", "test", nullptr, GgmlType::F32, 1, 1.0, a, std::vector<float>(32, 0.0f)});
    t.edits.back().b[5] = INFINITY;  // row 5
    auto r = transform_model(open_stories(), t, pool);
    ASSERT_FALSE(r.ok());
    EXPECT_EQ(r.error().where, "blk.0.attn_v.weight");
    EXPECT_NE(r.error().message.find("row 5"), std::string::npos) << r.error().to_string();
  }
}

// ---- resident memory ----

struct Mem {
  long rss_kb = -1, hwm_kb = -1;
};
Mem read_mem() {
  Mem m;
  std::ifstream in("/proc/self/status");
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind("VmRSS:", 0) == 0) m.rss_kb = std::stol(line.substr(6));
    if (line.rfind("VmHWM:", 0) == 0) m.hwm_kb = std::stol(line.substr(6));
  }
  return m;
}
// Resets VmHWM to the current RSS (Linux ≥ 4.0); false where /proc does not allow it.
bool reset_hwm() {
  std::ofstream f("/proc/self/clear_refs");
  f << "5";
  f.flush();
  return bool(f);
}

TEST(LoadQuantize, PeakMemoryHoldsOneSourceTensorNotTheWholeSource) {
  // 8 F32 matrices of 8 MiB: without releasing each source tensor's pages the mapping alone
  // would add 64 MiB of resident memory by the end; with it, the peak is about one tensor.
  constexpr int64_t kCols = 4096, kRows = 512, kTensors = 8;
  const fs::path path = fs::temp_directory_path() / ("shuo_loadq_mem_" + std::to_string(::getpid()) + ".gguf");
  {
    std::vector<format::GgufStreamTensor> infos;
    for (int i = 0; i < kTensors; ++i) infos.push_back({"blk." + std::to_string(i) + ".ffn_up.weight", GgmlType::F32, {kCols, kRows}});
    format::GgufStreamWriter w;
    ASSERT_TRUE(w.open(path.string(), {{"general.architecture", format::GgufValue{std::string("llama")}}}, infos).ok());
    std::mt19937 rng(1);
    std::normal_distribution<float> dist(0.0f, 0.02f);
    std::vector<float> row(kCols);
    for (int64_t r = 0; r < kRows * kTensors; ++r) {
      for (auto& x : row) x = dist(rng);
      ASSERT_TRUE(w.write({reinterpret_cast<const uint8_t*>(row.data()), row.size() * 4}).ok());
    }
    ASSERT_TRUE(w.finish().ok());
  }
  const double source_mib = double(kCols * kRows * kTensors * 4) / 1048576.0;
  if (!reset_hwm()) GTEST_SKIP() << "/proc/self/clear_refs cannot reset VmHWM here";
  const Mem before = read_mem();
  TransformStats st;
  {
    auto f = format::GgufFile::open(path.string());
    ASSERT_TRUE(f.ok());
    auto q = quantized(std::move(*f), "q8_0", &st);
    fs::remove(path);
    ASSERT_TRUE(q.ok()) << q.error().to_string();
    const Mem after = read_mem();
    const double peak_mib = double(after.hwm_kb - before.rss_kb) / 1024.0;
    const double rss_mib = double(after.rss_kb - before.rss_kb) / 1024.0;
    std::printf("q8_0 at load of %.0f MiB F32 (%s): peak resident +%.1f MiB, after +%.1f MiB; output %.1f MiB\n",
                source_mib, st.storage.c_str(), peak_mib, rss_mib, st.out_bytes / 1048576.0);
    ::testing::Test::RecordProperty("peak_resident_mib", std::to_string(peak_mib));
    EXPECT_EQ(st.n_quantized, size_t(kTensors));
    // One source tensor (8 MiB) + its Q8_0 chunk (2.1 MiB) + row scratch, with room for noise;
    // a transform that kept the source resident would be near 64 MiB.
    EXPECT_LT(peak_mib, source_mib * 0.4);
  }
}

}  // namespace
}  // namespace shuo::model
