// qF.linear / nnq.Linear / nniq.LinearReLU and nnqd.Linear / nniq.dynamic.LinearReLU against torch: random configurations, bit identity across paths.
import {
  checkBitIdentityAcrossPaths,
  checkCasesAgainstOracle,
  dynamicLinearOracleCase,
  linearOracleCase,
  randomDynamicLinearCase,
  randomLinearCase,
  runDynamicLinearCase,
  runLinearCase,
  SWEEP,
} from './helpers/linear-conv';
import { FailureLog } from './helpers/compare';
import { Rng, testSeed } from './helpers/random';
import { describeOracle, OracleResult, runOracle } from './oracle';
import { quantizePerTensorDynamic, tensor } from '..';

const rng = new Rng(testSeed('linear-differential'));
const COUNT = Number(process.env.QKERNELS_LINEAR_CASES ?? (SWEEP ? 3000 : 300));
const staticCases = Array.from({ length: COUNT }, (_, i) => randomLinearCase(rng, i % 4 === 3 ? 'relu' : 'none'));
const dynamicCases = Array.from({ length: COUNT }, (_, i) => randomDynamicLinearCase(rng, i % 4 === 3));

describeOracle('linear and dynamic linear vs torch', () => {
  let results: OracleResult[] = [];
  beforeAll(() => {
    results = runOracle([...staticCases.map(linearOracleCase), ...dynamicCases.map(dynamicLinearOracleCase)]);
  });

  test(`linear: ${COUNT} random configurations, torch's bytes exactly under the engine that answered`, () => {
    const report = checkCasesAgainstOracle(staticCases, results.slice(0, COUNT), (c, i) => runLinearCase(c, i % 2 === 1), 'linear');
    expect(report.vsTorch).toBeGreaterThanOrEqual(Math.floor(COUNT * 0.9));
    // Both engines answer a share of the cases (each is compared with its own output stage).
    expect(report.engines.onednn).toBeGreaterThan(COUNT / 10);
    expect(report.engines.qnnpack).toBeGreaterThan(COUNT / 10);
  });

  test(`dynamic linear: ${COUNT} random configurations, fp32 outputs within the float-order tolerance of torch`, () => {
    const log = new FailureLog();
    let exact = 0;
    let elements = 0;
    let worst = 0;
    dynamicCases.forEach((c, i) => {
      log.check(c.label, () => {
        const r = results[COUNT + i];
        if (r.torch === undefined) throw new Error(`torch refused: ${r.torch_error}`);
        const want = r.torch.data as Float32Array;
        const got = runDynamicLinearCase(c).data;
        if (want.length !== got.length) throw new Error(`length ${want.length} vs ${got.length}`);
        // The activations' qparams are chosen exactly as torch chooses them (checked here); after that
        // torch and qkernels round fp32 products and sums in different orders, and oneDNN quantizes x
        // with a reciprocal rounded from double, which can put one activation on the other side of a
        // rounding tie. Allowed: a relative 1e-5 of the output, 1e-6 of the summed term magnitudes, plus
        // one activation quantum times the largest weight magnitude of that output channel.
        const chosen = quantizePerTensorDynamic(tensor(c.x, c.xShape), 'quint8', c.reduceRange);
        if (chosen.qScale() !== r.x_scale || chosen.qZeroPoint() !== r.x_zero_point) {
          throw new Error(`activation qparams: torch (${r.x_scale}, ${r.x_zero_point}), qkernels (${chosen.qScale()}, ${chosen.qZeroPoint()})`);
        }
        const [outFeatures, inFeatures] = c.weight.shape;
        for (let k = 0; k < got.length; k++) {
          const j = k % outFeatures;
          const channel = c.weight.axis === null ? 0 : j;
          const row = Math.floor(k / outFeatures);
          let maxWeight = 0;
          let magnitude = 0; // sum of |x * w|: the size of the terms whose float sum may cancel
          for (let i = 0; i < inFeatures; i++) {
            const w = Math.abs(c.weight.w[j * inFeatures + i] - c.weight.zeroPoints[channel]);
            maxWeight = Math.max(maxWeight, w);
            magnitude += Math.abs(c.x[row * inFeatures + i]) * w * c.weight.scales[channel];
          }
          const tolerance = 1e-5 * Math.abs(want[k]) + 1e-6 * magnitude + r.x_scale * c.weight.scales[channel] * maxWeight * 1.001;
          const diff = Math.abs(want[k] - got[k]);
          worst = Math.max(worst, diff / Math.max(tolerance, 1e-30));
          if (diff === 0) exact++;
          else if (!(diff <= tolerance)) throw new Error(`[${k}] torch ${want[k]} qkernels ${got[k]} (diff ${diff}, tolerance ${tolerance})`);
        }
        elements += got.length;
      });
    });
    log.finish('dynamic linear');
    console.log(`dynamic linear: ${COUNT} cases, ${elements} elements, exact ${((exact / elements) * 100).toFixed(3)}%, worst diff ${worst.toFixed(3)} of the tolerance`);
  });
});

test('linear and dynamic linear: bit-identical across ISA levels and 1 vs 2 threads', () => {
  const n = SWEEP ? COUNT : 80;
  expect(checkBitIdentityAcrossPaths(staticCases.slice(0, n), (c) => runLinearCase(c, true).intRepr() as Uint8Array, 'linear')).toBeGreaterThanOrEqual(2);
  expect(checkBitIdentityAcrossPaths(dynamicCases.slice(0, n), (c) => runDynamicLinearCase(c).data, 'dynamic linear')).toBeGreaterThanOrEqual(2);
});
