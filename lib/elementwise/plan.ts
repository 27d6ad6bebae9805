// The elementwise family's op plans: argument checks shared by its functions, lookup-table maps and add / mul through the binding.
//
// Where PyTorch's cpu_kernel_vec switches from its vectorized to its scalar lambda (the
// last run % 64 elements of each contiguous run; everything when an operand is strided)
// the two formulas round differently, so each op here tells the native side the run
// length and how much of it is "vector" (see native/src/ops/elementwise.h).

import { OpPlan, makePlan } from '../plan';
import { QStorage } from '../native';
import { QDType, QTensor, checkQTensor, checkZeroPoint, denseQuantized, makePerTensorQTensor } from '../qtensor';
import { MemoryFormat, formatStrides, isContiguousAs, suggestMemoryFormat } from '../shape';
import * as validate from '../validate';
import { InverseScale, LookupOp, native } from './native';

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

export function dtypeCode(dtype: QDType): number {
  return DTYPE_CODES[dtype] as number;
}

/** An output scale: a positive number that float32 holds as a positive finite number (torch keeps scales in fp32 kernels). */
export function checkScale(value: unknown, parameter: string): number {
  const scale = validate.positiveFiniteNumber(value, parameter);
  const rounded = Math.fround(scale);
  if (!(rounded > 0 && Number.isFinite(rounded))) throw validate.invalidRange('positive number finite in float32', parameter, value);
  return scale;
}

export function checkOutputQParams(scale: unknown, zeroPoint: unknown, dtype: QDType, scaleName = 'scale', zeroPointName = 'zeroPoint'): [number, number] {
  return [checkScale(scale, scaleName), checkZeroPoint(zeroPoint, zeroPointName, dtype)];
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
  const { data } = denseQuantized(x, format !== 'contiguous_format');
  const n = x.numel();
  // An output laid out differently from the input makes torch's inner loop strided: all scalar.
  const sameLayout = format === inputFormat || isContiguousAs(x.shape, x.strides, format);
  const vectorLength = sameLayout ? vectorPart(n) : 0;
  const params = Float64Array.of(
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
  const finish = (storage: QStorage): QTensor =>
    makePerTensorQTensor(storage, x.shape, formatStrides(x.shape, format), x.dtype, request.scale, request.zeroPoint);
  return makePlan(
    () => native.elementwiseLookup(data, code, request.op, params, rowLength, vectorLength),
    () => native.elementwiseLookupAsync(data, code, request.op, params, rowLength, vectorLength),
    finish,
  );
}

/**
 * torch's inplace=True: the result written into the input's storage (which must be dense in the
 * result's layout, as an in-place torch op on such a tensor would write it), and the input returned.
 */
export function writeBack(input: QTensor, result: QTensor): QTensor {
  if (!isContiguousAs(input.shape, input.strides, suggestMemoryFormat(result.shape, result.strides)) ||
      input.qScale() !== result.qScale() || input.qZeroPoint() !== result.qZeroPoint()) {
    throw validate.invalidRange('QTensor dense in its memory format (inplace writes the result into its storage)', 'input', input);
  }
  input.data.set(result.data.subarray(0, input.numel()));
  return input;
}
