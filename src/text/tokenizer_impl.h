// Internal: constructors of the concrete tokenizers, used by Tokenizer::from_gguf.
#pragma once

#include <memory>

#include "core/result.h"
#include "text/tokenizer.h"

namespace shuo::text {

// SentencePiece-style BPE over `vocab.scores` with byte fallback (tokenizer_spm.cc).
Result<std::unique_ptr<Tokenizer>> make_spm_tokenizer(Vocab vocab);
// Byte-level BPE with `tokenizer.ggml.merges` and the `vocab.pre` pre-tokenizer (tokenizer_bpe.cc).
Result<std::unique_ptr<Tokenizer>> make_bpe_tokenizer(Vocab vocab, const format::GgufFile& f);

}  // namespace shuo::text
