// torch-style printing: the number formats, line wrapping and '...' abbreviation of PyTorch 1.13's torch/_tensor_str.py.
//
// Python formats floats by rounding the exact binary value half to even; JavaScript's
// toFixed/toExponential round exact ties away from zero (0.03125 -> '0.0313', Python
// '0.0312'). Such ties are common in dequantized values (scale * integer), so numbers are
// formatted here with exact BigInt arithmetic instead.

const LINE_WIDTH = 80;
const EDGE_ITEMS = 3;
const SUMMARIZE_THRESHOLD = 1000;
const PRECISION = 4;

// ---- exact decimal formatting -------------------------------------------------------------

/** |x| = mantissa * 2^exponent exactly, for finite non-zero x. */
function decompose(x: number): { mantissa: bigint; exponent: number } {
  const view = new DataView(new ArrayBuffer(8));
  view.setFloat64(0, x);
  const high = view.getUint32(0);
  const low = view.getUint32(4);
  const biased = (high >>> 20) & 0x7ff;
  let mantissa = (BigInt(high & 0xfffff) << BigInt(32)) | BigInt(low);
  if (biased === 0) return { mantissa, exponent: -1074 };
  mantissa |= BigInt(1) << BigInt(52);
  return { mantissa, exponent: biased - 1075 };
}

/** |x| as the fraction numerator / denominator. */
function fraction(x: number): { numerator: bigint; denominator: bigint } {
  const { mantissa, exponent } = decompose(Math.abs(x));
  return exponent >= 0
    ? { numerator: mantissa << BigInt(exponent), denominator: BigInt(1) }
    : { numerator: mantissa, denominator: BigInt(1) << BigInt(-exponent) };
}

function pow10(k: number): bigint {
  return BigInt(10) ** BigInt(k);
}

/** numerator / denominator rounded to an integer, ties to even. */
function roundHalfEven(numerator: bigint, denominator: bigint): bigint {
  const quotient = numerator / denominator;
  const twiceRemainder = (numerator % denominator) * BigInt(2);
  if (twiceRemainder > denominator) return quotient + BigInt(1);
  if (twiceRemainder === denominator && quotient % BigInt(2) === BigInt(1)) return quotient + BigInt(1);
  return quotient;
}

function nonFinite(x: number): string | undefined {
  if (Number.isNaN(x)) return 'nan';
  if (!Number.isFinite(x)) return x > 0 ? 'inf' : '-inf';
  return undefined;
}

function signOf(x: number): string {
  return x < 0 || Object.is(x, -0) ? '-' : '';
}

/** Python's '{:.<precision>f}'.format(x). */
export function formatFixed(x: number, precision: number): string {
  const special = nonFinite(x);
  if (special !== undefined) return special;
  let digits = BigInt(0);
  if (x !== 0) {
    const { numerator, denominator } = fraction(x);
    digits = roundHalfEven(numerator * pow10(precision), denominator);
  }
  let text = digits.toString();
  if (precision > 0) {
    text = text.padStart(precision + 1, '0');
    text = `${text.slice(0, -precision)}.${text.slice(-precision)}`;
  }
  return signOf(x) + text;
}

function exponentSuffix(exponent: number): string {
  return `e${exponent < 0 ? '-' : '+'}${String(Math.abs(exponent)).padStart(2, '0')}`;
}

/** Python's '{:.<precision>e}'.format(x). */
export function formatExponential(x: number, precision: number): string {
  const special = nonFinite(x);
  if (special !== undefined) return special;
  if (x === 0) return `${signOf(x)}0${precision > 0 ? `.${'0'.repeat(precision)}` : ''}e+00`;
  const { numerator, denominator } = fraction(x);
  // The decimal exponent e with 10^e <= |x| < 10^(e+1): estimate, then settle exactly.
  const atLeastPow10 = (k: number): boolean =>
    k >= 0 ? numerator >= denominator * pow10(k) : numerator * pow10(-k) >= denominator;
  let exponent = Math.floor(Math.log10(Math.abs(x)));
  while (!atLeastPow10(exponent)) exponent--;
  while (atLeastPow10(exponent + 1)) exponent++;
  const shift = precision - exponent;
  let digits = shift >= 0
    ? roundHalfEven(numerator * pow10(shift), denominator)
    : roundHalfEven(numerator, denominator * pow10(-shift));
  if (digits === pow10(precision + 1)) {
    // Rounding carried into a new digit (9.99995 -> 10.0000): renormalise.
    digits /= BigInt(10);
    exponent += 1;
  }
  const text = digits.toString();
  const mantissa = precision > 0 ? `${text[0]}.${text.slice(1)}` : text;
  return signOf(x) + mantissa + exponentSuffix(exponent);
}

/** Python's repr(float): shortest round-trip digits, exponent form below 1e-4 and from 1e16. */
export function pythonFloatRepr(x: number): string {
  const special = nonFinite(x);
  if (special !== undefined) return special;
  if (x === 0) return `${signOf(x)}0.0`;
  // JS and Python both print the shortest digit string that reads back as x.
  const [mantissaText, exponentText] = Math.abs(x).toExponential().split('e');
  const digits = mantissaText.replace('.', '');
  const exponent = Number(exponentText);
  const sign = x < 0 ? '-' : '';
  if (exponent < -4 || exponent >= 16) {
    const mantissa = digits.length > 1 ? `${digits[0]}.${digits.slice(1)}` : digits;
    return sign + mantissa + exponentSuffix(exponent);
  }
  if (exponent < 0) return `${sign}0.${'0'.repeat(-exponent - 1)}${digits}`;
  if (digits.length <= exponent + 1) return `${sign}${digits}${'0'.repeat(exponent + 1 - digits.length)}.0`;
  return `${sign}${digits.slice(0, exponent + 1)}.${digits.slice(exponent + 1)}`;
}

/** Python's repr(tuple(shape)): (), (3,), (2, 3). */
export function pythonTuple(shape: readonly number[]): string {
  return shape.length === 1 ? `(${shape[0]},)` : `(${shape.join(', ')})`;
}

// ---- torch's _Formatter ---------------------------------------------------------------------

/** torch's element dtypes this printer knows; float32 and int64 are the ones torch leaves unnamed. */
export type PrintDType = 'float32' | 'float64' | 'int64';

/** Decides one format (int mode, fixed or scientific) and one width for all printed elements. */
class ElementFormatter {
  private intMode = true;
  private sciMode = false;
  private maxWidth = 1;

  constructor(values: readonly number[], private readonly floating: boolean) {
    if (!floating) {
      for (const value of values) this.maxWidth = Math.max(this.maxWidth, String(value).length);
      return;
    }
    const nonzeroFinite = values.filter((value) => Number.isFinite(value) && value !== 0);
    if (nonzeroFinite.length === 0) return;
    let min = Infinity;
    let max = 0;
    for (const value of nonzeroFinite) {
      const magnitude = Math.abs(value);
      min = Math.min(min, magnitude);
      max = Math.max(max, magnitude);
    }
    this.intMode = nonzeroFinite.every((value) => value === Math.ceil(value));
    if (this.intMode) {
      if (max / min > 1000 || max > 1e8) {
        this.sciMode = true;
        for (const value of nonzeroFinite) this.maxWidth = Math.max(this.maxWidth, formatExponential(value, PRECISION).length);
      } else {
        // +1 for the '.' that marks a float.
        for (const value of nonzeroFinite) this.maxWidth = Math.max(this.maxWidth, formatFixed(value, 0).length + 1);
      }
    } else if (max / min > 1000 || max > 1e8 || min < 1e-4) {
      this.sciMode = true;
      for (const value of nonzeroFinite) this.maxWidth = Math.max(this.maxWidth, formatExponential(value, PRECISION).length);
    } else {
      for (const value of nonzeroFinite) this.maxWidth = Math.max(this.maxWidth, formatFixed(value, PRECISION).length);
    }
  }

  width(): number {
    return this.maxWidth;
  }

  format(value: number): string {
    let text: string;
    if (!this.floating) {
      text = String(value);
    } else if (this.sciMode) {
      text = formatExponential(value, PRECISION);
    } else if (this.intMode) {
      text = formatFixed(value, 0);
      if (Number.isFinite(value)) text += '.';
    } else {
      text = formatFixed(value, PRECISION);
    }
    return text.padStart(this.maxWidth, ' ');
  }
}

// ---- layout --------------------------------------------------------------------------------

interface Block {
  values: ArrayLike<number>; // row-major
  shape: readonly number[];
  strides: readonly number[];
}

/** The indices of a dim that get printed: all, or the first and last EDGE_ITEMS. */
function shownIndices(size: number, summarize: boolean): { head: number[]; tail: number[] } {
  const range = (from: number, to: number): number[] => Array.from({ length: to - from }, (_, i) => from + i);
  if (summarize && size > 2 * EDGE_ITEMS) return { head: range(0, EDGE_ITEMS), tail: range(size - EDGE_ITEMS, size) };
  return { head: range(0, size), tail: [] };
}

/** torch's get_summarized_data: the values that will be printed, which alone set the format. */
function printedValues(block: Block, summarize: boolean): number[] {
  const out: number[] = [];
  const walk = (offset: number, d: number): void => {
    if (d === block.shape.length) {
      out.push(block.values[offset]);
      return;
    }
    const { head, tail } = shownIndices(block.shape[d], summarize);
    for (const i of [...head, ...tail]) walk(offset + i * block.strides[d], d + 1);
  };
  walk(0, 0);
  return out;
}

function vectorText(block: Block, offset: number, indent: number, summarize: boolean, formatter: ElementFormatter): string {
  const d = block.shape.length - 1;
  const elementLength = formatter.width() + 2;
  const perLine = Math.max(1, Math.floor((LINE_WIDTH - indent) / elementLength));
  const { head, tail } = shownIndices(block.shape[d], summarize);
  const item = (i: number): string => formatter.format(block.values[offset + i * block.strides[d]]);
  const data = tail.length > 0 ? [...head.map(item), ' ...', ...tail.map(item)] : head.map(item);
  const lines: string[] = [];
  for (let i = 0; i < data.length; i += perLine) lines.push(data.slice(i, i + perLine).join(', '));
  return `[${lines.join(`,\n${' '.repeat(indent + 1)}`)}]`;
}

function blockText(block: Block, offset: number, d: number, indent: number, summarize: boolean, formatter: ElementFormatter): string {
  const rank = block.shape.length - d;
  if (rank === 0) return formatter.format(block.values[offset]);
  if (rank === 1) return vectorText(block, offset, indent, summarize, formatter);
  const { head, tail } = shownIndices(block.shape[d], summarize);
  const slice = (i: number): string => blockText(block, offset + i * block.strides[d], d + 1, indent + 1, summarize, formatter);
  const slices = tail.length > 0 ? [...head.map(slice), '...', ...tail.map(slice)] : head.map(slice);
  return `[${slices.join(`,${'\n'.repeat(rank - 1)}${' '.repeat(indent + 1)}`)}]`;
}

/** torch's _add_suffixes: ", suffix" on the same line while it fits in 80 columns. */
function addSuffixes(text: string, suffixes: readonly string[], indent: number): string {
  const parts = [text];
  let lastLineLength = text.length - text.lastIndexOf('\n') + 1;
  for (const suffix of suffixes) {
    if (lastLineLength + suffix.length + 2 > LINE_WIDTH) {
      parts.push(`,\n${' '.repeat(indent)}${suffix}`);
      lastLineLength = indent + suffix.length;
    } else {
      parts.push(`, ${suffix}`);
      lastLineLength += suffix.length + 2;
    }
  }
  parts.push(')');
  return parts.join('');
}

function rowMajorStrides(shape: readonly number[]): number[] {
  const strides = new Array<number>(shape.length);
  let stride = 1;
  for (let d = shape.length - 1; d >= 0; d--) {
    strides[d] = stride;
    stride *= shape[d];
  }
  return strides;
}

/**
 * `tensor(<values>, <suffixes>)` as torch prints it. `values` are in row-major order;
 * `suffixes` are already-formatted `key=value` strings.
 */
export function tensorRepr(values: ArrayLike<number>, shape: readonly number[], floating: boolean, suffixes: readonly string[]): string {
  const prefix = 'tensor(';
  const indent = prefix.length;
  const numel = shape.reduce((a, b) => a * b, 1);
  let body = '[]';
  if (numel > 0) {
    const block: Block = { values, shape, strides: rowMajorStrides(shape) };
    const summarize = numel > SUMMARIZE_THRESHOLD;
    const formatter = new ElementFormatter(printedValues(block, summarize), floating);
    body = blockText(block, 0, 0, indent, summarize, formatter);
  }
  return addSuffixes(prefix + body, suffixes, indent);
}

/** The suffixes torch adds to a plain (non-quantized) tensor of this dtype. */
export function plainSuffixes(shape: readonly number[], dtype: PrintDType): string[] {
  const suffixes: string[] = [];
  const numel = shape.reduce((a, b) => a * b, 1);
  if (numel === 0) {
    // Empty tensors name their shape unless it is (0,), and name any dtype but the default.
    if (shape.length !== 1) suffixes.push(`size=${pythonTuple(shape)}`);
    if (dtype !== 'float32') suffixes.push(`dtype=torch.${dtype}`);
  } else if (dtype === 'float64') {
    suffixes.push('dtype=torch.float64');
  }
  return suffixes;
}

/** A plain tensor as torch's str() shows it. */
export function plainTensorRepr(values: ArrayLike<number>, shape: readonly number[], dtype: PrintDType): string {
  return tensorRepr(values, shape, dtype !== 'int64', plainSuffixes(shape, dtype));
}
