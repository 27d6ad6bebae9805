// The pool-norm ops as jit.trace plan steps: each recorded step, replayed in a one-step plan on new inputs, gives the eager op's bytes (sync and async).
//
// Raw binding arguments, as lib/pool-norm/plan.ts forms them: every dtype, both layouts, and
// the options that change the math (countIncludePad, divisorOverride, QNNPACK's average pool,
// batch norm's relu, norms with and without affine parameters), on every dispatch path.
import { describeEachPath } from './helpers/paths';
import { Rng, testSeed } from './helpers/random';
import { addon as loadedAddon } from '../dist/native';
import { expectReplays } from './helpers/trace-steps';

// eslint-disable-next-line @typescript-eslint/no-explicit-any
const raw = loadedAddon as unknown as Record<string, (...args: any[]) => unknown>;

const rng = new Rng(testSeed('trace-steps-pool-norm'));

const DTYPES = [
  { name: 'quint8', code: 0, lo: 0 },
  { name: 'qint8', code: 1, lo: -128 },
] as const;
type DType = (typeof DTYPES)[number];
const LAYOUTS = [0, 1] as const; // 0 channels first, 1 channels last

function values(dtype: DType, numel: number): Uint8Array | Int8Array {
  const data = dtype.code === 0 ? new Uint8Array(numel) : new Int8Array(numel);
  for (let i = 0; i < numel; i++) data[i] = rng.int(dtype.lo, dtype.lo + 255);
  return data;
}

function floats(n: number, lo: number, hi: number): Float32Array {
  return Float32Array.from({ length: n }, () => rng.range(lo, hi));
}

/** Two inputs of one shape with other values: what the step is traced on and what its plan replays. */
function inputPair(dtype: DType, numel: number): [Uint8Array | Int8Array, Uint8Array | Int8Array] {
  return [values(dtype, numel), values(dtype, numel)];
}

/** PyTorch's pooling_output_shape (lib/pool-norm/plan.ts poolOutputSize). */
function poolOutput(input: number, kernel: number, padding: number, stride: number, dilation: number, ceil: boolean): number {
  const span = input + 2 * padding - dilation * (kernel - 1) - 1 + (ceil ? stride - 1 : 0);
  let size = Math.floor(span / stride) + 1;
  if (ceil && (size - 1) * stride >= input + padding) size--;
  return size;
}

interface Window {
  kernel: number[];
  stride: number[];
  padding: number[];
  dilation: number[];
  ceil?: boolean;
}

/** [batch, channels, in DHW, out DHW, kernel DHW, stride DHW, padding DHW, dilation DHW] (native/addon/pool-norm.cc). */
function poolGeometry(batch: number, channels: number, input: number[], w: Window): Float64Array {
  const output = input.map((s, d) => poolOutput(s, w.kernel[d], w.padding[d], w.stride[d], w.dilation[d], w.ceil ?? false));
  return Float64Array.from([batch, channels, ...input, ...output, ...w.kernel, ...w.stride, ...w.padding, ...w.dilation]);
}

/** An adaptive pool's geometry: the window fields unused (1s and 0 padding). */
function adaptiveGeometry(batch: number, channels: number, input: number[], output: number[]): Float64Array {
  return Float64Array.from([batch, channels, ...input, ...output, 1, 1, 1, 1, 1, 1, 0, 0, 0, 1, 1, 1]);
}

/** [batch, channels, in DHW, out DHW, scaleFactor DHW (0: none)]. */
function resampleGeometry(batch: number, channels: number, input: number[], output: number[], scales: number[]): Float64Array {
  return Float64Array.from([batch, channels, ...input, ...output, ...scales]);
}

const numel = (dims: number[]) => dims.reduce((a, b) => a * b, 1);

const WINDOWS: { label: string; input: number[]; w: Window }[] = [
  { label: '2-D 3x3 s2 p1', input: [1, 7, 9], w: { kernel: [1, 3, 3], stride: [1, 2, 2], padding: [0, 1, 1], dilation: [1, 1, 1] } },
  { label: '2-D 2x3 s1 ceil', input: [1, 6, 5], w: { kernel: [1, 2, 3], stride: [1, 2, 1], padding: [0, 1, 0], dilation: [1, 1, 1], ceil: true } },
  { label: '3-D 2x2x2', input: [4, 5, 6], w: { kernel: [2, 2, 2], stride: [1, 2, 2], padding: [1, 0, 1], dilation: [1, 1, 1] } },
];

describeEachPath('pool-norm plan steps', () => {
  for (const dtype of DTYPES) {
    for (const layout of LAYOUTS) {
      const tag = `${dtype.name} layout ${layout}`;

      for (const { label, input, w } of WINDOWS) {
        test(`maxPool ${tag} ${label}`, async () => {
          const g = poolGeometry(2, 5, input, w);
          const [a, b] = inputPair(dtype, 2 * 5 * numel(input));
          await expectReplays('maxPool', [a, dtype.code, layout, g], [b, dtype.code, layout, g], [0]);
        });
      }
      test(`maxPool ${tag} dilation 2`, async () => {
        const g = poolGeometry(1, 3, [1, 8, 7], { kernel: [1, 3, 2], stride: [1, 1, 2], padding: [0, 1, 1], dilation: [1, 2, 2] });
        const [a, b] = inputPair(dtype, 3 * 8 * 7);
        await expectReplays('maxPool', [a, dtype.code, layout, g], [b, dtype.code, layout, g], [0]);
      });

      for (const { label, input, w } of WINDOWS) {
        for (const countIncludePad of [true, false]) {
          for (const divisor of [0, 3]) {
            test(`avgPool ${tag} ${label} countIncludePad ${countIncludePad} divisorOverride ${divisor}`, async () => {
              const g = poolGeometry(2, 4, input, w);
              const [a, b] = inputPair(dtype, 2 * 4 * numel(input));
              const zp = rng.int(dtype.lo, dtype.lo + 255);
              const tail = [countIncludePad, divisor, zp, 0];
              await expectReplays('avgPool', [a, dtype.code, layout, g, ...tail], [b, dtype.code, layout, g, ...tail], [0]);
            });
          }
        }
      }
      if (dtype.name === 'quint8') {
        // QNNPACK's formula (engine qnnpack: 2-D quint8, no ceil mode), with the input scale.
        test(`avgPool ${tag} qnnpack scale`, async () => {
          const g = poolGeometry(1, 6, [1, 6, 7], { kernel: [1, 3, 2], stride: [1, 2, 2], padding: [0, 1, 1], dilation: [1, 1, 1] });
          const [a, b] = inputPair(dtype, 6 * 6 * 7);
          const tail = [false, 0, 17, 0.037];
          await expectReplays('avgPool', [a, dtype.code, layout, g, ...tail], [b, dtype.code, layout, g, ...tail], [0]);
        });
      }

      for (const [input, output] of [[[1, 7, 9], [1, 3, 4]], [[3, 5, 4], [2, 2, 3]]]) {
        test(`adaptiveAvgPool ${tag} [${input}] -> [${output}]`, async () => {
          const g = adaptiveGeometry(2, 3, input, output);
          const [a, b] = inputPair(dtype, 2 * 3 * numel(input));
          const zp = rng.int(dtype.lo, dtype.lo + 255);
          await expectReplays('adaptiveAvgPool', [a, dtype.code, layout, g, zp], [b, dtype.code, layout, g, zp], [0]);
        });
        test(`adaptiveMaxPool ${tag} [${input}] -> [${output}]`, async () => {
          const g = adaptiveGeometry(2, 3, input, output);
          const [a, b] = inputPair(dtype, 2 * 3 * numel(input));
          await expectReplays('adaptiveMaxPool', [a, dtype.code, layout, g], [b, dtype.code, layout, g], [0]);
        });
      }

      for (const [input, output, scales] of [
        [[1, 4, 5], [1, 8, 10], [0, 2, 2]],
        [[1, 5, 3], [1, 7, 8], [0, 0, 0]],
        [[2, 3, 4], [3, 5, 4], [0, 0, 0]],
      ]) {
        test(`upsampleNearest ${tag} [${input}] -> [${output}] scales [${scales}]`, async () => {
          const g = resampleGeometry(2, 3, input, output, scales);
          const [a, b] = inputPair(dtype, 2 * 3 * numel(input));
          await expectReplays('upsampleNearest', [a, dtype.code, layout, g], [b, dtype.code, layout, g], [0]);
        });
      }
      for (const alignCorners of [false, true]) {
        test(`upsampleBilinear ${tag} alignCorners ${alignCorners}`, async () => {
          const g = resampleGeometry(2, 3, [1, 4, 5], [1, 7, 9], [0, 0, 0]);
          const [a, b] = inputPair(dtype, 2 * 3 * 20);
          const zp = rng.int(dtype.lo, dtype.lo + 255);
          const tail = [alignCorners, zp];
          await expectReplays('upsampleBilinear', [a, dtype.code, layout, g, ...tail], [b, dtype.code, layout, g, ...tail], [0]);
        });
      }
    }

    for (const channelsLast of [false, true]) {
      for (const affine of [false, true]) {
        for (const relu of [false, true]) {
          test(`batchNorm ${dtype.name} channelsLast ${channelsLast} affine ${affine} relu ${relu}`, async () => {
            const [batch, channels, spatial] = [2, 5, 12];
            const [a, b] = inputPair(dtype, batch * channels * spatial);
            // The statistics and affine parameters are the step's (captured), not graph inputs.
            const params = [
              affine ? floats(channels, 0.5, 2) : null, affine ? floats(channels, -1, 1) : null,
              floats(channels, -1, 1), floats(channels, 0.2, 3), 1e-5,
              0.05, rng.int(dtype.lo, dtype.lo + 255), 0.07, rng.int(dtype.lo, dtype.lo + 255), relu,
            ];
            const head = [dtype.code, channelsLast, batch, channels, spatial];
            await expectReplays('batchNorm', [a, ...head, ...params], [b, ...head, ...params], [0]);
          });
        }
      }
    }

    for (const affine of [false, true]) {
      test(`normalize (layer norm) ${dtype.name} affine ${affine}`, async () => {
        const [groups, groupSize] = [6, 20];
        const [a, b] = inputPair(dtype, groups * groupSize);
        const args = (x: unknown) => [
          x, dtype.code, groups, groupSize, false, 0, 0,
          affine ? gamma : null, affine ? beta : null, 1e-5, Math.fround(0.04), 3, Math.fround(0.06), 5,
        ];
        const gamma = floats(groupSize, 0.5, 2);
        const beta = floats(groupSize, -1, 1);
        await expectReplays('normalize', args(a), args(b), [0]);
      });
      test(`normalize (group norm) ${dtype.name} affine ${affine}`, async () => {
        // (N 2, C 6, 10 spatial) in 3 groups of 2 channels: groups = N * 3, groupSize = 20.
        const [n, channels, numGroups, spatial] = [2, 6, 3, 10];
        const groupSize = (channels / numGroups) * spatial;
        const [a, b] = inputPair(dtype, n * channels * spatial);
        const gamma = floats(channels, 0.5, 2);
        const beta = floats(channels, -1, 1);
        const args = (x: unknown) => [
          x, dtype.code, n * numGroups, groupSize, true, channels, channels / numGroups,
          affine ? gamma : null, affine ? beta : null, 1e-5, Math.fround(0.03), 2, Math.fround(0.05), 1,
        ];
        await expectReplays('normalize', args(a), args(b), [0]);
      });
      test(`normalize (instance norm) ${dtype.name} affine ${affine}`, async () => {
        const [n, channels, spatial] = [2, 4, 9];
        const [a, b] = inputPair(dtype, n * channels * spatial);
        const gamma = floats(channels, 0.5, 2);
        const beta = floats(channels, -1, 1);
        const args = (x: unknown) => [
          x, dtype.code, n * channels, spatial, true, channels, 1,
          affine ? gamma : null, affine ? beta : null, 1e-5, Math.fround(0.03), 0, Math.fround(0.05), 0,
        ];
        await expectReplays('normalize', args(a), args(b), [0]);
      });
    }
  }
});

describe('pool-norm plan steps on empty tensors', () => {
  // The eager op computes nothing and returns a fresh (zeroed) output; so does the step, in a plan too.
  test('maxPool, batch 0', async () => {
    const g = poolGeometry(0, 3, [1, 4, 4], { kernel: [1, 2, 2], stride: [1, 2, 2], padding: [0, 0, 0], dilation: [1, 1, 1] });
    await expectReplays('maxPool', [new Uint8Array(0), 0, 1, g], [new Uint8Array(0), 0, 1, g], [0]);
  });
  test('adaptiveAvgPool, 0 channels', async () => {
    const g = adaptiveGeometry(2, 0, [1, 4, 4], [1, 2, 2]);
    await expectReplays('adaptiveAvgPool', [new Int8Array(0), 1, 0, g, 0], [new Int8Array(0), 1, 0, g, 0], [0]);
  });
  test('adaptiveMaxPool, input height 0: no window to take a max of, a RangeError (eager and traced)', () => {
    // Not a zeroed output: the prepared op refuses the geometry before anything runs, as PyTorch
    // refuses an empty adaptive pooling input.
    const g = adaptiveGeometry(1, 3, [1, 0, 4], [1, 2, 2]);
    for (const op of ['adaptiveMaxPool', 'adaptiveMaxPoolTrace']) {
      expect(() => raw[op](new Uint8Array(0), 0, 0, g)).toThrow(new RangeError('Expected positive sizes for outputSize and input height but received 0'));
    }
  });
  test('upsampleNearest, batch 0', async () => {
    const g = resampleGeometry(0, 2, [1, 2, 2], [1, 4, 4], [0, 2, 2]);
    await expectReplays('upsampleNearest', [new Uint8Array(0), 0, 0, g], [new Uint8Array(0), 0, 0, g], [0]);
  });
  test('batchNorm, batch 0', async () => {
    const params = [null, null, new Float32Array(3), new Float32Array([1, 1, 1]), 1e-5, 0.1, 0, 0.1, 0, false];
    await expectReplays('batchNorm', [new Uint8Array(0), 0, false, 0, 3, 4, ...params], [new Uint8Array(0), 0, false, 0, 3, 4, ...params], [0]);
  });
});
