// Fuzz target: arbitrary bytes as a GGUF file. Parsing must end in a model or a typed error;
// a file that parses is also pushed through metadata printing and model loading.
#include <cstddef>
#include <cstdint>
#include <span>

#include "format/gguf.h"
#include "model/model.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  auto f = shuo::format::GgufFile::parse(std::span(data, size), "fuzz");
  if (!f.ok()) return 0;
  for (const auto& [key, value] : f->metadata()) (void)shuo::format::gguf_value_to_string(value);
  auto m = shuo::model::load_model(*f);
  (void)m;
  return 0;
}
