// Hyper-parameters of a decoder-only transformer, read from GGUF metadata ({arch}.* keys).
#pragma once

#include <climits>
#include <cstdint>
#include <string>

#include "core/result.h"
#include "format/gguf.h"
#include "kernels/ops.h"

namespace shuo::model {

// The block variants the shared decoder (decoder.h) runs; each architecture file picks its own.
enum class NormKind { kRms, kLayer };          // RMSNorm·g, or LayerNorm·g (+ b) as in GPT-2
enum class PositionKind { kRope, kLearned };   // RoPE on q/k, or position_embd added to the input
enum class FfnKind { kSwiglu, kGelu };         // down(silu(gate)·up), or down(gelu(up + b)) + b

struct ModelConfig {
  std::string arch;            // general.architecture: "llama", "qwen2", …
  std::string name;            // general.name (may be empty)
  int32_t n_vocab = 0;
  int32_t n_ctx_train = 0;     // context length the model was trained with
  int32_t n_embd = 0;
  int32_t n_layer = 0;
  int32_t n_head = 0;
  int32_t n_head_kv = 0;
  int32_t head_dim = 0;        // n_embd / n_head unless {arch}.attention.key_length says otherwise
  int32_t n_ff = 0;
  float norm_eps = 1e-5f;
  // RoPE
  int32_t rope_dims = 0;       // rotated dimensions per head
  double rope_base = 10000.0;
  double rope_freq_scale = 1.0;  // 1 / linear scaling factor
  kernels::RopeLayout rope_layout = kernels::RopeLayout::kInterleaved;
  bool has_qkv_bias = false;
  NormKind norm = NormKind::kRms;
  PositionKind positions = PositionKind::kRope;  // kLearned: at most n_ctx_train positions
  FfnKind ffn = FfnKind::kSwiglu;
  bool tied_embeddings = false;  // no output.weight: the LM head is token_embd

  // Positions a sequence can have: learned position tables end; RoPE extrapolates (quality
  // past n_ctx_train is another matter, but nothing refuses it).
  int32_t max_positions() const { return positions == PositionKind::kLearned ? n_ctx_train : INT32_MAX; }
};

// Reads the shared llama-family keys of `arch` and checks them for consistency. Errors name the key.
Result<ModelConfig> read_decoder_config(const format::GgufFile& file, const std::string& arch);

}  // namespace shuo::model
