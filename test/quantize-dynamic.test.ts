// quantizePerTensorDynamic against torch.quantize_per_tensor_dynamic: chosen scale and zero point exactly torch's, values bit-exact.
import { quantizePerTensorDynamic, tensor } from '..';
import { expectExact, expectSame, expectSameList, FailureLog, formatFloat32 } from './helpers/compare';
import { fromBits } from './helpers/floats';
import { describeEachPath } from './helpers/paths';
import { Rng, testSeed } from './helpers/random';
import { describeOracle, OracleResult, runOracle, shaped } from './oracle';

const SWEEP = process.env.QKERNELS_SWEEP === '1';
const SEED = testSeed('quantize-dynamic');
const rng = new Rng(SEED);

const DTYPES = ['quint8', 'qint8'] as const;

interface Case {
  label: string;
  dtype: (typeof DTYPES)[number];
  reduceRange: boolean;
  shape: number[];
  x: Float32Array;
}

/** Named data sets: ranges that straddle zero, sit on one side of it, collapse to a point, or are extreme. */
function dataSets(): Array<{ name: string; shape: number[]; x: Float32Array }> {
  const sets: Array<{ name: string; shape: number[]; x: Float32Array }> = [];
  const fill = (name: string, shape: number[], draw: () => number) => {
    const n = shape.reduce((a, b) => a * b, 1);
    sets.push({ name, shape, x: Float32Array.from({ length: n }, draw) });
  };
  const randomShape = () => rng.shape(rng.int(1, 4), 1, 9);
  for (const magnitude of [1e-3, 0.1, 1, 7.5, 100, 1e6]) {
    fill(`normal*${magnitude}`, randomShape(), () => rng.normal() * magnitude);
    fill(`normal*${magnitude}+${2 * magnitude}`, randomShape(), () => (rng.normal() + 2) * magnitude);
  }
  fill('all positive', randomShape(), () => rng.range(0.5, 3));
  fill('all negative', randomShape(), () => -rng.range(0.25, 9));
  fill('positive, tiny range', [50], () => 1 + rng.range(0, 1e-6));
  fill('negative, narrow', [3, 7], () => -100 + rng.range(0, 0.01));
  for (const value of [0, -0, 3.5, -2.25, 1e-30, -1e-30, 1e30, 6.1e-5, fromBits(1)]) fill(`constant ${value}`, [4, 3], () => value);
  for (const value of [0, 1, -1, 0.1, -123.456, 1e-20]) fill(`single element ${value}`, [1], () => value);
  fill('tiny values (1e-30..2e-30)', [20], () => rng.range(1e-30, 2e-30));
  fill('denormals', [16], () => fromBits(rng.int(1, 0x7fffff)) * (rng.bool() ? 1 : -1));
  fill('huge range +-3e38', [10], () => rng.range(-3e38, 3e38));
  fill('0 and max float', [2], () => 0);
  sets[sets.length - 1].x[1] = fromBits(0x7f7fffff);
  fill('mixed magnitudes', [64], () => rng.normal() * 10 ** rng.int(-8, 8));
  for (let i = 0; i < (SWEEP ? 200 : 20); i++) {
    const lo = rng.range(-50, 50);
    const width = rng.logUniform(1e-4, 1e4);
    fill(`uniform [${lo}, ${lo + width}]`, randomShape(), () => lo + rng.uniform() * width);
  }
  // Large enough for the min/max and quantize passes to split across threads.
  fill('large normal', [SWEEP ? 1_000_003 : 100_003], () => rng.normal() * 3 + 0.5);
  return sets;
}

function buildCases(): Case[] {
  const cases: Case[] = [];
  for (const set of dataSets()) {
    for (const dtype of DTYPES) {
      for (const reduceRange of [false, true]) {
        cases.push({ label: `${set.name} shape [${set.shape}] ${dtype} reduceRange=${reduceRange}`, dtype, reduceRange, shape: set.shape, x: set.x });
      }
    }
  }
  return cases;
}

const cases = buildCases();

describeOracle('quantizePerTensorDynamic vs torch.quantize_per_tensor_dynamic', () => {
  let expected: OracleResult[] = [];

  beforeAll(() => {
    expected = runOracle(
      cases.map((c) => ({ op: 'quantize_per_tensor_dynamic', x: shaped(c.x, c.shape), dtype: c.dtype, reduce_range: c.reduceRange })),
    );
  });

  describeEachPath('exact', (path) => {
    for (const dtype of DTYPES) {
      for (const reduceRange of [false, true]) {
        test(`${dtype} reduceRange=${reduceRange}: scale, zero point, int values and dequantized values are torch's`, () => {
          const log = new FailureLog();
          cases.forEach((c, k) => {
            if (c.dtype !== dtype || c.reduceRange !== reduceRange) return;
            log.check(c.label, () => {
              const want = expected[k];
              const context = `seed ${SEED}, isa ${path.isa}, threads ${path.threads}`;
              if (want.error !== undefined) {
                // torch refuses these data (e.g. a range it cannot represent): qkernels must refuse too.
                let thrown: unknown = null;
                try {
                  quantizePerTensorDynamic(tensor(c.x, c.shape), c.dtype, c.reduceRange);
                } catch (error) {
                  thrown = error;
                }
                if (!(thrown instanceof RangeError)) {
                  throw new Error(`torch raised "${want.error}" but qkernels ${thrown === null ? 'returned a result' : `threw ${String(thrown)}`}`);
                }
                return;
              }
              const q = quantizePerTensorDynamic(tensor(c.x, c.shape), c.dtype, c.reduceRange);
              expectSame('dtype', want.dtype, q.dtype, context);
              expectSame('qscheme', want.qscheme, q.qscheme, context);
              expectSameList('shape', want.shape, q.shape, context);
              expectSame('qScale()', want.scale, q.qScale(), context);
              expectSame('qZeroPoint()', want.zero_point, q.qZeroPoint(), context);
              const input = (i: number) => formatFloat32(c.x[i]);
              expectExact('int_repr', want.int_repr.data, q.intRepr(), { input, context });
              expectExact('dequantize', want.dequant.data, q.dequantize().data, { kind: 'float32', input, context });
            });
          });
          log.finish(`quantizePerTensorDynamic ${dtype} reduceRange=${reduceRange} (seed ${SEED})`);
        });
      }
    }
  });
});
