// Micro-benchmarks of the matmul driver on one thread: the tiled GEMM path against the
// row-by-token dot products it replaced (same kernels table with the GEMM entries removed), on
// random weights of Qwen2-0.5B's matrix shapes. Reports GFLOP/s (2·rows·cols·tokens per call)
// and weight GB/s, per CPU second, so a busy machine disturbs the ratio less than wall time.
//   build/bench/gemm_bench --benchmark_filter='Q8_0'
#include <benchmark/benchmark.h>

#include <random>
#include <vector>

#include "kernels/matmul.h"
#include "tensor/quants.h"

using namespace shuo;
using namespace shuo::kernels;
using format::GgmlType;

namespace {

struct Fixture {
  std::vector<uint8_t> data;
  WeightMatrix w;
  std::vector<float> x, y;
};

Fixture make(GgmlType t, int64_t rows, int64_t cols, int64_t tokens) {
  Fixture f;
  std::mt19937 rng(1);
  std::normal_distribution<float> nd(0.0f, 1.0f);
  const size_t rb = *format::ggml_row_bytes(t, cols);
  f.data.resize(rb * size_t(rows));
  std::vector<float> row(static_cast<size_t>(cols));
  for (int64_t r = 0; r < rows; ++r) {
    for (auto& v : row) v = nd(rng);
    (void)tensor::quantize(t, row.data(), f.data.data() + rb * size_t(r), cols);
  }
  f.w = WeightMatrix{t, f.data.data(), rows, cols, rb, "w"};
  f.x.resize(size_t(tokens * cols));
  for (auto& v : f.x) v = nd(rng);
  f.y.resize(size_t(tokens * rows));
  return f;
}

// args: type, rows, cols, tokens, mode: 0 row-by-token dots, 1 GEMM with per-call packing,
// 2 load-time packed tiles (packed.h; Q8_0/Q4_0/F16 only)
void BM_Matmul(benchmark::State& state) {
  const auto t = GgmlType(state.range(0));
  const int64_t rows = state.range(1), cols = state.range(2), tokens = state.range(3);
  const CpuFeatures cpu = detect_cpu_features();
  VecDotKernels k = select_vec_dot_kernels(cpu);
  const int64_t mode = state.range(4);
  if (mode == 0) {
    k.gemm_i8 = nullptr;
    k.gemm_f32 = nullptr;
  } else if (!k.gemm_i8 || (mode == 2 && !k.packs(packed_kind_for(t, cols)))) {
    state.SkipWithError("no such kernel for this type at this ISA level");
    return;
  }
  Fixture f = make(t, rows, cols, tokens);
  std::vector<uint8_t> packed;
  if (mode == 2) {
    const PackedKind kind = packed_kind_for(t, cols);
    const size_t tb = packed_tile_bytes(kind, cols);
    packed.resize(tb * size_t(packed_tiles(rows)));
    for (int64_t tile = 0; tile < packed_tiles(rows); ++tile)
      pack_weight_tile(f.w, kind, tile, packed.data() + size_t(tile) * tb);
    f.w.packed = kind;
    f.w.packed_data = packed.data();
  }
  tensor::ThreadPool pool(1);
  MatmulScratch scratch;
  for (auto _ : state) {
    matmul(f.w, f.x.data(), tokens, f.y.data(), pool, k, scratch);
    benchmark::DoNotOptimize(f.y.data());
  }
  static const char* const kModes[] = {" rows", " gemm", " packed"};
  state.SetLabel(std::string(format::ggml_type_name(t)) + kModes[mode]);
  state.counters["GFLOP/s"] = benchmark::Counter(2.0 * double(rows * cols * tokens) * 1e-9,
                                                 benchmark::Counter::kIsIterationInvariantRate);
  state.counters["wGB/s"] = benchmark::Counter(double(f.data.size()) * 1e-9,
                                               benchmark::Counter::kIsIterationInvariantRate);
}

void shapes(benchmark::internal::Benchmark* b) {
  for (GgmlType t : {GgmlType::Q8_0, GgmlType::Q4_0, GgmlType::Q4_K, GgmlType::Q6_K, GgmlType::F16})
    for (int64_t tokens : {1, 8, 64, 256})
      for (int mode : {0, 1, 2})
        if (mode != 1 || tokens >= kGemmMinTokens) b->Args({int64_t(t), 896, 4864, tokens, mode});
  // Batched decode: the packed kernels at every small batch size (their passes group tokens).
  for (GgmlType t : {GgmlType::Q8_0, GgmlType::Q4_0, GgmlType::Q5_0, GgmlType::Q4_K, GgmlType::F16})
    for (int64_t tokens : {2, 3, 4, 5, 6, 7}) b->Args({int64_t(t), 896, 4864, tokens, 2});
  // Decode from DRAM: 77 MB of Q8_0, far more than the L3.
  for (int64_t tokens : {1, 8})
    for (int mode : {0, 2}) b->Args({int64_t(GgmlType::Q8_0), 16 * 4864, 896, tokens, mode});  // ffn_down: K-quant rows need cols % 256 == 0
}

}  // namespace

BENCHMARK(BM_Matmul)->Apply(shapes)->Unit(benchmark::kMillisecond);
BENCHMARK_MAIN();
