// The pool-norm family's qF members: pooling and resampling (sync and Async).

import { OpPlan, planAsync } from '../plan';
import { QTensor } from '../qtensor';
import * as validate from '../validate';
import {
  AvgPoolOptions,
  InterpolateOptions,
  MaxPoolOptions,
  planAdaptiveAvgPool,
  planAdaptiveMaxPool,
  planAvgPool,
  planInterpolate,
  planMaxPool,
} from './plan';

type IntOrList = number | readonly number[];
type SizeList = number | readonly (number | null)[];

/** torch.ao.nn.quantized.functional.max_pool1d on (C, L) or (N, C, L). */
export function maxPool1d(x: QTensor, kernelSize: IntOrList, options?: MaxPoolOptions): QTensor {
  return planMaxPool(1, x, kernelSize, options).run();
}
/** maxPool1d off the event loop (qkernels' async job queue): same bits; argument errors reject. */
export function maxPool1dAsync(x: QTensor, kernelSize: IntOrList, options?: MaxPoolOptions): Promise<QTensor> {
  return planAsync(maxPool1dAsync, () => planMaxPool(1, x, kernelSize, options));
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
/** maxPool2d off the event loop (qkernels' async job queue): same bits; argument errors reject. */
export function maxPool2dAsync(x: QTensor, kernelSize: IntOrList, options?: MaxPoolOptions): Promise<QTensor> {
  return planAsync(maxPool2dAsync, () => planMaxPool(2, x, kernelSize, options));
}
/** Beyond PyTorch (which has no quantized max_pool3d): max pooling over (C, D, H, W) or (N, C, D, H, W). */
export function maxPool3d(x: QTensor, kernelSize: IntOrList, options?: MaxPoolOptions): QTensor {
  return planMaxPool(3, x, kernelSize, options).run();
}
/** maxPool3d off the event loop (qkernels' async job queue): same bits; argument errors reject. */
export function maxPool3dAsync(x: QTensor, kernelSize: IntOrList, options?: MaxPoolOptions): Promise<QTensor> {
  return planAsync(maxPool3dAsync, () => planMaxPool(3, x, kernelSize, options));
}
/** Average pooling over (C, L) or (N, C, L): torch's F.avg_pool1d, i.e. avg_pool2d on (N, C, 1, L). */
export function avgPool1d(x: QTensor, kernelSize: IntOrList, options?: AvgPoolOptions): QTensor {
  return planAvgPool(1, x, kernelSize, options).run();
}
/** avgPool1d off the event loop (qkernels' async job queue): same bits; argument errors reject. */
export function avgPool1dAsync(x: QTensor, kernelSize: IntOrList, options?: AvgPoolOptions): Promise<QTensor> {
  return planAsync(avgPool1dAsync, () => planAvgPool(1, x, kernelSize, options));
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
/** avgPool2d off the event loop (qkernels' async job queue): same bits; argument errors reject. */
export function avgPool2dAsync(x: QTensor, kernelSize: IntOrList, options?: AvgPoolOptions): Promise<QTensor> {
  return planAsync(avgPool2dAsync, () => planAvgPool(2, x, kernelSize, options));
}
/** torch.ao.nn.quantized.functional.avg_pool3d: computed channels last (channels_last_3d output), as torch does. */
export function avgPool3d(x: QTensor, kernelSize: IntOrList, options?: AvgPoolOptions): QTensor {
  return planAvgPool(3, x, kernelSize, options).run();
}
/** avgPool3d off the event loop (qkernels' async job queue): same bits; argument errors reject. */
export function avgPool3dAsync(x: QTensor, kernelSize: IntOrList, options?: AvgPoolOptions): Promise<QTensor> {
  return planAsync(avgPool3dAsync, () => planAvgPool(3, x, kernelSize, options));
}
/** Adaptive average pooling over (C, L) or (N, C, L): torch's F.adaptive_avg_pool1d (the 2-D op on (N, C, 1, L)). */
export function adaptiveAvgPool1d(x: QTensor, outputSize: SizeList): QTensor {
  return planAdaptiveAvgPool(1, x, outputSize).run();
}
/** adaptiveAvgPool1d off the event loop (qkernels' async job queue): same bits; argument errors reject. */
export function adaptiveAvgPool1dAsync(x: QTensor, outputSize: SizeList): Promise<QTensor> {
  return planAsync(adaptiveAvgPool1dAsync, () => planAdaptiveAvgPool(1, x, outputSize));
}
/** torch.ao.nn.quantized.functional.adaptive_avg_pool2d; null in outputSize keeps that input size. */
export function adaptiveAvgPool2d(x: QTensor, outputSize: SizeList): QTensor {
  return planAdaptiveAvgPool(2, x, outputSize).run();
}
/** adaptiveAvgPool2d off the event loop (qkernels' async job queue): same bits; argument errors reject. */
export function adaptiveAvgPool2dAsync(x: QTensor, outputSize: SizeList): Promise<QTensor> {
  return planAsync(adaptiveAvgPool2dAsync, () => planAdaptiveAvgPool(2, x, outputSize));
}
/** torch.ao.nn.quantized.functional.adaptive_avg_pool3d. */
export function adaptiveAvgPool3d(x: QTensor, outputSize: SizeList): QTensor {
  return planAdaptiveAvgPool(3, x, outputSize).run();
}
/** adaptiveAvgPool3d off the event loop (qkernels' async job queue): same bits; argument errors reject. */
export function adaptiveAvgPool3dAsync(x: QTensor, outputSize: SizeList): Promise<QTensor> {
  return planAsync(adaptiveAvgPool3dAsync, () => planAdaptiveAvgPool(3, x, outputSize));
}
/** Beyond PyTorch: adaptive max pooling over (C, L) or (N, C, L) (no indices). */
export function adaptiveMaxPool1d(x: QTensor, outputSize: SizeList, options?: { returnIndices?: boolean }): QTensor {
  return planAdaptiveMaxPool(1, x, outputSize, options).run();
}
/** adaptiveMaxPool1d off the event loop (qkernels' async job queue): same bits; argument errors reject. */
export function adaptiveMaxPool1dAsync(x: QTensor, outputSize: SizeList, options?: { returnIndices?: boolean }): Promise<QTensor> {
  return planAsync(adaptiveMaxPool1dAsync, () => planAdaptiveMaxPool(1, x, outputSize, options));
}
/** Beyond PyTorch: adaptive max pooling over (C, H, W) or (N, C, H, W) (no indices). */
export function adaptiveMaxPool2d(x: QTensor, outputSize: SizeList, options?: { returnIndices?: boolean }): QTensor {
  return planAdaptiveMaxPool(2, x, outputSize, options).run();
}
/** adaptiveMaxPool2d off the event loop (qkernels' async job queue): same bits; argument errors reject. */
export function adaptiveMaxPool2dAsync(x: QTensor, outputSize: SizeList, options?: { returnIndices?: boolean }): Promise<QTensor> {
  return planAsync(adaptiveMaxPool2dAsync, () => planAdaptiveMaxPool(2, x, outputSize, options));
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
  return planAsync(interpolateAsync, () => planInterpolate(x, options));
}
/** torch.ao.nn.quantized.functional.upsample (deprecated in torch): interpolate. */
export function upsample(x: QTensor, options?: InterpolateOptions): QTensor {
  return planInterpolate(x, options).run();
}
/** upsample off the event loop (qkernels' async job queue): same bits; argument errors reject. */
export function upsampleAsync(x: QTensor, options?: InterpolateOptions): Promise<QTensor> {
  return planAsync(upsampleAsync, () => planInterpolate(x, options));
}
function upsampleBilinearPlan(x: QTensor, options?: { size?: IntOrList | null; scaleFactor?: number | readonly number[] | null }): OpPlan<QTensor> {
  const o = validate.options(options, 'options', ['size', 'scaleFactor']);
  return planInterpolate(x, { ...o, mode: 'bilinear', alignCorners: true });
}

/** torch.ao.nn.quantized.functional.upsample_bilinear: bilinear with alignCorners true. */
export function upsampleBilinear(x: QTensor, options?: { size?: IntOrList | null; scaleFactor?: number | readonly number[] | null }): QTensor {
  return upsampleBilinearPlan(x, options).run();
}
/** upsampleBilinear off the event loop (qkernels' async job queue): same bits; argument errors reject. */
export function upsampleBilinearAsync(x: QTensor, options?: { size?: IntOrList | null; scaleFactor?: number | readonly number[] | null }): Promise<QTensor> {
  return planAsync(upsampleBilinearAsync, () => upsampleBilinearPlan(x, options));
}
function upsampleNearestPlan(x: QTensor, options?: { size?: IntOrList | null; scaleFactor?: number | readonly number[] | null }): OpPlan<QTensor> {
  const o = validate.options(options, 'options', ['size', 'scaleFactor']);
  return planInterpolate(x, { ...o, mode: 'nearest' });
}

/** torch.ao.nn.quantized.functional.upsample_nearest: nearest. */
export function upsampleNearest(x: QTensor, options?: { size?: IntOrList | null; scaleFactor?: number | readonly number[] | null }): QTensor {
  return upsampleNearestPlan(x, options).run();
}
/** upsampleNearest off the event loop (qkernels' async job queue): same bits; argument errors reject. */
export function upsampleNearestAsync(x: QTensor, options?: { size?: IntOrList | null; scaleFactor?: number | readonly number[] | null }): Promise<QTensor> {
  return planAsync(upsampleNearestAsync, () => upsampleNearestPlan(x, options));
}
