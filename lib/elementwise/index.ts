// The elementwise family's public members, by torch namespace; lib/nn.ts spreads each object into its namespace.

import * as f from './functional';
import { celu, clamp, elu, hardsigmoid, hardswish, hardtanh, leakyRelu, relu, relu6, sigmoid, tanh, threshold } from './functional';
import { Dropout, ELU, FXFloatFunctional, FloatFunctional, Hardswish, LeakyReLU, PReLU, QFunctional, ReLU6, Sigmoid, Softmax } from './modules';
import * as quantized from './ops';

export {
  Dropout,
  ELU,
  FXFloatFunctional,
  FloatFunctional,
  Hardswish,
  LeakyReLU,
  PReLU,
  QFunctional,
  ReLU6,
  Sigmoid,
  Softmax,
};

/** Members of qF (torch.ao.nn.quantized.functional); relu, relu6, sigmoid and tanh are torch's functions on quantized tensors. */
export const functional = {
  celu,
  clamp,
  elu,
  hardsigmoid,
  hardswish,
  hardtanh,
  leakyRelu,
  relu,
  relu6,
  sigmoid,
  tanh,
  threshold,
  // off the event loop, same bits
  celuAsync: f.celuAsync,
  clampAsync: f.clampAsync,
  eluAsync: f.eluAsync,
  hardsigmoidAsync: f.hardsigmoidAsync,
  hardswishAsync: f.hardswishAsync,
  hardtanhAsync: f.hardtanhAsync,
  leakyReluAsync: f.leakyReluAsync,
  reluAsync: f.reluAsync,
  relu6Async: f.relu6Async,
  sigmoidAsync: f.sigmoidAsync,
  tanhAsync: f.tanhAsync,
  thresholdAsync: f.thresholdAsync,
};
/** Members of nnq (torch.ao.nn.quantized). */
export const modules = { Dropout, ELU, FXFloatFunctional, FloatFunctional, Hardswish, LeakyReLU, PReLU, QFunctional, ReLU6, Sigmoid, Softmax };
/** Members of nnqd (torch.ao.nn.quantized.dynamic). */
export const dynamicModules = {};
/** Members of nniq (torch.ao.nn.intrinsic.quantized). */
export const intrinsicModules = {};
/** Members of nniq.dynamic (torch.ao.nn.intrinsic.quantized.dynamic). */
export const intrinsicDynamicModules = {};
/** Members of ops.quantized (torch.ops.quantized). */
export const quantizedOps = {
  add: quantized.add,
  addRelu: quantized.addRelu,
  addScalar: quantized.addScalar,
  addScalarRelu: quantized.addScalarRelu,
  cat: quantized.cat,
  celu: quantized.celu,
  elu: quantized.elu,
  hardswish: quantized.hardswish,
  leakyRelu: quantized.leakyRelu,
  matmul: quantized.matmul,
  mul: quantized.mul,
  mulRelu: quantized.mulRelu,
  mulScalar: quantized.mulScalar,
  mulScalarRelu: quantized.mulScalarRelu,
  prelu: quantized.prelu,
  relu6: quantized.relu6,
  sigmoid: quantized.sigmoid,
  softmax: quantized.softmax,
  threshold: quantized.threshold,
  // off the event loop, same bits (catAsync: computed at call time on the main thread)
  addAsync: quantized.addAsync,
  addReluAsync: quantized.addReluAsync,
  addScalarAsync: quantized.addScalarAsync,
  addScalarReluAsync: quantized.addScalarReluAsync,
  catAsync: quantized.catAsync,
  celuAsync: quantized.celuAsync,
  eluAsync: quantized.eluAsync,
  hardswishAsync: quantized.hardswishAsync,
  mulAsync: quantized.mulAsync,
  mulReluAsync: quantized.mulReluAsync,
  mulScalarAsync: quantized.mulScalarAsync,
  mulScalarReluAsync: quantized.mulScalarReluAsync,
  sigmoidAsync: quantized.sigmoidAsync,
  thresholdAsync: quantized.thresholdAsync,
};
