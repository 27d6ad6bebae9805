// Chains of pool-norm and binary plan steps in one plan: intermediates in the arena, scratch beside them, the same bytes as the eager ops one after another.
//
// trace-steps-*.test.ts replay one step whose output is the caller's buffer; here each step but
// the last writes an arena intermediate that the next reads (and, on a chain of equal sizes,
// overwrites a buffer an earlier step used), run sync and async, and twice on one plan.
import { addon as loadedAddon } from '../dist/native';
import { convSpec, geometryArray } from '../dist/linear-conv/params';
import { Rng, testSeed } from './helpers/random';

// eslint-disable-next-line @typescript-eslint/no-explicit-any
const raw = loadedAddon as unknown as Record<string, (...args: any[]) => any>;
const rng = new Rng(testSeed('trace-chains-pool-norm-binary'));

type Bytes = ArrayBufferView;
const bytesOf = (view: Bytes) => Buffer.from(view.buffer, view.byteOffset, view.byteLength);

/** One op of a chain: its name and its arguments around the input, which goes at `inputArg`. */
interface Link {
  op: string;
  inputArg: number;
  args: (x: unknown) => unknown[];
}

/** Traces the chain on `example` (each op on the previous op's eager output) into one plan. */
function tracePlan(links: Link[], example: Bytes): unknown {
  const plan = raw.planCreate();
  let value = raw.planAddInput(plan, example.byteLength, example.constructor.name);
  let x: Bytes = example;
  let last: Bytes = example;
  for (const link of links) {
    const record = raw[`${link.op}Trace`](...link.args(x)) as { output: Bytes; step: unknown; inputs: number[] };
    expect(record.inputs).toEqual([link.inputArg]);
    value = raw.planAddStep(plan, record.step, new Float64Array([value]));
    x = record.output;
    last = record.output;
  }
  raw.planAddOutput(plan, value, last.constructor.name);
  raw.planFinalize(plan);
  return plan;
}

function runEager(links: Link[], input: Bytes): Buffer {
  let x: Bytes = input;
  for (const link of links) x = raw[link.op](...link.args(x)) as Bytes;
  return bytesOf(x);
}

async function expectChain(links: Link[], example: () => Bytes): Promise<void> {
  const plan = tracePlan(links, example());
  for (let run = 0; run < 2; run++) {
    const input = example();
    const want = runEager(links, input);
    const [sync] = raw.planRun(plan, input) as Bytes[];
    const [async] = (await raw.planRunAsync(plan, input)) as Bytes[];
    expect(bytesOf(sync).equals(want)).toBe(true);
    expect(bytesOf(async).equals(want)).toBe(true);
  }
}

function u8(n: number): Uint8Array {
  return Uint8Array.from({ length: n }, () => rng.int(0, 255));
}

function floats(n: number, lo: number, hi: number): Float32Array {
  return Float32Array.from({ length: n }, () => rng.range(lo, hi));
}

test('maxPool -> batchNorm -> avgPool -> upsampleBilinear -> layer norm (quint8, channels last)', async () => {
  const [n, c] = [2, 8];
  const pool = Float64Array.from([n, c, 1, 12, 12, 1, 6, 6, 1, 2, 2, 1, 2, 2, 0, 0, 0, 1, 1, 1]);
  const avg = Float64Array.from([n, c, 1, 6, 6, 1, 6, 6, 1, 3, 3, 1, 1, 1, 0, 1, 1, 1, 1, 1]);
  const up = Float64Array.from([n, c, 1, 6, 6, 1, 12, 12, 0, 2, 2]);
  const [w, b, mean, variance] = [floats(c, 0.5, 2), floats(c, -1, 1), floats(c, -1, 1), floats(c, 0.5, 2)];
  await expectChain(
    [
      { op: 'maxPool', inputArg: 0, args: (x) => [x, 0, 1, pool] },
      { op: 'batchNorm', inputArg: 0, args: (x) => [x, 0, true, n, c, 36, w, b, mean, variance, 1e-5, 0.05, 120, 0.04, 128, true] },
      { op: 'avgPool', inputArg: 0, args: (x) => [x, 0, 1, avg, false, 0, 128, 0] },
      { op: 'upsampleBilinear', inputArg: 0, args: (x) => [x, 0, 1, up, false, 128] },
      { op: 'normalize', inputArg: 0, args: (x) => [x, 0, n * 144, c, false, 0, 0, null, null, 1e-5, Math.fround(0.04), 128, Math.fround(0.03), 100] },
    ],
    () => u8(n * c * 144),
  );
});

test('a chain of equal sizes reuses arena buffers: five 3x3 stride-1 padded max pools (qint8)', async () => {
  const g = Float64Array.from([1, 4, 1, 9, 9, 1, 9, 9, 1, 3, 3, 1, 1, 1, 0, 1, 1, 1, 1, 1]);
  const link: Link = { op: 'maxPool', inputArg: 0, args: (x) => [x, 1, 0, g] };
  await expectChain([link, link, link, link, link], () => Int8Array.from({ length: 4 * 81 }, () => rng.int(-128, 127)));
});

test('binaryPack -> binaryConvForward (bits out) -> binaryConvForward (floats out) -> binaryUnpack of a repack', async () => {
  const spec = (cin: number, cout: number) =>
    geometryArray(convSpec({ dims: 2, transposed: false, inChannels: cin, outChannels: cout, kernel: 3, padding: 1 }));
  const sign = (n: number) => Float32Array.from({ length: n }, () => (rng.bool() ? 1 : -1));
  const first = raw.binaryConvPrepack(spec(70, 64), sign(64 * 70 * 9), -1, null);
  const second = raw.binaryConvPrepack(spec(64, 32), sign(32 * 64 * 9), 0.5, floats(32, -1, 1));
  const [n, positions] = [2, 25];
  await expectChain(
    [
      { op: 'binaryPack', inputArg: 0, args: (x) => [x, n, 70, positions, 1, 0] },
      { op: 'binaryConvForward', inputArg: 1, args: (x) => [first, x, n, [5, 5], 0, 2, 1] },
      { op: 'binaryUnpack', inputArg: 0, args: (x) => [x, n, 64, positions, 2] },
      // A float input: the step packs it in its scratch, in the arena.
      { op: 'binaryConvForward', inputArg: 1, args: (x) => [second, x, n, [5, 5], 0, null, 0] },
      { op: 'binaryPack', inputArg: 0, args: (x) => [x, n, 32, positions, 2, 1] },
      { op: 'binaryUnpack', inputArg: 0, args: (x) => [x, n, 32, positions, 2] },
    ],
    () => floats(n * 70 * positions, -1, 1),
  );
});

test('lowBitConvForward from floats twice (inputdorefa 3 bits, then sign)', async () => {
  const spec = (cin: number, cout: number) =>
    geometryArray(convSpec({ dims: 1, transposed: false, inChannels: cin, outChannels: cout, kernel: 3, padding: 1 }));
  const levels = (count: number) => Int8Array.from({ length: count }, () => 2 * rng.int(0, 3) - 3);
  const first = raw.lowBitConvPrepack(spec(6, 6), levels(6 * 6 * 3), 1 / 3, 1 / 7, 7, 0, null);
  const second = raw.lowBitConvPrepack(spec(6, 4), levels(4 * 6 * 3), 1 / 3, 1, 1, 0, floats(4, -1, 1));
  await expectChain(
    [
      { op: 'lowBitConvForward', inputArg: 1, args: (x) => [first, x, 2, [10], 2, 3] },
      { op: 'lowBitConvForward', inputArg: 1, args: (x) => [second, x, 2, [10], 0, 1] },
    ],
    () => floats(2 * 6 * 10, -0.5, 1.5),
  );
});
