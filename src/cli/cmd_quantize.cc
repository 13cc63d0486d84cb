// `shuo quantize IN.gguf OUT.gguf TYPE`: rewrite a model with its weight matrices in another
// type (F16, BF16, Q8_0, Q4_0, Q4_K_M, Q5_K_M, Q6_K), like llama-quantize. Progress on stderr.
#include <CLI/CLI.hpp>

#include <unistd.h>

#include <cstdio>
#include <map>
#include <string>

#include "cli/commands.h"
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

// A bar redrawn in place when stderr is a terminal; otherwise one line per tenth of the tensors.
class Progress {
 public:
  explicit Progress(bool verbose) : tty_(::isatty(STDERR_FILENO) == 1), verbose_(verbose) {}

  void update(const model::QuantizeProgress& p) {
    const auto& t = *p.tensor;
    if (verbose_) {
      if (tty_) std::fprintf(stderr, "\r\033[K");
      std::fprintf(stderr, "[%4zu/%zu] %-36s %-8s -> %-6s%s\n", p.tensors_done, p.tensors_total, t.name.c_str(),
                   format::ggml_type_name(t.src_type), format::ggml_type_name(t.dst_type),
                   t.fallback_from.empty() ? "" : (" (fallback from " + t.fallback_from + ")").c_str());
    }
    const double frac = p.bytes_total ? double(p.bytes_done) / double(p.bytes_total) : 1.0;
    if (tty_) {
      constexpr int kWidth = 30;
      const int filled = int(frac * kWidth + 0.5);
      std::fprintf(stderr, "\r\033[K[%s%s] %3d%% %zu/%zu %s", std::string(filled, '#').c_str(),
                   std::string(kWidth - filled, '.').c_str(), int(frac * 100 + 0.5), p.tensors_done,
                   p.tensors_total, t.name.c_str());
      if (p.tensors_done == p.tensors_total) std::fprintf(stderr, "\n");
    } else if (!verbose_) {
      const size_t every = std::max<size_t>(1, (p.tensors_total + 9) / 10);
      if (p.tensors_done % every == 0 || p.tensors_done == p.tensors_total)
        std::fprintf(stderr, "quantize: %zu/%zu tensors, %.1f/%.1f MiB written\n", p.tensors_done, p.tensors_total,
                     mib(p.bytes_done), mib(p.bytes_total));
    }
    std::fflush(stderr);
  }

 private:
  bool tty_, verbose_;
};

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

  Progress progress(a.verbose);
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
  cmd->add_option("type", a->type, "F16, BF16, Q8_0, Q4_0, Q4_K_M, Q5_K_M or Q6_K (case-insensitive)")->required();
  cmd->add_option("-t,--threads", a->threads, "threads (default: physical cores)");
  cmd->add_flag("--pure", a->pure, "every matrix gets TYPE: no Q6_K/Q8_0 mix (block-size fallbacks still apply)");
  cmd->add_flag("-v,--verbose", a->verbose, "print one line per tensor");
  cmd->callback([=] { *exit_code = run_quantize(*a); });
}

}  // namespace shuo::cli
