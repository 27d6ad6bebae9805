// Quantized softmax and PReLU: PyTorch 1.13's formulas, in JS (neither is a fixed u8 -> u8 map).

import { QTensor, dequantize, makePerTensorQTensor, quantizePerTensor } from '../qtensor';
import { contiguousStrides, formatStrides, numelOf, suggestMemoryFormat } from '../shape';
import { makeTensor } from '../tensor';
import * as validate from '../validate';
import { checkByteQTensor, checkOutputQParams, roundHalfEven } from './plan';

const { exp, fround, max: mathMax } = Math;

/** torch's legacy implicit softmax dim (_get_softmax_dim): 0 for 0-, 1- and 3-D inputs, else 1. */
export function implicitSoftmaxDim(rank: number): number {
  return rank === 0 || rank === 1 || rank === 3 ? 0 : 1;
}

/**
 * quantized::softmax (SoftMax.cpp, the non-QNNPACK path): dequantize, float softmax along dim,
 * quantize with (scale, zeroPoint); the output is contiguous. ATen's float softmax subtracts
 * the max, exponentiates (SLEEF's vectorized expf, <= 1 ulp), sums in float and multiplies by
 * 1 / sum (last dim) or divides by the sum (other dims). Here exp is Math.exp rounded to float
 * and the sum runs in index order, so an element on a rounding boundary can differ by 1 quantum.
 */
export function quantizedSoftmax(input: unknown, dim: unknown, scale: unknown, zeroPoint: unknown, name = 'input'): QTensor {
  const x = checkByteQTensor(input, name);
  const [s, zp] = checkOutputQParams(scale, zeroPoint, x.dtype);
  const rank = x.shape.length;
  const d = validate.axis(dim, 'dim', rank);
  const values = dequantize(x).contiguous().data;
  const out = new Float32Array(values.length);
  const size = rank === 0 ? 1 : x.shape[d];
  const inner = rank === 0 ? 1 : numelOf(x.shape.slice(d + 1));
  const outer = values.length / Math.max(size * inner, 1);
  const lastDim = inner === 1;
  for (let o = 0; o < outer; o++) {
    for (let i = 0; i < inner; i++) {
      const base = o * size * inner + i;
      let m = -Infinity;
      for (let k = 0; k < size; k++) m = mathMax(m, values[base + k * inner]);
      let sum = 0;
      for (let k = 0; k < size; k++) {
        const e = fround(exp(fround(values[base + k * inner] - m)));
        out[base + k * inner] = e;
        sum = fround(sum + e);
      }
      const reciprocal = fround(1 / sum);
      for (let k = 0; k < size; k++) {
        const at = base + k * inner;
        out[at] = lastDim ? fround(out[at] * reciprocal) : fround(out[at] / sum);
      }
    }
  }
  return quantizePerTensor(makeTensor(out, x.shape, contiguousStrides(x.shape)), s, zp, x.dtype);
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
