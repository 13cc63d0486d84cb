// The id-indexed token table of a tokenizer.json, shared by the HF tokenizer and its GGUF
// metadata: model vocab + added tokens merged by id, token types as GGUF numbers them, special
// token ids from tokenizer_config.json / the post-processor, and the tokens add_special adds.
#pragma once

#include <string>
#include <unordered_map>
#include <vector>

#include "core/result.h"
#include "text/hf_tokenizer_spec.h"
#include "text/vocab.h"

namespace shuo::text {

struct HfVocabTable {
  // texts/types/ids by id; ids without a token are "[PAD<id>]" (UNUSED). Types: added special →
  // CONTROL, added non-special → USER_DEFINED, "<0xXX>" with byte_fallback → BYTE, the model's
  // unk → UNKNOWN, the rest NORMAL. bos/eos/unk ids and add_bos/add_eos filled in.
  Vocab vocab;
  // The BPE model's own vocabulary (string → id), without added tokens: what merges and
  // character lookups use, as in HF where the two vocabularies are separate.
  std::unordered_map<std::string, int32_t, StringHash, std::equal_to<>> model_ids;
  std::vector<bool> special;          // [n] added token with special: true (skipped in decode)
  std::vector<int32_t> prefix_ids;    // added before the text by encode(add_special)
  std::vector<int32_t> suffix_ids;    // added after it
  int32_t pad_id = -1;
};

Result<HfVocabTable> build_hf_vocab(const HfTokenizerSpec& spec);

}  // namespace shuo::text
