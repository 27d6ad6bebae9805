// Quantized pooling (max, average, adaptive) against PyTorch 1.13: random shapes, qparams and options, both memory formats, every dispatch path.
//
// Exact everywhere. avgPool1d and
// adaptiveAvgPool1d compare with torch's quantized F.avg_pool1d / F.adaptive_avg_pool1d (ATen runs
// them as the 2-D ops on (N, C, 1, L), QNNPACK's kernel included under qnnpack). maxPool3d and
// adaptiveMaxPool1d/2d, which torch lacks, compare with the float op on the dequantized input,
// exactly (max commutes with dequantization).
import { qF, QTensor } from '..';
import { describeAgainstTorch, describeAgainstTorchUnderQnnpack, Int8DType, randomFormat, randomInput, TorchCase } from './helpers/pool-norm';
import { Rng, testSeed } from './helpers/random';
import { OracleResult } from './oracle';
// Tensors dense in both layouts (one channel, or 1x1 spatial; inputs, and outputs of 1x1 spatial
// size) have ambiguous strides: torch and qkernels may pick different ones for the same values,
// so only the values compare there.
function ambiguousLayout(q: QTensor): boolean {
  return q.dim() >= 4 && (q.shape[1] === 1 || q.shape.slice(2).every((s) => s === 1));
}

const SWEEP = process.env.QKERNELS_SWEEP === '1';
const SEED = testSeed('pool-ops');
const rng = new Rng(SEED);

type Kind = 'max' | 'avg' | 'adaptiveAvg' | 'adaptiveMax';

// Float-reference cases (the oracle's float_reference): torch's float op picks its own output
// layout, so only values compare there, as for ambiguous layouts.
function stridesComparable(input: QTensor): (expected: OracleResult) => boolean {
  return (expected) => !expected.float_reference && !ambiguousLayout(input) && !(expected.shape as number[]).slice(2).every((s) => s === 1);
}

const CHANNELS = [1, 3, 8, 16, 17, 24, 33, 64, 70];

function shapeFor(dims: number, batched: boolean, minSpatial: number): number[] {
  const spatialMax = dims === 3 ? 6 : dims === 2 ? 9 : 14;
  const spatial = Array.from({ length: dims }, () => rng.int(minSpatial, Math.max(minSpatial, spatialMax)));
  const c = rng.pick(CHANNELS);
  return batched ? [rng.int(1, 2), c, ...spatial] : [c, ...spatial];
}

function makeCase(kind: Kind, dims: number, index: number): TorchCase {
  const dtype: Int8DType = rng.bool(0.7) ? 'quint8' : 'qint8';
  // Unbatched 3-D inputs are 4-D tensors; torch 1.13 misreads those that are also dense channels_last
  // (D == 1) in adaptive_avg_pool3d (NDHWC kernel on a 4-D layout), so 3-D cases are batched here.
  const batched = dims === 3 ? true : rng.bool(0.8);
  if (kind === 'adaptiveAvg' || kind === 'adaptiveMax') {
    let shape = shapeFor(dims, batched, 1);
    // torch 1.13 bug: a channels-last input whose spatial sizes are all 1 is dense in both
    // layouts; torch's adaptive kernel then writes NHWC-ordered values into a contiguous output
    // (scrambled channels). qkernels returns the true averages; such inputs are not compared here
    // (doc/pool-norm.md lists the difference).
    if (kind === 'adaptiveAvg' && shape.slice(-dims).every((s) => s === 1)) shape = [...shape.slice(0, -1), 2];
    const outputSize = shape.slice(-dims).map((s) => rng.int(1, s + 2));
    const input = randomInput(rng, shape, dtype, (batched ? randomFormat(rng, shape.length) : 'contiguous_format'));
    const fn = kind === 'adaptiveAvg' ? ([qF.adaptiveAvgPool1d, qF.adaptiveAvgPool2d, qF.adaptiveAvgPool3d][dims - 1]) : [qF.adaptiveMaxPool1d, qF.adaptiveMaxPool2d][dims - 1];
    return {
      label: `#${index} ${kind}Pool${dims}d ${input.q.dtype} [${shape}] ${input.wire.format} outputSize [${outputSize}]`,
      run: () => fn(input.q, outputSize),
      oracle: { op: kind === 'adaptiveAvg' ? 'pool_norm.adaptive_avg_pool' : 'pool_norm.adaptive_max_pool', dims, output_size: outputSize, ...input.wire },
      // adaptiveAvgPool3d to (1, 1, 1): torch 1.13 computes input.mean((-1, -2, -3)) there, and
      // so does qkernels (QTensor.mean follows torch's mean exactly for these layouts).
      tolerance: 0,
      checkStrides: stridesComparable(input.q),
    };
  }
  const kernel = Array.from({ length: dims }, () => rng.int(1, 4));
  const dilation = kind === 'max' ? kernel.map(() => (rng.bool(0.3) ? 2 : 1)) : kernel.map(() => 1);
  const padding = kernel.map((k) => rng.int(0, Math.floor(k / 2)));
  const stride = rng.bool(0.2) ? null : kernel.map(() => rng.int(1, 3));
  const minSpatial = Math.max(...kernel.map((k, d) => dilation[d] * (k - 1) + 1));
  const shape = shapeFor(dims, batched, minSpatial);
  const ceilMode = rng.bool(0.4);
  const input = randomInput(rng, shape, dtype, (batched ? randomFormat(rng, shape.length) : 'contiguous_format'));
  const common = { stride, padding, ceilMode };
  if (kind === 'max') {
    const fn = [qF.maxPool1d, qF.maxPool2d, qF.maxPool3d][dims - 1];
    return {
      label: `#${index} maxPool${dims}d ${input.q.dtype} [${shape}] ${input.wire.format} k ${kernel} s ${stride} p ${padding} d ${dilation} ceil ${ceilMode}`,
      run: () => fn(input.q, kernel, { ...common, dilation }),
      oracle: { op: 'pool_norm.max_pool', dims, kernel, stride, padding, dilation, ceil_mode: ceilMode, ...input.wire },
      tolerance: 0,
      checkStrides: stridesComparable(input.q),
    };
  }
  const countIncludePad = rng.bool();
  const divisorOverride = dims > 1 && rng.bool(0.25) ? rng.int(1, 12) : null;
  const fn = [qF.avgPool1d, qF.avgPool2d, qF.avgPool3d][dims - 1];
  return {
    label: `#${index} avgPool${dims}d ${input.q.dtype} [${shape}] ${input.wire.format} k ${kernel} s ${stride} p ${padding} ceil ${ceilMode} includePad ${countIncludePad} divisor ${divisorOverride}`,
    run: () => fn(input.q, kernel, { ...common, countIncludePad, divisorOverride }),
    oracle: {
      op: 'pool_norm.avg_pool', dims, kernel, stride, padding, ceil_mode: ceilMode, count_include_pad: countIncludePad,
      divisor_override: divisorOverride, ...input.wire,
    },
    tolerance: 0,
    checkStrides: stridesComparable(input.q),
  };
}

const KINDS: Array<[Kind, number]> = [
  ['max', 1], ['max', 2], ['max', 3], ['avg', 1], ['avg', 2], ['avg', 3],
  ['adaptiveAvg', 1], ['adaptiveAvg', 2], ['adaptiveAvg', 3], ['adaptiveMax', 1], ['adaptiveMax', 2],
];
const PER_KIND = SWEEP ? 120 : 10;
const cases: TorchCase[] = [];
for (const [kind, dims] of KINDS) for (let i = 0; i < PER_KIND; i++) cases.push(makeCase(kind, dims, cases.length));
// adaptiveAvgPool3d to (1, 1, 1) is torch's mean over (D, H, W): contiguous inputs average the
// integers, channels_last_3d ones sum floats in ATen's order (block and tail channels, cascade).
for (const [shape, format] of [
  [[2, 40, 3, 4, 5], 'contiguous_format'],
  [[2, 40, 3, 4, 5], 'channels_last_3d'],
  [[1, 37, 4, 4, 4], 'channels_last_3d'],
  [[6, 2, 2, 3], 'contiguous_format'],
] as Array<[number[], 'contiguous_format' | 'channels_last_3d']>) {
  for (const dtype of ['quint8', 'qint8'] as Int8DType[]) {
    const input = randomInput(rng, shape, dtype, format);
    cases.push({
      label: `#${cases.length} adaptiveAvgPool3d ${dtype} [${shape}] ${format} outputSize [1,1,1]`,
      run: () => qF.adaptiveAvgPool3d(input.q, [1, 1, 1]),
      oracle: { op: 'pool_norm.adaptive_avg_pool', dims: 3, output_size: [1, 1, 1], ...input.wire },
    });
  }
}

describeAgainstTorch('pooling', SEED, cases);
describeAgainstTorchUnderQnnpack('pooling', SEED, cases);
