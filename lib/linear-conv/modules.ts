// The linear and conv modules of nnq, nniq, nnqd and nniq.dynamic: prepacked once in setWeightBias, run by forward.

import { pythonFloatRepr } from '../format';
import { OpPlan, QTensor, captureCaller, makePerTensorQuantizedTensor } from '../qtensor';
import { Tensor, tensor } from '../tensor';
import * as validate from '../validate';
import { Activation } from './native';
import { checkScale, checkZeroPointU8, fastOutputQParams, newLinearFastCache, planConv, planLinear, planLinearDynamic, runLinearFast } from './ops';
import { ConvPadding, ConvSpec, IntOrTuple, PaddingMode, convSpec, outputPaddingFor, tupleRepr, weightShape } from './params';
import { runPlanAsync } from './plan';
import { PackedWeight, packConv, packLinear, releasePacked, repackConv, unpackBias, unpackWeight } from './weights';

/** What stateDict() returns and loadStateDict() takes (torch's keys: weight, bias, scale, zero_point). */
export interface LinearConvStateDict {
  weight: QTensor;
  bias: Tensor | null;
  scale: number;
  zero_point: number;
}

function channelCount(value: unknown, parameter: string): number {
  return validate.integerInRange(value, parameter, 1, Number.MAX_SAFE_INTEGER);
}

function biasOption(value: unknown): boolean {
  return value === undefined ? true : validate.boolean(value, 'bias');
}

/** torch's initial weights: zeros (qint8, scale 1, zero point 0), bias zeros when there is one. */
function initialWeights(shape: readonly number[], outChannels: number, bias: boolean, parameter: string, value: unknown): [QTensor, Tensor | null] {
  const numel = shape.reduce((a, b) => a * b, 1);
  validate.storageFits(numel, 1, parameter, value);
  const w = makePerTensorQuantizedTensor(new Int8Array(numel), shape, 1, 0, 'qint8');
  return [w, bias ? tensor(new Float32Array(outChannels)) : null];
}

function qschemeRepr(packed: PackedWeight): string {
  return packed.qparams.axis === null ? 'torch.per_tensor_affine' : 'torch.per_channel_affine';
}

function checkStateDict(value: unknown): LinearConvStateDict {
  const dict = validate.options(value, 'stateDict', ['weight', 'bias', 'scale', 'zero_point']);
  return dict as unknown as LinearConvStateDict;
}

// ---- linear ----------------------------------------------------------------------------------

export interface LinearModuleOptions {
  /** Whether the module has a bias (default true). */
  bias?: boolean;
  /** Weight dtype: qint8, the only one the quantized Linear takes. */
  dtype?: 'qint8';
}

/** The state and methods every quantized linear module shares. */
abstract class LinearBase {
  readonly inFeatures: number;
  readonly outFeatures: number;
  /** Output qparams (attributes, as in torch; forward checks them). */
  scale = 1;
  zeroPoint = 0;
  private packed: PackedWeight;
  private readonly fastCache = newLinearFastCache();

  constructor(inFeatures: number, outFeatures: number, options?: LinearModuleOptions) {
    const opts = validate.options(options, 'options', ['bias', 'dtype']);
    this.inFeatures = channelCount(inFeatures, 'inFeatures');
    this.outFeatures = channelCount(outFeatures, 'outFeatures');
    if (opts.dtype !== undefined) validate.oneOf(opts.dtype, 'dtype', ['qint8']);
    const [w, b] = initialWeights([this.outFeatures, this.inFeatures], this.outFeatures, biasOption(opts.bias), 'inFeatures', inFeatures);
    this.packed = packLinear(w, b, this.outFeatures, this.inFeatures);
  }

  /** Replaces the weight (qint8 [out, in], per tensor or per channel along axis 0) and the fp32 bias; prepacks them once. */
  setWeightBias(weight: QTensor, bias: Tensor | null): void {
    this.packed = packLinear(weight, bias, this.outFeatures, this.inFeatures);
  }

  /** The weight as a QTensor (torch's unpack). */
  weight(): QTensor {
    return unpackWeight(this.packed, false);
  }

  /** The bias as a new fp32 Tensor, or null. */
  bias(): Tensor | null {
    return unpackBias(this.packed, false);
  }

  /**
   * Frees the native packed weights now instead of when the module is garbage collected
   * (calls already queued by forwardAsync finish); forward afterwards throws a TypeError.
   * Also run by `using` (Symbol.dispose).
   */
  dispose(): void {
    releasePacked(this.packed);
  }

  [validate.disposeSymbol](): void {
    this.dispose();
  }

  stateDict(): LinearConvStateDict {
    return { weight: this.weight(), bias: this.bias(), scale: this.scale, zero_point: this.zeroPoint };
  }

  loadStateDict(stateDict: LinearConvStateDict): void {
    const dict = checkStateDict(stateDict);
    const scale = checkScale(dict.scale, 'stateDict.scale');
    const zeroPoint = checkZeroPointU8(dict.zero_point, 'stateDict.zero_point');
    this.setWeightBias(dict.weight, dict.bias);
    this.scale = scale;
    this.zeroPoint = zeroPoint;
  }

  /** @internal */
  protected plan(x: unknown, activation: Activation, alpha = 0): OpPlan<QTensor> {
    const scale = checkScale(this.scale, 'scale');
    const zeroPoint = checkZeroPointU8(this.zeroPoint, 'zeroPoint');
    return planLinear(this.packed, x, 'x', scale, zeroPoint, activation, alpha);
  }

  /** @internal forward: the fast path when it applies (see doc/linear-conv.md), else the plan, which makes every check. */
  protected run(x: unknown, activation: Activation, alpha = 0): QTensor {
    const scale = this.scale;
    const zeroPoint = this.zeroPoint;
    if (fastOutputQParams(scale, zeroPoint)) {
      const y = runLinearFast(this.packed, x, scale, zeroPoint, activation, alpha, this.fastCache);
      if (y !== null) return y;
    }
    return this.plan(x, activation, alpha).run();
  }

  /** @internal */
  protected reprBody(): string {
    return (
      `in_features=${this.inFeatures}, out_features=${this.outFeatures}, scale=${pythonFloatRepr(this.scale)}, ` +
      `zero_point=${this.zeroPoint}, qscheme=${qschemeRepr(this.packed)}`
    );
  }

  [validate.inspectSymbol](): string {
    return this.toString();
  }
}

/**
 * torch.ao.nn.quantized.Linear: quint8 (N, *, in) -> quint8 (N, *, out) with the output qparams
 * `scale` and `zeroPoint`.
 *
 * @example
 * const m = new nnq.Linear(64, 32);
 * m.setWeightBias(qw, bias);
 * m.scale = 0.05; m.zeroPoint = 70;
 * const y = m.forward(qx);
 */
export class Linear extends LinearBase {
  forward(x: QTensor): QTensor {
    return this.run(x, Activation.None);
  }

  /** forward off the event loop (libuv's pool): same bits. */
  forwardAsync(x: QTensor): Promise<QTensor> {
    return runPlanAsync(captureCaller(this.forwardAsync), () => this.plan(x, Activation.None));
  }

  override toString(): string {
    return `QuantizedLinear(${this.reprBody()})`;
  }
}

/** torch.ao.nn.intrinsic.quantized.LinearReLU: Linear with ReLU fused into the output stage. */
export class LinearReLU extends LinearBase {
  forward(x: QTensor): QTensor {
    return this.run(x, Activation.ReLU);
  }

  forwardAsync(x: QTensor): Promise<QTensor> {
    return runPlanAsync(captureCaller(this.forwardAsync), () => this.plan(x, Activation.ReLU));
  }

  override toString(): string {
    return `QuantizedLinearReLU(${this.reprBody()})`;
  }
}

/**
 * torch.ao.nn.intrinsic.quantized.LinearLeakyReLU (a oneDNN fusion): the fp32 linear output,
 * then leaky ReLU in fp32, then quantized to (scale, zeroPoint).
 */
export class LinearLeakyReLU extends LinearBase {
  negativeSlope: number;

  constructor(inFeatures: number, outFeatures: number, negativeSlope: number, options?: LinearModuleOptions) {
    super(inFeatures, outFeatures, options);
    this.negativeSlope = validate.finiteNumber(negativeSlope, 'negativeSlope');
  }

  forward(x: QTensor): QTensor {
    return this.run(x, Activation.LeakyReLU, validate.finiteNumber(this.negativeSlope, 'negativeSlope'));
  }

  forwardAsync(x: QTensor): Promise<QTensor> {
    return runPlanAsync(captureCaller(this.forwardAsync), () =>
      this.plan(x, Activation.LeakyReLU, validate.finiteNumber(this.negativeSlope, 'negativeSlope')),
    );
  }

  override toString(): string {
    return `QuantizedLinearLeakyReLU(${this.reprBody()})`;
  }
}

/** torch.ao.nn.intrinsic.quantized.LinearTanh: the fp32 linear output, tanh, then quantized to (scale, zeroPoint). */
export class LinearTanh extends LinearBase {
  forward(x: QTensor): QTensor {
    return this.run(x, Activation.Tanh);
  }

  forwardAsync(x: QTensor): Promise<QTensor> {
    return runPlanAsync(captureCaller(this.forwardAsync), () => this.plan(x, Activation.Tanh));
  }

  override toString(): string {
    return `QuantizedLinearTanh(${this.reprBody()})`;
  }
}

// ---- dynamic linear --------------------------------------------------------------------------

export interface DynamicLinearOptions {
  bias?: boolean;
  /** Weight dtype: qint8 (torch's float16 dynamic linear is not supported). */
  dtype?: 'qint8';
  /** Quantize the activations to 7 bits, as torch's x86 dynamic Linear does (default true). */
  reduceRange?: boolean;
}

/** The state and methods of the dynamic linear modules (fp32 in and out). */
abstract class DynamicLinearBase {
  readonly inFeatures: number;
  readonly outFeatures: number;
  /** Whether activations are quantized to 7 bits (torch's modules pass reduce_range=True). */
  reduceRange: boolean;
  private packed: PackedWeight;

  constructor(inFeatures: number, outFeatures: number, options?: DynamicLinearOptions) {
    const opts = validate.options(options, 'options', ['bias', 'dtype', 'reduceRange']);
    this.inFeatures = channelCount(inFeatures, 'inFeatures');
    this.outFeatures = channelCount(outFeatures, 'outFeatures');
    if (opts.dtype !== undefined) validate.oneOf(opts.dtype, 'dtype', ['qint8']);
    this.reduceRange = opts.reduceRange === undefined ? true : validate.boolean(opts.reduceRange, 'reduceRange');
    const [w, b] = initialWeights([this.outFeatures, this.inFeatures], this.outFeatures, biasOption(opts.bias), 'inFeatures', inFeatures);
    this.packed = packLinear(w, b, this.outFeatures, this.inFeatures);
  }

  setWeightBias(weight: QTensor, bias: Tensor | null): void {
    this.packed = packLinear(weight, bias, this.outFeatures, this.inFeatures);
  }

  weight(): QTensor {
    return unpackWeight(this.packed, false);
  }

  bias(): Tensor | null {
    return unpackBias(this.packed, false);
  }

  /**
   * Frees the native packed weights now instead of when the module is garbage collected
   * (calls already queued by forwardAsync finish); forward afterwards throws a TypeError.
   * Also run by `using` (Symbol.dispose).
   */
  dispose(): void {
    releasePacked(this.packed);
  }

  [validate.disposeSymbol](): void {
    this.dispose();
  }

  /** @internal */
  protected plan(x: unknown, relu: boolean): OpPlan<Tensor> {
    return planLinearDynamic(this.packed, x, 'x', validate.boolean(this.reduceRange, 'reduceRange'), relu);
  }

  /** @internal */
  protected reprBody(): string {
    return `in_features=${this.inFeatures}, out_features=${this.outFeatures}, dtype=torch.qint8, qscheme=${qschemeRepr(this.packed)}`;
  }

  [validate.inspectSymbol](): string {
    return this.toString();
  }
}

/**
 * torch.ao.nn.quantized.dynamic.Linear: fp32 (N, *, in) -> fp32 (N, *, out); the input is
 * quantized per call to quint8 from its min and max (7 bits with reduceRange).
 */
export class DynamicLinear extends DynamicLinearBase {
  forward(x: Tensor): Tensor {
    return this.plan(x, false).run();
  }

  forwardAsync(x: Tensor): Promise<Tensor> {
    return runPlanAsync(captureCaller(this.forwardAsync), () => this.plan(x, false));
  }

  override toString(): string {
    return `DynamicQuantizedLinear(${this.reprBody()})`;
  }
}

/** torch.ao.nn.intrinsic.quantized.dynamic.LinearReLU: dynamic Linear with ReLU on the fp32 output. */
export class DynamicLinearReLU extends DynamicLinearBase {
  forward(x: Tensor): Tensor {
    return this.plan(x, true).run();
  }

  forwardAsync(x: Tensor): Promise<Tensor> {
    return runPlanAsync(captureCaller(this.forwardAsync), () => this.plan(x, true));
  }

  override toString(): string {
    return `DynamicQuantizedLinearReLU(${this.reprBody()})`;
  }
}

// ---- conv ------------------------------------------------------------------------------------

export interface ConvModuleOptions {
  stride?: IntOrTuple;
  padding?: ConvPadding;
  dilation?: IntOrTuple;
  groups?: number;
  bias?: boolean;
  paddingMode?: PaddingMode;
}

export interface ConvTransposeModuleOptions {
  stride?: IntOrTuple;
  padding?: IntOrTuple;
  outputPadding?: IntOrTuple;
  groups?: number;
  bias?: boolean;
  dilation?: IntOrTuple;
  /** 'zeros' only, as in torch. */
  paddingMode?: 'zeros';
}

const CONV_MODULE_OPTIONS = ['stride', 'padding', 'dilation', 'groups', 'bias', 'paddingMode'];
const CONV_TRANSPOSE_MODULE_OPTIONS = ['stride', 'padding', 'outputPadding', 'groups', 'bias', 'dilation', 'paddingMode'];

/** The state and methods every quantized conv module shares. */
abstract class ConvBase {
  readonly inChannels: number;
  readonly outChannels: number;
  readonly kernelSize: readonly number[];
  readonly stride: readonly number[];
  readonly padding: readonly number[] | 'same' | 'valid';
  readonly dilation: readonly number[];
  readonly outputPadding: readonly number[];
  readonly groups: number;
  readonly paddingMode: PaddingMode;
  scale = 1;
  zeroPoint = 0;
  /** @internal */
  protected readonly spec: ConvSpec;
  /** @internal */
  protected packed: PackedWeight;
  // Transposed forward(x, outputSize) with another outputPadding: the repack, kept for the next call.
  private repacked: { key: string; packed: PackedWeight } | null = null;

  constructor(dims: 1 | 2 | 3, transposed: boolean, inChannels: number, outChannels: number, kernelSize: IntOrTuple, options: unknown) {
    const opts = validate.options(options, 'options', transposed ? CONV_TRANSPOSE_MODULE_OPTIONS : CONV_MODULE_OPTIONS);
    this.inChannels = channelCount(inChannels, 'inChannels');
    this.outChannels = channelCount(outChannels, 'outChannels');
    this.spec = convSpec({
      dims,
      transposed,
      inChannels: this.inChannels,
      outChannels: this.outChannels,
      kernel: kernelSize,
      stride: opts.stride,
      padding: opts.padding,
      dilation: opts.dilation,
      groups: opts.groups,
      outputPadding: opts.outputPadding,
      paddingMode: opts.paddingMode,
    });
    this.kernelSize = this.spec.kernel;
    this.stride = this.spec.stride;
    this.padding = this.spec.padding;
    this.dilation = this.spec.dilation;
    this.outputPadding = this.spec.outputPadding;
    this.groups = this.spec.groups;
    this.paddingMode = this.spec.paddingMode;
    const [w, b] = initialWeights(weightShape(this.spec), this.outChannels, biasOption(opts.bias), 'kernelSize', kernelSize);
    this.packed = packConv(this.spec, w, b);
  }

  /**
   * Replaces the weight (qint8 in torch's layout, per tensor or per channel: axis 0 for conv,
   * axis 1 for transposed conv) and the fp32 bias; prepacks them once.
   */
  setWeightBias(weight: QTensor, bias: Tensor | null): void {
    this.packed = packConv(this.spec, weight, bias);
    this.repacked = null;
  }

  weight(): QTensor {
    return unpackWeight(this.packed, true);
  }

  bias(): Tensor | null {
    return unpackBias(this.packed, true);
  }

  /**
   * Frees the native packed weights now instead of when the module is garbage collected
   * (calls already queued by forwardAsync finish); forward afterwards throws a TypeError.
   * Also run by `using` (Symbol.dispose).
   */
  dispose(): void {
    releasePacked(this.packed);
    if (this.repacked !== null) releasePacked(this.repacked.packed);
    this.repacked = null;
  }

  [validate.disposeSymbol](): void {
    this.dispose();
  }

  stateDict(): LinearConvStateDict {
    return { weight: this.weight(), bias: this.bias(), scale: this.scale, zero_point: this.zeroPoint };
  }

  loadStateDict(stateDict: LinearConvStateDict): void {
    const dict = checkStateDict(stateDict);
    const scale = checkScale(dict.scale, 'stateDict.scale');
    const zeroPoint = checkZeroPointU8(dict.zero_point, 'stateDict.zero_point');
    this.setWeightBias(dict.weight, dict.bias);
    this.scale = scale;
    this.zeroPoint = zeroPoint;
  }

  /** @internal */
  protected plan(x: unknown, relu: boolean, outputSize?: unknown, extra?: unknown): OpPlan<QTensor> {
    const scale = checkScale(this.scale, 'scale');
    const zeroPoint = checkZeroPointU8(this.zeroPoint, 'zeroPoint');
    let packed = this.packed;
    let spec = this.spec;
    if (outputSize !== undefined) {
      const q = x instanceof QTensor && x.dim() === spec.dims + 2 ? x : null;
      if (q === null) throw validate.invalidType(`${spec.dims + 2}-dim QTensor`, 'x', x);
      const outputPadding = outputPaddingFor(spec, q.shape.slice(2), outputSize);
      if (outputPadding.some((p, d) => p !== spec.outputPadding[d])) {
        const key = outputPadding.join(',');
        if (this.repacked === null || this.repacked.key !== key) {
          this.repacked = { key, packed: repackConv(spec, packed, outputPadding) };
        }
        packed = this.repacked.packed;
        spec = { ...spec, outputPadding };
      }
    }
    const extraInput = extra === undefined ? undefined : { input: extra, name: 'extra' };
    return planConv(packed, spec, x, 'x', scale, zeroPoint, relu, extraInput);
  }

  /** torch's _ConvNd.extra_repr. */
  /** @internal */
  protected reprBody(): string {
    const zeros = (values: readonly number[], value: number) => values.every((v) => v === value);
    let s = `${this.inChannels}, ${this.outChannels}, kernel_size=${tupleRepr(this.kernelSize)}, stride=${tupleRepr(this.stride)}`;
    s += `, scale=${pythonFloatRepr(this.scale)}, zero_point=${this.zeroPoint}`;
    if (typeof this.padding === 'string') s += `, padding=${this.padding}`;
    else if (!zeros(this.padding, 0)) s += `, padding=${tupleRepr(this.padding)}`;
    if (!zeros(this.dilation, 1)) s += `, dilation=${tupleRepr(this.dilation)}`;
    if (!zeros(this.outputPadding, 0)) s += `, output_padding=${tupleRepr(this.outputPadding)}`;
    if (this.groups !== 1) s += `, groups=${this.groups}`;
    if (!this.packed.hasBias) s += ', bias=False';
    return s;
  }

  [validate.inspectSymbol](): string {
    return this.toString();
  }
}

/** A conv module whose forward takes one input; `relu` fuses ReLU into the output stage. */
abstract class SingleInputConv extends ConvBase {
  /** @internal */
  protected abstract readonly relu: boolean;
  /** @internal */
  protected abstract readonly reprName: string;

  forward(x: QTensor): QTensor {
    return this.plan(x, this.relu).run();
  }

  /** forward off the event loop (libuv's pool): same bits. */
  forwardAsync(x: QTensor): Promise<QTensor> {
    return runPlanAsync(captureCaller(this.forwardAsync), () => this.plan(x, this.relu));
  }

  override toString(): string {
    return `${this.reprName}(${this.reprBody()})`;
  }
}

/**
 * torch.ao.nn.quantized.Conv1d: quint8 (N, C, L) -> quint8 (N, out, L'), contiguous or
 * channels-last (N, L, C in memory) kept in the output.
 *
 * @example
 * const m = new nnq.Conv1d(16, 33, 3, { stride: 2, padding: 'valid' });
 */
export class Conv1d extends SingleInputConv {
  protected readonly relu = false;
  protected readonly reprName = 'QuantizedConv1d';
  constructor(inChannels: number, outChannels: number, kernelSize: IntOrTuple, options?: ConvModuleOptions) {
    super(1, false, inChannels, outChannels, kernelSize, options);
  }
}

/** torch.ao.nn.quantized.Conv2d (contiguous or channels_last input; output in the input's format). */
export class Conv2d extends SingleInputConv {
  protected readonly relu = false;
  protected readonly reprName = 'QuantizedConv2d';
  constructor(inChannels: number, outChannels: number, kernelSize: IntOrTuple, options?: ConvModuleOptions) {
    super(2, false, inChannels, outChannels, kernelSize, options);
  }
}

/** torch.ao.nn.quantized.Conv3d (contiguous or channels_last_3d input). */
export class Conv3d extends SingleInputConv {
  protected readonly relu = false;
  protected readonly reprName = 'QuantizedConv3d';
  constructor(inChannels: number, outChannels: number, kernelSize: IntOrTuple, options?: ConvModuleOptions) {
    super(3, false, inChannels, outChannels, kernelSize, options);
  }
}

/** torch.ao.nn.intrinsic.quantized.ConvReLU1d. */
export class ConvReLU1d extends SingleInputConv {
  protected readonly relu = true;
  protected readonly reprName = 'QuantizedConvReLU1d';
  constructor(inChannels: number, outChannels: number, kernelSize: IntOrTuple, options?: ConvModuleOptions) {
    super(1, false, inChannels, outChannels, kernelSize, options);
  }
}

/** torch.ao.nn.intrinsic.quantized.ConvReLU2d. */
export class ConvReLU2d extends SingleInputConv {
  protected readonly relu = true;
  protected readonly reprName = 'QuantizedConvReLU2d';
  constructor(inChannels: number, outChannels: number, kernelSize: IntOrTuple, options?: ConvModuleOptions) {
    super(2, false, inChannels, outChannels, kernelSize, options);
  }
}

/** torch.ao.nn.intrinsic.quantized.ConvReLU3d. */
export class ConvReLU3d extends SingleInputConv {
  protected readonly relu = true;
  protected readonly reprName = 'QuantizedConvReLU3d';
  constructor(inChannels: number, outChannels: number, kernelSize: IntOrTuple, options?: ConvModuleOptions) {
    super(3, false, inChannels, outChannels, kernelSize, options);
  }
}

/** A transposed conv module: forward(x, outputSize?) as torch's float ConvTranspose. */
abstract class TransposedConv extends ConvBase {
  /** @internal */
  protected abstract readonly reprName: string;

  /** outputSize (spatial sizes, or the whole output shape) picks the outputPadding, as torch's float module does. */
  forward(x: QTensor, outputSize?: readonly number[]): QTensor {
    return this.plan(x, false, outputSize).run();
  }

  forwardAsync(x: QTensor, outputSize?: readonly number[]): Promise<QTensor> {
    return runPlanAsync(captureCaller(this.forwardAsync), () => this.plan(x, false, outputSize));
  }

  override toString(): string {
    return `${this.reprName}(${this.reprBody()})`;
  }
}

/** torch.ao.nn.quantized.ConvTranspose1d: weight (in, out/groups, k). */
export class ConvTranspose1d extends TransposedConv {
  protected readonly reprName = 'QuantizedConvTranpose1d'; // sic: torch's name
  constructor(inChannels: number, outChannels: number, kernelSize: IntOrTuple, options?: ConvTransposeModuleOptions) {
    super(1, true, inChannels, outChannels, kernelSize, options);
  }
}

/** torch.ao.nn.quantized.ConvTranspose2d: weight (in, out/groups, kH, kW). */
export class ConvTranspose2d extends TransposedConv {
  protected readonly reprName = 'QuantizedConvTranpose2d'; // sic: torch's name
  constructor(inChannels: number, outChannels: number, kernelSize: IntOrTuple, options?: ConvTransposeModuleOptions) {
    super(2, true, inChannels, outChannels, kernelSize, options);
  }
}

/** torch.ao.nn.quantized.ConvTranspose3d: weight (in, out/groups, kD, kH, kW). */
export class ConvTranspose3d extends TransposedConv {
  protected readonly reprName = 'QuantizedConvTranpose3d'; // sic: torch's name
  constructor(inChannels: number, outChannels: number, kernelSize: IntOrTuple, options?: ConvTransposeModuleOptions) {
    super(3, true, inChannels, outChannels, kernelSize, options);
  }
}

/** A conv module whose forward adds a second quint8 input (torch's conv2d_add). */
abstract class ConvAddBase extends ConvBase {
  /** @internal */
  protected abstract readonly relu: boolean;
  /** @internal */
  protected abstract readonly reprName: string;

  constructor(inChannels: number, outChannels: number, kernelSize: IntOrTuple, options?: ConvModuleOptions) {
    super(2, false, inChannels, outChannels, kernelSize, options);
  }

  /** conv(x) + extra (both real-valued), then ReLU for ConvAddReLU2d, quantized to (scale, zeroPoint). */
  forward(x: QTensor, extra: QTensor): QTensor {
    return this.plan(x, this.relu, undefined, extra).run();
  }

  forwardAsync(x: QTensor, extra: QTensor): Promise<QTensor> {
    return runPlanAsync(captureCaller(this.forwardAsync), () => this.plan(x, this.relu, undefined, extra));
  }

  override toString(): string {
    return `${this.reprName}(${this.reprBody()})`;
  }
}

/** torch.ao.nn.intrinsic.quantized.ConvAdd2d (a oneDNN fusion): forward(x, extra) = quantize(conv(x) + extra). */
export class ConvAdd2d extends ConvAddBase {
  protected readonly relu = false;
  protected readonly reprName = 'QuantizedConvAdd2d';
}

/** torch.ao.nn.intrinsic.quantized.ConvAddReLU2d: quantize(relu(conv(x) + extra)). */
export class ConvAddReLU2d extends ConvAddBase {
  protected readonly relu = true;
  protected readonly reprName = 'QuantizedConvAddReLU2d';
}
