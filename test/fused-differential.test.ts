// nniq.ConvAdd2d, ConvAddReLU2d, LinearLeakyReLU, LinearTanh (oneDNN fusions) against the float64 reference; bit identity across paths.
//
// Debian's torch 1.13 has none of these ops (quantized::conv2d_add, conv2d_add_relu, linear_leaky_relu,
// linear_tanh came with torch 2.0's oneDNN backend), so the oracle computes them as torch 2.x defines
// them: the conv/linear in float64 from the dequantized values plus the bias, then the add of the
// dequantized extra input (before the ReLU) or the activation, then quantized to the output qparams.
// qkernels computes the same from the fp32 GEMM output; allowed: 1 quantum.
import {
  checkBitIdentityAcrossPaths,
  checkCasesAgainstOracle,
  convOracleCase,
  linearOracleCase,
  randomConvCase,
  randomLinearCase,
  runConvCase,
  runLinearCase,
  SWEEP,
} from './helpers/linear-conv';
import { Rng, testSeed } from './helpers/random';
import { describeOracle, OracleResult, runOracle } from './oracle';

const rng = new Rng(testSeed('fused-differential'));
const COUNT = Number(process.env.QKERNELS_FUSED_CASES ?? (SWEEP ? 2000 : 150));
const convCases = Array.from({ length: COUNT }, (_, i) => randomConvCase(rng, 2, false, { paddingModes: true, fusion: i % 2 === 0 ? 'add' : 'add_relu' }));
const linearCases = Array.from({ length: COUNT }, (_, i) => randomLinearCase(rng, i % 2 === 0 ? 'leaky_relu' : 'tanh'));

describeOracle('fused conv-add and linear activations vs the float64 reference', () => {
  let results: OracleResult[] = [];
  beforeAll(() => {
    results = runOracle([...convCases.map(convOracleCase), ...linearCases.map(linearOracleCase)]);
  });

  test(`ConvAdd2d / ConvAddReLU2d: ${COUNT} random configurations within 1 quantum`, () => {
    const report = checkCasesAgainstOracle(convCases, results.slice(0, COUNT), (c) => runConvCase(c, true), 'ConvAdd2d/ConvAddReLU2d');
    expect(report.torchRefused).toBe(COUNT);
  });

  test(`LinearLeakyReLU / LinearTanh: ${COUNT} random configurations within 1 quantum`, () => {
    const report = checkCasesAgainstOracle(linearCases, results.slice(COUNT), (c) => runLinearCase(c, true), 'LinearLeakyReLU/LinearTanh');
    expect(report.torchRefused).toBe(COUNT);
  });
});

test('fused modules: bit-identical across ISA levels and 1 vs 2 threads', () => {
  const n = SWEEP ? COUNT : 40;
  expect(checkBitIdentityAcrossPaths(convCases.slice(0, n), (c) => runConvCase(c, true).intRepr() as Uint8Array, 'ConvAdd2d')).toBeGreaterThanOrEqual(2);
  expect(checkBitIdentityAcrossPaths(linearCases.slice(0, n), (c) => runLinearCase(c, true).intRepr() as Uint8Array, 'LinearLeakyReLU/LinearTanh')).toBeGreaterThanOrEqual(2);
});
