// The embedding family's public members, by torch namespace; lib/nn.ts spreads each object into its namespace.

/** Members of qF (torch.ao.nn.quantized.functional). */
export const functional = {};
/** Members of nnq (torch.ao.nn.quantized). */
export const modules = {};
/** Members of nnqd (torch.ao.nn.quantized.dynamic). */
export const dynamicModules = {};
/** Members of nniq (torch.ao.nn.intrinsic.quantized). */
export const intrinsicModules = {};
/** Members of nniq.dynamic (torch.ao.nn.intrinsic.quantized.dynamic). */
export const intrinsicDynamicModules = {};
/** Members of ops.quantized (torch.ops.quantized). */
export const quantizedOps = {};
