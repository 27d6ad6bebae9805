// State-dict values (what torch's state_dict() holds, as qkernels represents them) and the helpers modules use to read and write them.

import { QTensor } from '../qtensor';
import { Tensor, tensor } from '../tensor';

/**
 * A tensor of a dtype qkernels stores but does not compute with (int64 zero points,
 * num_batches_tracked, ...): the shape of lib/io's StoredTensor, which the loader produces.
 */
export interface StoredTensorLike {
  readonly dtype: string;
  readonly shape: readonly number[];
  readonly strides: readonly number[];
  readonly data: ArrayLike<number | bigint>;
  numel(): number;
  item(): number | boolean;
  toNumbers(): number[];
}

/** One state-dict value: tensors, and the Python values torch saves beside them. */
export type StateValue =
  | Tensor
  | QTensor
  | StoredTensorLike
  | number
  | bigint
  | string
  | boolean
  | null
  | readonly StateValue[]
  | ReadonlyMap<string, StateValue>;

/** An ordered state dict: insertion order is PyTorch's key order. */
export type StateDict = Map<string, StateValue>;

/** True for a StoredTensor (structurally: dtype, shape, data, item, toNumbers). */
export function isStoredTensor(value: unknown): value is StoredTensorLike {
  if (value === null || typeof value !== 'object' || value instanceof Tensor || value instanceof QTensor) return false;
  const v = value as Partial<StoredTensorLike>;
  return typeof v.dtype === 'string' && Array.isArray(v.shape) && typeof v.item === 'function' && typeof v.toNumbers === 'function';
}

/** A short description of a state value for error messages: `QTensor(qint8, [8, 3, 3, 3])`, `int64 [1]`, `number`. */
export function describeStateValue(value: unknown): string {
  if (value instanceof QTensor) return `QTensor(${value.dtype}, ${value.qscheme}, [${value.shape.join(', ')}])`;
  if (value instanceof Tensor) return `Tensor(float32, [${value.shape.join(', ')}])`;
  if (isStoredTensor(value)) return `StoredTensor(${value.dtype}, [${value.shape.join(', ')}])`;
  if (value === null) return 'null';
  if (Array.isArray(value)) return `array of ${value.length}`;
  if (value instanceof Map) return `Map of ${value.size}`;
  return typeof value;
}

/**
 * A number from a state value that holds one: a number, or a one-element Tensor or
 * StoredTensor (torch saves `scale` as a 0-dim float tensor and `zero_point` as a 0-dim
 * int64 one; Quantize's are 1-element). Anything else throws a TypeError naming `key`.
 */
export function scalarNumber(value: StateValue, key: string): number {
  if (typeof value === 'number') return value;
  if (typeof value === 'bigint') {
    const n = Number(value);
    if (!Number.isSafeInteger(n)) throw new RangeError(`Expected a number within ±2^53 for ${key} but received ${value}n of type bigint`);
    return n;
  }
  if (value instanceof Tensor) {
    if (value.numel() !== 1) throw new RangeError(`Expected a one-element tensor for ${key} but received a Tensor of shape [${value.shape.join(', ')}]`);
    return value.contiguous().data[0];
  }
  if (isStoredTensor(value)) {
    if (value.numel() !== 1) throw new RangeError(`Expected a one-element tensor for ${key} but received a ${value.dtype} tensor of shape [${value.shape.join(', ')}]`);
    return Number(value.item());
  }
  throw new TypeError(`Expected a number or a one-element tensor for ${key} but received ${describeStateValue(value)}`);
}

/** An integer from a state value (as scalarNumber), RangeError when it is not one. */
export function scalarInteger(value: StateValue, key: string): number {
  const n = scalarNumber(value, key);
  if (!Number.isInteger(n)) throw new RangeError(`Expected an integer for ${key} but received ${n} of type number`);
  return n;
}

/** A 0-dim float32 tensor holding `value` (torch's `torch.tensor(scale)`, as nnq modules save scale). */
export function scalarTensor(value: number): Tensor {
  return tensor(new Float32Array([value]), []);
}

/** A float32 Tensor from a state value, or a TypeError naming `key` (QTensors and other dtypes are refused). */
export function floatTensor(value: StateValue, key: string): Tensor {
  if (value instanceof Tensor) return value;
  throw new TypeError(`Expected a float32 Tensor for ${key} but received ${describeStateValue(value)}`);
}

/** A QTensor from a state value, or a TypeError naming `key`. */
export function quantizedTensor(value: StateValue, key: string): QTensor {
  if (value instanceof QTensor) return value;
  throw new TypeError(`Expected a quantized tensor (QTensor) for ${key} but received ${describeStateValue(value)}`);
}

/** Throws a RangeError naming `key` unless `shape` equals `expected` (torch's size-mismatch wording). */
export function checkShape(shape: readonly number[], expected: readonly number[], key: string): void {
  if (shape.length !== expected.length || shape.some((d, i) => d !== expected[i])) {
    throw new RangeError(
      `size mismatch for ${key}: copying a param with shape [${shape.join(', ')}] from checkpoint, the shape in current model is [${expected.join(', ')}]`,
    );
  }
}
