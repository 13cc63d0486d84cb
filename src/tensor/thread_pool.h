// A persistent pool of worker threads for the kernels. Work is split into one contiguous range
// per thread (static partition), so results never depend on scheduling. The calling thread
// takes part, so ThreadPool(1) runs everything inline with no synchronisation.
// A decode step issues hundreds of parallel_for calls, so waking must be cheap: workers spin on
// an atomic generation counter for a short while (200 µs) before sleeping on a condition
// variable, and the caller spins until the workers are done (yielding after 100 µs, so an
// oversubscribed machine does not starve the worker it waits for). Idle pools cost no CPU.
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

namespace shuo::tensor {

class ThreadPool {
 public:
  explicit ThreadPool(int n_threads);
  ~ThreadPool();
  ThreadPool(const ThreadPool&) = delete;
  ThreadPool& operator=(const ThreadPool&) = delete;

  int size() const { return n_threads_; }

  // Calls fn(begin, end, thread_index) on disjoint ranges covering [0, n); ranges are multiples
  // of `grain` (except the last). Returns when every range is done. fn must not throw.
  using RangeFn = std::function<void(int64_t begin, int64_t end, int thread)>;
  void parallel_for(int64_t n, const RangeFn& fn, int64_t grain = 1);

 private:
  void worker_loop(int index);
  void run_chunk(int index);

  int n_threads_;
  bool spin_;  // workers spin briefly before sleeping; off when the pool has more threads than cores
  std::vector<std::thread> workers_;
  std::mutex mu_;
  std::condition_variable wake_;
  std::atomic<uint64_t> generation_{0};  // bumped once per parallel_for (release)
  std::atomic<int> pending_{0};          // workers still running the current job
  std::atomic<int> sleepers_{0};         // workers blocked on wake_
  std::atomic<bool> stop_{false};
  // The current job (valid while pending_ > 0).
  const RangeFn* job_ = nullptr;
  int64_t job_n_ = 0;
  int64_t job_grain_ = 1;
};

// Number of physical cores (hyper-threads of one core count once); at least 1.
int physical_core_count();

}  // namespace shuo::tensor
