/**
 * What `--temporal auto` promises, on generated clips with their ground truth (src/eval/
 * motion-clips.ts: a camera over a picture, antialiased bicubic ×2, seeded noise), through the
 * frame engine on the bundled model:
 * - clean content, however it moves (sub-pixel pans, zooms, rotations, a hand-held shake over dense fine texture):
 *   never worse than no history (PSNR-Y ≥ −0.02 dB, temporal error ≤ +0.5 %);
 * - noisy pans: the history follows the camera, temporal error ≥ 15 % lower, PSNR-Y not lower;
 * - a noisy still camera: temporal error ≥ 40 % lower.
 * Set5 photographs join the dead-leaves texture when ../shared is there.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readImage, type RgbImage } from '../../src/image/io.ts';
import { degradeFrame } from '../../src/eval/degrade.ts';
import { SequenceScorer, type MeanScores } from '../../src/eval/evaluate.ts';
import { deadLeaves, renderClip, type ClipSpec } from '../../src/eval/motion-clips.ts';
import { openUpscaler } from '../../src/temporal/open.ts';
import { needShared, shared } from '../helpers/shared.ts';

const FRAMES = 8;

/**
 * Mean scores of each clip through one engine of `historyWeight` (a cut starts each clip: no
 * history across clips, the noise read afresh for each, as in one video of several shots).
 */
async function scores(clips: RgbImage[][], noise: number, historyWeight: number | 'auto'): Promise<MeanScores[]> {
  await using up = await openUpscaler(undefined, { mode: 'video', historyWeight, device: 'cpu' });
  const out: MeanScores[] = [];
  for (const gts of clips) {
    const s = new SequenceScorer({ border: 4, ssim: false });
    for (const [i, gt] of gts.entries()) s.push(await up.process(degradeFrame(gt, i, { scale: 2, noise, seed: 3 }), { cut: i === 0 }), gt);
    out.push(s.mean);
  }
  return out;
}

const clip = (pic: RgbImage, motion: ClipSpec['motion'], speed?: ClipSpec['speed'], density = 1): RgbImage[] =>
  renderClip(pic, { motion, frames: FRAMES, width: 160, height: 120, density, ...(speed !== undefined ? { speed } : {}) });

const set5 = async (name: string): Promise<RgbImage[]> => (needShared('images', 'set5', 'hr', `${name}.png`) ? [] : [await readImage(shared('images', 'set5', 'hr', `${name}.png`))]);

test('clean clips, every motion: auto is never worse than no history (PSNR-Y ≥ −0.02 dB, temporal error ≤ +0.5 %)', async (t) => {
  // Dense fine texture (the case where texture and motion pass for noise) moving every way, and a photograph.
  const leaves = deadLeaves(320, 256, 5);
  const cases: [string, RgbImage[]][] = [
    ['dead leaves, slow pan', clip(leaves, 'pan', [0.73, 0.31])],
    ['dead leaves, fast pan', clip(leaves, 'pan', [2.6, -1.1])],
    ['dead leaves, zoom', clip(leaves, 'zoom')],
    ['dead leaves, rotation', clip(leaves, 'rotate')],
    // A hand-held camera (a new offset and roll every frame): a roll that turns back reads as noise.
    ['dead leaves, hand-held shake', renderClip(leaves, { motion: 'shake', frames: FRAMES, width: 192, height: 160, seed: 1 })],
    ...(await set5('bird')).map((p): [string, RgbImage[]] => ['bird, slow pan', clip(p, 'pan')]),
    // Sharp edges moving fast: the clip where agreeing difference and Laplacian once passed for noise.
    ...(await set5('butterfly')).map((p): [string, RgbImage[]] => ['butterfly, fast pan', clip(p, 'pan', [2.6, -1.1])]),
  ];
  const [off, auto] = [await scores(cases.map((c) => c[1]), 0, 0), await scores(cases.map((c) => c[1]), 0, 'auto')];
  for (const [k, [name]] of cases.entries()) {
    const [o, a] = [off[k]!, auto[k]!];
    t.diagnostic(`${name}: PSNR-Y ${o.psnr.toFixed(3)} → ${a.psnr.toFixed(3)}, temporal error ${o.temporalError!.toFixed(3)} → ${a.temporalError!.toFixed(3)}`);
    assert.ok(a.psnr >= o.psnr - 0.02, `${name}: PSNR-Y ${a.psnr} vs ${o.psnr}`);
    assert.ok(a.temporalError! <= o.temporalError! * 1.005, `${name}: temporal error ${a.temporalError} vs ${o.temporalError}`);
  }
});

test('noisy (σ 4): a pan cuts the temporal error by ≥ 15 % without losing PSNR-Y, a still camera by ≥ 40 %', async (t) => {
  // Pictures with flat parts, where noise can be told from detail: large dead leaves seen at twice
  // their scale (soft edges), a photograph.
  const pics: [string, RgbImage, number][] = [['large dead leaves', deadLeaves(320, 256, 9, 8, 120), 0.5], ...(await set5('baby')).map((p): [string, RgbImage, number] => ['baby', p, 1])];
  const cases = pics.flatMap(([name, pic, density]) => (['pan', 'still'] as const).map((m): [string, RgbImage[], number] => [`${name}, ${m}`, clip(pic, m, undefined, density), m === 'pan' ? 0.15 : 0.4]));
  const [off, auto] = [await scores(cases.map((c) => c[1]), 4, 0), await scores(cases.map((c) => c[1]), 4, 'auto')];
  for (const [k, [name, , goal]] of cases.entries()) {
    const [o, a] = [off[k]!, auto[k]!];
    const cut = 1 - a.temporalError! / o.temporalError!;
    t.diagnostic(`${name}: PSNR-Y ${o.psnr.toFixed(3)} → ${a.psnr.toFixed(3)}, temporal error ${o.temporalError!.toFixed(3)} → ${a.temporalError!.toFixed(3)} (−${(100 * cut).toFixed(0)} %)`);
    assert.ok(cut >= goal, `${name}: temporal error only ${(100 * cut).toFixed(1)} % lower`);
    assert.ok(a.psnr >= o.psnr, `${name}: PSNR-Y ${a.psnr} vs ${o.psnr}`);
  }
});
