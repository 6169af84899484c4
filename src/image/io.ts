/**
 * Image files ↔ planar float images, through sharp. Planar CHW float32 in 0..1 is what the models
 * and metrics consume; 16-bit PNGs stay 16-bit end to end so HDR-ish sources are not truncated.
 */
import { rename, unlink } from 'node:fs/promises';
import path from 'node:path';
import sharp from 'sharp';
import { mediaError, ParagonError } from '../errors.ts';

/** A planar RGB image: `rgb` holds R, G, B planes of width × height floats in 0..1. */
export interface RgbImage {
  readonly width: number;
  readonly height: number;
  readonly rgb: Float32Array;
  /** Optional alpha plane (width × height, 0..1). */
  readonly alpha?: Float32Array | undefined;
}

/** The w × h region at (x0, y0) of a planar RGB image (alpha dropped). */
export function cropImage(img: RgbImage, x0: number, y0: number, w: number, h: number): RgbImage {
  const n = img.width * img.height;
  const rgb = new Float32Array(3 * w * h);
  for (let c = 0; c < 3; c++)
    for (let y = 0; y < h; y++) {
      const s = c * n + (y0 + y) * img.width + x0;
      rgb.set(img.rgb.subarray(s, s + w), c * w * h + y * w);
    }
  return { width: w, height: h, rgb };
}

/** An image as read from disk, with the bit depth of its samples. */
export interface DecodedImage extends RgbImage {
  readonly bitDepth: 8 | 16;
}

/**
 * Decode png/jpg/webp (whatever sharp reads) to planar float RGB(+alpha), honouring EXIF
 * orientation. Grey images are expanded to RGB. Unreadable input is a media error (exit 4).
 */
export async function readImage(file: string): Promise<DecodedImage> {
  try {
    const img = sharp(file, { failOn: 'error' }).autoOrient();
    const meta = await img.metadata();
    const bitDepth = meta.depth === 'ushort' ? 16 : 8;
    const hasAlpha = meta.hasAlpha === true;
    const { data, info } = await img
      .toColourspace(bitDepth === 16 ? 'rgb16' : 'srgb')
      .raw({ depth: bitDepth === 16 ? 'ushort' : 'uchar' })
      .toBuffer({ resolveWithObject: true });
    const { width, height, channels } = info;
    const n = width * height;
    const src =
      bitDepth === 16 ? new Uint16Array(data.buffer, data.byteOffset, data.byteLength / 2) : new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
    const max = bitDepth === 16 ? 65535 : 255;
    const rgb = new Float32Array(3 * n);
    const alpha = hasAlpha && channels === 4 ? new Float32Array(n) : undefined;
    for (let i = 0, p = 0; i < n; i++, p += channels) {
      rgb[i] = src[p]! / max;
      rgb[n + i] = src[p + 1]! / max;
      rgb[2 * n + i] = src[p + 2]! / max;
      if (alpha) alpha[i] = src[p + 3]! / max;
    }
    return { width, height, rgb, alpha, bitDepth };
  } catch (e) {
    if (e instanceof ParagonError) throw e;
    throw mediaError(file, `cannot read image: ${(e as Error).message ?? e}`, e);
  }
}

/** Interleave planar float RGB(+alpha) into 8- or 16-bit samples, rounding and clamping. */
export function toInterleaved(img: RgbImage, bitDepth: 8 | 16): Uint8Array | Uint16Array {
  const n = img.width * img.height;
  const ch = img.alpha ? 4 : 3;
  const max = bitDepth === 16 ? 65535 : 255;
  const out = bitDepth === 16 ? new Uint16Array(n * ch) : new Uint8Array(n * ch);
  const q = (v: number) => Math.round(Math.min(1, Math.max(0, v)) * max);
  for (let i = 0, p = 0; i < n; i++, p += ch) {
    // `|| 0` maps NaN (a diverged model) to black instead of an undefined sample.
    for (let c = 0; c < 3; c++) out[p + c] = q(img.rgb[c * n + i]! || 0);
    if (img.alpha) out[p + 3] = q(img.alpha[i]! || 0);
  }
  return out;
}

/**
 * Write a PNG atomically: encode to a temp file beside the target, then rename, so the final path
 * never holds a half-written image (a crash or Ctrl-C leaves at most a stray temp file).
 */
export async function writePng(file: string, img: RgbImage, opts: { bitDepth?: 8 | 16 } = {}): Promise<void> {
  const bitDepth = opts.bitDepth ?? 8;
  const n = img.width * img.height;
  if (img.rgb.length !== 3 * n || (img.alpha && img.alpha.length !== n))
    throw new Error(`writePng: planes do not match ${img.width}x${img.height}`);
  const channels = img.alpha ? 4 : 3;
  const tmp = path.join(path.dirname(file), `.${path.basename(file)}.${process.pid}.${Date.now()}.tmp`);
  try {
    await sharp(toInterleaved(img, bitDepth), { raw: { width: img.width, height: img.height, channels } })
      .toColourspace(bitDepth === 16 ? 'rgb16' : 'srgb')
      .png({ compressionLevel: 6 })
      .toFile(tmp);
    await rename(tmp, file);
  } catch (e) {
    await unlink(tmp).catch(() => undefined);
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'ENOSPC') throw new ParagonError('resources', 'no space left writing image', { file, cause: e });
    throw mediaError(file, `cannot write PNG: ${(e as Error).message ?? e}`, e);
  }
}
