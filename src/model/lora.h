// PEFT LoRA adapters (`--lora DIR`): adapter_config.json + adapter_model.safetensors, turned into
// WeightEdits on the base model's GGUF tensors (model/load_transform.h merges them at load):
// W' = W + scale · B · A with scale = lora_alpha / r (lora_alpha / √r with use_rslora), and
// modules_to_save as whole replacements.
//
// Names: `base_model.model.<module>.lora_A.weight` → the module's GGUF tensor for llama-family
// bases (model.layers.N.self_attn.q_proj → blk.N.attn_q.weight, mlp.down_proj → blk.N.ffn_down,
// model.embed_tokens → token_embd, lm_head → output, …). The delta is defined on the Hugging
// Face layout; a `llama` GGUF holds q_proj/k_proj rows in the interleaved RoPE order (the
// converters permute them per head: GGUF row 2j = HF row j, 2j+1 = HF row head_dim/2 + j), so
// B's rows (and a replacement's) get the same permutation. `qwen2` keeps the HF order.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "core/result.h"
#include "format/gguf.h"
#include "model/load_transform.h"

namespace shuo::model {

struct LoraAdapter {
  std::string dir;
  std::vector<WeightEdit> edits;                        // one per targeted module
  std::vector<std::shared_ptr<const void>> keep_alive;  // what replacements point into
  int64_t rank = 0;
  double scale = 0;
  size_t n_lora = 0, n_replaced = 0;  // low-rank deltas, modules_to_save replacements
};

// Reads the adapter in `dir` and checks it against `base` (what it will be merged into).
// Errors name the file and the field or tensor: a config that is not LoRA or uses what shuo
// does not merge (DoRA, bias training, rank/alpha patterns), a tensor name that maps to no base
// tensor, a lora_A without its lora_B, a rank other than `r`, shapes that do not fit the base
// tensor, a module outside target_modules / modules_to_save.
Result<LoraAdapter> load_lora_adapter(const std::string& dir, const format::GgufFile& base);

// Adds the adapter's edits after those already in `t` (adapters apply in order).
void append_lora(LoadTransform& t, LoraAdapter adapter);

}  // namespace shuo::model
