// The torch-shaped namespaces: qF, nnq, nnqd, nniq, nn and ops, each a frozen object assembled from the families.
//
// nn.quantized === nnq, nn.quantized.functional === nnq.functional === qF,
// nn.quantized.dynamic === nnq.dynamic === nnqd, nn.intrinsic.quantized === nniq,
// nniq.dynamic === nn.intrinsic.quantized.dynamic, ops.quantized mirrors torch.ops.quantized
// (camelCase). Each family (lib/<family>/index.ts) exports one object per namespace; the
// values are spread in here, and each module class also gets a type alias in the
// namespace declarations below (so `let m: nnq.Conv2d` works as it does in torch).

import * as elementwise from './elementwise';
import * as embedding from './embedding';
import * as linearConv from './linear-conv';
import { ModuleDict as ModuleDictClass, ModuleList as ModuleListClass, Sequential as SequentialClass } from './nn/containers';
import * as glue from './nn/glue';
import { Module as ModuleClass, StateDictError as StateDictErrorClass } from './nn/module';
import { DeQuantize as DeQuantizeModule, Quantize as QuantizeModule } from './modules/quantize';
import * as poolNorm from './pool-norm';

/** torch.ao.nn.quantized.functional. */
export const qF = Object.freeze({
  ...linearConv.functional,
  ...elementwise.functional,
  ...poolNorm.functional,
  ...embedding.functional,
});

/** torch.ao.nn.quantized.dynamic. */
export const nnqd = Object.freeze({
  ...linearConv.dynamicModules,
  ...elementwise.dynamicModules,
  ...poolNorm.dynamicModules,
  ...embedding.dynamicModules,
});

/** torch.ao.nn.intrinsic.quantized.dynamic. */
const nniqDynamic = Object.freeze({
  ...linearConv.intrinsicDynamicModules,
  ...elementwise.intrinsicDynamicModules,
  ...poolNorm.intrinsicDynamicModules,
  ...embedding.intrinsicDynamicModules,
});

/** torch.ao.nn.intrinsic.quantized. */
export const nniq = Object.freeze({
  ...linearConv.intrinsicModules,
  ...elementwise.intrinsicModules,
  ...poolNorm.intrinsicModules,
  ...embedding.intrinsicModules,
  dynamic: nniqDynamic,
});

/** torch.ao.nn.quantized. */
export const nnq = Object.freeze({
  Quantize: QuantizeModule,
  DeQuantize: DeQuantizeModule,
  ...linearConv.modules,
  ...elementwise.modules,
  ...poolNorm.modules,
  ...embedding.modules,
  functional: qF,
  dynamic: nnqd,
});

// ---- module classes as types ------------------------------------------------------------------
// One alias per class, in each family's block.
export declare namespace nnq {
  // quantize
  type Quantize = QuantizeModule;
  type DeQuantize = DeQuantizeModule;

  // linear-conv
  type Linear = linearConv.Linear;
  type Conv1d = linearConv.Conv1d;
  type Conv2d = linearConv.Conv2d;
  type Conv3d = linearConv.Conv3d;
  type ConvTranspose1d = linearConv.ConvTranspose1d;
  type ConvTranspose2d = linearConv.ConvTranspose2d;
  type ConvTranspose3d = linearConv.ConvTranspose3d;

  // elementwise
  type ReLU6 = elementwise.ReLU6;
  type Hardswish = elementwise.Hardswish;
  type ELU = elementwise.ELU;
  type LeakyReLU = elementwise.LeakyReLU;
  type Sigmoid = elementwise.Sigmoid;
  type Softmax = elementwise.Softmax;
  type PReLU = elementwise.PReLU;
  type Dropout = elementwise.Dropout;
  type QFunctional = elementwise.QFunctional;
  type FloatFunctional = elementwise.FloatFunctional;
  type FXFloatFunctional = elementwise.FXFloatFunctional;

  // pool-norm
  type MaxPool1d = InstanceType<typeof poolNorm.modules.MaxPool1d>;
  type MaxPool2d = InstanceType<typeof poolNorm.modules.MaxPool2d>;
  type MaxPool3d = InstanceType<typeof poolNorm.modules.MaxPool3d>;
  type AvgPool1d = InstanceType<typeof poolNorm.modules.AvgPool1d>;
  type AvgPool2d = InstanceType<typeof poolNorm.modules.AvgPool2d>;
  type AvgPool3d = InstanceType<typeof poolNorm.modules.AvgPool3d>;
  type AdaptiveAvgPool1d = InstanceType<typeof poolNorm.modules.AdaptiveAvgPool1d>;
  type AdaptiveAvgPool2d = InstanceType<typeof poolNorm.modules.AdaptiveAvgPool2d>;
  type AdaptiveAvgPool3d = InstanceType<typeof poolNorm.modules.AdaptiveAvgPool3d>;
  type AdaptiveMaxPool1d = InstanceType<typeof poolNorm.modules.AdaptiveMaxPool1d>;
  type AdaptiveMaxPool2d = InstanceType<typeof poolNorm.modules.AdaptiveMaxPool2d>;
  type Upsample = InstanceType<typeof poolNorm.modules.Upsample>;
  type BatchNorm1d = InstanceType<typeof poolNorm.modules.BatchNorm1d>;
  type BatchNorm2d = InstanceType<typeof poolNorm.modules.BatchNorm2d>;
  type BatchNorm3d = InstanceType<typeof poolNorm.modules.BatchNorm3d>;
  type LayerNorm = InstanceType<typeof poolNorm.modules.LayerNorm>;
  type GroupNorm = InstanceType<typeof poolNorm.modules.GroupNorm>;
  type InstanceNorm1d = InstanceType<typeof poolNorm.modules.InstanceNorm1d>;
  type InstanceNorm2d = InstanceType<typeof poolNorm.modules.InstanceNorm2d>;
  type InstanceNorm3d = InstanceType<typeof poolNorm.modules.InstanceNorm3d>;

  // embedding
  type Embedding = embedding.Embedding;
  type EmbeddingBag = embedding.EmbeddingBag;
}

export declare namespace nnqd {
  // linear-conv
  type Linear = linearConv.DynamicLinear;

  // elementwise
}

export declare namespace nniq {
  // linear-conv
  type LinearReLU = linearConv.LinearReLU;
  type LinearLeakyReLU = linearConv.LinearLeakyReLU;
  type LinearTanh = linearConv.LinearTanh;
  type ConvReLU1d = linearConv.ConvReLU1d;
  type ConvReLU2d = linearConv.ConvReLU2d;
  type ConvReLU3d = linearConv.ConvReLU3d;
  type ConvAdd2d = linearConv.ConvAdd2d;
  type ConvAddReLU2d = linearConv.ConvAddReLU2d;
  namespace dynamic {
    type LinearReLU = linearConv.DynamicLinearReLU;
  }

  // elementwise

  // pool-norm
  type BNReLU2d = InstanceType<typeof poolNorm.intrinsicModules.BNReLU2d>;
  type BNReLU3d = InstanceType<typeof poolNorm.intrinsicModules.BNReLU3d>;
}

/** torch.nn as a converted model uses it: the Module base class, containers and the float-side glue; torch.ao.nn's quantized and intrinsic. */
export const nn = Object.freeze({
  Module: ModuleClass,
  Sequential: SequentialClass,
  ModuleList: ModuleListClass,
  ModuleDict: ModuleDictClass,
  StateDictError: StateDictErrorClass,
  Identity: glue.Identity,
  Flatten: glue.Flatten,
  ReLU: glue.ReLU,
  ReLU6: glue.ReLU6,
  Hardsigmoid: glue.Hardsigmoid,
  Hardswish: glue.Hardswish,
  Dropout: glue.Dropout,
  // torch.nn's pooling modules run the quantized kernels on QTensors: the same classes as nnq's.
  MaxPool2d: poolNorm.modules.MaxPool2d,
  AvgPool2d: poolNorm.modules.AvgPool2d,
  AdaptiveAvgPool2d: poolNorm.modules.AdaptiveAvgPool2d,
  Upsample: poolNorm.modules.Upsample,
  quantized: nnq,
  intrinsic: Object.freeze({ quantized: nniq }),
});

export declare namespace nn {
  // lib/nn: base class and containers
  type Module = ModuleClass;
  type Sequential = SequentialClass;
  type ModuleList = ModuleListClass;
  type ModuleDict = ModuleDictClass;
  type StateDictError = StateDictErrorClass;
  type StateDict = import('./nn/state').StateDict;
  type StateValue = import('./nn/state').StateValue;
  type LoadContext = import('./nn/module').LoadContext;
  type IncompatibleKeys = import('./nn/module').IncompatibleKeys;

  // lib/nn/glue: the float modules a converted model keeps
  type Identity = glue.Identity;
  type Flatten = glue.Flatten;
  type ReLU = glue.ReLU;
  type ReLU6 = glue.ReLU6;
  type Hardsigmoid = glue.Hardsigmoid;
  type Hardswish = glue.Hardswish;
  type Dropout = glue.Dropout;
  type MaxPool2d = InstanceType<typeof poolNorm.modules.MaxPool2d>;
  type AvgPool2d = InstanceType<typeof poolNorm.modules.AvgPool2d>;
  type AdaptiveAvgPool2d = InstanceType<typeof poolNorm.modules.AdaptiveAvgPool2d>;
  type Upsample = InstanceType<typeof poolNorm.modules.Upsample>;
}

/** torch.ops. */
export const ops = Object.freeze({
  quantized: Object.freeze({
    ...linearConv.quantizedOps,
    ...elementwise.quantizedOps,
    ...poolNorm.quantizedOps,
    ...embedding.quantizedOps,
  }),
});
