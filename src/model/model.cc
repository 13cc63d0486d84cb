// load_model: dispatch on general.architecture to the architecture files.
#include <string>

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

}  // namespace shuo::model
