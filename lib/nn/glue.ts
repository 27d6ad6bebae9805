// The float torch.nn modules a converted model keeps (Identity, Flatten, ReLU, ReLU6, Hardsigmoid, Hardswish, Dropout), run on QTensors with torch's quantized kernels' math.
//
// PyTorch's convert() leaves these float modules in place; on a quantized input they dispatch to
// the quantized kernels: relu and hardtanh (ReLU6) clamp in the quantized domain keeping the
// input's qparams, hardsigmoid requantizes to the fixed (1/256, 0 | -128) torch uses. Float
// hardswish has no quantized kernel in torch 1.13: nn.Hardswish throws on a QTensor, as torch. nn.MaxPool2d and nn.AdaptiveAvgPool2d are the pool-norm family's
// classes (nnq.MaxPool2d is torch.nn.MaxPool2d in torch too), exported in lib/nn.ts.

import { OpPlan, planAsync } from '../plan';
import { planClamp, planHardsigmoid, planRelu, writeBack } from '../elementwise/plan';
import { QTensor, checkQTensor } from '../qtensor';
import { Tensor } from '../tensor';
import * as validate from '../validate';
import { Dropout as QuantizedDropout } from '../elementwise/modules';
import { Module } from './module';

export { Identity } from './identity';

function inplaceOption(value: unknown, parameter = 'options.inplace'): boolean {
  return value === undefined ? false : validate.boolean(value, parameter);
}

/** torch.nn.Flatten({ startDim = 1, endDim = -1 }): a view (or copy) merging dims startDim..endDim, for Tensor and QTensor. */
export class Flatten extends Module {
  startDim: number;
  endDim: number;

  constructor(options?: { startDim?: number; endDim?: number }) {
    super();
    const o = validate.options(options, 'options', ['startDim', 'endDim']);
    this.startDim = o.startDim === undefined ? 1 : validate.integerInRange(o.startDim, 'options.startDim', -64, 63);
    this.endDim = o.endDim === undefined ? -1 : validate.integerInRange(o.endDim, 'options.endDim', -64, 63);
  }

  override forward<T extends Tensor | QTensor>(x: T): T {
    if (!(x instanceof QTensor) && !(x instanceof Tensor)) throw validate.invalidType('Tensor or QTensor', 'x', x);
    return x.flatten(this.startDim, this.endDim) as T;
  }

  override async forwardAsync<T extends Tensor | QTensor>(x: T): Promise<T> {
    return this.forward(x);
  }

  override extraRepr(): string {
    return `start_dim=${this.startDim}, end_dim=${this.endDim}`;
  }
}

/** An activation that is one quantized op plan, optionally written back into the input (inplace). */
abstract class QuantizedActivation extends Module {
  inplace: boolean;

  constructor(options: unknown, inplaceAllowed = true) {
    super();
    const o = validate.options(options, 'options', inplaceAllowed ? ['inplace'] : []);
    this.inplace = inplaceOption(o.inplace);
  }

  /** @internal The op on a checked QTensor. */
  protected abstract plan(x: QTensor): OpPlan<QTensor>;

  override forward(x: QTensor): QTensor {
    const input = checkQTensor(x, 'x');
    const result = this.plan(input).run();
    return validate.boolean(this.inplace, 'inplace') ? writeBack(input, result) : result;
  }

  /** forward off the event loop (qkernels' async job queue): same bits. */
  override async forwardAsync(x: QTensor): Promise<QTensor> {
    const result = await planAsync(this.forwardAsync, () => this.plan(checkQTensor(x, 'x')));
    return validate.boolean(this.inplace, 'inplace') ? writeBack(x, result) : result;
  }

  override extraRepr(): string {
    return this.inplace ? 'inplace=True' : '';
  }
}

/** torch.nn.ReLU({ inplace }): max(q, zeroPoint), the input's qparams (torch.relu on a quantized tensor). */
export class ReLU extends QuantizedActivation {
  constructor(options?: { inplace?: boolean }) {
    super(options);
  }

  protected plan(x: QTensor): OpPlan<QTensor> {
    return planRelu(x, 'x');
  }
}

/** torch.nn.ReLU6({ inplace }): hardtanh(0, 6) in the quantized domain, the input's qparams. */
export class ReLU6 extends QuantizedActivation {
  constructor(options?: { inplace?: boolean }) {
    super(options);
  }

  protected plan(x: QTensor): OpPlan<QTensor> {
    return planClamp(x, 0, 6, 'x');
  }
}

/**
 * torch.nn.Hardswish({ inplace }), as a converted model could keep it: torch 1.13 has no
 * quantized kernel behind float hardswish (aten::hardswish is not registered for QuantizedCPU),
 * so forward on a QTensor throws as torch does. convert() replaces nn.Hardswish by
 * nnq.Hardswish(scale, zeroPoint), which is what a converted model holds.
 */
export class Hardswish extends QuantizedActivation {
  constructor(options?: { inplace?: boolean }) {
    super(options);
  }

  protected plan(x: QTensor): OpPlan<QTensor> {
    throw validate.invalidType(
      "float Tensor: torch's nn.Hardswish has no quantized kernel (aten::hardswish on QuantizedCPU); a converted model holds nnq.Hardswish(scale, zeroPoint)",
      'x',
      x,
    );
  }
}

/**
 * torch.nn.Hardsigmoid({ inplace }): relu6(x + 3) / 6 with torch's fixed output qparams
 * (scale 1/256; zero point 0 for quint8, -128 for qint8). inplace=true is refused: the output
 * qparams differ from the input's.
 */
export class Hardsigmoid extends QuantizedActivation {
  constructor(options?: { inplace?: boolean }) {
    super(options);
    if (this.inplace) {
      throw validate.invalidRange("false (the output qparams differ from the input's, so it cannot be written in place)", 'options.inplace', true);
    }
  }

  protected plan(x: QTensor): OpPlan<QTensor> {
    return planHardsigmoid(x, 'x');
  }
}

/** torch.nn.Dropout({ p = 0.5, inplace }): the identity at inference (converted models run in eval mode), on any value. */
export class Dropout extends QuantizedDropout {
  override getName(): string {
    return 'Dropout';
  }

  override forward<T>(x: T): T {
    return x;
  }

  override async forwardAsync<T>(x: T): Promise<T> {
    return x;
  }
}
