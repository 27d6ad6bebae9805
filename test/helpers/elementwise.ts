// Shared by the elementwise family's tests: random quantized inputs described once for qkernels and the oracle, and result checks.
import { QTensor, makePerTensorQuantizedTensor } from '../..';
import { expectExact, expectSame, expectSameList } from './compare';
import { Rng } from './random';
import { Step, applySteps } from './views';
import { OracleResult, shaped } from '../oracle';

export type ByteDType = 'quint8' | 'qint8';

/** A quantized input: integer values (logical order of `shape`), qparams, and view steps applied after making it. */
export interface QInput {
  values: Uint8Array | Int8Array;
  shape: number[];
  scale: number;
  zeroPoint: number;
  dtype: ByteDType;
  steps: Step[];
}

export function qmin(dtype: ByteDType): number {
  return dtype === 'quint8' ? 0 : -128;
}

export function qmax(dtype: ByteDType): number {
  return dtype === 'quint8' ? 255 : 127;
}

/** Random values over the whole range (the first 256 walk every value, so small shapes see them all). */
export function randomQInput(rng: Rng, dtype: ByteDType, shape: number[], steps: Step[] = [], scale?: number, zeroPoint?: number): QInput {
  const n = shape.reduce((a, b) => a * b, 1);
  const values = dtype === 'quint8' ? new Uint8Array(n) : new Int8Array(n);
  const offset = rng.int(0, 255);
  for (let i = 0; i < n; i++) values[i] = i < 256 ? ((i + offset) & 255) + qmin(dtype) : rng.int(qmin(dtype), qmax(dtype));
  return {
    values,
    shape,
    scale: scale ?? rng.logUniform(0.002, 0.2),
    zeroPoint: zeroPoint ?? rng.int(qmin(dtype), qmax(dtype)),
    dtype,
    steps,
  };
}

/** The QTensor of an input (a fresh copy of the values each time, so in-place ops cannot leak between paths). */
export function makeQ(input: QInput): QTensor {
  const data = input.values.slice();
  return applySteps(makePerTensorQuantizedTensor(data, input.shape, input.scale, input.zeroPoint, input.dtype), input.steps);
}

/** The input as the oracle's qinput() reads it. */
export function wireQ(input: QInput): Record<string, unknown> {
  return {
    values: shaped(input.values, input.shape),
    shape: input.shape,
    scale: input.scale,
    zero_point: input.zeroPoint,
    dtype: input.dtype,
    steps: input.steps,
  };
}

export function describeQInput(input: QInput): string {
  const steps = input.steps.length > 0 ? ` ${JSON.stringify(input.steps)}` : '';
  return `${input.dtype}[${input.shape}]${steps} scale=${input.scale} zp=${input.zeroPoint}`;
}

/**
 * Checks a result against torch's: dtype, shape, strides, qparams exactly; integer values exactly,
 * or within `tolerance` quanta (for the documented float-order cases).
 */
export function expectQTensorLike(want: OracleResult, got: QTensor, context: string, tolerance = 0): void {
  expectSame('dtype', want.dtype, got.dtype, context);
  expectSameList('shape', want.shape, got.shape, context);
  expectSameList('strides', want.strides, got.strides, context);
  expectSame('qScale()', want.scale, got.qScale(), context);
  expectSame('qZeroPoint()', want.zero_point, got.qZeroPoint(), context);
  const expected = want.int_repr.data as ArrayLike<number>;
  const actual = got.intRepr() as ArrayLike<number>;
  if (tolerance === 0) {
    expectExact('int_repr', expected, actual, { shape: got.shape as number[], context });
    return;
  }
  expectSame('numel', expected.length, actual.length, context);
  for (let i = 0; i < expected.length; i++) {
    if (Math.abs(expected[i] - actual[i]) > tolerance) {
      throw new Error(`${context}: int_repr[${i}] is ${actual[i]}, torch has ${expected[i]} (allowed difference ${tolerance})`);
    }
  }
}

/** Shapes whose element counts put tails of every length after PyTorch's 64-element vector steps. */
export const UNARY_SHAPES: Array<{ shape: number[]; steps: Step[] }> = [
  { shape: [7], steps: [] },
  { shape: [64], steps: [] },
  { shape: [3, 100], steps: [] },
  { shape: [2, 3, 5, 7], steps: [['contiguous', 'channels_last']] },
  { shape: [2, 8, 4, 4], steps: [['contiguous', 'channels_last']] },
  { shape: [5, 40], steps: [['permute', [1, 0]]] },
  { shape: [4, 3, 50, 60], steps: [] },
];
