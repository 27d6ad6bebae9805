// Decoding JPEG/PNG/WebP files to 8-bit RGB pixels through sharp, an optional peer dependency qkernels does not install.
//
// sharp (libvips) is the Node standard for image decoding and ships prebuilt binaries as npm
// packages (@img/sharp-<platform>), but it is ~10 MB: qkernels keeps it optional. Without it,
// decodeImage throws an error saying how to install it; the transforms in transforms.ts work
// on pixels from any decoder.

import * as validate from '../validate';
import type { RGBImage } from './transforms';

interface SharpInstance {
  removeAlpha(): SharpInstance;
  toColourspace(space: string): SharpInstance;
  raw(): SharpInstance;
  toBuffer(options: { resolveWithObject: true }): Promise<{ data: Uint8Array; info: { width: number; height: number; channels: number } }>;
}
type SharpFactory = (input: string | Uint8Array, options?: { failOn?: string }) => SharpInstance;

let sharpModule: SharpFactory | null = null;

/** sharp, loaded on first use; an Error saying how to install it when it is missing. */
function loadSharp(): SharpFactory {
  if (sharpModule !== null) return sharpModule;
  try {
    // A runtime require: sharp is optional, and a bundler must not follow it.
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    sharpModule = (module.require as (id: string) => SharpFactory)('sharp');
  } catch (error) {
    const reason = (error as Error).message.split('\n')[0];
    throw new Error(
      `qkernels: decoding images needs the optional package sharp, which could not be loaded (${reason}). ` +
        'Install it next to qkernels: npm install sharp  (or decode the image yourself and pass { data, width, height } RGB pixels to the transforms)',
    );
  }
  return sharpModule;
}

/** Decodes a JPEG, PNG, WebP, ... file (path or bytes) to RGB pixels: alpha dropped, grayscale expanded, EXIF orientation not applied. */
export async function decodeImage(input: string | Uint8Array): Promise<RGBImage> {
  if (typeof input !== 'string' && !(input instanceof Uint8Array)) throw validate.invalidType('file path or Uint8Array of encoded image bytes', 'input', input);
  const sharp = loadSharp();
  const { data, info } = await sharp(input, { failOn: 'error' }).removeAlpha().toColourspace('srgb').raw().toBuffer({ resolveWithObject: true });
  if (info.channels !== 3) throw new Error(`qkernels: expected 3 channels from sharp but received ${info.channels}`);
  return { data: new Uint8Array(data.buffer, data.byteOffset, data.byteLength), width: info.width, height: info.height };
}
