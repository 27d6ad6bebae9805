// The per-call fast path of nnq.Linear-style forward (JS and the native sync linear): same bits and same errors as the general path.
import { expectValidationError } from './helpers/errors';
import { Rng, testSeed } from './helpers/random';
import { QTensor, makePerTensorQuantizedTensor, nniq, nnq, tensor } from '..';

// The general path every forward took before the fast path: the module's plan, run synchronously.
type Planned = { plan(x: unknown, activation: number, alpha?: number): { run(): QTensor } };
type NativeLinear = (...args: unknown[]) => unknown;
const { addon } = require('../dist/native') as { addon: Record<string, NativeLinear> };

const rng = new Rng(testSeed('linear-fast-path'));

function randomBytes(n: number): Uint8Array {
  return Uint8Array.from({ length: n }, () => rng.int(0, 255));
}

function makeLinear(inFeatures: number, outFeatures: number): nnq.Linear {
  const m = new nnq.Linear(inFeatures, outFeatures);
  const w = Int8Array.from({ length: inFeatures * outFeatures }, () => rng.int(-128, 127));
  m.setWeightBias(makePerTensorQuantizedTensor(w, [outFeatures, inFeatures], 0.013, 0, 'qint8'), tensor(Float32Array.from({ length: outFeatures }, () => rng.int(-50, 50) / 10)));
  m.scale = 0.07;
  m.zeroPoint = 61;
  return m;
}

function expectSameQTensor(actual: QTensor, expected: QTensor): void {
  expect(actual.shape).toEqual(expected.shape);
  expect(actual.strides).toEqual(expected.strides);
  expect(actual.dtype).toBe(expected.dtype);
  expect(actual.qscheme).toBe(expected.qscheme);
  expect(actual.qScale()).toBe(expected.qScale());
  expect(Object.is(actual.qZeroPoint(), expected.qZeroPoint())).toBe(true);
  expect(Array.from(actual.intRepr())).toEqual(Array.from(expected.intRepr()));
  expect(Object.isFrozen(actual) && Object.isFrozen(actual.shape) && Object.isFrozen(actual.strides)).toBe(true);
}

/** The error `fn` throws (or undefined), as name and message. */
function thrown(fn: () => unknown): string | undefined {
  try {
    fn();
  } catch (e) {
    return `${(e as Error).name}: ${(e as Error).message}`;
  }
  return undefined;
}

describe('nnq.Linear forward fast path', () => {
  test('bit-identical to the general path over shapes, repeated shapes and every activation', () => {
    const m = makeLinear(24, 10);
    const relu = new nniq.LinearReLU(24, 10);
    relu.setWeightBias(m.weight(), m.bias());
    relu.scale = 0.05;
    relu.zeroPoint = 128;
    for (const shape of [[1, 24], [3, 24], [24], [2, 3, 24], [1, 24], [3, 24]]) {
      const n = shape.reduce((a, b) => a * b, 1);
      const x = makePerTensorQuantizedTensor(randomBytes(n), shape, 0.02, rng.int(0, 255), 'quint8');
      for (let repeat = 0; repeat < 2; repeat++) {
        expectSameQTensor(m.forward(x), (m as unknown as Planned).plan(x, 0).run());
        expectSameQTensor(relu.forward(x), (relu as unknown as Planned).plan(x, 1).run());
      }
    }
  });

  test('inputs the fast path leaves to the general path give the same values', () => {
    const m = makeLinear(8, 5);
    const dense = makePerTensorQuantizedTensor(randomBytes(8 * 6), [6, 8], 0.03, 17, 'quint8');
    const transposed = makePerTensorQuantizedTensor(dense.transpose(0, 1).contiguous().intRepr() as Uint8Array, [8, 6], 0.03, 17, 'quint8').transpose(0, 1);
    expectSameQTensor(m.forward(transposed), m.forward(dense));
    // A -0 zero point takes the general path, which normalizes it.
    m.zeroPoint = -0;
    const y = m.forward(dense);
    expect(Object.is(y.qZeroPoint(), 0)).toBe(true);
    m.zeroPoint = 0;
    expectSameQTensor(m.forward(dense), y);
  });

  test('errors are those of the general path', () => {
    const m = makeLinear(8, 5);
    const x = makePerTensorQuantizedTensor(randomBytes(16), [2, 8], 0.03, 17, 'quint8');
    const general = (value: unknown) => () => (m as unknown as Planned).plan(value, 0).run();
    const cases: [unknown, () => void][] = [
      [makePerTensorQuantizedTensor(randomBytes(14), [2, 7], 0.03, 17, 'quint8'), () => {}],
      [makePerTensorQuantizedTensor(new Int8Array(16), [2, 8], 0.03, 1, 'qint8'), () => {}],
      [new Uint8Array(16), () => {}],
      [x, () => (m.scale = Number.NaN)],
      [x, () => (m.scale = 1e-50)],
      [x, () => (m.zeroPoint = 256)],
      [x, () => (m.zeroPoint = 1.5)],
    ];
    for (const [input, breakIt] of cases) {
      m.scale = 0.07;
      m.zeroPoint = 61;
      breakIt();
      const message = thrown(() => m.forward(input as QTensor));
      expect(message).toBeDefined();
      expect(message).toBe(thrown(general(input)));
    }
    m.scale = 0.07;
    m.zeroPoint = 61;
    const transferred = makePerTensorQuantizedTensor(randomBytes(16), [2, 8], 0.03, 17, 'quint8');
    structuredClone(transferred.data.buffer, { transfer: [transferred.data.buffer as ArrayBuffer] });
    expectValidationError(() => m.forward(transferred), 'TypeError', 'x.data');
  });
});

describe('native sync linear fast path', () => {
  const m = makeLinear(16, 4);
  const handle = (m as unknown as { packed: { handle: unknown } }).packed.handle;
  const x = randomBytes(32);
  const good = [handle, x, 2, 0.03, 17, 0.07, 61, 0, 0];

  test('the sync result equals the async one (PrepareLinear), for every activation', async () => {
    for (const activation of [0, 1, 2, 3]) {
      const args = [...good];
      args[7] = activation;
      args[8] = 0.25;
      const sync = addon.linear(...args) as Uint8Array;
      const async = (await addon.linearAsync(...args)) as Uint8Array;
      expect(sync.length).toBe(8);
      expect(Array.from(sync)).toEqual(Array.from(async));
    }
  });

  test('bad arguments throw what the async variant rejects with', async () => {
    const conv = (addon.convPrepack as NativeLinear)(
      Float64Array.from([1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]),
      new Int8Array(1),
      Float64Array.of(1),
      Int32Array.of(0),
      null,
    );
    const edits: [number, unknown][] = [
      [0, conv],
      [0, {}],
      [1, new Int8Array(32)],
      [1, new Uint8Array(31)],
      [2, 3],
      [2, -1],
      [2, 1.5],
      [3, 0],
      [3, 1e-50],
      [4, 256],
      [4, '1'],
      [5, Number.POSITIVE_INFINITY],
      [6, -1],
      [7, 4],
      [7, 0.5],
      [8, 'slope'],
      [9, undefined],
    ];
    for (const [index, value] of edits) {
      const args = [...good];
      if (index < args.length) args[index] = value;
      else args.length = 8; // one argument missing
      const syncError = thrown(() => addon.linear(...args));
      const asyncError = await Promise.resolve()
        .then(() => addon.linearAsync(...args))
        .then(
        () => undefined,
        (e: Error) => `${e.name}: ${e.message}`,
      );
      expect(syncError).toBeDefined();
      expect(syncError).toBe(asyncError);
    }
    const transferred = randomBytes(32);
    structuredClone(transferred.buffer, { transfer: [transferred.buffer as ArrayBuffer] });
    expectValidationError(() => addon.linear(handle, transferred, 2, 0.03, 17, 0.07, 61, 0, 0), 'TypeError', 'input');
  });
});
