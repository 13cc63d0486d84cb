// One thread that runs posted tasks in order. The ChatHub starts its gRPC writes and finishes
// here, so the engine thread, which hands over each reply piece, never does socket work.
#pragma once

#include <condition_variable>
#include <deque>
#include <functional>
#include <mutex>
#include <thread>

namespace shuo::api::chathub {

class TaskThread {
 public:
  TaskThread();
  ~TaskThread();  // runs what is still queued, then joins
  TaskThread(const TaskThread&) = delete;
  TaskThread& operator=(const TaskThread&) = delete;

  // Thread-safe; never blocks on the tasks. `task` must not throw.
  void post(std::function<void()> task);

 private:
  void loop();

  std::mutex mu_;
  std::condition_variable wake_;
  std::deque<std::function<void()>> tasks_;
  bool stop_ = false;
  std::thread thread_;  // last: starts after everything above exists
};

}  // namespace shuo::api::chathub
