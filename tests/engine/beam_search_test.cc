// Beam search on the engine with stories260K: one beam is greedy decoding; four beams find a
// continuation at least as likely as greedy's (log-probabilities recomputed with the model);
// results are distinct and ranked; stop callbacks end beams; beams batch with other requests
// without disturbing them; every KV block and promise returns after finish and after cancel.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include <chrono>
#include <cmath>
#include <condition_variable>
#include <mutex>
#include <set>
#include <thread>

#include "engine/engine.h"
#include "engine/sampler.h"
#include "format/gguf.h"
#include "stories_fixture.h"
#include "test_support.h"

using namespace shuo;
using namespace std::chrono_literals;

namespace {

using Fixture = shuo::testing::StoriesModel;
std::unique_ptr<Fixture> load() { return shuo::testing::load_stories(); }

// One request's events; wait() blocks until the last one.
struct Collector {
  std::mutex mu;
  std::condition_variable cv;
  std::vector<int32_t> tokens;
  engine::TokenEvent last;
  bool finished = false;
  engine::TokenEventFn fn() {
    return [this](const engine::TokenEvent& e) {
      std::lock_guard<std::mutex> lock(mu);
      if (e.token >= 0) tokens.push_back(e.token);
      if (e.finish != engine::FinishReason::kNone) {
        last = e;
        finished = true;
        cv.notify_all();
      }
    };
  }
  bool wait(std::chrono::milliseconds timeout = 60s) {
    std::unique_lock<std::mutex> lock(mu);
    return cv.wait_for(lock, timeout, [&] { return finished; });
  }
};

engine::EngineOptions options(int max_running = 8) {
  engine::EngineOptions o;
  o.n_ctx = 512;
  o.max_running = max_running;
  o.threads = 1;
  return o;
}

engine::EngineRequest beam_request(std::vector<int32_t> prompt, int beams, int max_tokens, int n_results = 1) {
  engine::EngineRequest r;
  r.prompt = std::move(prompt);
  r.sampling.temperature = 0.0f;
  r.max_tokens = max_tokens;
  r.beam.num_beams = beams;
  r.beam.n_results = n_results;
  return r;
}

std::vector<int32_t> ids(const engine::BeamResult& b) {
  std::vector<int32_t> out;
  for (const auto& t : b.tokens) out.push_back(t.token);
  return out;
}

// Runs a beam request to its end and returns the final event.
engine::TokenEvent run(engine::Engine& eng, engine::EngineRequest req) {
  Collector col;
  auto h = eng.submit(std::move(req), col.fn());
  EXPECT_TRUE(h.ok()) << h.error().to_string();
  if (!h.ok()) return {};
  EXPECT_TRUE(col.wait());
  EXPECT_TRUE(col.tokens.empty()) << "beam search sends no per-token events";
  return col.last;
}

std::vector<int32_t> run_greedy(engine::Engine& eng, std::vector<int32_t> prompt, int max_tokens) {
  Collector col;
  engine::EngineRequest r;
  r.prompt = std::move(prompt);
  r.sampling.temperature = 0.0f;
  r.max_tokens = max_tokens;
  EXPECT_TRUE(eng.submit(r, col.fn()).ok());
  EXPECT_TRUE(col.wait());
  return col.tokens;
}

// Σ log p(generated[i] | prompt, generated[<i]) by one fresh forward pass over everything, on
// a cache of the engine's element type (F16 rounding moves log-probabilities by ~1e-3).
double sequence_logprob(model::Model& m, const std::vector<int32_t>& prompt, const std::vector<int32_t>& gen) {
  std::vector<int32_t> all = prompt;
  all.insert(all.end(), gen.begin(), gen.end());
  model::KvCache kv = m.make_cache(int32_t(all.size()), engine::EngineOptions{}.kv_type);
  tensor::ThreadPool pool(1);
  model::ForwardOutput out;
  model::SeqChunk c{&kv, std::span<const int32_t>(all)};
  c.all_logits = true;
  EXPECT_TRUE(m.forward(std::span(&c, 1), out, pool).ok());
  const int32_t V = m.config().n_vocab;
  std::vector<float> lp(V);
  double sum = 0.0;
  for (size_t i = 0; i < gen.size(); ++i) {
    const float* row = out.row(0, int64_t(prompt.size() + i - 1), V);
    engine::Sampler::log_softmax(std::span<const float>(row, V), lp);
    sum += lp[gen[i]];
  }
  return sum;
}

}  // namespace

TEST(BeamSearch, OneBeamIsGreedy) {
  SHUO_REQUIRE_TESTDATA("stories260K/reference.json");
  auto fx = load();
  engine::Engine eng(*fx->model, options());
  for (const auto& c : fx->ref["cases"]) {
    auto ev = run(eng, beam_request(c["prompt_ids"].get<std::vector<int32_t>>(), 1, 64));
    ASSERT_EQ(ev.beams.size(), 1u) << c["name"];
    EXPECT_EQ(ids(ev.beams[0]), c["gen_ids"].get<std::vector<int32_t>>()) << c["name"];
    EXPECT_EQ(ev.finish, engine::FinishReason::kLength);
    EXPECT_EQ(ev.n_generated, 64);
    EXPECT_EQ(ev.n_prompt, int(c["prompt_ids"].size()));
  }
}

TEST(BeamSearch, OneBeamIsGreedyWithAnEndToken) {
  SHUO_REQUIRE_TESTDATA("stories260K/reference.json");
  auto fx = load();
  // The reference's 6th greedy token ends generation: both paths must stop before it.
  const auto& c = fx->ref["cases"][1];
  const auto gen = c["gen_ids"].get<std::vector<int32_t>>();
  const int32_t end = gen[5];
  auto opts = options();
  opts.is_eog = [end](int32_t id) { return id == end; };
  engine::Engine eng(*fx->model, opts);
  const auto prompt = c["prompt_ids"].get<std::vector<int32_t>>();
  const auto greedy = run_greedy(eng, prompt, 64);
  auto ev = run(eng, beam_request(prompt, 1, 64));
  ASSERT_EQ(ev.beams.size(), 1u);
  EXPECT_EQ(ids(ev.beams[0]), greedy);
  EXPECT_EQ(ev.beams[0].finish, engine::FinishReason::kStop);
  EXPECT_LT(greedy.size(), 64u);
}

TEST(BeamSearch, FourBeamsAreAtLeastAsLikelyAsGreedy) {
  SHUO_REQUIRE_TESTDATA("stories260K/reference.json");
  auto fx = load();
  engine::Engine eng(*fx->model, options());
  int better = 0;
  for (const auto& c : fx->ref["cases"]) {
    const auto prompt = c["prompt_ids"].get<std::vector<int32_t>>();
    const auto greedy = c["gen_ids"].get<std::vector<int32_t>>();
    const std::vector<int32_t> greedy24(greedy.begin(), greedy.begin() + 24);
    auto ev = run(eng, beam_request(prompt, 4, 24));
    ASSERT_EQ(ev.beams.size(), 1u);
    const auto best = ids(ev.beams[0]);
    ASSERT_EQ(best.size(), 24u) << c["name"];
    const double lp_beam = sequence_logprob(*fx->model, prompt, best);
    const double lp_greedy = sequence_logprob(*fx->model, prompt, greedy24);
    EXPECT_NEAR(ev.beams[0].sum_logprob, lp_beam, 1e-3) << c["name"];
    EXPECT_NEAR(ev.beams[0].score, lp_beam / 24.0, 1e-4) << "length_penalty 1: mean log-probability";
    EXPECT_GE(lp_beam, lp_greedy - 1e-4) << c["name"];
    if (lp_beam > lp_greedy + 1e-3) ++better;
  }
  // Otherwise the search never looked past the greedy path.
  EXPECT_GT(better, 0);
}

TEST(BeamSearch, ResultsAreDistinctRankedAndScored) {
  SHUO_REQUIRE_TESTDATA("stories260K/reference.json");
  auto fx = load();
  engine::Engine eng(*fx->model, options());
  const auto prompt = fx->ref["cases"][0]["prompt_ids"].get<std::vector<int32_t>>();
  auto req = beam_request(prompt, 4, 12, 3);
  req.want_logprobs = true;
  req.top_logprobs = 2;
  req.beam.length_penalty = 0.5f;
  auto ev = run(eng, req);
  ASSERT_EQ(ev.beams.size(), 3u);
  std::set<std::vector<int32_t>> seen;
  int total = 0;
  for (size_t i = 0; i < ev.beams.size(); ++i) {
    const auto& b = ev.beams[i];
    seen.insert(ids(b));
    total += int(b.tokens.size());
    double sum = 0.0;
    for (const auto& t : b.tokens) {
      sum += t.logprob;
      ASSERT_EQ(t.top.size(), 2u);
      EXPECT_GE(t.top[0].second, t.logprob - 1e-6);  // the best alternative is at least as likely
    }
    EXPECT_NEAR(b.sum_logprob, sum, 1e-3);
    EXPECT_NEAR(b.score, b.sum_logprob / std::pow(double(b.tokens.size()), 0.5), 1e-6);
    if (i > 0) EXPECT_GE(ev.beams[i - 1].score, b.score);
  }
  EXPECT_EQ(seen.size(), 3u);
  EXPECT_EQ(ev.n_generated, total);
  // Deterministic: the same request gives the same beams.
  auto again = run(eng, req);
  ASSERT_EQ(again.beams.size(), 3u);
  for (size_t i = 0; i < 3; ++i) EXPECT_EQ(ids(again.beams[i]), ids(ev.beams[i]));
}

TEST(BeamSearch, StopCallbackEndsBeams) {
  SHUO_REQUIRE_TESTDATA("stories260K/reference.json");
  auto fx = load();
  engine::Engine eng(*fx->model, options());
  const auto& c = fx->ref["cases"][0];
  const int32_t stop = c["gen_ids"][3];  // greedy reaches it soon, so some beams do too
  auto req = beam_request(c["prompt_ids"].get<std::vector<int32_t>>(), 4, 20, 4);
  req.beam.early_stopping = engine::EarlyStopping::kNever;
  req.beam.is_stopped = [stop](std::span<const int32_t> gen) { return gen.back() == stop; };
  auto ev = run(eng, req);
  ASSERT_EQ(ev.beams.size(), 4u);
  int stopped = 0;
  for (const auto& b : ev.beams) {
    const auto t = ids(b);
    const auto first = std::find(t.begin(), t.end(), stop);
    if (b.finish == engine::FinishReason::kStop) {
      ++stopped;
      ASSERT_FALSE(t.empty());
      EXPECT_EQ(first, t.end() - 1) << "a stopped beam ends at its first stop token";
    } else {
      EXPECT_EQ(b.finish, engine::FinishReason::kLength);
      EXPECT_EQ(t.size(), 20u);
      EXPECT_EQ(first, t.end()) << "a beam that ran to max_tokens never met the stop";
    }
  }
  EXPECT_GT(stopped, 0);
}

TEST(BeamSearch, EarlyStoppingTrueEndsWithTheFirstFinishedBeams) {
  SHUO_REQUIRE_TESTDATA("stories260K/reference.json");
  auto fx = load();
  const auto& c = fx->ref["cases"][0];
  const int32_t end = c["gen_ids"][3];
  auto opts = options();
  opts.is_eog = [end](int32_t id) { return id == end; };
  engine::Engine eng(*fx->model, opts);
  auto req = beam_request(c["prompt_ids"].get<std::vector<int32_t>>(), 2, 60, 2);
  req.beam.early_stopping = engine::EarlyStopping::kFirst;
  auto ev = run(eng, req);
  ASSERT_EQ(ev.beams.size(), 2u);
  for (const auto& b : ev.beams) EXPECT_EQ(b.finish, engine::FinishReason::kStop);
  // The end token counts in the length: score = sum / (tokens + 1).
  for (const auto& b : ev.beams) EXPECT_NEAR(b.score, b.sum_logprob / double(b.tokens.size() + 1), 1e-9);
  // With min_tokens the end token is masked until then.
  req.min_tokens = 10;
  auto later = run(eng, req);
  for (const auto& b : later.beams) EXPECT_GE(b.tokens.size(), 10u);
}

TEST(BeamSearch, BatchesWithOtherRequestsWithoutChangingThem) {
  SHUO_REQUIRE_TESTDATA("stories260K/reference.json");
  auto fx = load();
  const auto& cases = fx->ref["cases"];
  const auto prompt = cases[3]["prompt_ids"].get<std::vector<int32_t>>();
  std::vector<int32_t> alone;
  {
    engine::Engine eng(*fx->model, options());
    alone = ids(run(eng, beam_request(prompt, 3, 40)).beams.at(0));
  }
  // Three slots: the 3-beam request runs alone or waits while greedy requests run; small
  // prefill chunks mix prompts with beams' decode steps.
  auto opts = options(3);
  opts.prefill_budget = 3;
  engine::Engine eng(*fx->model, opts);
  std::vector<std::unique_ptr<Collector>> greedy;
  Collector beams;
  for (int i = 0; i < 3; ++i) {
    greedy.push_back(std::make_unique<Collector>());
    engine::EngineRequest r;
    r.prompt = cases[i]["prompt_ids"].get<std::vector<int32_t>>();
    r.sampling.temperature = 0.0f;
    r.max_tokens = 64;
    ASSERT_TRUE(eng.submit(r, greedy.back()->fn()).ok());
    if (i == 0) ASSERT_TRUE(eng.submit(beam_request(prompt, 3, 40), beams.fn()).ok());
  }
  for (int i = 0; i < 3; ++i) {
    ASSERT_TRUE(greedy[i]->wait());
    EXPECT_EQ(greedy[i]->tokens, cases[i]["gen_ids"].get<std::vector<int32_t>>()) << i;
  }
  ASSERT_TRUE(beams.wait());
  ASSERT_EQ(beams.last.beams.size(), 1u);
  EXPECT_EQ(ids(beams.last.beams[0]), alone);
  EXPECT_EQ(eng.stats().running, 0);
}

TEST(BeamSearch, BlocksReturnAfterFinish) {
  SHUO_REQUIRE_TESTDATA("stories260K/reference.json");
  auto fx = load();
  engine::Engine eng(*fx->model, options());
  const auto before = eng.stats();
  EXPECT_EQ(before.kv_blocks_used, 0);
  const auto prompt = fx->ref["cases"][3]["prompt_ids"].get<std::vector<int32_t>>();
  auto ev = run(eng, beam_request(prompt, 4, 50, 2));
  EXPECT_EQ(ev.beams.size(), 2u);
  // The stats are current when the finish is delivered.
  const auto after = eng.stats();
  EXPECT_EQ(after.running, 0);
  EXPECT_EQ(after.kv_blocks_used, 0);
  EXPECT_EQ(after.kv_blocks_reserved, 0);
  EXPECT_EQ(after.kv_bytes, 0);
}

TEST(BeamSearch, CancelFreesEveryBeam) {
  SHUO_REQUIRE_TESTDATA("stories260K/reference.json");
  auto fx = load();
  auto opts = options(4);
  opts.n_ctx = 2048;
  engine::Engine eng(*fx->model, opts);
  Collector col;
  auto req = beam_request(fx->ref["cases"][0]["prompt_ids"].get<std::vector<int32_t>>(), 4, 2000);
  req.ignore_eos = true;
  auto h = eng.submit(req, col.fn());
  ASSERT_TRUE(h.ok());
  // Let the beams grow past a few blocks, then cancel.
  for (int i = 0; i < 20000 && eng.stats().generated_tokens < 200; ++i) std::this_thread::sleep_for(1ms);
  const auto mid = eng.stats();
  EXPECT_EQ(mid.running, 4);
  EXPECT_GT(mid.kv_blocks_used, 4);
  EXPECT_GT(mid.kv_blocks_reserved, 0);
  (*h)->cancel();
  ASSERT_TRUE(col.wait());
  EXPECT_EQ(col.last.finish, engine::FinishReason::kCancelled);
  EXPECT_TRUE(col.last.beams.empty());
  const auto after = eng.stats();
  EXPECT_EQ(after.running, 0);
  EXPECT_EQ(after.kv_blocks_used, 0);
  EXPECT_EQ(after.kv_blocks_reserved, 0);
}

TEST(BeamSearch, LimitsAreErrors) {
  SHUO_REQUIRE_TESTDATA("stories260K/model.gguf");
  auto fx = load();
  auto opts = options(4);
  opts.kv_blocks = 40;
  engine::Engine eng(*fx->model, opts);
  const std::vector<int32_t> prompt = {1, 2, 3};
  auto err = [&](engine::EngineRequest r) {
    auto h = eng.submit(std::move(r), nullptr);
    EXPECT_FALSE(h.ok());
    return h.ok() ? std::string("(accepted)") : h.error().where;
  };
  EXPECT_EQ(err(beam_request(prompt, 9, 8)), "num_beams");
  EXPECT_EQ(err(beam_request(prompt, 5, 8)), "num_beams");   // more than max_running
  EXPECT_EQ(err(beam_request(prompt, -1, 8)), "num_beams");
  EXPECT_EQ(err(beam_request(prompt, 2, 8, 3)), "n");
  EXPECT_EQ(err(beam_request(prompt, 2, 8, 0)), "n");
  EXPECT_EQ(err(beam_request(prompt, 4, 200)), "num_beams");  // 4 × 13 blocks > 40
  auto nan_penalty = beam_request(prompt, 2, 8);
  nan_penalty.beam.length_penalty = std::nanf("");
  EXPECT_EQ(err(nan_penalty), "length_penalty");
  Collector ok;
  ASSERT_TRUE(eng.submit(beam_request(prompt, 4, 100), ok.fn()).ok());  // 4 × 7 blocks fit
  ASSERT_TRUE(ok.wait());
  EXPECT_EQ(ok.last.beams.size(), 1u);
}
