// qF.linear's cache of prepacked weights and linear weight()/bias()'s kept copies: a call gives exactly what a fresh packing gives, whatever was edited in place between calls; the cache is bounded and keeps no tensor alive.
import { runNodeJson } from './helpers/child';
import { Rng, testSeed } from './helpers/random';
import { QTensor, Tensor, jit, makePerChannelQuantizedTensor, makePerTensorQuantizedTensor, nnq, qF, tensor } from '..';

interface CacheModule {
  linearCacheStats(): { entries: number; keptBytes: number; hits: number; misses: number };
  clearLinearCache(): void;
  MAX_ENTRIES: number;
  MAX_KEPT_BYTES: number;
}
const cache = require('../dist/linear-conv/linear-cache') as CacheModule;

const rng = new Rng(testSeed('linear-functional-cache'));

function randomInt8(n: number): Int8Array {
  return Int8Array.from({ length: n }, () => rng.int(-128, 127));
}

function input(rows: number, inFeatures: number): QTensor {
  return makePerTensorQuantizedTensor(Uint8Array.from({ length: rows * inFeatures }, () => rng.int(0, 255)), [rows, inFeatures], 0.02, rng.int(0, 255), 'quint8');
}

function perTensorWeight(out: number, inF: number): QTensor {
  return makePerTensorQuantizedTensor(randomInt8(out * inF), [out, inF], 0.011, 0, 'qint8');
}

function perChannelWeight(out: number, inF: number): QTensor {
  const scales = Float64Array.from({ length: out }, () => 0.005 + rng.int(1, 20) / 1000);
  return makePerChannelQuantizedTensor(randomInt8(out * inF), [out, inF], scales, new Int32Array(out), 0, 'qint8');
}

function randomBias(out: number): Tensor {
  return tensor(Float32Array.from({ length: out }, () => rng.int(-80, 80) / 10));
}

/**
 * The uncached answer: a module packing copies of the weight's and bias's values now (its own
 * packing, never the cache's), run through its general plan.
 */
function fresh(x: QTensor, w: QTensor, b: Tensor | null, scale: number, zeroPoint: number): QTensor {
  const [out, inF] = w.shape;
  const copy =
    w.qscheme === 'per_tensor_affine'
      ? makePerTensorQuantizedTensor(w.intRepr() as Int8Array, [out, inF], w.qScale(), w.qZeroPoint(), 'qint8')
      : makePerChannelQuantizedTensor(w.intRepr() as Int8Array, [out, inF], w.qPerChannelScales(), w.qPerChannelZeroPoints(), 0, 'qint8');
  const m = new nnq.Linear(inF, out);
  m.setWeightBias(copy, b === null ? null : tensor(b.data.slice()));
  m.scale = scale;
  m.zeroPoint = zeroPoint;
  const y = (m as unknown as { plan(x: unknown, activation: number): { run(): QTensor } }).plan(x, 0).run();
  m.dispose();
  return y;
}

function bytes(q: QTensor): number[] {
  return Array.from(q.intRepr());
}

function expectSame(actual: QTensor, expected: QTensor): void {
  expect(actual.shape).toEqual(expected.shape);
  expect(actual.strides).toEqual(expected.strides);
  expect(actual.qScale()).toBe(expected.qScale());
  expect(actual.qZeroPoint()).toBe(expected.qZeroPoint());
  expect(bytes(actual)).toEqual(bytes(expected));
}

beforeEach(() => cache.clearLinearCache());

describe('qF.linear cache of packed weights', () => {
  test.each([
    ['per tensor, bias', false, true],
    ['per tensor, no bias', false, false],
    ['per channel, bias', true, true],
  ])('%s: repeated calls hit and equal a fresh packing', (_name, perChannel, withBias) => {
    const w = perChannel ? perChannelWeight(12, 40) : perTensorWeight(12, 40);
    const b = withBias ? randomBias(12) : null;
    const x = input(3, 40);
    const before = cache.linearCacheStats();
    for (let i = 0; i < 4; i++) expectSame(qF.linear(x, w, b, { scale: 0.05, zeroPoint: 100 }), fresh(x, w, b, 0.05, 100));
    const after = cache.linearCacheStats();
    expect(after.misses - before.misses).toBe(1);
    expect(after.hits - before.hits).toBeGreaterThanOrEqual(3);
    expect(after.entries).toBe(1);
  });

  test('weight values edited in place between calls give what a fresh packing of the new values gives', () => {
    for (const make of [perTensorWeight, perChannelWeight]) {
      // 300 values: the weight compare takes the memcmp branch; 24: the loop.
      for (const [out, inF] of [[10, 30], [4, 6]]) {
        const w = make(out, inF);
        const b = randomBias(out);
        const x = input(5, inF);
        const first = qF.linear(x, w, b, { scale: 0.03, zeroPoint: 128 });
        expectSame(first, fresh(x, w, b, 0.03, 128));
        const data = w.data as Int8Array;
        // One value (the last), then all of them: each edit must be seen.
        data[data.length - 1] = data[data.length - 1] === 127 ? -128 : 127;
        expectSame(qF.linear(x, w, b, { scale: 0.03, zeroPoint: 128 }), fresh(x, w, b, 0.03, 128));
        for (let i = 0; i < data.length; i++) data[i] = -data[i] >> 1;
        const edited = qF.linear(x, w, b, { scale: 0.03, zeroPoint: 128 });
        expectSame(edited, fresh(x, w, b, 0.03, 128));
        expect(bytes(edited)).not.toEqual(bytes(first));
      }
    }
  });

  test('bias values edited in place between calls (a -0 included) give what a fresh packing gives', () => {
    const w = perTensorWeight(70, 16); // 70 floats: the bias compare takes the memcmp branch
    const small = perTensorWeight(6, 16);
    for (const [weight, out] of [[w, 70], [small, 6]] as const) {
      const b = randomBias(out);
      const x = input(2, 16);
      const first = qF.linear(x, weight, b);
      b.data[0] += 3;
      const edited = qF.linear(x, weight, b);
      expectSame(edited, fresh(x, weight, b, x.qScale(), x.qZeroPoint()));
      expect(bytes(edited)).not.toEqual(bytes(first));
      b.data[1] = 0;
      qF.linear(x, weight, b);
      const misses = cache.linearCacheStats().misses;
      b.data[1] = -0;
      expectSame(qF.linear(x, weight, b), fresh(x, weight, b, x.qScale(), x.qZeroPoint()));
      expect(cache.linearCacheStats().misses).toBe(misses + 1); // other bits: packed again
      b.data[1] = NaN;
      expectSame(qF.linear(x, weight, b), fresh(x, weight, b, x.qScale(), x.qZeroPoint()));
    }
  });

  test('another QTensor or Tensor holding the same values hits; other qparams, shapes or a dropped bias miss', () => {
    const w = perTensorWeight(8, 8);
    const b = randomBias(8);
    const x = input(2, 8);
    qF.linear(x, w, b);
    const { hits, misses } = cache.linearCacheStats();
    const same = makePerTensorQuantizedTensor((w.data as Int8Array).slice(), [8, 8], w.qScale(), w.qZeroPoint(), 'qint8');
    expectSame(qF.linear(x, same, tensor(b.data.slice())), fresh(x, w, b, x.qScale(), x.qZeroPoint()));
    expect(cache.linearCacheStats()).toMatchObject({ hits: hits + 1, misses });
    const rescaled = makePerTensorQuantizedTensor((w.data as Int8Array).slice(), [8, 8], w.qScale() * 2, w.qZeroPoint(), 'qint8');
    expectSame(qF.linear(x, rescaled, b), fresh(x, rescaled, b, x.qScale(), x.qZeroPoint()));
    expectSame(qF.linear(x, w, null), fresh(x, w, null, x.qScale(), x.qZeroPoint()));
    const transposed = w.permute([1, 0]); // same storage, other layout: read through a copy, never kept
    expectSame(qF.linear(x, transposed, b), fresh(x, transposed, b, x.qScale(), x.qZeroPoint()));
    expect(cache.linearCacheStats().misses).toBe(misses + 3);
  });

  test("a module's weight() and bias() each call (new tensors, same values) hit; edits to them never reach the module", () => {
    const m = new nnq.Linear(8, 8);
    m.setWeightBias(perTensorWeight(8, 8), randomBias(8));
    const x = input(2, 8);
    const expected = fresh(x, m.weight(), m.bias(), 1 / 32, 128);
    const misses = cache.linearCacheStats().misses;
    for (let i = 0; i < 3; i++) expectSame(qF.linear(x, m.weight(), m.bias(), { scale: 1 / 32, zeroPoint: 128 }), expected);
    expect(cache.linearCacheStats().misses).toBe(misses + 1);
    const w = m.weight();
    const b = m.bias() as Tensor;
    const [wBefore, bBefore] = [bytes(w), Array.from(b.data)];
    (w.data as Int8Array).fill(5);
    b.data.fill(7);
    expect(bytes(m.weight())).toEqual(wBefore);
    expect(Array.from((m.bias() as Tensor).data)).toEqual(bBefore);
    expect(m.weight().strides).toEqual([8, 1]);
    expect((m.bias() as Tensor).shape).toEqual([8]);
    m.dispose();
    expect(() => m.weight()).toThrow(TypeError);
    expect(() => m.bias()).toThrow(TypeError);
  });

  test('linearAsync and jit.trace see edits too', async () => {
    const w = perChannelWeight(6, 10);
    const b = randomBias(6);
    const x = input(3, 10);
    await qF.linearAsync(x, w, b, { scale: 0.04, zeroPoint: 3 });
    (w.data as Int8Array)[7] ^= 0x55;
    expectSame(await qF.linearAsync(x, w, b, { scale: 0.04, zeroPoint: 3 }), fresh(x, w, b, 0.04, 3));
    const traced = jit.trace((v: QTensor) => qF.linear(v, w, b, { scale: 0.04, zeroPoint: 3 }), [x]);
    expectSame(traced.forward(x) as QTensor, fresh(x, w, b, 0.04, 3));
    traced.dispose();
  });

  test('bounded in entries and in kept bytes', () => {
    const x = input(1, 16);
    for (let i = 0; i < 3 * cache.MAX_ENTRIES; i++) {
      const w = perTensorWeight(4, 16);
      expectSame(qF.linear(x, w, null), fresh(x, w, null, x.qScale(), x.qZeroPoint()));
      expect(cache.linearCacheStats().entries).toBeLessThanOrEqual(cache.MAX_ENTRIES);
    }
    expect(cache.linearCacheStats().entries).toBe(cache.MAX_ENTRIES);
    // One weight over the byte budget is packed per call, never kept.
    const inF = 4096;
    const out = Math.floor(cache.MAX_KEPT_BYTES / inF) + 1;
    const big = makePerTensorQuantizedTensor(new Int8Array(out * inF).fill(3), [out, inF], 0.01, 0, 'qint8');
    const bx = input(1, inF);
    qF.linear(bx, big, null);
    const stats = cache.linearCacheStats();
    expect(stats.keptBytes).toBeLessThanOrEqual(cache.MAX_KEPT_BYTES);
    expect(stats.entries).toBe(cache.MAX_ENTRIES);
  });

  test('keeps no weight, bias or input alive (--expose-gc)', () => {
    const code = `
      const q = require('.');
      const refs = [];
      (() => {
        const w = q.makePerTensorQuantizedTensor(new Int8Array(64).fill(3), [8, 8], 0.01, 0, 'qint8');
        const b = q.tensor(new Float32Array(8).fill(0.5));
        const x = q.makePerTensorQuantizedTensor(new Uint8Array(16).fill(9), [2, 8], 0.02, 4, 'quint8');
        for (let i = 0; i < 3; i++) q.qF.linear(x, w, b);
        refs.push(new WeakRef(w), new WeakRef(w.data), new WeakRef(b), new WeakRef(b.data), new WeakRef(x));
      })();
      (async () => {
        for (let k = 0; k < 10; k++) { global.gc(); await new Promise((r) => setImmediate(r)); }
        const stats = require('./dist/linear-conv/linear-cache').linearCacheStats();
        console.log(JSON.stringify({ alive: refs.filter((r) => r.deref() !== undefined).length, entries: stats.entries, hits: stats.hits }));
      })();
    `;
    const report = runNodeJson<{ alive: number; entries: number; hits: number }>(code, { nodeArgs: ['--expose-gc'] });
    expect(report).toEqual({ alive: 0, entries: 1, hits: 2 });
  });
});
