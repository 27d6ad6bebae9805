// The binary family's ops as jit.trace plan steps: each recorded step, replayed in a one-step plan on new inputs, gives the eager op's bytes (sync and async).
//
// Raw binding arguments, as lib/binary/modules.ts forms them: bit packing and unpacking with
// both rules and grouped layouts; the binary convolution on float and on packed input, with
// float or bit output, both pad values and with and without bias; the multi-bit (DoReFa)
// convolution on int8 kernels; on every dispatch path.
import { bitorch, tensor } from '..';
import { convSpec, geometryArray } from '../dist/linear-conv/params';
import { binaryAddon } from '../dist/binary/native';
import { describeEachPath } from './helpers/paths';
import { Rng, testSeed } from './helpers/random';
import { expectReplays } from './helpers/trace-steps';

const rng = new Rng(testSeed('trace-steps-binary'));

function floats(n: number, lo: number, hi: number): Float32Array {
  return Float32Array.from({ length: n }, () => rng.range(lo, hi));
}

/** Random 64-bit words (bits beyond a group's channels included: unpacking ignores them). */
function words(n: number): BigUint64Array {
  return BigUint64Array.from({ length: n }, () => (BigInt(rng.nextU32()) << 32n) | BigInt(rng.nextU32()));
}

const groupWords = (channels: number, groups: number) => Math.ceil(channels / groups / 64);
const product = (dims: number[]) => dims.reduce((a, b) => a * b, 1);

interface Layer {
  label: string;
  dims: 1 | 2 | 3;
  inChannels: number;
  outChannels: number;
  kernel: number[];
  stride: number[];
  padding: number[];
  groups: number;
  inSpatial: number[];
}

const LAYERS: Layer[] = [
  { label: '1-D 70->24 k3 p1', dims: 1, inChannels: 70, outChannels: 24, kernel: [3], stride: [1], padding: [1], groups: 1, inSpatial: [11] },
  { label: '2-D 16->8 k3 s2 p1 groups 2', dims: 2, inChannels: 16, outChannels: 8, kernel: [3, 3], stride: [2, 2], padding: [1, 1], groups: 2, inSpatial: [7, 6] },
  { label: '2-D 130->65 k1', dims: 2, inChannels: 130, outChannels: 65, kernel: [1, 1], stride: [1, 1], padding: [0, 0], groups: 1, inSpatial: [3, 4] },
  { label: '3-D 8->6 k2 p1', dims: 3, inChannels: 8, outChannels: 6, kernel: [2, 2, 2], stride: [1, 1, 1], padding: [1, 0, 1], groups: 1, inSpatial: [3, 4, 3] },
];

function geometryOf(layer: Layer): Float64Array {
  return geometryArray(convSpec({
    dims: layer.dims, transposed: false, inChannels: layer.inChannels, outChannels: layer.outChannels, kernel: layer.kernel,
    stride: layer.stride, padding: layer.padding, groups: layer.groups,
  }));
}

function weightCount(layer: Layer): number {
  return layer.outChannels * (layer.inChannels / layer.groups) * product(layer.kernel);
}

/** Random activations with the edges of every quantization: zeros, NaN, infinities, the clamp bounds, rounding ties (r + 0.5) / n. */
function activations(count: number, n: number): Float32Array {
  const x = floats(count, -0.5, 1.5);
  const edges = [0, -0, Number.NaN, Infinity, -Infinity, 1, -1, ...Array.from({ length: Math.min(n, 64) }, (_, r) => Math.fround((r + 0.5) / n))];
  edges.forEach((v, i) => (x[(i * 5) % x.length] = v));
  return x;
}

describeEachPath('binary plan steps', () => {
  const QUANTIZE = [
    { name: 'sign', code: 0, bits: 1, quantization: new bitorch.Sign() },
    { name: 'approxsign', code: 0, bits: 1, quantization: new bitorch.ApproxSign() },
    { name: 'steheaviside', code: 1, bits: 1, quantization: new bitorch.SteHeaviside() },
    ...[1, 2, 4, 7, 8, 16].map((bits) => ({ name: `inputdorefa(${bits})`, code: 2, bits, quantization: new bitorch.InputDoReFa(bits) })),
  ];
  for (const q of QUANTIZE) {
    test(`binaryQuantize ${q.name}`, async () => {
      const count = 3 * 7 * 11;
      const [a, b] = [activations(count, 2 ** q.bits - 1), activations(count, 2 ** q.bits - 1)];
      await expectReplays('binaryQuantize', [a, q.code, q.bits], [b, q.code, q.bits], [0]);
      // Quantization.quantize runs it; quantizeValues (the JS forward it replaced) gives the same bits.
      expect(q.quantization.nativeQuantization()).toEqual({ code: q.code, bits: q.bits });
      const native = q.quantization.quantize(tensor(a, [3, 7, 11])).data;
      expect(Buffer.from(native.buffer).equals(Buffer.from(q.quantization.quantizeValues(a).buffer))).toBe(true);
    });
  }

  for (const groups of [1, 2]) {
    for (const rule of [0, 1]) {
      test(`binaryPack groups ${groups} rule ${rule}`, async () => {
        const [batch, channels, positions] = [2, 70, 9];
        // Zeros and NaN: the values where sign and heaviside disagree.
        const input = () => {
          const x = floats(batch * channels * positions, -1, 1);
          for (let i = 0; i < x.length; i += 7) x[i] = i % 3 === 0 ? 0 : Number.NaN;
          return x;
        };
        const tail = [batch, channels, positions, groups, rule];
        await expectReplays('binaryPack', [input(), ...tail], [input(), ...tail], [0]);
      });
    }
    test(`binaryUnpack groups ${groups}`, async () => {
      const [batch, channels, positions] = [2, 70, 9];
      const n = batch * positions * groups * groupWords(channels, groups);
      const tail = [batch, channels, positions, groups];
      await expectReplays('binaryUnpack', [words(n), ...tail], [words(n), ...tail], [0]);
    });
  }

  for (const layer of LAYERS) {
    for (const padValue of [-1, 1, 0.5]) {
      for (const withBias of [false, true]) {
        const handle = () => {
          const w = Float32Array.from({ length: weightCount(layer) }, () => (rng.bool() ? 1 : -1));
          const bias = withBias ? floats(layer.outChannels, -2, 2) : null;
          return binaryAddon.binaryConvPrepack(geometryOf(layer), w, padValue, bias);
        };
        const batch = 2;
        const floatInput = () => floats(batch * layer.inChannels * product(layer.inSpatial), -1, 1);
        // Packed as binaryPack packs (a BitTensor's bits): the bits past a group's channels are 0.
        const packedInput = () => binaryAddon.binaryPack(floatInput(), batch, layer.inChannels, product(layer.inSpatial), layer.groups, 0);
        const tag = `${layer.label} padValue ${padValue} bias ${withBias}`;

        for (const inputRule of [0, 1]) {
          test(`binaryConvForward ${tag} float input rule ${inputRule} -> floats`, async () => {
            const h = handle();
            const args = (x: unknown) => [h, x, batch, layer.inSpatial, inputRule, null, 0];
            await expectReplays('binaryConvForward', args(floatInput()), args(floatInput()), [1]);
          });
        }
        test(`binaryConvForward ${tag} packed input -> floats`, async () => {
          const h = handle();
          const args = (x: unknown) => [h, x, batch, layer.inSpatial, 0, null, 0];
          await expectReplays('binaryConvForward', args(packedInput()), args(packedInput()), [1]);
        });
        for (const outRule of [0, 1]) {
          const outGroups = layer.outChannels % 2 === 0 ? 2 : 1;
          test(`binaryConvForward ${tag} float input -> bits for ${outGroups} groups, rule ${outRule}`, async () => {
            const h = handle();
            const args = (x: unknown) => [h, x, batch, layer.inSpatial, 1, outGroups, outRule];
            await expectReplays('binaryConvForward', args(floatInput()), args(floatInput()), [1]);
          });
          test(`binaryConvForward ${tag} packed input -> bits, rule ${outRule}`, async () => {
            const h = handle();
            const args = (x: unknown) => [h, x, batch, layer.inSpatial, 0, 1, outRule];
            await expectReplays('binaryConvForward', args(packedInput()), args(packedInput()), [1]);
          });
        }
      }
    }

    for (const bits of [1, 2, 4]) {
      for (const withBias of [false, true]) {
        test(`lowBitConvForward ${layer.label} ${bits}-bit DoReFa bias ${withBias}`, async () => {
          // Weight levels (2q - n), input levels value * n + n (zero point n; the pad value -1 is level 0).
          const n = 2 ** bits - 1;
          const levels = Int8Array.from({ length: weightCount(layer) }, () => 2 * rng.int(0, n) - n);
          const bias = withBias ? floats(layer.outChannels, -2, 2) : null;
          const h = binaryAddon.lowBitConvPrepack(geometryOf(layer), levels, 1 / n, 1 / n, n, 0, bias);
          const batch = 2;
          const input = () => Uint8Array.from({ length: batch * layer.inChannels * product(layer.inSpatial) }, () => rng.int(n, 2 * n));
          const args = (x: unknown) => [h, x, batch, layer.inSpatial];
          await expectReplays('lowBitConvForward', args(input()), args(input()), [1]);
        });
      }
    }

    // Float activations, leveled by the binding under the layer's input quantization.
    const QUANTIZATIONS = [
      { name: 'sign', code: 0, bits: 1, quantization: new bitorch.Sign(), scale: 1, zeroPoint: 1 },
      { name: 'steheaviside', code: 1, bits: 1, quantization: new bitorch.SteHeaviside(), scale: 1, zeroPoint: 1 },
      ...[1, 2, 3, 7].map((bits) => ({
        name: `inputdorefa(${bits})`, code: 2, bits, quantization: new bitorch.InputDoReFa(bits), scale: 1 / (2 ** bits - 1), zeroPoint: 2 ** bits - 1,
      })),
    ];
    for (const q of QUANTIZATIONS) {
      test(`lowBitConvForward ${layer.label} float input, ${q.name}`, async () => {
        const levels = Int8Array.from({ length: weightCount(layer) }, () => 2 * rng.int(0, 3) - 3);
        const h = binaryAddon.lowBitConvPrepack(geometryOf(layer), levels, 1 / 3, q.scale, q.zeroPoint, 0, floats(layer.outChannels, -1, 1));
        const batch = 2;
        const n = 2 ** q.bits - 1;
        const count = batch * layer.inChannels * product(layer.inSpatial);
        const args = (x: unknown) => [h, x, batch, layer.inSpatial, q.code, q.bits];
        const [a, b] = [activations(count, n), activations(count, n)];
        await expectReplays('lowBitConvForward', args(a), args(b), [1]);
        // The levels lib/binary computed in JS before the binding did: the quantized value read back on the grid.
        const quantized = q.quantization.quantize(tensor(a, [a.length])).data;
        const jsLevels = Uint8Array.from(quantized, (v) => Math.round(v / q.scale) + q.zeroPoint);
        const fromLevels = binaryAddon.lowBitConvForward(h, jsLevels, batch, layer.inSpatial);
        const fromFloats = binaryAddon.lowBitConvForward(h, a, batch, layer.inSpatial, q.code as 0 | 1 | 2, q.bits);
        expect(Buffer.from(fromFloats.buffer).equals(Buffer.from(fromLevels.buffer))).toBe(true);
      });
    }
  }
});

test('lowBitConvForward on floats needs a valid input quantization', () => {
  const layer = LAYERS[0];
  const h = binaryAddon.lowBitConvPrepack(geometryOf(layer), new Int8Array(weightCount(layer)).fill(1), 1, 1, 1, 0, null);
  const x = floats(layer.inChannels * product(layer.inSpatial), -1, 1);
  const call = (...tail: unknown[]) => () => (binaryAddon.lowBitConvForward as (...a: unknown[]) => unknown)(h, x, 1, layer.inSpatial, ...tail);
  // (Messages, not classes: the addon's errors come from another realm than jest's.)
  expect(call()).toThrow(/Expected number for inputQuantization/);
  expect(call(3, 1)).toThrow(/Expected input quantization code 0 \(sign\), 1 \(heaviside\) or 2 \(inputdorefa\) for inputQuantization/);
  expect(call(2 ** 32, 1)).toThrow(/for inputQuantization/);
  expect(call(2, 8)).toThrow(/Expected an integer in \[1, 7\].* for bits/);
  expect(call(2, 0)).toThrow(/for bits/);
  expect(call(0, 0)).not.toThrow();
});

test('a Quantization subclass with its own quantizeValues keeps it (never the native forward)', () => {
  class Halved extends bitorch.Sign {
    override quantizeValues(values: Float32Array): Float32Array {
      return values.map((v) => (v < 0 ? -0.5 : 0.5));
    }
  }
  const q = new Halved();
  expect(q.nativeQuantization()).toBeNull();
  expect(Array.from(q.quantize(tensor(new Float32Array([-2, 0, 3]), [3])).data)).toEqual([-0.5, 0.5, 0.5]);
  expect(new bitorch.Identity().nativeQuantization()).toBeNull();
});

test('binaryQuantize needs a valid input quantization', () => {
  const call = (...tail: unknown[]) => () => (binaryAddon.binaryQuantize as (...a: unknown[]) => unknown)(new Float32Array(4), ...tail);
  expect(call()).toThrow(/Expected number for inputQuantization/);
  expect(call(3, 1)).toThrow(/for inputQuantization/);
  expect(call(2, 17)).toThrow(/Expected an integer in \[1, 16\].* for bits/);
  expect(call(2, 16)).not.toThrow();
});

describe('binary plan steps on empty tensors', () => {
  test('binaryQuantize, no values', async () => {
    await expectReplays('binaryQuantize', [new Float32Array(0), 2, 3], [new Float32Array(0), 2, 3], [0]);
  });
  test('binaryPack, batch 0', async () => {
    await expectReplays('binaryPack', [new Float32Array(0), 0, 64, 3, 1, 0], [new Float32Array(0), 0, 64, 3, 1, 0], [0]);
  });
  test('binaryUnpack, 0 positions', async () => {
    await expectReplays('binaryUnpack', [new BigUint64Array(0), 2, 64, 0, 1], [new BigUint64Array(0), 2, 64, 0, 1], [0]);
  });
  test('binaryConvForward, batch 0, float and packed input', async () => {
    const layer = LAYERS[1];
    const w = Float32Array.from({ length: weightCount(layer) }, () => (rng.bool() ? 1 : -1));
    const h = binaryAddon.binaryConvPrepack(geometryOf(layer), w, -1, null);
    await expectReplays('binaryConvForward', [h, new Float32Array(0), 0, layer.inSpatial, 0, null, 0], [h, new Float32Array(0), 0, layer.inSpatial, 0, null, 0], [1]);
    await expectReplays('binaryConvForward', [h, new BigUint64Array(0), 0, layer.inSpatial, 0, 1, 0], [h, new BigUint64Array(0), 0, layer.inSpatial, 0, 1, 0], [1]);
  });
  test('lowBitConvForward, batch 0', async () => {
    const layer = LAYERS[0];
    const h = binaryAddon.lowBitConvPrepack(geometryOf(layer), new Int8Array(weightCount(layer)).fill(1), 1, 1, 1, 0, null);
    await expectReplays('lowBitConvForward', [h, new Uint8Array(0), 0, layer.inSpatial], [h, new Uint8Array(0), 0, layer.inSpatial], [1]);
  });
});
