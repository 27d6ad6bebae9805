// The pool-norm family's public members, by torch namespace; lib/nn.ts spreads each object into its namespace.

import * as f from './functional';
import * as m from './modules';
import * as o from './ops';

/** Members of qF (torch.ao.nn.quantized.functional). */
export const functional = {
  maxPool1d: f.maxPool1d,
  maxPool2d: f.maxPool2d,
  maxPool3d: f.maxPool3d,
  avgPool1d: f.avgPool1d,
  avgPool2d: f.avgPool2d,
  avgPool3d: f.avgPool3d,
  adaptiveAvgPool1d: f.adaptiveAvgPool1d,
  adaptiveAvgPool2d: f.adaptiveAvgPool2d,
  adaptiveAvgPool3d: f.adaptiveAvgPool3d,
  adaptiveMaxPool1d: f.adaptiveMaxPool1d,
  adaptiveMaxPool2d: f.adaptiveMaxPool2d,
  interpolate: f.interpolate,
  interpolateAsync: f.interpolateAsync,
  upsample: f.upsample,
  upsampleBilinear: f.upsampleBilinear,
  upsampleNearest: f.upsampleNearest,
  // off the event loop, same bits
  maxPool1dAsync: f.maxPool1dAsync,
  maxPool2dAsync: f.maxPool2dAsync,
  maxPool3dAsync: f.maxPool3dAsync,
  avgPool1dAsync: f.avgPool1dAsync,
  avgPool2dAsync: f.avgPool2dAsync,
  avgPool3dAsync: f.avgPool3dAsync,
  adaptiveAvgPool1dAsync: f.adaptiveAvgPool1dAsync,
  adaptiveAvgPool2dAsync: f.adaptiveAvgPool2dAsync,
  adaptiveAvgPool3dAsync: f.adaptiveAvgPool3dAsync,
  adaptiveMaxPool1dAsync: f.adaptiveMaxPool1dAsync,
  adaptiveMaxPool2dAsync: f.adaptiveMaxPool2dAsync,
  upsampleAsync: f.upsampleAsync,
  upsampleBilinearAsync: f.upsampleBilinearAsync,
  upsampleNearestAsync: f.upsampleNearestAsync,
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
  batchNorm1d: o.batchNorm1d,
  batchNorm2d: o.batchNorm2d,
  batchNorm3d: o.batchNorm3d,
  batchNorm2dRelu: o.batchNorm2dRelu,
  batchNorm3dRelu: o.batchNorm3dRelu,
  layerNorm: o.layerNorm,
  groupNorm: o.groupNorm,
  instanceNorm: o.instanceNorm,
  // off the event loop, same bits
  batchNorm1dAsync: o.batchNorm1dAsync,
  batchNorm2dAsync: o.batchNorm2dAsync,
  batchNorm3dAsync: o.batchNorm3dAsync,
  batchNorm2dReluAsync: o.batchNorm2dReluAsync,
  batchNorm3dReluAsync: o.batchNorm3dReluAsync,
  layerNormAsync: o.layerNormAsync,
  groupNormAsync: o.groupNormAsync,
  instanceNormAsync: o.instanceNormAsync,
};
