// The binding of quantize/dequantize: per-tensor and per-channel, both qparams kinds, sync and async.
#include <memory>
#include <vector>

#include "addon/common.h"
#include "ops/quantize.h"
#include "plan/function-step.h"

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
  // Every element written; quint4x2's packed storage keeps the zero fill (its last nibble).
  Output out = dtype == QDType::kQUInt4x2 ? NewQuantizedOutput(info.Env(), dtype, x.length)
                                          : NewUninitializedOutput(info.Env(), StorageArrayType(dtype), x.length);
  const size_t n = x.length;
  const size_t out_bytes = out.bytes;
  SetStep(&op,
          std::make_shared<FunctionStep>("quantize_per_tensor",
                                         [=](const void* const* in, void* y, void*) {
                                           return QuantizePerTensor(static_cast<const float*>(in[0]), n, scale,
                                                                    zero_point, dtype, y, out_bytes);
                                         }),
          {x}, out);
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
  Output out = NewQuantizedOutput(info.Env(), dtype, x.length, kWholeOutput);
  const size_t x_len = x.length;
  const size_t out_bytes = out.bytes;
  // `params` holds the per-channel arrays (snapshots kept by the traced step, or the widened
  // zero points it owns), so the step captures it whole.
  SetStep(&op,
          std::make_shared<FunctionStep>("quantize_per_channel",
                                         [=](const void* const* in, void* y, void*) {
                                           return kQuantize(static_cast<const float*>(in[0]), x_len, layout,
                                                            params.scales, params.zero_points, params.length, dtype, y,
                                                            out_bytes);
                                         }),
          {x}, out);
  return op;
}

// scaleShiftChannels(x: Float32Array, outer, channels, inner, multipliers: Float32Array, offsets: Float32Array)
// -> Float32Array: x * multipliers[c] + offsets[c] in fp32 (ops/quantize.h).
PreparedOp PrepareScaleShiftChannels(const Napi::CallbackInfo& info, bool snapshot) {
  PreparedOp op;
  op.snapshot_inputs = snapshot;
  View x = ArgInput(info, 0, napi_float32_array, "input", &op);
  const ChannelLayout layout = ArgLayout(info, 1);
  if (LayoutNumel(layout) != x.length) ThrowRange(info.Env(), "outer * channels * inner equal to input.length", "input", x.holder);
  // The per-channel constants are copied now: the step keeps them (a traced plan outlives the call).
  View a = ArgTypedArray(info, 4, napi_float32_array, "multipliers");
  View b = ArgTypedArray(info, 5, napi_float32_array, "offsets");
  if (a.length != layout.channels) ThrowRange(info.Env(), "one value per channel", "multipliers", a.holder);
  if (b.length != layout.channels) ThrowRange(info.Env(), "one value per channel", "offsets", b.holder);
  auto multipliers = std::make_shared<std::vector<float>>(static_cast<const float*>(a.data), static_cast<const float*>(a.data) + a.length);
  auto offsets = std::make_shared<std::vector<float>>(static_cast<const float*>(b.data), static_cast<const float*>(b.data) + b.length);
  Output out = NewUninitializedOutput(info.Env(), napi_float32_array, x.length);
  const size_t n = x.length;
  SetStep(&op,
          std::make_shared<FunctionStep>("scale_shift_channels",
                                         [=](const void* const* in, void* y, void*) {
                                           return ScaleShiftChannels(static_cast<const float*>(in[0]), n, layout,
                                                                     multipliers->data(), offsets->data(),
                                                                     multipliers->size(), static_cast<float*>(y), n);
                                         }),
          {x}, out);
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
  Output out = NewUninitializedOutput(info.Env(), napi_float32_array, numel);  // all numel values written
  const size_t q_bytes = q.bytes;
  SetStep(&op,
          std::make_shared<FunctionStep>("dequantize_per_tensor",
                                         [=](const void* const* in, void* y, void*) {
                                           return DequantizePerTensor(in[0], q_bytes, dtype, numel, scale, zero_point,
                                                                      static_cast<float*>(y), numel);
                                         }),
          {q}, out);
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
  Output out = NewUninitializedOutput(info.Env(), napi_float32_array, numel);
  const size_t q_bytes = q.bytes;
  SetStep(&op,
          std::make_shared<FunctionStep>("dequantize_per_channel",
                                         [=](const void* const* in, void* y, void*) {
                                           return kDequantize(in[0], q_bytes, dtype, layout, params.scales,
                                                              params.zero_points, params.length,
                                                              static_cast<float*>(y), numel);
                                         }),
          {q}, out);
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
  DefineOp<PrepareScaleShiftChannels>(env, exports, "scaleShiftChannels");
  DefineOp<PrepareDequantizePerTensor>(env, exports, "dequantizePerTensor");
  DefineOp<kDequantizePerChannel>(env, exports, "dequantizePerChannel");
  DefineOp<kDequantizePerChannelFloatQParams>(env, exports, "dequantizePerChannelFloatQParams");
}

}  // namespace addon
}  // namespace qk
