// The pool-norm modules' eager forwards: each module keeps what its last call derived and replays it while its settings and input layout stay the same.
//
// A module's forward re-reads its attributes every call (torch's may change between calls) and
// compares the values it read, and the input's dtype, shape and strides, with the key of its
// last call. On a match it calls the binding with the kept derived state (geometry, codes, the
// output's frozen shape and strides); any other call takes the general plan, whose checks give
// the errors, and keys the cache on what it read. While jit.trace records, the general path
// runs (the tracer sees the same op calls) and nothing is kept. An entry holds no tensor, so a
// cache never keeps a call's buffers alive; the arrays it names (a norm's weight Tensor) are
// the module's own attributes.

import { activeTracer } from '../jit/hook';
import { QStorage } from '../native';
import { QDType, QTensor, denseOutput, wrapPerTensorOutput } from '../qtensor';
import { isContiguousAs, numelOf, sameDims } from '../shape';
import { Tensor } from '../tensor';
import * as validate from '../validate';
import { native } from './native';
import {
  AVG_POOL_OPTIONS,
  AvgPoolSetup,
  BatchNormSetup,
  INTERPOLATE_OPTIONS,
  Input,
  InterpolateSetup,
  MAX_POOL_OPTIONS,
  LayerNormSetup,
  PoolSetup,
  Window,
  adaptiveAvgPoolPlan,
  avgPoolPlanOf,
  batchNormPlan,
  interpolatePlan,
  isMean3d,
  maxPoolPlan,
  normalizePlan,
  planAdaptiveAvgPool,
  planAvgPool,
  readsInPlace,
  readsChannelsLast,
  setupAdaptivePool,
  setupAvgPool,
  setupBatchNorm,
  setupInterpolate,
  setupLayerNorm,
  setupMaxPool,
} from './plan';

/** A module's kept state: its last cacheable call's entry, or null. */
export class EagerCache<Entry> {
  entry: Entry | null = null;
}

// Each module's cache, by the forward that fills it.
export type InterpolateCache = EagerCache<InterpolateEntry>;
export type WindowPoolCache = EagerCache<WindowPoolEntry>;
export type AdaptivePoolCache = EagerCache<PoolEntry>;
export type BatchNormCache = EagerCache<BatchNormEntry>;
export type LayerNormCache = EagerCache<LayerNormEntry>;

/**
 * The input and output half of an entry: the input's key (dtype, shape and strides: the
 * tensor's frozen arrays, compared by value; another tensor's equal arrays match) and what the
 * binding call and the output take from it. Kept only for calls that read their input in place.
 */
interface CachedIO {
  readonly dtype: QDType;
  readonly shape: readonly number[];
  readonly strides: readonly number[];
  readonly code: number;
  readonly numel: number;
  readonly outShape: readonly number[];
  readonly outStrides: readonly number[];
  readonly outNumel: number;
}

function cachedIO(input: Input, y: QTensor): CachedIO {
  return {
    dtype: input.dtype,
    shape: input.shape,
    strides: input.q.strides,
    code: input.code,
    numel: numelOf(input.shape),
    outShape: y.shape,
    outStrides: y.strides,
    outNumel: numelOf(y.shape),
  };
}

/** Whether x is a per-tensor QTensor of the entry's dtype, shape and strides whose buffer is attached (checkInput's checks, for such a key). */
function sameInput(io: CachedIO, x: unknown): x is QTensor {
  return (
    x instanceof QTensor &&
    x.qscheme === 'per_tensor_affine' &&
    x.dtype === io.dtype &&
    sameDims(io.shape, x.shape) &&
    sameDims(io.strides, x.strides) &&
    // A key's shape is non-empty, so only a detached buffer has no bytes.
    x.data.byteLength !== 0
  );
}

/** What storageIn gives for an input dense in the layout the op reads (a key's input is). */
function inputData(io: CachedIO, x: QTensor): QStorage {
  const data = x.data;
  return data.length === io.numel ? data : data.subarray(0, io.numel);
}

/** The output QTensor over the binding's result: the kept shape and strides (denseOutput's check and Error for a result that does not fit). */
function outputOf(io: CachedIO, y: QStorage, scale: number, zeroPoint: number): QTensor {
  if (y.length !== io.outNumel) return denseOutput(y, io.outShape, null, scale, zeroPoint, io.dtype);
  return wrapPerTensorOutput(y, io.outShape, io.outStrides, scale, zeroPoint, io.dtype);
}

/** The layout code the pool and resampling bindings take. */
const layoutCode = (s: { readonly p: { readonly channelsLast: boolean } }) => (s.p.channelsLast ? 1 : 0);

// ---- resampling ------------------------------------------------------------------------------

/**
 * One nn.Upsample call's key and derived state. Only number or absent size / scaleFactor are
 * kept: a list's items could change unseen.
 */
interface InterpolateEntry {
  readonly size: unknown;
  readonly scaleFactor: unknown;
  readonly mode: unknown;
  readonly alignCorners: unknown;
  readonly recompute: unknown;
  readonly io: CachedIO;
  readonly layout: number;
  readonly op: Pick<InterpolateSetup, 'geometry' | 'bilinear' | 'alignCorners'>;
}

const absentOrNumber = (value: unknown) => value === undefined || value === null || typeof value === 'number';

/**
 * nn.Upsample's forward: planInterpolate(x, options).run(), or on the key of the last call
 * (same option values, input dtype, shape and strides) the same binding call on the kept state.
 */
export function upsampleForward(x: unknown, options: unknown, cache: InterpolateCache): QTensor {
  const o = validate.options(options, 'options', INTERPOLATE_OPTIONS);
  const size = o.size;
  const scaleFactor = o.scaleFactor;
  const mode = o.mode;
  const alignCorners = o.alignCorners;
  const recompute = o.recomputeScaleFactor;
  const tracing = activeTracer() !== null;
  const e = cache.entry;
  if (
    !tracing &&
    e !== null &&
    size === e.size &&
    scaleFactor === e.scaleFactor &&
    mode === e.mode &&
    alignCorners === e.alignCorners &&
    recompute === e.recompute &&
    sameInput(e.io, x)
  ) {
    const op = e.op;
    const zeroPoint = x.qZeroPoint();
    const data = inputData(e.io, x);
    const y = op.bilinear
      ? native.upsampleBilinear(data, e.io.code, e.layout, op.geometry, op.alignCorners, zeroPoint)
      : native.upsampleNearest(data, e.io.code, e.layout, op.geometry);
    return outputOf(e.io, y, x.qScale(), zeroPoint);
  }
  const s = setupInterpolate(x, options, size, scaleFactor, mode, alignCorners, recompute);
  const y = interpolatePlan(s).run();
  const keep = !tracing && absentOrNumber(size) && absentOrNumber(scaleFactor) && readsInPlace(s.p);
  cache.entry = !keep
    ? null
    : { size, scaleFactor, mode, alignCorners, recompute, io: cachedIO(s.p.input, y), layout: layoutCode(s), op: { geometry: s.geometry, bilinear: s.bilinear, alignCorners: s.alignCorners } };
  return y;
}

// ---- pooling ---------------------------------------------------------------------------------

/**
 * Whether `value` gives `tuple` as intTuple reads it: one integer, or a list of 1 or n items
 * read once each. With `unset` (adaptive output sizes) a null or absent item stands for that
 * dim's input size. Anything else is a miss, and the general path's checks decide; a value
 * that gives the kept tuple passes those checks as the kept call's did.
 */
function givesTuple(value: unknown, tuple: readonly number[], unset: readonly number[] | null = null): boolean {
  const n = tuple.length;
  if (typeof value === 'number') {
    for (let d = 0; d < n; d++) if (tuple[d] !== value) return false;
    return true;
  }
  if (!Array.isArray(value)) return false;
  const length: unknown = value.length;
  if (length !== 1 && length !== n) return false;
  const one: unknown = length === 1 ? value[0] : undefined;
  for (let d = 0; d < n; d++) {
    const item: unknown = length === 1 ? one : value[d];
    if (item !== tuple[d] && !(unset !== null && (item === null || item === undefined) && unset[d] === tuple[d])) return false;
  }
  return true;
}

/** Whether a pool's window options give the kept window (poolWindow's defaults: stride the kernel, padding 0, dilation 1). */
function sameWindow(w: Window, kernelSize: unknown, stride: unknown, padding: unknown, dilation: unknown): boolean {
  return (
    givesTuple(kernelSize, w.kernel) &&
    (stride === undefined || stride === null ? sameDims(w.stride, w.kernel) : givesTuple(stride, w.stride)) &&
    givesTuple(padding ?? 0, w.padding) &&
    givesTuple(dilation ?? 1, w.dilation)
  );
}

/** A pool call's derived state, kept by value; the window (or adaptive output sizes) is the options' key. */
interface PoolEntry {
  readonly io: CachedIO;
  readonly layout: number;
  readonly geometry: Float64Array;
  readonly window: Window | null;
  readonly output: readonly number[];
  /** The input's spatial sizes (what a null adaptive output size stands for). */
  readonly spatial: readonly number[];
}

function poolEntry(s: PoolSetup, y: QTensor): PoolEntry {
  return { io: cachedIO(s.p.input, y), layout: layoutCode(s), geometry: s.geometry, window: s.window, output: s.output, spatial: s.p.spatial };
}

/**
 * A max or average pool call's entry. The flags are the options read as they were (not part
 * of the window): max pools' returnIndices, average pools' countIncludePad and divisorOverride.
 */
interface WindowPoolEntry extends PoolEntry {
  readonly ceilMode: unknown;
  readonly flagA: unknown;
  readonly flagB: unknown;
  // The average pool binding's own arguments (unused by max pools).
  readonly countIncludePad: boolean;
  readonly divisor: number;
  readonly qnnpack: boolean;
}

/**
 * nn.MaxPool1d/2d/3d's (avg false) and nn.AvgPool1d/2d/3d's forward: planMaxPool's or
 * planAvgPool's checks and errors on any miss; a 1-D average pool (a 2-D one on a view)
 * always takes the general path.
 */
export function windowPoolForward(avg: boolean, dims: number, x: unknown, kernelSize: unknown, options: unknown, cache: WindowPoolCache): QTensor {
  if (avg && dims === 1) return planAvgPool(1, x, kernelSize, options).run();
  const o = validate.options(options, 'options', avg ? AVG_POOL_OPTIONS : MAX_POOL_OPTIONS);
  const stride = o.stride;
  const padding = o.padding;
  const ceilMode = o.ceilMode;
  const dilation = avg ? 1 : o.dilation;
  const flagA = avg ? o.countIncludePad : o.returnIndices;
  const flagB = avg ? o.divisorOverride : undefined;
  const tracing = activeTracer() !== null;
  const e = cache.entry;
  if (
    !tracing &&
    e !== null &&
    ceilMode === e.ceilMode &&
    flagA === e.flagA &&
    flagB === e.flagB &&
    sameInput(e.io, x) &&
    sameWindow(e.window!, kernelSize, stride, padding, dilation)
  ) {
    const scale = x.qScale();
    const zeroPoint = x.qZeroPoint();
    const data = inputData(e.io, x);
    const y = avg
      ? native.avgPool(data, e.io.code, e.layout, e.geometry, e.countIncludePad, e.divisor, zeroPoint, e.qnnpack ? scale : 0)
      : native.maxPool(data, e.io.code, e.layout, e.geometry);
    return outputOf(e.io, y, scale, zeroPoint);
  }
  let s: PoolSetup;
  let y: QTensor;
  let avgArgs: Pick<AvgPoolSetup, 'countIncludePad' | 'divisor' | 'qnnpack'> = MAX_POOL_ARGS;
  if (avg) {
    const a = setupAvgPool(dims, x, kernelSize, stride, padding, ceilMode, flagA, flagB);
    y = avgPoolPlanOf(a).run();
    s = avgArgs = a;
  } else {
    s = setupMaxPool(dims, x, kernelSize, stride, padding, dilation, ceilMode, flagA);
    y = maxPoolPlan(s).run();
  }
  cache.entry =
    tracing || !readsInPlace(s.p)
      ? null
      : { ...poolEntry(s, y), ceilMode, flagA, flagB, countIncludePad: avgArgs.countIncludePad, divisor: avgArgs.divisor, qnnpack: avgArgs.qnnpack };
  return y;
}

/** What a max pool's entry holds in place of the average pool binding's arguments. */
const MAX_POOL_ARGS = { countIncludePad: false, divisor: 0, qnnpack: false };

/** nn.AdaptiveAvgPool1d/2d/3d's and AdaptiveMaxPool1d/2d's forward (1-D average pools and 3-D means always take the general path). */
export function adaptivePoolForward(dims: number, max: boolean, x: unknown, outputSize: unknown, cache: AdaptivePoolCache): QTensor {
  if (!max && dims === 1) return planAdaptiveAvgPool(1, x, outputSize).run();
  const tracing = activeTracer() !== null;
  const e = cache.entry;
  if (!tracing && e !== null && sameInput(e.io, x) && givesTuple(outputSize, e.output, e.spatial)) {
    const data = inputData(e.io, x);
    const zeroPoint = x.qZeroPoint();
    const y = max ? native.adaptiveMaxPool(data, e.io.code, e.layout, e.geometry) : native.adaptiveAvgPool(data, e.io.code, e.layout, e.geometry, zeroPoint);
    return outputOf(e.io, y, x.qScale(), zeroPoint);
  }
  const s = setupAdaptivePool(dims, x, outputSize, () => `adaptive${max ? 'Max' : 'Avg'}Pool${dims}d`);
  if (!max && isMean3d(s)) {
    cache.entry = null;
    return (x as QTensor).mean([-1, -2, -3], true);
  }
  const y = (max ? maxPoolPlan(s, 'adaptiveMaxPool') : adaptiveAvgPoolPlan(s)).run();
  cache.entry = tracing || !readsInPlace(s.p) ? null : poolEntry(s, y);
  return y;
}

// ---- normalization -----------------------------------------------------------------------------

/**
 * Whether a norm parameter (a module attribute) still gives the array the kept call passed in
 * place: the same Float32Array or Tensor (frozen: its array is the same) with that array still
 * `length` long (a detached buffer's views have no elements; a resizable one's may change), or
 * null / absent again.
 */
function sameParam(value: unknown, kept: unknown, array: Float32Array | null, length: number): boolean {
  return value === kept && (array === null || array.length === length);
}

/**
 * Whether floatParams passed `value` in place as `array` (no copy): a Float32Array, a Tensor's
 * own dense array, or null. A copied list may change unseen, so such a call is not kept.
 */
function passedInPlace(value: unknown, array: Float32Array | null): boolean {
  return array === null ? value === null || value === undefined : value === array || (value instanceof Tensor && value.data === array);
}

/** The key both norms' entries have: the input's, and eps and the output qparams as read. */
interface NormEntry {
  readonly io: CachedIO;
  readonly epsValue: unknown;
  readonly scaleValue: unknown;
  readonly zeroPointValue: unknown;
}

function normEntry(input: Input, y: QTensor, eps: unknown, scale: unknown, zeroPoint: unknown): NormEntry {
  return { io: cachedIO(input, y), epsValue: eps, scaleValue: scale, zeroPointValue: zeroPoint };
}

/** The cache's entry when this call (not tracing) has its shared key, else null. */
function normEntryFor<E extends NormEntry>(cache: EagerCache<E>, x: unknown, eps: unknown, scale: unknown, zeroPoint: unknown): E | null {
  const e = cache.entry;
  return activeTracer() === null && e !== null && eps === e.epsValue && scale === e.scaleValue && zeroPoint === e.zeroPointValue && sameInput(e.io, x) ? e : null;
}

/** A batch norm call's key (the attributes as read) and derived state. */
interface BatchNormEntry extends NormEntry {
  readonly weight: unknown;
  readonly bias: unknown;
  readonly mean: unknown;
  readonly variance: unknown;
  readonly s: BatchNormSetup;
}

/** The scale as torch's float32 buffer holds it. */
export function float32Scale(scale: unknown, parameter = 'scale'): number {
  return Math.fround(validate.scale(scale, parameter));
}

/** nnq.BatchNorm1d/2d/3d's and nniq.BNReLU2d/3d's forward (planBatchNorm's checks and errors on any miss). */
export function batchNormForward(
  ranks: readonly number[], x: unknown, weight: unknown, bias: unknown, mean: unknown, variance: unknown,
  eps: unknown, scale: unknown, zeroPoint: unknown, relu: boolean, cache: BatchNormCache,
): QTensor {
  const e = normEntryFor(cache, x, eps, scale, zeroPoint);
  if (
    e !== null &&
    sameParam(weight, e.weight, e.s.weight, e.s.channels) &&
    sameParam(bias, e.bias, e.s.bias, e.s.channels) &&
    sameParam(mean, e.mean, e.s.mean, e.s.channels) &&
    sameParam(variance, e.variance, e.s.variance, e.s.channels)
  ) {
    const s = e.s;
    const q = x as QTensor;
    const y = native.batchNorm(inputData(e.io, q), e.io.code, s.last, s.batch, s.channels, s.spatial, s.weight, s.bias, s.mean, s.variance, s.eps, q.qScale(), q.qZeroPoint(), s.out.scale, s.out.zeroPoint, relu);
    return outputOf(e.io, y, s.out.scale, s.out.zeroPoint);
  }
  const s = setupBatchNorm(ranks, x, weight, bias, mean, variance, eps, float32Scale(scale), zeroPoint);
  const y = batchNormPlan(s, relu).run();
  const rank = s.input.shape.length;
  const keep =
    activeTracer() === null &&
    // Read in place (dense in the layout read) and returned as computed (a 3-D output is copied contiguous).
    rank !== 3 &&
    (s.last ? readsChannelsLast(s.input) : isContiguousAs(s.input.shape, s.input.q.strides, 'contiguous_format')) &&
    passedInPlace(weight, s.weight) &&
    passedInPlace(bias, s.bias) &&
    passedInPlace(mean, s.mean) &&
    passedInPlace(variance, s.variance);
  cache.entry = !keep ? null : { ...normEntry(s.input, y, eps, scale, zeroPoint), weight, bias, mean, variance, s };
  return y;
}

/** Whether `value` (normalizedShape: one integer or a list read once) names the last `n` dims of `shape`. */
function namesLastDims(value: unknown, shape: readonly number[], n: number): boolean {
  const offset = shape.length - n;
  if (typeof value === 'number') return n === 1 && value === shape[offset];
  if (!Array.isArray(value) || value.length !== n) return false;
  for (let i = 0; i < n; i++) if (value[i] !== shape[offset + i]) return false;
  return true;
}

/** A layer norm call's key (the attributes as read; normalizedShape as its length) and derived state. */
interface LayerNormEntry extends NormEntry {
  readonly normalizedDims: number;
  readonly weight: unknown;
  readonly bias: unknown;
  readonly s: LayerNormSetup;
}

/** nnq.LayerNorm's forward (planLayerNorm's checks and errors on any miss). */
export function layerNormForward(
  x: unknown, normalizedShape: unknown, weight: unknown, bias: unknown, eps: unknown, scale: unknown, zeroPoint: unknown, cache: LayerNormCache,
): QTensor {
  const e = normEntryFor(cache, x, eps, scale, zeroPoint);
  if (
    e !== null &&
    // The same dims as the kept call's: the same groups (the input's shape is the key's).
    namesLastDims(normalizedShape, e.io.shape, e.normalizedDims) &&
    sameParam(weight, e.weight, e.s.gamma, e.s.groupSize) &&
    sameParam(bias, e.bias, e.s.beta, e.s.groupSize)
  ) {
    const s = e.s;
    const q = x as QTensor;
    const y = native.normalize(inputData(e.io, q), e.io.code, s.groups, s.groupSize, false, 0, 0, s.gamma, s.beta, s.eps, Math.fround(q.qScale()), q.qZeroPoint(), Math.fround(s.out.scale), s.out.zeroPoint);
    return outputOf(e.io, y, s.out.scale, s.out.zeroPoint);
  }
  const s = setupLayerNorm(x, normalizedShape, weight, bias, eps, scale, zeroPoint);
  const y = normalizePlan(s).run();
  const input = s.input;
  // The derived state is a function of the input's shape and the number of normalized dims,
  // which is the key (not the list's identity or the values it held then).
  const keep = activeTracer() === null && isContiguousAs(input.shape, input.q.strides, 'contiguous_format') && passedInPlace(weight, s.gamma) && passedInPlace(bias, s.beta);
  cache.entry = !keep ? null : { ...normEntry(input, y, eps, scale, zeroPoint), normalizedDims: s.normalizedDims, weight, bias, s };
  return y;
}
