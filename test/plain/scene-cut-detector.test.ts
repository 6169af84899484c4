/**
 * The scene-cut detector on synthetic footage with known shot boundaries: panning textures, a
 * fast high-detail pan (every frame changes a lot), a fade through black, flashes of another shot
 * shorter than the minimum shot length, 16-bit frames, size changes and reset().
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { SceneCutDetector, analysisSize, shrinkRgb, type RgbFrame } from '../../src/temporal/scene-cut.ts';

/** Deterministic PRNG (mulberry32). */
function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** A "shot": a smooth random colour texture (sum of sinusoids), viewed at an offset, `fine` adds detail. */
function shot(seed: number, fine = 1): (dx: number, dy?: number, gain?: number) => RgbFrame {
  const r = rng(seed);
  const waves = Array.from({ length: 6 * fine }, () => ({ fx: (r() - 0.5) * 0.2 * fine, fy: (r() - 0.5) * 0.2 * fine, ph: r() * 6.28, c: [r(), r(), r()] }));
  const base = [r() * 160 + 40, r() * 160 + 40, r() * 160 + 40];
  return (dx, dy = 0, gain = 1) => {
    const width = 160;
    const height = 90;
    const data = new Uint8Array(width * height * 3);
    for (let y = 0; y < height; y++)
      for (let x = 0; x < width; x++)
        for (let ch = 0; ch < 3; ch++) {
          let v = base[ch]!;
          for (const w of waves) v += 50 * w.c[ch]! * Math.sin(w.fx * (x + dx) + w.fy * (y + dy) + w.ph);
          data[(y * width + x) * 3 + ch] = Math.max(0, Math.min(255, Math.round(v * gain)));
        }
    return { width, height, data, bitDepth: 8 };
  };
}

const cutsOf = (frames: RgbFrame[], det = new SceneCutDetector()): number[] =>
  frames.flatMap((f, i) => (det.push(f).cut ? [i] : []));

test('two panning shots: exactly one cut, at the first frame of the second', () => {
  const a = shot(1);
  const b = shot(2);
  const frames = [...Array.from({ length: 40 }, (_, i) => a(i * 3, i)), ...Array.from({ length: 40 }, (_, i) => b(-i * 2))];
  assert.deepEqual(cutsOf(frames), [40]);
});

test('a fast pan over fine detail raises its own threshold: no cuts, but a real cut still shows', () => {
  const a = shot(3, 3);
  const b = shot(4, 3);
  const frames = [...Array.from({ length: 50 }, (_, i) => a(i * 5, i)), ...Array.from({ length: 30 }, (_, i) => b(i * 5))];
  const det = new SceneCutDetector();
  const decisions = frames.map((f) => det.push(f));
  // Busy indeed: every frame of the pan scores above the absolute minimum a cut needs...
  const busy = decisions.slice(1, 50).map((d) => d.score);
  assert.ok(Math.min(...busy) > 0.2, `pan scores from ${Math.min(...busy)}`);
  // ...yet only the shot change is a cut.
  assert.deepEqual(decisions.flatMap((d, i) => (d.cut ? [i] : [])), [50]);
});

test('a fade through black is not a cut', () => {
  const a = shot(5);
  const b = shot(6);
  const frames = [
    ...Array.from({ length: 20 }, (_, i) => a(i)),
    ...Array.from({ length: 24 }, (_, i) => a(20 + i, 0, 1 - (i + 1) / 24)),
    ...Array.from({ length: 24 }, (_, i) => b(i, 0, (i + 1) / 24)),
    ...Array.from({ length: 10 }, (_, i) => b(24 + i)),
  ];
  assert.deepEqual(cutsOf(frames), []);
});

test('minimum shot length: a 2-frame insert of another shot gives one cut, not two or three', () => {
  const a = shot(7);
  const b = shot(8);
  const frames = [...Array.from({ length: 30 }, (_, i) => a(i)), b(0), b(1), ...Array.from({ length: 30 }, (_, i) => a(32 + i))];
  assert.deepEqual(cutsOf(frames), [30]);
  assert.deepEqual(cutsOf(frames, new SceneCutDetector({ minShot: 1 })), [30, 32]);
});

test('16-bit frames get the same scores as their 8-bit originals', () => {
  const a = shot(9);
  const to16 = (f: RgbFrame): RgbFrame => ({ ...f, bitDepth: 16, data: Uint16Array.from(f.data, (v) => v * 257) });
  const frames = [a(0), a(3), shot(10)(0)];
  const d8 = new SceneCutDetector();
  const d16 = new SceneCutDetector();
  for (const f of frames) {
    const [x, y] = [d8.push(f), d16.push(to16(f))];
    assert.equal(y.cut, x.cut);
    assert.ok(Math.abs(y.score - x.score) < 1e-6);
  }
});

test('planar (gbrp) frames get exactly the scores of the same frames packed', () => {
  const toGbrp = (f: RgbFrame): RgbFrame => {
    const n = f.width * f.height;
    const data = new Uint8Array(3 * n);
    for (let i = 0; i < n; i++) [data[2 * n + i], data[i], data[n + i]] = [f.data[3 * i]!, f.data[3 * i + 1]!, f.data[3 * i + 2]!];
    return { ...f, data, layout: 'gbrp' };
  };
  const a = shot(11);
  const frames = [a(0), a(4), a(8), shot(12)(0), a(12)];
  const packed = new SceneCutDetector();
  const planar = new SceneCutDetector();
  for (const f of frames) assert.deepEqual(planar.push(toGbrp(f)), packed.push(f));
  assert.deepEqual(shrinkRgb(toGbrp(frames[0]!), 16, 9), shrinkRgb(frames[0]!, 16, 9));
});

test('first frame, minimum first shot, reset() and size changes', () => {
  const det = new SceneCutDetector();
  const a = shot(11);
  const b = shot(12);
  assert.deepEqual(det.push(a(0)), { cut: false, score: 0, threshold: 1 });
  // The first shot is at least minShot (6) frames long: an early change is not yet a cut.
  assert.equal(det.push(b(0)).cut, false);
  for (let i = 1; i < 6; i++) assert.equal(det.push(b(i)).cut, false);
  assert.equal(det.push(a(0)).cut, true);
  det.reset();
  assert.equal(det.push(b(0)).cut, false);
  for (let i = 1; i < 6; i++) det.push(b(i));
  const small: RgbFrame = { width: 80, height: 45, bitDepth: 8, data: new Uint8Array(80 * 45 * 3).fill(90) };
  const d = det.push(small);
  assert.equal(d.score, 1);
  assert.equal(d.cut, true);
});

test('analysis size keeps the aspect; shrinking is a box average', () => {
  assert.deepEqual(analysisSize(1920, 1080), { width: 64, height: 36 });
  assert.deepEqual(analysisSize(544, 1280), { width: 27, height: 64 });
  assert.deepEqual(analysisSize(40, 30), { width: 40, height: 30 });
  const f: RgbFrame = { width: 4, height: 2, bitDepth: 8, data: Uint8Array.from([0, 0, 0, 10, 20, 30, 100, 100, 100, 50, 50, 50, 2, 4, 6, 4, 8, 12, 0, 0, 0, 10, 10, 10]) };
  assert.deepEqual([...shrinkRgb(f, 2, 1)], [4, 8, 12, 40, 40, 40]);
});
