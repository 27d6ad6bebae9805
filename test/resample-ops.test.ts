// Quantized interpolate / upsample against PyTorch 1.13: nearest (1-, 2-, 3-D) and bilinear, size or scaleFactor, both memory formats, every path.
//
// 1-D nearest is beyond PyTorch (no quantized upsample_nearest1d): compared, exactly, with the float
// op on the dequantized input (nearest only copies values).
//
// Exact everywhere. Bilinear on channels_last inputs reproduces the fused multiply-adds GCC put into
// torch's AVX2 NHWC kernel (native/src/ops/resample.h); these cases are what pin that choice.
import { qF } from '..';
import { describeAgainstTorch, describeAgainstTorchUnderQnnpack, Int8DType, randomFormat, randomInput, TorchCase } from './helpers/pool-norm';
import { Rng, testSeed } from './helpers/random';

const SWEEP = process.env.QKERNELS_SWEEP === '1';
const SEED = testSeed('resample-ops');
const rng = new Rng(SEED);

function makeCase(index: number, mode: 'nearest' | 'bilinear'): TorchCase {
  const rank = mode === 'bilinear' ? 4 : rng.pick([3, 4, 4, 5]);
  const dims = rank - 2;
  // Spatial sizes from 2: a 1x1 (or 1x1x1) channels-last input is dense in both layouts, and torch 1.13
  // then writes NHWC-ordered values into a contiguous output (as in adaptive pooling; doc/pool-norm.md).
  const shape = [rng.int(1, 2), rng.pick([1, 3, 8, 9, 16, 20]), ...Array.from({ length: dims }, () => rng.int(2, rank === 5 ? 5 : 9))];
  const dtype: Int8DType = rng.bool(0.7) ? 'quint8' : 'qint8';
  const format = randomFormat(rng, rank);
  const input = randomInput(rng, shape, dtype, format);
  const useSize = rng.bool();
  const size = useSize ? shape.slice(2).map((s) => rng.pick([1, s, 2 * s, s + 3, Math.max(1, s - 1)])) : undefined;
  let scaleFactor = useSize ? undefined : rng.pick([2, 0.5, 1.5, 3, 0.75, 1.7, 2.5]);
  // torch asserts (INTERNAL ASSERT) when a scale factor makes an output size 0; qkernels refuses those.
  if (scaleFactor !== undefined && shape.slice(2).some((s) => Math.floor(s * scaleFactor!) < 1)) scaleFactor = 2;
  const alignCorners = mode === 'bilinear' ? rng.bool() : undefined;
  // recomputeScaleFactor: the output size from the factor, then indices from the sizes alone.
  const recomputeScaleFactor = scaleFactor !== undefined && rng.bool(0.3) ? true : undefined;
  const options = { size, scaleFactor, mode, alignCorners, recomputeScaleFactor };
  return {
    label: `#${index} ${mode} ${dtype} [${shape}] ${format} size ${size} scale ${scaleFactor} align ${alignCorners} recompute ${recomputeScaleFactor}`,
    run: () => qF.interpolate(input.q, options),
    oracle: { op: 'pool_norm.interpolate', ...input.wire, size, scale_factor: scaleFactor, mode, align_corners: alignCorners, recompute_scale_factor: recomputeScaleFactor },
    // A one-channel input is dense in both layouts: only its values compare (as in pool-ops).
    checkStrides: () => shape[1] !== 1,
  };
}

const PER_MODE = SWEEP ? 200 : 24;
const cases: TorchCase[] = [];
for (let i = 0; i < PER_MODE; i++) cases.push(makeCase(cases.length, 'nearest'));
for (let i = 0; i < PER_MODE; i++) cases.push(makeCase(cases.length, 'bilinear'));

describeAgainstTorch('resampling', SEED, cases);
describeAgainstTorchUnderQnnpack('resampling', SEED, cases);
