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

// donate, recycle and handoffStats.
void RegisterHandoffOps(Napi::Env env, Napi::Object exports);

}  // namespace addon
}  // namespace qk
