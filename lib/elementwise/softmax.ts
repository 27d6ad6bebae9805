// Quantized softmax (native: ops/softmax) and PReLU (in JS): PyTorch 1.13's formulas (neither is a fixed u8 -> u8 map).

import { guardRead } from '../jit/hook';
import { callOp, paramsOf } from '../plan';
import { QTensor, makePerTensorQTensor } from '../qtensor';
import { formatStrides, frozenFormatStrides, isContiguousAs, suggestMemoryFormat } from '../shape';
import * as validate from '../validate';
import { native } from './native';
import { checkByteQTensor, checkOutputQParams, dtypeCode, roundHalfEven } from './plan';

const { fround } = Math;

/** torch's legacy implicit softmax dim (_get_softmax_dim): 0 for 0-, 1- and 3-D inputs, else 1. */
export function implicitSoftmaxDim(rank: number): number {
  return rank === 0 || rank === 1 || rank === 3 ? 0 : 1;
}

/**
 * quantized::softmax (SoftMax.cpp, the non-QNNPACK path): dequantize, float softmax along dim,
 * quantize with (scale, zeroPoint); the output is contiguous. Computed natively (native/src/ops/
 * softmax.h): subtract the max, exp rounded to float, the float sum in index order, multiply by
 * 1 / sum (last dim) or divide by the sum (other dims). ATen's exp is SLEEF's vectorized expf
 * (<= 1 ulp) and its sum vectorized, so an element on a rounding boundary can differ by 1 quantum.
 */
export function quantizedSoftmax(input: unknown, dim: unknown, scale: unknown, zeroPoint: unknown, name = 'input'): QTensor {
  const x = checkByteQTensor(input, name);
  const [s, zp] = checkOutputQParams(scale, zeroPoint, x.dtype);
  const rank = x.shape.length;
  const d = validate.axis(dim, 'dim', rank);
  const n = x.numel();
  const size = rank === 0 ? 1 : x.shape[d];
  let inner = 1;
  for (let k = d + 1; k < rank; k++) inner *= x.shape[k];
  const outer = n / Math.max(size * inner, 1);
  // A contiguous input (the common case) is read in place; contiguous() copies any other.
  const dense = (isContiguousAs(x.shape, x.strides, 'contiguous_format') ? x : x.contiguous()).data;
  const data = dense.length === n ? dense : dense.subarray(0, n);
  const params = paramsOf(x.qScale(), x.qZeroPoint(), s, zp);  // shared between calls with these values
  const args = [data, dtypeCode(x.dtype), outer, size, inner, params] as const;
  const out = callOp({ op: 'elementwiseSoftmax', args }, () => native.elementwiseSoftmax(...args));
  return makePerTensorQTensor(out, x.shape, frozenFormatStrides(x.shape, 'contiguous_format', x.strides), x.dtype, s, zp);
}

/**
 * quantized::prelu (qprelu_out_kernel): integer arithmetic on (q - zp) and a requantize,
 *   y = zp_out + round(float(pos * (q_one - w_zp) + neg * (q_w - w_zp)) * multiplier)
 * where pos / neg are the parts of q - x_zp above / below 0, q_one = quantize(1.0) with the
 * weight's qparams, multiplier = x_scale * w_scale * (1 / out_scale) in fp32. Exact: every step is
 * an integer or one fp32 rounding. weight: a per-tensor QTensor of one value or one per channel (dim 1).
 */
export function quantizedPrelu(input: unknown, weight: unknown, scale: unknown, zeroPoint: unknown, name = 'input'): QTensor {
  const x = checkByteQTensor(input, name);
  const w = checkByteQTensor(weight, 'weight');
  if (w.dtype !== x.dtype) throw validate.invalidType(`QTensor of dtype ${x.dtype} (the input's)`, 'weight', weight);
  const [s, zp] = checkOutputQParams(scale, zeroPoint, x.dtype);
  const rank = x.shape.length;
  if (rank === 0) throw validate.invalidRange('QTensor with at least 1 dim', name, input);
  const channels = rank >= 2 ? x.shape[1] : 1;
  const weights = w.numel();
  if (w.dim() > 1 || (weights !== 1 && weights !== channels)) {
    throw validate.invalidRange(`1-D QTensor of 1 or ${channels} values (one per channel of dim 1)`, 'weight', weight);
  }
  guardRead('prelu (computed in JS)', x.data, w.data);
  const format = suggestMemoryFormat(x.shape, x.strides);
  const strides = formatStrides(x.shape, format);
  const q = x.contiguous(format === 'contiguous_format' ? undefined : format).data;
  const wq = w.intRepr();
  const qmin = x.dtype === 'quint8' ? 0 : -128;
  const qmax = x.dtype === 'quint8' ? 255 : 127;
  const xScale = fround(x.qScale());
  const wScale = fround(w.qScale());
  const xZp = x.qZeroPoint();
  const wZp = w.qZeroPoint();
  const multiplier = fround(fround(xScale * wScale) * fround(1 / fround(s)));
  // quantize_val(w_scale, w_zp, 1.0f): zp + nearbyint(1 * (1 / w_scale)) in float, clamped.
  const qOne = Math.min(Math.max(fround(wZp + roundHalfEven(fround(1 / wScale))), qmin), qmax);
  const out = x.dtype === 'quint8' ? new Uint8Array(x.numel()) : new Int8Array(x.numel());
  const channelStride = rank >= 2 ? strides[1] : 0;
  for (let i = 0; i < out.length; i++) {
    const c = weights === 1 || channelStride === 0 ? 0 : Math.floor(i / channelStride) % channels;
    const v = q[i] - xZp;
    const acc = (v > 0 ? v : 0) * (qOne - wZp) + (v < 0 ? v : 0) * (wq[c] - wZp);
    const y = zp + roundHalfEven(fround(acc * multiplier));
    out[i] = y < qmin ? qmin : y > qmax ? qmax : y;
  }
  return makePerTensorQTensor(out, x.shape, strides, x.dtype, s, zp);
}
