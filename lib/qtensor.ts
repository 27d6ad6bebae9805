// QTensor, the quantized tensor, and the functions that make, quantize and dequantize one (sync and async).
//
// Layouts: quantize and dequantize follow torch's suggest_memory_format(): a channels_last
// (or channels_last_3d) input keeps its format, any other input produces a contiguous
// output; per_channel_affine_float_qparams always produces a contiguous output, as torch's
// float-qparams quantizer does. An input that is not already dense in that format is first copied into it (in
// JS); the native op then reads the dense buffer in place. Per-channel ops describe the
// dense buffer to native code as a ChannelLayout {outer, channels, inner} derived from the
// format's memory order.

import { pythonFloatRepr, pythonTuple, plainTensorRepr, tensorRepr } from './format';
import { MeanMode, QStorage, addon } from './native';
import { OpPlan, makePlan, sharedParams } from './plan';
import { guardRead } from './jit/hook';
// The plan helper's earlier home: re-exported so code written against it still builds; new code imports lib/plan.ts.
export type { CallerStack, OpPlan } from './plan';
export { captureCaller, makePlan } from './plan';
import {
  MemoryFormat,
  contiguousStrides,
  flattenedShape,
  formatStrides,
  frozenFormatStrides,
  inferShape,
  isContiguousAs,
  memoryFormatFor,
  memoryFormatName,
  memoryOrder,
  numelOf,
  orderStrides,
  permutation,
  stridedCopy,
  stridedCopyNew,
  suggestMemoryFormat,
  viewStrides,
} from './shape';
import { Tensor, checkStrides, checkTensor, makeTensor } from './tensor';
import * as validate from './validate';

export type QDType = 'quint8' | 'qint8' | 'qint32' | 'quint4x2';
export type QScheme = 'per_tensor_affine' | 'per_channel_affine' | 'per_channel_affine_float_qparams';

export const QDTYPES: readonly QDType[] = ['quint8', 'qint8', 'qint32', 'quint4x2'];

type StorageName = 'Uint8Array' | 'Int8Array' | 'Int32Array';

interface DTypeInfo {
  /** qk::QDType in native/src/ops/quantize.h. */
  readonly code: number;
  readonly qmin: number;
  readonly qmax: number;
  readonly storage: StorageName;
  /** Two 4-bit values per byte, element 2i in the low nibble of byte i. */
  readonly packed: boolean;
}

const DTYPE_INFO: { readonly [K in QDType]: DTypeInfo } = {
  quint8: { code: 0, qmin: 0, qmax: 255, storage: 'Uint8Array', packed: false },
  qint8: { code: 1, qmin: -128, qmax: 127, storage: 'Int8Array', packed: false },
  qint32: { code: 2, qmin: -2147483648, qmax: 2147483647, storage: 'Int32Array', packed: false },
  quint4x2: { code: 3, qmin: 0, qmax: 15, storage: 'Uint8Array', packed: true },
};

/** dtypes per qscheme: torch implements per_channel_affine for 8- and 32-bit, float qparams for quint8 and quint4x2. */
const PER_CHANNEL_AFFINE_DTYPES: readonly QDType[] = ['quint8', 'qint8', 'qint32'];
const FLOAT_QPARAMS_DTYPES: readonly QDType[] = ['quint8', 'quint4x2'];
const DYNAMIC_DTYPES: readonly ('quint8' | 'qint8')[] = ['quint8', 'qint8'];

/** How a QTensor maps integers to reals. */
/** @internal A QTensor's qparams by scheme (per-channel ones in typed arrays). */
export type Quantizer =
  | { readonly qscheme: 'per_tensor_affine'; readonly scale: number; readonly zeroPoint: number }
  | { readonly qscheme: 'per_channel_affine'; readonly scales: Float64Array; readonly zeroPoints: Int32Array; readonly axis: number }
  | {
      readonly qscheme: 'per_channel_affine_float_qparams';
      readonly scales: Float32Array;
      readonly zeroPoints: Float32Array;
      readonly axis: number;
    };

/** Storage length (in typed-array elements) of numel contiguous elements. */
function storageLength(dtype: QDType, numel: number): number {
  return DTYPE_INFO[dtype].packed ? Math.ceil(numel / 2) : numel;
}

function newStorage(dtype: QDType, length: number): QStorage {
  switch (DTYPE_INFO[dtype].storage) {
    case 'Int8Array':
      return new Int8Array(length);
    case 'Int32Array':
      return new Int32Array(length);
    default:
      return new Uint8Array(length);
  }
}

function unpackNibbles(packed: Uint8Array, elements: number): Uint8Array {
  const values = new Uint8Array(elements);
  for (let i = 0; i < elements; i++) values[i] = (packed[i >> 1] >> ((i & 1) * 4)) & 0xf;
  return values;
}

function packNibbles(values: Uint8Array): Uint8Array {
  const packed = new Uint8Array(Math.ceil(values.length / 2));
  for (let i = 0; i < values.length; i++) packed[i >> 1] |= (values[i] & 0xf) << ((i & 1) * 4);
  return packed;
}

/** A copy of (storage, strides) laid out densely with `toStrides` (packed dtypes unpack, copy, repack). */
function copyStorage(dtype: QDType, storage: QStorage, shape: readonly number[], fromStrides: readonly number[], toStrides: readonly number[]): QStorage {
  const numel = numelOf(shape);
  if (DTYPE_INFO[dtype].packed) {
    guardRead('a quint4x2 copy (computed in JS)', storage);
    const source = unpackNibbles(storage as Uint8Array, storage.length * 2);
    const target = new Uint8Array(numel);
    stridedCopy(source, fromStrides, target, toStrides, shape);
    return packNibbles(target);
  }
  return stridedCopyNew(storage, fromStrides, toStrides, shape, numel, (length) => newStorage(dtype, length));
}

/** The module-private key that lets only this file construct QTensors. */
const constructionKey = Symbol('QTensor construction');

/**
 * A quantized tensor: integers in `data` (the storage; see QDType) with the qparams that map
 * them to reals, `shape` and `strides` (in elements; for quint4x2 in 4-bit elements).
 * Made by quantizePerTensor, quantizePerChannel, quantizePerTensorDynamic and the
 * make*QuantizedTensor functions, never constructed directly.
 *
 * @example
 * const q = quantizePerTensor(tensor([0.1, 0.2]), 0.1, 3, 'quint8');
 * q.intRepr();     // Uint8Array [4, 5]
 * q.dequantize();  // tensor([0.1000, 0.2000])
 */
export class QTensor {
  /**
   * `instanceof QTensor` is true only for QTensors made here (see Tensor's): a look-alike cannot
   * lie about its shape. The brand is a private field, which only this class's constructor adds
   * (each instance is frozen after its checks); an object inheriting from a QTensor lacks it.
   * `#brand in value` costs a property lookup, where a WeakSet brand cost a hash insertion per
   * QTensor (about 0.15 us) and more GC work.
   */
  static [Symbol.hasInstance](value: unknown): boolean {
    return typeof value === 'object' && value !== null && #brand in value;
  }

  readonly #brand = true;

  readonly dtype: QDType;
  readonly qscheme: QScheme;
  readonly shape: readonly number[];
  readonly strides: readonly number[];
  /** The storage: Uint8Array (quint8; quint4x2 packed two per byte), Int8Array (qint8), Int32Array (qint32). */
  readonly data: QStorage;
  private readonly quantizer: Quantizer;

  /** @internal Use the quantize and make* functions. */
  constructor(key: symbol, data: QStorage, shape: readonly number[], strides: readonly number[], dtype: QDType, quantizer: Quantizer) {
    if (key !== constructionKey) {
      throw validate.invalidType(
        'QTensor made by quantizePerTensor, quantizePerChannel or make*QuantizedTensor (not new QTensor)',
        'QTensor constructor',
        key,
      );
    }
    this.data = data;
    this.shape = Object.isFrozen(shape) ? shape : Object.freeze(shape.slice());
    this.strides = Object.isFrozen(strides) ? strides : Object.freeze(strides.slice());
    this.dtype = dtype;
    this.qscheme = quantizer.qscheme;
    this.quantizer = quantizer;
    // shape, strides, data and qparams must stay consistent: the instance is immutable (data's values are not).
    Object.freeze(this);
  }

  /** @internal The same tensor (shape, strides, dtype, qparams) over other storage of the same kind and length (lib/handoff.ts). */
  static withStorage(x: QTensor, data: QStorage): QTensor {
    return new QTensor(constructionKey, data, x.shape, x.strides, x.dtype, x.quantizer);
  }

  numel(): number {
    return numelOf(this.shape);
  }

  dim(): number {
    return this.shape.length;
  }

  /** The integer values in logical (row-major) order, in a new typed array; quint4x2 packed, ceil(numel/2) bytes (like torch's int_repr). */
  intRepr(): QStorage {
    checkQTensor(this, 'this');
    guardRead('intRepr()', this.data);
    const numel = this.numel();
    if (isContiguousAs(this.shape, this.strides, 'contiguous_format')) return this.data.slice(0, storageLength(this.dtype, numel));
    return copyStorage(this.dtype, this.data, this.shape, this.strides, contiguousStrides(this.shape));
  }

  /** The real values: scale * (q - zeroPoint), per channel where the qscheme says so. */
  dequantize(): Tensor {
    return dequantize(this);
  }

  /** The scale of a per_tensor_affine tensor. */
  qScale(): number {
    return this.perTensor('qScale()').scale;
  }

  /** The zero point of a per_tensor_affine tensor. */
  qZeroPoint(): number {
    return this.perTensor('qZeroPoint()').zeroPoint;
  }

  /** A copy of the per-channel scales. */
  qPerChannelScales(): Float64Array {
    return Float64Array.from(this.perChannel('qPerChannelScales()').scales);
  }

  /** A copy of the per-channel zero points: Int32Array, or Float32Array for per_channel_affine_float_qparams. */
  qPerChannelZeroPoints(): Int32Array | Float32Array {
    return this.perChannel('qPerChannelZeroPoints()').zeroPoints.slice();
  }

  /** The dim the per-channel qparams run along. */
  qPerChannelAxis(): number {
    return this.perChannel('qPerChannelAxis()').axis;
  }

  /** True when the elements lie in `data` in the given format's order with no gaps (default contiguous_format). */
  isContiguous(memoryFormat?: MemoryFormat): boolean {
    return isContiguousAs(this.shape, this.strides, memoryFormatName(memoryFormat, 'memoryFormat'));
  }

  /**
   * The same values laid out in the given format (default contiguous_format; channels_last
   * for 4-D, channels_last_3d for 5-D): this tensor itself when already so, else a copy.
   */
  contiguous(memoryFormat?: MemoryFormat): QTensor {
    validate.attached(this.data, 'this.data');
    const format = memoryFormatFor(memoryFormat, this.shape.length, 'memoryFormat');
    if (isContiguousAs(this.shape, this.strides, format)) return this;
    checkQTensor(this, 'this');
    // Arrays made here are frozen in place: the constructor copies only arrays it finds unfrozen.
    const strides = Object.freeze(formatStrides(this.shape, format));
    const data = copyStorage(this.dtype, this.data, this.shape, this.strides, strides);
    return new QTensor(constructionKey, data, this.shape, strides, this.dtype, this.quantizer);
  }

  /** A view with another shape (-1 once: inferred); throws when the strides do not allow one (use reshape). */
  view(shape: readonly number[]): QTensor {
    validate.attached(this.data, 'this.data');
    const dims = inferShape(shape, this.numel(), 'shape');
    const quantizer = this.reshapedQuantizer(dims, shape);
    const strides = viewStrides(this.shape, this.strides, dims);
    if (strides === null) {
      throw validate.invalidRange('shape that a view of these strides can take (dims to merge must be contiguous; use reshape)', 'shape', shape);
    }
    return new QTensor(constructionKey, this.data, Object.freeze(dims), Object.freeze(strides), this.dtype, quantizer);
  }

  /** Another shape: a view when the strides allow it, else a contiguous copy. */
  reshape(shape: readonly number[]): QTensor {
    validate.attached(this.data, 'this.data');
    const dims = inferShape(shape, this.numel(), 'shape');
    const quantizer = this.reshapedQuantizer(dims, shape);
    const strides = viewStrides(this.shape, this.strides, dims);
    if (strides !== null) return new QTensor(constructionKey, this.data, Object.freeze(dims), Object.freeze(strides), this.dtype, quantizer);
    const dense = this.contiguous();
    return new QTensor(constructionKey, dense.data, Object.freeze(dims), Object.freeze(contiguousStrides(dims)), this.dtype, quantizer);
  }

  /** Merges dims startDim..endDim (inclusive, negatives count from the end) into one. */
  flatten(startDim = 0, endDim = -1): QTensor {
    const dims = flattenedShape(this.shape, startDim, endDim);
    return dims === undefined ? this : this.reshape(dims);
  }

  /** A view with the dims reordered: result dim i is this tensor's dim dims[i]. A per-channel axis moves with its dim. */
  permute(dims: readonly number[]): QTensor {
    validate.attached(this.data, 'this.data');
    const order = permutation(dims, this.shape.length, 'dims');
    const q = this.quantizer;
    const quantizer: Quantizer = q.qscheme === 'per_tensor_affine' ? q : { ...q, axis: order.indexOf(q.axis) };
    return new QTensor(
      constructionKey,
      this.data,
      order.map((d) => this.shape[d]),
      order.map((d) => this.strides[d]),
      this.dtype,
      quantizer,
    );
  }

  /** A view with dims dim0 and dim1 swapped (negatives count from the end), as torch's transpose. */
  transpose(dim0: number, dim1: number): QTensor {
    const rank = this.shape.length;
    const a = validate.axis(dim0, 'dim0', rank);
    const b = validate.axis(dim1, 'dim1', rank);
    if (rank === 0) return this;
    // permute's result for the swap, without checking again the permutation built here.
    validate.attached(this.data, 'this.data');
    // Pushed, not slice()d: a slice of a frozen array has another elements kind than the other
    // shapes, and the shape helpers' keyed loads slow down with every extra map they see.
    const shape: number[] = [];
    const strides: number[] = [];
    for (let d = 0; d < rank; d++) {
      const from = d === a ? b : d === b ? a : d;
      shape.push(this.shape[from]);
      strides.push(this.strides[from]);
    }
    const q = this.quantizer;
    const quantizer: Quantizer = q.qscheme === 'per_tensor_affine' ? q : { ...q, axis: q.axis === a ? b : q.axis === b ? a : q.axis };
    return new QTensor(constructionKey, this.data, Object.freeze(shape), Object.freeze(strides), this.dtype, quantizer);
  }

  /** A view of `length` indices of dim `dim` from `start` (torch's narrow); shares the storage. */
  narrow(dim: number, start: number, length: number): QTensor {
    const d = this.checkDimForView(dim, 'dim', 'narrow');
    const size = this.shape[d];
    const begin = validate.integerInRange(start, 'start', -size, size);
    const first = begin < 0 ? begin + size : begin;
    const count = validate.integerInRange(length, 'length', 0, size - first);
    return this.sliceView(d, first, count, 1);
  }

  /**
   * A view of indices start, start + step, ... below end of dim `dim` (torch's aten::slice,
   * Python's x[start:end:step]): start and end are clamped to the dim and may be negative; step >= 1.
   */
  slice(dim = 0, start?: number | null, end?: number | null, step = 1): QTensor {
    const d = this.checkDimForView(dim, 'dim', 'slice');
    const size = this.shape[d];
    const stride = validate.integerInRange(step, 'step', 1, Number.MAX_SAFE_INTEGER);
    const clampIndex = (value: unknown, parameter: string, fallback: number): number => {
      if (value === undefined || value === null) return fallback;
      const v = validate.integerInRange(value, parameter, Number.MIN_SAFE_INTEGER, Number.MAX_SAFE_INTEGER);
      const wrapped = v < 0 ? v + size : v;
      return Math.min(Math.max(wrapped, 0), size);
    };
    const first = clampIndex(start, 'start', 0);
    const last = Math.max(clampIndex(end, 'end', size), first);
    return this.sliceView(d, first, Math.ceil((last - first) / stride), stride);
  }

  /** torch.chunk: `chunks` views along dim of ceil(size / chunks) indices each (the last may be smaller; fewer when they run out). */
  chunk(chunks: number, dim = 0): QTensor[] {
    const count = validate.integerInRange(chunks, 'chunks', 1, Number.MAX_SAFE_INTEGER);
    const d = this.checkDimForView(dim, 'dim', 'chunk');
    const size = this.shape[d];
    const each = Math.ceil(size / count);
    if (each === 0) return Array.from({ length: count }, () => this.sliceView(d, 0, 0, 1));
    return this.split(each, d);
  }

  /**
   * torch.split: views along dim, either of splitSize indices each (the last takes the rest)
   * or, given an array, of exactly those sizes (which must add up to the dim's size).
   */
  split(splitSizeOrSections: number | readonly number[], dim = 0): QTensor[] {
    const d = this.checkDimForView(dim, 'dim', 'split');
    const size = this.shape[d];
    const parts: QTensor[] = [];
    if (Array.isArray(splitSizeOrSections)) {
      let total = 0;
      const sizes = validate.arrayOnce(splitSizeOrSections, 'splitSizeOrSections', 'array of sizes', size + validate.MAX_RANK).map((v: unknown, i: number) => validate.nonNegativeInteger(v, `splitSizeOrSections[${i}]`));
      for (const v of sizes) total += v;
      if (total !== size) {
        throw validate.invalidRange(`sizes that add up to ${size} (the size of dim ${d})`, 'splitSizeOrSections', splitSizeOrSections);
      }
      let start = 0;
      for (const v of sizes) {
        parts.push(this.sliceView(d, start, v, 1));
        start += v;
      }
      return parts;
    }
    const each = validate.nonNegativeInteger(splitSizeOrSections, 'splitSizeOrSections');
    if (each === 0) {
      if (size !== 0) throw validate.invalidRange(`positive integer (dim ${d} has size ${size})`, 'splitSizeOrSections', splitSizeOrSections);
      return [this];
    }
    for (let start = 0; start < size || (size === 0 && start === 0); start += each) {
      parts.push(this.sliceView(d, start, Math.min(each, size - start), 1));
      if (size === 0) break;
    }
    return parts;
  }

  /** A view with a size-1 dim inserted at `dim` (in [-rank - 1, rank]). */
  unsqueeze(dim: number): QTensor {
    const rank = this.shape.length;
    const d = validate.axis(dim, 'dim', rank + 1);
    const shape = [...this.shape.slice(0, d), 1, ...this.shape.slice(d)];
    return this.view(shape);
  }

  /** A view without size-1 dims (all of them, or only `dim` when given and of size 1). */
  squeeze(dim?: number): QTensor {
    const rank = this.shape.length;
    if (dim === undefined) return this.reshape(this.shape.filter((size) => size !== 1));
    const d = validate.axis(dim, 'dim', rank);
    if (rank === 0 || this.shape[d] !== 1) return this;
    return this.reshape([...this.shape.slice(0, d), ...this.shape.slice(d + 1)]);
  }

  /**
   * torch.mean over dims of a per_tensor_affine QTensor (quint8 or qint8), with the input's
   * qparams, as torch's quantized mean: dequantize, average in float, quantize. dim: a dim,
   * an array of dims, or undefined for all of them.
   */
  mean(dim?: number | readonly number[], keepdim = false): QTensor {
    return quantizedMean(this, dim, keepdim);
  }

  /** As torch prints it: dequantized values, then size, dtype, quantization_scheme and the qparams. */
  toString(): string {
    guardRead('toString()', this.data);
    const values = this.dequantize().contiguous().data.subarray(0, this.numel());
    const suffixes = [`size=${pythonTuple(this.shape)}`, `dtype=torch.${this.dtype}`, `quantization_scheme=torch.${this.qscheme}`];
    const q = this.quantizer;
    if (q.qscheme === 'per_tensor_affine') {
      suffixes.push(`scale=${pythonFloatRepr(q.scale)}`, `zero_point=${q.zeroPoint}`);
    } else {
      const floatQParams = q.qscheme === 'per_channel_affine_float_qparams';
      const channels = [q.scales.length];
      suffixes.push(
        `scale=${plainTensorRepr(q.scales, channels, floatQParams ? 'float32' : 'float64')}`,
        `zero_point=${plainTensorRepr(q.zeroPoints, channels, floatQParams ? 'float32' : 'int64')}`,
        `axis=${q.axis}`,
      );
    }
    return tensorRepr(values, this.shape, true, suffixes);
  }

  [validate.inspectSymbol](): string {
    return this.toString();
  }

  [validate.describeSymbol](): string {
    return `QTensor(size=[${this.shape.join(', ')}], dtype=${this.dtype}, qscheme=${this.qscheme})`;
  }

  private perTensor(accessor: string): Extract<Quantizer, { qscheme: 'per_tensor_affine' }> {
    const q = this.quantizer;
    if (q.qscheme !== 'per_tensor_affine') throw validate.invalidType('per_tensor_affine QTensor', accessor, this);
    return q;
  }

  private perChannel(accessor: string): Exclude<Quantizer, { qscheme: 'per_tensor_affine' }> {
    const q = this.quantizer;
    if (q.qscheme === 'per_tensor_affine') throw validate.invalidType('per_channel_affine or per_channel_affine_float_qparams QTensor', accessor, this);
    return q;
  }

  /** A dim argument of a view that cuts along it (narrow, slice, chunk, split): a tensor with at least one dim. */
  private checkDimForView(dim: unknown, parameter: string, op: string): number {
    validate.attached(this.data, 'this.data');
    if (this.shape.length === 0) throw validate.invalidRange(`tensor with at least 1 dim (${op} cuts along a dim)`, 'this', this);
    return validate.axis(dim, parameter, this.shape.length);
  }

  /**
   * The view of `count` indices of dim d from `first`, `step` apart. Shares the storage (a
   * subarray of `data`); quint4x2 views that would start inside a byte are copies instead.
   * Per-channel qparams along d are cut the same way.
   */
  private sliceView(d: number, first: number, count: number, step: number): QTensor {
    const shape = this.shape.slice();
    shape[d] = count;
    const strides = this.strides.slice();
    strides[d] = this.strides[d] * step;
    const offset = count === 0 ? 0 : first * this.strides[d];
    let quantizer = this.quantizer;
    if (quantizer.qscheme !== 'per_tensor_affine' && quantizer.axis === d) {
      const pick = <A extends Float64Array | Float32Array | Int32Array>(values: A): A => {
        const out = new (values.constructor as { new (n: number): A })(count);
        for (let i = 0; i < count; i++) out[i] = values[first + i * step];
        return out;
      };
      quantizer = { ...quantizer, scales: pick(quantizer.scales), zeroPoints: pick(quantizer.zeroPoints) } as Quantizer;
    }
    if (!DTYPE_INFO[this.dtype].packed) {
      return new QTensor(constructionKey, this.data.subarray(offset), shape, strides, this.dtype, quantizer);
    }
    if (offset % 2 === 0) {
      return new QTensor(constructionKey, this.data.subarray(offset / 2), shape, strides, this.dtype, quantizer);
    }
    guardRead('a quint4x2 view starting inside a byte (copied in JS)', this.data);
    const nibbles = unpackNibbles(this.data as Uint8Array, this.data.length * 2).subarray(offset);
    const dense = new Uint8Array(numelOf(shape));
    const denseStrides = contiguousStrides(shape);
    stridedCopy(nibbles, strides, dense, denseStrides, shape);
    return new QTensor(constructionKey, packNibbles(dense), shape, denseStrides, this.dtype, quantizer);
  }

  /**
   * The quantizer after a reshape to `dims`: per-tensor qparams carry over; a per-channel
   * axis must survive whole, as some dim k of the new shape with the same size and the
   * same number of elements before it.
   */
  private reshapedQuantizer(dims: readonly number[], requested: unknown): Quantizer {
    const q = this.quantizer;
    if (q.qscheme === 'per_tensor_affine') return q;
    const before = numelOf(this.shape.slice(0, q.axis));
    const size = this.shape[q.axis];
    let prefix = 1;
    for (let k = 0; k < dims.length; k++) {
      if (prefix === before && dims[k] === size) return { ...q, axis: k };
      prefix *= dims[k];
    }
    throw validate.invalidRange(
      `shape that keeps the per-channel axis (dim ${q.axis}, size ${size}) as one dim with the same elements before it`,
      'shape',
      requested,
    );
  }
}

/** Throws the TypeError for anything that is not a QTensor (or whose storage was transferred away). */
export function checkQTensor(value: unknown, parameter: string): QTensor {
  if (!(value instanceof QTensor)) throw validate.invalidType('QTensor', parameter, value);
  validate.attached(value.data, `${parameter}.data`);
  return value;
}

// ---- argument checks shared by the quantize and make functions -----------------------------

function checkDType(value: unknown, parameter: string, allowed: readonly QDType[], why?: string): QDType {
  const dtype = validate.oneOf(value, parameter, QDTYPES);
  if (!allowed.includes(dtype)) throw validate.invalidRange(`one of ${allowed.join(', ')}${why ? ` (${why})` : ''}`, parameter, value);
  return dtype;
}

/** A zero point: an integer in the dtype's range. */
export function checkZeroPoint(value: unknown, parameter: string, dtype: QDType): number {
  const info = DTYPE_INFO[dtype];
  return validate.integerInRange(value, parameter, info.qmin, info.qmax);
}

/**
 * Per-channel values as numbers: a 1-D Tensor or an array / typed array of numbers, exactly
 * one per channel.
 */
function channelValues(value: unknown, parameter: string, channels: number, axisIndex: number): ArrayLike<number> {
  const what = `${channels} values (one per channel of dim ${axisIndex})`;
  let values: ArrayLike<number>;
  if (value instanceof Tensor) {
    checkTensor(value, parameter);
    if (value.dim() !== 1) throw validate.invalidRange(`1-D Tensor of ${what}`, parameter, value);
    values = value.contiguous().data.subarray(0, value.numel());
  } else {
    values = validate.numberList(value, parameter, `Tensor or array of ${what}`);
  }
  if (values.length !== channels) throw validate.invalidRange(what, parameter, value);
  for (let i = 0; i < values.length; i++) {
    if (typeof values[i] !== 'number') throw validate.invalidType('number', `${parameter}[${i}]`, values[i]);
  }
  return values;
}

function affineScales(value: unknown, channels: number, axisIndex: number): Float64Array {
  const values = channelValues(value, 'scales', channels, axisIndex);
  const scales = new Float64Array(channels);
  for (let c = 0; c < channels; c++) scales[c] = validate.positiveFiniteNumber(values[c], `scales[${c}]`);
  return scales;
}

/** Float-qparams scales live in fp32, as torch keeps them; a value fp32 cannot hold as a positive finite number is rejected. */
function floatScales(value: unknown, channels: number, axisIndex: number): Float32Array {
  const values = channelValues(value, 'scales', channels, axisIndex);
  const scales = new Float32Array(channels);
  for (let c = 0; c < channels; c++) {
    scales[c] = validate.positiveFiniteNumber(values[c], `scales[${c}]`);
    if (!(Number.isFinite(scales[c]) && scales[c] > 0)) throw validate.invalidRange('positive number finite in float32', `scales[${c}]`, values[c]);
  }
  return scales;
}

function affineZeroPoints(value: unknown, channels: number, axisIndex: number, dtype: QDType): Int32Array {
  const values = channelValues(value, 'zeroPoints', channels, axisIndex);
  const zeroPoints = new Int32Array(channels);
  for (let c = 0; c < channels; c++) zeroPoints[c] = checkZeroPoint(values[c], `zeroPoints[${c}]`, dtype);
  return zeroPoints;
}

function floatZeroPoints(value: unknown, channels: number, axisIndex: number): Float32Array {
  const values = channelValues(value, 'zeroPoints', channels, axisIndex);
  const zeroPoints = new Float32Array(channels);
  for (let c = 0; c < channels; c++) {
    zeroPoints[c] = validate.finiteNumber(values[c], `zeroPoints[${c}]`);
    if (!Number.isFinite(zeroPoints[c])) throw validate.invalidRange('number finite in float32', `zeroPoints[${c}]`, values[c]);
  }
  return zeroPoints;
}

/** Float zero points (a Tensor or a Float32Array) select per_channel_affine_float_qparams, as in torch. */
function hasFloatZeroPoints(zeroPoints: unknown): boolean {
  return zeroPoints instanceof Tensor || validate.typedArrayKind(zeroPoints, ['Float32Array']) !== undefined;
}

interface ChannelQParams {
  readonly dtype: QDType;
  readonly quantizer: Exclude<Quantizer, { qscheme: 'per_tensor_affine' }>;
}

/** Reads (scales, zeroPoints, axis, dtype) of a per-channel quantizer for a tensor of `shape`. */
function channelQParams(shape: readonly number[], scales: unknown, zeroPoints: unknown, axisValue: unknown, dtypeValue: unknown): ChannelQParams {
  const axisIndex = validate.channelAxis(axisValue, 'axis', shape.length);
  const channels = shape[axisIndex];
  const floatQParams = hasFloatZeroPoints(zeroPoints);
  const allowed = floatQParams ? FLOAT_QPARAMS_DTYPES : PER_CHANNEL_AFFINE_DTYPES;
  const why = floatQParams
    ? 'float zero points make per_channel_affine_float_qparams'
    : 'integer zero points make per_channel_affine; use float zero points for quint4x2';
  const dtype = checkDType(dtypeValue, 'dtype', allowed, why);
  if (floatQParams) {
    return {
      dtype,
      quantizer: {
        qscheme: 'per_channel_affine_float_qparams',
        scales: floatScales(scales, channels, axisIndex),
        zeroPoints: floatZeroPoints(zeroPoints, channels, axisIndex),
        axis: axisIndex,
      },
    };
  }
  return {
    dtype,
    quantizer: {
      qscheme: 'per_channel_affine',
      scales: affineScales(scales, channels, axisIndex),
      zeroPoints: affineZeroPoints(zeroPoints, channels, axisIndex, dtype),
      axis: axisIndex,
    },
  };
}

/** {outer, channels, inner} of a dense buffer in `format` for per-channel qparams along `axisIndex`. */
function channelLayout(shape: readonly number[], format: MemoryFormat, axisIndex: number): [number, number, number] {
  const order = memoryOrder(format, shape.length);
  const position = order.indexOf(axisIndex);
  const outer = numelOf(order.slice(0, position).map((d) => shape[d]));
  const inner = numelOf(order.slice(position + 1).map((d) => shape[d]));
  return [outer, shape[axisIndex], inner];
}

// ---- the op plans: validate once, then run now or off the event loop ---------------------------

/**
 * The input's values, dense in the memory format its output will have: the suggested one,
 * or contiguous_format when the op always produces that (float-qparams, as in torch).
 */
function denseInput(input: Tensor, keepFormat = true): { data: Float32Array; format: MemoryFormat } {
  const format = keepFormat ? suggestMemoryFormat(input.shape, input.strides) : 'contiguous_format';
  // Dense already (the common case): its own storage, without contiguous()'s argument checks.
  const dense = isContiguousAs(input.shape, input.strides, format) ? input : input.contiguous(format);
  const numel = dense.numel();
  return { data: dense.data.length === numel ? dense.data : dense.data.subarray(0, numel), format };
}

/** @internal The storage of q laid out densely (in its suggested memory format, or contiguous), trimmed to numel. */
export function denseQuantized(q: QTensor, keepFormat = true): { data: QStorage; format: MemoryFormat } {
  const format = keepFormat ? suggestMemoryFormat(q.shape, q.strides) : 'contiguous_format';
  validate.attached(q.data, 'this.data');
  const dense = isContiguousAs(q.shape, q.strides, format) ? q : q.contiguous(format);
  const length = storageLength(q.dtype, q.numel());
  return { data: dense.data.length === length ? dense.data : dense.data.subarray(0, length), format };
}

/** @internal `inputName` is the caller's name for the input (quantizePerTensor's `input`, a module's `x`). */
export function planQuantizePerTensor(input: unknown, scale: unknown, zeroPoint: unknown, dtype: unknown, inputName = 'input'): OpPlan<QTensor> {
  const x = checkTensor(input, inputName);
  const s = validate.positiveFiniteNumber(scale, 'scale');
  const type = checkDType(dtype, 'dtype', QDTYPES);
  const zp = checkZeroPoint(zeroPoint, 'zeroPoint', type);
  const { data, format } = denseInput(x);
  const code = DTYPE_INFO[type].code;
  const quantizer: Quantizer = { qscheme: 'per_tensor_affine', scale: s, zeroPoint: zp };
  const args = [data, s, zp, code] as const;
  return makePlan(
    () => addon.quantizePerTensor(...args),
    () => addon.quantizePerTensorAsync(...args),
    (storage) => new QTensor(constructionKey, storage, x.shape, frozenFormatStrides(x.shape, format, x.strides), type, quantizer),
    { op: 'quantizePerTensor', args },
  );
}

/** @internal */
export function planQuantizePerChannel(input: unknown, scales: unknown, zeroPoints: unknown, axis: unknown, dtype: unknown): OpPlan<QTensor> {
  const x = checkTensor(input, 'input');
  if (x.dim() < 1) throw validate.invalidRange('Tensor with at least 1 dim (per-channel qparams need a channel axis)', 'input', input);
  const { dtype: type, quantizer } = channelQParams(x.shape, scales, zeroPoints, axis, dtype);
  // torch's float-qparams quantizer always writes a contiguous output; the affine ones keep channels_last.
  const { data, format } = denseInput(x, quantizer.qscheme === 'per_channel_affine');
  const [outer, channels, inner] = channelLayout(x.shape, format, quantizer.axis);
  const code = DTYPE_INFO[type].code;
  const finish = (storage: QStorage): QTensor =>
    new QTensor(constructionKey, storage, x.shape, formatStrides(x.shape, format), type, quantizer);
  if (quantizer.qscheme === 'per_channel_affine_float_qparams') {
    const args = [data, outer, channels, inner, quantizer.scales, quantizer.zeroPoints, code] as const;
    return makePlan(
      () => addon.quantizePerChannelFloatQParams(...args),
      () => addon.quantizePerChannelFloatQParamsAsync(...args),
      finish,
      { op: 'quantizePerChannelFloatQParams', args },
    );
  }
  const args = [data, outer, channels, inner, quantizer.scales, quantizer.zeroPoints, code] as const;
  return makePlan(
    () => addon.quantizePerChannel(...args),
    () => addon.quantizePerChannelAsync(...args),
    finish,
    { op: 'quantizePerChannel', args },
  );
}

/**
 * @internal x * multipliers[c] + offsets[c] over the channels (dim 1) of an fp32 [N, C, ...]
 * tensor, in fp32 (a multiply then an add, each rounded: torch's `x * a + b`), natively so a
 * traced forward records it (GoogLeNet's and Inception v3's transform_input). Contiguous output.
 */
export function scaleShiftChannels(x: Tensor, multipliers: Float32Array, offsets: Float32Array): Tensor {
  const [n, c] = x.shape;
  const inner = numelOf(x.shape.slice(2));
  const args = [x.contiguous().data, n, c, inner, multipliers, offsets] as const;
  return makePlan(
    () => addon.scaleShiftChannels(...args),
    () => addon.scaleShiftChannelsAsync(...args),
    (out) => makeTensor(out, x.shape, contiguousStrides(x.shape)),
    { op: 'scaleShiftChannels', args },
  ).run();
}

/** @internal `inputName` is the caller's name for the input (dequantize's `q`, a module's `x`). */
export function planDequantize(q: unknown, inputName = 'q'): OpPlan<Tensor> {
  const input = checkQTensor(q, inputName);
  // The float32 output is the largest buffer here; say so before V8's allocation fails.
  validate.storageFits(input.numel(), 4, inputName, q);
  const qp = input['quantizer']; // TS allows this one escape hatch to a private member, for ops in this file
  // As in torch: float-qparams dequantize writes a contiguous output; the others keep channels_last.
  const { data, format } = denseQuantized(input, qp.qscheme !== 'per_channel_affine_float_qparams');
  const shape = input.shape;
  const numel = input.numel();
  const code = DTYPE_INFO[input.dtype].code;
  const finish = (values: Float32Array): Tensor => makeTensor(values, shape, frozenFormatStrides(shape, format, input.strides));
  if (qp.qscheme === 'per_tensor_affine') {
    const args = [data, code, numel, qp.scale, qp.zeroPoint] as const;
    return makePlan(
      () => addon.dequantizePerTensor(...args),
      () => addon.dequantizePerTensorAsync(...args),
      finish,
      { op: 'dequantizePerTensor', args },
    );
  }
  const [outer, channels, inner] = channelLayout(shape, format, qp.axis);
  if (qp.qscheme === 'per_channel_affine_float_qparams') {
    const args = [data, code, outer, channels, inner, qp.scales, qp.zeroPoints] as const;
    return makePlan(
      () => addon.dequantizePerChannelFloatQParams(...args),
      () => addon.dequantizePerChannelFloatQParamsAsync(...args),
      finish,
      { op: 'dequantizePerChannelFloatQParams', args },
    );
  }
  const args = [data, code, outer, channels, inner, qp.scales, qp.zeroPoints] as const;
  return makePlan(
    () => addon.dequantizePerChannel(...args),
    () => addon.dequantizePerChannelAsync(...args),
    finish,
    { op: 'dequantizePerChannel', args },
  );
}

// ---- public functions -----------------------------------------------------------------------

/**
 * torch.quantize_per_tensor: q = clamp(zeroPoint + round(x / scale), qmin, qmax), ties to even.
 *
 * @example
 * const q = quantizePerTensor(tensor(data, [20, 16, 50]), 0.05, 128, 'quint8');
 */
export function quantizePerTensor(input: Tensor, scale: number, zeroPoint: number, dtype: QDType): QTensor {
  return planQuantizePerTensor(input, scale, zeroPoint, dtype).run();
}

/**
 * torch.quantize_per_channel: one (scale, zeroPoint) per index of dim `axis`. Integer zero
 * points (number[], Int32Array, ...) give per_channel_affine (quint8, qint8, qint32); float
 * zero points (a Tensor or a Float32Array) give per_channel_affine_float_qparams (quint8, quint4x2).
 *
 * @example
 * const w = quantizePerChannel(tensor(wData, [33, 16, 3]), scales, zeroPoints, 0, 'qint8');
 */
export function quantizePerChannel(
  input: Tensor,
  scales: Tensor | ArrayLike<number>,
  zeroPoints: Tensor | ArrayLike<number>,
  axis: number,
  dtype: QDType,
): QTensor {
  return planQuantizePerChannel(input, scales, zeroPoints, axis, dtype).run();
}

/**
 * torch.quantize_per_tensor_dynamic: scale and zero point chosen from the input's min and
 * max (widened to include 0) by PyTorch's ChooseQuantizationParams; reduceRange halves the
 * integer range (7 bits), as the x86 engines use it.
 */
export function quantizePerTensorDynamic(input: Tensor, dtype: 'quint8' | 'qint8', reduceRange: boolean): QTensor {
  const x = checkTensor(input, 'input');
  const type = validate.oneOf(dtype, 'dtype', DYNAMIC_DTYPES);
  const reduce = validate.boolean(reduceRange, 'reduceRange');
  if (x.numel() === 0) throw validate.invalidRange('non-empty Tensor (its min and max choose the qparams)', 'input', input);
  guardRead('quantizePerTensorDynamic (its qparams come from the values)', x.data);
  const values = x.contiguous().data.subarray(0, x.numel());
  // The binding scans for NaN and infinities before its min/max: its error, said in this API's words.
  let chosen: { scale: number; zeroPoint: number };
  try {
    chosen = addon.chooseQuantizationParams(values, DTYPE_INFO[type].code, reduce);
  } catch (error) {
    if (error instanceof RangeError && error.message.startsWith('Expected tensor of finite values for input')) {
      throw validate.invalidRange('Tensor of finite values (no NaN or infinity)', 'input', input);
    }
    throw error;
  }
  return planQuantizePerTensor(x, chosen.scale, chosen.zeroPoint, type).run();
}

/** torch.dequantize: the real values of a QTensor, as a float32 Tensor (channels_last stays channels_last). */
export function dequantize(q: QTensor): Tensor {
  return planDequantize(q).run();
}

/** The storage of a make* call: the typed array kind decides the default dtype. */
function makeStorage(data: unknown, dtypeValue: unknown, shape: readonly number[], allowed: readonly QDType[]): { storage: QStorage; dtype: QDType } {
  const kind = validate.typedArrayKind(data, ['Uint8Array', 'Int8Array', 'Int32Array']);
  if (kind === undefined) throw validate.invalidType('Uint8Array, Int8Array or Int32Array', 'data', data);
  const storage = data as QStorage;
  validate.attached(storage, 'data');
  const defaultDType: QDType = kind === 'Int8Array' ? 'qint8' : kind === 'Int32Array' ? 'qint32' : 'quint8';
  const dtype = checkDType(dtypeValue === undefined ? defaultDType : dtypeValue, 'dtype', allowed);
  const info = DTYPE_INFO[dtype];
  if (info.storage !== kind) throw validate.invalidType(`${info.storage} (the storage of ${dtype})`, 'data', data);
  const length = storageLength(dtype, numelOf(shape));
  if (storage.length !== length) {
    const unit = info.packed ? 'bytes (two 4-bit values per byte)' : 'elements';
    throw validate.invalidRange(`${info.storage} of ${length} ${unit} for shape [${shape.join(', ')}] as ${dtype}`, 'data', data);
  }
  return { storage, dtype };
}

/**
 * torch._make_per_tensor_quantized_tensor: a QTensor over integers you already have. `data`
 * is used in place; dtype defaults from its type (Uint8Array quint8, Int8Array qint8,
 * Int32Array qint32); quint4x2 takes packed bytes, ceil(numel / 2) of them.
 *
 * @example
 * const q = makePerTensorQuantizedTensor(new Uint8Array(32), [4, 8], 0.1, 3, 'quint8');
 */
export function makePerTensorQuantizedTensor(
  data: Uint8Array | Int8Array | Int32Array,
  shape: readonly number[],
  scale: number,
  zeroPoint: number,
  dtype?: QDType,
): QTensor {
  const dims = validate.shape(shape, 'shape');
  const { storage, dtype: type } = makeStorage(data, dtype, dims, QDTYPES);
  const s = validate.positiveFiniteNumber(scale, 'scale');
  const zp = checkZeroPoint(zeroPoint, 'zeroPoint', type);
  return new QTensor(constructionKey, storage, dims, contiguousStrides(dims), type, { qscheme: 'per_tensor_affine', scale: s, zeroPoint: zp });
}

/**
 * @internal A per-tensor QTensor over storage a native op has just produced, without
 * makePerTensorQuantizedTensor's checks: the caller guarantees that `storage` is a fresh typed
 * array of exactly numel(shape) elements of dtype's storage kind, that `shape` and `strides`
 * are frozen and lay the storage out densely (contiguous, or a channels-last permutation of it),
 * and that the qparams passed that dtype's checks (zeroPoint
 * without a sign of zero). Used by ops' per-call fast paths.
 */
export function wrapPerTensorOutput(
  storage: QStorage,
  shape: readonly number[],
  strides: readonly number[],
  scale: number,
  zeroPoint: number,
  dtype: QDType,
): QTensor {
  return new QTensor(constructionKey, storage, shape, strides, dtype, { qscheme: 'per_tensor_affine', scale, zeroPoint });
}

/**
 * @internal The per-tensor QTensor over storage a native op has just returned, holding
 * `shape`'s elements densely with its dims in memory `order` (outermost first; null: row-major):
 * the strides of that layout are computed here, where the ops used to make a contiguous
 * QTensor of the permuted shape and permute it (two QTensors, two checks of the same values).
 * The qparams must already be checked (as for wrapPerTensorOutput); the storage's length is
 * checked here, so that a wrong length never becomes a QTensor whose strides reach outside it.
 */
export function denseOutput(storage: QStorage, shape: readonly number[], order: readonly number[] | null, scale: number, zeroPoint: number, dtype: QDType): QTensor {
  const numel = numelOf(shape);
  if (storage.length !== storageLength(dtype, numel)) {
    throw new Error(`qkernels: an op returned ${storage.length} elements for an output of shape [${shape.join(', ')}] (${dtype}); please report this`);
  }
  const strides = Object.freeze(order === null ? contiguousStrides(shape) : orderStrides(shape, order));
  return new QTensor(constructionKey, storage, shape, strides, dtype, { qscheme: 'per_tensor_affine', scale, zeroPoint });
}

/**
 * torch._make_per_channel_quantized_tensor: a per-channel QTensor over integers you already
 * have (`data` used in place). Float zero points (a Tensor or a Float32Array) make
 * per_channel_affine_float_qparams, as torch does.
 *
 * @example
 * const qc = makePerChannelQuantizedTensor(new Int8Array(32), [4, 8], scales, zeroPoints, 0, 'qint8');
 */
export function makePerChannelQuantizedTensor(
  data: Uint8Array | Int8Array | Int32Array,
  shape: readonly number[],
  scales: Tensor | ArrayLike<number>,
  zeroPoints: Tensor | ArrayLike<number>,
  axis: number,
  dtype?: QDType,
): QTensor {
  const dims = validate.shape(shape, 'shape');
  if (dims.length < 1) throw validate.invalidRange('shape with at least 1 dim (per-channel qparams need a channel axis)', 'shape', shape);
  const { storage, dtype: type } = makeStorage(data, dtype, dims, QDTYPES);
  const { quantizer } = channelQParams(dims, scales, zeroPoints, axis, type);
  return new QTensor(constructionKey, storage, dims, contiguousStrides(dims), type, quantizer);
}

// ---- constructors and ops for the other files of lib/ ---------------------------------------------

/**
 * @internal The weights loader's constructor: a QTensor with any strides over `data` (a view
 * of a file's bytes, used in place), its qparams checked as make*QuantizedTensor checks them.
 * `qparams` is { scale, zeroPoint } for per_tensor_affine, or { scales, zeroPoints, axis } for
 * the per-channel schemes (float zero points select per_channel_affine_float_qparams).
 * Strides are in elements (4-bit elements for quint4x2); every addressed element must lie in `data`.
 */
export function makeStridedQuantizedTensor(
  data: QStorage,
  shape: readonly number[],
  strides: readonly number[],
  dtype: QDType,
  qparams:
    | { scale: number; zeroPoint: number }
    | { scales: ArrayLike<number> | Tensor | Float64Array | Float32Array; zeroPoints: ArrayLike<number> | Tensor | Int32Array | Float32Array; axis: number },
): QTensor {
  const dims = validate.shape(shape, 'shape');
  const type = checkDType(dtype, 'dtype', QDTYPES);
  const info = DTYPE_INFO[type];
  if (validate.typedArrayKind(data, [info.storage]) === undefined) throw validate.invalidType(`${info.storage} (the storage of ${type})`, 'data', data);
  const capacity = info.packed ? data.length * 2 : data.length;
  const layout = checkStrides(strides, dims, data, capacity, (extent) => `${info.storage} holding at least ${extent} ${type} elements`);
  if ('scale' in qparams) {
    const scale = validate.positiveFiniteNumber(qparams.scale, 'scale');
    const zeroPoint = checkZeroPoint(qparams.zeroPoint, 'zeroPoint', type);
    return new QTensor(constructionKey, data, dims, layout, type, { qscheme: 'per_tensor_affine', scale, zeroPoint });
  }
  if (dims.length < 1) throw validate.invalidRange('shape with at least 1 dim (per-channel qparams need a channel axis)', 'shape', shape);
  const quantizer = typedChannelQuantizer(dims, qparams.scales, qparams.zeroPoints, qparams.axis, type) ?? channelQParams(dims, qparams.scales, qparams.zeroPoints, qparams.axis, type).quantizer;
  return new QTensor(constructionKey, data, dims, layout, type, quantizer);
}

/**
 * The quantizer of per-channel qparams already in typed arrays (Float64Array scales with
 * Int32Array zero points, or Float32Array scales and zero points for float qparams), checked
 * in one tight loop each: a weights file has tens of thousands of channels, and the per-value
 * checks of channelQParams cost more than reading the file. Returns undefined when anything
 * is off, so channelQParams reports it with its usual message.
 */
function typedChannelQuantizer(dims: readonly number[], scales: unknown, zeroPoints: unknown, axis: unknown, dtype: QDType): Quantizer | undefined {
  if (typeof axis !== 'number' || !Number.isInteger(axis) || axis < 0 || axis >= dims.length) return undefined;
  const channels = dims[axis];
  const floatQParams = validate.typedArrayKind(zeroPoints, ['Float32Array']) !== undefined;
  const scaleKind = validate.typedArrayKind(scales, [floatQParams ? 'Float32Array' : 'Float64Array']);
  if (scaleKind === undefined || validate.typedArrayKind(zeroPoints, [floatQParams ? 'Float32Array' : 'Int32Array']) === undefined) return undefined;
  const s = (scales as Float64Array | Float32Array).slice();
  const z = (zeroPoints as Int32Array | Float32Array).slice();
  if (s.length !== channels || z.length !== channels || !(floatQParams ? FLOAT_QPARAMS_DTYPES : PER_CHANNEL_AFFINE_DTYPES).includes(dtype)) return undefined;
  for (let c = 0; c < channels; c++) if (!(s[c] > 0 && s[c] < Infinity)) return undefined;
  if (floatQParams) {
    for (let c = 0; c < channels; c++) if (!Number.isFinite(z[c])) return undefined;
    return { qscheme: 'per_channel_affine_float_qparams', scales: s as Float32Array, zeroPoints: z as Float32Array, axis };
  }
  const { qmin, qmax } = DTYPE_INFO[dtype];
  for (let c = 0; c < channels; c++) if (z[c] < qmin || z[c] > qmax) return undefined;
  return { qscheme: 'per_channel_affine', scales: s as Float64Array, zeroPoints: z as Int32Array, axis };
}


/** @internal A QTensor like `q` (shape, strides, dtype, qparams) over other storage of the same length: a traced plan's output. */
export function withStorage(q: QTensor, storage: QStorage): QTensor {
  return new QTensor(constructionKey, storage, q.shape, q.strides, q.dtype, q['quantizer']);
}

/** @internal q's qparams (jit's TracedModule.share describes tensors by them). */
export function quantizerOf(q: QTensor): Quantizer {
  return q['quantizer'];
}

/**
 * @internal A QTensor's metadata over empty storage, from parts quantizerOf and the public
 * fields gave on another thread (TracedModule.share/jit.adopt): not checked again, since they
 * come from a QTensor this file made.
 */
export function metadataQTensor(storage: QStorage, shape: readonly number[], strides: readonly number[], dtype: QDType, quantizer: Quantizer): QTensor {
  return new QTensor(constructionKey, storage, Object.freeze([...shape]), Object.freeze([...strides]), dtype, quantizer);
}

/** @internal Whether a and b have the same dtype and qparams (scheme, values, axis). */
export function sameQParams(a: QTensor, b: QTensor): boolean {
  const p = a['quantizer'];
  const q = b['quantizer'];
  if (a.dtype !== b.dtype || p.qscheme !== q.qscheme) return false;
  if (p.qscheme === 'per_tensor_affine' || q.qscheme === 'per_tensor_affine') {
    return p.qscheme === 'per_tensor_affine' && q.qscheme === 'per_tensor_affine' && p.scale === q.scale && p.zeroPoint === q.zeroPoint;
  }
  const same = (x: ArrayLike<number>, y: ArrayLike<number>) => x.length === y.length && Array.prototype.every.call(x, (v: number, i: number) => Object.is(v, y[i]));
  return p.axis === q.axis && same(p.scales, q.scales) && same(p.zeroPoints, q.zeroPoints);
}

/**
 * @internal A per_tensor_affine QTensor over storage that an op produced (dense in the layout
 * `strides` describe); the qparams must already be checked.
 */
export function makePerTensorQTensor(
  storage: QStorage,
  shape: readonly number[],
  strides: readonly number[],
  dtype: QDType,
  scale: number,
  zeroPoint: number,
): QTensor {
  return new QTensor(constructionKey, storage, shape, strides, dtype, { qscheme: 'per_tensor_affine', scale, zeroPoint });
}

/** @internal The dims a reduction runs over: a dim, an array of distinct dims (negatives wrap), or all dims. */
export function reductionDims(dim: unknown, rank: number): number[] {
  if (dim === undefined || dim === null) return Array.from({ length: rank }, (_, d) => d);
  if (typeof dim === 'number') return [validate.axis(dim, 'dim', rank)];
  if (!Array.isArray(dim)) throw validate.invalidType('integer or array of integers', 'dim', dim);
  const items = validate.arrayOnce(dim, 'dim', 'array of dims', Math.max(rank, 1));
  // Loops, no Set, and a dim's name built only for its error: mean runs per call at a model's head.
  const effective = Math.max(rank, 1);
  const dims = new Array<number>(items.length);
  for (let i = 0; i < items.length; i++) {
    const d = items[i];
    dims[i] = typeof d === 'number' && Number.isInteger(d) && d >= -effective && d < effective ? (d < 0 ? d + effective : d + 0) : validate.axis(d, `dim[${i}]`, rank);
  }
  for (let i = 1; i < dims.length; i++) {
    for (let k = 0; k < i; k++) if (dims[k] === dims[i]) throw validate.invalidRange('array of distinct dims', 'dim', dim);
  }
  if (dims.length === 0) return Array.from({ length: rank }, (_, d) => d);
  return dims;
}

/**
 * torch.mean of a quantized tensor as torch 1.13 computes it (qreduction.cpp mean_out_quantized_cpu;
 * measured against Debian's torch under onednn and qnnpack, doc/numerics.md):
 *  - under the qnnpack engine, quint8 4-D with dim given literally as [2, 3]: QNNPACK's global
 *    average pooling, y = clamp(lrintf(float(sum (q - zp)) * (s / (s * float(count)))) + zp)
 *    in fp32 (qnnpack_mean);
 *  - a contiguous input averages its stored integers: y = nearbyint(float(sum q) / count), with
 *    the input's qparams;
 *  - otherwise: dequantize, float sum, divide by the count, quantize with the input's qparams.
 *    For a channels-last 4-D input over dims (2, 3) (shufflenet's and the pooling heads') the
 *    float sum follows torch's reduction kernel order exactly (native/src/ops/reduce.cc ChannelSum), and so does a
 *    channels_last_3d 5-D input over dims (2, 3, 4); other layouts sum in double, which can differ
 *    from torch's float order by 1 quantum on a rounding boundary.
 */
/** Where quantizedMean writes the shape it passes (8 dims: more than the native paths take). */
const meanScratch = new Float64Array(8);

function quantizedMean(q: QTensor, dim: unknown, keepdim: unknown): QTensor {
  const x = checkQTensor(q, 'this');
  if (x.qscheme !== 'per_tensor_affine') throw validate.invalidType('per_tensor_affine QTensor', 'this', x);
  if (x.dtype !== 'quint8' && x.dtype !== 'qint8') throw validate.invalidRange('QTensor of dtype quint8 or qint8', 'this', x);
  const keep = validate.boolean(keepdim, 'keepdim');
  const rank = x.shape.length;
  const reduced = reductionDims(dim, rank);
  // One pass over the dims (no closures or includes() per dim: mean runs per call at a model's head).
  const flags = new Float64Array(rank);
  for (let k = 0; k < reduced.length; k++) flags[reduced[k]] = 1;
  const outShape: number[] = [];
  const shape: number[] = [];
  let count = 1;
  for (let d = 0; d < rank; d++) {
    if (flags[d] === 1) {
      count *= x.shape[d];
      outShape.push(1);
      if (keep) shape.push(1);
    } else {
      outShape.push(x.shape[d]);
      shape.push(x.shape[d]);
    }
  }
  const qp = x['quantizer'] as Extract<Quantizer, { qscheme: 'per_tensor_affine' }>;
  const format = rank === 4 ? 'channels_last' : rank === 5 ? 'channels_last_3d' : null;
  let overSpatial = reduced.length === rank - 2;
  for (let k = 0; k < reduced.length && overSpatial; k++) overSpatial = reduced[k] >= 2;
  // The engine is asked only when the call could take QNNPACK's path (an N-API call).
  const qnnpack =
    x.dtype === 'quint8' && rank === 4 && Array.isArray(dim) && dim.length === 2 && dim[0] === 2 && dim[1] === 3 && addon.quantizedEngine() === 'qnnpack';
  // The three paths torch takes on model-sized tensors run natively (native/src/ops/reduce.h):
  // QNNPACK's global average over the values in logical order, the integer average of a
  // contiguous input, and the float average of a channels-last input over its spatial dims.
  const mode = qnnpack
    ? MeanMode.QnnpackGlobal
    : isContiguousAs(x.shape, x.strides, 'contiguous_format')
      ? MeanMode.Integers
      : format !== null && overSpatial && isContiguousAs(x.shape, x.strides, format)
        ? MeanMode.ChannelsLastFloat
        : null;
  const numel = x.numel();
  if (mode !== null && count > 0 && numel > 0) {
    const dense = mode === MeanMode.QnnpackGlobal ? x.contiguous() : x;
    const data = dense.data.length === numel ? dense.data : dense.data.subarray(0, numel);
    // The shape and the flags as arrays shared between calls with these values (sharedParams).
    const scratch = meanScratch;
    for (let d = 0; d < rank; d++) scratch[d] = x.shape[d];
    const dims = rank <= scratch.length ? sharedParams.get(scratch, rank) : Float64Array.from(x.shape);
    const args = [data, x.dtype === 'quint8' ? 0 : 1, mode, dims, sharedParams.get(flags, rank), qp.scale, qp.zeroPoint] as const;
    const plan = makePlan(
      () => addon.mean(...args),
      () => addon.meanAsync(...args),
      // The binding's fresh array of prod(shape) elements and x's checked qparams: no re-checks.
      (raw) => wrapPerTensorOutput(raw, Object.freeze(shape), Object.freeze(contiguousStrides(shape)), qp.scale, qp.zeroPoint, x.dtype),
      { op: 'mean', args },
    );
    return plan.run();
  }
  const outStrides = contiguousStrides(outShape);
  const inputStrides = contiguousStrides(x.shape);
  // Sums `values` (logical order) into one slot per output element.
  const sumInto = (values: ArrayLike<number>, sums: Float64Array): void => {
    const index = new Array<number>(rank).fill(0);
    for (let i = 0; i < values.length; i++) {
      let rest = i;
      let target = 0;
      for (let d = 0; d < rank; d++) {
        index[d] = Math.floor(rest / inputStrides[d]);
        rest -= index[d] * inputStrides[d];
        if (flags[d] !== 1) target += index[d] * outStrides[d];
      }
      sums[target] += values[i];
    }
  };
  // Other layouts (and empty inputs): dequantize, sum in double, divide in float.
  guardRead('mean() over this layout (computed in JS)', x.data);
  const floats = dequantize(x);
  const sums = new Float64Array(numelOf(outShape));
  sumInto(floats.contiguous().data, sums);
  const means = new Float32Array(sums.length);
  for (let i = 0; i < sums.length; i++) means[i] = Math.fround(Math.fround(sums[i]) / count);
  return quantizePerTensor(makeTensor(means, shape, contiguousStrides(shape)), qp.scale, qp.zeroPoint, x.dtype);
}


