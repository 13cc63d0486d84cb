// One loader per architecture (each in its own file); load_model() picks by general.architecture.
#pragma once

#include <memory>

#include "model/model.h"

namespace shuo::model {

Result<std::unique_ptr<Model>> load_llama(const format::GgufFile& f, const LoadOptions& opts);
Result<std::unique_ptr<Model>> load_qwen2(const format::GgufFile& f, const LoadOptions& opts);
Result<std::unique_ptr<Model>> load_gpt2(const format::GgufFile& f, const LoadOptions& opts);
Result<std::unique_ptr<Model>> load_chatglm(const format::GgufFile& f, const LoadOptions& opts);

}  // namespace shuo::model
