// Random linear/conv configurations, their oracle cases, and the differential driver the linear/conv/fused tests share.
//
// A case holds integers and qparams (never floats to quantize), so torch and qkernels see the
// same quantized values. The driver runs qkernels under the engine that answered and demands
// torch's quantized op's bytes exactly (each engine's output stage is followed, doc/numerics.md);
// where torch has no kernel for the configuration it compares with the oracle's float64
// reference, within 1 quantum (the reference rounds a real number, qkernels an fp32 one).
import type { QuantizedEngine } from '../..';
import { QTensor, Tensor, backend, makePerChannelQuantizedTensor, makePerTensorQuantizedTensor, nniq, nnq, nnqd, qF, tensor } from '../..';
import { OracleCase, OracleResult, shaped } from '../oracle';
import { FailureLog } from './compare';
import { runnablePaths, withPath } from './paths';
import { Rng } from './random';

export const SWEEP = process.env.QKERNELS_SWEEP === '1';

export type PaddingOption = number | number[] | 'same' | 'valid';
export type PaddingModeName = 'zeros' | 'reflect' | 'replicate' | 'circular';
export type Fusion = 'none' | 'relu' | 'leaky_relu' | 'tanh' | 'add' | 'add_relu';

export interface WeightSpec {
  w: Int8Array;
  shape: number[];
  scales: Float64Array;
  zeroPoints: Int32Array;
  /** null: per tensor. */
  axis: number | null;
}

export interface QuantInputSpec {
  data: Uint8Array;
  shape: number[];
  scale: number;
  zeroPoint: number;
}

export interface ConvCase {
  label: string;
  dims: 1 | 2 | 3;
  transposed: boolean;
  fusion: Fusion;
  inChannels: number;
  outChannels: number;
  groups: number;
  kernel: number[];
  stride: number[];
  dilation: number[];
  padding: PaddingOption;
  padBefore: number[];
  padAfter: number[];
  outputPadding: number[];
  paddingMode: PaddingModeName;
  channelsLast: boolean;
  x: QuantInputSpec;
  weight: WeightSpec;
  bias: Float32Array | null;
  scale: number;
  zeroPoint: number;
  extra?: QuantInputSpec;
  engines: string[];
}

export interface LinearCase {
  label: string;
  fusion: Fusion;
  alpha: number;
  x: QuantInputSpec;
  weight: WeightSpec;
  bias: Float32Array | null;
  scale: number;
  zeroPoint: number;
  engines: string[];
}

function numel(shape: readonly number[]): number {
  return shape.reduce((a, b) => a * b, 1);
}

function randomU8(rng: Rng, n: number): Uint8Array {
  const a = new Uint8Array(n);
  for (let i = 0; i < n; i++) a[i] = rng.int(0, 255);
  return a;
}

/** int8 weights: full range, or a narrow one now and then (many small values, like trained weights). */
function randomI8(rng: Rng, n: number): Int8Array {
  const a = new Int8Array(n);
  const span = rng.bool(0.3) ? rng.int(1, 20) : 127;
  for (let i = 0; i < n; i++) a[i] = rng.int(-span - 1, span);
  return a;
}

/** A weight: per tensor or per channel along `axis` (`channels` entries), symmetric or not. */
export function randomWeight(rng: Rng, shape: number[], axis: number, perChannel: boolean, symmetric: boolean): WeightSpec {
  const count = perChannel ? shape[axis] : 1;
  const scales = new Float64Array(count);
  const zeroPoints = new Int32Array(count);
  for (let c = 0; c < count; c++) {
    scales[c] = rng.logUniform(0.002, 0.05);
    zeroPoints[c] = symmetric ? 0 : rng.int(-20, 20);
  }
  return { w: randomI8(rng, numel(shape)), shape, scales, zeroPoints, axis: perChannel ? axis : null };
}

/** A quint8 input; `maxValue` 127 keeps oneDNN's AVX2 u8*s8 pair sums (vpmaddubsw) from saturating int16. */
export function randomInput(rng: Rng, shape: number[], maxValue = 255): QuantInputSpec {
  const data = randomU8(rng, numel(shape));
  if (maxValue < 255) for (let i = 0; i < data.length; i++) data[i] = data[i] % (maxValue + 1);
  return { data, shape, scale: rng.logUniform(0.004, 0.1), zeroPoint: rng.int(0, 255) };
}

/**
 * The engines to ask, in order. torch's oneDNN on an AVX2 CPU without VNNI multiplies with
 * vpmaddubsw, whose int16 pair sums saturate for full-range u8 x s8 (x86 PyTorch reduces the
 * activation range to 7 bits for this reason): so QNNPACK (exact int32) answers full-range
 * cases, and a third of the cases use 7-bit input values and ask oneDNN first.
 */
export function pickEngines(rng: Rng): { engines: string[]; maxInput: number } {
  return rng.bool(1 / 3) ? { engines: ['onednn', 'qnnpack'], maxInput: 127 } : { engines: ['qnnpack', 'onednn'], maxInput: 255 };
}

/** An output scale that keeps most outputs in range: about 4 sigma of the real output over 128 steps. */
function outputScale(rng: Rng, x: QuantInputSpec, weight: WeightSpec, k: number): number {
  const wScale = weight.scales.reduce((a, b) => a + b, 0) / weight.scales.length;
  const sigma = Math.sqrt(Math.max(k, 1)) * x.scale * 74 * wScale * 60;
  return (sigma * 4 * rng.range(0.5, 2)) / 128;
}

function randomBias(rng: Rng, n: number, size: number): Float32Array | null {
  if (rng.bool(0.25)) return null;
  const b = new Float32Array(n);
  for (let i = 0; i < n; i++) b[i] = rng.normal() * size;
  return b;
}

// ---- conv ------------------------------------------------------------------------------------

export interface ConvCaseOptions {
  fusion?: Fusion;
  /** Allow padding modes other than zeros (non-transposed only). */
  paddingModes?: boolean;
  /** Largest spatial input size beyond what the kernel needs. */
  slack?: number;
  maxKernel?: number;
}

/** A random, valid conv configuration (kernel 1..7, stride 1..3, dilation 1..3, padding 0..3, groups incl. depthwise). */
export function randomConvCase(rng: Rng, dims: 1 | 2 | 3, transposed: boolean, options: ConvCaseOptions = {}): ConvCase {
  const fusion = options.fusion ?? 'none';
  const maxKernel = options.maxKernel ?? (dims === 3 ? 3 : dims === 2 ? 5 : 7);
  const slack = options.slack ?? (dims === 3 ? 2 : dims === 2 ? 4 : 8);
  const groupKind = rng.pick(['one', 'one', 'some', 'depthwise'] as const);
  let groups = 1;
  let cpg = rng.int(1, dims === 3 ? 3 : 5);
  let opg = rng.int(1, dims === 3 ? 3 : 5);
  if (groupKind === 'some') groups = rng.int(2, 3);
  if (groupKind === 'depthwise') {
    groups = rng.int(2, dims === 3 ? 4 : 8);
    cpg = 1;
    opg = rng.pick([1, 1, 2]);
  }
  const inChannels = groups * cpg;
  const outChannels = groups * opg;
  const kernel = Array.from({ length: dims }, () => rng.int(1, maxKernel));
  let stride = Array.from({ length: dims }, () => rng.int(1, 3));
  const dilation = Array.from({ length: dims }, () => (rng.bool(0.6) ? 1 : rng.int(2, 3)));
  let paddingMode: PaddingModeName = 'zeros';
  if (!transposed && options.paddingModes && rng.bool(0.35)) paddingMode = rng.pick(['reflect', 'replicate', 'circular'] as const);
  let padding: PaddingOption;
  const pick = rng.uniform();
  if (!transposed && pick < 0.12) {
    padding = 'same';
    stride = stride.map(() => 1);
  } else if (!transposed && pick < 0.2) {
    padding = 'valid';
  } else if (pick < 0.6) {
    padding = rng.int(0, 3);
  } else {
    padding = Array.from({ length: dims }, () => rng.int(0, 3));
  }
  const padBefore: number[] = [];
  const padAfter: number[] = [];
  for (let d = 0; d < dims; d++) {
    if (padding === 'same') {
      const total = dilation[d] * (kernel[d] - 1);
      padBefore.push(Math.floor(total / 2));
      padAfter.push(total - Math.floor(total / 2));
    } else if (padding === 'valid') {
      padBefore.push(0);
      padAfter.push(0);
    } else {
      const p = typeof padding === 'number' ? padding : padding[d];
      padBefore.push(p);
      padAfter.push(p);
    }
  }
  const outputPadding = Array.from({ length: dims }, (_, d) =>
    transposed && rng.bool(0.4) ? rng.int(0, Math.max(stride[d], dilation[d]) - 1) : 0,
  );
  const spatial: number[] = [];
  for (let d = 0; d < dims; d++) {
    const extent = dilation[d] * (kernel[d] - 1) + 1;
    let size: number;
    if (transposed) {
      // Positive output: (in - 1) * stride - 2 * pad + extent + outputPadding >= 1.
      const minIn = Math.max(1, Math.ceil((1 + padBefore[d] + padAfter[d] - extent - outputPadding[d]) / stride[d]) + 1);
      size = minIn + rng.int(0, Math.max(1, Math.floor(slack / 2)));
    } else {
      size = Math.max(1, extent - padBefore[d] - padAfter[d]) + rng.int(0, slack);
      // reflect needs pad < size, circular pad <= size.
      if (paddingMode !== 'zeros') size = Math.max(size, Math.max(padBefore[d], padAfter[d]) + 1);
    }
    spatial.push(size);
  }
  const batch = rng.int(1, 3);
  const xShape = [batch, inChannels, ...spatial];
  // torch's QNNPACK conv_transpose3d returns outputs of the wrong size: ask oneDNN only there.
  const { engines, maxInput } = transposed && dims === 3 ? { engines: ['onednn'], maxInput: 127 } : pickEngines(rng);
  const x = randomInput(rng, xShape, maxInput);
  const wShape = transposed ? [inChannels, opg, ...kernel] : [outChannels, cpg, ...kernel];
  const perChannel = rng.bool(0.5);
  // oneDNN wants symmetric weights; some asymmetric ones exercise the zero-point correction (QNNPACK or the reference).
  const weight = randomWeight(rng, wShape, transposed ? 1 : 0, perChannel, rng.bool(0.8));
  const k = cpg * numel(kernel);
  const scale = outputScale(rng, x, weight, transposed ? Math.max(1, Math.ceil(k / numel(stride))) : k);
  const bias = randomBias(rng, outChannels, scale * 40);
  const channelsLast = dims >= 2 && rng.bool(0.35);
  const c: ConvCase = {
    label: '',
    dims,
    transposed,
    fusion,
    inChannels,
    outChannels,
    groups,
    kernel,
    stride,
    dilation,
    padding,
    padBefore,
    padAfter,
    outputPadding,
    paddingMode,
    channelsLast,
    x,
    weight,
    bias,
    scale,
    zeroPoint: rng.int(0, 255),
    engines,
  };
  if (fusion === 'add' || fusion === 'add_relu') {
    const outShape = convOutputShape(c);
    c.extra = randomInput(rng, outShape);
    c.extra.scale = scale * rng.range(0.5, 2);
  }
  c.label =
    `${transposed ? 'convTranspose' : 'conv'}${dims}d x=[${xShape}] w=[${wShape}] k=[${kernel}] s=[${stride}] d=[${dilation}] ` +
    `p=${JSON.stringify(padding)} op=[${outputPadding}] g=${groups} mode=${paddingMode} ${perChannel ? 'per-channel' : 'per-tensor'} ` +
    `wzp=${weight.zeroPoints[0]} bias=${bias !== null} cl=${channelsLast} fusion=${fusion}`;
  return c;
}

export function convOutputShape(c: ConvCase): number[] {
  const out = [c.x.shape[0], c.outChannels];
  for (let d = 0; d < c.dims; d++) {
    const size = c.x.shape[2 + d];
    const extent = c.dilation[d] * (c.kernel[d] - 1) + 1;
    if (c.transposed) out.push((size - 1) * c.stride[d] - c.padBefore[d] - c.padAfter[d] + extent + c.outputPadding[d]);
    else out.push(Math.floor((size + c.padBefore[d] + c.padAfter[d] - extent) / c.stride[d]) + 1);
  }
  return out;
}

function weightOracle(w: WeightSpec): Record<string, unknown> {
  return {
    w: shaped(w.w, w.shape),
    w_scales: w.scales,
    w_zero_points: w.zeroPoints,
    w_axis: w.axis === null ? undefined : w.axis,
  };
}

export function convOracleCase(c: ConvCase): OracleCase {
  return {
    op: 'conv',
    dims: c.dims,
    transposed: c.transposed,
    fusion: c.fusion,
    x: shaped(c.x.data, c.x.shape),
    x_scale: c.x.scale,
    x_zero_point: c.x.zeroPoint,
    channels_last: c.channelsLast,
    ...weightOracle(c.weight),
    bias: c.bias ?? undefined,
    stride: c.stride,
    dilation: c.dilation,
    groups: c.groups,
    pad_before: c.padBefore,
    pad_after: c.padAfter,
    output_padding: c.outputPadding,
    padding_mode: c.paddingMode,
    scale: c.scale,
    zero_point: c.zeroPoint,
    extra: c.extra ? shaped(c.extra.data, c.extra.shape) : undefined,
    extra_scale: c.extra?.scale,
    extra_zero_point: c.extra?.zeroPoint,
    engines: c.engines,
  };
}

export function weightTensor(w: WeightSpec): QTensor {
  if (w.axis === null) return makePerTensorQuantizedTensor(w.w, w.shape, w.scales[0], w.zeroPoints[0], 'qint8');
  return makePerChannelQuantizedTensor(w.w, w.shape, w.scales, w.zeroPoints, w.axis, 'qint8');
}

/** The quint8 input as a QTensor; channels-last (any rank >= 3) when asked. */
export function inputTensor(x: QuantInputSpec, channelsLast = false): QTensor {
  if (!channelsLast) return makePerTensorQuantizedTensor(x.data, x.shape, x.scale, x.zeroPoint, 'quint8');
  const rank = x.shape.length;
  const order = [0, ...Array.from({ length: rank - 2 }, (_, i) => i + 2), 1];
  const inverse = order.map((_, i) => order.indexOf(i));
  // The same values stored N, spatial..., C: a permuted view of a dense (N, spatial..., C) tensor
  // (built from the transposed values, so it has channels-last strides even where C or a dim is 1).
  const nlcShape = order.map((d) => x.shape[d]);
  const nlc = new Uint8Array(x.data.length);
  const channels = x.shape[1];
  const inner = numel(x.shape.slice(2));
  for (let n = 0; n < x.shape[0]; n++) {
    for (let ch = 0; ch < channels; ch++) {
      for (let p = 0; p < inner; p++) nlc[(n * inner + p) * channels + ch] = x.data[(n * channels + ch) * inner + p];
    }
  }
  return makePerTensorQuantizedTensor(nlc, nlcShape, x.scale, x.zeroPoint, 'quint8').permute(inverse);
}

export function biasTensor(b: Float32Array | null): Tensor | null {
  return b === null ? null : tensor(b);
}

// ---- linear ----------------------------------------------------------------------------------

export function randomLinearCase(rng: Rng, fusion: Fusion = 'none'): LinearCase {
  const inFeatures = rng.pick([1, 2, 3, 5, 8, 16, 17, 31, 64, 100]);
  const outFeatures = rng.pick([1, 2, 3, 4, 7, 8, 16, 33, 64]);
  const lead = rng.pick([[1], [rng.int(1, 9)], [rng.int(1, 3), rng.int(1, 4)]]);
  const { engines, maxInput } = pickEngines(rng);
  const x = randomInput(rng, [...lead, inFeatures], maxInput);
  const perChannel = rng.bool(0.5);
  const weight = randomWeight(rng, [outFeatures, inFeatures], 0, perChannel, rng.bool(0.8));
  const scale = outputScale(rng, x, weight, inFeatures);
  const bias = randomBias(rng, outFeatures, scale * 40);
  return {
    label:
      `linear x=[${x.shape}] w=[${outFeatures}, ${inFeatures}] ${perChannel ? 'per-channel' : 'per-tensor'} ` +
      `wzp=${weight.zeroPoints[0]} bias=${bias !== null} fusion=${fusion}`,
    fusion,
    alpha: rng.pick([0.01, 0.1, 0.2, 0.5]),
    x,
    weight,
    bias,
    scale: fusion === 'tanh' ? rng.pick([1 / 128, 2 / 255, 0.01]) : scale,
    zeroPoint: fusion === 'tanh' ? rng.pick([128, 127, 100]) : rng.int(0, 255),
    engines,
  };
}

export function linearOracleCase(c: LinearCase): OracleCase {
  return {
    op: 'linear',
    fusion: c.fusion,
    alpha: c.alpha,
    x: shaped(c.x.data, c.x.shape),
    x_scale: c.x.scale,
    x_zero_point: c.x.zeroPoint,
    ...weightOracle(c.weight),
    bias: c.bias ?? undefined,
    scale: c.scale,
    zero_point: c.zeroPoint,
    engines: c.engines,
  };
}

// ---- the differential driver -----------------------------------------------------------------

export interface QuantumReport {
  cases: number;
  elements: number;
  /** Elements equal to torch's (where torch was compared) or to the reference (elsewhere). */
  exact: number;
  /** Cases compared with torch's quantized op (and the reference). */
  vsTorch: number;
  /** Cases torch refused: compared with the float64 reference only. */
  torchRefused: number;
  /** Cases where torch's own answer is more than 1 quantum from the float64 reference (a torch bug): reference only. */
  torchWrong: number;
  engines: Record<string, number>;
}

/** Largest |a - b| over two equally long arrays, or Infinity when the lengths differ. */
function maxDifference(a: ArrayLike<number>, b: ArrayLike<number>): number {
  if (a.length !== b.length) return Infinity;
  let max = 0;
  for (let i = 0; i < a.length; i++) max = Math.max(max, Math.abs(a[i] - b[i]));
  return max;
}

/** Runs `f` with qkernels following `engine`'s arithmetic, then restores the engine in force. */
export function withEngine<T>(engine: QuantizedEngine, f: () => T): T {
  const saved = backend.quantizedEngine();
  backend.setQuantizedEngine(engine);
  try {
    return f();
  } finally {
    backend.setQuantizedEngine(saved);
  }
}

/** Every element within `tolerance` quanta; returns how many were exact. */
export function checkWithinQuanta(expected: ArrayLike<number>, got: ArrayLike<number>, tolerance = 1, what = 'expected'): number {
  if (expected.length !== got.length) throw new Error(`length: ${what} ${expected.length}, got ${got.length}`);
  let exact = 0;
  const bad: string[] = [];
  for (let i = 0; i < expected.length; i++) {
    const diff = Math.abs(expected[i] - got[i]);
    if (diff === 0) exact++;
    else if (diff > tolerance && bad.length < 8) bad.push(`[${i}] ${what} ${expected[i]} got ${got[i]}`);
  }
  if (bad.length > 0) throw new Error(`elements differ by more than ${tolerance} quantum:\n${bad.join('\n')}`);
  return exact;
}

/**
 * Runs `run` on every case and checks it against the oracle: within 1 quantum of the float64
 * reference always, and equal to torch's quantized op (tolerance 0, under the engine that
 * answered) wherever torch answered and its own answer is within 1 quantum of the reference. torch 1.13's quantized conv_transpose3d
 * (QNNPACK: wrong output sizes; oneDNN: wrong values) and a few oneDNN conv results fail that
 * sanity check; those cases are counted and named in the log, and compared with the reference.
 */
export function checkCasesAgainstOracle<C extends { label: string }>(
  cases: readonly C[],
  results: readonly OracleResult[],
  run: (c: C, index: number) => QTensor,
  label: string,
): QuantumReport {
  const log = new FailureLog();
  const report: QuantumReport = { cases: cases.length, elements: 0, exact: 0, vsTorch: 0, torchRefused: 0, torchWrong: 0, engines: {} };
  const wrong: string[] = [];
  cases.forEach((c, i) => {
    log.check(c.label, () => {
      const result = results[i];
      if (result.error !== undefined) throw new Error(`oracle failed: ${result.errorType}: ${result.error}`);
      const reference = result.reference.data as Uint8Array;
      // qkernels computes with the arithmetic of the engine that answered (fbgemm's otherwise).
      const engine = (result.torch !== undefined ? result.engine : 'fbgemm') as QuantizedEngine;
      const got = withEngine(engine, () => run(c, i));
      const values = got.intRepr() as Uint8Array;
      const exactVsReference = checkWithinQuanta(reference, values, 1, 'float64 reference');
      const torchValues = result.torch?.data as Uint8Array | undefined;
      if (torchValues === undefined) {
        report.torchRefused++;
        report.exact += exactVsReference;
      } else if (maxDifference(torchValues, reference) > 1) {
        report.torchWrong++;
        report.exact += exactVsReference;
        wrong.push(`${c.label} (${result.engine})`);
      } else {
        report.exact += checkWithinQuanta(torchValues, values, 0, `torch (${result.engine})`);
        report.vsTorch++;
        report.engines[result.engine] = (report.engines[result.engine] ?? 0) + 1;
      }
      report.elements += values.length;
      // Output strides: torch's where torch answered; conv outputs are channels-last whatever the
      // input's layout (every engine of torch 1.13), linear outputs row-major.
      const torchStrides = result.torch_strides as number[] | undefined;
      if (torchStrides !== undefined) {
        if (got.strides.join() !== torchStrides.join()) throw new Error(`output strides [${got.strides}], torch's [${torchStrides}]`);
      } else {
        const order = isConvCase(c) ? [0, ...Array.from({ length: got.dim() - 2 }, (_, d) => d + 2), 1] : null;
        if (!(order === null ? got.isContiguous() : got.permute(order).isContiguous())) {
          throw new Error(`output strides [${got.strides}] are not ${order === null ? 'row-major' : 'channels-last'}`);
        }
      }
    });
  });
  log.finish(label);
  const share = report.elements === 0 ? 1 : report.exact / report.elements;
  console.log(
    `${label}: ${report.cases} cases: ${report.vsTorch} vs torch ${JSON.stringify(report.engines)} and the float64 reference, ` +
      `${report.torchRefused} torch refused and ${report.torchWrong} torch got wrong (vs the reference only); ` +
      `${report.elements} elements, exact ${(share * 100).toFixed(3)}% (torch's bytes where torch answered; the reference within 1 quantum elsewhere)` +
      (wrong.length > 0 ? `\n  torch more than 1 quantum from the float64 reference:\n  ${wrong.slice(0, 20).join('\n  ')}` : ''),
  );
  return report;
}

/** Whether a case is a conv case (its output is channels-last). */
function isConvCase(c: unknown): boolean {
  const conv = c as Partial<ConvCase>;
  return conv.channelsLast !== undefined && conv.x !== undefined;
}

/** Every runnable (ISA, threads) path gives the same bits as the first one. */
export function checkBitIdentityAcrossPaths<C extends { label: string }>(cases: readonly C[], run: (c: C) => Uint8Array | Float32Array, label: string): number {
  const paths = runnablePaths();
  const baseline = withPath(paths[0], () => cases.map((c) => run(c)));
  const log = new FailureLog();
  for (const path of paths.slice(1)) {
    const outputs = withPath(path, () => cases.map((c) => run(c)));
    cases.forEach((c, i) => {
      log.check(`${c.label} [isa=${path.isa}, threads=${path.threads}]`, () => {
        const a = new Uint8Array(baseline[i].buffer, baseline[i].byteOffset, baseline[i].byteLength);
        const b = new Uint8Array(outputs[i].buffer, outputs[i].byteOffset, outputs[i].byteLength);
        if (a.length !== b.length) throw new Error(`length ${a.length} vs ${b.length}`);
        for (let k = 0; k < a.length; k++) {
          if (a[k] !== b[k]) throw new Error(`byte ${k}: ${paths[0].isa}/${paths[0].threads} gives ${a[k]}, this path ${b[k]}`);
        }
      });
    });
  }
  log.finish(label);
  return paths.length;
}

// ---- running a case through qkernels ----------------------------------------------------------

type ConvModule = {
  scale: number;
  zeroPoint: number;
  setWeightBias(w: QTensor, b: Tensor | null): void;
  forward(x: QTensor, extra?: never): QTensor;
};

/** The module class of a conv case (fusion none/relu/add/add_relu). */
function convModule(c: ConvCase): ConvModule {
  const options: Record<string, unknown> = { stride: c.stride, dilation: c.dilation, groups: c.groups, bias: c.bias !== null };
  if (c.transposed) {
    options.padding = c.padBefore;
    options.outputPadding = c.outputPadding;
    const classes = [nnq.ConvTranspose1d, nnq.ConvTranspose2d, nnq.ConvTranspose3d];
    return new classes[c.dims - 1](c.inChannels, c.outChannels, c.kernel, options) as unknown as ConvModule;
  }
  options.padding = c.padding;
  options.paddingMode = c.paddingMode;
  if (c.fusion === 'add') return new nniq.ConvAdd2d(c.inChannels, c.outChannels, c.kernel, options) as unknown as ConvModule;
  if (c.fusion === 'add_relu') return new nniq.ConvAddReLU2d(c.inChannels, c.outChannels, c.kernel, options) as unknown as ConvModule;
  const classes =
    c.fusion === 'relu' ? [nniq.ConvReLU1d, nniq.ConvReLU2d, nniq.ConvReLU3d] : [nnq.Conv1d, nnq.Conv2d, nnq.Conv3d];
  return new classes[c.dims - 1](c.inChannels, c.outChannels, c.kernel, options) as unknown as ConvModule;
}

/** A module for the case with its weights set (prepacked once). */
export function preparedConvModule(c: ConvCase): ConvModule {
  const m = convModule(c);
  m.setWeightBias(weightTensor(c.weight), biasTensor(c.bias));
  m.scale = c.scale;
  m.zeroPoint = c.zeroPoint;
  return m;
}

/** Runs a conv case: through the functional form (fusion none only) or a module. */
export function runConvCase(c: ConvCase, viaModule: boolean): QTensor {
  const x = inputTensor(c.x, c.channelsLast);
  if (!viaModule && c.fusion === 'none') {
    const w = weightTensor(c.weight);
    const b = biasTensor(c.bias);
    if (c.transposed) {
      const f = [qF.convTranspose1d, qF.convTranspose2d, qF.convTranspose3d][c.dims - 1];
      return f(x, w, b, { stride: c.stride, padding: c.padBefore, outputPadding: c.outputPadding, groups: c.groups, dilation: c.dilation, scale: c.scale, zeroPoint: c.zeroPoint });
    }
    const f = [qF.conv1d, qF.conv2d, qF.conv3d][c.dims - 1];
    return f(x, w, b, {
      stride: c.stride,
      padding: c.padding,
      dilation: c.dilation,
      groups: c.groups,
      paddingMode: c.paddingMode,
      scale: c.scale,
      zeroPoint: c.zeroPoint,
    });
  }
  const m = preparedConvModule(c);
  if (c.extra !== undefined) return m.forward(x, inputTensor(c.extra, c.channelsLast) as never);
  return m.forward(x);
}

type LinearModule = { scale: number; zeroPoint: number; setWeightBias(w: QTensor, b: Tensor | null): void; forward(x: QTensor): QTensor };

export function preparedLinearModule(c: LinearCase): LinearModule {
  const inFeatures = c.weight.shape[1];
  const outFeatures = c.weight.shape[0];
  const bias = c.bias !== null;
  let m: LinearModule;
  switch (c.fusion) {
    case 'relu':
      m = new nniq.LinearReLU(inFeatures, outFeatures, { bias });
      break;
    case 'leaky_relu':
      m = new nniq.LinearLeakyReLU(inFeatures, outFeatures, c.alpha, { bias });
      break;
    case 'tanh':
      m = new nniq.LinearTanh(inFeatures, outFeatures, { bias });
      break;
    default:
      m = new nnq.Linear(inFeatures, outFeatures, { bias });
  }
  m.setWeightBias(weightTensor(c.weight), biasTensor(c.bias));
  m.scale = c.scale;
  m.zeroPoint = c.zeroPoint;
  return m;
}

export function runLinearCase(c: LinearCase, viaModule: boolean): QTensor {
  const x = inputTensor(c.x);
  if (!viaModule && c.fusion === 'none') {
    return qF.linear(x, weightTensor(c.weight), biasTensor(c.bias), { scale: c.scale, zeroPoint: c.zeroPoint });
  }
  return preparedLinearModule(c).forward(x);
}

// ---- the suites ------------------------------------------------------------------------------

/**
 * Declares the oracle test of one conv family: its cases (odd ones through the module, even ones
 * through the functional form) against `results()` (the oracle's answers, fetched in a beforeAll).
 */
export function convOracleTest(name: string, cases: readonly ConvCase[], results: () => readonly OracleResult[], minTorchShare = 0.8): void {
  test(`${name}: ${cases.length} random configurations, torch's bytes exactly (the float64 reference within 1 quantum where torch has no kernel)`, () => {
    const report = checkCasesAgainstOracle(cases, results(), (c, i) => runConvCase(c, i % 2 === 1), name);
    expect(report.vsTorch + report.torchRefused + report.torchWrong).toBe(cases.length);
    // Most cases must really be compared with torch (the reference is the fallback, not the rule).
    expect(report.vsTorch).toBeGreaterThanOrEqual(Math.floor(cases.length * minTorchShare));
  });
}

/** Declares the bit-identity test of a conv family: the same bits on every ISA level and thread count. */
export function convIdentityTest(name: string, cases: readonly ConvCase[]): void {
  test(`${name}: bit-identical across ISA levels and 1 vs 2 threads (${cases.length} cases)`, () => {
    const paths = checkBitIdentityAcrossPaths(cases, (c) => runConvCase(c, true).intRepr() as Uint8Array, name);
    expect(paths).toBeGreaterThanOrEqual(2);
  });
}

/** Splits one oracle batch back into per-family slices. */
export function sliceResults(results: readonly OracleResult[], sizes: readonly number[], index: number): readonly OracleResult[] {
  const start = sizes.slice(0, index).reduce((a, b) => a + b, 0);
  return results.slice(start, start + sizes[index]);
}


// ---- dynamic linear --------------------------------------------------------------------------

export interface DynamicLinearCase {
  label: string;
  relu: boolean;
  reduceRange: boolean;
  x: Float32Array;
  xShape: number[];
  weight: WeightSpec;
  bias: Float32Array | null;
}

/** A dynamic linear case: fp32 input with an offset and spread that vary, qint8 weights (symmetric: oneDNN wants them so). */
export function randomDynamicLinearCase(rng: Rng, relu: boolean): DynamicLinearCase {
  const inFeatures = rng.pick([1, 2, 3, 5, 8, 16, 17, 31, 64, 100]);
  const outFeatures = rng.pick([1, 2, 3, 4, 7, 8, 16, 33, 64]);
  const lead = rng.pick([[1], [rng.int(1, 9)], [rng.int(1, 3), rng.int(1, 4)]]);
  const xShape = [...lead, inFeatures];
  const x = new Float32Array(numel(xShape));
  const spread = rng.logUniform(0.01, 10);
  const offset = rng.pick([0, 0, spread, -spread * 2]);
  for (let i = 0; i < x.length; i++) x[i] = offset + rng.normal() * spread;
  const perChannel = rng.bool(0.5);
  const weight = randomWeight(rng, [outFeatures, inFeatures], 0, perChannel, true);
  const reduceRange = rng.bool(0.5);
  const bias = randomBias(rng, outFeatures, spread);
  return {
    label: `dynamic linear x=[${xShape}] w=[${outFeatures}, ${inFeatures}] ${perChannel ? 'per-channel' : 'per-tensor'} reduceRange=${reduceRange} relu=${relu} bias=${bias !== null}`,
    relu,
    reduceRange,
    x,
    xShape,
    weight,
    bias,
  };
}

/** torch's PyTorch qnnpack engine ignores reduce_range; oneDNN honours it: each case asks the engine that computes what it asks for. */
export function dynamicLinearOracleCase(c: DynamicLinearCase): OracleCase {
  return {
    op: 'linear_dynamic',
    x: shaped(c.x, c.xShape),
    ...weightOracle(c.weight),
    bias: c.bias ?? undefined,
    relu: c.relu,
    reduce_range: c.reduceRange,
    engines: c.reduceRange ? ['onednn'] : ['qnnpack'],
  };
}

export function runDynamicLinearCase(c: DynamicLinearCase): Tensor {
  const [outFeatures, inFeatures] = c.weight.shape;
  const options = { bias: c.bias !== null, reduceRange: c.reduceRange };
  const m = c.relu ? new nniq.dynamic.LinearReLU(inFeatures, outFeatures, options) : new nnqd.Linear(inFeatures, outFeatures, options);
  m.setWeightBias(weightTensor(c.weight), biasTensor(c.bias));
  return m.forward(tensor(c.x, c.xShape));
}

/** Random bytes (uniform 0-255) from `rng`. */
export function randomBytes(rng: Rng, n: number): Uint8Array {
  const out = new Uint8Array(n);
  for (let i = 0; i < n; i++) out[i] = rng.int(0, 255);
  return out;
}

/**
 * A 3x3, padding-1 Conv2d(channels, channels) with random per-channel weights and bias, output
 * qparams 0.35 / 60: every output depends on every input byte near it (the async tests' model).
 */
export function random3x3Conv(rng: Rng, channels: number): nnq.Conv2d {
  const m = new nnq.Conv2d(channels, channels, 3, { padding: 1 });
  const weight = Int8Array.from({ length: channels * channels * 9 }, () => rng.int(-128, 127));
  const scales = Array.from({ length: channels }, () => 0.002 + rng.int(0, 100) / 20000);
  m.setWeightBias(
    makePerChannelQuantizedTensor(weight, [channels, channels, 3, 3], scales, new Array<number>(channels).fill(0), 0, 'qint8'),
    tensor(Float32Array.from({ length: channels }, () => rng.int(-200, 200) / 100)),
  );
  m.scale = 0.35;
  m.zeroPoint = 60;
  return m;
}
