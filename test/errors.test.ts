// Every public function rejects bad input with TypeError/RangeError in sharp's message shape, naming the parameter; the process never crashes.
import * as qk from '..';
import { backend, dequantize, makePerChannelQuantizedTensor, makePerTensorQuantizedTensor, nnq, quantizePerChannel, quantizePerTensor, quantizePerTensorDynamic, Tensor, tensor } from '..';
import { runNodeJson } from './helpers/child';
import { describeThrown, ErrorClassName, expectValidationError, isErrorOfClass } from './helpers/errors';
import { testSeed } from './helpers/random';

// Deliberately ill-typed calls go through `any`: the point is what happens at run time.
// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Loose = any;
const loose = qk as Loose;

type Row = [label: string, errorClass: ErrorClassName, parameter: string, call: () => unknown];

/** A Float32Array whose buffer has been transferred away (detached). */
function detachedFloat32(n = 4): Float32Array {
  const array = new Float32Array(n);
  structuredClone(array.buffer, { transfer: [array.buffer] });
  return array;
}

function detach(view: ArrayBufferView): void {
  structuredClone(view.buffer, { transfer: [view.buffer as ArrayBuffer] });
}

const x23 = () => tensor(Float32Array.from([1, 2, 3, 4, 5, 6]), [2, 3]);
const q23 = () => quantizePerTensor(x23(), 0.1, 3, 'quint8');
const qc23 = () => quantizePerChannel(x23(), [0.1, 0.2], [0, 1], 0, 'qint8');

const BAD_SCALES: Array<[string, unknown, ErrorClassName]> = [
  ['NaN', NaN, 'RangeError'],
  ['Infinity', Infinity, 'RangeError'],
  ['-Infinity', -Infinity, 'RangeError'],
  ['0', 0, 'RangeError'],
  ['-0', -0, 'RangeError'],
  ['-1', -1, 'RangeError'],
  ['a string', '0.1', 'TypeError'],
  ['null', null, 'TypeError'],
  ['undefined', undefined, 'TypeError'],
  ['a bigint', 1n, 'TypeError'],
  ['an array', [0.1], 'TypeError'],
];

const BAD_ZERO_POINTS: Array<[string, string, unknown, ErrorClassName]> = [
  ['quint8', '-1', -1, 'RangeError'],
  ['quint8', '256', 256, 'RangeError'],
  ['quint8', '1.5', 1.5, 'RangeError'],
  ['quint8', 'NaN', NaN, 'RangeError'],
  ['quint8', 'Infinity', Infinity, 'RangeError'],
  ['qint8', '-129', -129, 'RangeError'],
  ['qint8', '128', 128, 'RangeError'],
  ['qint32', '2^31', 2 ** 31, 'RangeError'],
  ['qint32', '-2^31 - 1', -(2 ** 31) - 1, 'RangeError'],
  ['quint4x2', '16', 16, 'RangeError'],
  ['quint4x2', '-1', -1, 'RangeError'],
  ['quint8', 'a string', '3', 'TypeError'],
  ['quint8', 'null', null, 'TypeError'],
  ['quint8', 'a bigint', 3n, 'TypeError'],
];

const BAD_DTYPES: Array<[string, unknown, ErrorClassName]> = [
  ['uint8', 'uint8', 'RangeError'],
  ['float32', 'float32', 'RangeError'],
  ['QUINT8', 'QUINT8', 'RangeError'],
  ['torch.quint8', 'torch.quint8', 'RangeError'],
  ['empty string', '', 'RangeError'],
  ['a number', 0, 'TypeError'],
  ['null', null, 'TypeError'],
  ['undefined', undefined, 'TypeError'],
];

const rows: Row[] = [];
const add = (label: string, call: () => unknown, errorClass: ErrorClassName, parameter: string) => rows.push([label, errorClass, parameter, call]);

// ---- tensor ------------------------------------------------------------------------------
add('tensor(string)', () => loose.tensor('abc'), 'TypeError', 'data');
add('tensor(null)', () => loose.tensor(null), 'TypeError', 'data');
add('tensor({length: 2})', () => loose.tensor({ length: 2 }), 'TypeError', 'data');
add('tensor([1, "a"])', () => loose.tensor([1, 'a']), 'TypeError', 'data[1]');
add('tensor(detached Float32Array)', () => tensor(detachedFloat32()), 'TypeError', 'data');
add('tensor(data, "2x2")', () => loose.tensor([1, 2, 3, 4], '2x2'), 'TypeError', 'shape');
add('tensor([1,2,3], [2,2]) (length mismatch)', () => tensor([1, 2, 3], [2, 2]), 'RangeError', 'shape');
add('tensor(data, [-1, -4])', () => tensor([1, 2, 3, 4], [-1, -4]), 'RangeError', 'shape[0]');
add('tensor(data, [1.5, 2])', () => tensor([1, 2, 3], [1.5, 2]), 'RangeError', 'shape[0]');
add('tensor(data, [2, "2"])', () => loose.tensor([1, 2, 3, 4], [2, '2']), 'TypeError', 'shape[1]');
add('tensor(data, [2^31, 2^31, 2^31]) (overflowing product)', () => tensor(new Float32Array(0), [2 ** 31, 2 ** 31, 2 ** 31]), 'RangeError', 'shape');
add('tensor(data, [NaN])', () => tensor([1], [NaN]), 'RangeError', 'shape[0]');
add('tensor(data, [Infinity, 0])', () => tensor([], [Infinity, 0]), 'RangeError', 'shape[0]');

// ---- quantizePerTensor -----------------------------------------------------------------------
add('quantizePerTensor(Float32Array)', () => loose.quantizePerTensor(new Float32Array(4), 0.1, 3, 'quint8'), 'TypeError', 'input');
add('quantizePerTensor(plain object)', () => loose.quantizePerTensor({ data: new Float32Array(4), shape: [4] }, 0.1, 3, 'quint8'), 'TypeError', 'input');
add('quantizePerTensor(QTensor)', () => loose.quantizePerTensor(q23(), 0.1, 3, 'quint8'), 'TypeError', 'input');
add('quantizePerTensor(tensor with a detached buffer)', () => {
  const t = x23();
  detach(t.data);
  return quantizePerTensor(t, 0.1, 3, 'quint8');
}, 'TypeError', 'input.data');
for (const [name, scale, errorClass] of BAD_SCALES) add(`quantizePerTensor scale ${name}`, () => loose.quantizePerTensor(x23(), scale, 3, 'quint8'), errorClass, 'scale');
for (const [dtype, name, zp, errorClass] of BAD_ZERO_POINTS) add(`quantizePerTensor ${dtype} zeroPoint ${name}`, () => loose.quantizePerTensor(x23(), 0.1, zp, dtype), errorClass, 'zeroPoint');
for (const [name, dtype, errorClass] of BAD_DTYPES) add(`quantizePerTensor dtype ${name}`, () => loose.quantizePerTensor(x23(), 0.1, 3, dtype), errorClass, 'dtype');

// ---- quantizePerChannel ----------------------------------------------------------------------
add('quantizePerChannel(array)', () => loose.quantizePerChannel([1, 2], [0.1], [0], 0, 'qint8'), 'TypeError', 'input');
add('quantizePerChannel scales "0.1"', () => loose.quantizePerChannel(x23(), '0.1', [0, 0], 0, 'qint8'), 'TypeError', 'scales');
add('quantizePerChannel scales {}', () => loose.quantizePerChannel(x23(), {}, [0, 0], 0, 'qint8'), 'TypeError', 'scales');
add('quantizePerChannel 3 scales for 2 channels', () => quantizePerChannel(x23(), [0.1, 0.2, 0.3], [0, 0], 0, 'qint8'), 'RangeError', 'scales');
add('quantizePerChannel 1 scale for 3 channels (axis 1)', () => quantizePerChannel(x23(), [0.1], [0, 0, 0], 1, 'qint8'), 'RangeError', 'scales');
add('quantizePerChannel scales as a 2-D Tensor', () => quantizePerChannel(x23(), tensor([0.1, 0.2], [2, 1]), [0, 0], 0, 'qint8'), 'RangeError', 'scales');
add('quantizePerChannel scales BigInt64Array', () => loose.quantizePerChannel(x23(), new BigInt64Array(2), [0, 0], 0, 'qint8'), 'TypeError', 'scales');
for (const [name, scale, errorClass] of BAD_SCALES) {
  if (errorClass === 'RangeError') add(`quantizePerChannel scales[1] ${name}`, () => quantizePerChannel(x23(), [0.1, scale as number], [0, 0], 0, 'qint8'), 'RangeError', 'scales[1]');
}
add('quantizePerChannel scales[0] a string', () => loose.quantizePerChannel(x23(), ['0.1', 0.2], [0, 0], 0, 'qint8'), 'TypeError', 'scales[0]');
add('quantizePerChannel zeroPoints length', () => quantizePerChannel(x23(), [0.1, 0.2], [0], 0, 'qint8'), 'RangeError', 'zeroPoints');
add('quantizePerChannel zeroPoints[1] = 128 for qint8', () => quantizePerChannel(x23(), [0.1, 0.2], [0, 128], 0, 'qint8'), 'RangeError', 'zeroPoints[1]');
add('quantizePerChannel zeroPoints[0] = 0.5 (integer zero points)', () => quantizePerChannel(x23(), [0.1, 0.2], [0.5, 1], 0, 'quint8'), 'RangeError', 'zeroPoints[0]');
add('quantizePerChannel zeroPoints[1] = -1 for quint8', () => quantizePerChannel(x23(), [0.1, 0.2], Int32Array.from([0, -1]), 0, 'quint8'), 'RangeError', 'zeroPoints[1]');
add('quantizePerChannel float zeroPoints[0] NaN', () => quantizePerChannel(x23(), [0.1, 0.2], Float32Array.from([NaN, 1]), 0, 'quint8'), 'RangeError', 'zeroPoints[0]');
add('quantizePerChannel float zero points with qint8', () => quantizePerChannel(x23(), [0.1, 0.2], Float32Array.from([0, 1]), 0, 'qint8'), 'RangeError', 'dtype');
add('quantizePerChannel integer zero points with quint4x2', () => quantizePerChannel(x23(), [0.1, 0.2], [0, 1], 0, 'quint4x2'), 'RangeError', 'dtype');
add('quantizePerChannel axis 2 of a 2-D input', () => quantizePerChannel(x23(), [0.1, 0.2], [0, 0], 2, 'qint8'), 'RangeError', 'axis');
add('quantizePerChannel axis -3 of a 2-D input', () => quantizePerChannel(x23(), [0.1, 0.2], [0, 0], -3, 'qint8'), 'RangeError', 'axis');
add('quantizePerChannel axis -1 (torch: "Channel axis out of range ... Got: -1")', () => quantizePerChannel(x23(), [0.1, 0.2, 0.3], [0, 0, 0], -1, 'qint8'), 'RangeError', 'axis');
add('quantizePerChannel axis 0.5', () => quantizePerChannel(x23(), [0.1, 0.2], [0, 0], 0.5, 'qint8'), 'RangeError', 'axis');
add('quantizePerChannel axis "0"', () => loose.quantizePerChannel(x23(), [0.1, 0.2], [0, 0], '0', 'qint8'), 'TypeError', 'axis');
add('quantizePerChannel axis undefined', () => loose.quantizePerChannel(x23(), [0.1, 0.2], [0, 0], undefined, 'qint8'), 'TypeError', 'axis');
for (const [name, dtype, errorClass] of BAD_DTYPES) add(`quantizePerChannel dtype ${name}`, () => loose.quantizePerChannel(x23(), [0.1, 0.2], [0, 0], 0, dtype), errorClass, 'dtype');

// ---- quantizePerTensorDynamic ----------------------------------------------------------------
add('quantizePerTensorDynamic(Float32Array)', () => loose.quantizePerTensorDynamic(new Float32Array(3), 'quint8', false), 'TypeError', 'input');
add('quantizePerTensorDynamic dtype qint32 (torch: not supported)', () => loose.quantizePerTensorDynamic(x23(), 'qint32', false), 'RangeError', 'dtype');
add('quantizePerTensorDynamic dtype quint4x2', () => loose.quantizePerTensorDynamic(x23(), 'quint4x2', false), 'RangeError', 'dtype');
add('quantizePerTensorDynamic dtype 1', () => loose.quantizePerTensorDynamic(x23(), 1, false), 'TypeError', 'dtype');
add('quantizePerTensorDynamic reduceRange "yes"', () => loose.quantizePerTensorDynamic(x23(), 'quint8', 'yes'), 'TypeError', 'reduceRange');
add('quantizePerTensorDynamic reduceRange 1', () => loose.quantizePerTensorDynamic(x23(), 'quint8', 1), 'TypeError', 'reduceRange');
add('quantizePerTensorDynamic reduceRange missing', () => loose.quantizePerTensorDynamic(x23(), 'quint8'), 'TypeError', 'reduceRange');
add('quantizePerTensorDynamic with NaN (torch: min > max)', () => quantizePerTensorDynamic(tensor([1, NaN]), 'quint8', false), 'RangeError', 'input');
add('quantizePerTensorDynamic with Infinity (torch: zero_point below bound)', () => quantizePerTensorDynamic(tensor([1, Infinity]), 'qint8', false), 'RangeError', 'input');
add('quantizePerTensorDynamic of an empty tensor (torch: no min of 0 elements)', () => quantizePerTensorDynamic(tensor([]), 'quint8', true), 'RangeError', 'input');

// ---- dequantize ----------------------------------------------------------------------------
add('dequantize(Tensor)', () => loose.dequantize(x23()), 'TypeError', 'q');
add('dequantize(Uint8Array)', () => loose.dequantize(new Uint8Array(3)), 'TypeError', 'q');
add('dequantize(undefined)', () => loose.dequantize(undefined), 'TypeError', 'q');
add('dequantize(QTensor with a detached buffer)', () => {
  const q = makePerTensorQuantizedTensor(new Uint8Array(6), [2, 3], 0.1, 3);
  detach(q.data);
  return dequantize(q);
}, 'TypeError', 'q.data');

// ---- makePerTensorQuantizedTensor / makePerChannelQuantizedTensor --------------------------------
add('makePerTensor data Float32Array', () => loose.makePerTensorQuantizedTensor(new Float32Array(4), [4], 0.1, 3), 'TypeError', 'data');
add('makePerTensor data number[]', () => loose.makePerTensorQuantizedTensor([1, 2], [2], 0.1, 3), 'TypeError', 'data');
add('makePerTensor data Uint16Array', () => loose.makePerTensorQuantizedTensor(new Uint16Array(2), [2], 0.1, 3), 'TypeError', 'data');
add('makePerTensor Uint8Array as qint8', () => makePerTensorQuantizedTensor(new Uint8Array(2), [2], 0.1, 3, 'qint8'), 'TypeError', 'data');
add('makePerTensor Int8Array as quint4x2', () => makePerTensorQuantizedTensor(new Int8Array(1), [2], 0.1, 3, 'quint4x2'), 'TypeError', 'data');
add('makePerTensor 5 bytes for shape [2, 3]', () => makePerTensorQuantizedTensor(new Uint8Array(5), [2, 3], 0.1, 3), 'RangeError', 'data');
add('makePerTensor quint4x2: 3 bytes for 7 elements (needs 4)', () => makePerTensorQuantizedTensor(new Uint8Array(3), [7], 0.1, 3, 'quint4x2'), 'RangeError', 'data');
add('makePerTensor quint4x2: 7 bytes (unpacked) for 7 elements', () => makePerTensorQuantizedTensor(new Uint8Array(7), [7], 0.1, 3, 'quint4x2'), 'RangeError', 'data');
add('makePerTensor detached data', () => {
  const data = new Uint8Array(4);
  detach(data);
  return makePerTensorQuantizedTensor(data, [4], 0.1, 3);
}, 'TypeError', 'data');
add('makePerTensor shape not an array', () => loose.makePerTensorQuantizedTensor(new Uint8Array(4), 4, 0.1, 3), 'TypeError', 'shape');
add('makePerTensor shape [2, -2]', () => makePerTensorQuantizedTensor(new Uint8Array(4), [2, -2], 0.1, 3), 'RangeError', 'shape[1]');
add('makePerTensor shape [2^40, 2^20] (overflowing product)', () => makePerTensorQuantizedTensor(new Uint8Array(0), [2 ** 40, 2 ** 20], 0.1, 3), 'RangeError', 'shape');
for (const [name, scale, errorClass] of BAD_SCALES) add(`makePerTensor scale ${name}`, () => loose.makePerTensorQuantizedTensor(new Uint8Array(4), [4], scale, 3), errorClass, 'scale');
for (const [dtype, name, zp, errorClass] of BAD_ZERO_POINTS) {
  const data = dtype === 'qint8' ? new Int8Array(4) : dtype === 'qint32' ? new Int32Array(4) : dtype === 'quint4x2' ? new Uint8Array(2) : new Uint8Array(4);
  add(`makePerTensor ${dtype} zeroPoint ${name}`, () => loose.makePerTensorQuantizedTensor(data, [4], 0.1, zp, dtype), errorClass, 'zeroPoint');
}
for (const [name, dtype, errorClass] of BAD_DTYPES) {
  if (dtype !== undefined) add(`makePerTensor dtype ${name}`, () => loose.makePerTensorQuantizedTensor(new Uint8Array(4), [4], 0.1, 3, dtype), errorClass, 'dtype');
}
add('makePerChannel shape [] (no channel axis)', () => makePerChannelQuantizedTensor(new Uint8Array(1), [], [0.1], [0], 0), 'RangeError', 'shape');
add('makePerChannel scales length', () => makePerChannelQuantizedTensor(new Int8Array(6), [2, 3], [0.1], [0, 0], 0), 'RangeError', 'scales');
add('makePerChannel scales[0] = 0', () => makePerChannelQuantizedTensor(new Int8Array(6), [2, 3], [0, 0.1], [0, 0], 0), 'RangeError', 'scales[0]');
add('makePerChannel zeroPoints[2] out of range (axis 1)', () => makePerChannelQuantizedTensor(new Int8Array(6), [2, 3], [0.1, 0.1, 0.1], [0, 0, -200], 1), 'RangeError', 'zeroPoints[2]');
add('makePerChannel axis 2', () => makePerChannelQuantizedTensor(new Int8Array(6), [2, 3], [0.1, 0.1], [0, 0], 2), 'RangeError', 'axis');
add('makePerChannel data length', () => makePerChannelQuantizedTensor(new Int8Array(5), [2, 3], [0.1, 0.1], [0, 0], 0), 'RangeError', 'data');
add('makePerChannel float zero points with Int8Array data', () => makePerChannelQuantizedTensor(new Int8Array(6), [2, 3], [0.1, 0.1], Float32Array.from([0, 0]), 0), 'RangeError', 'dtype');

// ---- QTensor and Tensor methods ----------------------------------------------------------------
add('QTensor.reshape("6")', () => (q23() as Loose).reshape('6'), 'TypeError', 'shape');
add('QTensor.reshape([4, 2]) (6 elements)', () => q23().reshape([4, 2]), 'RangeError', 'shape');
add('QTensor.reshape([-1, -1])', () => q23().reshape([-1, -1]), 'RangeError', 'shape[1]');
add('QTensor.reshape([2, 1.5])', () => q23().reshape([2, 1.5]), 'RangeError', 'shape[1]');
add('QTensor.view([6]) of a permuted tensor', () => q23().permute([1, 0]).view([6]), 'RangeError', 'shape');
add('QTensor.permute([0, 0])', () => q23().permute([0, 0]), 'RangeError', 'dims');
add('QTensor.permute([0])', () => q23().permute([0]), 'RangeError', 'dims');
add('QTensor.permute([0, 2])', () => q23().permute([0, 2]), 'RangeError', 'dims[1]');
add('QTensor.permute("01")', () => (q23() as Loose).permute('01'), 'TypeError', 'dims');
add('QTensor.flatten(2)', () => q23().flatten(2), 'RangeError', 'startDim');
add('QTensor.flatten(1, 0)', () => q23().flatten(1, 0), 'RangeError', 'endDim');
add('QTensor.flatten("0")', () => (q23() as Loose).flatten('0'), 'TypeError', 'startDim');
add('QTensor.contiguous("nhwc")', () => (q23() as Loose).contiguous('nhwc'), 'RangeError', 'memoryFormat');
add('QTensor.contiguous("channels_last") of a 2-D tensor (torch: needs rank 4)', () => q23().contiguous('channels_last'), 'RangeError', 'memoryFormat');
add('QTensor.contiguous("channels_last_3d") of a 2-D tensor', () => q23().contiguous('channels_last_3d'), 'RangeError', 'memoryFormat');
add('QTensor.isContiguous(1)', () => (q23() as Loose).isContiguous(1), 'TypeError', 'memoryFormat');
add('per-channel QTensor.reshape that splits the channel axis', () => qc23().reshape([3, 2]), 'RangeError', 'shape');
add('Tensor.reshape([7])', () => x23().reshape([7]), 'RangeError', 'shape');
add('Tensor.permute([1])', () => x23().permute([1]), 'RangeError', 'dims');
add('Tensor.contiguous("channels_last") of a 2-D tensor', () => x23().contiguous('channels_last'), 'RangeError', 'memoryFormat');
add('new Tensor(Float64Array)', () => new (Tensor as Loose)(new Float64Array(2), [2]), 'TypeError', 'data');

// ---- backend ---------------------------------------------------------------------------------
add('backend.setNumThreads(0)', () => backend.setNumThreads(0), 'RangeError', 'threads');
add('backend.setNumThreads(-1)', () => backend.setNumThreads(-1), 'RangeError', 'threads');
add('backend.setNumThreads(1.5)', () => backend.setNumThreads(1.5), 'RangeError', 'threads');
add('backend.setNumThreads(NaN)', () => backend.setNumThreads(NaN), 'RangeError', 'threads');
add('backend.setNumThreads(1e9)', () => backend.setNumThreads(1e9), 'RangeError', 'threads');
add('backend.setNumThreads("2")', () => (backend as Loose).setNumThreads('2'), 'TypeError', 'threads');
add('backend.setMaxIsa("sse4")', () => (backend as Loose).setMaxIsa('sse4'), 'RangeError', 'isa');
add(`backend.setMaxIsa(a level of another architecture)`, () => backend.setMaxIsa(process.arch === 'arm64' ? 'avx2' : 'neon'), 'RangeError', 'isa');
add('backend.setMaxIsa(2)', () => (backend as Loose).setMaxIsa(2), 'TypeError', 'isa');

// ---- nnq.Quantize / nnq.DeQuantize ----------------------------------------------------------------
for (const [name, scale, errorClass] of BAD_SCALES) add(`new nnq.Quantize scale ${name}`, () => new (nnq.Quantize as Loose)(scale, 3, 'quint8'), errorClass, 'scale');
add('new nnq.Quantize scale 1e-50 (0 in torch\'s float32 buffer)', () => new nnq.Quantize(1e-50, 3, 'quint8'), 'RangeError', 'scale');
add('new nnq.Quantize zeroPoint 256', () => new nnq.Quantize(0.1, 256, 'quint8'), 'RangeError', 'zeroPoint');
add('new nnq.Quantize zeroPoint "3"', () => new (nnq.Quantize as Loose)(0.1, '3', 'quint8'), 'TypeError', 'zeroPoint');
add('new nnq.Quantize dtype "int8"', () => new (nnq.Quantize as Loose)(0.1, 3, 'int8'), 'RangeError', 'dtype');
add('nnq.Quantize.forward(Float32Array)', () => new nnq.Quantize(0.1, 3, 'quint8').forward(new Float32Array(2) as Loose), 'TypeError', 'x');
add('nnq.Quantize.forward after scale = NaN', () => {
  const m = new nnq.Quantize(0.1, 3, 'quint8');
  m.scale = NaN;
  return m.forward(x23());
}, 'RangeError', 'scale');
add('nnq.DeQuantize.forward(Tensor)', () => new nnq.DeQuantize().forward(x23() as Loose), 'TypeError', 'x');

describe('argument validation', () => {
  test.each(rows)('%s: %s naming %s', (_label, errorClass, parameter, call) => {
    expectValidationError(call, errorClass, parameter);
  });

  test('covers every public function', () => {
    const functions = ['tensor', 'quantizePerTensor', 'quantizePerChannel', 'quantizePerTensorDynamic', 'dequantize', 'makePerTensorQuantizedTensor', 'makePerChannelQuantizedTensor'];
    for (const name of functions) expect(rows.some(([label]) => label.startsWith(name) || label.startsWith(name.replace('QuantizedTensor', '')))).toBe(true);
  });
});

describe('accepted edge values (the checks are not too strict)', () => {
  test('zero points at the dtype edges and extreme positive scales are accepted', () => {
    expect(quantizePerTensor(x23(), Number.MIN_VALUE, 255, 'quint8').qZeroPoint()).toBe(255);
    expect(quantizePerTensor(x23(), 1e30, -128, 'qint8').qZeroPoint()).toBe(-128);
    expect(quantizePerTensor(x23(), 0.1, -(2 ** 31), 'qint32').qZeroPoint()).toBe(-(2 ** 31));
    expect(quantizePerTensor(x23(), 0.1, 2 ** 31 - 1, 'qint32').qZeroPoint()).toBe(2 ** 31 - 1);
  });

  test('empty tensors are accepted', () => {
    expect(quantizePerTensor(tensor([], [0, 3]), 0.1, 3, 'quint8').shape).toEqual([0, 3]);
    expect(quantizePerChannel(tensor([], [0, 3]), [0.1, 0.2, 0.3], [0, 0, 0], 1, 'quint8').shape).toEqual([0, 3]);
  });

  test('a zero point of -0 is the integer 0, as torch\'s int64 zero_point is', () => {
    expect(Object.is(quantizePerTensor(x23(), 0.1, -0, 'quint8').qZeroPoint(), 0)).toBe(true);
  });
});

describe('native re-checks (memory safety never depends on the JS checks)', () => {
  // The binding itself, called with lengths and qparams the JS layer would never pass.
  const { addon } = require('../dist/native') as { addon: Loose };
  const f32 = (n: number) => new Float32Array(n);
  const nativeRows: Array<[string, () => unknown]> = [
    ['quantizePerTensor with a negative scale', () => addon.quantizePerTensor(f32(4), -1, 0, 0)],
    ['quantizePerTensor with NaN scale', () => addon.quantizePerTensor(f32(4), NaN, 0, 0)],
    ['quantizePerTensor with zero point 300 for quint8', () => addon.quantizePerTensor(f32(4), 0.1, 300, 0)],
    ['quantizePerTensor with dtype code 9', () => addon.quantizePerTensor(f32(4), 0.1, 0, 9)],
    ['quantizePerTensor with a Float64Array input', () => addon.quantizePerTensor(new Float64Array(4), 0.1, 0, 0)],
    ['quantizePerChannel: layout larger than the input', () => addon.quantizePerChannel(f32(4), 2, 2, 2, Float64Array.from([0.1, 0.1]), Int32Array.from([0, 0]), 1)],
    ['quantizePerChannel: fewer scales than channels', () => addon.quantizePerChannel(f32(4), 1, 4, 1, Float64Array.from([0.1]), Int32Array.from([0, 0, 0, 0]), 1)],
    ['quantizePerChannel: overflowing layout', () => addon.quantizePerChannel(f32(4), 2 ** 40, 2 ** 20, 2 ** 10, Float64Array.from([0.1]), Int32Array.from([0]), 1)],
    ['quantizePerChannel: negative layout', () => addon.quantizePerChannel(f32(4), -1, 4, 1, Float64Array.from([0.1, 0.1, 0.1, 0.1]), Int32Array.from([0, 0, 0, 0]), 1)],
    ['dequantizePerTensor: numel beyond the storage', () => addon.dequantizePerTensor(new Uint8Array(4), 0, 5, 0.1, 0)],
    ['dequantizePerTensor: quint4x2 numel beyond the packed storage', () => addon.dequantizePerTensor(new Uint8Array(2), 3, 5, 0.1, 0)],
    ['dequantizePerTensor: Int8Array storage for qint32', () => addon.dequantizePerTensor(new Int8Array(8), 2, 2, 0.1, 0)],
    ['dequantizePerChannel: layout beyond the storage', () => addon.dequantizePerChannel(new Int8Array(4), 1, 1, 4, 2, Float64Array.from([0.1, 0.1, 0.1, 0.1]), Int32Array.from([0, 0, 0, 0]))],
    ['dequantizePerChannelFloatQParams: zero scales', () => addon.dequantizePerChannelFloatQParams(new Uint8Array(4), 0, 1, 4, 1, f32(4), f32(4))],
    ['chooseQuantizationParams: empty input', () => addon.chooseQuantizationParams(f32(0), 0, false)],
    ['setNumThreads(0)', () => addon.setNumThreads(0)],
    ['setMaxIsa("bogus")', () => addon.setMaxIsa('bogus')],
  ];

  test.each(nativeRows)('%s throws a TypeError or RangeError', (_label, call) => {
    let thrown: unknown = undefined;
    try {
      call();
    } catch (error) {
      thrown = error;
    }
    if (!isErrorOfClass(thrown, 'TypeError') && !isErrorOfClass(thrown, 'RangeError')) {
      throw new Error(`expected a TypeError or RangeError from the binding, got ${describeThrown(thrown)}`);
    }
  });
});

describe('the process survives junk arguments', () => {
  test('thousands of random calls throw only TypeError/RangeError, in a child process that must exit 0', () => {
    const seed = testSeed('errors-fuzz');
    const script = `
      const qk = require('.');
      let state = ${seed} >>> 0;
      const rand = () => { state = (state + 0x6d2b79f5) >>> 0; let t = state; t = Math.imul(t ^ (t >>> 15), t | 1); t ^= t + Math.imul(t ^ (t >>> 7), t | 61); return ((t ^ (t >>> 14)) >>> 0) / 4294967296; };
      const pick = (a) => a[Math.floor(rand() * a.length)];
      const junk = () => pick([
        undefined, null, 0, -0, 1, -1, 2.5, NaN, Infinity, -Infinity, 2 ** 31, 2 ** 53, -(2 ** 53), 1e300, 3n, '', 'quint8', 'qint8', 'qint32',
        'quint4x2', 'channels_last', 'x', true, false, [], [0], [2, 3], [-1], [2 ** 40, 2 ** 40], [1.5], ['2'], {}, { length: 3 }, () => 1, Symbol('s'),
        new Float32Array(6), new Float32Array(0), new Float64Array(2), new Uint8Array(6), new Int8Array(6), new Int32Array(6), new Uint8Array(3),
        qk.tensor(new Float32Array(6), [2, 3]), qk.quantizePerTensor(qk.tensor(new Float32Array(6), [2, 3]), 0.1, 3, 'quint8'),
        new Proxy({}, { get() { throw new Error('proxy get'); } }),
      ]);
      const calls = [
        (a) => qk.tensor(a[0], a[1]), (a) => qk.quantizePerTensor(a[0], a[1], a[2], a[3]), (a) => qk.quantizePerChannel(a[0], a[1], a[2], a[3], a[4]),
        (a) => qk.quantizePerTensorDynamic(a[0], a[1], a[2]), (a) => qk.dequantize(a[0]), (a) => qk.makePerTensorQuantizedTensor(a[0], a[1], a[2], a[3], a[4]),
        (a) => qk.makePerChannelQuantizedTensor(a[0], a[1], a[2], a[3], a[4], a[5]), (a) => new qk.nnq.Quantize(a[0], a[1], a[2]),
        (a) => qk.quantizePerTensor(qk.tensor(new Float32Array(6), [2, 3]), 0.1, 3, 'quint8').reshape(a[0]),
        (a) => qk.quantizePerTensor(qk.tensor(new Float32Array(6), [2, 3]), 0.1, 3, 'quint8').permute(a[0]),
        (a) => qk.quantizePerTensor(qk.tensor(new Float32Array(6), [2, 3]), 0.1, 3, 'quint8').flatten(a[0], a[1]),
        (a) => qk.quantizePerTensor(qk.tensor(new Float32Array(6), [2, 3]), 0.1, 3, 'quint8').contiguous(a[0]),
        (a) => qk.backend.setNumThreads(a[0]),
      ];
      const unexpected = [];
      let ok = 0, rejected = 0;
      for (let i = 0; i < 4000; i++) {
        const args = [junk(), junk(), junk(), junk(), junk(), junk()];
        const which = Math.floor(rand() * calls.length);
        try { calls[which](args); ok++; }
        catch (e) {
          if ((e instanceof TypeError || e instanceof RangeError) && /^Expected .+ for \\S+ but received .* of type \\w+$/s.test(e.message)) rejected++;
          else if (e && e.message === 'proxy get') rejected++;
          else if (unexpected.length < 5) unexpected.push(String(which) + ': ' + (e && e.stack || String(e)).split('\\n').slice(0, 3).join(' | '));
        }
      }
      qk.backend.setNumThreads(1);
      console.log(JSON.stringify({ ok, rejected, unexpected }));`;
    const report = runNodeJson<{ ok: number; rejected: number; unexpected: string[] }>(script);
    expect(report.unexpected).toEqual([]);
    expect(report.rejected).toBeGreaterThan(3000);
  });
});
