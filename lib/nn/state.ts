// State-dict values (what torch's state_dict() holds, as qkernels represents them) and the helpers modules use to read and write them.

import { StoredTensor, makeStoredTensor } from '../io/stored-tensor';
import { QTensor } from '../qtensor';
import { Tensor, tensor } from '../tensor';
import type { LoadContext } from './module';

/** A StoredTensor by its old name (the structural type the first commit declared before lib/io existed). */
export type StoredTensorLike = StoredTensor;

// One definition of the values a state dict holds, shared with the loader (lib/io is the lower
// layer: load() returns exactly what loadStateDict() takes).
export type { StateDict, StateValue } from '../io/state-dict';
import type { StateDict, StateValue } from '../io/state-dict';
import * as validate from '../validate';

/** True for a StoredTensor. */
export function isStoredTensor(value: unknown): value is StoredTensor {
  return value instanceof StoredTensor;
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
    if (!Number.isSafeInteger(n)) throw new RangeError(validate.expected('a number within ±2^53', key, `${value}n of type bigint`));
    return n;
  }
  if (value instanceof Tensor) {
    if (value.numel() !== 1) throw new RangeError(validate.expected('a one-element tensor', key, `a Tensor of shape [${value.shape.join(', ')}]`));
    return value.contiguous().data[0];
  }
  if (isStoredTensor(value)) {
    if (value.numel() !== 1) throw new RangeError(validate.expected('a one-element tensor', key, `a ${value.dtype} tensor of shape [${value.shape.join(', ')}]`));
    return Number(value.item());
  }
  throw new TypeError(validate.expected('a number or a one-element tensor', key, describeStateValue(value)));
}

/** An integer from a state value (as scalarNumber), RangeError when it is not one. */
export function scalarInteger(value: StateValue, key: string): number {
  const n = scalarNumber(value, key);
  if (!Number.isInteger(n)) throw new RangeError(validate.expected('an integer', key, `${n} of type number`));
  return n;
}

/** A float32 tensor of one element holding `value`: 0-dim as nnq modules save `scale`, [1] for Quantize's. */
export function scalarTensor(value: number, shape: readonly number[] = []): Tensor {
  return tensor(new Float32Array([value]), shape);
}

/** An int64 StoredTensor holding `value` with `shape` ([] as torch saves zero_point, [1] for Quantize's). */
export function int64Tensor(value: number, shape: readonly number[] = []): StoredTensor {
  return makeStoredTensor('int64', new BigInt64Array([BigInt(value)]), shape, shape.map(() => 1));
}

/** A float32 Tensor from a state value, or a TypeError naming `key` (QTensors and other dtypes are refused). */
export function floatTensor(value: StateValue, key: string): Tensor {
  if (value instanceof Tensor) return value;
  throw new TypeError(validate.expected('a float32 Tensor', key, describeStateValue(value)));
}

/** A QTensor from a state value, or a TypeError naming `key`. */
export function quantizedTensor(value: StateValue, key: string): QTensor {
  if (value instanceof QTensor) return value;
  throw new TypeError(validate.expected('a quantized tensor (QTensor)', key, describeStateValue(value)));
}

/** Throws a RangeError naming `key` unless `shape` equals `expected` (torch's size-mismatch wording). */
export function checkShape(shape: readonly number[], expected: readonly number[], key: string): void {
  if (shape.length !== expected.length || shape.some((d, i) => d !== expected[i])) {
    throw new RangeError(
      `size mismatch for ${key}: copying a param with shape [${shape.join(', ')}] from checkpoint, the shape in current model is [${expected.join(', ')}]`,
    );
  }
}

/**
 * Writes torch's output-qparam entries `scale` (float32) and `zero_point` (int64), 0-dim as
 * most quantized modules save them (`shape` [1] for Quantize's buffers).
 */
export function saveQParams(dest: StateDict, prefix: string, scale: number, zeroPoint: number, shape: readonly number[] = []): void {
  dest.set(`${prefix}scale`, scalarTensor(scale, shape));
  dest.set(`${prefix}zero_point`, int64Tensor(zeroPoint, shape));
}

/**
 * Reads `scale` and `zero_point` as torch's modules do (float(...), int(...)), refusing a
 * scale that is not a positive float32 and a zero point outside `zeroPointRange`. Returns
 * undefined when either is missing or bad (the problem is reported through ctx).
 */
export function readQParams(
  ctx: LoadContext,
  prefix: string,
  zeroPointRange: readonly [number, number] = [0, 255],
): { scale: number; zeroPoint: number } | undefined {
  const scale = ctx.read(`${prefix}scale`, (value) => {
    const n = scalarNumber(value, `${prefix}scale`);
    if (!(n > 0 && Number.isFinite(Math.fround(n)) && Math.fround(n) > 0)) {
      throw new RangeError(validate.expected('a positive float32 scale', `${prefix}scale`, String(n)));
    }
    return n;
  });
  const zeroPoint = ctx.read(`${prefix}zero_point`, (value) => {
    const n = scalarInteger(value, `${prefix}zero_point`);
    const [lo, hi] = zeroPointRange;
    if (n < lo || n > hi) throw new RangeError(validate.expected(`a zero point in [${lo}, ${hi}]`, `${prefix}zero_point`, String(n)));
    return n;
  });
  return scale === undefined || zeroPoint === undefined ? undefined : { scale, zeroPoint };
}

/** Reads a string entry that must be one of `expected` (e.g. `_packed_params.dtype` 'torch.qint8'); returns it, or undefined (reported). */
export function readConstant(ctx: LoadContext, key: string, expected: readonly string[]): string | undefined {
  return ctx.read(key, (value) => {
    if (typeof value !== 'string' || !expected.includes(value)) {
      throw new RangeError(validate.expected(expected.map((e) => `'${e}'`).join(' or '), key, typeof value === 'string' ? `'${value}'` : describeStateValue(value)));
    }
    return value;
  });
}

/** Reads a float32 Tensor entry of exactly `shape`; undefined when missing or bad (reported through ctx). */
export function readFloatTensor(ctx: LoadContext, key: string, shape: readonly number[]): Tensor | undefined {
  return ctx.read(key, (value) => {
    const t = floatTensor(value, key);
    checkShape(t.shape, shape, key);
    return t;
  });
}

/** A Tensor from a module attribute that may be a Tensor or a plain list of numbers (saved as 1-D float32). */
export function asFloatTensor(value: Tensor | ArrayLike<number>): Tensor {
  return value instanceof Tensor ? value : tensor(Float32Array.from(value), [value.length]);
}

/** loadFromStateDict of a module whose state is only its output qparams (`scale`, `zero_point`; 8-bit either sign). */
export function loadQParamsInto(ctx: LoadContext, prefix: string, module: { scale: number; zeroPoint: number }): (() => void) | void {
  const qparams = readQParams(ctx, prefix, [-128, 255]);
  if (qparams === undefined) return;
  return () => {
    module.scale = qparams.scale;
    module.zeroPoint = qparams.zeroPoint;
  };
}
