// The binding's shared plumbing, used by every family's binding file (native/addon/<family>.cc).
//
// The rules every binding file keeps are at the top of addon.cc. In short: check every
// argument again (types, lengths, sizes) and name the parameter in the error; sync ops
// read inputs in place, async ops read copies (ArgInput does both); outputs are fresh
// V8-owned typed arrays (NewOutput); the math happens in `compute`, which touches only
// raw memory and reports failures as a Status.
//
// A family registers its functions with DefineOp, which adds `name` (sync) and
// `nameAsync` (Promise) to the exports, both running the same Prepare function.
#pragma once

#ifndef NODE_API_NO_EXTERNAL_BUFFERS_ALLOWED
#error "qkernels' addon must be compiled with NODE_API_NO_EXTERNAL_BUFFERS_ALLOWED (see binding.gyp, CMakeLists.txt)"
#endif

#include <napi.h>

#include <array>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <initializer_list>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "base/snapshot-pool.h"
#include "base/status.h"
#include "ops/quantize.h"
#include "plan/plan.h"
#include "addon/handoff.h"

namespace qk {
struct ConvGeometry;  // ops/conv.h
namespace addon {

// ---- errors ----------------------------------------------------------------------------

// The TypeError / RangeError / Error a Status names.
Napi::Error ErrorFromStatus(Napi::Env env, const Status& status);
// A short rendering of a JS value for messages: numbers, strings, typed arrays with their length.
std::string Describe(const Napi::Value& value);
// "Expected <what> for <parameter> but received <value> of type <type>".
std::string Expected(const std::string& what, const char* parameter, const Napi::Value& received);
[[noreturn]] void ThrowType(Napi::Env env, const std::string& what, const char* parameter, const Napi::Value& received);
[[noreturn]] void ThrowRange(Napi::Env env, const std::string& what, const char* parameter, const Napi::Value& received);

// ---- argument readers (each throws a TypeError/RangeError naming `parameter`) -----------

double ArgNumber(const Napi::CallbackInfo& info, size_t index, const char* parameter);
// A non-negative integer that is exact in a double and fits size_t.
size_t ArgSize(const Napi::CallbackInfo& info, size_t index, const char* parameter);
// Any integer exact in a double; the op decides which range is valid.
int64_t ArgInt64(const Napi::CallbackInfo& info, size_t index, const char* parameter);
bool ArgBool(const Napi::CallbackInfo& info, size_t index, const char* parameter);
// The dtype code lib/ sends: 0 quint8, 1 qint8, 2 qint32, 3 quint4x2.
QDType ArgDType(const Napi::CallbackInfo& info, size_t index);

// A typed array as the op sees it: where its bytes start (byteOffset already applied),
// how many elements it has, and the JS value it came from (named in error messages).
// A view of a SharedArrayBuffer is read once into `copy` and `data` points there: another
// thread may rewrite shared memory at any time, so what the binding and the op validate
// must be what they later read (no time-of-check/time-of-use gap). Whoever keeps `data`
// past the View's life must keep `copy` too (ArgInput moves it into the PreparedOp). Copies
// come from the process's SnapshotPool (base/snapshot-pool.h): reused, never zero-filled.
struct View {
  void* data = nullptr;
  size_t length = 0;  // elements
  size_t bytes = 0;
  Napi::Object holder;
  Snapshot copy;
  size_t arg = 0;  // its index in the call's arguments (jit.trace maps it to a traced value)
};

View ArgTypedArray(const Napi::CallbackInfo& info, size_t index, napi_typedarray_type expected, const char* parameter);

// The typed array kind that stores a dtype: quint8 and quint4x2 (packed) in Uint8Array,
// qint8 in Int8Array, qint32 in Int32Array.
napi_typedarray_type StorageArrayType(QDType dtype);

// ---- outputs ---------------------------------------------------------------------------

struct Output {
  Napi::Object array;
  void* data = nullptr;
  size_t length = 0;  // elements
  size_t bytes = 0;
};

// Outputs larger than this are refused with a RangeError before any allocation: V8 aborts
// the process (not throws) when ArrayBuffer::New cannot allocate, so the binding never asks
// it for more than one ArrayBuffer may hold (Node 20: 4 GiB).
constexpr size_t kMaxOutputBytes = size_t{1} << 32;

// A fresh, zero-filled, V8-owned typed array (never an external buffer). Large ones are
// made by calling the JS ArrayBuffer constructor, which throws a RangeError when memory is
// short where napi_create_arraybuffer would abort the process.
Output NewOutput(Napi::Env env, napi_typedarray_type type, size_t length);
// Whether the op writes every byte of its output. Every plan step does (doc/ops.md), so an op
// made with SetStep passes kWholeOutput; quint4x2's packed storage is still zero-filled (an odd
// element count leaves the last byte's high nibble unwritten).
enum OutputWrites { kPartOfOutput, kWholeOutput };
Output NewQuantizedOutput(Napi::Env env, QDType dtype, size_t numel, OutputWrites writes = kPartOfOutput);
// NewOutput without the zero fill (4 KB to 16 MB; NewOutput otherwise), for ops whose step
// writes every byte of its output (the plan contract, doc/ops.md): the fill is a second pass
// over the output's memory, 15% of a channels-last cat's call. Still V8-owned, not external.
Output NewUninitializedOutput(Napi::Env env, napi_typedarray_type type, size_t length);

// ---- prepared ops, run now or on the pool ----------------------------------------------

// At most this many graph inputs per step (more is a binding bug, which SetStep reports as an Error).
constexpr size_t kMaxStepInputs = 16;
// More arguments than any op takes; bounds the binding's loops over them.
constexpr size_t kMaxArguments = 4096;

// An op whose arguments have all been read and checked: `compute` touches only raw
// memory (safe off the JS thread), `output` is the typed array it fills.
//
// A traceable op is made with SetStep instead of setting `compute`: its math is a PlanStep on
// buffers (the graph inputs, the output, scratch), so the same prepared op runs now, on the
// pool, or as one step of a traced plan (jit.trace, native/addon/plan.cc).
struct PreparedOp {
  // Empty for an op made with SetStep: RunPrepared runs `step` on `step_data` and
  // `output_data` directly (a sync call then allocates no closure); the async and trace forms
  // make `compute` from the step (ComputeFromStep).
  std::function<Status()> compute;
  Napi::Object output;
  // True for async ops: inputs are copied into `snapshots` and `compute` reads the copies.
  bool snapshot_inputs = false;
  std::vector<Snapshot> snapshots;  // also what else `compute` reads that the op keeps alive (a shared table)
  // Async ops only (addon/handoff.h): the donated buffers its inputs are read from in place,
  // and, once RunAsync has taken them, the strong references that keep their memory alive.
  std::vector<napi_value> donated;
  std::vector<napi_ref> borrowed;
  // Set by SetStep: the step, the argument index of each of its inputs, where each input's bytes
  // are for this call, the output's bytes. Fixed arrays, not vectors: no allocation per call.
  std::shared_ptr<const PlanStep> step;
  size_t step_inputs = 0;
  std::array<size_t, kMaxStepInputs> step_args{};
  std::array<const void*, kMaxStepInputs> step_data{};
  void* output_data = nullptr;
  size_t output_bytes = 0;
};

// Makes `op` traceable: `inputs` are the graph inputs `step` reads, in the order it reads
// them (Views from ArgInput, so async ops read their copies), `out` the output it writes.
// Sets the step, its inputs' and output's buffers, and `output`; RunPrepared (sync) and
// ComputeFromStep (async, trace) run the step on them, with scratch allocated per run.
// The step must not capture `inputs`' or `out`'s pointers: a plan runs it on other buffers.
void SetStep(PreparedOp* op, std::shared_ptr<const PlanStep> step, const View* inputs, size_t count, const Output& out);
inline void SetStep(PreparedOp* op, std::shared_ptr<const PlanStep> step, std::initializer_list<View> inputs, const Output& out) {
  SetStep(op, std::move(step), inputs.begin(), inputs.size(), out);
}
inline void SetStep(PreparedOp* op, std::shared_ptr<const PlanStep> step, const std::vector<View>& inputs, const Output& out) {
  SetStep(op, std::move(step), inputs.data(), inputs.size(), out);
}

// Gives an op made with SetStep its `compute` (the step on the op's buffers, owning its copies
// of the step and the pointers) before it leaves the JS thread (QueueAsync, TraceResult);
// other ops keep theirs.
void ComputeFromStep(PreparedOp* op);

// Runs the prepared op now, on this thread: its step in place, else `compute`; C++ exceptions
// (bad_alloc, ...) become a Status, as in RunGuarded.
Status RunPrepared(const PreparedOp& op);

// Reads a typed-array input of an op. Sync ops read the caller's memory in place; async
// ops read a copy the op owns. The returned View points at whichever memory `compute` must use.
View ArgInput(const Napi::CallbackInfo& info, size_t index, napi_typedarray_type expected, const char* parameter,
              PreparedOp* op);

// Runs compute, turning C++ exceptions (bad_alloc, ...) into a Status.
Status RunGuarded(const std::function<Status()>& compute);

// Queues the prepared op's computation on the async job queue (base/job-queue.h: its own
// threads, not libuv's pool, which stays free for fs, dns and crypto) and returns a Promise
// settled with `op.output` once it has run, or rejected with the TypeError / RangeError / Error
// its Status names.
//
// Completions come back through one thread-safe function per env. An env that goes away
// (worker.terminate(), process.exit() in a worker) first waits, in its cleanup hook, for its
// computations that are running (they write into its ArrayBuffers), and drops those not yet
// started; a promise that can no longer be settled is dropped with its env. No C++ exception
// leaves a completion (one would abort the process): completions use raw N-API calls whose
// statuses are checked.
napi_value QueueAsync(Napi::Env env, PreparedOp op);

using Prepare = PreparedOp (*)(const Napi::CallbackInfo& info, bool snapshot);

template <Prepare prepare>
Napi::Value RunSync(const Napi::CallbackInfo& info) {
  PreparedOp op = prepare(info, /*snapshot=*/false);
  const Status status = RunPrepared(op);
  if (!status.ok()) throw ErrorFromStatus(info.Env(), status);
  return op.output;
}

// Prepares with donated inputs read in place, then takes those buffers (addon/handoff.h)
// before queueing: no JS code runs between the checks and the take.
template <Prepare prepare>
Napi::Value RunAsync(const Napi::CallbackInfo& info) {
  PreparedOp op;
  {
    DonationScope scope;
    op = prepare(info, /*snapshot=*/true);
  }
  TakeDonated(info.Env(), &op);
  return Napi::Value(info.Env(), QueueAsync(info.Env(), std::move(op)));
}

// The trace form of an op (lib/jit): prepares it with owned copies of every array argument
// (the step outlives the call), runs it now, and returns { output, step, inputs }: the output
// as the sync form returns it, a handle on the prepared step (kind "plan step") for
// planAddStep, and the argument index of each step input. An op made without SetStep
// throws an Error naming it: the tracer never records what it cannot replay.
Napi::Value TraceResult(const Napi::CallbackInfo& info, const char* name, PreparedOp op);

template <Prepare prepare>
Napi::Value RunTrace(const Napi::CallbackInfo& info) {
  PreparedOp op = prepare(info, /*snapshot=*/true);
  return TraceResult(info, static_cast<const char*>(info.Data()), std::move(op));
}

// Adds `name`, `name + "Async"` and `name + "Trace"` to exports, all running `prepare`.
// (`name` must be a string literal or otherwise outlive the addon: the trace form keeps it.)
template <Prepare prepare>
void DefineOp(Napi::Env env, Napi::Object exports, const char* name) {
  exports.Set(name, Napi::Function::New(env, RunSync<prepare>, name));
  const std::string async_name = std::string(name) + "Async";
  exports.Set(async_name, Napi::Function::New(env, RunAsync<prepare>, async_name));
  const std::string trace_name = std::string(name) + "Trace";
  exports.Set(trace_name, Napi::Function::New(env, RunTrace<prepare>, trace_name, const_cast<char*>(name)));
}

// ---- handles: native memory owned by a JS value -------------------------------------------

// The base of every handle: a Napi::External owning native memory (prepacked weights, shared
// embedding tables). The bytes it keeps alive are reported to V8 when it is made, so GC
// pressure counts them, and given back exactly once: by ReleaseHandle (a module's dispose())
// or when the handle is destroyed, whichever comes first.
//
// Handles have no N-API finalizer: Node runs finalizers only when the event loop turns
// (SetImmediate), so a loop that built modules without yielding kept every dead handle's
// weights (issue 14: 20k Linear(256, 256), 4.4 GB). Each handle has a weak reference instead,
// which GC clears at once; NewHandle sweeps its thread's handles when their number or bytes
// have doubled since the last sweep and destroys those whose External is gone; an env
// cleanup hook destroys the rest when the env (a worker's, say) goes away.
//
// All handles share one type tag; `kind` tells the types apart (a linear handle is never
// taken for a conv one) and names the expected handle in errors.
struct NativeHandle {
  explicit NativeHandle(const char* handle_kind) : kind(handle_kind) {}
  virtual ~NativeHandle() = default;
  // Frees the native memory now; async work already queued holds its own shared_ptr.
  virtual void Drop() = 0;

  const char* const kind;
  bool released = false;
  int64_t reported_bytes = 0;  // owed back to V8; 0 once given back
  napi_ref weak = nullptr;     // cleared by GC with the External (addon/common.cc)
  size_t slot = 0;             // its index in its thread's list of handles
};

// Wraps `handle` (the External owns it from here on) and reports `bytes` to V8.
Napi::Value NewHandle(Napi::Env env, NativeHandle* handle, size_t bytes);
// The handle at info[index], of type T (T::kKind), not released; otherwise a TypeError
// naming `parameter`.
NativeHandle* ArgHandleOfKind(const Napi::CallbackInfo& info, size_t index, const char* kind, const char* parameter);
template <typename T>
T* ArgHandle(const Napi::CallbackInfo& info, size_t index, const char* parameter = "handle") {
  return static_cast<T*>(ArgHandleOfKind(info, index, T::kKind, parameter));
}
// The handle `value` holds, or nullptr (raw N-API, never throws: for the per-call fast paths).
NativeHandle* HandleOrNull(napi_env env, napi_value value);
// Drop()s the handle and gives its bytes back to V8; a second release does nothing.
void ReleaseHandle(napi_env env, NativeHandle* handle);
// releaseWeights(handle): any handle; releasing twice is a no-op (addon/common.cc).
void RegisterHandleOps(Napi::Env env, Napi::Object exports);

// A prepared op recorded by a trace (RunTrace): the step, with the argument copies it reads
// kept alive inside it. planAddStep (addon/plan.cc) shares the step with the plan.
struct StepHandle final : NativeHandle {
  static constexpr const char* kKind = "plan step handle";
  explicit StepHandle(std::shared_ptr<const PlanStep> s, size_t out_bytes)
      : NativeHandle(kKind), step(std::move(s)), output_bytes(out_bytes) {}
  void Drop() override { step.reset(); }
  std::shared_ptr<const PlanStep> step;
  size_t output_bytes;
};

// ---- per-channel parameters ------------------------------------------------------------

// outer, channels, inner at info[index..index+2], with a checked product.
ChannelLayout ArgLayout(const Napi::CallbackInfo& info, size_t index);
size_t LayoutNumel(const ChannelLayout& layout);

// Affine per-channel qparams: Float64Array scales and Int32Array zero points, one per
// channel. The ops take int64 zero points; the few values are widened into a vector that
// `owner` keeps alive for as long as the compute closure (which copies this struct) lives.
struct AffineChannelParams {
  const double* scales;
  const int64_t* zero_points;
  size_t length;
  std::shared_ptr<std::vector<int64_t>> owner;
};

AffineChannelParams ArgAffineChannelParams(const Napi::CallbackInfo& info, size_t index, size_t channels,
                                           PreparedOp* op);

// Float-qparams per-channel parameters: Float32Array scales and zero points.
struct FloatChannelParams {
  const float* scales;
  const float* zero_points;
  size_t length;
};

FloatChannelParams ArgFloatChannelParams(const Napi::CallbackInfo& info, size_t index, size_t channels,
                                         PreparedOp* op);

// ---- the families: each adds its functions to the addon's exports -------------------------

// A convolution geometry from the Float64Array lib/linear-conv/params.ts writes (addon/linear-conv.cc);
// throws a RangeError naming `geometry` when it is malformed.
ConvGeometry ArgGeometry(const Napi::CallbackInfo& info, size_t index);

void RegisterQuantizeOps(Napi::Env env, Napi::Object exports);     // addon/quantize.cc
void RegisterLinearConvOps(Napi::Env env, Napi::Object exports);   // addon/linear-conv.cc
void RegisterEmbeddingOps(Napi::Env env, Napi::Object exports);    // addon/embedding.cc
void RegisterElementwiseOps(Napi::Env env, Napi::Object exports);  // addon/elementwise.cc
void RegisterPoolNormOps(Napi::Env env, Napi::Object exports);     // addon/pool-norm.cc
void RegisterBinaryOps(Napi::Env env, Napi::Object exports);       // addon/binary.cc
void RegisterPlanOps(Napi::Env env, Napi::Object exports);         // addon/plan.cc
void RegisterReduceOps(Napi::Env env, Napi::Object exports);       // addon/reduce.cc

}  // namespace addon
}  // namespace qk
