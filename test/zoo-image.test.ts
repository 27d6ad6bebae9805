// image transforms against torchvision's (resize bilinear, center crop, to-tensor, normalize) on the same decoded pixels; sharp decoding.
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { image } from '..';
import { runNodeJson } from './helpers/child';
import { Rng, testSeed } from './helpers/random';
import { describeOracle, okResult, OracleResult, runOracle, shaped } from './oracle';

interface ImageCase {
  width: number;
  height: number;
  pixels: Uint8Array;
  resize: number | [number, number];
  crop: number;
}

function makeCases(): ImageCase[] {
  const rng = new Rng(testSeed('zoo-image'));
  const sizes: Array<[number, number, number | [number, number], number]> = [
    [97, 61, 40, 32], [61, 97, 40, 40], [300, 200, 256, 224], [33, 33, 64, 56], [50, 80, [30, 45], 20],
    [16, 16, 16, 24], [123, 45, 45, 45], [7, 300, 20, 20],
  ];
  return sizes.map(([width, height, resize, crop]) => {
    // Smooth gradients with noise: covers interpolation between neighbours of every size.
    const pixels = new Uint8Array(width * height * 3);
    for (let y = 0; y < height; y++) {
      for (let x = 0; x < width; x++) {
        for (let c = 0; c < 3; c++) pixels[(y * width + x) * 3 + c] = Math.min(255, Math.floor(((x + 2 * y + 50 * c) % 256) * 0.8 + rng.int(0, 50)));
      }
    }
    return { width, height, pixels, resize, crop };
  });
}

describeOracle('image transforms against torchvision', () => {
  const cases = makeCases();
  let results: OracleResult[];
  beforeAll(() => {
    results = runOracle(cases.map((c) => ({
      op: 'classification_transforms', pixels: shaped(c.pixels, [c.height, c.width, 3]),
      resize: Array.isArray(c.resize) ? [...c.resize] : c.resize, crop: c.crop,
    })));
  });

  // torch's bilinear kernel sums its four taps in an order (and with FMA contraction, per build)
  // that JS cannot see, so the float before rounding differs by a few ulps: a pixel whose value
  // lies within that of a .5 tie rounds the other way. Resize is held to 1 level on those few
  // pixels; crop and to-tensor/normalize are exact given the same pixels.
  test.each(makeCases().map((c, i) => [i, `${c.width}x${c.height} resize ${String(c.resize)} crop ${c.crop}`]))('case %i (%s): resize within 1 level (few pixels), centerCrop and toTensor exact', (i) => {
    const c = cases[i as number];
    const expected = okResult(results[i as number], `case ${i}`);
    const resized = image.resize({ data: c.pixels, width: c.width, height: c.height }, c.resize);
    expect([resized.height, resized.width]).toEqual(expected.resized.shape.slice(0, 2));
    let differing = 0;
    let worst = 0;
    resized.data.forEach((v, k) => {
      const d = Math.abs(v - expected.resized.data[k]);
      if (d > 0) differing++;
      worst = Math.max(worst, d);
    });
    expect(worst).toBeLessThanOrEqual(1);
    expect(differing / resized.data.length).toBeLessThan(0.01);
    const torchResized = { data: expected.resized.data as Uint8Array, width: resized.width, height: resized.height };
    const cropped = image.centerCrop(torchResized, c.crop);
    expect(Buffer.from(cropped.data).equals(Buffer.from(expected.cropped.data as Uint8Array))).toBe(true);
    const x = image.toTensor(cropped);
    expect(x.shape).toEqual(expected.normalized.shape);
    expect(Buffer.from(x.data.buffer).equals(Buffer.from((expected.normalized.data as Float32Array).buffer))).toBe(true);
    if (typeof c.resize === 'number') {
      const composed = image.classificationTransform({ data: c.pixels, width: c.width, height: c.height }, { resizeSize: c.resize, cropSize: c.crop });
      expect(Array.from(composed.data)).toEqual(Array.from(image.toTensor(image.centerCrop(resized, c.crop)).data));
    }
  });
});

describe('image input errors and decoding', () => {
  test('bad images and sizes name the parameter', () => {
    expect(() => image.resize({ data: new Uint8Array(5), width: 2, height: 1 }, 4)).toThrow(/image\.data/);
    expect(() => image.centerCrop({ data: new Uint8Array(6), width: 2, height: 1 }, 0)).toThrow(/size/);
    expect(() => image.toTensor({ data: new Uint8Array(3), width: 1, height: 1 }, { std: [1, 0, 1] })).toThrow(/options\.std\[1\]/);
  });

  test('decodeImage decodes PNG through sharp to the exact pixels', async () => {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const sharp = require('sharp');
    const width = 5;
    const height = 3;
    const pixels = Buffer.from(Array.from({ length: width * height * 3 }, (_, i) => (i * 37) % 256));
    const file = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'qk-image-')), 'x.png');
    await sharp(pixels, { raw: { width, height, channels: 3 } }).png().toFile(file);
    const decoded = await image.decodeImage(file);
    expect([decoded.width, decoded.height]).toEqual([width, height]);
    expect(Buffer.from(decoded.data).equals(pixels)).toBe(true);
    await expect(image.decodeImage(Buffer.from('not an image'))).rejects.toThrow();
    await expect(image.decodeImage(42 as never)).rejects.toThrow(/input/);
  });

  test('without sharp, decodeImage says how to install it', () => {
    // A child whose module resolution cannot find 'sharp', as after npm install --omit=dev.
    const report = runNodeJson<{ message: string }>(`
      const Module = require('module');
      const resolve = Module._resolveFilename;
      Module._resolveFilename = function (request, ...rest) {
        if (request === 'sharp') throw Object.assign(new Error("Cannot find module 'sharp'"), { code: 'MODULE_NOT_FOUND' });
        return resolve.call(this, request, ...rest);
      };
      require('.').image.decodeImage('demo/assets/sample.png').then(
        () => console.log(JSON.stringify({ message: 'decoded' })),
        (error) => console.log(JSON.stringify({ message: error.message })));`);
    expect(report.message).toMatch(/decoding images needs the optional package sharp.*Cannot find module 'sharp'.*npm install sharp/);
  });
});
