// Shared by the eager module cache suites: seeded random floats and quantized inputs, and the exact comparison of two QTensors.
import { QTensor, quantizePerTensor, tensor } from '../..';
import { Rng } from './random';

/** `floats(n)`: n values in [-2, 2); `qinput(shape, ...)`: them quantized per tensor (quint8 at 1/32, 128 by default). */
export function seededInputs(rng: Rng) {
  const floats = (n: number): Float32Array => Float32Array.from({ length: n }, () => rng.range(-2, 2));
  const qinput = (shape: number[], dtype: 'quint8' | 'qint8' = 'quint8', scale = 1 / 32, zeroPoint = dtype === 'quint8' ? 128 : 0): QTensor =>
    quantizePerTensor(tensor(floats(shape.reduce((a, b) => a * b, 1)), shape), scale, zeroPoint, dtype);
  return { floats, qinput };
}

/** Same shape, strides, dtype, qparams and integers. */
export function expectSameQ(got: QTensor, want: QTensor): void {
  expect(got.shape).toEqual(want.shape);
  expect(got.strides).toEqual(want.strides);
  expect(got.dtype).toBe(want.dtype);
  expect(got.qScale()).toBe(want.qScale());
  expect(got.qZeroPoint()).toBe(want.qZeroPoint());
  expect(Array.from(got.intRepr())).toEqual(Array.from(want.intRepr()));
}
