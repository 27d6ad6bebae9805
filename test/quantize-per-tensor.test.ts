// quantizePerTensor and dequantize against torch.quantize_per_tensor: every dtype, bit-exact, on every dispatch path.
import { dequantize, quantizePerTensor, tensor } from '..';
import { expectExact, expectSame, expectSameList, FailureLog, formatFloat32 } from './helpers/compare';
import { ALL_QDTYPES, QDTYPES, QDTypeName, quantizationInputs } from './helpers/floats';
import { describeEachPath } from './helpers/paths';
import { Rng, testSeed } from './helpers/random';
import { applySteps, describeSteps, Step } from './helpers/views';
import { describeOracle, okResult, OracleResult, runOracle, shaped } from './oracle';

const SWEEP = process.env.QKERNELS_SWEEP === '1';
const SEED = testSeed('quantize-per-tensor');
const rng = new Rng(SEED);

// Scales people use (0.1, 1/3, 1/255 ...), powers of two (exact reciprocals), tiny and large ones.
const COMMON_SCALES = [0.1, 1 / 3, 1, 0.5, 0.25, 2, 0.05, 1e-3, 1 / 255, 1 / 127, 1e-6, 1e-10, 1e3, 1e6, 12345.678];
// Positive finite doubles that are not normal float32s: a float32 denormal, the smallest denormal,
// one that rounds to 0 in fp32 (reciprocal +Inf) and one that rounds to +Inf (reciprocal 0).
const EXTREME_SCALES = [1e-39, 1.401298464324817e-45, 3e38, 1e-50, 1e39];

interface Case {
  label: string;
  dtype: QDTypeName;
  scale: number;
  zeroPoint: number;
  shape: number[];
  x: Float32Array;
  /** ordinary scales; scales beyond fp32's normal range; inputs in other layouts (channels_last, permuted). */
  group: Group;
  /** View steps applied to tensor(x, shape) before quantizing (the oracle applies the same). */
  inputSteps: Step[];
}

type Group = 'ordinary' | 'extreme' | 'layout';
const GROUPS: Record<Group, string> = {
  ordinary: 'ordinary scales',
  extreme: 'scales beyond fp32 normal range',
  layout: 'channels_last and permuted inputs',
};
// Layouts torch keeps (channels_last, channels_last_3d) or normalizes (a permuted view).
const LAYOUTS: Array<{ shape: number[]; steps: Step[] }> = [
  { shape: [2, 3, 4, 5], steps: [['contiguous', 'channels_last']] },
  { shape: [1, 3, 2, 2], steps: [['contiguous', 'channels_last']] },
  { shape: [3, 1, 5, 1], steps: [['contiguous', 'channels_last']] },
  { shape: [2, 3, 2, 3, 4], steps: [['contiguous', 'channels_last_3d']] },
  { shape: [5, 4], steps: [['permute', [1, 0]]] },
  { shape: [3, 4, 5], steps: [['permute', [2, 0, 1]]] },
  { shape: [2, 3, 4, 5], steps: [['permute', [0, 2, 3, 1]]] },
];

function shapeFor(n: number, r: Rng): number[] {
  if (n % 12 !== 0 || r.bool(0.4)) return [n];
  return r.pick([[n / 12, 12], [3, n / 12, 4], [2, 2, 3, n / 12]]);
}

function padTo12(values: Float32Array, r: Rng): Float32Array {
  if (values.length % 12 === 0 || r.bool(0.3)) return values;
  const padded = new Float32Array(Math.ceil(values.length / 12) * 12);
  padded.set(values);
  for (let i = values.length; i < padded.length; i++) padded[i] = r.normal();
  return padded;
}

function buildCases(): Case[] {
  const cases: Case[] = [];
  const randomScales = Array.from({ length: SWEEP ? 60 : 8 }, () => rng.logUniform(1e-8, 1e5));
  for (const dtype of ALL_QDTYPES) {
    const info = QDTYPES[dtype];
    const add = (scale: number, zeroPoint: number, count: number, group: Group = 'ordinary') => {
      const x = padTo12(quantizationInputs(rng, scale, zeroPoint, info, count), rng);
      const label = `${dtype} scale=${scale} zeroPoint=${zeroPoint} n=${x.length}`;
      cases.push({ label, dtype, scale, zeroPoint, shape: shapeFor(x.length, rng), x, group, inputSteps: [] });
    };
    let edge = 0;
    for (const scale of [...COMMON_SCALES, ...randomScales]) {
      add(scale, info.edgeZeroPoints[edge++ % info.edgeZeroPoints.length], SWEEP ? 2000 : 300);
      add(scale, rng.int(info.qmin, info.qmax), SWEEP ? 2000 : 300);
    }
    for (const scale of EXTREME_SCALES) add(scale, rng.pick(info.edgeZeroPoints), 100, 'extreme');
    for (const layout of LAYOUTS) {
      const numel = layout.shape.reduce((a, b) => a * b, 1);
      const scale = rng.pick(COMMON_SCALES);
      const zeroPoint = rng.int(info.qmin, info.qmax);
      const x = quantizationInputs(rng, scale, zeroPoint, info, numel).slice(0, numel);
      const label = `${dtype} [${layout.shape}] ${describeSteps(layout.steps)} scale=${scale} zeroPoint=${zeroPoint}`;
      cases.push({ label, dtype, scale, zeroPoint, shape: layout.shape, x, group: 'layout', inputSteps: layout.steps });
    }
    // Large enough to be split across threads and to run the SIMD main loops for long.
    add(rng.pick(COMMON_SCALES), rng.int(info.qmin, info.qmax), SWEEP ? 1_000_000 : 60_000);
  }
  return cases;
}

const cases = buildCases();

function quantize(c: Case) {
  return quantizePerTensor(applySteps(tensor(c.x, c.shape), c.inputSteps), c.scale, c.zeroPoint, c.dtype);
}

/** The inputs in the result's logical order (they differ from x's when the input was permuted). */
function logicalInputs(c: Case): Float32Array {
  return c.inputSteps.length === 0 ? c.x : applySteps(tensor(Float32Array.from(c.x), c.shape), c.inputSteps).contiguous().data;
}

/** The float inputs behind element (or, for quint4x2, packed byte) i of the int representation. */
function inputAt(c: Case): (i: number) => string {
  const x = logicalInputs(c);
  if (c.dtype === 'quint4x2') {
    return (i) => `x[${2 * i}]=${formatFloat32(x[2 * i])}, x[${2 * i + 1}]=${2 * i + 1 < x.length ? formatFloat32(x[2 * i + 1]) : '-'}`;
  }
  return (i) => formatFloat32(x[i]);
}

describeOracle('quantizePerTensor / dequantize vs torch.quantize_per_tensor', () => {
  let expected: OracleResult[] = [];

  beforeAll(() => {
    expected = runOracle(
      cases.map((c) => ({
        op: 'quantize_per_tensor',
        x: shaped(c.x, c.shape),
        input_steps: c.inputSteps,
        scale: c.scale,
        zero_point: c.zeroPoint,
        dtype: c.dtype,
      })),
    ).map((result, i) => okResult(result, cases[i].label));
  });

  test('builds thousands of inputs per dtype, ties included', () => {
    for (const dtype of ALL_QDTYPES) {
      const total = cases.filter((c) => c.dtype === dtype).reduce((n, c) => n + c.x.length, 0);
      expect(total).toBeGreaterThan(5000);
    }
  });

  test('qparams, dtype, qscheme, shape and strides are torch\'s', () => {
    const log = new FailureLog();
    cases.forEach((c, k) => {
      log.check(c.label, () => {
        const q = quantize(c);
        const want = expected[k];
        expectSame('dtype', want.dtype, q.dtype);
        expectSame('qscheme', want.qscheme, q.qscheme);
        expectSameList('shape', want.shape, q.shape);
        expectSameList('strides', want.strides, q.strides);
        expectSame('qScale()', want.scale, q.qScale());
        expectSame('qZeroPoint()', want.zero_point, q.qZeroPoint());
        expectSame('numel()', c.x.length, q.numel());
        expectSame('dim()', want.shape.length, q.dim());
        expectSameList('dequantize().strides', want.dequant_strides, q.dequantize().strides);
        expectSame('intRepr() type', QDTYPES[c.dtype].storageTag, Object.prototype.toString.call(q.intRepr()).slice(8, -1));
      });
    });
    log.finish(`metadata (seed ${SEED})`);
  });

  describeEachPath('bit-exact', (path) => {
    for (const dtype of ALL_QDTYPES) {
      for (const group of Object.keys(GROUPS) as Group[]) {
        const which = GROUPS[group];
        test(`${dtype}, ${which}: intRepr() equals torch's int_repr()`, () => {
          const log = new FailureLog();
          cases.forEach((c, k) => {
            if (c.dtype !== dtype || c.group !== group) return;
            log.check(c.label, () => {
              const q = quantize(c);
              const want = expected[k].int_repr;
              expectExact('int_repr', want.data, q.intRepr(), {
                input: inputAt(c),
                context: `seed ${SEED}, isa ${path.isa}, threads ${path.threads}`,
              });
            });
          });
          log.finish(`quantize ${dtype}`);
        });

        test(`${dtype}, ${which}: dequantize() equals torch's dequantize() bit for bit`, () => {
          const log = new FailureLog();
          cases.forEach((c, k) => {
            if (c.dtype !== dtype || c.group !== group) return;
            log.check(c.label, () => {
              const q = quantize(c);
              const want = expected[k].dequant;
              const viaFunction = dequantize(q);
              const viaMethod = q.dequantize();
              const options = {
                kind: 'float32' as const,
                shape: c.shape,
                input: inputAt({ ...c, dtype: 'quint8' }),
                context: `seed ${SEED}, isa ${path.isa}, threads ${path.threads}`,
              };
              expectSameList('dequantize(q).shape', want.shape, viaFunction.shape);
              // Logical order: a channels_last result dequantizes to a channels_last Tensor.
              expectExact('dequantize(q)', want.data, viaFunction.contiguous().data, options);
              expectExact('q.dequantize()', want.data, viaMethod.contiguous().data, options);
            });
          });
          log.finish(`dequantize ${dtype}`);
        });
      }
    }
  });
});
