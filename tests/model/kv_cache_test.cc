// The paged KV cache's sharing rules: reservations keep promised blocks from ordinary
// allocations; a fork shares every block and copies a shared block only when it writes into it
// (copy on write), so forked caches on stories260K give the same logits as recomputing each
// sequence from scratch; a forward pass refuses to write into a shared block.
#include <gtest/gtest.h>

#include <cmath>
#include <memory>
#include <vector>

#include "model/kv_cache.h"
#include "model/model_test_util.h"

using namespace shuo;

namespace {

float* f32(uint8_t* row) { return reinterpret_cast<float*>(row); }

// A pool whose K/V values are easy to check: 2 layers, rows of 3 floats, blocks of 16.
std::shared_ptr<model::KvBlockPool> small_pool(int32_t n_blocks) {
  return std::make_shared<model::KvBlockPool>(2, 3, 16, n_blocks);
}

// Writes a value derived from (layer, pos, i) into every K and V float of positions [from, to).
void fill(model::KvCache& kv, int32_t from, int32_t to, float tag) {
  for (int32_t l = 0; l < 2; ++l)
    for (int32_t p = from; p < to; ++p)
      for (int32_t i = 0; i < 3; ++i) {
        f32(kv.k(l, p))[i] = tag + float(l * 1000 + p * 10 + i);
        f32(kv.v(l, p))[i] = -(tag + float(l * 1000 + p * 10 + i));
      }
}

}  // namespace

TEST(KvReservation, PromisedBlocksAreNotHandedOutToOthers) {
  auto pool = small_pool(4);
  std::vector<int32_t> taken;
  {
    model::KvReservation res(pool);
    ASSERT_TRUE(res.resize(3));
    EXPECT_EQ(pool->n_reserved(), 3);
    EXPECT_EQ(pool->n_available(), 1);
    EXPECT_FALSE(res.resize(5));  // only 4 blocks exist
    EXPECT_EQ(res.size(), 3);
    auto a = pool->allocate();
    ASSERT_TRUE(a);
    taken.push_back(*a);
    EXPECT_FALSE(pool->allocate()) << "an ordinary allocation took a promised block";
    model::KvCache cache(pool);
    EXPECT_FALSE(cache.reserve(16));
    // The reservation's owner still gets its blocks.
    for (int i = 0; i < 2; ++i) {
      auto b = res.allocate();
      ASSERT_TRUE(b) << i;
      taken.push_back(*b);
    }
    EXPECT_EQ(res.size(), 1);
    EXPECT_EQ(pool->n_reserved(), 1);
    EXPECT_EQ(pool->n_free(), 1);
    EXPECT_EQ(pool->n_available(), 0);
  }
  // Destroying the reservation gives back what it still promised.
  EXPECT_EQ(pool->n_reserved(), 0);
  EXPECT_EQ(pool->n_available(), 1);
  for (int32_t b : taken) pool->release(b);
  EXPECT_EQ(pool->n_available(), 4);
  model::KvReservation res(pool);
  ASSERT_TRUE(res.resize(4));
  ASSERT_TRUE(res.resize(1));  // shrinking returns the rest at once
  EXPECT_EQ(pool->n_available(), 3);
}

TEST(KvReservation, CachedBlocksCannotBeRevivedPastAPromise) {
  auto pool = small_pool(2);
  const std::vector<int32_t> toks(16, 7);
  const uint64_t h = model::KvBlockPool::chain_hash(0, toks);
  {
    model::KvCache a(pool);
    ASSERT_TRUE(a.reserve(16));
    pool->publish(a.blocks()[0], h, toks);
  }
  EXPECT_EQ(pool->n_cached(), 1);
  model::KvReservation res(pool);
  ASSERT_TRUE(res.resize(2));  // the cached block counts as available: it can be evicted
  EXPECT_FALSE(pool->lookup(h, toks)) << "reviving the cached block would break the promise";
  ASSERT_TRUE(res.resize(1));
  auto b = pool->lookup(h, toks);
  ASSERT_TRUE(b);
  pool->release(*b);
}

TEST(KvCacheFork, SharesFullBlocksAndCopiesThePartialOneOnWrite) {
  auto pool = small_pool(8);
  model::KvCache a(pool);
  ASSERT_TRUE(a.reserve(20));
  fill(a, 0, 20, 0.5f);
  a.set_n_past(20);
  model::KvCache b = a.fork();
  EXPECT_EQ(b.n_past(), 20);
  EXPECT_EQ(b.blocks(), a.blocks());
  EXPECT_EQ(pool->ref_count(a.blocks()[0]), 2);
  EXPECT_EQ(pool->ref_count(a.blocks()[1]), 2);
  EXPECT_FALSE(a.writable(1));
  EXPECT_FALSE(b.writable(1));

  ASSERT_TRUE(b.prepare_append(1));
  EXPECT_EQ(b.blocks()[0], a.blocks()[0]) << "a full block must stay shared";
  EXPECT_NE(b.blocks()[1], a.blocks()[1]) << "the partial block must be copied before a write";
  EXPECT_EQ(pool->ref_count(a.blocks()[0]), 2);
  EXPECT_EQ(pool->ref_count(a.blocks()[1]), 1);
  EXPECT_TRUE(a.writable(1));
  EXPECT_TRUE(b.writable(1));
  // The copy holds the filled positions of every layer, K and V.
  for (int32_t l = 0; l < 2; ++l)
    for (int32_t p = 16; p < 20; ++p)
      for (int32_t i = 0; i < 3; ++i) {
        EXPECT_EQ(f32(b.k(l, p))[i], f32(a.k(l, p))[i]);
        EXPECT_EQ(f32(b.v(l, p))[i], f32(a.v(l, p))[i]);
      }
  // Writes now land in separate blocks.
  fill(b, 20, 21, 9.0f);
  fill(a, 20, 21, 3.0f);
  EXPECT_NE(f32(b.k(1, 20))[2], f32(a.k(1, 20))[2]);
  EXPECT_EQ(f32(b.k(1, 19))[2], f32(a.k(1, 19))[2]);

  // At a block boundary nothing is copied: the append needs a new block.
  model::KvCache c(pool);
  ASSERT_TRUE(c.reserve(16));
  c.set_n_past(16);
  model::KvCache d = c.fork();
  ASSERT_TRUE(d.prepare_append(1));
  EXPECT_EQ(d.blocks()[0], c.blocks()[0]);
  EXPECT_EQ(d.blocks().size(), 2u);
  EXPECT_EQ(pool->ref_count(d.blocks()[1]), 1);
}

TEST(KvCacheFork, BlocksReturnWhenTheForksAreGone) {
  auto pool = small_pool(6);
  {
    model::KvCache a(pool);
    ASSERT_TRUE(a.reserve(20));
    a.set_n_past(20);
    std::vector<model::KvCache> forks;
    for (int i = 0; i < 3; ++i) {
      forks.push_back(a.fork());
      ASSERT_TRUE(forks.back().prepare_append(1));
    }
    EXPECT_EQ(pool->n_in_use(), 2 + 3);  // shared full block, a's partial one, 3 private copies
    // The pool is short now: a fork that needs a copy fails cleanly.
    model::KvCache e = a.fork();
    model::KvCache hog(pool);
    ASSERT_TRUE(hog.reserve(16));
    EXPECT_FALSE(e.prepare_append(1));
  }
  EXPECT_EQ(pool->n_in_use(), 0);
}

// ---- on the model ---------------------------------------------------------------------------

namespace {

struct Stories {
  format::GgufFile file;
  std::unique_ptr<model::Model> model;
};

std::unique_ptr<Stories> load_stories() {
  auto f = format::GgufFile::open(shuo::testing::stories_gguf());
  EXPECT_TRUE(f.ok());
  auto s = std::make_unique<Stories>(Stories{std::move(*f), nullptr});
  auto m = model::load_model(s->file);
  EXPECT_TRUE(m.ok());
  s->model = std::move(*m);
  return s;
}

// Last-token logits of `tokens` computed from scratch in a private cache, in the same chunk
// shapes the forked caches saw (the prompt at once, then one token at a time).
std::vector<float> from_scratch(model::Model& m, tensor::ThreadPool& pool, const std::vector<int32_t>& tokens,
                                size_t n_prompt) {
  model::KvCache kv = m.make_cache(int32_t(tokens.size()));
  model::ForwardOutput out;
  model::SeqChunk c;
  c.kv = &kv;
  c.tokens = std::span<const int32_t>(tokens.data(), n_prompt);
  EXPECT_TRUE(m.forward(std::span(&c, 1), out, pool).ok());
  for (size_t i = n_prompt; i < tokens.size(); ++i) {
    c.tokens = std::span<const int32_t>(tokens.data() + i, 1);
    EXPECT_TRUE(m.forward(std::span(&c, 1), out, pool).ok());
  }
  const int32_t V = m.config().n_vocab;
  return std::vector<float>(out.row(0, 0, V), out.row(0, 0, V) + V);
}

}  // namespace

TEST(KvCacheFork, ForkedCachesGiveTheLogitsOfRecomputingEachSequence) {
  SHUO_REQUIRE_TESTDATA("stories260K/model.gguf");
  auto st = load_stories();
  model::Model& m = *st->model;
  const int32_t V = m.config().n_vocab;
  tensor::ThreadPool threads(1);
  auto pool = m.make_block_pool(64);

  // A 21-token prompt: one full block and 5 positions of a shared partial block.
  std::vector<int32_t> prompt = {1};
  for (int i = 1; i < 21; ++i) prompt.push_back(int32_t(3 + (i * 37) % (V - 3)));
  struct Seq {
    model::KvCache kv;
    std::vector<int32_t> tokens;
  };
  std::vector<Seq> seqs;
  seqs.push_back(Seq{model::KvCache(pool), prompt});
  ASSERT_TRUE(seqs[0].kv.reserve(int32_t(prompt.size())));
  {
    model::ForwardOutput out;
    model::SeqChunk c{&seqs[0].kv, std::span<const int32_t>(prompt)};
    ASSERT_TRUE(m.forward(std::span(&c, 1), out, threads).ok());
  }
  // Three beams from the prompt; at step 11 (n_past 32, a block boundary) beam 1 forks again,
  // and at step 14 (mid-block) beam 2 does.
  for (int i = 0; i < 2; ++i) seqs.push_back(Seq{seqs[0].kv.fork(), prompt});
  const int32_t shared0 = seqs[0].kv.blocks()[0];
  double max_diff = 0.0;
  int compared = 0;
  for (int step = 0; step < 24; ++step) {
    if (step == 11) seqs.push_back(Seq{seqs[1].kv.fork(), seqs[1].tokens});
    if (step == 14) seqs.push_back(Seq{seqs[2].kv.fork(), seqs[2].tokens});
    std::vector<model::SeqChunk> chunks;
    for (size_t b = 0; b < seqs.size(); ++b) {
      seqs[b].tokens.push_back(int32_t(3 + (step * 11 + int(b) * 101 + 7) % (V - 3)));
      ASSERT_TRUE(seqs[b].kv.prepare_append(1)) << "step " << step << " beam " << b;
      chunks.push_back(model::SeqChunk{&seqs[b].kv, std::span<const int32_t>(&seqs[b].tokens.back(), 1)});
    }
    model::ForwardOutput out;
    ASSERT_TRUE(m.forward(chunks, out, threads).ok());
    for (size_t b = 0; b < seqs.size(); ++b) {
      const auto ref = from_scratch(m, threads, seqs[b].tokens, prompt.size());
      const float* got = out.row(b, 0, V);
      for (int32_t i = 0; i < V; ++i) max_diff = std::max(max_diff, double(std::abs(got[i] - ref[i])));
      ++compared;
    }
    ASSERT_LT(max_diff, 1e-4) << "step " << step;
  }
  EXPECT_EQ(compared, 11 * 3 + 3 * 4 + 10 * 5);
  // The prompt's full block stayed shared by all five; their partial blocks are their own.
  for (const Seq& s : seqs) EXPECT_EQ(s.kv.blocks()[0], shared0);
  EXPECT_EQ(pool->ref_count(shared0), 5);
  for (size_t b = 1; b < seqs.size(); ++b) EXPECT_NE(seqs[b].kv.blocks()[1], seqs[0].kv.blocks()[1]);
}

TEST(KvCacheFork, ForwardRefusesToWriteIntoASharedBlock) {
  SHUO_REQUIRE_TESTDATA("stories260K/model.gguf");
  auto st = load_stories();
  model::Model& m = *st->model;
  tensor::ThreadPool threads(1);
  auto pool = m.make_block_pool(8);
  const std::vector<int32_t> prompt = {1, 5, 9, 13, 17};
  model::KvCache a(pool);
  ASSERT_TRUE(a.reserve(16));
  model::ForwardOutput out;
  model::SeqChunk c{&a, std::span<const int32_t>(prompt)};
  ASSERT_TRUE(m.forward(std::span(&c, 1), out, threads).ok());
  model::KvCache b = a.fork();
  const int32_t next = 20;
  c = model::SeqChunk{&b, std::span<const int32_t>(&next, 1)};
  auto r = m.forward(std::span(&c, 1), out, threads);
  ASSERT_FALSE(r.ok()) << "a write into a shared block would change the other cache";
  EXPECT_EQ(r.error().code, ErrorCode::kInternal);
  EXPECT_EQ(b.n_past(), 5);
  ASSERT_TRUE(b.prepare_append(1));
  EXPECT_TRUE(m.forward(std::span(&c, 1), out, threads).ok());
}
