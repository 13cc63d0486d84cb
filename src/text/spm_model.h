// SentencePiece `tokenizer.model` (a serialized ModelProto) → the equivalent tokenizer.json
// pipeline, the way Hugging Face's LlamaConverter builds one: pieces become the BPE vocab, merges
// are every split of a piece into two pieces, ordered by the piece's score (SentencePiece BPE
// merges the best-scoring pair first), byte_fallback and the dummy-prefix "▁" carry over, CONTROL
// / USER_DEFINED pieces become special / plain added tokens. The protobuf wire format is read
// directly (a few fields of a fixed schema; no generated code). Only BPE models with the
// identity normalizer are accepted: a Unigram model or an NFKC character map is a clear error.
#pragma once

#include <string>
#include <string_view>

#include "core/result.h"
#include "text/hf_tokenizer_spec.h"

namespace shuo::text {

// Errors name `source` and the protobuf field (e.g. "tokenizer.model: pieces[12].piece").
Result<HfTokenizerSpec> parse_spm_model(std::string_view bytes,
                                        const std::string& source = "tokenizer.model");

}  // namespace shuo::text
