// The worker pool behind ParallelFor: each thread owns a contiguous share of a region's tasks (then steals), and a region ends when its tasks are done.
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

// One range of task indices [front, back) in a word: the owner takes from the front, thieves
// from the back, both by compare-and-swap.
inline uint64_t Range(uint64_t front, uint64_t back) { return (front << 32) | back; }

// The pool. Why it is shaped this way (doc/trace.md, "Two threads"):
// - Each thread owns a contiguous share of the tasks (thread t: the t-th of `threads` equal
//   parts) and takes it in order before stealing from the others' ends. The ops number their
//   tasks along the image, so consecutive steps of a plan give each thread the same band of
//   pixels, which is still in that core's cache; claiming tasks first come first served sent
//   every band to either core and cost more in cache misses than the second core gave.
// - A region ends when its tasks are done, not when every worker has woken: a worker that is
//   still asleep is simply not waited for (its share is stolen). A worker touches the region
//   only between incrementing inside_ and decrementing it, and only while active_ is set, so the
//   caller, after clearing active_, waits just for workers that are awake and inside.
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
    generation_.fetch_add(1);
    lock.unlock();
    wake_.notify_all();
    for (std::thread& worker : workers_) worker.join();
    workers_.clear();
    lock.lock();
    stop_ = false;
    threads_ = threads;
    ranges_ = std::vector<std::atomic<uint64_t>>(static_cast<size_t>(threads));
    // A worker starts from the generation current now, so a region begun
    // before the thread first runs is still seen as new work.
    const uint64_t start = generation_.load();
    for (int i = 0; i + 1 < threads; ++i) {
      workers_.emplace_back([this, start, i] { WorkerLoop(start, static_cast<size_t>(i) + 1); });
    }
  }

  void Run(size_t count, const std::function<void(size_t)>& fn) {
    if (count == 0) return;
    std::unique_lock<std::mutex> region(region_mutex_, std::try_to_lock);
    if (!region.owns_lock() || count == 1 || workers_.empty() || count > kMaxTasks) {
      for (size_t t = 0; t < count; ++t) fn(t);
      return;
    }
    {
      std::lock_guard<std::mutex> lock(state_mutex_);
      fn_ = &fn;
      const size_t parts = ranges_.size();
      for (size_t t = 0; t < parts; ++t) ranges_[t].store(Range(t * count / parts, (t + 1) * count / parts));
      remaining_.store(count);
      active_.store(true);
      generation_.fetch_add(1);
    }
    wake_.notify_all();
    Drain(0);
    // The tasks still running belong to workers that claimed them; wait for those only.
    const auto spin_until = std::chrono::steady_clock::now() + kCallerSpin;
    while (remaining_.load() != 0) {
      if (std::chrono::steady_clock::now() >= spin_until) {
        std::unique_lock<std::mutex> lock(state_mutex_);
        done_.wait(lock, [this] { return remaining_.load() == 0; });
        break;
      }
      CpuRelax();
    }
    active_.store(false);
    // A worker that saw active_ set may still be looking at the (now empty) ranges.
    while (inside_.load() != 0) CpuRelax();
  }

 private:
  static constexpr size_t kMaxTasks = 0xffffffffu;

  // Takes one task from the front of range `owner` (own share) or, for a thief, from its back.
  bool Claim(size_t range, bool own, size_t* task) {
    std::atomic<uint64_t>& word = ranges_[range];
    uint64_t value = word.load();
    for (;;) {
      const uint64_t front = value >> 32, back = value & 0xffffffffu;
      if (front >= back) return false;
      const uint64_t next = own ? Range(front + 1, back) : Range(front, back - 1);
      if (word.compare_exchange_weak(value, next)) {
        *task = static_cast<size_t>(own ? front : back - 1);
        return true;
      }
    }
  }

  // Runs thread `self`'s share in order, then steals from the others until no task is left.
  void Drain(size_t self) {
    const size_t parts = ranges_.size();
    for (size_t k = 0; k < parts; ++k) {
      const size_t range = (self + k) % parts;
      size_t task;
      while (Claim(range, k == 0, &task)) {
        (*fn_)(task);
        if (remaining_.fetch_sub(1) == 1) {
          // Taking the lock orders this notify after the caller's predicate check.
          std::lock_guard<std::mutex> lock(state_mutex_);
          done_.notify_one();
        }
      }
    }
  }

  void WorkerLoop(uint64_t seen, size_t self) {
    for (;;) {
      // Before parking, watch for the next region a little while: a plan's steps come back to
      // back, and a parked worker joins the next one only after the scheduler wakes it.
      const auto spin_until = std::chrono::steady_clock::now() + worker_spin_;
      while (generation_.load(std::memory_order_relaxed) == seen && std::chrono::steady_clock::now() < spin_until) {
        for (int i = 0; i < 16; ++i) CpuRelax();
      }
      {
        std::unique_lock<std::mutex> lock(state_mutex_);
        wake_.wait(lock, [&] { return generation_.load() != seen; });
        seen = generation_.load();
        if (stop_) return;
      }
      // inside_ first, then active_: the caller clears active_ before it waits for inside_ to
      // drop to 0, so either it waits for this worker or this worker sees active_ cleared.
      inside_.fetch_add(1);
      if (active_.load()) Drain(self);
      inside_.fetch_sub(1);
    }
  }

  std::mutex region_mutex_;  // held for the whole of one parallel region
  std::mutex state_mutex_;   // guards stop_, threads_, workers_ and the setting up of a region
  std::condition_variable wake_;
  std::condition_variable done_;
  std::vector<std::thread> workers_;
  int threads_ = 1;
  bool stop_ = false;
  std::atomic<uint64_t> generation_{0};  // bumped (under state_mutex_) for every region and resize
  // The running region: set up by the caller before it bumps generation_, read by workers while
  // active_ is set and they are counted in inside_.
  const std::function<void(size_t)>* fn_ = nullptr;
  std::vector<std::atomic<uint64_t>> ranges_ = std::vector<std::atomic<uint64_t>>(1);
  std::atomic<size_t> remaining_{0};  // tasks of the running region not yet finished
  std::atomic<bool> active_{false};
  std::atomic<int> inside_{0};
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

double MinParallelNs() {
  static const double ns = [] {
    const char* v = std::getenv("QKERNELS_MIN_PARALLEL_NS");
    if (v == nullptr || *v == '\0') return 20000.0;
    char* end = nullptr;
    const double parsed = std::strtod(v, &end);
    return (*end != '\0' || !(parsed >= 0)) ? 20000.0 : parsed;
  }();
  return ns;
}

size_t UsefulThreads(double work_ns) {
  const size_t threads = static_cast<size_t>(GetNumThreads());
  const double min_ns = MinParallelNs();
  if (min_ns <= 0) return threads;
  const double parts = work_ns / min_ns;
  // Written so that a NaN or negative estimate also gives 1 thread.
  if (!(parts >= 2)) return 1;
  return parts >= static_cast<double>(threads) ? threads : static_cast<size_t>(parts);
}

void ParallelFor(size_t count, double task_cost_ns, const std::function<void(size_t)>& fn) {
  if (UsefulThreads(static_cast<double>(count) * task_cost_ns) <= 1) {
    for (size_t t = 0; t < count; ++t) fn(t);
    return;
  }
  Pool().Run(count, fn);
}

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
