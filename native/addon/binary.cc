// The binding of the 1-bit layers: weight prepack (a handle), input quantization, bit packing, and the binary and multi-bit convolutions, sync and async.
//
// Each forward op is a plan step (SetStep, plan/function-step.h) that reads its one graph
// input, the activations, through the step's inputs and writes the step's output: the same
// step runs the sync call, the async call and a traced plan. The prepacked weights (a
// shared_ptr) and every size are captured when the op is prepared.
#include <cstring>
#include <memory>
#include <vector>

#include "addon/common.h"
#include "base/checked.h"
#include "ops/binary.h"
#include "ops/conv.h"
#include "plan/function-step.h"

namespace qk {
namespace addon {
namespace {

struct BinaryHandle final : NativeHandle {
  static constexpr const char* kKind = "binary conv weight handle";
  explicit BinaryHandle(std::shared_ptr<const BinaryConvWeights> w) : NativeHandle(kKind), weights(std::move(w)) {}
  void Drop() override { weights.reset(); }
  std::shared_ptr<const BinaryConvWeights> weights;
};

BinaryRule ArgRule(const Napi::CallbackInfo& info, size_t index, const char* parameter) {
  const int64_t rule = ArgInt64(info, index, parameter);
  if (rule != 0 && rule != 1) ThrowRange(info.Env(), "rule code 0 (sign) or 1 (heaviside)", parameter, info[index]);
  return static_cast<BinaryRule>(rule);
}

// batch * channels * positions, checked against overflow (`parameter` names the count's source).
size_t ArgCount(const Napi::CallbackInfo& info, size_t a, size_t b, size_t c, const char* parameter, size_t index) {
  size_t ab = 0, abc = 0;
  if (!CheckedMul(a, b, &ab) || !CheckedMul(ab, c, &abc)) ThrowRange(info.Env(), "a size that fits in memory", parameter, info[index]);
  return abc;
}

size_t ArgGroupsOf(const Napi::CallbackInfo& info, size_t index, size_t channels) {
  const size_t groups = ArgSize(info, index, "groups");
  if (groups == 0 || channels % groups != 0) ThrowRange(info.Env(), "a positive divisor of the channel count", "groups", info[index]);
  return groups;
}

// The spatial sizes array of a forward (info[index]), dims entries; returns the position count.
size_t ArgSpatial(const Napi::CallbackInfo& info, size_t index, int dims, size_t in_spatial[3]) {
  Napi::Env env = info.Env();
  if (!info[index].IsArray() || info[index].As<Napi::Array>().Length() != static_cast<uint32_t>(dims)) {
    ThrowType(env, "array of " + std::to_string(dims) + " spatial sizes", "inSpatial", info[index]);
  }
  size_t positions = 1;
  for (int d = 0; d < 3 && d < dims; ++d) {
    const Napi::Value v = info[index].As<Napi::Array>().Get(static_cast<uint32_t>(d));
    const double size = v.IsNumber() ? v.As<Napi::Number>().DoubleValue() : -1;
    if (!(size >= 1) || size > 1e12 || size != static_cast<double>(static_cast<size_t>(size))) {
      ThrowRange(env, "positive integer spatial sizes", "inSpatial", info[index]);
    }
    in_spatial[d] = static_cast<size_t>(size);
    if (!CheckedMul(positions, in_spatial[d], &positions)) ThrowRange(env, "a size that fits in memory", "inSpatial", info[index]);
  }
  return positions;
}

// An input quantization at info[index] (code: 0 sign, 1 heaviside, 2 inputdorefa) and info[index + 1]
// (inputdorefa's bits, at most max_bits).
void ArgInputQuantization(const Napi::CallbackInfo& info, size_t index, int64_t max_bits, LowBitInput* input, int* bits) {
  const int64_t code = ArgInt64(info, index, "inputQuantization");
  if (code < 0 || code > 2) {
    ThrowRange(info.Env(), "input quantization code 0 (sign), 1 (heaviside) or 2 (inputdorefa)", "inputQuantization", info[index]);
  }
  *input = static_cast<LowBitInput>(code);
  const int64_t k = ArgInt64(info, index + 1, "bits");
  const Status checked = CheckLowBitInput(*input, k, max_bits);
  if (!checked.ok()) throw ErrorFromStatus(info.Env(), checked);
  *bits = static_cast<int>(k);
}

// binaryQuantize(x: Float32Array, inputQuantization, bits) -> Float32Array: bitorch's forward of a
// 1-bit or inputdorefa (k <= 16) quantization (QActivation), as a plan step.
PreparedOp PrepareQuantize(const Napi::CallbackInfo& info, bool snapshot) {
  PreparedOp op;
  op.snapshot_inputs = snapshot;
  View x = ArgInput(info, 0, napi_float32_array, "input", &op);
  LowBitInput input = LowBitInput::kSign;
  int bits = 1;
  ArgInputQuantization(info, 1, 16, &input, &bits);
  Output out = NewUninitializedOutput(info.Env(), napi_float32_array, x.length);
  const size_t count = x.length;
  auto step = [=](const void* const* in, void* y, void*) {
    QuantizeActivations(static_cast<const float*>(in[0]), count, input, bits, static_cast<float*>(y));
    return Status::Ok();
  };
  SetStep(&op, std::make_shared<FunctionStep>("binary_quantize", step), {x}, out);
  return op;
}

// binaryConvPrepack(geometry: Float64Array, weight: Float32Array of +-1, padValue, bias: Float32Array | null) -> handle
Napi::Value BinaryConvPrepack(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const ConvGeometry g = ArgGeometry(info, 0);
  View w = ArgTypedArray(info, 1, napi_float32_array, "weight");
  const double pad_value = ArgNumber(info, 2, "padValue");
  const float* bias = nullptr;
  if (!info[3].IsNull() && !info[3].IsUndefined()) {
    View b = ArgTypedArray(info, 3, napi_float32_array, "bias");
    if (b.length != g.out_channels) ThrowRange(env, "Float32Array with one value per output channel", "bias", b.holder);
    bias = static_cast<const float*>(b.data);
  }
  std::shared_ptr<const BinaryConvWeights> weights;
  const Status status = RunGuarded([&] {
    return CreateBinaryConvWeights(g, static_cast<const float*>(w.data), w.length, static_cast<float>(pad_value), bias,
                                   &weights);
  });
  if (!status.ok()) throw ErrorFromStatus(env, status);
  return NewHandle(env, new BinaryHandle(weights), weights->packed.size() * sizeof(uint64_t) + weights->tap_sums.size() * 4);
}

// binaryPack(x: Float32Array, batch, channels, positions, groups, rule) -> BigUint64Array
PreparedOp PreparePack(const Napi::CallbackInfo& info, bool snapshot) {
  PreparedOp op;
  op.snapshot_inputs = snapshot;
  View x = ArgInput(info, 0, napi_float32_array, "input", &op);
  const size_t batch = ArgSize(info, 1, "batch"), channels = ArgSize(info, 2, "channels");
  const size_t positions = ArgSize(info, 3, "positions");
  const size_t groups = ArgGroupsOf(info, 4, channels);
  const BinaryRule rule = ArgRule(info, 5, "rule");
  if (ArgCount(info, batch, channels, positions, "input", 0) != x.length) {
    ThrowRange(info.Env(), "batch * channels * positions values", "input", x.holder);
  }
  const size_t words = ArgCount(info, batch, positions, groups * BinaryGroupWords(channels, groups), "input", 0);
  Output out = NewUninitializedOutput(info.Env(), napi_biguint64_array, words);
  auto step = [=](const void* const* in, void* bits, void*) {
    BinaryPackActivations(static_cast<const float*>(in[0]), batch, channels, positions, groups, rule,
                          static_cast<uint64_t*>(bits));
    return Status::Ok();
  };
  SetStep(&op, std::make_shared<FunctionStep>("binary_pack", step), {x}, out);
  return op;
}

// binaryUnpack(bits: BigUint64Array, batch, channels, positions, groups) -> Float32Array of +-1
PreparedOp PrepareUnpack(const Napi::CallbackInfo& info, bool snapshot) {
  PreparedOp op;
  op.snapshot_inputs = snapshot;
  View bits = ArgInput(info, 0, napi_biguint64_array, "bits", &op);
  const size_t batch = ArgSize(info, 1, "batch"), channels = ArgSize(info, 2, "channels");
  const size_t positions = ArgSize(info, 3, "positions");
  const size_t groups = ArgGroupsOf(info, 4, channels);
  if (ArgCount(info, batch, positions, groups * BinaryGroupWords(channels, groups), "bits", 0) != bits.length) {
    ThrowRange(info.Env(), "batch * positions * groups * ceil(channels / groups / 64) words", "bits", bits.holder);
  }
  const size_t numel = ArgCount(info, batch, channels, positions, "bits", 0);
  Output out = NewUninitializedOutput(info.Env(), napi_float32_array, numel);
  auto step = [=](const void* const* in, void* y, void*) {
    BinaryUnpackActivations(static_cast<const uint64_t*>(in[0]), batch, channels, positions, groups, static_cast<float*>(y));
    return Status::Ok();
  };
  SetStep(&op, std::make_shared<FunctionStep>("binary_unpack", step), {bits}, out);
  return op;
}

// binaryConvForward(handle, input: Float32Array | BigUint64Array, batch, inSpatial: number[], inputRule,
//                   outGroups: number | null (null: floats out), outRule) -> Float32Array | BigUint64Array
// A Float32Array input is binarized by inputRule and packed first; a BigUint64Array is already
// packed for the layer's groups. With outGroups the output is bits for a next layer of that many groups.
PreparedOp PrepareForward(const Napi::CallbackInfo& info, bool snapshot) {
  PreparedOp op;
  op.snapshot_inputs = snapshot;
  Napi::Env env = info.Env();
  std::shared_ptr<const BinaryConvWeights> weights = ArgHandle<BinaryHandle>(info, 0)->weights;
  const ConvGeometry& g = weights->geometry;
  const bool packed_input = info[1].IsTypedArray() &&
                            info[1].As<Napi::TypedArray>().TypedArrayType() == napi_biguint64_array;
  View x = ArgInput(info, 1, packed_input ? napi_biguint64_array : napi_float32_array, "input", &op);
  const size_t batch = ArgSize(info, 2, "batch");
  size_t in_spatial[3] = {1, 1, 1};
  const size_t positions = ArgSpatial(info, 3, g.dims, in_spatial);
  const BinaryRule in_rule = ArgRule(info, 4, "inputRule");
  const bool bits_out = !info[5].IsNull() && !info[5].IsUndefined();
  const size_t out_groups = bits_out ? ArgGroupsOf(info, 5, g.out_channels) : 1;
  const BinaryRule out_rule = ArgRule(info, 6, "outRule");
  const size_t row_words = g.groups * weights->group_words;
  if (packed_input) {
    if (ArgCount(info, batch, positions, row_words, "input", 1) != x.length) {
      ThrowRange(env, "batch * positions * groups * ceil(inChannels / groups / 64) words (bits packed for this layer)",
                 "input", x.holder);
    }
  } else if (ArgCount(info, batch, g.in_channels, positions, "input", 1) != x.length) {
    ThrowRange(env, "batch * inChannels * prod(inSpatial) values", "input", x.holder);
  }
  size_t out_spatial[3];
  const Status shape = ConvOutputSize(g, in_spatial, out_spatial);
  if (!shape.ok()) throw ErrorFromStatus(env, shape);
  const size_t out_positions = out_spatial[0] * out_spatial[1] * out_spatial[2];
  const size_t out_len = bits_out
      ? ArgCount(info, batch, out_positions, out_groups * BinaryGroupWords(g.out_channels, out_groups), "batch", 2)
      : ArgCount(info, batch, g.out_channels, out_positions, "batch", 2);
  Output out = NewUninitializedOutput(env, bits_out ? napi_biguint64_array : napi_float32_array, out_len);
  // A float input is packed into the step's scratch first (a plan's arena, not a vector per run).
  size_t scratch_bytes = 0;
  if (!packed_input && !CheckedMul(ArgCount(info, batch, positions, row_words, "input", 1), sizeof(uint64_t), &scratch_bytes)) {
    ThrowRange(env, "a size that fits in memory", "input", x.holder);
  }
  auto step = [=](const void* const* in, void* y, void* scratch) {
    BinaryConvOutput target;
    if (bits_out) {
      target.bits = static_cast<uint64_t*>(y);
      target.groups = out_groups;
      target.rule = out_rule;
    } else {
      target.floats = static_cast<float*>(y);
    }
    if (packed_input) return BinaryConv(*weights, static_cast<const uint64_t*>(in[0]), batch, in_spatial, target);
    uint64_t* bits = static_cast<uint64_t*>(scratch);
    BinaryPackActivations(static_cast<const float*>(in[0]), batch, g.in_channels, positions, g.groups, in_rule, bits);
    return BinaryConv(*weights, bits, batch, in_spatial, target);
  };
  SetStep(&op, std::make_shared<FunctionStep>("binary_conv", step, scratch_bytes), {x}, out);
  return op;
}

struct LowBitHandle final : NativeHandle {
  static constexpr const char* kKind = "low-bit conv weight handle";
  explicit LowBitHandle(std::shared_ptr<const LowBitConvWeights> w) : NativeHandle(kKind), weights(std::move(w)) {}
  void Drop() override { weights.reset(); }
  std::shared_ptr<const LowBitConvWeights> weights;
};

// lowBitConvPrepack(geometry, weight: Int8Array levels, wScale, aScale, aZeroPoint, padLevel, bias | null) -> handle
Napi::Value LowBitConvPrepack(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const ConvGeometry g = ArgGeometry(info, 0);
  View w = ArgTypedArray(info, 1, napi_int8_array, "weight");
  const double w_scale = ArgNumber(info, 2, "wScale"), a_scale = ArgNumber(info, 3, "aScale");
  const int64_t a_zero_point = ArgInt64(info, 4, "aZeroPoint");
  const int64_t pad_level = ArgInt64(info, 5, "padLevel");
  if (pad_level < 0 || pad_level > 255) ThrowRange(env, "an integer in [0, 255]", "padLevel", info[5]);
  const float* bias = nullptr;
  if (!info[6].IsNull() && !info[6].IsUndefined()) {
    View b = ArgTypedArray(info, 6, napi_float32_array, "bias");
    if (b.length != g.out_channels) ThrowRange(env, "Float32Array with one value per output channel", "bias", b.holder);
    bias = static_cast<const float*>(b.data);
  }
  std::shared_ptr<const LowBitConvWeights> weights;
  const Status status = RunGuarded([&] {
    return CreateLowBitConvWeights(g, static_cast<const int8_t*>(w.data), w.length, static_cast<float>(w_scale),
                                   static_cast<float>(a_scale), static_cast<int32_t>(a_zero_point),
                                   static_cast<uint8_t>(pad_level), bias, &weights);
  });
  if (!status.ok()) throw ErrorFromStatus(env, status);
  return NewHandle(env, new LowBitHandle(weights), w.length * 3);
}

// lowBitConvForward(handle, input: Uint8Array levels | Float32Array activations, batch, inSpatial: number[],
//                   inputQuantization (Float32Array input only: 0 sign, 1 heaviside, 2 inputdorefa), bits (inputdorefa's k))
//   -> Float32Array
// Float activations become levels under the layer's input quantization first (ops/binary.h
// LowBitInputLevels), in the step's scratch, so a traced layer runs from its float input.
PreparedOp PrepareLowBitForward(const Napi::CallbackInfo& info, bool snapshot) {
  PreparedOp op;
  op.snapshot_inputs = snapshot;
  Napi::Env env = info.Env();
  std::shared_ptr<const LowBitConvWeights> weights = ArgHandle<LowBitHandle>(info, 0)->weights;
  const ConvGeometry& g = weights->geometry;
  const bool float_input = info[1].IsTypedArray() && info[1].As<Napi::TypedArray>().TypedArrayType() == napi_float32_array;
  View x = ArgInput(info, 1, float_input ? napi_float32_array : napi_uint8_array, "input", &op);
  const size_t batch = ArgSize(info, 2, "batch");
  size_t in_spatial[3] = {1, 1, 1};
  const size_t positions = ArgSpatial(info, 3, g.dims, in_spatial);
  if (ArgCount(info, batch, g.in_channels, positions, "input", 1) != x.length) {
    ThrowRange(env, "batch * inChannels * prod(inSpatial) values", "input", x.holder);
  }
  LowBitInput input_quantization = LowBitInput::kSign;
  int bits = 1;
  if (float_input) ArgInputQuantization(info, 4, 7, &input_quantization, &bits);
  size_t out_spatial[3];
  const Status shape = ConvOutputSize(g, in_spatial, out_spatial);
  if (!shape.ok()) throw ErrorFromStatus(env, shape);
  Output out = NewUninitializedOutput(env, napi_float32_array,
                         ArgCount(info, batch, g.out_channels, out_spatial[0] * out_spatial[1] * out_spatial[2], "batch", 2));
  const size_t count = x.length;
  auto step = [=](const void* const* in, void* y, void* scratch) {
    const uint8_t* levels = static_cast<const uint8_t*>(in[0]);
    if (float_input) {
      LowBitInputLevels(static_cast<const float*>(in[0]), count, input_quantization, bits, static_cast<uint8_t*>(scratch));
      levels = static_cast<const uint8_t*>(scratch);
    }
    return LowBitConv(*weights, levels, batch, in_spatial, static_cast<float*>(y));
  };
  SetStep(&op, std::make_shared<FunctionStep>("low_bit_conv", step, float_input ? count : 0), {x}, out);
  return op;
}

}  // namespace

void RegisterBinaryOps(Napi::Env env, Napi::Object exports) {
  exports.Set("binaryConvPrepack", Napi::Function::New(env, BinaryConvPrepack, "binaryConvPrepack"));
  DefineOp<PrepareQuantize>(env, exports, "binaryQuantize");
  DefineOp<PreparePack>(env, exports, "binaryPack");
  DefineOp<PrepareUnpack>(env, exports, "binaryUnpack");
  DefineOp<PrepareForward>(env, exports, "binaryConvForward");
  exports.Set("lowBitConvPrepack", Napi::Function::New(env, LowBitConvPrepack, "lowBitConvPrepack"));
  DefineOp<PrepareLowBitForward>(env, exports, "lowBitConvForward");
}

}  // namespace addon
}  // namespace qk
