// A user's own nn.Module subclass (properties as children, a JS forward) loads a converted torch model's state dict and matches it: keys, print(model), outputs, async.
import { QTensor, StoredTensor, Tensor, nn, nniq, nnq, tensor } from '..';
import { expectExact, expectSameList } from './helpers/compare';
import { Rng, testSeed } from './helpers/random';
import { describeOracle, okResult, OracleArray, OracleResult, runOracle } from './oracle';

// The torch side: an eager-mode model, fused (conv+bn+relu, conv+relu), calibrated and converted
// under onednn by the oracle (test/oracle/ops_nn.py convert_model).
const TORCH_NET = `
class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.quant = tq.QuantStub()
        self.conv = nn.Conv2d(3, 8, 3, padding=1)
        self.bn = nn.BatchNorm2d(8)
        self.relu = nn.ReLU()
        self.block = nn.Sequential(nn.Conv2d(8, 8, 3, padding=1), nn.ReLU())
        self.skip_add = nnq.FloatFunctional()
        self.pool = nn.AdaptiveAvgPool2d((1, 1))
        self.flatten = nn.Flatten()
        self.drop = nn.Dropout(0.2)
        self.fc = nn.Linear(8, 5)
        self.dequant = tq.DeQuantStub()

    def forward(self, x):
        x = self.relu(self.bn(self.conv(self.quant(x))))
        x = self.skip_add.add(x, self.block(x))
        x = self.drop(self.flatten(self.pool(x)))
        return self.dequant(self.fc(x))
`;

// The same architecture as it is after convert(), written as a user would.
class Net extends nn.Module {
  quant = new nnq.Quantize(1, 0, 'quint8');
  conv = new nniq.ConvReLU2d(3, 8, 3, { padding: 1 });
  bn = new nn.Identity();
  relu = new nn.Identity();
  block = new nn.Sequential(new nniq.ConvReLU2d(8, 8, 3, { padding: 1 }), new nn.Identity());
  skip_add = new nnq.QFunctional();
  pool = new nn.AdaptiveAvgPool2d([1, 1]);
  flatten = new nn.Flatten();
  drop = new nnq.Dropout({ p: 0.2 }); // convert() swaps nn.Dropout for the quantized one
  fc = new nnq.Linear(8, 5);
  dequant = new nnq.DeQuantize();

  override forward(x: Tensor): Tensor {
    let q = this.relu.forward(this.bn.forward(this.conv.forward(this.quant.forward(x))));
    q = this.skip_add.add(q, this.block.forward(q));
    q = this.drop.forward(this.flatten.forward(this.pool.forward(q)));
    return this.dequant.forward(this.fc.forward(q));
  }

  override async forwardAsync(x: Tensor): Promise<Tensor> {
    let q: QTensor = await this.quant.forwardAsync(x);
    q = await this.relu.forwardAsync(await this.bn.forwardAsync(await this.conv.forwardAsync(q)));
    q = await this.skip_add.addAsync(q, await this.block.forwardAsync(q));
    q = await this.drop.forwardAsync(await this.flatten.forwardAsync(await this.pool.forwardAsync(q)));
    return this.dequant.forwardAsync(await this.fc.forwardAsync(q));
  }
}

type Encoded = { qtensor: Record<string, unknown> } | { tensor: OracleArray; dtype: string } | { str: string } | { list: Encoded[] } | { none: true };

/** torch's value as qkernels' load() gives it (see nn-state.test.ts for every kind). */
function toStateValue(value: Encoded): nn.StateValue {
  if ('none' in value) return null;
  if ('str' in value) return value.str;
  if ('list' in value) return value.list.map(toStateValue);
  if ('tensor' in value) {
    if (value.dtype === 'int64') return new StoredTensor('int64', value.tensor.data as BigInt64Array, value.tensor.shape);
    return tensor(value.tensor.data as Float32Array, value.tensor.shape);
  }
  const q = value.qtensor as { dtype: 'quint8' | 'qint8'; shape: number[]; int_repr: OracleArray; scale?: number; zero_point?: number; scales?: OracleArray; zero_points?: OracleArray; axis?: number };
  const ints = q.int_repr.data as Uint8Array | Int8Array;
  if (q.scales === undefined) return nnqMakePerTensor(ints, q.shape, q.scale!, q.zero_point!, q.dtype);
  return nnqMakePerChannel(ints, q.shape, Array.from(q.scales.data as Float64Array), Array.from(q.zero_points!.data as BigInt64Array, Number), q.axis!, q.dtype);
}
// eslint-disable-next-line @typescript-eslint/no-var-requires
const { makePerTensorQuantizedTensor: nnqMakePerTensor, makePerChannelQuantizedTensor: nnqMakePerChannel } = require('..');

const rng = new Rng(testSeed('nn-user-module'));
const INPUTS = 3;

describeOracle("a user's nn.Module subclass runs a converted torch model", () => {
  let results: OracleResult[];
  beforeAll(() => {
    results = runOracle(
      Array.from({ length: INPUTS }, (_, i) => ({
        op: 'nn_module',
        setup: TORCH_NET,
        build: "convert_model(Net(), [[2, 3, 8, 8]], gen, fuse=[['conv', 'bn', 'relu'], ['block.0', 'block.1']])",
        converted: true,
        seed: rng.int(0, 1 << 30) + i,
        inputs: [{ float: [2, 3, 8, 8] }],
      })),
      { engine: 'onednn' },
    );
  });

  test("the same keys, in torch's order, and print(model)", () => {
    const r = okResult(results[0], 'Net');
    const net = new Net();
    expect([...net.stateDict().keys()]).toEqual((r.state as Array<[string, Encoded]>).map(([k]) => k));
    net.loadStateDict(new Map((r.state as Array<[string, Encoded]>).map(([k, v]) => [k, toStateValue(v)])));
    expect(net.toString()).toBe(r.repr);
    expect([...net.namedModules()].map(([n]) => n)).toContain('block.0');
    expect(net.getSubmodule('block.0')).toBeInstanceOf(nniq.ConvReLU2d);
  });

  test('outputs match torch (within the conv/linear engines difference) and forwardAsync gives forward\'s bits', async () => {
    let exact = 0;
    let total = 0;
    for (let i = 0; i < INPUTS; i++) {
      const r = okResult(results[i], `Net ${i}`);
      const net = new Net();
      net.loadStateDict(new Map((r.state as Array<[string, Encoded]>).map(([k, v]) => [k, toStateValue(v)])));
      const x = toStateValue(r.inputs[0]) as Tensor;
      const y = net.forward(x);
      const expected = toStateValue(r.output) as Tensor;
      expectSameList('output shape', expected.shape, y.shape);
      // One fc output quantum: qkernels computes fbgemm's conv/linear epilogue, the oracle onednn's,
      // which differ by at most 1 quantum per conv output; after three layers the logits stay within a few.
      const quantum = net.fc.scale;
      for (let k = 0; k < y.data.length; k++) {
        const diff = Math.abs(y.data[k] - expected.data[k]);
        expect(diff).toBeLessThanOrEqual(3 * quantum + 1e-6);
        if (diff === 0) exact++;
        total++;
      }
      const again = await net.forwardAsync(x);
      expectExact('forwardAsync vs forward', y.data, again.data, { kind: 'float32' });
    }
    // Most logits are bit-identical; the share is printed for the report.
    console.log(`nn-user-module: ${exact} of ${total} logits bit-identical to torch (onednn)`);
    expect(exact / total).toBeGreaterThan(0.5);
  });

  test('strict loading of a damaged torch state dict reports every problem at once and changes nothing', () => {
    const r = okResult(results[0], 'Net');
    const sd = new Map((r.state as Array<[string, Encoded]>).map(([k, v]) => [k, toStateValue(v)]));
    const net = new Net();
    const before = net.stateDict();
    sd.delete('skip_add.scale');
    sd.delete('fc._packed_params._packed_params');
    sd.set('block.1.weight', tensor(new Float32Array(2), [2]));
    sd.set('conv.bias', tensor(new Float32Array(3), [3]));
    sd.set('quant.zero_point', 7);
    let error: nn.StateDictError | undefined;
    try {
      net.loadStateDict(sd);
    } catch (e) {
      error = e as nn.StateDictError;
    }
    expect(error).toBeInstanceOf(nn.StateDictError);
    expect(error!.missingKeys).toEqual(['skip_add.scale', 'fc._packed_params._packed_params']);
    expect(error!.unexpectedKeys).toEqual(['block.1.weight']);
    expect(error!.errors.join('\n')).toContain('conv.bias');
    // nothing was applied: the quantize module kept its zero point, the conv its weights
    expect(net.quant.zeroPoint).toBe(0);
    const after = net.stateDict();
    expectExact('conv weight unchanged', (before.get('conv.weight') as QTensor).intRepr(), (after.get('conv.weight') as QTensor).intRepr());
    expect(error!.message).toMatch(/^Error\(s\) in loading state_dict for Net:/);
  });
});
