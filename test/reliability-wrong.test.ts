// Issue 14's silent wrong answers: look-alike tensors, detached storage, async modules that read their input late, the linear shape cache.
import { nnq, ops, qF, QTensor, quantizePerTensor, Tensor, tensor } from '..';
import { detach, thrown } from './helpers/errors';
import { describeAgainstTorch, randomInput, TorchCase } from './helpers/pool-norm';
import { Rng } from './helpers/random';

function q4(): QTensor {
  return quantizePerTensor(tensor(new Float32Array(2 * 2 * 6 * 6).map((_, i) => (i % 11) / 4), [2, 2, 6, 6]), 0.05, 3, 'quint8');
}

describe('look-alike tensors', () => {
  test('an object inheriting from a QTensor is not a QTensor', () => {
    const x = q4();
    const fake = Object.create(x, { shape: { value: [2001, 3] } });
    expect(fake instanceof QTensor).toBe(false);
    expect(x instanceof QTensor).toBe(true);
    const error = thrown(() => qF.relu(fake));
    expect(error).toBeInstanceOf(TypeError);
    expect(error.message).toMatch(/Expected QTensor for input/);
  });

  test('quantizePerTensor refuses a Tensor look-alike whose shape lies', () => {
    const t = tensor(new Float32Array(6), [2, 3]);
    const fake = Object.create(t, { shape: { value: [2001, 3] } });
    expect(fake instanceof Tensor).toBe(false);
    const error = thrown(() => quantizePerTensor(fake, 0.1, 0, 'quint8'));
    expect(error).toBeInstanceOf(TypeError);
    expect(error.message).toMatch(/Expected Tensor for input/);
  });

  test('lying strides on a look-alike never reach an op', () => {
    const x = q4();
    const fake = Object.create(x, { strides: { value: [0, 0, 0, 0] } });
    expect(() => qF.relu(fake)).toThrow(TypeError);
    expect(() => qF.maxPool2d(fake, 2)).toThrow(TypeError);
  });

  test('shape, strides and storage of a real tensor cannot be replaced', () => {
    const x = q4();
    expect(() => {
      (x as unknown as { shape: number[] }).shape = [72];
    }).toThrow(TypeError);
    expect(() => (x.shape as number[]).push(1)).toThrow(TypeError);
    expect(Object.isFrozen(x.strides)).toBe(true);
  });
});

describe('detached storage: a TypeError naming the parameter', () => {
  test('views of a detached QTensor', () => {
    const x = q4();
    detach(x.data);
    for (const view of [() => x.reshape([72, 2]), () => x.view([144]), () => x.permute([0, 2, 3, 1]), () => x.narrow(0, 0, 1), () => x.slice(1, 0, 1), () => x.chunk(2), () => x.split(1), () => x.flatten()]) {
      const error = thrown(view);
      expect(error).toBeInstanceOf(TypeError);
      expect(error.message).toMatch(/for this\.data but received Uint8Array\(detached\)/);
    }
  });

  test('pool, norm and resample inputs', () => {
    const x = q4();
    detach(x.data);
    const calls: [string, () => unknown][] = [
      ['maxPool2d', () => qF.maxPool2d(x, 2)],
      ['adaptiveAvgPool2d', () => qF.adaptiveAvgPool2d(x, [2, 2])],
      ['interpolate', () => qF.interpolate(x, { scaleFactor: 2 })],
      ['layerNorm', () => ops.quantized.layerNorm(x, [6], null, null, 1e-5, 0.1, 3)],
      ['groupNorm', () => ops.quantized.groupNorm(x, 1, null, null, 1e-5, 0.1, 3)],
      ['avgPool2d', () => qF.avgPool2d(x, 2)],
      ['adaptiveMaxPool2d', () => qF.adaptiveMaxPool2d(x, [2, 2])],
      ['upsample', () => qF.upsample(x, { scaleFactor: 2 })],
      ['upsampleBilinear', () => qF.upsampleBilinear(x, { scaleFactor: 2 })],
      ['upsampleNearest', () => qF.upsampleNearest(x, { scaleFactor: 2 })],
      ['instanceNorm', () => ops.quantized.instanceNorm(x, null, null, 1e-5, 0.1, 3)],
      ['batchNorm2d', () => ops.quantized.batchNorm2d(x, null, null, new Float32Array(2), new Float32Array(2).fill(1), 1e-5, 0.1, 3)],
      ['relu', () => qF.relu(x)],
      ['chunk', () => x.chunk(3, 2)],
      ['split', () => x.split([1, 1], 0)],
      ['contiguous', () => x.contiguous()],
    ];
    for (const [name, call] of calls) {
      const error = thrown(call);
      expect({ name, type: error.constructor.name, message: /for (input|this)\.data/.test(error.message) }).toEqual({ name, type: 'TypeError', message: true });
    }
  });

  test('async pool, norm and resample ops reject', async () => {
    const x = q4();
    detach(x.data);
    const calls: [string, () => Promise<unknown>][] = [
      ['maxPool2dAsync', () => qF.maxPool2dAsync(x, 2)],
      ['interpolateAsync', () => qF.interpolateAsync(x, { scaleFactor: 2 })],
      ['layerNormAsync', () => ops.quantized.layerNormAsync(x, [6], null, null, 1e-5, 0.1, 3)],
    ];
    for (const [name, call] of calls) {
      const error = await call().then(() => new Error('resolved'), (e: Error) => e);
      expect({ name, type: error.constructor.name, message: /for input\.data/.test(error.message) }).toEqual({ name, type: 'TypeError', message: true });
    }
  });

  test('embedding prepack weight', () => {
    const w = tensor(new Float32Array(12), [3, 4]);
    detach(w.data);
    const error = thrown(() => ops.quantized.embeddingBagBytePrepack(w));
    expect(error).toBeInstanceOf(TypeError);
    expect(error.message).toMatch(/weight\.data/);
    const error4 = thrown(() => ops.quantized.embeddingBag4bitPrepack(w));
    expect(error4).toBeInstanceOf(TypeError);
    expect(error4.message).toMatch(/weight\.data/);
  });
});

describe('JS-computed forwardAsync takes the input at call time', () => {
  function overwriteAfterCall(module: { forward(x: QTensor): QTensor; forwardAsync(x: QTensor): Promise<QTensor> }): Promise<void> {
    const x = q4();
    const want = module.forward(x).intRepr();
    const pending = module.forwardAsync(x);
    (x.data as Uint8Array).fill(200);
    return pending.then((y) => {
      expect(Array.from(y.intRepr())).toEqual(Array.from(want));
    });
  }
  test('Softmax', () => overwriteAfterCall(new nnq.Softmax({ dim: 1, scale: 1 / 256, zeroPoint: 0 })));
  test('Dropout', () => overwriteAfterCall(new nnq.Dropout()));
  test('PReLU', () => overwriteAfterCall(new nnq.PReLU(0.05, 3)));
});

// The native-backed async ops copy their inputs before queuing: writing every input right
// after the call (the same moment the late-reading JS modules were caught at) changes nothing.
describe('native forwardAsync takes its inputs at call time', () => {
  const garbage = (array: ArrayBufferView): void => {
    new Uint8Array(array.buffer, array.byteOffset, array.byteLength).fill(0xa5);
  };
  test('conv, linear, pool, norm, resample, elementwise and embedding-bag inputs overwritten after the call', async () => {
    const cases: [string, () => { want: ArrayLike<number>; pending: Promise<{ data: ArrayLike<number> } | QTensor> }][] = [];
    const qcase = (name: string, sync: (x: QTensor) => QTensor, async: (x: QTensor) => Promise<QTensor>): void => {
      cases.push([name, () => {
        const x = q4();
        const want = Array.from(sync(x).intRepr());
        const pending = async(x);
        garbage(x.data);
        return { want, pending };
      }]);
    };
    const conv = new nnq.Conv2d(2, 3, 3);
    qcase('Conv2d', (x) => conv.forward(x), (x) => conv.forwardAsync(x));
    const linear = new nnq.Linear(6, 4);
    qcase('Linear', (x) => linear.forward(x), (x) => linear.forwardAsync(x));
    qcase('maxPool2d', (x) => qF.maxPool2d(x, 2), (x) => qF.maxPool2dAsync(x, 2));
    qcase('interpolate', (x) => qF.interpolate(x, { scaleFactor: 2 }), (x) => qF.interpolateAsync(x, { scaleFactor: 2 }));
    qcase('layerNorm', (x) => ops.quantized.layerNorm(x, [6], null, null, 1e-5, 0.1, 3), (x) => ops.quantized.layerNormAsync(x, [6], null, null, 1e-5, 0.1, 3));
    qcase('hardswish', (x) => qF.hardswish(x, 0.05, 3), (x) => qF.hardswishAsync(x, 0.05, 3));
    const results: string[] = [];
    for (const [name, make] of cases) {
      const { want, pending } = make();
      const got = await pending;
      results.push(`${name}: ${JSON.stringify(Array.from((got as QTensor).intRepr())) === JSON.stringify(want) ? 'same' : 'changed'}`);
    }
    const bag = new nnq.EmbeddingBag(50, 8, { mode: 'sum' });
    const indices = new Int32Array([3, 9, 27, 49, 0, 12]);
    const offsets = new Int32Array([0, 2, 4]);
    const want = Array.from(bag.forward(indices, offsets).data);
    const pending = bag.forwardAsync(indices, offsets);
    indices.fill(1);
    offsets.fill(0);
    results.push(`EmbeddingBag: ${JSON.stringify(Array.from((await pending).data)) === JSON.stringify(want) ? 'same' : 'changed'}`);
    expect(results).toEqual(cases.map(([name]) => `${name}: same`).concat('EmbeddingBag: same'));
  });
});

describe('linear fast path', () => {
  test('the output shape follows each input shape, whatever order they come in', () => {
    const m = new nnq.Linear(6, 5);
    const a = quantizePerTensor(tensor(new Float32Array(2 * 6).fill(0.5), [2, 6]), 0.1, 3, 'quint8');
    const b = quantizePerTensor(tensor(new Float32Array(3 * 2 * 6).fill(0.5), [3, 2, 6]), 0.1, 3, 'quint8');
    const c = quantizePerTensor(tensor(new Float32Array(4 * 6).fill(0.5), [4, 6]), 0.1, 3, 'quint8');
    for (const [x, shape] of [[a, [2, 5]], [b, [3, 2, 5]], [a, [2, 5]], [c, [4, 5]], [a, [2, 5]]] as [QTensor, number[]][]) {
      const y = m.forward(x);
      expect(y.shape).toEqual(shape);
      expect(y.data.length).toBe(shape.reduce((p, d) => p * d, 1));
    }
  });
});

// Found by the libFuzzer pool target: a dilated window that lies wholly in the padding has no
// element (it read rows[0] of an empty list: a segfault from qF.maxPool2d). torch gives the
// dtype's lowest value there; the oracle says so, case by case.
describe('max pooling windows wholly in the padding', () => {
  const rng = new Rng(1414);
  const cases: TorchCase[] = [];
  for (const dtype of ['quint8', 'qint8'] as const) {
    for (const [dims, shape, kernel, dilation] of [
      [1, [1, 2, 2], [2], [3]],
      [2, [1, 1, 2, 2], [2, 2], [3, 3]],
      [2, [2, 3, 2, 5], [2, 3], [3, 2]],
      [3, [1, 2, 2, 2, 2], [2, 2, 2], [3, 3, 3]],
    ] as [number, number[], number[], number[]][]) {
      const input = randomInput(rng, shape, dtype, 'contiguous_format');
      const padding = kernel.map((k) => Math.floor(k / 2));
      const stride = kernel.map(() => 1);
      const fn = [qF.maxPool1d, qF.maxPool2d, qF.maxPool3d][dims - 1];
      cases.push({
        label: `maxPool${dims}d ${dtype} [${shape}] k ${kernel} d ${dilation} p ${padding}`,
        run: () => fn(input.q, kernel, { stride, padding, dilation }),
        oracle: { op: 'pool_norm.max_pool', dims, kernel, stride, padding, dilation, ceil_mode: false, ...input.wire },
      });
    }
  }
  describeAgainstTorch('empty max-pool windows', 1414, cases);
});
