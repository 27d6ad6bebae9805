// torch.ao.quantization.MinMaxObserver: records the running min and max of fp32 values and turns them into qparams exactly as torch does.
//
// calculateQParams follows UniformQuantizationObserverBase._calculate_qparams of torch 1.13
// step by step in float32 (every tensor op there is a float32 op; Math.fround after each
// reproduces it, and one double operation on two float32 values rounds to the same float32):
//   affine:    scale = max((max(max, 0) - min(min, 0)) / (qmax - qmin), eps)
//              zeroPoint = clamp(qmin - round_half_even(min(min, 0) / scale), qmin, qmax)
//   symmetric: scale = max(max(-min(min, 0), max(max, 0)) / ((qmax - qmin) / 2), eps)
//              zeroPoint = 128 for quint8 (the range's midpoint with custom quantMin/quantMax), 0 for qint8
// reduceRange halves the range (quint8 0..127, qint8 -64..63), as x86's vpmaddubsw needs.

import { guardRead } from '../jit/hook';
import { Tensor } from '../tensor';
import * as validate from '../validate';

export type ObserverQScheme = 'per_tensor_affine' | 'per_tensor_symmetric';

export interface MinMaxObserverOptions {
  dtype?: 'quint8' | 'qint8';
  qscheme?: ObserverQScheme;
  reduceRange?: boolean;
  quantMin?: number | null;
  quantMax?: number | null;
  eps?: number;
}

/** The qparams an observer chose: the output scale and zero point of the module it watched. */
export interface QParams {
  scale: number;
  zeroPoint: number;
}

// torch.finfo(torch.float32).eps
const FLOAT32_EPS = 2 ** -23;

/** torch.round: to nearest, ties to even. */
function roundHalfEven(x: number): number {
  const r = Math.round(x);
  return Math.abs(x % 1) === 0.5 && r % 2 !== 0 ? r - 1 : r;
}

/** torch's calculate_qmin_qmax for quint8 and qint8. */
function quantRange(dtype: 'quint8' | 'qint8', reduceRange: boolean, quantMin: number | null, quantMax: number | null): [number, number] {
  if (quantMin !== null && quantMax !== null) {
    return reduceRange ? [Math.floor(quantMin / 2), Math.floor(quantMax / 2)] : [quantMin, quantMax];
  }
  if (dtype === 'qint8') return reduceRange ? [-64, 63] : [-128, 127];
  return reduceRange ? [0, 127] : [0, 255];
}

/**
 * torch.ao.quantization.MinMaxObserver({ dtype = 'quint8', qscheme = 'per_tensor_affine',
 * reduceRange = false, quantMin, quantMax, eps }).
 *
 * @example
 * const observer = new MinMaxObserver();
 * observer.forward(tensor(values, [4, 16]));
 * const { scale, zeroPoint } = observer.calculateQParams();
 */
export class MinMaxObserver {
  readonly dtype: 'quint8' | 'qint8';
  readonly qscheme: ObserverQScheme;
  readonly reduceRange: boolean;
  readonly quantMin: number;
  readonly quantMax: number;
  readonly eps: number;
  /** The running minimum (Infinity before the first forward), as torch's min_val buffer. */
  minVal = Infinity;
  /** The running maximum (-Infinity before the first forward). */
  maxVal = -Infinity;
  private readonly customRange: boolean;

  constructor(options?: MinMaxObserverOptions) {
    const o = validate.options(options, 'options', ['dtype', 'qscheme', 'reduceRange', 'quantMin', 'quantMax', 'eps']);
    const dtype = o.dtype ?? 'quint8';
    if (dtype !== 'quint8' && dtype !== 'qint8') throw validate.invalidType("'quint8' or 'qint8'", 'options.dtype', dtype);
    const qscheme = o.qscheme ?? 'per_tensor_affine';
    if (qscheme !== 'per_tensor_affine' && qscheme !== 'per_tensor_symmetric') {
      throw validate.invalidType("'per_tensor_affine' or 'per_tensor_symmetric' (MinMaxObserver is per tensor)", 'options.qscheme', qscheme);
    }
    const reduceRange = o.reduceRange === undefined ? false : validate.boolean(o.reduceRange, 'options.reduceRange');
    if (qscheme === 'per_tensor_symmetric' && reduceRange && dtype === 'quint8') {
      throw new RangeError('Cannot reduce range for symmetric quantization for quint8 (options.reduceRange with per_tensor_symmetric)');
    }
    const quantMin = o.quantMin === undefined || o.quantMin === null ? null : validate.integerInRange(o.quantMin, 'options.quantMin', -(2 ** 31), 2 ** 31 - 1);
    const quantMax = o.quantMax === undefined || o.quantMax === null ? null : validate.integerInRange(o.quantMax, 'options.quantMax', -(2 ** 31), 2 ** 31 - 1);
    this.customRange = quantMin !== null && quantMax !== null;
    if (this.customRange) {
      // torch: "Used-specified quantization range must include 0" and fit the dtype's 256 values.
      if (!(quantMin! <= 0 && 0 <= quantMax!)) throw validate.invalidRange('quantMin <= 0 <= quantMax', 'options.quantMin', quantMin);
      if (quantMin! >= quantMax!) throw validate.invalidRange(`integer below quantMax (${quantMax})`, 'options.quantMin', quantMin);
      if (quantMax! - quantMin! + 1 > 256) throw validate.invalidRange('range of at most 256 values', 'options.quantMax', quantMax);
    }
    const eps = o.eps === undefined ? FLOAT32_EPS : validate.positiveFiniteNumber(o.eps, 'options.eps');
    this.dtype = dtype;
    this.qscheme = qscheme;
    this.reduceRange = reduceRange;
    [this.quantMin, this.quantMax] = quantRange(dtype, reduceRange, quantMin, quantMax);
    // torch keeps eps in a float32 buffer.
    this.eps = Math.fround(eps);
  }

  /** Records the min and max of x's values (NaN propagates, as torch.aminmax); returns x. */
  forward(x: Tensor): Tensor {
    if (!(x instanceof Tensor)) throw validate.invalidType('fp32 Tensor', 'x', x);
    guardRead('an observer (it reads the values to choose qparams)', x.data);
    this.observe(x.contiguous().data.subarray(0, x.numel()));
    return x;
  }

  /** forward on raw float32 values. */
  observe(values: Float32Array): void {
    if (values.length === 0) return;
    let lo = Infinity;
    let hi = -Infinity;
    for (let i = 0; i < values.length; i++) {
      const v = values[i];
      if (v !== v) {
        lo = NaN;
        hi = NaN;
        break;
      }
      if (v < lo) lo = v;
      if (v > hi) hi = v;
    }
    this.minVal = Math.min(this.minVal, lo);
    this.maxVal = Math.max(this.maxVal, hi);
  }

  /** Forgets what was observed (torch's reset_min_max_vals). */
  resetMinMaxVals(): void {
    this.minVal = Infinity;
    this.maxVal = -Infinity;
  }

  /** torch's calculate_qparams; (1, 0) before anything was observed, as torch returns (with a warning there). */
  calculateQParams(): QParams {
    const minVal = this.minVal;
    const maxVal = this.maxVal;
    if (minVal === Infinity && maxVal === -Infinity) return { scale: 1, zeroPoint: 0 };
    if (!(minVal <= maxVal)) throw new RangeError(`min ${minVal} should be less than max ${maxVal} (MinMaxObserver saw NaN?)`);
    const qmin = this.quantMin;
    const qmax = this.quantMax;
    const minNeg = Math.min(minVal, 0);
    const maxPos = Math.max(maxVal, 0);
    if (this.qscheme === 'per_tensor_symmetric') {
      const bound = Math.max(-minNeg, maxPos);
      const scale = Math.max(Math.fround(bound / ((qmax - qmin) / 2)), this.eps);
      const zeroPoint = this.dtype === 'quint8' ? (this.customRange ? Math.floor((qmin + qmax) / 2) : 128) : 0;
      return { scale, zeroPoint };
    }
    const scale = Math.max(Math.fround(Math.fround(maxPos - minNeg) / (qmax - qmin)), this.eps);
    const zeroPoint = Math.min(Math.max(qmin - roundHalfEven(Math.fround(minNeg / scale)), qmin), qmax);
    return { scale, zeroPoint };
  }

  toString(): string {
    return `MinMaxObserver(min_val=${this.minVal}, max_val=${this.maxVal})`;
  }
}
