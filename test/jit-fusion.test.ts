// jit.trace's fusions: a fused plan gives the unfused plan's and the eager forward's bits (every path, thread count and engine), fuses where it may and nowhere else.
import { QTensor, backend, jit, load, models, nn, nniq, nnq, quantizePerChannel, quantizePerTensor, tensor } from '..';
import { withEngine } from './helpers/linear-conv';
import { runnablePaths, withPathAsync } from './helpers/paths';
import { Rng, testSeed } from './helpers/random';
import { asModuleState, zooFixtures, ZooFixture } from './helpers/zoo';
import { describeOracle } from './oracle';

const rng = new Rng(testSeed('jit-fusion'));
const ENGINES = ['fbgemm', 'onednn', 'qnnpack'] as const;
type Engine = (typeof ENGINES)[number];

type AnyModule = InstanceType<typeof nn.Module>;
type Inputs = () => QTensor[] | ReturnType<typeof tensor>[];

const count = (shape: readonly number[]) => shape.reduce((a, b) => a * b, 1);
const values = (n: number, lo = -2, hi = 2) => Float32Array.from({ length: n }, () => rng.range(lo, hi));

/** A quint8 tensor of `shape` with fixed qparams (new values on every call), channels_last unless told. */
function image(shape: number[], layout: 'channels_last' | 'contiguous' = 'channels_last'): QTensor {
  const q = quantizePerTensor(tensor(values(count(shape)), shape), 0.025, 118, 'quint8');
  return layout === 'channels_last' && shape.length === 4 ? q.contiguous('channels_last') : q;
}

/** A 2-D conv with random per-channel weights and bias (padding keeps the size at stride 1). */
function conv2d(cin: number, cout: number, k: number, opts: { stride?: number; groups?: number } = {}): InstanceType<typeof nnq.Conv2d> {
  const groups = opts.groups ?? 1;
  const m = new nnq.Conv2d(cin, cout, k, { padding: Math.floor(k / 2), stride: opts.stride ?? 1, groups });
  const scales = Array.from({ length: cout }, () => rng.range(0.003, 0.015));
  m.setWeightBias(quantizePerChannel(tensor(values(cout * (cin / groups) * k * k, -1, 1), [cout, cin / groups, k, k]), scales, new Array<number>(cout).fill(0), 0, 'qint8'), tensor(values(cout, -0.5, 0.5), [cout]));
  m.scale = rng.range(0.03, 0.06);
  m.zeroPoint = rng.int(60, 130);
  return m;
}

/** torch's residual add slot (FloatFunctional after convert) with its own output qparams. */
function skip(): InstanceType<typeof nnq.QFunctional> {
  const f = new nnq.QFunctional();
  f.scale = 0.06;
  f.zeroPoint = 70;
  return f;
}

function bytes(t: unknown): Buffer {
  const q = t as QTensor;
  return Buffer.from(q.data.buffer, q.data.byteOffset, q.data.byteLength);
}

function flat(out: unknown): QTensor[] {
  return (Array.isArray(out) ? out : [out]) as QTensor[];
}

/** steps=... of a TracedModule's summary. */
function steps(traced: jit.TracedModule): number {
  return Number(/steps=(\d+)/.exec(String(traced))![1]);
}

/**
 * Under each engine, on every dispatch path: the model traced with and without fusion, then
 * both plans (sync and async) on new inputs against the eager forward, byte for byte. The
 * fused plan must have made `fusions` conv + add steps.
 */
async function expectFusedExact(model: AnyModule, inputs: Inputs, fusions: number, engines: readonly Engine[] = ENGINES): Promise<void> {
  for (const engine of engines) {
    for (const p of runnablePaths()) {
      const where = `${engine} ${p.isa}/${p.threads}t`;
      await withPathAsync(p, async () => {
        const saved = backend.quantizedEngine();
        backend.setQuantizedEngine(engine);
        const fused = jit.trace(model, inputs());
        const unfused = jit.trace(model, inputs(), { fuse: false });
        try {
          expect([where, fused.fusion.convAdd]).toEqual([where, fusions]);
          expect(unfused.fusion.convAdd).toBe(0);
          expect(steps(fused)).toBe(steps(unfused) - fusions);
          expect(fused.fusion.unfusedSteps).toBe(steps(unfused));
          expect(fused.fusion.unfusedArenaBytes).toBe(unfused.arenaBytes);
          expect(fused.fusion.unfusedIntermediateBytes).toBe(unfused.intermediateBytes);
          if (fusions > 0) expect(fused.intermediateBytes).toBeLessThan(unfused.intermediateBytes);
          else expect(fused.intermediateBytes).toBe(unfused.intermediateBytes);
          for (let run = 0; run < 2; run++) {
            const x = inputs();
            const want = flat(model.forward(...x));
            const results = [fused.forward(...x), unfused.forward(...x), await fused.forwardAsync(...x)];
            results.forEach((got, k) => {
              flat(got).forEach((t, i) => {
                if (!bytes(t).equals(bytes(want[i]))) throw new Error(`${where}: ${['fused', 'unfused', 'fused async'][k]} output ${i} differs from the eager forward (run ${run})`);
              });
            });
          }
        } finally {
          fused.dispose();
          unfused.dispose();
          backend.setQuantizedEngine(saved);
        }
      });
    }
  }
}

/** y = op(conv(x), x) or op(x, conv(x)): a residual block without a downsample. */
class Residual extends nn.Module {
  body: AnyModule;
  add = skip();
  constructor(body: AnyModule, readonly op: 'add' | 'addRelu' | 'mul' = 'addRelu', readonly convFirst = true) {
    super();
    this.body = body;
  }
  override forward(x: QTensor): QTensor {
    const y = this.body.forward(x) as QTensor;
    return this.convFirst ? this.add[this.op](y, x) : this.add[this.op](x, y);
  }
}

describe('jit.trace fusion: conv + add (+ relu) where it applies', () => {
  test('a residual add_relu, add and mul, the conv either operand: one fused step each, exact', async () => {
    for (const op of ['addRelu', 'add', 'mul'] as const) {
      for (const convFirst of [true, false]) {
        await expectFusedExact(new Residual(conv2d(8, 8, 3), op, convFirst), () => [image([1, 8, 10, 10])], 1);
      }
    }
  }, 300000);

  test('every conv path: 1x1, depthwise, grouped, strided 3x3 (downsample: the later conv fuses)', async () => {
    await expectFusedExact(new Residual(conv2d(16, 16, 1)), () => [image([1, 16, 9, 9])], 1);
    await expectFusedExact(new Residual(conv2d(16, 16, 3, { groups: 16 })), () => [image([1, 16, 9, 9])], 1);
    await expectFusedExact(new Residual(conv2d(16, 16, 3, { groups: 4 })), () => [image([1, 16, 9, 9])], 1);
    class Downsample extends nn.Module {
      main = new nn.Sequential(conv2d(8, 16, 3, { stride: 2 }), conv2d(16, 16, 3));
      down = conv2d(8, 16, 1, { stride: 2 });
      add = skip();
      override forward(x: QTensor): QTensor {
        return this.add.addRelu(this.main.forward(x) as QTensor, this.down.forward(x) as QTensor);
      }
    }
    await expectFusedExact(new Downsample(), () => [image([1, 8, 14, 14])], 1);
    const traced = jit.trace(new Downsample(), image([1, 8, 14, 14]));
    // The downsample conv (recorded last) is the one merged into the add.
    expect(traced.graph).toMatch(/= conv\(%0\) : \d+ bytes \(fused into %\d+: no buffer\)/);
    traced.dispose();
  }, 300000);

  test('a chain of residual blocks (resnet-like), batch 2: every block fuses', async () => {
    const blocks = Array.from({ length: 3 }, () => new Residual(new nn.Sequential(conv2d(8, 8, 3), conv2d(8, 8, 3))));
    await expectFusedExact(new nn.Sequential(...blocks), () => [image([2, 8, 12, 12])], 3);
  }, 300000);

  // The add expands a broadcast operand itself (BinaryRowsBroadcast), as a step of its own kind
  // that the fusion pass does not merge yet: the plan stays exact, unfused.
  test('an add with a broadcast operand is left unfused (and exact)', async () => {
    class Broadcast extends nn.Module {
      c = conv2d(8, 8, 3);
      add = skip();
      override forward(x: QTensor, bias: QTensor): QTensor {
        return this.add.add(this.c.forward(x), bias);
      }
    }
    await expectFusedExact(new Broadcast(), () => [image([1, 8, 6, 6]), image([1, 8, 1, 1])], 0);
  }, 300000);

  test('the other operand in another layout (NCHW) is copied to the conv output\'s NHWC: fuses', async () => {
    await expectFusedExact(new Residual(conv2d(8, 8, 3)), () => [image([1, 8, 7, 7], 'contiguous')], 1);
  }, 300000);
});

describe('jit.trace fusion: where it must not apply', () => {
  test('the conv output is also a graph output, or read by another op: no fusion, exact', async () => {
    class AlsoReturned extends nn.Module {
      c = conv2d(8, 8, 3);
      add = skip();
      override forward(x: QTensor): QTensor[] {
        const y = this.c.forward(x);
        return [this.add.add(y, x), y];
      }
    }
    await expectFusedExact(new AlsoReturned(), () => [image([1, 8, 6, 6])], 0);
    class ReadTwice extends nn.Module {
      c = conv2d(8, 8, 3);
      d = conv2d(8, 8, 1);
      add = skip();
      override forward(x: QTensor): QTensor[] {
        const y = this.c.forward(x);
        return [this.add.add(y, x), this.d.forward(y)];
      }
    }
    await expectFusedExact(new ReadTwice(), () => [image([1, 8, 6, 6])], 0);
    class Doubled extends nn.Module {
      c = conv2d(8, 8, 3);
      add = skip();
      override forward(x: QTensor): QTensor {
        const y = this.c.forward(x);
        return this.add.add(y, y);
      }
    }
    await expectFusedExact(new Doubled(), () => [image([1, 8, 6, 6])], 0);
  }, 300000);

  test('the conv output is the broadcast operand, or in the other layout than the add\'s: read through a copy, no fusion', async () => {
    class SmallConv extends nn.Module {
      c = conv2d(8, 8, 1);
      add = skip();
      override forward(x: QTensor, pooled: QTensor): QTensor {
        return this.add.add(x, this.c.forward(pooled));
      }
    }
    await expectFusedExact(new SmallConv(), () => [image([1, 8, 5, 5]), image([1, 8, 1, 1])], 0);
    // add(x NCHW, conv NHWC): the add runs in x's layout, on a copy of the conv output.
    await expectFusedExact(new Residual(conv2d(8, 8, 3), 'add', false), () => [image([1, 8, 7, 7], 'contiguous')], 0);
  }, 300000);

  test('ConvAdd (nniq.ConvAddReLU2d: fp32 add before requantizing) is not fused with a following add', async () => {
    const convAdd = new nniq.ConvAddReLU2d(8, 8, 3, { padding: 1 });
    convAdd.setWeightBias(quantizePerChannel(tensor(values(8 * 8 * 9, -1, 1), [8, 8, 3, 3]), new Array(8).fill(0.01), new Array(8).fill(0), 0, 'qint8'), null);
    convAdd.scale = 0.05;
    convAdd.zeroPoint = 90;
    class Twice extends nn.Module {
      ca = convAdd;
      add = skip();
      override forward(x: QTensor): QTensor {
        return this.add.add(this.ca.forward(x, x), x);
      }
    }
    await expectFusedExact(new Twice(), () => [image([1, 8, 6, 6])], 0, ['fbgemm']);
  }, 300000);

  test('options.fuse is checked', () => {
    expect(() => jit.trace(new Residual(conv2d(4, 4, 1)), image([1, 4, 3, 3]), { fuse: 'yes' as unknown as boolean })).toThrow(TypeError);
    expect(() => jit.trace(new Residual(conv2d(4, 4, 1)), image([1, 4, 3, 3]), { fuse: 'yes' as unknown as boolean })).toThrow(/options\.fuse/);
  });
});

// ---- the zoo -------------------------------------------------------------------------------------

const ZOO: Record<string, number> = { resnet18: 8, mobilenet_v2: 10, shufflenet_v2_x0_5: 0 };

describeOracle('jit.trace fusion on the zoo models', () => {
  let fixtures: Map<string, ZooFixture>;
  beforeAll(() => {
    fixtures = zooFixtures(Object.keys(ZOO));
  }, 600000);

  for (const [arch, fusions] of Object.entries(ZOO)) {
    test(`${arch}: ${fusions} conv + add fusions; fused = unfused = eager on new images, every path and engine`, async () => {
      const m = models.architectures[arch]();
      m.loadStateDict(asModuleState(load(fixtures.get(arch)!.stateDictFile)));
      const shape = [1, ...fixtures.get(arch)!.meta.inputShape.slice(1)];
      await expectFusedExact(m, () => [tensor(values(count(shape)), shape)], fusions);
      withEngine('fbgemm', () => {
        const traced = jit.trace(m, tensor(values(count(shape)), shape));
        expect(traced.graph.split('\n').filter((line) => /fused into/.test(line))).toHaveLength(fusions);
        traced.dispose();
      });
    }, 900000);
  }
});
