// The pool-norm family's public members, by torch namespace; lib/nn.ts spreads each object into its namespace.

import * as api from './api';
import * as m from './modules';

/** Members of qF (torch.ao.nn.quantized.functional). */
export const functional = {
  maxPool1d: api.maxPool1d,
  maxPool2d: api.maxPool2d,
  maxPool3d: api.maxPool3d,
  avgPool1d: api.avgPool1d,
  avgPool2d: api.avgPool2d,
  avgPool3d: api.avgPool3d,
  adaptiveAvgPool1d: api.adaptiveAvgPool1d,
  adaptiveAvgPool2d: api.adaptiveAvgPool2d,
  adaptiveAvgPool3d: api.adaptiveAvgPool3d,
  adaptiveMaxPool1d: api.adaptiveMaxPool1d,
  adaptiveMaxPool2d: api.adaptiveMaxPool2d,
  interpolate: api.interpolate,
  interpolateAsync: api.interpolateAsync,
  upsample: api.upsample,
  upsampleBilinear: api.upsampleBilinear,
  upsampleNearest: api.upsampleNearest,
  // off the event loop, same bits
  maxPool1dAsync: api.maxPool1dAsync,
  maxPool2dAsync: api.maxPool2dAsync,
  maxPool3dAsync: api.maxPool3dAsync,
  avgPool1dAsync: api.avgPool1dAsync,
  avgPool2dAsync: api.avgPool2dAsync,
  avgPool3dAsync: api.avgPool3dAsync,
  adaptiveAvgPool1dAsync: api.adaptiveAvgPool1dAsync,
  adaptiveAvgPool2dAsync: api.adaptiveAvgPool2dAsync,
  adaptiveAvgPool3dAsync: api.adaptiveAvgPool3dAsync,
  adaptiveMaxPool1dAsync: api.adaptiveMaxPool1dAsync,
  adaptiveMaxPool2dAsync: api.adaptiveMaxPool2dAsync,
  upsampleAsync: api.upsampleAsync,
  upsampleBilinearAsync: api.upsampleBilinearAsync,
  upsampleNearestAsync: api.upsampleNearestAsync,
};
/** Members of nnq (torch.ao.nn.quantized). */
export const modules = {
  MaxPool1d: m.MaxPool1d,
  MaxPool2d: m.MaxPool2d,
  MaxPool3d: m.MaxPool3d,
  AvgPool1d: m.AvgPool1d,
  AvgPool2d: m.AvgPool2d,
  AvgPool3d: m.AvgPool3d,
  AdaptiveAvgPool1d: m.AdaptiveAvgPool1d,
  AdaptiveAvgPool2d: m.AdaptiveAvgPool2d,
  AdaptiveAvgPool3d: m.AdaptiveAvgPool3d,
  AdaptiveMaxPool1d: m.AdaptiveMaxPool1d,
  AdaptiveMaxPool2d: m.AdaptiveMaxPool2d,
  Upsample: m.Upsample,
  BatchNorm1d: m.BatchNorm1d,
  BatchNorm2d: m.BatchNorm2d,
  BatchNorm3d: m.BatchNorm3d,
  LayerNorm: m.LayerNorm,
  GroupNorm: m.GroupNorm,
  InstanceNorm1d: m.InstanceNorm1d,
  InstanceNorm2d: m.InstanceNorm2d,
  InstanceNorm3d: m.InstanceNorm3d,
};
/** Members of nnqd (torch.ao.nn.quantized.dynamic). */
export const dynamicModules = {};
/** Members of nniq (torch.ao.nn.intrinsic.quantized). */
export const intrinsicModules = {
  BNReLU2d: m.BNReLU2d,
  BNReLU3d: m.BNReLU3d,
};
/** Members of nniq.dynamic (torch.ao.nn.intrinsic.quantized.dynamic). */
export const intrinsicDynamicModules = {};
/** Members of ops.quantized (torch.ops.quantized). */
export const quantizedOps = {
  batchNorm1d: api.batchNorm1d,
  batchNorm2d: api.batchNorm2d,
  batchNorm3d: api.batchNorm3d,
  batchNorm2dRelu: api.batchNorm2dRelu,
  batchNorm3dRelu: api.batchNorm3dRelu,
  layerNorm: api.layerNorm,
  groupNorm: api.groupNorm,
  instanceNorm: api.instanceNorm,
  // off the event loop, same bits
  batchNorm1dAsync: api.batchNorm1dAsync,
  batchNorm2dAsync: api.batchNorm2dAsync,
  batchNorm3dAsync: api.batchNorm3dAsync,
  batchNorm2dReluAsync: api.batchNorm2dReluAsync,
  batchNorm3dReluAsync: api.batchNorm3dReluAsync,
  layerNormAsync: api.layerNormAsync,
  groupNormAsync: api.groupNormAsync,
  instanceNormAsync: api.instanceNormAsync,
};
