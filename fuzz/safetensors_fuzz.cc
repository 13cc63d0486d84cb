// Fuzz target: arbitrary bytes as a safetensors file. Parsing must end in tensors that lie
// inside the input or in a typed error; every tensor's bytes are read to prove the former.
#include <cstddef>
#include <cstdint>
#include <span>

#include "format/safetensors.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  auto f = shuo::format::SafetensorsFile::parse(std::span(data, size), "fuzz");
  if (!f.ok()) return 0;
  unsigned sum = 0;
  for (const auto& t : f->tensors())
    for (size_t i = 0; i < t.n_bytes; i += 61) sum += t.data[i];
  volatile unsigned sink = sum;
  (void)sink;
  return 0;
}
