/**
 * Test inputs from ground-truth frames: MATLAB-exact antialiased bicubic downscaling (as the SR
 * benchmarks make their LR inputs), optional per-frame Gaussian noise from a seed, optional lossy
 * compression, all written losslessly (FFV1, RGB) so an evaluation measures only the degradation
 * that was asked for.
 */
import { randomBytes } from 'node:crypto';
import { unlink } from 'node:fs/promises';
import path from 'node:path';
import { ParagonError, usageError } from '../errors.ts';
import { toInterleaved, type RgbImage } from '../image/io.ts';
import { imresizeBy } from '../image/resize.ts';
import { decodeFrames } from '../video/decode.ts';
import { createEncoder } from '../video/encode.ts';
import type { ToolOptions } from '../video/probe.ts';
import { openSequence } from './sequence.ts';

/** How a ground-truth frame is degraded. */
export interface DegradeOptions {
  /** Downscale factor (default 2); 1 keeps the size. */
  readonly scale?: number;
  /** Gaussian noise σ on the 0–255 scale, independent per sample (default 0: none). */
  readonly noise?: number;
  /** Noise seed (default 1): the same seed gives the same noise, frame by frame. */
  readonly seed?: number;
}

/** mulberry32: a small, fast 32-bit PRNG with a good enough spread for test noise. */
export function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/**
 * `n` samples of N(0, σ²) for frame `index` of a clip noised with `seed` (Box–Muller). Each frame
 * has its own stream, so a frame's noise does not depend on how many frames came before it.
 */
export function gaussianNoise(n: number, sigma: number, seed: number, index: number): Float32Array {
  const rand = mulberry32(Math.imul(seed >>> 0, 0x9e3779b1) ^ Math.imul(index + 1, 0x85ebca77));
  const out = new Float32Array(n);
  for (let i = 0; i < n; i += 2) {
    const u = 1 - rand(); // (0, 1]: log stays finite
    const r = sigma * Math.sqrt(-2 * Math.log(u));
    const t = 2 * Math.PI * rand();
    out[i] = r * Math.cos(t);
    if (i + 1 < n) out[i + 1] = r * Math.sin(t);
  }
  return out;
}

/** Check the options (usage errors name the flag). */
export function checkDegradeOptions(o: DegradeOptions & { crf?: number | undefined }): void {
  const scale = o.scale ?? 2;
  if (!(Number.isInteger(scale) && scale >= 1 && scale <= 8)) throw usageError(`--scale ${scale}: expected an integer from 1 to 8`);
  const noise = o.noise ?? 0;
  if (!(Number.isFinite(noise) && noise >= 0 && noise <= 100)) throw usageError(`--noise ${noise}: expected a σ from 0 to 100 (0–255 scale)`);
  if (o.seed !== undefined && !(Number.isInteger(o.seed) && o.seed >= 0 && o.seed < 2 ** 32)) throw usageError(`--seed ${o.seed}: expected an integer from 0 to 2^32-1`);
  if (o.crf !== undefined && !(Number.isInteger(o.crf) && o.crf >= 0 && o.crf <= 51)) throw usageError(`--crf ${o.crf}: expected an integer from 0 to 51`);
}

/**
 * Degrade one ground-truth frame (`index` selects its noise): downscale by `scale` with MATLAB's
 * `imresize` on uint8 (output ceil(size / scale)), add noise, and round to 8 bits as a stored
 * frame would be.
 */
export function degradeFrame(gt: RgbImage, index: number, opts: DegradeOptions = {}): RgbImage {
  const scale = opts.scale ?? 2;
  const small =
    scale === 1
      ? { data: gt.rgb, width: gt.width, height: gt.height }
      : imresizeBy(gt.rgb, 3, gt.height, gt.width, 1 / scale, { uint8: true });
  const sigma = (opts.noise ?? 0) / 255;
  const noise = sigma > 0 ? gaussianNoise(small.data.length, sigma, opts.seed ?? 1, index) : undefined;
  const rgb = new Float32Array(small.data.length);
  for (let i = 0; i < rgb.length; i++) rgb[i] = Math.round(Math.min(1, Math.max(0, small.data[i]! + (noise ? noise[i]! : 0))) * 255) / 255;
  return { width: small.width, height: small.height, rgb };
}

/** Options of {@link writeDegraded}. */
export interface WriteDegradedOptions extends DegradeOptions, ToolOptions {
  /** x264 CRF of a lossy round trip after the noise (default: none). */
  readonly crf?: number | undefined;
  /** Frame rate written (default 25). */
  readonly fps?: number;
  readonly onNotice?: (line: string) => void;
}

/**
 * Read the ground-truth frames of `truth` (a folder, or a video), degrade each, and write them to
 * `outFile` as lossless FFV1 (`.mkv` or `.mov`). With `crf`, the degraded frames first go through
 * H.264 at that CRF (a temporary file beside the output) and the decoded result is what is stored.
 */
export async function writeDegraded(truth: string, outFile: string, opts: WriteDegradedOptions = {}): Promise<{ frames: number; width: number; height: number }> {
  checkDegradeOptions(opts);
  const fps = opts.fps ?? 25;
  const tool = { tools: opts.tools, ffmpeg: opts.ffmpeg, signal: opts.signal, onNotice: opts.onNotice };
  const seq = await openSequence(truth, tool);
  const lossy = opts.crf !== undefined;
  const ext = path.extname(outFile);
  const temp = path.join(path.dirname(path.resolve(outFile)), `.${path.basename(outFile, ext)}.${randomBytes(4).toString('hex')}.lossy.mkv`);
  let size = { width: 0, height: 0 };
  let frames = 0;
  try {
    // The first stage writes FFV1 to the output, or H.264 to the temp file when a lossy pass follows.
    let enc: Awaited<ReturnType<typeof createEncoder>> | undefined;
    try {
      for await (const gt of seq) {
        const lr = degradeFrame(gt, frames, opts);
        if (enc && (lr.width !== size.width || lr.height !== size.height))
          throw new ParagonError('media', `frame ${frames + 1} is ${gt.width}x${gt.height}, unlike the frames before it`, { file: truth });
        size = { width: lr.width, height: lr.height };
        enc ??= await createEncoder(lossy ? temp : outFile, { ...tool, ...size, bitDepth: 8, codec: lossy ? 'x264' : 'ffv1', crf: opts.crf, preset: 'medium' });
        await enc.write({ pts: frames / fps, data: toInterleaved(lr, 8) });
        frames++;
      }
      if (!enc) throw new ParagonError('media', 'no frames', { file: truth });
      await enc.finish();
    } finally {
      await enc?.abort();
    }
    if (lossy) {
      await using out = await createEncoder(outFile, { ...tool, ...size, bitDepth: 8, codec: 'ffv1' });
      await using dec = decodeFrames(temp, { ...tool, bitDepth: 8 });
      for await (const f of dec) await out.write({ pts: f.index / fps, data: f.data });
      await out.finish();
    }
  } finally {
    if (lossy) await unlink(temp).catch(() => undefined);
  }
  return { frames, ...size };
}
