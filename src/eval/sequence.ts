/**
 * Frame sequences for evaluation: a folder of images (in natural name order: `2.png` before
 * `10.png`) or a video file (every decoded frame, display-oriented), both as planar RGB images.
 */
import { readdir, stat } from 'node:fs/promises';
import path from 'node:path';
import { mediaError } from '../errors.ts';
import { readImage, type RgbImage } from '../image/io.ts';
import { decodeFrames } from '../video/decode.ts';
import { framePlanes } from '../video/frame.ts';
import type { ToolOptions } from '../video/probe.ts';

/** Image extensions read as frames (case-insensitive). */
export const FRAME_EXTENSIONS = ['.png', '.jpg', '.jpeg', '.webp', '.bmp', '.tif', '.tiff'] as const;

/** A sequence of frames: how many (when known up front) and the frames themselves. */
export interface FrameSequence extends AsyncIterable<RgbImage> {
  /** The folder or file it reads. */
  readonly source: string;
  /** Frame count of a folder; undefined for a video (known once read). */
  readonly count: number | undefined;
}

const natural = new Intl.Collator('en', { numeric: true, sensitivity: 'base' });

/** The image files of a folder, in natural order (hidden files skipped). */
export async function listFrames(dir: string): Promise<string[]> {
  const names = await readdir(dir).catch((e: NodeJS.ErrnoException) => {
    throw mediaError(dir, e.code === 'ENOENT' ? 'no such folder' : `cannot read folder: ${e.message}`, e);
  });
  const files = names
    .filter((n) => !n.startsWith('.') && (FRAME_EXTENSIONS as readonly string[]).includes(path.extname(n).toLowerCase()))
    .sort(natural.compare)
    .map((n) => path.join(dir, n));
  if (files.length === 0) throw mediaError(dir, `no frames (${FRAME_EXTENSIONS.join(', ')}) in this folder`);
  return files;
}

/** Open a folder of frames or a video file as a {@link FrameSequence}. */
export async function openSequence(source: string, opts: ToolOptions = {}): Promise<FrameSequence> {
  const st = await stat(source).catch((e: NodeJS.ErrnoException) => {
    throw mediaError(source, e.code === 'ENOENT' ? 'no such file or folder' : `cannot read: ${e.message}`, e);
  });
  if (st.isDirectory()) {
    const files = await listFrames(source);
    return {
      source,
      count: files.length,
      async *[Symbol.asyncIterator]() {
        for (const f of files) yield await readImage(f);
      },
    };
  }
  return {
    source,
    count: undefined,
    async *[Symbol.asyncIterator]() {
      await using frames = decodeFrames(source, opts);
      for await (const f of frames) yield { width: f.width, height: f.height, rgb: framePlanes(f) };
    },
  };
}
