// The pool-norm family's op plans: argument checks, output shapes and the native calls of qF.maxPool2d, qF.interpolate, ops.quantized.batchNorm2d, ...

import { QStorage, addon } from '../native';
import { activeTracer } from '../jit/hook';
import { OpPlan, makePlan, sharedParams } from '../plan';
import { QDType, QTensor, denseOutput, wrapPerTensorOutput } from '../qtensor';
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
interface Problem {
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

/** The input storage in the layout the op reads, and the layout code. */
function inputStorage(p: Problem): { storage: ReturnType<typeof storageIn>; layout: number } {
  const format: MemoryFormat = p.channelsLast ? channelsLastFormat(p.spatial.length + 2)! : 'contiguous_format';
  return { storage: storageIn(p.input, format), layout: p.channelsLast ? 1 : 0 };
}

/** Outputs keep the layout the op computed in: channels last when the input was, else contiguous. */
function outputFinish(p: Problem, outSpatial: readonly number[]) {
  const lead = p.batched ? 2 : 1;
  const shape = new Array<number>(lead + outSpatial.length);
  shape[0] = p.batched ? p.batch : p.channels;
  if (p.batched) shape[1] = p.channels;
  for (let d = 0; d < outSpatial.length; d++) shape[lead + d] = outSpatial[d];
  Object.freeze(shape);  // the output QTensor keeps a frozen shape as it is (no copy)
  const format: MemoryFormat = p.channelsLast ? channelsLastFormat(shape.length)! : 'contiguous_format';
  // torch computes channels last whenever the input is dense that way, but an input that is
  // also dense contiguous (C = 1, 1x1 spatial) gets a contiguous output (suggest_memory_format).
  const contiguousOutput = p.channelsLast && !p.forcedChannelsLast && suggestedFormat(p.input) === 'contiguous_format';
  return (storage: ReturnType<typeof storageIn>): QTensor => {
    const y = outputTensor(storage, shape, format, p.input.scale, p.input.zeroPoint, p.input.dtype);
    return contiguousOutput ? y.contiguous() : y;
  };
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

interface Window {
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

/** @internal */
export function planMaxPool(dims: number, x: unknown, kernelSize: unknown, options: unknown): Plan {
  const o = validate.options(options, 'options', ['stride', 'padding', 'dilation', 'ceilMode', 'returnIndices']);
  const ceilMode = o.ceilMode === undefined ? false : validate.boolean(o.ceilMode, 'ceilMode');
  if (o.returnIndices !== undefined && validate.boolean(o.returnIndices, 'returnIndices')) {
    throw validate.invalidRange('false (quantized max pooling returns no indices, as in torch)', 'returnIndices', o.returnIndices);
  }
  const p = problem(x, dims, () => `maxPool${dims}d`);
  const w = poolWindow(p, kernelSize, o.stride, o.padding, o.dilation, ceilMode);
  const { storage, layout } = inputStorage(p);
  return plan('maxPool', [storage, p.input.code, layout, poolGeometry(p, w)], outputFinish(p, w.output));
}

/** @internal */
export function planAvgPool(dims: number, x: unknown, kernelSize: unknown, options: unknown): Plan {
  if (dims !== 1) return avgPoolPlan(dims, x, kernelSize, options);
  avgPoolPlan(1, x, kernelSize, options); // the 1-D checks, with 1-D messages
  const o = options as AvgPoolOptions | undefined;
  const pair = (v: unknown, first: number) => (v === undefined || v === null ? v : [first, Array.isArray(v) ? v[0] : v]);
  return asTwoD(x, (x4) => avgPoolPlan(2, x4, pair(kernelSize, 1), { ...o, stride: pair(o?.stride, 1), padding: pair(o?.padding, 0) }));
}

function avgPoolPlan(dims: number, x: unknown, kernelSize: unknown, options: unknown): Plan {
  const o = validate.options(options, 'options', ['stride', 'padding', 'ceilMode', 'countIncludePad', 'divisorOverride']);
  const ceilMode = o.ceilMode === undefined ? false : validate.boolean(o.ceilMode, 'ceilMode');
  const countIncludePad = o.countIncludePad === undefined ? true : validate.boolean(o.countIncludePad, 'countIncludePad');
  const divisor = o.divisorOverride === undefined || o.divisorOverride === null ? 0 : validate.integerInRange(o.divisorOverride, 'divisorOverride', 1, 2 ** 23);
  // PyTorch's quantized avg_pool3d always computes channels last (channels_last_3d).
  const p = problem(x, dims, () => `avgPool${dims}d`, dims === 3);
  const w = poolWindow(p, kernelSize, o.stride, o.padding, 1, ceilMode);
  const { storage, layout } = inputStorage(p);
  // qavg_pool.cpp under the qnnpack engine: 4-D quint8 input without ceil_mode goes to QNNPACK,
  // which refuses a 1x1 kernel (torch then fails; qkernels keeps its own kernel there).
  const qnnpack =
    dims === 2 && p.input.dtype === 'quint8' && !ceilMode && p.input.shape.length === 4 && w.kernel[0] * w.kernel[1] > 1 &&
    addon.quantizedEngine() === 'qnnpack';
  const qnnpackScale = qnnpack ? p.input.scale : 0;
  return plan('avgPool', [storage, p.input.code, layout, poolGeometry(p, w), countIncludePad, divisor, p.input.zeroPoint, qnnpackScale], outputFinish(p, w.output));
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

/** @internal */
export function planAdaptiveAvgPool(dims: number, x: unknown, outputSize: unknown): Plan {
  if (dims === 1) {
    const { output } = adaptiveProblem(1, x, outputSize, 'adaptiveAvgPool1d'); // the 1-D checks
    return asTwoD(x, (x4) => planAdaptiveAvgPool(2, x4, [1, output[0]]));
  }
  if (dims === 3 && adaptiveProblem(3, x, outputSize, 'adaptiveAvgPool3d').output.every((size) => size === 1)) {
    // torch 1.13's adaptive_avg_pool3d to (1, 1, 1) is input.mean((-1, -2, -3), keepdim=True)
    // (measured: every element and stride, both engines), not its pooling kernel.
    const mean = () => (x as QTensor).mean([-1, -2, -3], true);
    return { run: mean, runAsync: () => Promise.resolve().then(mean) };
  }
  const { p, output } = adaptiveProblem(dims, x, outputSize, () => `adaptiveAvgPool${dims}d`);
  const { storage, layout } = inputStorage(p);
  return plan('adaptiveAvgPool', [storage, p.input.code, layout, adaptiveGeometry(p, output), p.input.zeroPoint], outputFinish(p, output));
}

/** @internal */
export function planAdaptiveMaxPool(dims: number, x: unknown, outputSize: unknown, options: unknown): Plan {
  const o = validate.options(options, 'options', ['returnIndices']);
  if (o.returnIndices !== undefined && validate.boolean(o.returnIndices, 'returnIndices')) {
    throw validate.invalidRange('false (quantized max pooling returns no indices)', 'returnIndices', o.returnIndices);
  }
  const { p, output } = adaptiveProblem(dims, x, outputSize, () => `adaptiveMaxPool${dims}d`);
  const { storage, layout } = inputStorage(p);
  return plan('adaptiveMaxPool', [storage, p.input.code, layout, adaptiveGeometry(p, output)], outputFinish(p, output));
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
interface InterpolateSetup {
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
function setupInterpolate(x: unknown, options: unknown, size: unknown, scaleFactor: unknown, modeValue: unknown, alignValue: unknown, recomputeValue: unknown): InterpolateSetup {
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

function interpolatePlan(s: InterpolateSetup): Plan {
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

/**
 * One nn.Upsample call's key and what it derived; no tensor (the cache must not keep a call's
 * buffers alive). The key: the option values as read, and the input's dtype, shape and strides
 * (the tensor's frozen arrays, compared by value: never an array's identity, as torch's module
 * attributes and the inputs may change between calls).
 */
interface InterpolateEntry {
  readonly size: unknown;
  readonly scaleFactor: unknown;
  readonly mode: unknown;
  readonly alignCorners: unknown;
  readonly recompute: unknown;
  // The input's key, and its dtype code, layout code and element count.
  readonly dtype: QDType;
  readonly shape: readonly number[];
  readonly strides: readonly number[];
  readonly code: number;
  readonly layout: number;
  readonly numel: number;
  // setupInterpolate's op: the geometry, bilinear or nearest, alignCorners as the binding takes it.
  readonly op: Pick<InterpolateSetup, 'geometry' | 'bilinear' | 'alignCorners'>;
  // The output's frozen shape and strides (the first call's, made by the general path).
  readonly outShape: readonly number[];
  readonly outStrides: readonly number[];
  readonly outNumel: number;
}

/**
 * What nn.Upsample's eager forwards reuse: the last call's entry. A forward used to re-derive
 * all of it (planInterpolate: 12% self in a profile, plus the problem, the plan's closures and
 * the output's strides), 2-3 us around a ~1.3 us binding call. Only number or absent size /
 * scaleFactor are kept: a list's items could change unseen.
 */
export class InterpolateCache {
  entry: InterpolateEntry | null = null;
}

function sameValues(cached: readonly number[], values: readonly number[]): boolean {
  if (cached.length !== values.length) return false;
  // A loop: the tensor's arrays are frozen (V8's slow paths for array methods).
  for (let d = 0; d < values.length; d++) if (cached[d] !== values[d]) return false;
  return true;
}

const absentOrNumber = (value: unknown) => value === undefined || value === null || typeof value === 'number';

/**
 * nn.Upsample's forward: planInterpolate(x, options).run(), or while not tracing, on the key
 * of the last call (same option values, dtype, shape and strides of a per-tensor input whose
 * buffer is attached), the same binding call on the derived state kept in `cache`. Any other
 * call takes the general path, whose checks and errors are planInterpolate's.
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
    x instanceof QTensor &&
    x.qscheme === 'per_tensor_affine' &&
    x.dtype === e.dtype &&
    size === e.size &&
    scaleFactor === e.scaleFactor &&
    mode === e.mode &&
    alignCorners === e.alignCorners &&
    recompute === e.recompute &&
    sameValues(e.shape, x.shape) &&
    sameValues(e.strides, x.strides) &&
    x.data.byteLength !== 0
  ) {
    const op = e.op;
    const data = x.data;
    // What storageIn gives for an input dense in the layout the op reads (a cached key's input is).
    const storage = data.length === e.numel ? data : data.subarray(0, e.numel);
    const zeroPoint = x.qZeroPoint();
    const y = op.bilinear
      ? native.upsampleBilinear(storage, e.code, e.layout, op.geometry, op.alignCorners, zeroPoint)
      : native.upsampleNearest(storage, e.code, e.layout, op.geometry);
    // denseOutput's length check (and its Error) for a result that does not fit the shape.
    if (y.length !== e.outNumel) return denseOutput(y, e.outShape, null, x.qScale(), zeroPoint, e.dtype);
    return wrapPerTensorOutput(y, e.outShape, e.outStrides, x.qScale(), zeroPoint, e.dtype);
  }
  const s = setupInterpolate(x, options, size, scaleFactor, mode, alignCorners, recompute);
  const y = interpolatePlan(s).run();
  const input = s.p.input;
  const format: MemoryFormat = s.p.channelsLast ? channelsLastFormat(input.shape.length)! : 'contiguous_format';
  const cacheable =
    !tracing &&
    absentOrNumber(size) &&
    absentOrNumber(scaleFactor) &&
    // Read in place (storageIn copies otherwise), and the output kept in the computed layout
    // (outputFinish's contiguous copy for an input dense both ways is left to the general path).
    isContiguousAs(input.shape, input.q.strides, format) &&
    !(s.p.channelsLast && suggestedFormat(input) === 'contiguous_format');
  cache.entry = !cacheable
    ? null
    : {
        size,
        scaleFactor,
        mode,
        alignCorners,
        recompute,
        dtype: input.dtype,
        shape: input.shape,
        strides: input.q.strides,
        code: input.code,
        layout: s.p.channelsLast ? 1 : 0,
        numel: numelOf(input.shape),
        op: { geometry: s.geometry, bilinear: s.bilinear, alignCorners: s.alignCorners },
        outShape: y.shape,
        outStrides: y.strides,
        outNumel: numelOf(y.shape),
      };
  return y;
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

/** @internal Batch norm over (N, C, ...spatial); spatialDims: 0 or 1 (BatchNorm1d), 2, 3. */
export function planBatchNorm(
  ranks: readonly number[], x: unknown, weight: unknown, bias: unknown, mean: unknown, variance: unknown,
  eps: unknown, scale: unknown, zeroPoint: unknown, relu: boolean,
): Plan {
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
  const rank = input.shape.length;
  const last = rank >= 4 && readsChannelsLast(input);
  const storage = storageIn(input, last ? channelsLastFormat(rank)! : 'contiguous_format');
  // torch writes 2-D and 3-D batch norms channels last; a (N, C, L) input comes back contiguous.
  const finish = (data: ReturnType<typeof storageIn>): QTensor => {
    const y = outputTensor(data, input.shape, rank >= 3 ? (channelsLastFormat(rank) ?? 'channels_last_1d') : 'contiguous_format', out.scale, out.zeroPoint, input.dtype);
    return rank === 3 ? y.contiguous() : y;
  };
  return plan('batchNorm', [storage, input.code, last, batch, channels, spatial, w, b, m, v, e, input.scale, input.zeroPoint, out.scale, out.zeroPoint, relu], finish);
}

const LAYER_NORM_RANKS: readonly number[] = [1, 2, 3, 4, 5, 6, 7, 8];

/** @internal Layer norm over the trailing dims `normalizedShape`. */
export function planLayerNorm(x: unknown, normalizedShape: unknown, weight: unknown, bias: unknown, eps: unknown, scale: unknown, zeroPoint: unknown): Plan {
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
  return planNormalize(input, groups, groupSize, false, 0, 0, g, b, epsilon(eps), outputQParams(scale, zeroPoint, input));
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
  return planNormalize(input, batch * groups, groupSize, true, channels, channels / groups, g, b, epsilon(eps), outputQParams(scale, zeroPoint, input));
}

function planNormalize(
  input: Input, groups: number, groupSize: number, perChannel: boolean, numChannels: number, channelsPerGroup: number,
  gamma: Float32Array | null, beta: Float32Array | null, eps: number, out: { scale: number; zeroPoint: number },
): Plan {
  if (numelOf(input.shape) === 0) throw validate.invalidRange('non-empty QTensor', 'input', input.q);
  const storage = storageIn(input, 'contiguous_format');
  return plan(
    'normalize',
    [storage, input.code, groups, groupSize, perChannel, numChannels, channelsPerGroup, gamma, beta, eps, Math.fround(input.scale), input.zeroPoint, Math.fround(out.scale), out.zeroPoint],
    (data) => outputTensor(data, input.shape, 'contiguous_format', out.scale, out.zeroPoint, input.dtype),
  );
}
