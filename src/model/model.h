// The model interface the engine drives: load from GGUF, run a batch of sequence chunks, get
// logits. One implementation per family (decoder.h: llama/qwen2); one file per architecture.
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <vector>

#include "core/result.h"
#include "format/gguf.h"
#include "model/config.h"
#include "model/kv_cache.h"
#include "tensor/thread_pool.h"

namespace shuo::model {

// New tokens of one sequence, appended to its cache at positions kv->n_past() onward.
struct SeqChunk {
  KvCache* kv = nullptr;
  std::span<const int32_t> tokens;
  bool all_logits = false;  // logits for every token of the chunk, else only for the last
  bool no_logits = false;   // none at all (a prefill chunk that does not end the prompt)
  bool hidden = false;      // also every token's final-normed hidden state (embeddings)
};

// Where forward() puts its results: per chunk, logits rows in token order (chunks with
// no_logits have none; their chunk_offset is that of the next row).
struct ForwardOutput {
  std::vector<float> logits;          // [Σ rows, n_vocab]
  std::vector<int64_t> chunk_offset;  // first row of chunk i in `logits`
  const float* row(size_t chunk, int64_t i, int32_t n_vocab) const {
    return logits.data() + (chunk_offset[chunk] + i) * n_vocab;
  }
  // Chunks with `hidden`: the last layer's output after the final norm, one row per token.
  std::vector<float> hidden;           // [Σ tokens of those chunks, n_embd]
  std::vector<int64_t> hidden_offset;  // first row of chunk i in `hidden`
  const float* hidden_row(size_t chunk, int64_t i, int32_t n_embd) const {
    return hidden.data() + (hidden_offset[chunk] + i) * n_embd;
  }
};

class Model {
 public:
  virtual ~Model() = default;
  const ModelConfig& config() const { return config_; }

  // Runs every chunk through the model in one pass (weights are read once for all tokens) and
  // advances each chunk's cache. Errors: a chunk past its cache capacity, a token id out of range.
  virtual Result<void> forward(std::span<const SeqChunk> chunks, ForwardOutput& out,
                               tensor::ThreadPool& pool) = 0;

  // Whether this model's KV cache can store elements of `type` (kernels::kv_type_fits: Q8_0
  // needs a head size that is a multiple of 32). The error names the type and the head size.
  Result<void> check_kv_type(format::GgmlType type) const;

  // A pool of KV blocks that sequences of this model can share.
  // `type`: F32, F16 or Q8_0 elements that check_kv_type accepts.
  std::shared_ptr<KvBlockPool> make_block_pool(int32_t n_blocks, int32_t block_size = KvBlockPool::kDefaultBlockSize,
                                               format::GgmlType type = format::GgmlType::F32) const {
    return std::make_shared<KvBlockPool>(config_.n_layer, int64_t(config_.n_head_kv) * config_.head_dim, block_size, n_blocks, type);
  }

  // Which kernel set the forward pass uses ("avx512", "avx2", "scalar").
  virtual const char* kernel_isa() const = 0;

  // A single-sequence cache with its own pool, holding at least `capacity` positions.
  KvCache make_cache(int32_t capacity, format::GgmlType type = format::GgmlType::F32) const {
    return KvCache(config_.n_layer, int64_t(config_.n_head_kv) * config_.head_dim, capacity, type);
  }

 protected:
  ModelConfig config_;
};

struct LoadOptions {
  // Use the scalar `_ref` kernels instead of the best ISA this CPU runs (tests, debugging).
  bool reference_kernels = false;
  // Repack Q8_0/Q4_0/F16 layer matrices into 16-row tiles (kernels/packed.h) when the kernel
  // level has packed GEMM kernels; the file's pages of the originals are released.
  bool pack_weights = true;
};

// Builds the model for general.architecture. `file` must outlive the model (weights stay mmapped).
Result<std::unique_ptr<Model>> load_model(const format::GgufFile& file, const LoadOptions& opts = {});

}  // namespace shuo::model
