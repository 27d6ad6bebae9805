// Tests of the snapshot pool (base/snapshot-pool.h): reuse, best fit, the caps, no double hand-out under threads, buffers outliving their pool.
#include <algorithm>
#include <atomic>
#include <cstring>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "base/snapshot-pool.h"
#include "harness.h"

namespace qk {
namespace test {
namespace {

constexpr size_t kKiB = 1024;
constexpr size_t kMiB = 1024 * 1024;

QK_TEST(kIsa, "snapshot-pool/reuses-a-released-buffer") {
  SnapshotPool pool(8 * kMiB);
  const uint8_t* first = nullptr;
  {
    Snapshot a = pool.Take(kMiB);
    first = a->data();
    ctx.Check(a->size() == kMiB && a->capacity() >= kMiB, "size/capacity of a fresh buffer");
    ctx.Check(reinterpret_cast<uintptr_t>(a->data()) % 64 == 0, "buffers are 64-byte aligned");
    std::memset(a->data(), 0x5a, a->size());  // all of it is writable (ASan checks the bounds)
  }
  SnapshotPool::Stats stats = pool.stats();
  ctx.Check(stats.idle_buffers == 1 && stats.idle_bytes >= kMiB, "the released buffer is idle in the pool");
  Snapshot b = pool.Take(kMiB - 100);  // a slightly smaller request fits the same buffer
  ctx.Check(b->data() == first, "the idle buffer is handed out again");
  ctx.Check(b->size() == kMiB - 100, "size() is the requested size, not the capacity");
  stats = pool.stats();
  ctx.Check(stats.reused == 1 && stats.allocated == 1, "one allocation, one reuse: " + std::to_string(stats.reused) + "/" +
                                                          std::to_string(stats.allocated));
  ctx.Check(stats.idle_buffers == 0 && stats.idle_bytes == 0, "a buffer that is out is not idle");
}

QK_TEST(kIsa, "snapshot-pool/never-hands-out-a-buffer-in-use") {
  SnapshotPool pool(64 * kMiB);
  std::vector<Snapshot> out;
  std::set<const uint8_t*> seen;
  for (int round = 0; round < 3; ++round) {
    for (int i = 0; i < 16; ++i) {
      out.push_back(pool.Take(3 * kMiB + 1234));
      std::memset(out.back()->data(), i, out.back()->size());
    }
    std::set<const uint8_t*> distinct;
    for (const Snapshot& s : out) distinct.insert(s->data());
    ctx.Check(distinct.size() == out.size(), "two buffers in use share memory");
    for (size_t i = 0; i < out.size(); ++i) {
      const uint8_t* p = out[i]->data();
      ctx.Check(p[0] == i && p[out[i]->size() - 1] == i, "a buffer's bytes changed while it was out");
      seen.insert(p);
    }
    out.clear();  // all 16 back to the pool (48 MiB, under the cap)
  }
  ctx.Check(seen.size() == 16, "16 buffers serve every round: " + std::to_string(seen.size()));
  const SnapshotPool::Stats stats = pool.stats();
  ctx.Check(stats.allocated == 16 && stats.reused == 32, "16 allocations then 32 reuses: " + std::to_string(stats.allocated) +
                                                             "/" + std::to_string(stats.reused));
}

QK_TEST(kIsa, "snapshot-pool/best-fit-within-a-quarter") {
  SnapshotPool pool(64 * kMiB);
  const uint8_t* big = nullptr;
  const uint8_t* small = nullptr;
  {
    Snapshot a = pool.Take(4 * kMiB);
    Snapshot b = pool.Take(kMiB);
    big = a->data();
    small = b->data();
  }
  Snapshot c = pool.Take(900 * kKiB);  // both fit by size; the 1 MiB one is the best fit
  ctx.Check(c->data() == small, "the smallest buffer that fits is taken");
  Snapshot d = pool.Take(2 * kMiB);  // the 4 MiB buffer is more than 25% too large
  ctx.Check(d->data() != big, "a buffer more than 25% too large is not handed out");
  Snapshot e = pool.Take(3500 * kKiB);  // within 25%
  ctx.Check(e->data() == big, "a buffer within 25% of the request is reused");
}

QK_TEST(kIsa, "snapshot-pool/idle-bytes-stay-under-the-cap") {
  const size_t cap = 2 * kMiB;
  SnapshotPool pool(cap);
  std::vector<Snapshot> out;
  std::vector<const uint8_t*> order;
  for (int i = 0; i < 5; ++i) {
    out.push_back(pool.Take(600 * kKiB));
    order.push_back(out.back()->data());
  }
  for (Snapshot& s : out) s.reset();  // released in order 0..4: the oldest go first
  SnapshotPool::Stats stats = pool.stats();
  ctx.Check(stats.idle_bytes <= cap, "idle bytes " + std::to_string(stats.idle_bytes) + " over the cap");
  ctx.Check(stats.idle_buffers == 3 && stats.evicted == 2, "3 of 600 KiB fit in 2 MiB, 2 evicted: " +
                                                               std::to_string(stats.idle_buffers) + ", " + std::to_string(stats.evicted));
  // The survivors are the three released last; the newest is handed out first.
  Snapshot a = pool.Take(600 * kKiB);
  Snapshot b = pool.Take(600 * kKiB);
  Snapshot c = pool.Take(600 * kKiB);
  ctx.Check(a->data() == order[4] && b->data() == order[3] && c->data() == order[2], "longest idle evicted, newest reused first");
  // Larger than the cap: never pooled.
  { Snapshot huge = pool.Take(3 * kMiB); }
  stats = pool.stats();
  ctx.Check(stats.idle_bytes == 0, "a buffer larger than the cap is freed, not kept");
}

QK_TEST(kIsa, "snapshot-pool/small-and-empty-buffers") {
  SnapshotPool pool(64 * kMiB);
  Snapshot empty = pool.Take(0);
  ctx.Check(empty->data() != nullptr && empty->size() == 0, "an empty buffer has a non-null data()");
  Snapshot other_empty = pool.Take(0);
  ctx.Check(other_empty->data() != empty->data(), "two empty buffers are distinct");
  { Snapshot small = pool.Copy("abc", 3); ctx.Check(std::memcmp(small->data(), "abc", 3) == 0, "Copy copies"); }
  const SnapshotPool::Stats stats = pool.stats();
  ctx.Check(stats.idle_buffers == 0 && stats.allocated == 0, "buffers under kMinPooledBytes are not pooled");
  SnapshotPool off(0);
  { Snapshot s = off.Take(kMiB); }
  ctx.Check(off.stats().idle_buffers == 0, "a pool with cap 0 keeps nothing");
}

QK_TEST(kIsa, "snapshot-pool/large-copies-are-exact") {
  // Copies of a MiB and more take the streaming-store path: every byte must still arrive,
  // whatever the source's alignment and however the length ends (a partial 64-byte block).
  SnapshotPool pool(64 * kMiB);
  std::vector<uint8_t> source(kMiB + 200);
  for (size_t i = 0; i < source.size(); ++i) source[i] = static_cast<uint8_t>(i * 131 + (i >> 9));
  for (const size_t offset : {size_t{0}, size_t{1}, size_t{7}, size_t{16}, size_t{63}}) {
    for (const size_t size : {kMiB - 1, kMiB, kMiB + 1, kMiB + 63, kMiB + 64, kMiB + 100}) {
      if (offset + size > source.size()) continue;
      Snapshot copy = pool.Copy(source.data() + offset, size);
      ctx.Check(copy->size() == size && std::memcmp(copy->data(), source.data() + offset, size) == 0,
                "Copy of " + std::to_string(size) + " bytes from offset " + std::to_string(offset) + " is exact");
    }
  }
}

QK_TEST(kIsa, "snapshot-pool/buffer-outlives-its-pool") {
  auto pool = std::make_unique<SnapshotPool>(8 * kMiB);
  Snapshot kept = pool->Take(kMiB);
  { Snapshot idle = pool->Take(kMiB); }  // one idle buffer at destruction
  pool.reset();
  std::memset(kept->data(), 1, kept->size());  // still valid (ASan: no use after free)
  kept.reset();                                // released into the orphaned state, which then frees it
  ctx.Check(true, "");
}

// Threads take, fill with a tag, check and release buffers of shared sizes; half of the
// releases happen on another thread (as buffers taken on the JS thread die on libuv's pool
// or in a worker's env). A buffer handed out twice while in use would show another tag.
QK_TEST(kIsa, "snapshot-pool/threads-never-share-a-buffer") {
  SnapshotPool pool(16 * kMiB);
  const size_t sizes[] = {128 * kKiB, 200 * kKiB, 1 * kMiB, 1 * kMiB + 4096, 3 * kMiB};
  std::mutex handoff_mutex;
  std::vector<std::pair<Snapshot, uint32_t>> handoff;  // buffers another thread checks and releases
  std::atomic<int> corrupt{0};
  std::atomic<bool> over_cap{false};
  const auto check = [&](const Snapshot& s, uint32_t tag) {
    uint32_t word = 0;
    for (size_t offset : {size_t{0}, s->size() / 2 & ~size_t{3}, (s->size() - 4) & ~size_t{3}}) {
      std::memcpy(&word, s->data() + offset, 4);
      if (word != tag) corrupt.fetch_add(1);
    }
  };
  std::vector<std::thread> threads;
  for (uint32_t t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      Random rng(1000 + t);
      for (uint32_t i = 0; i < 400; ++i) {
        const uint32_t tag = (t << 24) | i;
        Snapshot s = pool.Take(sizes[rng.Int(0, 4)]);
        for (size_t offset : {size_t{0}, s->size() / 2 & ~size_t{3}, (s->size() - 4) & ~size_t{3}}) std::memcpy(s->data() + offset, &tag, 4);
        std::this_thread::yield();
        check(s, tag);
        if (pool.stats().idle_bytes > 16 * kMiB) over_cap = true;
        if (rng.Int(0, 1) == 0) {
          std::lock_guard<std::mutex> lock(handoff_mutex);
          handoff.emplace_back(std::move(s), tag);
        }
        std::vector<std::pair<Snapshot, uint32_t>> mine;
        {
          std::lock_guard<std::mutex> lock(handoff_mutex);
          if (handoff.size() > 8) mine.swap(handoff);
        }
        for (auto& [buffer, buffer_tag] : mine) check(buffer, buffer_tag);
        // `mine` and `s` are released here, on this thread
      }
    });
  }
  for (std::thread& thread : threads) thread.join();
  for (auto& [buffer, tag] : handoff) check(buffer, tag);
  handoff.clear();
  const SnapshotPool::Stats stats = pool.stats();
  ctx.Check(corrupt.load() == 0, std::to_string(corrupt.load()) + " tag mismatches: a buffer was handed out while in use");
  ctx.Check(!over_cap.load() && stats.idle_bytes <= 16 * kMiB, "idle bytes over the cap");
  ctx.Check(stats.reused > 0, "the threads reused buffers");
}

}  // namespace
}  // namespace test
}  // namespace qk
