// `shuo bench`: llama-bench-style prompt (pp) and decode (tg) speed of a GGUF model, with the
// machine's read bandwidth measured in the same run so decode is also shown as a share of the
// bandwidth bound. Table on stdout, or one JSON object per line with --json.
#include <CLI/CLI.hpp>

#include <nlohmann/json.hpp>

#include <cmath>
#include <cstdio>
#include <map>
#include <string>
#include <vector>

#include "cli/commands.h"
#include "cli/kv_cache_flag.h"
#include "engine/bench.h"
#include "format/gguf.h"
#include "kernels/cpu_features.h"
#include "model/model.h"
#include "tensor/thread_pool.h"

namespace shuo::cli {

namespace {

struct BenchArgs {
  std::vector<std::string> models;
  std::vector<int32_t> n_prompt{512}, n_gen{128}, threads, batch{1}, depth{0};
  int reps = 5;
  bool json = false;
  bool no_repack = false;
  format::GgmlType kv_type = format::GgmlType::F16;
  int bw_mib = 512;
  int bw_reps = 5;
  uint64_t seed = 1234;
};

int fail(const Error& e) {
  std::fprintf(stderr, "error: %s\n", e.to_string().c_str());
  return 1;
}

// general.file_type as llama.cpp names it, else the type holding most matrix bytes.
std::string model_type(const format::GgufFile& f) {
  static const std::map<uint32_t, const char*> kFtypes = {
      {0, "F32"}, {1, "F16"}, {2, "Q4_0"}, {3, "Q4_1"}, {7, "Q8_0"}, {8, "Q5_0"}, {9, "Q5_1"},
      {10, "Q2_K"}, {12, "Q3_K_M"}, {14, "Q4_K_S"}, {15, "Q4_K_M"}, {16, "Q5_K_S"}, {17, "Q5_K_M"},
      {18, "Q6_K"}, {32, "BF16"}};
  if (auto ft = f.get<uint32_t>("general.file_type"); ft.ok())
    if (auto it = kFtypes.find(*ft); it != kFtypes.end()) return it->second;
  std::map<std::string, uint64_t> bytes;
  for (const auto& t : f.tensors())
    if (t.ne.size() >= 2) bytes[format::ggml_type_name(t.type)] += t.n_bytes;
  std::string best = "?";
  uint64_t most = 0;
  for (const auto& [name, b] : bytes)
    if (b > most) { most = b; best = name; }
  return best;
}

std::string model_name(const format::GgufFile& f, const std::string& path) {
  if (auto n = f.get<std::string>("general.name"); n.ok() && !n->empty()) return *n;
  if (auto a = f.get<std::string>("general.architecture"); a.ok()) return *a;
  return path;
}

std::string fmt(const char* f, double a, double b = 0) {
  char buf[64];
  std::snprintf(buf, sizeof buf, f, a, b);
  return buf;
}

struct Row {
  std::string model, type, test;
  double size_mib = 0;
  int threads = 0, batch = 1, depth = 0;
  engine::BenchStats st;
  int n_reps = 0;
  double bw_pct = NAN;  // NaN: not a decode test
};

void print_row(const Row& r) {
  const std::string test = r.depth > 0 ? r.test + " @ d" + std::to_string(r.depth) : r.test;
  std::printf("| %-24s | %-6s | %10s | %7d | %5d | %-14s | %18s | %8s | %6s |\n", r.model.c_str(), r.type.c_str(),
              fmt("%.2f MiB", r.size_mib).c_str(), r.threads, r.batch, test.c_str(),
              fmt("%.2f ± %.2f", r.st.mean, r.st.stddev).c_str(), fmt("%.2f", r.st.median).c_str(),
              std::isnan(r.bw_pct) ? "-" : fmt("%.0f%%", r.bw_pct).c_str());
  std::fflush(stdout);
}

void print_json(const Row& r, const char* isa, double bw_gbs, uint64_t decode_bytes) {
  nlohmann::json j = {{"model", r.model},      {"type", r.type},          {"threads", r.threads},
                      {"batch", r.batch},      {"test", r.test},          {"depth", r.depth},
                      {"tokens_per_s", r.st.mean},
                      {"stddev", r.st.stddev}, {"median", r.st.median},   {"reps", r.n_reps},
                      {"kernel_isa", isa},     {"bandwidth_gbs", bw_gbs}, {"decode_weight_bytes", decode_bytes}};
  j["bandwidth_pct"] = std::isnan(r.bw_pct) ? nlohmann::json(nullptr) : nlohmann::json(r.bw_pct);
  std::printf("%s\n", j.dump().c_str());
  std::fflush(stdout);
}

int run_bench(const BenchArgs& a) {
  if (a.reps < 1) return fail({ErrorCode::kBadField, "-r", "must be ≥ 1"});
  if (a.bw_mib < 1) return fail({ErrorCode::kBadField, "--bw-mib", "must be ≥ 1"});
  for (int32_t v : a.n_prompt)
    if (v < 0) return fail({ErrorCode::kBadField, "-p", "must be ≥ 0 (0 skips the pp test)"});
  for (int32_t v : a.n_gen)
    if (v < 0) return fail({ErrorCode::kBadField, "-n", "must be ≥ 0 (0 skips the tg test)"});
  for (int32_t v : a.batch)
    if (v < 1) return fail({ErrorCode::kBadField, "--batch", "must be ≥ 1"});
  for (int32_t v : a.depth)
    if (v < 0) return fail({ErrorCode::kBadField, "-d", "must be ≥ 0"});
  std::vector<int32_t> threads = a.threads;
  if (threads.empty()) threads.push_back(tensor::physical_core_count());
  for (int32_t t : threads)
    if (t < 1) return fail({ErrorCode::kBadField, "-t", "must be ≥ 1"});

  // Header lines go to stderr with --json so stdout stays one object per line.
  FILE* info = a.json ? stderr : stdout;
  std::fprintf(info, "cpu features: %s\n", kernels::detect_cpu_features().to_string().c_str());

  // Bandwidth first, before any model is touched, once per thread count.
  std::map<int32_t, double> bw;
  for (int32_t t : threads) {
    tensor::ThreadPool pool(t);
    bw[t] = engine::measure_read_bandwidth_gbs(pool, size_t(a.bw_mib) << 20, a.bw_reps);
    std::fprintf(info, "memory read bandwidth: %.2f GB/s (%d threads, %d MiB buffer, best of %d)\n", bw[t], t,
                 a.bw_mib, a.bw_reps);
  }

  bool header = false;
  for (const auto& path : a.models) {
    auto file = format::GgufFile::open(path);
    if (!file) return fail(file.error());
    model::LoadOptions load_opts;
    load_opts.pack_weights = !a.no_repack;
    auto model = model::load_model(*file, load_opts);
    if (!model) return fail(model.error());
    if (auto k = (*model)->check_kv_type(a.kv_type); !k) return fail(k.error());
    const uint64_t decode_bytes = engine::decode_weight_bytes(*file);
    const uint64_t kv_pos_bytes = engine::kv_bytes_per_position(**model, a.kv_type);
    Row base;
    base.model = model_name(*file, path);
    base.type = model_type(*file);
    base.size_mib = double(engine::matrix_weight_bytes(*file)) / (1024.0 * 1024.0);
    std::fprintf(info, "model: %s (%s), kernel isa: %s, weights read per decode step: %.2f MiB\n", path.c_str(),
                 base.type.c_str(), (*model)->kernel_isa(), double(decode_bytes) / (1024.0 * 1024.0));
    std::fprintf(info, "resident memory after load: %.1f MiB (file %.1f MiB)\n",
                 double(engine::resident_memory_bytes()) / (1024.0 * 1024.0),
                 double(file->file_size()) / (1024.0 * 1024.0));
    if (!a.json && !header) {
      std::printf("\n| %-24s | %-6s | %10s | %7s | %5s | %-14s | %18s | %8s | %6s |\n", "model", "type", "size",
                  "threads", "batch", "test", "t/s", "median", "bw %");
      std::printf("|%s|%s|%s|%s|%s|%s|%s|%s|%s|\n", std::string(26, '-').c_str(), std::string(8, '-').c_str(),
                  std::string(12, '-').c_str(), std::string(9, '-').c_str(), std::string(7, '-').c_str(),
                  std::string(16, '-').c_str(), std::string(20, '-').c_str(), std::string(10, '-').c_str(),
                  std::string(8, '-').c_str());
      header = true;
    }
    for (int32_t t : threads) {
      tensor::ThreadPool pool(t);
      auto emit = [&](Row r) {
        if (a.json) print_json(r, (*model)->kernel_isa(), bw[t], decode_bytes);
        else print_row(r);
      };
      for (int32_t d : a.depth) {
        for (int32_t p : a.n_prompt) {
          if (p == 0) continue;
          auto s = engine::bench_prompt(**model, p, a.reps, pool, a.seed, a.kv_type, d);
          if (!s) return fail(s.error());
          Row r = base;
          r.threads = t;
          r.depth = d;
          r.test = "pp" + std::to_string(p);
          r.st = engine::summarize(*s);
          r.n_reps = a.reps;
          emit(r);
        }
        for (int32_t n : a.n_gen) {
          if (n == 0) continue;
          for (int32_t b : a.batch) {
            auto s = engine::bench_generate(**model, n, b, a.reps, pool, a.seed, a.kv_type, d);
            if (!s) return fail(s.error());
            Row r = base;
            r.threads = t;
            r.batch = b;
            r.depth = d;
            r.test = "tg" + std::to_string(n);
            r.st = engine::summarize(*s);
            r.n_reps = a.reps;
            // Each step reads the weights once for all `b` sequences, and each sequence's cached
            // K/V (on average the prompt plus half the generated tokens).
            const double prompt = d > 0 ? d : engine::kBenchTgPrompt;
            const double step_bytes = double(decode_bytes) + b * (prompt + n / 2.0) * double(kv_pos_bytes);
            r.bw_pct = bw[t] > 0 ? 100.0 * (r.st.mean / b) * step_bytes / (bw[t] * 1e9) : NAN;
            emit(r);
          }
        }
      }
    }
  }
  return 0;
}

}  // namespace

void add_bench_command(CLI::App& app, int* exit_code) {
  auto* cmd = app.add_subcommand("bench", "Measure prompt (pp) and decode (tg) speed, like llama-bench");
  auto a = std::make_shared<BenchArgs>();
  cmd->add_option("-m,--model", a->models, "GGUF model file (repeat for several)")->required();
  cmd->add_option("-p,--n-prompt", a->n_prompt, "prompt tokens for pp, comma list; 0 skips")
      ->delimiter(',')->capture_default_str();
  cmd->add_option("-n,--n-gen", a->n_gen, "decode steps for tg, comma list; 0 skips")
      ->delimiter(',')->capture_default_str();
  cmd->add_option("-t,--threads", a->threads, "threads, comma list (default: physical cores)")->delimiter(',');
  cmd->add_option("-r,--repetitions", a->reps, "timed runs per test (after one warm-up)")->capture_default_str();
  cmd->add_option("-d,--n-depth", a->depth,
                  "positions already in the KV cache before each test (long-context speed), comma list")
      ->delimiter(',')->capture_default_str();
  cmd->add_option("--batch", a->batch, "sequences decoded together in tg, comma list")
      ->delimiter(',')->capture_default_str();
  cmd->add_flag("--no-repack", a->no_repack,
                "keep weights in the stored layout (no 16-row tiles): compare the two in one run");
  add_kv_cache_flag(*cmd, a->kv_type);
  cmd->add_flag("--json", a->json, "one JSON object per line on stdout (info lines go to stderr)");
  cmd->add_option("--bw-mib", a->bw_mib, "buffer for the read-bandwidth probe, MiB")->capture_default_str();
  cmd->add_option("--bw-reps", a->bw_reps, "bandwidth probe runs (the best counts)")->capture_default_str();
  cmd->add_option("--seed", a->seed, "seed for the random token ids")->capture_default_str();
  cmd->callback([=] { *exit_code = run_bench(*a); });
}

}  // namespace shuo::cli
