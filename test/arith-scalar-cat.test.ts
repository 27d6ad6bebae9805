// add_scalar / mul_scalar (and their ReLU forms), cat, prelu and FloatFunctional against PyTorch, on every dispatch path.
//
// All exact: add_scalar / mul_scalar choose output qparams with torch's formulas and map
// values with integer arithmetic; cat requantizes with torch's dequantize / quantize formulas
// (the NHWC path with its vectorized ones for the first C - C % 32 channels of each input);
// prelu is integer arithmetic and one fp32 rounding; FloatFunctional is fp32 arithmetic.
import { QTensor, nnq, ops, tensor } from '..';
import { expectExact, expectSameList, FailureLog } from './helpers/compare';
import { ByteDType, QInput, describeQInput, expectQTensorLike, makeQ, randomQInput, wireQ } from './helpers/elementwise';
import { describeEachPath } from './helpers/paths';
import { Rng, testSeed } from './helpers/random';
import { Step } from './helpers/views';
import { describeOracle, okResult, OracleResult, runOracle, shaped } from './oracle';

const SEED = testSeed('arith-scalar-cat');
const rng = new Rng(SEED);
const CL: Step[] = [['contiguous', 'channels_last']];

type ScalarFn = 'add_scalar' | 'add_scalar_relu' | 'mul_scalar' | 'mul_scalar_relu';
const SCALAR_RUN: Record<ScalarFn, (q: QTensor, b: number) => QTensor> = {
  add_scalar: ops.quantized.addScalar,
  add_scalar_relu: ops.quantized.addScalarRelu,
  mul_scalar: ops.quantized.mulScalar,
  mul_scalar_relu: ops.quantized.mulScalarRelu,
};

interface ScalarCase {
  fn: ScalarFn;
  input: QInput;
  other: number;
  label: string;
}

interface CatCase {
  inputs: QInput[];
  dim: number;
  scale?: number;
  zeroPoint?: number;
  label: string;
}

interface PreluCase {
  input: QInput;
  weight: QInput;
  scale: number;
  zeroPoint: number;
  label: string;
}

function scalarCases(): ScalarCase[] {
  const cases: ScalarCase[] = [];
  for (const fn of Object.keys(SCALAR_RUN) as ScalarFn[]) {
    for (const dtype of ['quint8', 'qint8'] as ByteDType[]) {
      // Small, large, negative, zero and exact-half constants: in-range and both out-of-range branches of add_scalar.
      const others = fn.startsWith('add') ? [0.05, -0.05, 3, -3, 40, -40, 0] : [2.5, 0.3, -0.7, -4, 0];
      for (const other of others) {
        for (const layout of [{ shape: [3, 70], steps: [] as Step[] }, { shape: [2, 5, 3, 3], steps: CL }]) {
          const input = randomQInput(rng, dtype, layout.shape, layout.steps);
          const value = other === 0.05 ? input.scale * 2.5 : other; // other / scale exactly half-way
          cases.push({ fn, input, other: value, label: `${fn}(${describeQInput(input)}, ${value})` });
        }
      }
    }
  }
  return cases;
}

function catCases(): CatCase[] {
  const cases: CatCase[] = [];
  for (const dtype of ['quint8', 'qint8'] as ByteDType[]) {
    const add = (shapes: number[][], dim: number, steps: Step[][], withQParams: boolean) => {
      const inputs = shapes.map((shape, i) => randomQInput(rng, dtype, shape, steps[i] ?? []));
      const scale = withQParams ? rng.logUniform(0.005, 0.2) : undefined;
      const zeroPoint = withQParams ? rng.int(dtype === 'quint8' ? 0 : -128, dtype === 'quint8' ? 255 : 127) : undefined;
      cases.push({ inputs, dim, scale, zeroPoint, label: `cat([${inputs.map(describeQInput).join('; ')}], ${dim}, ${scale}, ${zeroPoint})` });
    };
    add([[2, 3], [4, 3]], 0, [], true);
    add([[2, 3, 5], [2, 7, 5], [2, 1, 5]], 1, [], true);
    add([[2, 3, 5], [2, 3, 2]], -1, [], false);
    // NHWC fast path: channel counts around the 32-channel vector step.
    add([[2, 40, 3, 3], [2, 7, 3, 3], [2, 32, 3, 3]], 1, [CL, CL, CL], true);
    add([[1, 3, 4, 4], [1, 70, 4, 4]], 1, [CL, CL], true);
    // channels_last joined along another dim, and mixed formats.
    add([[1, 5, 2, 3], [2, 5, 2, 3]], 0, [CL, CL], true);
    add([[1, 5, 2, 3], [1, 5, 2, 3]], 1, [CL, []], true);
    // More inputs than one native concatenation takes (16): joined in groups (DenseNet-style cats).
    add(Array.from({ length: 21 }, (_, i) => [2, 1 + (i % 3), 3]), 1, [], true);
    add(Array.from({ length: 17 }, () => [1, 2, 2, 2]), 1, Array.from({ length: 17 }, () => CL), false);
  }
  return cases;
}

function preluCases(): PreluCase[] {
  const cases: PreluCase[] = [];
  for (const dtype of ['quint8', 'qint8'] as ByteDType[]) {
    for (const [shape, steps, weights] of [
      [[4, 6], [], 6],
      [[2, 5, 3, 3], [], 5],
      [[2, 5, 3, 3], CL, 5],
      [[2, 5, 3, 3], [], 1],
    ] as Array<[number[], Step[], number]>) {
      const input = randomQInput(rng, dtype, shape, steps);
      const weight = randomQInput(rng, dtype, [weights], [], rng.logUniform(0.002, 0.05));
      const scale = rng.logUniform(0.005, 0.1);
      const zeroPoint = rng.int(dtype === 'quint8' ? 0 : -128, dtype === 'quint8' ? 255 : 127);
      cases.push({ input, weight, scale, zeroPoint, label: `prelu(${describeQInput(input)}, ${describeQInput(weight)}, ${scale}, ${zeroPoint})` });
    }
  }
  return cases;
}

const scalars = scalarCases();
const cats = catCases();
const prelus = preluCases();

describeOracle('add_scalar, mul_scalar, cat, prelu vs PyTorch', () => {
  let scalarExpected: OracleResult[] = [];
  let catExpected: OracleResult[] = [];
  let preluExpected: OracleResult[] = [];
  let floatExpected: OracleResult[] = [];
  const fx = tensor(Float32Array.from({ length: 24 }, () => rng.normal()), [2, 3, 4]);
  const fy = tensor(Float32Array.from({ length: 4 }, () => rng.normal()), [4]);
  const fz = tensor(Float32Array.from({ length: 12 }, () => rng.normal()), [1, 3, 4]);

  beforeAll(() => {
    const results = runOracle([
      ...scalars.map((c) => ({ op: 'ew_unary', fn: c.fn, input: wireQ(c.input), args: { other: c.other } })),
      ...cats.map((c) => ({ op: 'ew_cat', inputs: c.inputs.map(wireQ), dim: c.dim, scale: c.scale ?? null, zero_point: c.zeroPoint ?? null })),
      ...prelus.map((c) => ({ op: 'ew_prelu', input: wireQ(c.input), weight: wireQ(c.weight), scale: c.scale, zero_point: c.zeroPoint })),
      { op: 'ew_float', fn: 'add', x: shaped(fx.data, [2, 3, 4]), y: shaped(fy.data, [4]) },
      { op: 'ew_float', fn: 'mul', x: shaped(fx.data, [2, 3, 4]), y: shaped(fy.data, [4]) },
      { op: 'ew_float', fn: 'add_relu', x: shaped(fx.data, [2, 3, 4]), y: shaped(fy.data, [4]) },
      { op: 'ew_float', fn: 'add_scalar', x: shaped(fx.data, [2, 3, 4]), other: 0.1 },
      { op: 'ew_float', fn: 'mul_scalar', x: shaped(fx.data, [2, 3, 4]), other: -1.7 },
      { op: 'ew_float', fn: 'cat', xs: [shaped(fx.data, [2, 3, 4]), shaped(fz.data, [1, 3, 4])], dim: 0 },
    ]);
    let k = 0;
    scalarExpected = scalars.map((c) => okResult(results[k++], c.label));
    catExpected = cats.map((c) => okResult(results[k++], c.label));
    preluExpected = prelus.map((c) => okResult(results[k++], c.label));
    floatExpected = results.slice(k).map((r) => okResult(r, 'FloatFunctional'));
  });

  describeEachPath('exact', (path) => {
    const context = `seed ${SEED}, ${path.isa} x${path.threads}`;
    test('add_scalar, add_scalar_relu, mul_scalar, mul_scalar_relu: output qparams and values', () => {
      const log = new FailureLog();
      scalars.forEach((c, k) => log.check(c.label, () => expectQTensorLike(scalarExpected[k], SCALAR_RUN[c.fn](makeQ(c.input), c.other), context)));
      log.finish('scalar ops');
    });

    test('cat (requantizing, both memory formats, NHWC path)', () => {
      const log = new FailureLog();
      cats.forEach((c, k) =>
        log.check(c.label, () => expectQTensorLike(catExpected[k], ops.quantized.cat(c.inputs.map(makeQ), c.dim, c.scale, c.zeroPoint), context)),
      );
      log.finish('cat');
    });
  });

  test('QFunctional.addScalar / mulScalar / cat', () => {
    const log = new FailureLog();
    const f = new nnq.QFunctional();
    scalars.forEach((c, k) => {
      if (c.fn === 'add_scalar') log.check(c.label, () => expectQTensorLike(scalarExpected[k], f.addScalar(makeQ(c.input), c.other), `seed ${SEED}`));
      if (c.fn === 'mul_scalar') log.check(c.label, () => expectQTensorLike(scalarExpected[k], f.mulScalar(makeQ(c.input), c.other), `seed ${SEED}`));
    });
    cats.forEach((c, k) => {
      if (c.scale === undefined || c.zeroPoint === undefined) return;
      f.scale = c.scale;
      f.zeroPoint = c.zeroPoint;
      log.check(c.label, () => expectQTensorLike(catExpected[k], f.cat(c.inputs.map(makeQ), c.dim), `seed ${SEED}`));
    });
    log.finish('QFunctional');
  });

  test('prelu: ops.quantized.prelu and nnq.PReLU', () => {
    const log = new FailureLog();
    prelus.forEach((c, k) => {
      log.check(c.label, () => expectQTensorLike(preluExpected[k], ops.quantized.prelu(makeQ(c.input), makeQ(c.weight), c.scale, c.zeroPoint), `seed ${SEED}`));
      log.check(`nnq.PReLU ${c.label}`, () => {
        const m = new nnq.PReLU(c.scale, c.zeroPoint, { numParameters: c.weight.shape[0] });
        m.setWeight(makeQ(c.weight));
        expectQTensorLike(preluExpected[k], m.forward(makeQ(c.input)), `seed ${SEED}`);
      });
    });
    log.finish('prelu');
  });

  test('FloatFunctional and FXFloatFunctional: fp32 add, mul, addRelu, addScalar, mulScalar, cat', () => {
    for (const f of [new nnq.FloatFunctional(), new nnq.FXFloatFunctional()]) {
      const got = [f.add(fx, fy), f.mul(fx, fy), f.addRelu(fx, fy), f.addScalar(fx, 0.1), f.mulScalar(fx, -1.7), f.cat([fx, fz], 0)];
      got.forEach((y, i) => {
        expectSameList('shape', floatExpected[i].shape, y.shape);
        expectExact(`FloatFunctional result ${i}`, floatExpected[i].values.data, y.contiguous().data, { kind: 'float32' });
      });
    }
  });
});
