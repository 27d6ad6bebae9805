// Zero-copy handoffs (lib/handoff.ts, native/addon/handoff.h): donated inputs are read in place and detached when taken, recycled buffers become later outputs, results stay forward's bits, bad storage is a TypeError, a terminated worker with donated work in flight stays clean.
import { donate, jit, makePerTensorQuantizedTensor, nnq, QTensor, qF, recycle, tensor } from '..';
import type { HandoffStats } from '../lib/native';
import { expectExact } from './helpers/compare';
import { random3x3Conv, randomBytes } from './helpers/linear-conv';
import { expectValidationError } from './helpers/errors';
import { runNodeJson } from './helpers/child';
import { Rng, testSeed } from './helpers/random';

// eslint-disable-next-line @typescript-eslint/no-var-requires
const { addon } = require('../dist/native') as { addon: { handoffStats(): HandoffStats } };

const rng = new Rng(testSeed('handoff'));

const SHAPE = [1, 8, 40, 40]; // 12800 bytes in and out

function input(shape: number[] = SHAPE): QTensor {
  return makePerTensorQuantizedTensor(randomBytes(rng, shape.reduce((a, b) => a * b, 1)), shape, 0.04, 100, 'quint8');
}

function copyOf(x: QTensor): QTensor {
  return makePerTensorQuantizedTensor((x.data as Uint8Array).slice(), x.shape, x.qScale(), x.qZeroPoint(), 'quint8');
}

function sameBits(label: string, want: QTensor, got: QTensor): void {
  expect(got.shape).toEqual(want.shape);
  expect(got.strides).toEqual(want.strides);
  expect(got.qScale()).toBe(want.qScale());
  expect(got.qZeroPoint()).toBe(want.qZeroPoint());
  expectExact(label, want.intRepr(), got.intRepr());
}

function delta(before: HandoffStats): HandoffStats {
  const now = addon.handoffStats();
  const out = { ...now };
  for (const key of ['taken', 'recycled', 'reused', 'returned'] as const) out[key] = now[key] - before[key];
  return out;
}

describe('donate', () => {
  test('detaches the tensor at once and returns an equal one; an async op takes it (detached at the call) and gives forward\'s bits', async () => {
    const m = random3x3Conv(rng, 8);
    const x = input();
    const want = m.forward(x);
    const keep = copyOf(x);
    const before = addon.handoffStats();
    const d = donate(x);
    expect(x.data.byteLength).toBe(0);
    expectValidationError(() => m.forward(x), 'TypeError', 'x.data', 'the donated-from tensor');
    sameBits('donated tensor', keep, d);
    expect(delta(before).donatedWaiting).toBe(before.donatedWaiting + 1);
    const pending = m.forwardAsync(d);
    expect(d.data.byteLength).toBe(0); // taken: no JS code can reach the memory the op reads
    expect(delta(before)).toMatchObject({ taken: 1, donatedWaiting: before.donatedWaiting });
    sameBits('output', want, await pending);
    // Finished: its buffer went to the pool.
    expect(delta(before).returned).toBe(1);
  });

  test('a donated tensor is an ordinary tensor for sync ops (read in place, not taken) until an async op takes it', async () => {
    const m = random3x3Conv(rng, 8);
    const x = input();
    const want = m.forward(x);
    const d = donate(x);
    const before = addon.handoffStats();
    sameBits('sync on donated', want, m.forward(d));
    expect(d.data.byteLength).toBe(12800);
    expect(delta(before).taken).toBe(0);
    sameBits('async after sync', want, await m.forwardAsync(d));
    expect(delta(before).taken).toBe(1);
  });

  test('traced modules and float inputs (Quantize) take donated inputs too; the same donated tensor twice in one call is taken once', async () => {
    const m = random3x3Conv(rng, 8);
    const traced = jit.trace(m, input());
    const x = input();
    const want = m.forward(x);
    const before = addon.handoffStats();
    sameBits('traced', want, (await traced.forwardAsync(donate(x))) as QTensor);
    expect(delta(before).taken).toBe(1);

    const quantize = new nnq.Quantize(0.05, 3, 'quint8');
    const f = tensor(Float32Array.from({ length: 5000 }, () => rng.int(-500, 500) / 37), [5000]);
    const fWant = quantize.forward(f);
    const fd = donate(f);
    expect(f.data.byteLength).toBe(0);
    const fPending = quantize.forwardAsync(fd);
    expect(fd.data.byteLength).toBe(0);
    expectExact('quantize', fWant.intRepr(), (await fPending).intRepr());

    const add = new nnq.QFunctional();
    add.scale = 0.08;
    add.zeroPoint = 90;
    const a = input();
    const aWant = add.add(a, a);
    const ad = donate(a);
    const taken = addon.handoffStats().taken;
    sameBits('add(d, d)', aWant, await add.addAsync(ad, ad));
    expect(addon.handoffStats().taken - taken).toBe(1);
  });

  test('an async op that rejects its arguments does not take the donated tensor', async () => {
    const traced = jit.trace(random3x3Conv(rng, 8), input());
    const wrong = donate(input([1, 8, 20, 20]));
    const before = addon.handoffStats();
    await expect(traced.forwardAsync(wrong)).rejects.toThrow(RangeError);
    expect(wrong.data.byteLength).toBe(1 * 8 * 20 * 20);
    expect(delta(before).taken).toBe(0);
  });

  test('a donated input read again after an async op took it (a residual connection) is a TypeError that says so', async () => {
    const m = random3x3Conv(rng, 8);
    const add = new nnq.QFunctional();
    const d = donate(input());
    const y = await m.forwardAsync(d);
    await expect(add.addAsync(y, d)).rejects.toThrow(/donated and an earlier async op took it/);
    expect(() => add.add(y, d)).toThrow(/donated and an earlier async op took it/);
    expect(() => m.forward(d)).toThrow(/donated and an earlier async op took it/);
    expectValidationError(() => m.forward(d), 'TypeError', 'x.data', 'sync read of a taken tensor');
    // inplace=True writes back into the input, whose memory the async op took.
    const r = donate(input());
    await expect(qF.reluAsync(r, { inplace: true })).rejects.toThrow(/donated and an earlier async op took it/);
    const s = donate(input());
    expect(qF.relu(s, { inplace: true })).toBe(s); // sync: not taken, written in place
  });

  test('storage that cannot be handed over is a TypeError naming tensor, and stays attached', () => {
    expectValidationError(() => donate({} as QTensor), 'TypeError', 'tensor', 'not a tensor');
    expectValidationError(() => recycle([1, 2] as unknown as QTensor), 'TypeError', 'tensor', 'recycle of an array');
    const shared = makePerTensorQuantizedTensor(new Uint8Array(new SharedArrayBuffer(8)), [8], 0.1, 0, 'quint8');
    expect(() => donate(shared)).toThrow(/SharedArrayBuffer/);
    expectValidationError(() => donate(shared), 'TypeError', 'tensor', 'shared');
    expectValidationError(() => recycle(shared), 'TypeError', 'tensor', 'recycle shared');
    // Node's shared Buffer pool is marked untransferable: Node would copy it, so it is refused.
    const pooled = makePerTensorQuantizedTensor(Buffer.from([1, 2, 3]), [3], 0.1, 0, 'quint8');
    expect(() => donate(pooled)).toThrow(/Buffer pool/);
    expectValidationError(() => recycle(pooled), 'TypeError', 'tensor', 'recycle pooled');
    expect(Array.from(pooled.intRepr())).toEqual([1, 2, 3]);
    const gone = input();
    donate(gone);
    expect(() => donate(gone)).toThrow(/attached/);
    expectValidationError(() => donate(gone), 'TypeError', 'tensor', 'detached');
    expectValidationError(() => recycle(gone), 'TypeError', 'tensor', 'recycle detached');
  });
});

describe('recycle', () => {
  test('the tensor is detached; the next output of its byte length (async or sync) is made over its buffer, with forward\'s bits', async () => {
    const m = random3x3Conv(rng, 8);
    const x = input();
    const want = m.forward(x);
    const spent = m.forward(input());
    const before = addon.handoffStats();
    recycle(spent);
    expect(spent.data.byteLength).toBe(0);
    expect(delta(before)).toMatchObject({ recycled: 1, pooledBuffers: before.pooledBuffers + 1 });
    sameBits('async over a recycled buffer', want, await m.forwardAsync(x));
    expect(delta(before).reused).toBe(1);
    recycle(m.forward(x));
    sameBits('sync over a recycled buffer', want, m.forward(x));
    expect(delta(before).reused).toBe(2);
  });

  test('outputs that are zero-filled by contract (partial writers) are zero-filled over a recycled buffer too', () => {
    // Quantize to quint4x2 of an odd count: the last byte's high nibble is never written.
    const quantize = new nnq.Quantize(0.1, 3, 'quint4x2');
    const f = tensor(Float32Array.from({ length: 4097 * 2 - 1 }, (_, i) => (i % 13) / 10), [4097 * 2 - 1]);
    const want = quantize.forward(f);
    const junk = makePerTensorQuantizedTensor(new Uint8Array(want.data.byteLength).fill(0xff), [want.data.byteLength], 1, 0, 'quint8');
    const before = addon.handoffStats();
    recycle(junk);
    const got = quantize.forward(f);
    expect(delta(before).reused).toBe(1);
    expectExact('quint4x2 over a recycled buffer', want.intRepr(), got.intRepr());
  });

  test('the pool keeps at most 64 buffers and 64 MiB; a buffer larger than that is detached and not kept', () => {
    const start = addon.handoffStats();
    for (let i = 0; i < 70; i++) recycle(tensor(new Float32Array(256 * 1024), [256 * 1024])); // 1 MiB each
    const full = addon.handoffStats();
    expect(full.pooledBuffers).toBeLessThanOrEqual(full.maxPoolBuffers);
    expect(full.pooledBytes).toBeLessThanOrEqual(full.maxPoolBytes);
    expect(full.recycled - start.recycled).toBe(70);
    const big = tensor(new Float32Array(17 * 1024 * 1024), [17 * 1024 * 1024]); // 68 MiB
    recycle(big);
    expect(big.data.byteLength).toBe(0);
    expect(addon.handoffStats().pooledBytes).toBe(full.pooledBytes);
  });
});

test('a stream whose outputs are fed back donated copies no input and allocates no output: every call takes its input and reuses a buffer', async () => {
  const { addon: pools } = require('../dist/native') as { addon: { snapshotPoolStats(): { reused: number; allocated: number } } };
  const m = random3x3Conv(rng, 8);
  const lanes = Array.from({ length: 4 }, () => input());
  const wants = lanes.map((x) => {
    const chain = [m.forward(x)];
    for (let i = 1; i < 6; i++) chain.push(m.forward(chain[i - 1]));
    return chain;
  });
  // Round 0 fills the pool with the donated inputs; rounds 1-5 run on what the earlier gave back.
  const run = (round: number) => Promise.all(lanes.map(async (x, i) => {
    lanes[i] = await m.forwardAsync(donate(x));
    sameBits(`lane ${i} round ${round}`, wants[i][round], lanes[i]);
  }));
  await run(0);
  const handoffs = addon.handoffStats();
  const copies = pools.snapshotPoolStats();
  for (let round = 1; round < 6; round++) await run(round);
  expect(delta(handoffs)).toMatchObject({ taken: 20, reused: 20, returned: 20 });
  const after = pools.snapshotPoolStats();
  expect(after.reused + after.allocated - copies.reused - copies.allocated).toBe(0);
});

test('globals replaced after loading: the handoffs keep the structuredClone of load time, a short ArrayBuffer is refused (no write past it)', () => {
  const got = runNodeJson<{ seen: number; same: boolean; message: string; after: number }>(`
    const q = require('.');
    const real = { structuredClone, ArrayBuffer };
    let seen = 0;
    globalThis.structuredClone = (value, options) => { seen++; return real.structuredClone(value, options); };
    const m = new q.nnq.Conv2d(4, 4, 1);
    const x = q.makePerTensorQuantizedTensor(new Uint8Array(4 * 64).fill(9), [1, 4, 8, 8], 0.05, 3, 'quint8');
    const want = Array.from(m.forward(x).intRepr());
    (async () => {
      const y = await m.forwardAsync(q.donate(q.makePerTensorQuantizedTensor(new Uint8Array(4 * 64).fill(9), [1, 4, 8, 8], 0.05, 3, 'quint8')));
      q.recycle(y);
      const same = Array.from((await m.forwardAsync(x)).intRepr()).every((v, i) => v === want[i]);
      // Outputs over 16 MiB are made by the global constructor, so that a failed allocation is a RangeError.
      globalThis.ArrayBuffer = function () { return new real.ArrayBuffer(8); };
      let message = '';
      try { new q.nnq.Quantize(0.1, 0, 'quint8').forward(q.tensor(new Float32Array(17 << 20))); } catch (e) { message = e.message; }
      globalThis.ArrayBuffer = real.ArrayBuffer;
      const after = new q.nnq.Quantize(0.1, 0, 'quint8').forward(q.tensor(new Float32Array(17 << 20))).data.length;
      console.log(JSON.stringify({ seen, same, message, after }));
    })();`);
  expect(got).toEqual({ seen: 0, same: true, message: expect.stringMatching(/did not make an ArrayBuffer of the requested length/), after: 17 << 20 });
});

test('a worker terminated with donated and recycled work in flight exits cleanly, six rounds', () => {
  const got = runNodeJson<{ rounds: number; same: boolean }>(`
    const { Worker } = require('worker_threads');
    const q = require('.');
    const code = \`
      const q = require(\${JSON.stringify(process.cwd())});
      const m = new q.nnq.Conv2d(16, 16, 3, { padding: 1 });
      const x = () => q.makePerTensorQuantizedTensor(new Uint8Array(16 * 96 * 96).fill(7), [1, 16, 96, 96], 0.05, 3, 'quint8');
      for (let i = 0; i < 8; i++) q.recycle(m.forward(x()));
      for (let i = 0; i < 16; i++) m.forwardAsync(q.donate(x())).catch(() => {});
      require('worker_threads').parentPort.postMessage('started');
    \`;
    (async () => {
      let rounds = 0;
      for (; rounds < 6; rounds++) {
        const worker = new Worker(code, { eval: true });
        const exited = new Promise((resolve) => worker.once('exit', resolve));
        await new Promise((resolve) => worker.once('message', resolve));
        await worker.terminate();
        await exited;
      }
      const m = new q.nnq.Conv2d(4, 4, 1);
      const x = q.makePerTensorQuantizedTensor(new Uint8Array(4 * 16).fill(9), [1, 4, 4, 4], 0.05, 3, 'quint8');
      const want = Array.from(m.forward(x).intRepr());
      const got = Array.from((await m.forwardAsync(q.donate(x))).intRepr());
      console.log(JSON.stringify({ rounds, same: got.every((v, i) => v === want[i]) }));
    })();`);
  expect(got).toEqual({ rounds: 6, same: true });
});
