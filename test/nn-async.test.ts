// Every *Async form a forward uses gives its sync form's bits (qF, ops.quantized, QFunctional, glue modules, containers); bad arguments reject, never throw.
import { QTensor, Tensor, nn, nnq, ops, qF, quantizePerChannel, quantizePerTensor, tensor } from '..';
import { expectExact } from './helpers/compare';
import { Rng, testSeed } from './helpers/random';

const rng = new Rng(testSeed('nn-async'));

function floats(n: number, spread = 3): Float32Array {
  return Float32Array.from({ length: n }, () => rng.range(-spread, spread));
}

function qinput(shape: number[], scale = 0.05, zeroPoint = 120): QTensor {
  return quantizePerTensor(tensor(floats(shape.reduce((a, b) => a * b, 1)), shape), scale, zeroPoint, 'quint8');
}

function same(label: string, want: QTensor | Tensor, got: QTensor | Tensor): void {
  expect(got.shape).toEqual(want.shape);
  expect(got.strides).toEqual(want.strides);
  if (want instanceof QTensor) {
    const g = got as QTensor;
    expect([g.dtype, g.qScale(), g.qZeroPoint()]).toEqual([want.dtype, want.qScale(), want.qZeroPoint()]);
    expectExact(label, want.intRepr(), g.intRepr());
  } else {
    expectExact(label, want.data, (got as Tensor).data, { kind: 'float32' });
  }
}

// [name, sync, async] over fresh inputs each call (inplace ops write their input).
type Pair = [string, () => QTensor | Tensor, () => Promise<QTensor | Tensor>];
type AnyFn = (...args: unknown[]) => unknown;
const fns = qF as unknown as Record<string, AnyFn>;
const qops = ops.quantized as unknown as Record<string, AnyFn>;

function pair(table: Record<string, AnyFn>, name: string, args: () => unknown[]): Pair {
  return [name, () => table[name](...args()) as QTensor, () => table[`${name}Async`](...args()) as Promise<QTensor>];
}

const x4 = qinput([2, 6, 9, 9]);
const x2 = qinput([3, 70]);
const wConv = quantizePerChannel(tensor(floats(8 * 6 * 9, 0.3), [8, 6, 3, 3]), new Float64Array(8).fill(0.01), new Int32Array(8), 0, 'qint8');
const wConvT = quantizePerTensor(tensor(floats(6 * 4 * 9, 0.3), [6, 4, 3, 3]), 0.01, 0, 'qint8');
const wLin = quantizePerTensor(tensor(floats(5 * 70, 0.3), [5, 70]), 0.01, 0, 'qint8');
const bias = tensor(floats(8), [8]);
const x3 = qinput([2, 6, 11]);
const y2 = qinput([3, 70], 0.07, 30);
const row2 = qinput([1, 70], 0.07, 30);
const z2 = qinput([2, 70]);
const mean6 = tensor(floats(6), [6]);
const var6 = tensor(Float32Array.from(floats(6), (v) => Math.abs(v) + 0.5), [6]);
// Inplace ops write their input: each call gets a fresh quantization of the same values.
const base2 = floats(210);
const fresh2 = () => quantizePerTensor(tensor(base2.slice(), [3, 70]), 0.05, 120, 'quint8');

const PAIRS: Pair[] = [
  pair(fns, 'linear', () => [x2, wLin, null, { scale: 0.2, zeroPoint: 100 }]),
  pair(fns, 'conv1d', () => [x3, wConv.reshape([8, 6, 9]), bias, { padding: 2, scale: 0.3, zeroPoint: 90 }]),
  pair(fns, 'conv2d', () => [x4, wConv, bias, { stride: 2, padding: 1, scale: 0.3, zeroPoint: 90 }]),
  pair(fns, 'convTranspose2d', () => [x4, wConvT, null, { stride: 2, scale: 0.3, zeroPoint: 90 }]),
  pair(fns, 'relu', () => [x2]),
  pair(fns, 'relu', () => [fresh2(), { inplace: true }]),
  pair(fns, 'relu6', () => [fresh2(), { inplace: true }]),
  pair(fns, 'hardtanh', () => [x2, { minVal: -0.5, maxVal: 2 }]),
  pair(fns, 'clamp', () => [x2, -1, null]),
  pair(fns, 'hardswish', () => [x2, 0.04, 100]),
  pair(fns, 'elu', () => [x2, 0.04, 100, { alpha: 0.5 }]),
  pair(fns, 'celu', () => [x2, 0.04, 100, { alpha: 2 }]),
  pair(fns, 'leakyRelu', () => [x2, { negativeSlope: 0.1, scale: 0.03, zeroPoint: 90 }]),
  pair(fns, 'leakyRelu', () => [fresh2(), { negativeSlope: 0.1, inplace: true }]),
  pair(fns, 'hardsigmoid', () => [x2]),
  pair(fns, 'sigmoid', () => [x2]),
  pair(fns, 'tanh', () => [x2]),
  pair(fns, 'threshold', () => [x2, 0.5, -1]),
  pair(fns, 'maxPool2d', () => [x4, 3, { stride: 2, padding: 1, ceilMode: true }]),
  pair(fns, 'avgPool2d', () => [x4, 2, { countIncludePad: false }]),
  pair(fns, 'adaptiveAvgPool2d', () => [x4, [1, 1]]),
  pair(fns, 'adaptiveMaxPool2d', () => [x4, [2, 3]]),
  pair(fns, 'upsampleNearest', () => [x4, { scaleFactor: 2 }]),
  pair(qops, 'add', () => [x2, y2, 0.1, 128]),
  pair(qops, 'addRelu', () => [x2, row2, 0.1, 128]),
  pair(qops, 'mul', () => [x2, y2, 0.1, 128]),
  pair(qops, 'addScalar', () => [x2, 1.5]),
  pair(qops, 'mulScalar', () => [x2, -2]),
  pair(qops, 'cat', () => [[x2, z2], 0, 0.06, 110]),
  pair(qops, 'batchNorm2d', () => [x4, null, null, mean6, var6, 1e-5, 0.08, 100]),
  pair(qops, 'layerNorm', () => [x2, [70], null, null, 1e-5, 0.05, 128]),
];

describe('*Async gives the sync form\'s bits', () => {
  test.each(PAIRS.map((p, i) => [`${p[0]} #${i}`, p] as [string, Pair]))('%s', async (label, [, sync, async]) => {
    same(label, sync(), await async());
  });

  test('QFunctional async operations', async () => {
    const f = new nnq.QFunctional();
    f.scale = 0.09;
    f.zeroPoint = 120;
    const b = qinput([3, 70], 0.07, 30);
    same('add', f.add(x2, b), await f.addAsync(x2, b));
    same('addRelu', f.addRelu(x2, b), await f.addReluAsync(x2, b));
    same('mul', f.mul(x2, b), await f.mulAsync(x2, b));
    same('addScalar', f.addScalar(x2, 0.5), await f.addScalarAsync(x2, 0.5));
    same('mulScalar', f.mulScalar(x2, 3), await f.mulScalarAsync(x2, 3));
    same('cat', f.cat([x2, b], 1), await f.catAsync([x2, b], 1));
    const m = qinput([3, 4]);
    const n = qinput([4, 5]);
    same('matmul', f.matmul(m, n), await f.matmulAsync(m, n));
  });

  test('glue modules and containers: forwardAsync gives forward\'s bits', async () => {
    const seq = new nn.Sequential(
      new nn.MaxPool2d(2),
      new nn.ReLU(),
      new nn.ReLU6(),
      new nn.Hardsigmoid(),
      new nn.Dropout(),
      new nn.Identity(),
      new nn.AdaptiveAvgPool2d([1, 1]),
      new nn.Flatten(),
    );
    same('Sequential', seq.forward(x4), await seq.forwardAsync(x4));
    const list = new nn.ModuleList([new nn.ReLU({ inplace: true })]);
    const a = qinput([4, 9]);
    const b = quantizePerTensor(a.dequantize(), a.qScale(), a.qZeroPoint(), 'quint8');
    const want = (list.at(0) as nn.ReLU).forward(a);
    const got = await (list.at(0) as nn.ReLU).forwardAsync(b);
    same('inplace ReLU', want, got);
    expect(got).toBe(b); // inplace: the input itself, written
  });

  test('bad arguments reject (never throw synchronously) with the sync form\'s error', async () => {
    const bad = tensor(floats(4), [4]) as unknown as QTensor;
    for (const [name, table] of [['relu', fns], ['conv2d', fns], ['maxPool2d', fns], ['add', qops], ['cat', qops]] as Array<[string, Record<string, AnyFn>]>) {
      let syncError: Error | undefined;
      try {
        table[name](bad, bad, bad, bad);
      } catch (e) {
        syncError = e as Error;
      }
      expect(syncError).toBeDefined();
      let promise: Promise<unknown> | undefined;
      expect(() => {
        promise = table[`${name}Async`](bad, bad, bad, bad) as Promise<unknown>;
      }).not.toThrow();
      await expect(promise).rejects.toThrow(syncError!.message);
    }
    await expect(new nn.ReLU().forwardAsync(bad)).rejects.toThrow(TypeError);
    await expect(new nn.Hardswish().forwardAsync(x2)).rejects.toThrow("torch's nn.Hardswish has no quantized kernel");
    await expect(new nnq.QFunctional().addAsync(bad, bad)).rejects.toThrow(TypeError);
  });
});
