// Plan steps of the quantize, linear, elementwise and embedding ops: each op's recorded step (its <op>Trace form) replays exactly on new inputs, sync and async.
//
// Every case calls the raw binding as lib/<family>/plan.ts does: once with random graph inputs
// (the trace), once with other random inputs of the same shapes (the replay), the parameters
// (qparams, shapes, weights, tables) the same. replayStep builds a one-step plan from the trace
// and compares it with the eager op on the replay inputs: a step that kept its trace-time input
// instead of reading the plan's buffer fails `syncMatches`.
import { addon as loadedAddon } from '../dist/native';
import { Rng, testSeed } from './helpers/random';
import { replayStep } from './helpers/trace-replay';

// eslint-disable-next-line @typescript-eslint/no-explicit-any
const raw = loadedAddon as unknown as Record<string, (...args: any[]) => any>;
const rng = new Rng(testSeed('trace-steps-ops'));

/** dtype codes (qk::QDType) and each one's storage range. */
const QUINT8 = 0;
const QINT8 = 1;
const QINT32 = 2;
const QUINT4X2 = 3;

function floats(n: number, spread = 4): Float32Array {
  return Float32Array.from({ length: n }, () => rng.normal() * spread);
}

function bytes(n: number): Uint8Array {
  return Uint8Array.from({ length: n }, () => rng.int(0, 255));
}

/** Random storage of `numel` values of a dtype (quint4x2: two per byte). */
function storage(dtype: number, numel: number): Uint8Array | Int8Array | Int32Array {
  switch (dtype) {
    case QINT8:
      return Int8Array.from({ length: numel }, () => rng.int(-128, 127));
    case QINT32:
      return Int32Array.from({ length: numel }, () => rng.int(-100000, 100000));
    case QUINT4X2:
      return bytes(Math.ceil(numel / 2));
    default:
      return bytes(numel);
  }
}

/**
 * Traces `op` on makeArgs() and replays it on another makeArgs() (which must draw new graph
 * inputs and reuse everything else), expecting the step to read `inputArgs`.
 */
async function expectReplays(op: string, makeArgs: () => unknown[], inputArgs: number[]): Promise<void> {
  const traceArgs = makeArgs();
  const replayArgs = makeArgs();
  const replay = await replayStep(op, traceArgs, replayArgs);
  expect(replay).toEqual({ tracedOutputMatches: true, syncMatches: true, asyncMatches: true, inputArgs });
}

describe('quantize / dequantize steps', () => {
  const perTensorParams: Array<[number, number, number]> = [
    [QUINT8, 0.05, 128],
    [QINT8, 0.03, -3],
    [QINT32, 0.001, 17],
    [QUINT4X2, 0.4, 7],
  ];

  test.each(perTensorParams)('quantizePerTensor dtype %i', async (dtype, scale, zeroPoint) => {
    await expectReplays('quantizePerTensor', () => [floats(37), scale, zeroPoint, dtype], [0]);
    await expectReplays('quantizePerTensor', () => [new Float32Array(0), scale, zeroPoint, dtype], [0]);
  });

  test.each(perTensorParams)('dequantizePerTensor dtype %i', async (dtype, scale, zeroPoint) => {
    await expectReplays('dequantizePerTensor', () => [storage(dtype, 37), dtype, 37, scale, zeroPoint], [0]);
    await expectReplays('dequantizePerTensor', () => [storage(dtype, 0), dtype, 0, scale, zeroPoint], [0]);
  });

  const layouts: Array<[number, number, number]> = [
    [2, 5, 3],
    [1, 4, 1],
    [3, 7, 0],
  ];
  const affine = (channels: number, dtype: number): [Float64Array, Int32Array] => [
    Float64Array.from({ length: channels }, () => rng.logUniform(1e-3, 1)),
    Int32Array.from({ length: channels }, () => (dtype === QUINT8 ? rng.int(0, 255) : rng.int(-5, 5))),
  ];
  const floatQParams = (channels: number): [Float32Array, Float32Array] => [
    Float32Array.from({ length: channels }, () => rng.logUniform(1e-3, 1)),
    Float32Array.from({ length: channels }, () => rng.range(-3, 3)),
  ];

  for (const [outer, channels, inner] of layouts) {
    const n = outer * channels * inner;
    test.each([QUINT8, QINT8, QINT32])(`quantizePerChannel / dequantizePerChannel ${outer}x${channels}x${inner} dtype %i`, async (dtype) => {
      const [scales, zeroPoints] = affine(channels, dtype);
      await expectReplays('quantizePerChannel', () => [floats(n), outer, channels, inner, scales, zeroPoints, dtype], [0]);
      await expectReplays('dequantizePerChannel', () => [storage(dtype, n), dtype, outer, channels, inner, scales, zeroPoints], [0]);
    });
    test(`scaleShiftChannels ${outer}x${channels}x${inner}`, async () => {
      const [multipliers, offsets] = floatQParams(channels);
      await expectReplays('scaleShiftChannels', () => [floats(n), outer, channels, inner, multipliers, offsets], [0]);
    });
    test.each([QUINT8, QUINT4X2])(`float-qparams per channel ${outer}x${channels}x${inner} dtype %i`, async (dtype) => {
      const [scales, zeroPoints] = floatQParams(channels);
      await expectReplays('quantizePerChannelFloatQParams', () => [floats(n), outer, channels, inner, scales, zeroPoints, dtype], [0]);
      await expectReplays('dequantizePerChannelFloatQParams', () => [storage(dtype, n), dtype, outer, channels, inner, scales, zeroPoints], [0]);
    });
  }
});

describe('linear steps', () => {
  const outFeatures = 6;
  const inFeatures = 13;
  function prepack(perChannel: boolean, withBias: boolean): unknown {
    const w = Int8Array.from({ length: outFeatures * inFeatures }, () => rng.int(-127, 127));
    const channels = perChannel ? outFeatures : 1;
    const scales = Float64Array.from({ length: channels }, () => rng.logUniform(1e-3, 1e-1));
    const zeroPoints = new Int32Array(channels);
    const bias = withBias ? floats(outFeatures, 1) : null;
    return raw.linearPrepack(w, outFeatures, inFeatures, scales, zeroPoints, bias);
  }

  afterEach(() => raw.setQuantizedEngine('fbgemm'));

  // activation: 0 none, 1 relu (both the sync fast path), 2 leaky relu, 3 tanh (fp32 epilogues).
  const cases: Array<[string, boolean, boolean, number]> = [];
  for (const engine of ['fbgemm', 'qnnpack']) {
    for (const perChannel of [false, true]) for (const activation of [0, 1, 2, 3]) cases.push([engine, perChannel, activation % 2 === 0, activation]);
  }
  test.each(cases)('linear engine %s perChannel %s bias %s activation %i', async (engine, perChannel, withBias, activation) => {
    raw.setQuantizedEngine(engine);
    const handle = prepack(perChannel, withBias);
    for (const rows of [3, 1]) {
      await expectReplays('linear', () => [handle, bytes(rows * inFeatures), rows, 0.04, 120, 0.2, 64, activation, 0.01], [1]);
    }
  });

  test('the sync fast path and the traced step give the same bits', () => {
    const handle = prepack(true, true);
    const x = bytes(4 * inFeatures);
    for (const activation of [0, 1]) {
      const fast = raw.linear(handle, x, 4, 0.04, 120, 0.2, 64, activation, 0);
      const traced = raw.linearTrace(handle, x, 4, 0.04, 120, 0.2, 64, activation, 0);
      expect(Buffer.from(traced.output).equals(Buffer.from(fast))).toBe(true);
    }
  });

  test.each([
    [false, false],
    [false, true],
    [true, false],
    [true, true],
  ])('linearDynamic reduceRange %s relu %s', async (reduceRange, relu) => {
    const handle = prepack(true, true);
    await expectReplays('linearDynamic', () => [handle, floats(5 * inFeatures), 5, reduceRange, relu], [1]);
  });

  test('a traced linear step keeps its weights after the handle is released', async () => {
    const handle = prepack(false, true);
    const x = bytes(2 * inFeatures);
    const want = raw.linear(handle, x, 2, 0.04, 120, 0.2, 64, 0, 0);
    const record = raw.linearTrace(handle, x, 2, 0.04, 120, 0.2, 64, 0, 0);
    raw.releaseWeights(handle);
    const plan = raw.planCreate();
    const out = raw.planAddStep(plan, record.step, Float64Array.of(raw.planAddInput(plan, x.byteLength, 'Uint8Array')));
    raw.planAddOutput(plan, out, 'Uint8Array');
    raw.planFinalize(plan);
    expect(Buffer.from(raw.planRun(plan, x)[0]).equals(Buffer.from(want))).toBe(true);
  });
});

describe('elementwise steps', () => {
  // [op code, p0, p1, p2] for every lookup op (lib/elementwise/native.ts LookupOp).
  const lookups: Array<[string, number, number, number, number]> = [
    ['relu', 0, 0, 0, 0],
    ['clamp', 1, -0.5, 0.7, 0],
    ['hardswish', 2, 0, 0, 0],
    ['elu', 3, 1.3, 1, 1],
    ['leaky relu', 4, 0.02, 0, 0],
    ['hardsigmoid', 5, 0, 0, 0],
    ['sigmoid', 6, 0, 0, 0],
    ['tanh', 7, 0, 0, 0],
    ['threshold', 8, 0.1, -0.2, 0],
    ['add scalar', 9, 3, 1, 0],
    ['requantize', 10, 0, 0, 0],
    ['negate', 11, 1, 0, 0],
    ['qnnpack hardswish', 12, 0, 0, 0],
  ];
  const lookupCases: Array<[string, number, number, number, number, number]> = [];
  for (const [name, op, p0, p1, p2] of lookups) {
    for (const dtype of [QUINT8, QINT8]) if (!(op === 12 && dtype === QINT8)) lookupCases.push([name, dtype, op, p0, p1, p2]);
  }
  test.each(lookupCases)('elementwiseLookup %s dtype %i', async (_name, dtype, op, p0, p1, p2) => {
    const zeroPoint = dtype === QUINT8 ? 100 : -7;
    const params = Float64Array.of(0.05, zeroPoint, 0.03, zeroPoint + 4, p0, p1, p2, 0);
    // One dense run (vectorized head, scalar tail), then an all-scalar (strided) run.
    for (const [rowLength, vectorLength] of [[150, 128], [150, 0]]) {
      await expectReplays('elementwiseLookup', () => [storage(dtype, 150), dtype, op, params, rowLength, vectorLength], [0]);
    }
    await expectReplays('elementwiseLookup', () => [storage(dtype, 0), dtype, op, params, 1, 0], [0]);
  });

  // formula: 0 torch's kernel, 1 XNNPACK's multiplier (qint8 mul), 2 QNNPACK's add (quint8), 3 XNNPACK's add (qint8).
  const binaryCases: Array<[string, number, boolean, boolean, number]> = [];
  for (const multiply of [false, true]) {
    for (const relu of [false, true]) {
      for (const dtype of [QUINT8, QINT8]) binaryCases.push([multiply ? 'mul' : 'add', dtype, multiply, relu, 0]);
    }
  }
  binaryCases.push(['mul xnnpack', QINT8, true, false, 1], ['add qnnpack', QUINT8, false, true, 2], ['add xnnpack', QINT8, false, false, 3]);
  test.each(binaryCases)('elementwiseBinary %s dtype %i', async (_name, dtype, multiply, relu, formula) => {
    const zeroPoint = dtype === QUINT8 ? 128 : 0;
    const params = Float64Array.of(0.05, zeroPoint, 0.07, zeroPoint - 2, 0.1, zeroPoint + 1, formula);
    const n = 2 * 3 * 70;
    // Same shapes (one run); broadcast operands as lib expands them (runs of 70 with a scalar
    // tail; runs of 3 with no vector part: a strided inner dim).
    for (const [rowLength, vectorLength] of [[n, formula === 1 ? n : 384], [70, formula === 1 ? 70 : 64], [3, formula === 1 ? 3 : 0]]) {
      await expectReplays(
        'elementwiseBinary',
        () => [storage(dtype, n), storage(dtype, n), dtype, multiply, relu, params, rowLength, vectorLength],
        [0, 1],
      );
    }
    await expectReplays('elementwiseBinary', () => [storage(dtype, 0), storage(dtype, 0), dtype, multiply, relu, params, 1, 0], [0, 1]);
  });

  test.each([
    [1, 4, 7, 5],
    [3, 2, 9, 1],
    [2, 0, 3, 4],
  ])('elementwiseMatmul batch %i m %i k %i n %i', async (batch, m, k, n) => {
    await expectReplays('elementwiseMatmul', () => [floats(batch * m * k), floats(batch * k * n), batch, m, k, n], [0, 1]);
  });

  test.each([
    [QUINT8, 3, 10, 1],
    [QINT8, 2, 6, 5],
    [QUINT8, 1, 300, 2],
    [QINT8, 0, 4, 3],
  ])('elementwiseSoftmax dtype %i outer %i size %i inner %i', async (dtype, outer, size, inner) => {
    const zeroPoint = dtype === QUINT8 ? 90 : -10;
    const params = Float64Array.of(0.1, zeroPoint, 1 / 256, dtype === QUINT8 ? 0 : -128);
    await expectReplays('elementwiseSoftmax', () => [storage(dtype, outer * size * inner), dtype, outer, size, inner, params], [0]);
  });

  // [rank, shape, srcStrides, dstStrides] as lib/shape.ts sends them (dims merged).
  const copies: Array<[string, number[], number[], number[], number, number]> = [
    // Channel shuffle [1, 2*24, 4, 4]: view [2, 24, 16], transpose(0, 1), contiguous.
    ['channel shuffle', [24, 2, 16], [16, 384, 1], [32, 16, 1], 768, 768],
    ['nhwc -> nchw', [12, 25], [1, 12], [25, 1], 300, 300],
    ['broadcast [12, 1] -> [12, 25]', [12, 25], [1, 0], [25, 1], 12, 300],
    ['empty', [0, 5], [5, 1], [5, 1], 0, 0],
  ];
  const kinds: Array<[string, (n: number) => ArrayBufferView]> = [
    ['Uint8Array', (n) => bytes(n)],
    ['Int8Array', (n) => storage(QINT8, n)],
    ['Int32Array', (n) => storage(QINT32, n)],
    ['Float32Array', (n) => floats(n)],
    ['Float64Array', (n) => Float64Array.from(floats(n))],
  ];
  for (const [kind, make] of kinds) {
    test.each(copies)(`elementwiseStridedCopy ${kind} %s`, async (_name, shape, from, to, srcLength, dstLength) => {
      const layout = Float64Array.of(shape.length, ...shape, ...from, ...to);
      const zeros = make(0).constructor as new (n: number) => ArrayBufferView;
      await expectReplays('elementwiseStridedCopy', () => [make(srcLength), new zeros(dstLength), layout], [0]);
    });
  }

  test('elementwiseStridedCopy returns dst, written in place, as before', () => {
    const src = Uint8Array.from({ length: 300 }, (_, i) => i);
    const dst = new Uint8Array(300);
    expect(raw.elementwiseStridedCopy(src, dst, Float64Array.of(2, 12, 25, 1, 12, 25, 1))).toBe(dst);
    expect(dst[1]).toBe(12);
    expect(dst[25]).toBe(1);
  });
});

describe('embedding steps', () => {
  const rows = 40;
  const dim = 8;
  function table(bits: 8 | 4): { packed: Uint8Array; rowBytes: number } {
    const packed = raw.embeddingBagPrepack(floats(rows * dim), rows, dim, bits, false) as Uint8Array;
    return { packed, rowBytes: packed.length / rows };
  }

  /** `count` indices in [0, rows) split into `bags` bags (offsets start at 0, non-decreasing). */
  function indices(count: number, wide: boolean): Int32Array | BigInt64Array {
    const values = Array.from({ length: count }, () => rng.int(0, rows - 1));
    return wide ? BigInt64Array.from(values, BigInt) : Int32Array.from(values);
  }
  function offsets(count: number, bags: number, includeLast: boolean, wide: boolean): Int32Array | BigInt64Array {
    const cuts = Array.from({ length: bags }, (_, b) => (b === 0 ? 0 : rng.int(0, count))).sort((a, b) => a - b);
    if (includeLast) cuts.push(count);
    return wide ? BigInt64Array.from(cuts, BigInt) : Int32Array.from(cuts);
  }

  const lookupCases: Array<[string, 8 | 4, number, boolean, boolean, boolean, boolean, boolean]> = [];
  for (const bits of [8, 4] as const) {
    for (const mode of [0, 1, 2]) lookupCases.push(['plain', bits, mode, false, false, false, false, false]);
    lookupCases.push(['int64 indices', bits, 0, true, false, false, false, false]);
    lookupCases.push(['includeLastOffset', bits, 1, false, true, false, false, false]);
    lookupCases.push(['perSampleWeights', bits, 0, false, false, true, false, false]);
    lookupCases.push(['pruned + paddingIdx', bits, 0, false, false, false, true, false]);
    lookupCases.push(['table handle', bits, 2, false, false, false, false, true]);
  }
  test.each(lookupCases)('embeddingBagLookup %s bits %i mode %i', async (_name, bits, mode, wide, includeLast, weighted, pruned, handle) => {
    const { packed, rowBytes } = table(bits);
    const tableArg = handle ? raw.embeddingTable(packed) : packed;
    const mapping = pruned ? Int32Array.from({ length: 60 }, (_, i) => (i % 3 === 2 ? -1 : i % rows)) : null;
    const count = 23;
    const bags = 5;
    const make = (): unknown[] => {
      const idx = pruned
        ? Int32Array.from({ length: count }, () => rng.int(0, 59))
        : indices(count, wide);
      return [
        tableArg, rows, rowBytes, bits, idx, offsets(count, bags, includeLast, wide), includeLast, mode,
        weighted ? floats(count, 1) : null, pruned, mapping, pruned ? 3 : null,
      ];
    };
    await expectReplays('embeddingBagLookup', make, weighted ? [4, 5, 8] : [4, 5]);
  });

  test('embeddingBagLookup with no indices', async () => {
    const { packed, rowBytes } = table(8);
    await expectReplays('embeddingBagLookup', () => [packed, rows, rowBytes, 8, new Int32Array(0), new Int32Array(3), false, 0, null, false, null, null], [4, 5]);
    await expectReplays('embeddingBagLookup', () => [packed, rows, rowBytes, 8, new Int32Array(0), new Int32Array(0), false, 0, new Float32Array(0), false, null, null], [4, 5, 8]);
  });

  test.each([
    [8, false],
    [4, false],
    [4, true],
  ] as const)('embeddingBagPrepack / Unpack bits %i optimized %s', async (bits, optimized) => {
    await expectReplays('embeddingBagPrepack', () => [floats(rows * dim), rows, dim, bits, optimized], [0]);
    const rowBytes = table(bits).rowBytes;
    await expectReplays('embeddingBagUnpack', () => [table(bits).packed, rows, rowBytes, bits], [0]);
  });

  test.each([8, 4])('embeddingBagPackQuantized bits %i', async (bits) => {
    const scales = Float32Array.from({ length: rows }, () => rng.logUniform(1e-3, 1));
    const zeroPoints = Float32Array.from({ length: rows }, () => rng.range(-2, 2));
    const q = (): Uint8Array => (bits === 8 ? bytes(rows * dim) : bytes((rows * dim) / 2));
    await expectReplays('embeddingBagPackQuantized', () => [q(), rows, dim, bits, scales, zeroPoints], [0]);
  });
});

describe('a plan of several of these steps', () => {
  test('quantize -> add -> softmax -> dequantize runs from overlapping planRunAsync calls, each with its own inputs', async () => {
    // x, y: Float32Array(64) -> quantize both -> add (two step inputs) -> softmax over 16 -> dequantize.
    const n = 64;
    const eager = (x: Float32Array, y: Float32Array): Float32Array => {
      const qx = raw.quantizePerTensor(x, 0.05, 128, QUINT8);
      const qy = raw.quantizePerTensor(y, 0.04, 120, QUINT8);
      const sum = raw.elementwiseBinary(qx, qy, QUINT8, false, false, Float64Array.of(0.05, 128, 0.04, 120, 0.1, 128, 0), n, n);
      const soft = raw.elementwiseSoftmax(sum, QUINT8, 4, 16, 1, Float64Array.of(0.1, 128, 1 / 256, 0));
      return raw.dequantizePerTensor(soft, QUINT8, n, 1 / 256, 0);
    };
    const x0 = floats(n);
    const y0 = floats(n);
    const plan = raw.planCreate();
    const xId = raw.planAddInput(plan, x0.byteLength, 'Float32Array');
    const yId = raw.planAddInput(plan, y0.byteLength, 'Float32Array');
    const qx = raw.quantizePerTensorTrace(x0, 0.05, 128, QUINT8);
    const qy = raw.quantizePerTensorTrace(y0, 0.04, 120, QUINT8);
    const qxId = raw.planAddStep(plan, qx.step, Float64Array.of(xId));
    const qyId = raw.planAddStep(plan, qy.step, Float64Array.of(yId));
    const sum = raw.elementwiseBinaryTrace(qx.output, qy.output, QUINT8, false, false, Float64Array.of(0.05, 128, 0.04, 120, 0.1, 128, 0), n, n);
    const sumId = raw.planAddStep(plan, sum.step, Float64Array.of(qxId, qyId));
    const soft = raw.elementwiseSoftmaxTrace(sum.output, QUINT8, 4, 16, 1, Float64Array.of(0.1, 128, 1 / 256, 0));
    const softId = raw.planAddStep(plan, soft.step, Float64Array.of(sumId));
    const deq = raw.dequantizePerTensorTrace(soft.output, QUINT8, n, 1 / 256, 0);
    raw.planAddOutput(plan, raw.planAddStep(plan, deq.step, Float64Array.of(softId)), 'Float32Array');
    raw.planFinalize(plan);
    const inputs = Array.from({ length: 8 }, () => [floats(n), floats(n)] as const);
    const runs = await Promise.all(inputs.map(([x, y]) => raw.planRunAsync(plan, x, y)));
    runs.forEach(([got], i) => expect(Buffer.from(got.buffer).equals(Buffer.from(eager(...inputs[i]).buffer))).toBe(true));
    const [sync] = raw.planRun(plan, ...inputs[0]);
    expect(Buffer.from(sync.buffer).equals(Buffer.from(eager(...inputs[0]).buffer))).toBe(true);
  });
});

describe('ops a plan cannot record', () => {
  test('a strided copy that writes part of dst (one operand of a cat) throws an error naming the op', () => {
    // Half of a channel cat: [2, 12] into [4, 12] at dst rows 0..1.
    const src = bytes(24);
    const dst = new Uint8Array(48);
    const layout = Float64Array.of(2, 2, 12, 12, 1, 12, 1);
    expect(() => raw.elementwiseStridedCopyTrace(src, dst, layout)).toThrow(
      /^qkernels: elementwiseStridedCopy cannot be recorded by jit\.trace: this copy writes only part of dst/,
    );
    // The sync form still does it.
    expect(raw.elementwiseStridedCopy(src, dst, layout)).toBe(dst);
    expect(Buffer.from(dst.subarray(0, 24)).equals(Buffer.from(src))).toBe(true);
  });

  test('trace forms check their arguments as the sync forms do', () => {
    // (The addon's errors are not this realm's TypeError under jest: matched by message.)
    expect(() => raw.quantizePerTensorTrace(new Float64Array(3), 0.1, 0, QUINT8)).toThrow(/Expected Float32Array for input/);
    expect(() => raw.linearTrace({}, new Uint8Array(3), 1, 0.1, 0, 0.1, 0, 0, 0)).toThrow(/for handle/);
    expect(() => raw.elementwiseStridedCopyTrace(bytes(4), new Uint8Array(4), Float64Array.of(1, 4, 1, 2))).toThrow(/dstStrides/);
  });
});
