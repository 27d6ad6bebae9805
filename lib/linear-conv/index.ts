// The linear-conv family's public members, by torch namespace; lib/nn.ts spreads each object into its namespace.

import {
  conv1d,
  conv1dAsync,
  conv2d,
  conv2dAsync,
  conv3d,
  conv3dAsync,
  convTranspose1d,
  convTranspose1dAsync,
  convTranspose2d,
  convTranspose2dAsync,
  convTranspose3d,
  convTranspose3dAsync,
  linear,
  linearAsync,
} from './functional';
import * as m from './modules';
import { torchOps } from './ops';

export * from './modules';
export type { ConvOptions, ConvTransposeOptions, LinearOptions } from './functional';
export type { ConvPadding, IntOrTuple, PaddingMode } from './params';
export { ConvPackedParams, LinearPackedParams } from './ops';

/** Members of qF (torch.ao.nn.quantized.functional). */
export const functional = {
  linear,
  conv1d,
  conv2d,
  conv3d,
  convTranspose1d,
  convTranspose2d,
  convTranspose3d,
  // off the event loop, same bits
  linearAsync,
  conv1dAsync,
  conv2dAsync,
  conv3dAsync,
  convTranspose1dAsync,
  convTranspose2dAsync,
  convTranspose3dAsync,
};
/** Members of nnq (torch.ao.nn.quantized). */
export const modules = {
  Linear: m.Linear,
  Conv1d: m.Conv1d,
  Conv2d: m.Conv2d,
  Conv3d: m.Conv3d,
  ConvTranspose1d: m.ConvTranspose1d,
  ConvTranspose2d: m.ConvTranspose2d,
  ConvTranspose3d: m.ConvTranspose3d,
};
/** Members of nnqd (torch.ao.nn.quantized.dynamic). */
export const dynamicModules = { Linear: m.DynamicLinear };
/** Members of nniq (torch.ao.nn.intrinsic.quantized). */
export const intrinsicModules = {
  LinearReLU: m.LinearReLU,
  LinearLeakyReLU: m.LinearLeakyReLU,
  LinearTanh: m.LinearTanh,
  ConvReLU1d: m.ConvReLU1d,
  ConvReLU2d: m.ConvReLU2d,
  ConvReLU3d: m.ConvReLU3d,
  ConvAdd2d: m.ConvAdd2d,
  ConvAddReLU2d: m.ConvAddReLU2d,
};
/** Members of nniq.dynamic (torch.ao.nn.intrinsic.quantized.dynamic). */
export const intrinsicDynamicModules = { LinearReLU: m.DynamicLinearReLU };
/** Members of ops.quantized (torch.ops.quantized): the prepack functions and the ops that run packed params. */
export const quantizedOps = { ...torchOps };
