// The worker pool behind ParallelFor: workers park on a condition variable between regions.
#include "base/threadpool.h"

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <mutex>
#include <thread>
#include <vector>

namespace qk {
namespace {

class ThreadPool {
 public:
  ~ThreadPool() { Resize(1); }

  int threads() {
    std::lock_guard<std::mutex> lock(state_mutex_);
    return threads_;
  }

  void Resize(int threads) {
    std::lock_guard<std::mutex> region(region_mutex_);  // never resize under a running region
    std::unique_lock<std::mutex> lock(state_mutex_);
    if (threads == threads_) return;
    stop_ = true;
    ++generation_;
    lock.unlock();
    wake_.notify_all();
    for (std::thread& worker : workers_) worker.join();
    workers_.clear();
    lock.lock();
    stop_ = false;
    threads_ = threads;
    // A worker starts from the generation current now, so a region begun
    // before the thread first runs is still seen as new work.
    const uint64_t start = generation_;
    for (int i = 0; i + 1 < threads; ++i) workers_.emplace_back([this, start] { WorkerLoop(start); });
  }

  void Run(size_t count, const std::function<void(size_t)>& fn) {
    if (count == 0) return;
    std::unique_lock<std::mutex> region(region_mutex_, std::try_to_lock);
    if (!region.owns_lock() || count == 1 || workers_.empty()) {
      for (size_t t = 0; t < count; ++t) fn(t);
      return;
    }
    {
      std::lock_guard<std::mutex> lock(state_mutex_);
      fn_ = &fn;
      count_ = count;
      next_.store(0);
      busy_workers_ = static_cast<int>(workers_.size());
      ++generation_;
    }
    wake_.notify_all();
    Drain();
    std::unique_lock<std::mutex> lock(state_mutex_);
    done_.wait(lock, [this] { return busy_workers_ == 0; });
    fn_ = nullptr;
  }

 private:
  // Claims tasks until none are left; tasks are claimed one at a time so a
  // slow thread never holds back a whole block.
  void Drain() {
    for (;;) {
      const size_t task = next_.fetch_add(1);
      if (task >= count_) break;
      (*fn_)(task);
    }
  }

  void WorkerLoop(uint64_t seen) {
    for (;;) {
      std::unique_lock<std::mutex> lock(state_mutex_);
      wake_.wait(lock, [&] { return generation_ != seen; });
      seen = generation_;
      if (stop_) return;
      lock.unlock();
      Drain();
      lock.lock();
      if (--busy_workers_ == 0) done_.notify_one();
    }
  }

  std::mutex region_mutex_;  // held for the whole of one parallel region
  std::mutex state_mutex_;   // guards the fields below
  std::condition_variable wake_;
  std::condition_variable done_;
  std::vector<std::thread> workers_;
  int threads_ = 1;
  bool stop_ = false;
  uint64_t generation_ = 0;
  int busy_workers_ = 0;
  const std::function<void(size_t)>* fn_ = nullptr;
  size_t count_ = 0;
  std::atomic<size_t> next_{0};
};

ThreadPool& Pool() {
  // Leaked on purpose: joining threads from a static destructor at process
  // exit races with the runtime tearing down; the OS reclaims them.
  static ThreadPool* pool = new ThreadPool();
  return *pool;
}

}  // namespace

void ParallelFor(size_t count, const std::function<void(size_t)>& fn) { Pool().Run(count, fn); }

int GetNumThreads() { return Pool().threads(); }

void SetNumThreads(int threads) { Pool().Resize(std::min(256, std::max(1, threads))); }

size_t SplitRange(size_t n, size_t parts, size_t align, size_t task, size_t* begin, size_t* end) {
  if (align == 0) align = 1;
  const size_t units = (n + align - 1) / align;
  if (parts == 0) parts = 1;
  if (parts > units) parts = units == 0 ? 1 : units;
  const size_t base = units / parts, extra = units % parts;
  const size_t first = task * base + std::min(task, extra);
  const size_t count = base + (task < extra ? 1 : 0);
  *begin = std::min(n, first * align);
  *end = std::min(n, (first + count) * align);
  return parts;
}

}  // namespace qk
