// Float32 inputs that probe quantization: exact ties, neighbours, specials, and the dtypes' integer ranges.
import { Rng } from './random';

// Module-level bindings: global lookups are slow under jest's vm context (see random.ts).
const { abs, fround, min, max } = Math;

export type QDTypeName = 'quint8' | 'qint8' | 'qint32' | 'quint4x2';

export interface QDTypeInfo {
  name: QDTypeName;
  qmin: number;
  qmax: number;
  /** Typed-array tag of intRepr() / data (quint4x2: packed bytes). */
  storageTag: string;
  /** Zero points worth testing: the edges, the middle, and their neighbours. */
  edgeZeroPoints: number[];
}

export const QDTYPES: Record<QDTypeName, QDTypeInfo> = {
  quint8: { name: 'quint8', qmin: 0, qmax: 255, storageTag: 'Uint8Array', edgeZeroPoints: [0, 1, 127, 128, 254, 255] },
  qint8: { name: 'qint8', qmin: -128, qmax: 127, storageTag: 'Int8Array', edgeZeroPoints: [-128, -127, -1, 0, 1, 126, 127] },
  qint32: {
    name: 'qint32',
    qmin: -2147483648,
    qmax: 2147483647,
    storageTag: 'Int32Array',
    edgeZeroPoints: [-2147483648, -2147483647, -16777217, -1, 0, 1, 16777216, 16777217, 2147483646, 2147483647],
  },
  quint4x2: { name: 'quint4x2', qmin: 0, qmax: 15, storageTag: 'Uint8Array', edgeZeroPoints: [0, 1, 7, 8, 15] },
};

export const ALL_QDTYPES: QDTypeName[] = ['quint8', 'qint8', 'qint32', 'quint4x2'];

const F32 = new Float32Array(1);
const U32 = new Uint32Array(F32.buffer);

/** The float32 with the given bit pattern. */
export function fromBits(bits: number): number {
  U32[0] = bits >>> 0;
  return F32[0];
}

/** The next float32 after x towards +Inf (x finite). */
export function nextUp(x: number): number {
  if (x === 0) return fromBits(1);
  F32[0] = x;
  U32[0] = x > 0 ? U32[0] + 1 : U32[0] - 1;
  return F32[0];
}

/** The next float32 after x towards -Inf (x finite). */
export function nextDown(x: number): number {
  return -nextUp(-x);
}

/** PyTorch's reciprocal: 1.0f / float(scale), in fp32. */
export function inverseScale(scale: number): number {
  return fround(1 / fround(scale));
}

/**
 * A float32 x with fp32(x * inv) exactly `target`, or null if none is near target / inv.
 * (A product of two floats is exact in double, so fround gives the fp32 product.)
 */
export function inputWithProduct(target: number, inv: number): number | null {
  const start = fround(target / inv);
  if (!Number.isFinite(start)) return null;
  let below = start;
  let above = start;
  for (let step = 0; step < 8; step++) {
    if (fround(below * inv) === target) return below;
    if (fround(above * inv) === target) return above;
    below = nextDown(below);
    above = nextUp(above);
  }
  return null;
}

/** Inputs whose scaled value is exactly k + 0.5 (a tie), with their float32 neighbours. */
export function tieInputs(ks: number[], inv: number): number[] {
  const out: number[] = [];
  for (const k of ks) {
    const target = k + 0.5;
    if (abs(target) >= 4194304) continue; // k + 0.5 must be a float32
    const x = inputWithProduct(target, inv);
    if (x === null) continue;
    out.push(x, nextUp(x), nextDown(x));
  }
  return out;
}

const TWO_POW = (e: number) => 2 ** e;

/** Zeros, denormals, the normal extremes, integers around 2^31/2^32/2^63/2^64, infinities, NaN. */
export const SPECIAL_FLOATS: readonly number[] = (() => {
  const magnitudes = [
    0,
    fromBits(1), // smallest denormal
    fromBits(0x007fffff), // largest denormal
    fround(1e-40),
    TWO_POW(-126), // smallest normal
    fround(1e-30),
    fround(0.5),
    1,
    fround(1e10),
    fround(3e9),
    TWO_POW(31),
    nextDown(TWO_POW(31)),
    TWO_POW(32),
    nextDown(TWO_POW(63)),
    TWO_POW(63),
    TWO_POW(64),
    fround(1e30),
    fromBits(0x7f7fffff), // FLT_MAX
    Infinity,
  ];
  const out: number[] = [];
  for (const m of magnitudes) out.push(m, -m);
  out.push(NaN, fromBits(0x7fc00001), fromBits(0xffc00000)); // NaNs with other payloads and sign
  return out;
})();

/** Arbitrary float32 bit patterns: every exponent, sign and payload, NaNs included. */
export function randomBitPatterns(rng: Rng, count: number): number[] {
  return Array.from({ length: count }, () => fromBits(rng.nextU32()));
}

/**
 * Inputs for quantization with (scale, zeroPoint) into a dtype: specials, ties around zero, around
 * the saturation edges and at random k, values just outside the range, random in-range values and
 * random bit patterns. Returns a Float32Array (order shuffled so SIMD lanes see every kind).
 */
export function quantizationInputs(rng: Rng, scale: number, zeroPoint: number, info: QDTypeInfo, randomCount: number): Float32Array {
  const inv = inverseScale(scale);
  const fscale = fround(scale);
  const ks: number[] = [];
  for (let k = -24; k <= 24; k++) ks.push(k);
  const lowEdge = info.qmin - zeroPoint;
  const highEdge = info.qmax - zeroPoint;
  for (let d = -3; d <= 3; d++) ks.push(lowEdge + d, highEdge + d);
  const span = min(highEdge - lowEdge, 1 << 22);
  for (let i = 0; i < 40; i++) ks.push(rng.int(max(lowEdge, -(1 << 22)), max(lowEdge, -(1 << 22)) + span));
  const values: number[] = SPECIAL_FLOATS.concat(tieInputs(ks, inv));
  // Mostly near the integer grid within a window around the zero point, some anywhere in range.
  const lo = max(info.qmin, zeroPoint - 5000);
  const hi = min(info.qmax, zeroPoint + 5000);
  for (let i = 0; i < randomCount; i++) {
    const q = rng.bool(0.9) ? rng.int(lo, hi) : rng.int(info.qmin, info.qmax);
    values.push(fround((q - zeroPoint + rng.range(-0.75, 0.75)) * fscale));
  }
  for (const bits of randomBitPatterns(rng, max(16, randomCount >> 3))) values.push(bits);
  return Float32Array.from(rng.shuffle(values));
}
