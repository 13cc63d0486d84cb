// Reads Hugging Face `tokenizer.json` and `tokenizer_config.json` text into an HfTokenizerSpec.
// Pretty-printed and minified files alike. Every error names the file and the JSON path of the
// offending value ("tokenizer.json: model.merges[3]: ..."), including malformed JSON (byte
// offset), wrong types and anything shuo does not implement (e.g. a WordPiece model, a
// BertNormalizer), so that a model folder that cannot be served exactly says why.
#pragma once

#include <string>
#include <string_view>

#include "core/result.h"
#include "text/hf_tokenizer_spec.h"

namespace shuo::text {

// `source` names the file in errors (e.g. the path it was read from).
Result<HfTokenizerSpec> parse_hf_tokenizer_json(std::string_view json_text,
                                                const std::string& source = "tokenizer.json");

// Adds the special-token strings, add_bos_token / add_eos_token and chat_template(s) of a
// tokenizer_config.json to *spec. Unknown keys are ignored (the file has many that do not
// concern tokenization).
Result<void> parse_hf_tokenizer_config(std::string_view json_text, HfTokenizerSpec* spec,
                                       const std::string& source = "tokenizer_config.json");

}  // namespace shuo::text
