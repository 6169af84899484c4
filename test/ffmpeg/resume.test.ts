/**
 * Never lose work: Ctrl+C (a real SIGINT to the real CLI) stops with exit 130 and leaves nothing at
 * the output path; `--resume` continues from the last checkpoint and the result equals an
 * uninterrupted run — bit for bit with FFV1, packet for packet (hence frame for frame) with x264,
 * whose segments each start on a keyframe. A checkpoint is never thrown away silently.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { ffmpeg, ffprobe, videoPts } from '../helpers/media.ts';
import { needModel, packetHashes, startUpscale, upscale, type CliResult } from './upscale-helpers.ts';

let dir = '';
let src = '';
const at = (name: string): string => path.join(dir, name);
const checkpointOf = (out: string): string => path.join(dir, '.paragon-resume', path.basename(out));

before(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'paragon-resume-'));
  src = at('clip.mp4');
  // 80 frames with audio; a cut at frame 45 (never a segment seam) puts a reset in the resumed part.
  await ffmpeg([
    '-f', 'lavfi', '-i', 'testsrc2=s=128x72:r=25:d=1.8', '-f', 'lavfi', '-i', 'mandelbrot=s=128x72:r=25,trim=duration=1.4',
    '-f', 'lavfi', '-i', 'sine=f=330:d=3.2',
    '-filter_complex', '[0][1]concat=n=2:v=1,format=yuv420p[v]', '-map', '[v]', '-map', '2',
    '-c:v', 'libx264', '-preset', 'ultrafast', '-c:a', 'aac', src,
  ]);
});
after(async () => {
  if (dir) await rm(dir, { recursive: true, force: true });
});

/** Committed segments of an output's checkpoint (0 when there is none yet). */
function committed(out: string): number {
  try {
    return JSON.parse(readFileSync(path.join(checkpointOf(out), 'progress.json'), 'utf8')).segments.length;
  } catch {
    return 0;
  }
}

/** Start a run, send SIGINT once `segments` checkpoints are committed (0 = as soon as frames flow). */
async function interrupt(args: string[], out: string, segments: number): Promise<CliResult> {
  const run = startUpscale([...args, '--progress', 'json']);
  let finished = false;
  void run.done.then(() => (finished = true));
  while (!finished) {
    const flowing = run.stdout().includes('"progress"');
    if (segments > 0 ? committed(out) >= segments : flowing) break;
    await new Promise((r) => setTimeout(r, 10));
  }
  run.child.kill('SIGINT');
  const r = await run.done;
  assert.notEqual(r.code, 0, 'the run ended before it could be interrupted (machine too fast for this clip?)');
  return r;
}

test('Ctrl+C: exit 130, nothing at the output; --resume finishes bit-identical to an uninterrupted run (FFV1)', { skip: needModel }, async () => {
  // A fixed blind blend, so the state carried across the seam visibly matters (see the last check).
  const common = [src, '--codec', 'ffv1', '--temporal', '0.2', '--checkpoint', '10'];
  const ref = await upscale([...common, '-o', at('ref.mkv'), '--report', at('ref.json')]);
  assert.equal(ref.code, 0, ref.stderr);
  assert.deepEqual(JSON.parse(await readFile(at('ref.json'), 'utf8')).sceneCuts, [45]);

  const out = at('resumed.mkv');
  const stopped = await interrupt([...common, '-o', out], out, 2);
  assert.equal(stopped.code, 130, stopped.stderr);
  assert.match(stopped.stderr, /resumed\.mkv: stopped; \d+ frames saved in .*: rerun with --resume to continue\n$/);
  assert.ok(!existsSync(out), 'nothing at the output path');
  assert.deepEqual((await readdir(dir)).filter((n) => n.startsWith('.') && n !== '.paragon-resume'), []);
  const saved = committed(out);
  assert.ok(saved >= 2 && saved < 8, `${saved} segments saved`);

  const resumed = await upscale([...common, '-o', out, '--resume', '--report', at('resumed.json')]);
  assert.equal(resumed.code, 0, resumed.stderr);
  const rep = JSON.parse(await readFile(at('resumed.json'), 'utf8'));
  assert.equal(rep.resumedFrames, saved * 10);
  assert.deepEqual([rep.frames, rep.sceneCuts, rep.resets], [80, [45], 1]);
  // Frames (pixels and timestamps) and audio packets equal the uninterrupted run's.
  assert.deepEqual(await packetHashes(out, 'v:0'), await packetHashes(at('ref.mkv'), 'v:0'));
  assert.deepEqual(await packetHashes(out, 'a:0'), await packetHashes(at('ref.mkv'), 'a:0'));
  assert.ok(!existsSync(path.join(dir, '.paragon-resume')), 'checkpoint removed after success');

  // The equality is not trivial: without the saved feature state the frames after the seam differ.
  const off = await upscale([src, '--codec', 'ffv1', '--temporal', '0.2', '--frames', `${saved * 10}:`, '-o', at('fresh.mkv')]);
  assert.equal(off.code, 0, off.stderr);
  const [a, b] = [await packetHashes(at('fresh.mkv'), 'v:0'), (await packetHashes(out, 'v:0')).slice(saved * 10)];
  assert.notEqual(a[0]!.split(',').at(-1), b[0]!.split(',').at(-1), 'first frame after the seam uses the saved state');
});

test('x264: a resumed run writes the same packets as an uninterrupted one, each segment opening on a keyframe', { skip: needModel }, async () => {
  const common = [src, '--preset', 'ultrafast', '--checkpoint', '16'];
  const ref = await upscale([...common, '-o', at('ref.mp4')]);
  assert.equal(ref.code, 0, ref.stderr);
  const out = at('resumed.mp4');
  const stopped = await interrupt([...common, '-o', out], out, 1);
  assert.equal(stopped.code, 130, stopped.stderr);
  assert.ok(!existsSync(out));
  const resumed = await upscale([...common, '-o', out, '--resume']);
  assert.equal(resumed.code, 0, resumed.stderr);
  // Same compressed packets (data and timestamps) → the same decoded frames.
  assert.deepEqual(await packetHashes(out, 'v:0'), await packetHashes(at('ref.mp4'), 'v:0'));
  assert.deepEqual(await videoPts(out), await videoPts(src));
  const flags = (await ffprobe(['-select_streams', 'v:0', '-show_entries', 'packet=pts,flags', '-of', 'csv=p=0', out]))
    .trim()
    .split('\n')
    .map((l) => l.split(','))
    .sort((x, y) => Number(x[0]) - Number(y[0]));
  for (const k of [0, 16, 32, 48, 64]) assert.match(flags[k]![1]!, /K/, `frame ${k} is a keyframe`);
});

test('a checkpoint is never discarded silently: rerun without --resume, or with other settings, is a usage error', { skip: needModel }, async () => {
  const out = at('kept.mkv');
  const common = [src, '--codec', 'ffv1', '--temporal', '0.2', '--checkpoint', '10', '-o', out];
  const stopped = await interrupt(common, out, 1);
  assert.equal(stopped.code, 130, stopped.stderr);
  const again = await upscale(common);
  assert.equal(again.code, 2);
  assert.match(again.stderr, /^paragon: .*kept\.mkv: an interrupted run left \d+ finished frames in .*; add --resume to continue it, or delete that folder to start over\n$/);
  const other = await upscale([...common, '--resume', '--temporal', '0.5']);
  assert.equal(other.code, 2);
  assert.match(other.stderr, /cannot resume \(historyWeight was 0\.2 \(now 0\.5\)\)/);
  assert.ok(!existsSync(out));
  assert.ok(committed(out) >= 1, 'the checkpoint is still there');
  await rm(path.join(dir, '.paragon-resume'), { recursive: true });
});

test('Ctrl+C before the first checkpoint leaves nothing at all', { skip: needModel }, async () => {
  const out = at('early.mkv');
  const stopped = await interrupt([src, '--codec', 'ffv1', '-o', out], out, 0);
  assert.equal(stopped.code, 130, stopped.stderr);
  assert.ok(!existsSync(out));
  assert.deepEqual((await readdir(dir)).filter((n) => n.startsWith('.')), []);
});
