// The linear/conv module API: torch's repr, setWeightBias / weight() / bias(), forwardAsync's bits, outputSize, state dicts, errors.
import { makePerChannelQuantizedTensor, makePerTensorQuantizedTensor, nniq, nnq, nnqd, ops, qF, QTensor, tensor } from '..';
import { expectExact, FailureLog } from './helpers/compare';
import { expectValidationError, expectValidationRejection } from './helpers/errors';
import {
  biasTensor,
  inputTensor,
  preparedConvModule,
  preparedLinearModule,
  randomConvCase,
  randomInput,
  randomLinearCase,
  randomWeight,
  weightTensor,
} from './helpers/linear-conv';
import { runnablePaths, withPathAsync } from './helpers/paths';
import { Rng, testSeed } from './helpers/random';
import { describeOracle, okResult, OracleResult, runOracle } from './oracle';

const rng = new Rng(testSeed('conv-modules'));

function sameQTensor(label: string, want: QTensor, got: QTensor): void {
  expect(got.dtype).toBe(want.dtype);
  expect(got.qscheme).toBe(want.qscheme);
  expect(got.shape).toEqual(want.shape);
  expect(got.strides).toEqual(want.strides);
  expectExact(`${label} intRepr`, want.intRepr(), got.intRepr());
  expectExact(`${label} dequantize`, want.dequantize().data, got.dequantize().data, { kind: 'float32' });
}

// ---- repr ------------------------------------------------------------------------------------

interface ReprCase {
  namespace: 'nnq' | 'nnqd' | 'nniq' | 'nniqd';
  name: string;
  args: unknown[];
  kwargs?: Record<string, unknown>;
  engine?: 'onednn' | 'qnnpack';
  scale?: number;
  zeroPoint?: number;
  make: () => { toString(): string; scale?: number; zeroPoint?: number };
}

const reprCases: ReprCase[] = [
  { namespace: 'nnq', name: 'Linear', args: [4, 3], make: () => new nnq.Linear(4, 3) },
  { namespace: 'nnq', name: 'Linear', args: [64, 10], kwargs: { bias_: false }, scale: 0.123456789, zeroPoint: 17, make: () => new nnq.Linear(64, 10, { bias: false }) },
  { namespace: 'nniq', name: 'LinearReLU', args: [5, 7], scale: 0.05, zeroPoint: 0, make: () => new nniq.LinearReLU(5, 7) },
  { namespace: 'nnqd', name: 'Linear', args: [4, 3], make: () => new nnqd.Linear(4, 3) },
  { namespace: 'nniqd', name: 'LinearReLU', args: [4, 3], make: () => new nniq.dynamic.LinearReLU(4, 3) },
  { namespace: 'nnq', name: 'Conv1d', args: [4, 8, 3], kwargs: { padding: 1 }, make: () => new nnq.Conv1d(4, 8, 3, { padding: 1 }) },
  { namespace: 'nnq', name: 'Conv2d', args: [4, 8, 3], scale: 0.5, zeroPoint: 128, make: () => new nnq.Conv2d(4, 8, 3) },
  {
    namespace: 'nnq',
    name: 'Conv2d',
    args: [4, 8, [3, 2]],
    kwargs: { stride: 2, padding: 1, dilation: 2, groups: 2, bias: false, padding_mode: 'reflect' },
    make: () => new nnq.Conv2d(4, 8, [3, 2], { stride: 2, padding: 1, dilation: 2, groups: 2, bias: false, paddingMode: 'reflect' }),
  },
  { namespace: 'nnq', name: 'Conv3d', args: [2, 4, 3], kwargs: { stride: [1, 2, 1] }, make: () => new nnq.Conv3d(2, 4, 3, { stride: [1, 2, 1] }) },
  { namespace: 'nniq', name: 'ConvReLU1d', args: [4, 8, 5], kwargs: { groups: 4 }, make: () => new nniq.ConvReLU1d(4, 8, 5, { groups: 4 }) },
  { namespace: 'nniq', name: 'ConvReLU2d', args: [4, 8, 3], make: () => new nniq.ConvReLU2d(4, 8, 3) },
  { namespace: 'nniq', name: 'ConvReLU3d', args: [4, 8, 3], kwargs: { padding: 2 }, make: () => new nniq.ConvReLU3d(4, 8, 3, { padding: 2 }) },
  {
    namespace: 'nnq',
    name: 'ConvTranspose2d',
    args: [4, 8, 3],
    kwargs: { stride: 2, output_padding: 1 },
    engine: 'qnnpack',
    make: () => new nnq.ConvTranspose2d(4, 8, 3, { stride: 2, outputPadding: 1 }),
  },
  { namespace: 'nnq', name: 'ConvTranspose1d', args: [4, 8, 3], kwargs: { padding: 1, groups: 2 }, make: () => new nnq.ConvTranspose1d(4, 8, 3, { padding: 1, groups: 2 }) },
  { namespace: 'nnq', name: 'ConvTranspose3d', args: [2, 4, 3], kwargs: { dilation: 2 }, make: () => new nnq.ConvTranspose3d(2, 4, 3, { dilation: 2 }) },
];

describeOracle('toString() is torch\'s repr', () => {
  let results: OracleResult[] = [];
  beforeAll(() => {
    results = runOracle(
      reprCases.map((c) => ({
        op: 'linear_conv_repr',
        namespace: c.namespace,
        name: c.name,
        args: c.args,
        kwargs: c.kwargs,
        engine_for_module: c.engine ?? 'onednn',
        scale: c.scale,
        zero_point: c.zeroPoint,
      })),
    );
  });
  test(`${reprCases.length} modules`, () => {
    const log = new FailureLog();
    reprCases.forEach((c, i) => {
      log.check(`${c.namespace}.${c.name}(${JSON.stringify(c.args)}, ${JSON.stringify(c.kwargs ?? {})})`, () => {
        const m = c.make();
        if (c.scale !== undefined) {
          m.scale = c.scale;
          m.zeroPoint = c.zeroPoint;
        }
        expect(m.toString()).toBe(okResult(results[i], c.name).repr);
      });
    });
    log.finish('module repr');
  });
});

test('qscheme and padding strings in the repr', () => {
  const m = new nnq.Linear(3, 2);
  m.setWeightBias(makePerChannelQuantizedTensor(new Int8Array(6), [2, 3], [0.1, 0.2], [0, 0], 0, 'qint8'), null);
  expect(m.toString()).toBe('QuantizedLinear(in_features=3, out_features=2, scale=1.0, zero_point=0, qscheme=torch.per_channel_affine)');
  expect(new nnq.Conv1d(2, 2, 4, { padding: 'same' }).toString()).toBe('QuantizedConv1d(2, 2, kernel_size=(4,), stride=(1,), scale=1.0, zero_point=0, padding=same)');
  expect(String(new nniq.ConvAdd2d(2, 2, 1))).toBe('QuantizedConvAdd2d(2, 2, kernel_size=(1, 1), stride=(1, 1), scale=1.0, zero_point=0)');
  expect(String(new nniq.LinearTanh(2, 2))).toMatch(/^QuantizedLinearTanh\(in_features=2/);
});

// ---- weights -----------------------------------------------------------------------------------

describe('setWeightBias, weight(), bias()', () => {
  test('weight() and bias() give back what was set: per tensor, per channel, transposed per channel (axis 1) with groups', () => {
    const linearWeight = randomWeight(rng, [7, 5], 0, true, false);
    const linear = new nnq.Linear(5, 7);
    const bias = new Float32Array([1, -2, 3.5, 0, 1e-3, -7, 2]);
    linear.setWeightBias(weightTensor(linearWeight), tensor(bias));
    sameQTensor('linear weight', weightTensor(linearWeight), linear.weight());
    expectExact('linear bias', bias, linear.bias()!.data, { kind: 'float32' });

    const conv = new nnq.Conv2d(6, 4, [3, 2], { groups: 2, bias: false });
    const convWeight = randomWeight(rng, [4, 3, 3, 2], 0, false, true);
    conv.setWeightBias(weightTensor(convWeight), null);
    sameQTensor('conv weight', weightTensor(convWeight), conv.weight());
    expect(conv.bias()).toBeNull();

    const transposed = new nnq.ConvTranspose2d(4, 6, 3, { groups: 2 });
    const tw = randomWeight(rng, [4, 3, 3, 3], 1, true, true);
    transposed.setWeightBias(weightTensor(tw), tensor(new Float32Array(6).fill(0.25)));
    sameQTensor('transposed weight', weightTensor(tw), transposed.weight());
    expect(transposed.weight().qPerChannelAxis()).toBe(1);
  });

  test('the module keeps its own copy: changing the caller\'s arrays afterwards changes nothing', () => {
    const c = randomConvCase(rng, 2, false);
    const m = preparedConvModule(c);
    const x = inputTensor(c.x);
    const before = m.forward(x).intRepr();
    c.weight.w.fill(3);
    if (c.bias !== null) c.bias.fill(100);
    expectExact('after mutating the inputs of setWeightBias', before, m.forward(x).intRepr());
  });

  test('default weights are torch\'s: zeros, scale 1, bias zeros (or none)', () => {
    const m = new nnq.Conv1d(2, 3, 2);
    expect(Array.from(m.weight().intRepr())).toEqual(new Array(12).fill(0));
    expect(m.weight().qScale()).toBe(1);
    expect(Array.from(m.bias()!.data)).toEqual([0, 0, 0]);
    expect(new nnq.Linear(2, 3, { bias: false }).bias()).toBeNull();
  });

  test('stateDict() / loadStateDict() round trip', () => {
    const c = randomLinearCase(rng);
    const m = preparedLinearModule(c);
    const copy = new nnq.Linear(c.weight.shape[1], c.weight.shape[0]);
    copy.loadStateDict((m as nnq.Linear).stateDict());
    // torch saves scale as a float32 tensor: the copy holds the float32 value, as torch's does after load_state_dict.
    expect(copy.scale).toBe(Math.fround(c.scale));
    expect(copy.zeroPoint).toBe(c.zeroPoint);
    const x = inputTensor(c.x);
    expectExact('state dict copy', m.forward(x).intRepr(), copy.forward(x).intRepr());
  });
});

// ---- forward -------------------------------------------------------------------------------------

describe('forwardAsync gives forward\'s bits on every path', () => {
  const convCases = Array.from({ length: 12 }, (_, i) => randomConvCase(rng, ((i % 3) + 1) as 1 | 2 | 3, i % 4 === 3, { fusion: i % 4 === 1 ? 'relu' : 'none' }));
  const addCases = Array.from({ length: 4 }, () => randomConvCase(rng, 2, false, { fusion: 'add_relu' }));
  const linearCases = (['none', 'relu', 'leaky_relu', 'tanh'] as const).map((f) => randomLinearCase(rng, f));

  test.each(runnablePaths().map((p) => [`${p.isa}/${p.threads}`, p] as const))('%s', async (_name, path) => {
    await withPathAsync(path, async () => {
      for (const c of convCases) {
        const m = preparedConvModule(c);
        const x = inputTensor(c.x, c.channelsLast);
        sameQTensor(c.label, m.forward(x), await (m as unknown as nnq.Conv2d).forwardAsync(x));
      }
      for (const c of addCases) {
        const m = preparedConvModule(c) as unknown as nniq.ConvAdd2d;
        const x = inputTensor(c.x, c.channelsLast);
        const extra = inputTensor(c.extra!, c.channelsLast);
        sameQTensor(c.label, m.forward(x, extra), await m.forwardAsync(x, extra));
      }
      for (const c of linearCases) {
        const m = preparedLinearModule(c) as nnq.Linear;
        const x = inputTensor(c.x);
        sameQTensor(c.label, m.forward(x), await m.forwardAsync(x));
      }
      const d = new nnqd.Linear(5, 3);
      d.setWeightBias(weightTensor(randomWeight(rng, [3, 5], 0, true, true)), tensor(new Float32Array([1, 2, 3])));
      const xf = tensor(Float32Array.from({ length: 10 }, () => rng.normal()), [2, 5]);
      expectExact('dynamic', d.forward(xf).data, (await d.forwardAsync(xf)).data, { kind: 'float32' });
    });
  });

  test('concurrent forwardAsync calls on one module, and a module dropped while its call is pending', async () => {
    const c = randomConvCase(rng, 2, false);
    const x = inputTensor(c.x);
    const want = preparedConvModule(c).forward(x).intRepr();
    const pending = Array.from({ length: 8 }, () => (preparedConvModule(c) as unknown as nnq.Conv2d).forwardAsync(x));
    for (const result of await Promise.all(pending)) expectExact('concurrent', want, result.intRepr());
  });
});

test('ConvTranspose forward(x, outputSize) picks the outputPadding as torch\'s float module does', () => {
  const m = new nnq.ConvTranspose1d(4, 4, 3, { stride: 2, padding: 1 });
  const w = weightTensor(randomWeight(rng, [4, 4, 3], 1, false, true));
  m.setWeightBias(w, null);
  const h = inputTensor(randomInput(rng, [1, 4, 6]));
  expect(m.forward(h).shape).toEqual([1, 4, 11]);
  const y = m.forward(h, [1, 4, 12]);
  expect(y.shape).toEqual([1, 4, 12]);
  const viaFunctional = qF.convTranspose1d(h, w, null, { stride: 2, padding: 1, outputPadding: 1 });
  expectExact('outputSize vs outputPadding', viaFunctional.intRepr(), y.intRepr());
  expectExact('spatial-only outputSize', y.intRepr(), m.forward(h, [12]).intRepr());
  expectValidationError(() => m.forward(h, [13]), 'RangeError', 'outputSize');
  expectValidationError(() => m.forward(h, 12 as unknown as number[]), 'TypeError', 'outputSize');
});

test('functional and module forms agree; contiguous and channels-last inputs both give a channels-last output (torch\'s layout) with the same values', () => {
  let c = randomConvCase(rng, 2, false);
  // Channels-last and contiguous strides must differ (C > 1 and more than one pixel) for the layout to show.
  while (c.inChannels === 1 || c.outChannels === 1 || c.x.shape[2] * c.x.shape[3] === 1) c = randomConvCase(rng, 2, false);
  const x = inputTensor(c.x);
  const viaModule = preparedConvModule(c).forward(x);
  const viaFunctional = qF.conv2d(x, weightTensor(c.weight), biasTensor(c.bias), {
    stride: c.stride,
    padding: c.padding,
    dilation: c.dilation,
    groups: c.groups,
    scale: c.scale,
    zeroPoint: c.zeroPoint,
  });
  sameQTensor('module vs functional', viaFunctional, viaModule);
  const nhwc = preparedConvModule(c).forward(x.contiguous('channels_last'));
  expect(x.contiguous('channels_last').isContiguous()).toBe(false);
  expect(nhwc.isContiguous('channels_last')).toBe(true);
  expect(viaModule.isContiguous('channels_last')).toBe(true);
  expect(viaModule.strides).toEqual(nhwc.strides);
  expectExact('channels_last', viaModule.intRepr(), nhwc.intRepr());
});

test('qF.linear without scale/zeroPoint uses the input\'s qparams, as torch', () => {
  const c = randomLinearCase(rng);
  const x = inputTensor(c.x);
  const w = weightTensor(c.weight);
  const implicit = qF.linear(x, w, biasTensor(c.bias));
  expect(implicit.qScale()).toBe(c.x.scale);
  expect(implicit.qZeroPoint()).toBe(c.x.zeroPoint);
  sameQTensor('default qparams', qF.linear(x, w, biasTensor(c.bias), { scale: c.x.scale, zeroPoint: c.x.zeroPoint }), implicit);
});

test('ConvAdd2d: the extra input may be in either layout and have its own qparams', () => {
  let c = randomConvCase(rng, 2, false, { fusion: 'add' });
  while (c.outChannels === 1 || c.x.shape[2] * c.x.shape[3] === 1) c = randomConvCase(rng, 2, false, { fusion: 'add' });
  const m = preparedConvModule(c) as unknown as nniq.ConvAdd2d;
  const x = inputTensor(c.x);
  const want = m.forward(x, inputTensor(c.extra!));
  const mixed = m.forward(x, inputTensor(c.extra!, true));
  sameQTensor('contiguous x, channels-last extra', want, mixed);
  const nhwc = m.forward(inputTensor(c.x, true), inputTensor(c.extra!));
  expectExact('channels-last x, contiguous extra', want.intRepr(), nhwc.intRepr());
});

// ---- errors --------------------------------------------------------------------------------------

describe('bad arguments throw TypeError/RangeError naming the parameter', () => {
  const q = (shape: number[], dtype: 'quint8' | 'qint8' = 'quint8') =>
    makePerTensorQuantizedTensor(dtype === 'quint8' ? new Uint8Array(shape.reduce((a, b) => a * b, 1)) : new Int8Array(shape.reduce((a, b) => a * b, 1)), shape, 0.1, 0, dtype);
  const conv = () => new nnq.Conv2d(4, 6, 3);

  const cases: Array<[string, () => unknown, 'TypeError' | 'RangeError', string]> = [
    ['groups not dividing inChannels', () => new nnq.Conv2d(3, 4, 3, { groups: 2 }), 'RangeError', 'groups'],
    ['groups not dividing outChannels', () => new nnq.Conv2d(4, 3, 3, { groups: 2 }), 'RangeError', 'groups'],
    ['kernel 0', () => new nnq.Conv2d(4, 6, 0), 'RangeError', 'kernelSize'],
    ['kernel tuple of the wrong length', () => new nnq.Conv2d(4, 6, [3]), 'RangeError', 'kernelSize'],
    ['kernel not a number', () => new nnq.Conv2d(4, 6, '3' as unknown as number), 'TypeError', 'kernelSize'],
    ['stride 0', () => new nnq.Conv1d(4, 6, 3, { stride: 0 }), 'RangeError', 'stride'],
    ['dilation 1.5', () => new nnq.Conv1d(4, 6, 3, { dilation: 1.5 }), 'RangeError', 'dilation'],
    ['negative padding', () => new nnq.Conv3d(4, 6, 3, { padding: -1 }), 'RangeError', 'padding'],
    ['unknown padding string', () => new nnq.Conv2d(4, 6, 3, { padding: 'full' as 'same' }), 'RangeError', 'padding'],
    ["padding 'same' with stride 2", () => new nnq.Conv2d(4, 6, 3, { padding: 'same', stride: 2 }), 'RangeError', 'stride'],
    ['unknown paddingMode', () => new nnq.Conv2d(4, 6, 3, { paddingMode: 'mirror' as 'zeros' }), 'RangeError', 'paddingMode'],
    ['paddingMode not a string', () => new nnq.Conv2d(4, 6, 3, { paddingMode: 1 as unknown as 'zeros' }), 'TypeError', 'paddingMode'],
    ['transposed with reflect', () => new nnq.ConvTranspose2d(4, 6, 3, { paddingMode: 'reflect' as 'zeros' }), 'RangeError', 'paddingMode'],
    ["transposed with 'same'", () => new nnq.ConvTranspose1d(4, 6, 3, { padding: 'same' as unknown as number }), 'RangeError', 'padding'],
    ['outputPadding >= stride and dilation', () => new nnq.ConvTranspose1d(4, 6, 3, { stride: 2, outputPadding: 2 }), 'RangeError', 'outputPadding'],
    ['inChannels 0', () => new nnq.Conv2d(0, 6, 3), 'RangeError', 'inChannels'],
    ['outFeatures a string', () => new nnq.Linear(4, '6' as unknown as number), 'TypeError', 'outFeatures'],
    ['unknown option', () => new nnq.Conv2d(4, 6, 3, { strides: 2 } as never), 'RangeError', 'options key'],
    ['Linear dtype quint8', () => new nnq.Linear(4, 6, { dtype: 'quint8' as 'qint8' }), 'RangeError', 'dtype'],
    ['dynamic reduceRange not boolean', () => new nnqd.Linear(4, 6, { reduceRange: 1 as unknown as boolean }), 'TypeError', 'reduceRange'],
    ['negativeSlope not a number', () => new nniq.LinearLeakyReLU(4, 6, 'a' as unknown as number), 'TypeError', 'negativeSlope'],
    ['input channels mismatch', () => conv().forward(q([1, 3, 5, 5])), 'RangeError', 'x'],
    ['input rank', () => conv().forward(q([4, 5, 5])), 'RangeError', 'x'],
    ['input qint8', () => conv().forward(q([1, 4, 5, 5], 'qint8')), 'RangeError', 'x'],
    ['input a float Tensor', () => conv().forward(tensor(new Float32Array(100), [1, 4, 5, 5]) as unknown as QTensor), 'TypeError', 'x'],
    ['kernel larger than the padded input', () => conv().forward(q([1, 4, 2, 5])), 'RangeError', 'x'],
    ['reflect padding not below the input size', () => new nnq.Conv1d(4, 6, 1, { padding: 3, paddingMode: 'reflect' }).forward(q([1, 4, 3])), 'RangeError', 'x'],
    ['weight of the wrong shape', () => conv().setWeightBias(q([6, 4, 3, 2], 'qint8'), null), 'RangeError', 'weight'],
    ['weight quint8', () => conv().setWeightBias(q([6, 4, 3, 3]), null), 'RangeError', 'weight'],
    ['weight per channel on the wrong axis', () => conv().setWeightBias(makePerChannelQuantizedTensor(new Int8Array(216), [6, 4, 3, 3], [1, 1, 1, 1], [0, 0, 0, 0], 1, 'qint8'), null), 'RangeError', 'weight'],
    ['weight not a QTensor', () => conv().setWeightBias(tensor(new Float32Array(216), [6, 4, 3, 3]) as unknown as QTensor, null), 'TypeError', 'weight'],
    ['bias of the wrong length', () => conv().setWeightBias(q([6, 4, 3, 3], 'qint8'), tensor(new Float32Array(5))), 'RangeError', 'bias'],
    ['bias a Float32Array', () => conv().setWeightBias(q([6, 4, 3, 3], 'qint8'), new Float32Array(6) as never), 'TypeError', 'bias'],
    ['scale attribute negative', () => Object.assign(conv(), { scale: -1 }).forward(q([1, 4, 5, 5])), 'RangeError', 'scale'],
    ['zeroPoint attribute 256', () => Object.assign(conv(), { zeroPoint: 256 }).forward(q([1, 4, 5, 5])), 'RangeError', 'zeroPoint'],
    ['functional weight channels', () => qF.conv2d(q([1, 4, 5, 5]), q([6, 3, 3, 3], 'qint8'), null), 'RangeError', 'weight'],
    ['functional dtype', () => qF.conv2d(q([1, 4, 5, 5]), q([6, 4, 3, 3], 'qint8'), null, { dtype: 'qint8' as 'quint8' }), 'RangeError', 'dtype'],
    ['functional scale 0', () => qF.conv1d(q([1, 4, 5]), q([6, 4, 3], 'qint8'), null, { scale: 0 }), 'RangeError', 'scale'],
    ['functional transposed channels', () => qF.convTranspose2d(q([1, 4, 5, 5]), q([3, 6, 3, 3], 'qint8'), null), 'RangeError', 'input'],
    ['linear in features', () => qF.linear(q([2, 5]), q([3, 4], 'qint8')), 'RangeError', 'input'],
    ['linear weight rank', () => qF.linear(q([2, 4]), q([3, 4, 1], 'qint8')), 'RangeError', 'weight'],
    ['linear zeroPoint', () => qF.linear(q([2, 4]), q([3, 4], 'qint8'), null, { zeroPoint: -1 }), 'RangeError', 'zeroPoint'],
    ['ConvAdd2d extra of the wrong shape', () => new nniq.ConvAdd2d(4, 6, 3).forward(q([1, 4, 5, 5]), q([1, 6, 3, 4])), 'RangeError', 'extra'],
    ['dynamic input with NaN', () => new nnqd.Linear(2, 2).forward(tensor(new Float32Array([1, NaN]), [1, 2])), 'RangeError', 'x'],
  ];
  test.each(cases)('%s', (_what, body, className, parameter) => {
    expectValidationError(body, className, parameter);
  });

  test('forwardAsync rejects (never throws) with the same errors', async () => {
    await expectValidationRejection(conv().forwardAsync(q([1, 3, 5, 5])), 'RangeError', 'x');
    await expectValidationRejection(new nnq.Linear(4, 2).forwardAsync(q([2, 5])), 'RangeError', 'x');
    await expectValidationRejection(new nnqd.Linear(4, 2).forwardAsync(q([2, 4]) as never), 'TypeError', 'x');
  });

  test('the binding re-checks lengths and handle kinds itself', () => {
    // eslint-disable-next-line @typescript-eslint/no-var-requires
    const { addon } = require('../dist/native') as { addon: Record<string, (...args: unknown[]) => unknown> };
    const handle = addon.convPrepack(
      new Float64Array([2, 4, 6, 1, 3, 3, 1, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]),
      new Int8Array(6 * 4 * 9),
      new Float64Array([0.1]),
      new Int32Array([0]),
      null,
    );
    const spatial = new Float64Array([5, 5, 1]);
    expectValidationError(() => addon.conv(handle, new Uint8Array(99), 1, spatial, 0, 0.1, 0, 0.1, 0, false, null, 1, 0), 'RangeError', 'input');
    expectValidationError(() => addon.conv(handle, new Uint8Array(100), 1, spatial, 3, 0.1, 0, 0.1, 0, false, null, 1, 0), 'RangeError', 'layout');
    expectValidationError(() => addon.conv(handle, new Uint8Array(100), 1, spatial, 0, 0.1, 0, 0.1, 0, false, new Uint8Array(5), 1, 0), 'RangeError', 'extra');
    expectValidationError(() => addon.conv({}, new Uint8Array(100), 1, spatial, 0, 0.1, 0, 0.1, 0, false, null, 1, 0), 'TypeError', 'handle');
    const linear = addon.linearPrepack(new Int8Array(12), 3, 4, new Float64Array([0.1]), new Int32Array([0]), null);
    expectValidationError(() => addon.conv(linear, new Uint8Array(100), 1, spatial, 0, 0.1, 0, 0.1, 0, false, null, 1, 0), 'TypeError', 'handle');
    expectValidationError(() => addon.linear(linear, new Uint8Array(7), 2, 0.1, 0, 0.1, 0, 0, 0), 'RangeError', 'input');
    expectValidationError(() => addon.linearPrepack(new Int8Array(11), 3, 4, new Float64Array([0.1]), new Int32Array([0]), null), 'RangeError', 'weight');
    expectValidationError(() => addon.linearPrepack(new Int8Array(12), 3, 4, new Float64Array([0.1, 0.2]), new Int32Array([0, 0]), null), 'RangeError', 'scales');
    expectValidationError(() => addon.convPrepack(new Float64Array(3), new Int8Array(1), new Float64Array([1]), new Int32Array([0]), null), 'RangeError', 'geometry');
  });
});

// ---- ops.quantized -------------------------------------------------------------------------------

test('ops.quantized prepack + run give the functional forms\' bits (torch.ops.quantized.*)', () => {
  const oq = ops.quantized;
  for (const dims of [1, 2, 3] as const) {
    const c = randomConvCase(rng, dims, false);
    const w = weightTensor(c.weight);
    const b = biasTensor(c.bias);
    const x = inputTensor(c.x);
    const padding = c.padBefore;
    const packed = [oq.conv1dPrepack, oq.conv2dPrepack, oq.conv3dPrepack][dims - 1](w, b, c.stride, padding, c.dilation, c.groups);
    const want = [qF.conv1d, qF.conv2d, qF.conv3d][dims - 1](x, w, b, { stride: c.stride, padding, dilation: c.dilation, groups: c.groups, scale: c.scale, zeroPoint: c.zeroPoint });
    sameQTensor(`conv${dims}d`, want, [oq.conv1d, oq.conv2d, oq.conv3d][dims - 1](x, packed, c.scale, c.zeroPoint));
    sameQTensor(`conv${dims}d packed weight`, w, packed.unpack()[0]);
    expect(packed.groups()).toBe(c.groups);
    const t = randomConvCase(rng, dims, true);
    const tw = weightTensor(t.weight);
    const tx = inputTensor(t.x);
    const tp = [oq.convTranspose1dPrepack, oq.convTranspose2dPrepack, oq.convTranspose3dPrepack][dims - 1](tw, biasTensor(t.bias), t.stride, t.padBefore, t.outputPadding, t.dilation, t.groups);
    const tWant = [qF.convTranspose1d, qF.convTranspose2d, qF.convTranspose3d][dims - 1](tx, tw, biasTensor(t.bias), {
      stride: t.stride,
      padding: t.padBefore,
      outputPadding: t.outputPadding,
      dilation: t.dilation,
      groups: t.groups,
      scale: t.scale,
      zeroPoint: t.zeroPoint,
    });
    sameQTensor(`convTranspose${dims}d`, tWant, [oq.convTranspose1d, oq.convTranspose2d, oq.convTranspose3d][dims - 1](tx, tp, t.scale, t.zeroPoint));
    expectValidationError(() => [oq.conv1d, oq.conv2d, oq.conv3d][dims - 1](tx, tp, 1, 0), 'RangeError', 'packedParams');
  }
  const l = randomLinearCase(rng);
  const lw = weightTensor(l.weight);
  const lp = oq.linearPrepack(lw, biasTensor(l.bias));
  const lx = inputTensor(l.x);
  sameQTensor('linear', qF.linear(lx, lw, biasTensor(l.bias), { scale: l.scale, zeroPoint: l.zeroPoint }), oq.linear(lx, lp, l.scale, l.zeroPoint));
  sameQTensor('linearRelu', preparedLinearModule({ ...l, fusion: 'relu' }).forward(lx), oq.linearRelu(lx, lp, l.scale, l.zeroPoint));
  const xf = tensor(Float32Array.from({ length: 3 * l.weight.shape[1] }, () => rng.normal()), [3, l.weight.shape[1]]);
  const dynamic = new nnqd.Linear(l.weight.shape[1], l.weight.shape[0], { reduceRange: false });
  dynamic.setWeightBias(lw, biasTensor(l.bias));
  expectExact('linearDynamic', dynamic.forward(xf).data, oq.linearDynamic(xf, lp).data, { kind: 'float32' });
  expectValidationError(() => oq.linear(lx, {} as never, 1, 0), 'TypeError', 'packedParams');
});
