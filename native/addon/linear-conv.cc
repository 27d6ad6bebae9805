// The binding of linear, conv and conv-transpose: prepacked-weight handles, the ops (sync and async), unpack.
//
// A prepacked weight is a Napi::External that owns a shared_ptr to the immutable native
// weights (type-tagged, so a linear handle can never be used as a conv handle). Every compute
// closure copies that shared_ptr, so an async call keeps the weights alive even when the
// module that made them is collected meanwhile.
//
// The binding only marshals: each call reads and checks its arguments, prepares the op
// (ops/linear-op.h, ops/conv-op.h: the fused epilogues and ConvAdd live there) and runs it.
// The sync linear and conv first try a fast path (LinearSync, ConvSync) for the common call.
#include <algorithm>
#include <cmath>
#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include "addon/common.h"
#include "plan/function-step.h"
#include "plan/op-step.h"
#include "base/checked.h"
#include "base/expected.h"
#include "ops/conv-op.h"
#include "ops/conv.h"
#include "ops/linear-op.h"
#include "ops/linear.h"
#include "ops/op.h"
#include "ops/quantize.h"

namespace qk {
namespace addon {
namespace {

// ---- handles ---------------------------------------------------------------------------

struct LinearHandle final : NativeHandle {
  static constexpr const char* kKind = "linear weight handle";
  explicit LinearHandle(std::shared_ptr<const LinearWeights> w) : NativeHandle(kKind), weights(std::move(w)) {}
  void Drop() override { weights.reset(); }
  std::shared_ptr<const LinearWeights> weights;
};

struct ConvHandle final : NativeHandle {
  static constexpr const char* kKind = "conv weight handle";
  explicit ConvHandle(std::shared_ptr<const ConvWeights> w) : NativeHandle(kKind), weights(std::move(w)) {}
  void Drop() override {
    weights.reset();
    add_gemms = std::make_shared<ConvAddGemms>();
    stages = std::make_shared<ConvStageCache>();
  }
  std::shared_ptr<const ConvWeights> weights;
  std::shared_ptr<ConvAddGemms> add_gemms = std::make_shared<ConvAddGemms>();
  // The output stages of these weights for the qparams recently run (ops/conv-op.h).
  std::shared_ptr<ConvStageCache> stages = std::make_shared<ConvStageCache>();
};

// The bytes a handle keeps alive (the original weights and about two packed copies), so V8's
// heuristics see them.
size_t RetainedBytes(size_t weight_count) { return weight_count * 3; }

// An optional fp32 bias of `count` values: null/undefined gives an empty View (data
// nullptr). Returned whole so that a shared-memory copy lives as long as the caller's use.
View ArgBias(const Napi::CallbackInfo& info, size_t index, size_t count) {
  if (info[index].IsNull() || info[index].IsUndefined()) return View{};
  View bias = ArgTypedArray(info, index, napi_float32_array, "bias");
  if (bias.length != count) ThrowRange(info.Env(), "Float32Array with one value per output channel", "bias", bias.holder);
  return bias;
}

// Weight qparams: Float64Array scales and Int32Array zero points, 1 or `channels` of each.
struct WeightQParams {
  const double* scales;
  const int32_t* zero_points;
  size_t count;
  View scales_view, zero_points_view;  // own the copies of shared memory the pointers may point into
};

WeightQParams ArgWeightQParams(const Napi::CallbackInfo& info, size_t index, size_t channels) {
  View scales = ArgTypedArray(info, index, napi_float64_array, "scales");
  View zero_points = ArgTypedArray(info, index + 1, napi_int32_array, "zeroPoints");
  if (scales.length != 1 && scales.length != channels) {
    ThrowRange(info.Env(), "1 scale (per tensor) or one per output channel", "scales", scales.holder);
  }
  if (zero_points.length != scales.length) ThrowRange(info.Env(), "as many zero points as scales", "zeroPoints", zero_points.holder);
  return {static_cast<const double*>(scales.data), static_cast<const int32_t*>(zero_points.data), scales.length, scales,
          zero_points};
}

Napi::Object UnpackResult(Napi::Env env, const std::vector<int8_t>& w, const std::vector<float>& bias) {
  Napi::Object result = Napi::Object::New(env);
  Output weight = NewOutput(env, napi_int8_array, w.size());
  if (!w.empty()) std::memcpy(weight.data, w.data(), w.size());
  result.Set("weight", weight.array);
  if (bias.empty()) {
    result.Set("bias", env.Null());
  } else {
    Output b = NewOutput(env, napi_float32_array, bias.size());
    std::memcpy(b.data, bias.data(), bias.size() * sizeof(float));
    result.Set("bias", b.array);
  }
  return result;
}

int32_t ArgZeroPointU8(const Napi::CallbackInfo& info, size_t index, const char* parameter) {
  const int64_t value = ArgInt64(info, index, parameter);
  if (value < 0 || value > 255) ThrowRange(info.Env(), "integer in [0, 255]", parameter, info[index]);
  return static_cast<int32_t>(value);
}

float ArgScale(const Napi::CallbackInfo& info, size_t index, const char* parameter) {
  const double value = ArgNumber(info, index, parameter);
  if (!ScaleOk(value, ScaleRule::kPositiveFiniteInFloat32)) ThrowRange(info.Env(), "positive number finite in float32", parameter, info[index]);
  return static_cast<float>(value);
}

// ---- linear ------------------------------------------------------------------------------

// linearPrepack(w: Int8Array, outFeatures, inFeatures, scales: Float64Array, zeroPoints: Int32Array, bias) -> handle
Napi::Value LinearPrepack(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  View w = ArgTypedArray(info, 0, napi_int8_array, "weight");
  const size_t out_features = ArgSize(info, 1, "outFeatures");
  const size_t in_features = ArgSize(info, 2, "inFeatures");
  size_t count = 0;
  if (!CheckedMul(out_features, in_features, &count) || count != w.length) {
    ThrowRange(env, "Int8Array of outFeatures * inFeatures values", "weight", w.holder);
  }
  const WeightQParams qparams = ArgWeightQParams(info, 3, out_features);
  const View bias_view = ArgBias(info, 5, out_features);
  const float* bias = static_cast<const float*>(bias_view.data);
  std::shared_ptr<const LinearWeights> weights;
  const Status status = RunGuarded([&] {
    return CreateLinearWeights(static_cast<const int8_t*>(w.data), out_features, in_features, qparams.scales,
                               qparams.zero_points, qparams.count, bias, &weights);
  });
  if (!status.ok()) throw ErrorFromStatus(env, status);
  return NewHandle(env, new LinearHandle(weights), RetainedBytes(count));
}

Napi::Value LinearUnpack(const Napi::CallbackInfo& info) {
  const LinearHandle* handle = ArgHandle<LinearHandle>(info, 0);
  return UnpackResult(info.Env(), handle->weights->w, handle->weights->bias);
}

// Checks that x holds rows * in_features values (rows at info[2]); returns the output's rows * out_features.
size_t LinearOutputCount(const Napi::CallbackInfo& info, const LinearWeights& w, const View& x, size_t rows, const char* what) {
  size_t x_count = 0, y_count = 0;
  if (!CheckedMul(rows, w.in_features, &x_count) || x_count != x.length) ThrowRange(info.Env(), what, "input", x.holder);
  if (!CheckedMul(rows, w.out_features, &y_count)) ThrowRange(info.Env(), "rows * outFeatures that fits in memory", "rows", info[2]);
  return y_count;
}

// linear(handle, x: Uint8Array, rows, xScale, xZeroPoint, yScale, yZeroPoint, activation, alpha) -> Uint8Array
PreparedOp PrepareLinear(const Napi::CallbackInfo& info, bool snapshot) {
  PreparedOp op;
  op.snapshot_inputs = snapshot;
  Napi::Env env = info.Env();
  std::shared_ptr<const LinearWeights> weights = ArgHandle<LinearHandle>(info, 0)->weights;
  View x = ArgInput(info, 1, napi_uint8_array, "input", &op);
  const size_t rows = ArgSize(info, 2, "rows");
  ArgScale(info, 3, "input scale");  // validates; the op reads the double
  const double x_scale_double = ArgNumber(info, 3, "input scale");
  const int32_t x_zero_point = ArgZeroPointU8(info, 4, "input zero point");
  const double y_scale_double = ArgNumber(info, 5, "scale");
  ArgScale(info, 5, "scale");  // validates; the op reads the double
  const QEngine engine = ActiveQEngine();  // read at the call: an async op keeps its call's engine
  const int32_t y_zero_point = ArgZeroPointU8(info, 6, "zeroPoint");
  const int64_t activation_code = ArgInt64(info, 7, "activation");
  if (activation_code < 0 || activation_code > 3) ThrowRange(env, "activation code 0..3", "activation", info[7]);
  LinearParams params;
  params.rows = rows;
  params.x_scale = x_scale_double;
  params.x_zero_point = x_zero_point;
  params.y_scale = y_scale_double;
  params.y_zero_point = y_zero_point;
  params.activation = static_cast<Activation>(activation_code);
  params.negative_slope = static_cast<float>(ArgNumber(info, 8, "negativeSlope"));
  params.engine = engine;
  LinearOutputCount(info, *weights, x, rows, "Uint8Array of rows * inFeatures values");
  std::shared_ptr<const LinearOp> prepared;
  const Status status = RunGuarded([&] { return LinearOp::Prepare(weights, params, &prepared); });
  if (!status.ok()) throw ErrorFromStatus(env, status);
  Output out = NewUninitializedOutput(env, napi_uint8_array, prepared->output_bytes());
  SetStep(&op, std::make_shared<OpStep>(prepared), {x}, out);
  return op;
}

// A sync op through the general path: Napi::CallbackInfo, `prepare` and RunSync, errors thrown
// to JS (what a fast path falls back to).
template <Prepare prepare>
napi_value SyncGeneral(napi_env env, napi_callback_info cbinfo) {
  try {
    Napi::CallbackInfo info(env, cbinfo);
    return RunSync<prepare>(info);
  } catch (const Napi::Error& error) {
    error.ThrowAsJavaScriptException();
    return nullptr;
  }
}

napi_value LinearSyncGeneral(napi_env env, napi_callback_info cbinfo) { return SyncGeneral<PrepareLinear>(env, cbinfo); }

// A number argument the fast path accepts: an integer in [0, max] (so also one ArgSize / ArgInt64 accept).
bool FastInteger(napi_env env, napi_value value, double max, double* out) {
  return napi_get_value_double(env, value, out) == napi_ok && *out >= 0 && *out <= max && std::floor(*out) == *out;
}

// A scale the fast path accepts: ArgScale's rule (positive and finite once rounded to float32).
bool FastScale(napi_env env, napi_value value, double* out) {
  return napi_get_value_double(env, value, out) == napi_ok && ScaleOk(*out, ScaleRule::kPositiveFiniteInFloat32);
}

// An input the fast paths read in place: a non-empty Uint8Array over an attached, plain (not
// shared) ArrayBuffer. Shared memory goes to the general path, which reads it once into a copy
// (ArgTypedArray), as every other binding does.
bool FastUint8Input(napi_env env, napi_value value, const uint8_t** data, size_t* length) {
  bool is_typed_array = false, plain = false, detached = true;
  napi_typedarray_type type = napi_int8_array;
  void* bytes = nullptr;
  napi_value buffer = nullptr;
  size_t offset = 0;
  if (napi_is_typedarray(env, value, &is_typed_array) != napi_ok || !is_typed_array ||
      napi_get_typedarray_info(env, value, &type, length, &bytes, &buffer, &offset) != napi_ok ||
      type != napi_uint8_array || napi_is_arraybuffer(env, buffer, &plain) != napi_ok || !plain ||
      napi_is_detached_arraybuffer(env, buffer, &detached) != napi_ok || detached || *length == 0 || bytes == nullptr) {
    return false;
  }
  *data = static_cast<const uint8_t*>(bytes);
  return true;
}

// A fast-path call's first kArgs arguments and its weight handle (argv[0]: a Handle, not
// released), or null when the call is not one the fast path takes (the general path then
// reads the arguments again and names what is wrong).
template <typename Handle, size_t kArgs>
const Handle* FastHandle(napi_env env, napi_callback_info cbinfo, napi_value (&argv)[kArgs]) {
  size_t argc = kArgs;
  if (napi_get_cb_info(env, cbinfo, &argc, argv, nullptr, nullptr) != napi_ok || argc < kArgs) return nullptr;
  const NativeHandle* holder = HandleOrNull(env, argv[0]);
  if (holder == nullptr || holder->kind != Handle::kKind) return nullptr;
  const Handle* handle = static_cast<const Handle*>(holder);
  return handle->weights ? handle : nullptr;
}

// Whether a JS exception is pending (a failed N-API call that threw: the fast path returns at once).
bool ExceptionPending(napi_env env) {
  bool pending = false;
  return napi_is_exception_pending(env, &pending) == napi_ok && pending;
}

// A fast path's return: `y`, or the error `status` names thrown to JS.
napi_value FastResult(napi_env env, const Status& status, napi_value y) {
  if (status.ok()) return y;
  ErrorFromStatus(env, status).ThrowAsJavaScriptException();
  return nullptr;
}

// A fresh Uint8Array of `length` bytes made with raw N-API for a fast path's result, or null
// (then nothing is pending unless V8 threw: ExceptionPending).
napi_value FastUint8Output(napi_env env, size_t length, uint8_t** data) {
  napi_value buffer = nullptr, array = nullptr;
  void* bytes = nullptr;
  if (napi_create_arraybuffer(env, length, &bytes, &buffer) != napi_ok ||
      napi_create_typedarray(env, napi_uint8_array, length, buffer, 0, &array) != napi_ok) {
    return nullptr;
  }
  *data = static_cast<uint8_t*>(bytes);
  return array;
}

struct LinearFastCall {
  const LinearWeights* weights;
  const uint8_t* x;
  size_t rows;
  double x_scale;
  int32_t x_zero_point;
  double y_scale;
  int32_t y_zero_point;
  bool relu;
  QEngine engine;
  uint8_t* y;
};

// linear(...) sync, the per-call fast path: reads the 9 arguments with raw N-API into stack storage
// and runs LinearU8 in place, with no PreparedOp, std::function, shared_ptr copy or argument vector.
// It accepts only arguments every check of PrepareLinear passes (activation None or ReLU); anything
// else goes to LinearSyncGeneral, which makes the same checks and throws the same errors. LinearU8
// with these arguments is what LinearOp::Run calls for None/ReLU, so the fast path, linearAsync and
// a traced linear step (linearTrace) give the same bits (test/trace-steps-ops.test.ts checks it). The
// weights stay alive: the handle argument holds them for the duration of this call.
napi_value LinearSync(napi_env env, napi_callback_info cbinfo) {
  napi_value argv[9];
  const LinearHandle* handle = FastHandle<LinearHandle>(env, cbinfo, argv);
  if (handle == nullptr) return LinearSyncGeneral(env, cbinfo);
  const LinearWeights& weights = *handle->weights;
  const uint8_t* x_data = nullptr;
  size_t x_length = 0;
  if (!FastUint8Input(env, argv[1], &x_data, &x_length)) return LinearSyncGeneral(env, cbinfo);
  LinearFastCall call{};
  double rows = 0, x_zero_point = 0, y_zero_point = 0, activation = 0, alpha = 0;
  size_t x_count = 0, y_count = 0;
  if (!FastInteger(env, argv[2], 9007199254740991.0, &rows) || !FastScale(env, argv[3], &call.x_scale) ||
      !FastInteger(env, argv[4], 255, &x_zero_point) || !FastScale(env, argv[5], &call.y_scale) ||
      !FastInteger(env, argv[6], 255, &y_zero_point) || !FastInteger(env, argv[7], 1, &activation) ||
      napi_get_value_double(env, argv[8], &alpha) != napi_ok ||
      !CheckedMul(static_cast<size_t>(rows), weights.in_features, &x_count) || x_count != x_length ||
      !CheckedMul(static_cast<size_t>(rows), weights.out_features, &y_count)) {
    return LinearSyncGeneral(env, cbinfo);
  }
  uint8_t* y_data = nullptr;
  const napi_value y_array = FastUint8Output(env, y_count, &y_data);
  if (y_array == nullptr) return ExceptionPending(env) ? nullptr : LinearSyncGeneral(env, cbinfo);
  call.weights = &weights;
  call.x = x_data;
  call.rows = static_cast<size_t>(rows);
  call.x_zero_point = static_cast<int32_t>(x_zero_point);
  call.y_zero_point = static_cast<int32_t>(y_zero_point);
  call.relu = activation == 1;
  call.engine = ActiveQEngine();
  call.y = y_data;
  // One reference captured: the std::function keeps it in its small buffer (no allocation).
  const Status status = RunGuarded([&call] {
    return LinearU8(*call.weights, call.x, call.rows, call.x_scale, call.x_zero_point, call.y_scale, call.y_zero_point,
                    call.relu, call.y, call.engine);
  });
  return FastResult(env, status, y_array);
}

// linearDynamic(handle, x: Float32Array, rows, reduceRange, relu) -> Float32Array
PreparedOp PrepareLinearDynamic(const Napi::CallbackInfo& info, bool snapshot) {
  PreparedOp op;
  op.snapshot_inputs = snapshot;
  Napi::Env env = info.Env();
  std::shared_ptr<const LinearWeights> weights = ArgHandle<LinearHandle>(info, 0)->weights;
  View x = ArgInput(info, 1, napi_float32_array, "input", &op);
  const size_t rows = ArgSize(info, 2, "rows");
  const bool reduce_range = ArgBool(info, 3, "reduceRange");
  const bool relu = ArgBool(info, 4, "relu");
  const size_t y_count = LinearOutputCount(info, *weights, x, rows, "Float32Array of rows * inFeatures values");
  Output out = NewUninitializedOutput(env, napi_float32_array, y_count);
  // The step holds the weights (a shared_ptr): releasing the handle later does not free them.
  SetStep(&op,
          std::make_shared<FunctionStep>("linear_dynamic",
                                         [=](const void* const* in, void* y, void*) {
                                           return LinearDynamicF32(*weights, static_cast<const float*>(in[0]), rows,
                                                                   reduce_range, relu, static_cast<float*>(y));
                                         }),
          {x}, out);
  return op;
}

// ---- conv --------------------------------------------------------------------------------

// The geometry Float64Array lib/linear-conv/params.ts writes (geometryArray), GEOMETRY_LENGTH values:
// dims, in, out, groups, kernel[3], stride[3], dilation[3], padBefore[3], padAfter[3], outputPadding[3],
// transposed, paddingMode (0 zeros, 1 reflect, 2 replicate, 3 circular).
constexpr size_t kGeometryLength = 24;

}  // namespace

// Declared in common.h: the binary family reads the same geometry array.
ConvGeometry ArgGeometry(const Napi::CallbackInfo& info, size_t index) {
  View view = ArgTypedArray(info, index, napi_float64_array, "geometry");
  if (view.length != kGeometryLength) ThrowRange(info.Env(), "Float64Array of 24 geometry values", "geometry", view.holder);
  const double* v = static_cast<const double*>(view.data);
  for (size_t i = 0; i < kGeometryLength; ++i) {
    if (!(v[i] >= 0 && v[i] <= 9007199254740991.0) || std::floor(v[i]) != v[i]) {
      ThrowRange(info.Env(), "non-negative integers", "geometry", view.holder);
    }
  }
  ConvGeometry g;
  if (v[0] < 1 || v[0] > 3) ThrowRange(info.Env(), "1, 2 or 3 spatial dims", "geometry", view.holder);
  if (v[23] > 3 || v[22] > 1) ThrowRange(info.Env(), "a known padding mode and transposed flag", "geometry", view.holder);
  g.dims = static_cast<int>(v[0]);
  g.in_channels = static_cast<size_t>(v[1]);
  g.out_channels = static_cast<size_t>(v[2]);
  g.groups = static_cast<size_t>(v[3]);
  for (int d = 0; d < 3; ++d) {
    g.kernel[d] = static_cast<size_t>(v[4 + d]);
    g.stride[d] = static_cast<size_t>(v[7 + d]);
    g.dilation[d] = static_cast<size_t>(v[10 + d]);
    g.pad_before[d] = static_cast<size_t>(v[13 + d]);
    g.pad_after[d] = static_cast<size_t>(v[16 + d]);
    g.output_padding[d] = static_cast<size_t>(v[19 + d]);
  }
  g.transposed = v[22] != 0;
  // One GEMM phase per stride residue: bound them before any is planned (lib/linear-conv/params.ts).
  constexpr double kMaxTransposedPhases = 65536;
  if (g.transposed && static_cast<double>(g.stride[0]) * static_cast<double>(g.stride[1]) * static_cast<double>(g.stride[2]) > kMaxTransposedPhases) {
    ThrowRange(info.Env(), "transposed stride whose product is at most 65536", "geometry", view.holder);
  }
  static const ConvPaddingMode kModes[] = {ConvPaddingMode::kZeros, ConvPaddingMode::kReflect, ConvPaddingMode::kReplicate,
                                           ConvPaddingMode::kCircular};
  g.padding_mode = kModes[static_cast<int>(v[23])];
  const Status status = CheckConvGeometry(g);
  if (!status.ok()) throw ErrorFromStatus(info.Env(), status);
  return g;
}

namespace {

// convPrepack(geometry: Float64Array, w: Int8Array, scales: Float64Array, zeroPoints: Int32Array, bias) -> handle
Napi::Value ConvPrepack(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const ConvGeometry g = ArgGeometry(info, 0);
  View w = ArgTypedArray(info, 1, napi_int8_array, "weight");
  size_t count = 0;
  if (!ConvWeightCount(g, &count) || count != w.length) ThrowRange(env, "Int8Array with the weight shape's element count", "weight", w.holder);
  const WeightQParams qparams = ArgWeightQParams(info, 2, g.out_channels);
  const View bias_view = ArgBias(info, 4, g.out_channels);
  const float* bias = static_cast<const float*>(bias_view.data);
  std::shared_ptr<const ConvWeights> weights;
  const Status status = RunGuarded([&] {
    return CreateConvWeights(g, static_cast<const int8_t*>(w.data), qparams.scales, qparams.zero_points, qparams.count,
                             bias, &weights);
  });
  if (!status.ok()) throw ErrorFromStatus(env, status);
  return NewHandle(env, new ConvHandle(weights), RetainedBytes(count));
}

Napi::Value ConvUnpack(const Napi::CallbackInfo& info) {
  const ConvHandle* handle = ArgHandle<ConvHandle>(info, 0);
  return UnpackResult(info.Env(), handle->weights->w, handle->weights->bias);
}

// conv(handle, x: Uint8Array, batch, inSpatial: Float64Array(3),
//      layout (0 contiguous, 1 channels_last, 2 contiguous input and channels_last output),
//      xScale, xZeroPoint, yScale, yZeroPoint, relu, extra: Uint8Array | null, extraScale, extraZeroPoint) -> Uint8Array
PreparedOp PrepareConv(const Napi::CallbackInfo& info, bool snapshot) {
  PreparedOp op;
  op.snapshot_inputs = snapshot;
  Napi::Env env = info.Env();
  const ConvHandle* handle = ArgHandle<ConvHandle>(info, 0);
  std::shared_ptr<const ConvWeights> weights = handle->weights;
  std::shared_ptr<ConvAddGemms> add_gemms = handle->add_gemms;
  std::shared_ptr<ConvStageCache> stages = handle->stages;
  const ConvGeometry& g = weights->geometry;
  View x = ArgInput(info, 1, napi_uint8_array, "input", &op);
  const size_t batch = ArgSize(info, 2, "batch");
  View spatial = ArgTypedArray(info, 3, napi_float64_array, "inSpatial");
  if (spatial.length != 3) ThrowRange(env, "Float64Array of 3 spatial sizes", "inSpatial", spatial.holder);
  size_t in_spatial[3] = {1, 1, 1};
  for (int d = 0; d < 3; ++d) {
    const double v = static_cast<const double*>(spatial.data)[d];
    if (!(v >= 0 && v <= 9007199254740991.0) || std::floor(v) != v || (d >= g.dims && v != 1)) {
      ThrowRange(env, "non-negative integer sizes (1 for unused dims)", "inSpatial", spatial.holder);
    }
    in_spatial[d] = static_cast<size_t>(v);
  }
  const int64_t layout_code = ArgInt64(info, 4, "layout");
  if (layout_code < 0 || layout_code > 2) {
    ThrowRange(env, "0 (contiguous), 1 (channels_last) or 2 (contiguous in, channels_last out)", "layout", info[4]);
  }
  const ConvLayout layout = layout_code == 1 ? ConvLayout::kChannelsLast : ConvLayout::kContiguous;
  const bool out_channels_last = layout_code != 0;
  ArgScale(info, 5, "input scale");  // validates; the op reads the double
  const double x_scale_double = ArgNumber(info, 5, "input scale");
  const int32_t x_zero_point = ArgZeroPointU8(info, 6, "input zero point");
  const double y_scale_double = ArgNumber(info, 7, "scale");
  ArgScale(info, 7, "scale");  // validates; the op reads the double
  const QEngine engine = ActiveQEngine();  // read at the call: an async op keeps its call's engine
  const int32_t y_zero_point = ArgZeroPointU8(info, 8, "zeroPoint");
  const bool relu = ArgBool(info, 9, "relu");
  ConvParams params;
  params.batch = batch;
  for (int d = 0; d < 3; ++d) params.in_spatial[d] = in_spatial[d];
  params.layout = layout;
  params.out_channels_last = out_channels_last;
  params.x_scale = x_scale_double;
  params.x_zero_point = x_zero_point;
  params.y_scale = y_scale_double;
  params.y_zero_point = y_zero_point;
  params.relu = relu;
  params.engine = engine;
  size_t out_spatial[3] = {1, 1, 1};
  const Status size_status = ConvOutputSize(g, in_spatial, out_spatial);
  if (!size_status.ok()) throw ErrorFromStatus(env, size_status);
  size_t x_count = 0, y_count = 0;
  if (!ConvTensorCount(batch, g.in_channels, in_spatial, &x_count) || x_count != x.length) {
    ThrowRange(env, "Uint8Array of batch * inChannels * prod(inSpatial) values", "input", x.holder);
  }
  if (!ConvTensorCount(batch, g.out_channels, out_spatial, &y_count)) ThrowRange(env, "an output that fits in memory", "input", x.holder);
  const bool has_extra = !(info[10].IsNull() || info[10].IsUndefined());
  View extra;
  if (has_extra) {
    extra = ArgInput(info, 10, napi_uint8_array, "extra", &op);
    if (extra.length != y_count) ThrowRange(env, "Uint8Array with the output's element count", "extra", extra.holder);
    if (g.transposed) ThrowRange(env, "a non-transposed convolution", "extra", extra.holder);
    ArgScale(info, 11, "extra scale");  // validates; the op reads the double
    params.add = true;
    params.extra_scale = ArgNumber(info, 11, "extra scale");
    params.extra_zero_point = ArgZeroPointU8(info, 12, "extra zero point");
  }
  std::shared_ptr<const ConvOp> prepared;
  const Status status =
      RunGuarded([&] { return ConvOp::Prepare(weights, add_gemms.get(), params, &prepared, stages.get()); });
  if (!status.ok()) throw ErrorFromStatus(env, status);
  Output out = NewUninitializedOutput(env, napi_uint8_array, prepared->output_bytes());
  // The op holds the weights and the ConvAdd GEMMs it needs; the step holds the op.
  std::vector<View> inputs{x};
  if (has_extra) inputs.push_back(extra);
  SetStep(&op, std::make_shared<OpStep>(prepared), inputs, out);
  return op;
}

napi_value ConvSyncGeneral(napi_env env, napi_callback_info cbinfo) { return SyncGeneral<PrepareConv>(env, cbinfo); }

// Outputs the conv fast path makes itself: up to NewUninitializedOutput's threshold, below
// which the zero fill costs less than a Buffer; larger outputs take the general path.
constexpr size_t kFastConvOutputBytes = size_t{4} << 10;

// conv(...) sync, the per-call fast path, as linear's (LinearSync): reads the 13 arguments with
// raw N-API into stack storage and runs the conv in place with the handle's cached output stage
// and prepared run (ConvStageCache::Conv), with no PreparedOp, ConvOp, step or argument vector.
// It takes only calls every check of PrepareConv passes, without `extra` (ConvAdd) and with a
// small output; anything else goes to ConvSyncGeneral, which makes the same checks and throws
// the same errors. The cache's Conv
// gives ConvU8's bytes for these arguments, as ConvOp::Run does, so the fast path, convAsync
// and a traced conv step give the same bits. The handle argument keeps the weights alive for
// the duration of this call.
napi_value ConvSync(napi_env env, napi_callback_info cbinfo) {
  napi_value argv[13];
  const ConvHandle* handle = FastHandle<ConvHandle>(env, cbinfo, argv);
  if (handle == nullptr) return ConvSyncGeneral(env, cbinfo);
  const ConvWeights& weights = *handle->weights;
  const ConvGeometry& g = weights.geometry;
  const uint8_t* x = nullptr;
  size_t x_length = 0;
  if (!FastUint8Input(env, argv[1], &x, &x_length)) return ConvSyncGeneral(env, cbinfo);
  double batch = 0, layout = 0, x_zero_point = 0, y_zero_point = 0, x_scale = 0, y_scale = 0;
  bool relu = false;
  napi_valuetype extra_type = napi_object;
  if (!FastInteger(env, argv[2], 9007199254740991.0, &batch) || !FastInteger(env, argv[4], 2, &layout) ||
      !FastScale(env, argv[5], &x_scale) || !FastInteger(env, argv[6], 255, &x_zero_point) ||
      !FastScale(env, argv[7], &y_scale) || !FastInteger(env, argv[8], 255, &y_zero_point) ||
      napi_get_value_bool(env, argv[9], &relu) != napi_ok || napi_typeof(env, argv[10], &extra_type) != napi_ok ||
      (extra_type != napi_null && extra_type != napi_undefined)) {
    return ConvSyncGeneral(env, cbinfo);
  }
  // inSpatial: each size read once (a shared buffer's may change under us), with PrepareConv's rule.
  bool is_typed_array = false;
  napi_typedarray_type spatial_type = napi_int8_array;
  size_t spatial_length = 0;
  void* spatial_data = nullptr;
  if (napi_is_typedarray(env, argv[3], &is_typed_array) != napi_ok || !is_typed_array ||
      napi_get_typedarray_info(env, argv[3], &spatial_type, &spatial_length, &spatial_data, nullptr, nullptr) != napi_ok ||
      spatial_type != napi_float64_array || spatial_length != 3 || spatial_data == nullptr) {
    return ConvSyncGeneral(env, cbinfo);
  }
  size_t in_spatial[3] = {1, 1, 1};
  for (int d = 0; d < 3; ++d) {
    const double v = static_cast<const double*>(spatial_data)[d];
    if (!(v >= 0 && v <= 9007199254740991.0) || std::floor(v) != v || (d >= g.dims && v != 1)) {
      return ConvSyncGeneral(env, cbinfo);
    }
    in_spatial[d] = static_cast<size_t>(v);
  }
  size_t out_spatial[3] = {1, 1, 1};
  size_t x_count = 0, y_count = 0;
  if (!ConvOutputSize(g, in_spatial, out_spatial).ok() ||
      !ConvTensorCount(static_cast<size_t>(batch), g.in_channels, in_spatial, &x_count) || x_count != x_length ||
      !ConvTensorCount(static_cast<size_t>(batch), g.out_channels, out_spatial, &y_count) || y_count == 0 ||
      y_count > kFastConvOutputBytes) {
    return ConvSyncGeneral(env, cbinfo);
  }
  uint8_t* y = nullptr;
  const napi_value y_array = FastUint8Output(env, y_count, &y);
  if (y_array == nullptr) return ExceptionPending(env) ? nullptr : ConvSyncGeneral(env, cbinfo);
  const QEngine engine = ActiveQEngine();  // read at the call, as PrepareConv does
  const ConvLayout x_layout = layout == 1 ? ConvLayout::kChannelsLast : ConvLayout::kContiguous;
  const bool out_channels_last = layout != 0;
  const Status status = RunGuarded([&] {
    return handle->stages->Conv(weights, x, static_cast<size_t>(batch), in_spatial, x_layout, x_scale,
                                static_cast<int32_t>(x_zero_point), y_scale, static_cast<int32_t>(y_zero_point), relu, y,
                                engine, out_channels_last);
  });
  return FastResult(env, status, y_array);
}

}  // namespace

void RegisterLinearConvOps(Napi::Env env, Napi::Object exports) {
  exports.Set("linearPrepack", Napi::Function::New(env, LinearPrepack, "linearPrepack"));
  exports.Set("linearUnpack", Napi::Function::New(env, LinearUnpack, "linearUnpack"));
  // linear's sync entry is the fast path above (raw N-API); linearAsync and linearTrace are DefineOp's forms.
  napi_value linear_sync = nullptr;
  NAPI_THROW_IF_FAILED_VOID(env, napi_create_function(env, "linear", NAPI_AUTO_LENGTH, LinearSync, nullptr, &linear_sync));
  exports.Set("linear", Napi::Value(env, linear_sync));
  exports.Set("linearAsync", Napi::Function::New(env, RunAsync<PrepareLinear>, "linearAsync"));
  exports.Set("linearTrace", Napi::Function::New(env, RunTrace<PrepareLinear>, "linearTrace", const_cast<char*>("linear")));
  DefineOp<PrepareLinearDynamic>(env, exports, "linearDynamic");
  exports.Set("convPrepack", Napi::Function::New(env, ConvPrepack, "convPrepack"));
  exports.Set("convUnpack", Napi::Function::New(env, ConvUnpack, "convUnpack"));
  // conv's sync entry is the fast path above (raw N-API); convAsync and convTrace are DefineOp's forms.
  napi_value conv_sync = nullptr;
  NAPI_THROW_IF_FAILED_VOID(env, napi_create_function(env, "conv", NAPI_AUTO_LENGTH, ConvSync, nullptr, &conv_sync));
  exports.Set("conv", Napi::Value(env, conv_sync));
  exports.Set("convAsync", Napi::Function::New(env, RunAsync<PrepareConv>, "convAsync"));
  exports.Set("convTrace", Napi::Function::New(env, RunTrace<PrepareConv>, "convTrace", const_cast<char*>("conv")));
}

}  // namespace addon
}  // namespace qk
