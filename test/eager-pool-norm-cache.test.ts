// The pool and norm modules' eager forwards (which replay the last call's derived state) against the general path, as the modules' settings, the engine and the inputs change.
import { backend, jit, nn, nnq, nniq, ops, qF, QTensor, quantizePerChannel, tensor } from '..';
import { detach, thrown } from './helpers/errors';
import { expectSameQ, seededInputs } from './helpers/eager';
import { Rng, testSeed } from './helpers/random';

const { floats, qinput } = seededInputs(new Rng(testSeed('eager-pool-norm-cache')));

/** The module's forward against `general`: the same output, or the same error. */
function expectSame(got: () => QTensor, general: () => QTensor): void {
  let want: QTensor;
  try {
    want = general();
  } catch (error) {
    expect(thrown(got)).toEqual(error);
    return;
  }
  expectSameQ(got(), want);
}

/** 4-D inputs in the layouts, dtypes and qparams a module may see between calls. */
function inputs4d(): QTensor[] {
  return [
    qinput([1, 4, 6, 6]),
    qinput([1, 4, 6, 6]),
    qinput([1, 4, 6, 6]).contiguous('channels_last'),
    qinput([1, 4, 6, 6], 'qint8'),
    qinput([1, 4, 6, 6], 'quint8', 0.05, 3),
    qinput([2, 3, 6, 6]),
    qinput([1, 1, 6, 6]).contiguous('channels_last'),
    qinput([1, 3, 1, 1]).contiguous('channels_last'),
    qinput([1, 4, 6, 6]).permute([0, 1, 3, 2]),
    qinput([4, 6, 6]),
  ];
}

describe('pool modules eager forward', () => {
  afterEach(() => backend.setQuantizedEngine('fbgemm'));

  test('MaxPool2d equals qF.maxPool2d for each input and option set, called twice each', () => {
    for (const [kernel, options] of [[2, {}], [[3, 2], { stride: [2, 1], padding: 1 }], [3, { stride: 2, dilation: 2, padding: [1, 0] }], [2, { ceilMode: true, stride: 2 }]] as const) {
      const m = new nn.MaxPool2d(kernel as never, options as never);
      for (const x of inputs4d()) {
        expectSame(() => m.forward(x), () => qF.maxPool2d(x, kernel as never, options as never));
        expectSame(() => m.forward(x), () => qF.maxPool2d(x, kernel as never, options as never));
      }
    }
  });

  test('MaxPool1d and MaxPool3d equal their functional forms', () => {
    const m1 = new nnq.MaxPool1d(2, { stride: 1 });
    const m3 = new nnq.MaxPool3d(2);
    for (const x of [qinput([2, 3, 8]), qinput([3, 8]), qinput([2, 3, 8], 'qint8')]) {
      expectSameQ(m1.forward(x), qF.maxPool1d(x, 2, { stride: 1 }));
      expectSameQ(m1.forward(x), qF.maxPool1d(x, 2, { stride: 1 }));
    }
    for (const x of [qinput([1, 2, 4, 4, 4]), qinput([1, 2, 4, 4, 4]).contiguous('channels_last_3d')]) {
      expectSameQ(m3.forward(x), qF.maxPool3d(x, 2));
      expectSameQ(m3.forward(x), qF.maxPool3d(x, 2));
    }
  });

  test('AvgPool1d/2d/3d equal their functional forms for each input and option set', () => {
    for (const [kernel, options] of [[2, {}], [3, { stride: 1, padding: 1, countIncludePad: false }], [[2, 3], { divisorOverride: 5 }], [3, { ceilMode: true, stride: 2 }]] as const) {
      const m = new nn.AvgPool2d(kernel as never, options as never);
      for (const x of inputs4d()) {
        expectSame(() => m.forward(x), () => qF.avgPool2d(x, kernel as never, options as never));
        expectSame(() => m.forward(x), () => qF.avgPool2d(x, kernel as never, options as never));
      }
    }
    const m1 = new nnq.AvgPool1d(2);
    const m3 = new nnq.AvgPool3d(2, { stride: 1 });
    for (let i = 0; i < 2; i++) {
      const x1 = qinput([2, 3, 8]);
      expectSameQ(m1.forward(x1), qF.avgPool1d(x1, 2));
      for (const x of [qinput([1, 2, 4, 4, 4]), qinput([1, 2, 4, 4, 4]).contiguous('channels_last_3d')]) {
        expectSameQ(m3.forward(x), qF.avgPool3d(x, 2, { stride: 1 }));
        expectSameQ(m3.forward(x), qF.avgPool3d(x, 2, { stride: 1 }));
      }
    }
  });

  test('AvgPool2d follows the quantized engine when it changes between calls', () => {
    // QNNPACK ignores divisorOverride (torch 1.13), so the two engines' numbers differ here.
    const m = new nn.AvgPool2d(2, { divisorOverride: 3 });
    const x = qinput([1, 4, 6, 6]);
    const byEngine = new Map<string, QTensor>();
    for (const engine of ['fbgemm', 'qnnpack', 'fbgemm', 'qnnpack', 'x86'] as const) {
      backend.setQuantizedEngine(engine);
      const want = qF.avgPool2d(x, 2, { divisorOverride: 3 });
      expectSameQ(m.forward(x), want);
      expectSameQ(m.forward(x), want);
      byEngine.set(engine, want);
    }
    expect(Array.from(byEngine.get('qnnpack')!.intRepr())).not.toEqual(Array.from(byEngine.get('fbgemm')!.intRepr()));
  });

  test('AdaptiveAvgPool and AdaptiveMaxPool equal their functional forms, null sizes included', () => {
    for (const size of [1, [3, 2], [null, 2], [4, null], [2]] as const) {
      const avg = new nn.AdaptiveAvgPool2d(size as never);
      const max = new nnq.AdaptiveMaxPool2d(size as never);
      for (const x of inputs4d()) {
        expectSameQ(avg.forward(x), qF.adaptiveAvgPool2d(x, size as never));
        expectSameQ(avg.forward(x), qF.adaptiveAvgPool2d(x, size as never));
        expectSameQ(max.forward(x), qF.adaptiveMaxPool2d(x, size as never));
        expectSameQ(max.forward(x), qF.adaptiveMaxPool2d(x, size as never));
      }
    }
    const avg3 = new nnq.AdaptiveAvgPool3d(1);
    const avg3b = new nnq.AdaptiveAvgPool3d([2, 1, 2]);
    const avg1 = new nnq.AdaptiveAvgPool1d(3);
    for (let i = 0; i < 2; i++) {
      const x = qinput([1, 2, 4, 4, 4]);
      expectSameQ(avg3.forward(x), qF.adaptiveAvgPool3d(x, 1));
      expectSameQ(avg3b.forward(x), qF.adaptiveAvgPool3d(x, [2, 1, 2]));
      const x1 = qinput([2, 3, 9]);
      expectSameQ(avg1.forward(x1), qF.adaptiveAvgPool1d(x1, 3));
    }
  });

  test('pool modules follow their attributes when they change between calls, with the same errors', () => {
    const x = qinput([1, 4, 6, 6]);
    const m = new nn.MaxPool2d(2);
    expectSameQ(m.forward(x), qF.maxPool2d(x, 2));
    m.kernelSize = 3;
    expectSameQ(m.forward(x), qF.maxPool2d(x, 3));
    m.kernelSize = [3, 3];  // the same window as a list: a hit, the same numbers
    expectSameQ(m.forward(x), qF.maxPool2d(x, 3));
    (m.kernelSize as number[])[1] = 2;  // a list changed in place
    expectSameQ(m.forward(x), qF.maxPool2d(x, [3, 2]));
    m.options.stride = 1;
    expectSameQ(m.forward(x), qF.maxPool2d(x, [3, 2], { stride: 1 }));
    m.options.padding = [1, 1];
    expectSameQ(m.forward(x), qF.maxPool2d(x, [3, 2], { stride: 1, padding: [1, 1] }));
    m.options.dilation = 2;
    expectSameQ(m.forward(x), qF.maxPool2d(x, [3, 2], { stride: 1, padding: [1, 1], dilation: 2 }));
    m.options = { ceilMode: true, stride: 2 };
    expectSameQ(m.forward(x), qF.maxPool2d(x, [3, 2], { ceilMode: true, stride: 2 }));
    m.options = {};
    m.forward(x);
    for (const [kernel, options] of [
      [2, { padding: 2 }],
      [0, {}],
      [2.5, {}],
      [[2, 2, 2], {}],
      [2, { stride: [0, 1] }],
      [2, { ceilMode: 'yes' }],
      [2, { returnIndices: true }],
      [2, { foo: 1 }],
      [7, {}],
      ['2', {}],
    ] as const) {
      m.kernelSize = kernel as never;
      m.options = options as never;
      expect(thrown(() => m.forward(x))).toEqual(thrown(() => qF.maxPool2d(x, kernel as never, options as never)));
      m.kernelSize = 2;
      m.options = {};
      m.forward(x);
    }
    const avg = new nn.AvgPool2d(2);
    avg.forward(x);
    for (const options of [{ divisorOverride: 0 }, { countIncludePad: 1 }, { padding: 3 }, { stride: null }, { divisorOverride: null }]) {
      avg.options = options as never;
      if ('stride' in options || options.divisorOverride === null) expectSameQ(avg.forward(x), qF.avgPool2d(x, 2, options as never));
      else expect(thrown(() => avg.forward(x))).toEqual(thrown(() => qF.avgPool2d(x, 2, options as never)));
    }
    const adaptive = new nn.AdaptiveAvgPool2d([3, 2]);
    adaptive.forward(x);
    // A null size is the input's size (6), not the kept output's (3).
    for (const size of [[null, 2], [3, null], [3, 2], [6, 2], [null, null], 6]) {
      adaptive.outputSize = size as never;
      expectSameQ(adaptive.forward(x), qF.adaptiveAvgPool2d(x, size as never));
    }
    adaptive.outputSize = 2;
    adaptive.forward(x);
    for (const size of [0, [2, 2, 2], [2.5, 1], 'two', [null, 0]]) {
      adaptive.outputSize = size as never;
      expect(thrown(() => adaptive.forward(x))).toEqual(thrown(() => qF.adaptiveAvgPool2d(x, size as never)));
    }
  });

  test('a kept input layout that changes (rank, dtype, transferred buffer, per-channel) gets the general path and its errors', () => {
    for (const m of [new nn.MaxPool2d(2), new nn.AvgPool2d(2), new nn.AdaptiveAvgPool2d(1), new nnq.AdaptiveMaxPool2d(1)]) {
      const general = (x: unknown) => (m instanceof nn.MaxPool2d ? qF.maxPool2d(x as QTensor, 2) : m instanceof nn.AvgPool2d ? qF.avgPool2d(x as QTensor, 2) : m instanceof nn.AdaptiveAvgPool2d ? qF.adaptiveAvgPool2d(x as QTensor, 1) : qF.adaptiveMaxPool2d(x as QTensor, 1));
      const x = qinput([1, 4, 4, 4]);
      m.forward(x);
      const gone = qinput([1, 4, 4, 4]);
      detach(gone.data);
      expect(thrown(() => m.forward(gone))).toEqual(thrown(() => general(gone)));
      const flat = qinput([4, 4]);
      expect(thrown(() => m.forward(flat))).toEqual(thrown(() => general(flat)));
      expect(thrown(() => m.forward(tensor(floats(64), [1, 4, 4, 4]) as never))).toEqual(thrown(() => general(tensor(floats(64), [1, 4, 4, 4]))));
      const perChannel = quantizePerChannel(tensor(floats(64), [1, 4, 4, 4]), new Float32Array(4).fill(0.1), new Int32Array(4), 1, 'quint8');
      expect(thrown(() => m.forward(perChannel))).toEqual(thrown(() => general(perChannel)));
      const empty = qinput([1, 4, 0, 4]);
      expect(thrown(() => m.forward(empty))).toEqual(thrown(() => general(empty)));
      const wide = qinput([1, 4, 4, 4], 'qint8');
      expectSameQ(m.forward(wide), general(wide));
      expectSameQ(m.forward(x), general(x));
    }
  });
});

describe('norm modules eager forward', () => {
  const features = 4;
  const params = () => tensor(floats(features), [features]);

  function batchNorm(m: nnq.BatchNorm2d | nniq.BNReLU2d, x: QTensor, relu: boolean): QTensor {
    const f = relu ? ops.quantized.batchNorm2dRelu : ops.quantized.batchNorm2d;
    return f(x, m.weight, m.bias, m.runningMean, m.runningVar, m.eps, Math.fround(m.scale), m.zeroPoint);
  }

  test('BatchNorm2d and BNReLU2d equal the op for each input, called twice each, as their attributes change', () => {
    for (const relu of [false, true]) {
      const m = relu ? new nniq.BNReLU2d(features) : new nnq.BatchNorm2d(features);
      m.weight = params();
      m.bias = params();
      m.runningMean = params();
      m.runningVar = tensor(Float32Array.from(floats(features), (v) => Math.abs(v) + 0.1), [features]);
      m.scale = 0.05;
      m.zeroPoint = 100;
      const xs = [qinput([1, 4, 3, 3]), qinput([1, 4, 3, 3]).contiguous('channels_last'), qinput([2, 4, 3, 3], 'qint8'), qinput([1, 4, 3, 3]).permute([0, 1, 3, 2]), qinput([1, 4, 1, 1]).contiguous('channels_last')];
      for (const x of xs) {
        expectSameQ(m.forward(x), batchNorm(m, x, relu));
        expectSameQ(m.forward(x), batchNorm(m, x, relu));
      }
      const x = xs[0];
      m.weight.data[0] += 1;  // values edited in place: read by the call
      expectSameQ(m.forward(x), batchNorm(m, x, relu));
      m.runningMean = params();
      expectSameQ(m.forward(x), batchNorm(m, x, relu));
      m.eps = 0.5;
      expectSameQ(m.forward(x), batchNorm(m, x, relu));
      m.scale = 0.1;
      expectSameQ(m.forward(x), batchNorm(m, x, relu));
      m.zeroPoint = 7;
      expectSameQ(m.forward(x), batchNorm(m, x, relu));
    }
    const m3 = new nnq.BatchNorm3d(features);
    const m1 = new nnq.BatchNorm1d(features);
    for (let i = 0; i < 2; i++) {
      const x3 = qinput([1, 4, 2, 2, 2]);
      expectSameQ(m3.forward(x3), ops.quantized.batchNorm3d(x3, m3.weight, m3.bias, m3.runningMean, m3.runningVar, m3.eps, 1, 0));
      for (const x1 of [qinput([2, 4]), qinput([2, 4, 3])]) {
        expectSameQ(m1.forward(x1), ops.quantized.batchNorm1d(x1, m1.weight, m1.bias, m1.runningMean, m1.runningVar, m1.eps, 1, 0));
      }
    }
  });

  test('BatchNorm2d errors are the general path\'s', () => {
    const m = new nnq.BatchNorm2d(features);
    const x = qinput([1, 4, 3, 3]);
    m.forward(x);
    const general = () => batchNorm(m, x, false);
    const weight = m.weight;
    const gone = params();
    detach(gone.data);
    m.weight = gone;
    expect(thrown(() => m.forward(x))).toEqual(thrown(general));
    m.weight = weight;
    m.forward(x);
    detach(weight.data);
    expect(thrown(() => m.forward(x))).toEqual(thrown(general));
    m.weight = params();
    m.forward(x);
    m.runningVar = tensor(floats(3), [3]);
    expect(thrown(() => m.forward(x))).toEqual(thrown(general));
    m.runningVar = params();
    m.forward(x);
    for (const [key, value] of [['scale', 0], ['scale', NaN], ['zeroPoint', 300], ['zeroPoint', 1.5], ['eps', -1], ['eps', 'x']] as const) {
      const kept = (m as unknown as Record<string, unknown>)[key];
      (m as unknown as Record<string, unknown>)[key] = value;
      // The module's general path (its plan: the forward before the kept state).
      expect(thrown(() => m.forward(x))).toEqual(thrown(() => m.plan(x).run()));
      (m as unknown as Record<string, unknown>)[key] = kept;
      m.forward(x);
    }
    const y = qinput([1, 3, 3, 3]);
    expect(thrown(() => m.forward(y))).toEqual(thrown(() => batchNorm(m, y, false)));
    const gone2 = qinput([1, 4, 3, 3]);
    detach(gone2.data);
    expect(thrown(() => m.forward(gone2))).toEqual(thrown(() => batchNorm(m, gone2, false)));
  });

  test('LayerNorm equals the op as its normalized shape, affine parameters and qparams change', () => {
    const x = qinput([2, 3, 4]);
    const w = Float32Array.from(floats(4));
    const b = Float32Array.from(floats(4));
    const m = new nnq.LayerNorm([4], w, b, 0.05, 120);
    const general = () => ops.quantized.layerNorm(x, m.normalizedShape, m.weight, m.bias, m.eps, m.scale, m.zeroPoint);
    expectSameQ(m.forward(x), general());
    expectSameQ(m.forward(x), general());
    w[1] = 3;  // values edited in place: read by the call
    expectSameQ(m.forward(x), general());
    m.normalizedShape = 4;
    expectSameQ(m.forward(x), general());
    m.normalizedShape = 3;
    expect(thrown(() => m.forward(x))).toEqual(thrown(general));
    m.normalizedShape = [4];
    expectSameQ(m.forward(x), general());
    m.normalizedShape = [3, 4];
    m.weight = tensor(floats(12), [3, 4]);
    m.bias = tensor(floats(12), [3, 4]);
    expectSameQ(m.forward(x), general());
    expectSameQ(m.forward(x), general());
    (m.normalizedShape as number[])[0] = 2;  // a list changed in place: its error
    expect(thrown(() => m.forward(x))).toEqual(thrown(general));
    m.normalizedShape = [3, 4];
    m.forward(x);
    m.weight = null;
    expect(thrown(() => m.forward(x))).toEqual(thrown(general));
    m.bias = null;
    expectSameQ(m.forward(x), general());
    expectSameQ(m.forward(x), general());
    m.weight = Array.from(floats(12));  // a list of numbers: copied per call, not kept
    m.bias = Array.from(floats(12));
    expectSameQ(m.forward(x), general());
    (m.weight as number[])[0] = 9;
    expectSameQ(m.forward(x), general());
    for (const [key, value] of [['scale', 0.2], ['zeroPoint', 3], ['eps', 0.25]] as const) {
      (m as unknown as Record<string, unknown>)[key] = value;
      expectSameQ(m.forward(x), general());
    }
    for (const [key, value] of [['scale', -1], ['zeroPoint', 256], ['eps', NaN], ['normalizedShape', [5]], ['normalizedShape', []]] as const) {
      const kept = (m as unknown as Record<string, unknown>)[key];
      (m as unknown as Record<string, unknown>)[key] = value;
      expect(thrown(() => m.forward(x))).toEqual(thrown(general));
      (m as unknown as Record<string, unknown>)[key] = kept;
      m.forward(x);
    }
    for (const other of [qinput([2, 3, 4], 'qint8'), qinput([3, 2, 4]).permute([1, 0, 2]), qinput([6, 3, 4])]) {
      const want = ops.quantized.layerNorm(other, m.normalizedShape, m.weight, m.bias, m.eps, m.scale, m.zeroPoint);
      expectSameQ(m.forward(other), want);
      expectSameQ(m.forward(other), want);
    }
    const gone = qinput([2, 3, 4]);
    detach(gone.data);
    expect(thrown(() => m.forward(gone))).toEqual(thrown(() => ops.quantized.layerNorm(gone, m.normalizedShape, m.weight, m.bias, m.eps, m.scale, m.zeroPoint)));
  });

  test('a detached Float32Array weight gets the general path\'s error', () => {
    const x = qinput([2, 4]);
    const w = Float32Array.from(floats(4));
    const m = new nnq.LayerNorm(4, w, Float32Array.from(floats(4)), 0.05, 120);
    m.forward(x);
    detach(w);
    expect(thrown(() => m.forward(x))).toEqual(thrown(() => ops.quantized.layerNorm(x, 4, w, m.bias, m.eps, m.scale, m.zeroPoint)));
  });
});

describe('traced plans and kept state', () => {
  test('jit.trace of modules that ran eagerly records their ops, and the plan survives other eager calls', () => {
    const x = qinput([1, 4, 6, 6]);
    const modules = [new nn.MaxPool2d(2), new nn.AvgPool2d(3, { stride: 1 }), new nn.AdaptiveAvgPool2d(2), new nnq.BatchNorm2d(4), new nnq.LayerNorm([6], null, null, 0.05, 120)];
    for (const m of modules) {
      m.forward(x);
      const traced = jit.trace(m, [x]);
      try {
        const z = qinput([1, 4, 6, 6]);
        const want = m.forward(z);
        // Other geometries reuse the binding's slots of prepared pools; the plan keeps its own steps.
        for (let k = 1; k <= 40; k++) qF.maxPool2d(qinput([1, 2, 4 + (k % 7), 5]), 1 + (k % 3));
        expectSameQ(traced.forward(z) as QTensor, want);
        expectSameQ(m.forward(z), want);
      } finally {
        traced.dispose();
      }
    }
  });

  test('async and sync calls of one geometry give the same bits', async () => {
    const m = new nn.AvgPool2d(2);
    const xs = Array.from({ length: 8 }, () => qinput([1, 4, 6, 6]));
    const sync = xs.map((x) => m.forward(x));
    const got = await Promise.all(xs.map((x) => m.forwardAsync(x)));
    got.forEach((y, i) => expectSameQ(y, sync[i]));
  });
});
