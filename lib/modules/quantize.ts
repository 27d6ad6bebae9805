// nnq.Quantize and nnq.DeQuantize: the modules that enter and leave the quantized domain (torch.ao.nn.quantized).

import { plainTensorRepr } from '../format';
import { CallerStack, QDType, QDTYPES, QTensor, captureCaller, checkZeroPoint, planDequantize, planQuantizePerTensor } from '../qtensor';
import { Tensor } from '../tensor';
import * as validate from '../validate';

/** Runs an async op's plan; argument errors reject the Promise rather than throw. */
function runAsync<T>(caller: CallerStack, plan: () => { runAsync(caller: CallerStack): Promise<T> }): Promise<T> {
  try {
    return plan().runAsync(caller);
  } catch (error) {
    return Promise.reject(error);
  }
}

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
export class Quantize {
  /** Attributes, as in torch: they may be reassigned; forward checks them each call. */
  scale: number;
  zeroPoint: number;
  dtype: QDType;

  constructor(scale: number, zeroPoint: number, dtype: QDType) {
    this.scale = float32Scale(scale);
    this.dtype = validate.oneOf(dtype, 'dtype', QDTYPES);
    this.zeroPoint = checkZeroPoint(zeroPoint, 'zeroPoint', this.dtype);
  }

  forward(x: Tensor): QTensor {
    return planQuantizePerTensor(x, float32Scale(this.scale), this.zeroPoint, this.dtype, 'x').run();
  }

  /** forward off the event loop (libuv's pool): same bits. */
  forwardAsync(x: Tensor): Promise<QTensor> {
    const caller = captureCaller(this.forwardAsync);
    return runAsync(caller, () => planQuantizePerTensor(x, float32Scale(this.scale), this.zeroPoint, this.dtype, 'x'));
  }

  /** As torch prints it: `Quantize(scale=tensor([0.1000]), zero_point=tensor([3]), dtype=torch.quint8)`. */
  toString(): string {
    const scale = plainTensorRepr([Math.fround(this.scale)], [1], 'float32');
    const zeroPoint = plainTensorRepr([this.zeroPoint], [1], 'int64');
    return `Quantize(scale=${scale}, zero_point=${zeroPoint}, dtype=torch.${this.dtype})`;
  }

  [validate.inspectSymbol](): string {
    return this.toString();
  }
}

/**
 * torch.ao.nn.quantized.DeQuantize: dequantizes its input.
 *
 * @example
 * const y = new nnq.DeQuantize().forward(q); // a float32 Tensor
 */
export class DeQuantize {
  forward(x: QTensor): Tensor {
    return planDequantize(x, 'x').run();
  }

  /** forward off the event loop (libuv's pool): same bits. */
  forwardAsync(x: QTensor): Promise<Tensor> {
    const caller = captureCaller(this.forwardAsync);
    return runAsync(caller, () => planDequantize(x, 'x'));
  }

  toString(): string {
    return 'DeQuantize()';
  }

  [validate.inspectSymbol](): string {
    return this.toString();
  }
}

/** The scale as torch's float32 buffer holds it; a scale float32 cannot hold as a positive finite number is rejected. */
function float32Scale(scale: unknown): number {
  const value = validate.positiveFiniteNumber(scale, 'scale');
  const rounded = Math.fround(value);
  if (!(rounded > 0 && Number.isFinite(rounded))) throw validate.invalidRange('positive number finite in float32', 'scale', scale);
  return rounded;
}
