// Shared by the pool-norm suites: random quantized inputs in a memory format, their oracle form, and the exact comparison.
import { makePerTensorQuantizedTensor, QTensor } from '../..';
import { describeOracle, okResult, OracleCase, OracleResult, runOracle, shaped } from '../oracle';
import { FailureLog } from './compare';
import { withEngine } from './linear-conv';
import { describeEachPath } from './paths';
import { expectExact, expectSame, expectSameList } from './compare';
import { Rng } from './random';

export type Format = 'contiguous_format' | 'channels_last' | 'channels_last_3d';
export type Int8DType = 'quint8' | 'qint8';

export interface InputCase {
  q: QTensor;
  /** The oracle's input fields (integers, qparams, memory format). */
  wire: Record<string, unknown>;
}

/** Random integer values of `shape` under random qparams, laid out in `format`. */
export function randomInput(rng: Rng, shape: number[], dtype: Int8DType, format: Format): InputCase {
  const numel = shape.reduce((a, b) => a * b, 1);
  const values = dtype === 'quint8' ? new Uint8Array(numel) : new Int8Array(numel);
  const lo = dtype === 'quint8' ? 0 : -128;
  for (let i = 0; i < numel; i++) values[i] = rng.int(lo, lo + 255);
  const scale = rng.logUniform(1e-3, 1);
  const zeroPoint = rng.int(lo, lo + 255);
  const q = makePerTensorQuantizedTensor(values, shape, scale, zeroPoint, dtype).contiguous(format);
  return { q, wire: { values: shaped(values, [numel]), shape, scale, zero_point: zeroPoint, dtype, format } };
}

/** A random memory format the rank allows (channels_last for 4-D, channels_last_3d for 5-D). */
export function randomFormat(rng: Rng, rank: number): Format {
  if (rank === 4 && rng.bool()) return 'channels_last';
  if (rank === 5 && rng.bool()) return 'channels_last_3d';
  return 'contiguous_format';
}

/**
 * Compares a qkernels output with torch's: shape, strides, qparams, and the integers exactly, or
 * within `tolerance` quanta (only where a test documents why).
 */
export function expectLikeTorch(label: string, expected: OracleResult, got: QTensor, tolerance = 0, checkStrides = true): number {
  expectSameList(`${label} shape`, expected.shape, got.shape);
  if (checkStrides) expectSameList(`${label} strides`, expected.strides, got.strides);
  expectSame(`${label} zero point`, expected.zero_point, got.qZeroPoint());
  expectSame(`${label} scale`, expected.scale, got.qScale());
  const want = expected.int_repr.data as ArrayLike<number>;
  const have = got.intRepr();
  if (tolerance === 0) {
    expectExact(`${label} int_repr`, want, have, { shape: got.shape as number[] });
    return want.length;
  }
  const far: string[] = [];
  for (let i = 0; i < want.length; i++) if (Math.abs(want[i] - have[i]) > tolerance) far.push(`at ${i}: expected ${want[i]}, got ${have[i]}`);
  if (far.length > 0 || want.length !== have.length) {
    throw new Error(`${label} int_repr: ${far.length} elements differ by more than ${tolerance}\n  ${far.slice(0, 6).join('\n  ')}`);
  }
  let exact = 0;
  for (let i = 0; i < want.length; i++) if (want[i] === have[i]) exact++;
  return exact;
}

/** Counts the elements of the cases with an allowance and how many of them were exact; prints the share. */
class AllowanceShare {
  /** Per op (the label's first word after the case number): exact and total elements. */
  private readonly byOp = new Map<string, { exact: number; total: number }>();
  add(c: TorchCase, exact: number, got: QTensor): void {
    if (!c.tolerance) return;
    const op = c.label.replace(/^#\d+ /, '').split(' ')[0];
    const share = this.byOp.get(op) ?? { exact: 0, total: 0 };
    share.exact += exact;
    share.total += got.numel();
    this.byOp.set(op, share);
  }
  print(what: string): void {
    for (const [op, { exact, total }] of this.byOp) {
      console.log(`${what}: ${op} (1-quantum allowance): ${exact} of ${total} elements exact (${((100 * exact) / total).toFixed(3)}%)`);
    }
  }
}

/** One differential case: how qkernels computes it, what the oracle runs, how strictly they compare. */
export interface TorchCase {
  label: string;
  run: () => QTensor;
  oracle: OracleCase;
  /** Quanta allowed (0 unless the suite documents why). */
  tolerance?: number;
  /** Whether strides must match too (default true). */
  checkStrides?: (expected: OracleResult) => boolean;
}

/** One oracle batch for all cases, then every case on every dispatch path (each ISA, 1 and 2 threads). */
export function describeAgainstTorch(name: string, seed: number, cases: readonly TorchCase[]): void {
  describeOracle(`${name} against PyTorch`, () => {
    let results: OracleResult[] = [];
    beforeAll(() => {
      results = runOracle(cases.map((c) => c.oracle));
    });

    describeEachPath('every case', () => {
      test(`${cases.length} cases (seed ${seed})`, () => {
        const log = new FailureLog(40);
        const share = new AllowanceShare();
        cases.forEach((c, i) =>
          log.check(c.label, () => {
            const expected = okResult(results[i], c.label);
            const got = c.run();
            share.add(c, expectLikeTorch(c.label, expected, got, c.tolerance ?? 0, c.checkStrides ? c.checkStrides(expected) : true), got);
          }),
        );
        log.finish(name);
        share.print(name);
      });
    });
  });
}

/**
 * The same cases against torch under torch.backends.quantized.engine = 'qnnpack', with qkernels
 * following the qnnpack engine (backend.setQuantizedEngine), on the default dispatch path (the
 * paths are compared by describeAgainstTorch). `torchBug(c, expected)` names the cases where
 * torch 1.13's qnnpack answer is wrong and qkernels does not follow it (doc/numerics.md); they are
 * counted, never compared, and must stay a minority, with the cases torch refuses under qnnpack.
 */
export function describeAgainstTorchUnderQnnpack(
  name: string,
  seed: number,
  cases: readonly TorchCase[],
  torchBug: (c: TorchCase, expected: OracleResult) => boolean = () => false,
): void {
  describeOracle(`${name} against PyTorch under the qnnpack engine`, () => {
    let results: OracleResult[] = [];
    beforeAll(() => {
      results = runOracle(cases.map((c) => c.oracle), { engine: 'qnnpack' });
    });

    test(`${cases.length} cases (seed ${seed})`, () => {
      const log = new FailureLog(40);
      const share = new AllowanceShare();
      let skipped = 0;
      withEngine('qnnpack', () => {
        cases.forEach((c, i) => {
          // torch refuses some configurations under qnnpack (QNNPACK has no 1x1 or 3-D-input
          // pooling operator, "failed to create QNNPACK ..."): nothing to compare with there.
          const refused = results[i].error !== undefined && /qnnpack/i.test(String(results[i].error));
          if (refused || (results[i].error === undefined && torchBug(c, results[i]))) {
            skipped++;
            return;
          }
          log.check(c.label, () => {
            const expected = okResult(results[i], c.label);
            const got = c.run();
            share.add(c, expectLikeTorch(c.label, expected, got, c.tolerance ?? 0, c.checkStrides ? c.checkStrides(expected) : true), got);
          });
        });
      });
      log.finish(`${name} (qnnpack)`);
      share.print(`${name} (qnnpack)`);
      expect(skipped).toBeLessThan(cases.length / 4);
    });
  });
}
