// The elementwise family's binding functions (native/addon/elementwise.cc), typed, and the codes they take.

import { QStorage, addon } from '../native';

/** qk::LookupOp (native/src/ops/elementwise.h). */
export const enum LookupOp {
  Relu = 0,
  Clamp = 1,
  Hardswish = 2,
  Elu = 3,
  LeakyRelu = 4,
  Hardsigmoid = 5,
  Sigmoid = 6,
  Tanh = 7,
  Threshold = 8,
  AddScalar = 9,
  Requantize = 10,
  Negate = 11,
  QnnpackHardswish = 12,
}

/** The quantized engine in force (backend.quantizedEngine()), read when an op is called. */
export function quantizedEngine(): string {
  return addon.quantizedEngine();
}

/** qk::InverseScale: how a PyTorch kernel's vectorized quantize computes 1 / output scale. */
export const enum InverseScale {
  Float = 0,
  Double = 1,
  DoubleOfFloat = 2,
}

export interface ElementwiseAddon {
  /** params: [inScale, inZeroPoint, outScale, outZeroPoint, p0, p1, p2, inverse]. */
  elementwiseLookup(x: QStorage, dtype: number, op: number, params: Float64Array, rowLength: number, vectorLength: number): QStorage;
  elementwiseLookupAsync(x: QStorage, dtype: number, op: number, params: Float64Array, rowLength: number, vectorLength: number): Promise<QStorage>;
  /** params: [aScale, aZeroPoint, bScale, bZeroPoint, scale, zeroPoint, formula: 0 torch's kernel, 1 XNNPACK's multiplier, 2 QNNPACK's add]. */
  /** broadcast: [n, aEach, aPeriod, bEach, bPeriod]: output element i reads a[floor(i / aEach) % aPeriod], b likewise. */
  elementwiseBinary(a: QStorage, b: QStorage, dtype: number, multiply: boolean, relu: boolean, params: Float64Array, rowLength: number, vectorLength: number, broadcast?: Float64Array): QStorage;
  elementwiseBinaryAsync(a: QStorage, b: QStorage, dtype: number, multiply: boolean, relu: boolean, params: Float64Array, rowLength: number, vectorLength: number, broadcast?: Float64Array): Promise<QStorage>;
  /** batch dense m x k matrices times batch dense k x n ones (fp32, summed in double): batch * m * n values. */
  elementwiseMatmul(a: Float32Array, b: Float32Array, batch: number, m: number, k: number, n: number): Float32Array;
  elementwiseMatmulAsync(a: Float32Array, b: Float32Array, batch: number, m: number, k: number, n: number): Promise<Float32Array>;
  /** Softmax of x, contiguous as [outer][size][inner], along size (ops/softmax.h); params: [inScale, inZeroPoint, outScale, outZeroPoint]. */
  elementwiseSoftmax(x: QStorage, dtype: number, outer: number, size: number, inner: number, params: Float64Array): QStorage;
  elementwiseSoftmaxAsync(x: QStorage, dtype: number, outer: number, size: number, inner: number, params: Float64Array): Promise<QStorage>;
  /**
   * dst[dstStrides . i] = src[srcStrides . i] for every index i of shape, dst written in place
   * and returned (ops/strided-copy.h); src and dst typed arrays of one kind; layout: [rank, shape,
   * srcStrides, dstStrides], rank <= 8. Sync only (plus the trace form, which records only a copy
   * that writes all of dst). RangeError naming srcStrides / dstStrides when an offset falls
   * outside its array.
   */
  elementwiseStridedCopy(src: ArrayBufferView, dst: ArrayBufferView, layout: Float64Array): ArrayBufferView;
  /** The copy into a new typed array of src's kind and `length` elements (not zero-filled when the copy writes all of it). */
  elementwiseStridedCopyNew(src: ArrayBufferView, length: number, layout: Float64Array): ArrayBufferView;
}

export const native = addon as unknown as ElementwiseAddon;
