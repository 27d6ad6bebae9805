// The binding's shared plumbing: error messages, argument readers, outputs, and the sync/async op runner.
#include "addon/common.h"

#include <algorithm>
#include <cmath>
#include <condition_variable>
#include <mutex>
#include <cstring>
#include <exception>
#include <limits>
#include <new>

#include "base/checked.h"
#include "base/expected.h"
#include "base/job-queue.h"

namespace qk {
namespace addon {

// ---- errors ----------------------------------------------------------------------------

Napi::Error ErrorFromStatus(Napi::Env env, const Status& status) {
  switch (status.kind()) {
    case ErrorKind::kTypeError: return Napi::TypeError::New(env, status.message());
    case ErrorKind::kRangeError: return Napi::RangeError::New(env, status.message());
    default: return Napi::Error::New(env, status.message());
  }
}

namespace {

// Bytes per element of each typed array kind (every kind, so a View's byte count is
// right whatever array an op accepts).
size_t TypedArrayElementBytes(napi_typedarray_type type) {
  switch (type) {
    case napi_int16_array:
    case napi_uint16_array: return 2;
    case napi_int32_array:
    case napi_uint32_array:
    case napi_float32_array: return 4;
    case napi_float64_array:
    case napi_bigint64_array:
    case napi_biguint64_array: return 8;
    default: return 1;  // int8, uint8, uint8_clamped
  }
}

const char* TypedArrayName(napi_typedarray_type type) {
  switch (type) {
    case napi_int8_array: return "Int8Array";
    case napi_uint8_array: return "Uint8Array";
    case napi_uint8_clamped_array: return "Uint8ClampedArray";
    case napi_int16_array: return "Int16Array";
    case napi_uint16_array: return "Uint16Array";
    case napi_int32_array: return "Int32Array";
    case napi_uint32_array: return "Uint32Array";
    case napi_float32_array: return "Float32Array";
    case napi_float64_array: return "Float64Array";
    case napi_bigint64_array: return "BigInt64Array";
    case napi_biguint64_array: return "BigUint64Array";
    default: return "typed array";
  }
}

// Native messages keep lib's shape: "Expected <what> for <parameter> but received <value> of type <type>".
std::string TypeOfName(const Napi::Value& value) {
  switch (value.Type()) {
    case napi_undefined: return "undefined";
    case napi_null: return "object";
    case napi_boolean: return "boolean";
    case napi_number: return "number";
    case napi_string: return "string";
    case napi_symbol: return "symbol";
    case napi_function: return "function";
    case napi_bigint: return "bigint";
    default: return "object";
  }
}

}  // namespace

std::string Describe(const Napi::Value& value) {
  switch (value.Type()) {
    case napi_undefined: return "undefined";
    case napi_null: return "null";
    case napi_boolean: return value.As<Napi::Boolean>().Value() ? "true" : "false";
    case napi_number: {
      const double number = value.As<Napi::Number>().DoubleValue();
      if (std::isnan(number)) return "NaN";
      if (std::isinf(number)) return number > 0 ? "Infinity" : "-Infinity";
      char text[32];
      std::snprintf(text, sizeof(text), "%.17g", number);
      return text;
    }
    case napi_string: {
      std::string text = value.As<Napi::String>().Utf8Value();
      return "'" + (text.size() > 64 ? text.substr(0, 61) + "..." : text) + "'";
    }
    default: break;
  }
  if (value.IsTypedArray()) {
    Napi::TypedArray array = value.As<Napi::TypedArray>();
    return std::string(TypedArrayName(array.TypedArrayType())) + "(" + std::to_string(array.ElementLength()) + ")";
  }
  if (value.IsArray()) return "[array]";
  return "[object]";
}

std::string Expected(const std::string& what, const char* parameter, const Napi::Value& received) {
  return ::qk::Expected(what, parameter, Describe(received) + " of type " + TypeOfName(received));
}
// (info[i] past the last argument is undefined, so `received` is always a value.)
[[noreturn]] void ThrowType(Napi::Env env, const std::string& what, const char* parameter, const Napi::Value& received) {
  throw Napi::TypeError::New(env, Expected(what, parameter, received));
}
[[noreturn]] void ThrowRange(Napi::Env env, const std::string& what, const char* parameter, const Napi::Value& received) {
  throw Napi::RangeError::New(env, Expected(what, parameter, received));
}

// ---- argument readers --------------------------------------------------------------------

double ArgNumber(const Napi::CallbackInfo& info, size_t index, const char* parameter) {
  if (index >= info.Length() || !info[index].IsNumber()) ThrowType(info.Env(), "number", parameter, info[index]);
  return info[index].As<Napi::Number>().DoubleValue();
}

// A non-negative integer that is exact in a double and fits size_t.
size_t ArgSize(const Napi::CallbackInfo& info, size_t index, const char* parameter) {
  const double value = ArgNumber(info, index, parameter);
  if (!(value >= 0 && value <= 9007199254740991.0) || std::floor(value) != value ||
      value > static_cast<double>(std::numeric_limits<size_t>::max())) {
    ThrowRange(info.Env(), "non-negative integer", parameter, info[index]);
  }
  return static_cast<size_t>(value);
}

// Any integer exact in a double; the op decides which range is valid (it knows the dtype).
int64_t ArgInt64(const Napi::CallbackInfo& info, size_t index, const char* parameter) {
  const double value = ArgNumber(info, index, parameter);
  if (!(std::fabs(value) <= 9007199254740991.0) || std::floor(value) != value) {
    ThrowRange(info.Env(), "integer", parameter, info[index]);
  }
  return static_cast<int64_t>(value);
}

bool ArgBool(const Napi::CallbackInfo& info, size_t index, const char* parameter) {
  if (index >= info.Length() || !info[index].IsBoolean()) ThrowType(info.Env(), "boolean", parameter, info[index]);
  return info[index].As<Napi::Boolean>().Value();
}

QDType ArgDType(const Napi::CallbackInfo& info, size_t index) {
  const double value = ArgNumber(info, index, "dtype");
  if (!(value == 0 || value == 1 || value == 2 || value == 3)) ThrowRange(info.Env(), "dtype code in [0, 3]", "dtype", info[index]);
  return static_cast<QDType>(static_cast<int>(value));
}

namespace {

// A private copy of an argument's bytes, from the snapshot pool. Out of memory is a
// RangeError naming the parameter (a std::bad_alloc escaping the binding would abort).
Snapshot CopyArgument(Napi::Env env, const View& view, const char* parameter) {
  try {
    return SnapshotPool::Process().Copy(view.data, view.bytes);
  } catch (const std::bad_alloc&) {
    ThrowRange(env, "argument whose copy fits in memory (" + std::to_string(view.bytes) + " bytes could not be allocated)", parameter,
               view.holder);
  }
}

}  // namespace

View ArgTypedArray(const Napi::CallbackInfo& info, size_t index, napi_typedarray_type expected, const char* parameter) {
  Napi::Env env = info.Env();
  if (index >= info.Length() || !info[index].IsTypedArray()) ThrowType(env, TypedArrayName(expected), parameter, info[index]);
  napi_typedarray_type type;
  size_t length = 0;
  void* data = nullptr;
  napi_value buffer;
  size_t byte_offset = 0;
  // napi_get_typedarray_info's data pointer already includes byteOffset.
  NAPI_THROW_IF_FAILED(env, napi_get_typedarray_info(env, info[index], &type, &length, &data, &buffer, &byte_offset),
                       View());
  if (type != expected) ThrowType(env, TypedArrayName(expected), parameter, info[index]);
  // napi_is_arraybuffer is false for a SharedArrayBuffer (Node 20 has no
  // napi_is_sharedarraybuffer); a SharedArrayBuffer is never detached.
  bool plain = false;
  if (napi_is_arraybuffer(env, buffer, &plain) != napi_ok) plain = false;
  bool detached = false;
  if (plain && napi_is_detached_arraybuffer(env, buffer, &detached) != napi_ok) detached = false;
  if (detached) {
    // lib/validate.ts attachedKind says the same for the checks made in JS.
    const char* what = WasTaken(env, buffer)
        ? " with an attached buffer (this one was donated and an earlier async op took it: donate() hands a tensor to the one "
          "async op that reads it first, so donate only what is read once, such as a traced module's input)"
        : " with an attached (not transferred) buffer";
    ThrowType(env, std::string(TypedArrayName(expected)) + what, parameter, info[index]);
  }
  View view;
  view.data = data;
  view.length = length;
  if (!CheckedBytes(length, TypedArrayElementBytes(type), &view.bytes)) ThrowRange(env, "typed array whose byte length fits size_t", parameter, info[index]);
  if (view.length > 0 && view.data == nullptr) ThrowType(env, "typed array with storage", parameter, info[index]);
  view.holder = info[index].As<Napi::Object>();
  view.arg = index;
  if (!plain && view.bytes > 0) {
    // Shared memory: read it once, here; everything after validates and reads the copy.
    view.copy = CopyArgument(env, view, parameter);
    view.data = view.copy->data();
  }
  return view;
}

// The typed array kind that stores a dtype: quint8 and quint4x2 (packed) in Uint8Array,
// qint8 in Int8Array, qint32 in Int32Array.
napi_typedarray_type StorageArrayType(QDType dtype) {
  switch (dtype) {
    case QDType::kQInt8: return napi_int8_array;
    case QDType::kQInt32: return napi_int32_array;
    default: return napi_uint8_array;
  }
}

// ---- outputs ---------------------------------------------------------------------------

// A fresh, zero-filled, V8-owned typed array (never an external buffer).

Output NewOutput(Napi::Env env, napi_typedarray_type type, size_t length) {
  Output out;
  out.length = length;
  const Napi::Value requested = Napi::Number::New(env, static_cast<double>(length));
  if (!CheckedBytes(length, TypedArrayElementBytes(type), &out.bytes) || out.bytes > kMaxOutputBytes) {
    ThrowRange(env, "output of at most " + std::to_string(kMaxOutputBytes) + " bytes (one ArrayBuffer)", "output length", requested);
  }
  Napi::ArrayBuffer buffer;
  // Small outputs cannot realistically fail; large ones go through the JS constructor so
  // that a failed allocation is a RangeError, not V8's fatal out-of-memory abort.
  constexpr size_t kDirectAllocationBytes = size_t{16} << 20;
  if (napi_value recycled = TakeRecycled(env, out.bytes)) {
    buffer = Napi::ArrayBuffer(env, recycled);
    std::memset(buffer.Data(), 0, out.bytes);
  } else if (out.bytes <= kDirectAllocationBytes) {
    buffer = Napi::ArrayBuffer::New(env, out.bytes);
  } else {
    Napi::Value constructor = env.Global().Get("ArrayBuffer");
    if (!constructor.IsFunction()) throw Napi::Error::New(env, "qkernels: globalThis.ArrayBuffer is not a function");
    Napi::Value made;
    try {
      made = constructor.As<Napi::Function>().New({Napi::Number::New(env, static_cast<double>(out.bytes))});
    } catch (const Napi::Error&) {
      ThrowRange(env, "output that fits in memory (" + std::to_string(out.bytes) + " bytes could not be allocated)", "output length", requested);
    }
    // The global may have been replaced: the op writes out.bytes, so take nothing shorter.
    if (!made.IsArrayBuffer() || made.As<Napi::ArrayBuffer>().ByteLength() != out.bytes) {
      throw Napi::Error::New(env, "qkernels: globalThis.ArrayBuffer did not make an ArrayBuffer of the requested length");
    }
    buffer = made.As<Napi::ArrayBuffer>();
  }
  out.data = buffer.Data();
  napi_value array;
  NAPI_THROW_IF_FAILED(env, napi_create_typedarray(env, type, length, buffer, 0, &array), Output());
  out.array = Napi::Object(env, array);
  return out;
}

Output NewUninitializedOutput(Napi::Env env, napi_typedarray_type type, size_t length) {
  // Below a few KB the zero fill is cheaper than the extra Buffer object; above 16 MB the JS
  // constructor's RangeError matters more than the fill (NewOutput).
  constexpr size_t kMinBytes = size_t{4} << 10, kMaxBytes = size_t{16} << 20;
  size_t bytes = 0;
  if (!CheckedBytes(length, TypedArrayElementBytes(type), &bytes) || bytes < kMinBytes || bytes > kMaxBytes) {
    return NewOutput(env, type, length);
  }
  // napi_create_buffer is node::Buffer::New: a V8-owned ArrayBuffer (not an external one) whose
  // memory node does not zero. The typed array of the op's kind is made over that ArrayBuffer,
  // or over a recycled one of the same size (addon/handoff.h).
  napi_value buffer = nullptr, arraybuffer = nullptr, array = nullptr;
  void* data = nullptr;
  size_t offset = 0;
  if ((arraybuffer = TakeRecycled(env, bytes)) != nullptr) {
    data = Napi::ArrayBuffer(env, arraybuffer).Data();
  } else if (napi_create_buffer(env, bytes, &data, &buffer) != napi_ok ||
      napi_get_typedarray_info(env, buffer, nullptr, nullptr, nullptr, &arraybuffer, &offset) != napi_ok || offset != 0 ||
      Napi::ArrayBuffer(env, arraybuffer).ByteLength() != bytes) {
    if (env.IsExceptionPending()) env.GetAndClearPendingException();
    return NewOutput(env, type, length);
  }
  NAPI_THROW_IF_FAILED(env, napi_create_typedarray(env, type, length, arraybuffer, 0, &array), Output());
  Output out;
  out.length = length;
  out.bytes = bytes;
  out.data = data;
  out.array = Napi::Object(env, array);
  return out;
}

Output NewQuantizedOutput(Napi::Env env, QDType dtype, size_t numel, OutputWrites writes) {
  size_t bytes = 0;
  if (!QDTypeStorageBytes(dtype, numel, &bytes)) ThrowRange(env, "element count whose storage fits size_t", "numel", Napi::Number::New(env, static_cast<double>(numel)));
  const napi_typedarray_type type = StorageArrayType(dtype);
  const size_t length = type == napi_int32_array ? bytes / 4 : bytes;
  if (writes == kWholeOutput && dtype != QDType::kQUInt4x2) return NewUninitializedOutput(env, type, length);
  return NewOutput(env, type, length);
}

// ---- prepared ops, run now or on the pool ----------------------------------------------------

// Reads a typed-array input of an op. Sync ops read the caller's memory in place; async
// ops read a copy the op owns (see the rule at the top of this file), or a donated buffer in
// place, which RunAsync then takes (addon/handoff.h). The returned View points at whichever
// memory `compute` must use.
View ArgInput(const Napi::CallbackInfo& info, size_t index, napi_typedarray_type expected, const char* parameter,
              PreparedOp* op) {
  View view = ArgTypedArray(info, index, expected, parameter);
  if (view.copy) {
    op->snapshots.push_back(std::move(view.copy));  // shared memory: already a private copy
  } else if (op->snapshot_inputs && DonationScope::Active() && NoteDonatedInput(info.Env(), view.holder, &op->donated)) {
    // Read in place: RunAsync transfers the buffer before any JS code runs again.
  } else if (op->snapshot_inputs) {
    // A pooled buffer, not zero-filled: the copy overwrites all of it.
    Snapshot copy = CopyArgument(info.Env(), view, parameter);
    view.data = copy->data();
    op->snapshots.push_back(std::move(copy));
  }
  return view;
}

// ---- traceable ops ---------------------------------------------------------------------------

namespace {

// A step that keeps alive the argument copies (snapshots) its function reads.
class KeptStep final : public PlanStep {
 public:
  KeptStep(std::shared_ptr<const PlanStep> inner, std::vector<Snapshot> kept)
      : inner_(std::move(inner)), kept_(std::move(kept)) {}
  std::string name() const override { return inner_->name(); }
  size_t scratch_bytes() const override { return inner_->scratch_bytes(); }
  Status Run(const void* const* inputs, void* output, void* scratch) const override {
    return inner_->Run(inputs, output, scratch);
  }
  const Op* op() const override { return inner_->op(); }

 private:
  std::shared_ptr<const PlanStep> inner_;
  std::vector<Snapshot> kept_;
};

}  // namespace

void SetStep(PreparedOp* op, std::shared_ptr<const PlanStep> step, const View* inputs, size_t count, const Output& out) {
  op->output = out.array;
  if (count > kMaxStepInputs) {  // a binding bug; reported, never a partial step
    op->step.reset();
    op->compute = [] { return Status::Error("qkernels: internal error: an op with more step inputs than kMaxStepInputs"); };
    return;
  }
  op->step_inputs = count;
  for (size_t i = 0; i < kMaxStepInputs && i < count; ++i) {
    op->step_args[i] = inputs[i].arg;
    op->step_data[i] = inputs[i].data;
  }
  op->output_data = out.data;
  op->output_bytes = out.bytes;
  op->step = std::move(step);
  op->compute = nullptr;
}

namespace {

// Runs `step` on its inputs and output with scratch allocated for this run.
Status RunStep(const PlanStep& step, const void* const* inputs, void* output) {
  const size_t bytes = step.scratch_bytes();
  std::unique_ptr<uint8_t[]> scratch(bytes > 0 ? new uint8_t[bytes] : nullptr);  // new[] aligns to 16
  return step.Run(inputs, output, scratch.get());
}

}  // namespace

void ComputeFromStep(PreparedOp* op) {
  if (op->compute || !op->step) return;
  op->compute = [step = op->step, pointers = op->step_data, y = op->output_data] { return RunStep(*step, pointers.data(), y); };
}

Status RunPrepared(const PreparedOp& op) {
  if (op.compute || !op.step) return RunGuarded(op.compute);
  try {
    return RunStep(*op.step, op.step_data.data(), op.output_data);
  } catch (const std::bad_alloc&) {
    return Status::RangeError("qkernels: out of memory in a native operation");
  } catch (const std::exception& e) {
    return Status::Error(std::string("qkernels: native operation failed: ") + e.what());
  }
}

Napi::Value TraceResult(const Napi::CallbackInfo& info, const char* name, PreparedOp op) {
  Napi::Env env = info.Env();
  if (!op.step) {
    throw Napi::Error::New(env, std::string("qkernels: ") + name + " cannot be recorded by jit.trace yet (it has no plan step)");
  }
  const Status status = RunPrepared(op);
  if (!status.ok()) throw ErrorFromStatus(env, status);
  // The step keeps the copies of its parameters (per-channel arrays, norm weights, ...) but not
  // those of its graph inputs: a plan hands it other buffers, so the trace-time activations
  // would only hold memory for the plan's whole life.
  std::vector<Snapshot> kept;
  size_t kept_bytes = 0;
  for (size_t i = 0; i < kMaxArguments && i < op.snapshots.size(); ++i) {
    bool graph_input = false;
    for (size_t k = 0; k < kMaxStepInputs && k < op.step_inputs; ++k) graph_input = graph_input || op.step_data[k] == op.snapshots[i]->data();
    if (graph_input) continue;
    kept_bytes += op.snapshots[i]->capacity();  // what it holds, pooled buffers' slack included
    kept.push_back(op.snapshots[i]);
  }
  auto step = std::make_shared<KeptStep>(op.step, std::move(kept));
  Napi::Object result = Napi::Object::New(env);
  result.Set("output", op.output);
  result.Set("step", NewHandle(env, new StepHandle(std::move(step), op.output_bytes), kept_bytes));
  Napi::Array args = Napi::Array::New(env, op.step_inputs);
  for (size_t i = 0; i < kMaxStepInputs && i < op.step_inputs; ++i) args.Set(static_cast<uint32_t>(i), static_cast<double>(op.step_args[i]));
  result.Set("inputs", args);
  return result;
}

// ---- the async runner ------------------------------------------------------------------------

namespace {

struct AsyncCall;

// One per env (held by its thread's channel list, the env's cleanup hook, its thread-safe function and
// every call in flight): how completions get back to the env's JS thread, and which of its
// computations are running.
//
// Thread rules: `pending_` and the TSFN's ref count are the JS thread's; `closed_`,
// `tsfn_alive_` and `running_` are under `mutex_`, which a job queue thread holds while it
// posts a completion, so the TSFN cannot be finalized in the middle of a post.
class Channel {
 public:
  // The env's channel, made on its first async call (JS thread). Null when N-API refuses
  // (the env is shutting down).
  static std::shared_ptr<Channel> ForEnv(napi_env env);

  // JS thread: a call is queued / has been settled. The TSFN keeps the event loop alive
  // exactly while calls are pending, as libuv's queued work did.
  void Begin(napi_env env) {
    if (pending_++ == 0) napi_ref_threadsafe_function(env, tsfn_);
  }
  void End(napi_env env) {
    if (pending_ > 0 && --pending_ == 0) napi_unref_threadsafe_function(env, tsfn_);
  }

  // Job queue thread: whether the call may run (not once its env has begun to close: its
  // output may be gone); a call that may run is counted until Finish.
  bool Start() {
    std::lock_guard<std::mutex> lock(mutex_);
    if (closed_) return false;
    ++running_;
    return true;
  }
  // Job queue thread: hands `call` to the JS thread, or deletes it when its env is gone.
  static void Finish(AsyncCall* call);

 private:
  static void OnEnvCleanup(void* arg);
  static void OnTsfnFinalize(napi_env env, void* finalize_data, void* hint);
  static void CallJs(napi_env env, napi_value js_callback, void* context, void* data);

  napi_threadsafe_function tsfn_ = nullptr;
  size_t pending_ = 0;
  std::mutex mutex_;
  std::condition_variable idle_;
  bool closed_ = false;
  bool tsfn_alive_ = false;
  size_t running_ = 0;
};

// A queued computation and the promise it settles. Made and settled on the JS thread; run
// (and, when its env is gone, deleted) on a job queue thread, so its destructor makes no
// N-API call: `deferred` and `output` are released by the settling code only (a dead env
// frees its references itself).
struct AsyncCall {
  std::shared_ptr<Channel> channel;
  std::function<Status()> compute;
  std::vector<Snapshot> snapshots;  // the inputs compute reads
  std::vector<napi_ref> borrowed;   // donated buffers compute reads in place (addon/handoff.h)
  napi_deferred deferred = nullptr;
  // A strong reference: the output, not yet visible to JS, cannot be collected while the
  // computation writes it.
  napi_ref output = nullptr;
  Status status;
};

// The channels of the envs on this thread: Node runs one env per thread (a worker's on its own),
// so a few slots are plenty. Found by env (the env's instance data is the addon object's,
// Napi::Addon). A slot is freed by its env's cleanup hook.
constexpr size_t kThreadEnvSlots = 8;
struct EnvChannel {
  napi_env env = nullptr;
  std::shared_ptr<Channel> channel;
};
// By value: a worker thread's slots are released when the thread ends (its env has cleared
// them by then); computations in flight hold their channel themselves.
thread_local std::array<EnvChannel, kThreadEnvSlots> thread_channels;

std::shared_ptr<Channel> Channel::ForEnv(napi_env env) {
  EnvChannel* free_slot = nullptr;
  for (size_t i = 0; i < kThreadEnvSlots; ++i) {
    if (thread_channels[i].env == env) return thread_channels[i].channel;
    if (thread_channels[i].env == nullptr && free_slot == nullptr) free_slot = &thread_channels[i];
  }
  if (free_slot == nullptr) return nullptr;  // more envs on one thread than Node makes
  auto channel = std::make_shared<Channel>();
  napi_value name = nullptr;
  if (napi_create_string_utf8(env, "qkernels:op", NAPI_AUTO_LENGTH, &name) != napi_ok) return nullptr;
  auto* tsfn_hold = new std::shared_ptr<Channel>(channel);
  if (napi_create_threadsafe_function(env, nullptr, nullptr, name, 0, 1, tsfn_hold, OnTsfnFinalize, channel.get(), CallJs,
                                      &channel->tsfn_) != napi_ok) {
    delete tsfn_hold;
    return nullptr;
  }
  channel->tsfn_alive_ = true;
  napi_unref_threadsafe_function(env, channel->tsfn_);
  // Registered after the TSFN's own hook, so it runs first (hooks run last-in, first-out):
  // the env's running computations finish while its thread-safe function still takes posts.
  auto* hook_hold = new std::shared_ptr<Channel>(channel);
  if (napi_add_env_cleanup_hook(env, OnEnvCleanup, hook_hold) != napi_ok) {
    delete hook_hold;
    return nullptr;  // the TSFN stays unreferenced and is finalized with the env
  }
  free_slot->env = env;
  free_slot->channel = channel;
  return channel;
}

void Channel::Finish(AsyncCall* call) {
  std::shared_ptr<Channel> keep = call->channel;  // the JS thread may delete the call once posted
  Channel& self = *keep;
  bool posted = false;
  {
    std::lock_guard<std::mutex> lock(self.mutex_);
    posted = self.tsfn_alive_ && napi_call_threadsafe_function(self.tsfn_, call, napi_tsfn_nonblocking) == napi_ok;
    if (--self.running_ == 0 && self.closed_) self.idle_.notify_all();
  }
  if (!posted) delete call;
}

// The env is going away (worker.terminate(), process.exit() in a worker, the end of the
// process): computations not yet started are dropped (Start refuses them); those running are
// waited for, since they write into ArrayBuffers of the env's isolate. Node waits the same way
// for libuv work an env has queued.
void Channel::OnEnvCleanup(void* arg) {
  auto* hold = static_cast<std::shared_ptr<Channel>*>(arg);
  Channel& self = **hold;
  {
    std::unique_lock<std::mutex> lock(self.mutex_);
    self.closed_ = true;
    self.idle_.wait(lock, [&self] { return self.running_ == 0; });
  }
  for (size_t i = 0; i < kThreadEnvSlots; ++i) {
    if (thread_channels[i].channel.get() == &self) thread_channels[i] = EnvChannel();
  }
  delete hold;
}

void Channel::OnTsfnFinalize(napi_env, void* finalize_data, void*) {
  auto* hold = static_cast<std::shared_ptr<Channel>*>(finalize_data);
  {
    std::lock_guard<std::mutex> lock((*hold)->mutex_);
    (*hold)->tsfn_alive_ = false;
  }
  delete hold;
}

// Settles a finished call on its env's JS thread. `env` is null when the TSFN is being
// emptied at the env's end: then the call is only deleted.
void Channel::CallJs(napi_env env, napi_value, void*, void* data) {
  AsyncCall* call = static_cast<AsyncCall*>(data);
  if (env != nullptr) {
    napi_handle_scope scope = nullptr;
    if (napi_open_handle_scope(env, &scope) == napi_ok) {
      if (call->status.ok()) {
        napi_value output = nullptr;
        if (napi_get_reference_value(env, call->output, &output) == napi_ok && output != nullptr) {
          napi_resolve_deferred(env, call->deferred, output);
        }
      } else {
        const std::string& text = call->status.message();
        napi_value message = nullptr, error = nullptr;
        if (napi_create_string_utf8(env, text.data(), text.size(), &message) == napi_ok) {
          napi_status made = napi_generic_failure;
          switch (call->status.kind()) {
            case ErrorKind::kTypeError: made = napi_create_type_error(env, nullptr, message, &error); break;
            case ErrorKind::kRangeError: made = napi_create_range_error(env, nullptr, message, &error); break;
            default: made = napi_create_error(env, nullptr, message, &error); break;
          }
          if (made == napi_ok) napi_reject_deferred(env, call->deferred, error);
        }
      }
      napi_close_handle_scope(env, scope);
    }
    napi_delete_reference(env, call->output);
    ReturnBorrowed(env, &call->borrowed);
    call->channel->End(env);
  }
  delete call;
}

void RunCall(AsyncCall* call) {
  if (!call->channel->Start()) {
    delete call;  // its env is closing: never run
    return;
  }
  call->status = RunGuarded(call->compute);
  // The inputs go back to the snapshot pool now, not when the JS thread gets to the completion.
  call->compute = nullptr;
  call->snapshots.clear();
  Channel::Finish(call);
}

}  // namespace

napi_value QueueAsync(Napi::Env env, PreparedOp op) {
  ComputeFromStep(&op);  // the sync form runs the step in place; off the JS thread a closure owns it
  std::shared_ptr<Channel> channel = Channel::ForEnv(env);
  if (channel == nullptr) {
    ReturnBorrowed(env, &op.borrowed);
    throw Napi::Error::New(env, "qkernels: cannot queue an async operation while the environment shuts down");
  }
  auto call = std::make_unique<AsyncCall>();
  call->channel = channel;
  call->compute = std::move(op.compute);
  call->snapshots = std::move(op.snapshots);
  call->borrowed = std::move(op.borrowed);
  napi_value promise = nullptr;
  if (napi_create_promise(env, &call->deferred, &promise) != napi_ok ||
      napi_create_reference(env, op.output, 1, &call->output) != napi_ok) {
    ReturnBorrowed(env, &call->borrowed);
    NAPI_THROW(Napi::Error::New(env, "qkernels: could not make the Promise of an async operation"), nullptr);
  }
  channel->Begin(env);
  AsyncCall* raw = call.get();
  try {
    JobQueue::Process().Submit([raw] { RunCall(raw); });
  } catch (const std::exception&) {
    channel->End(env);
    napi_delete_reference(env, call->output);
    ReturnBorrowed(env, &call->borrowed);
    throw Napi::Error::New(env, "qkernels: no thread could be started for an async operation");
  }
  call.release();  // owned by the queue until RunCall hands it on
  return promise;
}

Status RunGuarded(const std::function<Status()>& compute) {
  try {
    return compute();
  } catch (const std::bad_alloc&) {
    return Status::RangeError("qkernels: out of memory in a native operation");
  } catch (const std::exception& e) {
    return Status::Error(std::string("qkernels: native operation failed: ") + e.what());
  }
}

// ---- per-channel parameters ----------------------------------------------------------------

ChannelLayout ArgLayout(const Napi::CallbackInfo& info, size_t index) {
  ChannelLayout layout;
  layout.outer = ArgSize(info, index, "outer");
  layout.channels = ArgSize(info, index + 1, "channels");
  layout.inner = ArgSize(info, index + 2, "inner");
  size_t numel = 0;
  if (!CheckedMul(layout.outer, layout.channels, &numel) || !CheckedMul(numel, layout.inner, &numel)) {
    ThrowRange(info.Env(), "outer * channels * inner that fits size_t", "layout", info[index]);
  }
  return layout;
}

size_t LayoutNumel(const ChannelLayout& layout) { return layout.outer * layout.channels * layout.inner; }

AffineChannelParams ArgAffineChannelParams(const Napi::CallbackInfo& info, size_t index, size_t channels,
                                           PreparedOp* op) {
  View scales = ArgInput(info, index, napi_float64_array, "scales", op);
  View zero_points = ArgTypedArray(info, index + 1, napi_int32_array, "zeroPoints");  // widened below, now
  if (scales.length != channels) ThrowRange(info.Env(), "one scale per channel", "scales", scales.holder);
  if (zero_points.length != channels) ThrowRange(info.Env(), "one zero point per channel", "zeroPoints", zero_points.holder);
  const int32_t* source = static_cast<const int32_t*>(zero_points.data);
  auto widened = std::make_shared<std::vector<int64_t>>(source, source + channels);
  return AffineChannelParams{static_cast<const double*>(scales.data), widened->data(), channels, widened};
}

FloatChannelParams ArgFloatChannelParams(const Napi::CallbackInfo& info, size_t index, size_t channels,
                                         PreparedOp* op) {
  View scales = ArgInput(info, index, napi_float32_array, "scales", op);
  View zero_points = ArgInput(info, index + 1, napi_float32_array, "zeroPoints", op);
  if (scales.length != channels) ThrowRange(info.Env(), "one scale per channel", "scales", scales.holder);
  if (zero_points.length != channels) ThrowRange(info.Env(), "one zero point per channel", "zeroPoints", zero_points.holder);
  return FloatChannelParams{static_cast<const float*>(scales.data), static_cast<const float*>(zero_points.data),
                            channels};
}

}  // namespace addon
}  // namespace qk
