// StoredTensor: a tensor of a dtype qkernels computes nothing with (int64, bool, float16, ...) as read from a weights file.

import { tensorRepr } from '../format';
import { checkStrides } from '../tensor';
import { contiguousStrides, numelOf } from '../shape';
import * as validate from '../validate';

/** The storage array of each dtype a StoredTensor holds (float16/bfloat16: the raw 16-bit patterns). */
export interface StoredTensorDataTypes {
  int64: BigInt64Array;
  int32: Int32Array;
  int16: Int16Array;
  int8: Int8Array;
  uint8: Uint8Array;
  bool: Uint8Array;
  float64: Float64Array;
  float16: Uint16Array;
  bfloat16: Uint16Array;
}

/** torch's dtype name without 'torch.' for every dtype a StoredTensor can hold. */
export type StoredDType = keyof StoredTensorDataTypes;

/** The storage array type of each dtype, by torch name (also used by the loader to make views). */
export const STORED_DTYPES: Readonly<Record<StoredDType, validate.TypedArrayName>> = Object.freeze({
  int64: 'BigInt64Array',
  int32: 'Int32Array',
  int16: 'Int16Array',
  int8: 'Int8Array',
  uint8: 'Uint8Array',
  bool: 'Uint8Array',
  float64: 'Float64Array',
  float16: 'Uint16Array',
  bfloat16: 'Uint16Array',
});

export type StoredTensorData = StoredTensorDataTypes[StoredDType];

const DTYPE_NAMES = Object.keys(STORED_DTYPES) as StoredDType[];

/** IEEE half precision bits to the number they encode. */
function halfToNumber(bits: number): number {
  const sign = bits & 0x8000 ? -1 : 1;
  const exponent = (bits >> 10) & 0x1f;
  const mantissa = bits & 0x3ff;
  if (exponent === 0) return sign * mantissa * 2 ** -24;
  if (exponent === 0x1f) return mantissa === 0 ? sign * Infinity : NaN;
  return sign * (1 + mantissa / 1024) * 2 ** (exponent - 15);
}

const bfloatScratch = new Float32Array(1);
const bfloatScratchBits = new Uint32Array(bfloatScratch.buffer);

/** bfloat16 bits (the top half of a float32) to the number they encode. */
function bfloat16ToNumber(bits: number): number {
  bfloatScratchBits[0] = bits << 16;
  return bfloatScratch[0];
}

/**
 * A tensor of a dtype that qkernels stores but does not compute with: `num_batches_tracked`
 * and `zero_point` (int64), masks (bool), float64/float16/bfloat16 buffers, integer buffers.
 * `data` is the storage (a view over the file's bytes when the loader could make one),
 * `shape` and `strides` (in elements) say where each element lies in it, as for Tensor.
 *
 * @example
 * const zp = stateDict.get('conv1.zero_point') as StoredTensor; // 0-dim int64
 * zp.item(); // 0
 */
export class StoredTensor {
  readonly dtype: StoredDType;
  readonly data: StoredTensorData;
  readonly shape: readonly number[];
  readonly strides: readonly number[];

  /**
   * Wraps `data` (used in place). `data` must be the array type of `dtype` (BigInt64Array for
   * int64, Uint8Array for bool and uint8, Uint16Array holding the raw bits for float16 and
   * bfloat16, ...). Without `strides` the tensor is contiguous and `data` holds exactly numel
   * elements; with them, every addressed element must lie in `data`.
   */
  constructor(dtype: StoredDType, data: StoredTensorData, shape: readonly number[], strides?: readonly number[]) {
    const name = validate.oneOf(dtype, 'dtype', DTYPE_NAMES);
    const storage = validate.typedArray(data, 'data', [STORED_DTYPES[name]]) as StoredTensorData;
    const dims = validate.shape(shape, 'shape');
    const numel = numelOf(dims);
    let layout: readonly number[];
    if (strides === undefined) {
      if (storage.length !== numel) {
        throw validate.invalidRange(`${STORED_DTYPES[name]} of ${numel} elements (the product of shape [${dims.join(', ')}])`, 'data', data);
      }
      layout = Object.freeze(contiguousStrides(dims));
    } else {
      layout = checkStrides(strides, dims, storage, storage.length, (extent) => `${STORED_DTYPES[name]} of at least ${extent} elements`);
    }
    this.dtype = name;
    this.data = storage;
    this.shape = dims;
    this.strides = layout;
    Object.freeze(this);
  }

  /** Number of elements. */
  numel(): number {
    return numelOf(this.shape);
  }

  /** Number of dims. */
  dim(): number {
    return this.shape.length;
  }

  /**
   * The value of a one-element tensor (any shape with numel 1), like torch's `item()`: a
   * boolean for bool, else a number (int64 beyond ±2^53 throws a RangeError: it has no exact number).
   */
  item(): number | boolean {
    if (this.numel() !== 1) {
      throw validate.invalidRange('tensor with exactly one element for item()', 'this', this);
    }
    // Every stride multiplies index 0 here, so the one element is data[0].
    const value = this.elementAt(0);
    return this.dtype === 'bool' ? value !== 0 : value;
  }

  /** Every element as a number, in row-major (logical) order whatever the strides; bool gives 0/1. */
  toNumbers(): number[] {
    const numel = this.numel();
    const out = new Array<number>(numel);
    const rank = this.shape.length;
    const index = new Array<number>(rank).fill(0);
    let offset = 0;
    for (let n = 0; n < numel; n++) {
      out[n] = this.elementAt(offset);
      // Odometer increment over the dims, last dim fastest, keeping the storage offset in step.
      for (let d = rank - 1; d >= 0; d--) {
        index[d]++;
        offset += this.strides[d];
        if (index[d] < this.shape[d]) break;
        offset -= index[d] * this.strides[d];
        index[d] = 0;
      }
    }
    return out;
  }

  /** Close to torch's print: `tensor([1, 2, 3])`, naming the dtype unless it is int64 (bool prints as 0/1). */
  toString(): string {
    const floating = this.dtype === 'float64' || this.dtype === 'float16' || this.dtype === 'bfloat16';
    const suffixes = this.dtype === 'int64' ? [] : [`dtype=torch.${this.dtype}`];
    if (this.numel() === 0 && this.shape.length !== 1) suffixes.unshift(`size=(${this.shape.join(', ')}${this.shape.length === 1 ? ',' : ''})`);
    return tensorRepr(this.toNumbers(), this.shape, floating, suffixes);
  }

  [validate.inspectSymbol](): string {
    return this.toString();
  }

  [validate.describeSymbol](): string {
    return `StoredTensor(dtype=${this.dtype}, size=[${this.shape.join(', ')}])`;
  }

  /** The storage element at `offset` as a number (exact for every dtype but int64 beyond 2^53, which throws). */
  private elementAt(offset: number): number {
    const raw = this.data[offset];
    if (typeof raw === 'bigint') {
      if (raw > BigInt(Number.MAX_SAFE_INTEGER) || raw < BigInt(-Number.MAX_SAFE_INTEGER)) {
        throw new RangeError(`int64 value ${raw} of this StoredTensor has no exact JavaScript number (beyond ±2^53); read .data for the BigInt`);
      }
      return Number(raw);
    }
    if (this.dtype === 'float16') return halfToNumber(raw);
    if (this.dtype === 'bfloat16') return bfloat16ToNumber(raw);
    return raw;
  }
}

/** Builds a StoredTensor from parts already known to be consistent (internal: skips validation). */
export function makeStoredTensor(
  dtype: StoredDType,
  data: StoredTensorData,
  shape: readonly number[],
  strides: readonly number[],
): StoredTensor {
  const tensor = Object.create(StoredTensor.prototype) as { -readonly [K in keyof StoredTensor]: StoredTensor[K] };
  tensor.dtype = dtype;
  tensor.data = data;
  tensor.shape = Object.freeze(shape.slice());
  tensor.strides = Object.freeze(strides.slice());
  return Object.freeze(tensor) as StoredTensor;
}
