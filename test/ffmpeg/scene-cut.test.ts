/**
 * Scene cuts on real footage: the shared film clip has hard cuts at exactly frames 90 and 210 (the
 * first scores only 0.30 in ffmpeg's own scene filter); the Vid4 clips (a walk, a calendar pan)
 * have none; walk followed by calendar has exactly one, at the junction. Also `paragon scenes`.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import path from 'node:path';
import { SceneCutDetector } from '../../src/temporal/scene-cut.ts';
import { decodeFrames } from '../../src/video/decode.ts';
import { findSceneCuts } from '../../src/video/scenes.ts';
import { ffmpeg, tmp } from '../helpers/media.ts';
import { needShared, ROOT, shared } from '../helpers/shared.ts';

const CLIP = shared('video', 'issue-134-rotate.mp4');
const VID4 = needShared('vid4', 'walk') || needShared('vid4', 'calendar');

/** Encode a Vid4 PNG sequence (or two, concatenated at 720×480) as a 24 fps H.264 clip. */
async function vid4(name: string, ...seqs: string[]): Promise<string> {
  const out = tmp(name);
  const inputs = seqs.flatMap((s) => ['-framerate', '24', '-i', shared('vid4', s, '%03d.png')]);
  const graph = seqs.map((_, i) => `[${i}]scale=720:480,setsar=1[v${i}]`).join(';') + `;${seqs.map((_, i) => `[v${i}]`).join('')}concat=n=${seqs.length}:v=1,format=yuv420p`;
  await ffmpeg([...inputs, '-filter_complex', graph, '-c:v', 'libx264', '-preset', 'ultrafast', '-crf', '16', out]);
  return out;
}

test('film clip: exactly the cuts at frames 90 and 210, with their timestamps', { skip: needShared('video', 'issue-134-rotate.mp4') }, async () => {
  const { cuts, frames } = await findSceneCuts(CLIP);
  assert.equal(frames, 240);
  assert.deepEqual(cuts.map((c) => c.frame), [90, 210]);
  // 23.976 fps from 0: frame n at n × 1001/24000 s.
  assert.deepEqual(cuts.map((c) => c.time), [(90 * 1001) / 24000, (210 * 1001) / 24000]);
});

test('full-size frames (the pipeline path, reduced in JS) give the same cuts', { skip: needShared('video', 'issue-134-rotate.mp4') }, async () => {
  const det = new SceneCutDetector();
  const cuts: number[] = [];
  for await (const f of decodeFrames(CLIP)) {
    assert.deepEqual([f.width, f.height], [544, 1280]);
    if (det.push(f).cut) cuts.push(f.index);
  }
  assert.deepEqual(cuts, [90, 210]);
});

test('Vid4 walk and calendar: no cuts; walk + calendar: one cut at the junction', { skip: VID4 }, async () => {
  const [walk, calendar, both] = await Promise.all([vid4('walk.mp4', 'walk'), vid4('calendar.mp4', 'calendar'), vid4('walk-calendar.mp4', 'walk', 'calendar')]);
  const w = await findSceneCuts(walk);
  assert.equal(w.frames, 47);
  assert.deepEqual(w.cuts, []);
  const c = await findSceneCuts(calendar);
  assert.equal(c.frames, 41);
  assert.deepEqual(c.cuts, []);
  const b = await findSceneCuts(both);
  assert.equal(b.frames, 88);
  assert.deepEqual(b.cuts.map((x) => x.frame), [47]);
});

function cli(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, ['--import', 'tsx', path.join(ROOT, 'src', 'cli', 'main.ts'), ...args], { cwd: ROOT }, (err, stdout, stderr) =>
      resolve({ code: err ? ((err as { code?: number }).code ?? 1) : 0, stdout, stderr }),
    );
  });
}

test('paragon scenes --json prints the cuts; bad input exits 4', { skip: needShared('video', 'issue-134-rotate.mp4') }, async () => {
  const r = await cli(['scenes', CLIP, '--json']);
  assert.equal(r.code, 0, r.stderr);
  assert.deepEqual(JSON.parse(r.stdout), { cuts: [{ frame: 90, time: 3.754 }, { frame: 210, time: 8.759 }] });
  const text = await cli(['scenes', CLIP]);
  assert.match(text.stdout, /240 frames, 2 cuts\n {2}frame 90 at 0:03\.754/);
  const bad = await cli(['scenes', path.join(ROOT, 'package.json')]);
  assert.equal(bad.code, 4);
  assert.match(bad.stderr, /package\.json: cannot read media/);
});
