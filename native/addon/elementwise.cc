// The binding of activations, quantized arithmetic and tensor ops: lookup-table maps and quantized add / mul on 8-bit storage, the fp32 matmul, softmax, the strided copy; each a traceable plan step.
#include <cmath>
#include <string>

#include "addon/common.h"
#include "base/checked.h"
#include "ops/elementwise.h"
#include "ops/op.h"
#include "ops/softmax.h"
#include "ops/strided-copy.h"
#include "plan/function-step.h"
#include "plan/op-step.h"

namespace qk {
namespace addon {
namespace {

// A zero point carried in a Float64Array slot: an integer exact in a double (the op checks its range).
int64_t ZeroPointAt(Napi::Env env, const View& params, size_t index, const char* parameter) {
  const double value = static_cast<const double*>(params.data)[index];
  if (!(std::fabs(value) <= 9007199254740991.0) || std::floor(value) != value) {
    ThrowRange(env, "integer", parameter, Napi::Number::New(env, value));
  }
  return static_cast<int64_t>(value);
}

// Only quint8 and qint8 have 8-bit storage; the ops re-check the dtype.
QDType ArgByteDType(const Napi::CallbackInfo& info, size_t index) {
  const QDType dtype = ArgDType(info, index);
  if (dtype != QDType::kQUInt8 && dtype != QDType::kQInt8) ThrowRange(info.Env(), "quint8 or qint8 (code 0 or 1)", "dtype", info[index]);
  return dtype;
}

// elementwiseLookup(x, dtype, op, params: Float64Array [inScale, inZeroPoint, outScale, outZeroPoint, p0, p1, p2,
//                   inverse], rowLength, vectorLength) -> a new array of x's kind and length
PreparedOp PrepareLookup(const Napi::CallbackInfo& info, bool snapshot) {
  PreparedOp op;
  op.snapshot_inputs = snapshot;
  Napi::Env env = info.Env();
  const QDType dtype = ArgByteDType(info, 1);
  View x = ArgInput(info, 0, StorageArrayType(dtype), "input", &op);
  LookupSpec spec;
  spec.dtype = dtype;
  spec.op = static_cast<LookupOp>(ArgInt64(info, 2, "op") & 0x7fffffff);
  View params = ArgTypedArray(info, 3, napi_float64_array, "params");
  if (params.length != 8) ThrowRange(env, "Float64Array of 8 values", "params", params.holder);
  const double* p = static_cast<const double*>(params.data);
  spec.in_scale = p[0];
  spec.in_zero_point = ZeroPointAt(env, params, 1, "zeroPoint");
  spec.out_scale = p[2];
  spec.out_zero_point = ZeroPointAt(env, params, 3, "outputZeroPoint");
  spec.p0 = p[4];
  spec.p1 = p[5];
  spec.p2 = p[6];
  spec.inverse = static_cast<InverseScale>(ZeroPointAt(env, params, 7, "inverse") & 3);
  const size_t row_length = ArgSize(info, 4, "rowLength");
  const size_t vector_length = ArgSize(info, 5, "vectorLength");
  // The tables are found (or built) here, once per prepared op (so once per traced step, not per
  // run); the step holds its reference to the process's shared copy.
  std::shared_ptr<const LookupTables> tables;
  const Status built = SharedLookupTables(spec, &tables);
  if (!built.ok()) throw ErrorFromStatus(env, built);
  Output out = NewUninitializedOutput(env, StorageArrayType(dtype), x.length);  // every byte written
  const size_t n = x.length;
  SetStep(&op,
          std::make_shared<FunctionStep>("elementwise_lookup",
                                         [=](const void* const* in, void* y, void*) {
                                           return LookupRowsWithTables(*tables, in[0], n, y, n, row_length, vector_length);
                                         }),
          {x}, out);
  return op;
}

// elementwiseBinary(a, b, dtype, multiply, relu, params: Float64Array [aScale, aZeroPoint, bScale, bZeroPoint,
//                   scale, zeroPoint, formula (0 torch's, 1 XNNPACK's multiplier, 2 QNNPACK's add)], rowLength,
//                   vectorLength[, broadcast]) -> a new array of a's kind and length (of broadcast[0] elements with a broadcast)
PreparedOp PrepareBinary(const Napi::CallbackInfo& info, bool snapshot) {
  PreparedOp op;
  op.snapshot_inputs = snapshot;
  Napi::Env env = info.Env();
  const QDType dtype = ArgByteDType(info, 2);
  View a = ArgInput(info, 0, StorageArrayType(dtype), "qa", &op);
  View b = ArgInput(info, 1, StorageArrayType(dtype), "qb", &op);
  BinarySpec spec;
  spec.dtype = dtype;
  spec.multiply = ArgBool(info, 3, "multiply");
  spec.relu = ArgBool(info, 4, "relu");
  View params = ArgTypedArray(info, 5, napi_float64_array, "params");
  if (params.length != 7) ThrowRange(env, "Float64Array of 7 values", "params", params.holder);
  const double* p = static_cast<const double*>(params.data);
  spec.a_scale = p[0];
  spec.a_zero_point = ZeroPointAt(env, params, 1, "qa.zeroPoint");
  spec.b_scale = p[2];
  spec.b_zero_point = ZeroPointAt(env, params, 3, "qb.zeroPoint");
  spec.out_scale = p[4];
  spec.out_zero_point = ZeroPointAt(env, params, 5, "zeroPoint");
  // p[6]: 0 PyTorch's own kernel, 1 XNNPACK's multiplier, 2 QNNPACK's add, 3 XNNPACK's add
  // (2 and 3: engine qnnpack).
  if (!(p[6] == 0 || p[6] == 1 || p[6] == 2 || p[6] == 3)) ThrowRange(env, "0, 1, 2 or 3", "params[6]", params.holder);
  spec.divide_by_out_scale = p[6] == 1;
  spec.qnnpack_add = p[6] == 2;
  spec.xnnpack_add = p[6] == 3;
  const size_t row_length = ArgSize(info, 6, "rowLength");
  const size_t vector_length = ArgSize(info, 7, "vectorLength");
  if (info.Length() > 8 && !info[8].IsUndefined()) {
    // broadcast: Float64Array [n, aEach, aPeriod, bEach, bPeriod(, aRows, aCols, bRows, bCols)]:
    // output element i reads qa[(i / aEach) % aPeriod] and qb[(i / bEach) % bPeriod], or, for an
    // operand with rows > 0, reads it across (ops/elementwise.h BinaryRowsBroadcast).
    View shape = ArgTypedArray(info, 8, napi_float64_array, "broadcast");
    if (shape.length != 5 && shape.length != 9) {
      ThrowRange(env, "Float64Array [n, aEach, aPeriod, bEach, bPeriod] (and aRows, aCols, bRows, bCols)", "broadcast", shape.holder);
    }
    size_t v[9] = {};
    // At most nine values (the length was checked above): a fixed bound, no loop over tensor data.
    for (size_t i = 0; i < 9; ++i) {
      if (i >= shape.length) break;
      const double d = static_cast<const double*>(shape.data)[i];
      if (!(d >= 0 && d <= 9007199254740991.0) || std::floor(d) != d) ThrowRange(env, "non-negative integers", "broadcast", shape.holder);
      v[i] = static_cast<size_t>(d);
    }
    const size_t n = v[0];
    BroadcastOperand ba{nullptr, a.length, v[1], v[2], v[5], v[6]}, bb{nullptr, b.length, v[3], v[4], v[7], v[8]};
    if (n > 0 && (ba.each == 0 || ba.period == 0 || ba.period > a.length)) ThrowRange(env, "aEach, aPeriod > 0, aPeriod <= qa's length", "broadcast", shape.holder);
    if (n > 0 && (bb.each == 0 || bb.period == 0 || bb.period > b.length)) ThrowRange(env, "bEach, bPeriod > 0, bPeriod <= qb's length", "broadcast", shape.holder);
    if (spec.qnnpack_add || spec.xnnpack_add) ThrowRange(env, "0 or 1 with a broadcast", "params[6]", params.holder);
    Output out = NewUninitializedOutput(env, StorageArrayType(dtype), n);  // every byte written
    SetStep(&op,
            std::make_shared<FunctionStep>(spec.multiply ? "mul" : "add",
                                           [=](const void* const* in, void* y, void*) {
                                             BroadcastOperand xa = ba, xb = bb;  // a step may run on several threads at once
                                             xa.data = in[0];
                                             xb.data = in[1];
                                             return BinaryRowsBroadcast(spec, xa, xb, y, n, row_length, vector_length);
                                           }),
            {a, b}, out);
    return op;
  }
  if (b.length != a.length) ThrowRange(env, "as many elements as qa", "qb", b.holder);
  Output out = NewUninitializedOutput(env, StorageArrayType(dtype), a.length);  // every byte written
  std::shared_ptr<const BinaryOp> prepared;
  const Status status = BinaryOp::Prepare(spec, a.length, row_length, vector_length, &prepared);
  if (!status.ok()) {  // reported when the op runs, as a sync call's error or an async call's rejection
    op.output = out.array;
    op.compute = [status] { return status; };
    return op;
  }
  // An OpStep, so that a traced plan's fusion pass (plan/fusion.h) can see the add.
  SetStep(&op, std::make_shared<OpStep>(prepared), {a, b}, out);
  return op;
}

// elementwiseMatmul(a: Float32Array, b: Float32Array, batch, m, k, n) -> Float32Array of batch * m * n:
// a holds batch dense m x k matrices, b batch dense k x n ones (MatmulF32 re-checks both lengths).
PreparedOp PrepareMatmul(const Napi::CallbackInfo& info, bool snapshot) {
  PreparedOp op;
  op.snapshot_inputs = snapshot;
  Napi::Env env = info.Env();
  View a = ArgInput(info, 0, napi_float32_array, "a", &op);
  View b = ArgInput(info, 1, napi_float32_array, "b", &op);
  const size_t batch = ArgSize(info, 2, "batch");
  const size_t m = ArgSize(info, 3, "m");
  const size_t k = ArgSize(info, 4, "k");
  const size_t n = ArgSize(info, 5, "n");
  size_t rows = 0, a_need = 0, b_need = 0, y_len = 0;
  if (!CheckedMul(batch, m, &rows) || !CheckedMul(rows, k, &a_need) || !CheckedMul(batch, k, &b_need) ||
      !CheckedMul(b_need, n, &b_need) || !CheckedMul(rows, n, &y_len) || y_len > (size_t{1} << 40)) {
    ThrowRange(env, "sizes whose products fit in memory", "n", info[5]);
  }
  if (a.length != a_need) ThrowRange(env, "Float32Array of batch * m * k = " + std::to_string(a_need) + " values", "a", a.holder);
  if (b.length != b_need) ThrowRange(env, "Float32Array of batch * k * n = " + std::to_string(b_need) + " values", "b", b.holder);
  Output out = NewUninitializedOutput(env, napi_float32_array, y_len);
  const size_t a_len = a.length, b_len = b.length;
  SetStep(&op,
          std::make_shared<FunctionStep>("matmul",
                                         [=](const void* const* in, void* y, void*) {
                                           return MatmulF32(static_cast<const float*>(in[0]), a_len,
                                                            static_cast<const float*>(in[1]), b_len,
                                                            static_cast<float*>(y), y_len, batch, m, k, n);
                                         }),
          {a, b}, out);
  return op;
}

// elementwiseSoftmax(x, dtype, outer, size, inner, params: Float64Array [inScale, inZeroPoint, outScale,
//                    outZeroPoint]) -> a new array of x's kind and length: x contiguous as [outer][size][inner],
//                    softmax along size (ops/softmax.h)
PreparedOp PrepareSoftmaxOp(const Napi::CallbackInfo& info, bool snapshot, bool exp_table) {
  PreparedOp op;
  op.snapshot_inputs = snapshot;
  Napi::Env env = info.Env();
  SoftmaxOpParams params;
  params.dtype = ArgByteDType(info, 1);
  View x = ArgInput(info, 0, StorageArrayType(params.dtype), "input", &op);
  params.outer = ArgSize(info, 2, "outer");
  params.size = ArgSize(info, 3, "size");
  params.inner = ArgSize(info, 4, "inner");
  View qparams = ArgTypedArray(info, 5, napi_float64_array, "params");
  if (qparams.length != 4) ThrowRange(env, "Float64Array of 4 values", "params", qparams.holder);
  const double* p = static_cast<const double*>(qparams.data);
  params.x_scale = p[0];
  params.x_zero_point = ZeroPointAt(env, qparams, 1, "input zeroPoint");
  params.y_scale = p[2];
  params.y_zero_point = ZeroPointAt(env, qparams, 3, "zeroPoint");
  params.exp_table = exp_table;
  std::shared_ptr<const SoftmaxOp> prepared;
  const Status status = SoftmaxOp::Prepare(params, &prepared);
  if (!status.ok()) throw ErrorFromStatus(env, status);
  if (prepared->input_bytes(0) != x.length) ThrowRange(env, "outer * size * inner values", "input", x.holder);
  Output out = NewUninitializedOutput(env, StorageArrayType(params.dtype), x.length);
  SetStep(&op, std::make_shared<OpStep>(prepared), {x}, out);
  return op;
}

PreparedOp PrepareSoftmax(const Napi::CallbackInfo& info, bool snapshot) { return PrepareSoftmaxOp(info, snapshot, false); }

// The trace form's: a plan runs its step many times, so the op takes its exps from the table of
// its input quantization (SoftmaxOpParams::exp_table); a call prepares for one run and does not.
PreparedOp PrepareSoftmaxForPlan(const Napi::CallbackInfo& info, bool snapshot) { return PrepareSoftmaxOp(info, snapshot, true); }

// The element size of a typed-array kind (the strided copy moves bytes, whatever they hold).
size_t ElementBytes(napi_typedarray_type type) {
  switch (type) {
    case napi_int8_array:
    case napi_uint8_array:
    case napi_uint8_clamped_array: return 1;
    case napi_int16_array:
    case napi_uint16_array: return 2;
    case napi_int32_array:
    case napi_uint32_array:
    case napi_float32_array: return 4;
    default: return 8;  // Float64Array, BigInt64Array, BigUint64Array
  }
}

// elementwiseStridedCopy(src, dst, layout: Float64Array [rank, shape, srcStrides, dstStrides]) -> dst:
// dst[dstStrides . i] = src[srcStrides . i] for every index i of shape (ops/strided-copy.h), dst written in
// place (and returned, so that it reads like every op's sync form). src and dst are typed arrays of one
// kind. No async form: the op would write the caller's dst from another thread; lib/shape.ts calls it inside
// the ops it serves (contiguous, broadcast, cat), whose async forms run on their own plans.
struct StridedCopyCall {
  View src, dst;
  std::shared_ptr<const StridedCopyOp> op;
};

StridedCopyCall ReadStridedCopy(const Napi::CallbackInfo& info, PreparedOp* op) {
  Napi::Env env = info.Env();
  if (info.Length() < 1 || !info[0].IsTypedArray()) ThrowType(env, "typed array", "src", info[0]);
  const napi_typedarray_type type = info[0].As<Napi::TypedArray>().TypedArrayType();
  StridedCopyCall call;
  call.src = ArgInput(info, 0, type, "src", op);
  call.dst = ArgTypedArray(info, 1, type, "dst");
  // A SharedArrayBuffer view is read into a private copy: writing that copy would lose the result.
  if (call.dst.copy) ThrowType(env, "typed array on a plain (not shared) ArrayBuffer", "dst", info[1]);
  View layout = ArgTypedArray(info, 2, napi_float64_array, "layout");
  StridedCopyParams params;
  params.element_bytes = ElementBytes(type);
  params.src_length = call.src.length;
  params.dst_length = call.dst.length;
  Status status = ReadStridedCopyLayout(static_cast<const double*>(layout.data), layout.length, &params);
  if (status.ok()) status = StridedCopyOp::Prepare(params, &call.op);
  if (!status.ok()) throw ErrorFromStatus(env, status);
  return call;
}

// The sync form runs the prepared copy directly: lib/shape.ts sends copies of a few hundred elements
// here (NATIVE_MIN_ELEMENTS), where a PreparedOp's closure and step would add to a ~0.6 us call.
Napi::Value StridedCopySync(const Napi::CallbackInfo& info) {
  PreparedOp op;  // holds a shared-memory src's private copy for the call
  const StridedCopyCall call = ReadStridedCopy(info, &op);
  const void* inputs[1] = {call.src.data};
  const Status status = call.op->Run(inputs, call.dst.data, nullptr);
  if (!status.ok()) throw ErrorFromStatus(info.Env(), status);
  return call.dst.holder;
}

// elementwiseStridedCopyNew(src, length, layout) -> a new typed array of src's kind and `length` elements,
// the copy written into it (lib's contiguous()): the output made here skips the zero fill when the copy
// writes every element of it (StridedCopyOp::writes_whole_output), which a dst made in JS cannot.
Napi::Value StridedCopyNew(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 1 || !info[0].IsTypedArray()) ThrowType(env, "typed array", "src", info[0]);
  const napi_typedarray_type type = info[0].As<Napi::TypedArray>().TypedArrayType();
  PreparedOp op;  // holds a shared-memory src's private copy for the call
  const View src = ArgInput(info, 0, type, "src", &op);
  const size_t length = ArgSize(info, 1, "length");
  View layout = ArgTypedArray(info, 2, napi_float64_array, "layout");
  StridedCopyParams params;
  params.element_bytes = ElementBytes(type);
  params.src_length = src.length;
  params.dst_length = length;
  StridedCopyOp copy;  // run once, here: no shared op on the heap
  Status status = ReadStridedCopyLayout(static_cast<const double*>(layout.data), layout.length, &params);
  if (status.ok()) status = StridedCopyOp::PrepareInto(params, &copy);
  if (!status.ok()) throw ErrorFromStatus(env, status);
  const Output out = copy.writes_whole_output() ? NewUninitializedOutput(env, type, length) : NewOutput(env, type, length);
  const void* inputs[1] = {src.data};
  status = copy.Run(inputs, out.data, nullptr);
  if (!status.ok()) throw ErrorFromStatus(env, status);
  return out.array;
}

// The trace form (elementwiseStridedCopyTrace): the same copy as a step reading src (a channel
// shuffle's transpose or contiguous() in a traced forward), run now into dst. A plan gives the step
// an arena buffer as its output, so only a copy that writes every element of dst is recorded; one
// that writes part of dst (one operand of a cat, a narrow) depends on dst's earlier bytes and throws
// rather than make a plan that drops them.
PreparedOp PrepareStridedCopyTrace(const Napi::CallbackInfo& info, bool snapshot) {
  PreparedOp op;
  op.snapshot_inputs = snapshot;
  const StridedCopyCall call = ReadStridedCopy(info, &op);
  if (!call.op->writes_whole_output()) {
    throw Napi::Error::New(info.Env(),
                           "qkernels: elementwiseStridedCopy cannot be recorded by jit.trace: this copy writes only part "
                           "of dst (one operand of a cat, a narrow), so its result depends on dst's earlier contents");
  }
  Output out;
  out.array = call.dst.holder;
  out.data = call.dst.data;
  out.length = call.dst.length;
  out.bytes = call.dst.bytes;
  SetStep(&op, std::make_shared<OpStep>(call.op), {call.src}, out);
  return op;
}

}  // namespace

void RegisterElementwiseOps(Napi::Env env, Napi::Object exports) {
  DefineOp<PrepareLookup>(env, exports, "elementwiseLookup");
  DefineOp<PrepareBinary>(env, exports, "elementwiseBinary");
  DefineOp<PrepareMatmul>(env, exports, "elementwiseMatmul");
  DefineOp<PrepareSoftmax>(env, exports, "elementwiseSoftmax");
  exports.Set("elementwiseSoftmaxTrace", Napi::Function::New(env, RunTrace<PrepareSoftmaxForPlan>, "elementwiseSoftmaxTrace",
                                                             const_cast<char*>("elementwiseSoftmax")));
  exports.Set("elementwiseStridedCopy", Napi::Function::New(env, StridedCopySync, "elementwiseStridedCopy"));
  exports.Set("elementwiseStridedCopyNew", Napi::Function::New(env, StridedCopyNew, "elementwiseStridedCopyNew"));
  exports.Set("elementwiseStridedCopyTrace", Napi::Function::New(env, RunTrace<PrepareStridedCopyTrace>,
                                                                 "elementwiseStridedCopyTrace",
                                                                 const_cast<char*>("elementwiseStridedCopy")));
}

}  // namespace addon
}  // namespace qk
