// The oracle driver itself: bit-exact round trips, per-case errors, a clear failure without torch, visible skips.
import { spawnSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { expectExact } from './helpers/compare';
import { describeOracle, OracleArray, OracleResult, runOracle, shaped } from './oracle';

const SPECIAL_BITS = new Float32Array(
  new Uint32Array([0x00000000, 0x80000000, 0x00000001, 0x007fffff, 0x7f7fffff, 0x7f800000, 0xff800000, 0x3dcccccd, 0x7fc00000]).buffer,
);

describeOracle('PyTorch oracle', () => {
  // One process for the whole file (torch takes seconds to import), plus one for the engine check.
  let results: OracleResult[] = [];
  beforeAll(() => {
    results = runOracle([
      { op: 'ping', echo: 'hello' },
      { op: 'quantize_per_tensor', x: shaped(Float32Array.from([0, -0, 1, -1, 7, 100, -100, 127, -128]), [3, 3]), scale: 1, zero_point: 0, dtype: 'qint8' },
      { op: 'float_view_chain', x: shaped(SPECIAL_BITS, [9]), steps: [] },
      { op: 'ping', echo: [NaN, Infinity, -Infinity, -0, 0.1, 1e-300] },
      { op: 'quantize_per_tensor', x: new Float32Array([1]), scale: 0.1, zero_point: 300, dtype: 'quint8' },
      { op: 'no_such_op' },
      { op: 'quantize_per_tensor', x: new Float32Array([1]), scale: 0.1, zero_point: 3, dtype: 'not_a_dtype' },
      { op: 'quantize_per_tensor', x: new Float32Array([0.25]), scale: 0.5, zero_point: 3, dtype: 'quint8' },
    ]);
  });

  test('answers ping with the torch it runs (Debian python3-torch 1.13, onednn and qnnpack engines)', () => {
    expect(results[0].echo).toBe('hello');
    expect(results[0].torch).toMatch(/^1\.13\./);
    expect(results[0].engines).toEqual(expect.arrayContaining(['onednn', 'qnnpack']));
    expect(results[0].engine).toBe('onednn');
  });

  test('selects the engine a batch asks for', () => {
    expect(runOracle([{ op: 'ping' }], { engine: 'qnnpack' })[0].engine).toBe('qnnpack');
  });

  test('arrays keep their shape and every bit, both ways', () => {
    const r = results[1];
    expect(r.dequant).toBeInstanceOf(OracleArray);
    expect(r.dequant.shape).toEqual([3, 3]);
    // Small integers with scale 1 and zero point 0 come back unchanged, except -0 which becomes +0.
    expectExact('dequant', Float32Array.from([0, 0, 1, -1, 7, 100, -100, 127, -128]), r.dequant.data, { kind: 'float32' });
    expectExact('int_repr', Int8Array.from([0, 0, 1, -1, 7, 100, -100, 127, -128]), r.int_repr.data);
    // float_view_chain with no steps echoes its input: zeros, denormals, FLT_MAX, infinities, NaN.
    expectExact('echo', SPECIAL_BITS, results[2].values.data, { kind: 'float32' });
  });

  test('special scalars travel as tagged values (NaN, +-Infinity, -0)', () => {
    const echo = results[3].echo as number[];
    expect(echo).toHaveLength(6);
    expect(Number.isNaN(echo[0])).toBe(true);
    expect(echo.slice(1)).toEqual([Infinity, -Infinity, -0, 0.1, 1e-300]);
    expect(Object.is(echo[3], -0)).toBe(true);
  });

  test('a case torch rejects comes back as an error and the rest of the batch still answers', () => {
    expect(results[4]).toEqual({ error: expect.stringContaining('zero_point 300 is above upper bound'), errorType: 'RuntimeError' });
    expect(results[5].error).toMatch(/unknown op 'no_such_op'/);
    expect(results[6].error).toMatch(/unknown quantized dtype/);
    expect(Array.from(results[7].int_repr.data)).toEqual([3]); // 0.25 / 0.5 = 0.5: a tie, to even
  });
});

describe('oracle unavailable', () => {
  /** Loads a fresh copy of the driver with the given environment (ORACLE_PYTHON is read at load). */
  function withFreshDriver(env: Record<string, string | undefined>, body: (driver: typeof import('./oracle')) => void): void {
    const saved: Record<string, string | undefined> = {};
    for (const key of Object.keys(env)) saved[key] = process.env[key];
    const apply = (values: Record<string, string | undefined>) => {
      for (const [key, value] of Object.entries(values)) {
        if (value === undefined) delete process.env[key];
        else process.env[key] = value;
      }
    };
    apply(env);
    try {
      jest.isolateModules(() => body(require('./oracle') as typeof import('./oracle')));
    } finally {
      apply(saved);
    }
  }

  test('a missing interpreter fails with what to install and how to skip', () => {
    withFreshDriver({ QKERNELS_ORACLE_PYTHON: '/nonexistent/python3', QKERNELS_SKIP_ORACLE: undefined }, (driver) => {
      expect(() => driver.runOracle([{ op: 'ping' }])).toThrow(/PyTorch oracle unavailable: .*does not exist.*python3-torch.*QKERNELS_SKIP_ORACLE=1/s);
    });
  });

  (fs.existsSync('/usr/bin/python3') ? test : test.skip)('a python without torch fails the same way (oracle.py exits 3)', () => {
    // /usr/bin/python3 -S skips site-packages, where Debian's torch lives: a python without torch.
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'qkernels-oracle-'));
    const wrapper = path.join(dir, 'python-without-site');
    fs.writeFileSync(wrapper, '#!/bin/sh\nexec /usr/bin/python3 -S "$@"\n', { mode: 0o755 });
    try {
      withFreshDriver({ QKERNELS_ORACLE_PYTHON: wrapper, QKERNELS_SKIP_ORACLE: undefined }, (driver) => {
        expect(() => driver.runOracle([{ op: 'ping' }])).toThrow(/PyTorch oracle unavailable: .*cannot import torch\/numpy.*QKERNELS_SKIP_ORACLE=1/s);
      });
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  test('QKERNELS_SKIP_ORACLE=1 reports oracle suites as skipped, by name, not passed', () => {
    if (process.env.QKERNELS_ORACLE_SELFTEST_CHILD === '1') return; // no recursion
    const child = spawnSync(
      process.execPath,
      [require.resolve('jest/bin/jest'), '--json', 'test/oracle\\.test\\.ts$'],
      { cwd: path.join(__dirname, '..'), encoding: 'utf8', env: { ...process.env, QKERNELS_SKIP_ORACLE: '1', QKERNELS_ORACLE_SELFTEST_CHILD: '1' } },
    );
    const report = JSON.parse(child.stdout) as { numFailedTests: number; numPendingTests: number; testResults: Array<{ assertionResults: Array<{ ancestorTitles: string[]; status: string }> }> };
    expect(report.numFailedTests).toBe(0);
    const skipped = report.testResults.flatMap((r) => r.assertionResults).filter((a) => a.status === 'pending');
    expect(skipped.length).toBeGreaterThanOrEqual(5);
    expect(skipped.every((a) => a.ancestorTitles.some((t) => t.includes('SKIPPED: QKERNELS_SKIP_ORACLE=1')))).toBe(true);
  });
});
