// Quantized add / mul / add_relu / mul_relu (ops.quantized, QFunctional) against PyTorch: broadcasting, memory formats, both dtypes, every dispatch path, exact.
//
// Shapes are chosen so that TensorIterator's inner runs have vector parts and scalar tails
// (PyTorch rounds those differently; qkernels follows it element by element), that one operand
// broadcasts along the inner dim (torch's "scalar" vectorized loop) or along outer dims, and
// that operands of different memory formats force torch's strided (all scalar) loop.
import { QTensor, makePerTensorQuantizedTensor, nnq, ops } from '..';
import { FailureLog } from './helpers/compare';
import { expectValidationError } from './helpers/errors';
import { ByteDType, QInput, describeQInput, expectQTensorLike, makeQ, qmin, randomQInput, wireQ } from './helpers/elementwise';
import { withEngine } from './helpers/linear-conv';
import { describeEachPath } from './helpers/paths';
import { Rng, testSeed } from './helpers/random';
import { Step } from './helpers/views';
import { describeOracle, okResult, OracleResult, runOracle } from './oracle';
// The plan behind ops.quantized.add / mul, for its off-the-event-loop form (no public async name in torch).
import { ADD_RELU, MUL, planBinary } from '../dist/elementwise/arithmetic';
import { native } from '../dist/elementwise/native';
import { dtypeCode } from '../dist/elementwise/plan';

const SWEEP = process.env.QKERNELS_SWEEP === '1';
const SEED = testSeed('arith-binary');
// QKERNELS_SWEEP=1 draws many more qparams per shape pair (the long sweep).
const REPEATS = SWEEP ? 20 : 1;
const rng = new Rng(SEED);

type Fn = 'add' | 'add_relu' | 'mul' | 'mul_relu';
const FNS: Fn[] = ['add', 'add_relu', 'mul', 'mul_relu'];
const RUN: Record<Fn, (a: QTensor, b: QTensor, s: number, z: number) => QTensor> = {
  add: ops.quantized.add,
  add_relu: ops.quantized.addRelu,
  mul: ops.quantized.mul,
  mul_relu: ops.quantized.mulRelu,
};

const CL: Step[] = [['contiguous', 'channels_last']];
// torchRaises: torch 1.13's XNNPACK qint8 mul reads qb's [N, C, 1, 1] shape in the wrong layout next to a
// channels_last qa and fails ("xnn setup operator failed"); qkernels computes the product.
const PAIRS: Array<{ a: number[]; b: number[]; aSteps?: Step[]; bSteps?: Step[]; torchRaises?: boolean }> = [
  { a: [100], b: [100] },
  { a: [3, 5, 7, 11], b: [3, 5, 7, 11] },
  { a: [2, 16, 9, 9], b: [2, 16, 9, 9], aSteps: CL, bSteps: CL },
  { a: [2, 6, 5, 5], b: [2, 6, 5, 5], aSteps: CL },
  { a: [2, 6, 5, 5], b: [2, 6, 5, 5], bSteps: CL },
  { a: [2, 3, 10, 13], b: [1, 3, 1, 1] },
  { a: [1, 3, 1, 1], b: [2, 3, 10, 13] },
  { a: [4, 70], b: [70] },
  { a: [4, 70], b: [4, 1] },
  { a: [2, 20, 6, 6], b: [2, 20, 1, 1], aSteps: CL, torchRaises: true },
  { a: [5, 1], b: [1, 130] },
  { a: [130, 7], b: [130, 7], aSteps: [['permute', [1, 0]]] as Step[], bSteps: [['permute', [1, 0]]] as Step[] },
  { a: [300, 300], b: [300, 300] },
  // Broadcasts the binding expands piece by piece (512 elements): runs of one value across pieces,
  // an outer repeat (N = 2), and a channels-last tile of C values.
  { a: [1, 72, 1, 1], b: [2, 72, 24, 24] },
  { a: [1, 40, 30, 30], b: [1, 40, 1, 1], aSteps: CL, torchRaises: true },
  // MobileNetV3's SE scale: a contiguous [1, C, 1, 1] qa decides an NCHW output, so the channels-last
  // qb is read with inner stride C (torch's strided loop, all in the scalar formula): the tail
  // kernels on whole rows, qb re-laid out natively and qa expanded piece by piece.
  { a: [1, 72, 1, 1], b: [1, 72, 24, 24], bSteps: CL },
];

interface Case {
  fn: Fn;
  a: QInput;
  b: QInput;
  scale: number;
  zeroPoint: number;
  label: string;
}

function buildCases(): Case[] {
  const cases: Case[] = [];
  for (const fn of FNS) {
    for (const dtype of ['quint8', 'qint8'] as ByteDType[]) {
      for (const p of PAIRS) for (let repeat = 0; repeat < REPEATS; repeat++) {
        // permute steps describe the source shape: the tensor made is [rows, cols] then permuted.
        const aShape = p.aSteps?.[0]?.[0] === 'permute' ? [...p.a].reverse() : p.a;
        const bShape = p.bSteps?.[0]?.[0] === 'permute' ? [...p.b].reverse() : p.b;
        const a = randomQInput(rng, dtype, aShape, p.aSteps ?? []);
        const b = randomQInput(rng, dtype, bShape, p.bSteps ?? []);
        const scale = fn.startsWith('mul') ? rng.logUniform(0.001, 0.05) : rng.logUniform(0.005, 0.1);
        const zeroPoint = rng.int(dtype === 'quint8' ? 0 : -128, dtype === 'quint8' ? 255 : 127);
        if (p.torchRaises && fn.startsWith('mul') && dtype === 'qint8' && zeroPoint < 127) continue;
        cases.push({ fn, a, b, scale, zeroPoint, label: `${fn}(${describeQInput(a)}, ${describeQInput(b)}, ${scale}, ${zeroPoint})` });
      }
    }
  }
  return cases;
}

const cases = buildCases();

describeOracle('quantized add / mul vs PyTorch', () => {
  let expected: OracleResult[] = [];

  beforeAll(() => {
    expected = runOracle(
      cases.map((c) => ({ op: 'ew_binary', fn: c.fn, a: wireQ(c.a), b: wireQ(c.b), scale: c.scale, zero_point: c.zeroPoint })),
    ).map((r, i) => okResult(r, cases[i].label));
  });

  describeEachPath('exact', (path) => {
    for (const fn of FNS) {
      test(`ops.quantized.${fn}`, () => {
        const log = new FailureLog();
        cases.forEach((c, k) => {
          if (c.fn !== fn) return;
          log.check(c.label, () => expectQTensorLike(expected[k], RUN[fn](makeQ(c.a), makeQ(c.b), c.scale, c.zeroPoint), `seed ${SEED}, ${path.isa} x${path.threads}`));
        });
        log.finish(fn);
      });
    }
  });

  test('QFunctional.add / mul / addRelu use the module\'s scale and zeroPoint', () => {
    const log = new FailureLog();
    const f = new nnq.QFunctional();
    cases.forEach((c, k) => {
      if (c.fn === 'mul_relu') return;
      f.scale = c.scale;
      f.zeroPoint = c.zeroPoint;
      const run = c.fn === 'add' ? f.add.bind(f) : c.fn === 'mul' ? f.mul.bind(f) : f.addRelu.bind(f);
      log.check(c.label, () => expectQTensorLike(expected[k], run(makeQ(c.a), makeQ(c.b)), `seed ${SEED}`));
    });
    log.finish('QFunctional');
  });

  test('the async binding computes the same bytes off the event loop', async () => {
    const log = new FailureLog();
    for (const [k, c] of cases.entries()) {
      if (c.fn !== 'add_relu' && c.fn !== 'mul') continue;
      const got = await planBinary(c.fn === 'mul' ? MUL : ADD_RELU, makeQ(c.a), makeQ(c.b), c.scale, c.zeroPoint).runAsync({});
      log.check(`async ${c.label}`, () => expectQTensorLike(expected[k], got, `seed ${SEED}`));
    }
    log.finish('async');
  });
});

// Under torch.backends.quantized.engine = 'qnnpack', same-shape quint8 add / add_relu run
// QNNPACK's fixed-point add and every qint8 add / add_relu XNNPACK's; with
// backend.setQuantizedEngine('qnnpack') qkernels computes the same (mul and broadcast quint8
// adds stay torch's own kernels under both engines).
// Dense grids for the fixed-point adds: every pair of bytes (a, b), so that the rounding of
// each engine's formula is exercised on thousands of ties (random cases rarely reach one).
function gridCase(fn: Fn, dtype: ByteDType, scales: [number, number, number], zeroPoints: [number, number, number]): Case {
  const lo = qmin(dtype);
  const values = (pick: (i: number) => number) => {
    const v = dtype === 'quint8' ? new Uint8Array(65536) : new Int8Array(65536);
    for (let i = 0; i < 65536; i++) v[i] = pick(i) + lo;
    return v;
  };
  const a: QInput = { values: values((i) => i >> 8), shape: [256, 256], scale: scales[0], zeroPoint: zeroPoints[0], dtype, steps: [] };
  const b: QInput = { values: values((i) => i & 255), shape: [256, 256], scale: scales[1], zeroPoint: zeroPoints[1], dtype, steps: [] };
  return { fn, a, b, scale: scales[2], zeroPoint: zeroPoints[2], label: `${fn} ${dtype} grid scales [${scales}] zero points [${zeroPoints}]` };
}
const GRIDS: Case[] = [
  gridCase('add', 'qint8', [0.037, 0.021, 0.05], [3, -5, 1]),
  gridCase('add_relu', 'qint8', [0.011, 0.09, 0.0731], [-100, 20, -7]),
  gridCase('add', 'qint8', [0.3, 0.002, 0.013], [0, 127, -128]),
  gridCase('add', 'quint8', [0.037, 0.021, 0.05], [3, 250, 101]),
  gridCase('add_relu', 'quint8', [0.011, 0.09, 0.0731], [0, 128, 77]),
];
const QNNPACK_CASES = [...cases, ...GRIDS];

describeOracle('quantized add / mul vs PyTorch under the qnnpack engine', () => {
  let expected: OracleResult[] = [];

  beforeAll(() => {
    expected = runOracle(
      QNNPACK_CASES.map((c) => ({ op: 'ew_binary', fn: c.fn, a: wireQ(c.a), b: wireQ(c.b), scale: c.scale, zero_point: c.zeroPoint })),
      { engine: 'qnnpack' },
    );
  });

  // torch 1.13's xnnp_add fails to set up some broadcasts of a channels-last qa ("xnn setup
  // operator failed"): no answer to compare with there (qkernels computes the add).
  const refused = (r: OracleResult) => r.error !== undefined && /xnnp_add\(\): xnn setup operator failed/.test(String(r.error));

  describeEachPath('exact', (path) => {
    test('ops.quantized.add / addRelu / mul / mulRelu, quint8 and qint8', () => {
      const log = new FailureLog();
      let skipped = 0;
      withEngine('qnnpack', () => {
        QNNPACK_CASES.forEach((c, k) => {
          if (refused(expected[k])) {
            skipped++;
            return;
          }
          log.check(c.label, () =>
            expectQTensorLike(okResult(expected[k], c.label), RUN[c.fn](makeQ(c.a), makeQ(c.b), c.scale, c.zeroPoint), `qnnpack, seed ${SEED}, ${path.isa} x${path.threads}`),
          );
        });
      });
      log.finish('qnnpack');
      expect(skipped).toBeLessThan(QNNPACK_CASES.length / 10);
    });
  });
});

test('the qnnpack engine\'s adds refuse what torch refuses: scale ratios outside [2^-10, 2^8) (XNNPACK, qint8) or [2^-14, 2^8) (QNNPACK, quint8), add_relu with zero point 127', () => {
  const qa = makePerTensorQuantizedTensor(Int8Array.of(-3, 0, 5, 100), [4], 0.05, 3, 'qint8');
  withEngine('qnnpack', () => {
    expectValidationError(() => ops.quantized.add(qa, qa, 0.05 * 1024 * 1.0001, 0), 'RangeError', 'scale', 'ratio below 2^-10');
    expectValidationError(() => ops.quantized.add(qa, qa, (0.05 / 256) * 0.9999, 0), 'RangeError', 'scale', 'ratio 2^8 or more');
    expectValidationError(() => ops.quantized.addRelu(qa, qa, 0.05, 127), 'RangeError', 'zeroPoint', 'add_relu zero point 127');
    // Just inside the bounds torch accepts, so does qkernels.
    expect(ops.quantized.add(qa, qa, 0.05 * 1024 * 0.9999, 0).qZeroPoint()).toBe(0);
    expect(ops.quantized.addRelu(qa, qa, 0.05, 126).qZeroPoint()).toBe(126);
  });
  // The default engine has no such limits (torch's own kernel).
  expect(ops.quantized.addRelu(qa, qa, 0.05, 127).qZeroPoint()).toBe(127);
  // QNNPACK's quint8 add has its own range, [2^-14, 2^8).
  const qu = makePerTensorQuantizedTensor(Uint8Array.of(3, 0, 5, 100), [4], 0.05, 3, 'quint8');
  withEngine('qnnpack', () => {
    expectValidationError(() => ops.quantized.add(qu, qu, 0.05 * 16384 * 1.0001, 0), 'RangeError', 'scale', 'quint8 ratio below 2^-14');
    expect(ops.quantized.add(qu, qu, 0.05 * 16384 * 0.9999, 0).qZeroPoint()).toBe(0);
  });
});

test('the binding refuses a broadcast description it cannot follow: a wrong length, an operand read across whose rows x cols do not divide the output, two operands read across', () => {
  const x = new Uint8Array(64).fill(3);
  const params = Float64Array.of(0.1, 0, 0.1, 0, 0.1, 0, 0);
  const call = (broadcast: Float64Array) => native.elementwiseBinary(x, x, dtypeCode('quint8'), true, false, params, 64, 0, broadcast);
  expectValidationError(() => call(Float64Array.of(64, 1, 8, 1, 64, 0, 0)), 'RangeError', 'broadcast', 'seven values');
  expectValidationError(() => call(Float64Array.of(64, 8, 8, 1, 64, 0, 0, 5, 5)), 'RangeError', 'qb', '5 x 5 across 64 elements');
  expectValidationError(() => call(Float64Array.of(64, 1, 64, 1, 64, 8, 8, 4, 16)), 'RangeError', 'qb', 'two operands across');
  // The same description with rows x cols dividing 64 runs: qb read across 8 x 8 next to qa tiled by 8.
  expect(call(Float64Array.of(64, 1, 8, 1, 64, 0, 0, 8, 8)).length).toBe(64);
});

// Output layout per engine and op (doc/numerics.md, "Output layout of add and mul"): every
// pair of shapes below with each operand contiguous or channels_last, both dtypes, all four ops,
// under both engines; torch's strides (and values) from the oracle, compared exactly.
const LAYOUT_PAIRS: Array<[number[], number[]]> = [
  [[2, 8, 5, 5], [2, 8, 5, 5]],
  [[1, 8, 1, 1], [1, 8, 5, 5]],
  [[1, 8, 5, 5], [1, 8, 1, 1]],
  [[2, 8, 1, 1], [2, 8, 5, 5]],
  [[8, 1, 1], [1, 8, 5, 5]],
  [[1, 8, 5, 5], [8, 1, 1]],
  [[1, 8, 1, 5], [2, 8, 5, 5]],
  [[2, 8, 5], [2, 8, 5]],
  [[1, 8, 1], [2, 8, 5]],
  [[2, 8, 5], [2, 8, 1]],
  [[1, 4, 3, 5, 5], [1, 4, 3, 5, 5]],
  [[1, 4, 1, 1, 1], [1, 4, 3, 5, 5]],
  [[1, 4, 3, 5, 5], [1, 4, 1, 1, 1]],
];
function layoutCases(): Case[] {
  const out: Case[] = [];
  const formats = (shape: number[]): Step[][] => (shape.length === 4 ? [[], CL] : shape.length === 5 ? [[], [['contiguous', 'channels_last_3d']] as Step[]] : [[]]);
  for (const [aShape, bShape] of LAYOUT_PAIRS) {
    for (const aSteps of formats(aShape)) for (const bSteps of formats(bShape)) {
      for (const dtype of ['quint8', 'qint8'] as ByteDType[]) for (const fn of FNS) {
        const a = randomQInput(rng, dtype, aShape, aSteps);
        const b = randomQInput(rng, dtype, bShape, bSteps);
        const scale = fn.startsWith('mul') ? rng.logUniform(0.001, 0.05) : rng.logUniform(0.005, 0.1);
        // Both sides of qmul.cpp's XNNPACK test (qint8, zero point < 127); add_relu under qnnpack
        // refuses 127 (tested above).
        const xnnpackSide = fn.startsWith('mul') && rng.int(0, 1) === 0;
        const zeroPoint = dtype === 'quint8' ? rng.int(0, 255) : xnnpackSide ? 127 : rng.int(-128, 126);
        out.push({ fn, a, b, scale, zeroPoint, label: `layout ${fn}(${describeQInput(a)}, ${describeQInput(b)}, ${scale}, ${zeroPoint})` });
      }
    }
  }
  return out;
}
const LAYOUT_CASES = layoutCases();

for (const engine of ['onednn', 'qnnpack'] as const) {
  describeOracle(`quantized add / mul output layout (strides) vs PyTorch, ${engine} engine`, () => {
    let expected: OracleResult[] = [];
    beforeAll(() => {
      expected = runOracle(
        LAYOUT_CASES.map((c) => ({ op: 'ew_binary', fn: c.fn, a: wireQ(c.a), b: wireQ(c.b), scale: c.scale, zero_point: c.zeroPoint })),
        { engine },
      );
    });
    // torch 1.13's XNNPACK add / mul fail to set up a channels-last qa next to a broadcast qb, and
    // refuse a lower-rank qb (qb.contiguous(qa's channels_last)); qkernels computes these.
    const refused = (r: OracleResult) =>
      r.error !== undefined && /xnnp_(add|mul)\(\): xnn setup operator failed|required rank 4 tensor to use channels_last/.test(String(r.error));

    describeEachPath('exact', (path) => {
      test('strides and values equal torch\'s for every op, dtype and operand layout', () => {
        const log = new FailureLog();
        let skipped = 0;
        withEngine(engine, () => {
          LAYOUT_CASES.forEach((c, k) => {
            if (refused(expected[k])) {
              skipped++;
              return;
            }
            log.check(c.label, () =>
              expectQTensorLike(okResult(expected[k], c.label), RUN[c.fn](makeQ(c.a), makeQ(c.b), c.scale, c.zeroPoint), `${engine}, seed ${SEED}, ${path.isa} x${path.threads}`),
            );
          });
        });
        log.finish(`layout ${engine}`);
        expect(skipped).toBeLessThan(LAYOUT_CASES.length / 8);
      });
    });
  });
}
