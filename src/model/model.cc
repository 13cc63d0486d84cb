// load_model: dispatch on general.architecture to the architecture files.
#include <string>

#include "model/arch.h"

namespace shuo::model {

Result<std::unique_ptr<Model>> load_model(const format::GgufFile& f, const LoadOptions& opts) {
  SHUO_ASSIGN(std::string arch, f.get<std::string>("general.architecture"));
  if (arch == "llama") return load_llama(f, opts);
  if (arch == "qwen2") return load_qwen2(f, opts);
  return Error{ErrorCode::kUnsupported, "general.architecture",
               "architecture '" + arch + "' is not supported (supported: llama, qwen2)"};
}

}  // namespace shuo::model
