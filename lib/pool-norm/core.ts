// The pool-norm family's plumbing: the binding's typed entry points, reading QTensor inputs, making outputs, sync/async plans.

import { OpPlan, makePlan } from '../plan';
import { QStorage, addon } from '../native';
import { QDType, QTensor, makePerTensorQuantizedTensor } from '../qtensor';
import { MemoryFormat, isContiguousAs, numelOf, suggestMemoryFormat } from '../shape';
import * as validate from '../validate';

/** The binding functions of native/addon/pool-norm.cc (sync, and Async returning a Promise). */
interface PoolNormAddon {
  maxPool(x: QStorage, dtype: number, layout: number, geometry: Float64Array): QStorage;
  /** qnnpackScale: 0 for PyTorch's own kernel, else the input scale for QNNPACK's average pooling (engine qnnpack). */
  avgPool(x: QStorage, dtype: number, layout: number, geometry: Float64Array, countIncludePad: boolean, divisorOverride: number, zeroPoint: number, qnnpackScale: number): QStorage;
  adaptiveAvgPool(x: QStorage, dtype: number, layout: number, geometry: Float64Array, zeroPoint: number): QStorage;
  adaptiveMaxPool(x: QStorage, dtype: number, layout: number, geometry: Float64Array): QStorage;
  batchNorm(
    x: QStorage, dtype: number, channelsLast: boolean, batch: number, channels: number, spatial: number,
    weight: Float32Array | null, bias: Float32Array | null, mean: Float32Array, variance: Float32Array,
    eps: number, xScale: number, xZeroPoint: number, yScale: number, yZeroPoint: number, relu: boolean,
  ): QStorage;
  normalize(
    x: QStorage, dtype: number, groups: number, groupSize: number, perChannel: boolean, numChannels: number,
    channelsPerGroup: number, gamma: Float32Array | null, beta: Float32Array | null, eps: number,
    xScale: number, xZeroPoint: number, yScale: number, yZeroPoint: number,
  ): QStorage;
  upsampleNearest(x: QStorage, dtype: number, layout: number, geometry: Float64Array): QStorage;
  upsampleBilinear(x: QStorage, dtype: number, layout: number, geometry: Float64Array, alignCorners: boolean, zeroPoint: number): QStorage;
}

type OpName = keyof PoolNormAddon;
type AsyncFn = (...args: unknown[]) => Promise<QStorage>;
const native = addon as unknown as PoolNormAddon & Record<string, AsyncFn>;

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
export function checkInput(x: unknown, parameter: string, ranks: readonly number[], what: string): Input {
  if (!(x instanceof QTensor)) throw validate.invalidType('QTensor', parameter, x);
  validate.attached(x.data, `${parameter}.data`);
  if (x.qscheme !== 'per_tensor_affine') throw validate.invalidRange('per_tensor_affine QTensor', parameter, x);
  const code = DTYPE_CODES[x.dtype];
  if (code === undefined) throw validate.invalidRange('QTensor of dtype quint8 or qint8', parameter, x);
  if (!ranks.includes(x.dim())) throw validate.invalidRange(`${what} QTensor (${ranks.join('-D or ')}-D)`, parameter, x);
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
  if (format === 'contiguous_format') return makePerTensorQuantizedTensor(storage, shape, scale, zeroPoint, dtype);
  const rank = shape.length;
  const memoryShape = [shape[0], ...shape.slice(2), shape[1]];
  const order = [0, rank - 1, ...Array.from({ length: rank - 2 }, (_, i) => i + 1)];
  return makePerTensorQuantizedTensor(storage, memoryShape, scale, zeroPoint, dtype).permute(order);
}

/** An op ready to run now or off the event loop (same bits). */
export type Plan = OpPlan<QTensor>;

/** The plan of binding function `op` (its Async twin runs off the event loop) on `args`. */
export function plan(op: OpName, args: readonly unknown[], finish: (storage: QStorage) => QTensor): Plan {
  return makePlan(
    () => (native[op] as unknown as (...a: unknown[]) => QStorage)(...args),
    () => native[`${op}Async`](...args),
    finish,
  );
}
