// stories260K (a real trained Llama): first-step logits within tolerance and 64 greedy tokens
// exact for every reference case; prefill-in-one-pass equals token-by-token decode; two
// sequences batched in one forward equal each run alone.
#include <gtest/gtest.h>

#include <cmath>

#include "model_test_util.h"

using shuo::testing::argmax;

namespace {

struct Loaded {
  shuo::format::GgufFile file;
  std::unique_ptr<shuo::model::Model> model;
};

std::unique_ptr<Loaded> load() {
  auto f = shuo::format::GgufFile::open(shuo::testing::stories_gguf());
  EXPECT_TRUE(f.ok()) << f.error().to_string();
  auto l = std::make_unique<Loaded>(Loaded{std::move(*f), nullptr});
  auto m = shuo::model::load_model(l->file);
  EXPECT_TRUE(m.ok()) << m.error().to_string();
  l->model = std::move(*m);
  return l;
}

std::vector<int32_t> ids(const nlohmann::json& j) { return j.get<std::vector<int32_t>>(); }

}  // namespace

class StoriesReference : public ::testing::TestWithParam<int> {};

TEST_P(StoriesReference, LogitsAndGreedyTokensMatch) {
  SHUO_REQUIRE_TESTDATA("stories260K/reference.json");
  const auto ref = shuo::testing::stories_reference();
  const auto& c = ref["cases"][GetParam()];
  auto l = load();
  auto& model = *l->model;
  const int32_t V = model.config().n_vocab;
  ASSERT_EQ(V, 512);
  shuo::tensor::ThreadPool pool(2);
  auto kv = model.make_cache(512);
  shuo::model::ForwardOutput out;

  const auto prompt = ids(c["prompt_ids"]);
  shuo::model::SeqChunk chunk{&kv, prompt, false};
  ASSERT_TRUE(model.forward({&chunk, 1}, out, pool).ok());
  const auto first = c["first_step_logits"].get<std::vector<float>>();
  float max_diff = 0;
  for (int i = 0; i < V; ++i) max_diff = std::max(max_diff, std::fabs(out.row(0, 0, V)[i] - first[i]));
  EXPECT_LE(max_diff, 1e-3f) << c["name"];
  RecordProperty("first_step_max_abs_diff", std::to_string(max_diff));

  const auto want = ids(c["gen_ids"]);
  const auto& top5 = c["top5_per_step"];
  std::vector<int32_t> got;
  for (size_t step = 0; step < want.size(); ++step) {
    const float* logits = out.row(0, 0, V);
    const int32_t next = argmax(logits, V);
    // The reference's top-5 set at this step.
    std::vector<int32_t> order(V);
    for (int i = 0; i < V; ++i) order[i] = i;
    std::partial_sort(order.begin(), order.begin() + 5, order.end(),
                      [&](int a, int b) { return logits[a] > logits[b] || (logits[a] == logits[b] && a < b); });
    std::vector<int32_t> mine(order.begin(), order.begin() + 5), theirs = ids(top5[step]);
    std::sort(mine.begin(), mine.end());
    std::sort(theirs.begin(), theirs.end());
    EXPECT_EQ(mine, theirs) << c["name"] << " step " << step;
    got.push_back(next);
    const int32_t tok = next;
    shuo::model::SeqChunk step_chunk{&kv, {&tok, 1}, false};
    ASSERT_TRUE(model.forward({&step_chunk, 1}, out, pool).ok());
  }
  EXPECT_EQ(got, want) << c["name"];
}

INSTANTIATE_TEST_SUITE_P(Cases, StoriesReference, ::testing::Range(0, 7));

TEST(StoriesModel, PrefillEqualsTokenByToken) {
  SHUO_REQUIRE_TESTDATA("stories260K/model.gguf");
  auto l = load();
  auto& model = *l->model;
  const int32_t V = model.config().n_vocab;
  shuo::tensor::ThreadPool pool(2);
  const std::vector<int32_t> prompt = {1, 403, 407, 261, 378, 270, 260, 1166 % 512, 42};
  auto kv_a = model.make_cache(64), kv_b = model.make_cache(64);
  shuo::model::ForwardOutput a, b;
  shuo::model::SeqChunk whole{&kv_a, prompt, true};
  ASSERT_TRUE(model.forward({&whole, 1}, a, pool).ok());
  for (size_t t = 0; t < prompt.size(); ++t) {
    shuo::model::SeqChunk one{&kv_b, {&prompt[t], 1}, false};
    ASSERT_TRUE(model.forward({&one, 1}, b, pool).ok());
    for (int i = 0; i < V; ++i)
      ASSERT_NEAR(a.row(0, int64_t(t), V)[i], b.row(0, 0, V)[i], 1e-4) << "token " << t << " logit " << i;
  }
  EXPECT_EQ(kv_a.n_past(), int32_t(prompt.size()));
}

TEST(StoriesModel, BatchedSequencesEqualSeparateRuns) {
  SHUO_REQUIRE_TESTDATA("stories260K/model.gguf");
  auto l = load();
  auto& model = *l->model;
  const int32_t V = model.config().n_vocab;
  shuo::tensor::ThreadPool pool(2);
  const std::vector<int32_t> p1 = {1, 403, 407, 261}, p2 = {1, 300, 301, 302, 303, 304};
  auto k1 = model.make_cache(32), k2 = model.make_cache(32), k3 = model.make_cache(32);
  shuo::model::ForwardOutput both, alone;
  shuo::model::SeqChunk chunks[2] = {{&k1, p1, false}, {&k2, p2, false}};
  ASSERT_TRUE(model.forward(chunks, both, pool).ok());
  shuo::model::SeqChunk single{&k3, p2, false};
  ASSERT_TRUE(model.forward({&single, 1}, alone, pool).ok());
  for (int i = 0; i < V; ++i) ASSERT_NEAR(both.row(1, 0, V)[i], alone.row(0, 0, V)[i], 1e-5);
}

TEST(StoriesModel, RejectsBadTokensAndFullCache) {
  SHUO_REQUIRE_TESTDATA("stories260K/model.gguf");
  auto l = load();
  shuo::tensor::ThreadPool pool(1);
  auto kv = l->model->make_cache(4);
  shuo::model::ForwardOutput out;
  const std::vector<int32_t> bad = {1, 512};
  shuo::model::SeqChunk c1{&kv, bad, false};
  auto r = l->model->forward({&c1, 1}, out, pool);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().where, "tokens");
  EXPECT_EQ(kv.n_past(), 0);  // nothing was written
  const std::vector<int32_t> many(kv.capacity() + 1, 5);  // capacity rounds up to whole blocks
  shuo::model::SeqChunk c2{&kv, many, false};
  r = l->model->forward({&c2, 1}, out, pool);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, shuo::ErrorCode::kLimit);
}
