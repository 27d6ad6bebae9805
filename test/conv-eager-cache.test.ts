// Conv modules' eager forwards (the per-module derived state, the native sync fast path, the per-handle output stages) against fresh modules and the general path, as settings, weights, qparams, engines, ISAs and inputs change.
import { backend, jit, nniq, nnq, QTensor, quantizePerTensor, quantizePerChannel, tensor, Tensor } from '..';
import { detach, thrown } from './helpers/errors';
import { Rng, testSeed } from './helpers/random';

type NativeConv = (...args: unknown[]) => unknown;
const { addon } = require('../dist/native') as { addon: Record<string, NativeConv> };

const rng = new Rng(testSeed('conv-eager-cache'));

function floats(n: number, lo = -2, hi = 2): Float32Array {
  return Float32Array.from({ length: n }, () => rng.range(lo, hi));
}

function qinput(shape: number[], scale = 1 / 32, zeroPoint = 128): QTensor {
  return quantizePerTensor(tensor(floats(shape.reduce((a, b) => a * b, 1)), shape), scale, zeroPoint, 'quint8');
}

function expectSameQ(got: QTensor, want: QTensor): void {
  expect(got.shape).toEqual(want.shape);
  expect(got.strides).toEqual(want.strides);
  expect(got.dtype).toBe(want.dtype);
  expect(got.qScale()).toBe(want.qScale());
  expect(Object.is(got.qZeroPoint(), want.qZeroPoint())).toBe(true);
  expect(Array.from(got.intRepr())).toEqual(Array.from(want.intRepr()));
  expect(Object.isFrozen(got.shape) && Object.isFrozen(got.strides)).toBe(true);
}

type AnyConv = nnq.Conv1d | nnq.Conv2d | nnq.Conv3d | nniq.ConvReLU2d | nnq.ConvTranspose2d;
type Planned = { plan(x: unknown, relu: boolean): { run(): QTensor } };

/** Random weights (per tensor or per channel) and bias of `m`'s shape, set on it. */
function randomWeights(m: AnyConv, perChannel: boolean): [QTensor, Tensor] {
  const shape = m.weight().shape.slice();
  const n = shape.reduce((a, b) => a * b, 1);
  const w = tensor(floats(n, -1, 1), shape);
  const axis = m instanceof nnq.ConvTranspose2d ? 1 : 0;
  const qw = perChannel
    ? quantizePerChannel(w, tensor(Float32Array.from({ length: shape[axis] }, () => rng.range(0.005, 0.02))), new Int32Array(shape[axis]), axis, 'qint8')
    : quantizePerTensor(w, 0.01, 0, 'qint8');
  const bias = tensor(floats(m.outChannels, -1, 1));
  m.setWeightBias(qw, bias);
  return [qw, bias];
}

/** A fresh module of m's kind with m's weights and qparams: a new handle, so none of m's cached state. */
function fresh(make: () => AnyConv, m: AnyConv): AnyConv {
  const r = make();
  r.setWeightBias(m.weight(), m.bias());
  r.scale = m.scale;
  r.zeroPoint = m.zeroPoint;
  return r;
}

const relu = (m: AnyConv) => m instanceof nniq.ConvReLU2d;

describe('conv module eager forward', () => {
  const makers: [string, () => AnyConv, number[]][] = [
    ['Conv2d 3x3 pad 1', () => new nnq.Conv2d(4, 4, 3, { padding: 1 }), [1, 4, 4, 4]],
    ['Conv2d grouped strided', () => new nnq.Conv2d(4, 6, [3, 2], { stride: [2, 1], groups: 2 }), [2, 4, 5, 6]],
    ['Conv2d depthwise reflect', () => new nnq.Conv2d(3, 3, 3, { padding: 1, groups: 3, paddingMode: 'reflect' }), [1, 3, 5, 5]],
    ['ConvReLU2d', () => new nniq.ConvReLU2d(3, 5, 1), [1, 3, 4, 4]],
    ['Conv1d', () => new nnq.Conv1d(4, 3, 3, { padding: 'same' }), [2, 4, 7]],
    ['Conv3d', () => new nnq.Conv3d(2, 3, 2), [1, 2, 3, 3, 3]],
    ['ConvTranspose2d k2 s2', () => new nnq.ConvTranspose2d(4, 4, 2, { stride: 2 }), [1, 4, 4, 4]],
    ['ConvTranspose2d k3 s2 p1 op1', () => new nnq.ConvTranspose2d(4, 2, 3, { stride: 2, padding: 1, outputPadding: 1 }), [1, 4, 3, 3]],
  ];

  test.each(makers)('%s equals a fresh module across layouts, input qparams, output qparams and weights', (_name, make, shape) => {
    const m = make();
    for (const perChannel of [false, true]) {
      randomWeights(m, perChannel);
      for (const [scale, zeroPoint] of [[0.05, 70], [0.05, 70], [0.11, 3], [0.05, 70]]) {
        m.scale = scale;
        m.zeroPoint = zeroPoint;
        const inputs = [qinput(shape), qinput(shape, 0.07, 5), qinput(shape), qinput(shape).contiguous(shape.length === 4 ? 'channels_last' : shape.length === 5 ? 'channels_last_3d' : 'contiguous_format')];
        for (const x of inputs) {
          const want = (fresh(make, m) as unknown as Planned).plan(x, relu(m)).run();
          expectSameQ(m.forward(x), want);
          expectSameQ(m.forward(x), want);
          expectSameQ((m as unknown as Planned).plan(x, relu(m)).run(), want);
        }
      }
    }
  });

  test('inputs read through a copy (views) and odd qparams take the general path with the same values', () => {
    const make = () => new nnq.Conv2d(4, 4, 3, { padding: 1 });
    const m = make();
    randomWeights(m, false);
    const x = qinput([1, 4, 6, 6]);
    m.forward(x);
    const permuted = x.permute([0, 1, 3, 2]);
    const batch1 = qinput([2, 4, 6, 6]).narrow(0, 1, 1);  // row-major over an offset view: read in place
    const rows = qinput([1, 4, 8, 6]).narrow(2, 1, 6);  // strided: copied
    for (const v of [permuted, batch1, batch1, rows, permuted, rows]) expectSameQ(m.forward(v), (fresh(make, m) as unknown as Planned).plan(v, false).run());
    // A -0 zero point is read as 0, as the general path's check returns it.
    m.zeroPoint = -0;
    const y = m.forward(x);
    expect(Object.is(y.qZeroPoint(), 0)).toBe(true);
  });

  test('setWeightBias, loadStateDict and attribute changes between calls are never served stale', () => {
    const make = () => new nnq.Conv2d(4, 4, 3, { padding: 1 });
    const m = make();
    const x = qinput([1, 4, 4, 4]);
    randomWeights(m, false);
    m.scale = 0.05;
    m.zeroPoint = 70;
    const first = m.forward(x);
    randomWeights(m, true);
    const second = m.forward(x);
    expect(Array.from(second.intRepr())).not.toEqual(Array.from(first.intRepr()));
    expectSameQ(second, (fresh(make, m) as unknown as Planned).plan(x, false).run());
    const donor = make();
    randomWeights(donor, false);
    donor.scale = 0.09;
    donor.zeroPoint = 12;
    m.loadStateDict(donor.stateDict());
    expectSameQ(m.forward(x), (fresh(make, m) as unknown as Planned).plan(x, false).run());
    expect(Array.from(m.weight().intRepr())).toEqual(Array.from(donor.weight().intRepr()));
    m.scale = 0.2;
    expectSameQ(m.forward(x), (fresh(make, m) as unknown as Planned).plan(x, false).run());
    m.zeroPoint = 200;
    expectSameQ(m.forward(x), (fresh(make, m) as unknown as Planned).plan(x, false).run());
    // ConvTranspose: forward(x, outputSize) repacks and takes the general path; forward(x) after it the module's own weights.
    const t = new nnq.ConvTranspose2d(4, 4, 3, { stride: 2 });
    randomWeights(t, false);
    const tx = qinput([1, 4, 3, 3]);
    const plain = t.forward(tx);
    expect(t.forward(tx, [8, 8]).shape).toEqual([1, 4, 8, 8]);
    expectSameQ(t.forward(tx), plain);
  });

  test('every engine and ISA gives the bits of a fresh module', () => {
    const make = () => new nnq.Conv2d(4, 4, 3, { padding: 1 });
    const m = make();
    randomWeights(m, true);
    m.scale = 0.03;
    m.zeroPoint = 128;
    const x = qinput([1, 4, 4, 4], 0.02, 131);
    const best = backend.info().bestIsa;
    const isas = ['scalar', 'avx2', 'avx512vnni', 'neon', 'neondot'].filter((isa) => {
      try {
        backend.setMaxIsa(isa as never);
        return true;
      } catch {
        return false;
      } finally {
        backend.setMaxIsa(best);
      }
    });
    const outputs = new Map<string, number[]>();
    try {
      for (const isa of isas) {
        backend.setMaxIsa(isa as never);
        for (const engine of ['fbgemm', 'qnnpack', 'onednn', 'fbgemm'] as const) {
          backend.setQuantizedEngine(engine);
          const want = (fresh(make, m) as unknown as Planned).plan(x, false).run();
          expectSameQ(m.forward(x), want);
          expectSameQ(m.forward(x), want);
          const values = Array.from(want.intRepr());
          const before = outputs.get(engine);
          if (before === undefined) outputs.set(engine, values);
          else expect(values).toEqual(before);  // identical on every ISA
        }
      }
    } finally {
      backend.setQuantizedEngine('fbgemm');
      backend.setMaxIsa(best);
    }
  });

  test('errors after a cached call are the general path\'s', () => {
    const m = new nnq.Conv2d(4, 4, 3, { padding: 1 });
    const general = (v: unknown) => () => (m as unknown as Planned).plan(v, false).run();
    const x = qinput([1, 4, 4, 4]);
    m.forward(x);
    const gone = qinput([1, 4, 4, 4]);
    detach(gone.data);
    expect(thrown(() => m.forward(gone))).toEqual(thrown(general(gone)));
    expect(thrown(() => m.forward(gone))).toBeInstanceOf(TypeError);
    for (const bad of [qinput([1, 3, 4, 4]), qinput([4, 4, 4]), quantizePerTensor(tensor(floats(64), [1, 4, 4, 4]), 0.1, 0, 'qint8'), tensor(floats(64), [1, 4, 4, 4]), null]) {
      expect(thrown(() => m.forward(bad as never))).toEqual(thrown(general(bad)));
    }
    for (const [scale, zeroPoint] of [[NaN, 0], [-1, 0], ['1', 0], [1e300, 0], [0.1, 256], [0.1, 1.5], [0.1, '3']]) {
      m.scale = scale as number;
      m.zeroPoint = zeroPoint as number;
      expect(thrown(() => m.forward(x))).toEqual(thrown(general(x)));
    }
    m.scale = 1;
    m.zeroPoint = 0;
    m.forward(x);
    m.dispose();
    expect(thrown(() => m.forward(x))).toBeInstanceOf(TypeError);
  });

  test('jit.trace of a module that has run eagerly records the op', () => {
    for (const m of [new nnq.Conv2d(4, 4, 3, { padding: 1 }), new nnq.ConvTranspose2d(4, 4, 2, { stride: 2 })]) {
      randomWeights(m, false);
      const x = qinput([1, 4, 4, 4]);
      m.forward(x);
      const traced = jit.trace(m, [x]);
      try {
        const z = qinput([1, 4, 4, 4]);  // the traced example's qparams, other values
        expectSameQ(traced.forward(z) as QTensor, m.forward(z));
        randomWeights(m, true);  // a traced plan keeps the weights it recorded
        expect(Array.from((traced.forward(z) as QTensor).intRepr())).not.toEqual(Array.from(m.forward(z).intRepr()));
      } finally {
        traced.dispose();
      }
    }
  });
});

describe('native conv sync fast path', () => {
  const m = new nnq.Conv2d(4, 4, 3, { padding: 1 });
  randomWeights(m, true);
  const handle = (m as unknown as { packed: { handle: unknown } }).packed.handle;
  const spatial = new Float64Array([4, 4, 1]);
  const args = (x: Uint8Array, over: Record<number, unknown> = {}) => {
    const a: unknown[] = [handle, x, 1, spatial, 2, 0.02, 131, 0.03, 128, false, null, 1, 0];
    for (const [i, v] of Object.entries(over)) a[Number(i)] = v;
    return a;
  };
  const bytes = (n: number) => Uint8Array.from({ length: n }, () => rng.int(0, 255));

  test('the sync call gives convAsync\'s bits (the general path) for every layout, relu and qparams', async () => {
    const x = bytes(64);
    for (const over of [{}, { 4: 0 }, { 4: 1 }, { 9: true }, { 5: 0.5, 6: 0 }, { 7: 0.001, 8: 255 }, {}, { 11: 2 }, { 10: bytes(64), 11: 0.1, 12: 3 }]) {
      const sync = addon.conv(...args(x, over)) as Uint8Array;
      const general = (await addon.convAsync(...args(x, over))) as Uint8Array;
      expect(Array.from(sync)).toEqual(Array.from(general));
    }
    // An output above the fast path's size and a shared-memory input: the general sync path.
    const big = bytes(4 * 40 * 40);
    const bigArgs = args(big, { 3: new Float64Array([40, 40, 1]) });
    expect(Array.from(addon.conv(...bigArgs) as Uint8Array)).toEqual(Array.from((await addon.convAsync(...bigArgs)) as Uint8Array));
    const shared = new Uint8Array(new SharedArrayBuffer(64));
    shared.set(x);
    expect(Array.from(addon.conv(...args(shared)) as Uint8Array)).toEqual(Array.from(addon.conv(...args(x)) as Uint8Array));
  });

  test('bad arguments throw what convAsync rejects with', async () => {
    const x = bytes(64);
    const gone = bytes(64);
    detach(gone);
    const cases: Record<number, unknown>[] = [
      { 1: gone }, { 1: bytes(63) }, { 1: new Int8Array(64) }, { 2: -1 }, { 2: 1.5 }, { 3: new Float64Array([4, 4]) }, { 3: new Float64Array([4, 4, 2]) },
      { 3: [4, 4, 1] }, { 4: 3 }, { 5: 0 }, { 5: NaN }, { 6: 256 }, { 7: Infinity }, { 8: -1 }, { 9: 1 }, { 10: bytes(3) }, { 10: bytes(64), 11: 0 }, { 0: {} }, { 0: null },
    ];
    for (const over of cases) {
      const syncError = thrown(() => addon.conv(...args(x, over)));
      // convAsync throws argument errors at the call or rejects with them.
      let asyncError: unknown;
      try {
        await addon.convAsync(...args(x, over));
      } catch (error) {
        asyncError = error;
      }
      expect(asyncError).toEqual(syncError);
      expect((asyncError as Error).name).toBe(syncError.name);
    }
  });
});
