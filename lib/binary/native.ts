// The binary family's binding functions (native/addon/binary.cc), typed.

import { addon } from '../native';

/** How a float becomes a bit: 0 sign (x < 0 is -1; 0 and NaN are +1), 1 heaviside (x > 0 is +1, else -1). */
export type RuleCode = 0 | 1;

/** An opaque handle to prepacked binary weights. */
export type BinaryWeightHandle = { readonly __binaryWeights: unique symbol };

type ForwardArgs = [
  handle: BinaryWeightHandle,
  input: Float32Array | BigUint64Array,
  batch: number,
  inSpatial: number[],
  inputRule: RuleCode,
  outGroups: number | null,
  outRule: RuleCode,
];

/** An opaque handle to int8 weights of a multi-bit (DoReFa) layer. */
export type LowBitWeightHandle = { readonly __lowBitWeights: unique symbol };

/** A multi-bit layer's input quantization, applied natively to float activations: 0 sign, 1 steheaviside, 2 inputdorefa. */
export type LowBitInputCode = 0 | 1 | 2;

/** u8 levels as they are, or float activations with the input quantization (and inputdorefa's bits) that makes them levels. */
type LowBitArgs =
  | [handle: LowBitWeightHandle, input: Uint8Array, batch: number, inSpatial: number[]]
  | [handle: LowBitWeightHandle, input: Float32Array, batch: number, inSpatial: number[], inputQuantization: LowBitInputCode, bits: number];

export interface BinaryAddon {
  lowBitConvPrepack(geometry: Float64Array, weight: Int8Array, wScale: number, aScale: number, aZeroPoint: number, padLevel: number,
                    bias: Float32Array | null): LowBitWeightHandle;
  lowBitConvForward(...args: LowBitArgs): Float32Array;
  lowBitConvForwardAsync(...args: LowBitArgs): Promise<Float32Array>;
  /** bitorch's forward of an input quantization: 0 sign, 1 steheaviside (+-1), 2 inputdorefa of `bits` (1 to 16). */
  binaryQuantize(x: Float32Array, inputQuantization: LowBitInputCode, bits: number): Float32Array;
  binaryConvPrepack(geometry: Float64Array, weight: Float32Array, padValue: number, bias: Float32Array | null): BinaryWeightHandle;
  binaryPack(x: Float32Array, batch: number, channels: number, positions: number, groups: number, rule: RuleCode): BigUint64Array;
  binaryUnpack(bits: BigUint64Array, batch: number, channels: number, positions: number, groups: number): Float32Array;
  binaryConvForward(...args: ForwardArgs): Float32Array | BigUint64Array;
  binaryConvForwardAsync(...args: ForwardArgs): Promise<Float32Array | BigUint64Array>;
  releaseWeights(handle: BinaryWeightHandle | LowBitWeightHandle): void;
}

export const binaryAddon = addon as unknown as BinaryAddon;
