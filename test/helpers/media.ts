/**
 * Test clips generated with ffmpeg's lavfi sources at test time, into a temp folder removed when
 * the test process exits. Each clip is made once per process (memoised) and is small, so a test
 * file pays well under a second per clip.
 */
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { locateFfmpeg } from '../../src/video/ffmpeg.ts';
import { has } from './ffmpeg-features.ts';

let dir: string | undefined;

/** The per-process temp folder (created on first use). */
export function mediaDir(): string {
  if (!dir) {
    dir = mkdtempSync(path.join(os.tmpdir(), 'paragon-media-'));
    const d = dir;
    process.on('exit', () => rmSync(d, { recursive: true, force: true }));
  }
  return dir;
}

/** A path in the temp folder. */
export const tmp = (name: string): string => path.join(mediaDir(), name);

/** Run ffmpeg (quiet, overwrite) with these arguments; rejects with its stderr. */
export function ffmpeg(args: readonly string[]): Promise<void> {
  const bin = locateFfmpeg().ffmpeg;
  return new Promise((resolve, reject) => {
    execFile(bin, ['-hide_banner', '-loglevel', 'error', '-y', ...args], { maxBuffer: 64 << 20 }, (err, _out, stderr) =>
      err ? reject(new Error(`ffmpeg ${args.join(' ')}: ${stderr || err.message}`)) : resolve(),
    );
  });
}

/** Run ffprobe and return its stdout. */
export function ffprobe(args: readonly string[]): Promise<string> {
  const bin = locateFfmpeg().ffprobe;
  return new Promise((resolve, reject) => {
    execFile(bin, ['-hide_banner', '-loglevel', 'error', ...args], { maxBuffer: 64 << 20 }, (err, out, stderr) =>
      err ? reject(new Error(`ffprobe ${args.join(' ')}: ${stderr || err.message}`)) : resolve(out),
    );
  });
}

/** Sorted presentation timestamps (seconds) of the first video stream, from the container. */
export async function videoPts(file: string): Promise<number[]> {
  const out = await ffprobe(['-select_streams', 'v:0', '-show_entries', 'packet=pts_time', '-of', 'csv=p=0', file]);
  return out.split('\n').filter((l) => l.trim() !== '').map(Number).sort((a, b) => a - b);
}

/** Stream descriptions of a file (ffprobe JSON `streams`). */
export async function streams(file: string): Promise<Record<string, any>[]> {
  return JSON.parse(await ffprobe(['-print_format', 'json', '-show_streams', file])).streams;
}

const BT709 = ['-colorspace', 'bt709', '-color_primaries', 'bt709', '-color_trc', 'bt709', '-color_range', 'tv'];
const TO709 = 'scale=out_color_matrix=bt709:out_range=tv';
// 60 frames over 3 s: 30 at 30 fps, 10 at 10 fps, then 20 alternating 40/60 ms (exact in ms).
const VFR_PTS = "settb=1/1000,setpts='if(lt(N,30), N/30, if(lt(N,40), 1+(N-30)*0.1, 2+floor((N-40)/2)*0.1+mod(N-40,2)*0.04))/TB'";

/** Recipes: file name → ffmpeg arguments (the output path is appended). */
const RECIPES = {
  /** 160×90, 25 fps, 2 s, H.264 BT.709-tagged, AAC sine audio. */
  'cfr-audio.mp4': ['-f', 'lavfi', '-i', 'testsrc2=s=160x90:r=25:d=2', '-f', 'lavfi', '-i', 'sine=f=440:d=2', '-vf', `${TO709},format=yuv420p`, ...BT709, '-c:v', 'libx264', '-preset', 'ultrafast', '-c:a', 'aac'],
  /** Same picture, no audio, Matroska. */
  'no-audio.mkv': ['-f', 'lavfi', '-i', 'testsrc2=s=160x90:r=25:d=1', '-vf', `${TO709},format=yuv420p`, ...BT709, '-c:v', 'libx264', '-preset', 'ultrafast'],
  /** Variable frame rate (see VFR_PTS), 3 s of audio, mp4. */
  'vfr-audio.mp4': ['-f', 'lavfi', '-i', `testsrc2=s=160x90:r=30:d=2,${VFR_PTS},${TO709},format=yuv420p`, '-f', 'lavfi', '-i', 'sine=f=300:d=3', ...BT709, '-fps_mode', 'passthrough', '-enc_time_base:v', '1/1000', '-c:v', 'libx264', '-preset', 'ultrafast', '-c:a', 'aac'],
  /** Odd size 321×181, lossless FFV1 4:2:0 in Matroska. */
  'odd-321x181.mkv': ['-f', 'lavfi', '-i', 'testsrc2=s=320x180:r=10:d=1', '-vf', `scale=321:181,${TO709},format=yuv420p`, ...BT709, '-c:v', 'ffv1'],
  /** 10-bit HEVC (Main 10), 160×90, 10 frames. */
  'ten-bit.mkv': ['-f', 'lavfi', '-i', 'testsrc2=s=160x90:r=10:d=1', '-vf', `${TO709},format=yuv420p10le`, ...BT709, '-c:v', 'libx265', '-preset', 'ultrafast', '-x265-params', 'log-level=error'],
  /** Blue 160×96 with a red 16×16 marker in the stored top-left corner; rotation added by remux below. */
  'marker.mp4': ['-f', 'lavfi', '-i', 'color=c=blue:s=160x96:r=10:d=1,drawbox=x=0:y=0:w=16:h=16:color=red:t=fill', '-vf', `${TO709},format=yuv420p`, ...BT709, '-c:v', 'libx264', '-preset', 'ultrafast', '-crf', '10'],
} as const;

export type ClipName = keyof typeof RECIPES | 'subs.mkv' | 'rotated-90.mp4';

const made = new Map<string, Promise<string>>();

/** Make (once) and return the path of a test clip. */
export function clip(name: ClipName): Promise<string> {
  let p = made.get(name);
  if (!p) {
    p = makeClip(name);
    made.set(name, p);
  }
  return p;
}

async function makeClip(name: ClipName): Promise<string> {
  const out = tmp(name);
  if (name === 'subs.mkv') {
    // Audio + an SRT subtitle track.
    const srt = tmp('subs.srt');
    writeFileSync(srt, '1\n00:00:00,100 --> 00:00:00,900\nHello\n\n2\n00:00:01,000 --> 00:00:01,800\nWorld\n');
    await ffmpeg(['-f', 'lavfi', '-i', 'testsrc2=s=160x90:r=25:d=2', '-f', 'lavfi', '-i', 'sine=d=2', '-i', srt, '-map', '0', '-map', '1', '-map', '2', '-vf', `${TO709},format=yuv420p`, ...BT709, '-c:v', 'libx264', '-preset', 'ultrafast', '-c:a', 'libopus', '-c:s', 'srt', out]);
  } else if (name === 'rotated-90.mp4') {
    // ffmpeg 5.1 turns a `rotate` tag into a display matrix when stream-copying into mp4:
    // 90 = counter-clockwise in ffprobe terms, i.e. displayed rotated 90° anticlockwise.
    await ffmpeg(['-i', await clip('marker.mp4'), '-c', 'copy', '-metadata:s:v:0', 'rotate=90', out]);
  } else {
    // -fps_mode arrived in ffmpeg 5.1; older builds (the npm-installed one) spell it -vsync.
    const fpsMode = (await has({ option: 'fps_mode' })) ? '-fps_mode' : '-vsync';
    await ffmpeg([...RECIPES[name].map((a) => (a === '-fps_mode' ? fpsMode : a)), out]);
  }
  return out;
}
