// load_model: dispatch on general.architecture to the architecture files.
#include <string>

#include "kernels/attention.h"
#include "model/arch.h"

namespace shuo::model {

Result<std::unique_ptr<Model>> load_model(const format::GgufFile& f, const LoadOptions& opts) {
  SHUO_ASSIGN(std::string arch, f.get<std::string>("general.architecture"));
  if (arch == "llama") return load_llama(f, opts);
  if (arch == "qwen2") return load_qwen2(f, opts);
  if (arch == "gpt2") return load_gpt2(f, opts);
  if (arch == "chatglm") return load_chatglm(f, opts);
  return Error{ErrorCode::kUnsupported, "general.architecture",
               "architecture '" + arch + "' is not supported (supported: llama, qwen2, gpt2, chatglm)"};
}

Result<void> Model::check_kv_type(format::GgmlType type) const {
  if (kernels::kv_type_fits(type, config_.head_dim)) return {};
  return make_error(ErrorCode::kUnsupported, "--kv-cache-dtype",
                    std::string("a ") + format::ggml_type_name(type) + " KV cache cannot hold this model's heads of " +
                        std::to_string(config_.head_dim) + " elements" +
                        (type == format::GgmlType::Q8_0 ? " (q8_0 needs a multiple of 32; use f16)" : ""));
}

}  // namespace shuo::model
