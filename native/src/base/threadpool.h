// A fixed pool of worker threads with a parallel-for; the caller's thread always takes part.
#pragma once

#include <algorithm>
#include <cstddef>
#include <functional>

namespace qk {

// Work is split into `count` tasks; fn(task) is called once per task, from the
// caller's thread or a worker. Results must not depend on which thread runs a
// task (every kernel writes disjoint outputs), so output is identical for any
// thread count.
//
// Only one parallel region uses the workers at a time. A region started while
// another is running (two async forwards on libuv's pool, two worker_threads)
// runs inline on its own thread instead of waiting: same bits, no deadlock.
void ParallelFor(size_t count, const std::function<void(size_t task)>& fn);

// As above, but runs the tasks inline when the region's whole work, count * task_cost_ns
// (a rough single-core estimate), is not worth two threads (UsefulThreads below): handing a few
// microseconds of work to another core costs more (its cache holds none of the data, the next step's inputs end up split
// between two caches) than the core gives back. A traced plan of a small network is mostly such
// steps.
// 20 µs by default; QKERNELS_MIN_PARALLEL_NS sets it (npm test sets 0, so that the tests' small
// tensors still go through the thread split they check).
double MinParallelNs();
void ParallelFor(size_t count, double task_cost_ns, const std::function<void(size_t task)>& fn);

// Number of threads a region may use (caller included); at least 1. Default 1.
int GetNumThreads();
// Sets the thread count (clamped to [1, 256]); workers are started or
// stopped to match. Waits for a running region to finish first.
void SetNumThreads(int threads);

// Splits [0, n) into at most `parts` contiguous ranges of near-equal size, each
// a multiple of `align` except the last. Returns how many ranges there are.
size_t SplitRange(size_t n, size_t parts, size_t align, size_t task, size_t* begin, size_t* end);

// How many threads `work_ns` of work is worth: each at least MinParallelNs() of it, at most
// GetNumThreads(), at least 1 (all of them when MinParallelNs() is 0). The one rule every
// region follows, ParallelFor(count, task_cost_ns, fn) included.
size_t UsefulThreads(double work_ns);

// fn(begin, end) over one contiguous range of [0, n) per thread (ranges a multiple of `align`
// long but the last), or over all of it inline when UsefulThreads(n * item_ns) is 1. Range
// t goes to thread t first (ParallelFor's shares), so steps that cut the same tensor the same
// way keep each part on one core. fn must compute an item the same way wherever the cut falls.
template <typename Fn>
void ParallelRanges(size_t n, double item_ns, size_t align, const Fn& fn) {
  size_t parts = UsefulThreads(static_cast<double>(n) * item_ns);
  size_t begin = 0, end = 0;
  if (parts > 1) parts = SplitRange(n, parts, align, 0, &begin, &end);
  if (parts <= 1) {
    fn(size_t{0}, n);
    return;
  }
  ParallelFor(parts, [&](size_t task) {
    size_t b = 0, e = 0;
    SplitRange(n, parts, align, task, &b, &e);
    fn(b, e);
  });
}

}  // namespace qk
