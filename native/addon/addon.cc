// The N-API binding: marshals JS values to the native ops and back; no math and no policy live here.
//
// Rules this file keeps (see doc/foundation-api.md):
// - Context-aware: all state hangs off one Addon instance per Node environment (main
//   thread, each worker_thread, each Electron context); there are no static JS handles.
// - Outputs are ordinary ArrayBuffers created by V8 (NODE_API_NO_EXTERNAL_BUFFERS_ALLOWED
//   is defined by both builds), so Electron's V8 sandbox accepts them.
// - Nothing from JS is trusted: every argument's type, every length and every size is
//   checked here again, even though lib/ checked it first and the ops check it too.
// - Sync variants read input buffers in place (no copies). Async variants run the same
//   prepared op on libuv's pool; they copy their inputs into native memory first, because a
//   reference stops garbage collection but not a transfer (postMessage with a transfer
//   list, ArrayBuffer.prototype.transfer), and N-API cannot pin a backing store: reading a
//   caller's buffer off the JS thread could read freed memory. Their output is a fresh
//   ArrayBuffer no JS code can reach until the Promise resolves, so it is written in place.

// Both builds define this; without it node-addon-api would offer external buffers, which
// Electron's V8 sandbox rejects at run time. Fail the build instead.
#ifndef NODE_API_NO_EXTERNAL_BUFFERS_ALLOWED
#error "qkernels' addon must be compiled with NODE_API_NO_EXTERNAL_BUFFERS_ALLOWED (see binding.gyp, CMakeLists.txt)"
#endif

#include <napi.h>

#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <exception>
#include <functional>
#include <limits>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "base/checked.h"
#include "base/cpu.h"
#include "base/dispatch.h"
#include "base/isa.h"
#include "base/status.h"
#include "base/threadpool.h"
#include "ops/quantize.h"

namespace qk {
namespace {

// Bumped whenever a function's arguments change, so lib/native.ts can refuse a stale build
// instead of calling it with arguments it misreads.
constexpr int kInterfaceVersion = 1;

// ---- errors ----------------------------------------------------------------------------

Napi::Error ErrorFromStatus(Napi::Env env, const Status& status) {
  switch (status.kind()) {
    case ErrorKind::kTypeError: return Napi::TypeError::New(env, status.message());
    case ErrorKind::kRangeError: return Napi::RangeError::New(env, status.message());
    default: return Napi::Error::New(env, status.message());
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
  return "Expected " + what + " for " + parameter + " but received " + Describe(received) + " of type " +
         TypeOfName(received);
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

// A typed array as the op sees it: where its bytes start (byteOffset already applied),
// how many elements it has, and the JS value it came from (named in error messages).
struct View {
  void* data = nullptr;
  size_t length = 0;  // elements
  size_t bytes = 0;
  Napi::Object holder;
};

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
  // A SharedArrayBuffer is never detached; napi_is_detached_arraybuffer reports an error
  // status for it, which is read here as "not detached".
  bool detached = false;
  if (napi_is_detached_arraybuffer(env, buffer, &detached) != napi_ok) detached = false;
  if (detached) ThrowType(env, std::string(TypedArrayName(expected)) + " with an attached (not transferred) buffer", parameter, info[index]);
  View view;
  view.data = data;
  view.length = length;
  size_t element_bytes = 1;
  switch (type) {
    case napi_int32_array:
    case napi_float32_array: element_bytes = 4; break;
    case napi_float64_array: element_bytes = 8; break;
    default: break;
  }
  if (!CheckedBytes(length, element_bytes, &view.bytes)) ThrowRange(env, "typed array whose byte length fits size_t", parameter, info[index]);
  if (view.length > 0 && view.data == nullptr) ThrowType(env, "typed array with storage", parameter, info[index]);
  view.holder = info[index].As<Napi::Object>();
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
struct Output {
  Napi::Object array;
  void* data = nullptr;
  size_t length = 0;  // elements
  size_t bytes = 0;
};

Output NewOutput(Napi::Env env, napi_typedarray_type type, size_t length) {
  size_t element_bytes = (type == napi_int32_array || type == napi_float32_array) ? 4 : 1;
  Output out;
  out.length = length;
  if (!CheckedBytes(length, element_bytes, &out.bytes)) ThrowRange(env, "output size that fits size_t", "output length", Napi::Number::New(env, static_cast<double>(length)));
  Napi::ArrayBuffer buffer = Napi::ArrayBuffer::New(env, out.bytes);  // throws RangeError when V8 cannot allocate
  out.data = buffer.Data();
  napi_value array;
  NAPI_THROW_IF_FAILED(env, napi_create_typedarray(env, type, length, buffer, 0, &array), Output());
  out.array = Napi::Object(env, array);
  return out;
}

Output NewQuantizedOutput(Napi::Env env, QDType dtype, size_t numel) {
  size_t bytes = 0;
  if (!QDTypeStorageBytes(dtype, numel, &bytes)) ThrowRange(env, "element count whose storage fits size_t", "numel", Napi::Number::New(env, static_cast<double>(numel)));
  const napi_typedarray_type type = StorageArrayType(dtype);
  return NewOutput(env, type, type == napi_int32_array ? bytes / 4 : bytes);
}

// ---- prepared ops, run now or on the pool ----------------------------------------------------

// An op whose arguments have all been read and checked: `compute` touches only raw
// memory (safe off the JS thread), `output` is the typed array it fills.
struct PreparedOp {
  std::function<Status()> compute;
  Napi::Object output;
  // True for async ops: inputs are copied into `snapshots` and `compute` reads the copies.
  bool snapshot_inputs = false;
  std::vector<std::shared_ptr<std::vector<uint8_t>>> snapshots;
};

// Reads a typed-array input of an op. Sync ops read the caller's memory in place; async
// ops read a copy the op owns (see the rule at the top of this file). The returned View
// points at whichever memory `compute` must use.
View ArgInput(const Napi::CallbackInfo& info, size_t index, napi_typedarray_type expected, const char* parameter,
              PreparedOp* op) {
  View view = ArgTypedArray(info, index, expected, parameter);
  if (op->snapshot_inputs) {
    auto copy = std::make_shared<std::vector<uint8_t>>(view.bytes);
    if (view.bytes > 0) std::memcpy(copy->data(), view.data, view.bytes);
    view.data = copy->data();
    op->snapshots.push_back(std::move(copy));
  }
  return view;
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

// Resolves a Promise with the prepared op's output once `compute` has run on libuv's
// thread pool; rejects with the TypeError / RangeError / Error its Status names.
class PromiseWorker : public Napi::AsyncWorker {
 public:
  PromiseWorker(Napi::Env env, PreparedOp op)
      : Napi::AsyncWorker(env, "qkernels:op"),
        deferred_(Napi::Promise::Deferred::New(env)),
        compute_(std::move(op.compute)),
        snapshots_(std::move(op.snapshots)),
        // A strong reference: the output, not yet visible to JS, cannot be collected
        // while Execute writes it.
        output_(Napi::Persistent(op.output)) {}

  Napi::Promise Promise() const { return deferred_.Promise(); }

 protected:
  void Execute() override {
    status_ = RunGuarded(compute_);
    if (!status_.ok()) SetError(status_.message());
  }

  void OnOK() override { deferred_.Resolve(output_.Value()); }

  void OnError(const Napi::Error&) override { deferred_.Reject(ErrorFromStatus(Env(), status_).Value()); }

 private:
  Napi::Promise::Deferred deferred_;
  std::function<Status()> compute_;
  std::vector<std::shared_ptr<std::vector<uint8_t>>> snapshots_;  // the inputs compute_ reads
  Napi::ObjectReference output_;
  Status status_;
};

using Prepare = PreparedOp (*)(const Napi::CallbackInfo& info, bool snapshot);

template <Prepare prepare>
Napi::Value RunSync(const Napi::CallbackInfo& info) {
  PreparedOp op = prepare(info, /*snapshot=*/false);
  const Status status = RunGuarded(op.compute);
  if (!status.ok()) throw ErrorFromStatus(info.Env(), status);
  return op.output;
}

template <Prepare prepare>
Napi::Value RunAsync(const Napi::CallbackInfo& info) {
  PreparedOp op = prepare(info, /*snapshot=*/true);
  auto* worker = new PromiseWorker(info.Env(), std::move(op));  // deletes itself after OnOK/OnError
  Napi::Promise promise = worker->Promise();
  worker->Queue();
  return promise;
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
                                           PreparedOp* op) {
  View scales = ArgInput(info, index, napi_float64_array, "scales", op);
  View zero_points = ArgTypedArray(info, index + 1, napi_int32_array, "zeroPoints");  // widened below, now
  if (scales.length != channels) ThrowRange(info.Env(), "one scale per channel", "scales", scales.holder);
  if (zero_points.length != channels) ThrowRange(info.Env(), "one zero point per channel", "zeroPoints", zero_points.holder);
  auto widened = std::make_shared<std::vector<int64_t>>(channels);
  const int32_t* source = static_cast<const int32_t*>(zero_points.data);
  for (size_t c = 0; c < channels; ++c) (*widened)[c] = source[c];
  return AffineChannelParams{static_cast<const double*>(scales.data), widened->data(), channels, widened};
}

struct FloatChannelParams {
  const float* scales;
  const float* zero_points;
  size_t length;
};

FloatChannelParams ArgFloatChannelParams(const Napi::CallbackInfo& info, size_t index, size_t channels,
                                         PreparedOp* op) {
  View scales = ArgInput(info, index, napi_float32_array, "scales", op);
  View zero_points = ArgInput(info, index + 1, napi_float32_array, "zeroPoints", op);
  if (scales.length != channels) ThrowRange(info.Env(), "one scale per channel", "scales", scales.holder);
  if (zero_points.length != channels) ThrowRange(info.Env(), "one zero point per channel", "zeroPoints", zero_points.holder);
  return FloatChannelParams{static_cast<const float*>(scales.data), static_cast<const float*>(zero_points.data),
                            channels};
}

// ---- quantize --------------------------------------------------------------------------

// quantizePerTensor(x: Float32Array, scale, zeroPoint, dtype) -> storage typed array
PreparedOp PrepareQuantizePerTensor(const Napi::CallbackInfo& info, bool snapshot) {
  PreparedOp op;
  op.snapshot_inputs = snapshot;
  View x = ArgInput(info, 0, napi_float32_array, "input", &op);
  const double scale = ArgNumber(info, 1, "scale");
  const int64_t zero_point = ArgInt64(info, 2, "zeroPoint");
  const QDType dtype = ArgDType(info, 3);
  Output out = NewQuantizedOutput(info.Env(), dtype, x.length);
  op.output = out.array;
  const float* x_data = static_cast<const float*>(x.data);
  const size_t n = x.length;
  void* out_data = out.data;
  const size_t out_bytes = out.bytes;
  op.compute = [=] { return QuantizePerTensor(x_data, n, scale, zero_point, dtype, out_data, out_bytes); };
  return op;
}

// quantizePerChannel(x, outer, channels, inner, scales: Float64Array, zeroPoints: Int32Array, dtype) and
// quantizePerChannelFloatQParams(x, outer, channels, inner, scales: Float32Array, zeroPoints: Float32Array, dtype):
// one shape of arguments; kReadParams reads the qscheme's qparams, kQuantize is its op.
template <auto kReadParams, auto kQuantize>
PreparedOp PrepareQuantizeChannels(const Napi::CallbackInfo& info, bool snapshot) {
  PreparedOp op;
  op.snapshot_inputs = snapshot;
  View x = ArgInput(info, 0, napi_float32_array, "input", &op);
  const ChannelLayout layout = ArgLayout(info, 1);
  if (LayoutNumel(layout) != x.length) ThrowRange(info.Env(), "outer * channels * inner equal to input.length", "input", x.holder);
  const auto params = kReadParams(info, 4, layout.channels, &op);
  const QDType dtype = ArgDType(info, 6);
  Output out = NewQuantizedOutput(info.Env(), dtype, x.length);
  op.output = out.array;
  const float* x_data = static_cast<const float*>(x.data);
  const size_t x_len = x.length;
  void* out_data = out.data;
  const size_t out_bytes = out.bytes;
  op.compute = [=] {
    return kQuantize(x_data, x_len, layout, params.scales, params.zero_points, params.length, dtype, out_data, out_bytes);
  };
  return op;
}

// ---- dequantize ------------------------------------------------------------------------

// dequantizePerTensor(q, dtype, numel, scale, zeroPoint) -> Float32Array(numel)
PreparedOp PrepareDequantizePerTensor(const Napi::CallbackInfo& info, bool snapshot) {
  PreparedOp op;
  op.snapshot_inputs = snapshot;
  const QDType dtype = ArgDType(info, 1);
  View q = ArgInput(info, 0, StorageArrayType(dtype), "storage", &op);
  const size_t numel = ArgSize(info, 2, "numel");
  const double scale = ArgNumber(info, 3, "scale");
  const int64_t zero_point = ArgInt64(info, 4, "zeroPoint");
  size_t needed = 0;
  if (!QDTypeStorageBytes(dtype, numel, &needed) || needed > q.bytes) ThrowRange(info.Env(), "storage holding numel elements", "storage", q.holder);
  Output out = NewOutput(info.Env(), napi_float32_array, numel);
  op.output = out.array;
  const void* q_data = q.data;
  const size_t q_bytes = q.bytes;
  float* y = static_cast<float*>(out.data);
  op.compute = [=] { return DequantizePerTensor(q_data, q_bytes, dtype, numel, scale, zero_point, y, numel); };
  return op;
}

// dequantizePerChannel(q, dtype, outer, channels, inner, scales: Float64Array, zeroPoints: Int32Array) and
// dequantizePerChannelFloatQParams(q, dtype, outer, channels, inner, scales: Float32Array, zeroPoints: Float32Array)
// -> Float32Array(outer * channels * inner), as PrepareQuantizeChannels above.
template <auto kReadParams, auto kDequantize>
PreparedOp PrepareDequantizeChannels(const Napi::CallbackInfo& info, bool snapshot) {
  PreparedOp op;
  op.snapshot_inputs = snapshot;
  const QDType dtype = ArgDType(info, 1);
  View q = ArgInput(info, 0, StorageArrayType(dtype), "storage", &op);
  const ChannelLayout layout = ArgLayout(info, 2);
  const size_t numel = LayoutNumel(layout);
  size_t needed = 0;
  if (!QDTypeStorageBytes(dtype, numel, &needed) || needed > q.bytes) ThrowRange(info.Env(), "storage holding outer * channels * inner elements", "storage", q.holder);
  const auto params = kReadParams(info, 5, layout.channels, &op);
  Output out = NewOutput(info.Env(), napi_float32_array, numel);
  op.output = out.array;
  const void* q_data = q.data;
  const size_t q_bytes = q.bytes;
  float* y = static_cast<float*>(out.data);
  op.compute = [=] {
    return kDequantize(q_data, q_bytes, dtype, layout, params.scales, params.zero_points, params.length, y, numel);
  };
  return op;
}

constexpr Prepare kQuantizePerChannel = PrepareQuantizeChannels<ArgAffineChannelParams, QuantizePerChannel>;
constexpr Prepare kQuantizePerChannelFloatQParams =
    PrepareQuantizeChannels<ArgFloatChannelParams, QuantizePerChannelFloatQParams>;
constexpr Prepare kDequantizePerChannel = PrepareDequantizeChannels<ArgAffineChannelParams, DequantizePerChannel>;
constexpr Prepare kDequantizePerChannelFloatQParams =
    PrepareDequantizeChannels<ArgFloatChannelParams, DequantizePerChannelFloatQParams>;

// ---- the addon ---------------------------------------------------------------------------

class QkAddon : public Napi::Addon<QkAddon> {
 public:
  QkAddon(Napi::Env env, Napi::Object exports) {
    DefineAddon(exports, {
      InstanceValue("interfaceVersion", Napi::Number::New(env, kInterfaceVersion), napi_enumerable),
      InstanceMethod("backendInfo", &QkAddon::BackendInfo),
      InstanceMethod("getIsa", &QkAddon::GetIsa),
      InstanceMethod("setMaxIsa", &QkAddon::SetMaxIsa),
      InstanceMethod("getNumThreads", &QkAddon::GetNumThreads),
      InstanceMethod("setNumThreads", &QkAddon::SetNumThreads),
      InstanceMethod("chooseQuantizationParams", &QkAddon::ChooseQParams),
      InstanceMethod("quantizePerTensor", &QkAddon::Sync<PrepareQuantizePerTensor>),
      InstanceMethod("quantizePerTensorAsync", &QkAddon::Async<PrepareQuantizePerTensor>),
      InstanceMethod("quantizePerChannel", &QkAddon::Sync<kQuantizePerChannel>),
      InstanceMethod("quantizePerChannelAsync", &QkAddon::Async<kQuantizePerChannel>),
      InstanceMethod("quantizePerChannelFloatQParams", &QkAddon::Sync<kQuantizePerChannelFloatQParams>),
      InstanceMethod("quantizePerChannelFloatQParamsAsync", &QkAddon::Async<kQuantizePerChannelFloatQParams>),
      InstanceMethod("dequantizePerTensor", &QkAddon::Sync<PrepareDequantizePerTensor>),
      InstanceMethod("dequantizePerTensorAsync", &QkAddon::Async<PrepareDequantizePerTensor>),
      InstanceMethod("dequantizePerChannel", &QkAddon::Sync<kDequantizePerChannel>),
      InstanceMethod("dequantizePerChannelAsync", &QkAddon::Async<kDequantizePerChannel>),
      InstanceMethod("dequantizePerChannelFloatQParams", &QkAddon::Sync<kDequantizePerChannelFloatQParams>),
      InstanceMethod("dequantizePerChannelFloatQParamsAsync", &QkAddon::Async<kDequantizePerChannelFloatQParams>),
    });
  }

 private:
  template <Prepare prepare>
  Napi::Value Sync(const Napi::CallbackInfo& info) { return RunSync<prepare>(info); }
  template <Prepare prepare>
  Napi::Value Async(const Napi::CallbackInfo& info) { return RunAsync<prepare>(info); }

  // { isa, bestIsa, features: string[], threads, envMaxIsaError }
  Napi::Value BackendInfo(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    const CpuFeatures& cpu = GetCpuFeatures();
    const std::pair<const char*, bool> flags[] = {
        {"sse4.1", cpu.sse41},         {"avx2", cpu.avx2},         {"fma", cpu.fma},
        {"f16c", cpu.f16c},            {"avx512f", cpu.avx512f},   {"avx512bw", cpu.avx512bw},
        {"avx512vl", cpu.avx512vl},    {"avx512dq", cpu.avx512dq}, {"avx512vnni", cpu.avx512vnni},
        {"avxvnni", cpu.avxvnni},      {"neon", cpu.neon},         {"dotprod", cpu.dotprod},
        {"i8mm", cpu.i8mm},            {"fp16", cpu.fp16},
    };
    Napi::Array features = Napi::Array::New(env);
    uint32_t count = 0;
    for (const auto& flag : flags) {
      if (flag.second) features.Set(count++, Napi::String::New(env, flag.first));
    }
    Napi::Object result = Napi::Object::New(env);
    result.Set("isa", Napi::String::New(env, IsaName(ActiveIsa())));
    result.Set("bestIsa", Napi::String::New(env, IsaName(BestIsa())));
    result.Set("features", features);
    result.Set("threads", Napi::Number::New(env, qk::GetNumThreads()));
    result.Set("envMaxIsaError", Napi::String::New(env, EnvMaxIsaError()));
    return result;
  }

  Napi::Value GetIsa(const Napi::CallbackInfo& info) { return Napi::String::New(info.Env(), IsaName(ActiveIsa())); }

  // setMaxIsa(name) -> the level now in force
  Napi::Value SetMaxIsa(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    if (info.Length() < 1 || !info[0].IsString()) ThrowType(env, "string", "isa", info[0]);
    const std::string name = info[0].As<Napi::String>().Utf8Value();
    Isa cap;
    if (!ParseIsa(name.c_str(), &cap)) ThrowRange(env, "one of scalar, avx2, avx512vnni, neon, neondot", "isa", info[0]);
    std::string error;
    if (!qk::SetMaxIsa(cap, &error)) throw Napi::RangeError::New(env, error);
    return Napi::String::New(env, IsaName(ActiveIsa()));
  }

  Napi::Value GetNumThreads(const Napi::CallbackInfo& info) { return Napi::Number::New(info.Env(), qk::GetNumThreads()); }

  Napi::Value SetNumThreads(const Napi::CallbackInfo& info) {
    const double threads = ArgNumber(info, 0, "threads");
    if (!(threads >= 1 && threads <= 256) || std::floor(threads) != threads) ThrowRange(info.Env(), "integer in [1, 256]", "threads", info[0]);
    qk::SetNumThreads(static_cast<int>(threads));
    return info.Env().Undefined();
  }

  // chooseQuantizationParams(x: Float32Array, dtype, reduceRange) -> { scale, zeroPoint }:
  // torch.quantize_per_tensor_dynamic's qparams from the input's min and max.
  Napi::Value ChooseQParams(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    View x = ArgTypedArray(info, 0, napi_float32_array, "input");
    const QDType dtype = ArgDType(info, 1);
    const bool reduce_range = ArgBool(info, 2, "reduceRange");
    if (x.length == 0) ThrowRange(env, "non-empty tensor", "input", x.holder);
    const float* data = static_cast<const float*>(x.data);
    // MinMax's contract: callers reject NaN first (and infinities would give an infinite scale).
    for (size_t i = 0; i < x.length; ++i) {
      if (!std::isfinite(data[i])) ThrowRange(env, "tensor of finite values", "input", x.holder);
    }
    float min = 0, max = 0;
    MinMax(data, x.length, &min, &max);
    ChosenQParams chosen{};
    const Status status = ChooseQuantizationParams(min, max, dtype, reduce_range, &chosen);
    if (!status.ok()) throw ErrorFromStatus(env, status);
    Napi::Object result = Napi::Object::New(env);
    result.Set("scale", Napi::Number::New(env, chosen.scale));
    result.Set("zeroPoint", Napi::Number::New(env, static_cast<double>(chosen.zero_point)));
    return result;
  }
};

}  // namespace
}  // namespace qk

// The registration macro pastes its argument into an identifier, so it needs an unqualified
// name; the module name is spelled out because cmake-js does not define NODE_GYP_MODULE_NAME.
using QkernelsAddon = qk::QkAddon;
NODE_API_NAMED_ADDON(qkernels, QkernelsAddon)
