// qF.conv1d|2d|3d / nnq.Conv1d|2d|3d / nniq.ConvReLU1d|2d|3d against torch's quantized conv under onednn and qnnpack: random configurations, exact, bit identity across paths.
//
// One oracle batch for the three families (importing torch dominates the oracle's cost).
import { convIdentityTest, convOracleCase, convOracleTest, ConvCase, randomConvCase, sliceResults, SWEEP } from './helpers/linear-conv';
import { Rng, testSeed } from './helpers/random';
import { describeOracle, OracleResult, runOracle } from './oracle';

const rng = new Rng(testSeed('conv-differential'));
const COUNT = Number(process.env.QKERNELS_CONV_CASES ?? (SWEEP ? 3000 : 300));
const IDENTITY = SWEEP ? COUNT : 40;
const families: Array<[string, ConvCase[]]> = ([1, 2, 3] as const).map((dims) => [
  `conv${dims}d`,
  Array.from({ length: COUNT }, (_, i) => randomConvCase(rng, dims, false, { paddingModes: true, fusion: i % 5 === 4 ? 'relu' : 'none' })),
]);
const conv1d = families[0][1];
// Long sequences (audio-like), and 1-D inputs in channels-last layout (N, L, C in memory).
for (let i = 0; i < 6; i++) {
  const c = randomConvCase(rng, 1, false, { slack: 3000, maxKernel: 9 });
  c.channelsLast = i % 2 === 1;
  c.label += ` long L=${c.x.shape[2]}`;
  conv1d.push(c);
}
for (let i = 0; i < 20; i++) {
  const c = randomConvCase(rng, 1, false, { paddingModes: true });
  c.channelsLast = true;
  c.label += ' (1-D channels-last)';
  conv1d.push(c);
}
const sizes = families.map(([, c]) => c.length);

describeOracle('conv1d, conv2d, conv3d vs torch', () => {
  let results: OracleResult[] = [];
  beforeAll(() => {
    results = runOracle(families.flatMap(([, c]) => c).map(convOracleCase));
  });
  families.forEach(([name, cases], index) => convOracleTest(name, cases, () => sliceResults(results, sizes, index)));
});

for (const [name, cases] of families) convIdentityTest(name, cases.slice(0, IDENTITY));
