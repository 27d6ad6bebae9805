// Zero-copy handoffs of tensor memory: donated inputs read in place by async ops, recycled buffers reused by outputs (see handoff.h).
#include "addon/handoff.h"

#include <algorithm>
#include <array>
#include <cstdlib>
#include <cstring>
#include <mutex>
#include <string>
#include <utility>

#if defined(__GLIBC__)
#include <malloc.h>
#endif

#include "addon/common.h"

namespace qk {
namespace addon {
namespace {

// The pool's bounds per env: enough for 16 in-flight outputs of a 3.2 MB activation, small
// beside any model that makes them. Past either, the oldest buffer is released to the GC.
constexpr size_t kPoolBytes = size_t{64} << 20;
constexpr size_t kPoolBuffers = 64;
// Donated buffers waiting for an async op, per env: ArgInput compares an async op's inputs with
// each, so the list stays short; donating past it is a RangeError, never a silent copy.
constexpr size_t kMaxDonated = 1024;
// Detached donated buffers remembered per env, so that a later read of one is a TypeError that
// says why (an eager module that reads its input twice, a residual connection, sees this).
constexpr size_t kTakenRemembered = 64;

struct Pooled {
  size_t bytes = 0;
  napi_ref ref = nullptr;  // strong: the pool owns the buffer
};

// One env's handoff state. JS thread only.
struct EnvHandoffs {
  napi_env env = nullptr;
  std::vector<napi_ref> donated;  // weak: a donated tensor the caller drops is collected
  std::vector<Pooled> pool;       // oldest first
  std::vector<napi_ref> taken;    // weak, oldest first: donated buffers detached by a take
  // structuredClone as it was when the addon loaded (strong): the transfers below call this one,
  // so code that replaces the global later cannot see, or keep, the memory being handed over.
  napi_ref clone = nullptr;
  size_t pool_bytes = 0;
  double taken_count = 0, recycled = 0, reused = 0, returned = 0;
};

// Node runs one env per thread (a worker's on its own thread), so a few slots per thread do; a
// slot is freed by its env's cleanup hook, which releases what the env still holds.
constexpr size_t kThreadEnvSlots = 8;
thread_local std::array<EnvHandoffs, kThreadEnvSlots> thread_handoffs;
thread_local int donation_scopes = 0;

EnvHandoffs* Find(napi_env env) {
  for (EnvHandoffs& slot : thread_handoffs) {
    if (slot.env == env) return &slot;
  }
  return nullptr;
}

// Whether `a` and `b` are one JS value.
bool Same(napi_env env, napi_value a, napi_value b) {
  bool same = false;
  return napi_strict_equals(env, a, b, &same) == napi_ok && same;
}

// The index in `refs` of the live reference to `value`, or refs.size().
size_t IndexOf(napi_env env, const std::vector<napi_ref>& refs, napi_value value) {
  for (size_t i = 0; i < refs.size(); ++i) {
    napi_value held = nullptr;
    if (napi_get_reference_value(env, refs[i], &held) == napi_ok && held != nullptr && Same(env, held, value)) return i;
  }
  return refs.size();
}

void OnEnvCleanup(void* arg) {
  auto* slot = static_cast<EnvHandoffs*>(arg);
  for (napi_ref ref : slot->donated) napi_delete_reference(slot->env, ref);
  for (const Pooled& entry : slot->pool) napi_delete_reference(slot->env, entry.ref);
  for (napi_ref ref : slot->taken) napi_delete_reference(slot->env, ref);
  if (slot->clone != nullptr) napi_delete_reference(slot->env, slot->clone);
  *slot = EnvHandoffs();
}

EnvHandoffs& ForEnv(Napi::Env env) {
  if (EnvHandoffs* found = Find(env)) return *found;
  for (EnvHandoffs& slot : thread_handoffs) {
    if (slot.env != nullptr) continue;
    if (napi_add_env_cleanup_hook(env, OnEnvCleanup, &slot) != napi_ok) break;
    slot.env = env;
    return slot;
  }
  throw Napi::Error::New(env, "qkernels: more environments on one thread than Node makes");
}

// Deletes `pool`'s oldest entries until it fits its bounds.
void Trim(EnvHandoffs* slot) {
  size_t drop = 0;
  size_t bytes = slot->pool_bytes;
  while (drop < slot->pool.size() && (bytes > kPoolBytes || slot->pool.size() - drop > kPoolBuffers)) {
    bytes -= slot->pool[drop].bytes;
    napi_delete_reference(slot->env, slot->pool[drop].ref);
    ++drop;
  }
  slot->pool.erase(slot->pool.begin(), slot->pool.begin() + static_cast<std::ptrdiff_t>(drop));
  slot->pool_bytes = bytes;
}

// Adds a transferred buffer to the pool, then drops the oldest entries past its bounds.
void Pool(EnvHandoffs* slot, size_t bytes, napi_ref strong) {
  slot->pool.push_back(Pooled{bytes, strong});
  slot->pool_bytes += bytes;
  Trim(slot);
}

// structuredClone(buffer, { transfer: [buffer] }): the memory moves to the returned ArrayBuffer,
// `buffer` (and every view of it) is detached. Throws the JS error as a Napi::Error.
Napi::ArrayBuffer Transfer(Napi::Env env, Napi::ArrayBuffer buffer) {
  EnvHandoffs* slot = Find(env);
  napi_value clone = nullptr;
  if (slot == nullptr || slot->clone == nullptr || napi_get_reference_value(env, slot->clone, &clone) != napi_ok || clone == nullptr) {
    throw Napi::Error::New(env, "qkernels: this runtime had no structuredClone when qkernels loaded, which handoffs need");
  }
  Napi::Array list = Napi::Array::New(env, 1);
  list.Set(uint32_t{0}, buffer);
  Napi::Object options = Napi::Object::New(env);
  options.Set("transfer", list);
  Napi::Value moved = Napi::Function(env, clone).Call({buffer, options});
  if (!moved.IsArrayBuffer()) throw Napi::Error::New(env, "qkernels: structuredClone did not return an ArrayBuffer");
  return moved.As<Napi::ArrayBuffer>();
}

// The ArrayBuffer under argument `index`, which must be a typed array over a plain (not shared),
// attached ArrayBuffer: the only kind that can be transferred.
Napi::ArrayBuffer ArgOwnBuffer(const Napi::CallbackInfo& info, size_t index, const char* parameter, napi_typedarray_type* type,
                               size_t* length, size_t* offset) {
  Napi::Env env = info.Env();
  if (index >= info.Length() || !info[index].IsTypedArray()) ThrowType(env, "tensor storage (a typed array)", parameter, info[index]);
  napi_value buffer = nullptr;
  NAPI_THROW_IF_FAILED(env, napi_get_typedarray_info(env, info[index], type, length, nullptr, &buffer, offset), Napi::ArrayBuffer());
  bool plain = false;
  if (napi_is_arraybuffer(env, buffer, &plain) != napi_ok || !plain) {
    ThrowType(env, "a tensor whose storage is an ArrayBuffer (a SharedArrayBuffer cannot be handed over)", parameter, info[index]);
  }
  bool detached = false;
  if (napi_is_detached_arraybuffer(env, buffer, &detached) != napi_ok || detached) {
    ThrowType(env, "a tensor whose storage is attached (not transferred or already handed over)", parameter, info[index]);
  }
  return Napi::ArrayBuffer(env, buffer);
}

// Transfer with the caller's parameter named when the runtime refuses (Node's shared Buffer pool
// is marked untransferable).
Napi::ArrayBuffer TransferArgument(const Napi::CallbackInfo& info, size_t index, const char* parameter, Napi::ArrayBuffer buffer) {
  Napi::ArrayBuffer moved;
  try {
    moved = Transfer(info.Env(), buffer);
  } catch (const Napi::Error& error) {
    ThrowType(info.Env(), std::string("a tensor whose storage can be transferred (") + error.Message() + ")", parameter, info[index]);
  }
  // Node copies, rather than transfers, a buffer marked untransferable (its shared Buffer pool):
  // the caller's storage would stay attached, against what donate/recycle promise.
  bool detached = false;
  if (napi_is_detached_arraybuffer(info.Env(), buffer, &detached) != napi_ok || !detached) {
    ThrowType(info.Env(), "a tensor whose storage can be transferred (not Node's shared Buffer pool, which is marked untransferable)",
              parameter, info[index]);
  }
  return moved;
}

// donate(storage) -> a typed array of the same kind, offset and length over the transferred buffer.
Napi::Value Donate(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  napi_typedarray_type type;
  size_t length = 0, offset = 0;
  Napi::ArrayBuffer buffer = ArgOwnBuffer(info, 0, "tensor", &type, &length, &offset);
  EnvHandoffs& slot = ForEnv(env);
  // Forget donated tensors the caller has dropped before counting the waiting ones.
  std::vector<napi_ref> live;
  for (napi_ref ref : slot.donated) {
    napi_value value = nullptr;
    if (napi_get_reference_value(env, ref, &value) == napi_ok && value != nullptr) {
      live.push_back(ref);
    } else {
      napi_delete_reference(env, ref);
    }
  }
  slot.donated = std::move(live);
  if (slot.donated.size() >= kMaxDonated) {
    ThrowRange(env, "at most " + std::to_string(kMaxDonated) + " donated tensors waiting for an async op", "tensor", info[0]);
  }
  Napi::ArrayBuffer moved = TransferArgument(info, 0, "tensor", buffer);
  napi_ref weak = nullptr;
  NAPI_THROW_IF_FAILED(env, napi_create_reference(env, moved, 0, &weak), Napi::Value());
  slot.donated.push_back(weak);
  napi_value view = nullptr;
  NAPI_THROW_IF_FAILED(env, napi_create_typedarray(env, type, length, moved, offset, &view), Napi::Value());
  return Napi::Value(env, view);
}

// recycle(storage): the storage's buffer joins the env's pool (or is released when it cannot fit).
Napi::Value Recycle(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  napi_typedarray_type type;
  size_t length = 0, offset = 0;
  Napi::ArrayBuffer buffer = ArgOwnBuffer(info, 0, "tensor", &type, &length, &offset);
  EnvHandoffs& slot = ForEnv(env);
  Napi::ArrayBuffer moved = TransferArgument(info, 0, "tensor", buffer);
  const size_t bytes = moved.ByteLength();
  if (bytes > 0 && bytes <= kPoolBytes) {
    napi_ref strong = nullptr;
    NAPI_THROW_IF_FAILED(env, napi_create_reference(env, moved, 1, &strong), Napi::Value());
    slot.recycled += 1;
    Pool(&slot, bytes, strong);
  }
  return env.Undefined();
}

// { pooledBuffers, pooledBytes, donatedWaiting, taken, recycled, reused, returned, maxPoolBytes,
// maxPoolBuffers }: this env's handoff state, for tests and diagnostics.
Napi::Value HandoffStats(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Napi::Object result = Napi::Object::New(env);
  const EnvHandoffs* slot = Find(env);
  const EnvHandoffs empty;
  if (slot == nullptr) slot = &empty;
  result.Set("pooledBuffers", static_cast<double>(slot->pool.size()));
  result.Set("pooledBytes", static_cast<double>(slot->pool_bytes));
  result.Set("donatedWaiting", static_cast<double>(slot->donated.size()));
  result.Set("taken", slot->taken_count);
  result.Set("recycled", slot->recycled);
  result.Set("reused", slot->reused);
  result.Set("returned", slot->returned);
  result.Set("maxPoolBytes", static_cast<double>(kPoolBytes));
  result.Set("maxPoolBuffers", static_cast<double>(kPoolBuffers));
  return result;
}

}  // namespace

// ---- freed output pages (handoff.h) ----------------------------------------------------------

namespace {

// The default and the bounds of QKERNELS_KEEP_FREED_MB: 128 MB covers two of V8's 64 MB
// external-memory cycles of garbage outputs (one cycle's worth measured 1.05x torch on the add
// above, two 1.29x, recycled outputs 1.35x); mallopt takes an int, hence the top.
constexpr long kDefaultKeepMb = 128, kMaxKeepMb = 2047;
// glibc's own upper bound for M_MMAP_THRESHOLD on 64-bit (HEAP_MAX_SIZE / 2).
constexpr size_t kMaxMmapThreshold = size_t{32} << 20;

FreedPagesPolicy ApplyFreedPagesPolicy() {
  FreedPagesPolicy policy;
  long mb = kDefaultKeepMb;
  if (const char* env = std::getenv("QKERNELS_KEEP_FREED_MB"); env != nullptr && *env != '\0') {
    char* end = nullptr;
    const long parsed = std::strtol(env, &end, 10);
    if (*end != '\0' || parsed < 0 || parsed > kMaxKeepMb || !(*env >= '0' && *env <= '9')) {
      policy.env_error = std::string("QKERNELS_KEEP_FREED_MB: expected a whole number of MB from 0 to ") +
                         std::to_string(kMaxKeepMb) + " but received '" + env + "'; using " + std::to_string(kDefaultKeepMb);
    } else {
      mb = parsed;
    }
  }
  if (mb == 0) {
    policy.note = "off (QKERNELS_KEEP_FREED_MB=0): malloc's own trim policy";
    return policy;
  }
#if defined(__GLIBC__)
  // The process's own malloc settings win: glibc reads these before any addon loads.
  const char* tunables = std::getenv("GLIBC_TUNABLES");
  const bool user_tuned = (tunables != nullptr && std::strstr(tunables, "glibc.malloc.") != nullptr) ||
                          std::getenv("MALLOC_TRIM_THRESHOLD_") != nullptr || std::getenv("MALLOC_MMAP_THRESHOLD_") != nullptr ||
                          std::getenv("MALLOC_TOP_PAD_") != nullptr;
  if (user_tuned) {
    policy.note = "left to the process's own malloc settings (GLIBC_TUNABLES or MALLOC_*_)";
    return policy;
  }
  const size_t keep = static_cast<size_t>(mb) << 20;
  // Setting either threshold turns off glibc's dynamic one, so both are set: outputs up to the
  // mmap threshold come from the heap (whose freed top is then kept), larger ones stay mmaps.
  const int mmap_ok = mallopt(M_MMAP_THRESHOLD, static_cast<int>(std::min(keep, kMaxMmapThreshold)));
  const int trim_ok = mallopt(M_TRIM_THRESHOLD, static_cast<int>(keep));
  if (mmap_ok == 1 && trim_ok == 1) {
    policy.kept_bytes = keep;
    policy.note = "glibc malloc keeps up to " + std::to_string(mb) + " MB of freed heap (QKERNELS_KEEP_FREED_MB)";
  } else {
    policy.note = "glibc's mallopt refused the thresholds: malloc's own trim policy";
  }
#else
  policy.note = "not glibc: malloc's own policy";
#endif
  return policy;
}

}  // namespace

const FreedPagesPolicy& KeepFreedOutputPages() {
  static std::once_flag once;
  static FreedPagesPolicy* policy = nullptr;  // never destroyed (read by any env until exit)
  std::call_once(once, [] { policy = new FreedPagesPolicy(ApplyFreedPagesPolicy()); });
  return *policy;
}

DonationScope::DonationScope() { ++donation_scopes; }
DonationScope::~DonationScope() { --donation_scopes; }
bool DonationScope::Active() { return donation_scopes > 0; }

bool NoteDonatedInput(napi_env env, napi_value view, std::vector<napi_value>* donated) {
  EnvHandoffs* slot = Find(env);
  if (slot == nullptr || slot->donated.empty()) return false;
  napi_value arraybuffer = nullptr;
  if (napi_get_typedarray_info(env, view, nullptr, nullptr, nullptr, &arraybuffer, nullptr) != napi_ok) return false;
  if (IndexOf(env, slot->donated, arraybuffer) == slot->donated.size()) return false;
  // Taken once per op: a second transfer of the same buffer would fail.
  if (std::none_of(donated->begin(), donated->end(), [&](napi_value seen) { return Same(env, seen, arraybuffer); })) {
    donated->push_back(arraybuffer);
  }
  return true;
}

// TakeDonated's loop: transfers each donated buffer the op reads and keeps the new one alive.
static void TakeEach(napi_env env, EnvHandoffs* slot, PreparedOp* op) {
  for (napi_value value : op->donated) {
    // Unregister it first: whatever happens below, it is no longer waiting.
    const size_t index = IndexOf(env, slot->donated, value);
    if (index < slot->donated.size()) {
      napi_delete_reference(env, slot->donated[index]);
      slot->donated.erase(slot->donated.begin() + static_cast<std::ptrdiff_t>(index));
    }
    Napi::ArrayBuffer buffer(env, value);
    const void* before = buffer.Data();
    const size_t bytes = buffer.ByteLength();
    Napi::ArrayBuffer moved = Transfer(env, buffer);
    // The op's compute already holds pointers into this memory: a transfer that copied would
    // leave them pointing at the detached buffer's freed storage.
    if (moved.Data() != before || moved.ByteLength() != bytes) {
      throw Napi::Error::New(env, "qkernels: a donated buffer moved when it was taken; the op was not run");
    }
    napi_ref strong = nullptr;
    NAPI_THROW_IF_FAILED_VOID(env, napi_create_reference(env, moved, 1, &strong));
    op->borrowed.push_back(strong);
    slot->taken_count += 1;
    napi_ref detached = nullptr;
    if (napi_create_reference(env, value, 0, &detached) == napi_ok) {
      if (slot->taken.size() >= kTakenRemembered) {
        napi_delete_reference(env, slot->taken.front());
        slot->taken.erase(slot->taken.begin());
      }
      slot->taken.push_back(detached);
    }
  }
  op->donated.clear();
}

void TakeDonated(Napi::Env env, PreparedOp* op) {
  EnvHandoffs* slot = Find(env);
  if (slot == nullptr || op->donated.empty()) return;
  try {
    TakeEach(env, slot, op);
  } catch (...) {
    ReturnBorrowed(env, &op->borrowed);  // the op is not queued: what was taken goes to the pool
    throw;
  }
}

bool WasTaken(napi_env env, napi_value arraybuffer) {
  EnvHandoffs* slot = Find(env);
  return slot != nullptr && IndexOf(env, slot->taken, arraybuffer) < slot->taken.size();
}

napi_value TakeRecycled(napi_env env, size_t bytes) {
  EnvHandoffs* slot = Find(env);
  if (slot == nullptr) return nullptr;
  // Newest first: its memory is the likeliest to be in cache.
  for (size_t i = slot->pool.size(); i-- > 0;) {
    if (slot->pool[i].bytes != bytes) continue;
    napi_value buffer = nullptr;
    const napi_ref ref = slot->pool[i].ref;
    const bool got = napi_get_reference_value(env, ref, &buffer) == napi_ok && buffer != nullptr;
    napi_delete_reference(env, ref);
    slot->pool.erase(slot->pool.begin() + static_cast<std::ptrdiff_t>(i));
    slot->pool_bytes -= bytes;
    if (!got) return nullptr;
    slot->reused += 1;
    return buffer;
  }
  return nullptr;
}

void ReturnBorrowed(napi_env env, std::vector<napi_ref>* borrowed) {
  if (borrowed->empty()) return;
  EnvHandoffs* slot = Find(env);
  // Its own scope: called from a completion after the caller's scope has closed.
  napi_handle_scope scope = nullptr;
  const bool scoped = napi_open_handle_scope(env, &scope) == napi_ok;
  for (napi_ref ref : *borrowed) {
    napi_value buffer = nullptr;
    void* data = nullptr;
    size_t bytes = 0;
    if (slot != nullptr && napi_get_reference_value(env, ref, &buffer) == napi_ok && buffer != nullptr &&
        napi_get_arraybuffer_info(env, buffer, &data, &bytes) == napi_ok && bytes > 0 && bytes <= kPoolBytes) {
      slot->returned += 1;
      Pool(slot, bytes, ref);
    } else {
      napi_delete_reference(env, ref);
    }
  }
  borrowed->clear();
  if (scoped) napi_close_handle_scope(env, scope);
}

void RegisterHandoffOps(Napi::Env env, Napi::Object exports) {
  // Captured now, at load: see EnvHandoffs::clone. (An application that replaces structuredClone
  // before it loads qkernels is outside what the binding can defend: doc/reliability.md.)
  EnvHandoffs& slot = ForEnv(env);
  Napi::Value clone = env.Global().Get("structuredClone");
  if (clone.IsFunction() && slot.clone == nullptr) {
    NAPI_THROW_IF_FAILED_VOID(env, napi_create_reference(env, clone, 1, &slot.clone));
  }
  exports.Set("donate", Napi::Function::New(env, Donate, "donate"));
  exports.Set("recycle", Napi::Function::New(env, Recycle, "recycle"));
  exports.Set("handoffStats", Napi::Function::New(env, HandoffStats, "handoffStats"));
}

}  // namespace addon
}  // namespace qk
