// Weights of linear and conv: checks a qint8 weight QTensor and an fp32 bias, prepacks them, and unpacks them again.

import { QTensor, checkQTensor, makePerChannelQuantizedTensor, makePerTensorQuantizedTensor, wrapPerTensorOutput } from '../qtensor';
import { contiguousStrides } from '../shape';
import { Tensor, checkTensor, makeTensor, tensor } from '../tensor';
import * as validate from '../validate';
import { PackedHandle, native } from './native';
import { ConvSpec, geometryArray, weightShape } from './params';

/** The qparams of a weight as native code takes them, plus what weight() needs to rebuild the QTensor. */
export interface WeightQParams {
  readonly scales: Float64Array;
  readonly zeroPoints: Int32Array;
  /** null: per tensor; else the per-channel axis of the weight QTensor. */
  readonly axis: number | null;
}

/** A prepacked weight with what weight() and bias() return. */
export interface PackedWeight {
  readonly handle: PackedHandle;
  readonly shape: readonly number[];
  readonly qparams: WeightQParams;
  readonly hasBias: boolean;
}

function shapeText(shape: readonly number[]): string {
  return `[${shape.join(', ')}]`;
}

/**
 * Checks a weight QTensor: qint8, per_tensor_affine or per_channel_affine along `channelAxis`,
 * of shape `expected`. Returns its int8 values in row-major order and its qparams expanded to
 * one per output channel (`outChannels`; per-channel values repeat `repeat` times, for grouped
 * transposed weights whose axis 1 has outChannels / groups entries).
 */
function weightValues(
  value: unknown,
  expected: readonly number[],
  channelAxis: number,
  outChannels: number,
): { values: Int8Array; qparams: WeightQParams } {
  const w = checkQTensor(value, 'weight');
  if (w.dtype !== 'qint8') throw validate.invalidRange('qint8 QTensor', 'weight', value);
  if (w.shape.length !== expected.length || w.shape.some((d, i) => d !== expected[i])) {
    throw validate.invalidRange(`QTensor of shape ${shapeText(expected)}`, 'weight', value);
  }
  let qparams: WeightQParams;
  if (w.qscheme === 'per_tensor_affine') {
    qparams = { scales: Float64Array.of(w.qScale()), zeroPoints: Int32Array.of(w.qZeroPoint()), axis: null };
  } else if (w.qscheme === 'per_channel_affine') {
    if (w.qPerChannelAxis() !== channelAxis) {
      throw validate.invalidRange(`per-channel QTensor quantized along axis ${channelAxis} (the output channels)`, 'weight', value);
    }
    const scales = w.qPerChannelScales();
    const zeroPoints = w.qPerChannelZeroPoints() as Int32Array;
    const expanded = { scales: new Float64Array(outChannels), zeroPoints: new Int32Array(outChannels) };
    for (let c = 0; c < outChannels; c++) {
      expanded.scales[c] = scales[c % scales.length];
      expanded.zeroPoints[c] = zeroPoints[c % zeroPoints.length];
    }
    qparams = { ...expanded, axis: channelAxis };
  } else {
    throw validate.invalidRange('per_tensor_affine or per_channel_affine QTensor (not float qparams)', 'weight', value);
  }
  return { values: w.intRepr() as Int8Array, qparams };
}

function biasValues(value: unknown, outChannels: number): Float32Array | null {
  if (value === null || value === undefined) return null;
  const b = checkTensor(value, 'bias');
  if (b.shape.length !== 1 || b.shape[0] !== outChannels) {
    throw validate.invalidRange(`Tensor of shape [${outChannels}] (one value per output channel) or null`, 'bias', value);
  }
  // A copy: the module must not change when the caller's tensor does.
  return Float32Array.from(b.contiguous().data.subarray(0, outChannels));
}

/** A linear packing and the private copies it was made from (its weight values in row-major order, its bias). */
export interface LinearPacking {
  readonly packed: PackedWeight;
  readonly values: Int8Array;
  readonly bias: Float32Array | null;
}

/** packLinear, returning also the copies it packed (qF.linear's cache keeps them as its key). */
export function packLinearKept(weight: unknown, bias: unknown, outFeatures: number, inFeatures: number): LinearPacking {
  const shape = [outFeatures, inFeatures];
  const { values, qparams } = weightValues(weight, shape, 0, outFeatures);
  const b = biasValues(bias, outFeatures);
  const handle = native.linearPrepack(values, outFeatures, inFeatures, qparams.scales, qparams.zeroPoints, b);
  return { packed: { handle, shape, qparams, hasBias: b !== null }, values, bias: b };
}

/** Prepacks a linear weight [out][in] (per-channel along axis 0) and bias [out]. */
export function packLinear(weight: unknown, bias: unknown, outFeatures: number, inFeatures: number): PackedWeight {
  return packLinearKept(weight, bias, outFeatures, inFeatures).packed;
}

/** The weight shape and channel count of a linear weight QTensor, read from it (functional forms). */
export function linearWeightDims(weight: unknown): [number, number] {
  const w = checkQTensor(weight, 'weight');
  if (w.shape.length !== 2) throw validate.invalidRange('2-dim QTensor [outFeatures, inFeatures]', 'weight', weight);
  return [w.shape[0], w.shape[1]];
}

/**
 * Prepacks a conv weight in torch's layout. Per-channel weights: axis 0 for conv; axis 1 for
 * transposed conv (its output channels; with groups > 1 the out/groups values apply to each group).
 */
export function packConv(spec: ConvSpec, weight: unknown, bias: unknown, outputPadding?: readonly number[]): PackedWeight {
  const shape = weightShape(spec);
  const { values, qparams } = weightValues(weight, shape, spec.transposed ? 1 : 0, spec.outChannels);
  const b = biasValues(bias, spec.outChannels);
  const handle = native.convPrepack(geometryArray(spec, outputPadding), values, qparams.scales, qparams.zeroPoints, b);
  return { handle, shape, qparams, hasBias: b !== null };
}

/** Repacks the same weights for another outputPadding (transposed forward with outputSize). */
export function repackConv(spec: ConvSpec, packed: PackedWeight, outputPadding: readonly number[]): PackedWeight {
  const { weight, bias } = native.convUnpack(packed.handle);
  const handle = native.convPrepack(geometryArray(spec, outputPadding), weight, packed.qparams.scales, packed.qparams.zeroPoints, bias);
  return { ...packed, handle };
}

/**
 * A small linear weight's unpacked values, kept beside its packing the first time weight() or
 * bias() asks, with the frozen shapes and strides of the tensors they return: a native unpack
 * costs ~1.4 us a call (two new ArrayBuffers and an object) where copying a few KiB costs far
 * less, and `qF.linear(x, m.weight(), m.bias())` asks for both on every call. Immutable (the
 * callers get copies); dropped with the packing, whose replacement (setWeightBias,
 * loadStateDict) is a new object. Larger weights are not duplicated: they unpack natively.
 */
interface KeptUnpack {
  readonly weight: Int8Array;
  readonly bias: Float32Array | null;
  readonly shape: readonly number[];
  readonly strides: readonly number[];
  readonly biasShape: readonly number[];
  readonly biasStrides: readonly number[];
}

const KEPT_UNPACK_MAX_BYTES = 4096;
const keptUnpacks = new WeakMap<PackedWeight, KeptUnpack>();

/** The values of `packed`: new arrays from a native unpack (kept null), or the kept ones, which the caller must copy. */
function unpackValues(packed: PackedWeight, conv: boolean): { weight: Int8Array; bias: Float32Array | null; kept: KeptUnpack | null } {
  if (conv) return { ...native.convUnpack(packed.handle), kept: null };
  let kept = keptUnpacks.get(packed);
  if (kept === undefined) {
    const fresh = native.linearUnpack(packed.handle);
    if (fresh.weight.length > KEPT_UNPACK_MAX_BYTES) return { ...fresh, kept: null };
    const shape = Object.freeze(packed.shape.slice());
    const biasShape = Object.freeze([packed.shape[0]]);
    kept = { ...fresh, shape, strides: Object.freeze(contiguousStrides(shape)), biasShape, biasStrides: Object.freeze([1]) };
    keptUnpacks.set(packed, kept);
  }
  return { weight: kept.weight, bias: kept.bias, kept };
}

/** weight(): the QTensor the packed weights came from (torch's unpack). */
export function unpackWeight(packed: PackedWeight, conv: boolean): QTensor {
  const values = unpackValues(packed, conv);
  const kept = values.kept;
  const weight = kept !== null ? kept.weight.slice() : values.weight;
  const { qparams, shape } = packed;
  if (qparams.axis === null) {
    // The qparams passed makePerTensorQuantizedTensor's checks when the weight was packed.
    if (kept !== null) return wrapPerTensorOutput(weight, kept.shape, kept.strides, qparams.scales[0], qparams.zeroPoints[0], 'qint8');
    return makePerTensorQuantizedTensor(weight, shape, qparams.scales[0], qparams.zeroPoints[0], 'qint8');
  }
  const channels = shape[qparams.axis];
  return makePerChannelQuantizedTensor(weight, shape, qparams.scales.slice(0, channels), qparams.zeroPoints.slice(0, channels), qparams.axis, 'qint8');
}

/** bias(): a new fp32 Tensor, or null. */
export function unpackBias(packed: PackedWeight, conv: boolean): Tensor | null {
  const { bias, kept } = unpackValues(packed, conv);
  if (bias === null) return null;
  return kept !== null ? makeTensor(bias.slice(), kept.biasShape, kept.biasStrides) : tensor(bias);
}

/** Frees the native memory of packed weights now (a module's dispose()), not at garbage collection. */
export function releasePacked(packed: PackedWeight): void {
  native.releaseWeights(packed.handle);
}
