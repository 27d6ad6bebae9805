// The building blocks the zoo's architectures share: converted conv layers, the glue modules, torchvision's rounding helpers.
//
// A converted (torch.ao.quantization.convert) torchvision model keeps the module names of the
// float model: a fused conv + BatchNorm + ReLU becomes ConvReLU2d in the conv's slot and
// Identity in the BatchNorm's and ReLU's slots. The zoo builds the same tree so state-dict keys
// and print(model) match torchvision's.

import { ConvReLU2d, Conv2d, Linear } from '../linear-conv/modules';
import { nn, nnq } from '../nn';
import type { Module } from '../nn/module';
import { type QTensor, scaleShiftChannels } from '../qtensor';
import { Tensor } from '../tensor';
import * as validate from '../validate';

export interface ConvSpec {
  stride?: number | [number, number];
  padding?: number | [number, number];
  groups?: number;
  dilation?: number;
}

/** A converted conv (its BatchNorm folded in, so it always has a bias), with a fused ReLU or not. */
export function conv(inChannels: number, outChannels: number, kernelSize: number | [number, number], spec: ConvSpec, relu: boolean): Conv2d | ConvReLU2d {
  const options = { stride: spec.stride ?? 1, padding: spec.padding ?? 0, groups: spec.groups ?? 1, dilation: spec.dilation ?? 1, bias: true };
  return relu ? new ConvReLU2d(inChannels, outChannels, kernelSize, options) : new Conv2d(inChannels, outChannels, kernelSize, options);
}

/** nnq.Linear with a bias, as every zoo classifier has. */
export function linear(inFeatures: number, outFeatures: number): Linear {
  return new Linear(inFeatures, outFeatures);
}

export const identity = (): Module => new nn.Identity();
export const quantStub = (): Module => new nnq.Quantize(1, 0, 'quint8');
export const dequantStub = (): Module => new nnq.DeQuantize();
export type QFunctional = InstanceType<typeof nnq.QFunctional>;
export const qfunctional = (): QFunctional => new nnq.QFunctional();

/** torchvision's _make_divisible: the nearest multiple of `divisor`, never 10% below `value`. */
export function makeDivisible(value: number, divisor: number, minValue?: number): number {
  const floor = minValue ?? divisor;
  let rounded = Math.max(floor, Math.trunc((value + divisor / 2) / divisor) * divisor);
  if (rounded < 0.9 * value) rounded += divisor;
  return rounded;
}

/** torch.flatten(x, 1) on the quantized activations of a classifier head. */
export function flatten1(x: QTensor): QTensor {
  return x.flatten(1);
}

// GoogLeNet's and Inception v3's _transform_input: the inputs of their (TensorFlow-trained)
// published weights are normalized as x * std / 0.5 + (mean - 0.5) / 0.5 per channel. torch
// evaluates each channel as two float32 ops, a multiply then an add, the Python constants
// rounded to float32 first; Math.fround reproduces that bit for bit.
const TRANSFORM = [
  [0.229 / 0.5, (0.485 - 0.5) / 0.5],
  [0.224 / 0.5, (0.456 - 0.5) / 0.5],
  [0.225 / 0.5, (0.406 - 0.5) / 0.5],
].map(([a, b]) => [Math.fround(a), Math.fround(b)]);
const TRANSFORM_MULTIPLIERS = Float32Array.from(TRANSFORM, ([a]) => a);
const TRANSFORM_OFFSETS = Float32Array.from(TRANSFORM, ([, b]) => b);

/** The transform above on an fp32 [N, 3, H, W] input, natively (a step of a traced plan too). */
export function transformInput(x: Tensor): Tensor {
  const c = x.shape[1];
  if (x.shape.length !== 4 || c !== 3) {
    throw new RangeError(validate.expected('an input of shape [N, 3, H, W]', 'x', `shape [${x.shape.join(', ')}]`));
  }
  return scaleShiftChannels(x, TRANSFORM_MULTIPLIERS, TRANSFORM_OFFSETS);
}
