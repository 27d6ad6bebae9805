// What a TypeScript user writes against qkernels' published declarations; compiled (not run) by test/types.test.ts.
// Each @ts-expect-error is a misuse the types must reject: if one compiles, the directive
// itself becomes an error and the test fails.
import {
  backend, dequantize, makePerChannelQuantizedTensor, makePerTensorQuantizedTensor, nn, nnq,
  quantizePerChannel, quantizePerTensor, quantizePerTensorDynamic, tensor,
} from 'qkernels';
import type { BackendInfo, Isa, MemoryFormat, QDType, QScheme, QTensor, Tensor } from 'qkernels';

const x: Tensor = tensor(new Float32Array(24), [2, 3, 4]);
const q: QTensor = quantizePerTensor(x, 0.1, 3, 'quint8');
const dtype: QDType = q.dtype;
const scheme: QScheme = q.qscheme;
const shape: readonly number[] = q.shape;
const scale: number = q.qScale();
const zeroPoint: number = q.qZeroPoint();
const ints: Uint8Array | Int8Array | Int32Array = q.intRepr();
const floats: Float32Array = dequantize(q).data;
const format: MemoryFormat = 'channels_last';
const nhwc: QTensor = quantizePerTensor(tensor(new Float32Array(16), [1, 4, 2, 2]), 0.1, 0, 'qint8').contiguous(format);
const perChannel = quantizePerChannel(x, [0.1, 0.2], [0, 1], 0, 'qint8');
const channelScales: Float64Array = perChannel.qPerChannelScales();
const axis: number = perChannel.qPerChannelAxis();
const floatQParams = quantizePerChannel(x, new Float32Array([0.1, 0.2]), new Float32Array([0.5, -1]), 0, 'quint4x2');
const dynamic = quantizePerTensorDynamic(x, 'qint8', true);
const made = makePerTensorQuantizedTensor(new Uint8Array(6), [2, 3], 0.5, 1);
const madeChannels = makePerChannelQuantizedTensor(new Int8Array(6), [2, 3], [0.1, 0.2], [0, 0], 0, 'qint8');
const info: BackendInfo = backend.info();
const isa: Isa = backend.setMaxIsa('scalar');
backend.setNumThreads(2);
const module = new nnq.Quantize(0.1, 3, 'quint8');
const same: typeof nnq = nn.quantized;
async function run(): Promise<QTensor> {
  return module.forwardAsync(x);
}

// @ts-expect-error: dtype is a closed set of strings
quantizePerTensor(x, 0.1, 3, 'float32');
// @ts-expect-error: scale is a number
quantizePerTensor(x, '0.1', 3, 'quint8');
// @ts-expect-error: the ISA cap is a closed set
backend.setMaxIsa('sse2');
// @ts-expect-error: shape is read-only
q.shape.push(1);
// @ts-expect-error: memory formats are torch's names
q.contiguous('nhwc');

export { axis, channelScales, dtype, dynamic, floatQParams, floats, info, ints, isa, made, madeChannels, nhwc, run, same, scale, scheme, shape, zeroPoint };
