// Hugging Face model folders' tokenizers: `tokenizer.json` (+ `tokenizer_config.json`,
// `chat_template.jinja`), or a SentencePiece `tokenizer.model` when a folder ships only that.
//
// load_hf_tokenizer(dir) gives two things:
//  - `tokenizer`: a text::Tokenizer that runs the file's own pipeline the way the HF `tokenizers`
//    library does (added tokens split out first, normalizers, pre-tokenizers with the model's own
//    regex, BPE with merges / ignore_merges / byte_fallback, post-processor, decoders), so ids
//    equal transformers' for the same text.
//  - `gguf_metadata`: the `tokenizer.*` GGUF keys that describe the same vocabulary to a GGUF
//    reader (shuo's Tokenizer::from_gguf, llama.cpp): `shuo convert` writes them into the file.
//    An error instead when the pipeline has no GGUF spelling (e.g. a pre-tokenizer regex that is
//    none of the `tokenizer.ggml.pre` names shuo and llama.cpp know); the tokenizer still works.
#pragma once

#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "core/result.h"
#include "format/gguf.h"
#include "text/hf_tokenizer_spec.h"
#include "text/tokenizer.h"

namespace shuo::text {

using GgufKeyValues = std::vector<std::pair<std::string, format::GgufValue>>;

struct HfTokenizerOptions {
  // The model's embedding rows (config.json vocab_size). The GGUF token list is padded up to it
  // with "[PAD<id>]" tokens of type UNUSED, as llama.cpp's converter does. 0: no padding.
  int32_t vocab_size = 0;
};

struct HfTokenizer {
  std::unique_ptr<Tokenizer> tokenizer;
  Result<GgufKeyValues> gguf_metadata = Error{ErrorCode::kInternal, "gguf_metadata", "not built"};
  // tokenizer_config.json chat_template (the "default" one of a list), or chat_template.jinja;
  // "" when the folder has none. Also in gguf_metadata as tokenizer.chat_template.
  std::string chat_template;
  std::string source;  // the file the tokenizer came from (tokenizer.json or tokenizer.model)
};

// `dir` holds tokenizer.json, or tokenizer.model (SentencePiece BPE); tokenizer_config.json and
// chat_template.jinja are optional. Errors name the file and the JSON path / protobuf field.
Result<HfTokenizer> load_hf_tokenizer(const std::string& dir, const HfTokenizerOptions& options = {});

// The same from the parsed files (tests, fuzzing).
Result<HfTokenizer> build_hf_tokenizer(const HfTokenizerSpec& spec,
                                       const HfTokenizerOptions& options = {});

// The HF pipeline as a Tokenizer (hf_tokenizer.cc).
Result<std::unique_ptr<Tokenizer>> make_hf_tokenizer(const HfTokenizerSpec& spec);

// The GGUF tokenizer.* keys for `spec` (hf_tokenizer_gguf.cc).
Result<GgufKeyValues> hf_tokenizer_gguf_metadata(const HfTokenizerSpec& spec,
                                                 const HfTokenizerOptions& options = {});

}  // namespace shuo::text
