// pp/tg timing loops and the read-bandwidth probe (see bench.h).
#include "engine/bench.h"

#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <random>

#include "kernels/attention.h"

namespace shuo::engine {

namespace {

double now_s() {
  return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

struct FreeDeleter {
  void operator()(void* p) const { std::free(p); }
};

// Eight independent accumulators so the loop is bound by loads, not by one add chain; the
// compiler vectorises it with the baseline ISA, which already reads far faster than DRAM.
uint64_t sum_words(const uint64_t* p, size_t n) {
  uint64_t s[8] = {};
  size_t i = 0;
  for (; i + 8 <= n; i += 8)
    for (int j = 0; j < 8; ++j) s[j] += p[i + j];
  for (; i < n; ++i) s[0] += p[i];
  uint64_t t = 0;
  for (uint64_t v : s) t += v;
  return t;
}

std::vector<int32_t> random_tokens(std::mt19937_64& rng, int32_t n_vocab, int64_t n) {
  std::uniform_int_distribution<int32_t> dist(0, n_vocab - 1);
  std::vector<int32_t> ids(n);
  for (auto& id : ids) id = dist(rng);
  return ids;
}

}  // namespace

double measure_read_bandwidth_gbs(tensor::ThreadPool& pool, size_t size_bytes, int reps) {
  const size_t n_words = size_bytes / sizeof(uint64_t);
  std::unique_ptr<uint64_t, FreeDeleter> buf(
      static_cast<uint64_t*>(std::aligned_alloc(2u << 20, (n_words * sizeof(uint64_t) + (2u << 20) - 1) / (2u << 20) * (2u << 20))));
  if (!buf) return 0;
  uint64_t* p = buf.get();
  // Whole 4 KiB pages per range so each thread first-touches only its own pages.
  constexpr int64_t kGrain = 4096 / sizeof(uint64_t);
  pool.parallel_for(int64_t(n_words), [&](int64_t b, int64_t e, int) {
    for (int64_t i = b; i < e; ++i) p[i] = uint64_t(i) * 0x9E3779B97F4A7C15ull;
  }, kGrain);
  std::vector<uint64_t> partial(pool.size());
  double best = 1e30;
  volatile uint64_t sink = 0;
  for (int r = 0; r < std::max(1, reps); ++r) {
    const double t0 = now_s();
    pool.parallel_for(int64_t(n_words), [&](int64_t b, int64_t e, int thread) {
      partial[thread] = sum_words(p + b, size_t(e - b));
    }, kGrain);
    const double t = now_s() - t0;
    for (uint64_t v : partial) sink = sink + v;
    best = std::min(best, t);
  }
  return double(n_words * sizeof(uint64_t)) / best / 1e9;
}

uint64_t matrix_weight_bytes(const format::GgufFile& file) {
  uint64_t total = 0;
  for (const auto& t : file.tensors())
    if (t.ne.size() >= 2) total += t.n_bytes;
  return total;
}

uint64_t decode_weight_bytes(const format::GgufFile& file) {
  const bool separate_head = file.find_tensor("output.weight") != nullptr;
  uint64_t total = 0;
  for (const auto& t : file.tensors()) {
    if (t.ne.size() < 2) continue;
    if (separate_head && t.name == "token_embd.weight") continue;
    total += t.n_bytes;
  }
  return total;
}

BenchStats summarize(const BenchSamples& s) {
  BenchStats st;
  if (s.seconds.empty()) return st;
  std::vector<double> tps;
  for (double sec : s.seconds) tps.push_back(sec > 0 ? double(s.tokens_per_run) / sec : 0.0);
  const double n = double(tps.size());
  for (double v : tps) st.mean += v / n;
  if (tps.size() > 1) {
    double ss = 0;
    for (double v : tps) ss += (v - st.mean) * (v - st.mean);
    st.stddev = std::sqrt(ss / (n - 1));
  }
  std::sort(tps.begin(), tps.end());
  const size_t m = tps.size() / 2;
  st.median = tps.size() % 2 ? tps[m] : 0.5 * (tps[m - 1] + tps[m]);
  return st;
}

namespace {
// Fills kv (from position 0) with `n` random tokens, in chunks so activations stay small.
Result<void> fill_cache(model::Model& model, model::KvCache& kv, int32_t n, std::mt19937_64& rng,
                        model::ForwardOutput& out, tensor::ThreadPool& pool) {
  constexpr int32_t kChunk = 512;
  kv.clear();
  const auto ids = random_tokens(rng, model.config().n_vocab, n);
  for (int32_t i = 0; i < n; i += kChunk) {
    model::SeqChunk chunk{&kv, std::span<const int32_t>(ids).subspan(i, std::min(kChunk, n - i)), false, true};
    SHUO_TRY(model.forward({&chunk, 1}, out, pool));
  }
  return {};
}
}  // namespace

Result<BenchSamples> bench_prompt(model::Model& model, int32_t n_prompt, int reps, tensor::ThreadPool& pool,
                                  uint64_t seed, format::GgmlType kv_type, int32_t depth) {
  if (n_prompt < 1) return Error{ErrorCode::kBadField, "-p", "must be ≥ 1"};
  if (depth < 0) return Error{ErrorCode::kBadField, "-d", "must be ≥ 0"};
  std::mt19937_64 rng(seed);
  const int32_t V = model.config().n_vocab;
  model::KvCache kv = model.make_cache(depth + n_prompt, kv_type);
  model::ForwardOutput out;
  SHUO_TRY(fill_cache(model, kv, depth, rng, out, pool));
  BenchSamples s{n_prompt, {}};
  for (int r = -1; r < reps; ++r) {  // r = -1: warm-up (pages the weights in)
    const auto ids = random_tokens(rng, V, n_prompt);
    kv.set_n_past(depth);
    model::SeqChunk chunk{&kv, ids, false};
    const double t0 = now_s();
    SHUO_TRY(model.forward({&chunk, 1}, out, pool));
    const double t = now_s() - t0;
    if (r >= 0) s.seconds.push_back(t);
  }
  return s;
}

Result<BenchSamples> bench_generate(model::Model& model, int32_t n_gen, int32_t batch, int reps,
                                    tensor::ThreadPool& pool, uint64_t seed, format::GgmlType kv_type,
                                    int32_t depth) {
  if (n_gen < 1) return Error{ErrorCode::kBadField, "-n", "must be ≥ 1"};
  if (batch < 1) return Error{ErrorCode::kBadField, "--batch", "must be ≥ 1"};
  if (depth < 0) return Error{ErrorCode::kBadField, "-d", "must be ≥ 0"};
  std::mt19937_64 rng(seed);
  const int32_t V = model.config().n_vocab;
  const int32_t prompt = depth > 0 ? depth : kBenchTgPrompt;
  std::vector<model::KvCache> kvs;
  model::ForwardOutput out;
  for (int32_t b = 0; b < batch; ++b) {
    kvs.push_back(model.make_cache(prompt + n_gen + 1, kv_type));
    SHUO_TRY(fill_cache(model, kvs.back(), prompt, rng, out, pool));
  }
  std::vector<model::SeqChunk> chunks(batch);
  BenchSamples s{int64_t(batch) * n_gen, {}};
  for (int r = -1; r < reps; ++r) {  // r = -1: warm-up with one step
    for (auto& kv : kvs) kv.set_n_past(prompt);
    const int32_t steps = r < 0 ? 1 : n_gen;
    // Drawn before the clock starts so the timed loop is forward() only.
    const auto ids = random_tokens(rng, V, int64_t(steps) * batch);
    const double t0 = now_s();
    for (int32_t step = 0; step < steps; ++step) {
      for (int32_t b = 0; b < batch; ++b) chunks[b] = {&kvs[b], {ids.data() + size_t(step) * batch + b, 1}, false};
      SHUO_TRY(model.forward(chunks, out, pool));
    }
    const double t = now_s() - t0;
    if (r >= 0) s.seconds.push_back(t);
  }
  return s;
}

uint64_t kv_bytes_per_position(const model::Model& model, format::GgmlType kv_type) {
  const auto& c = model.config();
  return uint64_t(2) * uint64_t(c.n_layer) * kernels::kv_row_bytes(kv_type, int64_t(c.n_head_kv) * c.head_dim);
}

int64_t resident_memory_bytes() {
  std::FILE* f = std::fopen("/proc/self/statm", "r");
  if (!f) return 0;
  long long size = 0, resident = 0;
  const int n = std::fscanf(f, "%lld %lld", &size, &resident);
  std::fclose(f);
  return n == 2 ? int64_t(resident) * int64_t(sysconf(_SC_PAGESIZE)) : 0;
}

}  // namespace shuo::engine
