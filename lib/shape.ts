// Shape and stride arithmetic shared by Tensor and QTensor: memory formats, views, permutes, strided copies.
//
// A tensor here is (storage, shape, strides) with storage offset 0: every view qkernels
// makes (permute, view, reshape, flatten) starts at the first element of its storage.
// Strides are in elements (for quint4x2, in 4-bit elements: element i is nibble i).

import { native } from './elementwise/native';
import { activeTracer } from './jit/hook';
import { MAX_RANK, arrayOnce, axis, invalidRange, invalidType, oneOf, shapeNumel } from './validate';

export type MemoryFormat = 'contiguous_format' | 'channels_last' | 'channels_last_3d';
export const MEMORY_FORMATS: readonly MemoryFormat[] = ['contiguous_format', 'channels_last', 'channels_last_3d'];

/**
 * Whether two dims lists (shapes, strides) hold the same values. The same array holds the same
 * values at once: no walk, whose keyed loads V8 runs through its generic builtin on the frozen
 * arrays of tensors. A null or absent first list matches nothing.
 */
export function sameDims(a: readonly number[] | null | undefined, b: readonly number[]): boolean {
  if (a === b) return true;
  if (!a || a.length !== b.length) return false;
  // An indexed loop, not every(): frozen arrays take V8's slow paths for array methods.
  for (let d = 0; d < b.length; d++) if (a[d] !== b[d]) return false;
  return true;
}

export function numelOf(shape: readonly number[]): number {
  // An indexed loop, not for-of: shapes are frozen arrays, whose iterator V8 does not inline.
  let product = 1;
  for (let d = 0; d < shape.length; d++) product *= shape[d];
  return product;
}

/**
 * Stride arrays are computed innermost first into this scratch, then pushed in order into a new
 * array: `new Array(n)` makes a holey array, whose frozen form has another map than the packed
 * shapes beside it, and the keyed loads of the shape helpers then see one map more (V8 takes its
 * generic keyed-load builtin at sites with frozen arrays of several maps).
 */
let strideScratch = new Float64Array(8);

/** The first n values of strideScratch as a new packed array (small integers stay Smis). */
function packedStrides(n: number): number[] {
  const out: number[] = [];
  for (let d = 0; d < n; d++) {
    const v = strideScratch[d];
    // A Smi-range integer pushed as such keeps the array's elements Smi (a double would not).
    out.push(v <= 0x3fffffff && v >= -0x40000000 ? v | 0 : v);
  }
  return out;
}

function strideScratchFor(n: number): Float64Array {
  if (strideScratch.length < n) strideScratch = new Float64Array(n);
  return strideScratch;
}

/** Row-major strides, as torch computes them (a size-0 dim counts as 1). */
export function contiguousStrides(shape: readonly number[]): number[] {
  const strides = strideScratchFor(shape.length);
  let stride = 1;
  for (let d = shape.length - 1; d >= 0; d--) {
    strides[d] = stride;
    stride *= Math.max(shape[d], 1);
  }
  return packedStrides(shape.length);
}

/** Frozen dim orders, made once: memoryOrder runs several times per op call and returns these. */
const CHANNELS_LAST_ORDER: readonly number[] = Object.freeze([0, 2, 3, 1]);
const CHANNELS_LAST_3D_ORDER: readonly number[] = Object.freeze([0, 2, 3, 4, 1]);
const IDENTITY_ORDERS: readonly (readonly number[])[] = Array.from({ length: 9 }, (_, rank) => Object.freeze(Array.from({ length: rank }, (_, d) => d)));

/** The order of dims from outermost to innermost in memory, for a memory format (a shared frozen array). */
export function memoryOrder(format: MemoryFormat, rank: number): readonly number[] {
  if (format === 'channels_last') return CHANNELS_LAST_ORDER;
  if (format === 'channels_last_3d') return CHANNELS_LAST_3D_ORDER;
  return rank < IDENTITY_ORDERS.length ? IDENTITY_ORDERS[rank] : Object.freeze(Array.from({ length: rank }, (_, d) => d));
}

/** The channels-last dim orders (N, spatial..., C) of ranks 3 to 5, made once. */
const CHANNELS_LAST_ORDERS: readonly (readonly number[])[] = [3, 4, 5].map((rank) => Object.freeze([0, ...Array.from({ length: rank - 2 }, (_, i) => i + 2), 1]));

/**
 * The channels-last memory order of a rank >= 2 (N, spatial..., C): channels_last for 4-D,
 * channels_last_3d for 5-D and conv1d's (C*L, 1, C) layout for 3-D. A shared frozen array.
 */
export function channelsLastOrder(rank: number): readonly number[] {
  const cached = CHANNELS_LAST_ORDERS[rank - 3];
  return cached !== undefined ? cached : Object.freeze([0, ...Array.from({ length: Math.max(rank - 2, 0) }, (_, i) => i + 2), 1]);
}

/**
 * The strides of a dense layout of `shape` whose dims lie in memory in `order` (outermost
 * first), as a contiguous tensor of the permuted shape, permuted back, has them (a size-0 dim
 * counts as 1, as in contiguousStrides).
 */
export function orderStrides(shape: readonly number[], order: readonly number[]): number[] {
  const strides = strideScratchFor(shape.length);
  let stride = 1;
  for (let i = order.length - 1; i >= 0; i--) {
    const d = order[i];
    strides[d] = stride;
    stride *= Math.max(shape[d], 1);
  }
  return packedStrides(shape.length);
}

/** The rank a memory format needs, or undefined when any rank will do. */
export function formatRank(format: MemoryFormat): number | undefined {
  return format === 'channels_last' ? 4 : format === 'channels_last_3d' ? 5 : undefined;
}

/** Canonical strides of a memory format (channels_last: NHWC in memory), as c10 computes them. */
export function formatStrides(shape: readonly number[], format: MemoryFormat): number[] {
  if (format === 'contiguous_format') return contiguousStrides(shape);
  const strides = strideScratchFor(shape.length).fill(0, 0, shape.length);
  let stride = 1;
  const order = memoryOrder(format, shape.length);
  for (let i = order.length - 1; i >= 0; i--) {
    strides[order[i]] = stride;
    stride *= shape[order[i]];
  }
  return packedStrides(shape.length);
}

/**
 * formatStrides(shape, format), frozen: `like` itself when it holds exactly those strides and is
 * frozen (an input's, for an output of the same shape and layout: no array made per op call),
 * else a new frozen array.
 */
export function frozenFormatStrides(shape: readonly number[], format: MemoryFormat, like: readonly number[]): readonly number[] {
  if (like.length === shape.length && Object.isFrozen(like)) {
    const order = memoryOrder(format, shape.length);
    const contiguous = format === 'contiguous_format';
    let stride = 1;
    let same = true;
    for (let i = order.length - 1; i >= 0 && same; i--) {
      const d = order[i];
      same = like[d] === stride;
      // contiguousStrides counts a size-0 dim as 1; the channels-last formats multiply by it (formatStrides).
      stride *= contiguous ? Math.max(shape[d], 1) : shape[d];
    }
    if (same) return like;
  }
  return Object.freeze(formatStrides(shape, format));
}

/**
 * True when the strides address the elements exactly as the format's canonical layout does.
 * Dims of size 1 are ignored (their stride never multiplies a non-zero index), as torch's
 * is_contiguous does; an empty tensor is contiguous in every format of its rank. Runs on every
 * op call: no array is made (the order is a shared constant) and numel is only taken when a
 * stride does not match (a zero-size dim makes any strides dense).
 */
export function isContiguousAs(shape: readonly number[], strides: readonly number[], format: MemoryFormat): boolean {
  const rank = formatRank(format);
  if (rank !== undefined && shape.length !== rank) return false;
  return isDenseInOrder(shape, strides, memoryOrder(format, shape.length));
}

/** isContiguousAs for any dim order (outermost first, one entry per dim): the strides of a dense layout in that order, size-1 dims ignored. */
export function isDenseInOrder(shape: readonly number[], strides: readonly number[], order: readonly number[]): boolean {
  let expected = 1;
  for (let i = order.length - 1; i >= 0; i--) {
    const d = order[i];
    const size = shape[d];
    if (size === 1) continue;
    if (strides[d] !== expected) return numelOf(shape) === 0;
    expected *= size;
  }
  return true;
}

/** The dims c10's channels-last stride tests walk, innermost first. */
const CHANNELS_LAST_WALK: readonly number[] = Object.freeze([1, 3, 2, 0]);
const CHANNELS_LAST_3D_WALK: readonly number[] = Object.freeze([1, 4, 3, 2, 0]);

/**
 * torch's is_channels_last_strides_2d_s4 / _3d_s5: do the strides *order* the dims like
 * channels_last (whether or not they are exact)? Ambiguous cases (N111, 1C1W permutes)
 * resolve to contiguous, as in c10.
 */
function stridesLikeChannelsLast(shape: readonly number[], strides: readonly number[], order: readonly number[]): boolean {
  let min = 0;
  if (strides[1] === 0) return false;
  for (const d of order) {
    if (shape[d] === 0) return false;
    if (strides[d] < min) return false;
    if (d === 0 && min === strides[1]) return false;
    min = strides[d];
    if (shape[d] > 1) min *= shape[d];
  }
  return true;
}

/**
 * torch's suggest_memory_format(): the layout an op's output takes for this input. Only
 * channels_last-like inputs keep their format; every other layout (a generic permute
 * included) produces a contiguous output, as torch's quantize and dequantize do.
 */
export function suggestMemoryFormat(shape: readonly number[], strides: readonly number[]): MemoryFormat {
  if (shape.length === 4 && stridesLikeChannelsLast(shape, strides, CHANNELS_LAST_WALK)) return 'channels_last';
  if (shape.length === 5 && stridesLikeChannelsLast(shape, strides, CHANNELS_LAST_3D_WALK)) return 'channels_last_3d';
  return 'contiguous_format';
}

/** The largest storage index the view addresses, plus one (0 for an empty tensor). */
export function storageExtent(shape: readonly number[], strides: readonly number[]): number {
  if (numelOf(shape) === 0) return 0;
  let last = 0;
  for (let d = 0; d < shape.length; d++) last += (shape[d] - 1) * strides[d];
  return last + 1;
}

/**
 * Resolves a requested view shape against numel: at most one -1, inferred like torch's
 * infer_size. Throws RangeError naming `parameter` otherwise.
 */
export function inferShape(requested: unknown, numel: number, parameter: string): number[] {
  // The message is built only for an error (view and reshape run per call on model paths).
  const what = (): string => `array of non-negative integers (at most one -1) with ${numel} elements in all`;
  if (!Array.isArray(requested)) {
    throw invalidType(what(), parameter, requested);
  }
  const items = arrayOnce(requested, parameter, what, MAX_RANK);
  const dims: number[] = [];
  let inferred = -1;
  for (let i = 0; i < items.length; i++) {
    const dim: unknown = items[i];
    if (typeof dim !== 'number') {
      throw invalidType('integer >= -1', `${parameter}[${i}]`, dim);
    }
    if (dim === -1 && inferred < 0) {
      inferred = i;
      dims.push(1);
      continue;
    }
    if (!Number.isSafeInteger(dim) || dim < 0) throw invalidRange(dim === -1 ? 'at most one -1' : 'integer >= -1', `${parameter}[${i}]`, dim);
    dims.push(dim);
  }
  const known = shapeNumel(dims, parameter);
  if (inferred >= 0) {
    // With a zero-sized known part the -1 could be anything: torch refuses, so do we.
    if (known === 0 || numel % known !== 0) throw invalidRange(what(), parameter, requested);
    dims[inferred] = numel / known;
  } else if (known !== numel) {
    throw invalidRange(what(), parameter, requested);
  }
  return dims;
}

/**
 * Strides that let `newShape` view the same storage as (oldShape, oldStrides), or null when
 * no such view exists (a copy is needed). A port of torch's computeStride.
 */
export function viewStrides(oldShape: readonly number[], oldStrides: readonly number[], newShape: readonly number[]): number[] | null {
  if (oldShape.length === 0) return new Array<number>(newShape.length).fill(1);
  const numel = numelOf(oldShape);
  if (numel === 0 && oldShape.length === newShape.length && oldShape.every((d, i) => d === newShape[i])) {
    return oldStrides.slice();
  }
  if (numel === 0) return contiguousStrides(newShape);
  const newStrides = strideScratchFor(newShape.length).fill(0, 0, newShape.length);
  let viewD = newShape.length - 1;
  let chunkBaseStride = oldStrides[oldStrides.length - 1];
  let tensorNumel = 1;
  let viewNumel = 1;
  for (let tensorD = oldShape.length - 1; tensorD >= 0; tensorD--) {
    tensorNumel *= oldShape[tensorD];
    // At the end of a chunk of dims that are contiguous with each other, the view's dims
    // must tile exactly the same number of elements.
    if (tensorD === 0 || (oldShape[tensorD - 1] !== 1 && oldStrides[tensorD - 1] !== tensorNumel * chunkBaseStride)) {
      while (viewD >= 0 && (viewNumel < tensorNumel || newShape[viewD] === 1)) {
        newStrides[viewD] = viewNumel * chunkBaseStride;
        viewNumel *= newShape[viewD];
        viewD--;
      }
      if (viewNumel !== tensorNumel) return null;
      if (tensorD > 0) {
        chunkBaseStride = oldStrides[tensorD - 1];
        tensorNumel = 1;
        viewNumel = 1;
      }
    }
  }
  return viewD === -1 ? packedStrides(newShape.length) : null;
}

/** Checks `dims` is a permutation of [0, rank) (negatives wrap) and returns it wrapped. */
export function permutation(dims: unknown, rank: number, parameter: string): number[] {
  const what = (): string => `permutation of the ${rank} dims (each an integer in [${-rank}, ${rank - 1}], each once)`;
  if (!Array.isArray(dims)) {
    throw invalidType(what(), parameter, dims);
  }
  const items = arrayOnce(dims, parameter, what, rank);
  if (items.length !== rank) throw invalidRange(what(), parameter, dims);
  const seen = new Array<boolean>(rank).fill(false);
  return items.map((dim: unknown, i: number) => {
    if (typeof dim !== 'number') {
      throw invalidType(`integer in [${-rank}, ${rank - 1}]`, `${parameter}[${i}]`, dim);
    }
    if (!Number.isInteger(dim) || dim < -rank || dim >= rank) throw invalidRange(`integer in [${-rank}, ${rank - 1}]`, `${parameter}[${i}]`, dim);
    const wrapped = dim < 0 ? dim + rank : dim;
    if (seen[wrapped]) throw invalidRange(what(), parameter, dims);
    seen[wrapped] = true;
    return wrapped;
  });
}

/** Anything indexable by number that can be read and written: the typed arrays. */
export interface NumericArray {
  readonly length: number;
  [index: number]: number;
}

/** A typed array: runs of it copy with set() (one memmove) instead of an element loop. */
function isTypedArray(a: NumericArray): a is NumericArray & { subarray(begin: number, end: number): NumericArray; set(src: NumericArray, offset: number): void } {
  return ArrayBuffer.isView(a) && !(a instanceof DataView);
}

/**
 * The merged dims of the last mergeDims call: sizes, source and destination strides (scratch
 * that grows with the rank; read before the next call), and its dim order scratch.
 */
let mergedSize = new Float64Array(8);
let mergedFrom = new Float64Array(8);
let mergedTo = new Float64Array(8);
let mergeOrder = new Int32Array(8);

/**
 * The copy's dims in dst's memory order (largest dst stride first, then largest src stride, then
 * lowest dim), size-1 dims dropped and neighbours merged where both sides step over them as one
 * dim: the innermost dim is then the longest run the two layouts share. Into mergedSize /
 * mergedFrom / mergedTo, without arrays or a sort per call (contiguous() runs per op call on model
 * paths: a filter, a sort and pushes were most of a channel shuffle's JS time; the insertion sort
 * by that total order gives the order Array.prototype.sort would). Returns the merged rank.
 */
function mergeDims(shape: readonly number[], srcStrides: readonly number[], dstStrides: readonly number[]): number {
  if (mergeOrder.length < shape.length) {
    mergedSize = new Float64Array(shape.length);
    mergedFrom = new Float64Array(shape.length);
    mergedTo = new Float64Array(shape.length);
    mergeOrder = new Int32Array(shape.length);
  }
  let n = 0;
  for (let d = 0; d < shape.length; d++) {
    if (shape[d] === 1) continue;
    const dst = dstStrides[d];
    const src = srcStrides[d];
    let at = n++;
    while (at > 0) {
      const prev = mergeOrder[at - 1];
      // The order above: larger dst stride first, then larger src stride, then lower dim (d > prev here).
      const before = dst > dstStrides[prev] || (dst === dstStrides[prev] && src > srcStrides[prev]);
      if (!before) break;
      mergeOrder[at] = prev;
      at--;
    }
    mergeOrder[at] = d;
  }
  let rank = 0;
  for (let i = 0; i < n; i++) {
    const d = mergeOrder[i];
    const size = shape[d];
    const k = rank - 1;
    if (k >= 0 && mergedFrom[k] === srcStrides[d] * size && mergedTo[k] === dstStrides[d] * size) {
      mergedSize[k] *= size;
      mergedFrom[k] = srcStrides[d];
      mergedTo[k] = dstStrides[d];
    } else {
      mergedSize[rank] = size;
      mergedFrom[rank] = srcStrides[d];
      mergedTo[rank] = dstStrides[d];
      rank++;
    }
  }
  return rank;
}

/** Runs shorter than this copy element by element: set() and subarray() cost more than a short loop. */
const MIN_SET_RUN = 16;

/**
 * Copies that would loop over elements in JS go native (elementwiseStridedCopy) from this many
 * elements on: below it the N-API call (~0.6-0.9 us with the dim merging) costs more than the loop
 * (Zen 4, load 5: a 16x16 uint8 transpose 1.26 us in JS, 0.99 native; a 16x8 broadcast 0.80 / 0.91).
 * Both timed through stridedCopy itself with the threshold forced each way.
 */
const NATIVE_MIN_ELEMENTS = 192;

/** Contiguous runs copy with set() while there are at most this many (5 runs of 100: 0.74 us, native 0.81); more go native (16 runs: 1.50 / 0.86). */
const MAX_SET_RUNS = 8;

/** The native copy's rank limit (ops/strided-copy.h kMaxStridedCopyRank). */
const NATIVE_MAX_RANK = 8;

/** One layout array per merged rank, reused: the native call is synchronous and reads it before returning. */
const nativeLayouts = Array.from({ length: NATIVE_MAX_RANK + 1 }, (_, rank) => new Float64Array(1 + 3 * rank));

/** The native copy's layout argument: [rank, sizes, srcStrides, dstStrides] (into `layout`, or a new array). */
function copyLayout(
  rank: number,
  dims: ArrayLike<number>,
  from: ArrayLike<number>,
  to: ArrayLike<number>,
  layout = new Float64Array(1 + 3 * rank),
): Float64Array {
  layout[0] = rank;
  for (let k = 0; k < rank; k++) {
    layout[1 + k] = dims[k];
    layout[1 + rank + k] = from[k];
    layout[1 + 2 * rank + k] = to[k];
  }
  return layout;
}

/**
 * True when the native copy can do this one: both typed arrays of one kind (so a copy of bytes
 * is the copy of values), dst writable in place (not a SharedArrayBuffer view, which the binding
 * reads into a private copy).
 */
function nativeCopyable(src: NumericArray, dst: NumericArray): boolean {
  return (
    isTypedArray(src) &&
    isTypedArray(dst) &&
    Object.getPrototypeOf(src) === Object.getPrototypeOf(dst) &&
    !(typeof SharedArrayBuffer !== 'undefined' && (dst as unknown as ArrayBufferView).buffer instanceof SharedArrayBuffer)
  );
}

/**
 * dst[dstStrides . i] = src[srcStrides . i] for every index i of `shape` (src and dst do not
 * overlap). The dims run in dst's memory order, merged where both layouts allow. A few runs
 * contiguous on both sides copy with TypedArray.set; a larger copy of typed arrays goes to the
 * native op (which checks every offset against both arrays: a stride reaching outside is a
 * RangeError naming srcStrides or dstStrides); small ones and plain arrays loop here, the outer
 * dims advancing like an odometer.
 */
export function stridedCopy(
  src: NumericArray,
  srcStrides: readonly number[],
  dst: NumericArray,
  dstStrides: readonly number[],
  shape: readonly number[],
): void {
  const numel = numelOf(shape);
  if (numel === 0) return;
  const rank = mergeDims(shape, srcStrides, dstStrides);
  const dims = mergedSize;
  const from = mergedFrom;
  const to = mergedTo;
  const tracer = activeTracer();
  // While jit.trace records, a copy of a traced tensor is a step of the plan (the native copy).
  if (tracer !== null && tracer.copy(src, dst, () => (rank === 0 ? copyLayout(1, [1], [1], [1]) : copyLayout(rank, dims, from, to)))) return;
  if (rank === 0) {
    dst[0] = src[0];
    return;
  }
  const last = rank - 1;
  const inner = dims[last];
  const srcInner = from[last];
  const dstInner = to[last];
  const contiguousRuns = srcInner === 1 && dstInner === 1 && inner >= MIN_SET_RUN;
  if ((!contiguousRuns || numel / inner > MAX_SET_RUNS) && numel >= NATIVE_MIN_ELEMENTS && rank <= NATIVE_MAX_RANK && nativeCopyable(src, dst)) {
    const layout = copyLayout(rank, dims, from, to, nativeLayouts[rank]);
    native.elementwiseStridedCopy(src as unknown as ArrayBufferView, dst as unknown as ArrayBufferView, layout);
    return;
  }
  const runs = contiguousRuns && isTypedArray(src) && isTypedArray(dst) ? { src, dst } : null;
  const index = new Array<number>(rank).fill(0);
  let s = 0;
  let d = 0;
  for (let done = 0; done < numel; done += inner) {
    if (runs !== null) {
      runs.dst.set(runs.src.subarray(s, s + inner), d);
    } else {
      for (let i = 0, si = s, di = d; i < inner; i++, si += srcInner, di += dstInner) dst[di] = src[si];
    }
    for (let k = last - 1; k >= 0; k--) {
      index[k]++;
      s += from[k];
      d += to[k];
      if (index[k] < dims[k]) break;
      s -= from[k] * dims[k];
      d -= to[k] * dims[k];
      index[k] = 0;
    }
  }
}

/**
 * A dense copy of (src, srcStrides) laid out with dstStrides in a new typed array of `length`
 * elements: `make(length)` filled by stridedCopy, or, for a copy the native op takes (and not
 * while jit.trace records, which records stridedCopy's step), an array the binding makes and
 * fills in one call, without the zero fill a JS-made array gets (contiguous() of a 200 KB
 * activation: one pass over its memory fewer).
 */
export function stridedCopyNew<T extends NumericArray>(
  src: T,
  srcStrides: readonly number[],
  dstStrides: readonly number[],
  shape: readonly number[],
  length: number,
  make: (length: number) => T,
): T {
  const numel = numelOf(shape);
  if (numel >= NATIVE_MIN_ELEMENTS && activeTracer() === null && isTypedArray(src)) {
    const rank = mergeDims(shape, srcStrides, dstStrides);
    const inner = rank > 0 ? mergedSize[rank - 1] : 1;
    const contiguousRuns = rank > 0 && mergedFrom[rank - 1] === 1 && mergedTo[rank - 1] === 1 && inner >= MIN_SET_RUN;
    if (rank > 0 && rank <= NATIVE_MAX_RANK && (!contiguousRuns || numel / inner > MAX_SET_RUNS)) {
      const layout = copyLayout(rank, mergedSize, mergedFrom, mergedTo, nativeLayouts[rank]);
      return native.elementwiseStridedCopyNew(src as unknown as ArrayBufferView, length, layout) as unknown as T;
    }
  }
  const dst = make(length);
  stridedCopy(src, srcStrides, dst, dstStrides, shape);
  return dst;
}

/**
 * The memoryFormat argument of contiguous(): undefined is contiguous_format; channels_last
 * needs a 4-D tensor and channels_last_3d a 5-D one, as in torch.
 */
export function memoryFormatFor(value: unknown, rank: number, parameter: string): MemoryFormat {
  if (value === undefined) return 'contiguous_format';
  const format = oneOf(value, parameter, MEMORY_FORMATS);
  const needed = formatRank(format);
  if (needed !== undefined && needed !== rank) {
    const allowed = MEMORY_FORMATS.filter((f) => formatRank(f) === undefined || formatRank(f) === rank);
    throw invalidRange(`one of ${allowed.join(', ')} (the memory formats of a ${rank}-D tensor)`, parameter, value);
  }
  return format;
}

/** The memoryFormat argument of isContiguous(): any known format (a format of another rank is simply not matched). */
export function memoryFormatName(value: unknown, parameter: string): MemoryFormat {
  return value === undefined ? 'contiguous_format' : oneOf(value, parameter, MEMORY_FORMATS);
}

/**
 * The shape flatten(startDim, endDim) produces, or undefined when it is the input's own
 * shape (torch returns the tensor itself then). A 0-d tensor flattens to [1].
 */
export function flattenedShape(shape: readonly number[], startDim: unknown, endDim: unknown): number[] | undefined {
  const rank = shape.length;
  const start = axis(startDim === undefined ? 0 : startDim, 'startDim', rank);
  const end = axis(endDim === undefined ? -1 : endDim, 'endDim', rank);
  if (rank === 0) return [1];
  if (start > end) throw invalidRange(`integer >= startDim (${start})`, 'endDim', endDim === undefined ? -1 : endDim);
  if (start === end) return undefined;
  let merged = 1;
  for (let d = start; d <= end; d++) merged *= shape[d];
  return [...shape.slice(0, start), merged, ...shape.slice(end + 1)];
}
