// Whole small networks against PyTorch per quantized engine: a conv1d stack and a residual conv2d block, converted by torch under onednn and qnnpack, give torch's logits bit for bit on every dispatch path.
//
// torch builds each float network, fuses, calibrates and converts it with torch.ao.quantization
// under the engine's default qconfig (onednn: per-channel weights; qnnpack: per-tensor), and runs
// it; the oracle returns every quantized module's parameters and torch's quantized logits. The
// same network is rebuilt here from qkernels modules with those parameters and run with
// backend.setQuantizedEngine set to the engine: one differing element anywhere (a conv output on
// a rounding boundary, the residual add, the pooling) would change the logits.
import { QTensor, makePerChannelQuantizedTensor, makePerTensorQuantizedTensor, nniq, nnq, ops, qF, quantizePerTensor, tensor, Tensor } from '..';
import { FailureLog, expectExact } from './helpers/compare';
import { withEngine } from './helpers/linear-conv';
import { describeEachPath } from './helpers/paths';
import { describeOracle, okResult, OracleResult, runOracle } from './oracle';

type Engine = 'onednn' | 'qnnpack';
type Kind = 'conv1d' | 'residual';

interface ModuleParams {
  w: { data: Int8Array; shape: number[] };
  w_scales: { data: Float64Array };
  w_zero_points: { data: Int32Array };
  bias?: { data: Float32Array; shape: number[] };
  scale: number;
  zero_point: number;
}

const NETS: Array<{ kind: Kind; engine: Engine; seed: number }> = [];
for (const engine of ['onednn', 'qnnpack'] as Engine[]) {
  for (const kind of ['conv1d', 'residual'] as Kind[]) for (const seed of [1, 2, 3]) NETS.push({ kind, engine, seed });
}

function weightOf(p: ModuleParams): QTensor {
  const scales = p.w_scales.data;
  const zeroPoints = p.w_zero_points.data;
  if (scales.length === 1) return makePerTensorQuantizedTensor(p.w.data, p.w.shape, scales[0], zeroPoints[0], 'qint8');
  return makePerChannelQuantizedTensor(p.w.data, p.w.shape, scales, zeroPoints, 0, 'qint8');
}

function biasOf(p: ModuleParams): Tensor | null {
  return p.bias === undefined ? null : tensor(p.bias.data, p.bias.shape);
}

type Settable = { scale: number; zeroPoint: number; setWeightBias(w: QTensor, b: Tensor | null): void; forward(x: QTensor): QTensor };

function prepared<M extends Settable>(m: M, p: ModuleParams): M {
  m.setWeightBias(weightOf(p), biasOf(p));
  m.scale = p.scale;
  m.zeroPoint = p.zero_point;
  return m;
}

/** The network of op_engine_net (test/oracle/ops_linear_conv.py), from qkernels modules. */
function runNet(kind: Kind, r: OracleResult): QTensor {
  const mods = r.modules as Record<string, ModuleParams>;
  const x = quantizePerTensor(tensor(r.x.data as Float32Array, r.x.shape as number[]), r.x_scale as number, r.x_zero_point as number, 'quint8');
  if (kind === 'conv1d') {
    const c1 = prepared(new nniq.ConvReLU1d(4, 16, 5, { padding: 2 }), mods.c1);
    const c2 = prepared(new nniq.ConvReLU1d(16, 16, 3, { stride: 2, groups: 4 }), mods.c2);
    const c3 = prepared(new nnq.Conv1d(16, 8, 3, { dilation: 2 }), mods.c3);
    const fc = prepared(new nnq.Linear(8 * 10, 10), mods.fc);
    const y = c3.forward(c2.forward(c1.forward(x)));
    return fc.forward(y.flatten(1));
  }
  const stem = prepared(new nniq.ConvReLU2d(3, 16, 3, { padding: 1 }), mods.stem);
  const a = prepared(new nniq.ConvReLU2d(16, 16, 3, { padding: 1 }), mods.a);
  const b = prepared(new nnq.Conv2d(16, 16, 3, { padding: 1 }), mods.b);
  const dw = prepared(new nniq.ConvReLU2d(16, 16, 3, { padding: 1, groups: 16 }), mods.dw);
  const fc = prepared(new nnq.Linear(16 * 4 * 4, 10), mods.fc);
  const s = stem.forward(x);
  const added = ops.quantized.addRelu(s, b.forward(a.forward(s)), r.skip_scale as number, r.skip_zero_point as number);
  const pooled = qF.avgPool2d(dw.forward(added), 2);
  return fc.forward(pooled.flatten(1));
}

describeOracle('small networks converted per engine: torch\'s logits bit for bit', () => {
  let results: OracleResult[] = [];
  beforeAll(() => {
    results = runOracle(NETS.map((n) => ({ op: 'engine_net', ...n }))).map((r, i) => okResult(r, `${NETS[i].kind} ${NETS[i].engine}`));
  });

  describeEachPath('logits', (path) => {
    test(`${NETS.length} networks (conv1d, residual) x (onednn, qnnpack)`, () => {
      const log = new FailureLog();
      NETS.forEach((n, i) => {
        log.check(`${n.kind} under ${n.engine}, seed ${n.seed} [${path.isa} x${path.threads}]`, () => {
          const r = results[i];
          const logits = withEngine(n.engine, () => runNet(n.kind, r));
          expect(logits.qScale()).toBe(r.logits_scale);
          expect(logits.qZeroPoint()).toBe(r.logits_zero_point);
          expectExact('logits', r.logits.data as Uint8Array, logits.intRepr() as Uint8Array);
        });
      });
      log.finish('networks');
    });
  });

  test('the engines give different logits for the same weights somewhere (the engine is followed)', () => {
    // The qnnpack-converted networks run under fbgemm's formulas: at least one logit changes,
    // or these networks would not show that each engine's arithmetic is needed.
    let differing = 0;
    NETS.forEach((n, i) => {
      if (n.engine !== 'qnnpack') return;
      const own = withEngine('qnnpack', () => runNet(n.kind, results[i]).intRepr());
      withEngine('fbgemm', () => {
        const other = runNet(n.kind, results[i]).intRepr();
        for (let k = 0; k < own.length; k++) if (own[k] !== other[k]) differing++;
      });
    });
    expect(differing).toBeGreaterThan(0);
  });
});
