// nn.Upsample, nnq.Embedding and nnq.EmbeddingBag eager forwards (which reuse derived state between calls) against the general path, as the modules' settings and inputs change.
import { jit, nn, nnq, ops, qF, QTensor, Tensor, tensor } from '..';
import { detach, thrown } from './helpers/errors';
import { expectSameQ, seededInputs } from './helpers/eager';
import { Rng, testSeed } from './helpers/random';

const { floats, qinput } = seededInputs(new Rng(testSeed('eager-module-cache')));

function expectSameTensor(got: Tensor, want: Tensor): void {
  expect(got.shape).toEqual(want.shape);
  expect(got.strides).toEqual(want.strides);
  expect(Array.from(got.data)).toEqual(Array.from(want.data));
}

describe('nn.Upsample eager forward', () => {
  test('equals qF.interpolate for each input layout, dtype and qparams, called twice each', () => {
    const inputs = [
      qinput([1, 4, 4, 4]),
      qinput([1, 4, 4, 4]).contiguous('channels_last'),
      qinput([1, 4, 4, 4], 'qint8'),
      qinput([1, 4, 4, 4], 'quint8', 0.05, 3),
      qinput([2, 3, 5]),
      qinput([3, 5, 6]).unsqueeze(0).squeeze(0),
      qinput([1, 2, 3, 4, 5]),
      qinput([1, 1, 4, 4]).contiguous('channels_last'),
      qinput([1, 3, 1, 1]).contiguous('channels_last'),
      qinput([1, 4, 6, 6]).permute([0, 1, 3, 2]),
    ];
    for (const options of [{ scaleFactor: 2 }, { size: 7 }, { scaleFactor: 1.5, recomputeScaleFactor: true }, { scaleFactor: 0.5, mode: 'nearest' as const }]) {
      const up = new nn.Upsample(options);
      for (const x of inputs) {
        if (options.scaleFactor === 0.5 && x.shape.slice(2).some((d) => d < 2)) continue;  // a 1-sized dim halves to 0
        const want = qF.interpolate(x, options);
        expectSameQ(up.forward(x), want);
        expectSameQ(up.forward(x), want);
      }
    }
    for (const alignCorners of [true, false, null]) {
      const up = new nn.Upsample({ scaleFactor: 2, mode: 'bilinear', alignCorners });
      for (const x of [qinput([1, 4, 4, 4]), qinput([1, 4, 4, 4]).contiguous('channels_last'), qinput([1, 4, 4, 4], 'quint8', 0.1, 7)]) {
        const want = qF.interpolate(x, { scaleFactor: 2, mode: 'bilinear', alignCorners });
        expectSameQ(up.forward(x), want);
        expectSameQ(up.forward(x), want);
      }
    }
  });

  test('follows its options when they change between calls, with the same errors', () => {
    const x = qinput([1, 4, 4, 4]);
    const up = new nn.Upsample({ scaleFactor: 2 });
    expectSameQ(up.forward(x), qF.interpolate(x, { scaleFactor: 2 }));
    up.options.scaleFactor = 3;
    expectSameQ(up.forward(x), qF.interpolate(x, { scaleFactor: 3 }));
    up.options.mode = 'bilinear';
    expectSameQ(up.forward(x), qF.interpolate(x, { scaleFactor: 3, mode: 'bilinear' }));
    up.options.alignCorners = true;
    expectSameQ(up.forward(x), qF.interpolate(x, { scaleFactor: 3, mode: 'bilinear', alignCorners: true }));
    up.options = { size: [5, 6] };
    expectSameQ(up.forward(x), qF.interpolate(x, { size: [5, 6] }));
    expectSameQ(up.forward(x), qF.interpolate(x, { size: [5, 6] }));
    (up.options.size as number[])[1] = 9;  // a list changed in place
    expectSameQ(up.forward(x), qF.interpolate(x, { size: [5, 9] }));
    up.options = { scaleFactor: 2 };
    up.forward(x);
    (up.options as Record<string, unknown>).scale = 2;
    expect(thrown(() => up.forward(x))).toEqual(thrown(() => qF.interpolate(x, { scaleFactor: 2, scale: 2 } as never)));
    up.options = { scaleFactor: 2, mode: 'cubic' as never };
    expect(thrown(() => up.forward(x))).toEqual(thrown(() => qF.interpolate(x, up.options)));
    up.options = { scaleFactor: 2, size: 3 };
    expect(thrown(() => up.forward(x))).toEqual(thrown(() => qF.interpolate(x, up.options)));
    up.options = { scaleFactor: 2, alignCorners: true };
    expect(thrown(() => up.forward(x))).toEqual(thrown(() => qF.interpolate(x, up.options)));
    up.options = undefined as never;
    expect(thrown(() => up.forward(x))).toEqual(thrown(() => qF.interpolate(x, undefined)));
  });

  test('a cached input layout that changes (rank, dtype, transferred buffer) gets the general path and its errors', () => {
    const up = new nn.Upsample({ scaleFactor: 2 });
    const x = qinput([1, 4, 4, 4]);
    up.forward(x);
    const y = qinput([1, 4, 4, 4]);
    detach(y.data);
    expect(thrown(() => up.forward(y))).toEqual(thrown(() => qF.interpolate(y, { scaleFactor: 2 })));
    const flat = qinput([4, 4]);
    expect(thrown(() => up.forward(flat))).toEqual(thrown(() => qF.interpolate(flat, { scaleFactor: 2 })));
    expect(thrown(() => up.forward(tensor(floats(64), [1, 4, 4, 4]) as never))).toBeInstanceOf(TypeError);
    const wide = qinput([1, 4, 4, 4], 'qint8');
    expectSameQ(up.forward(wide), qF.interpolate(wide, { scaleFactor: 2 }));
  });

  test('jit.trace of a module that has run eagerly records the op', () => {
    const up = new nn.Upsample({ scaleFactor: 2 });
    const x = qinput([1, 4, 4, 4]);
    up.forward(x);
    const traced = jit.trace(up, [x]);
    try {
      const z = qinput([1, 4, 4, 4]);
      expectSameQ(traced.forward(z) as QTensor, up.forward(z));
    } finally {
      traced.dispose();
    }
  });
});

describe('nnq.Embedding and nnq.EmbeddingBag eager forward', () => {
  const weight = (rows: number, dim: number) => tensor(floats(rows * dim), [rows, dim]);

  test('Embedding equals embeddingByte / embedding4bit across index kinds, lengths and weights', () => {
    for (const dtype of ['quint8', 'quint4x2'] as const) {
      const emb = nnq.Embedding.fromFloat({ weight: weight(16, 8) }, { dtype });
      const byIndex = (ids: unknown) => (dtype === 'quint8' ? ops.quantized.embeddingByte : ops.quantized.embedding4bit)(emb.packedWeight(), ids as never);
      for (const ids of [new Int32Array([1, 3, 5, 7]), new Int32Array([1, 3, 5, 7]), new Int32Array([0]), new BigInt64Array([2n, 15n, 2n]), [4, 5], new Int32Array([9, 8, 7, 6, 5])]) {
        expectSameTensor(emb.forward(ids as never), byIndex(ids));
      }
      emb.setWeight(nnq.Embedding.fromFloat({ weight: weight(16, 8) }, { dtype }).weight());
      const ids = new Int32Array([1, 3, 5, 7]);
      expectSameTensor(emb.forward(ids), byIndex(ids));
    }
    const padded = nnq.Embedding.fromFloat({ weight: weight(16, 8), paddingIdx: 3 });
    const rows = padded.forward(new Int32Array([3, 4, 3]));
    expect(Array.from(rows.data.subarray(0, 8))).toEqual(new Array(8).fill(0));
    expectSameTensor(rows, padded.forward([3, 4, 3]));
  });

  test('Embedding errors are the general path\'s', () => {
    const emb = nnq.Embedding.fromFloat({ weight: weight(16, 8) });
    emb.forward(new Int32Array([1, 2]));
    expect(thrown(() => emb.forward(new Int32Array([1, 16])))).toEqual(thrown(() => emb.forward([1, 16])));
    expect(thrown(() => emb.forward(new Int32Array([-1])))).toEqual(thrown(() => emb.forward([-1])));
    const gone = new Int32Array([1, 2]);
    detach(gone);
    expect(thrown(() => emb.forward(gone))).toEqual(thrown(() => ops.quantized.embeddingByte(emb.packedWeight(), gone)));
    expect(thrown(() => emb.forward(new Float32Array(2) as never))).toBeInstanceOf(TypeError);
  });

  test('EmbeddingBag equals the general path as its mode, includeLastOffset and paddingIdx change', () => {
    const w = weight(16, 8);
    const bag = nnq.EmbeddingBag.fromFloat({ weight: w });
    const ref = nnq.EmbeddingBag.fromFloat({ weight: w });
    const ids = new Int32Array([1, 3, 5, 7, 9]);
    const offsets = new Int32Array([0, 2, 2]);
    // Plain arrays take the general path: the reference.
    const general = () => ref.forward(Array.from(ids), Array.from(offsets));
    for (const mode of ['sum', 'mean', 'max', 'sum'] as const) {
      for (const includeLastOffset of [false, true, false]) {
        bag.mode = mode;
        bag.includeLastOffset = includeLastOffset;
        ref.mode = mode;
        ref.includeLastOffset = includeLastOffset;
        expectSameTensor(bag.forward(ids, offsets), general());
        expectSameTensor(bag.forward(ids, offsets), general());
      }
    }
    bag.mode = 'sum';
    bag.includeLastOffset = false;
    expectSameTensor(bag.forward(new BigInt64Array([1n, 2n]), new BigInt64Array([0n])), ref.forward([1, 2], [0]));
    const weights = new Float32Array([0.5, 2, 1, 1, 3]);
    ref.mode = 'sum';
    ref.includeLastOffset = false;
    expectSameTensor(bag.forward(ids, offsets, weights), ref.forward(Array.from(ids), Array.from(offsets), weights));
    (bag as { paddingIdx: number | null }).paddingIdx = 3;
    (ref as { paddingIdx: number | null }).paddingIdx = 3;
    expectSameTensor(bag.forward(ids, offsets), general());
  });

  test('EmbeddingBag errors are the general path\'s', () => {
    const bag = nnq.EmbeddingBag.fromFloat({ weight: weight(16, 8) });
    // The general path on the same arrays: the op the module's forward runs.
    const general = (i: Int32Array, o?: Int32Array) =>
      ops.quantized.embeddingBagByteRowwiseOffsets(bag.packedWeight(), i, o, { mode: bag.mode, includeLastOffset: bag.includeLastOffset, paddingIdx: bag.paddingIdx });
    const ids = new Int32Array([1, 3]);
    bag.forward(ids, new Int32Array([0]));
    for (const [i, o] of [[ids, new Int32Array([1])], [new Int32Array([1, 99]), new Int32Array([0])], [ids, new Int32Array([0, 3])], [ids, undefined]] as const) {
      expect(thrown(() => bag.forward(i, o))).toEqual(thrown(() => general(i, o)));
    }
    expectSameTensor(bag.forward(ids, new Int32Array([])), general(ids, new Int32Array([])));  // no bags
    bag.includeLastOffset = true;
    expect(thrown(() => bag.forward(ids, new Int32Array([])))).toEqual(thrown(() => general(ids, new Int32Array([]))));
    const gone = new Int32Array([0]);
    detach(gone);
    expect(thrown(() => bag.forward(ids, gone))).toEqual(thrown(() => general(ids, gone)));
    expect(thrown(() => bag.forward(gone, new Int32Array([0])))).toEqual(thrown(() => general(gone, new Int32Array([0]))));
    // Bad attributes: the module's own checks, before the table's.
    bag.includeLastOffset = 'yes' as never;
    expect(thrown(() => bag.forward(ids, new Int32Array([0])))).toEqual(new TypeError('Expected boolean for includeLastOffset but received \'yes\' of type string'));
    bag.includeLastOffset = false;
    bag.mode = 'avg' as never;
    expect(thrown(() => bag.forward(ids, new Int32Array([0])))).toEqual(thrown(() => general(ids, new Int32Array([0]))));
    expect(thrown(() => bag.forward(ids, new Int32Array([0])))).toBeInstanceOf(RangeError);
    bag.mode = 'sum';
    (bag as { paddingIdx: unknown }).paddingIdx = 1.5;
    expect(thrown(() => bag.forward(ids, new Int32Array([0])))).toEqual(thrown(() => general(ids, new Int32Array([0]))));
  });
});
