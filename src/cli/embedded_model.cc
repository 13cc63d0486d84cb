#include "cli/embedded_model.h"

// Defined by the assembler file cmake/demo_model.cmake generates (.incbin of the model).
extern "C" const uint8_t shuo_demo_model[];
extern "C" const uint8_t shuo_demo_model_end[];

namespace shuo::cli {

std::span<const uint8_t> embedded_model_bytes() {
  return {shuo_demo_model, static_cast<size_t>(shuo_demo_model_end - shuo_demo_model)};
}

Result<format::GgufFile> open_embedded_model() {
  return format::GgufFile::parse(embedded_model_bytes(), kEmbeddedModelLabel);
}

}  // namespace shuo::cli
