// Conv hyper-parameters as torch takes them (number, tuple, 'same', 'valid'), checked and resolved into one geometry.

import * as validate from '../validate';
import { GEOMETRY_LENGTH } from './native';

export type PaddingMode = 'zeros' | 'reflect' | 'replicate' | 'circular';
export const PADDING_MODES: readonly PaddingMode[] = ['zeros', 'reflect', 'replicate', 'circular'];
const PADDING_MODE_CODES: { readonly [K in PaddingMode]: number } = { zeros: 0, reflect: 1, replicate: 2, circular: 3 };

/** An int or a tuple of `dims` ints (torch's _single/_pair/_triple). */
export type IntOrTuple = number | readonly number[];
/** Conv padding: an int, a tuple, or torch's strings. */
export type ConvPadding = IntOrTuple | 'same' | 'valid';

/** The most stride phases a transposed convolution may have (native/addon/linear-conv.cc checks the same). */
export const MAX_TRANSPOSED_PHASES = 65536;

/** Per-dim sizes: an int repeated, or exactly `dims` ints, each >= min. */
export function intTuple(value: unknown, parameter: string, dims: number, min: number): number[] {
  const what = `integer >= ${min} or array of ${dims} such integers`;
  if (typeof value === 'number') {
    if (!Number.isSafeInteger(value) || value < min) throw validate.invalidRange(what, parameter, value);
    return new Array<number>(dims).fill(value + 0);
  }
  if (!Array.isArray(value)) throw validate.invalidType(what, parameter, value);
  const items = validate.arrayOnce(value, parameter, what, dims);
  if (items.length !== dims) throw validate.invalidRange(what, parameter, value);
  return items.map((item: unknown, i: number) => {
    if (typeof item !== 'number') throw validate.invalidType(`integer >= ${min}`, `${parameter}[${i}]`, item);
    if (!Number.isSafeInteger(item) || item < min) throw validate.invalidRange(`integer >= ${min}`, `${parameter}[${i}]`, item);
    return item + 0;
  });
}

/** The hyper-parameters every conv shares, as given (before the input's size is known). */
export interface ConvSpec {
  readonly dims: 1 | 2 | 3;
  readonly transposed: boolean;
  readonly inChannels: number;
  readonly outChannels: number;
  readonly groups: number;
  readonly kernel: readonly number[];
  readonly stride: readonly number[];
  readonly dilation: readonly number[];
  /** Padding before and after each spatial dim ('same' already resolved: the odd extra goes after, as torch pads). */
  readonly padBefore: readonly number[];
  readonly padAfter: readonly number[];
  /** The padding as given, for repr: a tuple, or the string. */
  readonly padding: readonly number[] | 'same' | 'valid';
  readonly outputPadding: readonly number[];
  readonly paddingMode: PaddingMode;
}

export interface ConvSpecInput {
  dims: 1 | 2 | 3;
  transposed: boolean;
  inChannels: number;
  outChannels: number;
  kernel: unknown;
  stride?: unknown;
  padding?: unknown;
  dilation?: unknown;
  groups?: unknown;
  outputPadding?: unknown;
  paddingMode?: unknown;
}

/** Checks and resolves the conv hyper-parameters; channel counts are already checked integers. */
export function convSpec(input: ConvSpecInput): ConvSpec {
  const { dims, transposed, inChannels, outChannels } = input;
  const kernel = intTuple(input.kernel, 'kernelSize', dims, 1);
  const stride = intTuple(input.stride ?? 1, 'stride', dims, 1);
  const dilation = intTuple(input.dilation ?? 1, 'dilation', dims, 1);
  const groups = validate.integerInRange(input.groups ?? 1, 'groups', 1, Number.MAX_SAFE_INTEGER);
  if (inChannels % groups !== 0) throw validate.invalidRange(`groups dividing inChannels (${inChannels})`, 'groups', groups);
  if (outChannels % groups !== 0) throw validate.invalidRange(`groups dividing outChannels (${outChannels})`, 'groups', groups);
  const paddingMode =
    input.paddingMode === undefined ? 'zeros' : validate.oneOf(input.paddingMode, 'paddingMode', PADDING_MODES);
  if (transposed && paddingMode !== 'zeros') {
    throw validate.invalidRange("'zeros' (transposed convolution pads only with zeros, as in torch)", 'paddingMode', paddingMode);
  }
  const paddingValue = input.padding ?? 0;
  let padding: readonly number[] | 'same' | 'valid';
  let padBefore: number[];
  let padAfter: number[];
  if (paddingValue === 'same' || paddingValue === 'valid') {
    if (transposed) throw validate.invalidRange('integer >= 0 or array of such integers (transposed convolution has no string padding, as in torch)', 'padding', paddingValue);
    padding = paddingValue;
    if (paddingValue === 'valid') {
      padBefore = new Array<number>(dims).fill(0);
      padAfter = padBefore.slice();
    } else {
      if (stride.some((s) => s !== 1)) {
        throw validate.invalidRange("stride 1 in every dim (torch refuses padding='same' for strided convolutions)", 'stride', input.stride);
      }
      // torch: total = dilation * (kernel - 1), left = total // 2, the rest on the right.
      const total = kernel.map((k, d) => dilation[d] * (k - 1));
      padBefore = total.map((t) => Math.floor(t / 2));
      padAfter = total.map((t, d) => t - padBefore[d]);
    }
  } else {
    if (typeof paddingValue === 'string') {
      throw validate.invalidRange("integer >= 0, array of such integers, 'same' or 'valid'", 'padding', paddingValue);
    }
    padBefore = intTuple(paddingValue, 'padding', dims, 0);
    padAfter = padBefore.slice();
    padding = padBefore;
  }
  // A transposed convolution runs one GEMM phase per stride residue (prod(stride) of them),
  // so its stride is bounded: a stride of 2**31 would otherwise cost gigabytes of phases.
  if (transposed && stride.reduce((a, b) => a * b, 1) > MAX_TRANSPOSED_PHASES) {
    throw validate.invalidRange(`stride whose product is at most ${MAX_TRANSPOSED_PHASES} (one phase per stride residue)`, 'stride', input.stride);
  }
  const outputPadding = intTuple(input.outputPadding ?? 0, 'outputPadding', dims, 0);
  if (!transposed && outputPadding.some((p) => p !== 0)) {
    throw validate.invalidRange('0 (only transposed convolution has outputPadding)', 'outputPadding', input.outputPadding);
  }
  for (let d = 0; d < dims; d++) {
    if (outputPadding[d] >= stride[d] && outputPadding[d] >= dilation[d]) {
      throw validate.invalidRange(
        `outputPadding smaller than stride or dilation in every dim (dim ${d}: stride ${stride[d]}, dilation ${dilation[d]})`,
        'outputPadding',
        input.outputPadding,
      );
    }
  }
  return Object.freeze({
    dims,
    transposed,
    inChannels,
    outChannels,
    groups,
    kernel,
    stride,
    dilation,
    padBefore,
    padAfter,
    padding,
    outputPadding,
    paddingMode,
  });
}

/** The weight shape torch uses: conv [out][in/groups][k...], transposed [in][out/groups][k...]. */
export function weightShape(spec: ConvSpec): number[] {
  return spec.transposed
    ? [spec.inChannels, spec.outChannels / spec.groups, ...spec.kernel]
    : [spec.outChannels, spec.inChannels / spec.groups, ...spec.kernel];
}

/**
 * The output's spatial size for an input's, with torch's checks: a kernel larger than the
 * padded input, reflect padding not below the input size, and so on are RangeErrors naming `input`.
 */
export function outputSpatial(spec: ConvSpec, inSpatial: readonly number[], input: unknown, inputName: string): number[] {
  const out: number[] = [];
  for (let d = 0; d < spec.dims; d++) {
    const size = inSpatial[d];
    const extent = spec.dilation[d] * (spec.kernel[d] - 1) + 1;
    if (spec.transposed) {
      const length = (size - 1) * spec.stride[d] - spec.padBefore[d] - spec.padAfter[d] + extent + spec.outputPadding[d];
      if (size < 1 || length < 1) {
        throw validate.invalidRange(`input whose spatial dim ${d} gives a positive output size (got ${length})`, inputName, input);
      }
      out.push(length);
      continue;
    }
    if (spec.paddingMode === 'reflect' && (spec.padBefore[d] >= size || spec.padAfter[d] >= size)) {
      throw validate.invalidRange(`input with spatial dim ${d} larger than the padding (reflect padding needs padding < size)`, inputName, input);
    }
    if (spec.paddingMode === 'circular' && (spec.padBefore[d] > size || spec.padAfter[d] > size)) {
      throw validate.invalidRange(`input with spatial dim ${d} at least the padding (circular padding needs padding <= size)`, inputName, input);
    }
    if (spec.paddingMode === 'replicate' && size < 1 && spec.padBefore[d] + spec.padAfter[d] > 0) {
      throw validate.invalidRange(`input with a non-empty spatial dim ${d} (replicate padding)`, inputName, input);
    }
    const padded = size + spec.padBefore[d] + spec.padAfter[d];
    if (padded < extent) {
      throw validate.invalidRange(
        `input whose padded spatial dim ${d} (${padded}) is at least the dilated kernel size (${extent})`,
        inputName,
        input,
      );
    }
    out.push(Math.floor((padded - extent) / spec.stride[d]) + 1);
  }
  return out;
}

/** The Float64Array native code reads (GEOMETRY_FIELDS in native/addon/linear-conv.cc). */
export function geometryArray(spec: ConvSpec, outputPadding: readonly number[] = spec.outputPadding): Float64Array {
  const g = new Float64Array(GEOMETRY_LENGTH);
  g[0] = spec.dims;
  g[1] = spec.inChannels;
  g[2] = spec.outChannels;
  g[3] = spec.groups;
  for (let d = 0; d < 3; d++) {
    const used = d < spec.dims;
    g[4 + d] = used ? spec.kernel[d] : 1;
    g[7 + d] = used ? spec.stride[d] : 1;
    g[10 + d] = used ? spec.dilation[d] : 1;
    g[13 + d] = used ? spec.padBefore[d] : 0;
    g[16 + d] = used ? spec.padAfter[d] : 0;
    g[19 + d] = used ? outputPadding[d] : 0;
  }
  g[22] = spec.transposed ? 1 : 0;
  g[23] = PADDING_MODE_CODES[spec.paddingMode];
  return g;
}

/**
 * The outputPadding that makes a transposed conv produce `outputSize` (torch's
 * ConvTransposeNd._output_padding): outputSize is the spatial size or the whole shape.
 */
export function outputPaddingFor(spec: ConvSpec, inSpatial: readonly number[], outputSize: unknown): number[] {
  const what = `array of ${spec.dims} spatial sizes (or the full ${spec.dims + 2}-dim output shape)`;
  if (!Array.isArray(outputSize)) throw validate.invalidType(what, 'outputSize', outputSize);
  let sizes: readonly unknown[] = outputSize;
  if (sizes.length === spec.dims + 2) sizes = sizes.slice(2);
  if (sizes.length !== spec.dims) throw validate.invalidRange(what, 'outputSize', outputSize);
  const padding: number[] = [];
  for (let d = 0; d < spec.dims; d++) {
    const wanted = validate.nonNegativeInteger(sizes[d], `outputSize[${d}]`);
    const minSize = (inSpatial[d] - 1) * spec.stride[d] - spec.padBefore[d] - spec.padAfter[d] + spec.dilation[d] * (spec.kernel[d] - 1) + 1;
    const maxSize = minSize + spec.stride[d] - 1;
    if (wanted < minSize || wanted > maxSize) {
      throw validate.invalidRange(`output size in [${minSize}, ${maxSize}] for spatial dim ${d} (what this input can give)`, 'outputSize', outputSize);
    }
    padding.push(wanted - minSize);
  }
  return padding;
}

/** torch's repr of a tuple: (3,), (3, 3). */
export function tupleRepr(values: readonly number[]): string {
  return values.length === 1 ? `(${values[0]},)` : `(${values.join(', ')})`;
}
