// The pool-norm family's op plans: argument checks, output shapes and the native calls of qF.maxPool2d, qF.interpolate, ops.quantized.batchNorm2d, ...

import { QStorage } from '../native';
import { OpPlan, makePlan, sharedParams } from '../plan';
import { QDType, QTensor, denseOutput } from '../qtensor';
import { MemoryFormat, channelsLastOrder, isContiguousAs, numelOf, suggestMemoryFormat } from '../shape';
import { Tensor, checkTensor } from '../tensor';
import * as validate from '../validate';
import { OpName, native } from './native';

const DTYPE_CODES: { readonly [K in QDType]?: number } = { quint8: 0, qint8: 1 };

/** A checked quantized input: per-tensor quint8/qint8, its dense storage in the layout the op reads. */
export interface Input {
  readonly q: QTensor;
  readonly dtype: 'quint8' | 'qint8';
  readonly code: number;
  readonly scale: number;
  readonly zeroPoint: number;
  readonly shape: readonly number[];
}

/** Checks that x is a per-tensor quint8/qint8 QTensor of one of the given ranks. */
export function checkInput(x: unknown, parameter: string, ranks: readonly number[], what: string | (() => string)): Input {
  if (!(x instanceof QTensor)) throw validate.invalidType('QTensor', parameter, x);
  validate.attached(x.data, `${parameter}.data`);
  if (x.qscheme !== 'per_tensor_affine') throw validate.invalidRange('per_tensor_affine QTensor', parameter, x);
  const code = DTYPE_CODES[x.dtype];
  if (code === undefined) throw validate.invalidRange('QTensor of dtype quint8 or qint8', parameter, x);
  // `what` is a function where the caller's text is built from numbers: only for the error.
  if (!ranks.includes(x.dim())) throw validate.invalidRange(`${typeof what === 'function' ? what() : what} QTensor (${ranks.join('-D or ')}-D)`, parameter, x);
  return { q: x, dtype: x.dtype as 'quint8' | 'qint8', code, scale: x.qScale(), zeroPoint: x.qZeroPoint(), shape: x.shape };
}

/** The channels-last format of a rank (4: channels_last, 5: channels_last_3d), if any. */
export function channelsLastFormat(rank: number): MemoryFormat | undefined {
  return rank === 4 ? 'channels_last' : rank === 5 ? 'channels_last_3d' : undefined;
}

/** Whether PyTorch takes its channels-last path: the input is dense channels last (and 4-D or 5-D). */
export function readsChannelsLast(input: Input): boolean {
  const format = channelsLastFormat(input.shape.length);
  return format !== undefined && isContiguousAs(input.shape, input.q.strides, format);
}

/** The input's values dense in `format`. */
export function storageIn(input: Input, format: MemoryFormat): QStorage {
  const dense = input.q.contiguous(format);
  const numel = numelOf(input.shape);
  return dense.data.length === numel ? dense.data : dense.data.subarray(0, numel);
}

/** The format torch's suggest_memory_format gives the input. */
export function suggestedFormat(input: Input): MemoryFormat {
  return suggestMemoryFormat(input.shape, input.q.strides);
}

/**
 * A QTensor over `storage` laid out in `format` (dims in memory order: N, spatial..., C for the
 * channels-last formats), made as a contiguous tensor of the memory-order shape and permuted back.
 */
export function outputTensor(storage: QStorage, shape: readonly number[], format: MemoryFormat | 'channels_last_1d', scale: number, zeroPoint: number, dtype: QDType): QTensor {
  return denseOutput(storage, shape, format === 'contiguous_format' ? null : channelsLastOrder(shape.length), scale, zeroPoint, dtype);
}

/** An op ready to run now or off the event loop (same bits). */
export type Plan = OpPlan<QTensor>;

/** The plan of binding function `op` (its Async twin runs off the event loop) on `args`. */
export function plan(op: OpName, args: readonly unknown[], finish: (storage: QStorage) => QTensor): Plan {
  return makePlan(
    () => (native[op] as unknown as (...a: unknown[]) => QStorage)(...args),
    () => native[`${op}Async`](...args),
    finish,
    { op, args },
  );
}

type IntOrList = number | readonly number[];

/** n non-negative integers from one integer or a list of 1 or n (torch's _single/_pair/_triple). */
export function intTuple(value: unknown, parameter: string, n: number, min: number): number[] {
  // One integer (a module's kernelSize: 2): no list to read.
  if (typeof value === 'number') {
    const v = Number.isInteger(value) && value >= min && value <= 2 ** 31 - 1 ? value + 0 : validate.integerInRange(value, `${parameter}[0]`, min, 2 ** 31 - 1);
    return new Array<number>(n).fill(v);
  }
  const given = typeof value === 'number' ? [value] : value;
  if (!Array.isArray(given)) throw validate.invalidType(`integer or array of ${n} integers`, parameter, value);
  const list = validate.arrayOnce(given, parameter, () => `integer or array of 1 or ${n} integers`, n);
  if (list.length !== 1 && list.length !== n) throw validate.invalidRange(`integer or array of 1 or ${n} integers`, parameter, value);
  // Each item's name is built only for its error (a module's stride, padding: every call).
  const values = list.map((v, i) => (typeof v === 'number' && Number.isInteger(v) && v >= min && v <= 2 ** 31 - 1 ? v + 0 : validate.integerInRange(v, `${parameter}[${i}]`, min, 2 ** 31 - 1)));
  return values.length === 1 ? new Array<number>(n).fill(values[0]) : values;
}

/** PyTorch's pooling_output_shape (see native/src/ops/pool.h). */
export function poolOutputSize(input: number, kernel: number, padding: number, stride: number, dilation: number, ceilMode: boolean): number {
  const span = input + 2 * padding - dilation * (kernel - 1) - 1 + (ceilMode ? stride - 1 : 0);
  let size = Math.floor(span / stride) + 1;
  if (ceilMode && (size - 1) * stride >= input + padding) size--;
  return size;
}

/** A problem in (batched) N-d form: batch, channels, spatial sizes, and how to read and write it. */
export interface Problem {
  readonly input: Input;
  readonly batched: boolean;
  readonly batch: number;
  readonly channels: number;
  readonly spatial: number[];
  readonly channelsLast: boolean;
  /** The op always computes channels last (avg_pool3d), whatever the input's layout. */
  readonly forcedChannelsLast: boolean;
}

/** `name` (the op's, for the error) is a function where it is built from numbers. */
function problem(x: unknown, dims: number, name: string | (() => string), forceChannelsLast = false): Problem {
  const input = checkInput(x, 'input', [dims + 1, dims + 2], () => `${dims + 1}-D (unbatched) or ${dims + 2}-D`);
  const shape = input.shape;
  const batched = shape.length === dims + 2;
  const batch = batched ? shape[0] : 1;
  const channels = shape[batched ? 1 : 0];
  // A loop, not slice / includes: the shape is frozen, which sends those to V8's slow paths.
  const spatial = new Array<number>(dims);
  let empty = channels === 0 || batch === 0;
  for (let d = 0; d < dims; d++) {
    spatial[d] = shape[shape.length - dims + d];
    if (spatial[d] === 0) empty = true;
  }
  if (empty) {
    throw validate.invalidRange(`non-empty QTensor for ${typeof name === 'function' ? name() : name}`, 'input', x);
  }
  const channelsLast = batched && (forceChannelsLast ? channelsLastFormat(dims + 2) !== undefined : readsChannelsLast(input));
  return { input, batched, batch, channels, spatial, channelsLast, forcedChannelsLast: forceChannelsLast };
}

/** Pads per-dim values of an N-d problem to (D, H, W). */
function pad3(values: readonly number[], fill: number): number[] {
  return [...new Array<number>(3 - values.length).fill(fill), ...values];
}

/**
 * Writes per-dim values of an N-d problem padded to (D, H, W) into `out` from `at` (pad3 without
 * its arrays: the geometry is built on every op call); returns the next index.
 */
function put3(out: Float64Array, at: number, values: readonly number[], fill: number): number {
  const pad = 3 - values.length;
  for (let i = 0; i < 3; i++) out[at + i] = i < pad ? fill : values[i - pad];
  return at + 3;
}

/** The layout the op reads its input in (channelsLast is only ever set for a 4-D or 5-D input). */
function readFormat(p: Problem): MemoryFormat {
  return p.channelsLast ? channelsLastFormat(p.spatial.length + 2)! : 'contiguous_format';
}

/** The input storage in the layout the op reads, and the layout code. */
function inputStorage(p: Problem): { storage: ReturnType<typeof storageIn>; layout: number } {
  return { storage: storageIn(p.input, readFormat(p)), layout: p.channelsLast ? 1 : 0 };
}

/**
 * torch computes channels last whenever the input is dense that way, but an input that is
 * also dense contiguous (C = 1, 1x1 spatial) gets a contiguous output (suggest_memory_format).
 */
function contiguousOutput(p: Problem): boolean {
  return p.channelsLast && !p.forcedChannelsLast && suggestedFormat(p.input) === 'contiguous_format';
}

/** Outputs keep the layout the op computed in: channels last when the input was, else contiguous. */
function outputFinish(p: Problem, outSpatial: readonly number[]) {
  // Pushed (a packed array): other tensors' frozen shapes share its map (lib/shape.ts packedStrides).
  const shape: number[] = [p.batched ? p.batch : p.channels];
  if (p.batched) shape.push(p.channels);
  for (let d = 0; d < outSpatial.length; d++) shape.push(outSpatial[d]);
  Object.freeze(shape);  // the output QTensor keeps a frozen shape as it is (no copy)
  const format: MemoryFormat = p.channelsLast ? channelsLastFormat(shape.length)! : 'contiguous_format';
  const copy = contiguousOutput(p);
  return (storage: ReturnType<typeof storageIn>): QTensor => {
    const y = outputTensor(storage, shape, format, p.input.scale, p.input.zeroPoint, p.input.dtype);
    return copy ? y.contiguous() : y;
  };
}

/**
 * Whether a call on p read its input in place (storageIn made no copy) and returned the output
 * in the layout it computed (outputFinish made no contiguous copy): the calls whose derived
 * state a module may keep and replay on an input of the same dtype, shape and strides.
 */
export function readsInPlace(p: Problem): boolean {
  return isContiguousAs(p.input.shape, p.input.q.strides, readFormat(p)) && !contiguousOutput(p);
}

// ---- max and average pooling ---------------------------------------------------------------

export interface MaxPoolOptions {
  stride?: IntOrList | null;
  padding?: IntOrList;
  dilation?: IntOrList;
  ceilMode?: boolean;
  returnIndices?: boolean;
}

export interface AvgPoolOptions {
  stride?: IntOrList | null;
  padding?: IntOrList;
  ceilMode?: boolean;
  countIncludePad?: boolean;
  divisorOverride?: number | null;
}

/** The option names of the pools (validate.options' lists, one array for every call). */
export const MAX_POOL_OPTIONS: readonly string[] = ['stride', 'padding', 'dilation', 'ceilMode', 'returnIndices'];
export const AVG_POOL_OPTIONS: readonly string[] = ['stride', 'padding', 'ceilMode', 'countIncludePad', 'divisorOverride'];

export interface Window {
  kernel: number[];
  stride: number[];
  padding: number[];
  dilation: number[];
  output: number[];
}

function poolWindow(p: Problem, kernelSize: unknown, stride: unknown, padding: unknown, dilation: unknown, ceilMode: boolean): Window {
  const n = p.spatial.length;
  const kernel = intTuple(kernelSize, 'kernelSize', n, 1);
  const strides = stride === undefined || stride === null || (Array.isArray(stride) && stride.length === 0) ? kernel : intTuple(stride, 'stride', n, 1);
  const paddings = intTuple(padding ?? 0, 'padding', n, 0);
  const dilations = intTuple(dilation ?? 1, 'dilation', n, 1);
  const output: number[] = [];
  for (let d = 0; d < n; d++) {
    if (paddings[d] > Math.floor(kernel[d] / 2)) {
      throw validate.invalidRange(`padding at most half of kernelSize (${Math.floor(kernel[d] / 2)})`, 'padding', padding);
    }
    const size = poolOutputSize(p.spatial[d], kernel[d], paddings[d], strides[d], dilations[d], ceilMode);
    if (size < 1) {
      throw validate.invalidRange(`QTensor whose padded size ${p.spatial[d] + 2 * paddings[d]} fits the dilated kernel ${dilations[d] * (kernel[d] - 1) + 1} in dim ${d}`, 'input', p.input.q);
    }
    output.push(size);
  }
  return { kernel, stride: strides, padding: paddings, dilation: dilations, output };
}

/** Where the pool and resampling geometries are written; the op gets sharedParams' array of the values. */
const geometryScratch = new Float64Array(20);

/** [batch, channels, spatial, output, kernel, stride, padding, dilation], each of the last six padded to (D, H, W). */
function poolGeometry(p: Problem, w: Window): Float64Array {
  const g = geometryScratch;
  g[0] = p.batch;
  g[1] = p.channels;
  let at = put3(g, 2, p.spatial, 1);
  at = put3(g, at, w.output, 1);
  at = put3(g, at, w.kernel, 1);
  at = put3(g, at, w.stride, 1);
  at = put3(g, at, w.padding, 0);
  put3(g, at, w.dilation, 1);
  return sharedParams.get(g, 20);
}

/** What a pool call derives before its binding call; `window` is null for the adaptive pools. */
export interface PoolSetup {
  readonly p: Problem;
  readonly window: Window | null;
  readonly output: readonly number[];
  readonly geometry: Float64Array;
}

/** planMaxPool's checks and derived state on its option values, read once by the caller. */
export function setupMaxPool(dims: number, x: unknown, kernelSize: unknown, stride: unknown, padding: unknown, dilation: unknown, ceilValue: unknown, returnIndices: unknown): PoolSetup {
  const ceilMode = ceilValue === undefined ? false : validate.boolean(ceilValue, 'ceilMode');
  if (returnIndices !== undefined && validate.boolean(returnIndices, 'returnIndices')) {
    throw validate.invalidRange('false (quantized max pooling returns no indices, as in torch)', 'returnIndices', returnIndices);
  }
  const p = problem(x, dims, () => `maxPool${dims}d`);
  const w = poolWindow(p, kernelSize, stride, padding, dilation, ceilMode);
  return { p, window: w, output: w.output, geometry: poolGeometry(p, w) };
}

/** The maxPool binding's plan on a setup (max pools, and adaptive ones with `op` adaptiveMaxPool). */
export function maxPoolPlan(s: PoolSetup, op: 'maxPool' | 'adaptiveMaxPool' = 'maxPool'): Plan {
  const { storage, layout } = inputStorage(s.p);
  return plan(op, [storage, s.p.input.code, layout, s.geometry], outputFinish(s.p, s.output));
}

/** @internal */
export function planMaxPool(dims: number, x: unknown, kernelSize: unknown, options: unknown): Plan {
  const o = validate.options(options, 'options', MAX_POOL_OPTIONS);
  return maxPoolPlan(setupMaxPool(dims, x, kernelSize, o.stride, o.padding, o.dilation, o.ceilMode, o.returnIndices));
}

/** @internal */
export function planAvgPool(dims: number, x: unknown, kernelSize: unknown, options: unknown): Plan {
  if (dims !== 1) return avgPoolPlan(dims, x, kernelSize, options);
  avgPoolPlan(1, x, kernelSize, options); // the 1-D checks, with 1-D messages
  const o = options as AvgPoolOptions | undefined;
  const pair = (v: unknown, first: number) => (v === undefined || v === null ? v : [first, Array.isArray(v) ? v[0] : v]);
  return asTwoD(x, (x4) => avgPoolPlan(2, x4, pair(kernelSize, 1), { ...o, stride: pair(o?.stride, 1), padding: pair(o?.padding, 0) }));
}

/** An average pool's setup and its binding's own arguments. */
export interface AvgPoolSetup extends PoolSetup {
  readonly countIncludePad: boolean;
  /** divisorOverride as the binding takes it (0: none). */
  readonly divisor: number;
  /**
   * Whether torch's qavg_pool.cpp would give this call to QNNPACK under the qnnpack engine: a
   * 4-D quint8 input without ceil_mode and a kernel larger than 1x1 (QNNPACK refuses 1x1;
   * torch then fails, qkernels keeps its own kernel). The binding reads the engine in force.
   */
  readonly qnnpack: boolean;
}

/** avgPoolPlan's checks and derived state on its option values, read once by the caller. */
export function setupAvgPool(dims: number, x: unknown, kernelSize: unknown, stride: unknown, padding: unknown, ceilValue: unknown, includeValue: unknown, divisorValue: unknown): AvgPoolSetup {
  const ceilMode = ceilValue === undefined ? false : validate.boolean(ceilValue, 'ceilMode');
  const countIncludePad = includeValue === undefined ? true : validate.boolean(includeValue, 'countIncludePad');
  const divisor = divisorValue === undefined || divisorValue === null ? 0 : validate.integerInRange(divisorValue, 'divisorOverride', 1, 2 ** 23);
  // PyTorch's quantized avg_pool3d always computes channels last (channels_last_3d).
  const p = problem(x, dims, () => `avgPool${dims}d`, dims === 3);
  const w = poolWindow(p, kernelSize, stride, padding, 1, ceilMode);
  const qnnpack = dims === 2 && p.input.dtype === 'quint8' && !ceilMode && p.input.shape.length === 4 && w.kernel[0] * w.kernel[1] > 1;
  return { p, window: w, output: w.output, geometry: poolGeometry(p, w), countIncludePad, divisor, qnnpack };
}

/**
 * The avgPool binding's plan on a setup. qnnpackScale is the input scale where QNNPACK may
 * apply: the binding takes QNNPACK's formula when the engine in force is qnnpack, reading it
 * natively (an atomic load) rather than through an N-API call here per op call.
 */
export function avgPoolPlanOf(s: AvgPoolSetup): Plan {
  const { storage, layout } = inputStorage(s.p);
  const input = s.p.input;
  return plan('avgPool', [storage, input.code, layout, s.geometry, s.countIncludePad, s.divisor, input.zeroPoint, s.qnnpack ? input.scale : 0], outputFinish(s.p, s.output));
}

function avgPoolPlan(dims: number, x: unknown, kernelSize: unknown, options: unknown): Plan {
  const o = validate.options(options, 'options', AVG_POOL_OPTIONS);
  return avgPoolPlanOf(setupAvgPool(dims, x, kernelSize, o.stride, o.padding, o.ceilMode, o.countIncludePad, o.divisorOverride));
}

function adaptiveProblem(dims: number, x: unknown, outputSize: unknown, name: string | (() => string)): { p: Problem; output: number[] } {
  const p = problem(x, dims, name);
  const given = typeof outputSize === 'number' ? [outputSize] : outputSize;
  if (!Array.isArray(given)) throw validate.invalidType(`integer or array of ${dims} integers (null keeps the input size)`, 'outputSize', outputSize);
  const list = validate.arrayOnce(given, 'outputSize', () => `integer or array of 1 or ${dims} integers`, dims);
  if (list.length !== 1 && list.length !== dims) throw validate.invalidRange(`integer or array of 1 or ${dims} integers`, 'outputSize', outputSize);
  const output = p.spatial.map((inSize, d) => {
    const v = list.length === 1 ? list[0] : list[d];
    if (v === null || v === undefined) return inSize;
    // The item's name is built only for its error.
    return typeof v === 'number' && Number.isInteger(v) && v >= 1 && v <= 2 ** 31 - 1 ? v : validate.integerInRange(v, `outputSize[${d}]`, 1, 2 ** 31 - 1);
  });
  return { p, output };
}

/** poolGeometry's layout with a unit window: kernel, stride and dilation 1, padding 0. */
function adaptiveGeometry(p: Problem, output: readonly number[]): Float64Array {
  const g = geometryScratch.fill(1);
  g[0] = p.batch;
  g[1] = p.channels;
  put3(g, put3(g, 2, p.spatial, 1), output, 1);
  g[14] = g[15] = g[16] = 0;
  return sharedParams.get(g, 20);
}

/** An adaptive pool's checks and derived state (`name`, the op's, only for errors). */
export function setupAdaptivePool(dims: number, x: unknown, outputSize: unknown, name: string | (() => string)): PoolSetup {
  const { p, output } = adaptiveProblem(dims, x, outputSize, name);
  return { p, window: null, output, geometry: adaptiveGeometry(p, output) };
}

/**
 * Whether torch 1.13 computes this adaptive average pool as a mean: adaptive_avg_pool3d to
 * (1, 1, 1) is input.mean((-1, -2, -3), keepdim=True) (measured: every element and stride,
 * both engines), not its pooling kernel.
 */
export function isMean3d(s: PoolSetup): boolean {
  return s.output.length === 3 && s.output[0] === 1 && s.output[1] === 1 && s.output[2] === 1;
}

/** The adaptiveAvgPool binding's plan on a setup. */
export function adaptiveAvgPoolPlan(s: PoolSetup): Plan {
  const { storage, layout } = inputStorage(s.p);
  return plan('adaptiveAvgPool', [storage, s.p.input.code, layout, s.geometry, s.p.input.zeroPoint], outputFinish(s.p, s.output));
}

/** @internal */
export function planAdaptiveAvgPool(dims: number, x: unknown, outputSize: unknown): Plan {
  if (dims === 1) {
    const { output } = adaptiveProblem(1, x, outputSize, 'adaptiveAvgPool1d'); // the 1-D checks
    return asTwoD(x, (x4) => planAdaptiveAvgPool(2, x4, [1, output[0]]));
  }
  const s = setupAdaptivePool(dims, x, outputSize, () => `adaptiveAvgPool${dims}d`);
  if (isMean3d(s)) {
    const mean = () => (x as QTensor).mean([-1, -2, -3], true);
    return { run: mean, runAsync: () => Promise.resolve().then(mean) };
  }
  return adaptiveAvgPoolPlan(s);
}

/** @internal */
export function planAdaptiveMaxPool(dims: number, x: unknown, outputSize: unknown, options: unknown): Plan {
  const o = validate.options(options, 'options', ['returnIndices']);
  if (o.returnIndices !== undefined && validate.boolean(o.returnIndices, 'returnIndices')) {
    throw validate.invalidRange('false (quantized max pooling returns no indices)', 'returnIndices', o.returnIndices);
  }
  return maxPoolPlan(setupAdaptivePool(dims, x, outputSize, () => `adaptiveMaxPool${dims}d`), 'adaptiveMaxPool');
}

/**
 * A 1-D average pool as torch 1.13 runs it (avg_pool1d, adaptive_avg_pool1d are composites in
 * ATen): the 2-D op on the input unsqueezed to (N, C, 1, L), squeezed back. The 2-D op's layout
 * rules and, under the qnnpack engine, its QNNPACK kernel then apply as they do in torch.
 */
function asTwoD(x: unknown, plan2d: (x4: QTensor) => Plan): Plan {
  const p = plan2d((x as QTensor).unsqueeze(-2));
  return { run: () => p.run().squeeze(-2), runAsync: (caller) => p.runAsync(caller).then((y) => y.squeeze(-2)) };
}

// ---- resampling ----------------------------------------------------------------------------

const INTERPOLATE_MODES: readonly ('nearest' | 'bilinear')[] = ['nearest', 'bilinear'];
const BILINEAR_RANKS: readonly number[] = [4];
const NEAREST_RANKS: readonly number[] = [3, 4, 5];

export interface InterpolateOptions {
  size?: IntOrList | null;
  scaleFactor?: number | readonly number[] | null;
  mode?: 'nearest' | 'bilinear';
  alignCorners?: boolean | null;
  recomputeScaleFactor?: boolean | null;
}

/** The keys of InterpolateOptions (validate.options' list, one array for every call). */
export const INTERPOLATE_OPTIONS: readonly string[] = ['size', 'scaleFactor', 'mode', 'alignCorners', 'recomputeScaleFactor'];

/** What an interpolate call derives from its input and options before the native call. */
export interface InterpolateSetup {
  readonly p: Problem;
  readonly bilinear: boolean;
  /** alignCorners as the bilinear binding takes it (null: false). */
  readonly alignCorners: boolean;
  readonly output: readonly number[];
  readonly geometry: Float64Array;
}

/**
 * planInterpolate's checks and derived state, on the option values read once by the caller
 * (`options` is only named in errors): every check of every call, in torch's order.
 */
export function setupInterpolate(x: unknown, options: unknown, size: unknown, scaleFactor: unknown, modeValue: unknown, alignValue: unknown, recomputeValue: unknown): InterpolateSetup {
  const mode = modeValue === undefined ? 'nearest' : validate.oneOf(modeValue, 'mode', INTERPOLATE_MODES);
  const input = checkInput(x, 'input', mode === 'bilinear' ? BILINEAR_RANKS : NEAREST_RANKS, mode === 'bilinear' ? 'a 4-D (N, C, H, W) for bilinear mode,' : 'a 3-D, 4-D or 5-D');
  const dims = input.shape.length - 2;
  const p = problem(x, dims, 'interpolate');
  const alignCorners = alignValue === undefined || alignValue === null ? null : validate.boolean(alignValue, 'alignCorners');
  if (alignCorners !== null && mode === 'nearest') {
    throw validate.invalidRange('null or undefined (alignCorners only applies to bilinear mode)', 'alignCorners', alignValue);
  }
  const hasSize = size !== undefined && size !== null;
  const hasScale = scaleFactor !== undefined && scaleFactor !== null;
  if (hasSize === hasScale) throw validate.invalidRange('exactly one of size and scaleFactor', 'options', options);
  const recompute = recomputeValue === undefined || recomputeValue === null ? false : validate.boolean(recomputeValue, 'recomputeScaleFactor');
  let output: number[];
  let scales = [0, 0, 0];
  if (hasSize) {
    output = intTuple(size, 'size', dims, 1);
  } else {
    const given = typeof scaleFactor === 'number' ? [scaleFactor] : scaleFactor;
    if (!Array.isArray(given)) throw validate.invalidType(`number or array of ${dims} numbers`, 'scaleFactor', scaleFactor);
    const list = validate.arrayOnce(given, 'scaleFactor', () => `number or array of 1 or ${dims} numbers`, dims);
    if (list.length !== 1 && list.length !== dims) throw validate.invalidRange(`number or array of 1 or ${dims} numbers`, 'scaleFactor', scaleFactor);
    const factors = p.spatial.map((_, d) => {
      const factor = list.length === 1 ? list[0] : list[d];
      // The parameter's name is built only for the error (upsample runs per call in decoders).
      return typeof factor === 'number' && factor > 0 && factor < Infinity ? factor : validate.positiveFiniteNumber(factor, `scaleFactor[${d}]`);
    });
    output = p.spatial.map((inSize, d) => Math.floor(inSize * factors[d]));
    output.forEach((outSize, d) => {
      if (outSize < 1) throw validate.invalidRange(`scaleFactor giving an output size of at least 1 (input size ${p.spatial[d]})`, 'scaleFactor', scaleFactor);
    });
    if (!recompute) scales = pad3(factors, 0);
  }
  const g = geometryScratch;
  g[0] = p.batch;
  g[1] = p.channels;
  put3(g, put3(g, 2, p.spatial, 1), output, 1);
  g.set(scales, 8);
  return { p, bilinear: mode === 'bilinear', alignCorners: alignCorners ?? false, output, geometry: sharedParams.get(g, 11) };
}

export function interpolatePlan(s: InterpolateSetup): Plan {
  const { storage, layout } = inputStorage(s.p);
  const finish = outputFinish(s.p, s.output);
  if (s.bilinear) {
    return plan('upsampleBilinear', [storage, s.p.input.code, layout, s.geometry, s.alignCorners, s.p.input.zeroPoint], finish);
  }
  return plan('upsampleNearest', [storage, s.p.input.code, layout, s.geometry], finish);
}

/** @internal */
export function planInterpolate(x: unknown, options: unknown): Plan {
  const o = validate.options(options, 'options', INTERPOLATE_OPTIONS);
  return interpolatePlan(setupInterpolate(x, options, o.size, o.scaleFactor, o.mode, o.alignCorners, o.recomputeScaleFactor));
}

// ---- normalization -------------------------------------------------------------------------

const FLOAT32_KIND: readonly 'Float32Array'[] = ['Float32Array'];

/** Float32 values of a weight-like argument (Tensor, Float32Array, number[]), of a given length; null passes. */
export function floatParams(value: unknown, parameter: string, length: number, nullable: boolean): Float32Array | null {
  if (value === null || value === undefined) {
    if (nullable) return null;
    throw validate.invalidType(`Tensor or array of ${length} numbers`, parameter, value);
  }
  if (value instanceof Tensor) {
    const data = checkTensor(value, parameter).contiguous().data;
    const numel = value.numel();
    if (numel !== length) throw validate.invalidRange(`${length} values`, parameter, value);
    // A Tensor's storage is a Float32Array: passed as it is, as fp32 arrays are below; a
    // module's Tensor is dense and exactly numel long, so no subarray per call either.
    return data.length === numel ? data : data.subarray(0, numel);
  }
  const values = validate.numberList(value, parameter, `Tensor or array of ${length} numbers`);
  if (values.length !== length) throw validate.invalidRange(`${length} values`, parameter, value);
  // fp32 values already (a module's Tensors): passed as they are, not copied per call. The
  // binding reads them during the call (sync), or copies them then (async, and a traced step).
  if (validate.typedArrayKind(values, FLOAT32_KIND) !== undefined) return values as Float32Array;
  const out = new Float32Array(length);
  for (let i = 0; i < length; i++) {
    const v = values[i];
    if (typeof v !== 'number') throw validate.invalidType('number', `${parameter}[${i}]`, v);
    out[i] = v;
  }
  return out;
}

function outputQParams(scale: unknown, zeroPoint: unknown, input: Input): { scale: number; zeroPoint: number } {
  const s = validate.positiveFiniteNumber(scale, 'outputScale');
  const range = input.dtype === 'quint8' ? [0, 255] : [-128, 127];
  return { scale: s, zeroPoint: validate.integerInRange(zeroPoint, 'outputZeroPoint', range[0], range[1]) };
}

function epsilon(eps: unknown): number {
  const value = validate.finiteNumber(eps, 'eps');
  if (value < 0) throw validate.invalidRange('non-negative finite number', 'eps', eps);
  return value;
}

/** What a batch norm call derives before its binding call. */
export interface BatchNormSetup {
  readonly input: Input;
  /** Whether the input is read channels last (a 4-D or 5-D input dense that way). */
  readonly last: boolean;
  readonly batch: number;
  readonly channels: number;
  readonly spatial: number;
  // The parameter arrays as passed to the binding (a module's Tensors' own arrays).
  readonly weight: Float32Array | null;
  readonly bias: Float32Array | null;
  readonly mean: Float32Array;
  readonly variance: Float32Array;
  readonly eps: number;
  readonly out: { readonly scale: number; readonly zeroPoint: number };
}

/** planBatchNorm's checks and derived state. */
export function setupBatchNorm(ranks: readonly number[], x: unknown, weight: unknown, bias: unknown, mean: unknown, variance: unknown, eps: unknown, scale: unknown, zeroPoint: unknown): BatchNormSetup {
  const input = checkInput(x, 'input', ranks, () => ranks.map((r) => `${r}-D`).join(' or '));
  const batch = input.shape[0];
  const channels = input.shape[1];
  let spatial = 1;
  for (let d = 2; d < input.shape.length; d++) spatial *= input.shape[d];
  const w = floatParams(weight, 'weight', channels, true);
  const b = floatParams(bias, 'bias', channels, true);
  const m = floatParams(mean, 'runningMean', channels, false)!;
  const v = floatParams(variance, 'runningVar', channels, false)!;
  const e = epsilon(eps);
  const out = outputQParams(scale, zeroPoint, input);
  const last = input.shape.length >= 4 && readsChannelsLast(input);
  return { input, last, batch, channels, spatial, weight: w, bias: b, mean: m, variance: v, eps: e, out };
}

/** The batchNorm binding's plan on a setup; torch writes 2-D and 3-D batch norms channels last, and a (N, C, L) input comes back contiguous. */
export function batchNormPlan(s: BatchNormSetup, relu: boolean): Plan {
  const { input, out } = s;
  const rank = input.shape.length;
  const storage = storageIn(input, s.last ? channelsLastFormat(rank)! : 'contiguous_format');
  const finish = (data: ReturnType<typeof storageIn>): QTensor => {
    const y = outputTensor(data, input.shape, rank >= 3 ? (channelsLastFormat(rank) ?? 'channels_last_1d') : 'contiguous_format', out.scale, out.zeroPoint, input.dtype);
    return rank === 3 ? y.contiguous() : y;
  };
  return plan(
    'batchNorm',
    [storage, input.code, s.last, s.batch, s.channels, s.spatial, s.weight, s.bias, s.mean, s.variance, s.eps, input.scale, input.zeroPoint, out.scale, out.zeroPoint, relu],
    finish,
  );
}

/** @internal Batch norm over (N, C, ...spatial); ranks: 2 or 3 (BatchNorm1d), 4, 5. */
export function planBatchNorm(
  ranks: readonly number[], x: unknown, weight: unknown, bias: unknown, mean: unknown, variance: unknown,
  eps: unknown, scale: unknown, zeroPoint: unknown, relu: boolean,
): Plan {
  return batchNormPlan(setupBatchNorm(ranks, x, weight, bias, mean, variance, eps, scale, zeroPoint), relu);
}

const LAYER_NORM_RANKS: readonly number[] = [1, 2, 3, 4, 5, 6, 7, 8];

/** What a normalize call (layer, group and instance norm) derives before its binding call. */
export interface NormalizeSetup {
  readonly input: Input;
  readonly groups: number;
  readonly groupSize: number;
  readonly perChannel: boolean;
  readonly numChannels: number;
  readonly channelsPerGroup: number;
  readonly gamma: Float32Array | null;
  readonly beta: Float32Array | null;
  readonly eps: number;
  readonly out: { readonly scale: number; readonly zeroPoint: number };
}

/** @internal Layer norm over the trailing dims `normalizedShape`. */
export function planLayerNorm(x: unknown, normalizedShape: unknown, weight: unknown, bias: unknown, eps: unknown, scale: unknown, zeroPoint: unknown): Plan {
  return normalizePlan(setupLayerNorm(x, normalizedShape, weight, bias, eps, scale, zeroPoint));
}

/** A layer norm's setup: the normalized dims are the input's last `normalizedDims`. */
export interface LayerNormSetup extends NormalizeSetup {
  readonly normalizedDims: number;
}

/** planLayerNorm's checks and derived state. */
export function setupLayerNorm(x: unknown, normalizedShape: unknown, weight: unknown, bias: unknown, eps: unknown, scale: unknown, zeroPoint: unknown): LayerNormSetup {
  const input = checkInput(x, 'input', LAYER_NORM_RANKS, 'a 1-D to 8-D');
  const given = typeof normalizedShape === 'number' ? [normalizedShape] : normalizedShape;
  if (!Array.isArray(given)) throw validate.invalidType('integer or non-empty array of integers', 'normalizedShape', normalizedShape);
  const normalized = validate.arrayOnce(given, 'normalizedShape', 'integer or non-empty array of at most 8 integers', 8);
  if (normalized.length === 0) throw validate.invalidType('integer or non-empty array of integers', 'normalizedShape', normalizedShape);
  // Loops, and each dim's name built only for its error: a module's layer norm runs per call.
  let groupSize = 1;
  for (let i = 0; i < normalized.length; i++) {
    const d = normalized[i];
    groupSize *= typeof d === 'number' && Number.isInteger(d) && d >= 1 && d <= 2 ** 31 - 1 ? d : validate.integerInRange(d, `normalizedShape[${i}]`, 1, 2 ** 31 - 1);
  }
  const offset = input.shape.length - normalized.length;
  let matches = offset >= 0;
  for (let i = 0; i < normalized.length && matches; i++) matches = normalized[i] === input.shape[offset + i];
  if (!matches) {
    throw validate.invalidRange(`normalizedShape matching the last dims of input [${input.shape.join(', ')}]`, 'normalizedShape', normalizedShape);
  }
  const groups = numelOf(input.shape) / groupSize;
  const g = floatParams(weight, 'weight', groupSize, true);
  const b = floatParams(bias, 'bias', groupSize, true);
  if ((g === null) !== (b === null)) throw validate.invalidRange('weight and bias both given or both null', 'bias', bias);
  return { ...setupNormalize(input, groups, groupSize, false, 0, 0, g, b, epsilon(eps), outputQParams(scale, zeroPoint, input)), normalizedDims: normalized.length };
}

const GROUP_NORM_RANKS: readonly number[] = [2, 3, 4, 5, 6];

/** @internal Group norm of (N, C, ...) with numGroups groups; instance norm is numGroups = C. */
export function planGroupNorm(x: unknown, numGroups: unknown, weight: unknown, bias: unknown, eps: unknown, scale: unknown, zeroPoint: unknown, minRank = 2): Plan {
  const input = checkInput(x, 'input', minRank === 2 ? GROUP_NORM_RANKS : GROUP_NORM_RANKS.filter((r) => r >= minRank), () => `a ${minRank}-D or larger (N, C, ...)`);
  const [batch, channels] = input.shape;
  const groups = validate.integerInRange(numGroups, 'numGroups', 1, 2 ** 31 - 1);
  if (channels % groups !== 0) throw validate.invalidRange(`divisor of the channel count ${channels}`, 'numGroups', numGroups);
  const g = floatParams(weight, 'weight', channels, true);
  const b = floatParams(bias, 'bias', channels, true);
  if ((g === null) !== (b === null)) throw validate.invalidRange('weight and bias both given or both null', 'bias', bias);
  const groupSize = numelOf(input.shape) / (batch * groups);
  return normalizePlan(setupNormalize(input, batch * groups, groupSize, true, channels, channels / groups, g, b, epsilon(eps), outputQParams(scale, zeroPoint, input)));
}

function setupNormalize(
  input: Input, groups: number, groupSize: number, perChannel: boolean, numChannels: number, channelsPerGroup: number,
  gamma: Float32Array | null, beta: Float32Array | null, eps: number, out: { scale: number; zeroPoint: number },
): NormalizeSetup {
  if (numelOf(input.shape) === 0) throw validate.invalidRange('non-empty QTensor', 'input', input.q);
  return { input, groups, groupSize, perChannel, numChannels, channelsPerGroup, gamma, beta, eps, out };
}

/** The normalize binding's plan on a setup: a contiguous output. */
export function normalizePlan(s: NormalizeSetup): Plan {
  const { input, out } = s;
  const storage = storageIn(input, 'contiguous_format');
  return plan(
    'normalize',
    [storage, input.code, s.groups, s.groupSize, s.perChannel, s.numChannels, s.channelsPerGroup, s.gamma, s.beta, s.eps, Math.fround(input.scale), input.zeroPoint, Math.fround(out.scale), out.zeroPoint],
    (data) => outputTensor(data, input.shape, 'contiguous_format', out.scale, out.zeroPoint, input.dtype),
  );
}
