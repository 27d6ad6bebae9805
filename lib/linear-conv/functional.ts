// qF.linear, qF.conv1d|2d|3d and qF.convTranspose1d|2d|3d: torch.ao.nn.quantized.functional (conv packs its weights per call; linear reuses a kept packing of the same values, linear-cache.ts).

import { OpPlan, planAsync } from '../plan';
import { QTensor, checkQTensor } from '../qtensor';
import { Tensor } from '../tensor';
import * as validate from '../validate';
import { Activation } from './native';
import { activeTracer } from '../jit/hook';
import { cachedLinear, packLinearCached } from './linear-cache';
import { checkQuint8, checkZeroPointU8, fastOutputQParams, planConv, planLinear, runLinearFast } from './plan';
import { ConvPadding, ConvSpec, IntOrTuple, PaddingMode, convSpec } from './params';
import { linearWeightDims, packConv, packLinear } from './weights';

export interface LinearOptions {
  /** Output scale; default: the input's. */
  scale?: number;
  /** Output zero point; default: the input's. */
  zeroPoint?: number;
}

/**
 * torch.ao.nn.quantized.functional.linear: y = x w^T + b on a quint8 input (N, *, in) with a
 * qint8 weight [out, in] (per tensor or per channel along axis 0) and an fp32 bias.
 *
 * @example
 * const y = qF.linear(qx, qw, bias, { scale: 0.05, zeroPoint: 64 });
 */
export function linear(input: QTensor, weight: QTensor, bias?: Tensor | null, options?: LinearOptions): QTensor {
  return linearFast(input, weight, bias, options) ?? linearPlan(input, weight, bias, options).run();
}

const LINEAR_OPTIONS = ['scale', 'zeroPoint'];

/**
 * linear without the plan when a kept packing holds this weight's and bias's values (see
 * linear-cache.ts) and the input and qparams suit runLinearFast; null for anything else, and
 * the caller takes linearPlan, whose checks give the errors. The one check that may throw here
 * is linearPlan's first, on the options, with the same error.
 */
function linearFast(input: unknown, weight: unknown, bias: unknown, options: unknown): QTensor | null {
  if (activeTracer() !== null) return null; // jit.trace records linearPlan's call
  const opts = validate.options(options, 'options', LINEAR_OPTIONS);
  if (!(input instanceof QTensor) || input.qscheme !== 'per_tensor_affine') return null;
  const scale = opts.scale === undefined ? input.qScale() : opts.scale;
  const zeroPoint = opts.zeroPoint === undefined ? input.qZeroPoint() : opts.zeroPoint;
  if (!fastOutputQParams(scale, zeroPoint)) return null;
  const kept = cachedLinear(weight, bias);
  if (kept === null) return null;
  return runLinearFast(kept.packed, input, scale as number, zeroPoint as number, Activation.None, 0, kept.fast);
}

/** linear off the event loop (qkernels' async job queue): same bits; argument errors reject. */
export function linearAsync(input: QTensor, weight: QTensor, bias?: Tensor | null, options?: LinearOptions): Promise<QTensor> {
  return planAsync(linearAsync, () => linearPlan(input, weight, bias, options));
}

function linearPlan(input: unknown, weight: unknown, bias: unknown, options: unknown): OpPlan<QTensor> {
  const opts = validate.options(options, 'options', LINEAR_OPTIONS);
  const q = checkQuint8(input, 'input');
  const [outFeatures, inFeatures] = linearWeightDims(weight);
  const scale = opts.scale === undefined ? q.qScale() : validate.scale(opts.scale, 'scale');
  const zeroPoint = opts.zeroPoint === undefined ? q.qZeroPoint() : checkZeroPointU8(opts.zeroPoint, 'zeroPoint');
  if (q.dim() < 1 || q.shape[q.dim() - 1] !== inFeatures) {
    throw validate.invalidRange(`QTensor whose last dim is the weight's inFeatures (${inFeatures})`, 'input', input);
  }
  // While tracing, a packing of its own, as before the cache: the plan keeps what it recorded.
  const packed = activeTracer() === null ? packLinearCached(weight, bias, outFeatures, inFeatures) : packLinear(weight, bias, outFeatures, inFeatures);
  return planLinear(packed, q, 'input', scale, zeroPoint, Activation.None);
}

export interface ConvOptions {
  stride?: IntOrTuple;
  padding?: ConvPadding;
  dilation?: IntOrTuple;
  groups?: number;
  paddingMode?: PaddingMode;
  /** Output scale (default 1). */
  scale?: number;
  /** Output zero point (default 0). */
  zeroPoint?: number;
  /** Output dtype: quint8, the only one torch supports. */
  dtype?: 'quint8';
}

export interface ConvTransposeOptions {
  stride?: IntOrTuple;
  padding?: IntOrTuple;
  outputPadding?: IntOrTuple;
  groups?: number;
  dilation?: IntOrTuple;
  scale?: number;
  zeroPoint?: number;
}

const CONV_OPTIONS = ['stride', 'padding', 'dilation', 'groups', 'paddingMode', 'scale', 'zeroPoint', 'dtype'];
const CONV_TRANSPOSE_OPTIONS = ['stride', 'padding', 'outputPadding', 'groups', 'dilation', 'scale', 'zeroPoint'];

/** The spec of a functional conv, read from the input's channels and the weight's shape. */
function functionalSpec(dims: 1 | 2 | 3, transposed: boolean, input: QTensor, weight: unknown, opts: Record<string, unknown>): ConvSpec {
  const w = checkQTensor(weight, 'weight');
  if (w.dim() !== dims + 2) throw validate.invalidRange(`${dims + 2}-dim QTensor`, 'weight', weight);
  if (input.dim() !== dims + 2) throw validate.invalidRange(`${dims + 2}-dim QTensor`, 'input', input);
  const groups = validate.integerInRange(opts.groups ?? 1, 'groups', 1, Number.MAX_SAFE_INTEGER);
  const channels = input.shape[1];
  let inChannels: number;
  let outChannels: number;
  if (transposed) {
    inChannels = w.shape[0];
    outChannels = w.shape[1] * groups;
    if (inChannels !== channels) {
      throw validate.invalidRange(`QTensor with ${inChannels} channels (dim 1), the weight's dim 0`, 'input', input);
    }
  } else {
    inChannels = channels;
    outChannels = w.shape[0];
    if (w.shape[1] * groups !== channels) {
      throw validate.invalidRange(
        `weight whose dim 1 times groups (${w.shape[1]} * ${groups}) equals the input's channels (${channels})`,
        'weight',
        weight,
      );
    }
  }
  if (inChannels === 0 || outChannels === 0) throw validate.invalidRange('weight with non-zero channel counts', 'weight', weight);
  return convSpec({
    dims,
    transposed,
    inChannels,
    outChannels,
    kernel: w.shape.slice(2),
    stride: opts.stride,
    padding: opts.padding,
    dilation: opts.dilation,
    groups,
    outputPadding: opts.outputPadding,
    paddingMode: opts.paddingMode,
  });
}

function functionalConv(dims: 1 | 2 | 3, transposed: boolean, input: unknown, weight: unknown, bias: unknown, options: unknown): OpPlan<QTensor> {
  const opts = validate.options(options, 'options', transposed ? CONV_TRANSPOSE_OPTIONS : CONV_OPTIONS);
  if (opts.dtype !== undefined) validate.oneOf(opts.dtype, 'dtype', ['quint8']);
  const q = checkQuint8(input, 'input');
  const scale = validate.scale(opts.scale ?? 1, 'scale');
  const zeroPoint = checkZeroPointU8(opts.zeroPoint ?? 0, 'zeroPoint');
  const spec = functionalSpec(dims, transposed, q, weight, opts);
  const packed = packConv(spec, weight, bias);
  return planConv(packed, spec, q, 'input', scale, zeroPoint, false);
}

/**
 * torch.ao.nn.quantized.functional.conv1d: input (N, C, L) quint8, weight (out, C/groups, k)
 * qint8, bias fp32 (out) or null. Beyond torch: padding 'same'/'valid', every paddingMode.
 */
export function conv1d(input: QTensor, weight: QTensor, bias: Tensor | null, options?: ConvOptions): QTensor {
  return functionalConv(1, false, input, weight, bias, options).run();
}

/** conv1d off the event loop (qkernels' async job queue): same bits; argument errors reject. */
export function conv1dAsync(input: QTensor, weight: QTensor, bias: Tensor | null, options?: ConvOptions): Promise<QTensor> {
  return planAsync(conv1dAsync, () => functionalConv(1, false, input, weight, bias, options));
}

/** torch.ao.nn.quantized.functional.conv2d: input (N, C, H, W), contiguous or channels_last (kept in the output). */
export function conv2d(input: QTensor, weight: QTensor, bias: Tensor | null, options?: ConvOptions): QTensor {
  return functionalConv(2, false, input, weight, bias, options).run();
}

/** conv2d off the event loop (qkernels' async job queue): same bits; argument errors reject. */
export function conv2dAsync(input: QTensor, weight: QTensor, bias: Tensor | null, options?: ConvOptions): Promise<QTensor> {
  return planAsync(conv2dAsync, () => functionalConv(2, false, input, weight, bias, options));
}

/** torch.ao.nn.quantized.functional.conv3d: input (N, C, D, H, W), contiguous or channels_last_3d. */
export function conv3d(input: QTensor, weight: QTensor, bias: Tensor | null, options?: ConvOptions): QTensor {
  return functionalConv(3, false, input, weight, bias, options).run();
}

/** conv3d off the event loop (qkernels' async job queue): same bits; argument errors reject. */
export function conv3dAsync(input: QTensor, weight: QTensor, bias: Tensor | null, options?: ConvOptions): Promise<QTensor> {
  return planAsync(conv3dAsync, () => functionalConv(3, false, input, weight, bias, options));
}

/** Transposed conv1d (torch.ops.quantized.conv_transpose1d): weight (C, out/groups, k). */
export function convTranspose1d(input: QTensor, weight: QTensor, bias: Tensor | null, options?: ConvTransposeOptions): QTensor {
  return functionalConv(1, true, input, weight, bias, options).run();
}

/** convTranspose1d off the event loop (qkernels' async job queue): same bits; argument errors reject. */
export function convTranspose1dAsync(input: QTensor, weight: QTensor, bias: Tensor | null, options?: ConvTransposeOptions): Promise<QTensor> {
  return planAsync(convTranspose1dAsync, () => functionalConv(1, true, input, weight, bias, options));
}

/** Transposed conv2d: weight (C, out/groups, kH, kW). */
export function convTranspose2d(input: QTensor, weight: QTensor, bias: Tensor | null, options?: ConvTransposeOptions): QTensor {
  return functionalConv(2, true, input, weight, bias, options).run();
}

/** convTranspose2d off the event loop (qkernels' async job queue): same bits; argument errors reject. */
export function convTranspose2dAsync(input: QTensor, weight: QTensor, bias: Tensor | null, options?: ConvTransposeOptions): Promise<QTensor> {
  return planAsync(convTranspose2dAsync, () => functionalConv(2, true, input, weight, bias, options));
}

/** Transposed conv3d: weight (C, out/groups, kD, kH, kW). */
export function convTranspose3d(input: QTensor, weight: QTensor, bias: Tensor | null, options?: ConvTransposeOptions): QTensor {
  return functionalConv(3, true, input, weight, bias, options).run();
}

/** convTranspose3d off the event loop (qkernels' async job queue): same bits; argument errors reject. */
export function convTranspose3dAsync(input: QTensor, weight: QTensor, bias: Tensor | null, options?: ConvTransposeOptions): Promise<QTensor> {
  return planAsync(convTranspose3dAsync, () => functionalConv(3, true, input, weight, bias, options));
}
