// backend: CPU features and best level as the OS reports them, setMaxIsa/setNumThreads round trips, the QKERNELS_MAX_ISA cap.
import * as fs from 'fs';
import { backend } from '..';
import { runNodeJson } from './helpers/child';
import { levelsOfThisMachine, planLevels } from './helpers/paths';

type IsaLevel = Parameters<typeof backend.setMaxIsa>[0];

/** The CPU flags Linux reports for this machine (the kernel hides what the OS does not enable). */
function linuxCpuFlags(): Set<string> | null {
  if (process.platform !== 'linux') return null;
  const cpuinfo = fs.readFileSync('/proc/cpuinfo', 'utf8');
  const line = cpuinfo.split('\n').find((l) => /^(flags|Features)\s*:/.test(l));
  return line ? new Set(line.split(':')[1].trim().split(/\s+/)) : null;
}

const flags = linuxCpuFlags();

describe('backend.info()', () => {
  const info = backend.info();

  test('has the documented fields', () => {
    expect(levelsOfThisMachine()).toContain(info.isa);
    expect(levelsOfThisMachine()).toContain(info.bestIsa);
    expect(Array.isArray(info.features)).toBe(true);
    expect(info.threads).toBe(backend.getNumThreads());
    expect(info.isa).toBe(backend.getIsa());
    expect(info.version).toBe((JSON.parse(fs.readFileSync(`${__dirname}/../package.json`, 'utf8')) as { version: string }).version);
  });

  (flags && process.arch === 'x64' ? test : test.skip)('x64: features and bestIsa agree with /proc/cpuinfo', () => {
    const has = (flag: string) => flags!.has(flag);
    for (const [feature, flag] of [['avx2', 'avx2'], ['fma', 'fma'], ['avx512f', 'avx512f'], ['avx512bw', 'avx512bw'], ['avx512vl', 'avx512vl'], ['avx512vnni', 'avx512_vnni']]) {
      expect(`${feature}: ${info.features.includes(feature)}`).toBe(`${feature}: ${has(flag)}`);
    }
    const avx512vnni = ['avx512f', 'avx512bw', 'avx512vl', 'avx512_vnni'].every(has);
    const avx2 = has('avx2') && has('fma');
    expect(info.bestIsa).toBe(avx512vnni ? 'avx512vnni' : avx2 ? 'avx2' : 'scalar');
  });

  (flags && process.arch === 'arm64' ? test : test.skip)('arm64: dotprod decides neondot, as /proc/cpuinfo reports it', () => {
    expect(info.bestIsa).toBe(flags!.has('asimddp') ? 'neondot' : 'neon');
  });
});

describe('backend.setMaxIsa / setNumThreads', () => {
  const startIsa = backend.getIsa();
  const startThreads = backend.getNumThreads();
  afterAll(() => {
    backend.setMaxIsa(startIsa as IsaLevel);
    backend.setNumThreads(startThreads);
  });

  test('each level up to the best is put in force and reported; a higher one is capped at the best', () => {
    const best = backend.info().bestIsa;
    const levels = levelsOfThisMachine();
    for (const level of levels) {
      const expected = levels.indexOf(level) <= levels.indexOf(best) ? level : best;
      expect(`${level} -> ${backend.setMaxIsa(level as IsaLevel)}`).toBe(`${level} -> ${expected}`);
      expect(backend.getIsa()).toBe(expected);
      expect(backend.info().isa).toBe(expected);
    }
  });

  test('every level planned for the exact-match suites is runnable or skipped with a reason', () => {
    for (const plan of planLevels()) {
      if (plan.skipReason === null) expect(backend.setMaxIsa(plan.isa as IsaLevel)).toBe(plan.isa);
      else expect(plan.skipReason.length).toBeGreaterThan(0);
    }
  });

  test('thread counts round-trip', () => {
    for (const n of [1, 2, 3, 1]) {
      backend.setNumThreads(n);
      expect(backend.getNumThreads()).toBe(n);
      expect(backend.info().threads).toBe(n);
    }
  });
});

describe('a fresh process', () => {
  test('defaults to one thread and the best level', () => {
    const report = runNodeJson<{ threads: number; isa: string; bestIsa: string }>(
      `const { backend } = require('.'); const i = backend.info(); console.log(JSON.stringify({ threads: i.threads, isa: i.isa, bestIsa: i.bestIsa }));`,
      { env: { QKERNELS_MAX_ISA: undefined } },
    );
    expect(report).toEqual({ threads: 1, isa: backend.info().bestIsa, bestIsa: backend.info().bestIsa });
  });

  test('QKERNELS_MAX_ISA=scalar caps dispatch at load, and the scalar path computes', () => {
    const report = runNodeJson<{ isa: string; getIsa: string; ints: number[] }>(
      `const qk = require('.');
       const q = qk.quantizePerTensor(qk.tensor(new Float32Array([0.25, 0.75, -1, 1e30, NaN])), 0.5, 3, 'qint8');
       console.log(JSON.stringify({ isa: qk.backend.info().isa, getIsa: qk.backend.getIsa(), ints: Array.from(q.intRepr()) }));`,
      { env: { QKERNELS_MAX_ISA: 'scalar' } },
    );
    // The values themselves are checked against torch in the quantize suites; here: same as in-process.
    const { quantizePerTensor, tensor } = require('..') as typeof import('..');
    const inProcess = quantizePerTensor(tensor(new Float32Array([0.25, 0.75, -1, 1e30, NaN])), 0.5, 3, 'qint8');
    expect(report).toEqual({ isa: 'scalar', getIsa: 'scalar', ints: Array.from(inProcess.intRepr()) });
  });

  (levelsOfThisMachine().includes('avx2') ? test : test.skip)('QKERNELS_MAX_ISA=avx2 caps at avx2 (or the best, if lower)', () => {
    const report = runNodeJson<{ isa: string }>(`console.log(JSON.stringify({ isa: require('.').backend.info().isa }))`, { env: { QKERNELS_MAX_ISA: 'avx2' } });
    const levels = levelsOfThisMachine();
    const best = backend.info().bestIsa;
    expect(report.isa).toBe(levels.indexOf(best) < levels.indexOf('avx2') ? best : 'avx2');
  });
});

describe('backend.setQuantizedEngine / quantizedEngine', () => {
  afterEach(() => backend.setQuantizedEngine('fbgemm'));

  test('each engine round-trips and info() reports it; x86 is accepted under its own name', () => {
    expect(backend.quantizedEngine()).toBe('fbgemm');
    for (const engine of ['onednn', 'qnnpack', 'x86', 'fbgemm'] as const) {
      expect(backend.setQuantizedEngine(engine)).toBe(engine);
      expect(backend.quantizedEngine()).toBe(engine);
      expect(backend.info().quantizedEngine).toBe(engine);
    }
  });

  test('a bad engine is a RangeError naming the parameter and changes nothing', () => {
    backend.setQuantizedEngine('qnnpack');
    expect(() => backend.setQuantizedEngine('mkldnn' as never)).toThrow(RangeError);
    expect(() => backend.setQuantizedEngine('mkldnn' as never)).toThrow(/engine/);
    expect(() => backend.setQuantizedEngine(3 as never)).toThrow(TypeError);
    expect(backend.quantizedEngine()).toBe('qnnpack');
  });

  test('an async op computes with the engine in force when it was called', async () => {
    // A case on a rounding boundary (t = 1.5, odd zero point): onednn rounds t + y_zp in fp32,
    // fbgemm rounds t and adds y_zp, so the engines answer differently (each checked against
    // torch in the conv differential suite; here only which engine an async call uses).
    const { nnq, makePerTensorQuantizedTensor, tensor } = require('..') as typeof import('..');
    const m = new nnq.Conv1d(1, 1, 1);
    m.setWeightBias(makePerTensorQuantizedTensor(new Int8Array([1]), [1, 1, 1], 0.5, 0, 'qint8'), tensor(new Float32Array([0]), [1]));
    m.scale = 1;
    m.zeroPoint = 1;
    const x = makePerTensorQuantizedTensor(new Uint8Array([3]), [1, 1, 1], 1, 0, 'quint8');  // t = 1.5
    const fbgemm = Array.from(m.forward(x).intRepr());
    backend.setQuantizedEngine('onednn');
    const onednn = Array.from(m.forward(x).intRepr());
    const pending = m.forwardAsync(x);
    backend.setQuantizedEngine('fbgemm');
    expect(onednn).not.toEqual(fbgemm);
    expect(Array.from((await pending).intRepr())).toEqual(onednn);
  });
});

describe('QKERNELS_QUANTIZED_ENGINE in a fresh process', () => {
  test('selects the engine at load', () => {
    const report = runNodeJson<{ engine: string }>(`console.log(JSON.stringify({ engine: require('.').backend.quantizedEngine() }))`, {
      env: { QKERNELS_QUANTIZED_ENGINE: 'qnnpack' },
    });
    expect(report.engine).toBe('qnnpack');
  });

  test('a bad value is ignored with one process warning, and fbgemm is used', () => {
    const report = runNodeJson<{ engine: string; warnings: string[] }>(
      `const warnings = []; process.on('warning', (w) => warnings.push(w.code + ': ' + w.message));
       const qk = require('.');
       setImmediate(() => console.log(JSON.stringify({ engine: qk.backend.quantizedEngine(), warnings })));`,
      { env: { QKERNELS_QUANTIZED_ENGINE: 'mkldnn' } },
    );
    expect(report.engine).toBe('fbgemm');
    expect(report.warnings).toHaveLength(1);
    expect(report.warnings[0]).toMatch(/^QKERNELS_QUANTIZED_ENGINE: .*'mkldnn'/);
  });
});

// Freed output pages kept for later outputs (native/addon/handoff.h, FreedPagesPolicy): glibc
// only, since the policy is glibc's mallopt; elsewhere the fields say malloc was left alone.
const glibc = process.platform === 'linux' &&
  Boolean((process.report?.getReport() as { header?: { glibcVersionRuntime?: string } } | undefined)?.header?.glibcVersionRuntime);

describe('QKERNELS_KEEP_FREED_MB in a fresh process', () => {
  // 400 adds of [1,64,96,96] (590 KB, 144 pages an output) after 400 that let V8's collections and
  // the heap reach their steady state; the minor page faults per call tell fresh pages (one per
  // page) from reused ones.
  const faultsProbe = `
    const q = require('.');
    const shape = [1, 64, 96, 96], n = 64 * 96 * 96;
    const make = (s) => q.quantizePerTensor(q.tensor(Float32Array.from({ length: n }, (_, i) => (((i * 37 + s) % 97) - 48) / 24), shape), 1 / 24, 128, 'quint8');
    const a = make(1), b = make(2);
    for (let i = 0; i < 400; i++) q.ops.quantized.add(a, b, 1 / 16, 128);
    const before = process.resourceUsage().minorPageFault;
    for (let i = 0; i < 400; i++) q.ops.quantized.add(a, b, 1 / 16, 128);
    const info = q.backend.info();
    console.log(JSON.stringify({ kept: info.freedPagesKept, policy: info.freedPagesPolicy,
      faultsPerCall: (process.resourceUsage().minorPageFault - before) / 400, pages: n / 4096 }));`;
  type Faults = { kept: number; policy: string; faultsPerCall: number; pages: number };

  (glibc ? test : test.skip)('by default 128 MB of freed heap is kept, and outputs reuse warm pages', () => {
    const kept = runNodeJson<Faults>(faultsProbe, { env: { QKERNELS_KEEP_FREED_MB: undefined, GLIBC_TUNABLES: undefined } });
    expect(kept.kept).toBe(128 * 2 ** 20);
    expect(kept.policy).toMatch(/keeps up to 128 MB/);
    // The control: with the policy off the same loop faults in most of each output's pages.
    const off = runNodeJson<Faults>(faultsProbe, { env: { QKERNELS_KEEP_FREED_MB: '0', GLIBC_TUNABLES: undefined } });
    expect(off.kept).toBe(0);
    expect(off.policy).toMatch(/^off/);
    expect(off.faultsPerCall).toBeGreaterThan(off.pages / 4);
    expect(kept.faultsPerCall).toBeLessThan(kept.pages / 8);
  });

  test('the process\'s own GLIBC_TUNABLES malloc settings win', () => {
    const report = runNodeJson<{ kept: number; policy: string }>(
      `const i = require('.').backend.info(); console.log(JSON.stringify({ kept: i.freedPagesKept, policy: i.freedPagesPolicy }))`,
      { env: { GLIBC_TUNABLES: 'glibc.malloc.trim_threshold=1048576', QKERNELS_KEEP_FREED_MB: '64' } },
    );
    expect(report.kept).toBe(0);
    expect(report.policy).toMatch(glibc ? /own malloc settings/ : /not glibc/);
  });

  test('a bad value is ignored with one process warning, and the default is used', () => {
    const report = runNodeJson<{ kept: number; warnings: string[] }>(
      `const warnings = []; process.on('warning', (w) => warnings.push(w.code + ': ' + w.message));
       const qk = require('.');
       setImmediate(() => console.log(JSON.stringify({ kept: qk.backend.info().freedPagesKept, warnings })));`,
      { env: { QKERNELS_KEEP_FREED_MB: '128MB', GLIBC_TUNABLES: undefined } },
    );
    expect(report.kept).toBe(glibc ? 128 * 2 ** 20 : 0);
    expect(report.warnings).toHaveLength(1);
    expect(report.warnings[0]).toBe("QKERNELS_KEEP_FREED_MB: QKERNELS_KEEP_FREED_MB: expected a whole number of MB from 0 to 2047 but received '128MB'; using 128");
  });
});
