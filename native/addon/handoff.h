// Zero-copy handoffs of tensor memory: donated inputs that async ops read in place, and recycled buffers that later outputs reuse.
//
// Why: an async op copies its inputs at call time and allocates a fresh output, both on the JS
// thread. With 16 convolutions of 3.2 MB in flight on a 2-vCPU machine that is ~0.4 ms of copy
// per call plus 300 MB/s of new ArrayBuffers, whose "external memory pressure" collections wake
// V8's GC helper threads, which then preempt the JS thread: p99 event-loop lag of ~3 ms, the same
// as a qkernels-free Node process that copies and allocates 3.2 MB per 10 ms (doc/reliability.md).
//
// Safety without copies: N-API cannot pin a backing store, so a buffer read off the JS thread
// must be one no JS code can reach. Both handoffs therefore *transfer* the caller's ArrayBuffer
// (structuredClone with a transfer list, called from here, not trusted from lib/): the caller's
// buffer and every view of it are detached, the memory moves, unchanged and uncopied, to a new
// ArrayBuffer that only this file holds a reference to.
//
// - donate(view): transfers the view's buffer and returns a view of the same kind, offset and
//   length over the new buffer, registered (weakly) as donated. An async op given a view of a
//   donated buffer does not copy it: once its arguments are all checked, the buffer is
//   transferred again (the donated tensor is detached from then on) and read in place; when the
//   op has finished, the buffer goes to the recycled pool.
// - recycle(view): transfers the view's buffer into the env's pool of recycled buffers. An
//   output (sync or async) of exactly a pooled buffer's byte length is made over that buffer
//   instead of a new one. The pool is bounded (kPoolBytes, kPoolBuffers); the oldest go first.
#pragma once

#include <napi.h>

#include <string>
#include <vector>

namespace qk {
namespace addon {

struct PreparedOp;

// Set by RunAsync while it prepares an op: only then may ArgInput skip the copy of a donated
// buffer (sync ops read in place anyway; a trace keeps copies, since its step outlives the call).
class DonationScope {
 public:
  DonationScope();
  ~DonationScope();
  DonationScope(const DonationScope&) = delete;
  DonationScope& operator=(const DonationScope&) = delete;
  static bool Active();
};

// Whether the typed array `view` is over a donated buffer of `env` not yet taken (JS thread); when
// it is, that buffer is added to `donated` (an op's list: once, however many inputs view it).
bool NoteDonatedInput(napi_env env, napi_value view, std::vector<napi_value>* donated);

// After an async op's arguments are all checked: transfers every donated buffer it reads
// (op->donated) and keeps the new buffers alive in op->borrowed (strong references). Throws a
// Napi::Error if a transfer fails or moves the memory (the op is then not queued).
void TakeDonated(Napi::Env env, PreparedOp* op);

// Whether the detached `arraybuffer` is one an async op took as a donated input (JS thread;
// the last kTakenRemembered per env), so that reading it again can be explained.
bool WasTaken(napi_env env, napi_value arraybuffer);

// The env's recycled ArrayBuffer of exactly `bytes`, removed from the pool, or nullptr.
napi_value TakeRecycled(napi_env env, size_t bytes);

// JS thread, at an async op's completion (no C++ exception may escape): the borrowed buffers go
// to the env's pool while it has room, the rest are released.
void ReturnBorrowed(napi_env env, std::vector<napi_ref>* borrowed);

// Freed output pages kept for later outputs, process-wide (glibc only). Node frees an output's
// ArrayBuffer only when V8 collects it, ~64 MB of them at a time (its external-memory limit);
// glibc's default then hands that whole freed top of the heap back to the kernel (its trim
// threshold follows the largest freed chunk: ~2x one output), so every output of the next
// cycle is made of fresh pages, faulted in and zeroed by the kernel one 4 KB page at a time:
// 0.5-1 µs a page, 100-170 µs on an add of 590 KB whose kernel takes 100. Keeping up to
// QKERNELS_KEEP_FREED_MB (default 128) of freed heap, and serving allocations up to 32 MB from
// the heap rather than fresh mmaps, makes those outputs reuse warm pages, as torch's outputs do
// (it frees them when their refcount drops). The cost: the process's resident size does not
// fall below its high-water mark by more than that amount between collections.
struct FreedPagesPolicy {
  size_t kept_bytes = 0;   // the trim threshold set, or 0 when malloc was left as it was
  std::string env_error;   // why QKERNELS_KEEP_FREED_MB was ignored, or ""
  std::string note;        // what was done and why, for backendInfo
};

// Applies the policy once per process (the first addon instance) and returns it.
const FreedPagesPolicy& KeepFreedOutputPages();

// donate, recycle and handoffStats.
void RegisterHandoffOps(Napi::Env env, Napi::Object exports);

}  // namespace addon
}  // namespace qk
