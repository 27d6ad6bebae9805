// Typed-array views that start inside their buffer (byteOffset > 0): every entry point reads exactly the view, never the bytes around it.
import {
  dequantize, makePerChannelQuantizedTensor, makePerTensorQuantizedTensor, nnq, quantizePerChannel, quantizePerTensor,
  QTensor, tensor,
} from '..';
import { expectExact } from './helpers/compare';
import { Rng, testSeed } from './helpers/random';

const rng = new Rng(testSeed('byte-offset'));

// A view of `values` placed `before` elements into a larger buffer whose other elements are
// `sentinel`: an addon that ignored byteOffset (or read past the end) would see sentinels.
function offsetView<T extends Float32Array | Float64Array | Int32Array | Int8Array | Uint8Array>(
  make: new (buffer: ArrayBuffer, byteOffset: number, length: number) => T,
  bytesPerElement: number,
  values: ArrayLike<number>,
  sentinel: number,
  before = 3,
  after = 5,
): T {
  const buffer = new ArrayBuffer((before + values.length + after) * bytesPerElement);
  const whole = new make(buffer, 0, before + values.length + after);
  whole.fill(sentinel as never);
  const view = new make(buffer, before * bytesPerElement, values.length);
  for (let i = 0; i < values.length; i++) view[i] = values[i] as never;
  return view;
}

function sameQTensor(label: string, want: QTensor, got: QTensor): void {
  expectExact(`${label} intRepr`, want.intRepr(), got.intRepr());
  expectExact(`${label} dequantize`, want.dequantize().data, got.dequantize().data, { kind: 'float32' });
}

const floats = Array.from({ length: 37 }, () => rng.normal() * 3);

describe('inputs with a byteOffset give the results of the same values in their own buffer', () => {
  test.each(['quint8', 'qint8', 'qint32', 'quint4x2'] as const)('quantizePerTensor, %s', (dtype) => {
    const view = offsetView(Float32Array, 4, floats, 1e30);
    expect(view.byteOffset).toBeGreaterThan(0);
    const zeroPoint = dtype === 'qint8' ? -5 : 5;
    sameQTensor(dtype, quantizePerTensor(tensor(Float32Array.from(floats), [37]), 0.05, zeroPoint, dtype),
      quantizePerTensor(tensor(view, [37]), 0.05, zeroPoint, dtype));
  });

  test('quantizePerChannel with offset input, scales and zero points (affine and float qparams)', () => {
    const input = Array.from({ length: 4 * 9 }, () => rng.normal() * 2);
    const scales = [0.01, 0.02, 0.05, 0.1];
    const zeroPoints = [-3, 0, 7, 100];
    const want = quantizePerChannel(tensor(Float32Array.from(input), [4, 9]), Float64Array.from(scales), Int32Array.from(zeroPoints), 0, 'qint8');
    const got = quantizePerChannel(tensor(offsetView(Float32Array, 4, input, -1e30), [4, 9]),
      offsetView(Float64Array, 8, scales, 1e-30, 1, 2), offsetView(Int32Array, 4, zeroPoints, 127, 2, 1), 0, 'qint8');
    sameQTensor('affine', want, got);
    const floatZeroPoints = [0.5, -20.25, 3, 250];
    const wantFloat = quantizePerChannel(tensor(Float32Array.from(input), [4, 9]), Float32Array.from(scales), Float32Array.from(floatZeroPoints), 0, 'quint8');
    const gotFloat = quantizePerChannel(tensor(offsetView(Float32Array, 4, input, 7), [4, 9]),
      offsetView(Float32Array, 4, scales, 1e-30, 1, 1), offsetView(Float32Array, 4, floatZeroPoints, -1e6, 2, 2), 0, 'quint8');
    sameQTensor('float qparams', wantFloat, gotFloat);
  });

  test.each([
    ['quint8', Uint8Array, 1, 255],
    ['qint8', Int8Array, 1, -128],
    ['qint32', Int32Array, 4, 2147483647],
  ] as const)('makePerTensorQuantizedTensor and dequantize, %s storage view', (dtype, Ctor, bytes, sentinel) => {
    const values = Array.from({ length: 23 }, (_, i) => (i * 37) % 100 - (dtype === 'quint8' ? 0 : 50));
    const want = makePerTensorQuantizedTensor(new Ctor(values), [23], 0.25, 3, dtype);
    const got = makePerTensorQuantizedTensor(offsetView(Ctor as never, bytes, values, sentinel), [23], 0.25, 3, dtype);
    sameQTensor(dtype, want, got);
    expectExact('dequantize()', dequantize(want).data, dequantize(got).data, { kind: 'float32' });
  });

  test('makePerTensorQuantizedTensor, quint4x2 packed storage view', () => {
    const packed = Array.from({ length: 12 }, (_, i) => (i * 29) & 255);
    const want = makePerTensorQuantizedTensor(Uint8Array.from(packed), [23], 0.5, 2, 'quint4x2');
    const got = makePerTensorQuantizedTensor(offsetView(Uint8Array, 1, packed, 0xff, 4, 4), [23], 0.5, 2, 'quint4x2');
    sameQTensor('quint4x2', want, got);
  });

  test('makePerChannelQuantizedTensor with offset storage, scales and zero points', () => {
    const values = Array.from({ length: 3 * 8 }, (_, i) => (i * 53) % 256 - 128);
    const scales = [0.5, 0.25, 0.125];
    const zeroPoints = [1, -2, 3];
    const want = makePerChannelQuantizedTensor(Int8Array.from(values), [3, 8], scales, zeroPoints, 0, 'qint8');
    const got = makePerChannelQuantizedTensor(offsetView(Int8Array, 1, values, 127, 7, 9), [3, 8],
      offsetView(Float64Array, 8, scales, 1e300, 1, 1), offsetView(Int32Array, 4, zeroPoints, -100, 1, 1), 0, 'qint8');
    sameQTensor('per-channel', want, got);
  });

  test('forwardAsync reads the view, not its buffer', async () => {
    const quantize = new nnq.Quantize(0.05, 128, 'quint8');
    const want = quantize.forward(tensor(Float32Array.from(floats), [37]));
    const got = await quantize.forwardAsync(tensor(offsetView(Float32Array, 4, floats, 1e30), [37]));
    sameQTensor('async quantize', want, got);
    const storage = offsetView(Uint8Array, 1, Array.from(want.intRepr()), 0, 11, 13);
    const gotFloat = await new nnq.DeQuantize().forwardAsync(makePerTensorQuantizedTensor(storage, [37], want.qScale(), want.qZeroPoint()));
    expectExact('async dequantize', want.dequantize().data, gotFloat.data, { kind: 'float32' });
  });
});
