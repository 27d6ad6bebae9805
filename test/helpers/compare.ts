// Exact comparison of arrays with ruy-style reports: where it differs, the input there, expected, got, how many.
//
// Floats compare by their float32 bits (so -0 differs from +0), except that any NaN equals any NaN
// (torch and qkernels need not agree on NaN payloads). A failing comparison throws an Error whose
// message lists the mismatch count and the first few mismatches with their coordinates.

// Module-level bindings: global lookups are slow under jest's vm context (see random.ts).
const { fround } = Math;
const { is } = Object;
const toTag = Object.prototype.toString;

export type NumericArray = ArrayLike<number> | ArrayLike<bigint>;

export interface CompareOptions {
  /** Shape of the compared data, to print coordinates next to flat indices. */
  shape?: readonly number[];
  /** Describes the input that produced element i (e.g. the float that was quantized). */
  input?: (index: number) => string;
  /** 'float32' compares float32 bit patterns, 'float64' doubles (-0 differs from 0); 'int' (default) compares values. */
  kind?: Kind;
  /** Extra context for the report: seed, case parameters, path. */
  context?: string;
  /** How many mismatches to list (default 8). */
  maxListed?: number;
}

type Kind = 'int' | 'float32' | 'float64';

const F32 = new Float32Array(1);
const U32 = new Uint32Array(F32.buffer);

export function float32Bits(value: number): number {
  F32[0] = value;
  return U32[0];
}

/** A float with its float32 bit pattern: `0.1 (0x3dcccccd)`. */
export function formatFloat32(value: number): string {
  return `${is(value, -0) ? '-0' : String(value)} (0x${float32Bits(value).toString(16).padStart(8, '0')})`;
}

function coordinates(index: number, shape: readonly number[] | undefined): string {
  if (!shape || shape.length <= 1) return '';
  const coords: number[] = new Array(shape.length);
  let rest = index;
  for (let d = shape.length - 1; d >= 0; d--) {
    coords[d] = rest % shape[d];
    rest = Math.floor(rest / shape[d]);
  }
  return ` [${coords.join(', ')}]`;
}

/** Fast path for the common case: all elements equal (bitwise for floats). Null when it cannot decide. */
function allEqualFast(expected: NumericArray, got: NumericArray, kind: Kind): boolean | null {
  if (expected.length !== got.length) return false;
  const tagE = toTag.call(expected);
  const tagG = toTag.call(got);
  if (kind === 'float32' && tagE === '[object Float32Array]' && tagG === '[object Float32Array]') {
    const e = expected as Float32Array;
    const g = got as Float32Array;
    const eb = new Uint32Array(e.buffer, e.byteOffset, e.length);
    const gb = new Uint32Array(g.buffer, g.byteOffset, g.length);
    for (let i = 0; i < eb.length; i++) if (eb[i] !== gb[i] && !(e[i] !== e[i] && g[i] !== g[i])) return false;
    return true;
  }
  if (kind === 'int' && !tagE.includes('BigInt') && !tagG.includes('BigInt')) {
    const e = expected as ArrayLike<number>;
    const g = got as ArrayLike<number>;
    for (let i = 0; i < e.length; i++) if (e[i] !== g[i]) return false;
    return true;
  }
  return null;
}

function sameElement(expected: number | bigint, got: number | bigint, kind: Kind): boolean {
  if (kind === 'float64') {
    const e = Number(expected);
    const g = Number(got);
    return is(e, g);
  }
  if (kind === 'float32') {
    const e = Number(expected);
    const g = Number(got);
    if (Number.isNaN(e) || Number.isNaN(g)) return Number.isNaN(e) && Number.isNaN(g);
    return float32Bits(e) === float32Bits(g) && fround(e) === e && fround(g) === g;
  }
  if (typeof expected === 'number' && !Number.isInteger(expected)) return false;
  if (typeof got === 'number' && !Number.isInteger(got)) return false;
  return BigInt(expected) === BigInt(got);
}

function formatElement(value: number | bigint, kind: Kind): string {
  return kind === 'float32' ? formatFloat32(Number(value)) : String(value);
}

/** The mismatch report, or null when `got` equals `expected` element for element. */
export function mismatchReport(
  label: string,
  expected: NumericArray,
  got: NumericArray,
  options: CompareOptions = {},
): string | null {
  const kind = options.kind ?? 'int';
  if (allEqualFast(expected, got, kind) === true) return null;
  const maxListed = options.maxListed ?? 8;
  const lines: string[] = [];
  if (expected.length !== got.length) {
    lines.push(`length differs: expected ${expected.length}, got ${got.length}`);
  }
  const n = Math.min(expected.length, got.length);
  let mismatches = 0;
  for (let i = 0; i < n; i++) {
    if (sameElement(expected[i], got[i], kind)) continue;
    mismatches++;
    if (mismatches <= maxListed) {
      const input = options.input ? `, input ${options.input(i)}` : '';
      lines.push(
        `  at index ${i}${coordinates(i, options.shape)}${input}: expected ${formatElement(expected[i], kind)}, got ${formatElement(got[i], kind)}`,
      );
    }
  }
  if (mismatches === 0 && expected.length === got.length) return null;
  const head = `${label}: ${mismatches} of ${n} elements differ${options.shape ? ` (shape [${options.shape.join(', ')}])` : ''}`;
  const more = mismatches > maxListed ? [`  ... and ${mismatches - maxListed} more`] : [];
  const context = options.context ? [`  context: ${options.context}`] : [];
  return [head, ...lines, ...more, ...context].join('\n');
}

/** Throws the mismatch report unless `got` equals `expected` exactly. */
export function expectExact(label: string, expected: NumericArray, got: NumericArray, options: CompareOptions = {}): void {
  const report = mismatchReport(label, expected, got, options);
  if (report !== null) throw new Error(report);
}

/** Throws unless two scalars are identical (Object.is, so -0 !== 0 and NaN === NaN). */
export function expectSame(label: string, expected: unknown, got: unknown, context?: string): void {
  if (!is(expected, got)) {
    throw new Error(`${label}: expected ${String(expected)}, got ${String(got)}${context ? `\n  context: ${context}` : ''}`);
  }
}

/** Throws unless two arrays of plain values (shapes, strides) are equal. */
export function expectSameList(label: string, expected: ArrayLike<number | bigint>, got: ArrayLike<number | bigint>, context?: string): void {
  const e = Array.from(expected, Number);
  const g = Array.from(got, Number);
  if (e.length !== g.length || e.some((v, i) => !is(v, g[i]))) {
    throw new Error(`${label}: expected [${e.join(', ')}], got [${g.join(', ')}]${context ? `\n  context: ${context}` : ''}`);
  }
}

/** Collects failures across many cases, then throws one report naming each failing case. */
export class FailureLog {
  private readonly failures: string[] = [];
  private checked = 0;

  constructor(private readonly maxReports = 6) {}

  /** Runs a check; an Error it throws becomes a logged failure tagged with `what`. */
  check(what: string, body: () => void): void {
    this.checked++;
    try {
      body();
    } catch (error) {
      this.failures.push(`- ${what}\n${(error as Error).message.replace(/^/gm, '    ')}`);
    }
  }

  /** Throws if any check failed: how many of how many, then the first reports. */
  finish(label: string): void {
    if (this.failures.length === 0) return;
    const shown = this.failures.slice(0, this.maxReports);
    const more = this.failures.length > shown.length ? [`... and ${this.failures.length - shown.length} more failing cases`] : [];
    throw new Error([`${label}: ${this.failures.length} of ${this.checked} cases failed`, ...shown, ...more].join('\n'));
  }
}
