// The elementwise family's op plans: argument checks shared by its functions, lookup-table maps and add / mul through the binding.
//
// Where PyTorch's cpu_kernel_vec switches from its vectorized to its scalar lambda (the
// last run % 64 elements of each contiguous run; everything when an operand is strided)
// the two formulas round differently, so each op here tells the native side the run
// length and how much of it is "vector" (see native/src/ops/elementwise.h).

import { OpPlan, makePlan, paramsOf } from '../plan';
import { activeTracer } from '../jit/hook';
// Their earlier home: re-exported so code written against it still builds; new code imports lib/plan.ts.
export { atCallTime, runPlanAsync as runAsync } from '../plan';
import { QStorage } from '../native';
import { QDType, QTensor, checkQTensor, checkZeroPoint, denseQuantized, makePerTensorQTensor } from '../qtensor';
import { MemoryFormat, frozenFormatStrides, isContiguousAs, suggestMemoryFormat } from '../shape';
import * as validate from '../validate';
import { InverseScale, LookupOp, native, quantizedEngine } from './native';

/** Elements per vectorized step of PyTorch's cpu_kernel_vec on 8-bit types (AVX2 build). */
export const TORCH_VECTOR_STEP = 64;

/** Round half to even (nearbyint / lrintf in the default rounding mode). */
export function roundHalfEven(v: number): number {
  const r = Math.round(v);
  return r - v === 0.5 && r % 2 !== 0 ? r - 1 : r;
}

/** How many leading elements of a run of `length` PyTorch computes with its vectorized lambda. */
export function vectorPart(length: number): number {
  return length - (length % TORCH_VECTOR_STEP);
}

const DTYPE_CODES: { readonly [K in QDType]?: number } = { quint8: 0, qint8: 1 };

/** An input of the 8-bit ops: a per_tensor_affine QTensor of dtype quint8 or qint8. */
export function checkByteQTensor(value: unknown, parameter: string): QTensor {
  const x = checkQTensor(value, parameter);
  if (x.qscheme !== 'per_tensor_affine') {
    throw validate.invalidType('per_tensor_affine QTensor (torch supports only per-tensor qparams here)', parameter, value);
  }
  if (DTYPE_CODES[x.dtype] === undefined) throw validate.invalidRange('QTensor of dtype quint8 or qint8', parameter, value);
  return x;
}

/** checkByteQTensor's test without a parameter name (for a list, whose names `tensors[i]` are built only for the error). */
export function isByteQTensor(value: unknown): value is QTensor {
  return value instanceof QTensor && value.qscheme === 'per_tensor_affine' && DTYPE_CODES[value.dtype] !== undefined && !validate.isDetached(value.data);
}

export function dtypeCode(dtype: QDType): number {
  return DTYPE_CODES[dtype] as number;
}

export function checkOutputQParams(scale: unknown, zeroPoint: unknown, dtype: QDType, scaleName = 'scale', zeroPointName = 'zeroPoint'): [number, number] {
  return [validate.scale(scale, scaleName), checkZeroPoint(zeroPoint, zeroPointName, dtype)];
}

export function optionalNumber(value: unknown, parameter: string, fallback: number): number {
  return value === undefined ? fallback : validate.finiteNumber(value, parameter);
}

export interface LookupRequest {
  op: LookupOp;
  input: QTensor;
  /** Output qparams; the input's when the op keeps them. */
  scale: number;
  zeroPoint: number;
  p0?: number;
  p1?: number;
  p2?: number;
  inverse?: InverseScale;
  /** The output's memory format: the input's suggested one (most ops) or always contiguous (torch's elu, celu, ...). */
  contiguousOutput?: boolean;
}

/** A fixed-qparams map of every element, through a 256-entry table built natively from torch's formulas. */
export function planLookup(request: LookupRequest): OpPlan<QTensor> {
  const x = request.input;
  const inputFormat = suggestMemoryFormat(x.shape, x.strides);
  const format: MemoryFormat = request.contiguousOutput ? 'contiguous_format' : inputFormat;
  const n = x.numel();
  // A dense input (the common case) is read in place; denseQuantized lays out any other (the
  // format it picks is `format`: the suggested one, or contiguous when asked).
  const dense = isContiguousAs(x.shape, x.strides, format);
  const data = dense ? (x.data.length === n ? x.data : x.data.subarray(0, n)) : denseQuantized(x, format !== 'contiguous_format').data;
  // An output laid out differently from the input makes torch's inner loop strided: all scalar.
  const sameLayout = format === inputFormat || dense;
  const vectorLength = sameLayout ? vectorPart(n) : 0;
  // Shared between calls with these values (paramsOf): no typed array made per call.
  const params = paramsOf(
    x.qScale(),
    x.qZeroPoint(),
    request.scale,
    request.zeroPoint,
    request.p0 ?? 0,
    request.p1 ?? 0,
    request.p2 ?? 0,
    request.inverse ?? InverseScale.Float,
  );
  const code = dtypeCode(x.dtype);
  const rowLength = Math.max(n, 1);
  const strides = frozenFormatStrides(x.shape, format, x.strides);
  const finish = (storage: QStorage): QTensor => makePerTensorQTensor(storage, x.shape, strides, x.dtype, request.scale, request.zeroPoint);
  const args = [data, code, request.op, params, rowLength, vectorLength] as const;
  return makePlan(
    () => native.elementwiseLookup(...args),
    () => native.elementwiseLookupAsync(...args),
    finish,
    { op: 'elementwiseLookup', args },
  );
}

/**
 * torch's inplace=True: the result written into the input's storage (which must be dense in the
 * result's layout, as an in-place torch op on such a tensor would write it), and the input returned.
 */
export function writeBack(input: QTensor, result: QTensor): QTensor {
  // An async inplace op given a donated tensor took its memory (lib/handoff.ts): say so, not V8's "detached".
  validate.attached(input.data, 'input');
  if (!isContiguousAs(input.shape, input.strides, suggestMemoryFormat(result.shape, result.strides)) ||
      input.qScale() !== result.qScale() || input.qZeroPoint() !== result.qZeroPoint()) {
    throw validate.invalidRange('QTensor dense in its memory format (inplace writes the result into its storage)', 'input', input);
  }
  const written = result.data.subarray(0, input.numel());
  input.data.set(written);
  activeTracer()?.inplace('inplace=True', input.data, written);
  return input;
}

// ---- the activations' plans (shared by qF, the modules and ops.quantized) -------------------------
//
// Each checks its arguments, then runs planLookup with the op's formula code and the output
// qparams PyTorch 1.13 gives it: the input's (relu, relu6, hardtanh, clamp, threshold,
// leakyRelu without scale), the caller's (hardswish, elu, celu, leakyRelu with scale,
// ops.quantized.sigmoid), or fixed ones (sigmoid 1/256, tanh 2/256, hardsigmoid 1/256;
// see fixedQParams).

/** @internal */
export function planRelu(input: unknown, name = 'input'): OpPlan<QTensor> {
  const x = checkByteQTensor(input, name);
  return planLookup({ op: LookupOp.Relu, input: x, scale: x.qScale(), zeroPoint: x.qZeroPoint() });
}

/** @internal Integer clamp to quantize(min) .. quantize(max) (null: no bound), the input's qparams. */
export function planClamp(input: unknown, min: number | null, max: number | null, name = 'input'): OpPlan<QTensor> {
  const x = checkByteQTensor(input, name);
  return planLookup({ op: LookupOp.Clamp, input: x, scale: x.qScale(), zeroPoint: x.qZeroPoint(), p0: min ?? NaN, p1: max ?? NaN });
}

/** @internal */
export function planHardswish(input: unknown, scale: unknown, zeroPoint: unknown, name = 'input'): OpPlan<QTensor> {
  const x = checkByteQTensor(input, name);
  const [s, zp] = checkOutputQParams(scale, zeroPoint, x.dtype);
  // qhardswish.cpp sends quint8 to QNNPACK's table under the qnnpack engine.
  const op = x.dtype === 'quint8' && quantizedEngine() === 'qnnpack' ? LookupOp.QnnpackHardswish : LookupOp.Hardswish;
  return planLookup({ op, input: x, scale: s, zeroPoint: zp, inverse: InverseScale.Double });
}

/** @internal elu and celu: PyTorch's generalized ELU (alpha, output scale coefficient, input scale coefficient). */
export function planElu(
  input: unknown,
  scale: unknown,
  zeroPoint: unknown,
  alpha: number,
  coefficient: number,
  inputScale: number,
  name = 'input',
): OpPlan<QTensor> {
  const x = checkByteQTensor(input, name);
  const [s, zp] = checkOutputQParams(scale, zeroPoint, x.dtype);
  return planLookup({
    op: LookupOp.Elu,
    input: x,
    scale: s,
    zeroPoint: zp,
    p0: alpha,
    p1: coefficient,
    p2: inputScale,
    inverse: InverseScale.DoubleOfFloat,
    contiguousOutput: true,
  });
}

/**
 * @internal Output qparams: the input's when scale / zeroPoint are undefined. qF.leaky_relu with
 * scale writes into `torch._empty_affine_quantized(input.shape)`, a contiguous tensor
 * (contiguousWhenRescaled); quantized::leaky_relu (ops, nnq.LeakyReLU) keeps the input's format.
 */
export function planLeakyRelu(
  input: unknown,
  negativeSlope: number,
  scale: unknown,
  zeroPoint: unknown,
  name = 'input',
  contiguousWhenRescaled = false,
): OpPlan<QTensor> {
  const x = checkByteQTensor(input, name);
  if ((scale === undefined || scale === null) !== (zeroPoint === undefined || zeroPoint === null)) {
    throw validate.invalidType('both scale and zeroPoint, or neither', scale === undefined || scale === null ? 'scale' : 'zeroPoint', scale ?? zeroPoint);
  }
  const rescale = scale !== undefined && scale !== null;
  const [s, zp] = rescale ? checkOutputQParams(scale, zeroPoint, x.dtype) : [x.qScale(), x.qZeroPoint()];
  return planLookup({ op: LookupOp.LeakyRelu, input: x, scale: s, zeroPoint: zp, p0: negativeSlope, contiguousOutput: rescale && contiguousWhenRescaled });
}

/** @internal Output qparams: torch's fixed ones unless given (nnq.Sigmoid, ops.quantized.sigmoid). */
export function planSigmoid(input: unknown, scale?: unknown, zeroPoint?: unknown, name = 'input'): OpPlan<QTensor> {
  const x = checkByteQTensor(input, name);
  const [s, zp] = scale === undefined ? fixedQParams('sigmoid', x.dtype) : checkOutputQParams(scale, zeroPoint, x.dtype);
  return planLookup({ op: LookupOp.Sigmoid, input: x, scale: s, zeroPoint: zp, inverse: InverseScale.Double });
}

/** @internal */
export function planHardsigmoid(input: unknown, name = 'input'): OpPlan<QTensor> {
  const x = checkByteQTensor(input, name);
  const [s, zp] = fixedQParams('hardsigmoid', x.dtype);
  return planLookup({ op: LookupOp.Hardsigmoid, input: x, scale: s, zeroPoint: zp });
}

/** @internal */
export function planTanh(input: unknown, name = 'input'): OpPlan<QTensor> {
  const x = checkByteQTensor(input, name);
  const [s, zp] = fixedQParams('tanh', x.dtype);
  return planLookup({ op: LookupOp.Tanh, input: x, scale: s, zeroPoint: zp });
}

/** @internal */
export function planThreshold(input: unknown, threshold: unknown, value: unknown, name = 'input'): OpPlan<QTensor> {
  const x = checkByteQTensor(input, name);
  const th = validate.finiteNumber(threshold, 'threshold');
  const v = validate.finiteNumber(value, 'value');
  return planLookup({
    op: LookupOp.Threshold,
    input: x,
    scale: x.qScale(),
    zeroPoint: x.qZeroPoint(),
    p0: th,
    p1: v,
    inverse: InverseScale.DoubleOfFloat,
  });
}

/**
 * The output qparams torch fixes for sigmoid, hardsigmoid (scale 1/256, zero point 0 for
 * quint8 and -128 for qint8) and tanh (scale 2/256, zero point 128 for quint8 and 0 for qint8).
 */
export function fixedQParams(op: 'sigmoid' | 'hardsigmoid' | 'tanh', dtype: QDType): [number, number] {
  if (op === 'tanh') return [2 / 256, dtype === 'quint8' ? 128 : 0];
  return [1 / 256, dtype === 'quint8' ? 0 : -128];
}
