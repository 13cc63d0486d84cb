// What a command's --model names, opened once for every command that runs a model (serve,
// generate, chat, tokenize): the weights and metadata as a GgufFile plus the tokenizer built
// from it. New kinds of source (a Hugging Face folder, the embedded default model, adapters and
// load-time quantization) are added here, not in each command: they arrive as an assembled
// GgufFile (format::GgufFile::assemble) whose metadata holds the tokenizer and chat template in
// GGUF keys, so everything downstream reads one kind of file.
#pragma once

#include <memory>
#include <string>

#include "cli/weight_flags.h"
#include "core/result.h"
#include "format/gguf.h"
#include "text/tokenizer.h"

namespace CLI {
class App;
}

namespace shuo::cli {

struct ModelSource {
  format::GgufFile file;
  std::unique_ptr<text::Tokenizer> tokenizer;
  std::string label;  // names the model when its metadata has none (the file's stem)
};

// How to open it, beyond the path (flags shared by the commands that run a model).
struct ModelSourceOptions {
  // --tokenizer / --tokenizer_path: a Hugging Face folder (tokenizer.json or tokenizer.model,
  // tokenizer_config.json) whose tokenizer and chat template replace the model's own.
  std::string tokenizer_dir;
  // --lora / --lora_model, --quantize, --load_in_8bit / --load_in_4bit (cli/weight_flags.h):
  // applied to whatever the path opened, adapters first.
  WeightFlags weights;
};

// Registers the ModelSourceOptions flags on a command (--tokenizer, alias --tokenizer_path, and
// the weight flags).
void add_model_source_flags(CLI::App& cmd, ModelSourceOptions& options);

// `path` is a GGUF file or a Hugging Face model folder (config.json + safetensors +
// tokenizer.json; cli/hf_folder.h). Errors name the path (and inside it the field) that was wrong.
Result<ModelSource> open_model_source(const std::string& path, const ModelSourceOptions& options = {});

}  // namespace shuo::cli
