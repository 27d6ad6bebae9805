// The binding of pooling, normalization and resampling: reads and re-checks arguments, sizes the output, calls the ops.
//
// Geometry arrives as one Float64Array of whole numbers (lib/pool-norm/native.ts builds it):
//   pooling:    [batch, channels, in D H W, out D H W, kernel D H W, stride D H W, padding D H W, dilation D H W]
//   resampling: [batch, channels, in D H W, out D H W, scaleFactor D H W (0: none)]
// Every count is checked here again (integer, in range); the ops check the rest.
//
// Each op is a plan step (SetStep) reading its one graph input, x, through the step's inputs:
// the same step runs the sync call, the async call and a traced plan. Every op here is a
// prepared op (ops/op.h: PoolOp, BatchNormOp, NormalizeOp, ResampleOp), which checks its
// arguments and computes or copies what it reads beside x (index tables, batch norm's fused
// parameters, the norms' affine arrays) once.
#include <cmath>
#include <memory>
#include <string>
#include <utility>

#include "addon/common.h"
#include "base/checked.h"
#include "base/qengine.h"
#include "ops/norm.h"
#include "ops/pool.h"
#include "ops/resample.h"
#include "plan/op-step.h"

namespace qk {
namespace addon {
namespace {

constexpr size_t kPoolGeometryLength = 20;
constexpr size_t kResampleGeometryLength = 11;

// A whole number in [0, 2^53) from a geometry array.
size_t GeometryCount(const Napi::CallbackInfo& info, const View& view, size_t i) {
  const double v = static_cast<const double*>(view.data)[i];
  if (!(v >= 0 && v < 9007199254740992.0) || v != std::floor(v)) {
    ThrowRange(info.Env(), "whole numbers (sizes) in geometry[" + std::to_string(i) + "]", "geometry", view.holder);
  }
  return static_cast<size_t>(v);
}

View ArgGeometry(const Napi::CallbackInfo& info, size_t index, size_t length) {
  View view = ArgTypedArray(info, index, napi_float64_array, "geometry");
  if (view.length != length) ThrowRange(info.Env(), "Float64Array of " + std::to_string(length) + " numbers", "geometry", view.holder);
  return view;
}

PoolGeometry ArgPoolGeometry(const Napi::CallbackInfo& info, size_t index) {
  const View view = ArgGeometry(info, index, kPoolGeometryLength);
  PoolGeometry g;
  g.batch = GeometryCount(info, view, 0);
  g.channels = GeometryCount(info, view, 1);
  size_t* fields[6] = {g.input, g.output, g.kernel, g.stride, g.padding, g.dilation};
  for (size_t f = 0; f < 6; ++f) {
    for (size_t d = 0; d < 3; ++d) fields[f][d] = GeometryCount(info, view, 2 + f * 3 + d);
  }
  return g;
}

ResampleGeometry ArgResampleGeometry(const Napi::CallbackInfo& info, size_t index) {
  const View view = ArgGeometry(info, index, kResampleGeometryLength);
  ResampleGeometry g;
  g.batch = GeometryCount(info, view, 0);
  g.channels = GeometryCount(info, view, 1);
  for (size_t d = 0; d < 3; ++d) {
    g.input[d] = GeometryCount(info, view, 2 + d);
    g.output[d] = GeometryCount(info, view, 5 + d);
    g.scale_factor[d] = static_cast<const double*>(view.data)[8 + d];
  }
  return g;
}

PoolLayout ArgLayout01(const Napi::CallbackInfo& info, size_t index) {
  const int64_t v = ArgInt64(info, index, "layout");
  if (v != 0 && v != 1) ThrowRange(info.Env(), "0 (channels first) or 1 (channels last)", "layout", info[index]);
  return static_cast<PoolLayout>(v);
}

// The output element count of a geometry: batch * channels * output D H W, checked.
size_t OutputNumel(const Napi::CallbackInfo& info, size_t batch, size_t channels, const size_t output[3]) {
  const int64_t dims[5] = {static_cast<int64_t>(batch), static_cast<int64_t>(channels), static_cast<int64_t>(output[0]),
                           static_cast<int64_t>(output[1]), static_cast<int64_t>(output[2])};
  size_t numel = 0;
  if (!CheckedShapeProduct(dims, 5, &numel)) {
    ThrowRange(info.Env(), "an output that fits in memory", "geometry", info[3]);
  }
  return numel;
}

// Checks, before any output is allocated, that the input holds exactly the elements its
// described shape has: a caller whose shape lies about its storage gets a RangeError, not
// an allocation sized by the lie.
void CheckInputNumel(const Napi::CallbackInfo& info, QDType dtype, const View& x, size_t outer, size_t channels,
                     const size_t spatial[3]) {
  const size_t numel = OutputNumel(info, outer, channels, spatial);
  size_t bytes = 0;
  if (!QDTypeStorageBytes(dtype, numel, &bytes) || bytes != x.bytes) {
    ThrowRange(info.Env(), "typed array of " + std::to_string(numel) + " elements (the product of the input shape)", "input",
               x.holder);
  }
}

// The int32 zero point of an 8-bit input.
int32_t ArgZeroPoint(const Napi::CallbackInfo& info, size_t index, const char* parameter) {
  const int64_t v = ArgInt64(info, index, parameter);
  if (v < -128 || v > 255) ThrowRange(info.Env(), "integer in [-128, 255]", parameter, info[index]);
  return static_cast<int32_t>(v);
}

// A Float32Array argument that may be null (then nullptr, length 0).
View ArgOptionalFloats(const Napi::CallbackInfo& info, size_t index, const char* parameter, PreparedOp* op) {
  if (info.Length() > index && info[index].IsNull()) return View{};
  return ArgInput(info, index, napi_float32_array, parameter, op);
}

// Makes `step` the step of `op` on its one graph input x, with a fresh output of `numel`
// elements of `dtype`. The ops refuse dtypes other than quint8 / qint8 and write every byte, so
// the output is left uninitialized.
void SetOpStep(const Napi::CallbackInfo& info, PreparedOp* op, std::shared_ptr<const PlanStep> step, const View& x,
               QDType dtype, size_t numel) {
  Output out = NewQuantizedOutput(info.Env(), dtype, numel, kWholeOutput);
  SetStep(op, std::move(step), {x}, out);
}

// Makes `prepared` (made by a Prepare that returned `status`) the step of `op`, as SetOpStep.
template <typename PreparedT>
void SetPreparedStep(const Napi::CallbackInfo& info, PreparedOp* op, const Status& status,
                     std::shared_ptr<const PreparedT> prepared, const View& x, QDType dtype, size_t numel) {
  if (!status.ok()) throw ErrorFromStatus(info.Env(), status);
  SetOpStep(info, op, std::make_shared<OpStep>(std::move(prepared)), x, dtype, numel);
}

// The arguments the pooling and resampling entry points share: x, dtype, layout, geometry (the
// op-specific ones follow); `read` reads the geometry. The input's element count is checked
// against the geometry before anything is allocated.
template <typename Geometry>
struct SpatialArgs {
  QDType dtype;
  View x;
  PoolLayout layout;
  Geometry g;
  size_t numel;  // the output's elements
};

template <typename Geometry, Geometry (*read)(const Napi::CallbackInfo&, size_t)>
SpatialArgs<Geometry> ReadSpatialArgs(const Napi::CallbackInfo& info, PreparedOp* op) {
  const QDType dtype = ArgDType(info, 1);
  View x = ArgInput(info, 0, StorageArrayType(dtype), "input", op);
  const PoolLayout layout = ArgLayout01(info, 2);
  const Geometry g = read(info, 3);
  CheckInputNumel(info, dtype, x, g.batch, g.channels, g.input);
  const size_t numel = OutputNumel(info, g.batch, g.channels, g.output);
  return SpatialArgs<Geometry>{dtype, x, layout, g, numel};
}

// The resampling entry points: the step is the prepared ResampleOp (ops/resample.h), its index
// tables built once. align_corners and zero_point are read by bilinear only.
PreparedOp PrepareResample(const Napi::CallbackInfo& info, bool snapshot, ResampleMode mode, bool align_corners,
                           int32_t zero_point) {
  PreparedOp op;
  op.snapshot_inputs = snapshot;
  const SpatialArgs<ResampleGeometry> a = ReadSpatialArgs<ResampleGeometry, ArgResampleGeometry>(info, &op);
  std::shared_ptr<const ResampleOp> prepared;
  const Status status =
      RunGuarded([&] { return ResampleOp::Prepare(mode, a.g, a.dtype, a.layout, align_corners, zero_point, &prepared); });
  SetPreparedStep(info, &op, status, std::move(prepared), a.x, a.dtype, a.numel);
  return op;
}

// Everything PoolOp::Prepare reads: equal keys prepare equal ops.
struct PoolKey {
  PoolKind kind;
  QDType dtype;
  PoolLayout layout;
  PoolGeometry g;
  AvgPoolOptions options;

  // Field by field (a byte compare would read the structs' padding).
  bool operator==(const PoolKey& o) const {
    const PoolGeometry& h = o.g;
    bool same = kind == o.kind && dtype == o.dtype && layout == o.layout && g.batch == h.batch && g.channels == h.channels &&
                options.count_include_pad == o.options.count_include_pad &&
                options.divisor_override == o.options.divisor_override && options.zero_point == o.options.zero_point &&
                options.qnnpack == o.options.qnnpack && options.scale == o.options.scale;
    for (size_t d = 0; d < 3 && same; ++d) {
      same = g.input[d] == h.input[d] && g.output[d] == h.output[d] && g.kernel[d] == h.kernel[d] &&
             g.stride[d] == h.stride[d] && g.padding[d] == h.padding[d] && g.dilation[d] == h.dilation[d];
    }
    return same;
  }

  size_t Hash() const {
    size_t h = static_cast<size_t>(kind) * 31 + static_cast<size_t>(dtype) * 7 + static_cast<size_t>(layout);
    const size_t* fields[6] = {g.input, g.output, g.kernel, g.stride, g.padding, g.dilation};
    h = h * 1000003 ^ g.batch;
    h = h * 1000003 ^ g.channels;
    for (size_t f = 0; f < 6; ++f) h = (h * 1000003 ^ fields[f][0]) * 1000003 ^ (fields[f][1] * 31 + fields[f][2]);
    h = h * 1000003 ^ static_cast<size_t>(options.zero_point + 128);
    return h ^ (h >> 29) ^ (h >> 47);  // the slot is the low bits: fold the high ones in
  }
};

// The pool steps a thread prepared last, by key: a model calls the same few pools every
// forward, and PoolOp::Prepare (its checks, its column table, three allocations) and the
// step's allocation were a sixth of a tiny pool call. A prepared op and its OpStep are
// immutable (Run is const, and a plan or an async call runs them concurrently already), so a
// step is shared by the calls and traced plans that prepare the same key; only a key that
// passed Prepare's checks is kept, so a kept one needs none. Per thread (each worker thread
// runs its own calls), direct-mapped: a slot holds the last key that hashed to it.
struct PoolSlot {
  PoolKey key;
  std::shared_ptr<const PlanStep> step;
};
constexpr size_t kPoolSlots = 16;
thread_local PoolSlot pool_slots[kPoolSlots];

// The pooling entry points: the op's own arguments are read into `options` by the caller. The
// step is the prepared PoolOp (ops/pool.h), so a call or a traced step re-checks nothing and
// allocates nothing but its output.
PreparedOp PreparePool(const Napi::CallbackInfo& info, bool snapshot, PoolKind kind, const AvgPoolOptions& options) {
  PreparedOp op;
  op.snapshot_inputs = snapshot;
  const SpatialArgs<PoolGeometry> a = ReadSpatialArgs<PoolGeometry, ArgPoolGeometry>(info, &op);
  const PoolKey key{kind, a.dtype, a.layout, a.g, options};
  PoolSlot& slot = pool_slots[key.Hash() % kPoolSlots];
  if (!slot.step || !(slot.key == key)) {
    std::shared_ptr<const PoolOp> prepared;
    const Status status = RunGuarded([&] { return PoolOp::Prepare(kind, a.g, a.dtype, a.layout, options, &prepared); });
    if (!status.ok()) throw ErrorFromStatus(info.Env(), status);
    slot.step = std::make_shared<OpStep>(std::move(prepared));
    slot.key = key;
  }
  SetOpStep(info, &op, slot.step, a.x, a.dtype, a.numel);
  return op;
}

// maxPool(x, dtype, layout, geometry)
PreparedOp PrepareMaxPool(const Napi::CallbackInfo& info, bool snapshot) {
  return PreparePool(info, snapshot, PoolKind::kMax, AvgPoolOptions{});
}

// adaptiveMaxPool(x, dtype, layout, geometry)
PreparedOp PrepareAdaptiveMaxPool(const Napi::CallbackInfo& info, bool snapshot) {
  return PreparePool(info, snapshot, PoolKind::kAdaptiveMax, AvgPoolOptions{});
}

// avgPool(x, dtype, layout, geometry, countIncludePad, divisorOverride (0: none), zeroPoint,
//         qnnpackScale (0: PyTorch's own kernel; > 0: the input scale of a call torch gives to
//         QNNPACK under the qnnpack engine: QNNPACK's formula when that engine is in force))
// The engine is read here, when the call is prepared (an atomic load; an async call or a traced
// step keeps what it read), not by the caller through an N-API call per op call.
PreparedOp PrepareAvgPool(const Napi::CallbackInfo& info, bool snapshot) {
  AvgPoolOptions options;
  options.count_include_pad = ArgBool(info, 4, "countIncludePad");
  options.divisor_override = ArgInt64(info, 5, "divisorOverride");
  options.zero_point = ArgZeroPoint(info, 6, "zeroPoint");
  const double qnnpack_scale = ArgNumber(info, 7, "qnnpackScale");
  if (!(qnnpack_scale >= 0 && std::isfinite(qnnpack_scale))) ThrowRange(info.Env(), "0 or a positive scale", "qnnpackScale", info[7]);
  options.qnnpack = qnnpack_scale > 0 && ActiveQEngine() == QEngine::kQnnpack;
  options.scale = qnnpack_scale;
  return PreparePool(info, snapshot, PoolKind::kAvg, options);
}

// adaptiveAvgPool(x, dtype, layout, geometry, zeroPoint)
PreparedOp PrepareAdaptiveAvgPool(const Napi::CallbackInfo& info, bool snapshot) {
  AvgPoolOptions options;
  options.zero_point = ArgZeroPoint(info, 4, "zeroPoint");
  return PreparePool(info, snapshot, PoolKind::kAdaptiveAvg, options);
}

// batchNorm(x, dtype, channelsLastInput, batch, channels, spatial, weight|null, bias|null, mean, var,
//           eps, xScale, xZeroPoint, yScale, yZeroPoint, relu) -> channels-last output
PreparedOp PrepareBatchNorm(const Napi::CallbackInfo& info, bool snapshot) {
  PreparedOp op;
  op.snapshot_inputs = snapshot;
  const QDType dtype = ArgDType(info, 1);
  View x = ArgInput(info, 0, StorageArrayType(dtype), "input", &op);
  BatchNormArgs args;
  args.channels_last_input = ArgBool(info, 2, "channelsLast");
  args.batch = ArgSize(info, 3, "batch");
  args.channels = ArgSize(info, 4, "channels");
  args.spatial = ArgSize(info, 5, "spatial");
  const View weight = ArgOptionalFloats(info, 6, "weight", &op);
  const View bias = ArgOptionalFloats(info, 7, "bias", &op);
  const View mean = ArgInput(info, 8, napi_float32_array, "runningMean", &op);
  const View var = ArgInput(info, 9, napi_float32_array, "runningVar", &op);
  for (const View* v : {&weight, &bias, &var}) {
    if (v->data != nullptr && v->length != mean.length) {
      ThrowRange(info.Env(), "as many values as runningMean", "weight, bias and runningVar", v->holder);
    }
  }
  args.weight = static_cast<const float*>(weight.data);
  args.bias = static_cast<const float*>(bias.data);
  args.mean = static_cast<const float*>(mean.data);
  args.var = static_cast<const float*>(var.data);
  args.params_len = mean.length;
  args.eps = ArgNumber(info, 10, "eps");
  args.x_scale = ArgNumber(info, 11, "input scale");
  args.x_zero_point = ArgZeroPoint(info, 12, "input zeroPoint");
  args.y_scale = ArgNumber(info, 13, "scale");
  args.y_zero_point = ArgZeroPoint(info, 14, "zeroPoint");
  args.relu = ArgBool(info, 15, "relu");
  const size_t dims[3] = {args.spatial, 1, 1};
  CheckInputNumel(info, dtype, x, args.batch, args.channels, dims);
  const size_t numel = OutputNumel(info, args.batch, args.channels, dims);
  std::shared_ptr<const BatchNormOp> prepared;
  const Status status = RunGuarded([&] { return BatchNormOp::Prepare(args, dtype, &prepared); });
  SetPreparedStep(info, &op, status, std::move(prepared), x, dtype, numel);
  return op;
}

// normalize(x, dtype, groups, groupSize, perChannel, numChannels, channelsPerGroup, gamma|null, beta|null,
//           eps, xScale, xZeroPoint, yScale, yZeroPoint)
PreparedOp PrepareNormalize(const Napi::CallbackInfo& info, bool snapshot) {
  PreparedOp op;
  op.snapshot_inputs = snapshot;
  const QDType dtype = ArgDType(info, 1);
  View x = ArgInput(info, 0, StorageArrayType(dtype), "input", &op);
  NormalizeArgs args;
  args.groups = ArgSize(info, 2, "groups");
  args.group_size = ArgSize(info, 3, "groupSize");
  args.per_channel = ArgBool(info, 4, "perChannel");
  args.num_channels = ArgSize(info, 5, "numChannels");
  args.channels_per_group = ArgSize(info, 6, "channelsPerGroup");
  const View gamma = ArgOptionalFloats(info, 7, "weight", &op);
  const View beta = ArgOptionalFloats(info, 8, "bias", &op);
  if ((gamma.data == nullptr) != (beta.data == nullptr) || (gamma.data && gamma.length != beta.length)) {
    ThrowRange(info.Env(), "weight and bias of one length (or both null)", "bias", info[8]);
  }
  args.gamma = static_cast<const float*>(gamma.data);
  args.beta = static_cast<const float*>(beta.data);
  args.affine_len = gamma.length;
  args.eps = ArgNumber(info, 9, "eps");
  args.x_scale = static_cast<float>(ArgNumber(info, 10, "input scale"));
  args.x_zero_point = ArgZeroPoint(info, 11, "input zeroPoint");
  args.y_scale = static_cast<float>(ArgNumber(info, 12, "scale"));
  args.y_zero_point = ArgZeroPoint(info, 13, "zeroPoint");
  const size_t dims[3] = {1, 1, 1};
  CheckInputNumel(info, dtype, x, args.groups, args.group_size, dims);
  const size_t numel = OutputNumel(info, args.groups, args.group_size, dims);
  std::shared_ptr<const NormalizeOp> prepared;
  const Status status = RunGuarded([&] { return NormalizeOp::Prepare(args, dtype, &prepared); });
  SetPreparedStep(info, &op, status, std::move(prepared), x, dtype, numel);
  return op;
}

// upsampleNearest(x, dtype, layout, geometry)
PreparedOp PrepareUpsampleNearest(const Napi::CallbackInfo& info, bool snapshot) {
  return PrepareResample(info, snapshot, ResampleMode::kNearest, false, 0);
}

// upsampleBilinear(x, dtype, layout, geometry, alignCorners, zeroPoint)
PreparedOp PrepareUpsampleBilinear(const Napi::CallbackInfo& info, bool snapshot) {
  const bool align_corners = ArgBool(info, 4, "alignCorners");
  const int32_t zero_point = ArgZeroPoint(info, 5, "zeroPoint");
  return PrepareResample(info, snapshot, ResampleMode::kBilinear, align_corners, zero_point);
}

}  // namespace

void RegisterPoolNormOps(Napi::Env env, Napi::Object exports) {
  DefineOp<PrepareMaxPool>(env, exports, "maxPool");
  DefineOp<PrepareAvgPool>(env, exports, "avgPool");
  DefineOp<PrepareAdaptiveAvgPool>(env, exports, "adaptiveAvgPool");
  DefineOp<PrepareAdaptiveMaxPool>(env, exports, "adaptiveMaxPool");
  DefineOp<PrepareBatchNorm>(env, exports, "batchNorm");
  DefineOp<PrepareNormalize>(env, exports, "normalize");
  DefineOp<PrepareUpsampleNearest>(env, exports, "upsampleNearest");
  DefineOp<PrepareUpsampleBilinear>(env, exports, "upsampleBilinear");
}

}  // namespace addon
}  // namespace qk
