// The worker pool behind ParallelFor: a region ends when its tasks are done, not when every worker has woken.
#include "base/threadpool.h"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <cstdlib>
#include <mutex>
#include <thread>
#include <vector>

#if defined(__x86_64__) || defined(_M_X64) || defined(__i386__)
#include <immintrin.h>
#endif

namespace qk {
namespace {

inline void CpuRelax() {
#if defined(__x86_64__) || defined(_M_X64) || defined(__i386__)
  _mm_pause();
#elif defined(__aarch64__)
  __asm__ __volatile__("yield");
#endif
}

// How long the caller spins on the region's last tasks before it sleeps. A task left to a worker
// typically ends within microseconds of the caller's own; sleeping on the condition variable
// would add a wake-up (tens of microseconds on a VM) to every small region.
constexpr std::chrono::microseconds kCallerSpin{50};

// How long a worker watches for the next region before it parks: QKERNELS_POOL_SPIN_US, default
// 50 (0 parks at once). A plan's steps follow each other within microseconds, and a parked worker
// rejoins only when the scheduler wakes it; 50 µs of polling per region is a small fraction of
// what OpenMP runtimes spin by default, and it ends as soon as no region follows.
long SpinFromEnv() {
  const char* v = std::getenv("QKERNELS_POOL_SPIN_US");
  if (v == nullptr || *v == '\0') return 50;
  char* end = nullptr;
  const long us = std::strtol(v, &end, 10);
  return (*end != '\0' || us < 0) ? 50 : std::min(us, 100000L);
}

// The pool. Tasks are claimed from one 64-bit word: the region's number in the high half and the
// next task index in the low half, so a worker that wakes late (after its region has ended) can
// never claim a task of a region it did not read: its compare-and-swap carries the old number and
// fails. That is what lets the caller return as soon as the last task is done, without waiting for
// every worker to wake up, look, and go back to sleep: on a plan of a hundred small steps the
// wake-ups, not the work, were the cost of a second thread (doc/trace.md).
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
    if (!region.owns_lock() || count == 1 || workers_.empty() || count > kMaxTasks) {
      for (size_t t = 0; t < count; ++t) fn(t);
      return;
    }
    uint64_t tag;
    {
      std::lock_guard<std::mutex> lock(state_mutex_);
      fn_ = &fn;
      count_ = count;
      tag = ++generation_;
      remaining_.store(count, std::memory_order_relaxed);
      claim_.store(Tagged(tag, 0), std::memory_order_release);
    }
    wake_.notify_all();
    Drain(tag, fn, count);
    // The tasks still running belong to workers that claimed them; wait for those only.
    const auto spin_until = std::chrono::steady_clock::now() + kCallerSpin;
    while (remaining_.load(std::memory_order_acquire) != 0) {
      if (std::chrono::steady_clock::now() >= spin_until) {
        std::unique_lock<std::mutex> lock(state_mutex_);
        done_.wait(lock, [this] { return remaining_.load(std::memory_order_acquire) == 0; });
        break;
      }
      CpuRelax();
    }
  }

 private:
  static constexpr size_t kMaxTasks = 0xffffffffu;
  static uint64_t Tagged(uint64_t generation, uint64_t task) { return (generation << 32) | task; }

  // Claims tasks of region `tag` until none are left (one at a time, so a slow thread never holds
  // back a whole block) or the region is no longer the current one.
  void Drain(uint64_t tag, const std::function<void(size_t)>& fn, size_t count) {
    const uint64_t high = tag & 0xffffffffu;
    uint64_t word = claim_.load(std::memory_order_acquire);
    for (;;) {
      if ((word >> 32) != high || (word & 0xffffffffu) >= count) return;
      if (!claim_.compare_exchange_weak(word, word + 1, std::memory_order_acq_rel, std::memory_order_acquire)) continue;
      fn(static_cast<size_t>(word & 0xffffffffu));
      if (remaining_.fetch_sub(1, std::memory_order_acq_rel) == 1) {
        // Taking the lock orders this notify after the caller's predicate check.
        std::lock_guard<std::mutex> lock(state_mutex_);
        done_.notify_one();
      }
      word = claim_.load(std::memory_order_acquire);
    }
  }

  void WorkerLoop(uint64_t seen) {
    for (;;) {
      // Before parking, watch for the next region a little while: a plan's steps come back to
      // back, and a parked worker joins the next one only after the scheduler wakes it.
      const auto spin_until = std::chrono::steady_clock::now() + worker_spin_;
      while ((claim_.load(std::memory_order_acquire) >> 32) == (seen & 0xffffffffu) &&
             std::chrono::steady_clock::now() < spin_until) {
        for (int i = 0; i < 16; ++i) CpuRelax();
      }
      std::unique_lock<std::mutex> lock(state_mutex_);
      wake_.wait(lock, [&] { return generation_ != seen; });
      seen = generation_;
      if (stop_) return;
      // fn_ and count_ are read under the lock with the generation they belong to; the tagged
      // claim in Drain guarantees fn_ is only called while its region is still running.
      const std::function<void(size_t)>* fn = fn_;
      const size_t count = count_;
      lock.unlock();
      if (fn != nullptr) Drain(seen, *fn, count);
    }
  }

  std::mutex region_mutex_;  // held for the whole of one parallel region
  std::mutex state_mutex_;   // guards the fields below up to count_
  std::condition_variable wake_;
  std::condition_variable done_;
  std::vector<std::thread> workers_;
  int threads_ = 1;
  bool stop_ = false;
  uint64_t generation_ = 0;
  const std::function<void(size_t)>* fn_ = nullptr;
  size_t count_ = 0;
  std::atomic<uint64_t> claim_{0};      // (generation << 32) | next task
  std::atomic<size_t> remaining_{0};    // tasks of the current region not yet finished
  std::chrono::microseconds worker_spin_{SpinFromEnv()};
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
