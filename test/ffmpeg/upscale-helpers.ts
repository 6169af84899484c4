/**
 * Shared by the `paragon upscale` video tests: the real CLI (bin/paragon.js) as a child process,
 * frame and packet read-back through ffmpeg, and the model they run.
 */
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { DEFAULT_MODEL, MODELS_DIR } from '../../src/runtime/model.ts';
import { decodeFrames, type Frame } from '../../src/video/decode.ts';
import { locateFfmpeg } from '../../src/video/ffmpeg.ts';
import { ffprobe } from '../helpers/media.ts';
import { ROOT } from '../helpers/shared.ts';

/** Skip reason when the bundled default model (what the CLI runs without --model) is absent. */
export const needModel: string | false = existsSync(path.join(MODELS_DIR, `${DEFAULT_MODEL}.safetensors`)) ? false : 'needs the bundled default model';

/** Result of a CLI run. */
export interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
}

const BIN = path.join(ROOT, 'bin', 'paragon.js');

/** Run `paragon upscale ...args`; never rejects (the exit code is part of what is tested). */
export function upscale(args: readonly string[], cwd?: string): Promise<CliResult> {
  return new Promise((resolve) => {
    execFile(process.execPath, [BIN, 'upscale', ...args], { cwd: cwd ?? ROOT, maxBuffer: 16 << 20 }, (err, stdout, stderr) =>
      resolve({ code: err ? ((err as { code?: number }).code ?? 1) : 0, stdout, stderr }),
    );
  });
}

/** Start `paragon upscale ...args` and keep the child, to signal it mid-run; `stdout()` is what it printed so far. */
export function startUpscale(args: readonly string[], cwd?: string): { child: ChildProcess; done: Promise<CliResult>; stdout: () => string } {
  const child = spawn(process.execPath, [BIN, 'upscale', ...args], { cwd: cwd ?? ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout!.setEncoding('utf8').on('data', (c: string) => (stdout += c));
  child.stderr!.setEncoding('utf8').on('data', (c: string) => (stderr += c));
  const done = new Promise<CliResult>((resolve) => child.on('close', (code, signal) => resolve({ code: code ?? (signal ? 128 : 1), stdout, stderr })));
  return { child, done, stdout: () => stdout };
}

/** Every decoded frame of a file (display-oriented RGB). */
export async function decodeAll(file: string): Promise<Frame[]> {
  const out: Frame[] = [];
  for await (const f of decodeFrames(file)) out.push(f);
  return out;
}

/** One line per packet of a stream ("pts,size,md5"), from ffmpeg's framemd5 of a stream copy. */
export function packetHashes(file: string, stream: string): Promise<string[]> {
  return new Promise((resolve, reject) => {
    execFile(locateFfmpeg().ffmpeg, ['-hide_banner', '-loglevel', 'error', '-i', file, '-map', `0:${stream}`, '-c', 'copy', '-f', 'framemd5', '-'], { maxBuffer: 64 << 20 }, (err, out, stderr) =>
      err ? reject(new Error(stderr || err.message)) : resolve(out.split('\n').filter((l) => l !== '' && !l.startsWith('#')).map((l) => l.split(',').map((x) => x.trim()).slice(2).join(','))),
    );
  });
}

/** End times (last packet pts + its duration) of the first video and audio streams. */
export async function ends(file: string): Promise<{ video: number; audio: number }> {
  const end = async (sel: string): Promise<number> => {
    const out = await ffprobe(['-select_streams', sel, '-show_entries', 'packet=pts_time,duration_time', '-of', 'csv=p=0', file]);
    return Math.max(...out.split('\n').filter((l) => l.includes(',')).map((l) => l.split(',').map(Number)).map(([p, d]) => p! + (d || 0)));
  };
  return { video: await end('v:0'), audio: await end('a:0') };
}

/** Mean absolute difference of two equally sized sample arrays. */
export function meanAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  if (a.length !== b.length) throw new Error(`sizes differ: ${a.length} vs ${b.length}`);
  let s = 0;
  for (let i = 0; i < a.length; i++) s += Math.abs(a[i]! - b[i]!);
  return s / a.length;
}

/** Box-average a packed RGB frame by an integer factor (compare an upscaled frame with its source). */
export function shrink(f: Frame, k: number): Float64Array {
  const w = Math.floor(f.width / k);
  const h = Math.floor(f.height / k);
  const out = new Float64Array(w * h * 3);
  const scale = f.bitDepth === 16 ? 1 / 257 : 1;
  for (let y = 0; y < h * k; y++)
    for (let x = 0; x < w * k; x++)
      for (let c = 0; c < 3; c++) out[(Math.floor(y / k) * w + Math.floor(x / k)) * 3 + c]! += (f.data[(y * f.width + x) * 3 + c]! * scale) / (k * k);
  return out;
}
