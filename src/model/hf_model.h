// Hugging Face model folders (config.json + safetensors) as an in-memory GGUF model: the
// config becomes the `{arch}.*` metadata src/model/config.cc reads, the weights get GGUF names
// and layouts (per architecture, hf_arch.h), so load_model() and `shuo convert` see what a GGUF
// converted by llama.cpp would hold. Tokenizer keys are added by the caller (text layer).
#pragma once

#include <cstdint>
#include <string>

#include "core/result.h"
#include "format/gguf.h"

namespace shuo::model {

struct HfModel {
  // general.* and {arch}.* metadata, tensors with GGUF names pointing into the safetensors
  // mappings (F32/F16/BF16 as stored) or into owned buffers (rows permuted for RoPE, computed
  // tensors). Add tokenizer.* keys, then format::GgufFile::assemble.
  format::GgufAssembly assembly;
  std::string arch;          // GGUF architecture ("llama", "qwen2", …)
  std::string hf_class;      // config.json architectures[0]
  int32_t vocab_size = 0;    // embedding rows
};

// `dir` holds config.json and model.safetensors (or model.safetensors.index.json + shards).
// Errors name the file and the key or tensor: a missing config.json, an `architectures` value
// shuo has no mapping for, a config value out of range or unsupported, a tensor with the wrong
// shape or dtype, a tensor the mapping does not use, and every safetensors validation error.
Result<HfModel> load_hf_model(const std::string& dir);

// The HF architecture classes shuo maps ("LlamaForCausalLM, …") for messages.
std::string hf_architecture_names();

}  // namespace shuo::model
