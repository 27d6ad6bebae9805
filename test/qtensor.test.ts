// QTensor's API against torch's quantized tensors: views, memory formats, strides, intRepr, q* accessors, toString.
import { makePerChannelQuantizedTensor, makePerTensorQuantizedTensor, QTensor, tensor } from '..';
import { expectExact, expectSame, expectSameList, FailureLog } from './helpers/compare';
import { describeThrown, isErrorOfClass } from './helpers/errors';
import { QDTYPES, QDTypeName } from './helpers/floats';
import { Rng, testSeed } from './helpers/random';
import { applyStep, applySteps, describeSteps, MemoryFormat, Step } from './helpers/views';
import { describeOracle, okResult, OracleResult, runOracle, shaped } from './oracle';

const SWEEP = process.env.QKERNELS_SWEEP === '1';
const SEED = testSeed('qtensor');
const rng = new Rng(SEED);


interface Source {
  dtype: QDTypeName;
  shape: number[];
  data: Uint8Array | Int8Array | Int32Array;
  scale?: number;
  zeroPoint?: number;
  scales?: number[];
  zeroPoints?: number[];
  axis?: number;
  /** Per-channel with float zero points (per_channel_affine_float_qparams). */
  floatQParams?: boolean;
}

interface ChainCase {
  label: string;
  source: Source;
  steps: Step[];
  /** 'torch' compares with torch's quantized result; 'dequantized' with torch's dequantize-then-steps. */
  expectation: 'torch' | 'dequantized';
}

const numelOf = (shape: readonly number[]) => shape.reduce((a, b) => a * b, 1);

function randomInts(dtype: QDTypeName, numel: number): Uint8Array | Int8Array | Int32Array {
  const info = QDTYPES[dtype];
  const values = Array.from({ length: numel }, () => rng.int(info.qmin, info.qmax));
  if (dtype === 'quint8') return Uint8Array.from(values);
  if (dtype === 'qint8') return Int8Array.from(values);
  if (dtype === 'qint32') return Int32Array.from(values);
  const packed = new Uint8Array(Math.ceil(numel / 2));
  values.forEach((v, i) => (packed[i >> 1] |= v << (i & 1 ? 4 : 0)));
  return packed;
}

function perTensorSource(dtype: QDTypeName, shape: number[]): Source {
  const info = QDTYPES[dtype];
  return { dtype, shape, data: randomInts(dtype, numelOf(shape)), scale: rng.pick([0.1, 0.05, 1 / 3, 0.25]), zeroPoint: rng.int(info.qmin, Math.min(info.qmax, info.qmin + 255)) };
}

function perChannelSource(dtype: QDTypeName, shape: number[], axis: number, floatQParams: boolean): Source {
  const info = QDTYPES[dtype];
  const channels = shape[axis];
  return {
    dtype,
    shape,
    axis,
    floatQParams,
    data: randomInts(dtype, numelOf(shape)),
    scales: Array.from({ length: channels }, () => Math.fround(rng.logUniform(1e-3, 1))),
    zeroPoints: Array.from({ length: channels }, () => (floatQParams ? Math.fround(rng.range(0, info.qmax)) : rng.int(info.qmin, Math.min(info.qmax, info.qmin + 255)))),
  };
}

function randomPermutation(rank: number): number[] {
  return rng.shuffle(Array.from({ length: rank }, (_, i) => i));
}

/** A random shape with the same number of elements, one dim sometimes given as -1. */
function randomReshape(numel: number): number[] {
  const factors: number[] = [];
  let rest = numel;
  for (let p = 2; p * p <= rest; p++) while (rest % p === 0) (factors.push(p), (rest /= p));
  if (rest > 1) factors.push(rest);
  const rank = rng.int(1, 4);
  const shape = new Array(rank).fill(1);
  for (const f of factors) shape[rng.int(0, rank - 1)] *= f;
  if (rng.bool(0.35)) shape[rng.int(0, rank - 1)] = -1;
  return shape;
}

function resolveShape(shape: number[], numel: number): number[] {
  const known = shape.filter((d) => d !== -1).reduce((a, b) => a * b, 1);
  return shape.map((d) => (d === -1 ? numel / known : d));
}

/** Random steps, tracking the shape so each step is well-formed (a view may still need a copy). */
function randomSteps(shape: number[], count: number): Step[] {
  const steps: Step[] = [];
  let current = [...shape];
  const numel = numelOf(shape);
  for (let i = 0; i < count; i++) {
    const kind = rng.pick(['permute', 'permute', 'reshape', 'view', 'flatten', 'contiguous'] as const);
    if (kind === 'permute') {
      const dims = randomPermutation(current.length);
      steps.push(['permute', dims]);
      current = dims.map((d) => current[d]);
    } else if (kind === 'reshape' || kind === 'view') {
      const target = randomReshape(numel);
      steps.push([kind, target]);
      current = resolveShape(target, numel);
    } else if (kind === 'flatten') {
      const start = rng.int(0, current.length - 1);
      const end = rng.int(start, current.length - 1);
      steps.push(['flatten', [start, end]]);
      current = [...current.slice(0, start), numelOf(current.slice(start, end + 1)), ...current.slice(end + 1)];
    } else {
      const format: MemoryFormat | null = current.length === 4 && rng.bool(0.7) ? 'channels_last' : current.length === 5 && rng.bool(0.7) ? 'channels_last_3d' : null;
      steps.push(['contiguous', format]);
    }
  }
  return steps;
}

function buildChains(): ChainCase[] {
  const chains: ChainCase[] = [];
  const add = (source: Source, steps: Step[], expectation: ChainCase['expectation']) => {
    const qparams = source.scales ? `per-channel axis ${source.axis}` : 'per-tensor';
    const label = `${source.dtype} ${qparams} [${source.shape}] ${describeSteps(steps)}`;
    chains.push({ label, source, steps, expectation });
  };
  // Memory formats, including the size-1 dims whose strides torch defines specially.
  for (const dtype of ['quint8', 'qint8', 'qint32'] as const) {
    for (const shape of [[2, 3, 4, 5], [1, 3, 2, 2], [2, 1, 3, 3], [2, 3, 1, 1], [1, 1, 1, 1], [3, 5, 1, 4]]) {
      add(perTensorSource(dtype, shape), [['contiguous', 'channels_last']], 'torch');
      add(perTensorSource(dtype, shape), [['contiguous', 'channels_last'], ['contiguous', null]], 'torch');
      add(perTensorSource(dtype, shape), [['contiguous', 'channels_last'], ['permute', [0, 2, 3, 1]]], 'torch');
    }
    for (const shape of [[2, 3, 2, 4, 5], [1, 4, 1, 2, 3], [2, 1, 2, 1, 1]]) {
      add(perTensorSource(dtype, shape), [['contiguous', 'channels_last_3d']], 'torch');
    }
  }
  // Random chains of views on per-tensor tensors (torch can take them all).
  for (let i = 0; i < (SWEEP ? 600 : 80); i++) {
    const shape = rng.shape(rng.int(1, 5), 1, 5);
    add(perTensorSource(rng.pick(['quint8', 'qint8', 'qint32'] as const), shape), randomSteps(shape, rng.int(1, 4)), 'torch');
  }
  // quint4x2: reshape/view/flatten against torch; permutes against dequantize-then-permute.
  for (let i = 0; i < (SWEEP ? 100 : 12); i++) {
    const shape = rng.shape(rng.int(1, 4), 1, 5);
    add(perTensorSource('quint4x2', shape), [['reshape', randomReshape(numelOf(shape))], ['flatten', [0, -1]]], 'torch');
    add(perTensorSource('quint4x2', shape), [['permute', randomPermutation(shape.length)], ['contiguous', null]], 'dequantized');
  }
  // Per-channel tensors (torch 1.13 refuses to permute them): against dequantize-then-steps.
  for (let i = 0; i < (SWEEP ? 200 : 24); i++) {
    const rank = rng.int(2, 5);
    const shape = rng.shape(rank, 1, 5);
    const axis = rng.int(0, rank - 1);
    const floatQParams = rng.bool(0.3);
    const dtype = floatQParams ? rng.pick(['quint8', 'quint4x2'] as const) : rng.pick(['quint8', 'qint8', 'qint32'] as const);
    const steps: Step[] =
      rank === 4 && rng.bool(0.5) ? [['contiguous', 'channels_last']] : rank === 5 && rng.bool(0.5) ? [['contiguous', 'channels_last_3d']] : [['permute', randomPermutation(rank)]];
    if (rng.bool(0.4)) steps.push(['contiguous', null]);
    add(perChannelSource(dtype, shape, axis, floatQParams), steps, 'dequantized');
  }
  return chains;
}

const chains = buildChains();

function sourceCase(source: Source): Record<string, unknown> {
  const base = { values: source.data, shape: source.shape, dtype: source.dtype };
  if (source.scales === undefined) return { ...base, scale: source.scale, zero_point: source.zeroPoint };
  return {
    ...base,
    scales: Float64Array.from(source.scales),
    zero_points: source.floatQParams ? Float32Array.from(source.zeroPoints!) : Int32Array.from(source.zeroPoints!),
    axis: source.axis,
  };
}

function makeSource(source: Source): QTensor {
  if (source.scales === undefined) return makePerTensorQuantizedTensor(source.data, source.shape, source.scale!, source.zeroPoint!, source.dtype);
  const zeroPoints = source.floatQParams ? Float32Array.from(source.zeroPoints!) : Int32Array.from(source.zeroPoints!);
  return makePerChannelQuantizedTensor(source.data, source.shape, Float64Array.from(source.scales), zeroPoints, source.axis!, source.dtype);
}

const reprSources: Source[] = [
  perTensorSource('quint8', [1, 2]),
  perTensorSource('qint8', [2, 3]),
  perTensorSource('qint32', [3]),
  perTensorSource('quint4x2', [2, 2]),
  perTensorSource('quint8', [2, 2, 2]),
  perChannelSource('qint8', [3, 2], 0, false),
  perChannelSource('quint8', [2, 3], 1, false),
  perChannelSource('quint4x2', [2, 4], 0, true),
  // Formatting corners: integral values, scientific notation (large and tiny), summarization above 1000 elements.
  { ...perTensorSource('quint8', [2, 3]), scale: 1, zeroPoint: 0 },
  { ...perTensorSource('qint32', [4]), scale: 1000 },
  { ...perTensorSource('qint8', [3, 2]), scale: 1e-5 },
  { ...perTensorSource('quint8', [40, 30]), scale: 0.5, zeroPoint: 100 },
  { ...perTensorSource('qint8', [2000]), scale: 0.125, zeroPoint: 0 },
];

describeOracle('QTensor vs torch quantized tensors', () => {
  let chainResults: OracleResult[] = [];
  let reprResults: OracleResult[] = [];
  let floatResults: OracleResult[] = [];
  const floatChains = Array.from({ length: 30 }, () => {
    const shape = rng.shape(rng.int(1, 5), 1, 5);
    return { shape, x: Float32Array.from({ length: numelOf(shape) }, () => rng.normal()), steps: randomSteps(shape, rng.int(1, 3)) };
  });

  beforeAll(() => {
    const requests = [
      ...chains.map((c) =>
        c.expectation === 'torch' ? { op: 'view_chain', steps: c.steps, ...sourceCase(c.source) } : { op: 'dequantized_view_chain', steps: c.steps, ...sourceCase(c.source) },
      ),
      ...reprSources.map((s) => ({ op: 'repr', ...sourceCase(s) })),
      ...floatChains.map((c) => ({ op: 'float_view_chain', x: shaped(c.x, c.shape), steps: c.steps })),
    ];
    const results = runOracle(requests);
    chainResults = results.slice(0, chains.length);
    reprResults = results.slice(chains.length, chains.length + reprSources.length).map((r, i) => okResult(r, `repr ${i}`));
    floatResults = results.slice(chains.length + reprSources.length);
  });

  test('view chains on per-tensor tensors: shape, strides, memory format, storage sharing and values are torch\'s', () => {
    const log = new FailureLog();
    let compared = 0;
    let refused = 0;
    chains.forEach((c, k) => {
      if (c.expectation !== 'torch') return;
      log.check(c.label, () => {
        const want = chainResults[k];
        const original = makeSource(c.source);
        if (want.error !== undefined) {
          // torch refuses (a view across non-contiguous dims): qkernels must refuse with a RangeError.
          refused++;
          let thrown: unknown = undefined;
          try {
            applySteps(original, c.steps);
          } catch (error) {
            thrown = error;
          }
          if (!isErrorOfClass(thrown, 'RangeError')) throw new Error(`torch raised "${want.error}"; qkernels: ${describeThrown(thrown)}`);
          if (!/Expected .+ for \w+ but received .+ of type \w+/.test((thrown as Error).message)) throw new Error(`message shape: ${(thrown as Error).message}`);
          return;
        }
        compared++;
        const q = applySteps(original, c.steps);
        expectSameList('shape', want.shape, q.shape);
        expectSameList('strides', want.strides, q.strides);
        for (const [format, contiguous] of Object.entries(want.is_contiguous as Record<string, boolean>)) {
          expectSame(`isContiguous('${format}')`, contiguous, q.isContiguous(format as MemoryFormat));
        }
        expectSame('dtype', want.dtype, q.dtype);
        expectSame('qScale()', want.scale, q.qScale());
        expectSame('qZeroPoint()', want.zero_point, q.qZeroPoint());
        expectExact('intRepr()', want.int_repr.data, q.intRepr());
        const dequantized = q.dequantize();
        expectSameList('dequantize().strides (the memory format carries over)', want.dequant_strides, dequantized.strides);
        expectExact('dequantize() in logical order', want.dequant.data, dequantized.contiguous().data, { kind: 'float32', shape: want.shape });
        if (!c.steps.some((s) => s[0] === 'contiguous')) {
          expectSame('shares storage with the source (as torch\'s result does)', want.shares_storage, q.data.buffer === original.data.buffer);
        }
      });
    });
    log.finish(`view chains (seed ${SEED})`);
    expect(compared).toBeGreaterThan(50);
    expect(refused).toBeGreaterThan(0);
  });

  test('per-channel and quint4x2 views give torch\'s dequantize-then-view values; the axis follows permute', () => {
    const log = new FailureLog();
    chains.forEach((c, k) => {
      if (c.expectation !== 'dequantized') return;
      log.check(c.label, () => {
        const want = okResult(chainResults[k], c.label);
        const q = applySteps(makeSource(c.source), c.steps);
        expectSameList('shape', want.shape, q.shape);
        expectSameList('strides', want.strides, q.strides);
        expectExact('dequantize() in logical order', want.values.data, q.dequantize().contiguous().data, { kind: 'float32', shape: want.shape });
        if (c.source.axis !== undefined) {
          // The channel axis travels with its dim: after permute(dims) it sits where dims names it.
          let axis = c.source.axis;
          for (const step of c.steps) if (step[0] === 'permute') axis = step[1].indexOf(axis);
          expectSame('qPerChannelAxis()', axis, q.qPerChannelAxis());
          expectSame('qscheme', c.source.floatQParams ? 'per_channel_affine_float_qparams' : 'per_channel_affine', q.qscheme);
        }
      });
    });
    log.finish(`per-channel / quint4x2 views (seed ${SEED})`);
  });

  test('Tensor views (fp32) match torch', () => {
    const log = new FailureLog();
    floatChains.forEach((c, k) => {
      log.check(`[${c.shape}] ${JSON.stringify(c.steps)}`, () => {
        const want = floatResults[k];
        let t = tensor(c.x, c.shape);
        const run = () => {
          for (const step of c.steps) t = applyStep(t, step);
        };
        if (want.error !== undefined) {
          let thrown: unknown = undefined;
          try {
            run();
          } catch (error) {
            thrown = error;
          }
          if (!isErrorOfClass(thrown, 'RangeError')) throw new Error(`torch raised "${want.error}"; qkernels: ${describeThrown(thrown)}`);
          return;
        }
        run();
        expectSameList('shape', want.shape, t.shape);
        expectSameList('strides', want.strides, t.strides);
        expectExact('values (logical order)', want.values.data, t.contiguous().data, { kind: 'float32', shape: want.shape });
      });
    });
    log.finish('Tensor views');
  });

  test('toString() names size, dtype, qscheme and qparams as torch\'s repr does', () => {
    const log = new FailureLog();
    reprSources.forEach((source, k) => {
      const torchRepr = (reprResults[k].repr as string).replace(/\s+/g, ' ');
      log.check(`${source.dtype} [${source.shape}]: torch prints ${torchRepr}`, () => {
        const text = makeSource(source).toString().replace(/\s+/g, ' ');
        const pieces = [/size=\([^)]*\)/, /dtype=torch\.\w+/, /quantization_scheme=torch\.\w+/];
        if (source.scales === undefined) pieces.push(/scale=[^,)\s]+/, /zero_point=[^,)\s]+/);
        else pieces.push(/scale=tensor\([^)]*\)/, /zero_point=tensor\([^)]*\)/, /axis=\d+/);
        for (const piece of pieces) {
          const part = torchRepr.match(piece)![0];
          if (!text.includes(part)) throw new Error(`toString() "${text}" lacks torch's "${part}"`);
        }
      });
    });
    log.finish('toString');
  });

  test('toString() of small tensors is torch\'s repr, values included (whitespace aside)', () => {
    const log = new FailureLog();
    reprSources.forEach((source, k) => {
      log.check(`${source.dtype} [${source.shape}]`, () => {
        expectSame('toString()', (reprResults[k].repr as string).replace(/\s+/g, ' '), makeSource(source).toString().replace(/\s+/g, ' '));
      });
    });
    log.finish('toString (whole repr)');
  });
});

describe('QTensor accessors', () => {
  const perTensor = makePerTensorQuantizedTensor(Uint8Array.from([1, 2, 3, 4, 5, 6]), [2, 3], 0.5, 3);
  const perChannel = makePerChannelQuantizedTensor(Int8Array.from([1, -2, 3, -4, 5, -6]), [2, 3], [0.5, 0.25], [0, -1], 0);
  const floatQParams = makePerChannelQuantizedTensor(Uint8Array.from([1, 2, 3, 4, 5, 6]), [2, 3], [0.5, 0.25], Float32Array.from([0.5, 1.5]), 0, 'quint8');

  test('per-tensor accessors return the qparams given', () => {
    expect(perTensor.qScale()).toBe(0.5);
    expect(perTensor.qZeroPoint()).toBe(3);
    expect(perTensor.qscheme).toBe('per_tensor_affine');
    expect(perTensor.dtype).toBe('quint8');
    expect(perTensor.shape).toEqual([2, 3]);
    expect(perTensor.strides).toEqual([3, 1]);
    expect(Array.from(perTensor.intRepr())).toEqual([1, 2, 3, 4, 5, 6]);
    expect(Object.prototype.toString.call(perTensor.data)).toBe('[object Uint8Array]');
  });

  test('per-channel accessors return the qparams given, with the documented array types', () => {
    expect(perChannel.qscheme).toBe('per_channel_affine');
    expect(perChannel.dtype).toBe('qint8');
    expect(Object.prototype.toString.call(perChannel.qPerChannelScales())).toBe('[object Float64Array]');
    expect(Array.from(perChannel.qPerChannelScales())).toEqual([0.5, 0.25]);
    expect(Object.prototype.toString.call(perChannel.qPerChannelZeroPoints())).toBe('[object Int32Array]');
    expect(Array.from(perChannel.qPerChannelZeroPoints())).toEqual([0, -1]);
    expect(perChannel.qPerChannelAxis()).toBe(0);
    expect(floatQParams.qscheme).toBe('per_channel_affine_float_qparams');
    expect(Object.prototype.toString.call(floatQParams.qPerChannelZeroPoints())).toBe('[object Float32Array]');
    expect(Array.from(floatQParams.qPerChannelZeroPoints())).toEqual([0.5, 1.5]);
  });

  test('intRepr() is a new array: writing to it leaves the tensor unchanged', () => {
    const ints = perTensor.intRepr();
    ints[0] = 200;
    expect(perTensor.intRepr()[0]).toBe(1);
  });

  // torch raises for these (RuntimeError: Expected quantizer->qscheme() == ...); qkernels: TypeError.
  test.each([
    ['qScale', () => perChannel.qScale()],
    ['qZeroPoint', () => perChannel.qZeroPoint()],
    ['qScale (float qparams)', () => floatQParams.qScale()],
    ['qPerChannelScales', () => perTensor.qPerChannelScales()],
    ['qPerChannelZeroPoints', () => perTensor.qPerChannelZeroPoints()],
    ['qPerChannelAxis', () => perTensor.qPerChannelAxis()],
  ])('%s on the other qscheme throws a TypeError', (_name, call) => {
    let thrown: unknown = undefined;
    try {
      call();
    } catch (error) {
      thrown = error;
    }
    expect(describeThrown(thrown)).toMatch(/^TypeError: /);
    expect(isErrorOfClass(thrown, 'TypeError')).toBe(true);
  });
});
