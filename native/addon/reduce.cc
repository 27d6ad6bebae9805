// The binding of quantized mean and concatenation (ops/reduce.h): reads and checks the arguments, prepares the op, runs it now, on the pool, or as a traced step.
#include <cmath>
#include <memory>
#include <string>

#include "addon/common.h"
#include "ops/reduce.h"
#include "plan/op-step.h"

namespace qk {
namespace addon {
namespace {

// A Float64Array of at most kLimit integers in [0, 2^53], copied into `values`; returns how
// many. A fixed array, not a vector: cat and mean run per eager call. Its size is the limit, so
// the copy cannot overrun it.
template <size_t kLimit>
size_t ArgIntegers(const Napi::CallbackInfo& info, size_t index, const char* parameter, int64_t (&values)[kLimit]) {
  View view = ArgTypedArray(info, index, napi_float64_array, parameter);
  if (view.length > kLimit) ThrowRange(info.Env(), "at most " + std::to_string(kLimit) + " values", parameter, info[index]);
  for (size_t i = 0; i < kLimit && i < view.length; ++i) {
    const double v = static_cast<const double*>(view.data)[i];
    if (!(v >= 0 && v <= 9007199254740992.0) || std::floor(v) != v) {
      ThrowRange(info.Env(), "non-negative integers", parameter, info[index]);
    }
    values[i] = static_cast<int64_t>(v);
  }
  return view.length;
}

void ThrowIfFailed(Napi::Env env, const Status& status) {
  if (!status.ok()) throw ErrorFromStatus(env, status);
}

// mean(x, dtype, mode, shape: Float64Array, reduced: Float64Array of 0/1, scale, zeroPoint)
//   mode: 0 QNNPACK global average, 1 the integers of a contiguous input, 2 channels-last float
PreparedOp PrepareMean(const Napi::CallbackInfo& info, bool snapshot) {
  PreparedOp op;
  op.snapshot_inputs = snapshot;
  Napi::Env env = info.Env();
  MeanParams p;
  p.dtype = ArgDType(info, 1);
  if (p.dtype != QDType::kQUInt8 && p.dtype != QDType::kQInt8) ThrowRange(env, "quint8 or qint8", "dtype", info[1]);
  View x = ArgInput(info, 0, StorageArrayType(p.dtype), "input", &op);
  const int64_t mode = ArgInt64(info, 2, "mode");
  if (mode < 0 || mode > 2) ThrowRange(env, "0 (qnnpack), 1 (integers) or 2 (channels-last float)", "mode", info[2]);
  p.mode = static_cast<MeanMode>(mode);
  int64_t shape[kMaxReduceRank], reduced[kMaxReduceRank];
  p.rank = ArgIntegers(info, 3, "shape", shape);
  if (ArgIntegers(info, 4, "reduced", reduced) != p.rank) {
    ThrowRange(env, "one 0/1 flag per dim of shape", "reduced", info[4]);
  }
  for (size_t d = 0; d < kMaxReduceRank && d < p.rank; ++d) {
    p.shape[d] = shape[d];
    p.reduced[d] = reduced[d] != 0;
  }
  p.scale = ArgNumber(info, 5, "scale");
  p.zero_point = ArgInt64(info, 6, "zeroPoint");
  std::shared_ptr<const MeanOp> prepared;
  ThrowIfFailed(env, MeanOp::Prepare(p, &prepared));
  if (x.length != prepared->input_bytes(0)) ThrowRange(env, "typed array of prod(shape) elements", "input", x.holder);
  Output out = NewQuantizedOutput(env, p.dtype, prepared->output_bytes(), kWholeOutput);
  SetStep(&op, std::make_shared<OpStep>(prepared), {x}, out);
  return op;
}

// cat(dtype, rows, rowElements: Float64Array(k), vectorLengths: Float64Array(k),
//     inQParams: Float64Array(2k) [scale, zeroPoint per input], outScale, outZeroPoint, x0, ..., x(k-1)):
// output row r = every input's row r in turn, requantized to (outScale, outZeroPoint).
PreparedOp PrepareCat(const Napi::CallbackInfo& info, bool snapshot) {
  PreparedOp op;
  op.snapshot_inputs = snapshot;
  Napi::Env env = info.Env();
  const QDType dtype = ArgDType(info, 0);
  if (dtype != QDType::kQUInt8 && dtype != QDType::kQInt8) ThrowRange(env, "quint8 or qint8", "dtype", info[0]);
  ConcatParams p;
  p.rows = ArgSize(info, 1, "rows");
  int64_t rows[kMaxConcatInputs], vectors[kMaxConcatInputs];
  p.count = ArgIntegers(info, 2, "rowElements", rows);
  if (ArgIntegers(info, 3, "vectorLengths", vectors) != p.count) {
    ThrowRange(env, "one vector length per tensor", "vectorLengths", info[3]);
  }
  View qparams = ArgTypedArray(info, 4, napi_float64_array, "inQParams");
  if (qparams.length != 2 * p.count) ThrowRange(env, "a scale and a zero point per tensor", "inQParams", info[4]);
  const double out_scale = ArgNumber(info, 5, "outScale");
  const int64_t out_zero_point = ArgInt64(info, 6, "outZeroPoint");
  if (info.Length() != p.count + 7) ThrowRange(env, "one tensor per row length", "tensors", info[2]);
  const double* q = static_cast<const double*>(qparams.data);
  for (size_t k = 0; k < kMaxConcatInputs && k < p.count; ++k) {
    p.row_bytes[k] = static_cast<size_t>(rows[k]);
    p.vector_bytes[k] = static_cast<size_t>(vectors[k]);
    LookupSpec& spec = p.requantize[k];
    spec.op = LookupOp::kRequantize;
    spec.dtype = dtype;
    spec.inverse = InverseScale::kDouble;
    spec.in_scale = q[2 * k];
    if (!(std::fabs(q[2 * k + 1]) <= 1e9) || std::trunc(q[2 * k + 1]) != q[2 * k + 1]) {
      ThrowRange(env, "integer zero points", "inQParams", info[4]);
    }
    spec.in_zero_point = static_cast<int64_t>(q[2 * k + 1]);
    spec.out_scale = out_scale;
    spec.out_zero_point = out_zero_point;
  }
  std::shared_ptr<const ConcatOp> prepared;
  ThrowIfFailed(env, ConcatOp::Prepare(p, &prepared));
  // The inputs' parameter names, as literals: no string is made per input per call.
  static const char* const kNames[] = {"tensors[0]",  "tensors[1]",  "tensors[2]",  "tensors[3]",  "tensors[4]",  "tensors[5]",
                                       "tensors[6]",  "tensors[7]",  "tensors[8]",  "tensors[9]",  "tensors[10]", "tensors[11]",
                                       "tensors[12]", "tensors[13]", "tensors[14]", "tensors[15]"};
  static_assert(sizeof(kNames) / sizeof(kNames[0]) == kMaxConcatInputs, "one name per input slot");
  View inputs[kMaxConcatInputs];
  for (size_t k = 0; k < kMaxConcatInputs && k < p.count; ++k) {
    inputs[k] = ArgInput(info, k + 7, StorageArrayType(dtype), kNames[k], &op);
    if (inputs[k].bytes != prepared->input_bytes(k)) {
      ThrowRange(env, "typed array of rows * rowElements[k] elements", kNames[k], inputs[k].holder);
    }
  }
  // Every byte written (rows * the row lengths); quint8 / qint8 storage: a byte per element.
  Output out = NewUninitializedOutput(env, StorageArrayType(dtype), prepared->output_bytes());
  SetStep(&op, std::make_shared<OpStep>(prepared), inputs, p.count, out);
  return op;
}

}  // namespace

void RegisterReduceOps(Napi::Env env, Napi::Object exports) {
  DefineOp<PrepareMean>(env, exports, "mean");
  DefineOp<PrepareCat>(env, exports, "cat");
}

}  // namespace addon
}  // namespace qk
