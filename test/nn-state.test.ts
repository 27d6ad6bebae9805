// Every module family's stateDict/loadStateDict against torch 1.13: the same keys, value types, dtypes, shapes and values, and the loaded module's forward.
//
// For each case the oracle builds the torch module with random weights and qparams, runs it on a
// random input and returns state_dict(), repr and the output. The state dict is loaded into the
// qkernels module; its forward must give torch's output exactly (qkernels set to the oracle's
// engine, onednn, so conv/linear follow its epilogue; and exactly the functional op on the loaded
// weights), its stateDict() must give back torch's entries, and toString() torch's repr.
import {
  QTensor,
  backend,
  StoredTensor,
  Tensor,
  makePerChannelQuantizedTensor,
  makePerTensorQuantizedTensor,
  nn,
  nniq,
  nnq,
  nnqd,
  qF,
  tensor,
} from '..';
import { expectExact, expectSame, expectSameList } from './helpers/compare';
import { describeOracle, okResult, OracleArray, OracleResult, runOracle } from './oracle';

type Encoded =
  | { qtensor: Record<string, unknown> }
  | { tensor: OracleArray; dtype: string }
  | { str: string }
  | { list: Encoded[] }
  | { none: true }
  | { number: number };

/** The oracle's encoding of a torch value as the value qkernels' load() gives for it. */
function toStateValue(value: Encoded): nn.StateValue {
  if ('none' in value) return null;
  if ('str' in value) return value.str;
  if ('number' in value) return value.number;
  if ('list' in value) return value.list.map(toStateValue);
  if ('tensor' in value) {
    const array = value.tensor;
    if (value.dtype === 'float32') return tensor(array.data as Float32Array, array.shape);
    if (value.dtype === 'int64') return new StoredTensor('int64', array.data as BigInt64Array, array.shape);
    throw new Error(`test: unexpected tensor dtype ${value.dtype}`);
  }
  const q = value.qtensor as {
    dtype: 'quint8' | 'qint8' | 'quint4x2';
    qscheme: string;
    shape: number[];
    int_repr: OracleArray;
    scale?: number;
    zero_point?: number;
    scales?: OracleArray;
    zero_points?: OracleArray;
    axis?: number;
  };
  const ints = q.int_repr.data as Uint8Array | Int8Array;
  if (q.qscheme === 'per_tensor_affine') return makePerTensorQuantizedTensor(ints, q.shape, q.scale!, q.zero_point!, q.dtype);
  const zeroPoints = q.zero_points!.data;
  const zp = zeroPoints instanceof BigInt64Array ? Array.from(zeroPoints, Number) : (zeroPoints as Float32Array);
  return makePerChannelQuantizedTensor(ints, q.shape, Array.from(q.scales!.data as Float64Array), zp, q.axis!, q.dtype);
}

/** Throws unless qkernels' state value equals torch's (kind, dtype, shape, every value). */
function expectSameValue(key: string, expected: nn.StateValue, got: nn.StateValue): void {
  if (expected instanceof QTensor) {
    if (!(got instanceof QTensor)) throw new Error(`${key}: expected a QTensor, got ${String(got)}`);
    expectSame(`${key} dtype`, expected.dtype, got.dtype);
    expectSame(`${key} qscheme`, expected.qscheme, got.qscheme);
    expectSameList(`${key} shape`, expected.shape, got.shape);
    expectExact(`${key} int_repr`, expected.contiguous().intRepr(), got.contiguous().intRepr());
    if (expected.qscheme === 'per_tensor_affine') {
      expectSame(`${key} scale`, expected.qScale(), got.qScale());
      expectSame(`${key} zero_point`, expected.qZeroPoint(), got.qZeroPoint());
    } else {
      expectExact(`${key} scales`, expected.qPerChannelScales(), got.qPerChannelScales(), { kind: 'float32' });
      expectSameList(`${key} zero_points`, expected.qPerChannelZeroPoints(), got.qPerChannelZeroPoints());
      expectSame(`${key} axis`, expected.qPerChannelAxis(), got.qPerChannelAxis());
    }
  } else if (expected instanceof Tensor) {
    if (!(got instanceof Tensor)) throw new Error(`${key}: expected a float32 Tensor, got ${String(got)}`);
    expectSameList(`${key} shape`, expected.shape, got.shape);
    expectExact(`${key} values`, expected.contiguous().data, got.contiguous().data, { kind: 'float32' });
  } else if (expected instanceof StoredTensor) {
    if (!(got instanceof StoredTensor)) throw new Error(`${key}: expected a StoredTensor, got ${String(got)}`);
    expectSame(`${key} dtype`, expected.dtype, got.dtype);
    expectSameList(`${key} shape`, expected.shape, got.shape);
    expectSameList(`${key} values`, expected.toNumbers(), got.toNumbers());
  } else if (Array.isArray(expected)) {
    if (!Array.isArray(got) || got.length !== expected.length) throw new Error(`${key}: expected an array of ${expected.length}, got ${String(got)}`);
    expected.forEach((item, i) => expectSameValue(`${key}[${i}]`, item, got[i]));
  } else {
    expectSame(key, expected, got);
  }
}

/** Throws unless the module output equals torch's: exactly, or within `tolerance` quanta (same qparams). */
function expectSameOutput(label: string, expected: nn.StateValue, got: unknown, tolerance: number): void {
  if (expected instanceof QTensor && got instanceof QTensor) {
    expectSameList(`${label} shape`, expected.shape, got.shape);
    expectSame(`${label} scale`, expected.qScale(), got.qScale());
    expectSame(`${label} zero_point`, expected.qZeroPoint(), got.qZeroPoint());
    const e = expected.contiguous().intRepr();
    const g = got.contiguous().intRepr();
    if (tolerance === 0) return expectExact(`${label} int_repr`, e, g);
    for (let i = 0; i < e.length; i++) {
      if (Math.abs(e[i] - g[i]) > tolerance) throw new Error(`${label}: element ${i} differs by more than ${tolerance}: torch ${e[i]}, qkernels ${g[i]}`);
    }
    return;
  }
  if (expected instanceof Tensor && got instanceof Tensor) {
    expectSameList(`${label} shape`, expected.shape, got.shape);
    return expectExact(`${label} values`, expected.contiguous().data, got.contiguous().data, { kind: 'float32' });
  }
  throw new Error(`${label}: output kinds differ: torch ${String(expected)}, qkernels ${String(got)}`);
}

interface Case {
  name: string;
  /** The torch module, as a Python expression (see test/oracle/ops_nn.py). */
  build: string;
  /** The same module in qkernels, before loading. */
  make: () => nn.Module;
  inputs: Array<Record<string, unknown>>;
  call?: string;
  /** Quanta the output may differ from torch's: 0 by default; -1 for dynamic linear's fp32 output (float-order closeness). */
  tolerance?: number;
  /** The functional op on the loaded state that the module's output must equal exactly. */
  functional?: (sd: nn.StateDict, inputs: unknown[]) => unknown;
  /** Whether repr is compared (false where qkernels prints torch's module differently, with the reason). */
  repr?: boolean;
  converted?: boolean;
}

const qin = (shape: number[]) => ({ quint8: shape });
const scalar = (sd: nn.StateDict, key: string): number => {
  const v = sd.get(key) as Tensor | StoredTensor;
  return v instanceof Tensor ? v.data[0] : (v.item() as number);
};
const linearFunctional = (sd: nn.StateDict, inputs: unknown[]) => {
  const [w, b] = sd.get('_packed_params._packed_params') as [QTensor, Tensor | null];
  return qF.linear(inputs[0] as QTensor, w, b, { scale: scalar(sd, 'scale'), zeroPoint: scalar(sd, 'zero_point') });
};

const CASES: Case[] = [
  { name: 'Quantize', build: 'nnq.Quantize(0.1, 3, torch.quint8)', make: () => new nnq.Quantize(1, 0, 'quint8'), inputs: [{ float: [3, 7] }] },
  { name: 'DeQuantize', build: 'nnq.DeQuantize()', make: () => new nnq.DeQuantize(), inputs: [qin([3, 7])] },
  { name: 'Linear', build: 'nnq.Linear(16, 5)', make: () => new nnq.Linear(16, 5), inputs: [qin([4, 16])], functional: linearFunctional },
  { name: 'Linear without bias', build: 'nnq.Linear(16, 5, bias_=False)', make: () => new nnq.Linear(16, 5, { bias: false }), inputs: [qin([4, 16])], functional: linearFunctional },
  { name: 'LinearReLU', build: 'nniq.LinearReLU(16, 5)', make: () => new nniq.LinearReLU(16, 5), inputs: [qin([4, 16])] },
  { name: 'dynamic Linear', build: 'nnqd.Linear(16, 5)', make: () => new nnqd.Linear(16, 5), inputs: [{ float: [4, 16] }], tolerance: -1 },
  { name: 'dynamic LinearReLU', build: 'nniqd.LinearReLU(16, 5)', make: () => new nniq.dynamic.LinearReLU(16, 5), inputs: [{ float: [4, 16] }], tolerance: -1 },
  {
    name: 'Conv2d',
    build: 'nnq.Conv2d(3, 6, 3, stride=2, padding=1)',
    make: () => new nnq.Conv2d(3, 6, 3, { stride: 2, padding: 1 }),
    inputs: [qin([2, 3, 9, 9])],
    functional: (sd, [x]) =>
      qF.conv2d(x as QTensor, sd.get('weight') as QTensor, sd.get('bias') as Tensor, { stride: 2, padding: 1, scale: scalar(sd, 'scale'), zeroPoint: scalar(sd, 'zero_point') }),
  },
  { name: 'Conv1d groups', build: 'nnq.Conv1d(4, 6, 3, groups=2)', make: () => new nnq.Conv1d(4, 6, 3, { groups: 2 }), inputs: [qin([2, 4, 11])] },
  { name: 'Conv3d no bias', build: 'nnq.Conv3d(2, 3, 2, bias=False)', make: () => new nnq.Conv3d(2, 3, 2, { bias: false }), inputs: [qin([1, 2, 4, 4, 4])] },
  { name: 'ConvReLU2d', build: 'nniq.ConvReLU2d(3, 4, 3)', make: () => new nniq.ConvReLU2d(3, 4, 3), inputs: [qin([1, 3, 7, 7])] },
  { name: 'ConvTranspose2d', build: 'nnq.ConvTranspose2d(3, 4, 3, stride=2)', make: () => new nnq.ConvTranspose2d(3, 4, 3, { stride: 2 }), inputs: [qin([1, 3, 5, 5])] },
  { name: 'BatchNorm2d', build: 'nnq.BatchNorm2d(4)', make: () => new nnq.BatchNorm2d(4), inputs: [qin([2, 4, 5, 5])] },
  { name: 'BNReLU2d', build: 'nniq.BNReLU2d(4)', make: () => new nniq.BNReLU2d(4), inputs: [qin([2, 4, 5, 5])] },
  {
    name: 'LayerNorm',
    build: 'nnq.LayerNorm([6], nn.Parameter(torch.ones(6)), nn.Parameter(torch.zeros(6)), 1.0, 0)',
    make: () => new nnq.LayerNorm([6], tensor(new Float32Array(6), [6]), tensor(new Float32Array(6), [6]), 1, 0),
    inputs: [qin([3, 6])],
  },
  {
    name: 'GroupNorm',
    build: 'nnq.GroupNorm(2, 4, nn.Parameter(torch.ones(4)), nn.Parameter(torch.zeros(4)), 1.0, 0)',
    make: () => new nnq.GroupNorm(2, 4, tensor(new Float32Array(4), [4]), tensor(new Float32Array(4), [4]), 1, 0),
    inputs: [qin([2, 4, 3, 3])],
  },
  {
    name: 'InstanceNorm2d',
    build: 'nnq.InstanceNorm2d(3, nn.Parameter(torch.ones(3)), nn.Parameter(torch.zeros(3)), 1.0, 0)',
    make: () => new nnq.InstanceNorm2d(3, tensor(new Float32Array(3), [3]), tensor(new Float32Array(3), [3]), 1, 0),
    inputs: [qin([2, 3, 4, 4])],
  },
  { name: 'LeakyReLU', build: 'nnq.LeakyReLU(1.0, 0, negative_slope=0.05)', make: () => new nnq.LeakyReLU(1, 0, { negativeSlope: 0.05 }), inputs: [qin([3, 9])] },
  { name: 'QFunctional.add', build: 'nnq.QFunctional()', make: () => new nnq.QFunctional(), inputs: [qin([2, 9]), qin([2, 9])], call: 'add' },
  { name: 'QFunctional.cat', build: 'nnq.QFunctional()', make: () => new nnq.QFunctional(), inputs: [qin([2, 3]), qin([2, 3])], call: 'cat' },
  { name: 'FloatFunctional', build: 'nnq.FloatFunctional()', make: () => new nnq.FloatFunctional(), inputs: [{ float: [2, 5] }, { float: [2, 5] }], call: 'add' },
  { name: 'FXFloatFunctional', build: 'nnq.FXFloatFunctional()', make: () => new nnq.FXFloatFunctional(), inputs: [] },
  { name: 'Hardswish (no saved qparams)', build: 'nnq.Hardswish(1.0, 0)', make: () => new nnq.Hardswish(1, 0), inputs: [] },
  { name: 'ELU (no saved qparams)', build: 'nnq.ELU(1.0, 0, alpha=0.5)', make: () => new nnq.ELU(1, 0, { alpha: 0.5 }), inputs: [] },
  { name: 'Sigmoid (no saved qparams)', build: 'nnq.Sigmoid(1.0, 0)', make: () => new nnq.Sigmoid(1, 0), inputs: [] },
  { name: 'Softmax (no saved qparams)', build: 'nnq.Softmax(dim=1)', make: () => new nnq.Softmax({ dim: 1 }), inputs: [] },
  { name: 'PReLU', build: 'nnq.PReLU(1.0, 0, 3)', make: () => new nnq.PReLU(1, 0, { numParameters: 3 }), inputs: [] },
  { name: 'BatchNorm3d', build: 'nnq.BatchNorm3d(3)', make: () => new nnq.BatchNorm3d(3), inputs: [qin([1, 3, 2, 3, 3])] },
  { name: 'ReLU6', build: 'nnq.ReLU6()', make: () => new nnq.ReLU6(), inputs: [qin([4, 4])] },
  { name: 'Dropout', build: 'nnq.Dropout(0.2)', make: () => new nnq.Dropout({ p: 0.2 }), inputs: [qin([4, 4])] },
  { name: 'Embedding', build: 'nnq.Embedding(10, 6)', make: () => new nnq.Embedding(10, 6), inputs: [{ indices: [1, 4, 9, 0] }] },
  {
    name: 'EmbeddingBag 4-bit',
    build: 'nnq.EmbeddingBag(10, 6, dtype=torch.quint4x2)',
    make: () => new nnq.EmbeddingBag(10, 6, { dtype: 'quint4x2' }),
    inputs: [{ indices: [1, 4, 9, 0, 2] }, { indices: [0, 2] }],
  },
  { name: 'nn.MaxPool2d', build: 'nn.MaxPool2d(3, 2, 1, ceil_mode=True)', make: () => new nn.MaxPool2d(3, { stride: 2, padding: 1, ceilMode: true }), inputs: [qin([1, 2, 8, 8])] },
  { name: 'nn.AvgPool2d', build: 'nn.AvgPool2d(2)', make: () => new nn.AvgPool2d(2), inputs: [qin([1, 2, 6, 6])] },
  { name: 'nn.Upsample', build: 'nn.Upsample(scale_factor=2)', make: () => new nn.Upsample({ scaleFactor: 2 }), inputs: [qin([1, 2, 3, 3])] },
  { name: 'nn.AdaptiveAvgPool2d', build: 'nn.AdaptiveAvgPool2d((1, 1))', make: () => new nn.AdaptiveAvgPool2d([1, 1]), inputs: [qin([2, 3, 5, 5])] },
  { name: 'nn.ReLU', build: 'nn.ReLU(inplace=True)', make: () => new nn.ReLU({ inplace: true }), inputs: [qin([3, 8])] },
  { name: 'nn.ReLU6', build: 'nn.ReLU6()', make: () => new nn.ReLU6(), inputs: [qin([3, 8])] },
  { name: 'nn.Hardsigmoid', build: 'nn.Hardsigmoid()', make: () => new nn.Hardsigmoid(), inputs: [qin([3, 70])] },
  { name: 'nn.Flatten', build: 'nn.Flatten()', make: () => new nn.Flatten(), inputs: [qin([2, 3, 2, 2])] },
  { name: 'nn.Dropout', build: 'nn.Dropout(p=0.2)', make: () => new nn.Dropout({ p: 0.2 }), inputs: [qin([2, 3])] },
  { name: 'nn.Identity', build: 'nn.Identity()', make: () => new nn.Identity(), inputs: [qin([2, 3])] },
];

/** Turns an input as the oracle made it into what the qkernels call takes. */
function toInput(value: Encoded): unknown {
  if ('tensor' in value && value.dtype === 'int64') return Array.from(value.tensor.data as BigInt64Array, Number);
  return toStateValue(value);
}

function callModule(m: nn.Module, c: Case, inputs: unknown[]): unknown {
  if (c.call === 'cat') return (m as nnq.QFunctional).cat(inputs as QTensor[], 0);
  if (c.call !== undefined) return (m as unknown as Record<string, (...a: unknown[]) => unknown>)[c.call](...inputs);
  return m.forward(...inputs);
}

describeOracle('every module family loads and saves torch 1.13 state dicts', () => {
  let results: OracleResult[];
  beforeAll(() => {
    results = runOracle(
      CASES.map((c, i) => ({ op: 'nn_module', build: c.build, seed: 1000 + i, inputs: c.inputs, call: c.call, converted: c.converted })),
      { engine: 'onednn' },
    );
    backend.setQuantizedEngine('onednn');
  });
  afterAll(() => backend.setQuantizedEngine('fbgemm'));

  CASES.forEach((c, i) => {
    test(c.name, async () => {
      const r = okResult(results[i], c.name);
      const entries = (r.state as Array<[string, Encoded]>).map(([k, v]) => [k, toStateValue(v)] as [string, nn.StateValue]);
      const sd = new Map(entries);
      const m = c.make();
      expect(m).toBeInstanceOf(nn.Module);
      // the same keys in torch's order, before and after loading
      expect([...m.stateDict().keys()]).toEqual([...sd.keys()]);
      m.loadStateDict(sd);
      const back = m.stateDict();
      expect([...back.keys()]).toEqual([...sd.keys()]);
      for (const [key, value] of sd) expectSameValue(key, value, back.get(key) as nn.StateValue);
      if (c.repr !== false) expect(m.toString()).toBe(r.repr);
      if (r.output === undefined) return;
      let inputs = (r.inputs as Encoded[]).map(toInput);
      if (c.call === 'cat') inputs = [inputs];
      const expected = toStateValue(r.output as Encoded);
      const y = callModule(m, c, c.call === 'cat' ? (inputs[0] as unknown[]) : inputs);
      const tolerance = c.tolerance ?? 0;
      if (tolerance >= 0) expectSameOutput(c.name, expected, y, tolerance);
      else {
        // dynamic linear: fp32 out of an int32 GEMM whose epilogue differs between engines; compare shape and closeness.
        const e = (expected as Tensor).contiguous().data;
        const g = (y as Tensor).contiguous().data;
        expectSameList('shape', (expected as Tensor).shape, (y as Tensor).shape);
        const worst = e.reduce((w, v, k) => Math.max(w, Math.abs(v - g[k])), 0);
        expect(worst).toBeLessThan(0.05);
      }
      if (c.functional) {
        const reference = c.functional(sd, inputs) as QTensor;
        expectExact(`${c.name}: module vs functional on the loaded state`, reference.intRepr(), (y as QTensor).intRepr());
      }
      // forwardAsync gives forward's bits
      if (c.call === undefined && c.inputs.length > 0) {
        const again = await m.forwardAsync(...(inputs as unknown[]));
        expectSameOutput(`${c.name} async`, y as nn.StateValue, again, 0);
      }
    });
  });
});
