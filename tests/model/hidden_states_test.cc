// SeqChunk::hidden: the final-normed hidden states forward() returns for embeddings. They do not
// depend on how tokens are split into chunks or batched, and asking for them changes no logits.
#include <gtest/gtest.h>

#include <cmath>

#include "model_test_util.h"

namespace {

using shuo::model::ForwardOutput;
using shuo::model::SeqChunk;

constexpr int32_t kE = 64;  // stories260K n_embd

struct Fixture {
  shuo::format::GgufFile file;
  std::unique_ptr<shuo::model::Model> model;
};

std::unique_ptr<Fixture> load() {
  auto f = shuo::format::GgufFile::open(shuo::testing::stories_gguf());
  EXPECT_TRUE(f.ok());
  auto fx = std::make_unique<Fixture>(Fixture{std::move(*f), nullptr});
  auto m = shuo::model::load_model(fx->file);
  EXPECT_TRUE(m.ok());
  fx->model = std::move(*m);
  return fx;
}

const std::vector<int32_t> kPrompt = {1, 403, 407, 261, 378};  // <s> Once upon a time

TEST(HiddenStates, OnePassEqualsTokenByToken) {
  SHUO_REQUIRE_TESTDATA("stories260K/model.gguf");
  auto fx = load();
  auto& model = *fx->model;
  ASSERT_EQ(model.config().n_embd, kE);
  shuo::tensor::ThreadPool pool(1);

  auto kv = model.make_cache(16);
  SeqChunk all{&kv, kPrompt};
  all.no_logits = true;
  all.hidden = true;
  ForwardOutput out;
  ASSERT_TRUE(model.forward({&all, 1}, out, pool).ok());
  ASSERT_GE(out.hidden.size(), kPrompt.size() * kE);
  ASSERT_EQ(out.hidden_offset.size(), 1u);

  auto kv1 = model.make_cache(16);
  for (size_t t = 0; t < kPrompt.size(); ++t) {
    SeqChunk one{&kv1, std::span<const int32_t>(&kPrompt[t], 1)};
    one.hidden = true;
    ForwardOutput o1;
    ASSERT_TRUE(model.forward({&one, 1}, o1, pool).ok());
    double norm_sq = 0;
    for (int32_t i = 0; i < kE; ++i) {
      const float want = out.hidden_row(0, int64_t(t), kE)[i], got = o1.hidden_row(0, 0, kE)[i];
      ASSERT_TRUE(std::isfinite(got));
      EXPECT_NEAR(got, want, 1e-4f) << "token " << t << " dim " << i;
      norm_sq += double(got) * got;
    }
    EXPECT_GT(norm_sq, 0.0);
  }
}

TEST(HiddenStates, OnlyChunksThatAskGetRowsAndLogitsAreUnchanged) {
  SHUO_REQUIRE_TESTDATA("stories260K/model.gguf");
  auto fx = load();
  auto& model = *fx->model;
  const int32_t V = model.config().n_vocab;
  shuo::tensor::ThreadPool pool(1);

  // Alone, without hidden states: the reference logits.
  auto kv_ref = model.make_cache(16);
  SeqChunk ref{&kv_ref, kPrompt};
  ForwardOutput out_ref;
  ASSERT_TRUE(model.forward({&ref, 1}, out_ref, pool).ok());
  EXPECT_TRUE(out_ref.hidden_offset.size() <= 1 && (out_ref.hidden_offset.empty() || out_ref.hidden_offset[0] == 0));

  // Batched: a chunk without hidden states first, then one with.
  const std::vector<int32_t> other = {1, 291, 280, 294};
  auto kv_a = model.make_cache(16), kv_b = model.make_cache(16);
  SeqChunk chunks[2] = {{&kv_a, other}, {&kv_b, kPrompt}};
  chunks[1].hidden = true;
  ForwardOutput out;
  ASSERT_TRUE(model.forward(chunks, out, pool).ok());
  ASSERT_EQ(out.hidden_offset.size(), 2u);
  EXPECT_EQ(out.hidden_offset[1], 0);  // the first chunk has no rows
  for (int32_t i = 0; i < V; ++i) EXPECT_NEAR(out.row(1, 0, V)[i], out_ref.row(0, 0, V)[i], 1e-4f);

  auto kv_c = model.make_cache(16);
  SeqChunk alone{&kv_c, kPrompt};
  alone.hidden = true;
  alone.no_logits = true;
  ForwardOutput out_alone;
  ASSERT_TRUE(model.forward({&alone, 1}, out_alone, pool).ok());
  for (size_t t = 0; t < kPrompt.size(); ++t)
    for (int32_t i = 0; i < kE; ++i)
      EXPECT_NEAR(out.hidden_row(1, int64_t(t), kE)[i], out_alone.hidden_row(0, int64_t(t), kE)[i], 1e-4f);
}

}  // namespace
