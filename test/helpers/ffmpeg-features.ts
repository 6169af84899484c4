/**
 * What the ffmpeg the product finds (src/video/ffmpeg.ts locateFfmpeg: --ffmpeg, PARAGON_FFMPEG,
 * PATH, then the npm-installed 2018 build) can do, learnt by asking the binary — its encoder and
 * filter lists, its option table — never from its version string. Tests that need more than it
 * has skip with one line naming the missing feature:
 *
 *   test('…', { skip: await lacking({ encoder: 'libsvtav1' }) }, …)
 */
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { locateFfmpeg } from '../../src/video/ffmpeg.ts';

/**
 * Behaviour learnt by a small run: `mp4-enc-time-base`: an mp4 the ffmpeg writes from a
 * variable-rate stream with `-enc_time_base` shows its last frame (older builds end the edit list
 * before it, so every decoder drops it).
 */
export type Behaviour = 'mp4-enc-time-base';

/** One thing a test needs from ffmpeg. */
export type Feature = { readonly encoder: string } | { readonly filter: string } | { readonly option: string } | { readonly behaviour: Behaviour };

const lists = new Map<string, Promise<string>>();

/** `ffmpeg -hide_banner ARGS` stdout, once per argument list (a failed run answers ''). */
function ask(args: readonly string[]): Promise<string> {
  const key = args.join(' ');
  let p = lists.get(key);
  if (!p) {
    const bin = locateFfmpeg().ffmpeg;
    p = new Promise((resolve) => execFile(bin, ['-hide_banner', ...args], { maxBuffer: 64 << 20 }, (_e, out) => resolve(String(out))));
    lists.set(key, p);
  }
  return p;
}

let vfr: Promise<boolean> | undefined;

/** Write three frames at irregular times to mp4 (encoder time base set) and count the frames decoded back. */
async function vfrLastFrame(): Promise<boolean> {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'paragon-ffprobe-feature-'));
  try {
    const file = path.join(dir, 'vfr.mp4');
    const mode = (await has({ option: 'fps_mode' })) ? '-fps_mode' : '-vsync';
    const src = "testsrc2=s=32x32:r=10:d=0.3,settb=1/1000,setpts='if(eq(N,2),0.25,N*0.1)/TB',format=yuv420p";
    await ask(['-loglevel', 'error', '-y', '-f', 'lavfi', '-i', src, mode, 'passthrough', '-enc_time_base:v', '1/1000', '-c:v', 'libx264', '-preset', 'ultrafast', file]);
    const md5 = await ask(['-loglevel', 'error', '-i', file, '-map', '0:v', mode, 'passthrough', '-f', 'framemd5', '-']);
    return md5.split('\n').filter((l) => l.startsWith('0,')).length === 3;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** Names in the first column after the flags of `-encoders` / `-filters` listings. */
function names(listing: string, flags: RegExp): Set<string> {
  const out = new Set<string>();
  for (const line of listing.split('\n')) {
    const m = flags.exec(line);
    if (m) out.add(m[1]!);
  }
  return out;
}

/** True when the found ffmpeg has `f`. */
export async function has(f: Feature): Promise<boolean> {
  if ('encoder' in f) return names(await ask(['-encoders']), /^\s*[VAS][.A-Z]{5}\s+(\S+)/).has(f.encoder);
  if ('filter' in f) return names(await ask(['-filters']), /^\s*[.A-Z|]{2,3}\s+(\S+)\s/).has(f.filter);
  if ('behaviour' in f) return (vfr ??= vfrLastFrame());
  // Global and per-file options are listed in `-h long` as `-name ...` at the start of a line.
  return new RegExp(`^-${f.option}\\b`, 'm').test(await ask(['-h', 'long']));
}

const BEHAVIOUR: Record<Behaviour, string> = {
  'mp4-enc-time-base': 'an mp4 muxer that keeps every frame of a variable-rate stream written with -enc_time_base (this one ends the edit list before the last)',
};

const describe = (f: Feature): string =>
  'encoder' in f ? `the ${f.encoder} encoder` : 'filter' in f ? `the ${f.filter} filter` : 'option' in f ? `the -${f.option} option` : BEHAVIOUR[f.behaviour];

/**
 * A skip reason naming the first feature the found ffmpeg lacks (and how to get one that has it),
 * or false when it has them all.
 */
export async function lacking(...features: Feature[]): Promise<string | false> {
  for (const f of features) {
    if (await has(f)) continue;
    const tools = locateFfmpeg();
    return `needs ffmpeg with ${describe(f)}; not ${tools.ffmpeg} (${tools.source}): apt-get install ffmpeg`;
  }
  return false;
}
