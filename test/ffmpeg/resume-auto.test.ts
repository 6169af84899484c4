/**
 * `--resume` with `--temporal auto` (the default) where it has the most state to restore: a noisy
 * panning clip, so each frame's history is moved with the camera (the warp head) and weighed by the
 * estimator's reference planes. Ctrl+C after two checkpoints, then `--resume`: the output equals an
 * uninterrupted run bit for bit (FFV1), and a run that starts at the seam without the saved state
 * differs, so the equality is not trivial.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { ffmpeg } from '../helpers/media.ts';
import { HistoryWeightEstimator } from '../../src/temporal/history-weight.ts';
import { framePlanes } from '../../src/video/frame.ts';
import { decodeAll, needModel, packetHashes, startUpscale, upscale } from './upscale-helpers.ts';

let dir = '';
const at = (name: string): string => path.join(dir, name);
const SEGMENT = 10;

before(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'paragon-resume-auto-'));
});
after(async () => {
  if (dir) await rm(dir, { recursive: true, force: true });
});

/**
 * A smooth pattern panned under white noise, lossless (FFV1) so the noise stays white: 128×96 by
 * (2/3, 1/3) of a pixel a frame, or 640×360 (a large frame: the estimator measures it on its half
 * plane) by (1, 1/2).
 */
async function pan(large: boolean): Promise<{ file: string; frames: number; speed: [number, number] }> {
  const file = at(large ? 'pan-large.mkv' : 'pan.mkv');
  const [src, crop, out, frames] = large ? ['1400x800', '1280:720', '640:360', 50] : ['520x400', '384:288', '128:96', 60];
  await ffmpeg([
    '-f', 'lavfi', '-i',
    `nullsrc=s=${src}:r=25:d=${frames / 25},format=yuv444p,geq=lum='128+45*sin(X/17)*sin(Y/13)+25*sin((X+2*Y)/23)':cb='128+30*sin(Y/29)':cr=128,crop=${crop}:x='2*n':y='n',scale=${out}:flags=bicubic,noise=alls=10:allf=t,format=yuv444p`,
    '-c:v', 'ffv1', file,
  ]);
  return { file, frames, speed: large ? [1, 0.5] : [2 / 3, 1 / 3] };
}

/** Segments committed so far in a checkpoint's progress.json (0 before the first). */
function committed(progress: string): number {
  try {
    return JSON.parse(readFileSync(progress, 'utf8')).segments.length;
  } catch {
    return 0;
  }
}

/** Start `paragon upscale ARGS` and stop it with Ctrl+C once its checkpoint holds two segments. */
async function interruptAfterTwoCommits(args: string[], progress: string): Promise<void> {
  const run = startUpscale(args);
  let finished = false;
  void run.done.then(() => (finished = true));
  while (!finished && committed(progress) < 2) await new Promise((r) => setTimeout(r, 10));
  run.child.kill('SIGINT');
  const stopped = await run.done;
  assert.equal(stopped.code, 130, `interrupted (machine too fast for this clip?): ${stopped.stderr}`);
}

for (const large of [false, true])
  test(`--temporal auto on a noisy pan${large ? ' of large frames (640×360: the half plane)' : ''}: Ctrl+C after two checkpoints, --resume finishes bit-identical (FFV1); the saved state and estimator matter`, { skip: needModel }, async () => {
    const { file: src, frames, speed } = await pan(large);
    // The clip does what it is for: the estimator follows the pan and keeps history.
    const est = new HistoryWeightEstimator();
    let moved = 0;
    for (const f of await decodeAll(src)) {
      const m = est.next({ width: f.width, height: f.height, rgb: framePlanes(f) });
      if (m !== 0 && Math.abs(est.shift.dx - speed[0]) < 0.1 && Math.abs(est.shift.dy - speed[1]) < 0.1) moved++;
    }
    assert.ok(moved >= (2 * frames) / 3, `history moved with the pan on ${moved} of ${frames} frames`);

    const tag = large ? 'large-' : '';
    const common = [src, '--codec', 'ffv1', '--checkpoint', String(SEGMENT)];
    const ref = await upscale([...common, '-o', at(`${tag}ref.mkv`)]);
    assert.equal(ref.code, 0, ref.stderr);
    const out = at(`${tag}resumed.mkv`);
    const progress = path.join(dir, '.paragon-resume', `${tag}resumed.mkv`, 'progress.json');
    await interruptAfterTwoCommits([...common, '-o', out], progress);
    const saved = committed(progress);
    assert.ok(saved >= 2 && saved < frames / SEGMENT, `${saved} segments saved`);
    const manifest = JSON.parse(await readFile(progress, 'utf8'));
    assert.ok(manifest.weights && manifest.weights.noiseVar > 0, 'the estimator was saved with its noise estimate');
    assert.equal(manifest.weights.residual?.length, 4, 'and the residual motion of its last frame');
    if (large) {
      assert.deepEqual(manifest.weights.parts, ['prev', 'ref', 'refVar', 'difference', 'frame'], 'and its planes, with the frame for the motion');
      assert.deepEqual([manifest.weights.width, manifest.weights.height, manifest.weights.frameWidth, manifest.weights.frameHeight], [320, 180, 640, 360]);
    } else assert.deepEqual(manifest.weights.parts, ['prev', 'ref', 'refVar', 'difference'], 'and its planes');

    const resumed = await upscale([...common, '-o', out, '--resume']);
    assert.equal(resumed.code, 0, resumed.stderr);
    assert.deepEqual(await packetHashes(out, 'v:0'), await packetHashes(at(`${tag}ref.mkv`), 'v:0'));

    const fresh = await upscale([src, '--codec', 'ffv1', '--frames', `${saved * SEGMENT}:`, '-o', at(`${tag}fresh.mkv`)]);
    assert.equal(fresh.code, 0, fresh.stderr);
    const [a, b] = [await packetHashes(at(`${tag}fresh.mkv`), 'v:0'), (await packetHashes(out, 'v:0')).slice(saved * SEGMENT)];
    assert.notEqual(a[3]!.split(',').at(-1), b[3]!.split(',').at(-1), 'frames after the seam use the saved state');
  });

test('--resume of a checkpoint whose saved state has another shape (an older version carried 16 channels of features): the finished frames are kept, the history restarts at the seam with a notice', { skip: needModel }, async () => {
  const { file: src, frames } = await pan(false);
  const common = [src, '--codec', 'ffv1', '--checkpoint', String(SEGMENT)];
  const ref = await upscale([...common, '-o', at('old-ref.mkv')]);
  assert.equal(ref.code, 0, ref.stderr);
  const out = at('old-resumed.mkv');
  const cpDir = path.join(dir, '.paragon-resume', 'old-resumed.mkv');
  const progress = path.join(cpDir, 'progress.json');
  await interruptAfterTwoCommits([...common, '-o', out], progress);
  // What the version before the pixel history wrote there: 16 channels of features, not 3 of pixels.
  const manifest = JSON.parse(await readFile(progress, 'utf8'));
  // FFV1 is intra-only: a stop closes the segment where it is, so count the frames.
  const saved: number = manifest.segments.reduce((n: number, s: { frames: number }) => n + s.frames, 0);
  assert.ok(manifest.state && manifest.state.length % 3 === 0, 'auto saved its 3-channel pixel history');
  const older = (manifest.state.length / 3) * 16;
  await writeFile(path.join(cpDir, manifest.state.file), new Uint8Array(new Float32Array(older).fill(0.25).buffer));
  manifest.state.length = older;
  await writeFile(progress, JSON.stringify(manifest));

  const resumed = await upscale([...common, '-o', out, '--resume']);
  assert.equal(resumed.code, 0, resumed.stderr);
  assert.match(resumed.stderr, /saved temporal state does not fit this version's model .*keeping the \d+ finished frames, the history restarts there/);
  const [got, whole] = [await packetHashes(out, 'v:0'), await packetHashes(at('old-ref.mkv'), 'v:0')];
  assert.equal(got.length, frames);
  assert.deepEqual(got.slice(0, saved), whole.slice(0, saved), 'the finished frames are kept as they were');
  // After the seam: exactly a run that starts there with no history.
  const fresh = await upscale([src, '--codec', 'ffv1', '--frames', `${saved}:`, '-o', at('old-fresh.mkv')]);
  assert.equal(fresh.code, 0, fresh.stderr);
  const tail = (await packetHashes(at('old-fresh.mkv'), 'v:0')).map((h) => h.split(',').at(-1));
  assert.deepEqual(got.slice(saved).map((h) => h.split(',').at(-1)), tail);
  assert.notDeepEqual(got.slice(saved), whole.slice(saved), 'and not the uninterrupted run (its history went on)');
});
