// The linear-conv family's view of the binding (native/addon/linear-conv.cc): prepack handles and the ops that use them.

import { addon } from '../native';

/** A prepacked weight owned by native code (a Napi::External holding a shared_ptr); opaque to JS. */
export interface PackedHandle {
  readonly __qkernelsPacked: unique symbol;
}

/** What unpack returns: the original int8 weights and the fp32 bias (null when there is none). */
export interface Unpacked {
  weight: Int8Array;
  bias: Float32Array | null;
}

/** The fused epilogue of a quint8 linear: codes of native/addon/linear-conv.cc's Activation. */
export const enum Activation {
  None = 0,
  ReLU = 1,
  LeakyReLU = 2,
  Tanh = 3,
}

/** Length of the Float64Array that describes a conv to native code (see GEOMETRY_FIELDS in linear-conv.cc). */
export const GEOMETRY_LENGTH = 24;

/** The Promise variant of a sync op: same arguments, computed on qkernels' async job queue. */
type AsyncOf<F extends (...args: never[]) => unknown> = (...args: Parameters<F>) => Promise<ReturnType<F>>;

type LinearOp = (
  handle: PackedHandle,
  x: Uint8Array,
  rows: number,
  xScale: number,
  xZeroPoint: number,
  yScale: number,
  yZeroPoint: number,
  activation: number,
  alpha: number,
) => Uint8Array;
type LinearDynamicOp = (handle: PackedHandle, x: Float32Array, rows: number, reduceRange: boolean, relu: boolean) => Float32Array;
/** inSpatial: 3 entries (unused ones 1); layout 0 contiguous, 1 channels_last, 2 contiguous in and channels_last out; `extra` (ConvAdd) or null. */
type ConvOp = (
  handle: PackedHandle,
  x: Uint8Array,
  batch: number,
  inSpatial: Float64Array,
  layout: number,
  xScale: number,
  xZeroPoint: number,
  yScale: number,
  yZeroPoint: number,
  relu: boolean,
  extra: Uint8Array | null,
  extraScale: number,
  extraZeroPoint: number,
) => Uint8Array;

export interface LinearConvAddon {
  linearPrepack(
    weight: Int8Array,
    outFeatures: number,
    inFeatures: number,
    scales: Float64Array,
    zeroPoints: Int32Array,
    bias: Float32Array | null,
  ): PackedHandle;
  linearUnpack(handle: PackedHandle): Unpacked;
  /** Frees a linear or conv handle's weights now; later uses of the handle throw a TypeError. */
  releaseWeights(handle: PackedHandle): void;
  linear: LinearOp;
  linearAsync: AsyncOf<LinearOp>;
  linearDynamic: LinearDynamicOp;
  linearDynamicAsync: AsyncOf<LinearDynamicOp>;
  convPrepack(geometry: Float64Array, weight: Int8Array, scales: Float64Array, zeroPoints: Int32Array, bias: Float32Array | null): PackedHandle;
  convUnpack(handle: PackedHandle): Unpacked;
  conv: ConvOp;
  convAsync: AsyncOf<ConvOp>;
}

/** The addon's linear-conv functions (lib/native.ts declares only the foundation's). */
export const native: LinearConvAddon = addon as unknown as LinearConvAddon;
