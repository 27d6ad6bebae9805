// Jest-side driver of the PyTorch oracle (oracle.py): one /usr/bin/python3 process per runOracle() call.
//
// A test file builds all its cases up front (seeded, deterministic), sends them in one batch from a
// beforeAll, and compares qkernels against the answers. Typed arrays travel as base64 of their
// little-endian bytes so every float and integer arrives bit-exact; see oracle.py for the protocol.
//
// Without /usr/bin/python3 or its torch the oracle throws an error saying what to install, so the
// tests fail. QKERNELS_SKIP_ORACLE=1 turns describeOracle() blocks into visibly skipped ones instead.
import { spawnSync } from 'child_process';
import * as os from 'os';
import * as path from 'path';

export const ORACLE_SCRIPT = path.join(__dirname, 'oracle.py');
export const ORACLE_PYTHON = process.env.QKERNELS_ORACLE_PYTHON || '/usr/bin/python3';
export const ORACLE_SKIPPED = process.env.QKERNELS_SKIP_ORACLE === '1';

export type WireArray = Float32Array | Float64Array | Uint8Array | Int8Array | Int32Array | BigInt64Array;
type WireDType = 'float32' | 'float64' | 'uint8' | 'int8' | 'int32' | 'int64';

/** An array with a shape, as it goes to and comes back from the oracle. */
export class OracleArray<T extends WireArray = WireArray> {
  constructor(
    readonly data: T,
    readonly shape: number[] = [data.length],
  ) {}
}

/** Marks data to send with a shape: `shaped(tensorData, [2, 3])`. A bare typed array goes as 1-D. */
export function shaped<T extends WireArray>(data: T, shape: readonly number[]): OracleArray<T> {
  return new OracleArray(data, [...shape]);
}

export interface OracleCase {
  op: string;
  [argument: string]: unknown;
}

/** One answer: the op's outputs, or `error` (torch's message) and `errorType` when torch raised. */
export interface OracleResult {
  error?: string;
  errorType?: string;
  // Outputs differ per op (see oracle.py); arrays arrive as OracleArray, special floats as numbers.
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  [output: string]: any;
}

export interface OracleOptions {
  /** torch.backends.quantized.engine for the batch: 'onednn' (x86 default) or 'qnnpack'. */
  engine?: 'onednn' | 'qnnpack';
}

const WIRE_DTYPE_OF: Array<[string, WireDType]> = [
  ['[object Float32Array]', 'float32'],
  ['[object Float64Array]', 'float64'],
  ['[object Uint8Array]', 'uint8'],
  ['[object Int8Array]', 'int8'],
  ['[object Int32Array]', 'int32'],
  ['[object BigInt64Array]', 'int64'],
];

// Type tags rather than instanceof: jest runs tests in a vm context whose typed-array
// constructors differ from those of arrays made by Node's core (Buffer) or the addon.
function wireDTypeOf(value: unknown): WireDType | undefined {
  const tag = Object.prototype.toString.call(value);
  for (const [name, dtype] of WIRE_DTYPE_OF) if (tag === name) return dtype;
  return undefined;
}

function encodeArray(data: ArrayBufferView, shape: number[]): unknown {
  const dtype = wireDTypeOf(data);
  if (dtype === undefined) {
    throw new TypeError(`oracle: cannot send ${Object.prototype.toString.call(data)} (use Float32Array, Float64Array, Uint8Array, Int8Array, Int32Array or BigInt64Array)`);
  }
  const numel = shape.reduce((a, b) => a * b, 1);
  if (numel !== (data as WireArray).length) {
    throw new RangeError(`oracle: shape [${shape}] has ${numel} elements but the array has ${(data as WireArray).length}`);
  }
  const bytes = Buffer.from(data.buffer, data.byteOffset, data.byteLength);
  return { $array: dtype, shape, b64: bytes.toString('base64') };
}

function encodeNumber(value: number): unknown {
  if (Number.isNaN(value)) return { $f64: 'NaN' };
  if (value === Infinity) return { $f64: 'Infinity' };
  if (value === -Infinity) return { $f64: '-Infinity' };
  if (Object.is(value, -0)) return { $f64: '-0' };
  return value;
}

function encode(value: unknown): unknown {
  if (value instanceof OracleArray) return encodeArray(value.data, value.shape);
  if (ArrayBuffer.isView(value)) return encodeArray(value, [(value as WireArray).length]);
  if (typeof value === 'number') return encodeNumber(value);
  if (typeof value === 'bigint') return Number(value);
  if (Array.isArray(value)) return value.map(encode);
  if (value !== null && typeof value === 'object') {
    const out: Record<string, unknown> = {};
    for (const [key, item] of Object.entries(value)) if (item !== undefined) out[key] = encode(item);
    return out;
  }
  return value;
}

function decodeArray(dtype: WireDType, shape: number[], b64: string): OracleArray {
  const bytes = Buffer.from(b64, 'base64');
  // Copy into a fresh, aligned buffer owned by this realm (Buffer may be a slice of a shared pool).
  const buffer = new ArrayBuffer(bytes.length);
  new Uint8Array(buffer).set(bytes);
  const views: Record<WireDType, (b: ArrayBuffer) => WireArray> = {
    float32: (b) => new Float32Array(b),
    float64: (b) => new Float64Array(b),
    uint8: (b) => new Uint8Array(b),
    int8: (b) => new Int8Array(b),
    int32: (b) => new Int32Array(b),
    int64: (b) => new BigInt64Array(b),
  };
  return new OracleArray(views[dtype](buffer), shape);
}

const SPECIAL_FLOATS: Record<string, number> = { NaN: NaN, Infinity: Infinity, '-Infinity': -Infinity, '-0': -0 };

function decode(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(decode);
  if (value !== null && typeof value === 'object') {
    const record = value as Record<string, unknown>;
    if (typeof record.$array === 'string') {
      return decodeArray(record.$array as WireDType, record.shape as number[], record.b64 as string);
    }
    if (typeof record.$f64 === 'string') return SPECIAL_FLOATS[record.$f64];
    const out: Record<string, unknown> = {};
    for (const [key, item] of Object.entries(record)) out[key] = decode(item);
    return out;
  }
  return value;
}

function unavailable(reason: string): Error {
  return new Error(
    `PyTorch oracle unavailable: ${reason}. The oracle runs ${ORACLE_SCRIPT} with ${ORACLE_PYTHON} ` +
      `(Debian: apt-get install --no-install-recommends python3-torch). ` +
      `Set QKERNELS_SKIP_ORACLE=1 to skip the oracle-based tests instead.`,
  );
}

/**
 * Sends one batch of cases to PyTorch and returns one result per case, in order.
 * Spawns a single Python process; a case torch rejects comes back as `{ error, errorType }`.
 */
export function runOracle(cases: OracleCase[], options: OracleOptions = {}): OracleResult[] {
  if (ORACLE_SKIPPED) throw new Error('runOracle called although QKERNELS_SKIP_ORACLE=1 (use describeOracle)');
  if (os.endianness() !== 'LE') throw new Error('oracle: the wire format assumes a little-endian host');
  const input = JSON.stringify({ engine: options.engine ?? null, cases: cases.map(encode) });
  const child = spawnSync(ORACLE_PYTHON, [ORACLE_SCRIPT], {
    input,
    encoding: 'utf8',
    maxBuffer: 1 << 30,
    env: { ...process.env, OMP_NUM_THREADS: '1' },
  });
  if (child.error) {
    const code = (child.error as NodeJS.ErrnoException).code;
    throw unavailable(code === 'ENOENT' ? `${ORACLE_PYTHON} does not exist` : `spawning ${ORACLE_PYTHON} failed: ${child.error.message}`);
  }
  if (child.status === 3) throw unavailable(child.stderr.trim());
  if (child.status !== 0) {
    throw new Error(`oracle: ${ORACLE_PYTHON} ${ORACLE_SCRIPT} exited with ${child.status ?? child.signal}: ${child.stderr.trim()}`);
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(child.stdout);
  } catch (error) {
    throw new Error(`oracle: stdout is not JSON (${(error as Error).message}); stderr: ${child.stderr.trim()}`);
  }
  if (!Array.isArray(parsed) || parsed.length !== cases.length) {
    throw new Error(`oracle: expected ${cases.length} results, got ${Array.isArray(parsed) ? parsed.length : typeof parsed}`);
  }
  return parsed.map((result) => decode(result) as OracleResult);
}

/**
 * Like `describe`, for blocks whose expectations come from the oracle. Under QKERNELS_SKIP_ORACLE=1
 * the block is skipped and its name says why, so a skipped run never looks like a passing one.
 */
export function describeOracle(name: string, body: () => void): void {
  if (ORACLE_SKIPPED) {
    console.warn(`qkernels: skipping "${name}": QKERNELS_SKIP_ORACLE=1, so nothing in it is compared with PyTorch`);
    describe.skip(`${name} [SKIPPED: QKERNELS_SKIP_ORACLE=1, no PyTorch oracle]`, body);
  } else {
    describe(name, body);
  }
}

/** Throws with torch's message when a case that should have succeeded did not. */
export function okResult(result: OracleResult, what: string): OracleResult {
  if (result.error !== undefined) throw new Error(`oracle rejected ${what}: ${result.errorType}: ${result.error}`);
  return result;
}
