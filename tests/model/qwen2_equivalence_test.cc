// The same weights written once as `llama` and once as `qwen2` (zero q/k/v biases, q/k rows
// permuted from interleaved pairs to the rotate-half layout) must give the same logits: this
// proves the qwen2 path (biases, NeoX RoPE) against the llama path that stories260K validates.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <filesystem>

#include "format/gguf_writer.h"
#include "model_test_util.h"

namespace {

// Interleaved (2j, 2j+1) → NeoX (j, j + d/2) row order within each head of a [rows, cols] F32 matrix.
std::vector<uint8_t> permute_rows(const shuo::format::GgufTensorInfo& t, int head_dim) {
  const int64_t cols = t.ne[0], rows = t.ne[1];
  const float* src = reinterpret_cast<const float*>(t.data);
  std::vector<float> dst(size_t(cols * rows));
  for (int64_t r = 0; r < rows; ++r) {
    const int64_t head = r / head_dim, i = r % head_dim;
    const int64_t j = i / 2;
    const int64_t new_i = (i % 2 == 0) ? j : j + head_dim / 2;
    std::memcpy(&dst[(head * head_dim + new_i) * cols], &src[r * cols], cols * sizeof(float));
  }
  std::vector<uint8_t> bytes(dst.size() * 4);
  std::memcpy(bytes.data(), dst.data(), bytes.size());
  return bytes;
}

// Writes stories260K as a qwen2 file (zero biases); `permute` converts q/k rows to NeoX order.
std::filesystem::path write_as_qwen2(const shuo::format::GgufFile& src, bool permute, const char* tag) {
  const int head_dim = 8;
  shuo::format::GgufWriter w;
  for (const auto& [k, v] : src.metadata()) {
    std::string key = k;
    if (key.rfind("llama.", 0) == 0) key = "qwen2." + key.substr(6);
    w.set(key, v);
  }
  w.set_str("general.architecture", "qwen2");
  for (const auto& t : src.tensors()) {
    const bool qk = t.name.find("attn_q.weight") != std::string::npos || t.name.find("attn_k.weight") != std::string::npos;
    const bool qkv = qk || t.name.find("attn_v.weight") != std::string::npos;
    if (qk && permute) {
      EXPECT_TRUE(w.add_tensor_copy(t.name, t.type, t.ne, permute_rows(t, head_dim)).ok());
    } else {
      EXPECT_TRUE(w.add_tensor(t.name, t.type, t.ne, {t.data, t.n_bytes}).ok());
    }
    if (qkv) {
      const std::string bias = t.name.substr(0, t.name.size() - 6) + "bias";
      EXPECT_TRUE(w.add_tensor_copy(bias, shuo::format::GgmlType::F32, {t.ne[1]}, std::vector<uint8_t>(t.ne[1] * 4, 0)).ok());
    }
  }
  const auto path = std::filesystem::temp_directory_path() /
                    ("shuo_qwen2_" + std::string(tag) + "_" + std::to_string(::getpid()) + ".gguf");
  EXPECT_TRUE(w.write(path.string()).ok());
  return path;
}

// Max |logit difference| between llama (stories260K) and its qwen2 rewrite over a prompt.
float max_logit_diff(bool permute, const char* tag) {
  auto src = shuo::format::GgufFile::open(shuo::testing::stories_gguf());
  EXPECT_TRUE(src.ok());
  const auto path = write_as_qwen2(*src, permute, tag);
  auto qf = shuo::format::GgufFile::open(path.string());
  EXPECT_TRUE(qf.ok()) << qf.error().to_string();
  auto llama = shuo::model::load_model(*src);
  auto qwen = shuo::model::load_model(*qf);
  EXPECT_TRUE(llama.ok() && qwen.ok()) << (qwen.ok() ? "" : qwen.error().to_string());
  EXPECT_EQ((*qwen)->config().arch, "qwen2");
  EXPECT_EQ((*qwen)->config().rope_layout, shuo::kernels::RopeLayout::kNeox);
  shuo::tensor::ThreadPool pool(2);
  const int32_t V = (*llama)->config().n_vocab;
  const std::vector<int32_t> prompt = {1, 403, 407, 261, 378, 270, 260, 300, 42, 99, 17};
  auto ka = (*llama)->make_cache(64), kb = (*qwen)->make_cache(64);
  shuo::model::ForwardOutput a, b;
  shuo::model::SeqChunk ca{&ka, prompt, true}, cb{&kb, prompt, true};
  EXPECT_TRUE((*llama)->forward({&ca, 1}, a, pool).ok());
  EXPECT_TRUE((*qwen)->forward({&cb, 1}, b, pool).ok());
  float max_diff = 0;
  for (size_t t = 0; t < prompt.size(); ++t)
    for (int i = 0; i < V; ++i) max_diff = std::max(max_diff, std::fabs(a.row(0, t, V)[i] - b.row(0, t, V)[i]));
  std::filesystem::remove(path);
  return max_diff;
}

}  // namespace

TEST(Qwen2Equivalence, SameLogitsAsLlama) {
  SHUO_REQUIRE_TESTDATA("stories260K/model.gguf");
  EXPECT_LE(max_logit_diff(true, "perm"), 1e-4f);
}

// Negative control: the same file without the q/k permutation must differ, or the test above
// would prove nothing about the RoPE layout.
TEST(Qwen2Equivalence, UnpermutedWeightsDiffer) {
  SHUO_REQUIRE_TESTDATA("stories260K/model.gguf");
  EXPECT_GT(max_logit_diff(false, "noperm"), 1e-2f);
}
