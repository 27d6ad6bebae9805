// bitorch's binary layers and unit_scaling's conv1d against their forwards rebuilt in torch (test/oracle/ops_binary.py), on every path.
import { Tensor, bitorch, dequantize, nn, quantizePerTensor, tensor, unitScaling } from '..';
import { expectExact, FailureLog } from './helpers/compare';
import { expectValidationError } from './helpers/errors';
import { describeEachPath } from './helpers/paths';
import { Rng, testSeed } from './helpers/random';
import { describeOracle, okResult, OracleResult, runOracle, shaped } from './oracle';

const rng = new Rng(testSeed('binary'));

type Kind = 'conv1d' | 'conv2d' | 'conv3d' | 'linear';
interface QSpec { name: string; bits?: number }

interface LayerCase {
  label: string;
  kind: Kind;
  noAct: boolean;
  x: Tensor;
  weight: Tensor;
  bias: Tensor | null;
  inQ: QSpec;
  wQ: QSpec;
  padValue: number;
  padding: number[] | 'same';
  stride: number[];
  dilation: number[];
  groups: number;
  /** Whether the layer must run on the binary kernels (and so be exact). */
  binary: boolean;
  chainWeight?: Tensor;
}

function randomTensor(shape: number[], zeros = false): Tensor {
  const n = shape.reduce((a, b) => a * b, 1);
  return tensor(Float32Array.from({ length: n }, () => (zeros && rng.int(0, 7) === 0 ? 0 : rng.range(-1.5, 1.5))), shape);
}

const ONE_BIT_INPUTS = ['sign', 'approxsign', 'swishsign', 'progressive_sign', 'steheaviside'];
const PAD_VALUES = [-1, 0, 0.5, 1, 2, -0.25];

function makeLayerCase(kind: Kind, i: number, variant: 'binary' | 'noact' | 'multibit'): LayerCase {
  const dims = kind === 'conv1d' ? 1 : kind === 'conv2d' ? 2 : kind === 'conv3d' ? 3 : 1;
  const groups = kind === 'linear' ? 1 : rng.int(1, 2);
  const cin = groups * [1, 3, 63, 64, 65, 100][rng.int(0, dims === 3 ? 3 : 5)];
  const cout = groups * rng.int(1, 12);
  const kernel = Array.from({ length: dims }, () => (kind === 'linear' ? 1 : rng.int(1, dims === 1 ? 5 : 3)));
  const stride = kernel.map(() => (kind === 'linear' ? 1 : rng.int(1, 2)));
  const dilation = kernel.map(() => (kind === 'linear' ? 1 : rng.int(1, 2)));
  const same = kind !== 'linear' && rng.int(0, 4) === 0;
  const padding: number[] | 'same' = same ? 'same' : kernel.map(() => (kind === 'linear' ? 0 : rng.int(0, 2)));
  if (same) stride.fill(1);
  const spatial = kernel.map((k, d) => dilation[d] * (k - 1) + 1 + rng.int(0, dims === 1 ? 20 : dims === 2 ? 6 : 3));
  const batch = rng.int(1, 2);
  const x = kind === 'linear' ? randomTensor([batch, cin], true) : randomTensor([batch, cin, ...spatial], true);
  const wShape = kind === 'linear' ? [cout, cin] : [cout, cin / groups, ...kernel];
  let inQ: QSpec = { name: ONE_BIT_INPUTS[i % ONE_BIT_INPUTS.length] };
  let wQ: QSpec = { name: i % 4 === 3 ? 'steheaviside' : i % 4 === 2 ? 'weightdorefa' : 'sign' };
  let xv = x;
  if (variant === 'noact') xv = tensor(x.data.map((v) => (v < 0 ? -1 : 1)), x.shape);  // +-1 floats: still binary
  if (variant === 'multibit') {
    inQ = [{ name: 'inputdorefa', bits: 2 }, { name: 'identity' }, { name: 'inputdorefa', bits: 4 }][i % 3];
    wQ = [{ name: 'weightdorefa', bits: 3 }, { name: 'sign' }, { name: 'weightdorefa', bits: 2 }][i % 3];
  }
  const bias = kind === 'linear' && rng.int(0, 1) === 1 ? randomTensor([cout]) : null;
  const padValue = PAD_VALUES[i % PAD_VALUES.length];
  const label = `${kind} #${i} ${variant} in ${cin} out ${cout} groups ${groups} kernel [${kernel}] stride [${stride}] dilation [${dilation}] padding ${JSON.stringify(padding)} pad ${padValue} ${inQ.name}/${wQ.name}`;
  const c: LayerCase = { label, kind, noAct: variant === 'noact', x: xv, weight: randomTensor(wShape), bias, inQ, wQ, padValue, padding, stride, dilation, groups, binary: variant !== 'multibit' };
  if (variant === 'binary' && kind !== 'linear' && i % 3 === 0) c.chainWeight = randomTensor([rng.int(1, 9), cout, ...kernel.map(() => 1)]);
  return c;
}

const layerCases: LayerCase[] = [];
for (const kind of ['conv1d', 'conv2d', 'conv3d', 'linear'] as Kind[]) {
  for (let i = 0; i < 12; i++) layerCases.push(makeLayerCase(kind, i, 'binary'));
  for (let i = 0; i < 3; i++) layerCases.push(makeLayerCase(kind, i, 'noact'));
  for (let i = 0; i < 3; i++) layerCases.push(makeLayerCase(kind, i, 'multibit'));
}

function quantizationArg(q: QSpec): string | InstanceType<typeof bitorch.Quantization> {
  if (q.name === 'weightdorefa') return new bitorch.WeightDoReFa(q.bits);
  if (q.name === 'inputdorefa') return new bitorch.InputDoReFa(q.bits);
  return q.name;
}

type Layer = InstanceType<typeof bitorch.QConv1d> | InstanceType<typeof bitorch.QLinear> | InstanceType<typeof bitorch.QConv1d_NoAct>;

function buildLayer(c: LayerCase): Layer {
  if (c.kind === 'linear') {
    const layer = new bitorch.QLinear(c.x.shape[1], c.weight.shape[0], { bias: c.bias !== null, inputQuantization: quantizationArg(c.inQ), weightQuantization: quantizationArg(c.wQ), gradientCancellationThreshold: 0.5 });
    layer.loadStateDict(c.bias === null ? { weight: c.weight } : { weight: c.weight, bias: c.bias });
    return layer;
  }
  const dims = c.kind === 'conv1d' ? 1 : c.kind === 'conv2d' ? 2 : 3;
  const opts = { stride: c.stride, padding: c.padding, dilation: c.dilation, groups: c.groups, padValue: c.padValue, weightQuantization: quantizationArg(c.wQ) };
  const kernel = c.weight.shape.slice(2);
  const [cin, cout] = [c.x.shape[1], c.weight.shape[0]];
  let layer: Layer;
  if (c.noAct) {
    layer = new [bitorch.QConv1d_NoAct, bitorch.QConv2d_NoAct, bitorch.QConv3d_NoAct][dims - 1](cin, cout, kernel, opts);
  } else {
    layer = new [bitorch.QConv1d, bitorch.QConv2d, bitorch.QConv3d][dims - 1](cin, cout, kernel, { ...opts, inputQuantization: quantizationArg(c.inQ) });
  }
  layer.setWeight(c.weight);
  return layer;
}

function padSides(c: LayerCase): { before: number[]; after: number[] } {
  const kernel = c.weight.shape.slice(2);
  if (c.padding === 'same') {
    const total = kernel.map((k, d) => c.dilation[d] * (k - 1));
    const before = total.map((t) => Math.floor(t / 2));
    return { before, after: total.map((t, d) => t - before[d]) };
  }
  return { before: c.padding, after: c.padding };
}

describeOracle('bitorch layers vs their torch forward', () => {
  let expected: OracleResult[] = [];
  beforeAll(() => {
    expected = runOracle(layerCases.map((c) => {
      const { before, after } = padSides(c);
      return {
        op: 'bitorch_layer', kind: c.kind, x: shaped(c.x.data, [...c.x.shape]), weight: shaped(c.weight.data, [...c.weight.shape]),
        bias: c.bias === null ? null : c.bias.data, input_quantization: c.noAct ? null : c.inQ, weight_quantization: c.wQ,
        pad_value: c.padValue, pad_before: before, pad_after: after, stride: c.stride, dilation: c.dilation, groups: c.groups,
        chain_weight: c.chainWeight ? shaped(c.chainWeight.data, [...c.chainWeight.shape]) : null,
      };
    })).map((r, i) => okResult(r, layerCases[i].label));
  });

  test('1-bit layers take the binary kernels; the others do not', () => {
    for (const c of layerCases) expect({ label: c.label, binary: buildLayer(c).binary }).toEqual({ label: c.label, binary: c.binary });
  });

  describeEachPath('binary layers are exact', () => {
    test('forward, forwardAsync and the bit-packed chain', async () => {
      const log = new FailureLog();
      for (let k = 0; k < layerCases.length; k++) {
        const c = layerCases[k];
        if (!c.binary) continue;
        const layer = buildLayer(c);
        if (c.chainWeight) {
          const next = new [bitorch.QConv1d, bitorch.QConv2d, bitorch.QConv3d][c.kind === 'conv1d' ? 0 : c.kind === 'conv2d' ? 1 : 2](c.weight.shape[0], c.chainWeight.shape[0], 1);
          next.setWeight(c.chainWeight);
          const bits = (layer as InstanceType<typeof bitorch.QConv1d>).forwardBits(c.x);
          log.check(`${c.label} (chain)`, () => expectExact('chained output', expected[k].out.data, next.forward(bits).data, { kind: 'float32' }));
          continue;
        }
        const got = layer.forward(c.x);
        log.check(c.label, () => {
          expect(got.shape).toEqual(expected[k].out.shape);
          expectExact('output', expected[k].out.data, got.data, { kind: 'float32', shape: got.shape });
        });
        const gotAsync = await layer.forwardAsync(c.x);
        log.check(`${c.label} (async)`, () => expectExact('async output', expected[k].out.data, gotAsync.data, { kind: 'float32' }));
      }
      log.finish('binary layers');
    });
  });

  describeEachPath('multi-bit layers', () => test('multi-bit (int8 kernels) and identity (float path) layers: within fp32 rounding of torch, exact share reported', () => {
    let exact = 0;
    let total = 0;
    let worst = 0;
    let onInt8 = 0;
    for (let k = 0; k < layerCases.length; k++) {
      const c = layerCases[k];
      if (c.binary) continue;
      const layer = buildLayer(c);
      // DoReFa with <= 7 bits on a grid the pad value belongs to runs on the int8 kernels.
      const pad = c.kind === 'linear' || c.padValue === 0 ? -1 : c.padValue;  // QLinear has no padding; 0 means -1
      const expectInt8 = c.inQ.name === 'inputdorefa' && Number.isInteger(pad * (2 ** (c.inQ.bits ?? 1) - 1));
      expect({ label: c.label, int8: layer.int8 }).toEqual({ label: c.label, int8: expectInt8 });
      if (layer.int8) onInt8++;
      const got = layer.forward(c.x).data;
      const want = expected[k].out.data as Float32Array;
      let scale = 1;
      for (const v of want) scale = Math.max(scale, Math.abs(v));
      for (let i = 0; i < want.length; i++) {
        total++;
        if (got[i] === want[i]) exact++;
        worst = Math.max(worst, Math.abs(got[i] - want[i]) / scale);
      }
    }
    // Summation order (and fp32 tanh's last bit for weightdorefa) differ from torch: relative 1e-5 of the largest output.
    expect(onInt8).toBeGreaterThan(0);
    console.log(`bitorch multi-bit layers (${onInt8} on the int8 kernels): ${exact} of ${total} outputs bit-identical to torch (${((100 * exact) / total).toFixed(1)}%), worst error ${worst.toExponential(2)} of the largest |y|`);
    expect(total).toBeGreaterThan(0);
    expect(worst).toBeLessThan(1e-5);
  }));
});

describe('bitorch API and quirks', () => {
  test('padValue 0 falls back to -1 (pad_value or config.padding_value)', () => {
    expect(new bitorch.QConv1d(2, 2, 3, { padValue: 0 }).padValue).toBe(-1);
    expect(new bitorch.QConv1d(2, 2, 3).padValue).toBe(-1);
    expect(new bitorch.QConv1d(2, 2, 3, { padValue: 0.5 }).padValue).toBe(0.5);
  });
  test('defaults: sign for both quantizations; gradientCancellationThreshold accepted and inert', () => {
    const layer = new bitorch.QConv2d(4, 4, 3, { gradientCancellationThreshold: 0.3 });
    expect(layer.weightQuantization.name).toBe('sign');
    expect(layer.activation?.activationFunction.name).toBe('sign');
    expect(layer.activation?.gradientCancellationThreshold).toBe(0.3);
    expect(new bitorch.QActivation().gradientCancellationThreshold).toBe(1);
  });
  test('quantizations by name or object; sign(0) = +1, steheaviside(0) = -1', () => {
    const x = tensor([-2, -0, 0, 0.5, NaN], [5]);
    expect(Array.from(bitorch.quantizationFromName('sign').quantize(x).data)).toEqual([-1, 1, 1, 1, 1]);
    expect(Array.from(new bitorch.SteHeaviside().quantize(x).data)).toEqual([-1, -1, -1, 1, -1]);
    expect(Array.from(new bitorch.InputDoReFa(2).quantize(tensor([-1, 0.2, 0.5, 0.9, 2], [5])).data)).toEqual([0, Math.fround(1 / 3), Math.fround(2 / 3), 1, 1]);
    expect(bitorch.quantizationNames()).toEqual(expect.arrayContaining(['sign', 'approxsign', 'swishsign', 'steheaviside', 'progressive_sign', 'weightdorefa', 'inputdorefa', 'identity']));
  });
  test('errors: bias refused, unknown quantization, bad shapes, non-1-bit packing', () => {
    expectValidationError(() => new bitorch.QConv1d(2, 2, 3, { bias: true } as never), 'RangeError', 'bias');
    expect(() => new bitorch.QConv1d(2, 2, 3, { inputQuantization: 'nosuch' })).toThrow('nosuch quantization not found!');
    expectValidationError(() => new bitorch.QConv1d(2, 2, 3, { padValue: 'x' } as never), 'TypeError', 'padValue');
    const layer = new bitorch.QConv1d(2, 3, 3);
    expectValidationError(() => layer.setWeight(tensor(new Float32Array(6), [3, 2, 1])), 'RangeError', 'weight');
    expectValidationError(() => layer.forward(tensor(new Float32Array(12), [1, 3, 4])), 'RangeError', 'x');
    expectValidationError(() => layer.forward(tensor(new Float32Array(4), [1, 2, 2])), 'RangeError', 'x');
    expectValidationError(() => bitorch.pack(tensor(new Float32Array(4), [1, 2, 2]), { quantization: 'identity' }), 'RangeError', 'quantization');
    // Layers are nn.Modules: strict loading reports every problem in one StateDictError and changes nothing.
    const before = layer.weight;
    expect(() => layer.loadStateDict({ weight: tensor(new Float32Array(18), [3, 2, 3]), extra: 1 } as never)).toThrow(/Unexpected key\(s\) in state_dict: "extra"/);
    expect(() => layer.loadStateDict({ weight: tensor(new Float32Array(6), [3, 2, 1]) })).toThrow(nn.StateDictError);
    expect(layer.weight).toBe(before);
  });

  test('forwardBits on bits of the shape it last checked (the call without plan()) equals sign(forward) through every change', () => {
    const signs = (shape: number[]) => tensor(Float32Array.from({ length: shape.reduce((a, b) => a * b, 1) }, () => (rng.int(0, 1) ? 1 : -1)), shape);
    const layer = new bitorch.QConv2d(70, 16, 3, { padding: 1 });
    layer.setWeight(signs([16, 70, 3, 3]));
    // The reference: the float output packed by sign, which never takes forwardBits' cached call.
    const check = (x: ReturnType<typeof bitorch.pack>, what: string) => {
      const got = layer.forwardBits(x);
      const expected = bitorch.pack(layer.forward(x));
      expect({ what, shape: got.shape, groups: got.groups }).toEqual({ what, shape: expected.shape, groups: 1 });
      expect({ what, bits: Array.from(got.bits, String) }).toEqual({ what, bits: Array.from(expected.bits, String) });
    };
    const a = bitorch.pack(signs([1, 70, 5, 6]));
    check(a, 'first call');
    check(a, 'same input again');
    check(bitorch.pack(signs([1, 70, 5, 6])), 'other bits, same shape');
    layer.setWeight(signs([16, 70, 3, 3]));
    check(a, 'after setWeight');
    check(bitorch.pack(signs([2, 70, 4, 3])), 'another shape');
    check(bitorch.pack(signs([1, 70, 5, 6]), { groups: 2 }), 'bits packed for 2 groups (regrouped)');
    check(bitorch.pack(signs([1, 70, 5, 6]), { groups: 2 }), 'again, 2 groups');
    // An explicit next still applies after a cached call.
    const wide = layer.forwardBits(a, { groups: 2, quantization: 'steheaviside' });
    expect(wide.groups).toBe(2);
    expect(Array.from(wide.toTensor().data)).toEqual(Array.from(layer.forward(a).data, (v) => (v > 0 ? 1 : -1)));
    layer.dispose();
    expect(() => layer.forwardBits(a)).toThrow(TypeError);
  });

  test('bitorch and unitScaling layers are nn.Modules: a network of them saves and loads torch-style prefixed keys', () => {
    class Net extends nn.Module {
      conv1 = new bitorch.QConv1d(4, 8, 3, { padding: 1 });
      conv2 = new bitorch.QConv1d_NoAct(8, 8, 3, { padding: 1 });
      fc = new bitorch.QLinear(8 * 6, 5);
      scaled = new unitScaling.Conv1d(4, 3, 3, { padding: 1 });
      override forward(x: Tensor): Tensor {
        const y = this.conv2.forward(this.conv1.forward(x));
        return this.fc.forward(tensor(y.contiguous().data, [y.shape[0], 8 * 6]));
      }
    }
    const a = new Net();
    a.loadStateDict(new Map([
      ['conv1.weight', randomTensor([8, 4, 3])], ['conv2.weight', randomTensor([8, 8, 3])],
      ['fc.weight', randomTensor([5, 48])], ['fc.bias', randomTensor([5])],
      ['scaled.weight', randomTensor([3, 4, 3])], ['scaled.bias', randomTensor([3])],
    ]));
    expect([...a.stateDict().keys()]).toEqual(['conv1.weight', 'conv2.weight', 'fc.weight', 'fc.bias', 'scaled.weight', 'scaled.bias']);
    expect([...a.namedModules()].map(([name]) => name)).toEqual(['', 'conv1', 'conv1.activation', 'conv2', 'fc', 'fc.activation', 'scaled']);
    const b = new Net();
    b.loadStateDict(a.stateDict());
    const x = randomTensor([2, 4, 6]);
    expectExact('net', a.forward(x).data, b.forward(x).data, { kind: 'float32' });
    expectExact('unit-scaled', a.scaled.forward(x).data, b.scaled.forward(x).data, { kind: 'float32' });
    expect(() => b.loadStateDict(new Map([['conv1.weight', randomTensor([8, 4, 3])]]))).toThrow(/Missing key\(s\) in state_dict: "conv2.weight", "fc.weight", "fc.bias", "scaled.weight", "scaled.bias"/);
  });
});

// ---- unit_scaling ----------------------------------------------------------------------------

interface UnitCase {
  label: string;
  x: Tensor;
  weight: Tensor;
  bias: Tensor | null;
  stride: number;
  padding: number;
  dilation: number;
  groups: number;
  constraint: string | null;
  scalePower: [number, number, number];
}

const CONSTRAINTS = [undefined, 'gmean', 'hmean', 'amean', 'to_output_scale', 'to_grad_input_scale', null];
const unitCases: UnitCase[] = [];
for (let i = 0; i < 14; i++) {
  const groups = rng.int(1, 2);
  const cin = groups * rng.int(1, 12), cout = groups * rng.int(1, 10), k = rng.int(1, 5);
  const dilation = rng.int(1, 2), stride = i % 2 === 0 ? 1 : rng.int(1, 3), padding = rng.int(0, 2);
  const len = dilation * (k - 1) + 1 + rng.int(0, 20);
  const constraint = CONSTRAINTS[i % CONSTRAINTS.length];
  unitCases.push({
    label: `unit conv1d #${i} in ${cin} out ${cout} k ${k} stride ${stride} groups ${groups} constraint ${constraint}`,
    x: randomTensor([rng.int(1, 2), cin, len]), weight: randomTensor([cout, cin / groups, k]), bias: i % 3 ? randomTensor([cout]) : null,
    stride, padding, dilation, groups, constraint: constraint === undefined ? 'to_output_scale' : constraint,
    scalePower: i % 4 === 3 ? [1, 0.5, 0.5] : [0.5, 0.5, 0.5],
  });
}

describeOracle('unitScaling.functional.conv1d vs unit_scaling', () => {
  let expectedQ: OracleResult[] = [];
  let expectedF: OracleResult[] = [];
  const quantized = unitCases.map((c) => {
    const xq = quantizePerTensor(c.x, 0.0125, 120, 'quint8');
    const wq = quantizePerTensor(c.weight, 0.0121, 0, 'qint8');
    return { xq, wq, outScale: 0.03, outZeroPoint: 100 };
  });
  beforeAll(() => {
    const base = (c: UnitCase) => ({ op: 'unit_scaling_conv1d', bias: c.bias?.data ?? null, stride: c.stride, padding: c.padding, dilation: c.dilation, groups: c.groups, constraint: c.constraint, scale_power: c.scalePower });
    expectedQ = runOracle(unitCases.map((c, i) => {
      const { xq, wq, outScale, outZeroPoint } = quantized[i];
      const xd = dequantize(xq), wd = dequantize(wq);
      return { ...base(c), x: shaped(xd.data, [...xd.shape]), weight: shaped(wd.data, [...wd.shape]), out_scale: outScale, out_zero_point: outZeroPoint };
    })).map((r, i) => okResult(r, unitCases[i].label));
    expectedF = runOracle(unitCases.map((c) => ({ ...base(c), x: shaped(c.x.data, [...c.x.shape]), weight: shaped(c.weight.data, [...c.weight.shape]), dynamic: c.stride === 1 && c.dilation === 1 })))
      .map((r, i) => okResult(r, unitCases[i].label));
  });

  test('the scale factor equals unit_scaling\'s exactly', () => {
    for (let i = 0; i < unitCases.length; i++) {
      const c = unitCases[i];
      const got = unitScaling.functional.conv1dScale(c.weight.shape, { stride: c.stride, groups: c.groups, constraint: c.constraint as never, scalePower: c.scalePower });
      expect({ label: c.label, scale: got }).toEqual({ label: c.label, scale: expectedQ[i].scale.data[0] });
    }
  });

  describeEachPath('quantized tensors: within 1 quantum (exact share reported)', () => {
    test('quint8 x qint8 -> quint8', () => {
      let exact = 0, total = 0, worst = 0;
      for (let i = 0; i < unitCases.length; i++) {
        const c = unitCases[i];
        const { xq, wq, outScale, outZeroPoint } = quantized[i];
        const y = unitScaling.functional.conv1d(xq, wq, c.bias, { stride: c.stride, padding: c.padding, dilation: c.dilation, groups: c.groups, constraint: c.constraint as never, scalePower: c.scalePower, scale: outScale, zeroPoint: outZeroPoint });
        expect(y.qScale()).toBe(outScale);
        const got = y.contiguous().intRepr();
        const want = expectedQ[i].q.data as Uint8Array;
        expect(y.shape).toEqual(expectedQ[i].q.shape);
        for (let j = 0; j < want.length; j++) {
          total++;
          const d = Math.abs(got[j] - want[j]);
          if (d === 0) exact++;
          worst = Math.max(worst, d);
        }
      }
      console.log(`unitScaling quantized conv1d: ${exact} of ${total} outputs equal torch's (${((100 * exact) / total).toFixed(1)}%), worst ${worst} quantum`);
      expect(worst).toBeLessThanOrEqual(1);
    });
  });

  test('float tensors: dynamically quantized, close to torch on the same quantized operands', () => {
    let worst = 0;
    for (let i = 0; i < unitCases.length; i++) {
      const c = unitCases[i];
      if (!(c.stride === 1 && c.dilation === 1)) continue;
      const y = unitScaling.functional.conv1d(c.x, c.weight, c.bias, { stride: c.stride, padding: c.padding, dilation: c.dilation, groups: c.groups, constraint: c.constraint as never, scalePower: c.scalePower });
      const want = expectedF[i].out.data as Float32Array;
      let scale = 1e-3;
      for (const v of want) scale = Math.max(scale, Math.abs(v));
      // Groups > 1: each group's rows are quantized on their own (finer than torch's one scale).
      if (c.groups === 1) for (let j = 0; j < want.length; j++) worst = Math.max(worst, Math.abs(y.data[j] - want[j]) / scale);
    }
    expect(worst).toBeLessThan(1e-5);
  });

  test('unitScaling.Conv1d is functional.conv1d with its own weights; bad constraints raise unit_scaling\'s errors', () => {
    const m = new unitScaling.Conv1d(4, 6, 3, { padding: 1, constraint: 'gmean' });
    const w = randomTensor([6, 4, 3]), b = randomTensor([6]), x = randomTensor([1, 4, 9]);
    m.loadStateDict({ weight: w, bias: b });
    expectExact('module', unitScaling.functional.conv1d(x, w, b, { padding: 1, constraint: 'gmean' }).data, m.forward(x).data, { kind: 'float32' });
    // The message is unit_scaling's own, as the oracle's copy of apply_constraint raises it.
    const [torchError] = runOracle([{ op: 'unit_scaling_conv1d', x: shaped(x.data, [...x.shape]), weight: shaped(w.data, [...w.shape]), bias: null,
                                      stride: 1, padding: 1, dilation: 1, groups: 1, constraint: 'bogus' }]);
    expect(torchError.errorType).toBe('ValueError');
    expect(() => unitScaling.functional.conv1d(x, w, b, { constraint: 'bogus' as never })).toThrow(new RangeError(torchError.error));
    expect(() => new unitScaling.Conv1d(4, 6, 3, { constraint: 'to_left_grad_scale' as never })).toThrow(TypeError);
    expectValidationError(() => unitScaling.functional.conv1d(x, w, b, { stride: 0 }), 'RangeError', 'stride');
  });
});
