// Embedding-bag lookups against PyTorch: quantized sum (torch.ops.quantized.embedding_bag_*_rowwise_offsets), mean/max (float F.embedding_bag), every path.
import { ops, tensor, Tensor } from '..';
import { expectExact, FailureLog } from './helpers/compare';
import { expectValidationError } from './helpers/errors';
import { describeEachPath } from './helpers/paths';
import { Rng, testSeed } from './helpers/random';
import { describeOracle, okResult, OracleResult, runOracle, shaped } from './oracle';

const SWEEP = process.env.QKERNELS_SWEEP === '1';
const SEED = testSeed('embedding-bag');
const rng = new Rng(SEED);

type Mode = 'sum' | 'mean' | 'max';

interface BagCase {
  label: string;
  bits: 8 | 4;
  packed: { data: Uint8Array; shape: number[] };
  indices: Int32Array | BigInt64Array;
  offsets: Int32Array | BigInt64Array;
  includeLastOffset: boolean;
  mode: Mode;
  perSampleWeights?: Float32Array;
  mapping?: Int32Array;
  paddingIdx?: number;
}

function randomWeight(rows: number, dim: number): Tensor {
  const data = new Float32Array(rows * dim);
  const spread = rng.logUniform(1e-3, 1e3);
  for (let i = 0; i < data.length; i++) data[i] = rng.normal() * spread + (rng.bool(0.2) ? rng.range(-5, 5) : 0);
  // A few constant rows (range 0) and rows with a single outlier.
  for (let r = 0; r < rows && r < 3; r++) if (rng.bool(0.3)) data.fill(rng.range(-1, 1), r * dim, (r + 1) * dim);
  return tensor(data, [rows, dim]);
}

function makeCase(k: number): BagCase {
  const bits: 8 | 4 = rng.bool() ? 8 : 4;
  const rows = rng.bool(0.1) ? rng.int(1000, SWEEP ? 100000 : 20000) : rng.int(1, 300);
  // Large tables keep small rows, so that the oracle's input stays a few MB.
  let dim = rows > 2000 ? rng.int(2, 16) : rng.bool(0.15) ? rng.int(129, 512) : rng.int(2, 128);
  if (bits === 4 && dim % 2 === 1) dim += rng.bool() ? 1 : -1;
  dim = Math.max(dim, 2);
  const weight = randomWeight(Math.min(rows, 400), dim);
  // Big tables: the packed random weight rows repeated (prepack is tested on its own).
  const smallPacked = bits === 8 ? ops.quantized.embeddingBagBytePrepack(weight) : ops.quantized.embeddingBag4bitPrepack(weight, { optimizedQparams: rng.bool(0.2) });
  const rowBytes = smallPacked.shape[1];
  const data = new Uint8Array(rows * rowBytes);
  for (let r = 0; r < rows; r++) data.set(smallPacked.data.subarray((r % weight.shape[0]) * rowBytes, (r % weight.shape[0] + 1) * rowBytes), r * rowBytes);
  const modes: Mode[] = ['sum', 'sum', 'mean', 'max'];
  const mode = rng.pick(modes);
  const pruned = rng.bool(0.25);
  const indexLimit = pruned ? rows + rng.int(0, 20) : rows;
  let mapping: Int32Array | undefined;
  if (pruned) {
    mapping = Int32Array.from({ length: indexLimit }, () => (rng.bool(0.25) ? -1 : rng.int(0, rows - 1)));
    if (rng.bool(0.1)) mapping = Int32Array.from([0]); // torch's "not pruned after all" marker
  }
  const limit = mapping && mapping.length === 1 ? rows : indexLimit;
  const n = rng.int(0, 150);
  const values = Array.from({ length: n }, () => rng.int(0, limit - 1));
  const bags = rng.int(1, 24);
  const includeLastOffset = rng.bool();
  const offsets = [0];
  for (let b = 1; b < bags; b++) offsets.push(rng.bool(0.2) ? offsets[b - 1] : rng.int(offsets[b - 1], n));
  if (includeLastOffset) offsets.push(n);
  const wide = rng.bool();
  const indices = wide ? BigInt64Array.from(values, BigInt) : Int32Array.from(values);
  const offsetArray = wide ? BigInt64Array.from(offsets, BigInt) : Int32Array.from(offsets);
  const perSampleWeights = mode === 'sum' && rng.bool(0.5) ? Float32Array.from({ length: n }, () => rng.range(-2, 2)) : undefined;
  const paddingIdx = rng.bool(0.25) && n > 0 ? values[rng.int(0, n - 1)] : undefined;
  const label = `case ${k}: ${bits}-bit ${rows}x${dim} ${mode} n=${n} bags=${bags}${includeLastOffset ? ' include_last' : ''}${wide ? ' int64' : ' int32'}${perSampleWeights ? ' weighted' : ''}${mapping ? ` pruned(${mapping.length})` : ''}${paddingIdx !== undefined ? ` padding=${paddingIdx}` : ''}`;
  return { label, bits, packed: { data, shape: [rows, rowBytes] }, indices, offsets: offsetArray, includeLastOffset, mode, perSampleWeights, mapping, paddingIdx };
}

const cases: BagCase[] = Array.from({ length: SWEEP ? 400 : 90 }, (_, k) => makeCase(k));

function lookup(c: BagCase): Tensor {
  const fn = c.bits === 8 ? ops.quantized.embeddingBagByteRowwiseOffsets : ops.quantized.embeddingBag4bitRowwiseOffsets;
  return fn(c.packed, c.indices, c.offsets, {
    mode: c.mode,
    includeLastOffset: c.includeLastOffset,
    perSampleWeights: c.perSampleWeights,
    prunedWeights: c.mapping !== undefined,
    compressedIndicesMapping: c.mapping,
    paddingIdx: c.paddingIdx,
  });
}

describeOracle('embedding bag lookups vs PyTorch', () => {
  let expected: OracleResult[] = [];

  beforeAll(() => {
    expected = runOracle(
      cases.map((c) => ({
        op: 'embedding_bag',
        bits: c.bits,
        packed: shaped(c.packed.data, c.packed.shape),
        indices: c.indices,
        offsets: c.offsets,
        include_last_offset: c.includeLastOffset,
        mode: c.mode,
        per_sample_weights: c.perSampleWeights,
        pruned: c.mapping !== undefined,
        mapping: c.mapping,
        padding_idx: c.paddingIdx,
      })),
    ).map((result, i) => okResult(result, cases[i].label));
  });

  test('the cases cover every mode, both widths, pruning, padding, weights and empty bags', () => {
    for (const mode of ['sum', 'mean', 'max']) for (const bits of [8, 4]) expect(cases.some((c) => c.mode === mode && c.bits === bits)).toBe(true);
    expect(cases.some((c) => c.mapping !== undefined && c.mapping.length > 1)).toBe(true);
    expect(cases.some((c) => c.paddingIdx !== undefined)).toBe(true);
    expect(cases.some((c) => c.perSampleWeights !== undefined)).toBe(true);
    expect(cases.some((c) => c.indices instanceof BigInt64Array)).toBe(true);
    expect(cases.some((c) => Array.from(c.offsets as ArrayLike<number | bigint>).some((v, i, a) => i > 0 && v === a[i - 1]))).toBe(true);
  });

  describeEachPath('lookups are bit-identical to torch', () => {
    test('sync', () => {
      const log = new FailureLog();
      cases.forEach((c, k) => {
        log.check(c.label, () => {
          const got = lookup(c);
          const want = expected[k].out;
          expect(got.shape).toEqual(want.shape);
          expectExact('output', want.data, got.data, { kind: 'float32', shape: got.shape });
        });
      });
      log.finish('embedding bag lookups');
    });
  });
});

describe('embedding bag argument errors', () => {
  const packed = ops.quantized.embeddingBagBytePrepack(tensor(new Float32Array(12).map((_, i) => i), [4, 3]));
  const run = (indices: unknown, offsets: unknown, options?: unknown) =>
    // eslint-disable-next-line @typescript-eslint/no-explicit-any
    (ops.quantized.embeddingBagByteRowwiseOffsets as any)(packed, indices, offsets, options);

  test('out-of-range indices, offsets and mapping entries are RangeErrors naming the position', () => {
    expectValidationError(() => run(new Int32Array([0, 4]), new Int32Array([0])), 'RangeError', 'indices[1]');
    expectValidationError(() => run(new Int32Array([0, -1]), new Int32Array([0])), 'RangeError', 'indices[1]');
    expectValidationError(() => run(new BigInt64Array([0n, 1n << 40n]), new BigInt64Array([0n])), 'RangeError', 'indices[1]');
    expectValidationError(() => run(new Int32Array([0, 1]), new Int32Array([0, 2, 1])), 'RangeError', 'offsets[2]');
    expectValidationError(() => run(new Int32Array([0, 1]), new Int32Array([0, 3])), 'RangeError', 'offsets[1]');
    expectValidationError(() => run(new Int32Array([0, 1]), new Int32Array([1])), 'RangeError', 'offsets[0]');
    expectValidationError(
      () => run(new Int32Array([0, 1]), new Int32Array([0]), { prunedWeights: true, compressedIndicesMapping: new Int32Array([0, 9]) }),
      'RangeError',
      'compressedIndicesMapping[1]',
    );
    expectValidationError(
      () => run(new Int32Array([0, 2]), new Int32Array([0]), { prunedWeights: true, compressedIndicesMapping: new Int32Array([0, 1]) }),
      'RangeError',
      'indices[1]',
    );
  });

  test('mismatched lengths and bad types', () => {
    expectValidationError(() => run(new Int32Array([0, 1]), new Int32Array([0]), { perSampleWeights: new Float32Array(3) }), 'RangeError', 'perSampleWeights');
    expectValidationError(() => run(new Int32Array([0, 1]), new Int32Array([0]), { perSampleWeights: new Float32Array(2), mode: 'max' }), 'RangeError', 'perSampleWeights');
    expectValidationError(() => run(new Int32Array([0, 1]), new Int32Array(0), { includeLastOffset: true }), 'RangeError', 'offsets');
    expectValidationError(() => run(new Float32Array([0]), new Int32Array([0])), 'TypeError', 'indices');
    expectValidationError(() => run([0, 1.5], [0]), 'RangeError', 'indices[1]');
    expectValidationError(() => run(new Int32Array([0]), undefined), 'TypeError', 'offsets');
    expectValidationError(() => run(new Int32Array([0]), [0], { mode: 'median' }), 'RangeError', 'mode');
    expectValidationError(() => run(new Int32Array([0]), [0], { prunedWeights: true }), 'TypeError', 'compressedIndicesMapping');
    expectValidationError(() => run(new Int32Array([0]), [0], { typo: 1 }), 'RangeError', 'options key');
    expectValidationError(
      // eslint-disable-next-line @typescript-eslint/no-explicit-any
      () => (ops.quantized.embeddingBagByteRowwiseOffsets as any)({ data: packed.data.subarray(1), shape: packed.shape }, [0], [0]),
      'RangeError',
      'packed.data',
    );
  });

  test('number arrays, 2-D indices as fixed-size bags, and empty bags', () => {
    const a = run([0, 1, 3], [0, 2]);
    const b = run(new Int32Array([0, 1, 3]), new BigInt64Array([0n, 2n]));
    expectExact('number arrays vs typed arrays', b.data, a.data, { kind: 'float32' });
    const fixed = run([[0, 1], [2, 3]], undefined);
    const viaOffsets = run([0, 1, 2, 3], [0, 2]);
    expect(fixed.shape).toEqual([2, 3]);
    expectExact('2-D indices vs offsets', viaOffsets.data, fixed.data, { kind: 'float32' });
    const empty = run([1], [0, 0, 1]);
    expect(empty.shape).toEqual([3, 3]);
    expect(Array.from(empty.data.subarray(0, 3))).toEqual([0, 0, 0]);
    expect(Array.from(empty.data.subarray(6, 9))).toEqual([0, 0, 0]);
    expectExact('the one full bag', run([1], [0]).data, empty.data.subarray(3, 6), { kind: 'float32' });
  });
});
