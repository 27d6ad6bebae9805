// stridedCopy (every contiguous(), broadcast copy and cat goes through it) against an index-by-index copy on random layouts.
import { stridedCopy } from '../dist/shape';
import { Rng, testSeed } from './helpers/random';

const rng = new Rng(testSeed('shape-strided-copy'));

/** dst[dstStrides . i] = src[srcStrides . i], one flat index at a time: nothing merged, nothing reordered. */
function naiveCopy(src: ArrayLike<number>, srcStrides: number[], dst: { [i: number]: number }, dstStrides: number[], shape: number[]): void {
  const numel = shape.reduce((a, b) => a * b, 1);
  for (let i = 0; i < numel; i++) {
    let rest = i;
    let s = 0;
    let d = 0;
    for (let k = shape.length - 1; k >= 0; k--) {
      const x = rest % shape[k];
      rest = (rest - x) / shape[k];
      s += x * srcStrides[k];
      d += x * dstStrides[k];
    }
    dst[d] = src[s];
  }
}

function permutation(n: number): number[] {
  const p = Array.from({ length: n }, (_, i) => i);
  for (let i = n - 1; i > 0; i--) {
    const j = rng.int(0, i);
    [p[i], p[j]] = [p[j], p[i]];
  }
  return p;
}

/** Dense strides for dims in memory order `order` (outermost first); `pad` widens the innermost run (a narrowed view). */
function stridesFor(shape: number[], order: number[], pad: number): [number[], number] {
  const strides = new Array<number>(shape.length).fill(0);
  let extent = 1;
  for (let i = order.length - 1; i >= 0; i--) {
    strides[order[i]] = extent;
    extent *= shape[order[i]] + (i === order.length - 1 ? pad : 0);
  }
  return [strides, extent];
}

const TYPES = [Uint8Array, Int8Array, Int32Array, Float32Array] as const;

test('stridedCopy equals an index-by-index copy (permuted, padded and broadcast sources; dense destinations in any order; mixed dtypes)', () => {
  let runs = 0;
  for (let t = 0; t < 3000; t++) {
    const rank = rng.int(0, 4);
    const shape = Array.from({ length: rank }, () => [1, 2, 3, 17, 20, 33][rng.int(0, 5)]);
    if (shape.reduce((a, b) => a * b, 1) > 40000) continue;
    const [dstStrides, dstExtent] = stridesFor(shape, permutation(rank), 0);
    const [srcStrides, srcExtent] = stridesFor(shape, permutation(rank), rng.int(0, 2));
    if (rank > 0 && rng.bool(0.25)) srcStrides[rng.int(0, rank - 1)] = 0;
    const src = new TYPES[rng.int(0, 3)](srcExtent + 3).map((_, i) => ((i * 37 + 11) % 251) - 120);
    const Dst = TYPES[rng.int(0, 3)];
    const got = new Dst(dstExtent + 2).fill(99);
    const want = new Dst(dstExtent + 2).fill(99);
    stridedCopy(src, srcStrides, got, dstStrides, shape);
    naiveCopy(src, srcStrides, want, dstStrides, shape);
    const first = got.findIndex((v, i) => !Object.is(v, want[i]));
    expect({ shape, srcStrides, dstStrides, first }).toEqual({ shape, srcStrides, dstStrides, first: -1 });
    // The merged-run path (TypedArray.set) is what the change is about: count the cases that reach it.
    if (rank > 0 && srcStrides[dstStrides.indexOf(1)] === 1 && shape[dstStrides.indexOf(1)] >= 16) runs++;
  }
  expect(runs).toBeGreaterThan(100);
});

// The native copy (elementwiseStridedCopy) takes copies of typed arrays of one kind from a few
// hundred elements on: the same check, on layouts that reach it, counting the calls that did.
import { native } from '../dist/elementwise/native';
import { expectValidationError } from './helpers/errors';

test('the native strided copy equals an index-by-index copy (ranks up to 6, broadcast sources, padded destinations as in cat)', () => {
  const spy = jest.spyOn(native, 'elementwiseStridedCopy');
  try {
    let broadcast = 0;
    for (let t = 0; t < 1500; t++) {
      const rank = rng.int(1, 6);
      const shape = Array.from({ length: rank }, () => [1, 2, 3, 4, 7, 16, 17, 33][rng.int(0, 7)]);
      const numel = shape.reduce((a, b) => a * b, 1);
      if (numel < 256 || numel > 60000) continue;
      const [dstStrides, dstExtent] = stridesFor(shape, permutation(rank), rng.bool(0.3) ? rng.int(1, 5) : 0);
      const [srcStrides, srcExtent] = stridesFor(shape, permutation(rank), rng.int(0, 2));
      if (rng.bool(0.4)) {
        srcStrides[rng.int(0, rank - 1)] = 0;
        broadcast++;
      }
      const Type = TYPES[rng.int(0, 3)];
      const src = new Type(srcExtent + 3).map((_, i) => ((i * 37 + 11) % 251) - 120);
      const got = new Type(dstExtent + 2).fill(99);
      const want = new Type(dstExtent + 2).fill(99);
      const before = spy.mock.calls.length;
      stridedCopy(src, srcStrides, got, dstStrides, shape);
      naiveCopy(src, srcStrides, want, dstStrides, shape);
      const first = got.findIndex((v, i) => !Object.is(v, want[i]));
      expect({ shape, srcStrides, dstStrides, first }).toEqual({ shape, srcStrides, dstStrides, first: -1 });
      // A copy of this size whose innermost destination dim is not contiguous in the source
      // (a transpose, a broadcast) has no run for set(): it must have gone native.
      const innermost = shape.map((_, d) => d).filter((d) => shape[d] > 1).sort((a, b) => dstStrides[a] - dstStrides[b])[0];
      if (innermost !== undefined && srcStrides[innermost] !== 1) expect({ shape, srcStrides, dstStrides, native: spy.mock.calls.length - before }).toEqual({ shape, srcStrides, dstStrides, native: 1 });
    }
    expect(spy.mock.calls.length).toBeGreaterThan(200);
    expect(broadcast).toBeGreaterThan(100);
  } finally {
    spy.mockRestore();
  }
});

test('the native strided copy refuses strides that reach outside either array (RangeError naming them), and leaves shared and plain-array destinations to the JS loop', () => {
  const src = new Uint8Array(1000).map((_, i) => i);
  // A 20x20 transpose reading src[399 + 19 * 20 + ...]: one stride too long for 400 elements.
  expectValidationError(() => stridedCopy(src.subarray(0, 400), [1, 21], new Uint8Array(400), [20, 1], [20, 20]), 'RangeError', 'srcStrides');
  expectValidationError(() => stridedCopy(src, [1, 20], new Uint8Array(399), [20, 1], [20, 20]), 'RangeError', 'dstStrides');
  expectValidationError(() => native.elementwiseStridedCopy(src, new Int8Array(4), new Float64Array([1, 4, 1, 1])), 'TypeError', 'dst');
  expectValidationError(() => native.elementwiseStridedCopy(src, new Uint8Array(4), new Float64Array([1, 4, 1])), 'RangeError', 'layout');
  expectValidationError(() => native.elementwiseStridedCopy(src, new Uint8Array(4), new Float64Array([1, 4, -1, 1])), 'RangeError', 'srcStrides');
  // A SharedArrayBuffer destination and a plain array destination: the JS loop, same values.
  for (const dst of [new Uint8Array(new SharedArrayBuffer(400)), new Array<number>(400).fill(0)]) {
    stridedCopy(src, [1, 20], dst, [20, 1], [20, 20]);
    const want = new Uint8Array(400);
    naiveCopy(src, [1, 20], want, [20, 1], [20, 20]);
    expect(Array.from(dst)).toEqual(Array.from(want));
  }
});

// stridedCopyNew (contiguous()'s copy): the binding makes and fills the array in one call, without
// the zero fill where the copy writes every element; it must give what stridedCopy into a fresh
// array gives, whichever path it takes, and a copy that writes part of its array leaves zeros.
import { stridedCopyNew } from '../dist/shape';

test('stridedCopyNew equals stridedCopy into a new array (dense destinations, any source layout), natively from a few hundred elements', () => {
  const spy = jest.spyOn(native, 'elementwiseStridedCopyNew');
  try {
    let checked = 0;
    for (let t = 0; t < 800; t++) {
      const rank = rng.int(1, 5);
      const shape = Array.from({ length: rank }, () => [1, 2, 3, 4, 7, 16, 17, 33][rng.int(0, 7)]);
      const numel = shape.reduce((a, b) => a * b, 1);
      if (numel > 60000) continue;
      const [dstStrides, dstExtent] = stridesFor(shape, permutation(rank), 0);
      const [srcStrides, srcExtent] = stridesFor(shape, permutation(rank), rng.int(0, 2));
      if (rng.bool(0.3)) srcStrides[rng.int(0, rank - 1)] = 0;
      const Type = TYPES[rng.int(0, 3)];
      // Garbage in the allocator: arrays freed just before are what an unfilled array could show.
      for (let k = 0; k < 4; k++) new Type(dstExtent).fill(77);
      const src = new Type(srcExtent + 3).map((_, i) => ((i * 29 + 5) % 241) - 100);
      const got = stridedCopyNew(src, srcStrides, dstStrides, shape, dstExtent, (n) => new Type(n));
      const want = new Type(dstExtent);
      naiveCopy(src, srcStrides, want, dstStrides, shape);
      expect(got.constructor.name).toBe(Type.name);  // the binding makes its arrays in the main realm, not jest's
      const first = Array.from(got).findIndex((v, i) => !Object.is(v, want[i]));
      expect({ shape, srcStrides, dstStrides, first }).toEqual({ shape, srcStrides, dstStrides, first: -1 });
      checked++;
    }
    expect(checked).toBeGreaterThan(500);
    expect(spy.mock.calls.length).toBeGreaterThan(100);
  } finally {
    spy.mockRestore();
  }
  // A copy into part of its array (a padded destination): the rest is zeros, as a JS-made array's.
  const src = new Uint8Array(400).map((_, i) => (i % 200) + 1);
  const padded = native.elementwiseStridedCopyNew(src, 20 * 30, Float64Array.of(2, 20, 20, 1, 20, 30, 1)) as Uint8Array;
  const want = new Uint8Array(600);
  naiveCopy(src, [1, 20], want, [30, 1], [20, 20]);
  expect(Array.from(padded)).toEqual(Array.from(want));
  expectValidationError(() => native.elementwiseStridedCopyNew(src, 399, Float64Array.of(2, 20, 20, 1, 20, 20, 1)), 'RangeError', 'dstStrides');
  expectValidationError(() => native.elementwiseStridedCopyNew(src, 400, Float64Array.of(2, 20, 20, 1, 21, 20, 1)), 'RangeError', 'srcStrides');
  expectValidationError(() => native.elementwiseStridedCopyNew(src, 400, Float64Array.of(1, 4, 1)), 'RangeError', 'layout');
  expectValidationError(() => native.elementwiseStridedCopyNew([1, 2] as unknown as Uint8Array, 2, Float64Array.of(1, 2, 1, 1)), 'TypeError', 'src');
});
