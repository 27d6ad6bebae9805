// unit_scaling's conv1d (graphcore-research/unit-scaling functional.py, constraints.py): the scaled conv on quantized and on float tensors.

import { guardRead } from '../jit/hook';
import { LoadContext, Module } from '../nn/module';
import { StateDict, readFloatTensor } from '../nn/state';
import { QTensor, makePerTensorQuantizedTensor, quantizePerTensor } from '../qtensor';
import { Tensor, tensor } from '../tensor';
import * as validate from '../validate';
import { conv1d as qconv1d } from '../linear-conv/functional';
import { DynamicLinear } from '../linear-conv/modules';
import { convSpec, outputSpatial } from '../linear-conv/params';

/** The constraints unit_scaling.constraints has for a (output, grad input) pair. */
export type Constraint = 'gmean' | 'hmean' | 'amean' | 'to_output_scale' | 'to_grad_input_scale';

/** x ** p as Python computes it for these scales (pow); p = 0.5 is sqrt, which both round correctly. */
function power(x: number, p: number): number {
  return p === 0.5 ? Math.sqrt(x) : Math.pow(x, p);
}

/** constraints.py apply_constraint(name, output_scale, grad_input_scale)[0]: the scale the forward uses. */
function applyConstraint(constraint: unknown, outputScale: number, gradInputScale: number): number {
  if (constraint === null || constraint === undefined || constraint === '') return outputScale;
  if (typeof constraint !== 'string') throw validate.invalidType("a constraint name or null", 'constraint', constraint);
  switch (constraint) {
    case 'gmean': return power(outputScale * gradInputScale, 1 / 2);  // pow(prod(scales), 1 / len(scales))
    case 'hmean': return 1 / ((1 / outputScale + 1 / gradInputScale) / 2);
    case 'amean': return (outputScale + gradInputScale) / 2;
    case 'to_output_scale': return outputScale;
    case 'to_grad_input_scale': return gradInputScale;
    case 'to_left_grad_scale':
    case 'to_right_grad_scale':
      // Those functions exist in the module but take three scales: Python raises a TypeError.
      throw new TypeError(`${constraint}() missing 1 required positional argument: 'right_grad_scale' (conv1d has two scales; expected one of gmean, hmean, amean, to_output_scale, to_grad_input_scale or null for constraint)`);
    default:
      // unit_scaling's ValueError, word for word.
      throw new RangeError(`Constraint: ${constraint} is not a valid constraint (see unit_scaling.constraints for available options).`);
  }
}

export interface Conv1dOptions {
  stride?: number;
  padding?: number;
  dilation?: number;
  groups?: number;
  /** Default 'to_output_scale'; null or '' for none. */
  constraint?: Constraint | null | '';
  /** Scaling power of (output, grad(input), grad(weight|bias)); default [0.5, 0.5, 0.5]. */
  scalePower?: readonly [number, number, number];
  /** Quantized input: the output's qparams (as qF.conv1d). */
  scale?: number;
  zeroPoint?: number;
}

const OPTIONS = ['stride', 'padding', 'dilation', 'groups', 'constraint', 'scalePower', 'scale', 'zeroPoint'] as const;

function intOption(value: unknown, parameter: string, fallback: number, min: number): number {
  return value === undefined ? fallback : validate.integerInRange(value, parameter, min, Number.MAX_SAFE_INTEGER);
}

/**
 * The output scale unit_scaling.functional.conv1d multiplies F.conv1d's output by:
 *   output_scale = 1 / (fan_in * kernel_size) ** scale_power[0]
 *   grad_input_scale = (stride * groups / (fan_out * kernel_size)) ** scale_power[1]
 * combined by the constraint (Python doubles, as unit_scaling computes them).
 */
export function conv1dScale(weightShape: readonly number[], options?: Pick<Conv1dOptions, 'stride' | 'groups' | 'constraint' | 'scalePower'>): number {
  const opts = validate.options(options, 'options', ['stride', 'groups', 'constraint', 'scalePower']);
  if (!Array.isArray(weightShape) || weightShape.length !== 3) throw validate.invalidRange('weight shape [out, in / groups, kernel]', 'weight', weightShape);
  const [fanOut, fanIn, kernelSize] = weightShape as number[];
  const stride = intOption(opts.stride, 'stride', 1, 1);
  const groups = intOption(opts.groups, 'groups', 1, 1);
  const sp = opts.scalePower === undefined ? [0.5, 0.5, 0.5] : opts.scalePower;
  if (!Array.isArray(sp) || sp.length !== 3) throw validate.invalidRange('array of 3 scaling powers', 'scalePower', sp);
  sp.forEach((p: unknown, i: number) => validate.finiteNumber(p, `scalePower[${i}]`));
  const outputScale = 1 / power(fanIn * kernelSize, sp[0]);
  const gradInputScale = power((stride * groups) / (fanOut * kernelSize), sp[1]);
  return applyConstraint(opts.constraint === undefined ? 'to_output_scale' : opts.constraint, outputScale, gradInputScale);
}

/** torch.ao's default dynamic weight observer: per-tensor symmetric qint8, scale = max|w| / 127.5 (at least float eps). */
function quantizeWeightSymmetric(w: Tensor): QTensor {
  const values = w.contiguous().data.subarray(0, w.numel());
  let absMax = 0;
  for (const v of values) absMax = Math.max(absMax, Math.abs(v));
  const scale = Math.max(Math.fround(absMax / 127.5), 1.1920928955078125e-7);
  return quantizePerTensor(w, scale, 0, 'qint8');
}

/** The float path: im2col rows per group, each a dynamically quantized linear (nnqd.Linear's numerics), fp32 out. */
function floatConv1d(input: Tensor, weight: Tensor, bias: Tensor | null, stride: number, padding: number, dilation: number, groups: number): Tensor {
  const [batch, cin, length] = input.shape;
  const [cout, cinG, k] = weight.shape;
  const spec = convSpec({ dims: 1, transposed: false, inChannels: cin, outChannels: cout, kernel: k, stride, padding, dilation, groups });
  const [outLength] = outputSpatial(spec, [length], input, 'input');
  guardRead('unitScaling conv1d (computed in JS)', input.data);
  const x = input.contiguous().data;
  const wq = quantizeWeightSymmetric(weight);
  const w = wq.dequantize().data;
  const coutG = cout / groups;
  const y = new Float32Array(batch * cout * outLength);
  for (let g = 0; g < groups; g++) {
    const rows = new Float32Array(batch * outLength * cinG * k);
    for (let n = 0; n < batch; n++) {
      for (let o = 0; o < outLength; o++) {
        const row = (n * outLength + o) * cinG * k;
        for (let c = 0; c < cinG; c++) {
          for (let t = 0; t < k; t++) {
            const i = o * stride + t * dilation - padding;
            rows[row + c * k + t] = i >= 0 && i < length ? x[(n * cin + g * cinG + c) * length + i] : 0;
          }
        }
      }
    }
    const linear = new DynamicLinear(cinG * k, coutG, { bias: bias !== null });
    const wg = quantizePerTensor(tensor(w.slice(g * coutG * cinG * k, (g + 1) * coutG * cinG * k), [coutG, cinG * k]), wq.qScale(), 0, 'qint8');
    linear.setWeightBias(wg, bias === null ? null : tensor(bias.contiguous().data.slice(g * coutG, (g + 1) * coutG)));
    const out = linear.forward(tensor(rows, [batch * outLength, cinG * k])).data;
    for (let n = 0; n < batch; n++)
      for (let o = 0; o < outLength; o++)
        for (let j = 0; j < coutG; j++) y[(n * cout + g * coutG + j) * outLength + o] = out[(n * outLength + o) * coutG + j];
  }
  return tensor(y, [batch, cout, outLength]);
}

/**
 * unit_scaling.functional.conv1d(input, weight, bias, options): F.conv1d(input, weight, bias, ...)
 * times conv1dScale (scale_fwd). Quantized tensors (quint8 input, qint8 weight, output scale /
 * zeroPoint as qF.conv1d): the unit scale is folded into the requantization multiplier (the
 * conv requantizes to scale / unitScale, and the result is labelled `scale`). Float tensors:
 * dynamically quantized as nnqd.Linear (quint8 activations with reduceRange, per-tensor
 * symmetric qint8 weights), fp32 out.
 */
export function conv1d(input: QTensor, weight: QTensor, bias?: Tensor | null, options?: Conv1dOptions): QTensor;
export function conv1d(input: Tensor, weight: Tensor, bias?: Tensor | null, options?: Conv1dOptions): Tensor;
export function conv1d(input: QTensor | Tensor, weight: QTensor | Tensor, bias: Tensor | null = null, options?: Conv1dOptions): QTensor | Tensor {
  const opts = validate.options(options, 'options', OPTIONS);
  if (!(weight instanceof QTensor) && !(weight instanceof Tensor)) throw validate.invalidType('QTensor or Tensor', 'weight', weight);
  if (weight.shape.length !== 3) throw validate.invalidRange('3-D weight [out, in / groups, kernel]', 'weight', weight);
  const stride = intOption(opts.stride, 'stride', 1, 1);
  const padding = intOption(opts.padding, 'padding', 0, 0);
  const dilation = intOption(opts.dilation, 'dilation', 1, 1);
  const groups = intOption(opts.groups, 'groups', 1, 1);
  const unitScale = conv1dScale(weight.shape, { stride, groups, constraint: opts.constraint as Constraint | null | undefined, scalePower: opts.scalePower as [number, number, number] | undefined });
  if (bias !== null && bias !== undefined && !(bias instanceof Tensor)) throw validate.invalidType('Tensor or null', 'bias', bias);
  if (input instanceof QTensor) {
    if (!(weight instanceof QTensor)) throw validate.invalidType('QTensor (with a quantized input)', 'weight', weight);
    const scale = validate.positiveFiniteNumber(opts.scale ?? 1, 'scale');
    const zeroPoint = validate.integerInRange(opts.zeroPoint ?? 0, 'zeroPoint', 0, 255);
    // y = round(conv * (xs * ws / (scale / unitScale))) + zp: the unit scale costs nothing.
    const folded = Math.fround(scale / unitScale);
    if (!(folded > 0) || !Number.isFinite(folded)) throw validate.invalidRange('scale whose division by the unit scale is a positive finite float', 'scale', scale);
    const q = qconv1d(input, weight, bias ?? null, { stride, padding, dilation, groups, scale: folded, zeroPoint });
    const dense = q.contiguous();
    return makePerTensorQuantizedTensor(dense.intRepr(), q.shape, scale, q.qZeroPoint(), 'quint8');
  }
  if (!(input instanceof Tensor)) throw validate.invalidType('QTensor or Tensor', 'input', input);
  if (!(weight instanceof Tensor)) throw validate.invalidType('Tensor (with a float input)', 'weight', weight);
  if (input.shape.length !== 3) throw validate.invalidRange('3-D input [batch, channels, length]', 'input', input);
  if (input.shape[1] !== weight.shape[1] * groups) throw validate.invalidRange(`input with ${weight.shape[1] * groups} channels`, 'input', input);
  if (weight.shape[0] % groups !== 0) throw validate.invalidRange(`groups dividing ${weight.shape[0]}`, 'groups', groups);
  const y = floatConv1d(input, weight, bias ?? null, stride, padding, dilation, groups);
  const s = Math.fround(unitScale);  // torch multiplies the fp32 tensor by the scalar in fp32
  return tensor(y.data.map((v) => Math.fround(v * s)), y.shape);
}

/** unit_scaling.Conv1d(inChannels, outChannels, kernelSize, options): weight [out, in / groups, k], bias, forward = functional.conv1d. */
export class Conv1d extends Module {
  readonly inChannels: number;
  readonly outChannels: number;
  readonly kernelSize: number;
  readonly stride: number;
  readonly padding: number;
  readonly dilation: number;
  readonly groups: number;
  readonly constraint: Constraint | null | '';
  readonly scalePower: readonly [number, number, number];
  weight: Tensor;
  bias: Tensor | null;

  constructor(inChannels: number, outChannels: number, kernelSize: number,
              options?: Omit<Conv1dOptions, 'scale' | 'zeroPoint'> & { bias?: boolean }) {
    super();
    const opts = validate.options(options, 'options', ['stride', 'padding', 'dilation', 'groups', 'constraint', 'scalePower', 'bias']);
    this.inChannels = validate.integerInRange(inChannels, 'inChannels', 1, Number.MAX_SAFE_INTEGER);
    this.outChannels = validate.integerInRange(outChannels, 'outChannels', 1, Number.MAX_SAFE_INTEGER);
    this.kernelSize = validate.integerInRange(kernelSize, 'kernelSize', 1, Number.MAX_SAFE_INTEGER);
    this.stride = intOption(opts.stride, 'stride', 1, 1);
    this.padding = intOption(opts.padding, 'padding', 0, 0);
    this.dilation = intOption(opts.dilation, 'dilation', 1, 1);
    this.groups = intOption(opts.groups, 'groups', 1, 1);
    if (this.inChannels % this.groups !== 0) throw validate.invalidRange(`groups dividing inChannels (${this.inChannels})`, 'groups', this.groups);
    if (this.outChannels % this.groups !== 0) throw validate.invalidRange(`groups dividing outChannels (${this.outChannels})`, 'groups', this.groups);
    this.constraint = opts.constraint === undefined ? 'to_output_scale' : (opts.constraint as Constraint | null | '');
    this.scalePower = opts.scalePower === undefined ? [0.5, 0.5, 0.5] : (opts.scalePower as [number, number, number]);
    // Checks the constraint and powers now, with unit_scaling's error for a bad name.
    conv1dScale([this.outChannels, this.inChannels / this.groups, this.kernelSize], { stride: this.stride, groups: this.groups, constraint: this.constraint, scalePower: this.scalePower });
    // unit_scaling initializes the weight with unit variance; qkernels starts from zeros: load trained weights.
    this.weight = tensor(new Float32Array(this.outChannels * (this.inChannels / this.groups) * this.kernelSize), [this.outChannels, this.inChannels / this.groups, this.kernelSize]);
    const withBias = opts.bias === undefined ? true : validate.boolean(opts.bias, 'bias');
    this.bias = withBias ? tensor(new Float32Array(this.outChannels)) : null;
  }

  /** torch's keys: `weight` [out, in / groups, k] and `bias` [out] (when the module has one). */
  protected override saveToStateDict(dest: StateDict, prefix: string): void {
    dest.set(`${prefix}weight`, this.weight);
    if (this.bias !== null) dest.set(`${prefix}bias`, this.bias);
  }

  protected override loadFromStateDict(ctx: LoadContext, prefix: string): (() => void) | void {
    const weight = readFloatTensor(ctx, `${prefix}weight`, [this.outChannels, this.inChannels / this.groups, this.kernelSize]);
    const bias = this.bias === null ? null : readFloatTensor(ctx, `${prefix}bias`, [this.outChannels]);
    if (weight === undefined || bias === undefined) return;
    return () => {
      this.weight = weight;
      this.bias = bias;
    };
  }

  /** torch's Conv1d extra_repr (unit_scaling's Conv1d subclasses torch.nn.Conv1d). */
  override extraRepr(): string {
    let text = `${this.inChannels}, ${this.outChannels}, kernel_size=(${this.kernelSize},), stride=(${this.stride},)`;
    if (this.padding !== 0) text += `, padding=(${this.padding},)`;
    if (this.dilation !== 1) text += `, dilation=(${this.dilation},)`;
    if (this.groups !== 1) text += `, groups=${this.groups}`;
    if (this.bias === null) text += ', bias=False';
    return text;
  }

  override forward(x: Tensor): Tensor {
    return conv1d(x, this.weight, this.bias, { stride: this.stride, padding: this.padding, dilation: this.dilation, groups: this.groups,
                                              constraint: this.constraint, scalePower: this.scalePower });
  }

  override async forwardAsync(x: Tensor): Promise<Tensor> {
    return this.forward(x);
  }
}

/** The unitScaling namespace: functional.conv1d, Conv1d, and the scale itself. */
export const unitScaling = Object.freeze({
  functional: Object.freeze({ conv1d, conv1dScale }),
  Conv1d,
});
