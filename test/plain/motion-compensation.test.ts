/**
 * Motion-compensated history (`--temporal auto`): the global motion estimator against known
 * sub-pixel pans (its accuracy: 0.05 pixel), the warp of the planes, the graph's warp head against
 * that warp, and the frame engine moving its feature state with the camera the same way on every
 * path (pipelined through the head, one at a time and tiled through warpShift), a snapshot taken
 * mid-pan continuing bit for bit. Runs on the bundled model and generated pictures; Set5 adds
 * photographs when ../shared is there.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as ort from 'onnxruntime-node';
import { readImage, type RgbImage } from '../../src/image/io.ts';
import { degradeFrame, gaussianNoise, mulberry32 } from '../../src/eval/degrade.ts';
import { deadLeaves, renderClip, type ClipSpec } from '../../src/eval/motion-clips.ts';
import { resolveModel } from '../../src/runtime/model.ts';
import { fromFloat16, toFloat16 } from '../../src/runtime/tensor.ts';
import { withWarpHead, hasWarpHead, WARP_KERNEL_X, WARP_KERNEL_Y } from '../../src/graph/warp-head.ts';
import { HistoryWeightEstimator, estimateNoiseMoving, frameLuma, softness } from '../../src/temporal/history-weight.ts';
import { NO_SHIFT, estimateShift, zeroEntering, type Shift } from '../../src/temporal/motion.ts';
import { warpHeadFeeds, warpShift } from '../../src/temporal/warp.ts';
import { openUpscaler } from '../../src/temporal/open.ts';
import type { PlanarFrame } from '../../src/temporal/upscaler.ts';
import { needShared, shared } from '../helpers/shared.ts';

/** Sub-pixel accuracy of estimateShift on the generated pans (pixels, each direction). */
const ACCURACY = 0.05;

const maxDiff = (a: Float32Array, b: Float32Array): number => a.reduce((m, v, i) => Math.max(m, Math.abs(v - b[i]!)), 0);

test(`estimateShift: sub-pixel pans with known truth, within ${ACCURACY} pixel; a still pair is exactly still`, async () => {
  const pictures: [string, RgbImage][] = [['dead leaves', deadLeaves(320, 256, 5)]];
  if (!needShared('images', 'set5', 'hr', 'baby.png')) pictures.push(['baby', await readImage(shared('images', 'set5', 'hr', 'baby.png'))]);
  // Motion of the ground truth a frame (its pixels): the low-resolution frames move by half.
  const speeds: [number, number][] = [[0.73, 0.31], [-1.9, 2.45], [12.6, -7.2]];
  for (const [name, pic] of pictures)
    for (const speed of speeds) {
      const gts = renderClip(pic, { motion: 'pan', frames: 2, width: 224, height: 160, speed });
      for (const noise of [0, 4]) {
        const [a, b] = gts.map((g, i) => frameLuma(degradeFrame(g, i, { scale: 2, noise, seed: 2 }))) as [Float32Array, Float32Array];
        const s = estimateShift(a, b, 112, 80, { noise: noise * 0.67 });
        const err = Math.max(Math.abs(s.dx - speed[0] / 2), Math.abs(s.dy - speed[1] / 2));
        assert.ok(err <= ACCURACY, `${name}, pan ${speed}, σ ${noise}: (${s.dx.toFixed(3)}, ${s.dy.toFixed(3)}) is ${err.toFixed(3)} off`);
      }
    }
  const still = frameLuma(degradeFrame(renderClip(pictures[0]![1], { motion: 'still', frames: 1, width: 224, height: 160 })[0]!, 0, { scale: 2 }));
  const noisy = (k: number) => {
    const z = gaussianNoise(still.length, 3, 4, k);
    return Float32Array.from(still, (v, i) => v + z[i]!);
  };
  assert.deepEqual(estimateShift(noisy(0), noisy(1), 112, 80, { noise: 3 }), NO_SHIFT);
});

test('large frames (640×360, 1280×720: fewer rows and blocks measured): an analytic pan is found within 0.02 pixel and its noise within 5 %', () => {
  // A smooth pattern with known sub-pixel motion: no aliasing, so the truth is exact.
  const pattern = (x: number, y: number) => 128 + 40 * Math.sin(0.21 * x + 0.13 * y) + 30 * Math.cos(0.09 * x - 0.17 * y) + 15 * Math.sin(0.05 * x * 0.7 + 0.31 * y);
  const v: Shift = { dx: 1.37, dy: -0.62 };
  for (const [w, h] of [[640, 360], [1280, 720]] as const)
    for (const sigma of [0, 3]) {
      // cur(x, y) = prev(x + dx, y + dy): the content moves by (−dx, −dy) a frame.
      const frame = (t: number) => {
        const z = gaussianNoise(w * h, sigma, 5, t);
        return Float32Array.from(z, (n, i) => pattern((i % w) + t * v.dx, Math.floor(i / w) + t * v.dy) + n);
      };
      const [f0, f1, f2] = [frame(0), frame(1), frame(2)];
      const s = estimateShift(f0, f1, w, h, { noise: sigma });
      assert.ok(Math.abs(s.dx - v.dx) < 0.02 && Math.abs(s.dy - v.dy) < 0.02, `${w}x${h} σ ${sigma}: (${s.dx.toFixed(3)}, ${s.dy.toFixed(3)})`);
      const first = estimateNoiseMoving(f0, f1, w, h, s, undefined);
      const read = estimateNoiseMoving(f1, f2, w, h, estimateShift(f1, f2, w, h, { noise: sigma }), first.difference).sigma!;
      if (sigma === 0) assert.ok(read < 0.3, `${w}x${h} clean: read σ ${read}`);
      // The blocks' readings scatter about σ²; their quantile is calibrated so that noise alone
      // reads its σ (noise.ts `quantileGain`).
      else assert.ok(Math.abs(read / sigma - 1) < 0.05, `${w}x${h} σ ${sigma}: read ${read.toFixed(2)}`);
    }
});

test(`large frames (640×360) on dense texture: slow and fast pans within ${ACCURACY} pixel, clean and noisy`, () => {
  // Large frames skip the whole-pixel search at half resolution and measure fewer rows: the
  // accuracy must not depend on it. Frames rendered at 640×360 (antialiased) from a picture at
  // half their scale (as the small pans above), moved by `speed`.
  const pic = deadLeaves(400, 250, 9);
  for (const speed of [[0.73, 0.31], [1.3, 0.55], [6.3, -3.6]] as const) {
    const frames = renderClip(pic, { motion: 'pan', frames: 2, width: 640, height: 360, speed, density: 0.5 }).map((f) => frameLuma(f));
    for (const noise of [0, 4]) {
      const [a, b] = frames.map((y, t) => {
        const z = gaussianNoise(y.length, noise, 3, t);
        return Float32Array.from(y, (v, i) => v + z[i]!);
      }) as [Float32Array, Float32Array];
      const s = estimateShift(a, b, 640, 360, { noise });
      const err = Math.max(Math.abs(s.dx - speed[0]), Math.abs(s.dy - speed[1]));
      assert.ok(err <= ACCURACY, `pan ${speed}, σ ${noise}: (${s.dx.toFixed(3)}, ${s.dy.toFixed(3)}) is ${err.toFixed(3)} off`);
    }
  }
});

test('a change of brightness (a light, the exposure) between two frames does not move the answer: large frames of fine texture, 5 % brighter or darker', () => {
  // Fine low-contrast texture and no coarse structure (grain, sand, fabric): the search's coarse
  // levels are nearly flat, so a frame 5 % brighter than the last differs from it more there than
  // from places far away (before: 12 and 4 pixels off). Cells of 2 and 4 pixels of random grey.
  const fine = (cell: number, seed: number): RgbImage => {
    const [w, h] = [1400, 800];
    const rand = mulberry32(seed);
    const cw = Math.ceil(w / cell);
    const cells = Array.from({ length: cw * Math.ceil(h / cell) }, () => 0.45 + 0.1 * (rand() - 0.5));
    const rgb = new Float32Array(3 * w * h);
    for (let i = 0; i < w * h; i++) rgb[i] = rgb[i + w * h] = rgb[i + 2 * w * h] = cells[Math.floor(Math.floor(i / w) / cell) * cw + Math.floor((i % w) / cell)]!;
    return { width: w, height: h, rgb };
  };
  const speed = [1.3, -0.7] as const;
  for (const cell of [2, 4]) {
    const [f0, f1] = renderClip(fine(cell, 7), { motion: 'pan', frames: 2, width: 1280, height: 720, speed }).map((f, i) => degradeFrame(f, i, { scale: 2 })) as [RgbImage, RgbImage];
    for (const gain of [1.05, 0.95]) {
      const s = estimateShift(frameLuma(f0), frameLuma({ ...f1, rgb: f1.rgb.map((v) => Math.min(1, v * gain)) }), 640, 360);
      // Lucas–Kanade's sub-pixel step sees the change too (the means' gain leaves luma's offset): 0.1 pixel.
      const err = Math.max(Math.abs(s.dx - speed[0] / 2), Math.abs(s.dy - speed[1] / 2));
      assert.ok(err <= 0.1, `cells of ${cell}, gain ${gain}: (${s.dx.toFixed(3)}, ${s.dy.toFixed(3)}) is ${err.toFixed(3)} off`);
    }
  }
});

test('warpShift: whole pixels copy with the edges clamped; a fraction is exact on cubics (six-point Keys); entering pixels lose their history', () => {
  const [h, w] = [6, 9];
  const src = Float32Array.from({ length: 2 * h * w }, (_, i) => i * 1.5 - 7);
  const moved = warpShift(src, 2, h, w, { dx: 2, dy: -1 });
  for (let c = 0; c < 2; c++)
    for (let y = 0; y < h; y++)
      for (let x = 0; x < w; x++) {
        const [sx, sy] = [Math.min(w - 1, x + 2), Math.max(0, y - 1)];
        assert.equal(moved[c * h * w + y * w + x], src[c * h * w + sy * w + sx], `(${c}, ${x}, ${y})`);
      }
  // A cubic in x and in y (each term a product of cubics): the six-point kernel reproduces it
  // wherever its taps (−2 … 3 pixels from the whole shift) lie inside; the four-point Keys only
  // quadratics.
  const [H, W] = [10, 14];
  const poly = (x: number, y: number) => 0.01 * x ** 3 - 0.2 * x * x + 3 * x + 0.02 * y ** 3 - 0.1 * y * y + 2 * y - 0.003 * x * x * y;
  const cubic = Float32Array.from({ length: H * W }, (_, i) => poly(i % W, Math.floor(i / W)));
  const s: Shift = { dx: 0.375, dy: 1.25 };
  const r = warpShift(cubic, 1, H, W, s);
  const keys4 = warpShift(cubic, 1, H, W, s, { kernel: 'keys' });
  let [inside, off4] = [0, 0];
  for (let y = 1; y + 1 + 3 < H; y++)
    for (let x = 2; x + 3 < W; x++, inside++) {
      const want = poly(x + s.dx, y + s.dy);
      assert.ok(Math.abs(r[y * W + x]! - want) < 1e-4, `cubic at ${x}, ${y}: ${r[y * W + x]} against ${want}`);
      off4 = Math.max(off4, Math.abs(keys4[y * W + x]! - want));
    }
  assert.equal(inside, 45);
  assert.ok(off4 > 1e-3, `the four-point kernel is not exact on cubics (${off4})`);
  // Entering pixels (their source outside the last frame) lose their history: every side, whole
  // and fractional shifts, shifts past the frame, and none for no motion — the rule spelled out.
  for (const t of [s, NO_SHIFT, { dx: -0.4, dy: 0 }, { dx: 2, dy: -3 }, { dx: -1.5, dy: 0.5 }, { dx: 12, dy: 0.2 }, { dx: 0.1, dy: -7 }]) {
    const map = new Float32Array(w * h).fill(0.5);
    zeroEntering(map, h, w, t);
    for (let y = 0; y < h; y++)
      for (let x = 0; x < w; x++) {
        const entered = x + t.dx < 0 || x + t.dx > w - 1 || y + t.dy < 0 || y + t.dy > h - 1;
        assert.equal(map[y * w + x], entered ? 0 : 0.5, `${JSON.stringify(t)} at ${x}, ${y}`);
      }
  }
});

test('warpShift: soft 1 is the bilinear warp, soft 0 the six-point Keys cubic, between their mix; a whole shift copies whatever the softness', () => {
  const [h, w] = [7, 10];
  const src = Float32Array.from(gaussianNoise(h * w, 1, 4, 0));
  const at = (x: number, y: number) => src[Math.min(h - 1, Math.max(0, y)) * w + Math.min(w - 1, Math.max(0, x))]!;
  const [dx, dy] = [1.3, -0.45];
  const [ix, iy, fx, fy] = [Math.floor(dx), Math.floor(dy), dx - Math.floor(dx), dy - Math.floor(dy)];
  const bil = warpShift(src, 1, h, w, { dx, dy, soft: 1 });
  const bic = warpShift(src, 1, h, w, { dx, dy });
  // Keys (1981), the six-point cubic convolution kernel.
  const keys6 = (t: number) => {
    const a = Math.abs(t);
    return a < 1 ? (4 / 3) * a ** 3 - (7 / 3) * a * a + 1 : a < 2 ? (-7 / 12) * a ** 3 + 3 * a * a - (59 / 12) * a + 15 / 6 : a < 3 ? a ** 3 / 12 - (2 / 3) * a * a + (7 / 4) * a - 1.5 : 0;
  };
  for (let y = 0; y < h; y++)
    for (let x = 0; x < w; x++) {
      const [X, Y] = [x + ix, y + iy];
      const b = (1 - fy) * ((1 - fx) * at(X, Y) + fx * at(X + 1, Y)) + fy * ((1 - fx) * at(X, Y + 1) + fx * at(X + 1, Y + 1));
      assert.ok(Math.abs(bil[y * w + x]! - b) < 1e-5, `bilinear at ${x}, ${y}`);
      let c = 0;
      for (let j = -2; j <= 3; j++) for (let i = -2; i <= 3; i++) c += keys6(fy - j) * keys6(fx - i) * at(X + i, Y + j);
      assert.ok(Math.abs(bic[y * w + x]! - c) < 1e-5, `cubic at ${x}, ${y}`);
    }
  // Half soft: each axis's taps are the mean of both, so a plane constant along y gets the mean of the two along x.
  const rows = Float32Array.from({ length: h * w }, (_, i) => src[i % w]!);
  const mix = warpShift(rows, 1, h, w, { dx, dy, soft: 0.5 });
  const [rb, rc] = [warpShift(rows, 1, h, w, { dx, dy, soft: 1 }), warpShift(rows, 1, h, w, { dx, dy })];
  for (let i = 0; i < h * w; i++) assert.ok(Math.abs(mix[i]! - (rb[i]! + rc[i]!) / 2) < 1e-5, `mix at ${i}`);
  const copy = Float32Array.from({ length: h * w }, (_, i) => at((i % w) - 2, Math.floor(i / w) + 1));
  for (const soft of [0, 0.3, 1]) assert.deepEqual(warpShift(src, 1, h, w, { dx: -2, dy: 1, soft }), copy, `whole shift, soft ${soft}`);
});

test('warpShift keeps fine detail through repeated warps: a grating at half the Nyquist frequency moved ten times by 0.37 pixel keeps 60 % of its contrast', () => {
  // What the history goes through on a slow pan: one warp a frame. A bilinear warp would keep
  // 0.73¹⁰ ≈ 4 % of this grating (its response at a fraction of 0.37), the four-point Keys 0.90¹⁰
  // ≈ 35 %, the six-point one 0.95¹⁰ ≈ 60 %.
  const [h, w] = [8, 96];
  const omega = Math.PI / 2;
  const grating = (x: number) => Math.cos(omega * x);
  let plane: Float32Array = Float32Array.from({ length: h * w }, (_, i) => grating(i % w));
  const s: Shift = { dx: 0.37, dy: 0 };
  for (let k = 0; k < 10; k++) plane = warpShift(plane, 1, h, w, s);
  // Away from the clamped edges: the grating's amplitude, fitted.
  let [cc, ss, n] = [0, 0, 0];
  for (let x = 30; x < 66; x++) {
    cc += plane[3 * w + x]! * Math.cos(omega * (x + 3.7));
    ss += plane[3 * w + x]! * Math.sin(omega * (x + 3.7));
    n++;
  }
  const gain = (2 * Math.hypot(cc, ss)) / n;
  assert.ok(gain > 0.55 && gain < 0.65, `contrast kept ${gain}`);
});

test('the warp is sharp where one translation registers the frame and soft where it cannot: pans read under 0.1 pixel of misregistration (bicubic, history up to 0.8), a zoom and a rotation over 0.25 (bilinear, history up to 0.7)', () => {
  // Large dead leaves at twice their scale: flat parts, so σ 4 reads as noise and the estimator
  // keeps history (and a warp). Low-resolution frames of 160×120.
  const pic = deadLeaves(320, 256, 9, 8, 120);
  const cases: [string, ClipSpec, number][] = [
    ['slow pan', { motion: 'pan', frames: 7, width: 320, height: 240, density: 0.5 }, 0],
    ['fast pan', { motion: 'pan', speed: [2.6, -1.1], frames: 7, width: 320, height: 240, density: 0.5 }, 0],
    // 0.5 pixel RMS: ×1.012 a frame moves the content up to 1.2 pixels at the corners.
    ['zoom', { motion: 'zoom', speed: 1.012, frames: 7, width: 320, height: 240, density: 0.5 }, 1],
    ['rotation', { motion: 'rotate', speed: 0.6, frames: 7, width: 320, height: 240, density: 0.5 }, 1],
  ];
  for (const [name, spec, want] of cases) {
    const est = new HistoryWeightEstimator();
    const softs: number[] = [];
    const highest: number[] = [];
    for (const [i, gt] of renderClip(pic, spec).entries()) {
      const map = est.next(degradeFrame(gt, i, { scale: 2, noise: 4, seed: 3 }));
      // From the fourth frame: the noise is read (the gate open) and the history moves.
      if (i >= 3) {
        softs.push(est.shift.soft ?? NaN);
        highest.push(map === 0 ? 0 : map.reduce((m, v) => Math.max(m, v), 0));
      }
    }
    assert.deepEqual(softs, softs.map(() => want), `${name}: ${softs.map((v) => v.toFixed(2)).join(' ')}`);
    // The ceiling of the map: the full 0.8 where the translation registers the frame (flat parts
    // keep it), 0.7 where it does not (a shorter memory where the history lies in the wrong place).
    const ceiling = Math.fround(want === 0 ? 0.8 : 0.7);
    assert.ok(highest.every((v) => v === ceiling), `${name}: highest weights ${highest.map((v) => v.toFixed(3)).join(' ')}`);
  }
  for (const [m, want] of [[undefined, 1], [0, 0], [0.1, 0], [0.175, 0.5], [0.25, 1], [2, 1]] as const) assert.ok(Math.abs(softness(m) - want) < 1e-12, `softness(${m})`);
});

test('warp head: the graph moves prev_feat as warpShift does (fp32 and fp16 graphs), the model otherwise unchanged', async () => {
  for (const fp16 of [false, true]) {
    const r = await resolveModel(undefined, { mode: 'video', fp16 });
    const bytes = withWarpHead(r.bytes);
    assert.ok(bytes, 'the head fits a video graph');
    assert.equal(withWarpHead((await resolveModel(undefined, { mode: 'standard' })).bytes), undefined, 'no head without history');
    const [plain, head] = [await ort.InferenceSession.create(r.bytes), await ort.InferenceSession.create(bytes)];
    try {
      assert.ok(hasWarpHead(head.inputNames.map((name) => ({ name }))) && head.inputNames.includes(WARP_KERNEL_X) && head.inputNames.includes(WARP_KERNEL_Y));
      assert.deepEqual(head.outputNames, plain.outputNames);
      const C = r.info.channels!;
      const [H, W] = [20, 28];
      const x = Float32Array.from(gaussianNoise(3 * H * W, 0.2, 1, 0), (v) => 0.5 + v);
      const P = Float32Array.from(gaussianNoise(C * H * W, 1, 2, 0));
      const type = fp16 ? 'float16' : 'float32';
      const t = (a: Float32Array, dims: number[]) => (fp16 ? new ort.Tensor('float16', toFloat16(a), dims) : new ort.Tensor('float32', a, dims));
      const own = (prev: Float32Array): Record<string, ort.Tensor> => ({ input: t(x, [1, 3, H, W]), prev_feat: t(prev, [1, C, H, W]), alpha: t(Float32Array.of(0.7), [1, 1, 1, 1]) });
      const feeds = (prev: Float32Array, s: Shift) => ({
        ...own(prev),
        ...Object.fromEntries(Object.entries(warpHeadFeeds(C, H, W, s)).map(([k, v]) => [k, new ort.Tensor(v.type, v.data as Float32Array, [...v.dims])])),
      });
      const feat = async (s: ort.InferenceSession, f: Record<string, ort.Tensor>) => {
        const o = (await s.run(f)).feature_map!;
        assert.equal(o.type, type);
        return fp16 ? fromFloat16(o.data as Uint16Array) : (o.data as Float32Array);
      };
      // Sharp (cubic), soft (bilinear) and between; whole pixels; past the frame; none.
      for (const s of [{ dx: 0.3, dy: -0.7 }, { dx: 0.3, dy: -0.7, soft: 1 }, { dx: -3.25, dy: 2.6, soft: 0.4 }, { dx: 2, dy: -1 }, { dx: 40, dy: -30 }, { dx: -50.5, dy: 25 }, { dx: 27, dy: -19.5 }, NO_SHIFT]) {
        const a = await feat(head, feeds(P, s));
        const b = await feat(head, feeds(warpShift(P, C, H, W, s), NO_SHIFT));
        // The identity head is the model itself.
        const c = await feat(plain, own(warpShift(P, C, H, W, s)));
        assert.ok(maxDiff(a, b) <= (fp16 ? 2e-3 : 1e-6), `${type} shift ${JSON.stringify(s)}: head vs warpShift ${maxDiff(a, b)}`);
        assert.deepEqual(b, c, `${type}: the identity head changes nothing`);
      }
    } finally {
      await plain.release();
      await head.release();
    }
  }
});

/** A smooth pattern panning by (0.7, 0.35) pixels a frame under seeded noise σ 4: auto moves its history. */
function pan(k: number): PlanarFrame {
  const [w, h] = [96, 64];
  const z = gaussianNoise(3 * w * h, 4 / 255, 9, k);
  const rgb = new Float32Array(3 * w * h);
  for (let c = 0; c < 3; c++)
    for (let y = 0; y < h; y++)
      for (let x = 0; x < w; x++) {
        const [u, v] = [x + 0.7 * k, y + 0.35 * k];
        const i = c * w * h + y * w + x;
        rgb[i] = 0.45 + 0.2 * Math.sin(u / 5 + c) * Math.cos(v / 4) + 0.1 * Math.sin((u + 2 * v) / 9) + z[i]!;
      }
  return { width: w, height: h, rgb };
}

test('frame engine, auto on a noisy pan: the state moves with the camera alike pipelined (graph head), one at a time and tiled (warpShift); a mid-pan snapshot continues bit for bit', async () => {
  const frames = Array.from({ length: 8 }, (_, k) => pan(k));
  const twin = new HistoryWeightEstimator();
  const shifts = frames.map((f) => (twin.next(f), twin.shift));
  assert.ok(shifts.filter((s) => Math.abs(s.dx - 0.7) < ACCURACY && Math.abs(s.dy - 0.35) < ACCURACY).length >= 5, `the pan was followed: ${shifts.map((s) => `${s.dx.toFixed(2)},${s.dy.toFixed(2)}`)}`);
  const open = (tile = 0) => openUpscaler(undefined, { mode: 'video', historyWeight: 'auto', device: 'cpu', tile });
  await using fast = await open();
  await using slow = await open(4096);
  await using tiled = await open(32);
  await using still = await openUpscaler(undefined, { mode: 'video', historyWeight: 0, device: 'cpu' });
  const got = await Promise.all(frames.slice(0, 5).map((f) => fast.process(f)));
  const snap = await fast.snapshot();
  got.push(...(await Promise.all(frames.slice(5).map((f) => fast.process(f)))));
  for (const [i, f] of frames.entries()) {
    const [a, b, alone] = [await slow.process(f), await tiled.process(f), await still.process(f)];
    assert.ok(maxDiff(got[i]!.rgb, a.rgb) < 1e-4, `frame ${i}: pipelined vs one at a time ${maxDiff(got[i]!.rgb, a.rgb)}`);
    assert.ok(maxDiff(a.rgb, b.rgb) < 1e-4, `frame ${i}: whole vs tiled ${maxDiff(a.rgb, b.rgb)}`);
    if (i >= 3) assert.ok(maxDiff(a.rgb, alone.rgb) > 1e-2, `frame ${i}: history reached the frame`);
  }
  await using resumed = await open();
  resumed.restore(snap);
  for (let i = 5; i < frames.length; i++) assert.deepEqual((await resumed.process(frames[i]!)).rgb, got[i]!.rgb, `frame ${i} after the restore`);
});
