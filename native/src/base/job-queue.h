// JobQueue: a few long-lived threads that run submitted jobs in FIFO order, for the async ops' computations (off the JS thread, and off libuv's pool).
//
// Why not libuv's pool (what Napi::AsyncWorker uses): its 4 threads are the whole process's
// for fs, dns, crypto and zlib. Async computations that wait there for a core held all four
// (16 convs in flight: a 100-byte fs.readFile waited 117-203 ms behind them), and each
// completion handed the core from one pool thread to another (the finished one blocked, a
// waiting one woke), one more thread wake-up per call beside the JS thread's. Here a thread
// that finishes a job takes the next one itself.
//
// Invariants:
// - At most `threads` jobs run at once; a job submitted while all threads are busy waits in
//   the queue (FIFO), it never runs on the submitting thread.
// - Threads start on demand (one per Submit while none is idle, up to the limit) and then
//   live for the whole process: the object is never destroyed (jobs may still run while
//   static destructors do, at exit), so nothing here may be a static with a destructor.
// - A job must not throw (the runner catches nothing): callers wrap their work.
#pragma once

#include <condition_variable>
#include <cstddef>
#include <deque>
#include <functional>
#include <mutex>

namespace qk {

class JobQueue {
 public:
  // `threads` is clamped to [1, 1024].
  explicit JobQueue(int threads);
  // Never destroyed (its threads hold it until the process ends): make it with new.
  ~JobQueue() = delete;
  JobQueue(const JobQueue&) = delete;
  JobQueue& operator=(const JobQueue&) = delete;

  // Queues `job`; starts a thread when none is idle and fewer than the limit run. Never
  // blocks on running jobs. Throws std::bad_alloc or std::system_error (no thread could be
  // started and none runs); then the job was not queued.
  void Submit(std::function<void()> job);

  int threads() const { return limit_; }

  // The process-wide queue of the async ops: one thread fewer than the cores, at least 1
  // (the JS thread keeps a core); QKERNELS_ASYNC_CONCURRENCY (1..1024) overrides, read once.
  static JobQueue& Process();

 private:
  void Work();

  const int limit_;
  std::mutex mutex_;
  std::condition_variable ready_;
  std::deque<std::function<void()>> jobs_;
  int started_ = 0;
  int idle_ = 0;
};

}  // namespace qk
