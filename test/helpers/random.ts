// Seeded pseudo-random numbers (mulberry32) so every test draws the same data on every run.
//
// Each test file seeds from its own name, so adding cases to one file never changes another's.
// QKERNELS_SEED=<n> mixes in a different seed to explore new data; failure reports print the seed.

// Globals are looked up through the vm context's interceptors under jest, which makes them slow
// in hot loops; module-level bindings are plain variables.
const { cos, exp, floor, imul, log, sqrt, PI } = Math;

/** FNV-1a of a string: a stable 32-bit seed from a test's name. */
export function hashSeed(text: string): number {
  let hash = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    hash ^= text.charCodeAt(i);
    hash = imul(hash, 0x01000193) >>> 0;
  }
  return hash;
}

/** The seed a test file should use: its name, mixed with QKERNELS_SEED when set. */
export function testSeed(name: string): number {
  const extra = Number(process.env.QKERNELS_SEED ?? 0) >>> 0;
  return (hashSeed(name) ^ extra) >>> 0;
}

export class Rng {
  private state: number;

  constructor(readonly seed: number) {
    this.state = seed >>> 0;
  }

  /** Uniform 32-bit unsigned integer (mulberry32 step). */
  nextU32(): number {
    this.state = (this.state + 0x6d2b79f5) >>> 0;
    let t = this.state;
    t = imul(t ^ (t >>> 15), t | 1);
    t ^= t + imul(t ^ (t >>> 7), t | 61);
    return (t ^ (t >>> 14)) >>> 0;
  }

  /** Uniform in [0, 1). */
  uniform(): number {
    return this.nextU32() / 4294967296;
  }

  /** Uniform in [lo, hi). */
  range(lo: number, hi: number): number {
    return lo + (hi - lo) * this.uniform();
  }

  /** Uniform integer in [lo, hi], both inclusive; exact for spans up to 2^53. */
  int(lo: number, hi: number): number {
    const span = hi - lo + 1;
    if (span <= 4294967296) return lo + floor(this.uniform() * span);
    const high = this.nextU32() * 4294967296 + this.nextU32();
    return lo + (high % span);
  }

  bool(pTrue = 0.5): boolean {
    return this.uniform() < pTrue;
  }

  /** Standard normal (Box-Muller). */
  normal(): number {
    const u = 1 - this.uniform();
    const v = this.uniform();
    return sqrt(-2 * log(u)) * cos(2 * PI * v);
  }

  /** exp(uniform(log lo, log hi)): spreads draws evenly over orders of magnitude. */
  logUniform(lo: number, hi: number): number {
    return exp(this.range(log(lo), log(hi)));
  }

  pick<T>(items: readonly T[]): T {
    return items[floor(this.uniform() * items.length)];
  }

  shuffle<T>(items: T[]): T[] {
    for (let i = items.length - 1; i > 0; i--) {
      const j = floor(this.uniform() * (i + 1));
      [items[i], items[j]] = [items[j], items[i]];
    }
    return items;
  }

  /** A random shape of `rank` dims, each in [lo, hi]. */
  shape(rank: number, lo: number, hi: number): number[] {
    return Array.from({ length: rank }, () => this.int(lo, hi));
  }
}
