// bitorch's layers (QConv1d/2d/3d, their _NoAct forms, QLinear, QActivation) at inference: float in, float out, 1-bit on XNOR-popcount.
//
// Each forward mirrors bitorch's (bitorch/layers/qconv1d.py, qconv2d.py, qconv3d.py, qlinear.py,
// qactivation.py): conv(pad(activation(x), pad_value), weight_quantization(weight)) with no bias, or
// linear(activation(x), weight_quantization(weight), bias). When the activation is a per-value 1-bit
// function and the quantized weights are all +-1, the layer runs on the binary kernels
// (native/src/ops/binary.h), exact; otherwise on the float path below (doc/binary.md).

import { OpPlan, callOp, makePlan, planAsync } from '../plan';
import { LoadContext, Module } from '../nn/module';
import { StateDict, readFloatTensor } from '../nn/state';
import { Tensor, tensor } from '../tensor';
import * as validate from '../validate';
import { ConvSpec, PADDING_MODES, convSpec, geometryArray, outputSpatial, weightShape } from '../linear-conv/params';
import { BinaryWeightHandle, LowBitInputCode, LowBitWeightHandle, RuleCode, binaryAddon } from './native';
import { InputDoReFa, Quantization, WeightDoReFa, resolveQuantization } from './quantizations';

// ---- bit-packed activations ------------------------------------------------------------------

const BIT_TENSOR_TOKEN = Symbol('BitTensor');

/**
 * Activations packed one bit per value (1 = -1, 0 = +1): [batch][position][group][words]
 * 64-bit words, for a layer of `groups` groups (native/src/ops/binary.h). What a binary
 * layer's forwardBits returns and every binary layer's forward takes, so that only the
 * first layer of a binary network reads floats (as Larq Compute Engine keeps bitpacked
 * tensors between binary convolutions).
 */
export class BitTensor {
  readonly bits: BigUint64Array;
  /** The float shape it stands for: [batch, channels, ...spatial]. */
  readonly shape: readonly number[];
  readonly groups: number;

  /** @internal Use bitorch.pack() or a layer's forwardBits(). */
  constructor(token: symbol, bits: BigUint64Array, shape: readonly number[], groups: number) {
    if (token !== BIT_TENSOR_TOKEN) throw new TypeError('BitTensor is made by bitorch.pack() or a layer\'s forwardBits()');
    this.bits = bits;
    // A frozen shape (forwardBits' cached one, a Tensor's) is shared rather than copied per call.
    this.shape = Object.isFrozen(shape) ? shape : Object.freeze([...shape]);
    this.groups = groups;
    Object.freeze(this);
  }

  /** The +-1 floats it stands for, shape `shape`. */
  toTensor(): Tensor {
    const [batch, channels] = this.shape;
    const positions = this.shape.slice(2).reduce((a, b) => a * b, 1);
    const args = [this.bits, batch, channels, positions, this.groups] as const;
    return tensor(callOp({ op: 'binaryUnpack', args }, () => binaryAddon.binaryUnpack(...args)), this.shape);
  }

  /** The same values packed for a layer of another group count. */
  regroup(groups: number): BitTensor {
    if (groups === this.groups) return this;
    return pack(this.toTensor(), { groups });
  }

  toString(): string {
    return `BitTensor(size=[${this.shape.join(', ')}], groups=${this.groups})`;
  }
}

export interface PackOptions {
  /** Groups of the layer that will read it (default 1). */
  groups?: number;
  /** The 1-bit quantization that turns floats into bits (default 'sign'). */
  quantization?: string | Quantization;
}

function ruleOf(q: Quantization, parameter: string): RuleCode {
  if (q.rule === null) {
    throw validate.invalidRange('a per-value 1-bit quantization (sign, approxsign, swishsign, progressive_sign, steheaviside)', parameter, q.name);
  }
  return q.rule;
}

/** Packs a float tensor [batch, channels, ...spatial] to bits with a 1-bit quantization. */
export function pack(x: Tensor, options?: PackOptions): BitTensor {
  const opts = validate.options(options, 'options', ['groups', 'quantization']);
  if (!(x instanceof Tensor)) throw validate.invalidType('Tensor', 'x', x);
  if (x.shape.length < 2) throw validate.invalidRange('tensor of at least 2 dims [batch, channels, ...]', 'x', x);
  const [batch, channels] = x.shape;
  const groups = opts.groups === undefined ? 1 : validate.integerInRange(opts.groups, 'groups', 1, Number.MAX_SAFE_INTEGER);
  if (channels % groups !== 0) throw validate.invalidRange(`groups dividing the channel count ${channels}`, 'groups', groups);
  const rule = ruleOf(resolveQuantization(opts.quantization, 'quantization', 'sign'), 'quantization');
  const dense = x.contiguous();
  const positions = x.shape.slice(2).reduce((a, b) => a * b, 1);
  const args = [dense.data.subarray(0, x.numel()), batch, channels, positions, groups, rule] as const;
  const bits = callOp({ op: 'binaryPack', args }, () => binaryAddon.binaryPack(...args));
  return new BitTensor(BIT_TENSOR_TOKEN, bits, x.shape, groups);
}

// ---- QActivation -----------------------------------------------------------------------------

/** bitorch's config.gradient_cancellation_threshold: the value `threshold or config...` falls back to. */
const DEFAULT_GRADIENT_CANCELLATION_THRESHOLD = 1.0;

function gradientCancellation(value: unknown): number {
  // Training only (GradientCancellation is the identity forward): accepted, checked, inert.
  if (value === undefined || value === null || value === 0) return DEFAULT_GRADIENT_CANCELLATION_THRESHOLD;
  return validate.finiteNumber(value, 'gradientCancellationThreshold');
}

/** bitorch.layers.QActivation(activation = 'sign', gradientCancellationThreshold = 1.0): the activation's forward. */
export class QActivation extends Module {
  readonly activationFunction: Quantization;
  readonly gradientCancellationThreshold: number;

  constructor(activation?: string | Quantization | null, gradientCancellationThreshold?: number | null) {
    super();
    this.activationFunction = resolveQuantization(activation, 'activation', 'sign');
    this.gradientCancellationThreshold = gradientCancellation(gradientCancellationThreshold);
  }

  override forward(x: Tensor): Tensor {
    if (!(x instanceof Tensor)) throw validate.invalidType('Tensor', 'x', x);
    return this.activationFunction.quantize(x);
  }

  override async forwardAsync(x: Tensor): Promise<Tensor> {
    return this.forward(x);
  }

  /** The activation's output as bits for a layer of `groups` groups (1-bit per-value activations only). */
  forwardBits(x: Tensor, groups = 1): BitTensor {
    return pack(x, { groups, quantization: this.activationFunction });
  }

  override toString(): string {
    return `QActivation(\n  (activation_function): ${this.activationFunction.toString()}\n)`;
  }
}

// ---- the float path --------------------------------------------------------------------------

/**
 * conv of x (already quantized) padded with padValue, in fp32, accumulating channel by
 * channel and tap by tap. Used where the kernels cannot be: multi-bit and identity
 * quantizations, or NoAct layers fed non-binary floats. torch's float conv (oneDNN) sums
 * in another order, so this agrees with it within fp32 rounding (doc/binary.md).
 */
function floatConv(spec: ConvSpec, x: Float32Array, batch: number, inSpatial: number[], outSpatial: number[], w: Float32Array,
                   padValue: number, bias: Float32Array | null): Float32Array {
  const dims = spec.dims;
  const in3 = [1, 1, 1], out3 = [1, 1, 1], k3 = [1, 1, 1], s3 = [1, 1, 1], d3 = [1, 1, 1], p3 = [0, 0, 0];
  for (let d = 0; d < dims; d++) {
    const e = 3 - dims + d;
    in3[e] = inSpatial[d]; out3[e] = outSpatial[d]; k3[e] = spec.kernel[d]; s3[e] = spec.stride[d]; d3[e] = spec.dilation[d]; p3[e] = spec.padBefore[d];
  }
  const cin = spec.inChannels / spec.groups, cout = spec.outChannels / spec.groups;
  const inPlane = in3[0] * in3[1] * in3[2], outPlane = out3[0] * out3[1] * out3[2], taps = k3[0] * k3[1] * k3[2];
  const y = new Float32Array(batch * spec.outChannels * outPlane);
  const f = Math.fround;
  for (let n = 0; n < batch; n++) {
    for (let o = 0; o < spec.outChannels; o++) {
      const g = Math.floor(o / cout);
      for (let p = 0; p < outPlane; p++) {
        const oz = Math.floor(p / (out3[1] * out3[2])), oy = Math.floor(p / out3[2]) % out3[1], ox = p % out3[2];
        let acc = 0;
        for (let c = 0; c < cin; c++) {
          const plane = (n * spec.inChannels + g * cin + c) * inPlane;
          for (let t = 0; t < taps; t++) {
            const tz = Math.floor(t / (k3[1] * k3[2])), ty = Math.floor(t / k3[2]) % k3[1], tx = t % k3[2];
            const iz = oz * s3[0] + tz * d3[0] - p3[0], iy = oy * s3[1] + ty * d3[1] - p3[1], ix = ox * s3[2] + tx * d3[2] - p3[2];
            const inside = iz >= 0 && iy >= 0 && ix >= 0 && iz < in3[0] && iy < in3[1] && ix < in3[2];
            const v = inside ? x[plane + (iz * in3[1] + iy) * in3[2] + ix] : padValue;
            acc = f(acc + f(v * w[(o * cin + c) * taps + t]));
          }
        }
        y[(n * spec.outChannels + o) * outPlane + p] = bias ? f(acc + bias[o]) : acc;
      }
    }
  }
  return y;
}

// ---- multi-bit layers on the int8 kernels -----------------------------------------------------

/**
 * An input quantization whose values are levels / scale, and the code under which the binding
 * quantizes float activations to those u8 levels itself (native/src/base/params-binary.h LowBitInput).
 */
interface InputGrid {
  scale: number;
  zeroPoint: number;
  input: LowBitInputCode;
  bits: number;
}

/**
 * inputdorefa(k <= 7): value = level / (2^k - 1), zero point 2^k - 1 (so that pad values down to
 * -1 are levels too); 1-bit sign-like: +-1 as 0 / 2 with zero point 1. Others: none (float path).
 */
function inputGrid(q: Quantization | undefined): InputGrid | null {
  if (q instanceof InputDoReFa && q.bitWidth <= 7) {
    const n = 2 ** q.bitWidth - 1;
    return { scale: 1 / n, zeroPoint: n, input: 2, bits: q.bitWidth };
  }
  if (q !== undefined && q.rule !== null) return { scale: 1, zeroPoint: 1, input: q.rule, bits: 1 };
  return null;
}

/** The u8 level of a value on the grid (the pad value's; activations are leveled natively). */
function gridLevel(grid: InputGrid, value: number): number {
  return value / grid.scale + grid.zeroPoint;
}

/** The pad value's level on the grid, or null when it is not one (then the float path pads exactly). */
function padLevel(grid: InputGrid, padValue: number): number | null {
  const level = gridLevel(grid, padValue);
  const rounded = Math.round(level);
  return Math.abs(level - rounded) < 1e-6 && rounded >= 0 && rounded <= 255 ? rounded : null;
}

/** Quantized weights as int8 levels and a scale: weightdorefa(k <= 7): (2q - n) / n; +-1 weights: scale 1. */
function weightLevels(q: Quantization, values: Float32Array): { levels: Int8Array; scale: number } | null {
  if (q instanceof WeightDoReFa && q.bitWidth <= 7) {
    const n = 2 ** q.bitWidth - 1;
    return { levels: Int8Array.from(values, (v) => 2 * Math.round(((v + 1) * n) / 2) - n), scale: 1 / n };
  }
  if (values.every((v) => v === 1 || v === -1)) return { levels: Int8Array.from(values), scale: 1 };
  return null;
}

// ---- the layers ------------------------------------------------------------------------------

type IntOrTuple = number | number[];

export interface QConvNoActOptions {
  stride?: IntOrTuple;
  padding?: IntOrTuple | 'same' | 'valid';
  dilation?: IntOrTuple;
  groups?: number;
  /** bitorch refuses a bias: only false is accepted (its assert). */
  bias?: boolean;
  /** Accepted as torch's Conv does, and ignored as bitorch's forward ignores it (it pads itself with padValue). */
  paddingMode?: string;
  weightQuantization?: string | Quantization | null;
  /** The value the input is padded with (default -1; 0 falls back to -1: bitorch writes `pad_value or config.padding_value`). */
  padValue?: number | null;
}

export interface QConvOptions extends QConvNoActOptions {
  inputQuantization?: string | Quantization | null;
  /** Training only in bitorch (gradient cancellation): accepted and inert. */
  gradientCancellationThreshold?: number | null;
}

const NOACT_KEYS = ['stride', 'padding', 'dilation', 'groups', 'bias', 'paddingMode', 'weightQuantization', 'padValue'] as const;
const QCONV_KEYS = [...NOACT_KEYS, 'inputQuantization', 'gradientCancellationThreshold'] as const;

/** bitorch's config.padding_value. */
const DEFAULT_PAD_VALUE = -1.0;

export interface BitsOptions {
  /** Groups of the next layer (default 1). */
  groups?: number;
  /** The next layer's 1-bit input quantization (default 'sign'): decides each output's bit. */
  quantization?: string | Quantization;
}

/** An input's batch and spatial sizes, and the output's. */
interface Shape {
  batch: number;
  inSpatial: number[];
  outSpatial: number[];
  /** The float output's shape (torch's). */
  outShape: number[];
}

/** What a forward computes, resolved once per call. */
/**
 * What plan() resolved for forwardBits(x) with a BitTensor x and no `next`, for the next call with
 * an input of the same shape and groups to the same weights: everything but the input's bits.
 */
interface BitsFast {
  handle: BinaryWeightHandle;
  inShape: readonly number[];
  inGroups: number;
  batch: number;
  inSpatial: number[];
  bitsShape: readonly number[];  // frozen
}

function sameShape(a: readonly number[], b: readonly number[]): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; ++i) if (a[i] !== b[i]) return false;
  return true;
}

interface Run extends Shape {
  native: { input: Float32Array | BigUint64Array; rule: RuleCode } | null;
  /** Without the binary path: the input's float values (dense), which the int8 path levels natively. */
  values: Float32Array | null;
  /** The quantized input, for the float path (computed only there). */
  float: (() => Float32Array) | null;
}

/** The state and forward every binary layer shares: a conv spec (QLinear: a 1-D 1x1 conv over one position). */
abstract class BinaryLayerBase extends Module {
  readonly weightQuantization: Quantization;
  readonly padValue: number;
  readonly activation: QActivation | null;
  protected readonly spec: ConvSpec;
  private weightValue: Tensor;
  private biasValue: Tensor | null;
  private quantizedWeight: Float32Array = new Float32Array(0);
  private handle: BinaryWeightHandle | null = null;
  private lowBit: { handle: LowBitWeightHandle; grid: InputGrid } | null = null;
  /** forwardBits(bits) of the last BitTensor shape plan() checked (see forwardBits). */
  private bitsFast: BitsFast | null = null;

  protected constructor(spec: ConvSpec, weightQuantization: Quantization, padValue: number, activation: QActivation | null, bias: boolean) {
    super();
    this.spec = spec;
    this.weightQuantization = weightQuantization;
    this.padValue = padValue;
    this.activation = activation;
    const shape = this.weightShape();
    // bitorch initializes with xavier_normal_; qkernels starts from zeros (sign(0) = +1): set the trained weights.
    this.weightValue = tensor(new Float32Array(shape.reduce((a, b) => a * b, 1)), shape);
    this.biasValue = bias ? tensor(new Float32Array(spec.outChannels)) : null;
    this.prepare();
  }

  /** The float weight (bitorch's `weight` parameter). */
  get weight(): Tensor {
    return this.weightValue;
  }

  /** The float bias (QLinear only; null for the conv layers, which refuse one). */
  get bias(): Tensor | null {
    return this.biasValue;
  }

  /** Whether forward runs on the XNOR-popcount kernels (1-bit activation and +-1 quantized weights). */
  get binary(): boolean {
    return this.handle !== null && (this.activation === null || this.activation.activationFunction.rule !== null);
  }

  /** Sets the float weight (torch's shape); it is quantized and, when binary, packed once here. */
  setWeight(weight: Tensor): void {
    if (!(weight instanceof Tensor)) throw validate.invalidType('Tensor', 'weight', weight);
    const shape = this.weightShape();
    if (weight.shape.length !== shape.length || weight.shape.some((s, i) => s !== shape[i])) {
      throw validate.invalidRange(`Tensor of shape [${shape.join(', ')}]`, 'weight', weight);
    }
    this.weightValue = weight.contiguous();
    this.prepare();
  }

  /** bitorch's state-dict keys: `weight` (and `bias` for QLinear), float tensors in torch's shapes. */
  protected override saveToStateDict(dest: StateDict, prefix: string): void {
    dest.set(`${prefix}weight`, this.weightValue);
    if (this.biasValue !== null) dest.set(`${prefix}bias`, this.biasValue);
  }

  protected override loadFromStateDict(ctx: LoadContext, prefix: string): (() => void) | void {
    const weight = readFloatTensor(ctx, `${prefix}weight`, this.weightShape());
    const bias = this.biasValue === null ? null : readFloatTensor(ctx, `${prefix}bias`, [this.spec.outChannels]);
    if (weight === undefined || bias === undefined) return;
    return () => {
      this.biasValue = bias === null ? null : bias.contiguous();
      this.weightValue = weight.contiguous();
      this.prepare();
    };
  }

  private prepare(): void {
    const dense = this.weightValue.contiguous();
    this.quantizedWeight = this.weightQuantization.quantizeValues(dense.data.subarray(0, dense.numel()));
    const binaryWeights = this.quantizedWeight.every((v) => v === 1 || v === -1);
    const bias = this.biasValue === null ? null : this.biasValue.contiguous().data.subarray(0, this.spec.outChannels);
    this.handle = binaryWeights ? binaryAddon.binaryConvPrepack(geometryArray(this.spec), this.quantizedWeight, this.padValue, bias) : null;
    this.lowBit = null;
    const grid = inputGrid(this.activation?.activationFunction);
    if (this.binary || grid === null) return;
    const weights = weightLevels(this.weightQuantization, this.quantizedWeight);
    const pad = padLevel(grid, this.padValue);
    if (weights === null || pad === null) return;
    const handle = binaryAddon.lowBitConvPrepack(geometryArray(this.spec), weights.levels, weights.scale, grid.scale, grid.zeroPoint, pad, bias);
    this.lowBit = { handle, grid };
  }

  /**
   * Frees the native packed weights now instead of at garbage collection (async calls already
   * queued finish); any use afterwards is a TypeError naming the layer. Also run by `using`.
   */
  override dispose(): void {
    validate.disposeOnce(this, ['handle', 'lowBit'], () => {
      if (this.handle !== null) binaryAddon.releaseWeights(this.handle);
      if (this.lowBit !== null) binaryAddon.releaseWeights(this.lowBit.handle);
    });
    super.dispose();
  }

  /** Whether forward runs on the int8 kernels (multi-bit DoReFa layers whose operands are integer grids). */
  get int8(): boolean {
    return this.lowBit !== null;
  }

  /** Input shape check; returns batch, spatial sizes, output shape. */
  protected abstract shapeOf(shape: readonly number[], input: unknown): Shape;

  /** torch's weight shape: conv [out, in / groups, ...kernel]; QLinear [out, in]. */
  protected weightShape(): number[] {
    return weightShape(this.spec);
  }

  /** The spatial dims a BitTensor output keeps (QLinear: none). */
  protected bitsSpatial(outSpatial: number[]): number[] {
    return outSpatial;
  }

  private resolve(x: unknown): Run {
    if (x instanceof BitTensor) {
      const s = this.shapeOf(x.shape, x);
      if (this.handle !== null) {
        // +-1 values stay +-1 through every 1-bit per-value activation (sign(+-1), heaviside(+-1)).
        const act = this.activation?.activationFunction;
        if (act === undefined || act.rule !== null) return { ...s, native: { input: x.regroup(this.spec.groups).bits, rule: 0 }, values: null, float: null };
      }
      const unpacked = x.toTensor();
      return { ...s, native: null, values: unpacked.data, float: () => this.quantizeInput(unpacked) };
    }
    if (!(x instanceof Tensor)) throw validate.invalidType('Tensor or bitorch.BitTensor', 'x', x);
    const s = this.shapeOf(x.shape, x);
    const dense = x.contiguous();
    const values = dense.data.subarray(0, x.numel());
    if (this.handle !== null) {
      const rule = this.activation === null ? (values.every((v) => v === 1 || v === -1) ? 0 : null) : this.activation.activationFunction.rule;
      if (rule !== null) return { ...s, native: { input: values, rule }, values: null, float: null };
    }
    return { ...s, native: null, values, float: () => this.quantizeInput(x) };
  }

  private quantizeInput(x: Tensor): Float32Array {
    const q = this.activation === null ? x.contiguous() : this.activation.activationFunction.quantize(x);
    return q.data.subarray(0, q.numel());
  }

  private plan(x: unknown, next: BitsOptions | undefined | null): OpPlan<Tensor | BitTensor> {
    const run = this.resolve(x);
    let outGroups: number | null = null;
    let outRule: RuleCode = 0;
    if (next !== null) {
      const opts = validate.options(next, 'options', ['groups', 'quantization']);
      outGroups = opts.groups === undefined ? 1 : validate.integerInRange(opts.groups, 'groups', 1, Number.MAX_SAFE_INTEGER);
      if (this.spec.outChannels % outGroups !== 0) throw validate.invalidRange(`groups dividing ${this.spec.outChannels}`, 'groups', outGroups);
      outRule = ruleOf(resolveQuantization(opts.quantization, 'quantization', 'sign'), 'quantization');
    }
    // Bits always stand for [batch, channels, ...spatial] (a QLinear's: [batch, outFeatures]).
    const bitsShape = [run.batch, this.spec.outChannels, ...this.bitsSpatial(run.outSpatial)];
    const finish = (out: Float32Array | BigUint64Array): Tensor | BitTensor => {
      // By what was asked, not instanceof: the addon's typed arrays may come from another realm (jest's vm).
      if (outGroups === null) return tensor(out as Float32Array, run.outShape);
      return new BitTensor(BIT_TENSOR_TOKEN, out as BigUint64Array, bitsShape, outGroups);
    };
    if (run.native !== null && this.handle !== null) {
      if (next !== null && next !== undefined && Object.keys(next).length === 0 && x instanceof BitTensor && x.groups === this.spec.groups) {
        // Default next (groups 1, sign): outGroups 1, outRule 0, the bits passed as they are.
        this.bitsFast = { handle: this.handle, inShape: x.shape, inGroups: x.groups, batch: run.batch,
                          inSpatial: run.inSpatial, bitsShape: Object.freeze(bitsShape) };
      }
      const args = [this.handle, run.native.input, run.batch, run.inSpatial, run.native.rule, outGroups, outRule] as const;
      return makePlan(() => binaryAddon.binaryConvForward(...args), () => binaryAddon.binaryConvForwardAsync(...args), finish, { op: 'binaryConvForward', args });
    }
    if (run.native === null && this.lowBit !== null && run.values !== null && outGroups === null) {
      // The activation's quantization and the levels are the binding's: one native op from the float input.
      const { handle, grid } = this.lowBit;
      const args = [handle, run.values, run.batch, run.inSpatial, grid.input, grid.bits] as const;
      return makePlan(() => binaryAddon.lowBitConvForward(...args), () => binaryAddon.lowBitConvForwardAsync(...args), finish, { op: 'lowBitConvForward', args });
    }
    const quantized = run.float as () => Float32Array;
    const compute = (): Float32Array | BigUint64Array => {
      const bias = this.biasValue === null ? null : this.biasValue.contiguous().data;
      const y = floatConv(this.spec, quantized(), run.batch, run.inSpatial, run.outSpatial, this.quantizedWeight, this.padValue, bias);
      if (outGroups === null) return y;
      return pack(tensor(y, bitsShape), { groups: outGroups, quantization: outRule === 0 ? 'sign' : 'steheaviside' }).bits;
    };
    return makePlan(compute, async () => compute(), finish, { op: 'the float conv of bitorch (computed in JS)' });
  }

  /** bitorch's forward: float (or bit-packed) input, float output. */
  override forward(x: Tensor | BitTensor): Tensor {
    return this.plan(x, null).run() as Tensor;
  }

  /** forward off the event loop (the binary path runs on qkernels' async job queue); the same bits. */
  override forwardAsync(x: Tensor | BitTensor): Promise<Tensor> {
    return planAsync(this.forwardAsync, () => this.plan(x, null)) as Promise<Tensor>;
  }

  /**
   * forward, with the output turned into bits by the next binary layer's input quantization
   * (default sign) and packed for its groups: the next layer reads them without floats.
   */
  forwardBits(x: Tensor | BitTensor, next?: BitsOptions): BitTensor {
    // A binary network calls this with bits of one shape over and over: with no `next`, an input of
    // the shape and groups plan() last checked and the same packed weights, only the call itself
    // is left (plan()'s checks and objects cost about 4 us a call, more with cold caches after a
    // large layer). this.handle throws here after dispose(), as in plan().
    const fast = this.bitsFast;
    if (next === undefined && fast !== null && x instanceof BitTensor && fast.handle === this.handle &&
        x.groups === fast.inGroups && sameShape(x.shape, fast.inShape)) {
      const args = [fast.handle, x.bits, fast.batch, fast.inSpatial, 0, 1, 0] as const;
      const out = callOp({ op: 'binaryConvForward', args }, () => binaryAddon.binaryConvForward(...args));
      return new BitTensor(BIT_TENSOR_TOKEN, out as BigUint64Array, fast.bitsShape, 1);
    }
    return this.plan(x, next ?? {}).run() as BitTensor;
  }

  forwardBitsAsync(x: Tensor | BitTensor, next?: BitsOptions): Promise<BitTensor> {
    return planAsync(this.forwardBitsAsync, () => this.plan(x, next ?? {})) as Promise<BitTensor>;
  }
}

function channels(value: unknown, parameter: string): number {
  return validate.integerInRange(value, parameter, 1, Number.MAX_SAFE_INTEGER);
}

/** QConvNd_NoAct: conv(pad(x, padValue), weightQuantization(weight)), no bias. */
class QConvNoActBase extends BinaryLayerBase {
  readonly inChannels: number;
  readonly outChannels: number;

  protected constructor(dims: 1 | 2 | 3, inChannels: unknown, outChannels: unknown, kernelSize: unknown, options: unknown,
                        keys: readonly string[], withActivation: boolean) {
    const opts = validate.options(options, 'options', keys);
    const cin = channels(inChannels, 'inChannels');
    const cout = channels(outChannels, 'outChannels');
    // qconv1d.py: `assert bias is False, "A QConv layer can not use a bias due to acceleration techniques during deployment."`
    if (opts.bias !== undefined && opts.bias !== false) {
      throw validate.invalidRange('false (bitorch: "A QConv layer can not use a bias due to acceleration techniques during deployment.")', 'bias', opts.bias);
    }
    if (opts.paddingMode !== undefined) validate.oneOf(opts.paddingMode, 'paddingMode', PADDING_MODES);
    const spec = convSpec({ dims, transposed: false, inChannels: cin, outChannels: cout, kernel: kernelSize, stride: opts.stride,
                            padding: opts.padding, dilation: opts.dilation, groups: opts.groups });
    // `pad_value or config.padding_value`: every falsy pad value (0, null, undefined) becomes -1.
    const padValue = opts.padValue === undefined || opts.padValue === null || opts.padValue === 0 ? DEFAULT_PAD_VALUE : validate.finiteNumber(opts.padValue, 'padValue');
    const weightQuantization = resolveQuantization(opts.weightQuantization, 'weightQuantization', 'sign');
    const activation = withActivation
      ? new QActivation(opts.inputQuantization as string | Quantization | null | undefined, opts.gradientCancellationThreshold as number | null | undefined)
      : null;
    super(spec, weightQuantization, padValue, activation, false);
    this.inChannels = cin;
    this.outChannels = cout;
  }

  get kernelSize(): readonly number[] { return this.spec.kernel; }
  get stride(): readonly number[] { return this.spec.stride; }
  get dilation(): readonly number[] { return this.spec.dilation; }
  get groups(): number { return this.spec.groups; }
  get padding(): readonly number[] | 'same' | 'valid' { return this.spec.padding; }

  protected override shapeOf(shape: readonly number[], input: unknown): Shape {
    const dims = this.spec.dims;
    const unbatched = shape.length === dims + 1;
    if (!unbatched && shape.length !== dims + 2) {
      throw validate.invalidRange(`${dims + 1}-D (unbatched) or ${dims + 2}-D (batched) input`, 'x', input);
    }
    const full = unbatched ? [1, ...shape] : [...shape];
    if (full[1] !== this.spec.inChannels) throw validate.invalidRange(`input with ${this.spec.inChannels} channels`, 'x', input);
    const inSpatial = full.slice(2);
    const outSpatial = outputSpatial(this.spec, inSpatial, input, 'x');
    const outShape = unbatched ? [this.spec.outChannels, ...outSpatial] : [full[0], this.spec.outChannels, ...outSpatial];
    return { batch: full[0], inSpatial, outSpatial, outShape };
  }

  override toString(): string {
    const s = this.spec;
    return `${this.constructor.name}(${s.inChannels}, ${s.outChannels}, kernel_size=(${s.kernel.join(', ')}${s.dims === 1 ? ',' : ''}), stride=(${s.stride.join(', ')}${s.dims === 1 ? ',' : ''}), bias=False)`;
  }
}

/** bitorch.layers.QConv1d_NoAct(inChannels, outChannels, kernelSize, options). */
export class QConv1d_NoAct extends QConvNoActBase {
  constructor(inChannels: number, outChannels: number, kernelSize: IntOrTuple, options?: QConvNoActOptions) {
    super(1, inChannels, outChannels, kernelSize, options, NOACT_KEYS, false);
  }
}
/** bitorch.layers.QConv2d_NoAct. */
export class QConv2d_NoAct extends QConvNoActBase {
  constructor(inChannels: number, outChannels: number, kernelSize: IntOrTuple, options?: QConvNoActOptions) {
    super(2, inChannels, outChannels, kernelSize, options, NOACT_KEYS, false);
  }
}
/** bitorch.layers.QConv3d_NoAct. */
export class QConv3d_NoAct extends QConvNoActBase {
  constructor(inChannels: number, outChannels: number, kernelSize: IntOrTuple, options?: QConvNoActOptions) {
    super(3, inChannels, outChannels, kernelSize, options, NOACT_KEYS, false);
  }
}
/** bitorch.layers.QConv1d: QConv1d_NoAct after QActivation(inputQuantization). */
export class QConv1d extends QConvNoActBase {
  constructor(inChannels: number, outChannels: number, kernelSize: IntOrTuple, options?: QConvOptions) {
    super(1, inChannels, outChannels, kernelSize, options, QCONV_KEYS, true);
  }
}
/** bitorch.layers.QConv2d. */
export class QConv2d extends QConvNoActBase {
  constructor(inChannels: number, outChannels: number, kernelSize: IntOrTuple, options?: QConvOptions) {
    super(2, inChannels, outChannels, kernelSize, options, QCONV_KEYS, true);
  }
}
/** bitorch.layers.QConv3d. */
export class QConv3d extends QConvNoActBase {
  constructor(inChannels: number, outChannels: number, kernelSize: IntOrTuple, options?: QConvOptions) {
    super(3, inChannels, outChannels, kernelSize, options, QCONV_KEYS, true);
  }
}

export interface QLinearOptions {
  /** Whether there is a bias (default true, as torch's Linear: bitorch's QLinear keeps it). */
  bias?: boolean;
  inputQuantization?: string | Quantization | null;
  weightQuantization?: string | Quantization | null;
  /** Training only: accepted and inert. */
  gradientCancellationThreshold?: number | null;
}

/** bitorch.layers.QLinear(inFeatures, outFeatures, options): linear(activation(x), weightQuantization(weight), bias). */
export class QLinear extends BinaryLayerBase {
  readonly inFeatures: number;
  readonly outFeatures: number;

  constructor(inFeatures: number, outFeatures: number, options?: QLinearOptions) {
    const opts = validate.options(options, 'options', ['bias', 'inputQuantization', 'weightQuantization', 'gradientCancellationThreshold']);
    const cin = channels(inFeatures, 'inFeatures');
    const cout = channels(outFeatures, 'outFeatures');
    const bias = opts.bias === undefined ? true : validate.boolean(opts.bias, 'bias');
    // A linear layer is a 1-D conv with kernel 1 over one position.
    const spec = convSpec({ dims: 1, transposed: false, inChannels: cin, outChannels: cout, kernel: 1 });
    super(spec, resolveQuantization(opts.weightQuantization, 'weightQuantization', 'sign'), DEFAULT_PAD_VALUE,
          new QActivation(opts.inputQuantization as string | Quantization | null | undefined, opts.gradientCancellationThreshold as number | null | undefined), bias);
    this.inFeatures = cin;
    this.outFeatures = cout;
  }

  protected override weightShape(): number[] {
    return [this.spec.outChannels, this.spec.inChannels];
  }

  protected override bitsSpatial(): number[] {
    return [];
  }

  /** Sets the bias (out features values); QLinear only. */
  setBias(bias: Tensor): void {
    this.loadStateDict({ weight: this.weight, bias });
  }

  protected override shapeOf(shape: readonly number[], input: unknown): Shape {
    if (shape.length < 1 || shape[shape.length - 1] !== this.inFeatures) {
      throw validate.invalidRange(`input whose last dim is ${this.inFeatures}`, 'x', input);
    }
    const batch = shape.slice(0, -1).reduce((a, b) => a * b, 1);
    return { batch, inSpatial: [1], outSpatial: [1], outShape: [...shape.slice(0, -1), this.outFeatures] };
  }

  override toString(): string {
    return `QLinear(in_features=${this.inFeatures}, out_features=${this.outFeatures}, bias=${this.bias !== null ? 'True' : 'False'})`;
  }
}
