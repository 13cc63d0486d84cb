// Hugging Face model folders for the commands: weights and hyper-parameters from
// model::load_hf_model, the tokenizer from text::load_hf_tokenizer, joined into one assembled
// GgufFile whose tokenizer.* keys describe the same vocabulary (what `shuo convert` writes).
#pragma once

#include <memory>
#include <optional>
#include <string>

#include "core/result.h"
#include "format/gguf.h"
#include "text/tokenizer.h"

namespace shuo::cli {

struct HfFolder {
  format::GgufFile file;                       // assembled: weights + metadata (+ tokenizer keys)
  std::unique_ptr<text::Tokenizer> tokenizer;  // the folder's own pipeline (ids equal transformers')
  // Why the tokenizer has no GGUF spelling (then `file` holds only its chat template); convert
  // refuses such a folder, serving does not need it.
  std::optional<Error> gguf_tokenizer_error;
};

// `tokenizer_dir` (--tokenizer): where tokenizer.json / tokenizer.model is read from; "" = `dir`.
Result<HfFolder> open_hf_folder(const std::string& dir, const std::string& tokenizer_dir = "");

// A GGUF model whose tokenizer comes from a Hugging Face folder instead (--tokenizer DIR with a
// GGUF --model): the file's tokenizer.* keys are replaced by the folder's.
Result<HfFolder> replace_tokenizer(format::GgufFile file, const std::string& tokenizer_dir);

}  // namespace shuo::cli
