// The embedding family's public members, by torch namespace; lib/nn.ts spreads each object into its namespace.

import { Embedding, EmbeddingBag } from './modules';
import {
  embedding4bit,
  embeddingBag4bitPrepack,
  embeddingBag4bitRowwiseOffsets,
  embeddingBag4bitUnpack,
  embeddingBagBytePrepack,
  embeddingBagByteRowwiseOffsets,
  embeddingBagByteUnpack,
  embeddingByte,
} from './ops';

export { Embedding, EmbeddingBag } from './modules';
export type { EmbeddingDType, FloatEmbeddingLike } from './modules';
export { Uint8Tensor } from './ops';
export type { EmbeddingBagMode, IndexInput, LookupOptions, PackedTable } from './plan';

/** Members of qF (torch.ao.nn.quantized.functional). */
export const functional = {};
/** Members of nnq (torch.ao.nn.quantized). */
export const modules = { Embedding, EmbeddingBag };
/** Members of nnqd (torch.ao.nn.quantized.dynamic). */
export const dynamicModules = {};
/** Members of nniq (torch.ao.nn.intrinsic.quantized). */
export const intrinsicModules = {};
/** Members of nniq.dynamic (torch.ao.nn.intrinsic.quantized.dynamic). */
export const intrinsicDynamicModules = {};
/** Members of ops.quantized (torch.ops.quantized). */
export const quantizedOps = {
  embeddingBagBytePrepack,
  embeddingBag4bitPrepack,
  embeddingBagByteUnpack,
  embeddingBag4bitUnpack,
  embeddingBagByteRowwiseOffsets,
  embeddingBag4bitRowwiseOffsets,
  embeddingByte,
  embedding4bit,
};
