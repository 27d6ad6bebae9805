// The pool-norm family's binding functions (native/addon/pool-norm.cc), typed.

import { QStorage, addon } from '../native';

/** The binding functions of native/addon/pool-norm.cc (sync, and Async returning a Promise). */
interface PoolNormAddon {
  maxPool(x: QStorage, dtype: number, layout: number, geometry: Float64Array): QStorage;
  /** qnnpackScale: 0 for PyTorch's own kernel, else the input scale, for QNNPACK's average pooling when the engine in force (read by the binding) is qnnpack. */
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

/** The name of a sync binding function; its Promise twin is `${name}Async`. */
export type OpName = keyof PoolNormAddon;
export type AsyncFn = (...args: unknown[]) => Promise<QStorage>;
export const native = addon as unknown as PoolNormAddon & Record<string, AsyncFn>;
