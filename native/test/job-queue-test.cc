// Tests of the async job queue (base/job-queue.h): every job runs once, in submission order on one thread, never more at once than the limit.
#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "base/job-queue.h"
#include "harness.h"

namespace qk {
namespace test {
namespace {

// Waits (bounded) until `done` jobs have run: a queue thread that never ran them fails the
// check instead of hanging the suite.
bool WaitFor(std::mutex& mutex, std::condition_variable& cv, const int& done, int want) {
  std::unique_lock<std::mutex> lock(mutex);
  return cv.wait_for(lock, std::chrono::seconds(20), [&] { return done >= want; });
}

// Queues are never destroyed (their threads keep running): each test makes its own with new
// and keeps it in a static, so that leak checkers see it as reachable.
JobQueue& NewQueue(int threads) {
  static std::vector<JobQueue*>* made = new std::vector<JobQueue*>();
  made->push_back(new JobQueue(threads));
  return *made->back();
}

QK_TEST(kIsa, "job-queue/one-thread-runs-in-order") {
  JobQueue& queue = NewQueue(1);
  std::mutex mutex;
  std::condition_variable cv;
  std::vector<int> order;
  int done = 0;
  for (int i = 0; i < 200; ++i) {
    queue.Submit([&, i] {
      std::lock_guard<std::mutex> lock(mutex);
      order.push_back(i);
      ++done;
      cv.notify_all();
    });
  }
  ctx.Check(WaitFor(mutex, cv, done, 200), "all 200 jobs ran");
  std::lock_guard<std::mutex> lock(mutex);
  bool in_order = order.size() == 200;
  for (size_t i = 0; in_order && i < order.size(); ++i) in_order = order[i] == static_cast<int>(i);
  ctx.Check(in_order, "a one-thread queue runs jobs in submission order");
}

QK_TEST(kIsa, "job-queue/never-more-than-the-limit-at-once") {
  for (const int limit : {1, 2, 3}) {
    JobQueue& queue = NewQueue(limit);
    std::atomic<int> running{0}, peak{0};
    std::mutex mutex;
    std::condition_variable cv;
    int done = 0;
    // Submitted from two threads at once, each job holding its slot for a while.
    auto submit = [&](int count) {
      for (int i = 0; i < count; ++i) {
        queue.Submit([&] {
          const int now = ++running;
          int seen = peak.load();
          while (now > seen && !peak.compare_exchange_weak(seen, now)) {}
          std::this_thread::sleep_for(std::chrono::microseconds(300));
          --running;
          std::lock_guard<std::mutex> lock(mutex);
          ++done;
          cv.notify_all();
        });
      }
    };
    std::thread other(submit, 30);
    submit(30);
    other.join();
    ctx.Check(WaitFor(mutex, cv, done, 60), "limit " + std::to_string(limit) + ": all 60 jobs ran");
    ctx.Check(peak.load() <= limit, "limit " + std::to_string(limit) + ": at most that many jobs at once, saw " + std::to_string(peak.load()));
    ctx.Check(peak.load() >= 1, "jobs ran on the queue's threads");
  }
}

QK_TEST(kIsa, "job-queue/limit-clamped") {
  ctx.Check(NewQueue(0).threads() == 1 && NewQueue(-5).threads() == 1, "a limit below 1 becomes 1");
  ctx.Check(NewQueue(5000).threads() == 1024, "a limit above 1024 becomes 1024");
  ctx.Check(JobQueue::Process().threads() >= 1, "the process queue has at least one thread");
}

}  // namespace
}  // namespace test
}  // namespace qk
