// nnq.Quantize / nnq.DeQuantize forwardAsync: same bits as forward, concurrent calls, inputs dropped while pending, typed rejections.
import { makePerChannelQuantizedTensor, nnq, QTensor, quantizePerTensor, Tensor, tensor } from '..';
import { expectExact, FailureLog } from './helpers/compare';
import { describeThrown, expectValidationRejection, isErrorOfClass } from './helpers/errors';
import { ALL_QDTYPES, QDTYPES, quantizationInputs, QDTypeName } from './helpers/floats';
import { runNodeJson } from './helpers/child';
import { runnablePaths, withPath, withPathAsync } from './helpers/paths';
import { Rng, testSeed } from './helpers/random';

const SEED = testSeed('async');
const rng = new Rng(SEED);

function qparamsFor(dtype: QDTypeName): { scale: number; zeroPoint: number } {
  const info = QDTYPES[dtype];
  return { scale: rng.pick([0.1, 1 / 3, 0.02, 7]), zeroPoint: rng.int(info.qmin, Math.min(info.qmax, info.qmin + 255)) };
}

function sameQTensor(label: string, want: QTensor, got: QTensor): void {
  expect(got.dtype).toBe(want.dtype);
  expect(got.qscheme).toBe(want.qscheme);
  expect(got.shape).toEqual(want.shape);
  expectExact(`${label} intRepr`, want.intRepr(), got.intRepr());
  expectExact(`${label} dequantize`, want.dequantize().data, got.dequantize().data, { kind: 'float32' });
}

describe('forwardAsync gives forward\'s bits', () => {
  const paths = runnablePaths();

  test.each(ALL_QDTYPES)('nnq.Quantize %s on every path', async (dtype) => {
    const { scale, zeroPoint } = qparamsFor(dtype);
    const module = new nnq.Quantize(scale, zeroPoint, dtype);
    for (const n of [1, 7, 64, 1000, 50_001]) {
      const x = quantizationInputs(rng, scale, zeroPoint, QDTYPES[dtype], n);
      for (const path of paths) {
        const input = tensor(x, [x.length]);
        const want = withPath(path, () => module.forward(input));
        const got = await withPathAsync(path, () => module.forwardAsync(input));
        sameQTensor(`n=${x.length} ${path.isa}/${path.threads}`, want, got);
        expect(got.qScale()).toBe(Math.fround(scale)); // torch's Quantize keeps scale in a float32 buffer
        expect(got.qZeroPoint()).toBe(zeroPoint);
      }
    }
  });

  test('nnq.DeQuantize on per-tensor and per-channel inputs', async () => {
    const dequant = new nnq.DeQuantize();
    const inputs: QTensor[] = [];
    for (const dtype of ALL_QDTYPES) {
      const { scale, zeroPoint } = qparamsFor(dtype);
      const x = quantizationInputs(rng, scale, zeroPoint, QDTYPES[dtype], 3000);
      inputs.push(quantizePerTensor(tensor(x), scale, zeroPoint, dtype));
    }
    inputs.push(makePerChannelQuantizedTensor(Int8Array.from({ length: 4 * 300 }, () => rng.int(-128, 127)), [4, 300], [0.1, 0.2, 1 / 3, 5], [0, -3, 7, 127], 0, 'qint8'));
    inputs.push(makePerChannelQuantizedTensor(Uint8Array.from({ length: 300 * 4 }, () => rng.int(0, 255)), [300, 4], [0.1, 0.2, 1 / 3, 5], Float32Array.from([0.5, 3, 17.25, 200]), 1, 'quint8'));
    for (const q of inputs) {
      const want = dequant.forward(q);
      const got = await dequant.forwardAsync(q);
      expect(got.shape).toEqual(want.shape);
      expectExact(`DeQuantize ${q.dtype} ${q.qscheme}`, want.data, got.data, { kind: 'float32' });
    }
  });
});

describe('concurrency and lifetimes', () => {
  test('200 concurrent forwardAsync calls each resolve to their own input\'s result', async () => {
    const modules = ALL_QDTYPES.map((dtype) => ({ dtype, module: new nnq.Quantize(qparamsFor(dtype).scale, qparamsFor(dtype).zeroPoint, dtype) }));
    const jobs = Array.from({ length: 200 }, (_, i) => {
      const { module } = modules[i % modules.length];
      const n = rng.int(1, 20_000);
      const input = tensor(Float32Array.from({ length: n }, () => rng.normal() * 10));
      return { module, input, want: module.forward(input) };
    });
    const dequant = new nnq.DeQuantize();
    const results = await Promise.all(jobs.map((job) => job.module.forwardAsync(job.input)));
    const dequantized = await Promise.all(results.map((q) => dequant.forwardAsync(q)));
    const log = new FailureLog();
    jobs.forEach((job, i) => {
      log.check(`job ${i} (${job.input.numel()} elements)`, () => {
        expectExact('intRepr', job.want.intRepr(), results[i].intRepr());
        expectExact('dequantize', job.want.dequantize().data, dequantized[i].data, { kind: 'float32' });
      });
    });
    log.finish('concurrent forwardAsync');
  });

  test('inputs the caller no longer references still give the right result', async () => {
    const module = new nnq.Quantize(0.05, 3, 'quint8');
    const expectations: Array<{ want: Uint8Array | Int8Array | Int32Array; promise: Promise<QTensor> }> = [];
    for (let i = 0; i < 32; i++) {
      const values = Float32Array.from({ length: 100_000 }, () => rng.normal() * 4);
      const want = module.forward(tensor(Float32Array.from(values))).intRepr();
      // The only reference to `values` after this line is inside the pending call.
      expectations.push({ want, promise: module.forwardAsync(tensor(values)) });
    }
    // Churn the heap while the work is pending, so a dropped input would be collected and reused.
    let garbage: Float32Array[] = [];
    for (let i = 0; i < 200; i++) {
      garbage.push(new Float32Array(50_000).fill(i));
      if (garbage.length > 20) garbage = [];
      await new Promise((resolve) => setImmediate(resolve));
    }
    const log = new FailureLog();
    for (const [i, { want, promise }] of expectations.entries()) {
      const got = await promise;
      log.check(`call ${i}`, () => expectExact('intRepr', want, got.intRepr()));
    }
    log.finish('dropped inputs');
  });

  test('transferring (detaching) an input buffer while its forwardAsync is pending neither crashes nor changes the result', async () => {
    const quantize = new nnq.Quantize(0.05, 3, 'quint8');
    const dequantize = new nnq.DeQuantize();
    const log = new FailureLog();
    for (let i = 0; i < 16; i++) {
      const values = Float32Array.from({ length: 200_000 }, () => rng.normal() * 4);
      const input = tensor(values);
      const want = quantize.forward(input);
      const wantFloat = dequantize.forward(want);
      const pendingQuantize = quantize.forwardAsync(input);
      const storage = quantizePerTensor(tensor(Float32Array.from(values)), 0.05, 3, 'quint8');
      const pendingDequantize = dequantize.forwardAsync(storage);
      // Move both backing stores to another owner, then drop it: the caller's buffers are now
      // detached and their memory may be freed while the work runs.
      structuredClone(values.buffer, { transfer: [values.buffer] });
      const storageBuffer = storage.data.buffer as ArrayBuffer;
      structuredClone(storageBuffer, { transfer: [storageBuffer] });
      expect(values.byteLength).toBe(0);
      const got = await pendingQuantize;
      const gotFloat = await pendingDequantize;
      log.check(`call ${i}`, () => {
        expectExact('intRepr', want.intRepr(), got.intRepr());
        expectExact('dequantize', wantFloat.data, gotFloat.data, { kind: 'float32' });
      });
    }
    log.finish('detached inputs');
  });

  test('with --expose-gc: dropped inputs survive forced collections; rejections are real TypeError/RangeError instances', () => {
    const script = `
      const qk = require('.');
      const assert = (cond, what) => { if (!cond) throw new Error(what); };
      (async () => {
        const report = {};
        const quantize = new qk.nnq.Quantize(0.03, 128, 'quint8');
        const dequant = new qk.nnq.DeQuantize();
        const expected = [];
        const pending = [];
        for (let i = 0; i < 24; i++) {
          const values = new Float32Array(200000);
          for (let j = 0; j < values.length; j++) values[j] = Math.sin(i * 7919 + j) * 4;
          expected.push(Array.from(quantize.forward(qk.tensor(Float32Array.from(values))).intRepr().subarray(0, 5000)));
          pending.push(quantize.forwardAsync(qk.tensor(values)));
        }
        const qInput = quantize.forward(qk.tensor(Float32Array.from({ length: 100000 }, (_, j) => Math.cos(j))));
        const dequantWant = Array.from(dequant.forward(qInput).data.subarray(0, 5000));
        const dequantPending = dequant.forwardAsync(quantize.forward(qk.tensor(Float32Array.from({ length: 100000 }, (_, j) => Math.cos(j)))));
        for (let k = 0; k < 20; k++) { global.gc(); await new Promise((r) => setImmediate(r)); }
        const results = await Promise.all(pending);
        report.quantizeMatches = results.every((q, i) => {
          const got = q.intRepr();
          return expected[i].every((v, j) => v === got[j]);
        });
        const dequantGot = await dequantPending;
        report.dequantizeMatches = dequantWant.every((v, j) => Object.is(v, dequantGot.data[j]));
        const rejection = async (promise) => { try { await promise; return 'resolved'; } catch (e) { return e; } };
        const notTensor = await rejection(quantize.forwardAsync('not a tensor'));
        report.typeErrorIsInstance = notTensor instanceof TypeError;
        report.typeErrorMessage = String(notTensor && notTensor.message);
        const bad = new qk.nnq.Quantize(0.1, 3, 'quint8');
        bad.scale = -1;
        const badScale = await rejection(bad.forwardAsync(qk.tensor([1, 2, 3])));
        report.rangeErrorIsInstance = badScale instanceof RangeError;
        report.rangeErrorMessage = String(badScale && badScale.message);
        const wrongInput = await rejection(dequant.forwardAsync(qk.tensor([1, 2])));
        report.dequantTypeErrorIsInstance = wrongInput instanceof TypeError;
        console.log(JSON.stringify(report));
      })().catch((e) => { console.error(e); process.exit(1); });`;
    const report = runNodeJson<Record<string, unknown>>(script, { nodeArgs: ['--expose-gc'] });
    expect(report).toEqual({
      quantizeMatches: true,
      dequantizeMatches: true,
      typeErrorIsInstance: true,
      typeErrorMessage: expect.stringMatching(/Expected .+ for \w+ but received .+ of type \w+/),
      rangeErrorIsInstance: true,
      rangeErrorMessage: expect.stringMatching(/Expected .+ for scale but received -1 of type number/),
      dequantTypeErrorIsInstance: true,
    });
  });
});

describe('the async job queue (native/src/base/job-queue.h)', () => {
  test('computations in flight leave libuv\'s pool free: fs.readFile does not wait behind 16 convs', () => {
    // Before the job queue, async ops ran on libuv's 4 pool threads and a readFile queued behind
    // 16 convs started only when the 13th had finished. Now it should settle while most convs
    // are still queued; the bound (half of them) leaves room for a loaded machine.
    const script = `
      const q = require('.');
      const fs = require('fs');
      // About 5 ms a conv on one AVX-512 core: the readFile's four pool round trips (open,
      // stat, read, close) take far less.
      const m = new q.nnq.Conv2d(64, 64, 3, { padding: 1 });
      m.scale = 0.2; m.zeroPoint = 0;
      const x = q.quantizePerTensor(q.tensor(new Float32Array(64 * 160 * 160).map((_, i) => (i % 17) / 8), [1, 64, 160, 160]), 0.05, 3, 'quint8');
      (async () => {
        await m.forwardAsync(x);
        const counts = [];
        for (let round = 0; round < 3; round++) {
          let settled = 0;
          const convs = Array.from({ length: 16 }, () => m.forwardAsync(x).then(() => { settled++; }));
          await fs.promises.readFile('package.json');
          counts.push(settled);
          await Promise.all(convs);
        }
        console.log(JSON.stringify({ counts }));
      })().catch((e) => { console.error(e); process.exit(1); });`;
    const { counts } = runNodeJson<{ counts: number[] }>(script);
    expect(counts).toHaveLength(3);
    for (const settled of counts) expect(settled).toBeLessThanOrEqual(8);
  });

  test('a pending computation keeps the process alive until it settles; an idle process exits', () => {
    const script = `
      const q = require('.');
      const m = new q.nnq.Quantize(0.05, 3, 'quint8');
      const x = q.tensor(new Float32Array(1 << 20).map((_, i) => (i % 101) / 7));
      const want = Array.from(m.forward(x).intRepr().subarray(0, 64));
      m.forwardAsync(x).then((y) => {
        const got = Array.from(y.intRepr().subarray(0, 64));
        console.log(JSON.stringify({ settled: true, same: got.every((v, i) => v === want[i]) }));
      });`;
    // No timer, no await: only the queued computation holds the event loop open. The child
    // helper's own timeout turns a hang (a loop held open when idle) into a failure.
    expect(runNodeJson(script)).toEqual({ settled: true, same: true });
  });

  test('worker.terminate() with computations running and queued: no crash, the main thread keeps computing', () => {
    const script = `
      const { Worker } = require('worker_threads');
      const q = require('.');
      const body = \`
        const q = require(\${JSON.stringify(process.cwd())});
        const { parentPort } = require('worker_threads');
        const m = new q.nnq.Conv2d(32, 32, 3, { padding: 1 });
        m.scale = 0.2; m.zeroPoint = 0;
        const x = q.quantizePerTensor(q.tensor(new Float32Array(32 * 96 * 96).map((_, i) => (i % 13) / 8), [1, 32, 96, 96]), 0.05, 3, 'quint8');
        for (let i = 0; i < 12; i++) m.forwardAsync(x);
        parentPort.postMessage('queued');
      \`;
      (async () => {
        for (let round = 0; round < 6; round++) {
          const worker = new Worker(body, { eval: true });
          await new Promise((resolve) => worker.once('message', resolve));
          await new Promise((resolve) => setTimeout(resolve, round * 3));
          await worker.terminate();
        }
        const m = new q.nnq.Quantize(0.05, 3, 'quint8');
        const x = q.tensor(new Float32Array(300000).map((_, i) => (i % 101) / 7));
        const want = m.forward(x).intRepr();
        const got = (await m.forwardAsync(x)).intRepr();
        console.log(JSON.stringify({ same: got.every((v, i) => v === want[i]) }));
      })().catch((e) => { console.error(e); process.exit(1); });`;
    expect(runNodeJson(script)).toEqual({ same: true });
  });
});

describe('forwardAsync rejects (never throws synchronously) on bad input', () => {
  const module = new nnq.Quantize(0.1, 3, 'quint8');

  test('a non-Tensor input rejects with a TypeError', async () => {
    let promise: Promise<unknown> | undefined;
    expect(() => {
      promise = module.forwardAsync('not a tensor' as unknown as Tensor);
    }).not.toThrow();
    await expectValidationRejection(promise!, 'TypeError', 'x');
  });

  test('a scale set to an invalid value rejects with a RangeError naming scale', async () => {
    const broken = new nnq.Quantize(0.1, 3, 'quint8');
    broken.scale = -1;
    await expectValidationRejection(broken.forwardAsync(tensor([1, 2, 3])), 'RangeError', 'scale');
  });

  test('a zeroPoint set out of range rejects with a RangeError naming zeroPoint', async () => {
    const broken = new nnq.Quantize(0.1, 3, 'quint8');
    broken.zeroPoint = 256;
    await expectValidationRejection(broken.forwardAsync(tensor([1, 2, 3])), 'RangeError', 'zeroPoint');
  });

  test('DeQuantize given a float Tensor rejects with a TypeError', async () => {
    const promise = new nnq.DeQuantize().forwardAsync(tensor([1, 2]) as unknown as QTensor);
    let thrown: unknown;
    try {
      await promise;
    } catch (error) {
      thrown = error;
    }
    expect(describeThrown(thrown)).toMatch(/^TypeError: Expected .+ for \w+ but received .+ of type \w+/);
    expect(isErrorOfClass(thrown, 'TypeError')).toBe(true);
  });
});
