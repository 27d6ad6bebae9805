// quantized matmul (ops.quantized.matmul, QFunctional.matmul) and FloatFunctional.matmul against PyTorch: 1-D, 2-D, batched, broadcast, both dtypes.
//
// Within 1 quantum, for a float-order reason: torch 1.13 (no ruy) computes quantized::matmul
// as quantize_per_tensor(torch.matmul(dequantize(qa), dequantize(qb))), and torch.matmul's fp32
// product comes from an sgemm (MKL / OpenBLAS) that sums in its own blocked, vectorized order.
// qkernels sums each dot product in double and rounds once, so the two products differ by a few
// float ulps, and the quantized outputs by one quantum exactly where a product lies that close to
// a rounding boundary. The test checks that: every differing element must have torch's product
// within 1e-3 quanta of a half-integer, and most elements must match exactly (the share is
// printed). FloatFunctional.matmul is compared within fp32 summation's error bound.
import { QTensor, Tensor, makePerChannelQuantizedTensor, nnq, ops, tensor } from '..';
import { FailureLog } from './helpers/compare';
import { ByteDType, QInput, describeQInput, expectQTensorLike, makeQ, randomQInput, wireQ } from './helpers/elementwise';
import { expectValidationError } from './helpers/errors';
import { describeEachPath } from './helpers/paths';
import { Rng, testSeed } from './helpers/random';
import { Step } from './helpers/views';
import { describeOracle, okResult, OracleResult, runOracle, shaped } from './oracle';

const SWEEP = process.env.QKERNELS_SWEEP === '1';
const SEED = testSeed('arith-matmul');
// QKERNELS_SWEEP=1 draws many more qparams per shape pair (the long sweep).
const REPEATS = SWEEP ? 20 : 4;
const rng = new Rng(SEED);

const CL: Step[] = [['contiguous', 'channels_last']];
const T: Step[] = [['permute', [1, 0]]];
// Shapes as torch.matmul takes them: vectors, matrices, batches (broadcast where a dim is 1 or
// missing), empty dims, transposed and channels_last operands (steps applied after making them),
// and sizes that split over two threads and over several 256-column blocks.
const PAIRS: Array<{ a: number[]; b: number[]; aSteps?: Step[]; bSteps?: Step[] }> = [
  { a: [7], b: [7] },
  { a: [5, 9], b: [9] },
  { a: [9], b: [9, 6] },
  { a: [4, 13], b: [13, 11] },
  { a: [2, 3, 4], b: [2, 4, 5] },
  { a: [3, 6, 17], b: [17] },
  { a: [17], b: [3, 17, 4] },
  { a: [2, 1, 5, 8], b: [3, 8, 6] },
  { a: [1, 7, 10], b: [4, 10, 3] },
  { a: [3, 4], b: [2, 4, 5] },
  { a: [5, 33, 40], b: [40, 21] },
  { a: [12, 30], b: [30, 8], bSteps: T },
  { a: [2, 3, 4, 4], b: [2, 3, 4, 6], aSteps: CL },
  { a: [3, 20], b: [20, 300] },
  { a: [64, 70], b: [70, 65] },
  { a: [0, 5], b: [5, 3] },
  { a: [3, 0], b: [0, 4] },
];

interface Case {
  a: QInput;
  b: QInput;
  k: number;
  scale: number;
  zeroPoint: number;
  label: string;
}

/** A permute step describes the source shape: the tensor made is the reversed shape, then permuted. */
function sourceShape(shape: number[], steps: Step[] | undefined): number[] {
  return steps?.[0]?.[0] === 'permute' ? [...shape].reverse() : shape;
}

function buildCases(): Case[] {
  const cases: Case[] = [];
  for (const dtype of ['quint8', 'qint8'] as ByteDType[]) {
    for (const p of PAIRS) {
      for (let repeat = 0; repeat < REPEATS; repeat++) {
        const a = randomQInput(rng, dtype, sourceShape(p.a, p.aSteps), p.aSteps ?? []);
        const b = randomQInput(rng, dtype, sourceShape(p.b, p.bSteps), p.bSteps ?? []);
        const k = p.a[p.a.length - 1];
        // An output scale that spreads typical products (|q - zp| ~ 75, random signs) over the range, some saturating.
        const scale = a.scale * b.scale * rng.logUniform(20, 400) * Math.sqrt(Math.max(k, 1));
        const zeroPoint = rng.int(dtype === 'quint8' ? 0 : -128, dtype === 'quint8' ? 255 : 127);
        cases.push({ a, b, k, scale, zeroPoint, label: `matmul(${describeQInput(a)}, ${describeQInput(b)}, ${scale}, ${zeroPoint})` });
      }
    }
  }
  return cases;
}

const cases = buildCases();

/**
 * Result within 1 quantum of torch's; every differing element must be a rounding-boundary case
 * (torch's fp32 product / scale within 1e-3 of a half-integer). Returns [exact, total] elements.
 */
function checkMatmul(want: OracleResult, got: QTensor, c: Case, context: string): [number, number] {
  expectQTensorLike(want, got, context, 1);
  const expected = want.int_repr.data as ArrayLike<number>;
  const actual = got.intRepr() as ArrayLike<number>;
  const product = want.product.data as Float32Array;
  let exact = 0;
  for (let i = 0; i < expected.length; i++) {
    if (expected[i] === actual[i]) {
      exact++;
      continue;
    }
    const t = product[i] / c.scale;
    const distance = Math.abs(t - Math.floor(t) - 0.5);
    if (distance > 1e-3) {
      throw new Error(`${context}: element ${i} is ${actual[i]}, torch has ${expected[i]}, but torch's product ${product[i]} is ${distance} quanta from a rounding boundary`);
    }
  }
  return [exact, expected.length];
}

describeOracle('quantized matmul vs PyTorch (within 1 quantum: sgemm summation order)', () => {
  let expected: OracleResult[] = [];

  beforeAll(() => {
    expected = runOracle(
      cases.map((c) => ({ op: 'ew_matmul', fn: 'quantized', a: wireQ(c.a), b: wireQ(c.b), scale: c.scale, zero_point: c.zeroPoint })),
    ).map((r, i) => okResult(r, cases[i].label));
  });

  test(`at least 100 cases, both dtypes (seed ${SEED})`, () => {
    expect(cases.length).toBeGreaterThanOrEqual(100);
    expect(new Set(cases.map((c) => c.a.dtype))).toEqual(new Set(['quint8', 'qint8']));
  });

  describeEachPath('matmul', (path) => {
    test('ops.quantized.matmul: shapes, qparams, values', () => {
      const log = new FailureLog();
      let exact = 0;
      let total = 0;
      cases.forEach((c, k) => {
        log.check(c.label, () => {
          const [e, n] = checkMatmul(expected[k], ops.quantized.matmul(makeQ(c.a), makeQ(c.b), c.scale, c.zeroPoint), c, `seed ${SEED}, ${path.isa} x${path.threads}`);
          exact += e;
          total += n;
        });
      });
      log.finish('ops.quantized.matmul');
      // Reported for the record; boundary cases are rare, so nearly every element matches exactly.
      console.log(`quantized matmul [${path.isa} x${path.threads}]: ${exact} of ${total} elements equal torch's exactly (${((100 * exact) / total).toFixed(3)}%)`);
      expect(exact / total).toBeGreaterThan(0.99);
    });
  });

  test("QFunctional.matmul uses the module's scale and zeroPoint", () => {
    const log = new FailureLog();
    const f = new nnq.QFunctional();
    cases.forEach((c, k) => {
      f.scale = c.scale;
      f.zeroPoint = c.zeroPoint;
      log.check(c.label, () => checkMatmul(expected[k], f.matmul(makeQ(c.a), makeQ(c.b)), c, `seed ${SEED}`));
    });
    log.finish('QFunctional.matmul');
  });
});

// ---- FloatFunctional.matmul ------------------------------------------------------------------------

interface FloatCase {
  x: Tensor;
  y: Tensor;
  label: string;
}

function randomTensor(shape: number[]): Tensor {
  const n = shape.reduce((p, s) => p * s, 1);
  return tensor(Float32Array.from({ length: n }, () => rng.normal()), shape);
}

const floatCases: FloatCase[] = PAIRS.filter((p) => p.aSteps === undefined && p.bSteps === undefined).map((p) => ({
  x: randomTensor(p.a),
  y: randomTensor(p.b),
  label: `matmul(float[${p.a}], float[${p.b}])`,
}));

/** torch.matmul's fp32 result within fp32 summation's error bound: (k + 2) * 2^-24 * sum |x_ip y_pj| per element. */
function expectMatmulClose(want: OracleResult, got: Tensor, c: FloatCase): void {
  expect(got.shape).toEqual(want.shape);
  const x = c.x.dim() === 1 ? c.x.reshape([1, -1]) : c.x;
  const k = x.shape[x.shape.length - 1];
  // |x| @ |y| through the same op bounds each element's rounding error.
  const abs = (t: Tensor) => tensor(Float32Array.from(t.contiguous().data.subarray(0, t.numel()), Math.abs), t.shape);
  const magnitude = new nnq.FloatFunctional().matmul(abs(c.x), abs(c.y)).data;
  const values = want.values.data as Float32Array;
  const actual = got.contiguous().data;
  for (let i = 0; i < values.length; i++) {
    const bound = (k + 2) * 2 ** -24 * magnitude[i] + 1e-30;
    if (!(Math.abs(values[i] - actual[i]) <= bound)) {
      throw new Error(`${c.label}: element ${i} is ${actual[i]}, torch has ${values[i]} (allowed ${bound})`);
    }
  }
}

describeOracle('FloatFunctional.matmul vs torch.matmul (fp32 summation order)', () => {
  let expected: OracleResult[] = [];

  beforeAll(() => {
    expected = runOracle(
      floatCases.map((c) => ({ op: 'ew_matmul', fn: 'float', x: shaped(c.x.data, c.x.shape), y: shaped(c.y.data, c.y.shape) })),
    ).map((r, i) => okResult(r, floatCases[i].label));
  });

  test('FloatFunctional.matmul and FXFloatFunctional.matmul', () => {
    const log = new FailureLog();
    for (const f of [new nnq.FloatFunctional(), new nnq.FXFloatFunctional()]) {
      floatCases.forEach((c, k) => log.check(`${f} ${c.label}`, () => expectMatmulClose(expected[k], f.matmul(c.x, c.y), c)));
    }
    log.finish('FloatFunctional.matmul');
  });
});

// ---- errors ------------------------------------------------------------------------------------------

describeOracle('matmul errors (torch raises too)', () => {
  const q = (shape: number[], dtype: ByteDType = 'quint8') => makeQ(randomQInput(rng, dtype, shape));
  const perChannel = () => makePerChannelQuantizedTensor(new Int8Array(20), [4, 5], [0.1, 0.2, 0.3, 0.4], [0, 0, 0, 0], 0, 'qint8');
  const wire = (x: QTensor) =>
    ({ values: shaped(x.intRepr(), x.shape), shape: x.shape, scale: x.qScale(), zero_point: x.qZeroPoint(), dtype: x.dtype, steps: [] });
  const bad: Array<{ label: string; a: QTensor; b: QTensor; className: 'TypeError' | 'RangeError'; parameter: string }> = [
    { label: 'inner sizes differ', a: q([3, 4]), b: q([5, 6]), className: 'RangeError', parameter: 'qb' },
    { label: 'vector length differs', a: q([3, 4]), b: q([5]), className: 'RangeError', parameter: 'qb' },
    { label: 'batch dims not broadcastable', a: q([2, 3, 4]), b: q([3, 4, 5]), className: 'RangeError', parameter: 'qb' },
    { label: 'zero-dim operand', a: q([]), b: q([4]), className: 'RangeError', parameter: 'qa' },
    { label: 'dtypes differ', a: q([3, 4]), b: q([4, 5], 'qint8'), className: 'TypeError', parameter: 'qb' },
  ];

  test('torch rejects the same inputs', () => {
    const results = runOracle([
      ...bad.map((c) => ({ op: 'ew_matmul', fn: 'quantized', a: wire(c.a), b: wire(c.b), scale: 0.1, zero_point: 1 })),
      { op: 'ew_matmul', fn: 'float', x: shaped(new Float32Array(12), [3, 4]), y: shaped(new Float32Array(30), [5, 6]) },
    ]);
    results.forEach((r, i) => expect([i, r.error === undefined ? 'accepted' : 'raised']).toEqual([i, 'raised']));
  });

  test('TypeError / RangeError naming the parameter', () => {
    for (const c of bad) {
      expectValidationError(() => ops.quantized.matmul(c.a, c.b, 0.1, 1), c.className, c.parameter, c.label);
      const f = new nnq.QFunctional();
      expectValidationError(() => f.matmul(c.a, c.b), c.className, c.parameter === 'qa' ? 'x' : 'y', c.label);
    }
    // torch: "Both inputs to Matmul must have the same quantization scheme" (per-tensor only).
    expectValidationError(() => ops.quantized.matmul(q([3, 4], 'qint8'), perChannel(), 0.1, 1), 'TypeError', 'qb', 'per-channel qb');
    expectValidationError(() => ops.quantized.matmul(perChannel(), q([5, 3], 'qint8'), 0.1, 1), 'TypeError', 'qa', 'per-channel qa');
    expectValidationError(() => ops.quantized.matmul(q([3, 4]), q([4, 5]), 0, 1), 'RangeError', 'scale', 'zero scale');
    expectValidationError(() => ops.quantized.matmul(q([3, 4]), q([4, 5]), 0.1, 256), 'RangeError', 'zeroPoint', 'zero point out of quint8');
    expectValidationError(() => ops.quantized.matmul(tensor([1, 2], [2]) as unknown as QTensor, q([2]), 0.1, 1), 'TypeError', 'qa', 'float qa');
    const ff = new nnq.FloatFunctional();
    expectValidationError(() => ff.matmul(tensor(new Float32Array(12), [3, 4]), tensor(new Float32Array(30), [5, 6])), 'RangeError', 'y', 'float shapes');
    expectValidationError(() => ff.matmul(q([3, 4]) as unknown as Tensor, tensor(new Float32Array(20), [4, 5])), 'TypeError', 'x', 'quantized x');
  });
});
