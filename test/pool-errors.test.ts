// Pool-norm argument errors (TypeError/RangeError naming the parameter, in JS and again natively), async forwards, module reprs.
import { makePerChannelQuantizedTensor, makePerTensorQuantizedTensor, nniq, nnq, ops, qF, QTensor, tensor } from '..';
import { addon } from '../dist/native';
import { expectExact } from './helpers/compare';
import { expectValidationError, expectValidationRejection } from './helpers/errors';

function q4(shape = [1, 2, 4, 4], dtype: 'quint8' | 'qint8' | 'qint32' = 'quint8'): QTensor {
  const n = shape.reduce((a, b) => a * b, 1);
  const data = dtype === 'quint8' ? Uint8Array.from({ length: n }, (_, i) => (i * 37) % 256) : dtype === 'qint8' ? Int8Array.from({ length: n }, (_, i) => ((i * 37) % 256) - 128) : new Int32Array(n);
  return makePerTensorQuantizedTensor(data, shape, 0.1, dtype === 'quint8' ? 3 : 0, dtype);
}

describe('pooling argument errors', () => {
  test('input', () => {
    expectValidationError(() => qF.maxPool2d(tensor([1, 2, 3, 4], [1, 1, 2, 2]) as unknown as QTensor, 2), 'TypeError', 'input');
    expectValidationError(() => qF.maxPool2d(q4([2, 4]), 2), 'RangeError', 'input');
    expectValidationError(() => qF.avgPool2d(q4([1, 2, 4, 4], 'qint32'), 2), 'RangeError', 'input');
    const perChannel = makePerChannelQuantizedTensor(new Uint8Array(32), [1, 2, 4, 4], [0.1, 0.2], [0, 0], 1, 'quint8');
    expectValidationError(() => qF.maxPool2d(perChannel, 2), 'RangeError', 'input');
    expectValidationError(() => qF.maxPool2d(q4([1, 2, 0, 4]), 1), 'RangeError', 'input');
  });

  test('window options', () => {
    expectValidationError(() => qF.maxPool2d(q4(), 0), 'RangeError', 'kernelSize[0]');
    expectValidationError(() => qF.maxPool2d(q4(), [2, 2, 2]), 'RangeError', 'kernelSize');
    expectValidationError(() => qF.maxPool2d(q4(), '2' as unknown as number), 'TypeError', 'kernelSize');
    expectValidationError(() => qF.maxPool2d(q4(), 2, { padding: 2 }), 'RangeError', 'padding');
    expectValidationError(() => qF.maxPool2d(q4(), 2, { stride: 0 }), 'RangeError', 'stride[0]');
    expectValidationError(() => qF.maxPool2d(q4(), 2, { dilation: 0 }), 'RangeError', 'dilation[0]');
    expectValidationError(() => qF.maxPool2d(q4(), 5), 'RangeError', 'input');
    expectValidationError(() => qF.maxPool2d(q4(), 3, { dilation: 2 }), 'RangeError', 'input');
    expectValidationError(() => qF.maxPool2d(q4(), 2, { ceilMode: 1 as unknown as boolean }), 'TypeError', 'ceilMode');
    expectValidationError(() => qF.maxPool2d(q4(), 2, { returnIndices: true }), 'RangeError', 'returnIndices');
    expectValidationError(() => qF.maxPool2d(q4(), 2, { strid: 1 } as never), 'RangeError', 'options key');
    expectValidationError(() => qF.avgPool2d(q4(), 2, { divisorOverride: 0 }), 'RangeError', 'divisorOverride');
    expectValidationError(() => qF.avgPool2d(q4(), 2, { dilation: 2 } as never), 'RangeError', 'options key');
    expectValidationError(() => qF.adaptiveAvgPool2d(q4(), [0, 2]), 'RangeError', 'outputSize[0]');
    expectValidationError(() => qF.adaptiveMaxPool2d(q4(), [1, 2, 3]), 'RangeError', 'outputSize');
  });

  test('the binding re-checks geometry against the buffers', () => {
    const native = addon as unknown as Record<string, (...args: unknown[]) => unknown>;
    // The ops' own Status messages read "Expected <what> for <parameter> but received <value>" (no JS type).
    const expectNativeRange = (body: () => unknown, parameter: string) => {
      let caught: unknown;
      try {
        body();
      } catch (error) {
        caught = error;
      }
      expect((caught as Error)?.name).toBe('RangeError');
      expect((caught as Error).message).toMatch(new RegExp(`^Expected .+ for ${parameter}( |$)`));
    };
    // Geometry claiming a 1x2x8x8 input over a 32-byte buffer.
    const geometry = Float64Array.from([1, 2, 1, 8, 8, 1, 4, 4, 1, 2, 2, 1, 2, 2, 0, 0, 0, 1, 1, 1]);
    expectNativeRange(() => native.maxPool(new Uint8Array(32), 0, 0, geometry), 'input');
    expectValidationError(() => native.maxPool(new Uint8Array(128), 0, 2, geometry), 'RangeError', 'layout');
    expectValidationError(() => native.maxPool(new Uint8Array(128), 0, 0, new Float64Array(3)), 'RangeError', 'geometry');
    const fractional = geometry.slice();
    fractional[3] = 7.5;
    expectValidationError(() => native.maxPool(new Uint8Array(128), 0, 0, fractional), 'RangeError', 'geometry');
    const wrongOutput = geometry.slice();
    wrongOutput[7] = 9;
    expectNativeRange(() => native.maxPool(new Uint8Array(128), 0, 0, wrongOutput), 'input');
  });
});

describe('resampling argument errors', () => {
  test('options', () => {
    expectValidationError(() => qF.interpolate(q4(), { size: 8, scaleFactor: 2 }), 'RangeError', 'options');
    expectValidationError(() => qF.interpolate(q4(), {}), 'RangeError', 'options');
    expectValidationError(() => qF.interpolate(q4(), { size: 8, mode: 'bicubic' as never }), 'RangeError', 'mode');
    expectValidationError(() => qF.interpolate(q4(), { size: 8, alignCorners: true }), 'RangeError', 'alignCorners');
    expectValidationError(() => qF.interpolate(q4([1, 2, 2, 2, 2]), { size: 4, mode: 'bilinear' }), 'RangeError', 'input');
    expectValidationError(() => qF.interpolate(q4(), { scaleFactor: 0.1 }), 'RangeError', 'scaleFactor');
    expectValidationError(() => qF.interpolate(q4(), { scaleFactor: -1 }), 'RangeError', 'scaleFactor[0]');
    expectValidationError(() => qF.upsampleBilinear(q4(), { size: 8, mode: 'nearest' } as never), 'RangeError', 'options key');
  });
});

describe('normalization argument errors', () => {
  test('batch norm', () => {
    const ones = [1, 1];
    expectValidationError(() => ops.quantized.batchNorm2d(q4(), [1, 1, 1], ones, [0, 0], ones, 1e-5, 0.1, 0), 'RangeError', 'weight');
    expectValidationError(() => ops.quantized.batchNorm2d(q4([1, 2, 4]), ones, ones, [0, 0], ones, 1e-5, 0.1, 0), 'RangeError', 'input');
    expectValidationError(() => ops.quantized.batchNorm2d(q4(), ones, ones, [0, 0], ones, -1, 0.1, 0), 'RangeError', 'eps');
    expectValidationError(() => ops.quantized.batchNorm2d(q4(), ones, ones, [0, 0], ones, 1e-5, 0, 0), 'RangeError', 'outputScale');
    expectValidationError(() => ops.quantized.batchNorm2d(q4(), ones, ones, [0, 0], ones, 1e-5, 0.1, 256), 'RangeError', 'outputZeroPoint');
    expectValidationError(() => ops.quantized.batchNorm2d(q4(), ones, ones, null as never, ones, 1e-5, 0.1, 0), 'TypeError', 'runningMean');
    expectValidationError(() => new nnq.BatchNorm2d(0), 'RangeError', 'numFeatures');
  });

  test('layer, group, instance norm', () => {
    expectValidationError(() => ops.quantized.layerNorm(q4(), [3], null, null, 1e-5, 0.1, 0), 'RangeError', 'normalizedShape');
    expectValidationError(() => ops.quantized.layerNorm(q4(), [4], [1, 1], [0, 0], 1e-5, 0.1, 0), 'RangeError', 'weight');
    expectValidationError(() => ops.quantized.groupNorm(q4([1, 3, 4, 4]), 2, null, null, 1e-5, 0.1, 0), 'RangeError', 'numGroups');
    expectValidationError(() => new nnq.GroupNorm(2, 3, null, null, 0.1, 0), 'RangeError', 'numGroups');
    expectValidationError(() => new nnq.InstanceNorm2d(2, null, null, 0.1, 0).forward(q4([2, 4, 4])), 'RangeError', 'x');
  });
});

describe('async forwards and reprs', () => {
  test('forwardAsync gives the sync bits; argument errors reject', async () => {
    const x = q4([2, 3, 6, 6]);
    const modules = [new nnq.MaxPool2d(3, { stride: 2, padding: 1 }), new nnq.AvgPool2d(2), new nnq.AdaptiveAvgPool2d([2, 3]), new nnq.Upsample({ scaleFactor: 2, mode: 'bilinear' }), new nniq.BNReLU2d(3)];
    for (const m of modules) {
      const sync = m.forward(x);
      const later = await m.forwardAsync(x);
      expectExact(String(m), sync.intRepr(), later.intRepr());
    }
    const viaAsync = await qF.interpolateAsync(x, { size: [3, 9] });
    expectExact('interpolateAsync', qF.interpolate(x, { size: [3, 9] }).intRepr(), viaAsync.intRepr());
    await expectValidationRejection(new nnq.MaxPool2d(9).forwardAsync(x), 'RangeError', 'input');
    await expectValidationRejection(qF.interpolateAsync(x, {}), 'RangeError', 'options');
  });

  test('module reprs follow torch', () => {
    expect(String(new nnq.MaxPool2d(2))).toBe('MaxPool2d(kernel_size=2, stride=2, padding=0, dilation=1, ceil_mode=False)');
    expect(String(new nnq.BatchNorm2d(4))).toBe('QuantizedBatchNorm2d(4, eps=1e-05, momentum=0.1, affine=True, track_running_stats=True)');
    expect(String(new nnq.AdaptiveAvgPool2d([1, 1]))).toBe('AdaptiveAvgPool2d(output_size=(1, 1))');
  });

  test('BatchNorm keeps scale as float32, like torch\'s buffer', () => {
    const bn = new nnq.BatchNorm2d(2);
    bn.scale = 0.1;
    expect(bn.forward(q4()).qScale()).toBe(Math.fround(0.1));
  });
});
