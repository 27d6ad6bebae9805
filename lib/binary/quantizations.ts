// bitorch's quantization functions at inference (bitorch/quantizations/*.py), by name or as objects, in fp32 as torch computes them.

import { guardRead } from '../jit/hook';
import { callOp } from '../plan';
import { Tensor, tensor } from '../tensor';
import * as validate from '../validate';
import { LowBitInputCode, RuleCode, binaryAddon } from './native';

/** Rounds half to even, as torch.round. */
function roundHalfEven(x: number): number {
  const r = Math.round(x);
  return Math.abs(x % 1) === 0.5 && r % 2 !== 0 ? r - 1 : r;
}

const f = Math.fround;

/**
 * A bitorch quantization (bitorch.quantizations.Quantization): `name`, `bitWidth`, and the
 * inference forward `quantize(x)`. `rule` is set for the 1-bit sign-like functions whose
 * result depends on each value alone: those run on the XNOR-popcount kernels.
 */
export abstract class Quantization {
  abstract readonly name: string;
  abstract readonly bitWidth: number;
  /** The bit rule of a per-value 1-bit function (null: not one). */
  readonly rule: RuleCode | null = null;
  /**
   * The forward on a float tensor (a new contiguous tensor). The built-in activation
   * quantizations run natively (one binding op, which jit.trace records); others, and
   * subclasses that override quantizeValues, run quantizeValues.
   */
  quantize(x: Tensor): Tensor {
    const dense = x.contiguous();
    const values = dense.data.subarray(0, dense.numel());
    const native = this.nativeQuantization();
    if (native === null) {
      guardRead('a custom quantizeValues (computed in JS)', values);
      return tensor(this.quantizeValues(values), x.shape);
    }
    const args = [values, native.code, native.bits] as const;
    return tensor(callOp({ op: 'binaryQuantize', args }, () => binaryAddon.binaryQuantize(...args)), x.shape);
  }
  /** @internal The binding's code for this forward (native/src/base/params-binary.h LowBitInput), or null: quantizeValues only. */
  nativeQuantization(): { code: LowBitInputCode; bits: number } | null {
    return null;
  }
  /** bitorch's Quantization.forward is quantize. */
  forward(x: Tensor): Tensor {
    return this.quantize(x);
  }
  /** @internal The forward on raw values. */
  abstract quantizeValues(values: Float32Array): Float32Array;
  toString(): string {
    return `${this.constructor.name}()`;
  }
}

/** sign (sign.py SignFunction.forward): torch.sign, then 0 -> +1 (torch.sign(NaN) is 0, so NaN -> +1 too). */
export class Sign extends Quantization {
  readonly name: string = 'sign';
  readonly bitWidth = 1;
  override readonly rule: RuleCode = 0;
  quantizeValues(values: Float32Array): Float32Array {
    return values.map((v) => (v < 0 ? -1 : 1));
  }
  override nativeQuantization(): { code: LowBitInputCode; bits: number } | null {
    // A subclass with its own quantizeValues keeps it.
    return this.quantizeValues === Sign.prototype.quantizeValues ? { code: 0, bits: 1 } : null;
  }
}

/** approxsign (approx_sign.py): the forward is sign's; only its backward (ApproxSign's gradient) differs. */
export class ApproxSign extends Sign {
  override readonly name: string = 'approxsign';
}

/** swishsign (swish_sign.py): the forward is sign's; `beta` shapes only the backward (accepted, inert). */
export class SwishSign extends Sign {
  override readonly name: string = 'swishsign';
  readonly beta: number;
  constructor(beta?: number | null) {
    super();
    // bitorch: `beta or config.beta` (config.beta = 5.0): 0 and None fall back.
    this.beta = beta === undefined || beta === null || beta === 0 ? 5.0 : validate.finiteNumber(beta, 'beta');
  }
}

/**
 * progressive_sign (progressive_sign.py): in training a hardtanh of growing temperature, at
 * inference (eval mode) exactly SignFunction. qkernels runs inference: the eval forward.
 * The scale options are kept for repr; they change nothing here.
 */
export class ProgressiveSign extends Sign {
  override readonly name: string = 'progressive_sign';
  readonly scale: number;
  constructor(options?: { useGlobalScaling?: boolean; initialScale?: number | null; alpha?: number; beta?: number }) {
    super();
    const opts = validate.options(options, 'options', ['useGlobalScaling', 'initialScale', 'alpha', 'beta']);
    const global = opts.useGlobalScaling === undefined ? true : validate.boolean(opts.useGlobalScaling, 'useGlobalScaling');
    if (opts.initialScale !== undefined && opts.initialScale !== null && global) {
      // bitorch raises RuntimeWarning here.
      throw validate.invalidRange('no initialScale with useGlobalScaling true (bitorch: "An initial scale was set on ProgressiveSign, but this has not effect, since use_global_scaling is True.")', 'initialScale', opts.initialScale);
    }
    this.scale = opts.initialScale === undefined || opts.initialScale === null ? 0 : validate.finiteNumber(opts.initialScale, 'initialScale');
  }
}

/** steheaviside (ste_heaviside.py): where(x > 0, 1, -1), so 0 and NaN give -1. */
export class SteHeaviside extends Quantization {
  readonly name = 'steheaviside';
  readonly bitWidth = 1;
  override readonly rule: RuleCode = 1;
  quantizeValues(values: Float32Array): Float32Array {
    return values.map((v) => (v > 0 ? 1 : -1));
  }
  override nativeQuantization(): { code: LowBitInputCode; bits: number } | null {
    return this.quantizeValues === SteHeaviside.prototype.quantizeValues ? { code: 1, bits: 1 } : null;
  }
}

/** identity (identity.py): the values unchanged (32 bits). */
export class Identity extends Quantization {
  readonly name = 'identity';
  readonly bitWidth = 32;
  quantizeValues(values: Float32Array): Float32Array {
    return values.slice();
  }
}

function dorefaBits(bits: unknown): number {
  // bitorch: `bits or config.dorefa_bits` (dorefa_bits = 1): 0 and None fall back to 1.
  if (bits === undefined || bits === null || bits === 0) return 1;
  return validate.integerInRange(bits, 'bits', 1, 16);
}

/** The two DoReFa functions' shared state: k bits (bitorch: `bits or config.dorefa_bits`). */
abstract class DoReFa extends Quantization {
  readonly bitWidth: number;
  constructor(bits?: number | null) {
    super();
    this.bitWidth = dorefaBits(bits);
  }
  override toString(): string {
    return `${this.constructor.name}(bits=${this.bitWidth})`;
  }
}

/**
 * inputdorefa (dorefa.py InputDoReFaFunction.forward):
 *   round(clamp(x, 0, 1) * (2^bits - 1)) / (2^bits - 1), each step in fp32, round half to even.
 */
export class InputDoReFa extends DoReFa {
  readonly name = 'inputdorefa';
  quantizeValues(values: Float32Array): Float32Array {
    const n = 2 ** this.bitWidth - 1;
    return values.map((v) => {
      const c = Number.isNaN(v) ? v : Math.min(Math.max(v, 0), 1);
      return f(roundHalfEven(f(c * n)) / n);
    });
  }
  override nativeQuantization(): { code: LowBitInputCode; bits: number } | null {
    return this.quantizeValues === InputDoReFa.prototype.quantizeValues ? { code: 2, bits: this.bitWidth } : null;
  }
}

/**
 * weightdorefa (dorefa.py WeightDoReFaFunction.forward), in fp32:
 *   t = tanh(w); m = max|t|; a = t / (2m) + 0.5; 2 * (round(a * (2^bits - 1)) / (2^bits - 1)) - 1.
 * tanh is Math.tanh rounded to fp32; torch's fp32 tanh may differ by one unit in the last
 * place, which changes a result only when a * (2^bits - 1) lies that close to a rounding tie
 * (doc/binary.md). With bits = 1 the result is +-1 and runs on the binary kernels.
 */
export class WeightDoReFa extends DoReFa {
  readonly name = 'weightdorefa';
  quantizeValues(values: Float32Array): Float32Array {
    const n = 2 ** this.bitWidth - 1;
    const t = values.map((v) => f(Math.tanh(v)));
    let m = 0;
    for (const v of t) m = Number.isNaN(v) || Math.abs(v) > m ? Math.abs(v) : m;
    const twoM = f(2 * m);
    return t.map((v) => {
      const a = f(f(v / twoM) + 0.5);
      return f(f(2 * f(roundHalfEven(f(a * n)) / n)) - 1);
    });
  }
}

/** bitorch's names (quantization_from_name), plus 'progressivesign' for progressive_sign. */
const BY_NAME: Record<string, () => Quantization> = {
  sign: () => new Sign(),
  approxsign: () => new ApproxSign(),
  swishsign: () => new SwishSign(),
  steheaviside: () => new SteHeaviside(),
  progressive_sign: () => new ProgressiveSign(),
  progressivesign: () => new ProgressiveSign(),
  weightdorefa: () => new WeightDoReFa(),
  inputdorefa: () => new InputDoReFa(),
  identity: () => new Identity(),
};

/** The names quantizationFromName knows (bitorch's quantization_names()). */
export function quantizationNames(): string[] {
  return Object.keys(BY_NAME);
}

/** bitorch's quantization_from_name(name)(): a new instance; unknown names: bitorch's "<name> quantization not found!". */
export function quantizationFromName(name: unknown): Quantization {
  if (typeof name !== 'string') throw validate.invalidType(`a quantization name (${quantizationNames().join(', ')})`, 'quantization', name);
  const make = Object.prototype.hasOwnProperty.call(BY_NAME, name) ? BY_NAME[name] : undefined;
  if (make === undefined) throw new RangeError(`${name} quantization not found! (expected one of ${quantizationNames().join(', ')} for quantization)`);
  return make();
}

/**
 * bitorch's LayerConfig.get_quantization_function(q or default): a Quantization as is, a
 * name through quantizationFromName; null/undefined (and every falsy value, as `or` does) the default.
 */
export function resolveQuantization(value: unknown, parameter: string, fallback: string): Quantization {
  if (value === undefined || value === null || value === '' ) return quantizationFromName(fallback);
  if (value instanceof Quantization) return value;
  if (typeof value === 'string') return quantizationFromName(value);
  throw validate.invalidType('a quantization name or a bitorch.Quantization object', parameter, value);
}
