// nnq.Quantize and nnq.DeQuantize: the modules that enter and leave the quantized domain (torch.ao.nn.quantized).

import { plainTensorRepr } from '../format';
import { LoadContext, Module } from '../nn/module';
import { StateDict, saveQParams, scalarInteger, scalarNumber } from '../nn/state';
import { planAsync } from '../plan';
import { QDType, QDTYPES, QTensor, checkZeroPoint, planDequantize, planQuantizePerTensor } from '../qtensor';
import { Tensor } from '../tensor';
import * as validate from '../validate';

/**
 * torch.ao.nn.quantized.Quantize: quantizes its input per tensor with fixed qparams.
 * Like torch, which keeps `scale` in a float32 buffer, forward quantizes with the scale
 * rounded to float32 (the output's qScale() is that value).
 *
 * @example
 * const m = new nnq.Quantize(0.05, 128, 'quint8');
 * const q = m.forward(tensor(data, [2, 8]));
 * const same = await m.forwardAsync(tensor(data, [2, 8]));
 */
export class Quantize extends Module {
  /** Attributes, as in torch: they may be reassigned; forward checks them each call. */
  scale: number;
  zeroPoint: number;
  dtype: QDType;

  constructor(scale: number, zeroPoint: number, dtype: QDType) {
    super();
    this.scale = float32Scale(scale);
    this.dtype = validate.oneOf(dtype, 'dtype', QDTYPES);
    this.zeroPoint = checkZeroPoint(zeroPoint, 'zeroPoint', this.dtype);
  }

  override forward(x: Tensor): QTensor {
    return planQuantizePerTensor(x, float32Scale(this.scale), this.zeroPoint, this.dtype, 'x').run();
  }

  /** forward off the event loop (qkernels' async job queue): same bits. */
  override forwardAsync(x: Tensor): Promise<QTensor> {
    return planAsync(this.forwardAsync, () => planQuantizePerTensor(x, float32Scale(this.scale), this.zeroPoint, this.dtype, 'x'));
  }

  /** torch's keys: `scale` (float32 [1]) and `zero_point` (int64 [1]), its two buffers. */
  protected override saveToStateDict(dest: StateDict, prefix: string): void {
    saveQParams(dest, prefix, Math.fround(this.scale), this.zeroPoint, [1]);
  }

  protected override loadFromStateDict(ctx: LoadContext, prefix: string): (() => void) | void {
    const scale = ctx.read(`${prefix}scale`, (value) => float32Scale(scalarNumber(value, `${prefix}scale`), `${prefix}scale`));
    const zeroPoint = ctx.read(`${prefix}zero_point`, (value) => checkZeroPoint(scalarInteger(value, `${prefix}zero_point`), `${prefix}zero_point`, this.dtype));
    if (scale === undefined || zeroPoint === undefined) return;
    return () => {
      this.scale = scale;
      this.zeroPoint = zeroPoint;
    };
  }

  /** As torch prints it: `Quantize(scale=tensor([0.1000]), zero_point=tensor([3]), dtype=torch.quint8)`. */
  override extraRepr(): string {
    const scale = plainTensorRepr([Math.fround(this.scale)], [1], 'float32');
    const zeroPoint = plainTensorRepr([this.zeroPoint], [1], 'int64');
    return `scale=${scale}, zero_point=${zeroPoint}, dtype=torch.${this.dtype}`;
  }
}

/**
 * torch.ao.nn.quantized.DeQuantize: dequantizes its input.
 *
 * @example
 * const y = new nnq.DeQuantize().forward(q); // a float32 Tensor
 */
export class DeQuantize extends Module {
  override forward(x: QTensor): Tensor {
    return planDequantize(x, 'x').run();
  }

  /** forward off the event loop (qkernels' async job queue): same bits. */
  override forwardAsync(x: QTensor): Promise<Tensor> {
    return planAsync(this.forwardAsync, () => planDequantize(x, 'x'));
  }
}

/** The scale as torch's float32 buffer holds it; a scale float32 cannot hold as a positive finite number is rejected. */
function float32Scale(scale: unknown, parameter = 'scale'): number {
  return Math.fround(validate.scale(scale, parameter));
}
