// A fixed pool of worker threads with a parallel-for; the caller's thread always takes part.
#pragma once

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

// Number of threads a region may use (caller included); at least 1. Default 1.
int GetNumThreads();
// Sets the thread count (clamped to [1, 256]); workers are started or
// stopped to match. Waits for a running region to finish first.
void SetNumThreads(int threads);

// Splits [0, n) into at most `parts` contiguous ranges of near-equal size, each
// a multiple of `align` except the last. Returns how many ranges there are.
size_t SplitRange(size_t n, size_t parts, size_t align, size_t task, size_t* begin, size_t* end);

}  // namespace qk
