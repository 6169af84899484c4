/**
 * `--temporal auto` on input that went through a lossy codec: generated pans (src/eval/
 * motion-clips.ts, our own ground truth) degraded by `writeDegraded` (antialiased bicubic ×2,
 * seeded noise, then a real x264 round trip at a CRF, stored as FFV1), read back from the file
 * and upscaled by the frame engine on the bundled model.
 * - A clean source's coding artefacts change from frame to frame, but not as noise does (a
 *   skipped block repeats, a reference frame's error carries into the next): auto must stay
 *   within the clean-content goal (PSNR-Y ≥ −0.02 dB, temporal error ≤ +0.5 %).
 * - Noise that a high-quality encode keeps (CRF 12) is still noise: auto must cut the temporal
 *   error of a noisy pan by ≥ 15 % without losing PSNR-Y, as on uncompressed noise.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir } from 'node:fs/promises';
import path from 'node:path';
import { writePng, type RgbImage } from '../../src/image/io.ts';
import { writeDegraded } from '../../src/eval/degrade.ts';
import { openSequence } from '../../src/eval/sequence.ts';
import { SequenceScorer, type MeanScores } from '../../src/eval/evaluate.ts';
import { deadLeaves, renderClip } from '../../src/eval/motion-clips.ts';
import { openUpscaler } from '../../src/temporal/open.ts';
import { tmp } from '../helpers/media.ts';
import { lacking } from '../helpers/ffmpeg-features.ts';

const FRAMES = 10;
const skip = await lacking({ encoder: 'libx264' });

/** A pan over a dead-leaves picture, as a PNG folder of ground truth (240×180). */
async function pan(name: string, pic: RgbImage, density: number, speed: [number, number]): Promise<{ dir: string; gts: RgbImage[] }> {
  const gts = renderClip(pic, { motion: 'pan', frames: FRAMES, width: 240, height: 180, density, speed });
  const dir = tmp(name);
  await mkdir(dir, { recursive: true });
  for (const [i, g] of gts.entries()) await writePng(path.join(dir, `${String(i).padStart(3, '0')}.png`), g);
  return { dir, gts };
}

/** Degrade through x264 at `crf`, read the stored frames back, and score weight 0 and auto. */
async function run(truth: { dir: string; gts: RgbImage[] }, noise: number, crf: number): Promise<[MeanScores, MeanScores]> {
  const file = tmp(`${path.basename(truth.dir)}-n${noise}-crf${crf}.mkv`);
  await writeDegraded(truth.dir, file, { scale: 2, noise, seed: 2, crf });
  const lrs: RgbImage[] = [];
  for await (const f of await openSequence(file)) lrs.push(f);
  assert.equal(lrs.length, FRAMES);
  const out: MeanScores[] = [];
  for (const historyWeight of [0, 'auto'] as const) {
    await using up = await openUpscaler(undefined, { mode: 'video', historyWeight, device: 'cpu' });
    const s = new SequenceScorer({ border: 4, ssim: false });
    for (const [i, lr] of lrs.entries()) s.push(await up.process(lr), truth.gts[i]!);
    out.push(s.mean);
  }
  return [out[0]!, out[1]!];
}

const line = (o: MeanScores, a: MeanScores): string =>
  `PSNR-Y ${o.psnr.toFixed(3)} → ${a.psnr.toFixed(3)}, temporal error ${o.temporalError!.toFixed(3)} → ${a.temporalError!.toFixed(3)}`;

test('clean source through x264 (CRF 23 and 32): auto is never worse than no history', { skip }, async (t) => {
  const fine = await pan('fine', deadLeaves(320, 256, 5), 1, [0.73, 0.31]);
  const fast = await pan('fast', deadLeaves(320, 256, 5), 1, [2.6, -1.1]);
  for (const [name, truth] of [['dense dead leaves, slow pan', fine], ['dense dead leaves, fast pan', fast]] as const)
    for (const crf of [23, 32]) {
      const [o, a] = await run(truth, 0, crf);
      t.diagnostic(`${name}, CRF ${crf}: ${line(o, a)}`);
      assert.ok(a.psnr >= o.psnr - 0.02, `${name}, CRF ${crf}: PSNR-Y ${a.psnr} vs ${o.psnr}`);
      assert.ok(a.temporalError! <= o.temporalError! * 1.005, `${name}, CRF ${crf}: temporal error ${a.temporalError} vs ${o.temporalError}`);
    }
});

test('noise kept by a high-quality encode (σ 4, CRF 12): auto cuts the temporal error of a pan by ≥ 15 %', { skip }, async (t) => {
  // Large dead leaves at twice their scale: flat parts where noise can be told from detail.
  const truth = await pan('large', deadLeaves(320, 256, 9, 8, 120), 0.5, [0.73, 0.31]);
  const [o, a] = await run(truth, 4, 12);
  const cut = 1 - a.temporalError! / o.temporalError!;
  t.diagnostic(`large dead leaves, slow pan, σ 4, CRF 12: ${line(o, a)} (−${(100 * cut).toFixed(0)} %)`);
  assert.ok(cut >= 0.15, `temporal error only ${(100 * cut).toFixed(1)} % lower`);
  assert.ok(a.psnr >= o.psnr, `PSNR-Y ${a.psnr} vs ${o.psnr}`);
});
