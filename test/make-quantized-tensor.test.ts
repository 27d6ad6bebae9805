// makePerTensorQuantizedTensor / makePerChannelQuantizedTensor against torch._make_*_quantized_tensor: dequantize bit-exact on every path.
import { makePerChannelQuantizedTensor, makePerTensorQuantizedTensor, QTensor } from '..';
import { expectExact, expectSame, expectSameList, FailureLog } from './helpers/compare';
import { ALL_QDTYPES, QDTYPES, QDTypeName } from './helpers/floats';
import { describeEachPath } from './helpers/paths';
import { Rng, testSeed } from './helpers/random';
import { describeOracle, okResult, OracleResult, runOracle } from './oracle';

const SWEEP = process.env.QKERNELS_SWEEP === '1';
const SEED = testSeed('make-quantized-tensor');
const rng = new Rng(SEED);

type IntArray = Uint8Array | Int8Array | Int32Array;
type Scheme = 'per_tensor_affine' | 'per_channel_affine' | 'per_channel_affine_float_qparams';

interface Case {
  label: string;
  scheme: Scheme;
  dtype: QDTypeName;
  shape: number[];
  /** The integer storage handed over (quint4x2: packed bytes). */
  data: IntArray;
  /** The unpacked integer of each element, for reports. */
  values: number[];
  scale?: number;
  zeroPoint?: number;
  scales?: number[];
  zeroPoints?: number[];
  axis?: number;
  /** Whether to pass dtype explicitly (it defaults from the array type except for quint4x2). */
  passDtype: boolean;
}

const SCALES = [0.1, 1 / 3, 1, 0.5, 0.05, 1 / 255, 1e-3, 1e-7, 1e4, 3e38, 1e-39];

function randomValue(dtype: QDTypeName): number {
  const info = QDTYPES[dtype];
  if (dtype === 'qint32' && rng.bool(0.3)) {
    return rng.pick([info.qmin, info.qmin + 1, -16777217, -16777216, 16777216, 16777217, info.qmax - 1, info.qmax]);
  }
  return rng.int(info.qmin, info.qmax);
}

function storageFor(dtype: QDTypeName, values: number[]): IntArray {
  switch (dtype) {
    case 'quint8':
      return Uint8Array.from(values);
    case 'qint8':
      return Int8Array.from(values);
    case 'qint32':
      return Int32Array.from(values);
    case 'quint4x2': {
      const packed = new Uint8Array(Math.ceil(values.length / 2));
      values.forEach((v, i) => (packed[i >> 1] |= (v & 15) << (i & 1 ? 4 : 0)));
      return packed;
    }
  }
}

function valuesFor(dtype: QDTypeName, numel: number): number[] {
  const info = QDTYPES[dtype];
  // Every representable value once when the range is small, then random ones.
  const values: number[] = [];
  if (info.qmax - info.qmin < 256) for (let v = info.qmin; v <= info.qmax && values.length < numel; v++) values.push(v);
  while (values.length < numel) values.push(randomValue(dtype));
  return rng.shuffle(values);
}

function buildCases(): Case[] {
  const cases: Case[] = [];
  for (const dtype of ALL_QDTYPES) {
    const info = QDTYPES[dtype];
    for (const scale of SCALES) {
      for (const zeroPoint of [rng.pick(info.edgeZeroPoints), randomValue(dtype)]) {
        const shape = rng.bool(0.5) ? [rng.int(1, SWEEP ? 5000 : 700)] : rng.shape(rng.int(2, 4), 1, 9);
        if (rng.bool(0.3)) shape[0] = 300; // all 256 byte values fit
        const numel = shape.reduce((a, b) => a * b, 1);
        const values = valuesFor(dtype, numel);
        cases.push({
          label: `per_tensor ${dtype} shape [${shape}] scale ${scale} zeroPoint ${zeroPoint}`,
          scheme: 'per_tensor_affine', dtype, shape, values, data: storageFor(dtype, values), scale, zeroPoint,
          passDtype: dtype === 'quint4x2' || rng.bool(0.5),
        });
      }
    }
    // Large, for thread splitting.
    {
      const values = valuesFor(dtype, SWEEP ? 1_000_001 : 65_537);
      cases.push({
        label: `per_tensor ${dtype} large`, scheme: 'per_tensor_affine', dtype, shape: [values.length], values,
        data: storageFor(dtype, values), scale: 0.0125, zeroPoint: randomValue(dtype), passDtype: true,
      });
    }
  }
  const perChannel: Array<[Scheme, QDTypeName]> = [
    ['per_channel_affine', 'quint8'], ['per_channel_affine', 'qint8'], ['per_channel_affine', 'qint32'],
    ['per_channel_affine_float_qparams', 'quint8'], ['per_channel_affine_float_qparams', 'quint4x2'],
  ];
  for (const [scheme, dtype] of perChannel) {
    const info = QDTYPES[dtype];
    for (let rank = 2; rank <= 5; rank++) {
      for (let axis = 0; axis < rank; axis++) {
        for (let r = 0; r < (SWEEP ? 4 : 1); r++) {
          const shape = rng.shape(rank, 1, rank === 2 ? 30 : 6);
          const numel = shape.reduce((a, b) => a * b, 1);
          const values = valuesFor(dtype, numel);
          const channels = shape[axis];
          const scales = Array.from({ length: channels }, () => (rng.bool(0.5) ? rng.pick(SCALES.slice(0, 8)) : rng.logUniform(1e-5, 1e2)));
          const zeroPoints = Array.from({ length: channels }, () =>
            scheme === 'per_channel_affine' ? randomValue(dtype) : Math.fround(rng.range(-3, info.qmax + 3)),
          );
          if (scheme === 'per_channel_affine_float_qparams') for (let c = 0; c < channels; c++) scales[c] = Math.fround(scales[c]);
          cases.push({
            label: `${scheme} ${dtype} shape [${shape}] axis ${axis}`,
            scheme, dtype, shape, values, data: storageFor(dtype, values), scales, zeroPoints, axis,
            passDtype: dtype === 'quint4x2' || rng.bool(0.5),
          });
        }
      }
    }
  }
  return cases;
}

const cases = buildCases();

function make(c: Case): QTensor {
  const dtype = c.passDtype ? c.dtype : undefined;
  if (c.scheme === 'per_tensor_affine') return makePerTensorQuantizedTensor(c.data, c.shape, c.scale!, c.zeroPoint!, dtype);
  const zeroPoints = c.scheme === 'per_channel_affine' ? Int32Array.from(c.zeroPoints!) : Float32Array.from(c.zeroPoints!);
  return makePerChannelQuantizedTensor(c.data, c.shape, Float64Array.from(c.scales!), zeroPoints, c.axis!, dtype);
}

// Unpacked quint4x2 values whose packing torch is asked for (its int_repr of them).
const PACKING_SETS = [[1], [1, 2], [15, 0, 7], Array.from({ length: 33 }, () => rng.int(0, 15)), Array.from({ length: 64 }, (_, i) => i % 16)];

describeOracle('makePer{Tensor,Channel}QuantizedTensor vs torch._make_*_quantized_tensor', () => {
  let expected: OracleResult[] = [];
  let packings: OracleResult[] = [];

  beforeAll(() => {
    const packingRequests = PACKING_SETS.map((values) => ({ op: 'int_repr', values: Uint8Array.from(values) }));
    const results = runOracle([
      ...packingRequests,
      ...cases.map((c) => ({
        op: 'dequantize',
        values: c.data,
        shape: c.shape,
        dtype: c.dtype,
        ...(c.scheme === 'per_tensor_affine'
          ? { scale: c.scale, zero_point: c.zeroPoint }
          : {
              scales: Float64Array.from(c.scales!),
              zero_points: c.scheme === 'per_channel_affine' ? Int32Array.from(c.zeroPoints!) : Float32Array.from(c.zeroPoints!),
              axis: c.axis,
            }),
      })),
    ]);
    packings = results.slice(0, packingRequests.length);
    expected = results.slice(packingRequests.length).map((result, i) => okResult(result, cases[i].label));
  });

  test('intRepr() returns the integers given, as torch\'s int_repr() does; qscheme and dtype are torch\'s', () => {
    const log = new FailureLog();
    cases.forEach((c, k) => {
      log.check(c.label, () => {
        const q = make(c);
        expectSame('dtype', expected[k].dtype, q.dtype);
        expectSame('qscheme', expected[k].qscheme, q.qscheme);
        expectSameList('shape', expected[k].shape, q.shape);
        expectExact('intRepr() vs the data given', c.data, q.intRepr());
        expectExact('intRepr() vs torch', expected[k].int_repr.data, q.intRepr());
      });
    });
    log.finish(`make* metadata (seed ${SEED})`);
  });

  test('quint4x2 packing (element 2i in the low nibble of byte i) is torch\'s, for odd and even lengths', () => {
    PACKING_SETS.forEach((values, k) => {
      const torchPacked = okResult(packings[k], `int_repr of [${values}]`).int_repr.data as Uint8Array;
      expectExact(`test packing of [${values}]`, torchPacked, storageFor('quint4x2', values));
      const q = makePerTensorQuantizedTensor(storageFor('quint4x2', values), [values.length], 1, 0, 'quint4x2');
      expectExact(`intRepr() of [${values}]`, torchPacked, q.intRepr());
      expectExact(`dequantize() of [${values}]`, Float32Array.from(values), q.dequantize().data, { kind: 'float32' });
    });
  });

  describeEachPath('dequantize bit-exact', (path) => {
    for (const scheme of ['per_tensor_affine', 'per_channel_affine', 'per_channel_affine_float_qparams'] as const) {
      test(`${scheme}: dequantize() equals torch's`, () => {
        const log = new FailureLog();
        let checked = 0;
        cases.forEach((c, k) => {
          if (c.scheme !== scheme) return;
          checked++;
          log.check(c.label, () => {
            expectExact('dequantize', expected[k].dequant.data, make(c).dequantize().data, {
              kind: 'float32',
              shape: c.shape,
              input: (i) => `q=${c.values[i]}`,
              context: `seed ${SEED}, isa ${path.isa}, threads ${path.threads}`,
            });
          });
        });
        expect(checked).toBeGreaterThan(10);
        log.finish(`${scheme} dequantize`);
      });
    }
  });
});
