// The binding of quantize/dequantize: per-tensor and per-channel, both qparams kinds, sync and async.
#include <memory>
#include <vector>

#include "addon/common.h"
#include "ops/quantize.h"

namespace qk {
namespace addon {
namespace {

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

}  // namespace

void RegisterQuantizeOps(Napi::Env env, Napi::Object exports) {
  DefineOp<PrepareQuantizePerTensor>(env, exports, "quantizePerTensor");
  DefineOp<kQuantizePerChannel>(env, exports, "quantizePerChannel");
  DefineOp<kQuantizePerChannelFloatQParams>(env, exports, "quantizePerChannelFloatQParams");
  DefineOp<PrepareDequantizePerTensor>(env, exports, "dequantizePerTensor");
  DefineOp<kDequantizePerChannel>(env, exports, "dequantizePerChannel");
  DefineOp<kDequantizePerChannelFloatQParams>(env, exports, "dequantizePerChannelFloatQParams");
}

}  // namespace addon
}  // namespace qk
