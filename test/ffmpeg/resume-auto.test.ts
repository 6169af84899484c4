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
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { ffmpeg } from '../helpers/media.ts';
import { HistoryWeightEstimator } from '../../src/temporal/history-weight.ts';
import { framePlanes } from '../../src/video/frame.ts';
import { decodeAll, needModel, packetHashes, startUpscale, upscale } from './upscale-helpers.ts';

let dir = '';
let src = '';
const at = (name: string): string => path.join(dir, name);
const SEGMENT = 10;

before(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'paragon-resume-auto-'));
  src = at('pan.mkv');
  // A smooth pattern panned by (2/3, 1/3) of a pixel a frame under white noise, 128×96, 60 frames,
  // lossless (FFV1) so the noise stays white.
  await ffmpeg([
    '-f', 'lavfi', '-i',
    "nullsrc=s=520x400:r=25:d=2.4,format=yuv444p,geq=lum='128+45*sin(X/17)*sin(Y/13)+25*sin((X+2*Y)/23)':cb='128+30*sin(Y/29)':cr=128,crop=384:288:x='2*n':y='n',scale=128:96:flags=bicubic,noise=alls=10:allf=t,format=yuv444p",
    '-c:v', 'ffv1', src,
  ]);
});
after(async () => {
  if (dir) await rm(dir, { recursive: true, force: true });
});

test('--temporal auto on a noisy pan: Ctrl+C after two checkpoints, --resume finishes bit-identical (FFV1); the saved state and estimator matter', { skip: needModel }, async () => {
  // The clip does what it is for: the estimator follows the pan and keeps history.
  const est = new HistoryWeightEstimator();
  let moved = 0;
  for (const f of await decodeAll(src)) {
    const m = est.next({ width: f.width, height: f.height, rgb: framePlanes(f) });
    if (m !== 0 && Math.abs(est.shift.dx - 2 / 3) < 0.1 && Math.abs(est.shift.dy - 1 / 3) < 0.1) moved++;
  }
  assert.ok(moved >= 40, `history moved with the pan on ${moved} of 60 frames`);

  const common = [src, '--codec', 'ffv1', '--checkpoint', String(SEGMENT)];
  const ref = await upscale([...common, '-o', at('ref.mkv')]);
  assert.equal(ref.code, 0, ref.stderr);
  const out = at('resumed.mkv');
  const progress = path.join(dir, '.paragon-resume', 'resumed.mkv', 'progress.json');
  const run = startUpscale([...common, '-o', out]);
  let finished = false;
  void run.done.then(() => (finished = true));
  const committed = (): number => {
    try {
      return JSON.parse(readFileSync(progress, 'utf8')).segments.length;
    } catch {
      return 0;
    }
  };
  while (!finished && committed() < 2) await new Promise((r) => setTimeout(r, 10));
  run.child.kill('SIGINT');
  const stopped = await run.done;
  assert.equal(stopped.code, 130, `interrupted (machine too fast for this clip?): ${stopped.stderr}`);
  const saved = committed();
  assert.ok(saved >= 2 && saved < 6, `${saved} segments saved`);
  const manifest = JSON.parse(await readFile(progress, 'utf8'));
  assert.ok(manifest.weights && manifest.weights.noiseVar > 0, 'the estimator was saved with its noise estimate');
  assert.deepEqual(manifest.weights.parts, ['prev', 'ref', 'refVar', 'difference'], 'and its planes');

  const resumed = await upscale([...common, '-o', out, '--resume']);
  assert.equal(resumed.code, 0, resumed.stderr);
  assert.deepEqual(await packetHashes(out, 'v:0'), await packetHashes(at('ref.mkv'), 'v:0'));

  const fresh = await upscale([src, '--codec', 'ffv1', '--frames', `${saved * SEGMENT}:`, '-o', at('fresh.mkv')]);
  assert.equal(fresh.code, 0, fresh.stderr);
  const [a, b] = [await packetHashes(at('fresh.mkv'), 'v:0'), (await packetHashes(out, 'v:0')).slice(saved * SEGMENT)];
  assert.notEqual(a[3]!.split(',').at(-1), b[3]!.split(',').at(-1), 'frames after the seam use the saved state');
});
