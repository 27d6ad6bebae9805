// What a TypeScript user writes against qkernels' published declarations; compiled (not run) by test/types.test.ts.
// Each @ts-expect-error is a misuse the types must reject: if one compiles, the directive
// itself becomes an error and the test fails.
import {
  backend, dequantize, makePerChannelQuantizedTensor, makePerTensorQuantizedTensor, nn, nniq, nnq, nnqd, qF,
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

// linear-conv
const conv: nnq.Conv2d = new nnq.Conv2d(4, 8, 3, { stride: 2, padding: 'same', paddingMode: 'reflect', groups: 2 });
conv.setWeightBias(quantizePerTensor(tensor(new Float32Array(8 * 2 * 9), [8, 2, 3, 3]), 0.1, 0, 'qint8'), null);
const convOut: QTensor = conv.forward(nhwc);
const linearModule: nnq.Linear = new nnq.Linear(4, 2, { bias: false });
const linearBias: Tensor | null = linearModule.bias();
const fused: nniq.ConvAddReLU2d = new nniq.ConvAddReLU2d(4, 4, 1);
const dynamicLinear: nnqd.Linear = new nnqd.Linear(4, 2, { reduceRange: false });
const dynamicRelu: nniq.dynamic.LinearReLU = new nniq.dynamic.LinearReLU(4, 2);
const up: nnq.ConvTranspose1d = new nnq.ConvTranspose1d(4, 4, 3, { stride: 2, outputPadding: 1 });
const viaFunctional: QTensor = qF.conv1d(q.reshape([1, 2, 12]), quantizePerTensor(tensor(new Float32Array(6), [1, 2, 3]), 0.1, 0, 'qint8'), null, { padding: 'valid' });
const viaLinear: QTensor = qF.linear(q.reshape([6, 4]), quantizePerTensor(tensor(new Float32Array(8), [2, 4]), 0.1, 0, 'qint8'));
async function runConv(): Promise<Tensor> {
  return dynamicLinear.forwardAsync(x.reshape([6, 4]));
}
// @ts-expect-error: paddingMode is a closed set
new nnq.Conv2d(4, 8, 3, { paddingMode: 'mirror' });
// @ts-expect-error: transposed convolutions take no 'same' padding
new nnq.ConvTranspose2d(4, 8, 3, { padding: 'same' });

// nn.Module: a user's subclass with children as properties, the state-dict hooks, containers, glue
class Net extends nn.Module {
  quant = new nnq.Quantize(0.1, 3, 'quint8');
  body = new nn.Sequential(new nniq.ConvReLU2d(3, 4, 3), new nn.Identity(), new nn.ReLU({ inplace: true }));
  head = new nn.ModuleList([new nn.Flatten(), new nn.Dropout({ p: 0.2 })]);
  pool = new nn.AdaptiveAvgPool2d([1, 1]);
  extra = tensor(new Float32Array(2), [2]);
  override forward(input: Tensor): QTensor {
    return this.pool.forward(this.body.forward(this.quant.forward(input)));
  }
  override async forwardAsync(input: Tensor): Promise<QTensor> {
    return qF.adaptiveAvgPool2dAsync(await this.body.forwardAsync(await this.quant.forwardAsync(input)), [1, 1]);
  }
  protected override saveToStateDict(dest: nn.StateDict, prefix: string): void {
    dest.set(`${prefix}extra`, this.extra);
  }
  protected override loadFromStateDict(ctx: nn.LoadContext, prefix: string): (() => void) | void {
    const value = ctx.read(`${prefix}extra`, (v) => v as Tensor);
    if (value !== undefined) return () => { this.extra = value; };
  }
}
const net = new Net();
const state: nn.StateDict = net.stateDict();
const incompatible: nn.IncompatibleKeys = net.loadStateDict(state, { strict: false });
const sub: nn.Module = net.getSubmodule('body.0');
const names: string[] = [...net.namedModules()].map(([name]) => name);
const printed: string = net.toString();
// @ts-expect-error: the hooks are protected
net.saveToStateDict(state, '');
// @ts-expect-error: strict is a boolean
net.loadStateDict(state, { strict: 'yes' });

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

export { incompatible, names, printed, sub };
export { conv, convOut, dynamicRelu, fused, linearBias, runConv, up, viaFunctional, viaLinear };
export { axis, channelScales, dtype, dynamic, floatQParams, floats, info, ints, isa, made, madeChannels, nhwc, run, same, scale, scheme, shape, zeroPoint };
