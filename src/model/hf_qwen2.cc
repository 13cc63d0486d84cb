// Hugging Face Qwen2ForCausalLM (Qwen1.5, Qwen2, Qwen2.5) → GGUF "qwen2": q/k/v biases, and RoPE
// in rotate-half (NeoX) layout, which is how shuo's and llama.cpp's qwen2 apply it, so the
// weights are used as stored (no row permutation).
#include "model/hf_arch.h"

namespace shuo::model {

Result<void> convert_hf_qwen2(HfConverter& c) {
  SHUO_ASSIGN(bool sliding, c.get_bool_or("use_sliding_window", false));
  if (sliding)
    return c.config_error("use_sliding_window", "sliding-window attention is not supported", ErrorCode::kUnsupported);
  SHUO_ASSIGN(HfDecoderShape s, hf_decoder_metadata(c, "qwen2"));
  return hf_decoder_tensors(c, s, HfRows::kAsIs, /*qkv_bias=*/true);
}

}  // namespace shuo::model
