// The pool-norm family's ops.quantized members: batch, layer, group and instance normalization (sync and Async).

import { OpPlan, planAsync } from '../plan';
import { QTensor } from '../qtensor';
import { Tensor } from '../tensor';
import { planBatchNorm, planGroupNorm, planLayerNorm } from './plan';

type Floats = Tensor | ArrayLike<number>;
type IntOrList = number | readonly number[];

/** torch.ops.quantized.batch_norm1d (beyond torch 1.13's engines): (N, C) or (N, C, L). */
export function batchNorm1d(x: QTensor, weight: Floats | null, bias: Floats | null, mean: Floats, variance: Floats, eps: number, outputScale: number, outputZeroPoint: number): QTensor {
  return planBatchNorm([2, 3], x, weight, bias, mean, variance, eps, outputScale, outputZeroPoint, false).run();
}
/** batchNorm1d off the event loop (qkernels' async job queue): same bits; argument errors reject. */
export function batchNorm1dAsync(x: QTensor, weight: Floats | null, bias: Floats | null, mean: Floats, variance: Floats, eps: number, outputScale: number, outputZeroPoint: number): Promise<QTensor> {
  return planAsync(batchNorm1dAsync, () => planBatchNorm([2, 3], x, weight, bias, mean, variance, eps, outputScale, outputZeroPoint, false));
}
/** torch.ops.quantized.batch_norm2d: (N, C, H, W); the output is channels_last, as in torch. */
export function batchNorm2d(x: QTensor, weight: Floats | null, bias: Floats | null, mean: Floats, variance: Floats, eps: number, outputScale: number, outputZeroPoint: number): QTensor {
  return planBatchNorm([4], x, weight, bias, mean, variance, eps, outputScale, outputZeroPoint, false).run();
}
/** batchNorm2d off the event loop (qkernels' async job queue): same bits; argument errors reject. */
export function batchNorm2dAsync(x: QTensor, weight: Floats | null, bias: Floats | null, mean: Floats, variance: Floats, eps: number, outputScale: number, outputZeroPoint: number): Promise<QTensor> {
  return planAsync(batchNorm2dAsync, () => planBatchNorm([4], x, weight, bias, mean, variance, eps, outputScale, outputZeroPoint, false));
}
/** torch.ops.quantized.batch_norm3d: (N, C, D, H, W); the output is channels_last_3d. */
export function batchNorm3d(x: QTensor, weight: Floats | null, bias: Floats | null, mean: Floats, variance: Floats, eps: number, outputScale: number, outputZeroPoint: number): QTensor {
  return planBatchNorm([5], x, weight, bias, mean, variance, eps, outputScale, outputZeroPoint, false).run();
}
/** batchNorm3d off the event loop (qkernels' async job queue): same bits; argument errors reject. */
export function batchNorm3dAsync(x: QTensor, weight: Floats | null, bias: Floats | null, mean: Floats, variance: Floats, eps: number, outputScale: number, outputZeroPoint: number): Promise<QTensor> {
  return planAsync(batchNorm3dAsync, () => planBatchNorm([5], x, weight, bias, mean, variance, eps, outputScale, outputZeroPoint, false));
}
/** torch.ops.quantized.batch_norm2d_relu. */
export function batchNorm2dRelu(x: QTensor, weight: Floats | null, bias: Floats | null, mean: Floats, variance: Floats, eps: number, outputScale: number, outputZeroPoint: number): QTensor {
  return planBatchNorm([4], x, weight, bias, mean, variance, eps, outputScale, outputZeroPoint, true).run();
}
/** batchNorm2dRelu off the event loop (qkernels' async job queue): same bits; argument errors reject. */
export function batchNorm2dReluAsync(x: QTensor, weight: Floats | null, bias: Floats | null, mean: Floats, variance: Floats, eps: number, outputScale: number, outputZeroPoint: number): Promise<QTensor> {
  return planAsync(batchNorm2dReluAsync, () => planBatchNorm([4], x, weight, bias, mean, variance, eps, outputScale, outputZeroPoint, true));
}
/** torch.ops.quantized.batch_norm3d_relu. */
export function batchNorm3dRelu(x: QTensor, weight: Floats | null, bias: Floats | null, mean: Floats, variance: Floats, eps: number, outputScale: number, outputZeroPoint: number): QTensor {
  return planBatchNorm([5], x, weight, bias, mean, variance, eps, outputScale, outputZeroPoint, true).run();
}
/** batchNorm3dRelu off the event loop (qkernels' async job queue): same bits; argument errors reject. */
export function batchNorm3dReluAsync(x: QTensor, weight: Floats | null, bias: Floats | null, mean: Floats, variance: Floats, eps: number, outputScale: number, outputZeroPoint: number): Promise<QTensor> {
  return planAsync(batchNorm3dReluAsync, () => planBatchNorm([5], x, weight, bias, mean, variance, eps, outputScale, outputZeroPoint, true));
}
/** torch.ops.quantized.layer_norm(input, normalized_shape, weight, bias, eps, output_scale, output_zero_point). */
export function layerNorm(x: QTensor, normalizedShape: IntOrList, weight: Floats | null, bias: Floats | null, eps: number, outputScale: number, outputZeroPoint: number): QTensor {
  return planLayerNorm(x, normalizedShape, weight, bias, eps, outputScale, outputZeroPoint).run();
}
/** layerNorm off the event loop (qkernels' async job queue): same bits; argument errors reject. */
export function layerNormAsync(x: QTensor, normalizedShape: IntOrList, weight: Floats | null, bias: Floats | null, eps: number, outputScale: number, outputZeroPoint: number): Promise<QTensor> {
  return planAsync(layerNormAsync, () => planLayerNorm(x, normalizedShape, weight, bias, eps, outputScale, outputZeroPoint));
}
/** torch.ops.quantized.group_norm(input, num_groups, weight, bias, eps, output_scale, output_zero_point). */
export function groupNorm(x: QTensor, numGroups: number, weight: Floats | null, bias: Floats | null, eps: number, outputScale: number, outputZeroPoint: number): QTensor {
  return planGroupNorm(x, numGroups, weight, bias, eps, outputScale, outputZeroPoint).run();
}
/** groupNorm off the event loop (qkernels' async job queue): same bits; argument errors reject. */
export function groupNormAsync(x: QTensor, numGroups: number, weight: Floats | null, bias: Floats | null, eps: number, outputScale: number, outputZeroPoint: number): Promise<QTensor> {
  return planAsync(groupNormAsync, () => planGroupNorm(x, numGroups, weight, bias, eps, outputScale, outputZeroPoint));
}
function instanceNormPlan(x: QTensor, weight: Floats | null, bias: Floats | null, eps: number, outputScale: number, outputZeroPoint: number): OpPlan<QTensor> {
  const channels = x instanceof QTensor && x.dim() >= 2 ? x.shape[1] : 1;
  return planGroupNorm(x, channels, weight, bias, eps, outputScale, outputZeroPoint, 3);
}

/** torch.ops.quantized.instance_norm(input, weight, bias, eps, output_scale, output_zero_point): group norm with one group per channel. */
export function instanceNorm(x: QTensor, weight: Floats | null, bias: Floats | null, eps: number, outputScale: number, outputZeroPoint: number): QTensor {
  return instanceNormPlan(x, weight, bias, eps, outputScale, outputZeroPoint).run();
}
/** instanceNorm off the event loop (qkernels' async job queue): same bits; argument errors reject. */
export function instanceNormAsync(x: QTensor, weight: Floats | null, bias: Floats | null, eps: number, outputScale: number, outputZeroPoint: number): Promise<QTensor> {
  return planAsync(instanceNormAsync, () => instanceNormPlan(x, weight, bias, eps, outputScale, outputZeroPoint));
}
