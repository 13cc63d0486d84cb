// A serial task thread (see worker.h).
#include "api/demo/worker.h"

#include <utility>

namespace shuo::api::demo {

Worker::Worker(size_t max_queue) : max_queue_(max_queue), thread_([this] { loop(); }) {}

Worker::~Worker() { stop(); }

bool Worker::post(std::function<void()> task) {
  {
    std::lock_guard lock(mu_);
    if (closed_ || queue_.size() >= max_queue_) return false;
    queue_.push_back(std::move(task));
  }
  wake_.notify_one();
  return true;
}

void Worker::stop() {
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
  }
  wake_.notify_one();
  if (thread_.joinable()) thread_.join();
}

void Worker::loop() {
  std::unique_lock lock(mu_);
  for (;;) {
    wake_.wait(lock, [this] { return stopping_ || !queue_.empty(); });
    if (queue_.empty()) {  // stopping and drained
      closed_ = true;
      return;
    }
    std::function<void()> task = std::move(queue_.front());
    queue_.pop_front();
    lock.unlock();
    task();
    task = nullptr;  // its captures go before the lock is taken again
    lock.lock();
  }
}

}  // namespace shuo::api::demo
