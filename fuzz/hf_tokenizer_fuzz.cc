// Fuzz target: arbitrary bytes as a Hugging Face tokenizer.json. When it parses and builds, the
// tokenizer encodes and decodes a few fixed texts (special-token spellings, CJK, emoji, invalid
// UTF-8) and its GGUF metadata is built. Every input must end in ids or an Error: no crash, no
// hang, no unbounded allocation.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "text/hf_tokenizer.h"
#include "text/hf_tokenizer_json.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size > (8u << 20)) return 0;
  auto spec = shuo::text::parse_hf_tokenizer_json(
      std::string_view(reinterpret_cast<const char*>(data), size));
  if (!spec.ok()) return 0;
  auto hf = shuo::text::build_hf_tokenizer(*spec);
  if (!hf.ok()) return 0;
  static constexpr std::string_view kTexts[] = {
      "Hello world", " <s>[INST] Hi </s> <unk>", "<|im_start|>user\n\xe4\xbd\xa0\xe5\xa5\xbd<|im_end|>",
      "\xf0\x9f\xa6\x99 \xff\xfe a\x80 123456", "   \n\n\t x"};
  for (std::string_view t : kTexts) {
    for (bool parse_special : {false, true}) {
      const auto ids = hf->tokenizer->encode(t, true, parse_special);
      (void)hf->tokenizer->decode(ids, false);
      (void)hf->tokenizer->decode(ids, true, false);
      for (int32_t id : ids) (void)hf->tokenizer->token_to_piece(id, true);
    }
  }
  return 0;
}
