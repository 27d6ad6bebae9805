// MinMaxObserver against torch.ao.quantization.MinMaxObserver: the same qparams for every dtype, qscheme, reduce_range and custom range.
import { calibrate, MinMaxObserver, nn, nnq, observers, tensor } from '..';
import { Rng, testSeed } from './helpers/random';
import { describeOracle, okResult, OracleResult, runOracle, shaped } from './oracle';

interface ObserverCase {
  dtype: 'quint8' | 'qint8';
  qscheme: 'per_tensor_affine' | 'per_tensor_symmetric';
  reduceRange: boolean;
  quantMin: number | null;
  quantMax: number | null;
  batches: Float32Array[];
}

function makeCases(): ObserverCase[] {
  const rng = new Rng(testSeed('zoo-observers'));
  const cases: ObserverCase[] = [];
  const ranges: Array<[number | null, number | null]> = [[null, null], [0, 127], [-64, 63], [0, 15]];
  for (const dtype of ['quint8', 'qint8'] as const) {
    for (const qscheme of ['per_tensor_affine', 'per_tensor_symmetric'] as const) {
      for (const reduceRange of [false, true]) {
        if (qscheme === 'per_tensor_symmetric' && reduceRange && dtype === 'quint8') continue; // torch refuses it
        for (const [quantMin, quantMax] of ranges) {
          if (quantMin !== null && dtype === 'quint8' && quantMin < 0) continue;
          if (quantMin !== null && dtype === 'qint8' && quantMin === 0) continue;
          for (let k = 0; k < 3; k++) {
            // Shapes of activations: all positive, all negative, mixed, tiny (eps floor), one value.
            const kind = rng.int(0, 4);
            const batches = Array.from({ length: rng.int(1, 3) }, () => {
              const n = kind === 4 ? 1 : rng.int(1, 200);
              const lo = kind === 0 ? 0 : kind === 1 ? -rng.range(0.1, 20) : kind === 3 ? -1e-9 : -rng.range(0.01, 10);
              const hi = kind === 1 ? lo / 2 : kind === 3 ? 1e-9 : rng.range(0.01, 30);
              return Float32Array.from({ length: n }, () => rng.range(lo, hi));
            });
            cases.push({ dtype, qscheme, reduceRange, quantMin, quantMax, batches });
          }
        }
      }
    }
  }
  return cases;
}

describeOracle('MinMaxObserver against torch', () => {
  const cases = makeCases();
  let results: OracleResult[];
  beforeAll(() => {
    results = runOracle(cases.map((c) => ({
      op: 'min_max_observer', dtype: c.dtype, qscheme: c.qscheme, reduce_range: c.reduceRange,
      quant_min: c.quantMin, quant_max: c.quantMax, batches: c.batches.map((b) => shaped(b, [b.length])),
    })));
  });

  test(`calculateQParams equals torch's on ${cases.length} cases`, () => {
    const mismatches: string[] = [];
    cases.forEach((c, i) => {
      const expected = okResult(results[i], `case ${i}`);
      const observer = new MinMaxObserver({ dtype: c.dtype, qscheme: c.qscheme, reduceRange: c.reduceRange, quantMin: c.quantMin, quantMax: c.quantMax });
      for (const b of c.batches) observer.forward(tensor(b, [b.length]));
      const got = observer.calculateQParams();
      if (got.scale !== expected.scale || got.zeroPoint !== expected.zero_point || observer.minVal !== expected.min_val || observer.maxVal !== expected.max_val) {
        mismatches.push(`case ${i} ${JSON.stringify({ ...c, batches: c.batches.length })}: got ${JSON.stringify(got)} expected ${JSON.stringify(expected)}`);
      }
    });
    expect(mismatches).toEqual([]);
  });
});

describe('MinMaxObserver errors and defaults', () => {
  test('before any forward: scale 1, zero point 0 (torch returns the same defaults)', () => {
    expect(new MinMaxObserver().calculateQParams()).toEqual({ scale: 1, zeroPoint: 0 });
  });
  test('symmetric quint8 with reduceRange is refused, as torch does', () => {
    expect(() => new MinMaxObserver({ qscheme: 'per_tensor_symmetric', reduceRange: true })).toThrow(/reduce range for symmetric/);
  });
  test('bad options name the parameter', () => {
    expect(() => new MinMaxObserver({ dtype: 'qint32' as 'qint8' })).toThrow(/options\.dtype/);
    expect(() => new MinMaxObserver({ quantMin: 1, quantMax: 10 })).toThrow(/options\.quantMin/);
    expect(() => new MinMaxObserver().forward([1, 2] as never)).toThrow(TypeError);
  });
});

describeOracle('calibrate() against torch: observer on the float op of the dequantized input', () => {
  const rng = new Rng(testSeed('zoo-calibrate'));
  const cases = Array.from({ length: 6 }, (_, k) => {
    const n = rng.int(1, 300);
    const spread = rng.range(0.5, 12);
    return { x: Float32Array.from({ length: n }, () => rng.range(-spread, spread * (k % 2 === 0 ? 1 : 0.3))), scale: rng.range(0.01, 0.2), zeroPoint: rng.int(0, 255) };
  });
  let results: OracleResult[];
  beforeAll(() => {
    results = runOracle(cases.map((c) => ({ op: 'calibrate_hardswish', x: shaped(c.x, [1, c.x.length]), scale: c.scale, zero_point: c.zeroPoint })));
  });

  test('Quantize -> Hardswish: the same qparams and output as torch', () => {
    cases.forEach((c, i) => {
      const expected = okResult(results[i], `case ${i}`);
      const hardswish = new nnq.Hardswish(1, 0);
      observers.markUncalibrated(hardswish);
      const model = new nn.Sequential(new nnq.Quantize(c.scale, c.zeroPoint, 'quint8'), hardswish);
      const x = tensor(c.x, [1, c.x.length]);
      expect(observers.uncalibratedModules(model).map(([name]) => name)).toEqual(['1']);
      const chosen = calibrate(model, x);
      expect(chosen.get('1')).toEqual({ scale: expected.scale, zeroPoint: expected.zero_point });
      expect([hardswish.scale, hardswish.zeroPoint]).toEqual([expected.scale, expected.zero_point]);
      expect(Array.from(model.forward(x).intRepr() as Uint8Array)).toEqual(Array.from(expected.int_repr.data as Uint8Array));
      expect(observers.uncalibratedModules(model)).toEqual([]);
    });
  });

  test('a forward that does not reach the module leaves its qparams missing and says so', () => {
    const hardswish = new nnq.Hardswish(1, 0);
    observers.markUncalibrated(hardswish);
    class SkipsIt extends nn.Module {
      quant = new nnq.Quantize(0.1, 0, 'quint8');
      extra = hardswish;
      override forward(x: ReturnType<typeof tensor>) {
        return this.quant.forward(x);
      }
    }
    expect(() => calibrate(new SkipsIt(), tensor(new Float32Array([1, 2]), [2]))).toThrow(/did not reach extra/);
    expect(Number.isNaN(hardswish.scale)).toBe(true);
  });
});
