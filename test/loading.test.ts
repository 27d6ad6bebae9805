// Loading the package: CJS and ESM expose the same names, the addon loads in 4 worker_threads at once, prebuilds/ and QKERNELS_ADDON work.
import * as fs from 'fs';
import * as path from 'path';
import { Worker } from 'worker_threads';
import * as qk from '..';
import { PACKAGE_ROOT, runNode, runNodeJson } from './helpers/child';

// The names the API contract (doc/foundation-api.md) promises from the package entry.
const CONTRACT_EXPORTS = [
  'tensor', 'quantizePerTensor', 'quantizePerChannel', 'quantizePerTensorDynamic', 'dequantize',
  'makePerTensorQuantizedTensor', 'makePerChannelQuantizedTensor', 'Tensor', 'QTensor',
  'qF', 'nnq', 'nnqd', 'nniq', 'nn', 'ops', 'backend', 'jit', 'donate', 'recycle',
];

describe('CommonJS entry', () => {
  test('exports every name of the contract', () => {
    const missing = CONTRACT_EXPORTS.filter((name) => !(name in qk));
    expect(missing).toEqual([]);
  });

  test('nn mirrors torch.nn\'s namespaces', () => {
    expect(qk.nn.quantized).toBe(qk.nnq);
    expect(qk.nn.quantized.functional).toBe(qk.qF);
    expect(qk.nn.quantized.dynamic).toBe(qk.nnqd);
    expect(qk.nn.intrinsic.quantized).toBe(qk.nniq);
    expect(typeof qk.ops.quantized).toBe('object');
  });

  test('require(\'qkernels\') by package name resolves to the same module as require(\'..\')', () => {
    const names = runNodeJson<{ same: boolean; file: string }>(
      `const byName = require('qkernels'); const byPath = require('./dist/index.js');
       console.log(JSON.stringify({ same: byName === byPath, file: require.resolve('qkernels') }));`,
    );
    expect(names).toEqual({ same: true, file: path.join(PACKAGE_ROOT, 'dist', 'index.js') });
  });
});

describe('ES module entry', () => {
  const cjsNames = Object.keys(require('..') as object).sort();

  test('esm/index.mjs exports the CJS names, bound to the same objects', () => {
    const esmUrl = `file://${path.join(PACKAGE_ROOT, 'esm', 'index.mjs')}`;
    const report = runNodeJson<{ names: string[]; mismatched: string[] }>(
      `import * as esm from ${JSON.stringify(esmUrl)};
       import { createRequire } from 'module';
       const cjs = createRequire(${JSON.stringify(path.join(PACKAGE_ROOT, 'package.json'))})('./dist/index.js');
       const names = Object.keys(esm).filter((n) => n !== 'default').sort();
       const mismatched = names.filter((n) => esm[n] !== cjs[n]);
       console.log(JSON.stringify({ names, mismatched }));`,
      { inputType: 'module' },
    );
    expect(report.names).toEqual(cjsNames);
    expect(report.mismatched).toEqual([]);
  });

  test('import(\'qkernels\') goes through package.json exports to the ESM wrapper and computes', () => {
    const report = runNodeJson<{ names: string[]; ints: number[] }>(
      `import * as qk from 'qkernels';
       const q = qk.quantizePerTensor(qk.tensor(new Float32Array([-1, 0.05, 0.15, 1e9])), 0.1, 10, 'quint8');
       console.log(JSON.stringify({ names: Object.keys(qk).filter((n) => n !== 'default').sort(), ints: Array.from(q.intRepr()) }));`,
      { inputType: 'module' },
    );
    expect(report.names).toEqual(cjsNames);
    const inProcess = qk.quantizePerTensor(qk.tensor(new Float32Array([-1, 0.05, 0.15, 1e9])), 0.1, 10, 'quint8');
    expect(report.ints).toEqual(Array.from(inProcess.intRepr()));
  });
});

describe('worker_threads', () => {
  test('the addon loads in 4 workers at once and each computes what the main thread does', async () => {
    const data = Float32Array.from({ length: 10_000 }, (_, i) => Math.sin(i) * 20);
    const want = qk.quantizePerTensor(qk.tensor(Float32Array.from(data)), 0.07, 5, 'qint8');
    const workerCode = `
      const { parentPort, workerData } = require('worker_threads');
      const qk = require(workerData.root);
      const results = [];
      for (let round = 0; round < 20; round++) {
        const q = qk.quantizePerTensor(qk.tensor(Float32Array.from(workerData.data)), 0.07, 5, 'qint8');
        results.push({ ints: Array.from(q.intRepr()), floats: Array.from(q.dequantize().data) });
      }
      const same = results.every((r) => JSON.stringify(r) === JSON.stringify(results[0]));
      parentPort.postMessage({ same, ints: results[0].ints, floats: results[0].floats, isa: qk.backend.info().isa });`;
    const runs = Array.from({ length: 4 }, () => new Promise<{ same: boolean; ints: number[]; floats: number[]; isa: string }>((resolve, reject) => {
      const worker = new Worker(workerCode, { eval: true, workerData: { root: PACKAGE_ROOT, data: Array.from(data) } });
      worker.once('message', (message) => {
        resolve(message);
        void worker.terminate();
      });
      worker.once('error', reject);
      worker.once('exit', (code) => code !== 0 && reject(new Error(`worker exited with ${code}`)));
    }));
    const results = await Promise.all(runs);
    for (const result of results) {
      expect(result.same).toBe(true);
      expect(result.ints).toEqual(Array.from(want.intRepr()));
      expect(result.floats).toEqual(Array.from(want.dequantize().data));
      expect(result.isa).toBe(qk.backend.info().isa);
    }
  });
});

describe('where the addon comes from', () => {
  const prebuildDir = path.join(PACKAGE_ROOT, 'prebuilds', `${process.platform}-${process.arch}`);
  const prebuilt = fs.existsSync(prebuildDir) && fs.readdirSync(prebuildDir).some((f) => f.endsWith('.node'));
  const localBuild = path.join(PACKAGE_ROOT, 'build', 'Release', 'qkernels.node');
  const probe = `const qk = require('.');
    const q = qk.quantizePerTensor(qk.tensor([0.25, -0.25, 3]), 0.5, 2, 'quint8');
    console.log(JSON.stringify({ ints: Array.from(q.intRepr()), binary: qk.backend.info().binary }));`;
  const probeInts = Array.from(qk.quantizePerTensor(qk.tensor([0.25, -0.25, 3]), 0.5, 2, 'quint8').intRepr());
  // `npm test`'s prebuild step sets QKERNELS_EXPECT_PREBUILD=1 after `npm run prebuild`: there a
  // missing prebuild is a failure, not a skip.
  const expectPrebuild = process.env.QKERNELS_EXPECT_PREBUILD === '1';

  (prebuilt || expectPrebuild ? test : test.skip)(
    `PREBUILDS_ONLY=1 loads from prebuilds/${process.platform}-${process.arch}${prebuilt || expectPrebuild ? '' : ' [SKIPPED: no prebuild for this platform; run npm run prebuild]'}`,
    () => {
      expect(prebuilt).toBe(true);
      const result = runNodeJson<{ ints: number[]; binary: string }>(probe, { env: { PREBUILDS_ONLY: '1', QKERNELS_ADDON: undefined } });
      expect(result.ints).toEqual(probeInts);
      expect(path.dirname(result.binary)).toBe(prebuildDir);
    },
  );

  (expectPrebuild ? test : test.skip)('under QKERNELS_EXPECT_PREBUILD=1 this very suite runs on the prebuild', () => {
    expect(path.dirname(qk.backend.info().binary)).toBe(prebuildDir);
  });

  (fs.existsSync(localBuild) ? test : test.skip)('QKERNELS_ADDON loads the file it names', () => {
    const result = runNodeJson<{ ints: number[]; binary: string }>(probe, { env: { QKERNELS_ADDON: localBuild } });
    expect(result.ints).toEqual(probeInts);
    expect(result.binary).toBe(localBuild);
  });

  test('a missing addon fails with a message naming the platform and what to do', () => {
    const result = runNode(`require('.')`, { env: { QKERNELS_ADDON: path.join(PACKAGE_ROOT, 'no-such-dir', 'qkernels.node') } });
    expect(result.status).not.toBe(0);
    expect(result.stderr).toContain(`${process.platform}-${process.arch}`);
    expect(result.stderr).toContain('QKERNELS_ADDON');
  });
});
