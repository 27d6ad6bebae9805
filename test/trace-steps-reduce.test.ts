// The mean and cat ops' recorded plan steps (their Trace forms) replay exactly on new inputs, sync and async.
import { replayStep } from './helpers/trace-replay';
import { Rng, testSeed } from './helpers/random';

const rng = new Rng(testSeed('trace-steps-reduce'));

function bytes(n: number, signed: boolean): Uint8Array | Int8Array {
  const out = signed ? new Int8Array(n) : new Uint8Array(n);
  for (let i = 0; i < n; i++) out[i] = signed ? rng.int(-128, 127) : rng.int(0, 255);
  return out;
}

describe('mean: each mode replays', () => {
  const cases: Array<[string, number, number, number[], number[]]> = [
    ['qnnpack global, quint8', 0, 0, [2, 5, 3, 4], [0, 0, 1, 1]],
    ['integers, quint8, dims (1, 3)', 0, 1, [2, 5, 3, 4], [0, 1, 0, 1]],
    ['integers, qint8, all dims', 1, 1, [3, 7], [1, 1]],
    ['channels-last float, quint8', 0, 2, [2, 40, 3, 5], [0, 0, 1, 1]],
    ['channels-last float, qint8, 5-D', 1, 2, [1, 9, 2, 3, 2], [0, 0, 1, 1, 1]],
  ];
  test.each(cases)('%s', async (_label, dtype, mode, shape, reduced) => {
    const n = shape.reduce((a, b) => a * b, 1);
    const args = (x: Uint8Array | Int8Array) => [x, dtype, mode, Float64Array.from(shape), Float64Array.from(reduced), 0.037, dtype === 0 ? 117 : -5];
    const replay = await replayStep('mean', args(bytes(n, dtype === 1)), args(bytes(n, dtype === 1)));
    expect(replay).toEqual({ tracedOutputMatches: true, syncMatches: true, asyncMatches: true, inputArgs: [0] });
  });
});

test('cat of three inputs replays, every input a step input in order', async () => {
  const lengths = Float64Array.of(4, 1, 6);
  const args = () => [0, 3, lengths, Float64Array.of(0, 0, 4), Float64Array.of(0.05, 3, 0.02, 200, 0.1, 128), 0.04, 90, bytes(12, false), bytes(3, false), bytes(18, false)];
  const replay = await replayStep('cat', args(), args());
  expect(replay).toEqual({ tracedOutputMatches: true, syncMatches: true, asyncMatches: true, inputArgs: [7, 8, 9] });
});
