// Architecture "qwen2" (Qwen1.5, Qwen2, Qwen2.5): q/k/v biases, NeoX-style (rotate-half) RoPE,
// usually tied embeddings.
#include "model/arch.h"
#include "model/decoder.h"

namespace shuo::model {

Result<std::unique_ptr<Model>> load_qwen2(const format::GgufFile& f, const LoadOptions& opts) {
  SHUO_ASSIGN(ModelConfig c, read_decoder_config(f, "qwen2"));
  c.rope_layout = kernels::RopeLayout::kNeox;
  c.has_qkv_bias = true;
  SHUO_ASSIGN(auto m, DecoderModel::build(f, std::move(c), opts));
  return std::unique_ptr<Model>(std::move(m));
}

}  // namespace shuo::model
