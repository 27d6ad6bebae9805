// The pool-norm family's modules: nnq pooling, upsampling and normalization modules, nniq.BNReLU2d/3d.
//
// Each module keeps its constructor arguments as attributes (torch's names in camelCase) and
// checks them on every forward, so reassigning one (m.scale = 0.2) takes effect as in torch.

import { LoadContext, Module } from '../nn/module';
import { StateDict, asFloatTensor, int64Tensor, readFloatTensor, readQParams, saveQParams, scalarInteger } from '../nn/state';
import { pythonFloatRepr } from '../format';
import { QTensor } from '../qtensor';
import { Tensor, tensor } from '../tensor';
import * as validate from '../validate';
import { planAsync } from '../plan';
import {
  AdaptivePoolCache,
  BatchNormCache,
  EagerCache,
  InterpolateCache,
  LayerNormCache,
  WindowPoolCache,
  adaptivePoolForward,
  batchNormForward,
  float32Scale,
  layerNormForward,
  upsampleForward,
  windowPoolForward,
} from './eager';
import {
  AVG_POOL_OPTIONS,
  AvgPoolOptions,
  INTERPOLATE_OPTIONS,
  InterpolateOptions,
  MAX_POOL_OPTIONS,
  MaxPoolOptions,
  Plan,
  floatParams,
  planAdaptiveAvgPool,
  planAdaptiveMaxPool,
  planAvgPool,
  planBatchNorm,
  planGroupNorm,
  planInterpolate,
  planLayerNorm,
  planMaxPool,
} from './plan';

type IntOrList = number | readonly number[];
type SizeList = number | readonly (number | null)[];
type Floats = Tensor | ArrayLike<number>;

/** forward / forwardAsync / toString over one plan function. */
abstract class PlannedModule extends Module {
  /** @internal The op this module runs on x. */
  abstract plan(x: QTensor): Plan;
  /** @internal torch's repr. */
  abstract describe(): string;

  override forward(x: QTensor): QTensor {
    return this.plan(x).run();
  }

  /** forward off the event loop (qkernels' async job queue): same bits. */
  override forwardAsync(x: QTensor): Promise<QTensor> {
    return planAsync(this.forwardAsync, () => this.plan(x));
  }

  // These modules have no children: describe() is the whole of torch's repr.
  override toString(): string {
    return this.describe();
  }
}

/** Saves the affine weight and bias of a norm module when it has them (torch skips None parameters). */
function saveAffine(dest: StateDict, prefix: string, weight: Floats | null, bias: Floats | null): void {
  if (weight !== null) dest.set(`${prefix}weight`, asFloatTensor(weight));
  if (bias !== null) dest.set(`${prefix}bias`, asFloatTensor(bias));
}

/**
 * Reads a norm module's weight/bias (of `shape`, each only when the module has one) and
 * output qparams; returns the closure applying them, or nothing when something was wrong.
 */
function loadNorm(
  ctx: LoadContext,
  prefix: string,
  shape: readonly number[],
  module: { weight: Floats | null; bias: Floats | null; scale: number; zeroPoint: number },
): (() => void) | void {
  const weight = module.weight === null ? null : readFloatTensor(ctx, `${prefix}weight`, shape);
  const bias = module.bias === null ? null : readFloatTensor(ctx, `${prefix}bias`, shape);
  const qparams = readQParams(ctx, prefix, [-128, 255]);
  if (weight === undefined || bias === undefined || qparams === undefined) return;
  return () => {
    module.weight = weight;
    module.bias = bias;
    module.scale = qparams.scale;
    module.zeroPoint = qparams.zeroPoint;
  };
}

/** A Python tuple as torch prints normalized_shape: `(6,)`, `(2, 3)`. */
function shapeTuple(value: IntOrList): string {
  const dims = typeof value === 'number' ? [value] : [...value];
  return dims.length === 1 ? `(${dims[0]},)` : `(${dims.join(', ')})`;
}

function tupleText(value: unknown): string {
  if (!Array.isArray(value)) return String(value);
  // Read once and bounded: a kept argument may be an array-like whose length lies.
  try {
    return `(${validate.arrayOnce(value, 'value', 'tuple', 8).join(', ')})`;
  } catch {
    return '(...)';
  }
}

/** A kept mode option as torch prints it; anything but a string is rendered bounded (never via its own toString). */
// torch 1.13's extra_repr prints the mode unquoted; a kept non-string mode (a Proxy, say) is
// described bounded, never walked.
function modeText(value: unknown): string {
  if (value === undefined || value === null) return 'nearest';
  return typeof value === 'string' ? value : validate.describeValue(value);
}

// ---- pooling ---------------------------------------------------------------------------------

abstract class MaxPoolNd extends PlannedModule {
    kernelSize: IntOrList;
    options: MaxPoolOptions;
    /** The derived state eager forwards reuse (private: not an attribute torch has). */
    readonly #fast: WindowPoolCache = new EagerCache();
    constructor(private readonly dims: number, private readonly torchName: string, kernelSize: IntOrList, options?: MaxPoolOptions) {
      super();
      this.kernelSize = kernelSize;
      this.options = { ...validate.options(options, 'options', MAX_POOL_OPTIONS) };
      planMaxPoolCheck(this.dims, kernelSize, this.options);
    }
    plan(x: QTensor): Plan {
      return planMaxPool(this.dims, x, this.kernelSize, this.options);
    }
    override forward(x: QTensor): QTensor {
      return windowPoolForward(false, this.dims, x, this.kernelSize, this.options, this.#fast);
    }
    describe(): string {
      const o = this.options;
      return `${this.torchName}(kernel_size=${tupleText(this.kernelSize)}, stride=${tupleText(o.stride ?? this.kernelSize)}, padding=${tupleText(o.padding ?? 0)}, dilation=${tupleText(o.dilation ?? 1)}, ceil_mode=${o.ceilMode ? 'True' : 'False'})`;
    }
}

// Constructor-time checks of the options' types (sizes are checked against the input in forward).
function planMaxPoolCheck(dims: number, kernelSize: unknown, options: MaxPoolOptions): void {
  if (typeof kernelSize !== 'number' && !Array.isArray(kernelSize)) throw validate.invalidType(`integer or array of ${dims} integers`, 'kernelSize', kernelSize);
  if (options.ceilMode !== undefined) validate.boolean(options.ceilMode, 'ceilMode');
}

abstract class AvgPoolNd extends PlannedModule {
    kernelSize: IntOrList;
    options: AvgPoolOptions;
    /** The derived state eager forwards reuse (private: not an attribute torch has). */
    readonly #fast: WindowPoolCache = new EagerCache();
    constructor(private readonly dims: number, private readonly torchName: string, kernelSize: IntOrList, options?: AvgPoolOptions) {
      super();
      this.kernelSize = kernelSize;
      this.options = { ...validate.options(options, 'options', AVG_POOL_OPTIONS) };
      if (typeof kernelSize !== 'number' && !Array.isArray(kernelSize)) throw validate.invalidType(`integer or array of ${this.dims} integers`, 'kernelSize', kernelSize);
    }
    plan(x: QTensor): Plan {
      return planAvgPool(this.dims, x, this.kernelSize, this.options);
    }
    override forward(x: QTensor): QTensor {
      return windowPoolForward(true, this.dims, x, this.kernelSize, this.options, this.#fast);
    }
    describe(): string {
      const o = this.options;
      return `${this.torchName}(kernel_size=${tupleText(this.kernelSize)}, stride=${tupleText(o.stride ?? this.kernelSize)}, padding=${tupleText(o.padding ?? 0)})`;
    }
}

abstract class AdaptivePoolNd extends PlannedModule {
    outputSize: SizeList;
    /** The derived state eager forwards reuse (private: not an attribute torch has). */
    readonly #fast: AdaptivePoolCache = new EagerCache();
    constructor(private readonly dims: number, private readonly torchName: string, private readonly max: boolean, outputSize: SizeList) {
      super();
      this.outputSize = outputSize;
    }
    plan(x: QTensor): Plan {
      return this.max ? planAdaptiveMaxPool(this.dims, x, this.outputSize, undefined) : planAdaptiveAvgPool(this.dims, x, this.outputSize);
    }
    override forward(x: QTensor): QTensor {
      return adaptivePoolForward(this.dims, this.max, x, this.outputSize, this.#fast);
    }
    describe(): string {
      return `${this.torchName}(output_size=${tupleText(this.outputSize)})`;
    }
}

/** torch.nn.MaxPool1d on quantized tensors. */
export class MaxPool1d extends MaxPoolNd {
  constructor(kernelSize: IntOrList, options?: MaxPoolOptions) {
    super(1, 'MaxPool1d', kernelSize, options);
  }
}
/** torch.ao.nn.quantized.MaxPool2d (torch re-exports nn.MaxPool2d, which runs the quantized kernel). */
export class MaxPool2d extends MaxPoolNd {
  constructor(kernelSize: IntOrList, options?: MaxPoolOptions) {
    super(2, 'MaxPool2d', kernelSize, options);
  }
}
/** Beyond PyTorch: 3-D max pooling of quantized tensors. */
export class MaxPool3d extends MaxPoolNd {
  constructor(kernelSize: IntOrList, options?: MaxPoolOptions) {
    super(3, 'MaxPool3d', kernelSize, options);
  }
}
/** Beyond PyTorch: 1-D average pooling of quantized tensors. */
export class AvgPool1d extends AvgPoolNd {
  constructor(kernelSize: IntOrList, options?: AvgPoolOptions) {
    super(1, 'AvgPool1d', kernelSize, options);
  }
}
/** torch.nn.AvgPool2d on quantized tensors. */
export class AvgPool2d extends AvgPoolNd {
  constructor(kernelSize: IntOrList, options?: AvgPoolOptions) {
    super(2, 'AvgPool2d', kernelSize, options);
  }
}
/** torch.nn.AvgPool3d on quantized tensors. */
export class AvgPool3d extends AvgPoolNd {
  constructor(kernelSize: IntOrList, options?: AvgPoolOptions) {
    super(3, 'AvgPool3d', kernelSize, options);
  }
}
/** Beyond PyTorch: 1-D adaptive average pooling of quantized tensors. */
export class AdaptiveAvgPool1d extends AdaptivePoolNd {
  constructor(outputSize: SizeList) {
    super(1, 'AdaptiveAvgPool1d', false, outputSize);
  }
}
/** torch.nn.AdaptiveAvgPool2d on quantized tensors. */
export class AdaptiveAvgPool2d extends AdaptivePoolNd {
  constructor(outputSize: SizeList) {
    super(2, 'AdaptiveAvgPool2d', false, outputSize);
  }
}
/** torch.nn.AdaptiveAvgPool3d on quantized tensors. */
export class AdaptiveAvgPool3d extends AdaptivePoolNd {
  constructor(outputSize: SizeList) {
    super(3, 'AdaptiveAvgPool3d', false, outputSize);
  }
}
/** Beyond PyTorch: 1-D adaptive max pooling of quantized tensors. */
export class AdaptiveMaxPool1d extends AdaptivePoolNd {
  constructor(outputSize: SizeList) {
    super(1, 'AdaptiveMaxPool1d', true, outputSize);
  }
}
/** Beyond PyTorch: 2-D adaptive max pooling of quantized tensors. */
export class AdaptiveMaxPool2d extends AdaptivePoolNd {
  constructor(outputSize: SizeList) {
    super(2, 'AdaptiveMaxPool2d', true, outputSize);
  }
}

/** torch.nn.Upsample on quantized tensors: qF.interpolate with the stored options. */
export class Upsample extends PlannedModule {
  options: InterpolateOptions;
  /** The derived state eager forwards reuse (private: not an attribute torch has). */
  readonly #fast: InterpolateCache = new EagerCache();
  constructor(options?: InterpolateOptions) {
    super();
    this.options = { ...validate.options(options, 'options', INTERPOLATE_OPTIONS) };
  }
  plan(x: QTensor): Plan {
    return planInterpolate(x, this.options);
  }
  override forward(x: QTensor): QTensor {
    return upsampleForward(x, this.options, this.#fast);
  }
  describe(): string {
    const o = this.options;
    // torch 1.13's extra_repr: str(size) or str(float scale_factor), then the mode unquoted.
    const mode = modeText(o.mode);
    if (o.size !== undefined && o.size !== null) return `Upsample(size=${tupleText(o.size)}, mode=${mode})`;
    const factor = o.scaleFactor;
    const factors = typeof factor === 'number' ? pythonFloatRepr(factor) : tupleText(factor);
    return `Upsample(scale_factor=${factors}, mode=${mode})`;
  }
}

// ---- normalization -----------------------------------------------------------------------------

type InstanceNormOptions = { eps?: number; momentum?: number; affine?: boolean; trackRunningStats?: boolean };

function filled(length: number, value: number): Tensor {
  return tensor(new Float32Array(length).fill(value), [length]);
}

abstract class BatchNormNd extends PlannedModule {
    /** Attributes, as in torch (float32 buffers there; here Tensors of numFeatures values). */
    weight: Tensor;
    bias: Tensor;
    runningMean: Tensor;
    runningVar: Tensor;
    eps: number;
    momentum: number;
    scale: number;
    zeroPoint: number;
    /** torch's num_batches_tracked buffer (a count; inference does not change it). */
    numBatchesTracked: number;
    readonly numFeatures: number;
    /** The derived state eager forwards reuse (private: not an attribute torch has). */
    readonly #fast: BatchNormCache = new EagerCache();

    constructor(private readonly ranks: readonly number[], private readonly torchName: string, private readonly relu: boolean, numFeatures: number, options?: { eps?: number; momentum?: number }) {
      super();
      const o = validate.options(options, 'options', ['eps', 'momentum']);
      this.numFeatures = validate.integerInRange(numFeatures, 'numFeatures', 1, 2 ** 31 - 1);
      this.eps = o.eps === undefined ? 1e-5 : validate.finiteNumber(o.eps, 'eps');
      this.momentum = o.momentum === undefined ? 0.1 : validate.finiteNumber(o.momentum, 'momentum');
      this.weight = filled(numFeatures, 1);
      this.bias = filled(numFeatures, 0);
      this.runningMean = filled(numFeatures, 0);
      this.runningVar = filled(numFeatures, 1);
      this.scale = 1;
      this.zeroPoint = 0;
      this.numBatchesTracked = 0;
    }

    /** torch's keys: weight, bias, running_mean, running_var, num_batches_tracked, scale, zero_point. */
    protected override saveToStateDict(dest: StateDict, prefix: string): void {
      dest.set(`${prefix}weight`, this.weight);
      dest.set(`${prefix}bias`, this.bias);
      dest.set(`${prefix}running_mean`, this.runningMean);
      dest.set(`${prefix}running_var`, this.runningVar);
      dest.set(`${prefix}num_batches_tracked`, int64Tensor(this.numBatchesTracked));
      saveQParams(dest, prefix, this.scale, this.zeroPoint);
    }

    protected override loadFromStateDict(ctx: LoadContext, prefix: string): (() => void) | void {
      const shape = [this.numFeatures];
      const weight = readFloatTensor(ctx, `${prefix}weight`, shape);
      const bias = readFloatTensor(ctx, `${prefix}bias`, shape);
      const runningMean = readFloatTensor(ctx, `${prefix}running_mean`, shape);
      const runningVar = readFloatTensor(ctx, `${prefix}running_var`, shape);
      const tracked = ctx.read(`${prefix}num_batches_tracked`, (v) => scalarInteger(v, `${prefix}num_batches_tracked`));
      const qparams = readQParams(ctx, prefix, [-128, 255]);
      if (weight === undefined || bias === undefined || runningMean === undefined || runningVar === undefined || tracked === undefined || qparams === undefined) return;
      return () => {
        this.weight = weight;
        this.bias = bias;
        this.runningMean = runningMean;
        this.runningVar = runningVar;
        this.numBatchesTracked = tracked;
        this.scale = qparams.scale;
        this.zeroPoint = qparams.zeroPoint;
      };
    }

    plan(x: QTensor): Plan {
      return planBatchNorm(this.ranks, x, this.weight, this.bias, this.runningMean, this.runningVar, this.eps, float32Scale(this.scale), this.zeroPoint, this.relu);
    }
    override forward(x: QTensor): QTensor {
      return batchNormForward(this.ranks, x, this.weight, this.bias, this.runningMean, this.runningVar, this.eps, this.scale, this.zeroPoint, this.relu, this.#fast);
    }

    describe(): string {
      return `${this.torchName}(${this.numFeatures}, eps=${pythonFloatRepr(this.eps)}, momentum=${pythonFloatRepr(this.momentum)}, affine=True, track_running_stats=True)`;
    }
}

/** Beyond PyTorch 1.13's modules: quantized BatchNorm over (N, C) or (N, C, L). */
export class BatchNorm1d extends BatchNormNd {
  constructor(numFeatures: number, options?: { eps?: number; momentum?: number }) {
    super([2, 3], 'QuantizedBatchNorm1d', false, numFeatures, options);
  }
}
/**
 * torch.ao.nn.quantized.BatchNorm2d. Attributes weight, bias, runningMean, runningVar (Tensors),
 * eps, scale (kept in float32, as torch's buffer), zeroPoint.
 *
 * @example
 * const bn = new nnq.BatchNorm2d(16);
 * bn.runningMean = tensor(mean, [16]); bn.runningVar = tensor(variance, [16]);
 * bn.scale = 0.05; bn.zeroPoint = 128;
 * const y = bn.forward(x);
 */
export class BatchNorm2d extends BatchNormNd {
  constructor(numFeatures: number, options?: { eps?: number; momentum?: number }) {
    super([4], 'QuantizedBatchNorm2d', false, numFeatures, options);
  }
}
/** torch.ao.nn.quantized.BatchNorm3d. */
export class BatchNorm3d extends BatchNormNd {
  constructor(numFeatures: number, options?: { eps?: number; momentum?: number }) {
    super([5], 'QuantizedBatchNorm3d', false, numFeatures, options);
  }
}
/** torch.ao.nn.intrinsic.quantized.BNReLU2d: BatchNorm2d then ReLU, fused. */
export class BNReLU2d extends BatchNormNd {
  constructor(numFeatures: number, options?: { eps?: number; momentum?: number }) {
    super([4], 'QuantizedBNReLU2d', true, numFeatures, options);
  }
}
/** torch.ao.nn.intrinsic.quantized.BNReLU3d. */
export class BNReLU3d extends BatchNormNd {
  constructor(numFeatures: number, options?: { eps?: number; momentum?: number }) {
    super([5], 'QuantizedBNReLU3d', true, numFeatures, options);
  }
}

/**
 * torch.ao.nn.quantized.LayerNorm(normalized_shape, weight, bias, scale, zero_point, eps, elementwise_affine).
 *
 * @example
 * const ln = new nnq.LayerNorm([16], weight, bias, 0.1, 128, { eps: 1e-5 });
 */
export class LayerNorm extends PlannedModule {
  normalizedShape: IntOrList;
  weight: Floats | null;
  bias: Floats | null;
  scale: number;
  zeroPoint: number;
  eps: number;
  elementwiseAffine: boolean;
  /** The derived state eager forwards reuse (private: not an attribute torch has). */
  readonly #fast: LayerNormCache = new EagerCache();

  constructor(normalizedShape: IntOrList, weight: Floats | null, bias: Floats | null, scale: number, zeroPoint: number, options?: { eps?: number; elementwiseAffine?: boolean }) {
    super();
    const o = validate.options(options, 'options', ['eps', 'elementwiseAffine']);
    this.normalizedShape = normalizedShape;
    this.weight = weight;
    this.bias = bias;
    this.scale = validate.positiveFiniteNumber(scale, 'scale');
    this.zeroPoint = validate.integerInRange(zeroPoint, 'zeroPoint', -128, 255);
    this.eps = o.eps === undefined ? 1e-5 : validate.finiteNumber(o.eps, 'eps');
    this.elementwiseAffine = o.elementwiseAffine === undefined ? true : validate.boolean(o.elementwiseAffine, 'elementwiseAffine');
  }

  /** torch's keys: weight and bias (when set), scale, zero_point. */
  protected override saveToStateDict(dest: StateDict, prefix: string): void {
    saveAffine(dest, prefix, this.weight, this.bias);
    saveQParams(dest, prefix, this.scale, this.zeroPoint);
  }

  protected override loadFromStateDict(ctx: LoadContext, prefix: string): (() => void) | void {
    const n = this.normalizedShape;
    return loadNorm(ctx, prefix, typeof n === 'number' ? [n] : n, this);
  }

  plan(x: QTensor): Plan {
    return planLayerNorm(x, this.normalizedShape, this.weight, this.bias, this.eps, this.scale, this.zeroPoint);
  }
  override forward(x: QTensor): QTensor {
    return layerNormForward(x, this.normalizedShape, this.weight, this.bias, this.eps, this.scale, this.zeroPoint, this.#fast);
  }

  describe(): string {
    return `QuantizedLayerNorm(${shapeTuple(this.normalizedShape)}, eps=${pythonFloatRepr(this.eps)}, elementwise_affine=${this.elementwiseAffine ? 'True' : 'False'})`;
  }
}

/** torch.ao.nn.quantized.GroupNorm(num_groups, num_channels, weight, bias, scale, zero_point, eps, affine). */
export class GroupNorm extends PlannedModule {
  numGroups: number;
  numChannels: number;
  weight: Floats | null;
  bias: Floats | null;
  scale: number;
  zeroPoint: number;
  eps: number;
  affine: boolean;

  constructor(numGroups: number, numChannels: number, weight: Floats | null, bias: Floats | null, scale: number, zeroPoint: number, options?: { eps?: number; affine?: boolean }) {
    super();
    const o = validate.options(options, 'options', ['eps', 'affine']);
    this.numGroups = validate.integerInRange(numGroups, 'numGroups', 1, 2 ** 31 - 1);
    this.numChannels = validate.integerInRange(numChannels, 'numChannels', 1, 2 ** 31 - 1);
    if (this.numChannels % this.numGroups !== 0) throw validate.invalidRange(`divisor of numChannels (${numChannels})`, 'numGroups', numGroups);
    this.weight = weight;
    this.bias = bias;
    this.scale = validate.positiveFiniteNumber(scale, 'scale');
    this.zeroPoint = validate.integerInRange(zeroPoint, 'zeroPoint', -128, 255);
    this.eps = o.eps === undefined ? 1e-5 : validate.finiteNumber(o.eps, 'eps');
    this.affine = o.affine === undefined ? true : validate.boolean(o.affine, 'affine');
  }

  /** torch's keys: weight and bias (when set), scale, zero_point. */
  protected override saveToStateDict(dest: StateDict, prefix: string): void {
    saveAffine(dest, prefix, this.weight, this.bias);
    saveQParams(dest, prefix, this.scale, this.zeroPoint);
  }

  protected override loadFromStateDict(ctx: LoadContext, prefix: string): (() => void) | void {
    return loadNorm(ctx, prefix, [this.numChannels], this);
  }

  plan(x: QTensor): Plan {
    if (x instanceof QTensor && x.dim() >= 2 && x.shape[1] !== this.numChannels) {
      throw validate.invalidRange(`QTensor with ${this.numChannels} channels (dim 1)`, 'x', x);
    }
    return planGroupNorm(x, this.numGroups, this.weight, this.bias, this.eps, this.scale, this.zeroPoint);
  }

  describe(): string {
    return `QuantizedGroupNorm(${this.numGroups}, ${this.numChannels}, eps=${pythonFloatRepr(this.eps)}, affine=${this.affine ? 'True' : 'False'})`;
  }
}

abstract class InstanceNormNd extends PlannedModule {
    numFeatures: number;
    weight: Floats | null;
    bias: Floats | null;
    scale: number;
    zeroPoint: number;
    eps: number;
    momentum: number;
    affine: boolean;
    trackRunningStats: boolean;

    constructor(private readonly rank: number, private readonly torchName: string, numFeatures: number, weight: Floats | null, bias: Floats | null, scale: number, zeroPoint: number, options?: InstanceNormOptions) {
      super();
      const o = validate.options(options, 'options', ['eps', 'momentum', 'affine', 'trackRunningStats']);
      this.numFeatures = validate.integerInRange(numFeatures, 'numFeatures', 1, 2 ** 31 - 1);
      this.weight = weight;
      this.bias = bias;
      if (weight !== null) floatParams(weight, 'weight', this.numFeatures, false);
      this.scale = validate.positiveFiniteNumber(scale, 'scale');
      this.zeroPoint = validate.integerInRange(zeroPoint, 'zeroPoint', -128, 255);
      this.eps = o.eps === undefined ? 1e-5 : validate.finiteNumber(o.eps, 'eps');
      this.momentum = o.momentum === undefined ? 0.1 : validate.finiteNumber(o.momentum, 'momentum');
      this.affine = o.affine === undefined ? false : validate.boolean(o.affine, 'affine');
      this.trackRunningStats = o.trackRunningStats === undefined ? false : validate.boolean(o.trackRunningStats, 'trackRunningStats');
    }

    /** torch's keys: weight and bias (when set), scale, zero_point. */
    protected override saveToStateDict(dest: StateDict, prefix: string): void {
      saveAffine(dest, prefix, this.weight, this.bias);
      saveQParams(dest, prefix, this.scale, this.zeroPoint);
    }

    protected override loadFromStateDict(ctx: LoadContext, prefix: string): (() => void) | void {
      return loadNorm(ctx, prefix, [this.numFeatures], this);
    }

    plan(x: QTensor): Plan {
      if (!(x instanceof QTensor) || x.dim() !== this.rank) throw validate.invalidRange(`${this.rank}-D (N, C, ...) QTensor`, 'x', x);
      return planGroupNorm(x, x.shape[1], this.weight, this.bias, this.eps, this.scale, this.zeroPoint, 3);
    }

    describe(): string {
      return `${this.torchName}(${this.numFeatures}, eps=${pythonFloatRepr(this.eps)}, momentum=${pythonFloatRepr(this.momentum)}, affine=${this.affine ? 'True' : 'False'}, track_running_stats=${this.trackRunningStats ? 'True' : 'False'})`;
    }
}

/** torch.ao.nn.quantized.InstanceNorm1d: (N, C, L). */
export class InstanceNorm1d extends InstanceNormNd {
  constructor(numFeatures: number, weight: Floats | null, bias: Floats | null, scale: number, zeroPoint: number, options?: InstanceNormOptions) {
    super(3, 'QuantizedInstanceNorm1d', numFeatures, weight, bias, scale, zeroPoint, options);
  }
}
/** torch.ao.nn.quantized.InstanceNorm2d: (N, C, H, W). */
export class InstanceNorm2d extends InstanceNormNd {
  constructor(numFeatures: number, weight: Floats | null, bias: Floats | null, scale: number, zeroPoint: number, options?: InstanceNormOptions) {
    super(4, 'QuantizedInstanceNorm2d', numFeatures, weight, bias, scale, zeroPoint, options);
  }
}
/** torch.ao.nn.quantized.InstanceNorm3d: (N, C, D, H, W). */
export class InstanceNorm3d extends InstanceNormNd {
  constructor(numFeatures: number, weight: Floats | null, bias: Floats | null, scale: number, zeroPoint: number, options?: InstanceNormOptions) {
    super(5, 'QuantizedInstanceNorm3d', numFeatures, weight, bias, scale, zeroPoint, options);
  }
}
