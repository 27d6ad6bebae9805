// The linear and conv modules of nnq, nniq, nnqd and nniq.dynamic: prepacked once in setWeightBias, run by forward.

import { OpPlan, planAsync } from '../plan';
import { pythonFloatRepr } from '../format';
import { LoadContext, Module } from '../nn/module';
import { StateDict, describeStateValue, floatTensor, quantizedTensor, readConstant, readQParams, saveQParams } from '../nn/state';
import { QTensor, makePerTensorQuantizedTensor } from '../qtensor';
import { Tensor, tensor } from '../tensor';
import * as validate from '../validate';
import { Activation } from './native';
import { ConvCache, checkZeroPointU8, convForward, fastOutputQParams, newLinearFastCache, planConv, planLinear, planLinearDynamic, runLinearFast } from './plan';
import { ConvPadding, ConvSpec, IntOrTuple, PaddingMode, convSpec, outputPaddingFor, tupleRepr, weightShape } from './params';
import { PackedWeight, packConv, packLinear, releasePacked, repackConv, unpackBias, unpackWeight } from './weights';

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

/** The `[weight, bias]` pair torch saves as `_packed_params._packed_params` (a tuple), checked. */
function weightBiasPair(value: unknown, key: string): [QTensor, Tensor | null] {
  if (!Array.isArray(value) || value.length !== 2) {
    throw new TypeError(validate.expected('[weight QTensor, bias Tensor | null]', key, describeStateValue(value)));
  }
  return [quantizedTensor(value[0], `${key}[0]`), value[1] === null ? null : floatTensor(value[1], `${key}[1]`)];
}

// ---- linear ----------------------------------------------------------------------------------

export interface LinearModuleOptions {
  /** Whether the module has a bias (default true). */
  bias?: boolean;
  /** Weight dtype: qint8, the only one the quantized Linear takes. */
  dtype?: 'qint8';
}

/**
 * What the static and dynamic linear modules share: sizes, the packed weight, scale and
 * zero point (unused by the dynamic forward, but saved by torch), and torch's state-dict keys.
 */
abstract class PackedLinearModule extends Module {
  readonly inFeatures: number;
  readonly outFeatures: number;
  scale = 1;
  zeroPoint = 0;
  /** @internal */
  protected packed: PackedWeight;

  /** `known`: the option names this module takes (bias and dtype are read here). */
  constructor(inFeatures: number, outFeatures: number, options: unknown, known: readonly string[]) {
    super();
    const opts = validate.options(options, 'options', known);
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
   * (calls already queued by forwardAsync finish); forward afterwards throws a TypeError
   * naming the module. Also run by `using` (Symbol.dispose), as every module's dispose().
   */
  override dispose(): void {
    validate.disposeOnce(this, ['packed'], () => releasePacked(this.packed));
    super.dispose();
  }

  /** torch's keys: `scale`, `zero_point`, `_packed_params.dtype`, `_packed_params._packed_params` ([weight, bias]). */
  protected override saveToStateDict(dest: StateDict, prefix: string): void {
    saveQParams(dest, prefix, this.scale, this.zeroPoint);
    dest.set(`${prefix}_packed_params.dtype`, 'torch.qint8');
    dest.set(`${prefix}_packed_params._packed_params`, [this.weight(), this.bias()]);
  }

  protected override loadFromStateDict(ctx: LoadContext, prefix: string): (() => void) | void {
    const qparams = readQParams(ctx, prefix);
    readConstant(ctx, `${prefix}_packed_params.dtype`, ['torch.qint8']);
    const key = `${prefix}_packed_params._packed_params`;
    const packed = ctx.read(key, (value) => {
      const [weight, bias] = weightBiasPair(value, key);
      return packLinear(weight, bias, this.outFeatures, this.inFeatures);
    });
    if (qparams === undefined || packed === undefined) return;
    return () => {
      this.packed = packed;
      this.scale = qparams.scale;
      this.zeroPoint = qparams.zeroPoint;
    };
  }
}

/** The state and methods every quantized linear module shares. */
abstract class LinearBase extends PackedLinearModule {
  // scale and zeroPoint are the output qparams (attributes, as in torch; forward checks them).
  private readonly fastCache = newLinearFastCache();

  constructor(inFeatures: number, outFeatures: number, options?: LinearModuleOptions) {
    super(inFeatures, outFeatures, options, ['bias', 'dtype']);
  }

  /** @internal */
  protected plan(x: unknown, activation: Activation, alpha = 0): OpPlan<QTensor> {
    const scale = validate.scale(this.scale, 'scale');
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

  override extraRepr(): string {
    return (
      `in_features=${this.inFeatures}, out_features=${this.outFeatures}, scale=${pythonFloatRepr(this.scale)}, ` +
      `zero_point=${this.zeroPoint}, qscheme=${qschemeRepr(this.packed)}`
    );
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
  override forward(x: QTensor): QTensor {
    return this.run(x, Activation.None);
  }

  /** forward off the event loop (qkernels' async job queue): same bits. */
  override forwardAsync(x: QTensor): Promise<QTensor> {
    return planAsync(this.forwardAsync, () => this.plan(x, Activation.None));
  }

  override getName(): string {
    return 'QuantizedLinear';
  }
}

/** torch.ao.nn.intrinsic.quantized.LinearReLU: Linear with ReLU fused into the output stage. */
export class LinearReLU extends LinearBase {
  override forward(x: QTensor): QTensor {
    return this.run(x, Activation.ReLU);
  }

  override forwardAsync(x: QTensor): Promise<QTensor> {
    return planAsync(this.forwardAsync, () => this.plan(x, Activation.ReLU));
  }

  override getName(): string {
    return 'QuantizedLinearReLU';
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

  override forward(x: QTensor): QTensor {
    return this.run(x, Activation.LeakyReLU, validate.finiteNumber(this.negativeSlope, 'negativeSlope'));
  }

  override forwardAsync(x: QTensor): Promise<QTensor> {
    return planAsync(this.forwardAsync, () =>
      this.plan(x, Activation.LeakyReLU, validate.finiteNumber(this.negativeSlope, 'negativeSlope')),
    );
  }

  override getName(): string {
    return 'QuantizedLinearLeakyReLU';
  }
}

/** torch.ao.nn.intrinsic.quantized.LinearTanh: the fp32 linear output, tanh, then quantized to (scale, zeroPoint). */
export class LinearTanh extends LinearBase {
  override forward(x: QTensor): QTensor {
    return this.run(x, Activation.Tanh);
  }

  override forwardAsync(x: QTensor): Promise<QTensor> {
    return planAsync(this.forwardAsync, () => this.plan(x, Activation.Tanh));
  }

  override getName(): string {
    return 'QuantizedLinearTanh';
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
abstract class DynamicLinearBase extends PackedLinearModule {
  /** Whether activations are quantized to 7 bits (torch's modules pass reduce_range=True). */
  reduceRange: boolean;

  constructor(inFeatures: number, outFeatures: number, options?: DynamicLinearOptions) {
    super(inFeatures, outFeatures, options, ['bias', 'dtype', 'reduceRange']);
    const reduceRange = (options as DynamicLinearOptions | undefined)?.reduceRange;
    this.reduceRange = reduceRange === undefined ? true : validate.boolean(reduceRange, 'reduceRange');
  }

  /** @internal */
  protected plan(x: unknown, relu: boolean): OpPlan<Tensor> {
    return planLinearDynamic(this.packed, x, 'x', validate.boolean(this.reduceRange, 'reduceRange'), relu);
  }

  override extraRepr(): string {
    return `in_features=${this.inFeatures}, out_features=${this.outFeatures}, dtype=torch.qint8, qscheme=${qschemeRepr(this.packed)}`;
  }
}

/**
 * torch.ao.nn.quantized.dynamic.Linear: fp32 (N, *, in) -> fp32 (N, *, out); the input is
 * quantized per call to quint8 from its min and max (7 bits with reduceRange).
 */
export class DynamicLinear extends DynamicLinearBase {
  override forward(x: Tensor): Tensor {
    return this.plan(x, false).run();
  }

  override forwardAsync(x: Tensor): Promise<Tensor> {
    return planAsync(this.forwardAsync, () => this.plan(x, false));
  }

  override getName(): string {
    return 'DynamicQuantizedLinear';
  }
}

/** torch.ao.nn.intrinsic.quantized.dynamic.LinearReLU: dynamic Linear with ReLU on the fp32 output. */
export class DynamicLinearReLU extends DynamicLinearBase {
  override forward(x: Tensor): Tensor {
    return this.plan(x, true).run();
  }

  override forwardAsync(x: Tensor): Promise<Tensor> {
    return planAsync(this.forwardAsync, () => this.plan(x, true));
  }

  override getName(): string {
    return 'DynamicQuantizedLinearReLU';
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
abstract class ConvBase extends Module {
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
  /** The derived state eager forwards reuse (private: not an attribute torch has). */
  readonly #fast = new ConvCache();

  constructor(dims: 1 | 2 | 3, transposed: boolean, inChannels: number, outChannels: number, kernelSize: IntOrTuple, options: unknown) {
    super();
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
   * (calls already queued by forwardAsync finish); forward afterwards throws a TypeError
   * naming the module. Also run by `using` (Symbol.dispose), as every module's dispose().
   */
  override dispose(): void {
    validate.disposeOnce(this, ['packed', 'repacked'], () => {
      releasePacked(this.packed);
      if (this.repacked !== null) releasePacked(this.repacked.packed);
      this.#fast.entry = null;
    });
    super.dispose();
  }

  /** torch's keys: `weight` (QTensor), `bias` (Tensor or null), `scale`, `zero_point`. */
  protected override saveToStateDict(dest: StateDict, prefix: string): void {
    dest.set(`${prefix}weight`, this.weight());
    dest.set(`${prefix}bias`, this.bias());
    saveQParams(dest, prefix, this.scale, this.zeroPoint);
  }

  protected override loadFromStateDict(ctx: LoadContext, prefix: string): (() => void) | void {
    const weight = ctx.read(`${prefix}weight`, (value) => quantizedTensor(value, `${prefix}weight`));
    const bias = ctx.read(`${prefix}bias`, (value) => (value === null ? null : floatTensor(value, `${prefix}bias`)));
    const qparams = readQParams(ctx, prefix);
    if (weight === undefined || bias === undefined) return;
    let packed: PackedWeight;
    try {
      packed = packConv(this.spec, weight, bias);
    } catch (error) {
      ctx.error(`While copying "${prefix}weight" and "${prefix}bias": ${(error as Error).message}`);
      return;
    }
    if (qparams === undefined) return;
    return () => {
      this.packed = packed;
      this.repacked = null;
      this.scale = qparams.scale;
      this.zeroPoint = qparams.zeroPoint;
    };
  }

  /** @internal */
  protected plan(x: unknown, relu: boolean, outputSize?: unknown, extra?: unknown): OpPlan<QTensor> {
    const scale = validate.scale(this.scale, 'scale');
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

  /** @internal forward of one input (no outputSize, no extra): plan's checks, with the last call's derived state reused (convForward). */
  protected eager(x: unknown, relu: boolean): QTensor {
    const scale = validate.scale(this.scale, 'scale');
    const zeroPoint = checkZeroPointU8(this.zeroPoint, 'zeroPoint');
    return convForward(this.packed, this.spec, x, scale, zeroPoint, relu, this.#fast);
  }

  /** torch's _ConvNd.extra_repr. */
  override extraRepr(): string {
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
}

/** A conv module whose forward takes one input; `relu` fuses ReLU into the output stage. */
abstract class SingleInputConv extends ConvBase {
  /** @internal */
  protected abstract readonly relu: boolean;
  /** @internal */
  protected abstract readonly reprName: string;

  override forward(x: QTensor): QTensor {
    return this.eager(x, this.relu);
  }

  /** forward off the event loop (qkernels' async job queue): same bits. */
  override forwardAsync(x: QTensor): Promise<QTensor> {
    return planAsync(this.forwardAsync, () => this.plan(x, this.relu));
  }

  override getName(): string {
    return this.reprName;
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
  override forward(x: QTensor, outputSize?: readonly number[]): QTensor {
    return outputSize === undefined ? this.eager(x, false) : this.plan(x, false, outputSize).run();
  }

  override forwardAsync(x: QTensor, outputSize?: readonly number[]): Promise<QTensor> {
    return planAsync(this.forwardAsync, () => this.plan(x, false, outputSize));
  }

  override getName(): string {
    return this.reprName;
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
  override forward(x: QTensor, extra: QTensor): QTensor {
    return this.plan(x, this.relu, undefined, extra).run();
  }

  override forwardAsync(x: QTensor, extra: QTensor): Promise<QTensor> {
    return planAsync(this.forwardAsync, () => this.plan(x, this.relu, undefined, extra));
  }

  override getName(): string {
    return this.reprName;
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
