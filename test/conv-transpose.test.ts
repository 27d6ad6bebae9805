// qF.convTranspose1d|2d|3d / nnq.ConvTranspose1d|2d|3d against torch's quantized conv_transpose (per-tensor) and the fp64 reference (per-channel).
//
// torch refuses per-channel transposed weights ("Per Channel Quantization is currently disabled for
// transposed conv"): those cases compare with the float64 reference (qkernels quantizes transposed
// weights per output channel, weight axis 1). torch's QNNPACK conv_transpose3d returns outputs of the
// wrong size, so 3-D cases ask oneDNN only (with 7-bit inputs, see pickEngines).
import { convIdentityTest, convOracleCase, convOracleTest, ConvCase, randomConvCase, sliceResults, SWEEP } from './helpers/linear-conv';
import { Rng, testSeed } from './helpers/random';
import { describeOracle, OracleResult, runOracle } from './oracle';

const rng = new Rng(testSeed('conv-transpose'));
const COUNT = Number(process.env.QKERNELS_CONV_CASES ?? (SWEEP ? 3000 : 300));
const cases: ConvCase[] = Array.from({ length: COUNT }, (_, i) => randomConvCase(rng, ((i % 3) + 1) as 1 | 2 | 3, true));

describeOracle('convTranspose1d|2d|3d vs torch', () => {
  let results: OracleResult[] = [];
  beforeAll(() => {
    results = runOracle(cases.map(convOracleCase));
  });
  convOracleTest('convTranspose', cases, () => sliceResults(results, [cases.length], 0), 0.3);
});

convIdentityTest('convTranspose', cases.slice(0, SWEEP ? COUNT : 60));
