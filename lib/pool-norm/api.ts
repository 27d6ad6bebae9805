// The public functions of the pool-norm family: qF pooling and resampling, ops.quantized normalization (sync and Async).

import { OpPlan, QTensor } from '../qtensor';
import { Tensor } from '../tensor';
import * as validate from '../validate';
import { runAsync } from './core';
import {
  AvgPoolOptions,
  InterpolateOptions,
  MaxPoolOptions,
  planAdaptiveAvgPool,
  planAdaptiveMaxPool,
  planAvgPool,
  planBatchNorm,
  planGroupNorm,
  planInterpolate,
  planLayerNorm,
  planMaxPool,
} from './functional';

type IntOrList = number | readonly number[];
type Floats = Tensor | ArrayLike<number>;
type SizeList = number | readonly (number | null)[];

/** torch.ao.nn.quantized.functional.max_pool1d on (C, L) or (N, C, L). */
export function maxPool1d(x: QTensor, kernelSize: IntOrList, options?: MaxPoolOptions): QTensor {
  return planMaxPool(1, x, kernelSize, options).run();
}
/** maxPool1d off the event loop (libuv's pool): same bits; argument errors reject. */
export function maxPool1dAsync(x: QTensor, kernelSize: IntOrList, options?: MaxPoolOptions): Promise<QTensor> {
  return runAsync(maxPool1dAsync, () => planMaxPool(1, x, kernelSize, options));
}
/**
 * torch.ao.nn.quantized.functional.max_pool2d on (C, H, W) or (N, C, H, W); a channels_last input stays channels_last.
 *
 * @example
 * const y = qF.maxPool2d(x, 3, { stride: 2, padding: 1, ceilMode: true });
 */
export function maxPool2d(x: QTensor, kernelSize: IntOrList, options?: MaxPoolOptions): QTensor {
  return planMaxPool(2, x, kernelSize, options).run();
}
/** maxPool2d off the event loop (libuv's pool): same bits; argument errors reject. */
export function maxPool2dAsync(x: QTensor, kernelSize: IntOrList, options?: MaxPoolOptions): Promise<QTensor> {
  return runAsync(maxPool2dAsync, () => planMaxPool(2, x, kernelSize, options));
}
/** Beyond PyTorch (which has no quantized max_pool3d): max pooling over (C, D, H, W) or (N, C, D, H, W). */
export function maxPool3d(x: QTensor, kernelSize: IntOrList, options?: MaxPoolOptions): QTensor {
  return planMaxPool(3, x, kernelSize, options).run();
}
/** maxPool3d off the event loop (libuv's pool): same bits; argument errors reject. */
export function maxPool3dAsync(x: QTensor, kernelSize: IntOrList, options?: MaxPoolOptions): Promise<QTensor> {
  return runAsync(maxPool3dAsync, () => planMaxPool(3, x, kernelSize, options));
}
/** Average pooling over (C, L) or (N, C, L): torch's F.avg_pool1d, i.e. avg_pool2d on (N, C, 1, L). */
export function avgPool1d(x: QTensor, kernelSize: IntOrList, options?: AvgPoolOptions): QTensor {
  return planAvgPool(1, x, kernelSize, options).run();
}
/** avgPool1d off the event loop (libuv's pool): same bits; argument errors reject. */
export function avgPool1dAsync(x: QTensor, kernelSize: IntOrList, options?: AvgPoolOptions): Promise<QTensor> {
  return runAsync(avgPool1dAsync, () => planAvgPool(1, x, kernelSize, options));
}
/**
 * torch.ao.nn.quantized.functional.avg_pool2d: output qparams are the input's.
 *
 * @example
 * const y = qF.avgPool2d(x, 2, { countIncludePad: false, divisorOverride: 3 });
 */
export function avgPool2d(x: QTensor, kernelSize: IntOrList, options?: AvgPoolOptions): QTensor {
  return planAvgPool(2, x, kernelSize, options).run();
}
/** avgPool2d off the event loop (libuv's pool): same bits; argument errors reject. */
export function avgPool2dAsync(x: QTensor, kernelSize: IntOrList, options?: AvgPoolOptions): Promise<QTensor> {
  return runAsync(avgPool2dAsync, () => planAvgPool(2, x, kernelSize, options));
}
/** torch.ao.nn.quantized.functional.avg_pool3d: computed channels last (channels_last_3d output), as torch does. */
export function avgPool3d(x: QTensor, kernelSize: IntOrList, options?: AvgPoolOptions): QTensor {
  return planAvgPool(3, x, kernelSize, options).run();
}
/** avgPool3d off the event loop (libuv's pool): same bits; argument errors reject. */
export function avgPool3dAsync(x: QTensor, kernelSize: IntOrList, options?: AvgPoolOptions): Promise<QTensor> {
  return runAsync(avgPool3dAsync, () => planAvgPool(3, x, kernelSize, options));
}
/** Adaptive average pooling over (C, L) or (N, C, L): torch's F.adaptive_avg_pool1d (the 2-D op on (N, C, 1, L)). */
export function adaptiveAvgPool1d(x: QTensor, outputSize: SizeList): QTensor {
  return planAdaptiveAvgPool(1, x, outputSize).run();
}
/** adaptiveAvgPool1d off the event loop (libuv's pool): same bits; argument errors reject. */
export function adaptiveAvgPool1dAsync(x: QTensor, outputSize: SizeList): Promise<QTensor> {
  return runAsync(adaptiveAvgPool1dAsync, () => planAdaptiveAvgPool(1, x, outputSize));
}
/** torch.ao.nn.quantized.functional.adaptive_avg_pool2d; null in outputSize keeps that input size. */
export function adaptiveAvgPool2d(x: QTensor, outputSize: SizeList): QTensor {
  return planAdaptiveAvgPool(2, x, outputSize).run();
}
/** adaptiveAvgPool2d off the event loop (libuv's pool): same bits; argument errors reject. */
export function adaptiveAvgPool2dAsync(x: QTensor, outputSize: SizeList): Promise<QTensor> {
  return runAsync(adaptiveAvgPool2dAsync, () => planAdaptiveAvgPool(2, x, outputSize));
}
/** torch.ao.nn.quantized.functional.adaptive_avg_pool3d. */
export function adaptiveAvgPool3d(x: QTensor, outputSize: SizeList): QTensor {
  return planAdaptiveAvgPool(3, x, outputSize).run();
}
/** adaptiveAvgPool3d off the event loop (libuv's pool): same bits; argument errors reject. */
export function adaptiveAvgPool3dAsync(x: QTensor, outputSize: SizeList): Promise<QTensor> {
  return runAsync(adaptiveAvgPool3dAsync, () => planAdaptiveAvgPool(3, x, outputSize));
}
/** Beyond PyTorch: adaptive max pooling over (C, L) or (N, C, L) (no indices). */
export function adaptiveMaxPool1d(x: QTensor, outputSize: SizeList, options?: { returnIndices?: boolean }): QTensor {
  return planAdaptiveMaxPool(1, x, outputSize, options).run();
}
/** adaptiveMaxPool1d off the event loop (libuv's pool): same bits; argument errors reject. */
export function adaptiveMaxPool1dAsync(x: QTensor, outputSize: SizeList, options?: { returnIndices?: boolean }): Promise<QTensor> {
  return runAsync(adaptiveMaxPool1dAsync, () => planAdaptiveMaxPool(1, x, outputSize, options));
}
/** Beyond PyTorch: adaptive max pooling over (C, H, W) or (N, C, H, W) (no indices). */
export function adaptiveMaxPool2d(x: QTensor, outputSize: SizeList, options?: { returnIndices?: boolean }): QTensor {
  return planAdaptiveMaxPool(2, x, outputSize, options).run();
}
/** adaptiveMaxPool2d off the event loop (libuv's pool): same bits; argument errors reject. */
export function adaptiveMaxPool2dAsync(x: QTensor, outputSize: SizeList, options?: { returnIndices?: boolean }): Promise<QTensor> {
  return runAsync(adaptiveMaxPool2dAsync, () => planAdaptiveMaxPool(2, x, outputSize, options));
}

/**
 * torch.ao.nn.quantized.functional.interpolate: 'nearest' (3-D, 4-D, 5-D inputs) or 'bilinear'
 * (4-D), by `size` or `scaleFactor`; output qparams are the input's.
 *
 * @example
 * const y = qF.interpolate(x, { scaleFactor: 2, mode: 'bilinear', alignCorners: false });
 */
export function interpolate(x: QTensor, options?: InterpolateOptions): QTensor {
  return planInterpolate(x, options).run();
}
/** interpolate off the event loop: same bits. */
export function interpolateAsync(x: QTensor, options?: InterpolateOptions): Promise<QTensor> {
  return runAsync(interpolateAsync, () => planInterpolate(x, options));
}
/** torch.ao.nn.quantized.functional.upsample (deprecated in torch): interpolate. */
export function upsample(x: QTensor, options?: InterpolateOptions): QTensor {
  return planInterpolate(x, options).run();
}
/** upsample off the event loop (libuv's pool): same bits; argument errors reject. */
export function upsampleAsync(x: QTensor, options?: InterpolateOptions): Promise<QTensor> {
  return runAsync(upsampleAsync, () => planInterpolate(x, options));
}
function upsampleBilinearPlan(x: QTensor, options?: { size?: IntOrList | null; scaleFactor?: number | readonly number[] | null }): OpPlan<QTensor> {
  const o = validate.options(options, 'options', ['size', 'scaleFactor']);
  return planInterpolate(x, { ...o, mode: 'bilinear', alignCorners: true });
}

/** torch.ao.nn.quantized.functional.upsample_bilinear: bilinear with alignCorners true. */
export function upsampleBilinear(x: QTensor, options?: { size?: IntOrList | null; scaleFactor?: number | readonly number[] | null }): QTensor {
  return upsampleBilinearPlan(x, options).run();
}
/** upsampleBilinear off the event loop (libuv's pool): same bits; argument errors reject. */
export function upsampleBilinearAsync(x: QTensor, options?: { size?: IntOrList | null; scaleFactor?: number | readonly number[] | null }): Promise<QTensor> {
  return runAsync(upsampleBilinearAsync, () => upsampleBilinearPlan(x, options));
}
function upsampleNearestPlan(x: QTensor, options?: { size?: IntOrList | null; scaleFactor?: number | readonly number[] | null }): OpPlan<QTensor> {
  const o = validate.options(options, 'options', ['size', 'scaleFactor']);
  return planInterpolate(x, { ...o, mode: 'nearest' });
}

/** torch.ao.nn.quantized.functional.upsample_nearest: nearest. */
export function upsampleNearest(x: QTensor, options?: { size?: IntOrList | null; scaleFactor?: number | readonly number[] | null }): QTensor {
  return upsampleNearestPlan(x, options).run();
}
/** upsampleNearest off the event loop (libuv's pool): same bits; argument errors reject. */
export function upsampleNearestAsync(x: QTensor, options?: { size?: IntOrList | null; scaleFactor?: number | readonly number[] | null }): Promise<QTensor> {
  return runAsync(upsampleNearestAsync, () => upsampleNearestPlan(x, options));
}

// ---- ops.quantized (torch.ops.quantized) ---------------------------------------------------

/** torch.ops.quantized.batch_norm1d (beyond torch 1.13's engines): (N, C) or (N, C, L). */
export function batchNorm1d(x: QTensor, weight: Floats | null, bias: Floats | null, mean: Floats, variance: Floats, eps: number, outputScale: number, outputZeroPoint: number): QTensor {
  return planBatchNorm([2, 3], x, weight, bias, mean, variance, eps, outputScale, outputZeroPoint, false).run();
}
/** batchNorm1d off the event loop (libuv's pool): same bits; argument errors reject. */
export function batchNorm1dAsync(x: QTensor, weight: Floats | null, bias: Floats | null, mean: Floats, variance: Floats, eps: number, outputScale: number, outputZeroPoint: number): Promise<QTensor> {
  return runAsync(batchNorm1dAsync, () => planBatchNorm([2, 3], x, weight, bias, mean, variance, eps, outputScale, outputZeroPoint, false));
}
/** torch.ops.quantized.batch_norm2d: (N, C, H, W); the output is channels_last, as in torch. */
export function batchNorm2d(x: QTensor, weight: Floats | null, bias: Floats | null, mean: Floats, variance: Floats, eps: number, outputScale: number, outputZeroPoint: number): QTensor {
  return planBatchNorm([4], x, weight, bias, mean, variance, eps, outputScale, outputZeroPoint, false).run();
}
/** batchNorm2d off the event loop (libuv's pool): same bits; argument errors reject. */
export function batchNorm2dAsync(x: QTensor, weight: Floats | null, bias: Floats | null, mean: Floats, variance: Floats, eps: number, outputScale: number, outputZeroPoint: number): Promise<QTensor> {
  return runAsync(batchNorm2dAsync, () => planBatchNorm([4], x, weight, bias, mean, variance, eps, outputScale, outputZeroPoint, false));
}
/** torch.ops.quantized.batch_norm3d: (N, C, D, H, W); the output is channels_last_3d. */
export function batchNorm3d(x: QTensor, weight: Floats | null, bias: Floats | null, mean: Floats, variance: Floats, eps: number, outputScale: number, outputZeroPoint: number): QTensor {
  return planBatchNorm([5], x, weight, bias, mean, variance, eps, outputScale, outputZeroPoint, false).run();
}
/** batchNorm3d off the event loop (libuv's pool): same bits; argument errors reject. */
export function batchNorm3dAsync(x: QTensor, weight: Floats | null, bias: Floats | null, mean: Floats, variance: Floats, eps: number, outputScale: number, outputZeroPoint: number): Promise<QTensor> {
  return runAsync(batchNorm3dAsync, () => planBatchNorm([5], x, weight, bias, mean, variance, eps, outputScale, outputZeroPoint, false));
}
/** torch.ops.quantized.batch_norm2d_relu. */
export function batchNorm2dRelu(x: QTensor, weight: Floats | null, bias: Floats | null, mean: Floats, variance: Floats, eps: number, outputScale: number, outputZeroPoint: number): QTensor {
  return planBatchNorm([4], x, weight, bias, mean, variance, eps, outputScale, outputZeroPoint, true).run();
}
/** batchNorm2dRelu off the event loop (libuv's pool): same bits; argument errors reject. */
export function batchNorm2dReluAsync(x: QTensor, weight: Floats | null, bias: Floats | null, mean: Floats, variance: Floats, eps: number, outputScale: number, outputZeroPoint: number): Promise<QTensor> {
  return runAsync(batchNorm2dReluAsync, () => planBatchNorm([4], x, weight, bias, mean, variance, eps, outputScale, outputZeroPoint, true));
}
/** torch.ops.quantized.batch_norm3d_relu. */
export function batchNorm3dRelu(x: QTensor, weight: Floats | null, bias: Floats | null, mean: Floats, variance: Floats, eps: number, outputScale: number, outputZeroPoint: number): QTensor {
  return planBatchNorm([5], x, weight, bias, mean, variance, eps, outputScale, outputZeroPoint, true).run();
}
/** batchNorm3dRelu off the event loop (libuv's pool): same bits; argument errors reject. */
export function batchNorm3dReluAsync(x: QTensor, weight: Floats | null, bias: Floats | null, mean: Floats, variance: Floats, eps: number, outputScale: number, outputZeroPoint: number): Promise<QTensor> {
  return runAsync(batchNorm3dReluAsync, () => planBatchNorm([5], x, weight, bias, mean, variance, eps, outputScale, outputZeroPoint, true));
}
/** torch.ops.quantized.layer_norm(input, normalized_shape, weight, bias, eps, output_scale, output_zero_point). */
export function layerNorm(x: QTensor, normalizedShape: IntOrList, weight: Floats | null, bias: Floats | null, eps: number, outputScale: number, outputZeroPoint: number): QTensor {
  return planLayerNorm(x, normalizedShape, weight, bias, eps, outputScale, outputZeroPoint).run();
}
/** layerNorm off the event loop (libuv's pool): same bits; argument errors reject. */
export function layerNormAsync(x: QTensor, normalizedShape: IntOrList, weight: Floats | null, bias: Floats | null, eps: number, outputScale: number, outputZeroPoint: number): Promise<QTensor> {
  return runAsync(layerNormAsync, () => planLayerNorm(x, normalizedShape, weight, bias, eps, outputScale, outputZeroPoint));
}
/** torch.ops.quantized.group_norm(input, num_groups, weight, bias, eps, output_scale, output_zero_point). */
export function groupNorm(x: QTensor, numGroups: number, weight: Floats | null, bias: Floats | null, eps: number, outputScale: number, outputZeroPoint: number): QTensor {
  return planGroupNorm(x, numGroups, weight, bias, eps, outputScale, outputZeroPoint).run();
}
/** groupNorm off the event loop (libuv's pool): same bits; argument errors reject. */
export function groupNormAsync(x: QTensor, numGroups: number, weight: Floats | null, bias: Floats | null, eps: number, outputScale: number, outputZeroPoint: number): Promise<QTensor> {
  return runAsync(groupNormAsync, () => planGroupNorm(x, numGroups, weight, bias, eps, outputScale, outputZeroPoint));
}
function instanceNormPlan(x: QTensor, weight: Floats | null, bias: Floats | null, eps: number, outputScale: number, outputZeroPoint: number): OpPlan<QTensor> {
  const channels = x instanceof QTensor && x.dim() >= 2 ? x.shape[1] : 1;
  return planGroupNorm(x, channels, weight, bias, eps, outputScale, outputZeroPoint, 3);
}

/** torch.ops.quantized.instance_norm(input, weight, bias, eps, output_scale, output_zero_point): group norm with one group per channel. */
export function instanceNorm(x: QTensor, weight: Floats | null, bias: Floats | null, eps: number, outputScale: number, outputZeroPoint: number): QTensor {
  return instanceNormPlan(x, weight, bias, eps, outputScale, outputZeroPoint).run();
}
/** instanceNorm off the event loop (libuv's pool): same bits; argument errors reject. */
export function instanceNormAsync(x: QTensor, weight: Floats | null, bias: Floats | null, eps: number, outputScale: number, outputZeroPoint: number): Promise<QTensor> {
  return runAsync(instanceNormAsync, () => instanceNormPlan(x, weight, bias, eps, outputScale, outputZeroPoint));
}
