// ESM entry: re-exports the CommonJS build (dist/index.js), so import and require share one implementation and one addon.
import qkernels from '../dist/index.js';

export const {
  tensor,
  Tensor,
  QTensor,
  quantizePerTensor,
  quantizePerChannel,
  quantizePerTensorDynamic,
  dequantize,
  makePerTensorQuantizedTensor,
  makePerChannelQuantizedTensor,
  backend,
  qF,
  nnq,
  nnqd,
  nniq,
  nn,
  ops,
  StoredTensor,
  load,
  loadAsync,
  loadArchive,
  loadArchiveAsync,
  LoadError,
  observers,
  MinMaxObserver,
  calibrate,
  image,
  models,
  bitorch,
  unitScaling,
  donate,
  recycle,
  jit,
} = qkernels;

export default qkernels;
