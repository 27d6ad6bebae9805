// Matrix products: quantized::matmul (QFunctional.matmul, ops.quantized.matmul) and torch.matmul on float Tensors (FloatFunctional.matmul).
//
// torch 1.13 built without ruy (Debian's, every x86 build) computes quantized::matmul as
// quantize_per_tensor(at::matmul(dequantize(qa), dequantize(qb)), scale, zero_point, qa's
// dtype) (qmatmul.cpp), so it takes torch.matmul's shapes: 1-D operands, broadcast batch
// dims. The fp32 product comes from an sgemm whose summation order cannot be reproduced;
// the native MatmulF32 sums in double and rounds once, so a float result may differ from
// torch's by a few ulps and a quantized one by 1 quantum where it lies on a rounding boundary.

import { QTensor, dequantize, quantizePerTensor } from '../qtensor';
import { callOp } from '../plan';
import { contiguousStrides, numelOf, stridedCopy } from '../shape';
import { Tensor, checkTensor, makeTensor } from '../tensor';
import * as validate from '../validate';
import { broadcastShapes, expandedStrides } from './arithmetic';
import { native } from './native';
import { checkByteQTensor, checkOutputQParams } from './plan';

/**
 * x's values broadcast to `shape` (x's matrix dims already promoted), laid out densely: x's own
 * storage when it already is (the native product reads it synchronously), else a copy.
 */
function denseExpanded(data: Float32Array, xShape: readonly number[], xStrides: readonly number[], shape: readonly number[]): Float32Array {
  const numel = numelOf(shape);
  const from = expandedStrides(xShape, xStrides, shape);
  const dense = contiguousStrides(shape);
  if (shape.every((size, d) => size === 1 || from[d] === dense[d])) return data.length === numel ? data : data.subarray(0, numel);
  const out = new Float32Array(numel);
  stridedCopy(data, from, out, dense, shape);
  return out;
}

/**
 * torch.matmul(a, b) on fp32 Tensors: 1-D x 1-D is a dot product (0-dim result), a 1-D a is a
 * row vector and a 1-D b a column vector (the added dim removed from the result), dims before
 * the last two broadcast (numpy rules). Output contiguous. `names` / `values` name the
 * operands in errors.
 */
export function matmulTensors(a: Tensor, b: Tensor, names: [string, string], values: [unknown, unknown]): Tensor {
  if (a.dim() === 0 || b.dim() === 0) {
    const which = a.dim() === 0 ? 0 : 1;
    throw validate.invalidRange('tensor with at least 1 dim (matmul multiplies vectors and matrices)', names[which], values[which]);
  }
  const aVector = a.dim() === 1;
  const bVector = b.dim() === 1;
  const aShape = aVector ? [1, a.shape[0]] : a.shape;
  const aStrides = aVector ? [0, a.strides[0]] : a.strides;
  const bShape = bVector ? [b.shape[0], 1] : b.shape;
  const bStrides = bVector ? [b.strides[0], 0] : b.strides;
  const m = aShape[aShape.length - 2];
  const k = aShape[aShape.length - 1];
  const bk = bShape[bShape.length - 2];
  const n = bShape[bShape.length - 1];
  if (bk !== k) {
    throw validate.invalidRange(
      `tensor with ${k} ${bVector ? 'elements' : 'rows (size of dim -2)'} to match ${names[0]}'s last dim [${a.shape.join(', ')}]`,
      names[1],
      values[1],
    );
  }
  const batchShape = broadcastShapes(aShape.slice(0, -2), bShape.slice(0, -2), names, values);
  const batch = numelOf(batchShape);
  const outShape = [...batchShape, ...(aVector ? [] : [m]), ...(bVector ? [] : [n])];
  for (const [count, i] of [[batch * m * k, 0], [batch * k * n, 1], [batch * m * n, 1]] as const) {
    validate.storageFits(count, 4, names[i], values[i]);
  }
  const av = denseExpanded(a.data, aShape, aStrides, [...batchShape, m, k]);
  const bv = denseExpanded(b.data, bShape, bStrides, [...batchShape, k, n]);
  const args = [av, bv, batch, m, k, n] as const;
  const product = callOp({ op: 'elementwiseMatmul', args }, () => native.elementwiseMatmul(...args));
  return makeTensor(product, outShape, contiguousStrides(outShape));
}

/** torch.matmul on float Tensors (FloatFunctional.matmul). */
export function floatMatmul(x: unknown, y: unknown): Tensor {
  return matmulTensors(checkTensor(x, 'x'), checkTensor(y, 'y'), ['x', 'y'], [x, y]);
}

/**
 * quantized::matmul(qa, qb, scale, zeroPoint): both per-tensor, same dtype (quint8 or qint8),
 * the product of the dequantized operands quantized with (scale, zeroPoint); torch.matmul's
 * shapes, output contiguous. `names` are the operands' names in errors.
 */
export function quantizedMatmul(qa: unknown, qb: unknown, scale: unknown, zeroPoint: unknown, names: [string, string] = ['qa', 'qb']): QTensor {
  const a = checkByteQTensor(qa, names[0]);
  const b = checkByteQTensor(qb, names[1]);
  if (b.dtype !== a.dtype) throw validate.invalidType(`QTensor of dtype ${a.dtype} (matmul operands must have the same dtype)`, names[1], qb);
  const [s, zp] = checkOutputQParams(scale, zeroPoint, a.dtype);
  const product = matmulTensors(dequantize(a), dequantize(b), names, [qa, qb]);
  return quantizePerTensor(product, s, zp, a.dtype);
}
