// One thread that runs tasks in the order they were posted: the demo Service's home for
// everything that touches the session store (SQLite calls block on disk) or the per-session
// state, so that neither I/O threads nor the engine thread ever wait for a disk.
#pragma once

#include <condition_variable>
#include <cstddef>
#include <deque>
#include <functional>
#include <mutex>
#include <thread>

namespace shuo::api::demo {

class Worker {
 public:
  explicit Worker(size_t max_queue = 4096);
  ~Worker();  // stop()
  Worker(const Worker&) = delete;
  Worker& operator=(const Worker&) = delete;

  // Queues `task`; false (and `task` dropped) when the queue is full or the worker stopped.
  // Any thread, including the worker's own.
  bool post(std::function<void()> task);

  // Runs what is queued (tasks they post included), then joins. Later posts return false.
  // Idempotent; not from the worker's own thread.
  void stop();

 private:
  void loop();

  const size_t max_queue_;
  std::mutex mu_;
  std::condition_variable wake_;
  std::deque<std::function<void()>> queue_;
  bool stopping_ = false;  // no more tasks after the queue drains
  bool closed_ = false;    // drained: posts are refused
  std::thread thread_;     // last: starts after everything above exists
};

}  // namespace shuo::api::demo
