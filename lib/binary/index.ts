// The binary family's public members: the `bitorch` namespace (layers, quantizations, bit packing).

import { BitTensor, QActivation, QConv1d, QConv1d_NoAct, QConv2d, QConv2d_NoAct, QConv3d, QConv3d_NoAct, QLinear, pack } from './modules';
import {
  ApproxSign, Identity, InputDoReFa, ProgressiveSign, Quantization, Sign, SteHeaviside, SwishSign, WeightDoReFa,
  quantizationFromName, quantizationNames,
} from './quantizations';

export type { BitsOptions, PackOptions, QConvNoActOptions, QConvOptions, QLinearOptions } from './modules';

/** bitorch's layers and quantizations at inference (doc/binary.md). */
export const bitorch = Object.freeze({
  QConv1d, QConv1d_NoAct, QConv2d, QConv2d_NoAct, QConv3d, QConv3d_NoAct, QLinear, QActivation,
  BitTensor, pack,
  Quantization, Sign, ApproxSign, SwishSign, SteHeaviside, ProgressiveSign, WeightDoReFa, InputDoReFa, Identity,
  quantizationFromName, quantizationNames,
  quantizations: Object.freeze({ Sign, ApproxSign, SwishSign, SteHeaviside, ProgressiveSign, WeightDoReFa, InputDoReFa, Identity,
                                 quantizationFromName, quantizationNames }),
});
