// `shuo convert DIR OUT.gguf [--type TYPE]`: write a Hugging Face model folder as one GGUF file
// (weights renamed and laid out as llama.cpp's converter does, hyper-parameters, the tokenizer
// and chat template), optionally quantized on the way, so later starts map one file.
#include <CLI/CLI.hpp>

#include <cstdio>
#include <filesystem>
#include <string>

#include "cli/commands.h"
#include "cli/hf_folder.h"
#include "cli/quantize_progress.h"
#include "model/quantize.h"
#include "tensor/thread_pool.h"

namespace shuo::cli {

namespace {

struct ConvertArgs {
  std::string dir, out, type = "auto", tokenizer;
  int32_t threads = 0;
  bool verbose = false;
};

int fail(const Error& e) {
  std::fprintf(stderr, "error: %s\n", e.to_string().c_str());
  return 1;
}

// "auto": the folder's own precision (general.file_type as load_hf_model set it).
Result<model::QuantPreset> preset_for(const std::string& type, const format::GgufFile& f) {
  std::string name = type;
  if (type == "auto") {
    SHUO_ASSIGN(uint32_t ft, f.get<uint32_t>("general.file_type"));
    name = ft == 32 ? "BF16" : ft == 1 ? "F16" : "F32";
  }
  const auto p = model::find_quant_preset(name);
  if (!p) return Error{ErrorCode::kBadField, "--type", "unknown type '" + type + "' (auto or one of " + model::quant_preset_names() + ")"};
  return *p;
}

int run_convert(const ConvertArgs& a) {
  if (!std::filesystem::is_directory(a.dir))
    return fail({ErrorCode::kBadField, "DIR", a.dir + " is not a folder (convert reads Hugging Face model folders; "
                                                      "to requantize a GGUF file use shuo quantize)"});
  if (a.threads < 0) return fail({ErrorCode::kBadField, "--threads", "must be ≥ 0"});
  auto hf = open_hf_folder(a.dir, a.tokenizer);
  if (!hf) return fail(hf.error());
  if (hf->gguf_tokenizer_error)
    return fail({hf->gguf_tokenizer_error->code, hf->gguf_tokenizer_error->where,
                 "the tokenizer has no GGUF form: " + hf->gguf_tokenizer_error->message});
  auto preset = preset_for(a.type, hf->file);
  if (!preset) return fail(preset.error());

  tensor::ThreadPool pool(a.threads > 0 ? a.threads : tensor::physical_core_count());
  std::fprintf(stderr, "convert: %s -> %s as %s (%s, %zu tensors), %d threads\n", a.dir.c_str(), a.out.c_str(),
               preset->name, hf->file.get<std::string>("general.architecture").value().c_str(),
               hf->file.tensors().size(), pool.size());
  QuantizeProgressPrinter progress(a.verbose, "convert");
  auto st = model::quantize_model(hf->file, a.out, *preset, pool, {},
                                  [&](const model::QuantizeProgress& p) { progress.update(p); });
  if (!st) return fail(st.error());
  std::fprintf(stderr, "convert: %zu tensors (%zu converted), %.2f MiB -> %.2f MiB in %.2f s\n", st->n_tensors,
               st->n_converted, double(st->in_bytes) / (1 << 20), double(st->out_bytes) / (1 << 20), st->seconds);
  return 0;
}

}  // namespace

void add_convert_command(CLI::App& app, int* exit_code) {
  auto* cmd = app.add_subcommand("convert", "Write a Hugging Face model folder as a GGUF file");
  auto a = std::make_shared<ConvertArgs>();
  cmd->add_option("dir", a->dir, "Hugging Face model folder (config.json, *.safetensors, tokenizer.json)")->required();
  cmd->add_option("output", a->out, "output GGUF file (written as OUTPUT.tmp, renamed when complete)")->required();
  cmd->add_option("--type", a->type, "auto (as stored: F32, F16 or BF16), F32, F16, BF16, Q8_0, Q4_0, Q4_K_M, Q5_K_M, Q6_K")
      ->capture_default_str();
  cmd->add_option("--tokenizer,--tokenizer_path", a->tokenizer, "read the tokenizer from this folder instead")
      ->check(CLI::ExistingDirectory);
  cmd->add_option("-t,--threads", a->threads, "threads (default: physical cores)");
  cmd->add_flag("-v,--verbose", a->verbose, "print one line per tensor");
  cmd->callback([=] { *exit_code = run_convert(*a); });
}

}  // namespace shuo::cli
