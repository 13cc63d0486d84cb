// Speed measurement behind `shuo bench` (llama-bench's pp/tg tests) and the memory read
// bandwidth probe that turns decode speed into "% of the bandwidth bound". Only measures:
// what it times (Model::forward) is tested elsewhere.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "core/result.h"
#include "format/gguf.h"
#include "model/model.h"
#include "tensor/thread_pool.h"

namespace shuo::engine {

// Best-of-`reps` read bandwidth in GB/s (1e9 bytes) of a sum over a `size_bytes` buffer split
// across the pool's threads, each thread touching (first-touch) its own part. Like membw.c's
// "read" test; size_bytes should be ≥ 512 MiB so caches do not count.
// Resident memory of this process now (/proc/self/statm), bytes; 0 where it cannot be read.
int64_t resident_memory_bytes();

double measure_read_bandwidth_gbs(tensor::ThreadPool& pool, size_t size_bytes, int reps);

// Bytes of weights one decode step reads in full: every 2-D tensor except token_embd when a
// separate output.weight exists (then only one embedding row per token is read). With tied
// embeddings token_embd is the LM head and counts once. 1-D tensors (norms, biases) are left out.
uint64_t decode_weight_bytes(const format::GgufFile& file);
// Bytes of all 2-D tensors (llama-bench's "size" without the small 1-D tensors).
uint64_t matrix_weight_bytes(const format::GgufFile& file);

// One timed run per entry of `seconds`; tokens per run is the same for all.
struct BenchSamples {
  int64_t tokens_per_run = 0;
  std::vector<double> seconds;
};

struct BenchStats {
  double mean = 0, stddev = 0, median = 0;  // tokens/s; stddev is the sample stddev (n - 1)
};
BenchStats summarize(const BenchSamples& s);

// pp: one forward of n_prompt random token ids (logits for the last only) into a cache that
// already holds `depth` random positions (filled once, untimed; llama-bench's -d), so attention
// over a long context is part of what is timed. One untimed warm-up run precedes the `reps`
// timed ones.
Result<BenchSamples> bench_prompt(model::Model& model, int32_t n_prompt, int reps, tensor::ThreadPool& pool,
                                  uint64_t seed, format::GgmlType kv_type = format::GgmlType::F16,
                                  int32_t depth = 0);

// tg: `batch` sequences each get a cache holding a random prompt of `depth` positions
// (kBenchTgPrompt when depth is 0; filled once, untimed), then n_gen steps, each one forward
// with one random token per sequence (no sampling: like llama-bench). Every run starts again
// from the end of that prompt. tokens_per_run = batch * n_gen. One untimed warm-up step
// precedes the timed runs.
Result<BenchSamples> bench_generate(model::Model& model, int32_t n_gen, int32_t batch, int reps,
                                    tensor::ThreadPool& pool, uint64_t seed,
                                    format::GgmlType kv_type = format::GgmlType::F16, int32_t depth = 0);

// Bytes of K and V one position of one sequence occupies in a cache of kv_type (all layers):
// what a decode step reads per cached position on top of the weights.
uint64_t kv_bytes_per_position(const model::Model& model, format::GgmlType kv_type);

// Short prompt that each tg sequence starts from.
inline constexpr int32_t kBenchTgPrompt = 8;

}  // namespace shuo::engine
