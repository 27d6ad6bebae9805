// Tensor, the fp32 tensor (storage, shape, strides) every float input and output uses, and tensor(), its factory.

import { plainTensorRepr } from './format';
import {
  MemoryFormat,
  contiguousStrides,
  flattenedShape,
  formatStrides,
  inferShape,
  isContiguousAs,
  memoryFormatFor,
  memoryFormatName,
  numelOf,
  permutation,
  storageExtent,
  stridedCopy,
  viewStrides,
} from './shape';
import * as validate from './validate';
import { guardRead } from './jit/hook';

/**
 * Set by makeTensor around its `new Tensor(...)`: parts already known to be consistent skip the
 * constructor's checks (the constructor is the only place that can add the private brand).
 */
let trustedParts = false;

/**
 * A float32 tensor. `data` is the storage (read and written in place, never copied by
 * qkernels unless a layout change needs it); `shape` and `strides` (in elements) say where
 * each element lies in it. Views made by permute/view/reshape/flatten share `data`.
 *
 * @example
 * const x = tensor([1, 2, 3, 4, 5, 6], [2, 3]);
 * x.permute([1, 0]).contiguous().data; // Float32Array [1, 4, 2, 5, 3, 6]
 */
export class Tensor {
  /**
   * `instanceof Tensor` is true only for tensors this module made: an object that merely
   * inherits from one (Object.create(t, { shape: ... })) could describe a shape its storage
   * does not hold, so it is refused everywhere a Tensor is expected.
   */
  static [Symbol.hasInstance](value: unknown): boolean {
    return typeof value === 'object' && value !== null && #brand in value;
  }

  /** The brand: a private field only this constructor adds (a lookup to test; a WeakSet brand cost a hash insertion per tensor). */
  readonly #brand = true;

  readonly data: Float32Array;
  readonly shape: readonly number[];
  readonly strides: readonly number[];

  /**
   * Wraps `data` (used in place). Without `strides` the tensor is contiguous and `data`
   * must hold exactly numel elements; with them, every addressed element must lie in `data`.
   */
  constructor(data: Float32Array, shape: readonly number[], strides?: readonly number[]) {
    if (trustedParts) {
      trustedParts = false;
      this.data = data;
      this.shape = Object.isFrozen(shape) ? shape : Object.freeze(shape.slice());
      this.strides = Object.isFrozen(strides) ? (strides as readonly number[]) : Object.freeze((strides as readonly number[]).slice());
      Object.freeze(this);
      return;
    }
    const storage = validate.typedArray(data, 'data', ['Float32Array']);
    const dims = validate.shape(shape, 'shape');
    const numel = numelOf(dims);
    let layout: readonly number[];
    if (strides === undefined) {
      if (storage.length !== numel) {
        throw validate.invalidRange(`Float32Array of ${numel} elements (the product of shape [${dims.join(', ')}])`, 'data', data);
      }
      layout = Object.freeze(contiguousStrides(dims));
    } else {
      layout = checkStrides(strides, dims, storage, storage.length, (extent) => `Float32Array of at least ${extent} elements`);
    }
    this.data = storage;
    this.shape = dims;
    this.strides = layout;
    // shape, strides and data must stay consistent: the instance is immutable (data's values are not).
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

  /** True when the elements lie in `data` in the given format's order with no gaps (default contiguous_format). */
  isContiguous(memoryFormat?: MemoryFormat): boolean {
    return isContiguousAs(this.shape, this.strides, memoryFormatName(memoryFormat, 'memoryFormat'));
  }

  /**
   * The same values laid out in the given format (default contiguous_format; channels_last
   * for 4-D, channels_last_3d for 5-D): this tensor itself when already so, else a copy.
   */
  contiguous(memoryFormat?: MemoryFormat): Tensor {
    validate.attached(this.data, 'this.data');
    const format = memoryFormatFor(memoryFormat, this.shape.length, 'memoryFormat');
    if (isContiguousAs(this.shape, this.strides, format)) return this;
    const strides = formatStrides(this.shape, format);
    const data = new Float32Array(this.numel());
    stridedCopy(this.data, this.strides, data, strides, this.shape);
    return makeTensor(data, this.shape, strides);
  }

  /** A view with another shape (-1 once: inferred); throws when the strides do not allow one (use reshape). */
  view(shape: readonly number[]): Tensor {
    validate.attached(this.data, 'this.data');
    const dims = inferShape(shape, this.numel(), 'shape');
    const strides = viewStrides(this.shape, this.strides, dims);
    if (strides === null) {
      throw validate.invalidRange('shape that a view of these strides can take (dims to merge must be contiguous; use reshape)', 'shape', shape);
    }
    return makeTensor(this.data, dims, strides);
  }

  /** Another shape: a view when the strides allow it, else a contiguous copy. */
  reshape(shape: readonly number[]): Tensor {
    validate.attached(this.data, 'this.data');
    const dims = inferShape(shape, this.numel(), 'shape');
    const strides = viewStrides(this.shape, this.strides, dims);
    if (strides !== null) return makeTensor(this.data, dims, strides);
    return this.contiguous().view(dims);
  }

  /** Merges dims startDim..endDim (inclusive, negatives count from the end) into one. */
  flatten(startDim = 0, endDim = -1): Tensor {
    const dims = flattenedShape(this.shape, startDim, endDim);
    return dims === undefined ? this : this.reshape(dims);
  }

  /** A view with the dims reordered: result dim i is this tensor's dim dims[i]. */
  permute(dims: readonly number[]): Tensor {
    validate.attached(this.data, 'this.data');
    const order = permutation(dims, this.shape.length, 'dims');
    return makeTensor(this.data, order.map((d) => this.shape[d]), order.map((d) => this.strides[d]));
  }

  /** As torch prints it: `tensor([[1., 2.], [3., 4.]])`, abbreviated with '...' above 1000 elements. */
  toString(): string {
    guardRead('toString()', this.data);
    const values = this.contiguous().data.subarray(0, this.numel());
    return plainTensorRepr(values, this.shape, 'float32');
  }

  [validate.inspectSymbol](): string {
    return this.toString();
  }

  [validate.describeSymbol](): string {
    return `Tensor(size=[${this.shape.join(', ')}])`;
  }
}

/**
 * Checks strides given with a shape: one non-negative integer per dim, and every element
 * they address inside the storage. `capacity` is how many elements `data` holds;
 * `needed(extent)` says what `data` should have been when it holds too few.
 */
export function checkStrides(
  strides: unknown,
  dims: readonly number[],
  data: unknown,
  capacity: number,
  needed: (extent: number) => string,
): readonly number[] {
  const what = `array of ${dims.length} non-negative integers (one per dim)`;
  if (!Array.isArray(strides)) throw validate.invalidType(what, 'strides', strides);
  const items = validate.arrayOnce(strides, 'strides', what, dims.length);
  if (items.length !== dims.length) throw validate.invalidRange(what, 'strides', strides);
  const layout = items.map((stride: unknown, i: number) => validate.nonNegativeInteger(stride, `strides[${i}]`));
  const extent = storageExtent(dims, layout);
  if (extent > capacity) {
    throw validate.invalidRange(
      `${needed(extent)} (what shape [${dims.join(', ')}] with strides [${layout.join(', ')}] addresses)`,
      'data',
      data,
    );
  }
  return Object.freeze(layout);
}

/** Builds a Tensor from parts already known to be consistent (internal: skips validation). */
export function makeTensor(data: Float32Array, shape: readonly number[], strides: readonly number[]): Tensor {
  trustedParts = true;
  return new Tensor(data, shape, strides);
}

/** Throws the TypeError for anything that is not a Tensor. */
export function checkTensor(value: unknown, parameter: string): Tensor {
  if (!(value instanceof Tensor)) throw validate.invalidType('Tensor', parameter, value);
  validate.attached(value.data, `${parameter}.data`);
  return value;
}

/**
 * A float32 tensor from numbers. A Float32Array is used in place (no copy); any other array
 * of numbers is copied into a new Float32Array. `shape` defaults to [data.length].
 *
 * @example
 * const x = tensor(new Float32Array([0.5, -1, 2, 3]), [2, 2]);
 */
export function tensor(data: ArrayLike<number> | Float32Array, shape?: readonly number[]): Tensor {
  let storage: Float32Array;
  if (validate.typedArrayKind(data, ['Float32Array']) !== undefined) {
    storage = validate.typedArray(data, 'data', ['Float32Array']);
  } else {
    const values = validate.numberList(data, 'data', 'Float32Array or array of numbers');
    storage = new Float32Array(values.length);
    for (let i = 0; i < values.length; i++) {
      const value: unknown = values[i];
      if (typeof value !== 'number') throw validate.invalidType('number', `data[${i}]`, value);
      storage[i] = value;
    }
  }
  const dims = shape === undefined ? Object.freeze([storage.length]) : validate.shape(shape, 'shape');
  const numel = numelOf(dims);
  if (numel !== storage.length) {
    throw validate.invalidRange(`shape with ${storage.length} elements (the length of data)`, 'shape', shape);
  }
  return makeTensor(storage, dims, contiguousStrides(dims));
}
