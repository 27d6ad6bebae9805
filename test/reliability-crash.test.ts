// Issue 14's crash classes: each case runs in a child process, which must end cleanly with the error class expected (a crash is a failure).
import { runNode } from './helpers/child';

// Every case is a snippet that ends by printing one line "RESULT <name of what happened>":
// the constructor name of the error thrown (or of the rejection), or "ok".
const PRELUDE = `
const q = require('.');
const { qF, nnq, ops, tensor, quantizePerTensor } = q;
const x4 = quantizePerTensor(tensor(new Float32Array(2 * 2 * 6 * 6).map((_, i) => i % 7), [2, 2, 6, 6]), 0.1, 3, 'quint8');
function outcome(fn) {
  try { const r = fn(); if (r && typeof r.then === 'function') return r.then(() => 'ok', (e) => e.constructor.name); return 'ok'; }
  catch (e) { return e.constructor.name; }
}
async function report(fn) { console.log('RESULT ' + (await outcome(fn))); }
`;

function runCase(body: string, timeoutMs = 30000): { result: string; status: number | null; signal: string | null; stderr: string } {
  const child = runNode(`${PRELUDE}\n(async () => { ${body} })().catch((e) => { console.log('RESULT uncaught ' + e); });`, { timeoutMs });
  const match = /RESULT (.*)$/m.exec(child.stdout);
  return { result: match ? match[1] : `no result (exit ${child.status}, signal ${child.signal}): ${child.stderr.slice(0, 600)}`, status: child.status, signal: child.signal, stderr: child.stderr.slice(0, 400) };
}

function expectOutcome(body: string, expected: string, timeoutMs?: number): void {
  const got = runCase(body, timeoutMs);
  expect({ result: got.result, status: got.status, signal: got.signal }).toEqual({ result: expected, status: 0, signal: null });
}

describe('crash class 1: output sizes are checked before allocating', () => {
  const cases: [string, string][] = [
    ['adaptiveAvgPool2d 1e6 x 1e6', `qF.adaptiveAvgPool2d(x4, [1e6, 1e6])`],
    ['adaptiveMaxPool2d 1e6 x 1e6', `qF.adaptiveMaxPool2d(x4, [1e6, 1e6])`],
    ['interpolate scaleFactor 1e6', `qF.interpolate(x4, { scaleFactor: 1e6 })`],
    ['interpolate size 1e5 x 1e5', `qF.interpolate(x4, { size: [1e5, 1e5] })`],
    ['interpolate bilinear size 1e5', `qF.interpolate(x4, { size: [1e5, 1e5], mode: 'bilinear' })`],
    ['upsampleNearest', `qF.upsampleNearest(x4, { size: [1e5, 1e5] })`],
    ['upsampleBilinear', `qF.upsampleBilinear(x4, { scaleFactor: 1e5 })`],
    ['interpolateAsync', `qF.interpolateAsync(x4, { scaleFactor: 1e6 })`],
    ['AdaptiveAvgPool2d forwardAsync', `new nnq.AdaptiveAvgPool2d([1e6, 1e6]).forwardAsync(x4)`],
  ];
  test.each(cases)('%s: RangeError', (_name, call) => {
    expectOutcome(`await report(() => ${call});`, 'RangeError');
  });
});

describe('crash class 2: fake tensors whose shape lies are refused before any allocation', () => {
  const fake = `const fake = Object.create(x4, { shape: { value: [2 ** 40, 2, 6, 6] } });`;
  const cases: [string, string][] = [
    ['maxPool2d', `qF.maxPool2d(fake, 2)`],
    ['avgPool2d', `qF.avgPool2d(fake, 2)`],
    ['adaptiveAvgPool2d', `qF.adaptiveAvgPool2d(fake, [2, 2])`],
    ['batchNorm2d', `ops.quantized.batchNorm2d(fake, null, null, new Float32Array(2), new Float32Array(2).fill(1), 1e-5, 0.1, 3)`],
    ['layerNorm', `ops.quantized.layerNorm(fake, [6], null, null, 1e-5, 0.1, 3)`],
    ['groupNorm', `ops.quantized.groupNorm(fake, 1, null, null, 1e-5, 0.1, 3)`],
    ['instanceNorm', `ops.quantized.instanceNorm(fake, null, null, 1e-5, 0.1, 3)`],
    ['relu', `qF.relu(fake)`],
    ['dequantize', `q.dequantize(fake)`],
    ['conv2d', `qF.conv2d(fake, q.quantizePerTensor(tensor(new Float32Array(2*2*3*3), [2,2,3,3]), 0.1, 0, 'qint8'), null)`],
  ];
  test.each(cases)('%s: TypeError', (_name, call) => {
    expectOutcome(`${fake} await report(() => ${call});`, 'TypeError');
  });

  test('a fake Tensor claiming 2^31 dims or a lying shape is not a Tensor', () => {
    expectOutcome(
      `const t = tensor(new Float32Array(6), [2, 3]);
       const fake = Object.create(t, { shape: { value: new Array(2 ** 31 > 1e6 ? 1e6 : 0).fill(1).concat([2001, 3]) } });
       await report(() => quantizePerTensor(fake, 0.1, 0, 'quint8'));`,
      'TypeError',
    );
  });

  test('embeddingBagBytePrepack with a weight whose shape lies', () => {
    expectOutcome(
      `const w = tensor(new Float32Array(12), [3, 4]);
       const fake = Object.create(w, { shape: { value: [2 ** 40, 4] } });
       await report(() => ops.quantized.embeddingBagBytePrepack(fake));`,
      'TypeError',
    );
  });

  test('the native side re-checks input length against the geometry before allocating', () => {
    // Straight to the binding, past every lib/ check: a 72-byte input described as 2^40 x 2 x 6 x 6.
    expectOutcome(
      `const addon = require('./dist/native').addon;
       const geometry = Float64Array.from([2 ** 40, 2, 1, 6, 6, 1, 3, 3, 1, 2, 2, 1, 2, 2, 0, 0, 0, 1, 1, 1]);
       await report(() => addon.maxPool(new Uint8Array(144), 0, 0, geometry));`,
      'RangeError',
    );
  });
});

describe('crash class 3: shared memory rewritten by another thread', () => {
  test('embedding bag lookups with indices, offsets and mapping in a SharedArrayBuffer that a worker rewrites', () => {
    const body = `
      const { Worker } = require('worker_threads');
      const rows = 64, dim = 16;
      const packed = ops.quantized.embeddingBagBytePrepack(tensor(new Float32Array(rows * dim).map((_, i) => i % 13), [rows, dim]));
      const indexBuffer = new SharedArrayBuffer(4 * 256);
      const offsetBuffer = new SharedArrayBuffer(4 * 8);
      const mapBuffer = new SharedArrayBuffer(4 * rows);
      const indices = new Int32Array(indexBuffer), offsets = new Int32Array(offsetBuffer), mapping = new Int32Array(mapBuffer);
      for (let i = 0; i < 8; i++) offsets[i] = i * 32;
      const worker = new Worker(\`
        const { workerData } = require('worker_threads');
        const [a, b, c] = workerData.map((s) => new Int32Array(s));
        const end = Date.now() + 1500;
        let v = 0;
        while (Date.now() < end) {
          v = (v + 1) | 0;
          for (let i = 0; i < a.length; i++) a[i] = (v & 1) ? 0x7fffff00 : (i % 64);
          for (let i = 0; i < b.length; i++) b[i] = (v & 1) ? -1000000 : i * 32;
          for (let i = 0; i < c.length; i++) c[i] = (v & 1) ? 0x40000000 : i;
        }
      \`, { eval: true, workerData: [indexBuffer, offsetBuffer, mapBuffer] });
      const seen = new Set();
      const end = Date.now() + 1200;
      let calls = 0;
      while (Date.now() < end) {
        for (const fn of [
          () => ops.quantized.embeddingBagByteRowwiseOffsets(packed, indices, offsets),
          () => ops.quantized.embeddingBagByteRowwiseOffsets(packed, indices, offsets, { mode: 'max' }),
        ]) { seen.add(outcome(fn)); calls++; }
        const mapped = new nnq.EmbeddingBag(rows, dim, { mode: 'sum' });
        seen.add(outcome(() => mapped.forward(indices, offsets)));
      }
      await new Promise((resolve) => worker.on('exit', resolve));
      console.log('RESULT ' + (calls > 10 && [...seen].every((s) => s === 'ok' || s === 'RangeError') ? 'ok' : [...seen].join(',')));`;
    expectOutcome(body, 'ok');
  });

  test('conv geometry and weights in a SharedArrayBuffer are read once', () => {
    const body = `
      const { Worker } = require('worker_threads');
      const buffer = new SharedArrayBuffer(4 * 4 * 3 * 3 * 4);
      const data = new Float32Array(buffer);
      const x = quantizePerTensor(tensor(new Float32Array(1 * 4 * 8 * 8).fill(1), [1, 4, 8, 8]), 0.1, 3, 'quint8');
      const worker = new Worker(\`
        const { workerData } = require('worker_threads');
        const a = new Float32Array(workerData);
        const end = Date.now() + 1000;
        let v = 0;
        while (Date.now() < end) { v++; a.fill((v & 1) ? 1e30 : 0.5); }
      \`, { eval: true, workerData: buffer });
      const seen = new Set();
      const end = Date.now() + 800;
      while (Date.now() < end) {
        seen.add(outcome(() => {
          const w = quantizePerTensor(tensor(data, [4, 4, 3, 3]), 0.05, 0, 'qint8');
          return qF.conv2d(x, w, tensor(data.subarray(0, 4)), { scale: 0.2, zeroPoint: 0 });
        }));
      }
      await new Promise((resolve) => worker.on('exit', resolve));
      console.log('RESULT ' + [...seen].filter((s) => s !== 'ok' && s !== 'RangeError').join(',') || 'ok');`;
    const got = runCase(body);
    expect({ status: got.status, signal: got.signal }).toEqual({ status: 0, signal: null });
    expect(got.result === 'ok' || got.result === '').toBe(true);
  });
});

describe('crash class 4: worker termination with async work in flight', () => {
  const ops4: [string, string][] = [
    [
      'Conv2d',
      `const m = new nnq.Conv2d(16, 16, 3, { padding: 1 }); m.scale = 0.2; m.zeroPoint = 0;
       const x = q.quantizePerTensor(q.tensor(new Float32Array(1 * 16 * 64 * 64).fill(0.5), [1, 16, 64, 64]), 0.1, 3, 'quint8');
       const start = () => m.forwardAsync(x);`,
    ],
    [
      'Quantize',
      `const m = new nnq.Quantize(0.1, 3, 'quint8');
       const x = q.tensor(new Float32Array(1 << 20).fill(0.5), [1 << 20]);
       const start = () => m.forwardAsync(x);`,
    ],
    [
      'EmbeddingBag',
      `const m = new nnq.EmbeddingBag(4096, 64, { mode: 'sum' });
       const idx = new Int32Array(65536).map((_, i) => i % 4096), off = new Int32Array(64).map((_, i) => i * 1024);
       const start = () => m.forwardAsync(idx, off);`,
    ],
  ];
  test.each(ops4)('%s: terminate() and process.exit() in a worker never abort the process', (_name, setup) => {
    const body = `
      const { Worker } = require('worker_threads');
      const code = (exitInside) => \`
        const q = require(\${JSON.stringify(process.cwd())});
        const { nnq } = q;
        ${setup.replace(/`/g, '\\`')}
        for (let i = 0; i < 16; i++) start().catch(() => {});
        require('worker_threads').parentPort.postMessage('started');
        if (\${exitInside}) setImmediate(() => process.exit(0));
      \`;
      for (let round = 0; round < 6; round++) {
        const worker = new Worker(code(round % 2 === 1), { eval: true });
        const exited = new Promise((resolve) => worker.once('exit', resolve));
        await new Promise((resolve) => { worker.once('message', resolve); worker.once('exit', resolve); });
        if (round % 2 === 0) await worker.terminate();
        await exited;
      }
      console.log('RESULT ok');`;
    expectOutcome(body, 'ok', 60000);
  });
});

describe('crash class 5: unbounded work from small arguments', () => {
  test('convTranspose1d with stride 2**31 is refused quickly', () => {
    expectOutcome(
      `const x = quantizePerTensor(tensor(new Float32Array(2 * 3 * 5).fill(1), [2, 3, 5]), 0.1, 3, 'quint8');
       const w = quantizePerTensor(tensor(new Float32Array(3 * 2 * 3).fill(0.5), [3, 2, 3]), 0.05, 0, 'qint8');
       const t0 = Date.now();
       const r = outcome(() => qF.convTranspose1d(x, w, null, { stride: 2 ** 31, scale: 0.1, zeroPoint: 0 }));
       const r2 = outcome(() => qF.convTranspose2d(
         quantizePerTensor(tensor(new Float32Array(3 * 4).fill(1), [1, 3, 2, 2]), 0.1, 3, 'quint8'),
         quantizePerTensor(tensor(new Float32Array(3 * 2 * 9).fill(0.5), [3, 2, 3, 3]), 0.05, 0, 'qint8'), null, { stride: [4096, 4096], scale: 0.1, zeroPoint: 0 }));
       console.log('RESULT ' + r + ' ' + r2 + ' ' + (Date.now() - t0 < 2000 ? 'fast' : 'slow ' + (Date.now() - t0)));`,
      'RangeError RangeError fast',
    );
  });

  test('a 0-channel geometry claiming 2^60 output pixels, straight to the binding, returns at once', () => {
    expectOutcome(
      `const addon = require('./dist/native').addon;
       const huge = 2 ** 20;
       const pool = Float64Array.from([1, 0, 1, 4, 4, huge, huge, huge, 1, 1, 1, 1, 1, 1, 0, 0, 0, 1, 1, 1]);
       const resample = Float64Array.from([1, 0, 1, 4, 4, huge, huge, huge, 0, 0, 0]);
       const t0 = Date.now();
       const results = [
         outcome(() => addon.adaptiveMaxPool(new Uint8Array(0), 0, 0, pool)),
         outcome(() => addon.upsampleNearest(new Uint8Array(0), 0, 1, resample)),
         outcome(() => addon.normalize(new Uint8Array(0), 0, 2 ** 50, 0, false, 0, 0, null, null, 1e-5, 0.1, 0, 0.1, 0)),
       ];
       console.log('RESULT ' + (Date.now() - t0 < 2000 ? results.join(',') : 'slow'));`,
      // normalize: 2^50 groups of 0 elements is refused when the op is prepared (a normalized
      // shape must be non-empty), before any work; the pool and the resample have nothing to write.
      'ok,ok,RangeError',
    );
  });

  test('array-like Proxies whose length changes are read once', () => {
    expectOutcome(
      `const lying = (values) => { let reads = 0; return new Proxy(values, { get(t, k) { if (k === 'length') return reads++ === 0 ? values.length : 1e9; return t[k]; } }); };
       const x = quantizePerTensor(tensor(new Float32Array(2 * 3 * 8 * 8).fill(1), [2, 3, 8, 8]), 0.1, 3, 'quint8');
       const w = quantizePerTensor(tensor(new Float32Array(4 * 3 * 9).fill(0.5), [4, 3, 3, 3]), 0.05, 0, 'qint8');
       const t0 = Date.now();
       const results = [
         outcome(() => qF.conv2d(x, w, null, { stride: lying([1, 1]), padding: lying([1, 1]), dilation: lying([1, 1]), scale: 0.1, zeroPoint: 0 })),
         outcome(() => qF.maxPool2d(x, lying([2, 2]), { stride: lying([2, 2]) })),
         outcome(() => ops.quantized.layerNorm(x, lying([8]), null, null, 1e-5, 0.1, 3)),
         outcome(() => x.reshape(lying([2, 3, 64]))),
         outcome(() => tensor(new Float32Array(6), lying([2, 3]))),
         outcome(() => q.makePerTensorQuantizedTensor(new Uint8Array(6), lying([2, 3]), 0.1, 0)),
       ];
       const slow = Date.now() - t0 > 2000;
       console.log('RESULT ' + (slow ? 'slow' : results.every((r) => r === 'ok' || r === 'RangeError' || r === 'TypeError') ? 'bounded' : results.join(',')));`,
      'bounded',
    );
  });
});
