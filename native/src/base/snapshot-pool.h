// Byte buffers for the copies async ops take of their inputs, recycled through a bounded, thread-safe pool so a call reuses warm pages instead of faulting in fresh ones.
//
// Why: an async op copies each input at call time (the caller may overwrite it right after),
// on the JS thread. A fresh multi-megabyte buffer per call is memory the kernel must fault in
// and clear page by page (issue 14: ~500 faults and ~1 ms of the JS thread per 3.2 MB conv
// input); a buffer that a finished call gave back is already mapped.
//
// Invariants:
// - A buffer is out (owned by exactly one shared_ptr family) or idle (in the pool), never
//   both: Take removes it from the idle list under the lock before handing it out, and only
//   the last shared_ptr's deleter gives it back.
// - Contents are unspecified: a buffer is never zero-filled; the caller overwrites all of it.
// - Idle bytes never exceed the pool's cap. Releasing a buffer that would pass the cap evicts
//   the longest-idle buffers first (so the pool follows the shapes in use); a buffer larger
//   than the cap, or smaller than kMinPooledBytes (malloc recycles those well), is freed.
// - Nothing here knows about Node: a buffer may be released on any thread (libuv's pool, a
//   worker_thread's env, after that env is gone), and releasing touches only the pool.
// - A pool's state lives as long as its last buffer (each deleter holds it), so a buffer may
//   outlive the SnapshotPool object that made it.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>

namespace qk {

// `size()` bytes at `data()` (64-byte aligned, never null, even for size 0), in an allocation
// of `capacity()` bytes.
class SnapshotBuffer {
 public:
  SnapshotBuffer(const SnapshotBuffer&) = delete;
  SnapshotBuffer& operator=(const SnapshotBuffer&) = delete;

  uint8_t* data() const { return data_; }
  size_t size() const { return size_; }
  size_t capacity() const { return capacity_; }

 protected:  // made and destroyed only by SnapshotPool (its Owned subclass gives the memory back)
  SnapshotBuffer(uint8_t* data, size_t size, size_t capacity) : data_(data), size_(size), capacity_(capacity) {}
  ~SnapshotBuffer() = default;

 private:
  uint8_t* const data_;
  const size_t size_;
  const size_t capacity_;
};

using Snapshot = std::shared_ptr<SnapshotBuffer>;

class SnapshotPool {
 public:
  // Buffers below this are not pooled: malloc serves them from its free lists without faults.
  static constexpr size_t kMinPooledBytes = size_t{128} << 10;
  // The process pool's default cap on idle bytes: 16 in-flight 3.2 MB inputs fit, with room.
  static constexpr size_t kDefaultIdleBytes = size_t{64} << 20;

  // `max_idle_bytes` is clamped to 2^48; 0 (or less than kMinPooledBytes) pools nothing.
  explicit SnapshotPool(size_t max_idle_bytes);
  // Frees the idle buffers; buffers still out go back to the (still alive) state and are freed then.
  ~SnapshotPool();
  SnapshotPool(const SnapshotPool&) = delete;
  SnapshotPool& operator=(const SnapshotPool&) = delete;

  // A buffer of `size` bytes with unspecified contents: the idle one with the smallest
  // capacity in [size, size + size / 4] (the most recently released among equals), else a new
  // allocation rounded up to whole pages. Throws std::bad_alloc.
  Snapshot Take(size_t size);
  // Take(size) filled with a copy of [source, source + size); copies of 1 MiB and more use
  // streaming (non-temporal) stores where the CPU has them (snapshot-pool.cc says why).
  Snapshot Copy(const void* source, size_t size);

  struct Stats {
    size_t max_idle_bytes = 0;
    size_t idle_bytes = 0;
    size_t idle_buffers = 0;
    uint64_t reused = 0;     // Takes served from the idle list
    uint64_t allocated = 0;  // Takes of a pooled size that allocated
    uint64_t evicted = 0;    // idle buffers freed to stay under the caps
  };
  Stats stats() const;

  // The process-wide pool the addon uses (never destroyed: buffers are released on threads
  // that may outlive static destructors). Its cap is kDefaultIdleBytes, or the byte count in
  // QKERNELS_SNAPSHOT_POOL_BYTES (0 turns pooling off), read once.
  static SnapshotPool& Process();

 private:
  struct State;
  class Owned;
  std::shared_ptr<State> state_;
};

}  // namespace qk
