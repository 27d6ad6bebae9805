// Module classes of the elementwise family (torch.ao.nn.quantized): activations, Softmax, PReLU, Dropout and the *Functional helpers.
//
// Attributes PyTorch exposes stay public attributes (scale, zeroPoint, negativeSlope, ...),
// checked again at each forward, as torch reads them there. forwardAsync runs the native
// work off the event loop (same bits); Softmax and PReLU compute in JS, so theirs only defers.

import { OpPlan, atCallTime, planAsync } from '../plan';
import { pythonFloatRepr } from '../format';
import { Identity } from '../nn/identity';
import { LoadContext, Module } from '../nn/module';
import { StateDict, loadQParamsInto, saveQParams } from '../nn/state';
import { QTensor, makePerTensorQTensor } from '../qtensor';
import { Tensor } from '../tensor';
import * as validate from '../validate';
import { checkByteQTensor, optionalNumber, planClamp, planElu, planHardswish, planLeakyRelu, planSigmoid, writeBack } from './plan';
import {
  ADD,
  ADD_RELU,
  MUL,
  floatAdd,
  floatAddRelu,
  floatBinary,
  floatCat,
  floatMul,
  floatScalar,
  planAddScalar,
  planBinary,
  planMulScalar,
  quantizedCat,
} from './arithmetic';
import { floatMatmul, quantizedMatmul } from './matmul';
import { implicitSoftmaxDim, quantizedPrelu, quantizedSoftmax } from './softmax';

function inplaceOption(value: unknown): boolean {
  return value === undefined ? false : validate.boolean(value, 'options.inplace');
}

/** A module whose forward is one op plan: forward runs it, forwardAsync runs it on qkernels' async job queue. */
abstract class PlanModule extends Module {
  /** @internal */
  protected abstract plan(x: unknown): OpPlan<QTensor>;

  override forward(x: QTensor): QTensor {
    return this.plan(x).run();
  }

  /** forward off the event loop: same bits. */
  override forwardAsync(x: QTensor): Promise<QTensor> {
    return planAsync(this.forwardAsync, () => this.plan(x));
  }
}


/**
 * nnq.ReLU6: min(max(x, 0), 6) in the quantized domain, the input's qparams.
 *
 * @example
 * const y = new nnq.ReLU6().forward(q);
 */
export class ReLU6 extends PlanModule {
  inplace: boolean;

  constructor(options?: { inplace?: boolean }) {
    super();
    const o = validate.options(options, 'options', ['inplace']);
    this.inplace = inplaceOption(o.inplace);
  }

  override forward(x: QTensor): QTensor {
    const result = this.plan(x).run();
    return validate.boolean(this.inplace, 'inplace') ? writeBack(x, result) : result;
  }

  protected override plan(x: unknown): OpPlan<QTensor> {
    return planClamp(x, 0, 6, 'x');
  }

  override getName(): string {
    return 'QuantizedReLU6';
  }

  override extraRepr(): string {
    return this.inplace ? 'inplace=True' : '';
  }
}

/** nnq.Hardswish(scale, zeroPoint): qF.hardswish with the module's output qparams. */
export class Hardswish extends PlanModule {
  scale: number;
  zeroPoint: number;

  constructor(scale: number, zeroPoint: number) {
    super();
    this.scale = validate.positiveFiniteNumber(scale, 'scale');
    this.zeroPoint = validate.integerInRange(zeroPoint, 'zeroPoint', -128, 255);
  }

  protected override plan(x: unknown): OpPlan<QTensor> {
    return planHardswish(x, this.scale, this.zeroPoint, 'x');
  }

  override getName(): string {
    return 'QuantizedHardswish';
  }
}

/** nnq.ELU(scale, zeroPoint, { alpha = 1 }): qF.elu with the module's output qparams. */
export class ELU extends PlanModule {
  scale: number;
  zeroPoint: number;
  alpha: number;

  constructor(scale: number, zeroPoint: number, options?: { alpha?: number }) {
    super();
    const o = validate.options(options, 'options', ['alpha']);
    this.scale = validate.positiveFiniteNumber(scale, 'scale');
    this.zeroPoint = validate.integerInRange(zeroPoint, 'zeroPoint', -128, 255);
    this.alpha = optionalNumber(o.alpha, 'options.alpha', 1);
  }

  protected override plan(x: unknown): OpPlan<QTensor> {
    return planElu(x, this.scale, this.zeroPoint, validate.finiteNumber(this.alpha, 'alpha'), 1, 1, 'x');
  }

  override getName(): string {
    return 'QuantizedELU';
  }

  override extraRepr(): string {
    return `alpha=${pythonFloatRepr(this.alpha)}`;
  }
}

/** nnq.LeakyReLU(scale, zeroPoint, { negativeSlope = 0.01, inplace }): output requantized to (scale, zeroPoint). */
export class LeakyReLU extends PlanModule {
  scale: number;
  zeroPoint: number;
  negativeSlope: number;
  inplace: boolean;

  constructor(scale: number, zeroPoint: number, options?: { negativeSlope?: number; inplace?: boolean }) {
    super();
    const o = validate.options(options, 'options', ['negativeSlope', 'inplace']);
    this.scale = validate.positiveFiniteNumber(scale, 'scale');
    this.zeroPoint = validate.integerInRange(zeroPoint, 'zeroPoint', -128, 255);
    this.negativeSlope = optionalNumber(o.negativeSlope, 'options.negativeSlope', 0.01);
    this.inplace = inplaceOption(o.inplace);
  }

  protected override plan(x: unknown): OpPlan<QTensor> {
    // torch.ops.quantized.leaky_relu(x, slope, inplace, scale, zero_point): the output qparams
    // are the module's; inplace does not apply to a rescaling op (torch ignores it there too).
    return planLeakyRelu(x, validate.finiteNumber(this.negativeSlope, 'negativeSlope'), this.scale, this.zeroPoint, 'x');
  }

  /** torch's LeakyReLU keeps scale and zero_point in buffers: they are saved. */
  protected override saveToStateDict(dest: StateDict, prefix: string): void {
    saveQParams(dest, prefix, this.scale, this.zeroPoint);
  }

  protected override loadFromStateDict(ctx: LoadContext, prefix: string): (() => void) | void {
    return loadQParamsInto(ctx, prefix, this);
  }

  override getName(): string {
    return 'QuantizedLeakyReLU';
  }

  override extraRepr(): string {
    return `negative_slope=${pythonFloatRepr(this.negativeSlope)}${this.inplace ? ', inplace=True' : ''}`;
  }
}

/** nnq.Sigmoid(outputScale, outputZeroPoint): 1 / (1 + exp(-x)) quantized with the module's qparams. */
export class Sigmoid extends PlanModule {
  outputScale: number;
  outputZeroPoint: number;

  constructor(outputScale: number, outputZeroPoint: number) {
    super();
    this.outputScale = validate.positiveFiniteNumber(outputScale, 'outputScale');
    this.outputZeroPoint = validate.integerInRange(outputZeroPoint, 'outputZeroPoint', -128, 255);
  }

  protected override plan(x: unknown): OpPlan<QTensor> {
    return planSigmoid(x, this.outputScale, this.outputZeroPoint, 'x');
  }

  override getName(): string {
    return 'Sigmoid';
  }
}

/**
 * nnq.Softmax({ dim, scale = 1, zeroPoint = 0 }): softmax along dim (torch's implicit dim
 * when undefined), quantized with (scale, zeroPoint); see quantizedSoftmax for the numerics.
 */
export class Softmax extends Module {
  dim: number | undefined;
  scale: number;
  zeroPoint: number;

  constructor(options?: { dim?: number; scale?: number; zeroPoint?: number }) {
    super();
    const o = validate.options(options, 'options', ['dim', 'scale', 'zeroPoint']);
    this.dim = o.dim === undefined || o.dim === null ? undefined : validate.integerInRange(o.dim, 'options.dim', -64, 63);
    this.scale = o.scale === undefined ? 1 : validate.positiveFiniteNumber(o.scale, 'options.scale');
    this.zeroPoint = o.zeroPoint === undefined ? 0 : validate.integerInRange(o.zeroPoint, 'options.zeroPoint', -128, 255);
  }

  override forward(x: QTensor): QTensor {
    const input = checkByteQTensor(x, 'x');
    const dim = this.dim === undefined ? implicitSoftmaxDim(input.dim()) : this.dim;
    return quantizedSoftmax(input, dim, this.scale, this.zeroPoint, 'x');
  }

  /** forward as a Promise (computed in JS, from the input at call time). */
  override forwardAsync(x: QTensor): Promise<QTensor> {
    return atCallTime(() => this.forward(x));
  }

  override getName(): string {
    return 'QuantizedSoftmax';
  }

  override extraRepr(): string {
    return `dim=${this.dim === undefined ? 'None' : this.dim}`;
  }
}

/**
 * nnq.PReLU(outputScale, outputZeroPoint, { numParameters = 1 }): x > 0 ? x : weight[c] * x with a
 * quantized weight (setWeight). torch starts from a random weight; this one starts at 0.25
 * (torch.nn.PReLU's float default) quantized with scale 1, zero point 0, which is q = 0.
 */
export class PReLU extends Module {
  numParameters: number;
  scale: number;
  zeroPoint: number;
  weight: QTensor;

  constructor(outputScale: number, outputZeroPoint: number, options?: { numParameters?: number }) {
    super();
    const o = validate.options(options, 'options', ['numParameters']);
    this.scale = validate.positiveFiniteNumber(outputScale, 'outputScale');
    this.zeroPoint = validate.integerInRange(outputZeroPoint, 'outputZeroPoint', -128, 255);
    this.numParameters = o.numParameters === undefined ? 1 : validate.integerInRange(o.numParameters, 'options.numParameters', 1, 2 ** 31 - 1);
    const n = this.numParameters;
    this.weight = makePerTensorQTensor(new Uint8Array(n), [n], [1], 'quint8', 1, 0);
  }

  setWeight(w: QTensor): void {
    const weight = checkByteQTensor(w, 'w');
    if (weight.dim() !== 1 || weight.numel() !== this.numParameters) {
      throw validate.invalidRange(`1-D QTensor of ${this.numParameters} values (numParameters)`, 'w', w);
    }
    this.weight = weight;
  }

  override forward(x: QTensor): QTensor {
    return quantizedPrelu(x, this.weight, this.scale, this.zeroPoint, 'x');
  }

  /** forward as a Promise (computed in JS, from the input at call time). */
  override forwardAsync(x: QTensor): Promise<QTensor> {
    return atCallTime(() => this.forward(x));
  }

  override getName(): string {
    return 'QuantizedPReLU';
  }
}

/** nnq.Dropout({ p = 0.5, inplace }): the identity at inference, as torch's quantized Dropout. */
export class Dropout extends Module {
  p: number;
  inplace: boolean;

  constructor(options?: { p?: number; inplace?: boolean }) {
    super();
    const o = validate.options(options, 'options', ['p', 'inplace']);
    this.p = optionalNumber(o.p, 'options.p', 0.5);
    if (this.p < 0 || this.p > 1) throw validate.invalidRange('number in [0, 1]', 'options.p', o.p);
    this.inplace = inplaceOption(o.inplace);
  }

  override forward(x: QTensor): QTensor {
    return checkByteQTensor(x, 'x');
  }

  /** A copy of the input as it is at call time (forward returns the input itself, as torch). */
  override forwardAsync(x: QTensor): Promise<QTensor> {
    return atCallTime(() => {
      const y = this.forward(x);
      return makePerTensorQTensor(y.data.slice(), y.shape, y.strides, y.dtype, y.qScale(), y.qZeroPoint());
    });
  }

  override getName(): string {
    return 'QuantizedDropout';
  }

  override extraRepr(): string {
    return `p=${pythonFloatRepr(this.p)}, inplace=${this.inplace ? 'True' : 'False'}`;
  }
}

function noForward(name: string): never {
  throw new Error(`${name} has no forward: call its operations (add, addScalar, mul, mulScalar, cat, addRelu, matmul) instead`);
}

/**
 * nnq.QFunctional: quantized add / mul / cat / addRelu / matmul whose outputs take the module's
 * `scale` and `zeroPoint` attributes (default 1, 0); addScalar and mulScalar choose their own
 * output qparams, as torch's do.
 *
 * @example
 * const f = new nnq.QFunctional(); f.scale = 0.1; f.zeroPoint = 128;
 * const y = f.add(a, b);
 */
export class QFunctional extends Module {
  scale = 1;
  zeroPoint = 0;
  /** torch's observer slot: an Identity after convert (printed, no state). */
  activation_post_process = new Identity();

  override forward(): never {
    return noForward('QFunctional');
  }

  add(x: QTensor, y: QTensor): QTensor {
    return planBinary(ADD, x, y, this.scale, this.zeroPoint).run();
  }

  /** add off the event loop (qkernels' async job queue): same bits. */
  addAsync(x: QTensor, y: QTensor): Promise<QTensor> {
    return planAsync(this.addAsync, () => planBinary(ADD, x, y, this.scale, this.zeroPoint));
  }

  addScalar(x: QTensor, y: number): QTensor {
    return planAddScalar(x, y, false).run();
  }

  addScalarAsync(x: QTensor, y: number): Promise<QTensor> {
    return planAsync(this.addScalarAsync, () => planAddScalar(x, y, false));
  }

  mul(x: QTensor, y: QTensor): QTensor {
    return planBinary(MUL, x, y, this.scale, this.zeroPoint).run();
  }

  mulAsync(x: QTensor, y: QTensor): Promise<QTensor> {
    return planAsync(this.mulAsync, () => planBinary(MUL, x, y, this.scale, this.zeroPoint));
  }

  mulScalar(x: QTensor, y: number): QTensor {
    return planMulScalar(x, y, false).run();
  }

  mulScalarAsync(x: QTensor, y: number): Promise<QTensor> {
    return planAsync(this.mulScalarAsync, () => planMulScalar(x, y, false));
  }

  cat(x: QTensor[], dim = 0): QTensor {
    return quantizedCat(x, dim, this.scale, this.zeroPoint);
  }

  /** cat as a Promise (a copy with per-input requantization computed now on the main thread); errors reject. */
  catAsync(x: QTensor[], dim = 0): Promise<QTensor> {
    return atCallTime(() => this.cat(x, dim));
  }

  addRelu(x: QTensor, y: QTensor): QTensor {
    return planBinary(ADD_RELU, x, y, this.scale, this.zeroPoint).run();
  }

  addReluAsync(x: QTensor, y: QTensor): Promise<QTensor> {
    return planAsync(this.addReluAsync, () => planBinary(ADD_RELU, x, y, this.scale, this.zeroPoint));
  }

  /** torch.ops.quantized.matmul(x, y, scale, zeroPoint) (torch 2.x's QFunctional.matmul; within 1 quantum of torch). */
  matmul(x: QTensor, y: QTensor): QTensor {
    return quantizedMatmul(x, y, this.scale, this.zeroPoint, ['x', 'y']);
  }

  /** matmul as a Promise (computed now on the main thread); errors reject. */
  matmulAsync(x: QTensor, y: QTensor): Promise<QTensor> {
    return atCallTime(() => this.matmul(x, y));
  }

  /** torch's keys: `scale`, `zero_point` (buffers; activation_post_process has none). */
  protected override saveToStateDict(dest: StateDict, prefix: string): void {
    saveQParams(dest, prefix, this.scale, this.zeroPoint);
  }

  protected override loadFromStateDict(ctx: LoadContext, prefix: string): (() => void) | void {
    return loadQParamsInto(ctx, prefix, this);
  }

  override extraRepr(): string {
    return `scale=${pythonFloatRepr(this.scale)}, zero_point=${this.zeroPoint}`;
  }
}

/** The float operations FloatFunctional and FXFloatFunctional share (torch.add, torch.mul, ... on fp32 Tensors). */
abstract class FloatOperations extends Module {
  override forward(): never {
    return noForward(this.getName());
  }

  add(x: Tensor, y: Tensor): Tensor {
    return floatBinary(x, y, floatAdd);
  }

  addScalar(x: Tensor, y: number): Tensor {
    return floatScalar(x, y, floatAdd);
  }

  mul(x: Tensor, y: Tensor): Tensor {
    return floatBinary(x, y, floatMul);
  }

  mulScalar(x: Tensor, y: number): Tensor {
    return floatScalar(x, y, floatMul);
  }

  cat(x: Tensor[], dim = 0): Tensor {
    return floatCat(x, dim);
  }

  addRelu(x: Tensor, y: Tensor): Tensor {
    return floatBinary(x, y, floatAddRelu);
  }

  /** torch.matmul on float Tensors (torch 2.x's FloatFunctional.matmul): fp32 result summed in double. */
  matmul(x: Tensor, y: Tensor): Tensor {
    return floatMatmul(x, y);
  }
}

/**
 * nnq.FloatFunctional: the same operations on float Tensors (fp32, broadcasting), as torch.add /
 * torch.mul / torch.cat / relu / torch.matmul; the observer torch attaches is an identity here.
 */
export class FloatFunctional extends FloatOperations {
  /** torch's observer slot (an Identity until prepare; printed, no state). */
  activation_post_process = new Identity();

  override getName(): string {
    return 'FloatFunctional';
  }
}

/** nnq.FXFloatFunctional: FloatFunctional for FX graph mode (no observer slot in torch either). */
export class FXFloatFunctional extends FloatOperations {
  override getName(): string {
    return 'FXFloatFunctional';
  }
}
