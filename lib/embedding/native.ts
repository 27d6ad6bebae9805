// The embedding family's binding functions (native/addon/embedding.cc), typed.

import { addon } from '../native';

/** An Int32Array or BigInt64Array of indices or offsets, as the binding takes them. */
export type IndexStorage = Int32Array | BigInt64Array;

/**
 * embeddingBagLookup's arguments: the table (bytes, rows, rowBytes, bits), indices, offsets,
 * includeLastOffset, mode (0 sum, 1 mean, 2 max), perSampleWeights, prunedWeights,
 * compressedIndicesMapping, paddingIdx.
 */
export type LookupArgs = readonly [
  packed: Uint8Array | TableHandle,
  rows: number,
  rowBytes: number,
  bits: number,
  indices: IndexStorage,
  offsets: IndexStorage,
  includeLastOffset: boolean,
  mode: number,
  perSampleWeights: Float32Array | null,
  prunedWeights: boolean,
  compressedIndicesMapping: Int32Array | null,
  paddingIdx: number | null,
];

/** A packed table copied once into native memory, shared by async lookups (embeddingTable). */
export interface TableHandle {
  readonly __qkernelsEmbeddingTable: unique symbol;
}

export interface EmbeddingAddon {
  embeddingTable(packed: Uint8Array): TableHandle;
  releaseWeights(handle: TableHandle): void;
  embeddingBagPrepack(weight: Float32Array, rows: number, dim: number, bits: number, optimizedQparams: boolean): Uint8Array;
  embeddingBagPrepackAsync(weight: Float32Array, rows: number, dim: number, bits: number, optimizedQparams: boolean): Promise<Uint8Array>;
  embeddingBagPackQuantized(q: Uint8Array, rows: number, dim: number, bits: number, scales: Float32Array, zeroPoints: Float32Array): Uint8Array;
  embeddingBagUnpack(packed: Uint8Array, rows: number, rowBytes: number, bits: number): Float32Array;
  embeddingBagLookup(...args: LookupArgs): Float32Array;
  embeddingBagLookupAsync(...args: LookupArgs): Promise<Float32Array>;
  embeddingBagGatherBound(packed: Uint8Array, rows: number, rowBytes: number, indices: Int32Array): number;
}

export const embeddingAddon = addon as unknown as EmbeddingAddon;
