// The flags that change a model's weights as it loads, shared by every command that opens one
// (cli/model_source.h): --lora DIR (alias --lora_model, repeatable, applied in order) and
// --quantize q8_0|q4_0|q4_k (aliases --quantize 8|4, --load_in_8bit = q8_0, --load_in_4bit =
// q4_k). The work is model::transform_model (model/load_transform.h, model/lora.h).
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "core/result.h"
#include "format/gguf.h"
#include "model/load_transform.h"

namespace CLI {
class App;
}

namespace shuo::cli {

struct WeightFlags {
  std::string quantize;
  bool load_in_8bit = false, load_in_4bit = false;
  std::vector<std::string> lora_dirs;
};

void add_weight_flags(CLI::App& cmd, WeightFlags& f);

// The quantization the flags ask for (nullopt: none). Errors name the flag: an unknown type,
// --load_in_8bit with --load_in_4bit, or either with a --quantize that says otherwise.
Result<std::optional<model::LoadQuantType>> weight_quant_type(const WeightFlags& f);

// Merges the adapters, then quantizes (so a quantized model carries the merged weights), with
// a progress bar and a summary on stderr. Does nothing when no flag is set.
Result<void> apply_weight_flags(format::GgufFile& file, const WeightFlags& f);

}  // namespace shuo::cli
