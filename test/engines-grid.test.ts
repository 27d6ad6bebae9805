// The conv/linear output stage per engine on dense grids of accumulators: every (x0, x1) byte pair through linear and conv under onednn and qnnpack, exact against torch on every dispatch path.
//
// Random cases rarely put an output on a rounding boundary, so a formula that is wrong in the
// last bit of one scale can pass them (120k random linear outputs did not tell fbgemm's formula
// from oneDNN's). Here each case computes a 2-term dot product for all 65536 pairs of input
// bytes, per output channel with its own scale and bias: millions of distinct accumulators per
// case, tens of boundary cases among them, and torch must be matched on every one.
import type { QuantizedEngine } from '..';
import { ConvCase, LinearCase, convOracleCase, linearOracleCase, runConvCase, runLinearCase, withEngine } from './helpers/linear-conv';
import { FailureLog, expectExact } from './helpers/compare';
import { describeEachPath } from './helpers/paths';
import { Rng, testSeed } from './helpers/random';
import { describeOracle, okResult, OracleResult, runOracle } from './oracle';

const ENGINES: QuantizedEngine[] = ['onednn', 'qnnpack'];
const rng = new Rng(testSeed('engines-grid'));

interface Stage {
  perChannel: boolean;
  bias: boolean;
  relu: boolean;
}

/** Channel scales, bias and output qparams that spread t = acc * x_s * w_s / y_s over about +-40. */
function stageParams(channels: number, stage: Stage) {
  const xScale = rng.logUniform(0.002, 0.05);
  const xZeroPoint = rng.int(0, 255);
  const shared = rng.logUniform(0.0005, 0.02);
  const scales = Float64Array.from({ length: stage.perChannel ? channels : 1 }, () => (stage.perChannel ? rng.logUniform(0.0005, 0.02) : shared));
  const yScale = (xScale * shared * 65000) / rng.range(40, 120);
  const bias = stage.bias ? Float32Array.from({ length: channels }, () => rng.range(-40, 40) * yScale) : null;
  return { xScale, xZeroPoint, scales, yScale, yZeroPoint: rng.int(0, 255), bias };
}

function weights(count: number): Int8Array {
  return Int8Array.from({ length: count }, () => rng.int(-128, 127));
}

function label(kind: string, s: Stage): string {
  return `${kind} ${s.perChannel ? 'per-channel' : 'per-tensor'}${s.bias ? ' bias' : ''}${s.relu ? ' relu' : ''}`;
}

/** Linear 2 -> n over the 65536 rows [x0, x1]. */
function linearGrid(engine: QuantizedEngine, n: number, s: Stage): LinearCase {
  const p = stageParams(n, s);
  const x = new Uint8Array(65536 * 2);
  for (let i = 0; i < 65536; i++) {
    x[2 * i] = i >> 8;
    x[2 * i + 1] = i & 255;
  }
  return {
    label: `${label('linear', s)} (${engine})`,
    fusion: s.relu ? 'relu' : 'none',
    alpha: 0,
    x: { data: x, shape: [65536, 2], scale: p.xScale, zeroPoint: p.xZeroPoint },
    weight: { w: weights(n * 2), shape: [n, 2], scales: p.scales, zeroPoints: new Int32Array(p.scales.length), axis: s.perChannel ? 0 : null },
    bias: p.bias,
    scale: p.yScale,
    zeroPoint: p.yZeroPoint,
    engines: [engine],
  };
}

/**
 * Conv2d with a 1x2 kernel over a [1, c, 256, 512] image whose rows read (r, 0, r, 1, ..., r, 255):
 * every horizontal pair of bytes occurs. groups = c for the depthwise kernels, else in = 1.
 * kind 'pointwise': a 1x1 kernel over 2 input channels holding the pair (the pointwise path).
 */
function convGrid(engine: QuantizedEngine, kind: 'pointwise' | 'implicit' | 'depthwise', out: number, s: Stage): ConvCase {
  const p = stageParams(out, s);
  const inChannels = kind === 'pointwise' ? 2 : kind === 'depthwise' ? out : 1;
  const [h, w] = kind === 'pointwise' ? [256, 256] : [256, 512];
  const x = new Uint8Array(inChannels * h * w);
  for (let c = 0; c < inChannels; c++) {
    for (let r = 0; r < h; r++) {
      for (let col = 0; col < w; col++) {
        x[(c * h + r) * w + col] = kind === 'pointwise' ? (c === 0 ? r : col) : col % 2 === 0 ? r : col >> 1;
      }
    }
  }
  const kernel = kind === 'pointwise' ? [1, 1] : [1, 2];
  const perGroup = kind === 'pointwise' ? 2 : 1;
  return {
    label: `${label(`conv2d ${kind}`, s)} (${engine})`,
    dims: 2,
    transposed: false,
    fusion: s.relu ? 'relu' : 'none',
    inChannels,
    outChannels: out,
    groups: kind === 'depthwise' ? out : 1,
    kernel,
    stride: [1, 1],
    dilation: [1, 1],
    padding: 0,
    padBefore: [0, 0],
    padAfter: [0, 0],
    outputPadding: [0, 0],
    paddingMode: 'zeros',
    channelsLast: kind === 'depthwise',
    x: { data: x, shape: [1, inChannels, h, w], scale: p.xScale, zeroPoint: p.xZeroPoint },
    weight: {
      w: weights(out * perGroup * kernel[0] * kernel[1]),
      shape: [out, perGroup, ...kernel],
      scales: p.scales,
      zeroPoints: new Int32Array(p.scales.length),
      axis: s.perChannel ? 0 : null,
    },
    bias: p.bias,
    scale: p.yScale,
    zeroPoint: p.yZeroPoint,
    engines: [engine],
  };
}

const STAGES: Stage[] = [
  { perChannel: true, bias: true, relu: false },
  { perChannel: false, bias: true, relu: false },
  { perChannel: true, bias: false, relu: true },
];
type GridCase = { engine: QuantizedEngine; linear?: LinearCase; conv?: ConvCase };
const CASES: GridCase[] = [];
for (const engine of ENGINES) {
  for (const s of STAGES) CASES.push({ engine, linear: linearGrid(engine, 16, s) });
  CASES.push({ engine, conv: convGrid(engine, 'pointwise', 16, STAGES[0]) });
  CASES.push({ engine, conv: convGrid(engine, 'implicit', 8, STAGES[1]) });
  CASES.push({ engine, conv: convGrid(engine, 'depthwise', 8, STAGES[0]) });
  CASES.push({ engine, conv: convGrid(engine, 'depthwise', 8, STAGES[2]) });
}

function labelOf(c: GridCase): string {
  return (c.linear ?? c.conv)!.label;
}

describeOracle('conv and linear output stages on dense accumulator grids, per engine, exact', () => {
  let results: OracleResult[] = [];
  beforeAll(() => {
    const oracleCases = CASES.map((c) => (c.linear !== undefined ? linearOracleCase(c.linear) : convOracleCase(c.conv!)));
    results = runOracle(oracleCases).map((r, i) => okResult(r, labelOf(CASES[i])));
  }, 120000);

  test('torch answered every case with the engine asked for', () => {
    results.forEach((r, i) => {
      expect(r.torch_error).toBeUndefined();
      expect(r.engine).toBe(CASES[i].engine);
    });
  });

  describeEachPath('grids', (path) => {
    test(`${CASES.length} grids (linear, pointwise, implicit-GEMM and depthwise conv) x (onednn, qnnpack): torch's bytes`, () => {
      const log = new FailureLog();
      CASES.forEach((c, i) => {
        log.check(`${labelOf(c)} [${path.isa} x${path.threads}]`, () => {
          const got = withEngine(c.engine, () => (c.linear !== undefined ? runLinearCase(c.linear, true) : runConvCase(c.conv!, true)));
          expectExact('output', results[i].torch!.data as Uint8Array, got.intRepr() as Uint8Array);
        });
      });
      log.finish('grids');
    });
  });

  test('the grids reach rounding boundaries: another engine\'s formula misses torch on every engine\'s linear grids', () => {
    // Each engine's linear grids computed with the other engine's (and fbgemm's) output stage:
    // some bytes change, or these grids could not tell the engines' formulas apart.
    for (const engine of ENGINES) {
      for (const other of ['fbgemm', ...ENGINES.filter((e) => e !== engine)] as QuantizedEngine[]) {
        let differing = 0;
        CASES.forEach((c, i) => {
          if (c.engine !== engine || c.linear === undefined) return;
          const got = withEngine(other, () => runLinearCase(c.linear!, true).intRepr() as Uint8Array);
          const want = results[i].torch!.data as Uint8Array;
          for (let k = 0; k < want.length; k++) if (got[k] !== want[k]) differing++;
        });
        console.log(`${engine} linear grids under ${other}'s formula: ${differing} bytes differ from torch`);
        expect(differing).toBeGreaterThan(0);
      }
    }
  });
});
