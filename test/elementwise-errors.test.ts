// Error cases of the elementwise family: bad inputs, dims, shapes, dtypes, options; TypeError / RangeError naming the parameter, as torch refuses them too.
import { makePerChannelQuantizedTensor, makePerTensorQuantizedTensor, nnq, ops, qF, tensor } from '..';
import { ErrorClassName, expectValidationError, expectValidationRejection } from './helpers/errors';
import { makeQ, randomQInput, wireQ } from './helpers/elementwise';
import { Rng, testSeed } from './helpers/random';
import { describeOracle, runOracle } from './oracle';

const rng = new Rng(testSeed('elementwise-errors'));
const a = randomQInput(rng, 'quint8', [2, 3, 4]);
const b = randomQInput(rng, 'quint8', [2, 5, 4]);
const s8 = randomQInput(rng, 'qint8', [2, 3, 4]);
const q = () => makeQ(a);
const perChannel = () => makePerChannelQuantizedTensor(new Uint8Array(24), [2, 3, 4], [0.1, 0.2, 0.3], [1, 2, 3], 1, 'quint8');
const qint32 = () => makePerTensorQuantizedTensor(new Int32Array(24), [2, 3, 4], 0.1, 0, 'qint32');

const CASES: Array<[string, () => unknown, ErrorClassName, string]> = [
  ['not a QTensor', () => qF.hardswish(tensor([1, 2]) as never, 0.1, 0), 'TypeError', 'input'],
  ['per-channel input', () => qF.relu(perChannel()), 'TypeError', 'input'],
  ['qint32 input', () => qF.sigmoid(qint32()), 'RangeError', 'input'],
  ['zero scale', () => qF.hardswish(q(), 0, 0), 'RangeError', 'scale'],
  ['scale beyond float32', () => qF.elu(q(), 1e39, 0), 'RangeError', 'scale'],
  ['zero point outside quint8', () => qF.hardswish(q(), 0.1, 256), 'RangeError', 'zeroPoint'],
  ['unknown option', () => qF.elu(q(), 0.1, 0, { alhpa: 1 } as never), 'RangeError', 'options key'],
  ['alpha not a number', () => qF.celu(q(), 0.1, 0, { alpha: '1' as never }), 'TypeError', 'options.alpha'],
  ['celu alpha 0', () => qF.celu(q(), 0.1, 0, { alpha: 0 }), 'RangeError', 'options.alpha'],
  ['leakyRelu scale without zeroPoint', () => qF.leakyRelu(q(), { scale: 0.1 }), 'TypeError', 'zeroPoint'],
  ['clamp without bounds', () => qF.clamp(q(), null, null), 'TypeError', 'min'],
  ['threshold NaN', () => qF.threshold(q(), NaN, 0), 'RangeError', 'threshold'],
  ['hardsigmoid inplace', () => qF.hardsigmoid(q(), { inplace: true }), 'RangeError', 'options.inplace'],
  ['softmax dim out of range', () => ops.quantized.softmax(q(), 3, 0.1, 0), 'RangeError', 'dim'],
  ['add shapes not broadcastable', () => ops.quantized.add(q(), makeQ(b), 0.1, 0), 'RangeError', 'qb'],
  ['add dtypes differ', () => ops.quantized.add(q(), makeQ(s8), 0.1, 0), 'TypeError', 'qb'],
  ['mul zero point outside the dtype', () => ops.quantized.mul(q(), q(), 0.1, -1), 'RangeError', 'zeroPoint'],
  ['addScalar of Infinity', () => ops.quantized.addScalar(q(), Infinity), 'RangeError', 'other'],
  ['cat of an empty list', () => ops.quantized.cat([], 0), 'RangeError', 'tensors'],
  ['cat dim out of range', () => ops.quantized.cat([q(), q()], 3), 'RangeError', 'dim'],
  ['cat shapes differ outside dim', () => ops.quantized.cat([q(), makeQ(b)], 0), 'RangeError', 'tensors[1]'],
  ['cat dtypes differ', () => ops.quantized.cat([q(), makeQ(s8)], 0), 'TypeError', 'tensors[1]'],
  ['prelu weight of the wrong size', () => ops.quantized.prelu(q(), makeQ(randomQInput(rng, 'quint8', [2])), 0.1, 0), 'RangeError', 'weight'],
  ['narrow past the end', () => q().narrow(2, 2, 3), 'RangeError', 'length'],
  ['narrow bad dim', () => q().narrow(3, 0, 1), 'RangeError', 'dim'],
  ['slice step 0', () => q().slice(0, 0, 1, 0), 'RangeError', 'step'],
  ['split sizes not adding up', () => q().split([1, 1], 1), 'RangeError', 'splitSizeOrSections'],
  ['chunk into 0', () => q().chunk(0), 'RangeError', 'chunks'],
  ['transpose bad dim', () => q().transpose(0, 5), 'RangeError', 'dim1'],
  ['mean repeated dims', () => q().mean([1, -2]), 'RangeError', 'dim'],
  ['mean of a per-channel tensor', () => perChannel().mean(), 'TypeError', 'this'],
  ['module attribute made invalid', () => {
    const m = new nnq.Hardswish(0.1, 0);
    m.scale = -1;
    return m.forward(q());
  }, 'RangeError', 'scale'],
  ['Softmax unknown option', () => new nnq.Softmax({ dims: 1 } as never), 'RangeError', 'options key'],
  ['Dropout p above 1', () => new nnq.Dropout({ p: 2 }), 'RangeError', 'options.p'],
  ['FloatFunctional add of a QTensor', () => new nnq.FloatFunctional().add(q() as never, tensor([1])), 'TypeError', 'x'],
];

describe('elementwise argument errors', () => {
  test.each(CASES)('%s', (_what, body, className, parameter) => {
    expectValidationError(body, className, parameter);
  });

  test('forwardAsync rejects (does not throw) on a bad input', async () => {
    await expectValidationRejection(new nnq.ELU(0.1, 0).forwardAsync(tensor([1]) as never), 'TypeError', 'x');
  });

  test('FloatFunctional and QFunctional have no forward', () => {
    expect(() => new nnq.QFunctional().forward()).toThrow(/no forward/);
    expect(() => new nnq.FXFloatFunctional().forward()).toThrow(/no forward/);
  });
});

describeOracle('torch refuses the same inputs', () => {
  test('broadcast mismatch, dtype mismatch, cat dim and shapes', () => {
    const results = runOracle([
      { op: 'ew_binary', fn: 'add', a: wireQ(a), b: wireQ(b), scale: 0.1, zero_point: 0 },
      { op: 'ew_binary', fn: 'add', a: wireQ(a), b: wireQ(s8), scale: 0.1, zero_point: 0 },
      { op: 'ew_cat', inputs: [wireQ(a), wireQ(a)], dim: 3, scale: 0.1, zero_point: 0 },
      { op: 'ew_cat', inputs: [wireQ(a), wireQ(b)], dim: 0, scale: 0.1, zero_point: 0 },
      { op: 'ew_unary', fn: 'softmax', input: wireQ(a), args: { dim: 3, scale: 0.1, zero_point: 0 } },
    ]);
    for (const result of results) expect(result.error).toBeDefined();
  });
});
