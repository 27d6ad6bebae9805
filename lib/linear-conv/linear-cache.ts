// qF.linear's cache of prepacked weights: a repeated call with the same weight and bias values reuses the packing, checked against kept copies on every call.
//
// torch's F.linear prepacks its weight on every call; here that packing was most of a call on a
// small weight (~8 us of ~11). A weight QTensor's storage is a mutable, user-visible typed array
// and weight() makes a new QTensor per call, so neither identity nor a WeakMap on the QTensor can
// tell that two calls packed the same thing. An entry instead keeps private copies of exactly
// what its packing read (the int8 values, the expanded qparams, the bias), and a call uses it
// only when the weight and bias it is given hold those same values now: dtype, qscheme, shape,
// row-major layout, qparams, every weight byte and every bias bit. Comparing is one pass over
// memory, far cheaper than packing (which also computes offsets and reorders). The entries
// hold no reference to the caller's tensors, so they never keep a weight alive; the table is
// bounded in entries and in kept bytes, least recently used first out (an evicted entry's
// native weights go with its handle at the next collection; a plan still running holds them).

import { Buffer } from 'buffer';
import { QTensor } from '../qtensor';
import { Tensor } from '../tensor';
import { isContiguousAs } from '../shape';
import { LinearFastCache, newLinearFastCache } from './plan';
import { PackedWeight, packLinearKept } from './weights';

/** One packing and the copies of what it read (never the caller's arrays). */
interface Entry {
  readonly outFeatures: number;
  readonly inFeatures: number;
  readonly values: Int8Array;
  readonly scales: Float64Array;
  readonly zeroPoints: Int32Array;
  /** null: per tensor (scales / zeroPoints hold the one pair); 0: per channel along the rows. */
  readonly axis: number | null;
  readonly bias: Float32Array | null;
  readonly packed: PackedWeight;
  /** runLinearFast's output shape memo for this weight. */
  readonly fast: LinearFastCache;
  readonly bytes: number;
}

/** At most this many packings are kept (a model run through qF.linear has a handful of layers). */
export const MAX_ENTRIES = 8;
/** and at most this many bytes of kept copies (the packed weights take about as much again). */
export const MAX_KEPT_BYTES = 16 << 20;
/** Below this many bytes a JS loop compares faster than a Buffer view and memcmp. */
const MEMCMP_MIN_BYTES = 256;

/** Most recently used first. */
const entries: Entry[] = [];
let keptBytes = 0;
let hits = 0;
let misses = 0;

/** Whether the first `bytes` bytes of two views are equal: memcmp through Buffer views (no copy). */
function sameBytes(live: ArrayBufferView, kept: ArrayBufferView, bytes: number): boolean {
  return Buffer.from(live.buffer, live.byteOffset, bytes).equals(Buffer.from(kept.buffer, kept.byteOffset, bytes));
}

/** True when the first `n` elements of `live` equal `kept`'s byte for byte (the weight values). */
function sameInt8(live: Int8Array, kept: Int8Array, n: number): boolean {
  if (n >= MEMCMP_MIN_BYTES) return sameBytes(live, kept, n);
  for (let i = 0; i < n; i++) if (live[i] !== kept[i]) return false;
  return true;
}

/**
 * True when the first `n` values of `live` have `kept`'s bits: -0 against 0 and any NaN
 * (whose payload a float compare cannot see) count as different, so they pack again.
 */
function sameFloat32(live: Float32Array, kept: Float32Array, n: number): boolean {
  if (n * 4 >= MEMCMP_MIN_BYTES) return sameBytes(live, kept, n * 4);
  for (let i = 0; i < n; i++) {
    const x = live[i];
    const y = kept[i];
    if (x !== y || (x === 0 && 1 / x !== 1 / y)) return false;
  }
  return true;
}

/** The weight's int8 values read in place: a qint8 2-dim QTensor, row-major, non-empty, attached; else null. */
function denseWeight(w: QTensor): Int8Array | null {
  if (w.dtype !== 'qint8' || w.shape.length !== 2) return null;
  const numel = w.shape[0] * w.shape[1];
  // A transferred buffer reads as length 0 (and an empty weight has nothing worth keeping).
  if (numel === 0 || w.data.length < numel || !isContiguousAs(w.shape, w.strides, 'contiguous_format')) return null;
  return w.data as Int8Array;
}

/** The bias values read in place ([outFeatures], row-major, attached), null for no bias, undefined when not keyable. */
function denseBias(b: unknown, outFeatures: number): Float32Array | null | undefined {
  if (b === null || b === undefined) return null;
  if (!(b instanceof Tensor) || b.shape.length !== 1 || b.shape[0] !== outFeatures || b.data.length < outFeatures) return undefined;
  return isContiguousAs(b.shape, b.strides, 'contiguous_format') ? b.data : undefined;
}

/** True when `w` (already dense, values `values`) and `bias` hold exactly what `e` packed. */
function matches(e: Entry, w: QTensor, values: Int8Array, bias: Float32Array | null): boolean {
  if (w.shape[0] !== e.outFeatures || w.shape[1] !== e.inFeatures || (bias === null) !== (e.bias === null)) return false;
  if (w.qscheme === 'per_tensor_affine') {
    if (e.axis !== null || w.qScale() !== e.scales[0] || w.qZeroPoint() !== e.zeroPoints[0]) return false;
  } else {
    if (w.qscheme !== 'per_channel_affine' || e.axis !== 0 || w.qPerChannelAxis() !== 0) return false;
    const scales = w.qPerChannelScales();
    const zeroPoints = w.qPerChannelZeroPoints();
    if (scales.length !== e.outFeatures) return false;
    for (let c = 0; c < scales.length; c++) if (scales[c] !== e.scales[c] || zeroPoints[c] !== e.zeroPoints[c]) return false;
  }
  if (bias !== null && !sameFloat32(bias, e.bias as Float32Array, e.outFeatures)) return false;
  return sameInt8(values, e.values, e.values.length);
}

/** The entry whose packing `weight` and `bias` hold the values of now, moved to the front; null when none. Never throws. */
function find(weight: unknown, bias: unknown): Entry | null {
  if (!(weight instanceof QTensor)) return null;
  const values = denseWeight(weight);
  if (values === null) return null;
  const b = denseBias(bias, weight.shape[0]);
  if (b === undefined) return null;
  for (let i = 0; i < entries.length; i++) {
    const e = entries[i];
    if (!matches(e, weight, values, b)) continue;
    if (i > 0) {
      entries.splice(i, 1);
      entries.unshift(e);
    }
    return e;
  }
  return null;
}

/**
 * The packed weight and output-shape memo for a call of qF.linear whose weight and bias hold
 * the values of a kept packing; null otherwise (the caller then takes the general path, whose
 * checks give the errors and whose packing is kept). Never throws.
 */
export function cachedLinear(weight: unknown, bias: unknown): { packed: PackedWeight; fast: LinearFastCache } | null {
  const e = find(weight, bias);
  if (e === null) return null;
  hits++;
  return e;
}

/**
 * packLinear through the cache: the kept packing when the values match one, else a new packing
 * (every check and error of packLinear), kept when the weight and bias can be compared later.
 */
export function packLinearCached(weight: unknown, bias: unknown, outFeatures: number, inFeatures: number): PackedWeight {
  const found = find(weight, bias);
  if (found !== null) {
    hits++;
    return found.packed;
  }
  misses++;
  // The copies packLinearKept made and packed are the key: what was packed is what is compared
  // (a second read of a shared buffer could differ from the first).
  const kept = packLinearKept(weight, bias, outFeatures, inFeatures);
  const w = weight as QTensor;
  if (denseWeight(w) === null || denseBias(bias, outFeatures) === undefined) return kept.packed;
  const { scales, zeroPoints, axis } = kept.packed.qparams;
  const bytes = kept.values.byteLength + (kept.bias === null ? 0 : kept.bias.byteLength) + scales.byteLength + zeroPoints.byteLength;
  if (bytes > MAX_KEPT_BYTES) return kept.packed;
  const entry: Entry = {
    outFeatures,
    inFeatures,
    values: kept.values,
    scales,
    zeroPoints,
    axis,
    bias: kept.bias,
    packed: kept.packed,
    fast: newLinearFastCache(),
    bytes,
  };
  entries.unshift(entry);
  keptBytes += bytes;
  while (entries.length > MAX_ENTRIES || keptBytes > MAX_KEPT_BYTES) keptBytes -= (entries.pop() as Entry).bytes;
  return kept.packed;
}

/** @internal For tests: what the cache holds and how calls went. */
export function linearCacheStats(): { entries: number; keptBytes: number; hits: number; misses: number } {
  return { entries: entries.length, keptBytes, hits, misses };
}

/** @internal For tests: forget every packing (the next calls pack again). */
export function clearLinearCache(): void {
  entries.length = 0;
  keptBytes = 0;
}
