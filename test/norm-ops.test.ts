// Quantized normalization against PyTorch 1.13: batch norm (and its ReLU fusion), layer, group and instance norm, on every dispatch path.
//
// Exact. The layer-norm cases pin the fused multiply-adds of torch's AVX2 build (variance and affine
// step, native/src/ops/norm.h): with separate roundings about one element in 10^5 differs.
import { makePerTensorQuantizedTensor, nniq, nnq, ops, tensor } from '..';
import { describeEachPath } from './helpers/paths';
import { describeAgainstTorch, describeAgainstTorchUnderQnnpack, Int8DType, randomFormat, randomInput, TorchCase } from './helpers/pool-norm';
import { Rng, testSeed } from './helpers/random';

const SWEEP = process.env.QKERNELS_SWEEP === '1';
const SEED = testSeed('norm-ops');
const rng = new Rng(SEED);

function floats(n: number, lo: number, hi: number): Float32Array {
  return Float32Array.from({ length: n }, () => rng.range(lo, hi));
}


const CHANNELS = [1, 3, 7, 8, 16, 17, 32, 40, 64, 77];

function batchNormCase(index: number): TorchCase {
  const rank = rng.pick([2, 3, 4, 4, 4, 5, 5]);
  const c = rng.pick(CHANNELS);
  const shape = [rng.int(1, 3), c, ...Array.from({ length: rank - 2 }, () => rng.int(1, rank === 5 ? 4 : 6))];
  const dtype: Int8DType = rng.bool(0.7) ? 'quint8' : 'qint8';
  const input = randomInput(rng, shape, dtype, randomFormat(rng, rank));
  const weight = floats(c, -2, 2);
  const bias = floats(c, -1, 1);
  const mean = floats(c, -1, 1);
  const variance = floats(c, 0.01, 3);
  const eps = rng.pick([1e-5, 1e-3, 0.1]);
  const outScale = Math.fround(rng.logUniform(1e-3, 0.5));
  const outZeroPoint = dtype === 'quint8' ? rng.int(0, 255) : rng.int(-128, 127);
  const relu = rank >= 4 && rng.bool(0.3);
  const wire = { ...input.wire, weight, bias, mean, var: variance, eps, out_scale: outScale, out_zero_point: outZeroPoint, relu };
  const label = `#${index} batchNorm ${dtype} [${shape}] ${input.wire.format} relu ${relu}`;
  const useModule = rank >= 4 && rng.bool();
  const run = () => {
    if (useModule) {
      const Module = relu ? (rank === 4 ? nniq.BNReLU2d : nniq.BNReLU3d) : rank === 4 ? nnq.BatchNorm2d : nnq.BatchNorm3d;
      const m = new Module(c, { eps });
      m.weight = tensor(weight);
      m.bias = tensor(bias);
      m.runningMean = tensor(mean);
      m.runningVar = tensor(variance);
      m.scale = outScale;
      m.zeroPoint = outZeroPoint;
      return m.forward(input.q);
    }
    const fn = rank <= 3 ? ops.quantized.batchNorm1d : rank === 4 ? (relu ? ops.quantized.batchNorm2dRelu : ops.quantized.batchNorm2d) : relu ? ops.quantized.batchNorm3dRelu : ops.quantized.batchNorm3d;
    return fn(input.q, weight, bias, mean, variance, eps, outScale, outZeroPoint);
  };
  return { label, run, oracle: { op: 'pool_norm.batch_norm', ...wire } };
}

function layerNormCase(index: number): TorchCase {
  const rank = rng.int(2, 4);
  const shape = Array.from({ length: rank }, () => rng.int(1, 9));
  // 768: a transformer's hidden size (the SIMD kernels' long rows and every tail length below).
  shape[rank - 1] = rng.pick([1, 5, 8, 15, 16, 17, 31, 32, 33, 64, 70, 768]);
  const normalizedDims = rng.int(1, Math.min(2, rank));
  const normalizedShape = shape.slice(rank - normalizedDims);
  const n = normalizedShape.reduce((a, b) => a * b, 1);
  const dtype: Int8DType = rng.bool(0.7) ? 'quint8' : 'qint8';
  const input = randomInput(rng, shape, dtype, 'contiguous_format');
  const affine = rng.bool(0.8);
  const weight = affine ? floats(n, -2, 2) : undefined;
  const bias = affine ? floats(n, -1, 1) : undefined;
  const eps = rng.pick([1e-5, 1e-3]);
  const outScale = rng.logUniform(1e-3, 0.5);
  const outZeroPoint = dtype === 'quint8' ? rng.int(0, 255) : rng.int(-128, 127);
  const useModule = affine && rng.bool();
  return {
    label: `#${index} layerNorm ${dtype} [${shape}] normalized [${normalizedShape}] affine ${affine}`,
    run: () =>
      useModule
        ? new nnq.LayerNorm(normalizedShape, weight!, bias!, outScale, outZeroPoint, { eps }).forward(input.q)
        : ops.quantized.layerNorm(input.q, normalizedShape, weight ?? null, bias ?? null, eps, outScale, outZeroPoint),
    oracle: { op: 'pool_norm.layer_norm', ...input.wire, normalized_shape: normalizedShape, weight, bias, eps, out_scale: outScale, out_zero_point: outZeroPoint },
  };
}

// large: channels of 512 values and more, which the op maps through a 256-entry table (norm.cc).
function groupNormCase(index: number, instance: boolean, large = false): TorchCase {
  const rank = large ? 4 : rng.int(3, 5);
  const groups = rng.pick([1, 2, 3, 4]);
  const c = instance ? rng.pick(large ? [1, 3, 7, 16] : CHANNELS) : groups * rng.int(1, large ? 3 : 5);
  const spatial = () => (large ? rng.int(23, 40) : rng.int(1, rank === 5 ? 5 : 9));
  const shape = [large ? 1 : rng.int(1, 3), c, ...Array.from({ length: rank - 2 }, spatial)];
  const dtype: Int8DType = rng.bool(0.7) ? 'quint8' : 'qint8';
  const input = randomInput(rng, shape, dtype, 'contiguous_format');
  const affine = rng.bool(0.8);
  const weight = affine ? floats(c, -2, 2) : undefined;
  const bias = affine ? floats(c, -1, 1) : undefined;
  const eps = rng.pick([1e-5, 1e-3]);
  const outScale = rng.logUniform(1e-3, 0.5);
  const outZeroPoint = dtype === 'quint8' ? rng.int(0, 255) : rng.int(-128, 127);
  const common = { ...input.wire, weight, bias, eps, out_scale: outScale, out_zero_point: outZeroPoint };
  if (instance) {
    const Module = [nnq.InstanceNorm1d, nnq.InstanceNorm2d, nnq.InstanceNorm3d][rank - 3];
    const useModule = rng.bool();
    return {
      label: `#${index} instanceNorm ${dtype} [${shape}] affine ${affine}`,
      run: () =>
        useModule
          ? new Module(c, weight ?? null, bias ?? null, outScale, outZeroPoint, { eps }).forward(input.q)
          : ops.quantized.instanceNorm(input.q, weight ?? null, bias ?? null, eps, outScale, outZeroPoint),
      oracle: { op: 'pool_norm.instance_norm', ...common },
    };
  }
  const useModule = rng.bool();
  return {
    label: `#${index} groupNorm ${dtype} [${shape}] groups ${groups} affine ${affine}`,
    run: () =>
      useModule
        ? new nnq.GroupNorm(groups, c, weight ?? null, bias ?? null, outScale, outZeroPoint, { eps }).forward(input.q)
        : ops.quantized.groupNorm(input.q, groups, weight ?? null, bias ?? null, eps, outScale, outZeroPoint),
    oracle: { op: 'pool_norm.group_norm', ...common, num_groups: groups },
  };
}

const PER_KIND = SWEEP ? 150 : 15;
const cases: TorchCase[] = [];
for (let i = 0; i < PER_KIND; i++) cases.push(batchNormCase(cases.length));
for (let i = 0; i < PER_KIND; i++) cases.push(layerNormCase(cases.length));
for (let i = 0; i < PER_KIND; i++) cases.push(groupNormCase(cases.length, false));
for (let i = 0; i < PER_KIND; i++) cases.push(groupNormCase(cases.length, true));
for (let i = 0; i < 4; i++) cases.push(groupNormCase(cases.length, i % 2 === 0, true));

describeAgainstTorch('normalization', SEED, cases);
describeAgainstTorchUnderQnnpack('normalization', SEED, cases);

// A group of zero variance with eps 0: its scale is 1/0 and every value is NaN before the clamp.
// qkernels defines that as the dtype's minimum on every path (doc/pool-norm.md). Not compared with
// torch: torch 1.13 gives the maximum in its 32-value vector blocks and the minimum in the tail,
// so its answer depends on the element's position.
describeEachPath('layer and group norm of a zero-variance group with eps 0', () => {
  for (const dtype of ['quint8', 'qint8'] as const) {
    test(`${dtype}: every element the dtype's minimum`, () => {
      const low = dtype === 'quint8' ? 0 : -128;
      for (const n of [1, 15, 16, 17, 33, 64, 768]) {
        const x = makePerTensorQuantizedTensor(new (dtype === 'quint8' ? Uint8Array : Int8Array)(2 * n).fill(7), [2, n], 0.05, 3, dtype);
        const layer = ops.quantized.layerNorm(x, [n], new Float32Array(n).fill(1.5), new Float32Array(n).fill(0.25), 0, 0.05, 9);
        expect(Array.from(layer.intRepr())).toEqual(new Array(2 * n).fill(low));
        const group = ops.quantized.groupNorm(x.reshape([2, 1, n]), 1, null, null, 0, 0.05, 9);
        expect(Array.from(group.intRepr())).toEqual(new Array(2 * n).fill(low));
      }
    });
  }
});
