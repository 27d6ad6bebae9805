// The snapshot pool: idle buffers kept in release order, handed out best fit by capacity, evicted longest-idle first.
#include "base/snapshot-pool.h"

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <mutex>
#include <new>
#include <vector>
#if defined(__x86_64__) || defined(_M_X64)
#include <emmintrin.h>
#endif

namespace qk {

namespace {

constexpr std::align_val_t kAlignment{64};
constexpr size_t kPageBytes = 4096;
// At most this many idle buffers, whatever the byte cap: the idle list is reserved up front,
// so giving a buffer back (inside a destructor) never allocates.
constexpr size_t kMaxIdleBuffers = 4096;
constexpr size_t kMaxCapBytes = size_t{1} << 48;

uint8_t* Allocate(size_t capacity) { return static_cast<uint8_t*>(::operator new(capacity, kAlignment)); }
void Free(uint8_t* data) { ::operator delete(data, kAlignment); }

}  // namespace

struct SnapshotPool::State {
  struct Idle {
    uint8_t* data;
    size_t capacity;
  };

  explicit State(size_t cap)
      : max_idle_bytes(std::min(cap, kMaxCapBytes)),
        max_idle_buffers(std::min(max_idle_bytes / kMinPooledBytes, kMaxIdleBuffers)) {
    idle.reserve(max_idle_buffers);
  }
  ~State() {
    for (const Idle& buffer : idle) Free(buffer.data);
  }

  // Sizes the pool deals in; the rest is plain new/delete.
  bool Pooled(size_t bytes) const { return bytes >= kMinPooledBytes && bytes <= max_idle_bytes && max_idle_buffers > 0; }

  // Gives a buffer back: kept idle if it is of a pooled size, evicting the longest-idle
  // buffers to stay under the caps; freed otherwise. Never allocates, never throws.
  void Release(uint8_t* data, size_t capacity) noexcept {
    if (!Pooled(capacity)) {
      Free(data);
      return;
    }
    std::lock_guard<std::mutex> lock(mutex);
    size_t evict = 0;
    size_t bytes = idle_bytes;
    while (evict < idle.size() && (bytes + capacity > max_idle_bytes || idle.size() - evict >= max_idle_buffers)) {
      bytes -= idle[evict].capacity;
      Free(idle[evict].data);
      ++evict;
    }
    idle.erase(idle.begin(), idle.begin() + static_cast<std::ptrdiff_t>(evict));
    evicted += evict;
    idle_bytes = bytes + capacity;
    idle.push_back(Idle{data, capacity});  // within the reserved capacity: evicted to fit above
  }

  const size_t max_idle_bytes;
  const size_t max_idle_buffers;
  mutable std::mutex mutex;
  std::vector<Idle> idle;  // oldest release first
  size_t idle_bytes = 0;
  uint64_t reused = 0;
  uint64_t allocated = 0;
  uint64_t evicted = 0;
};

// The buffer object gives its memory back when the last shared_ptr lets go of it.
class SnapshotPool::Owned final : public SnapshotBuffer {
 public:
  Owned(std::shared_ptr<State> home, uint8_t* data, size_t size, size_t capacity)
      : SnapshotBuffer(data, size, capacity), home_(std::move(home)) {}
  ~Owned() { home_->Release(data(), capacity()); }

 private:
  std::shared_ptr<State> home_;  // keeps the pool's state alive while the buffer is out
};

SnapshotPool::SnapshotPool(size_t max_idle_bytes) : state_(std::make_shared<State>(max_idle_bytes)) {}

SnapshotPool::~SnapshotPool() = default;

Snapshot SnapshotPool::Take(size_t size) {
  State& state = *state_;
  uint8_t* data = nullptr;
  size_t capacity = std::max<size_t>(size, 1);  // never a null data(), even for 0 bytes
  if (state.Pooled(size)) {
    std::lock_guard<std::mutex> lock(state.mutex);
    // Best fit within 25% slack: a buffer far larger than asked would hold memory for
    // nothing while it is out (a traced step may keep one for the plan's life).
    const size_t limit = size + size / 4;
    size_t best = state.idle.size();
    for (size_t i = state.idle.size(); i-- > 0;) {  // newest first: its pages are the warmest
      const size_t have = state.idle[i].capacity;
      if (have >= size && have <= limit && (best == state.idle.size() || have < state.idle[best].capacity)) best = i;
    }
    if (best < state.idle.size()) {
      data = state.idle[best].data;
      capacity = state.idle[best].capacity;
      state.idle.erase(state.idle.begin() + static_cast<std::ptrdiff_t>(best));
      state.idle_bytes -= capacity;
      ++state.reused;
    } else {
      ++state.allocated;
      // Whole pages, so that slightly different sizes can share buffers (no overflow:
      // size <= max_idle_bytes <= 2^48).
      capacity = (size + kPageBytes - 1) / kPageBytes * kPageBytes;
    }
  }
  if (data == nullptr) data = Allocate(capacity);  // may throw std::bad_alloc; nothing to undo
  Owned* owned = nullptr;
  try {
    owned = new Owned(state_, data, size, capacity);
  } catch (...) {
    state.Release(data, capacity);
    throw;
  }
  return Snapshot(owned);  // if this throws, it deletes `owned`, whose destructor gives `data` back
}

namespace {

// Copies of at least this many bytes bypass the cache (below, the destination is as likely to
// be warm as not and a plain copy into cache is the fastest).
constexpr size_t kStreamCopyBytes = size_t{1} << 20;

// memcpy with non-temporal stores where the CPU has them (SSE2, every x86-64): no read for
// ownership of the destination's lines and no eviction of the caller's working set. Why: a
// large snapshot goes to a pool buffer that is usually cold (16 in-flight 3.2 MB inputs are
// more than the L3 holds) and is read by the compute only after the calls queued before it;
// the copy runs on the JS thread, where its time is event-loop lag. Measured (AMD EPYC Zen 4,
// 16 conv calls in flight on [1,64,224,224]): the JS thread's time in the copy 0.52 -> 0.40 ms
// a call (perf, cpu-clock samples under CopyArgument).
void StreamCopy(uint8_t* d, const uint8_t* s, size_t n) {
#if defined(__x86_64__) || defined(_M_X64)
  // Streaming stores need 16-byte aligned destinations: copy up to the boundary plainly.
  const size_t head = std::min(n, (16 - reinterpret_cast<uintptr_t>(d) % 16) % 16);
  std::memcpy(d, s, head);
  size_t i = head;
  for (; i + 64 <= n; i += 64) {
    const __m128i a = _mm_loadu_si128(reinterpret_cast<const __m128i*>(s + i));
    const __m128i b = _mm_loadu_si128(reinterpret_cast<const __m128i*>(s + i + 16));
    const __m128i c = _mm_loadu_si128(reinterpret_cast<const __m128i*>(s + i + 32));
    const __m128i e = _mm_loadu_si128(reinterpret_cast<const __m128i*>(s + i + 48));
    _mm_stream_si128(reinterpret_cast<__m128i*>(d + i), a);
    _mm_stream_si128(reinterpret_cast<__m128i*>(d + i + 16), b);
    _mm_stream_si128(reinterpret_cast<__m128i*>(d + i + 32), c);
    _mm_stream_si128(reinterpret_cast<__m128i*>(d + i + 48), e);
  }
  // Streaming stores are weakly ordered: fence them before the buffer is handed to another
  // thread (the queueing that follows then publishes plain, ordered stores).
  _mm_sfence();
  std::memcpy(d + i, s + i, n - i);
#else
  std::memcpy(d, s, n);
#endif
}

}  // namespace

Snapshot SnapshotPool::Copy(const void* source, size_t size) {
  Snapshot snapshot = Take(size);
  if (size >= kStreamCopyBytes) {
    StreamCopy(snapshot->data(), static_cast<const uint8_t*>(source), size);
  } else if (size > 0) {
    std::memcpy(snapshot->data(), source, size);
  }
  return snapshot;
}

SnapshotPool::Stats SnapshotPool::stats() const {
  const State& state = *state_;
  std::lock_guard<std::mutex> lock(state.mutex);
  Stats stats;
  stats.max_idle_bytes = state.max_idle_bytes;
  stats.idle_bytes = state.idle_bytes;
  stats.idle_buffers = state.idle.size();
  stats.reused = state.reused;
  stats.allocated = state.allocated;
  stats.evicted = state.evicted;
  return stats;
}

SnapshotPool& SnapshotPool::Process() {
  static SnapshotPool* pool = [] {
    size_t cap = kDefaultIdleBytes;
    if (const char* text = std::getenv("QKERNELS_SNAPSHOT_POOL_BYTES")) {
      char* end = nullptr;
      const unsigned long long value = std::strtoull(text, &end, 10);
      // Digits only, at most 2^48 (256 TiB); anything else keeps the default.
      if (end != text && *end == '\0' && text[0] >= '0' && text[0] <= '9' && value <= kMaxCapBytes) cap = static_cast<size_t>(value);
    }
    return new SnapshotPool(cap);
  }();
  return *pool;
}

}  // namespace qk
