// The built-in demo model: models/shuo-demo.gguf linked into the binary (cmake/demo_model.cmake),
// what commands that run a model use when no --model is given. It is a tiny bilingual chat model
// made by tools/demo-model (see docs/demo-model.md).
#pragma once

#include <cstdint>
#include <span>

#include "core/result.h"
#include "format/gguf.h"

namespace shuo::cli {

// The label the embedded model goes by when a command reports what it loaded.
inline constexpr const char* kEmbeddedModelLabel = "shuo-demo (built in)";

// The model file's bytes, in the binary's read-only data (alive for the whole process).
std::span<const uint8_t> embedded_model_bytes();

// The embedded bytes parsed as a GGUF file; no copy is made.
Result<format::GgufFile> open_embedded_model();

}  // namespace shuo::cli
