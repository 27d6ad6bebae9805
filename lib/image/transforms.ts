// torchvision's classification transforms (resize, center crop, to-tensor, normalize) on decoded 8-bit RGB pixels, as torchvision computes them on a uint8 tensor.
//
// torchvision 0.14 on a uint8 image tensor [3, H, W]:
//   F.resize(img, size)       torch.nn.functional.interpolate(bilinear, align_corners=False,
//                             antialias=False) in float32, then torch.round (ties to even) to uint8
//   F.center_crop(img, size)  top = round((H - h) / 2), left likewise (Python's round: ties to
//                             even); a crop larger than the image pads with 0 first
//   F.convert_image_dtype     x.to(float32) / 255
//   F.normalize(x, mean, std) (x - mean) / std, mean and std as float32
// Images here are interleaved RGB (HWC), as decoders return them. Crop, to-tensor and normalize
// are bit-exact. Resize computes torch's taps and weights in float32, but torch's kernel sums
// the four taps in its own order (FMA-contracted in its AVX2 build), a few ulps away from this
// one: a pixel that lands within those ulps of a .5 tie can round to the neighbouring level
// (under 1% of pixels, never more than 1 apart; test/zoo-image.test.ts measures it).

import { Tensor } from '../tensor';
import * as validate from '../validate';

/** Decoded pixels: `data` holds height * width * 3 bytes, RGB interleaved, row by row. */
export interface RGBImage {
  data: Uint8Array;
  width: number;
  height: number;
}

export const IMAGENET_MEAN: readonly number[] = Object.freeze([0.485, 0.456, 0.406]);
export const IMAGENET_STD: readonly number[] = Object.freeze([0.229, 0.224, 0.225]);

function checkImage(image: unknown, parameter: string): RGBImage {
  const img = image as RGBImage;
  if (img === null || typeof img !== 'object' || !(img.data instanceof Uint8Array)) {
    throw validate.invalidType('RGB image { data: Uint8Array, width, height }', parameter, image);
  }
  validate.integerInRange(img.width, `${parameter}.width`, 1, 2 ** 20);
  validate.integerInRange(img.height, `${parameter}.height`, 1, 2 ** 20);
  if (img.data.length !== img.width * img.height * 3) {
    throw validate.invalidRange(`${img.width * img.height * 3} bytes (width * height * 3, RGB)`, `${parameter}.data`, img.data);
  }
  return img;
}

function sizePair(size: unknown, parameter: string): [number, number] {
  if (typeof size === 'number') {
    const s = validate.integerInRange(size, parameter, 1, 2 ** 20);
    return [s, s];
  }
  if (Array.isArray(size) && size.length === 2) {
    return [validate.integerInRange(size[0], `${parameter}[0]`, 1, 2 ** 20), validate.integerInRange(size[1], `${parameter}[1]`, 1, 2 ** 20)];
  }
  throw validate.invalidType('positive integer or [height, width]', parameter, size);
}

/** torch.round: ties to even. */
function roundHalfEven(x: number): number {
  const r = Math.round(x);
  return r - x === 0.5 && r % 2 !== 0 ? r - 1 : r;
}

/**
 * Source indices and weights of torch's linear interpolation (align_corners=False) along one
 * axis, in float32 as torch computes them: scale = in / out, src = max(scale * (i + 0.5) - 0.5, 0),
 * i0 = floor(src), lambda1 = min(src - i0, 1), lambda0 = 1 - lambda1, i1 = min(i0 + 1, in - 1).
 */
function linearTaps(input: number, output: number): { i0: Int32Array; i1: Int32Array; w0: Float32Array; w1: Float32Array } {
  const f = Math.fround;
  const scale = f(input / output);
  const i0 = new Int32Array(output);
  const i1 = new Int32Array(output);
  const w0 = new Float32Array(output);
  const w1 = new Float32Array(output);
  for (let i = 0; i < output; i++) {
    let src = f(f(scale * f(i + 0.5)) - 0.5);
    if (src < 0) src = 0;
    const lo = Math.trunc(src);
    const lambda = Math.min(Math.max(f(src - lo), 0), 1);
    i0[i] = lo;
    i1[i] = lo < input - 1 ? lo + 1 : lo;
    w1[i] = lambda;
    w0[i] = f(1 - lambda);
  }
  return { i0, i1, w0, w1 };
}

/**
 * torchvision's F.resize on a uint8 image (bilinear, antialias=False, the tensor default of
 * torchvision 0.14). `size` as torchvision's: a number resizes the shorter side to it keeping
 * the aspect ratio (the longer side truncated: int(size * long / short)), [h, w] is exact.
 */
export function resize(image: RGBImage, size: number | [number, number]): RGBImage {
  const img = checkImage(image, 'image');
  let outH: number;
  let outW: number;
  if (typeof size === 'number') {
    const s = validate.integerInRange(size, 'size', 1, 2 ** 20);
    const short = Math.min(img.width, img.height);
    const long = Math.max(img.width, img.height);
    const newLong = Math.trunc((s * long) / short);
    [outW, outH] = img.width <= img.height ? [s, newLong] : [newLong, s];
  } else {
    [outH, outW] = sizePair(size, 'size');
  }
  if (outH === img.height && outW === img.width) return { data: img.data.slice(), width: outW, height: outH };
  const f = Math.fround;
  const rows = linearTaps(img.height, outH);
  const cols = linearTaps(img.width, outW);
  const src = img.data;
  const out = new Uint8Array(outH * outW * 3);
  const rowBytes = img.width * 3;
  for (let y = 0; y < outH; y++) {
    const r0 = rows.i0[y] * rowBytes;
    const r1 = rows.i1[y] * rowBytes;
    const h0 = rows.w0[y];
    const h1 = rows.w1[y];
    for (let x = 0; x < outW; x++) {
      const c0 = cols.i0[x] * 3;
      const c1 = cols.i1[x] * 3;
      const v0 = cols.w0[x];
      const v1 = cols.w1[x];
      for (let c = 0; c < 3; c++) {
        // torch: t = x00 * w0 + x01 * w1 per row, then out = t0 * h0 + t1 * h1, each op in float32.
        const t0 = f(f(src[r0 + c0 + c] * v0) + f(src[r0 + c1 + c] * v1));
        const t1 = f(f(src[r1 + c0 + c] * v0) + f(src[r1 + c1 + c] * v1));
        const value = roundHalfEven(f(f(t0 * h0) + f(t1 * h1)));
        out[(y * outW + x) * 3 + c] = value < 0 ? 0 : value > 255 ? 255 : value;
      }
    }
  }
  return { data: out, width: outW, height: outH };
}

/** Python's round() on a float: ties to even (what torchvision's center_crop offsets use). */
function pythonRound(x: number): number {
  return roundHalfEven(x);
}

/** torchvision's F.center_crop: the central [h, w] window, zero-padded first where the image is smaller. */
export function centerCrop(image: RGBImage, size: number | [number, number]): RGBImage {
  let img = checkImage(image, 'image');
  const [cropH, cropW] = sizePair(size, 'size');
  if (cropW > img.width || cropH > img.height) {
    const left = cropW > img.width ? Math.floor((cropW - img.width) / 2) : 0;
    const top = cropH > img.height ? Math.floor((cropH - img.height) / 2) : 0;
    const right = cropW > img.width ? Math.floor((cropW - img.width + 1) / 2) : 0;
    const bottom = cropH > img.height ? Math.floor((cropH - img.height + 1) / 2) : 0;
    const width = img.width + left + right;
    const height = img.height + top + bottom;
    const padded = new Uint8Array(width * height * 3);
    for (let y = 0; y < img.height; y++) padded.set(img.data.subarray(y * img.width * 3, (y + 1) * img.width * 3), ((y + top) * width + left) * 3);
    img = { data: padded, width, height };
    if (cropW === width && cropH === height) return img;
  }
  const top = pythonRound((img.height - cropH) / 2);
  const left = pythonRound((img.width - cropW) / 2);
  const out = new Uint8Array(cropH * cropW * 3);
  for (let y = 0; y < cropH; y++) {
    const from = ((top + y) * img.width + left) * 3;
    out.set(img.data.subarray(from, from + cropW * 3), y * cropW * 3);
  }
  return { data: out, width: cropW, height: cropH };
}

export interface NormalizeOptions {
  mean?: readonly number[];
  std?: readonly number[];
}

/**
 * to-tensor then normalize: a [1, 3, H, W] fp32 Tensor of ((pixel / 255) - mean[c]) / std[c]
 * (torchvision's convert_image_dtype and normalize, ImageNet's mean and std by default).
 */
export function toTensor(image: RGBImage, options?: NormalizeOptions): Tensor {
  const img = checkImage(image, 'image');
  const o = validate.options(options, 'options', ['mean', 'std']);
  const channelValues = (value: unknown, parameter: string, fallback: readonly number[]): number[] => {
    if (value === undefined) return [...fallback];
    if (!Array.isArray(value) || value.length !== 3) throw validate.invalidType('array of 3 numbers (R, G, B)', parameter, value);
    return value.map((v, i) => validate.finiteNumber(v, `${parameter}[${i}]`));
  };
  const f = Math.fround;
  const mean = channelValues(o.mean, 'options.mean', IMAGENET_MEAN).map(f);
  const std = channelValues(o.std, 'options.std', IMAGENET_STD).map(f);
  std.forEach((s, i) => {
    if (s === 0) throw validate.invalidRange('non-zero std', `options.std[${i}]`, s);
  });
  const plane = img.width * img.height;
  const out = new Float32Array(3 * plane);
  for (let c = 0; c < 3; c++) {
    for (let p = 0; p < plane; p++) out[c * plane + p] = f(f(f(img.data[p * 3 + c] / 255) - mean[c]) / std[c]);
  }
  return new Tensor(out, [1, 3, img.height, img.width]);
}

export interface ClassificationTransformOptions extends NormalizeOptions {
  /** Shorter side after resizing (torchvision's resize_size; 256 for most of its weights). */
  resizeSize?: number;
  /** Side of the central crop (crop_size; 224, inception_v3 299). */
  cropSize?: number;
}

/**
 * torchvision's ImageClassification preset (the transforms its weights list) on decoded pixels:
 * resize(resizeSize = 256), centerCrop(cropSize = 224), toTensor with normalize -> [1, 3, crop, crop].
 */
export function classificationTransform(image: RGBImage, options?: ClassificationTransformOptions): Tensor {
  const o = validate.options(options, 'options', ['resizeSize', 'cropSize', 'mean', 'std']);
  const resizeSize = o.resizeSize === undefined ? 256 : validate.integerInRange(o.resizeSize, 'options.resizeSize', 1, 2 ** 20);
  const cropSize = o.cropSize === undefined ? 224 : validate.integerInRange(o.cropSize, 'options.cropSize', 1, 2 ** 20);
  return toTensor(centerCrop(resize(image, resizeSize), cropSize), { mean: o.mean as number[] | undefined, std: o.std as number[] | undefined });
}

/** Stacks [1, 3, H, W] tensors of one size into a [N, 3, H, W] batch. */
export function stack(tensors: readonly Tensor[]): Tensor {
  if (!Array.isArray(tensors) || tensors.length === 0) throw validate.invalidType('non-empty array of [1, 3, H, W] Tensors', 'tensors', tensors);
  const shape = tensors[0].shape;
  const size = tensors[0].numel();
  const out = new Float32Array(size * tensors.length);
  tensors.forEach((t, i) => {
    if (!(t instanceof Tensor) || t.shape.length !== 4 || t.shape[0] !== 1 || t.shape.some((d, k) => d !== shape[k])) {
      throw validate.invalidType(`Tensor of shape [${shape.join(', ')}]`, `tensors[${i}]`, t);
    }
    out.set(t.contiguous().data.subarray(0, size), i * size);
  });
  return new Tensor(out, [tensors.length, ...shape.slice(1)]);
}
