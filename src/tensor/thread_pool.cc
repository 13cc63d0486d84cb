// ThreadPool implementation: spin-then-sleep wake-ups, static partition of ranges.
#include "tensor/thread_pool.h"

#include <algorithm>
#include <chrono>
#include <fstream>
#include <set>
#include <string>
#include <utility>

#if defined(__x86_64__)
#include <immintrin.h>
#define SHUO_CPU_RELAX() _mm_pause()
#else
#define SHUO_CPU_RELAX() ((void)0)
#endif

namespace shuo::tensor {

namespace {
using Clock = std::chrono::steady_clock;
// How long a worker spins for the next job before it sleeps: long enough to bridge the gap
// between the matmuls of one decode step, short enough that an idle server burns nothing.
constexpr auto kSpinTime = std::chrono::microseconds(200);
// How long the caller spins on unfinished workers before it starts yielding its core: on an
// oversubscribed machine the worker it waits for may need exactly that core.
constexpr auto kCallerSpinTime = std::chrono::microseconds(100);
constexpr int kClockEvery = 64;  // pauses between clock reads
}  // namespace

ThreadPool::ThreadPool(int n_threads)
    : n_threads_(std::max(1, n_threads)),
      // More threads than cores: spinning would only take the core from the thread it waits for.
      spin_(n_threads_ <= int(std::max(1u, std::thread::hardware_concurrency()))) {
  workers_.reserve(n_threads_ - 1);
  for (int i = 1; i < n_threads_; ++i) workers_.emplace_back([this, i] { worker_loop(i); });
}

ThreadPool::~ThreadPool() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stop_.store(true);
  }
  wake_.notify_all();
  for (auto& t : workers_) t.join();
}

void ThreadPool::run_chunk(int index) {
  // Split [0, n) into n_threads_ ranges of whole grains.
  const int64_t grains = (job_n_ + job_grain_ - 1) / job_grain_;
  const int64_t per = grains / n_threads_;
  const int64_t extra = grains % n_threads_;
  const int64_t g0 = index * per + std::min<int64_t>(index, extra);
  const int64_t g1 = g0 + per + (index < extra ? 1 : 0);
  const int64_t begin = g0 * job_grain_;
  const int64_t end = std::min(job_n_, g1 * job_grain_);
  if (begin < end) (*job_)(begin, end, index);
}

void ThreadPool::parallel_for(int64_t n, const RangeFn& fn, int64_t grain) {
  if (n <= 0) return;
  grain = std::max<int64_t>(1, grain);
  if (n_threads_ == 1 || n <= grain) {
    fn(0, n, 0);
    return;
  }
  job_ = &fn;
  job_n_ = n;
  job_grain_ = grain;
  pending_.store(n_threads_ - 1, std::memory_order_relaxed);
  {
    // The lock orders the job fields before the generation bump for sleeping workers; spinning
    // workers see them through the release/acquire pair on generation_.
    std::lock_guard<std::mutex> lock(mu_);
    generation_.fetch_add(1, std::memory_order_release);
  }
  if (sleepers_.load(std::memory_order_acquire) > 0) wake_.notify_all();
  run_chunk(0);
  const auto t0 = Clock::now();
  bool yielding = false;
  for (int spin = 1; pending_.load(std::memory_order_acquire) != 0; ++spin) {
    if (yielding) {
      std::this_thread::yield();
    } else {
      SHUO_CPU_RELAX();
      if (spin % kClockEvery == 0) yielding = Clock::now() - t0 > kCallerSpinTime;
    }
  }
  job_ = nullptr;
}

void ThreadPool::worker_loop(int index) {
  uint64_t seen = 0;
  for (;;) {
    uint64_t gen = generation_.load(std::memory_order_acquire);
    if (spin_) {
      const auto t0 = Clock::now();
      for (int spin = 1; gen == seen && !stop_.load(std::memory_order_relaxed); ++spin) {
        SHUO_CPU_RELAX();
        gen = generation_.load(std::memory_order_acquire);
        if (spin % kClockEvery == 0 && Clock::now() - t0 > kSpinTime) break;
      }
    }
    if (gen == seen) {
      std::unique_lock<std::mutex> lock(mu_);
      sleepers_.fetch_add(1, std::memory_order_acq_rel);
      wake_.wait(lock, [&] { return stop_.load() || generation_.load(std::memory_order_acquire) != seen; });
      sleepers_.fetch_sub(1, std::memory_order_acq_rel);
      if (stop_.load()) return;
      gen = generation_.load(std::memory_order_acquire);
    }
    if (stop_.load()) return;
    seen = gen;
    run_chunk(index);
    pending_.fetch_sub(1, std::memory_order_acq_rel);
  }
}

int physical_core_count() {
  // Count distinct (package, core) pairs; hyper-threads share one.
  std::set<std::pair<std::string, std::string>> cores;
  const unsigned logical = std::max(1u, std::thread::hardware_concurrency());
  for (unsigned cpu = 0; cpu < logical; ++cpu) {
    const std::string base = "/sys/devices/system/cpu/cpu" + std::to_string(cpu) + "/topology/";
    std::ifstream pkg(base + "physical_package_id"), core(base + "core_id");
    std::string p, c;
    if (!(pkg >> p) || !(core >> c)) return static_cast<int>(logical);
    cores.emplace(p, c);
  }
  return cores.empty() ? static_cast<int>(logical) : static_cast<int>(cores.size());
}

}  // namespace shuo::tensor
