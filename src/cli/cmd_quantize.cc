// `shuo quantize IN.gguf OUT.gguf TYPE`: rewrite a model with its weight matrices in another
// type (F16, BF16, Q8_0, Q4_0, Q4_K_M, Q5_K_M, Q6_K), like llama-quantize. Progress on stderr.
#include <CLI/CLI.hpp>

#include <cstdio>
#include <map>
#include <string>

#include "cli/commands.h"
#include "cli/quantize_progress.h"
#include "format/gguf.h"
#include "model/quantize.h"
#include "tensor/thread_pool.h"

namespace shuo::cli {

namespace {

struct QuantizeArgs {
  std::string in, out, type;
  int32_t threads = 0;
  bool pure = false;
  bool verbose = false;
};

int fail(const Error& e) {
  std::fprintf(stderr, "error: %s\n", e.to_string().c_str());
  return 1;
}

double mib(uint64_t bytes) { return double(bytes) / (1024.0 * 1024.0); }

int run_quantize(const QuantizeArgs& a) {
  const auto preset = model::find_quant_preset(a.type);
  if (!preset)
    return fail({ErrorCode::kBadField, "TYPE", "unknown type '" + a.type + "' (one of " + model::quant_preset_names() + ")"});
  if (a.threads < 0) return fail({ErrorCode::kBadField, "--threads", "must be ≥ 0"});
  auto file = format::GgufFile::open(a.in);
  if (!file) return fail(file.error());
  model::QuantizeOptions opts;
  opts.pure = a.pure;

  // Summarise the plan first, so fallbacks are visible before the long part.
  auto plan = model::plan_quantization(*file, *preset, opts);
  if (!plan) return fail(plan.error());
  std::map<std::string, size_t> by_type, fallbacks;
  for (const auto& p : *plan) {
    ++by_type[format::ggml_type_name(p.dst_type)];
    if (!p.fallback_from.empty()) ++fallbacks[p.fallback_from + " -> " + format::ggml_type_name(p.dst_type)];
  }
  tensor::ThreadPool pool(a.threads > 0 ? a.threads : tensor::physical_core_count());
  std::fprintf(stderr, "quantize: %s -> %s as %s%s, %d threads\n", a.in.c_str(), a.out.c_str(), preset->name,
               a.pure ? " (pure)" : "", pool.size());
  std::string types;
  for (const auto& [t, n] : by_type) types += (types.empty() ? "" : ", ") + t + " " + std::to_string(n);
  std::fprintf(stderr, "quantize: output tensors by type: %s\n", types.c_str());
  for (const auto& [what, n] : fallbacks)
    std::fprintf(stderr, "quantize: fallback %s for %zu tensors (row length not a multiple of the block size)\n",
                 what.c_str(), n);

  QuantizeProgressPrinter progress(a.verbose, "quantize");
  auto st = model::quantize_model(*file, a.out, *preset, pool, opts,
                                  [&](const model::QuantizeProgress& p) { progress.update(p); });
  if (!st) {
    std::fprintf(stderr, "\n");
    return fail(st.error());
  }
  std::fprintf(stderr, "quantize: %zu tensors (%zu converted), %.2f MiB -> %.2f MiB in %.2f s\n", st->n_tensors,
               st->n_converted, mib(st->in_bytes), mib(st->out_bytes), st->seconds);
  return 0;
}

}  // namespace

void add_quantize_command(CLI::App& app, int* exit_code) {
  auto* cmd = app.add_subcommand("quantize", "Write a GGUF model with its weights in another type");
  auto a = std::make_shared<QuantizeArgs>();
  cmd->add_option("input", a->in, "input GGUF model")->required();
  cmd->add_option("output", a->out, "output GGUF file (written as OUTPUT.tmp, renamed when complete)")->required();
  cmd->add_option("type", a->type, "F32, F16, BF16, Q8_0, Q4_0, Q4_K_M, Q5_K_M or Q6_K (case-insensitive)")->required();
  cmd->add_option("-t,--threads", a->threads, "threads (default: physical cores)");
  cmd->add_flag("--pure", a->pure, "every matrix gets TYPE: no Q6_K/Q8_0 mix (block-size fallbacks still apply)");
  cmd->add_flag("-v,--verbose", a->verbose, "print one line per tensor");
  cmd->callback([=] { *exit_code = run_quantize(*a); });
}

}  // namespace shuo::cli
