#include "cli/model_source.h"

#include <CLI/CLI.hpp>

#include <filesystem>

#include "cli/embedded_model.h"
#include "cli/hf_folder.h"

namespace shuo::cli {

void add_model_source_flags(CLI::App& cmd, ModelSourceOptions& o) {
  cmd.add_option("--tokenizer,--tokenizer_path", o.tokenizer_dir,
                 "Hugging Face folder whose tokenizer.json (or tokenizer.model) and chat template replace the model's")
      ->check(CLI::ExistingDirectory);
  add_weight_flags(cmd, o.weights);
}

namespace {

Result<ModelSource> open_source(const std::string& path, const ModelSourceOptions& options) {
  if (path.empty()) {  // no --model: the demo model linked into the binary (docs/demo-model.md)
    if (!options.tokenizer_dir.empty())
      return Error{ErrorCode::kBadField, "--tokenizer", "needs --model (the built-in demo model has its own tokenizer)"};
    SHUO_ASSIGN(auto file, open_embedded_model());
    auto tok = text::Tokenizer::from_gguf(file);
    if (!tok) return Error{tok.error().code, kEmbeddedModelLabel, tok.error().to_string()};
    return ModelSource{std::move(file), std::move(tok).value(), "shuo-demo"};
  }
  if (std::filesystem::is_directory(path)) {
    SHUO_ASSIGN(HfFolder hf, open_hf_folder(path, options.tokenizer_dir));
    // The folder's name ("Llama-3.1-8B", also when given as "dir/"), not a stem.
    std::filesystem::path p = std::filesystem::path(path).lexically_normal();
    if (p.filename().empty()) p = p.parent_path();
    return ModelSource{std::move(hf.file), std::move(hf.tokenizer), p.filename().string()};
  }
  const std::string label = std::filesystem::path(path).stem().string();
  SHUO_ASSIGN(auto file, format::GgufFile::open(path));
  if (!options.tokenizer_dir.empty()) {
    SHUO_ASSIGN(HfFolder hf, replace_tokenizer(std::move(file), options.tokenizer_dir));
    return ModelSource{std::move(hf.file), std::move(hf.tokenizer), label};
  }
  auto tok = text::Tokenizer::from_gguf(file);
  if (!tok) return Error{tok.error().code, path, tok.error().to_string()};
  return ModelSource{std::move(file), std::move(tok).value(), label};
}

}  // namespace

Result<ModelSource> open_model_source(const std::string& path, const ModelSourceOptions& options) {
  SHUO_TRY(weight_quant_type(options.weights));  // a bad flag fails before a long load
  SHUO_ASSIGN(ModelSource source, open_source(path, options));
  SHUO_TRY(apply_weight_flags(source.file, options.weights));
  return source;
}

}  // namespace shuo::cli
