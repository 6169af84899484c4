/**
 * Image items of an upscale job: which files to read, where each result goes, whether an
 * existing result is complete, and upscaling one image (RGB through the model, alpha resized
 * classically).
 */
import { mkdir, open, readdir, stat, unlink } from 'node:fs/promises';
import path from 'node:path';
import sharp from 'sharp';
import { ParagonError, mediaError, usageError } from '../errors.ts';
import { readImage, writePng, imresize, type DecodedImage } from '../image/index.ts';
import type { PlanarFrame } from '../temporal/upscaler.ts';

/** Extensions read as images (case-insensitive). */
export const IMAGE_EXTENSIONS = ['.png', '.jpg', '.jpeg', '.webp'] as const;

/** True for a path with an image extension. */
export const isImagePath = (file: string): boolean =>
  (IMAGE_EXTENSIONS as readonly string[]).includes(path.extname(file).toLowerCase());

/** One input image and the PNG it becomes. */
export interface ImageItem {
  readonly input: string;
  readonly output: string;
}

/**
 * Images under `dir`, sorted, optionally recursing. Hidden entries (names starting with '.',
 * which includes our own temp files) are skipped, and so is `exclude` (an output folder inside
 * the input folder), so a rerun never feeds results back in.
 */
export async function listImages(dir: string, recursive: boolean, exclude?: string): Promise<string[]> {
  const found: string[] = [];
  const walk = async (d: string): Promise<void> => {
    const entries = await readdir(d, { withFileTypes: true });
    entries.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
    for (const e of entries) {
      if (e.name.startsWith('.')) continue;
      const p = path.join(d, e.name);
      if (e.isDirectory()) {
        if (recursive && (exclude === undefined || path.resolve(p) !== path.resolve(exclude))) await walk(p);
      } else if (isImagePath(e.name)) found.push(p);
    }
  };
  await walk(dir);
  return found;
}

/** `name.ext` → `name.png`. */
export const pngName = (file: string): string => `${path.basename(file, path.extname(file))}.png`;

/**
 * Items of a folder job: each image maps to `<output>/<relative dir>/<base>.png`, mirroring
 * subfolders. Two inputs that would write the same output (a.jpg and a.png) are returned in
 * `clashes` so the job reports them as bad items instead of silently overwriting.
 */
export async function planFolder(
  input: string,
  output: string,
  recursive: boolean,
): Promise<{ items: ImageItem[]; clashes: { input: string; other: string }[] }> {
  const inside = path.relative(input, output);
  const exclude = inside && !inside.startsWith('..') && !path.isAbsolute(inside) ? output : undefined;
  const files = await listImages(input, recursive, exclude);
  const byOutput = new Map<string, string>();
  const items: ImageItem[] = [];
  const clashes: { input: string; other: string }[] = [];
  for (const f of files) {
    const out = path.join(output, path.dirname(path.relative(input, f)), pngName(f));
    const other = byOutput.get(out);
    if (other !== undefined) clashes.push({ input: f, other });
    else {
      byOutput.set(out, f);
      items.push({ input: f, output: out });
    }
  }
  return { items, clashes };
}

/** Output path of a single image: `-o x.png` is the file itself, anything else a folder. */
export function singleOutput(input: string, output: string): string {
  if (path.extname(output).toLowerCase() === '.png') return output;
  if (isImagePath(output)) throw usageError(`-o ${output}: output images are PNG; use a .png name or a folder`);
  return path.join(output, pngName(input));
}

/** Width and height of an image as readImage will see it (EXIF orientation applied). */
export async function imageSize(file: string): Promise<{ width: number; height: number }> {
  try {
    const m = await sharp(file).metadata();
    return { width: m.autoOrient.width, height: m.autoOrient.height };
  } catch (e) {
    throw mediaError(file, `cannot read image: ${(e as Error).message ?? e}`, e);
  }
}

/**
 * True when `output` is a COMPLETE result for an input of `width × height` at `scale`: a PNG
 * whose header says exactly `scale·width × scale·height`, which ends with the IEND chunk (not
 * truncated), and which is not older than the input (an edited input is redone). Presence alone
 * is not enough: a file of the wrong size or cut short is rewritten.
 */
export async function isCompleteOutput(output: string, input: string, width: number, height: number, scale: number): Promise<boolean> {
  let fh;
  try {
    const [so, si] = await Promise.all([stat(output), stat(input)]);
    if (!so.isFile() || so.size < 57 || so.mtimeMs < si.mtimeMs) return false;
    fh = await open(output, 'r');
    const head = new Uint8Array(24);
    const tail = new Uint8Array(12);
    await fh.read(head, 0, 24, 0);
    await fh.read(tail, 0, 12, so.size - 12);
    const h = new DataView(head.buffer);
    const t = new DataView(tail.buffer);
    const text = (a: Uint8Array, from: number) => String.fromCharCode(...a.subarray(from, from + 4));
    const PNG = [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a];
    return (
      PNG.every((b, i) => head[i] === b) &&
      text(head, 12) === 'IHDR' &&
      h.getUint32(16) === width * scale &&
      h.getUint32(20) === height * scale &&
      t.getUint32(0) === 0 &&
      text(tail, 4) === 'IEND'
    );
  } catch {
    return false;
  } finally {
    await fh?.close();
  }
}

/**
 * Remove temp files a killed earlier run left in `dir` (writePng names them
 * `.<name>.<pid>.<time>.tmp`); those of a process still alive (a parallel run) are left alone.
 */
export async function removeStaleTemps(dir: string): Promise<void> {
  const names = await readdir(dir).catch(() => [] as string[]);
  const alive = (pid: number) => {
    try {
      process.kill(pid, 0);
      return true;
    } catch (e) {
      return (e as NodeJS.ErrnoException).code === 'EPERM';
    }
  };
  const stale = names.filter((n) => {
    const m = /^\..+\.png\.(\d+)\.\d+\.tmp$/.exec(n);
    return m !== null && !alive(Number(m[1]));
  });
  await Promise.all(stale.map((n) => unlink(path.join(dir, n)).catch(() => undefined)));
}

/**
 * Everything before inference for one item: its output folder (created once, stale temp files
 * removed), the complete-output check, and decoding. Returns the size to report for a skip.
 */
export async function prepareItem(
  item: ImageItem,
  scale: number,
  dirs: Map<string, Promise<void>>,
): Promise<{ skip: { width: number; height: number } } | { image: DecodedImage }> {
  const dir = path.dirname(item.output);
  let ready = dirs.get(dir);
  if (!ready) {
    ready = mkdir(dir, { recursive: true }).then(
      () => removeStaleTemps(dir),
      (e) => {
        throw new ParagonError('media', `cannot create output folder: ${(e as NodeJS.ErrnoException).code ?? e}`, { file: dir });
      },
    );
    dirs.set(dir, ready);
  }
  await ready;
  const size = await imageSize(item.input);
  if (await isCompleteOutput(item.output, item.input, size.width, size.height, scale))
    return { skip: { width: size.width * scale, height: size.height * scale } };
  return { image: await readImage(item.input) };
}

/** Write an upscaled image as PNG at the input's bit depth; alpha is resized bicubically. */
export async function saveItem(item: ImageItem, input: DecodedImage, out: PlanarFrame): Promise<{ width: number; height: number }> {
  const alpha = input.alpha ? imresize(input.alpha, 1, input.height, input.width, out.height, out.width) : undefined;
  await writePng(item.output, { width: out.width, height: out.height, rgb: out.rgb, alpha }, { bitDepth: input.bitDepth });
  return { width: out.width, height: out.height };
}
