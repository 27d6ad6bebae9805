// The public API of qkernels: exactly the names of doc/foundation-api.md, mirroring torch.ao.nn.quantized.

export { Tensor, tensor } from './tensor';
export {
  QTensor,
  dequantize,
  makePerChannelQuantizedTensor,
  makePerTensorQuantizedTensor,
  quantizePerChannel,
  quantizePerTensor,
  quantizePerTensorDynamic,
} from './qtensor';
export type { QDType, QScheme } from './qtensor';
export type { MemoryFormat } from './shape';
export { backend } from './backend';
export type { BackendInfo, Isa, QuantizedEngine } from './backend';
export { nn, nniq, nnq, nnqd, ops, qF } from './nn';
export { StoredTensor } from './io/stored-tensor';
export type { StoredDType, StoredTensorData } from './io/stored-tensor';
export { LoadError, load, loadArchive, loadArchiveAsync, loadAsync } from './io/load';
export type { LoadedArchive } from './io/load';
export type { StateDict, StateValue } from './io/state-dict';
export * as observers from './observers';
export { MinMaxObserver, calibrate } from './observers';
export * as image from './image';
export { models } from './models';
export { bitorch } from './binary';
export { unitScaling } from './unit-scaling';
export { donate, recycle } from './handoff';
export * as jit from './jit';
export type { TraceOptions } from './jit';
