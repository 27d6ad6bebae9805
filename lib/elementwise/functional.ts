// The elementwise family's qF members (torch.ao.nn.quantized.functional): the quantized activations, sync and Async.
//
// Each function checks its options and runs the op's plan (plan.ts: a fixed-qparams map
// through a 256-entry table), now or off the event loop, in place when asked.

import { OpPlan, planAsync } from '../plan';
import { QTensor } from '../qtensor';
import * as validate from '../validate';
import { optionalNumber, planClamp, planElu, planHardsigmoid, planHardswish, planLeakyRelu, planRelu, planSigmoid, planTanh, planThreshold, writeBack } from './plan';

function inplaceOption(value: unknown): boolean {
  return value === undefined ? false : validate.boolean(value, 'options.inplace');
}

/** Runs a plan now, or in place (torch's inplace=True) when asked. */
function finish(input: QTensor, plan: OpPlan<QTensor>, inplace: boolean): QTensor {
  const result = plan.run();
  return inplace ? writeBack(input, result) : result;
}

/** finish off the event loop: the plan runs on qkernels' async job queue, then inplace writes the result back. */
function finishAsync(above: Function, input: QTensor, plan: () => [OpPlan<QTensor>, boolean]): Promise<QTensor> {
  let inplace = false;
  return planAsync(above, () => {
    const [made, writes] = plan();
    inplace = writes;
    return made;
  }).then((result) => (inplace ? writeBack(input, result) : result));
}

function clampBound(value: unknown, parameter: string): number | null {
  if (value === null || value === undefined) return null;
  return validate.finiteNumber(value, parameter);
}

// ---- qF --------------------------------------------------------------------------------------------

/** torch.nn.functional.relu on a quantized tensor: max(q, zeroPoint), the input's qparams. */
export function relu(input: QTensor, options?: { inplace?: boolean }): QTensor {
  const o = validate.options(options, 'options', ['inplace']);
  return finish(input, planRelu(input), inplaceOption(o.inplace));
}

/** relu off the event loop (qkernels' async job queue): same bits; argument errors reject. */
export function reluAsync(input: QTensor, options?: { inplace?: boolean }): Promise<QTensor> {
  return finishAsync(reluAsync, input, () => {
    const o = validate.options(options, 'options', ['inplace']);
    return [planRelu(input), inplaceOption(o.inplace)];
  });
}

/** torch.nn.functional.relu6 on a quantized tensor: clamp to [0, 6] in the quantized domain, the input's qparams. */
export function relu6(input: QTensor, options?: { inplace?: boolean }): QTensor {
  const o = validate.options(options, 'options', ['inplace']);
  return finish(input, planClamp(input, 0, 6), inplaceOption(o.inplace));
}

/** relu6 off the event loop (qkernels' async job queue): same bits; argument errors reject. */
export function relu6Async(input: QTensor, options?: { inplace?: boolean }): Promise<QTensor> {
  return finishAsync(relu6Async, input, () => {
    const o = validate.options(options, 'options', ['inplace']);
    return [planClamp(input, 0, 6), inplaceOption(o.inplace)];
  });
}

/** qF.hardtanh: clamp to [minVal, maxVal] (defaults -1, 1) in the quantized domain, the input's qparams. */
export function hardtanh(input: QTensor, options?: { minVal?: number; maxVal?: number; inplace?: boolean }): QTensor {
  const [plan, inplace] = hardtanhPlan(input, options);
  return finish(input, plan, inplace);
}

function hardtanhPlan(input: QTensor, options: unknown): [OpPlan<QTensor>, boolean] {
  const o = validate.options(options, 'options', ['minVal', 'maxVal', 'inplace']);
  const min = optionalNumber(o.minVal, 'options.minVal', -1);
  const max = optionalNumber(o.maxVal, 'options.maxVal', 1);
  return [planClamp(input, min, max), inplaceOption(o.inplace)];
}

/** hardtanh off the event loop (qkernels' async job queue): same bits; argument errors reject. */
export function hardtanhAsync(input: QTensor, options?: { minVal?: number; maxVal?: number; inplace?: boolean }): Promise<QTensor> {
  return finishAsync(hardtanhAsync, input, () => hardtanhPlan(input, options));
}

function clampPlan(input: QTensor, min: number | null, max: number | null): OpPlan<QTensor> {
  const lo = clampBound(min, 'min');
  const hi = clampBound(max, 'max');
  if (lo === null && hi === null) throw validate.invalidType("number for at least one of min and max (torch: \"At least one of 'min' or 'max' must not be None\")", 'min', min);
  return planClamp(input, lo, hi);
}

/** qF.clamp: clamp to [min, max] (either may be null) in the quantized domain, the input's qparams. */
export function clamp(input: QTensor, min: number | null, max: number | null): QTensor {
  return clampPlan(input, min, max).run();
}

/** clamp off the event loop (qkernels' async job queue): same bits; argument errors reject. */
export function clampAsync(input: QTensor, min: number | null, max: number | null): Promise<QTensor> {
  return planAsync(clampAsync, () => clampPlan(input, min, max));
}

/** qF.hardswish: x * relu6(x + 3) / 6, output quantized with (scale, zeroPoint). */
export function hardswish(input: QTensor, scale: number, zeroPoint: number): QTensor {
  return planHardswish(input, scale, zeroPoint).run();
}

/** hardswish off the event loop (qkernels' async job queue): same bits; argument errors reject. */
export function hardswishAsync(input: QTensor, scale: number, zeroPoint: number): Promise<QTensor> {
  return planAsync(hardswishAsync, () => planHardswish(input, scale, zeroPoint));
}

function eluPlan(input: QTensor, scale: number, zeroPoint: number, options?: { alpha?: number }): OpPlan<QTensor> {
  const o = validate.options(options, 'options', ['alpha']);
  return planElu(input, scale, zeroPoint, optionalNumber(o.alpha, 'options.alpha', 1), 1, 1);
}

/** qF.elu: x >= 0 ? x : alpha * (exp(x) - 1) (alpha default 1), output quantized with (scale, zeroPoint); contiguous output, as torch. */
export function elu(input: QTensor, scale: number, zeroPoint: number, options?: { alpha?: number }): QTensor {
  return eluPlan(input, scale, zeroPoint, options).run();
}

/** elu off the event loop (qkernels' async job queue): same bits; argument errors reject. */
export function eluAsync(input: QTensor, scale: number, zeroPoint: number, options?: { alpha?: number }): Promise<QTensor> {
  return planAsync(eluAsync, () => eluPlan(input, scale, zeroPoint, options));
}

function celuPlan(input: QTensor, scale: number, zeroPoint: number, options?: { alpha?: number }): OpPlan<QTensor> {
  const o = validate.options(options, 'options', ['alpha']);
  const alpha = optionalNumber(o.alpha, 'options.alpha', 1);
  if (alpha === 0) throw validate.invalidRange('non-zero number (celu divides by alpha)', 'options.alpha', alpha);
  return planElu(input, scale, zeroPoint, alpha, 1, 1 / alpha);
}

/** qF.celu: max(0, x) + min(0, alpha * (exp(x / alpha) - 1)) (alpha default 1, not 0), output quantized with (scale, zeroPoint). */
export function celu(input: QTensor, scale: number, zeroPoint: number, options?: { alpha?: number }): QTensor {
  return celuPlan(input, scale, zeroPoint, options).run();
}

/** celu off the event loop (qkernels' async job queue): same bits; argument errors reject. */
export function celuAsync(input: QTensor, scale: number, zeroPoint: number, options?: { alpha?: number }): Promise<QTensor> {
  return planAsync(celuAsync, () => celuPlan(input, scale, zeroPoint, options));
}

/**
 * qF.leaky_relu: x > 0 ? x : negativeSlope * x (default 0.01). With scale and zeroPoint the
 * output is requantized to them (and, as in torch, contiguous); otherwise it keeps the input's qparams.
 */
export function leakyRelu(
  input: QTensor,
  options?: { negativeSlope?: number; inplace?: boolean; scale?: number; zeroPoint?: number },
): QTensor {
  const [plan, inplace] = leakyReluPlan(input, options);
  return finish(input, plan, inplace);
}

function leakyReluPlan(input: QTensor, options: unknown): [OpPlan<QTensor>, boolean] {
  const o = validate.options(options, 'options', ['negativeSlope', 'inplace', 'scale', 'zeroPoint']);
  const inplace = inplaceOption(o.inplace);
  if (inplace && o.scale !== undefined) throw validate.invalidRange('false when scale is given (cannot rescale in place)', 'options.inplace', true);
  return [planLeakyRelu(input, optionalNumber(o.negativeSlope, 'options.negativeSlope', 0.01), o.scale, o.zeroPoint, 'input', true), inplace];
}

/** leakyRelu off the event loop (qkernels' async job queue): same bits; argument errors reject. */
export function leakyReluAsync(
  input: QTensor,
  options?: { negativeSlope?: number; inplace?: boolean; scale?: number; zeroPoint?: number },
): Promise<QTensor> {
  return finishAsync(leakyReluAsync, input, () => leakyReluPlan(input, options));
}

function hardsigmoidPlan(input: QTensor, options?: { inplace?: boolean }): OpPlan<QTensor> {
  const o = validate.options(options, 'options', ['inplace']);
  if (inplaceOption(o.inplace)) {
    throw validate.invalidRange('false (the output qparams differ from the input\'s, so it cannot be written in place)', 'options.inplace', true);
  }
  return planHardsigmoid(input);
}

/** qF.hardsigmoid: relu6(x + 3) / 6, output qparams fixed by torch (scale 1/256; zero point 0 quint8, -128 qint8). */
export function hardsigmoid(input: QTensor, options?: { inplace?: boolean }): QTensor {
  return hardsigmoidPlan(input, options).run();
}

/** hardsigmoid off the event loop (qkernels' async job queue): same bits; argument errors reject. */
export function hardsigmoidAsync(input: QTensor, options?: { inplace?: boolean }): Promise<QTensor> {
  return planAsync(hardsigmoidAsync, () => hardsigmoidPlan(input, options));
}

/** torch.sigmoid on a quantized tensor: output qparams fixed by torch (scale 1/256; zero point 0 quint8, -128 qint8). */
export function sigmoid(input: QTensor): QTensor {
  return planSigmoid(input).run();
}

/** sigmoid off the event loop (qkernels' async job queue): same bits; argument errors reject. */
export function sigmoidAsync(input: QTensor): Promise<QTensor> {
  return planAsync(sigmoidAsync, () => planSigmoid(input));
}

/** torch.tanh on a quantized tensor: output qparams fixed by torch (scale 2/256; zero point 128 quint8, 0 qint8). */
export function tanh(input: QTensor): QTensor {
  return planTanh(input).run();
}

/** tanh off the event loop (qkernels' async job queue): same bits; argument errors reject. */
export function tanhAsync(input: QTensor): Promise<QTensor> {
  return planAsync(tanhAsync, () => planTanh(input));
}

/** qF.threshold: x > threshold ? x : value, the input's qparams. */
export function threshold(input: QTensor, threshold: number, value: number): QTensor {
  return planThreshold(input, threshold, value).run();
}

/** threshold off the event loop (qkernels' async job queue): same bits; argument errors reject. */
export function thresholdAsync(input: QTensor, threshold: number, value: number): Promise<QTensor> {
  return planAsync(thresholdAsync, () => planThreshold(input, threshold, value));
}
