/**
 * The content-adaptive history weight: the window mean, the fused map against it, the noise
 * estimators on seeded noise, the map on a real frame (W where still, 0 where the content
 * changed), the clean-input gate, resets; then through the frame engine on the official Realtime weights: a per-pixel map tiles
 * and pads like the frame, and on a short static noisy clip `auto` is steadier than the blind blend.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { needShared, shared } from '../helpers/shared.ts';
import { cropImage, readImage, type RgbImage } from '../../src/image/io.ts';
import { degradeFrame, gaussianNoise } from '../../src/eval/degrade.ts';
import { SequenceScorer } from '../../src/eval/evaluate.ts';
import { openUpscaler } from '../../src/temporal/open.ts';
import { deadLeaves, renderClip } from '../../src/eval/motion-clips.ts';
import {
  HistoryWeightEstimator,
  boxMean,
  estimateNoise,
  estimateNoiseSpatial,
  frameLuma,
  historyWeightMap,
  reversed,
} from '../../src/temporal/history-weight.ts';

const OFFICIAL = shared('models', 'paragonsr2-v11', '2xParagonSR2_Realtime_fidelity.safetensors');
const needVid4 = needShared('vid4', 'walk');
const needModel = needVid4 || needShared('models', 'paragonsr2-v11', '2xParagonSR2_Realtime_fidelity.safetensors');

/** A frame plus seeded Gaussian noise (σ on 0–255), kept in 0..1 but not rounded. */
function noisy(img: RgbImage, sigma: number, index: number): RgbImage {
  const z = gaussianNoise(img.rgb.length, sigma / 255, 7, index);
  return { ...img, rgb: img.rgb.map((v, i) => Math.min(1, Math.max(0, v + z[i]!))) };
}

test('boxMean: window means with the window clipped at the edges', () => {
  // 3 × 4 plane, radius 1.
  const src = Float32Array.from([1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12]);
  const m = boxMean(src, 4, 3, 1);
  assert.ok(Math.abs(m[0]! - (1 + 2 + 5 + 6) / 4) < 1e-6, 'corner: 2×2 window');
  assert.ok(Math.abs(m[5]! - (1 + 2 + 3 + 5 + 6 + 7 + 9 + 10 + 11) / 9) < 1e-6, 'inside: 3×3');
  assert.ok(Math.abs(m[7]! - (3 + 4 + 7 + 8 + 11 + 12) / 6) < 1e-6, 'right edge: 2×3');
  assert.deepEqual([...boxMean(src, 4, 3, 0)], [...src], 'radius 0 is the identity');
});

test('historyWeightMap (window means fused with the map) equals the map spelled out with boxMean', () => {
  // Odd sizes and a frame narrower than the window, so every edge case of the fused loops runs.
  for (const [w, h, r] of [
    [37, 23, 2],
    [4, 9, 2],
    [16, 16, 1],
  ] as const) {
    const y = Float32Array.from(gaussianNoise(w * h, 6, 3, w), (v, i) => 120 + 40 * Math.sin(i / 7) + v / 3);
    // The reference: the same content with other noise, brighter in the right third (a change).
    const ref = Float32Array.from(gaussianNoise(w * h, 6, 4, w), (v, i) => 120 + 40 * Math.sin(i / 7) + v / 3 + (i % w >= (2 * w) / 3 ? 30 : 0));
    const refVar = Float32Array.from({ length: w * h }, (_, i) => (i % 5) / 4);
    const sigma = 2.5;
    const got = historyWeightMap(y, ref, refVar, w, h, sigma, { radius: r, maxWeight: 0.9 });
    const d = Float32Array.from(y, (v, i) => v - ref[i]!);
    const signed = boxMean(d, w, h, r);
    const abs = boxMean(d.map(Math.abs), w, h, r);
    const [k, am, as] = [2 * r + 1, Math.sqrt(2 / Math.PI), Math.sqrt(1 - 2 / Math.PI)];
    let changed = 0;
    for (let i = 0; i < w * h; i++) {
      const sd = sigma * Math.sqrt(1 + refVar[i]!);
      const z = Math.max(Math.abs(signed[i]!) / (sd / k), (abs[i]! - am * sd) / ((as * sd) / k));
      const want = 0.9 * Math.min(1, Math.max(0, (6 - z) / 3));
      assert.ok(Math.abs(got[i]! - want) < 1e-5, `${w}x${h} r ${r} pixel ${i}: ${got[i]} vs ${want}`);
      if (want < 0.9) changed++;
    }
    assert.ok(changed > 0 && changed < w * h, `${w}x${h}: both kept and dropped history (${changed} of ${w * h} below W)`);
  }
});

test('noise estimators: seeded Gaussian noise on a flat frame reads its σ; no noise reads ~0', () => {
  const [w, h] = [96, 80];
  const grey = (k: number, sigma: number) => {
    const z = gaussianNoise(w * h, sigma, 11, k);
    return Float32Array.from(z, (v) => 120 + v);
  };
  for (const sigma of [1, 3, 6]) {
    const a = grey(0, sigma);
    const b = grey(1, sigma);
    const t = estimateNoise(a, b, w, h);
    const s = estimateNoiseSpatial(a, w, h);
    assert.ok(Math.abs(t / sigma - 1) < 0.12, `temporal estimate ${t} for σ ${sigma}`);
    assert.ok(Math.abs(s / sigma - 1) < 0.2, `spatial estimate ${s} for σ ${sigma}`);
  }
  const ramp = Float32Array.from({ length: w * h }, (_, i) => 40 + (i % w) + 0.5 * Math.floor(i / w));
  assert.equal(estimateNoise(ramp, ramp, w, h), 0);
  assert.ok(estimateNoiseSpatial(ramp, w, h) < 1e-3, 'a linear ramp has no Laplacian response');
});

test('map on a real frame: W where still, 0 where content moved; clean input keeps no history', { skip: needVid4 }, async () => {
  const gt = await readImage(shared('vid4', 'walk', '001.png'));
  const base = cropImage(gt, 200, 100, 128, 96);
  // Frame 3 has a 32×32 block replaced by content from 40 pixels away (an object moved in).
  const moved = (): RgbImage => {
    const f = { ...base, rgb: base.rgb.slice() };
    const src = cropImage(gt, 240, 100, 128, 96);
    for (let c = 0; c < 3; c++)
      for (let y = 40; y < 72; y++) for (let x = 60; x < 92; x++) f.rgb[c * 128 * 96 + y * 128 + x] = src.rgb[c * 128 * 96 + y * 128 + x]!;
    return f;
  };
  const est = new HistoryWeightEstimator();
  const W = Math.fround(est.options.maxWeight); // maps are float32
  assert.equal(est.next(noisy(base, 4, 0)), 0, 'first frame: no history');
  assert.equal(est.next(noisy(base, 4, 1)), 0, 'second frame: the noise is read from two differences, so not yet');
  const m2 = est.next(noisy(base, 4, 4));
  assert.ok(m2 !== 0);
  assert.ok(Math.abs(est.noise - 4 * 0.668) < 0.5, `luma noise ${est.noise} ≈ 4 × 0.668`);
  const still = m2.filter((v) => v === W).length / m2.length;
  assert.ok(still > 0.9, `${still} of a still noisy frame keeps the full weight`);
  const m3 = est.next(noisy(moved(), 4, 2));
  assert.ok(m3 !== 0);
  let inside = 0;
  for (let y = 44; y < 68; y++) for (let x = 64; x < 88; x++) inside = Math.max(inside, m3[y * 128 + x]!);
  assert.equal(inside, 0, 'the moved block gets no history');
  let far = 0;
  for (let y = 0; y < 30; y++) for (let x = 0; x < 128; x++) far += m3[y * 128 + x]! === W ? 1 : 0;
  assert.ok(far / (30 * 128) > 0.9, 'rows far from the block keep the full weight');
  assert.equal(est.next(noisy(base, 4, 3), { cut: true }), 0, 'a cut restarts');
  assert.equal(est.next(cropImage(gt, 0, 0, 64, 64)), 0, 'a size change restarts');
  // The same still scene without noise: nothing to average, so no history at all.
  const clean = new HistoryWeightEstimator();
  clean.next(base);
  clean.next(base);
  assert.equal(clean.next(base), 0, 'clean input: weight 0 everywhere, given as the scalar 0');
  assert.ok(clean.noise < 0.8);
  assert.equal(frameLuma(base).length, 128 * 96);
});

test('frame engine: a per-pixel alpha tiles like the frame, and a constant map equals the scalar', { skip: needModel }, async () => {
  const gt = await readImage(shared('vid4', 'walk', '001.png'));
  const f1 = noisy(cropImage(gt, 300, 150, 72, 56), 4, 0);
  const f2 = noisy(cropImage(gt, 300, 150, 72, 56), 4, 1);
  const map = Float32Array.from({ length: 72 * 56 }, (_, i) => ((i % 72) / 72) * 0.9);
  const run = async (tile: number, alpha: Float32Array | number) => {
    await using up = await openUpscaler(OFFICIAL, { mode: 'video', historyWeight: 0.5, tile, device: 'cpu', cpu: { intraOpThreads: 1 } });
    await up.process(f1);
    return (await up.process(f2, { alpha })).rgb;
  };
  const maxDiff = (a: Float32Array, b: Float32Array) => a.reduce((m, v, i) => Math.max(m, Math.abs(v - b[i]!)), 0);
  const whole = await run(0, map);
  const tiled = await run(32, map);
  assert.ok(maxDiff(whole, tiled) < 1e-5, `tiled vs whole with a map: ${maxDiff(whole, tiled)}`);
  const scalar = await run(0, 0.3);
  const constant = await run(32, new Float32Array(72 * 56).fill(0.3));
  assert.ok(maxDiff(scalar, constant) < 1e-5);
  assert.ok(maxDiff(whole, scalar) > 1e-3, 'the map changed the frame');
});

test('short static noisy clip: auto is steadier than weight 0 and the blind blend', { skip: needModel }, async () => {
  const gt = cropImage(await readImage(shared('vid4', 'walk', '001.png')), 240, 120, 160, 128);
  const frames = 10;
  const lrs = Array.from({ length: frames }, (_, i) => degradeFrame(gt, i, { scale: 2, noise: 4, seed: 3 }));
  const te = async (method: number | 'auto') => {
    await using up = await openUpscaler(OFFICIAL, { mode: 'video', historyWeight: method, device: 'cpu', cpu: { intraOpThreads: 1 } });
    const s = new SequenceScorer({ border: 4, ssim: false });
    for (const lr of lrs) s.push(await up.process(lr), gt);
    return s.mean;
  };
  const [none, blind, auto] = [await te(0), await te(0.2), await te('auto')];
  assert.ok(auto.temporalError! < 0.75 * none.temporalError!, `auto ${auto.temporalError} vs weight 0 ${none.temporalError}`);
  assert.ok(auto.temporalError! < blind.temporalError!, `auto ${auto.temporalError} vs blind 0.2 ${blind.temporalError}`);
  assert.ok(auto.psnr > none.psnr, 'and closer to the truth');
});

/** A smooth pattern the camera pans over by (0.6, 0.3) pixels a frame, and a bright square that moves on its own by 2 pixels a frame, under noise. */
function panWithSquare(w: number, h: number, k: number): RgbImage {
  const z = gaussianNoise(3 * w * h, 5 / 255, 5, k);
  const s = w / 96;
  return { width: w, height: h, rgb: Float32Array.from(z, (v, i) => {
    const p = i % (w * h);
    const [x, y] = [p % w, Math.floor(p / w)];
    const bg = 0.45 + 0.2 * Math.sin((x + 0.6 * k) / 4) * Math.cos((y + 0.3 * k) / 3.5);
    return bg + v + (x >= s * 20 + 2 * k && x < s * 34 + 2 * k && y >= s * 20 && y < s * 36 ? 0.3 : 0);
  }) };
}

for (const [w, h] of [[96, 64], [640, 360]] as const) {
  test(`snapshot/restore: a restored estimator gives the same maps and motion as one that never stopped (${w}×${h}${w * h >= 1 << 17 ? ', half plane' : ''})`, () => {
    const a = new HistoryWeightEstimator();
    for (let k = 0; k < 4; k++) a.next(panWithSquare(w, h, k));
    const snap = a.snapshot();
    if (w * h >= 1 << 17) {
      assert.deepEqual([snap.width, snap.height, snap.frameWidth, snap.frameHeight, snap.frame?.length], [w / 2, h / 2, w, h, w * h], 'the half plane, and the frame for the motion');
    } else assert.equal(snap.frame, undefined);
    const b = new HistoryWeightEstimator();
    b.restore(snap);
    for (let k = 4; k < 7; k++) {
      const ma = a.next(panWithSquare(w, h, k));
      const mb = b.next(panWithSquare(w, h, k));
      assert.ok(ma !== 0 && mb !== 0);
      assert.equal(ma.length, w * h);
      assert.deepEqual(mb, ma);
      assert.deepEqual(b.shift, a.shift);
      // The square pulls the one translation a little its way.
      assert.ok(Math.abs(a.shift.dx - 0.6) < 0.1 && Math.abs(a.shift.dy - 0.3) < 0.1, `the pan: ${a.shift.dx}, ${a.shift.dy}`);
      assert.ok(ma.some((v) => v === 0) && ma.some((v) => v > 0.5), 'the moving square and the panning field differ');
    }
  });
}

test('large frames are measured on their half plane: maps whole on 2×2 blocks, motion in pixels of the frame, noise as on the frame', () => {
  const [w, h] = [640, 360];
  const half = new HistoryWeightEstimator();
  const full = new HistoryWeightEstimator({ halfFrom: Infinity });
  let compared = 0;
  for (let k = 0; k < 8; k++) {
    const f = panWithSquare(w, h, k);
    const m = half.next(f);
    const mf = full.next(f);
    if (k < 3) continue;
    assert.ok(m !== 0 && mf !== 0, `frame ${k} keeps history`);
    // Each 2×2 block has one weight, except where content entered (the frame's own edge).
    let split = 0;
    for (let y = 2; y < h - 2; y += 2)
      for (let x = 2; x < w - 2; x += 2) {
        const i = y * w + x;
        if (m[i] !== m[i + 1] || m[i] !== m[i + w] || m[i] !== m[i + w + 1]) split++;
      }
    assert.equal(split, 0, 'blocks with more than one weight');
    assert.ok(Math.abs(half.shift.dx - full.shift.dx) < 0.02 && Math.abs(half.shift.dy - full.shift.dy) < 0.02, `one motion: ${JSON.stringify(half.shift)} and ${JSON.stringify(full.shift)}`);
    // White noise σ 5 on RGB: σ 3.3 on luma, read on the frame as on its half plane (twice its σ).
    assert.ok(Math.abs(half.noise - full.noise) < 0.35 && half.noise > 2.6, `noise ${half.noise} on the half plane, ${full.noise} on the frame`);
    // Where the frame keeps history, both keep it; the square drops it in both.
    let agree = 0;
    for (let i = 0; i < w * h; i++) if (m[i]! > 0.3 === mf[i]! > 0.3) agree++;
    assert.ok(agree > 0.9 * w * h, `the maps agree on ${((100 * agree) / (w * h)).toFixed(1)} % of the pixels`);
    compared++;
  }
  assert.equal(compared, 5);
});

test('large clean frames keep no history on the half plane: dense texture panning and zooming reads no noise (the weight-0 result)', () => {
  // Dead leaves at the frame's scale: texture up to the sampling limit, the case that read as
  // noise before the covariance reading; 640×360 frames are measured on their half plane.
  const pic = deadLeaves(760, 460, 11);
  for (const [motion, speed] of [['pan', [1.3, 0.55]], ['zoom', undefined]] as const) {
    const frames = renderClip(pic, { motion, frames: 8, width: 640, height: 360, ...(speed ? { speed } : {}) });
    const e = new HistoryWeightEstimator();
    for (const f of frames) assert.equal(e.next(f), 0, `${motion}: a map on clean frames`);
    assert.ok(e.noise < 1.2, `${motion}: noise read ${e.noise}`);
  }
});

test('noise under moving sharp edges: read on the least textured blocks, near its σ, while the clean pans stay shut', () => {
  // Dead leaves with discs from 3 pixels: sharp edges everywhere, flat inside the discs (a
  // butterfly's wing, foliage in focus). What the warp leaves along the edges pulls their blocks'
  // readings far under the noise; the flat blocks keep it.
  const pic = deadLeaves(320, 256, 5, 3);
  const truth = 4 * 0.668; // σ 4 on RGB, on luma
  for (const speed of [[0.73, 0.31], [2.6, -1.1]] as const) {
    const gts = renderClip(pic, { motion: 'pan', frames: 8, width: 192, height: 160, speed });
    const read = (noise: number, smoothest?: number): number => {
      const e = new HistoryWeightEstimator(smoothest === undefined ? {} : { smoothest });
      let most = 0;
      gts.forEach((g, i) => {
        e.next(degradeFrame(g, i, { scale: 2, noise, seed: 3 }));
        most = Math.max(most, e.noise);
      });
      return noise === 0 ? most : e.noise;
    };
    const clean = read(0);
    assert.ok(clean < 0.5, `pan ${speed}, clean: read up to ${clean.toFixed(2)}`);
    const noisy = read(4);
    assert.ok(noisy > 0.7 * truth && noisy < 1.25 * truth, `pan ${speed}, σ 4: read ${noisy.toFixed(2)} for ${truth.toFixed(2)}`);
    // Read on every block, the edges hide most of it: the gate would stay (almost) shut.
    const everywhere = read(4, 1);
    assert.ok(everywhere < 0.5 * truth, `pan ${speed}, σ 4 read on every block: ${everywhere.toFixed(2)}`);
  }
});

test('a hand-held camera: its roll turning back and forth is not read as noise (clean: no history), while noise still is', () => {
  // A new random offset and roll every frame (motion-clips.ts `shake`): what the translation
  // leaves of the roll comes back negated in the next difference, the signature of noise. Over
  // dense texture it read σ 2.7–2.8 before (history on clean frames); the frames whose residual
  // motion turned give no reading now.
  const gts = renderClip(deadLeaves(320, 256, 5), { motion: 'shake', frames: 8, width: 192, height: 160, seed: 1 });
  const e = new HistoryWeightEstimator();
  let most = 0;
  gts.forEach((g, i) => {
    assert.equal(e.next(degradeFrame(g, i, { scale: 2, noise: 0, seed: 3 })), 0, `clean frame ${i}: weight 0`);
    most = Math.max(most, e.noise);
  });
  assert.ok(most < 0.5, `clean: read up to ${most.toFixed(2)}`);
  // Noise under the same shake, over flat-inside discs: the frames whose roll kept its direction read it.
  const truth = 4 * 0.668;
  for (const seed of [1, 2]) {
    const noisy = renderClip(deadLeaves(320, 256, 5, 3), { motion: 'shake', frames: 8, width: 192, height: 160, seed });
    const n = new HistoryWeightEstimator();
    let resumed: HistoryWeightEstimator | undefined;
    noisy.forEach((g, i) => {
      const lr = degradeFrame(g, i, { scale: 2, noise: 4, seed: 3 });
      if (i === 4) {
        // A checkpoint mid-shake carries the last residual motion: the reading goes on the same.
        const snap = n.snapshot();
        assert.ok(snap.residual, 'the snapshot holds the residual motion');
        (resumed = new HistoryWeightEstimator()).restore(snap);
      }
      const map = n.next(lr);
      if (resumed) assert.deepEqual(resumed.next(lr), map, `frame ${i} after a restore`);
    });
    assert.equal(resumed?.noise, n.noise);
    assert.ok(n.noise > 0.7 * truth && n.noise < 1.25 * truth, `shake ${seed}, σ 4: read ${n.noise.toFixed(2)} for ${truth.toFixed(2)}`);
  }
  // The rule itself: residual motions against each other by more than a tenth of a pixel.
  assert.equal(reversed([0.3, 0, 0, 0.3], [-0.3, 0, 0, -0.2]), true);
  assert.equal(reversed([0.3, 0, 0, 0.3], [0.3, 0, 0, 0.2]), false, 'a steady zoom');
  assert.equal(reversed([0.05, 0, 0, 0.05], [-0.05, 0, 0, -0.05]), false, 'under a tenth of a pixel');
  assert.equal(reversed([0.08, 0, 0, 0.08], [-0.08, 0, 0, -0.08], 2), true, 'on the half plane, in pixels of the frame');
  assert.equal(reversed(undefined, [0.3, 0, 0, 0.3]), false);
});

test('without motion compensation (a graph without the warp head) the noise is still read on aligned differences: a clean fast pan keeps no history', () => {
  // The history stays where it was, but the estimator measures the motion for the noise reading:
  // unaligned differences of dense texture moving 3 pixels a frame anti-correlate like noise (they
  // read σ 10–40 here), which would open the gate on a clean clip.
  const gts = renderClip(deadLeaves(320, 256, 5), { motion: 'pan', frames: 8, width: 192, height: 160, speed: [6, 3] });
  for (const noise of [0, 4]) {
    const e = new HistoryWeightEstimator({ motion: false });
    let most = 0;
    gts.forEach((g, i) => {
      const map = e.next(degradeFrame(g, i, { scale: 2, noise, seed: 3 }));
      if (noise === 0) assert.equal(map, 0, `clean frame ${i}: weight 0`);
      assert.equal(e.shift.dx === 0 && e.shift.dy === 0, true, 'the history does not move');
      most = Math.max(most, e.noise);
    });
    if (noise === 0) assert.ok(most < 0.5, `clean: read up to ${most.toFixed(2)}`);
    else assert.ok(most > 1.2 && most < 4, `σ 4: read ${most.toFixed(2)}`);
  }
});
