// Architecture "llama" (Llama 1/2/3, TinyLlama, Mistral-style): interleaved-pair RoPE as GGUF
// stores it (converters permute HF q/k rows into this layout), no attention biases.
#include "model/arch.h"
#include "model/decoder.h"

namespace shuo::model {

Result<std::unique_ptr<Model>> load_llama(const format::GgufFile& f, const LoadOptions& opts) {
  SHUO_ASSIGN(ModelConfig c, read_decoder_config(f, "llama"));
  c.rope_layout = kernels::RopeLayout::kInterleaved;
  c.has_qkv_bias = f.find_tensor("blk.0.attn_q.bias") != nullptr;  // some llama finetunes have them
  SHUO_ASSIGN(auto m, DecoderModel::build(f, std::move(c), opts));
  return std::unique_ptr<Model>(std::move(m));
}

}  // namespace shuo::model
