// Async input copies from the snapshot pool (native/src/base/snapshot-pool.h): overlapping forwardAsync calls on shared-shape inputs give forward's bits, inputs overwritten after the call do not leak in, buffers are reused, the cap holds, worker termination stays clean.
import { jit, makePerTensorQuantizedTensor, nnq, QTensor, tensor } from '..';
import { expectExact } from './helpers/compare';
import { random3x3Conv, randomBytes } from './helpers/linear-conv';
import { runNodeJson } from './helpers/child';
import { Rng, testSeed } from './helpers/random';

interface PoolStats {
  maxIdleBytes: number;
  idleBytes: number;
  idleBuffers: number;
  reused: number;
  allocated: number;
  evicted: number;
}
// eslint-disable-next-line @typescript-eslint/no-var-requires
const { addon } = require('../dist/native') as { addon: { snapshotPoolStats(): PoolStats } };

const rng = new Rng(testSeed('async-snapshots'));

// Inputs of at least 128 KiB (the pool's smallest size), of sizes that share buffers (within 25%) or not.
const SHAPES = [
  [1, 16, 96, 96],  // 147456 bytes
  [1, 16, 100, 100],  // 160000: fits a 147456-byte request's neighbours within 25%
  [2, 16, 96, 96],  // 294912
];

function input(shape: number[]): QTensor {
  return makePerTensorQuantizedTensor(randomBytes(rng, shape.reduce((a, b) => a * b, 1)), shape, 0.04, 100, 'quint8');
}

function sameBits(label: string, want: QTensor, got: QTensor): void {
  expect(got.shape).toEqual(want.shape);
  expect(got.strides).toEqual(want.strides);
  expectExact(label, want.intRepr(), got.intRepr());
}

/** Starts every call at once, scribbling over each input right after its call (and again a microtask later). */
async function overlapping(calls: Array<[QTensor, (x: QTensor) => Promise<QTensor>]>): Promise<QTensor[]> {
  const pending = calls.map(([x, run], i) => {
    const promise = run(x);
    (x.data as Uint8Array).fill(i % 256);
    return promise;
  });
  await Promise.resolve();
  for (const [x] of calls) (x.data as Uint8Array).fill(255);
  return Promise.all(pending);
}

describe('overlapping forwardAsync calls read their own snapshots', () => {
  test('eager Conv2d: 3 rounds of 24 calls over 3 shapes, inputs overwritten after each call', async () => {
    const m = random3x3Conv(rng, 16);
    const before = addon.snapshotPoolStats();
    for (let round = 0; round < 3; round++) {
      const inputs = Array.from({ length: 24 }, (_, i) => input(SHAPES[i % SHAPES.length]));
      const wants = inputs.map((x) => m.forward(x));
      const gots = await overlapping(inputs.map((x) => [x, (v) => m.forwardAsync(v)]));
      gots.forEach((got, i) => sameBits(`round ${round} call ${i} ${SHAPES[i % SHAPES.length].join('x')}`, wants[i], got));
    }
    const after = addon.snapshotPoolStats();
    // 72 calls: the first round fills the pool, the later ones take what the earlier gave back.
    expect(after.reused - before.reused).toBeGreaterThanOrEqual(24);
    expect(after.allocated - before.allocated).toBeLessThanOrEqual(48);
    expect(after.idleBytes).toBeLessThanOrEqual(after.maxIdleBytes);
    expect(after.idleBuffers).toBeGreaterThan(0); // settled calls gave their copies back
  });

  test('traced Conv2d (one plan run per call): 16 overlapping calls, inputs overwritten', async () => {
    const m = random3x3Conv(rng, 16);
    const traced = jit.trace(m, input(SHAPES[0]));
    for (let round = 0; round < 2; round++) {
      const inputs = Array.from({ length: 16 }, () => input(SHAPES[0]));
      const wants = inputs.map((x) => m.forward(x));
      const before = addon.snapshotPoolStats();
      const gots = await overlapping(inputs.map((x) => [x, (v) => traced.forwardAsync(v) as Promise<QTensor>]));
      gots.forEach((got, i) => sameBits(`traced round ${round} call ${i}`, wants[i], got));
      if (round === 1) expect(addon.snapshotPoolStats().reused - before.reused).toBeGreaterThanOrEqual(1);
    }
  });

  test('inputs of a MiB and more (copied with streaming stores): exact, from unaligned views too', async () => {
    const m = random3x3Conv(rng, 16);
    // 1,056,784 bytes: past the 1 MiB threshold, ending in a partial 64-byte block.
    const inputs = Array.from({ length: 6 }, () => input([1, 16, 257, 257]));
    const wants = inputs.map((x) => m.forward(x));
    const gots = await overlapping(inputs.map((x) => [x, (v) => m.forwardAsync(v)]));
    gots.forEach((got, i) => sameBits(`large call ${i}`, wants[i], got));
    // A float input viewed at an odd element offset: the copy's source is not 16-byte aligned.
    const quantize = new nnq.Quantize(0.05, 3, 'quint8');
    const n = (1 << 18) + 5;
    const backing = new Float32Array(n + 3);
    for (let i = 0; i < backing.length; i++) backing[i] = rng.int(-500, 500) / 37;
    const x = tensor(backing.subarray(3), [n]);
    const want = quantize.forward(x);
    const pending = quantize.forwardAsync(x);
    backing.fill(1e6);
    expectExact('unaligned large float input', want.intRepr(), (await pending).intRepr());
  });

  test('Quantize on Float32Array and SharedArrayBuffer inputs (the shared ones are copied once, pooled too)', async () => {
    const module = new nnq.Quantize(0.05, 3, 'quint8');
    const n = 64 * 1024; // 256 KiB of floats
    for (const shared of [false, true]) {
      const xs = Array.from({ length: 12 }, () => {
        const data = shared ? new Float32Array(new SharedArrayBuffer(n * 4)) : new Float32Array(n);
        for (let i = 0; i < n; i++) data[i] = rng.int(-500, 500) / 37;
        return tensor(data, [n]);
      });
      const wants = xs.map((x) => module.forward(x));
      const pending = xs.map((x) => {
        const promise = module.forwardAsync(x);
        x.data.fill(1e6);
        return promise;
      });
      const gots = await Promise.all(pending);
      gots.forEach((got, i) => expectExact(`${shared ? 'shared' : 'plain'} ${i}`, wants[i].intRepr(), got.intRepr()));
    }
  });
});

describe('the pool cap (QKERNELS_SNAPSHOT_POOL_BYTES)', () => {
  const child = `
    const q = require('.');
    const { addon } = require('./dist/native');
    const m = new q.nnq.Quantize(0.05, 3, 'quint8');
    const x = q.tensor(new Float32Array(75000).map((_, i) => (i % 101) / 7), [75000]);  // 300 KB
    const want = Array.from(m.forward(x).intRepr());
    (async () => {
      let same = true;
      for (let round = 0; round < 3; round++) {
        const got = await Promise.all(Array.from({ length: 8 }, () => m.forwardAsync(x)));
        same = same && got.every((y) => Array.from(y.intRepr()).every((v, i) => v === want[i]));
      }
      console.log(JSON.stringify({ same, ...addon.snapshotPoolStats() }));
    })();`;

  test('0 turns pooling off', () => {
    const got = runNodeJson<PoolStats & { same: boolean }>(child, { env: { QKERNELS_SNAPSHOT_POOL_BYTES: '0' } });
    expect(got).toMatchObject({ same: true, maxIdleBytes: 0, idleBytes: 0, reused: 0 });
  });

  test('1 MB keeps at most 1 MB idle (3 of the 8 copies), still reusing', () => {
    const got = runNodeJson<PoolStats & { same: boolean }>(child, { env: { QKERNELS_SNAPSHOT_POOL_BYTES: '1000000' } });
    expect(got.same).toBe(true);
    expect(got.maxIdleBytes).toBe(1000000);
    expect(got.idleBytes).toBeLessThanOrEqual(1000000);
    expect(got.idleBuffers).toBe(3); // 3 x 303104-byte buffers fit, a 4th would not
    expect(got.reused).toBeGreaterThan(0);
    expect(got.evicted).toBeGreaterThan(0);
  });

  test('an unparsable value keeps the 64 MiB default', () => {
    const got = runNodeJson<PoolStats & { same: boolean }>(child, { env: { QKERNELS_SNAPSHOT_POOL_BYTES: '12abc' } });
    expect(got).toMatchObject({ same: true, maxIdleBytes: 64 * 1024 * 1024 });
  });
});

test('copies released after a terminated worker\'s env is gone go back to the pool, and the main thread reuses them', () => {
  const got = runNodeJson<{ same: boolean; reused: number; idleBytes: number; maxIdleBytes: number }>(`
    const { Worker } = require('worker_threads');
    const q = require('.');
    const { addon } = require('./dist/native');
    const code = \`
      const q = require(\${JSON.stringify(process.cwd())});
      const m = new q.nnq.Quantize(0.05, 3, 'quint8');
      const x = q.tensor(new Float32Array(1 << 18).fill(0.5), [1 << 18]);  // 1 MiB
      for (let i = 0; i < 16; i++) m.forwardAsync(x).catch(() => {});
      require('worker_threads').parentPort.postMessage('started');
    \`;
    (async () => {
      for (let round = 0; round < 4; round++) {
        const worker = new Worker(code, { eval: true });
        const exited = new Promise((resolve) => worker.once('exit', resolve));
        await new Promise((resolve) => worker.once('message', resolve));
        await worker.terminate();
        await exited;
      }
      const before = addon.snapshotPoolStats().reused;
      const m = new q.nnq.Quantize(0.05, 3, 'quint8');
      const x = q.tensor(new Float32Array(1 << 18).map((_, i) => (i % 97) / 9), [1 << 18]);
      const want = Array.from(m.forward(x).intRepr());
      const got = await Promise.all(Array.from({ length: 16 }, () => m.forwardAsync(x)));
      const same = got.every((y) => Array.from(y.intRepr()).every((v, i) => v === want[i]));
      const stats = addon.snapshotPoolStats();
      console.log(JSON.stringify({ same, reused: stats.reused - before, idleBytes: stats.idleBytes, maxIdleBytes: stats.maxIdleBytes }));
    })();`, { timeoutMs: 60000 });
  expect(got.same).toBe(true);
  expect(got.reused).toBeGreaterThan(0); // buffers the workers' calls gave back, on their threads
  expect(got.idleBytes).toBeLessThanOrEqual(got.maxIdleBytes);
});
