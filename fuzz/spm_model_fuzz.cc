// Fuzz target: arbitrary bytes as a SentencePiece tokenizer.model (protobuf). When it parses
// and builds, the tokenizer encodes and decodes a few fixed texts. No crash, no hang.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "text/hf_tokenizer.h"
#include "text/spm_model.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size > (8u << 20)) return 0;
  auto spec = shuo::text::parse_spm_model(std::string_view(reinterpret_cast<const char*>(data), size));
  if (!spec.ok()) return 0;
  auto hf = shuo::text::build_hf_tokenizer(*spec);
  if (!hf.ok()) return 0;
  for (std::string_view t : {std::string_view("Hello  world "), std::string_view("\xe4\xbd\xa0 \xff <s>")}) {
    const auto ids = hf->tokenizer->encode(t, true, true);
    (void)hf->tokenizer->decode(ids, false);
  }
  return 0;
}
