// Hugging Face LlamaForCausalLM (and MistralForCausalLM, the same layout) → GGUF "llama".
// GGUF llama applies RoPE to interleaved pairs (x0, x1), (x2, x3), …, as Meta's checkpoints
// were trained; HF's checkpoints had their q/k rows permuted for rotate-half RoPE (pairs
// (x_i, x_{i+d/2})). The rows are permuted back here, per head, exactly as llama.cpp's
// convert_hf_to_gguf does, so the result is the GGUF that llama.cpp itself would write.
#include "model/hf_arch.h"

namespace shuo::model {

Result<void> convert_hf_llama(HfConverter& c) {
  SHUO_ASSIGN(bool attention_bias, c.get_bool_or("attention_bias", false));
  if (attention_bias)
    return c.config_error("attention_bias", "llama attention biases are not supported", ErrorCode::kUnsupported);
  SHUO_ASSIGN(HfDecoderShape s, hf_decoder_metadata(c, "llama"));
  // Older exports store RoPE's inverse frequencies as a buffer; they follow from rope_theta.
  for (int64_t i = 0; i < s.n_layer; ++i) c.skip("model.layers." + std::to_string(i) + ".self_attn.rotary_emb.inv_freq");
  return hf_decoder_tensors(c, s, HfRows::kRopeInterleave, /*qkv_bias=*/false);
}

}  // namespace shuo::model
