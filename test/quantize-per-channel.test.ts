// quantizePerChannel and dequantize against torch.quantize_per_channel: both per-channel qschemes, ranks 2-5, every axis, every path.
import { dequantize, quantizePerChannel, Tensor, tensor } from '..';
import { expectExact, expectSame, expectSameList, FailureLog, formatFloat32 } from './helpers/compare';
import { inputWithProduct, inverseScale, nextDown, nextUp, QDTYPES, QDTypeName, randomBitPatterns, SPECIAL_FLOATS } from './helpers/floats';
import { describeEachPath } from './helpers/paths';
import { Rng, testSeed } from './helpers/random';
import { applySteps, describeSteps, Step } from './helpers/views';
import { describeOracle, okResult, OracleResult, runOracle, shaped } from './oracle';

const SWEEP = process.env.QKERNELS_SWEEP === '1';
const SEED = testSeed('quantize-per-channel');
const rng = new Rng(SEED);

type Scheme = 'per_channel_affine' | 'per_channel_affine_float_qparams';
const SCHEMES: Array<{ scheme: Scheme; dtypes: QDTypeName[] }> = [
  { scheme: 'per_channel_affine', dtypes: ['quint8', 'qint8', 'qint32'] },
  { scheme: 'per_channel_affine_float_qparams', dtypes: ['quint8', 'quint4x2'] },
];
const NICE_SCALES = [0.1, 1 / 3, 1, 0.5, 0.05, 1 / 255, 1e-3, 1e-6, 1e3];

interface Case {
  label: string;
  scheme: Scheme;
  dtype: QDTypeName;
  shape: number[];
  axis: number;
  x: Float32Array;
  scales: number[];
  zeroPoints: number[];
  // How the qparams are handed to qkernels (every accepted form gets used).
  scalesForm: 'array' | 'Float64Array' | 'Float32Array' | 'Tensor';
  zeroPointsForm: 'array' | 'Int32Array' | 'Float32Array' | 'Tensor';
  /** Memory-format steps applied to tensor(x, shape) before quantizing. */
  inputSteps: Step[];
  /**
   * The steps the oracle applies: the same, except where torch 1.13 refuses ("If tensor is
   * channels_last contig then per channel quantization is supported only for axis = 0 or 1"):
   * there torch quantizes the contiguous input and only values (not strides) are compared.
   */
  oracleSteps: Step[];
}

function channelOf(index: number, shape: number[], axis: number): number {
  let inner = 1;
  for (let d = axis + 1; d < shape.length; d++) inner *= shape[d];
  return Math.floor(index / inner) % shape[axis];
}

/** One input for channel c: a special, a tie of the scheme's rounding, or a value near the grid. */
function inputFor(scheme: Scheme, dtype: QDTypeName, scale: number, zeroPoint: number): number {
  const info = QDTYPES[dtype];
  const inv = inverseScale(scale);
  const kind = rng.uniform();
  if (kind < 0.08) return rng.pick(SPECIAL_FLOATS);
  if (kind < 0.1) return randomBitPatterns(rng, 1)[0];
  const lo = Math.max(info.qmin, Math.ceil(zeroPoint) - 3000);
  const hi = Math.min(info.qmax, Math.floor(zeroPoint) + 3000);
  const k = rng.int(lo - 2, hi + 1);
  if (kind < 0.45) {
    // A tie: affine rounds x*inv (k - zp + 0.5 exactly), float qparams round fp32(x*inv) + zp.
    const target = scheme === 'per_channel_affine' ? k - zeroPoint + 0.5 : Math.fround(k + 0.5 - zeroPoint);
    if (scheme === 'per_channel_affine_float_qparams' && Math.fround(target + zeroPoint) !== k + 0.5) return Math.fround(k * scale);
    if (Math.abs(target) >= 4194304) return Math.fround(k * scale);
    const x = inputWithProduct(target, inv);
    if (x === null) return Math.fround((k - zeroPoint) * scale);
    return rng.pick([x, x, nextUp(x), nextDown(x)]);
  }
  return Math.fround((k - zeroPoint + rng.range(-0.75, 0.75)) * Math.fround(scale));
}

function buildCases(): Case[] {
  const cases: Case[] = [];
  const repeats = SWEEP ? 6 : 1;
  for (const { scheme, dtypes } of SCHEMES) {
    for (const dtype of dtypes) {
      const info = QDTYPES[dtype];
      // Contiguous inputs of every rank and axis, then channels_last / channels_last_3d inputs.
      const plans: Array<{ rank: number; axis: number; steps: Step[] }> = [];
      for (let rank = 2; rank <= 5; rank++) for (let axis = 0; axis < rank; axis++) plans.push({ rank, axis, steps: [] });
      for (let axis = 0; axis < 4; axis++) plans.push({ rank: 4, axis, steps: [['contiguous', 'channels_last']] });
      for (const axis of [0, 1, 4]) plans.push({ rank: 5, axis, steps: [['contiguous', 'channels_last_3d']] });
      for (const { rank, axis, steps } of plans) {
        for (let r = 0; r < repeats; r++) {
          const maxDim = rank <= 2 ? 40 : rank === 3 ? 12 : rank === 4 ? 7 : 5;
          const shape = rng.shape(rank, 1, maxDim);
          if (shape[axis] === 1 && rng.bool(0.7)) shape[axis] = rng.int(2, maxDim + 3);
          if (steps.length > 0 && shape[1] === 1) shape[1] = 3; // a channels_last layout that differs from contiguous
          const channels = shape[axis];
          const scales = Array.from({ length: channels }, () => (rng.bool(0.5) ? rng.pick(NICE_SCALES) : rng.logUniform(1e-6, 1e3)));
          const zeroPoints = Array.from({ length: channels }, () => {
            if (scheme === 'per_channel_affine_float_qparams') {
              // Float zero points: integers, halves, arbitrary values, some outside [qmin, qmax].
              return Math.fround(rng.pick([rng.int(info.qmin, info.qmax), rng.int(0, 2 * info.qmax) / 2, rng.range(-4, info.qmax + 4)]));
            }
            return rng.bool(0.3) ? rng.pick(info.edgeZeroPoints) : rng.int(info.qmin, info.qmax);
          });
          const numel = shape.reduce((a, b) => a * b, 1);
          const x = new Float32Array(numel);
          for (let i = 0; i < numel; i++) {
            const c = channelOf(i, shape, axis);
            x[i] = inputFor(scheme, dtype, scales[c], zeroPoints[c]);
          }
          const scalesForm = rng.pick(['array', 'Float64Array', 'Float32Array', 'Tensor'] as const);
          // Float32Array and Tensor scales hold fp32 values: send torch the same rounded values.
          if (scalesForm === 'Float32Array' || scalesForm === 'Tensor') for (let c = 0; c < channels; c++) scales[c] = Math.fround(scales[c]);
          const zeroPointsForm =
            scheme === 'per_channel_affine' ? rng.pick(['array', 'Int32Array'] as const) : rng.pick(['Float32Array', 'Tensor'] as const);
          const layout = steps.length > 0 ? ` ${describeSteps(steps)}` : '';
          const label = `${scheme} ${dtype} shape [${shape}]${layout} axis ${axis} (scales as ${scalesForm}, zeroPoints as ${zeroPointsForm})`;
          const oracleSteps = axis <= 1 ? steps : [];
          cases.push({ label, scheme, dtype, shape, axis, x, scales, zeroPoints, scalesForm, zeroPointsForm, inputSteps: steps, oracleSteps });
        }
      }
    }
  }
  return cases;
}

const cases = buildCases();

function scalesArgument(c: Case): Tensor | ArrayLike<number> {
  switch (c.scalesForm) {
    case 'array':
      return [...c.scales];
    case 'Float64Array':
      return Float64Array.from(c.scales);
    case 'Float32Array':
      return Float32Array.from(c.scales);
    case 'Tensor':
      return tensor(c.scales);
  }
}

function zeroPointsArgument(c: Case): Tensor | ArrayLike<number> {
  switch (c.zeroPointsForm) {
    case 'array':
      return [...c.zeroPoints];
    case 'Int32Array':
      return Int32Array.from(c.zeroPoints);
    case 'Float32Array':
      return Float32Array.from(c.zeroPoints);
    case 'Tensor':
      return tensor(Float32Array.from(c.zeroPoints));
  }
}

function quantize(c: Case) {
  return quantizePerChannel(applySteps(tensor(c.x, c.shape), c.inputSteps), scalesArgument(c), zeroPointsArgument(c), c.axis, c.dtype);
}

function inputAt(c: Case): (i: number) => string {
  const describe = (i: number) =>
    i < c.x.length ? `x[${i}]=${formatFloat32(c.x[i])} (channel ${channelOf(i, c.shape, c.axis)}, scale ${c.scales[channelOf(i, c.shape, c.axis)]}, zero point ${c.zeroPoints[channelOf(i, c.shape, c.axis)]})` : '-';
  return c.dtype === 'quint4x2' ? (i) => `${describe(2 * i)}; ${describe(2 * i + 1)}` : describe;
}

describeOracle('quantizePerChannel / dequantize vs torch.quantize_per_channel', () => {
  let expected: OracleResult[] = [];

  beforeAll(() => {
    expected = runOracle(
      cases.map((c) => ({
        op: 'quantize_per_channel',
        x: shaped(c.x, c.shape),
        input_steps: c.oracleSteps,
        scales: Float64Array.from(c.scales),
        zero_points: c.scheme === 'per_channel_affine' ? Int32Array.from(c.zeroPoints) : Float32Array.from(c.zeroPoints),
        axis: c.axis,
        dtype: c.dtype,
      })),
    ).map((result, i) => okResult(result, cases[i].label));
  });

  test('covers every rank 2-5 and axis for each qscheme and dtype', () => {
    for (const { scheme, dtypes } of SCHEMES) {
      for (const dtype of dtypes) {
        for (let rank = 2; rank <= 5; rank++) {
          for (let axis = 0; axis < rank; axis++) {
            expect(cases.some((c) => c.scheme === scheme && c.dtype === dtype && c.shape.length === rank && c.axis === axis)).toBe(true);
          }
        }
      }
    }
  });

  test('qscheme, dtype, shape, strides and per-channel qparams are torch\'s', () => {
    const log = new FailureLog();
    cases.forEach((c, k) => {
      log.check(c.label, () => {
        const q = quantize(c);
        const want = expected[k];
        expectSame('qscheme', want.qscheme, q.qscheme);
        expectSame('dtype', want.dtype, q.dtype);
        expectSameList('shape', want.shape, q.shape);
        if (c.oracleSteps.length === c.inputSteps.length) {
          expectSameList('strides', want.strides, q.strides);
          expectSameList('dequantize().strides', want.dequant_strides, q.dequantize().strides);
        }
        expectSame('qPerChannelAxis()', want.axis, q.qPerChannelAxis());
        expectExact('qPerChannelScales()', want.scales.data, q.qPerChannelScales(), { kind: 'float64' });
        const zeroPoints = q.qPerChannelZeroPoints();
        const zeroPointsTag = Object.prototype.toString.call(zeroPoints).slice(8, -1);
        if (c.scheme === 'per_channel_affine') {
          expectSame('qPerChannelZeroPoints() type', 'Int32Array', zeroPointsTag);
          expectExact('qPerChannelZeroPoints()', want.zero_points.data, zeroPoints);
        } else {
          expectSame('qPerChannelZeroPoints() type', 'Float32Array', zeroPointsTag);
          expectExact('qPerChannelZeroPoints()', want.zero_points.data, zeroPoints, { kind: 'float32' });
        }
      });
    });
    log.finish(`per-channel metadata (seed ${SEED})`);
  });

  describeEachPath('bit-exact', (path) => {
    for (const { scheme, dtypes } of SCHEMES) {
      for (const dtype of dtypes) {
        test(`${scheme} ${dtype}: intRepr() equals torch's int_repr()`, () => {
          const log = new FailureLog();
          cases.forEach((c, k) => {
            if (c.scheme !== scheme || c.dtype !== dtype) return;
            log.check(c.label, () => {
              expectExact('int_repr', expected[k].int_repr.data, quantize(c).intRepr(), {
                shape: c.dtype === 'quint4x2' ? undefined : c.shape,
                input: inputAt(c),
                context: `seed ${SEED}, isa ${path.isa}, threads ${path.threads}`,
              });
            });
          });
          log.finish(`${scheme} ${dtype} quantize`);
        });

        test(`${scheme} ${dtype}: dequantize() equals torch's dequantize() bit for bit`, () => {
          const log = new FailureLog();
          cases.forEach((c, k) => {
            if (c.scheme !== scheme || c.dtype !== dtype) return;
            log.check(c.label, () => {
              const q = quantize(c);
              const options = {
                kind: 'float32' as const,
                shape: c.shape,
                input: inputAt(c),
                context: `seed ${SEED}, isa ${path.isa}, threads ${path.threads}`,
              };
              // Logical order: a channels_last result dequantizes to a channels_last Tensor.
              expectExact('dequantize(q)', expected[k].dequant.data, dequantize(q).contiguous().data, options);
              expectExact('q.dequantize()', expected[k].dequant.data, q.dequantize().contiguous().data, options);
            });
          });
          log.finish(`${scheme} ${dtype} dequantize`);
        });
      }
    }
  });
});
