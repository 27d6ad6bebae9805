// Quantized arithmetic (torch.ops.quantized add / mul / add_relu / mul_relu / add_scalar / mul_scalar / cat) and float arithmetic for FloatFunctional.
//
// add and mul follow qadd.cpp / qmul.cpp without QNNPACK: the output has the broadcast shape
// and qa's memory format (qb's when only qb has the full shape); values come from the native
// binary op, told how torch's TensorIterator would walk the operands (see iterationRows).
// add_scalar and mul_scalar choose new output qparams exactly as torch does and map values
// through a lookup table (or copy them). cat requantizes every input to the output qparams.

import { OpPlan, callOp, makePlan, paramsOf, sharedParams } from '../plan';
import { guardRead } from '../jit/hook';
import { QStorage, addon } from '../native';
import { QDType, QTensor, denseQuantized, makePerTensorQTensor } from '../qtensor';
import { MemoryFormat, formatStrides, frozenFormatStrides, isContiguousAs, memoryOrder, numelOf, sameDims, stridedCopy, stridedCopyNew, suggestMemoryFormat } from '../shape';
import { Tensor, checkTensor, makeTensor } from '../tensor';
import * as validate from '../validate';
import { LookupOp, native, quantizedEngine } from './native';
import { checkByteQTensor, checkOutputQParams, dtypeCode, isByteQTensor, planLookup, roundHalfEven, vectorPart } from './plan';

const { fround } = Math;

// ---- broadcasting and TensorIterator's walk ---------------------------------------------------------

/** The broadcast shape of two shapes (numpy rules), or a RangeError naming qb. */
export function broadcastShapes(a: readonly number[], b: readonly number[], names: [string, string], values: [unknown, unknown]): number[] {
  const rank = Math.max(a.length, b.length);
  const out: number[] = [];
  for (let i = 0; i < rank; i++) {
    const da = a[a.length - rank + i] ?? 1;
    const db = b[b.length - rank + i] ?? 1;
    if (da !== db && da !== 1 && db !== 1) {
      throw validate.invalidRange(
        `shape broadcastable with ${names[0]}'s [${a.join(', ')}] (dims must match or be 1)`,
        names[1],
        values[1],
      );
    }
    out.push(da === 1 ? db : da);
  }
  return out;
}

/** Strides of `shape`'s tensor broadcast to `outShape`: 0 along broadcast (and added) dims. */
export function expandedStrides(shape: readonly number[], strides: readonly number[], outShape: readonly number[]): number[] {
  // A loop and pushes, not map: add and mul derive these per call, on frozen shapes.
  const offset = outShape.length - shape.length;
  const out: number[] = [];
  for (let d = 0; d < outShape.length; d++) out.push(d < offset || shape[d - offset] !== outShape[d] ? 0 : strides[d - offset]);
  return out;
}

/**
 * A dense output's layout: its dims in memory order (outermost first) and the strides that
 * gives. `format` names it when it is one of torch's memory formats; TensorIterator may also
 * resize an output into another permutation (tensorIteratorLayout), then format is null.
 */
export interface DenseLayout {
  format: MemoryFormat | null;
  order: readonly number[];
  strides: readonly number[];
}

export function formatLayout(shape: readonly number[], format: MemoryFormat): DenseLayout {
  return { format, order: memoryOrder(format, shape.length), strides: formatStrides(shape, format) };
}

/**
 * The inner loop TensorIterator runs for an elementwise op writing a dense output in `layout`:
 * its dims from innermost out (size-1 dims dropped) merge while every operand's strides allow
 * (stride[outer] == size * stride[inner]); the merged innermost dim is one run of cpu_kernel_vec,
 * vectorized when each input's stride there is 1 or (for one input) 0.
 */
export function iterationRows(shape: readonly number[], layout: DenseLayout, inputStrides: readonly (readonly number[])[]): { rowLength: number; vectorLength: number } {
  // Loops over the dims innermost first (no filter / reverse / every / map: this runs per call).
  const outStrides = layout.strides;
  const order = layout.order;
  let k = order.length - 1;
  while (k >= 0 && shape[order[k]] === 1) k--;
  if (k < 0) return { rowLength: 1, vectorLength: 0 };
  const inner = order[k];
  let size = shape[inner];
  for (k--; k >= 0; k--) {
    const d = order[k];
    if (shape[d] === 1) continue;
    let merges = outStrides[d] === size * outStrides[inner];
    for (let i = 0; i < inputStrides.length && merges; i++) merges = inputStrides[i][d] === size * inputStrides[i][inner];
    if (!merges) break;
    size *= shape[d];
  }
  let scalars = 0;
  let unit = true;
  for (let i = 0; i < inputStrides.length; i++) {
    const stride = inputStrides[i][inner];
    if (stride === 0) scalars++;
    else if (stride !== 1) unit = false;
  }
  const vectorizable = unit && scalars < inputStrides.length;
  return { rowLength: size, vectorLength: vectorizable ? vectorPart(size) : 0 };
}

/**
 * x's values laid out densely in `layout` at `outShape` (broadcast where x's dims are 1): x's own
 * storage when it is already, else a new array the native strided copy fills (a channels-last
 * operand of an NCHW output goes through its tiled transpose).
 */
function denseBroadcast(x: QTensor, outShape: readonly number[], layout: DenseLayout, expanded?: readonly number[]): QStorage {
  const same = sameDims(x.shape, outShape);
  const format = layout.format;
  if (same && format !== null && isContiguousAs(x.shape, x.strides, format)) return denseQuantized(x, format !== 'contiguous_format').data;
  const make = (length: number): QStorage => (x.dtype === 'qint8' ? new Int8Array(length) : new Uint8Array(length));
  const n = numelOf(outShape);
  return stridedCopyNew<QStorage>(x.data, expanded ?? expandedStrides(x.shape, x.strides, outShape), layout.strides, outShape, n, make);
}

/**
 * How the dense output (outShape in `layout`'s memory order) reads x when x is broadcast along
 * its innermost and outermost dims only: element i reads x.data[floor(i / each) % period]. null
 * when x's broadcast has another form or x is not dense in that order; then x is expanded here.
 */
function broadcastPattern(x: QTensor, outShape: readonly number[], layout: DenseLayout, expanded?: readonly number[]): { each: number; period: number } | null {
  const strides = expanded ?? expandedStrides(x.shape, x.strides, outShape);
  const order = layout.order;
  let each = 1;
  let period = 1;
  let phase = 0;  // 0: broadcast dims inside the values, 1: the values' dims, 2: broadcast dims outside them
  for (let k = order.length - 1; k >= 0; k--) {
    const d = order[k];
    const size = outShape[d];
    if (size === 1) continue;
    if (strides[d] === 0) {
      if (phase === 0) each *= size;
      else phase = 2;
    } else {
      if (phase === 2 || strides[d] !== period) return null;
      phase = 1;
      period *= size;
    }
  }
  return { each, period };
}

/**
 * How the dense output (outShape in `layout`'s memory order) reads x when x has the full shape and
 * is dense in the output's order with a middle group of dims moved inside the innermost group:
 * element ((o * rows) + r) * cols + c of the output reads x.data[(o * cols + c) * rows + r] (a
 * channels-last qb of an NCHW output: rows C, cols H * W). null when x is not such a tensor.
 */
function acrossPattern(x: QTensor, outShape: readonly number[], layout: DenseLayout): { rows: number; cols: number } | null {
  if (x.shape.length !== outShape.length || x.shape.some((size, d) => size !== outShape[d])) return null;
  const dims = layout.order.filter((d) => outShape[d] !== 1);
  const product = (group: readonly number[]) => group.reduce((size, d) => size * outShape[d], 1);
  for (let p = 0; p < dims.length; p++) {
    for (let q = p + 1; q < dims.length; q++) {
      // The output's dims are (outer, rows, cols); x's, outermost first, (outer, cols, rows).
      const rows = dims.slice(p, q);
      const xOrder = [...dims.slice(0, p), ...dims.slice(q), ...rows];
      let step = 1;
      let dense = true;
      for (let k = xOrder.length - 1; k >= 0 && dense; k--) {
        dense = x.strides[xOrder[k]] === step;
        step *= outShape[xOrder[k]];
      }
      if (dense) return { rows: product(rows), cols: product(dims.slice(q)) };
    }
  }
  return null;
}

// ---- add / mul --------------------------------------------------------------------------------------

export interface BinaryRequest {
  multiply: boolean;
  relu: boolean;
}

/**
 * The layout torch 1.13 gives a binary op's output (doc/numerics.md, "Output layout of add and
 * mul"). qmul.cpp, xnnp_add, xnnp_mul and qnnpack_add allocate the broadcast shape in qa's
 * suggested format (`qaDecides`). The default add allocates qa.sizes() in qa's format and hands
 * it to TensorIterator: when qa has the broadcast shape that is the output; otherwise the output
 * is resized and takes TensorIterator's dim order, inferred from the inputs' strides
 * (tensorIteratorFormat).
 */
function binaryOutputLayout(qaDecides: boolean, a: QTensor, b: QTensor, shape: readonly number[]): DenseLayout {
  if (qaDecides) return formatLayout(shape, suggestMemoryFormat(a.shape, a.strides));
  return tensorIteratorLayout(shape, [expandedStrides(a.shape, a.strides, shape), expandedStrides(b.shape, b.strides, shape)]);
}

/**
 * TensorIterator::reorder_dimensions for a resized output: an insertion sort of the dims,
 * innermost first, where the first input whose strides for two dims are both non-zero orders
 * them (smaller stride inside; equal strides put the larger size outside), then the strides a
 * dense output gets in that order (compatible_stride). Named by its memory format when it is
 * one: a permutation of neither (a contiguous [1, C, 1, W] with a channels-last [N, C, H, W])
 * is written as it is, as torch does.
 */
function tensorIteratorLayout(shape: readonly number[], inputStrides: readonly (readonly number[])[]): DenseLayout {
  const rank = shape.length;
  const shouldSwap = (d0: number, d1: number): number => {
    for (const strides of inputStrides) {
      const s0 = strides[d0];
      const s1 = strides[d1];
      if (s0 === 0 || s1 === 0) continue;
      if (s0 !== s1) return s0 < s1 ? -1 : 1;
      if (shape[d0] > shape[d1]) return 1;
    }
    return 0;
  };
  const perm = Array.from({ length: rank }, (_, i) => rank - 1 - i);
  for (let i = 1; i < rank; i++) {
    let d1 = i;
    for (let d0 = i - 1; d0 >= 0; d0--) {
      const c = shouldSwap(perm[d0], perm[d1]);
      if (c > 0) {
        [perm[d0], perm[d1]] = [perm[d1], perm[d0]];
        d1 = d0;
      } else if (c < 0) break;
    }
  }
  const strides = new Array<number>(rank);
  let step = 1;
  for (const d of perm) {
    strides[d] = step;
    step *= shape[d];
  }
  const formats: MemoryFormat[] = ['contiguous_format', ...(rank === 4 ? ['channels_last' as const] : rank === 5 ? ['channels_last_3d' as const] : [])];
  const format = formats.find((f) => formatStrides(shape, f).every((s, d) => s === strides[d]));
  return format !== undefined ? formatLayout(shape, format) : { format: null, order: perm.slice().reverse(), strides };
}

/**
 * The formula code of params[6]: qmul.cpp sends qint8 products with an output zero point below
 * 127 to XNNPACK (1), which has one formula for every element and takes its multiplier as
 * (a_scale * b_scale) / scale; qadd.cpp under the qnnpack engine sends same-shape quint8 adds to
 * QNNPACK's fixed-point add (2) and every qint8 add (broadcast too) to XNNPACK's (3).
 */
function binaryFormula(kind: BinaryRequest, dtype: QDType, zeroPoint: number, qnnpackEngine: boolean, sameShapes: boolean): number {
  if (kind.multiply) return dtype === 'qint8' && zeroPoint < 127 ? 1 : 0;
  if (!qnnpackEngine) return 0;
  return dtype === 'qint8' ? 3 : sameShapes ? 2 : 0;
}

/**
 * planBinary for the common case, two operands of one shape dense in qa's suggested memory
 * format (qb suggesting the same one): what the general derivation below computes then, without
 * it. The output takes that format; TensorIterator's walk merges every dim into one run, all
 * vectorized (iterationRows); both operands go to the binding as their own storage. null for
 * any other case (broadcasts, strided or mixed layouts, empty tensors), which the general path
 * derives in full.
 */
function planDenseBinary(kind: BinaryRequest, a: QTensor, b: QTensor, s: number, zp: number, qnnpackEngine: boolean): OpPlan<QTensor> | null {
  const shape = a.shape;
  if (!sameDims(shape, b.shape)) return null;
  const format = suggestMemoryFormat(shape, a.strides);
  if (suggestMemoryFormat(shape, b.strides) !== format || !isContiguousAs(shape, a.strides, format) || !isContiguousAs(shape, b.strides, format)) return null;
  const n = numelOf(shape);
  if (n === 0) return null;
  const formula = binaryFormula(kind, a.dtype, zp, qnnpackEngine, true);
  const params = paramsOf(a.qScale(), a.qZeroPoint(), b.qScale(), b.qZeroPoint(), s, zp, formula);  // shared between calls with these values
  const args = [denseStorage(a, n), denseStorage(b, n), dtypeCode(a.dtype), kind.multiply, kind.relu, params, n, formula === 1 ? n : vectorPart(n)] as const;
  const strides = frozenFormatStrides(shape, format, a.strides);
  return makePlan(
    () => native.elementwiseBinary(...args),
    () => native.elementwiseBinaryAsync(...args),
    (storage) => makePerTensorQTensor(storage, shape, strides, a.dtype, s, zp),
    { op: 'elementwiseBinary', args },
  );
}

/** A dense tensor's storage trimmed to its n elements (the binding takes whole arrays). */
function denseStorage(x: QTensor, n: number): QStorage {
  return x.data.length === n ? x.data : x.data.subarray(0, n);
}

/** @internal quantized::add / add_relu / mul / mul_relu (qa, qb, scale, zeroPoint). */
export function planBinary(kind: BinaryRequest, qa: unknown, qb: unknown, scale: unknown, zeroPoint: unknown): OpPlan<QTensor> {
  const a = checkByteQTensor(qa, 'qa');
  const b = checkByteQTensor(qb, 'qb');
  if (b.dtype !== a.dtype) throw validate.invalidType(`QTensor of dtype ${a.dtype} (qa's; torch: operands should have the same data type)`, 'qb', qb);
  const [s, zp] = checkOutputQParams(scale, zeroPoint, a.dtype);
  // The engine is read once per call (an N-API call), only for add (mul ignores it).
  const qnnpackEngine = !kind.multiply && quantizedEngine() === 'qnnpack';
  const dense = planDenseBinary(kind, a, b, s, zp, qnnpackEngine);
  if (dense !== null) return dense;
  const shape = broadcastShapes(a.shape, b.shape, ['qa', 'qb'], [qa, qb]);
  const full = (x: QTensor) => sameDims(x.shape, shape);
  const engineAdd = qnnpackEngine && (a.dtype === 'qint8' || (full(a) && full(b)));
  const layout = binaryOutputLayout(kind.multiply || engineAdd || full(a), a, b, shape);
  // Each operand's strides over the broadcast shape, derived once for the walk and the patterns below.
  const ea = expandedStrides(a.shape, a.strides, shape);
  const eb = expandedStrides(b.shape, b.strides, shape);
  const { rowLength, vectorLength } = iterationRows(shape, layout, [ea, eb]);
  const n = numelOf(shape);
  const formula = binaryFormula(kind, a.dtype, zp, qnnpackEngine, sameDims(a.shape, b.shape));
  const params = paramsOf(a.qScale(), a.qZeroPoint(), b.qScale(), b.qZeroPoint(), s, zp, formula);  // shared between calls with these values
  const code = dtypeCode(a.dtype);
  const row = Math.max(rowLength, 1);
  const vector = formula === 1 ? row : vectorLength;
  // A broadcast operand (an SE block's [N, C, 1, 1] scale, a bias-like [1, C, 1, 1]) goes to the
  // binding as it is, with how the output repeats it; the binding expands it piece by piece
  // (ops/elementwise.h BinaryRowsBroadcast). The other operand, when the output's order does not
  // read it densely, goes as it is too when the output reads it across (a channels-last qb of an
  // NCHW output: the binding transposes it tile by tile), else it is laid out densely first. The
  // engine-qnnpack adds take dense operands.
  const engineDense = formula === 2 || formula === 3 || n === 0;
  const pa = engineDense ? null : broadcastPattern(a, shape, layout, ea);
  const pb = engineDense ? null : broadcastPattern(b, shape, layout, eb);
  let args: readonly [QStorage, QStorage, number, boolean, boolean, Float64Array, number, number, Float64Array?];
  if ((pa !== null && pa.period !== n) || (pb !== null && pb.period !== n)) {
    const xa = pa ?? acrossPattern(a, shape, layout);
    const xb = pb ?? acrossPattern(b, shape, layout);  // pa repeats here: at most one operand is read across
    const storage = (x: QTensor, length: number): QStorage => (x.data.length === length ? x.data : x.data.subarray(0, length));
    const operand = (x: QTensor, p: { period: number } | { rows: number } | null, expanded: readonly number[]): QStorage =>
      p === null ? denseBroadcast(x, shape, layout, expanded) : storage(x, 'period' in p ? p.period : n);
    // [each, period, rows, cols] of each operand: a dense one (made here) is (1, n), one read across (1, n, rows, cols).
    const form = (p: { each: number; period: number } | { rows: number; cols: number } | null): number[] =>
      p === null ? [1, n, 0, 0] : 'rows' in p ? [1, n, p.rows, p.cols] : [p.each, p.period, 0, 0];
    const [fa, fb] = [form(xa), form(xb)];
    const broadcast = paramsOf(n, fa[0], fa[1], fb[0], fb[1], fa[2], fa[3], fb[2], fb[3]);
    args = [operand(a, xa, ea), operand(b, xb, eb), code, kind.multiply, kind.relu, params, row, vector, broadcast];
  } else {
    args = [denseBroadcast(a, shape, layout, ea), denseBroadcast(b, shape, layout, eb), code, kind.multiply, kind.relu, params, row, vector];
  }
  return makePlan(
    () => native.elementwiseBinary(...args),
    () => native.elementwiseBinaryAsync(...args),
    (storage) => makePerTensorQTensor(storage, shape, layout.strides.slice(), a.dtype, s, zp),
    { op: 'elementwiseBinary', args },
  );
}

export const ADD: BinaryRequest = { multiply: false, relu: false };
export const ADD_RELU: BinaryRequest = { multiply: false, relu: true };
export const MUL: BinaryRequest = { multiply: true, relu: false };
export const MUL_RELU: BinaryRequest = { multiply: true, relu: true };

// ---- add_scalar / mul_scalar ------------------------------------------------------------------------

function typeRange(dtype: QDType): [number, number] {
  return dtype === 'quint8' ? [0, 255] : [-128, 127];
}

/** x's integers relabelled with another zero point (same storage). */
function reZero(x: QTensor, zeroPoint: number): QTensor {
  return makePerTensorQTensor(x.data, x.shape, x.strides, x.dtype, x.qScale(), zeroPoint);
}

function mapPlan<T, U>(plan: OpPlan<T>, f: (value: T) => U): OpPlan<U> {
  return { run: () => f(plan.run()), runAsync: (caller) => plan.runAsync(caller).then(f) };
}

/**
 * x's integers under new qparams (scale, zeroPoint), copied; with relu, max(q, zeroPoint) as
 * torch's quantized relu on the relabelled tensor. Both are identity / max tables.
 */
function requalified(x: QTensor, scale: number, zeroPoint: number, relu: boolean): OpPlan<QTensor> {
  const plan = planLookup({
    op: relu ? LookupOp.Relu : LookupOp.Clamp,
    input: reZero(x, zeroPoint),
    scale: x.qScale(),
    zeroPoint,
    p0: NaN,
    p1: NaN,
  });
  return mapPlan(plan, (y) => makePerTensorQTensor(y.data, y.shape, y.strides, y.dtype, scale, zeroPoint));
}

/**
 * @internal quantized::add_scalar (qadd.cpp _add_scalar_out): c_q = round(other / scale); when
 * z - c_q stays in the dtype's range the values are copied with zero point z - c_q, else the
 * output takes the range's end as zero point, a scale widened to fit, and the values are
 * requantized (requantize_from_int(q - z + c_q, scale / scale', z')).
 */
export function planAddScalar(qa: unknown, other: unknown, relu: boolean): OpPlan<QTensor> {
  const x = checkByteQTensor(qa, 'qa');
  const c = validate.finiteNumber(other, 'other');
  const s = x.qScale();
  const z = x.qZeroPoint();
  const [qmin, qmax] = typeRange(x.dtype);
  const cq = roundHalfEven(c / s);
  if (!(Math.abs(cq) <= 2147483647)) throw validate.invalidRange('number whose other / scale fits in int32', 'other', other);
  const shifted = z - cq;
  if (shifted >= qmin && shifted <= qmax) return requalified(x, s, shifted, relu);
  const sPrime = shifted < qmin ? ((qmax - shifted) / (qmax - qmin)) * s : ((shifted - qmin) / (qmax - qmin)) * s;
  const zPrime = shifted < qmin ? qmin : qmax;
  return planLookup({ op: LookupOp.AddScalar, input: x, scale: sPrime, zeroPoint: zPrime, p0: cq, p1: relu ? 1 : 0 });
}

/**
 * @internal quantized::mul_scalar (qmul.cpp _mul_scalar_out): other > 0 keeps the values with scale
 * other * scale; other == 0 gives zeros with scale 1, zero point 0; other < 0 reflects the values
 * (qmax + qmin - q) with scale |other| * scale and zero point qmax - (z - qmin).
 */
export function planMulScalar(qa: unknown, other: unknown, relu: boolean): OpPlan<QTensor> {
  const x = checkByteQTensor(qa, 'qa');
  const c = validate.finiteNumber(other, 'other');
  const s = x.qScale();
  const z = x.qZeroPoint();
  const [qmin, qmax] = typeRange(x.dtype);
  if (c > 0) return requalified(x, c * s, z, relu);
  if (c === 0) {
    const zeros = (): QTensor => {
      const format = suggestMemoryFormat(x.shape, x.strides);
      const storage = x.dtype === 'qint8' ? new Int8Array(x.numel()) : new Uint8Array(x.numel());
      return makePerTensorQTensor(storage, x.shape, formatStrides(x.shape, format), x.dtype, 1, 0);
    };
    return { run: zeros, runAsync: () => Promise.resolve().then(zeros) };
  }
  const zPrime = qmax - (z - qmin);
  const plan = planLookup({ op: LookupOp.Negate, input: reZero(x, zPrime), scale: x.qScale(), zeroPoint: zPrime, p0: relu ? 1 : 0 });
  return mapPlan(plan, (y) => makePerTensorQTensor(y.data, y.shape, y.strides, y.dtype, Math.abs(c) * s, zPrime));
}

// ---- cat --------------------------------------------------------------------------------------------

/**
 * @internal quantized::cat(qx, dim, scale, zeroPoint) (qconcat.cpp): scale / zeroPoint default
 * to the first input's. 4-D channels_last inputs joined along dim 1 take torch's NHWC path
 * (per pixel, the first C - C % 32 channels of each input in the vectorized formula); the
 * others dequantize, join and quantize (the scalar formulas). Output in the inputs' common
 * memory format, contiguous when they differ.
 */
export function quantizedCat(tensors: unknown, dim: unknown, scale?: unknown, zeroPoint?: unknown): QTensor {
  if (!Array.isArray(tensors)) throw validate.invalidType('array of QTensors', 'tensors', tensors);
  // Loops over the inputs and dims (no map / forEach / slice / spread: cat runs per call in
  // every Inception block and ShuffleNet unit, and shapes are frozen arrays, which send those
  // to V8's slow paths); the list's length and each item are read once, as map did.
  const count = tensors.length;
  if (count === 0) throw validate.invalidRange('non-empty array of QTensors', 'tensors', tensors);
  const xs = new Array<QTensor>(count);
  for (let i = 0; i < count; i++) {
    const t: unknown = tensors[i];
    xs[i] = isByteQTensor(t) ? t : checkByteQTensor(t, `tensors[${i}]`);
  }
  const first = xs[0];
  const rank = first.shape.length;
  const d = validate.axis(dim, 'dim', rank);
  if (rank === 0) throw validate.invalidRange('QTensors with at least 1 dim (zero-dim tensors cannot be concatenated)', 'tensors[0]', first);
  for (let i = 0; i < count; i++) {
    const x = xs[i];
    if (x.dtype !== first.dtype) throw validate.invalidType(`QTensor of dtype ${first.dtype} (all dtypes must be the same)`, `tensors[${i}]`, x);
    let same = x.shape.length === rank;
    for (let k = 0; k < rank && same; k++) same = k === d || x.shape[k] === first.shape[k];
    if (!same) {
      throw validate.invalidRange(
        `QTensor of shape [${first.shape.map((size, k) => (k === d ? '*' : size)).join(', ')}] (sizes must match except in dim ${d})`,
        `tensors[${i}]`,
        x,
      );
    }
  }
  const s = scale === undefined || scale === null ? first.qScale() : scale;
  const z = zeroPoint === undefined || zeroPoint === null ? first.qZeroPoint() : zeroPoint;
  const [outScale, outZeroPoint] = checkOutputQParams(s, z, first.dtype);
  let format: MemoryFormat = suggestMemoryFormat(first.shape, first.strides);
  let nhwc = d === 1 && rank === 4;
  let joined = 0;
  for (let i = 0; i < count; i++) {
    const x = xs[i];
    if (format !== 'contiguous_format' && suggestMemoryFormat(x.shape, x.strides) !== format) format = 'contiguous_format';
    if (nhwc && !isContiguousAs(x.shape, x.strides, 'channels_last')) nhwc = false;
    joined += x.shape[d];
  }
  // Pushed (a packed array): the frozen shapes of other tensors share its map (lib/shape.ts packedStrides).
  const shape: number[] = [];
  for (let k = 0; k < rank; k++) shape.push(k === d ? joined : first.shape[k]);
  Object.freeze(shape);
  const outStrides = Object.freeze(formatStrides(shape, format));
  // Every input, dense in the common format, is `rows` rows of its sizes from `dim` on (in
  // memory order); the output row r is their rows r in turn, each requantized to the output's
  // qparams (native/src/ops/reduce.h ConcatOp). In torch's NHWC kernel (nhwc) a row is one
  // pixel's channels, whose first multiple of 32 take the vectorized formula.
  const order = memoryOrder(format, rank);
  const at = order.indexOf(d);
  let rows = 1;
  for (let k = 0; k < at; k++) rows *= shape[order[k]];
  // Each input's storage and its three binding parameters, written straight into the lists the
  // binding reads (no object per input); up to kMaxConcatInputs inputs in shared scratch.
  const values = new Array<QStorage>(count);
  const lists = count <= CAT_MAX_INPUTS ? catScratch : newCatLists(count);
  const { rowElements, vectorLengths, qparams } = lists;
  for (let i = 0; i < count; i++) {
    const x = xs[i];
    const dense = isContiguousAs(x.shape, x.strides, format) ? x : x.contiguous(format === 'contiguous_format' ? undefined : format);
    const channels = x.shape[1];
    let elements = 1;
    for (let k = at; k < rank; k++) elements *= x.shape[order[k]];
    // The dims before `at` are the output's, which equal x's there (checked above): x's
    // element count without another walk over its shape.
    const n = rows * elements;
    values[i] = dense.data.length === n ? dense.data : dense.data.subarray(0, n);
    rowElements[i] = elements;
    vectorLengths[i] = nhwc ? channels - (channels % 32) : 0;
    qparams[2 * i] = x.qScale();
    qparams[2 * i + 1] = x.qZeroPoint();
  }
  const out = concatRows(first.dtype, rows, values, lists, count, outScale, outZeroPoint);
  return makePerTensorQTensor(out, shape, outStrides, first.dtype, outScale, outZeroPoint);
}

/** native/src/base/params-reduce.h kMaxConcatInputs: the most inputs one binding call joins. */
const CAT_MAX_INPUTS = 16;

/** The binding's per-input parameter lists for one cat: row lengths, vector lengths, [scale, zeroPoint] pairs. */
interface CatLists {
  rowElements: Float64Array;
  vectorLengths: Float64Array;
  qparams: Float64Array;
}

function newCatLists(count: number): CatLists {
  return { rowElements: new Float64Array(count), vectorLengths: new Float64Array(count), qparams: new Float64Array(2 * count) };
}

/**
 * Where quantizedCat writes the lists of up to CAT_MAX_INPUTS inputs. Nothing runs between its
 * writes and concatRows' reads that could call cat again, and the binding gets sharedParams'
 * stored copies, never these.
 */
const catScratch = newCatLists(CAT_MAX_INPUTS);

/**
 * The native concatenation (native/src/ops/reduce.h ConcatOp) of `count` inputs, at most
 * CAT_MAX_INPUTS per call: cat is associative, so a longer list is joined 16 at a time, left to
 * right. A group's result takes the slot of its last input (consumed by then; these are
 * quantizedCat's own arrays) and leads the next group: it already has the output's qparams, so
 * it is copied, not requantized, again.
 */
function concatRows(dtype: QDType, rows: number, values: QStorage[], lists: CatLists, count: number, scale: number, zeroPoint: number): QStorage {
  const code = dtypeCode(dtype);
  const { rowElements, vectorLengths, qparams } = lists;
  let begin = 0;
  for (;;) {
    const end = Math.min(count, begin + CAT_MAX_INPUTS);
    const size = end - begin;
    // Each list shared between calls with its values (sharedParams): no typed array per call.
    const lengths = sharedParams.get(begin === 0 ? rowElements : rowElements.subarray(begin), size);
    const vectors = sharedParams.get(begin === 0 ? vectorLengths : vectorLengths.subarray(begin), size);
    const inQParams = sharedParams.get(begin === 0 ? qparams : qparams.subarray(2 * begin), 2 * size);
    const args = new Array<unknown>(7 + size);
    args[0] = code;
    args[1] = rows;
    args[2] = lengths;
    args[3] = vectors;
    args[4] = inQParams;
    args[5] = scale;
    args[6] = zeroPoint;
    for (let i = 0; i < size; i++) args[7 + i] = values[begin + i];
    const joined = callOp({ op: 'cat', args }, () => (addon.cat as (...a: unknown[]) => QStorage)(...args));
    if (end === count) return joined;
    let joinedElements = 0;
    for (let i = begin; i < end; i++) joinedElements += rowElements[i];
    begin = end - 1;
    values[begin] = joined;
    rowElements[begin] = joinedElements;
    vectorLengths[begin] = 0;
    qparams[2 * begin] = scale;
    qparams[2 * begin + 1] = zeroPoint;
  }
}

// ---- float arithmetic (FloatFunctional) ------------------------------------------------------------

/** fp32 elementwise op of two broadcastable Tensors (torch.add / torch.mul on float tensors); output contiguous. */
export function floatBinary(x: unknown, y: unknown, op: (a: number, b: number) => number): Tensor {
  const a = checkTensor(x, 'x');
  const b = checkTensor(y, 'y');
  guardRead('float add/mul (computed in JS)', a.data, b.data);
  const shape = broadcastShapes(a.shape, b.shape, ['x', 'y'], [x, y]);
  const n = numelOf(shape);
  const out = new Float32Array(n);
  const strides = formatStrides(shape, 'contiguous_format');
  const av = new Float32Array(n);
  const bv = new Float32Array(n);
  stridedCopy(a.data, expandedStrides(a.shape, a.strides, shape), av, strides, shape);
  stridedCopy(b.data, expandedStrides(b.shape, b.strides, shape), bv, strides, shape);
  for (let i = 0; i < n; i++) out[i] = op(av[i], bv[i]);
  return makeTensor(out, shape, strides);
}

/** fp32 op of a Tensor and a number (the number rounded to float32 first, as torch casts a scalar to the tensor's dtype). */
export function floatScalar(x: unknown, other: unknown, op: (a: number, b: number) => number): Tensor {
  guardRead('float add_scalar/mul_scalar (computed in JS)', checkTensor(x, 'x').data);
  const a = checkTensor(x, 'x').contiguous();
  const c = fround(validate.finiteNumber(other, 'y'));
  const out = new Float32Array(a.numel());
  for (let i = 0; i < out.length; i++) out[i] = op(a.data[i], c);
  return makeTensor(out, a.shape, a.strides);
}

/** torch.cat of float Tensors along dim. */
export function floatCat(tensors: unknown, dim: unknown): Tensor {
  if (!Array.isArray(tensors) || tensors.length === 0) throw validate.invalidType('non-empty array of Tensors', 'x', tensors);
  const xs = tensors.map((t: unknown, i: number) => checkTensor(t, `x[${i}]`));
  const rank = xs[0].shape.length;
  const d = validate.axis(dim, 'dim', rank);
  xs.forEach((x, i) => {
    if (x.shape.length !== rank || x.shape.some((size, k) => k !== d && size !== xs[0].shape[k])) {
      throw validate.invalidRange(`Tensor whose sizes match x[0]'s except in dim ${d}`, `x[${i}]`, x);
    }
  });
  const shape = xs[0].shape.slice();
  shape[d] = xs.reduce((sum, x) => sum + x.shape[d], 0);
  guardRead('float cat (assembled in JS)', ...xs.map((t) => t.data));
  const strides = formatStrides(shape, 'contiguous_format');
  const out = new Float32Array(numelOf(shape));
  let start = 0;
  for (const x of xs) {
    stridedCopy(x.data, x.strides, out.subarray(start * strides[d]), strides, x.shape);
    start += x.shape[d];
  }
  return makeTensor(out, shape, strides);
}

export const floatAdd = (a: number, b: number): number => fround(a + b);
export const floatMul = (a: number, b: number): number => fround(a * b);
export const floatAddRelu = (a: number, b: number): number => Math.max(fround(a + b), 0);
