// ops.quantized's linear/conv members: torch.ops.quantized.*_prepack and the ops that run packed params (camelCase).

import { QTensor } from '../qtensor';
import { Tensor } from '../tensor';
import * as validate from '../validate';
import { Activation } from './native';
import { checkQuint8, checkZeroPointU8, planConv, planLinear, planLinearDynamic } from './plan';
import { ConvSpec, IntOrTuple, convSpec } from './params';
import { PackedWeight, linearWeightDims, packConv, packLinear, unpackBias, unpackWeight } from './weights';

const packedKey = Symbol('qkernels packed params');

/** torch's LinearPackedParamsBase: made by ops.quantized.linearPrepack. */
export class LinearPackedParams {
  /** @internal */
  readonly [packedKey]: PackedWeight;

  /** @internal */
  constructor(packed: PackedWeight) {
    this[packedKey] = packed;
    Object.freeze(this);
  }

  /** [weight, bias], as torch's unpack(). */
  unpack(): [QTensor, Tensor | null] {
    return [unpackWeight(this[packedKey], false), unpackBias(this[packedKey], false)];
  }
}

/** torch's ConvPackedParamsBase: made by ops.quantized.conv{1,2,3}dPrepack / convTranspose{1,2,3}dPrepack. */
export class ConvPackedParams {
  /** @internal */
  readonly [packedKey]: PackedWeight;
  /** @internal */
  readonly spec: ConvSpec;

  /** @internal */
  constructor(packed: PackedWeight, spec: ConvSpec) {
    this[packedKey] = packed;
    this.spec = spec;
    Object.freeze(this);
  }

  unpack(): [QTensor, Tensor | null] {
    return [unpackWeight(this[packedKey], true), unpackBias(this[packedKey], true)];
  }

  stride(): number[] {
    return this.spec.stride.slice();
  }

  padding(): number[] {
    return this.spec.padBefore.slice();
  }

  outputPadding(): number[] {
    return this.spec.outputPadding.slice();
  }

  dilation(): number[] {
    return this.spec.dilation.slice();
  }

  groups(): number {
    return this.spec.groups;
  }

  transpose(): boolean {
    return this.spec.transposed;
  }
}

function checkLinearPacked(value: unknown): PackedWeight {
  if (!(value instanceof LinearPackedParams)) throw validate.invalidType('LinearPackedParams (from ops.quantized.linearPrepack)', 'packedParams', value);
  return value[packedKey];
}

function checkConvPacked(value: unknown, dims: number, transposed: boolean): ConvPackedParams {
  const what = `ConvPackedParams of a ${dims}-D ${transposed ? 'transposed ' : ''}convolution`;
  if (!(value instanceof ConvPackedParams)) throw validate.invalidType(what, 'packedParams', value);
  if (value.spec.dims !== dims || value.spec.transposed !== transposed) throw validate.invalidRange(what, 'packedParams', value);
  return value;
}

/** torch.ops.quantized.linear_prepack(weight, bias). */
function linearPrepack(weight: QTensor, bias?: Tensor | null): LinearPackedParams {
  const [outFeatures, inFeatures] = linearWeightDims(weight);
  return new LinearPackedParams(packLinear(weight, bias, outFeatures, inFeatures));
}

function linearWith(activation: Activation) {
  return (input: QTensor, packedParams: LinearPackedParams, scale: number, zeroPoint: number): QTensor =>
    planLinear(checkLinearPacked(packedParams), input, 'input', validate.scale(scale, 'scale'), checkZeroPointU8(zeroPoint, 'zeroPoint'), activation).run();
}

function linearDynamicWith(relu: boolean) {
  return (input: Tensor, packedParams: LinearPackedParams, reduceRange = false): Tensor =>
    planLinearDynamic(checkLinearPacked(packedParams), input, 'input', validate.boolean(reduceRange, 'reduceRange'), relu).run();
}

/** torch.ops.quantized.conv{dims}d_prepack(weight, bias, stride, padding, dilation, groups). */
function convPrepack(dims: 1 | 2 | 3) {
  return (weight: QTensor, bias: Tensor | null, stride: IntOrTuple, padding: IntOrTuple, dilation: IntOrTuple, groups: number): ConvPackedParams => {
    const w = checkWeightRank(weight, dims);
    const g = validate.integerInRange(groups, 'groups', 1, Number.MAX_SAFE_INTEGER);
    const spec = convSpec({ dims, transposed: false, inChannels: w.shape[1] * g, outChannels: w.shape[0], kernel: w.shape.slice(2), stride, padding, dilation, groups: g });
    return new ConvPackedParams(packConv(spec, w, bias), spec);
  };
}

/** torch.ops.quantized.conv_transpose{dims}d_prepack(weight, bias, stride, padding, output_padding, dilation, groups). */
function convTransposePrepack(dims: 1 | 2 | 3) {
  return (
    weight: QTensor,
    bias: Tensor | null,
    stride: IntOrTuple,
    padding: IntOrTuple,
    outputPadding: IntOrTuple,
    dilation: IntOrTuple,
    groups: number,
  ): ConvPackedParams => {
    const w = checkWeightRank(weight, dims);
    const g = validate.integerInRange(groups, 'groups', 1, Number.MAX_SAFE_INTEGER);
    const spec = convSpec({
      dims,
      transposed: true,
      inChannels: w.shape[0],
      outChannels: w.shape[1] * g,
      kernel: w.shape.slice(2),
      stride,
      padding,
      outputPadding,
      dilation,
      groups: g,
    });
    return new ConvPackedParams(packConv(spec, w, bias), spec);
  };
}

function checkWeightRank(weight: unknown, dims: number): QTensor {
  if (!(weight instanceof QTensor) || weight.dim() !== dims + 2) throw validate.invalidType(`${dims + 2}-dim QTensor`, 'weight', weight);
  if (weight.shape.slice(0, 2).some((d) => d === 0)) throw validate.invalidRange('weight with non-zero channel counts', 'weight', weight);
  return weight;
}

/** torch.ops.quantized.conv{dims}d[_relu] / conv_transpose{dims}d(input, packed, scale, zero_point). */
function convWith(dims: 1 | 2 | 3, transposed: boolean, relu: boolean) {
  return (input: QTensor, packedParams: ConvPackedParams, scale: number, zeroPoint: number): QTensor => {
    const packed = checkConvPacked(packedParams, dims, transposed);
    const q = checkQuint8(input, 'input');
    return planConv(packed[packedKey], packed.spec, q, 'input', validate.scale(scale, 'scale'), checkZeroPointU8(zeroPoint, 'zeroPoint'), relu).run();
  };
}

/** The linear/conv members of ops.quantized (torch.ops.quantized, camelCase). */
export const torchOps = {
  linearPrepack,
  linear: linearWith(Activation.None),
  linearRelu: linearWith(Activation.ReLU),
  linearDynamic: linearDynamicWith(false),
  linearReluDynamic: linearDynamicWith(true),
  conv1dPrepack: convPrepack(1),
  conv2dPrepack: convPrepack(2),
  conv3dPrepack: convPrepack(3),
  conv1d: convWith(1, false, false),
  conv2d: convWith(2, false, false),
  conv3d: convWith(3, false, false),
  conv1dRelu: convWith(1, false, true),
  conv2dRelu: convWith(2, false, true),
  conv3dRelu: convWith(3, false, true),
  convTranspose1dPrepack: convTransposePrepack(1),
  convTranspose2dPrepack: convTransposePrepack(2),
  convTranspose3dPrepack: convTransposePrepack(3),
  convTranspose1d: convWith(1, true, false),
  convTranspose2d: convWith(2, true, false),
  convTranspose3d: convWith(3, true, false),
};
