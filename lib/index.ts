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
export type { BackendInfo, Isa } from './backend';
export { nn, nniq, nnq, nnqd, ops, qF } from './nn';
export { bitorch } from './binary';
export { unitScaling } from './unit-scaling';
