// Tensor operations on QTensors (transpose, narrow, slice, chunk, split, unsqueeze, squeeze, mean) against PyTorch.
//
// Views must match torch's shape, strides, values and qparams, and share storage exactly when
// torch's do. mean is exact where qkernels follows torch's arithmetic (a contiguous input: the
// stored integers' average; channels-last 4-D over dims (2, 3): ATen's float sum order); other
// layouts sum in double, and 1 quantum is allowed for them (doc/numerics.md gives the share).
import { QTensor } from '..';
import { expectSame, FailureLog } from './helpers/compare';
import { ByteDType, QInput, describeQInput, expectQTensorLike, makeQ, randomQInput, wireQ } from './helpers/elementwise';
import { Rng, testSeed } from './helpers/random';
import { Step } from './helpers/views';
import { withEngine } from './helpers/linear-conv';
import { describeOracle, okResult, OracleResult, runOracle } from './oracle';

const SEED = testSeed('tensor-ops-views');
const rng = new Rng(SEED);
const CL: Step[] = [['contiguous', 'channels_last']];

type Args = Record<string, unknown>;
interface Case {
  fn: string;
  input: QInput;
  args: Args;
  label: string;
}

const RUN: Record<string, (q: QTensor, a: Args) => QTensor | QTensor[]> = {
  transpose: (q, a) => q.transpose(a.dim0 as number, a.dim1 as number),
  narrow: (q, a) => q.narrow(a.dim as number, a.start as number, a.length as number),
  slice: (q, a) => q.slice(a.dim as number, a.start as number | undefined, a.end as number | undefined, (a.step as number | undefined) ?? 1),
  chunk: (q, a) => q.chunk(a.chunks as number, a.dim as number),
  split: (q, a) => q.split(a.split as number | number[], a.dim as number),
  unsqueeze: (q, a) => q.unsqueeze(a.dim as number),
  squeeze: (q, a) => q.squeeze(a.dim as number | undefined),
  mean: (q, a) => q.mean(a.dim as number | number[] | undefined, (a.keepdim as boolean | undefined) ?? false),
};

function buildCases(): Case[] {
  const cases: Case[] = [];
  const add = (fn: string, dtype: ByteDType, shape: number[], steps: Step[], args: Args) => {
    const input = randomQInput(rng, dtype, shape, steps);
    cases.push({ fn, input, args, label: `${fn}(${describeQInput(input)}, ${JSON.stringify(args)})` });
  };
  for (const dtype of ['quint8', 'qint8'] as ByteDType[]) {
    add('transpose', dtype, [3, 4, 5], [], { dim0: 0, dim1: -1 });
    add('transpose', dtype, [2, 3, 4, 5], CL, { dim0: 1, dim1: 2 });
    add('narrow', dtype, [6, 7], [], { dim: 1, start: 2, length: 4 });
    add('narrow', dtype, [2, 6, 3, 3], CL, { dim: 1, start: -4, length: 3 });
    add('narrow', dtype, [5, 4], [], { dim: 0, start: 5, length: 0 });
    add('slice', dtype, [10, 3], [], { dim: 0, start: 1, end: 9, step: 3 });
    add('slice', dtype, [4, 10], [], { dim: 1, start: -7, end: null, step: 2 });
    add('slice', dtype, [4, 10], [], { dim: 1, start: 20, end: 30, step: 1 });
    add('chunk', dtype, [7, 3], [], { chunks: 3, dim: 0 });
    add('chunk', dtype, [2, 3, 5], [], { chunks: 2, dim: -1 });
    add('split', dtype, [2, 9, 2, 2], CL, { split: 4, dim: 1 });
    add('split', dtype, [7, 3], [], { split: [2, 0, 5], dim: 0 });
    add('unsqueeze', dtype, [3, 4], [], { dim: -1 });
    add('squeeze', dtype, [1, 3, 1, 4], [], {});
    add('squeeze', dtype, [1, 3, 1, 4], [], { dim: 2 });
    add('mean', dtype, [2, 3, 4, 5], [], { dim: [2, 3], keepdim: true });
    add('mean', dtype, [4, 30], [], { dim: 1 });
    add('mean', dtype, [3, 5, 7], [], { dim: [0, -1] });
    add('mean', dtype, [2, 3, 4, 5], [], {});
    // Contiguous over H, W: rows of 1 to 7 bytes, one or two words (8 to 16) and longer ones (ops/reduce.cc RunRows).
    for (const hw of [[1, 2], [2, 3], [3, 3], [4, 4], [3, 5], [7, 7]]) add('mean', dtype, [2, 24, hw[0], hw[1]], [], { dim: [2, 3] });
    // Channels-last over H, W (torch's float path; block and tail columns, cascade lengths).
    for (const [c, hw] of [[3, 4], [6, 5], [8, 2], [40, 7], [64, 17], [37, 1]]) add('mean', dtype, [2, c, hw, hw], CL, { dim: [2, 3] });
    add('mean', dtype, [2, 36, 6, 5], CL, { dim: [-1, -2], keepdim: true });
    // Non-contiguous layouts qkernels sums in double (the 1-quantum allowance).
    add('mean', dtype, [2, 16, 5, 5], CL, { dim: [1] });
    add('mean', dtype, [2, 16, 5, 5], CL, {});
  }
  return cases;
}

const cases = buildCases();

/** The means qkernels computes in torch's own order: a contiguous input, or channels-last over dims (2, 3). */
function meanIsExact(c: Case): boolean {
  if (c.input.steps.length === 0) return true;
  const dims = c.args.dim as number[] | undefined;
  return dims !== undefined && dims.length === 2 && dims.every((d) => d === 2 || d === 3 || d === -1 || d === -2);
}

describeOracle('QTensor tensor operations vs PyTorch', () => {
  let expected: OracleResult[] = [];

  beforeAll(() => {
    expected = runOracle(cases.map((c) => ({ op: 'ew_tensor_op', fn: c.fn, input: wireQ(c.input), args: c.args }))).map((r, i) =>
      okResult(r, cases[i].label),
    );
  });

  test('results: shape, strides, values, qparams, storage sharing', () => {
    const log = new FailureLog();
    let allowed = 0;
    let allowedExact = 0;
    cases.forEach((c, k) => {
      log.check(c.label, () => {
        const q = makeQ(c.input);
        const out = RUN[c.fn](q, c.args);
        const results = Array.isArray(out) ? out : [out];
        const want = expected[k].results as OracleResult[];
        expectSame('number of results', want.length, results.length);
        results.forEach((y, i) => {
          expectQTensorLike(want[i], y, `seed ${SEED}, result ${i}`, c.fn === 'mean' && !meanIsExact(c) ? 1 : 0);
          if (c.fn === 'mean' && !meanIsExact(c)) {
            const expected = want[i].int_repr.data as ArrayLike<number>;
            const got = y.intRepr();
            for (let e = 0; e < expected.length; e++) allowedExact += expected[e] === got[e] ? 1 : 0;
            allowed += expected.length;
          }
          if (c.fn !== 'mean') expectSame(`result ${i} shares storage`, want[i].shares_storage, y.data.buffer === q.data.buffer);
        });
      });
    });
    log.finish('tensor ops');
    console.log(`mean in other layouts (1-quantum allowance): ${allowedExact} of ${allowed} elements exact`);
  });

  test('a narrowed view writes through to its base, as torch views do', () => {
    const q = makeQ(randomQInput(rng, 'quint8', [4, 6]));
    const view = q.narrow(1, 2, 3);
    view.data[0] = 7; // the view's first element is q[0, 2]
    expectSame('q[0, 2]', 7, q.intRepr()[2]);
  });
});

// Under the qnnpack engine torch 1.13 sends quint8 4-D means over dim [2, 3] (given literally) to
// QNNPACK's global average pooling (qnnpack_mean: fp32 requantization); everything else takes the
// paths above. qkernels set to qnnpack follows, exactly.
const qnnpackMeans: Case[] = [];
for (const [dtype, shape, steps, args] of [
  ['quint8', [4, 64, 2, 2], [], { dim: [2, 3] }],
  ['quint8', [4, 64, 2, 2], CL, { dim: [2, 3] }],
  ['quint8', [2, 40, 7, 7], [], { dim: [2, 3] }],
  ['quint8', [2, 33, 6, 5], CL, { dim: [2, 3], keepdim: true }],
  ['quint8', [1, 8, 2, 2], CL, { dim: [2, 3] }],
  ['quint8', [3, 5, 4, 6], [], { dim: [-2, -1] }],
  ['quint8', [2, 40, 5, 5], CL, { dim: [3, 2] }],
  ['qint8', [2, 40, 5, 5], CL, { dim: [2, 3] }],
  ['qint8', [2, 12, 4, 4], [], { dim: [2, 3] }],
] as Array<[ByteDType, number[], Step[], Args]>) {
  // An odd zero point: QNNPACK rounds the mean of q - zp, torch's other paths the mean of q,
  // so their ties (frequent over 2 x 2) round to different integers.
  const input = randomQInput(rng, dtype, shape, steps, undefined, dtype === 'quint8' ? 37 : 5);
  qnnpackMeans.push({ fn: 'mean', input, args, label: `qnnpack mean(${describeQInput(input)}, ${JSON.stringify(args)})` });
}

describeOracle('QTensor.mean vs PyTorch under the qnnpack engine', () => {
  let expected: OracleResult[] = [];
  beforeAll(() => {
    const wire = qnnpackMeans.map((c) => ({ op: 'ew_tensor_op', fn: c.fn, input: wireQ(c.input), args: c.args }));
    expected = runOracle(wire, { engine: 'qnnpack' }).map((r, i) => okResult(r, qnnpackMeans[i].label));
  });

  test(`${qnnpackMeans.length} means, exact (QNNPACK's global average pooling where torch uses it)`, () => {
    const log = new FailureLog();
    qnnpackMeans.forEach((c, k) => {
      log.check(c.label, () => {
        const y = withEngine('qnnpack', () => RUN.mean(makeQ(c.input), c.args) as QTensor);
        const results = expected[k].results as OracleResult[];
        expectQTensorLike(results[0], y, `seed ${SEED}`, 0);
      });
    });
    log.finish('qnnpack means');
  });
});
