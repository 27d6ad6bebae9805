// nnq.Quantize and nnq.DeQuantize against torch.ao.nn.quantized's modules: values, the float32 scale buffer, repr.
import { nnq, tensor } from '..';
import { expectExact, expectSame, expectSameList, FailureLog, formatFloat32 } from './helpers/compare';
import { ALL_QDTYPES, QDTYPES, QDTypeName, quantizationInputs } from './helpers/floats';
import { describeEachPath } from './helpers/paths';
import { Rng, testSeed } from './helpers/random';
import { describeOracle, okResult, OracleResult, runOracle, shaped } from './oracle';

const SEED = testSeed('modules');
const rng = new Rng(SEED);

interface Case {
  label: string;
  dtype: QDTypeName;
  scale: number;
  zeroPoint: number;
  shape: number[];
  x: Float32Array;
}

// Scales that float32 cannot hold exactly: torch's Quantize rounds them into its float32 buffer.
const SCALES = [0.1, 1 / 3, 0.05, 1e-7, 7, 1 / 255, 0.3, 1e-3];

const cases: Case[] = [];
for (const dtype of ALL_QDTYPES) {
  const info = QDTYPES[dtype];
  for (const scale of SCALES) {
    const zeroPoint = rng.bool(0.3) ? rng.pick(info.edgeZeroPoints) : rng.int(info.qmin, info.qmax);
    const x = quantizationInputs(rng, scale, zeroPoint, info, 400);
    cases.push({ label: `${dtype} scale=${scale} zeroPoint=${zeroPoint}`, dtype, scale, zeroPoint, shape: [x.length], x });
  }
}

describeOracle('nnq modules vs torch.ao.nn.quantized', () => {
  let expected: OracleResult[] = [];
  beforeAll(() => {
    expected = runOracle(
      cases.map((c) => ({ op: 'nnq_quantize', x: shaped(c.x, c.shape), scale: c.scale, zero_point: c.zeroPoint, dtype: c.dtype })),
    ).map((r, i) => okResult(r, cases[i].label));
  });

  test('toString() is torch\'s repr of the module', () => {
    const log = new FailureLog();
    cases.forEach((c, k) => {
      log.check(c.label, () => {
        expectSame('Quantize repr', expected[k].module_repr, new nnq.Quantize(c.scale, c.zeroPoint, c.dtype).toString());
      });
    });
    log.finish('module repr');
    expect(new nnq.DeQuantize().toString()).toBe(expected[0].dequantize_module_repr);
  });

  describeEachPath('Quantize.forward / DeQuantize.forward', (path) => {
    test('Quantize gives torch\'s int values and its float32 qScale(); DeQuantize torch\'s floats', () => {
      const log = new FailureLog();
      const dequant = new nnq.DeQuantize();
      cases.forEach((c, k) => {
        log.check(c.label, () => {
          const q = new nnq.Quantize(c.scale, c.zeroPoint, c.dtype).forward(tensor(c.x, c.shape));
          const want = expected[k];
          const context = `seed ${SEED}, isa ${path.isa}, threads ${path.threads}`;
          expectSame('qScale()', want.scale, q.qScale(), context);
          expectSame('qZeroPoint()', want.zero_point, q.qZeroPoint(), context);
          expectSameList('shape', want.shape, q.shape, context);
          const input = c.dtype === 'quint4x2' ? (i: number) => `${formatFloat32(c.x[2 * i])}, ${formatFloat32(c.x[2 * i + 1] ?? NaN)}` : (i: number) => formatFloat32(c.x[i]);
          expectExact('int_repr', want.int_repr.data, q.intRepr(), { input, context });
          expectExact('DeQuantize', want.dequant.data, dequant.forward(q).data, { kind: 'float32', context });
        });
      });
      log.finish(`nnq.Quantize (seed ${SEED})`);
    });
  });
});
