// JobQueue: threads started on demand, each taking the oldest queued job until the queue is empty, then waiting.
#include "base/job-queue.h"

#include <algorithm>
#include <cstdlib>
#include <system_error>
#include <thread>
#include <utility>

namespace qk {

JobQueue::JobQueue(int threads) : limit_(std::clamp(threads, 1, 1024)) {}

void JobQueue::Submit(std::function<void()> job) {
  std::unique_lock<std::mutex> lock(mutex_);
  jobs_.push_back(std::move(job));
  if (idle_ > 0 || started_ >= limit_) {
    // A waiting thread takes it, or a busy one will when it finishes its job.
    lock.unlock();
    ready_.notify_one();
    return;
  }
  ++started_;
  lock.unlock();
  try {
    std::thread(&JobQueue::Work, this).detach();
  } catch (...) {
    lock.lock();
    --started_;
    if (started_ == 0) {
      // Nothing would ever run it: take it back (it is the newest job, since none ran).
      jobs_.pop_back();
      throw;
    }
    // Another thread runs the queue, this job included.
  }
}

void JobQueue::Work() {
  std::unique_lock<std::mutex> lock(mutex_);
  for (;;) {
    ++idle_;
    ready_.wait(lock, [this] { return !jobs_.empty(); });
    --idle_;
    std::function<void()> job = std::move(jobs_.front());
    jobs_.pop_front();
    lock.unlock();
    job();
    job = nullptr;  // its captures are released here, outside the lock
    lock.lock();
  }
}

JobQueue& JobQueue::Process() {
  static JobQueue* queue = [] {
    const unsigned cores = std::thread::hardware_concurrency();
    int threads = cores > 1 ? static_cast<int>(cores) - 1 : 1;
    if (const char* text = std::getenv("QKERNELS_ASYNC_CONCURRENCY")) {
      const int value = std::atoi(text);
      if (value >= 1 && value <= 1024) threads = value;
    }
    return new JobQueue(threads);  // never destroyed: see the header
  }();
  return *queue;
}

}  // namespace qk
