// torch.ops.quantized members of the elementwise family, in camelCase with torch's argument order.

import { OpPlan, atCallTime, planAsync } from '../plan';
import { QTensor } from '../qtensor';
import * as validate from '../validate';
import { optionalNumber, planClamp, planElu, planHardswish, planLeakyRelu, planSigmoid, planThreshold, writeBack } from './plan';
import { ADD, ADD_RELU, MUL, MUL_RELU, planAddScalar, planBinary, planMulScalar, quantizedCat } from './arithmetic';
import { quantizedMatmul } from './matmul';
import { quantizedPrelu, quantizedSoftmax } from './softmax';

/** quantized::add(qa, qb, scale, zero_point): (qa + qb) quantized with (scale, zeroPoint); broadcasting. */
export function add(qa: QTensor, qb: QTensor, scale: number, zeroPoint: number): QTensor {
  return planBinary(ADD, qa, qb, scale, zeroPoint).run();
}

/** add off the event loop (qkernels' async job queue): same bits; argument errors reject. */
export function addAsync(qa: QTensor, qb: QTensor, scale: number, zeroPoint: number): Promise<QTensor> {
  return planAsync(addAsync, () => planBinary(ADD, qa, qb, scale, zeroPoint));
}

/** quantized::add_relu: relu(qa + qb) quantized with (scale, zeroPoint). */
export function addRelu(qa: QTensor, qb: QTensor, scale: number, zeroPoint: number): QTensor {
  return planBinary(ADD_RELU, qa, qb, scale, zeroPoint).run();
}

/** addRelu off the event loop (qkernels' async job queue): same bits; argument errors reject. */
export function addReluAsync(qa: QTensor, qb: QTensor, scale: number, zeroPoint: number): Promise<QTensor> {
  return planAsync(addReluAsync, () => planBinary(ADD_RELU, qa, qb, scale, zeroPoint));
}

/** quantized::mul(qa, qb, scale, zero_point): qa * qb quantized with (scale, zeroPoint); broadcasting. */
export function mul(qa: QTensor, qb: QTensor, scale: number, zeroPoint: number): QTensor {
  return planBinary(MUL, qa, qb, scale, zeroPoint).run();
}

/** mul off the event loop (qkernels' async job queue): same bits; argument errors reject. */
export function mulAsync(qa: QTensor, qb: QTensor, scale: number, zeroPoint: number): Promise<QTensor> {
  return planAsync(mulAsync, () => planBinary(MUL, qa, qb, scale, zeroPoint));
}

/** quantized::mul_relu: relu(qa * qb) quantized with (scale, zeroPoint). */
export function mulRelu(qa: QTensor, qb: QTensor, scale: number, zeroPoint: number): QTensor {
  return planBinary(MUL_RELU, qa, qb, scale, zeroPoint).run();
}

/** mulRelu off the event loop (qkernels' async job queue): same bits; argument errors reject. */
export function mulReluAsync(qa: QTensor, qb: QTensor, scale: number, zeroPoint: number): Promise<QTensor> {
  return planAsync(mulReluAsync, () => planBinary(MUL_RELU, qa, qb, scale, zeroPoint));
}

/** quantized::add_scalar(qa, b): qa + b with output qparams chosen as torch chooses them. */
export function addScalar(qa: QTensor, b: number): QTensor {
  return planAddScalar(qa, b, false).run();
}

/** addScalar off the event loop (qkernels' async job queue): same bits; argument errors reject. */
export function addScalarAsync(qa: QTensor, b: number): Promise<QTensor> {
  return planAsync(addScalarAsync, () => planAddScalar(qa, b, false));
}

/** quantized::add_scalar_relu(qa, b). */
export function addScalarRelu(qa: QTensor, b: number): QTensor {
  return planAddScalar(qa, b, true).run();
}

/** addScalarRelu off the event loop (qkernels' async job queue): same bits; argument errors reject. */
export function addScalarReluAsync(qa: QTensor, b: number): Promise<QTensor> {
  return planAsync(addScalarReluAsync, () => planAddScalar(qa, b, true));
}

/** quantized::mul_scalar(qa, b): qa * b with output qparams chosen as torch chooses them. */
export function mulScalar(qa: QTensor, b: number): QTensor {
  return planMulScalar(qa, b, false).run();
}

/** mulScalar off the event loop (qkernels' async job queue): same bits; argument errors reject. */
export function mulScalarAsync(qa: QTensor, b: number): Promise<QTensor> {
  return planAsync(mulScalarAsync, () => planMulScalar(qa, b, false));
}

/** quantized::mul_scalar_relu(qa, b). */
export function mulScalarRelu(qa: QTensor, b: number): QTensor {
  return planMulScalar(qa, b, true).run();
}

/** mulScalarRelu off the event loop (qkernels' async job queue): same bits; argument errors reject. */
export function mulScalarReluAsync(qa: QTensor, b: number): Promise<QTensor> {
  return planAsync(mulScalarReluAsync, () => planMulScalar(qa, b, true));
}

/** quantized::cat(qx, dim, scale, zero_point): scale / zeroPoint null or undefined take qx[0]'s. */
export function cat(qx: QTensor[], dim: number, scale?: number | null, zeroPoint?: number | null): QTensor {
  return quantizedCat(qx, dim, scale, zeroPoint);
}

/**
 * cat as a Promise: computed now on the main thread (a copy with per-input requantization),
 * from the inputs as they are at call time; errors reject.
 */
export function catAsync(qx: QTensor[], dim: number, scale?: number | null, zeroPoint?: number | null): Promise<QTensor> {
  return atCallTime(() => quantizedCat(qx, dim, scale, zeroPoint));
}

/**
 * quantized::matmul(qa, qb, scale, zero_point): torch.matmul of the dequantized operands (1-D,
 * 2-D, batched with broadcasting) quantized with (scale, zeroPoint) in qa's dtype; within 1
 * quantum of torch (its sgemm's summation order).
 */
export function matmul(qa: QTensor, qb: QTensor, scale: number, zeroPoint: number): QTensor {
  return quantizedMatmul(qa, qb, scale, zeroPoint);
}

/** quantized::relu6(qx, inplace=False). */
export function relu6(qx: QTensor, options?: { inplace?: boolean }): QTensor {
  const o = validate.options(options, 'options', ['inplace']);
  const result = planClamp(qx, 0, 6, 'qx').run();
  return o.inplace !== undefined && validate.boolean(o.inplace, 'options.inplace') ? writeBack(qx, result) : result;
}

/** quantized::hardswish(input, output_scale, output_zero_point). */
export function hardswish(input: QTensor, outputScale: number, outputZeroPoint: number): QTensor {
  return planHardswish(input, outputScale, outputZeroPoint).run();
}

/** hardswish off the event loop (qkernels' async job queue): same bits; argument errors reject. */
export function hardswishAsync(input: QTensor, outputScale: number, outputZeroPoint: number): Promise<QTensor> {
  return planAsync(hardswishAsync, () => planHardswish(input, outputScale, outputZeroPoint));
}

function eluPlan(
  input: QTensor,
  outputScale: number,
  outputZeroPoint: number,
  options?: { alpha?: number; scale?: number; inputScale?: number },
): OpPlan<QTensor> {
  const o = validate.options(options, 'options', ['alpha', 'scale', 'inputScale']);
  const alpha = optionalNumber(o.alpha, 'options.alpha', 1);
  const coefficient = optionalNumber(o.scale, 'options.scale', 1);
  const inputScale = optionalNumber(o.inputScale, 'options.inputScale', 1);
  return planElu(input, outputScale, outputZeroPoint, alpha, coefficient, inputScale);
}

/**
 * quantized::elu(self, output_scale, output_zero_point, alpha=1, scale=1, input_scale=1): the
 * generalized ELU x >= 0 ? x * scale : (exp(x * inputScale) - 1) * alpha * scale.
 */
export function elu(
  input: QTensor,
  outputScale: number,
  outputZeroPoint: number,
  options?: { alpha?: number; scale?: number; inputScale?: number },
): QTensor {
  return eluPlan(input, outputScale, outputZeroPoint, options).run();
}

/** elu off the event loop (qkernels' async job queue): same bits; argument errors reject. */
export function eluAsync(
  input: QTensor,
  outputScale: number,
  outputZeroPoint: number,
  options?: { alpha?: number; scale?: number; inputScale?: number },
): Promise<QTensor> {
  return planAsync(eluAsync, () => eluPlan(input, outputScale, outputZeroPoint, options));
}

function celuPlan(input: QTensor, outputScale: number, outputZeroPoint: number, options?: { alpha?: number }): OpPlan<QTensor> {
  const o = validate.options(options, 'options', ['alpha']);
  const alpha = optionalNumber(o.alpha, 'options.alpha', 1);
  if (alpha === 0) throw validate.invalidRange('non-zero number (celu divides by alpha)', 'options.alpha', alpha);
  return planElu(input, outputScale, outputZeroPoint, alpha, 1, 1 / alpha);
}

/** quantized::celu(self, output_scale, output_zero_point, alpha=1). */
export function celu(input: QTensor, outputScale: number, outputZeroPoint: number, options?: { alpha?: number }): QTensor {
  return celuPlan(input, outputScale, outputZeroPoint, options).run();
}

/** celu off the event loop (qkernels' async job queue): same bits; argument errors reject. */
export function celuAsync(input: QTensor, outputScale: number, outputZeroPoint: number, options?: { alpha?: number }): Promise<QTensor> {
  return planAsync(celuAsync, () => celuPlan(input, outputScale, outputZeroPoint, options));
}

/** quantized::leaky_relu(qx, negative_slope, inplace, output_scale, output_zero_point). */
export function leakyRelu(qx: QTensor, negativeSlope: number, inplace: boolean, outputScale: number, outputZeroPoint: number): QTensor {
  validate.boolean(inplace, 'inplace');
  return planLeakyRelu(qx, validate.finiteNumber(negativeSlope, 'negativeSlope'), outputScale, outputZeroPoint, 'qx').run();
}

/** quantized::sigmoid(qx, output_scale, output_zero_point). */
export function sigmoid(qx: QTensor, outputScale: number, outputZeroPoint: number): QTensor {
  return planSigmoid(qx, outputScale, outputZeroPoint, 'qx').run();
}

/** sigmoid off the event loop (qkernels' async job queue): same bits; argument errors reject. */
export function sigmoidAsync(qx: QTensor, outputScale: number, outputZeroPoint: number): Promise<QTensor> {
  return planAsync(sigmoidAsync, () => planSigmoid(qx, outputScale, outputZeroPoint, 'qx'));
}

/** quantized::threshold(self, threshold, value). */
export function threshold(input: QTensor, threshold: number, value: number): QTensor {
  return planThreshold(input, threshold, value).run();
}

/** threshold off the event loop (qkernels' async job queue): same bits; argument errors reject. */
export function thresholdAsync(input: QTensor, threshold: number, value: number): Promise<QTensor> {
  return planAsync(thresholdAsync, () => planThreshold(input, threshold, value));
}

/** quantized::softmax(qx, dim, output_scale, output_zero_point). */
export function softmax(qx: QTensor, dim: number, outputScale: number, outputZeroPoint: number): QTensor {
  return quantizedSoftmax(qx, dim, outputScale, outputZeroPoint, 'qx');
}

/** quantized::prelu(self, weight, output_scale, output_zero_point). */
export function prelu(input: QTensor, weight: QTensor, outputScale: number, outputZeroPoint: number): QTensor {
  return quantizedPrelu(input, weight, outputScale, outputZeroPoint);
}
