// Embedding prepack/unpack bytes and the nnq.Embedding / nnq.EmbeddingBag modules against PyTorch; module errors and async.
import { nnq, ops, tensor, Tensor } from '..';
import { expectExact, FailureLog } from './helpers/compare';
import { expectValidationError, expectValidationRejection } from './helpers/errors';
import { describeEachPath } from './helpers/paths';
import { Rng, testSeed } from './helpers/random';
import { describeOracle, okResult, OracleResult, runOracle, shaped } from './oracle';

const SWEEP = process.env.QKERNELS_SWEEP === '1';
const rng = new Rng(testSeed('embedding-pack'));

/**
 * Rows of many kinds: normal, wide ranges, tiny ranges, constant rows, huge magnitudes, fp16-edge
 * values. `centered` rows (for optimizedQparams) sit around 0: torch's search loops forever on a
 * row whose range is tiny next to its magnitude (a bin step rounds away), see the test below.
 */
function randomWeight(rows: number, dim: number, centered = false): Tensor {
  const data = new Float32Array(rows * dim);
  for (let r = 0; r < rows; r++) {
    const kind = rng.int(0, 6);
    const spread = kind === 0 ? rng.logUniform(1e-6, 1e-2) : kind === 1 ? rng.logUniform(1e2, 6e4) : rng.logUniform(0.01, 10);
    const drawn = kind === 2 ? rng.range(-1e3, 1e3) : rng.range(-1, 1);
    const center = centered ? 0 : drawn;
    for (let j = 0; j < dim; j++) data[r * dim + j] = kind === 3 ? center : center + spread * rng.normal();
  }
  return tensor(data, [rows, dim]);
}

interface PackCase {
  label: string;
  bits: 8 | 4;
  weight: Tensor;
  optimized: boolean;
}

const packCases: PackCase[] = [];
for (let k = 0; k < (SWEEP ? 200 : 60); k++) {
  const bits: 8 | 4 = rng.bool() ? 8 : 4;
  const rows = k === 0 ? (SWEEP ? 100000 : 20000) : rng.bool(0.1) ? rng.int(500, 3000) : rng.int(1, 40);
  let dim = k === 0 ? 4 : rng.bool(0.2) ? rng.int(129, 512) : rng.int(2, 128);
  if (bits === 4 && dim % 2 === 1) dim += 1;
  // torch's optimized-qparams search costs ~1 ms a row: keep it to the smaller tables.
  const optimized = bits === 4 && rng.bool(0.3) && rows <= 3000;
  packCases.push({ label: `pack ${k}: ${bits}-bit ${rows}x${dim}${optimized ? ' optimized' : ''}`, bits, weight: randomWeight(rows, dim, optimized), optimized });
}

function prepack(c: PackCase) {
  return c.bits === 8 ? ops.quantized.embeddingBagBytePrepack(c.weight) : ops.quantized.embeddingBag4bitPrepack(c.weight, { optimizedQparams: c.optimized });
}

interface ModuleCase {
  label: string;
  kind: 'Embedding' | 'EmbeddingBag';
  dtype: 'quint8' | 'quint4x2';
  weight: Tensor;
  indices: Int32Array | BigInt64Array | number[][];
  offsets?: Int32Array;
  includeLastOffset: boolean;
  perSampleWeights?: Float32Array;
}

const moduleCases: ModuleCase[] = [];
for (let k = 0; k < 24; k++) {
  const kind = k % 2 === 0 ? 'Embedding' : 'EmbeddingBag';
  const dtype = rng.bool() ? 'quint8' : 'quint4x2';
  const rows = rng.int(1, 200);
  let dim = rng.int(2, 96);
  if (dtype === 'quint4x2' && dim % 2 === 1) dim += 1;
  const weight = randomWeight(rows, dim);
  const n = rng.int(0, 60);
  const values = Array.from({ length: n }, () => rng.int(0, rows - 1));
  if (kind === 'Embedding') {
    const twoD = rng.bool() && n > 0;
    const indices = twoD ? [values.slice(0, Math.floor(n / 2)), values.slice(Math.floor(n / 2), 2 * Math.floor(n / 2))] : rng.bool() ? Int32Array.from(values) : BigInt64Array.from(values, BigInt);
    moduleCases.push({ label: `module ${k}: Embedding ${dtype} ${rows}x${dim}${twoD ? ' 2-D' : ''}`, kind, dtype, weight, indices, includeLastOffset: false });
  } else {
    const includeLastOffset = rng.bool();
    const offsets = [0];
    for (let b = 1; b < rng.int(1, 8); b++) offsets.push(rng.int(offsets[b - 1], n));
    if (includeLastOffset) offsets.push(n);
    const perSampleWeights = rng.bool() ? Float32Array.from({ length: n }, () => rng.range(-1, 1)) : undefined;
    moduleCases.push({
      label: `module ${k}: EmbeddingBag ${dtype} ${rows}x${dim} n=${n}${perSampleWeights ? ' weighted' : ''}`,
      kind,
      dtype,
      weight,
      indices: Int32Array.from(values),
      offsets: Int32Array.from(offsets),
      includeLastOffset,
      perSampleWeights,
    });
  }
}

function makeModule(c: ModuleCase) {
  if (c.kind === 'Embedding') return nnq.Embedding.fromFloat({ weight: c.weight }, { dtype: c.dtype });
  return nnq.EmbeddingBag.fromFloat({ weight: c.weight, includeLastOffset: c.includeLastOffset }, { dtype: c.dtype });
}

function forward(c: ModuleCase): Tensor {
  const m = makeModule(c);
  if (m instanceof nnq.Embedding) return m.forward(c.indices);
  return m.forward(c.indices, c.offsets, c.perSampleWeights);
}

describeOracle('embedding prepack/unpack and modules vs PyTorch', () => {
  let packed: OracleResult[] = [];
  let unpacked: OracleResult[] = [];
  let modules: OracleResult[] = [];

  beforeAll(() => {
    const results = runOracle([
      ...packCases.map((c) => ({ op: 'embedding_prepack', bits: c.bits, optimized: c.optimized, weight: shaped(c.weight.data, c.weight.shape) })),
      ...packCases.map((c) => {
        const p = prepack(c);
        return { op: 'embedding_unpack', bits: c.bits, packed: shaped(p.data, p.shape) };
      }),
      ...moduleCases.map((c) => ({
        op: 'embedding_module',
        kind: c.kind,
        dtype: c.dtype,
        weight: shaped(c.weight.data, c.weight.shape),
        indices: Array.isArray(c.indices) ? shaped(Int32Array.from(c.indices.flat()), [c.indices.length, c.indices[0].length]) : c.indices,
        offsets: c.offsets,
        include_last_offset: c.includeLastOffset,
        per_sample_weights: c.perSampleWeights,
      })),
    ]);
    const labels = [...packCases.map((c) => c.label), ...packCases.map((c) => `unpack of ${c.label}`), ...moduleCases.map((c) => c.label)];
    const ok = results.map((r, i) => okResult(r, labels[i]));
    packed = ok.slice(0, packCases.length);
    unpacked = ok.slice(packCases.length, 2 * packCases.length);
    modules = ok.slice(2 * packCases.length);
  });

  test('prepacked bytes are torch\'s, byte for byte (8-bit, 4-bit, optimizedQparams)', () => {
    const log = new FailureLog();
    packCases.forEach((c, k) => {
      log.check(c.label, () => {
        const p = prepack(c);
        expect(p.shape).toEqual(packed[k].packed.shape);
        expectExact('packed bytes', packed[k].packed.data, p.data, { shape: p.shape });
      });
    });
    log.finish('prepack');
  });

  test('unpacked tables are torch\'s', () => {
    const log = new FailureLog();
    packCases.forEach((c, k) => {
      log.check(c.label, () => {
        const p = prepack(c);
        const w = c.bits === 8 ? ops.quantized.embeddingBagByteUnpack(p) : ops.quantized.embeddingBag4bitUnpack(p);
        expect(w.shape).toEqual(unpacked[k].weight.shape);
        expectExact('unpacked', unpacked[k].weight.data, w.data, { kind: 'float32', shape: w.shape });
      });
    });
    log.finish('unpack');
  });

  describeEachPath('modules', () => {
    test('fromFloat weights and forward outputs are torch\'s', () => {
      const log = new FailureLog();
      moduleCases.forEach((c, k) => {
        log.check(c.label, () => {
          const m = makeModule(c);
          const w = m.weight();
          expectExact('weight int repr', modules[k].int_repr.data, w.intRepr(), {});
          expectExact('weight scales', modules[k].scales.data, Float32Array.from(w.qPerChannelScales()), { kind: 'float32' });
          expectExact('weight zero points', modules[k].zero_points.data, Float32Array.from(w.qPerChannelZeroPoints()), { kind: 'float32' });
          const y = forward(c);
          expect(y.shape).toEqual(modules[k].out.shape);
          expectExact('forward', modules[k].out.data, y.data, { kind: 'float32', shape: y.shape });
        });
      });
      log.finish('modules');
    });

    test('forwardAsync gives forward\'s bits', async () => {
      for (const c of moduleCases.slice(0, 8)) {
        const m = makeModule(c);
        const sync = m instanceof nnq.Embedding ? m.forward(c.indices) : m.forward(c.indices, c.offsets, c.perSampleWeights);
        const later = m instanceof nnq.Embedding ? await m.forwardAsync(c.indices) : await m.forwardAsync(c.indices, c.offsets, c.perSampleWeights);
        expectExact(c.label, sync.data, later.data, { kind: 'float32' });
      }
    });
  });
});

describe('embedding modules: options and errors', () => {
  const weight = tensor(Float32Array.from({ length: 40 }, (_, i) => Math.sin(i)), [10, 4]);

  test('paddingIdx rows are skipped (EmbeddingBag) and zero (Embedding); mean and max modes', () => {
    const bag = nnq.EmbeddingBag.fromFloat({ weight, paddingIdx: 2 });
    const plain = nnq.EmbeddingBag.fromFloat({ weight });
    expectExact('padding skipped', plain.forward([1, 3], [0]).data, bag.forward([1, 2, 3], [0]).data, { kind: 'float32' });
    const emb = nnq.Embedding.fromFloat({ weight, paddingIdx: -8 });
    expect(Array.from(emb.forward([2]).data)).toEqual([0, 0, 0, 0]);
    const mean = nnq.EmbeddingBag.fromFloat({ weight, mode: 'mean' });
    const table = ops.quantized.embeddingBagByteUnpack(mean.packedWeight());
    const got = mean.forward([4, 7], [0]).data;
    for (let j = 0; j < 4; j++) expect(got[j]).toBe(Math.fround(Math.fround(table.data[16 + j] + table.data[28 + j]) / 2));
  });

  test('constructor, setWeight and forward errors', () => {
    expectValidationError(() => new nnq.EmbeddingBag(10, 3, { dtype: 'quint4x2' }), 'RangeError', 'embeddingDim');
    // eslint-disable-next-line @typescript-eslint/no-explicit-any
    expectValidationError(() => new nnq.EmbeddingBag(10, 4, { dtype: 'qint8' as any }), 'RangeError', 'dtype');
    // eslint-disable-next-line @typescript-eslint/no-explicit-any
    expectValidationError(() => new nnq.EmbeddingBag(10, 4, { mode: 'median' as any }), 'RangeError', 'mode');
    expectValidationError(() => new nnq.Embedding(10, 4, { paddingIdx: 10 }), 'RangeError', 'paddingIdx');
    const other = nnq.Embedding.fromFloat({ weight: tensor(new Float32Array(12), [3, 4]) });
    expectValidationError(() => new nnq.Embedding(10, 4).setWeight(other.weight()), 'RangeError', 'weight');
    const emb = nnq.Embedding.fromFloat({ weight });
    expectValidationError(() => emb.forward([10]), 'RangeError', 'indices[0]');
    expectValidationError(() => emb.forward([[1, 2], [3]]), 'RangeError', 'indices[1]');
    expectValidationError(() => ops.quantized.embeddingBag4bitPrepack(tensor(new Float32Array(9), [3, 3])), 'RangeError', 'weight');
  });

  test('forwardAsync rejects bad input with the same errors', async () => {
    const emb = nnq.Embedding.fromFloat({ weight });
    await expectValidationRejection(emb.forwardAsync([11]), 'RangeError', 'indices[0]');
    const bag = nnq.EmbeddingBag.fromFloat({ weight });
    await expectValidationRejection(bag.forwardAsync([1], [1]), 'RangeError', 'offsets[0]');
  });

  test('optimizedQparams stops where torch\'s search would loop forever (a bin step absorbed by rounding)', () => {
    // 1 + j * 2^-23: a range of ~2^-18 at magnitude 1, so range / 200 is below half an ulp of 1.
    const w = tensor(Float32Array.from({ length: 64 }, (_, j) => 1 + j * 2 ** -23), [1, 64]);
    const p = ops.quantized.embeddingBag4bitPrepack(w, { optimizedQparams: true });
    const back = ops.quantized.embeddingBag4bitUnpack(p).data;
    for (const v of back) expect(Math.abs(v - 1)).toBeLessThan(2 ** -8);
  });

  test('8-bit prepack keeps leading dims of N-D weights; unpack restores them', () => {
    const w3 = tensor(Float32Array.from({ length: 24 }, (_, i) => i * 0.5), [2, 3, 4]);
    const p = ops.quantized.embeddingBagBytePrepack(w3);
    expect(p.shape).toEqual([2, 3, 12]);
    expect(ops.quantized.embeddingBagByteUnpack(p).shape).toEqual([2, 3, 4]);
  });
});
