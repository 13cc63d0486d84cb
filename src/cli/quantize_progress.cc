#include "cli/quantize_progress.h"

#include <unistd.h>

#include <algorithm>
#include <cstdio>

namespace shuo::cli {

namespace {
double mib(uint64_t bytes) { return double(bytes) / (1024.0 * 1024.0); }
}  // namespace

QuantizeProgressPrinter::QuantizeProgressPrinter(bool verbose, std::string what)
    : tty_(::isatty(STDERR_FILENO) == 1), verbose_(verbose), what_(std::move(what)) {}

void QuantizeProgressPrinter::update(const model::QuantizeProgress& p) {
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
                 std::string(kWidth - filled, '.').c_str(), int(frac * 100 + 0.5), p.tensors_done, p.tensors_total,
                 t.name.c_str());
    if (p.tensors_done == p.tensors_total) std::fprintf(stderr, "\n");
  } else if (!verbose_) {
    const size_t every = std::max<size_t>(1, (p.tensors_total + 9) / 10);
    if (p.tensors_done % every == 0 || p.tensors_done == p.tensors_total)
      std::fprintf(stderr, "%s: %zu/%zu tensors, %.1f/%.1f MiB written\n", what_.c_str(), p.tensors_done,
                   p.tensors_total, mib(p.bytes_done), mib(p.bytes_total));
  }
  std::fflush(stderr);
}

}  // namespace shuo::cli
