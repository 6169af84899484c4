/**
 * The per-pixel part of `--temporal auto` (history-weight.ts has the estimator that drives it):
 * the options and their measured defaults, the frame's luma, and the map itself — two z-scores
 * over a window of the difference between the new frame and the history it would blend with,
 * against the noise (see history-weight.ts for why) — plus the window mean and the spreading of a
 * half plane's map over the frame.
 *
 * Pure TypeScript on typed arrays (no Node APIs): the browser player runs the same code.
 */
import { LARGE_FRAME } from './motion.ts';
import { ABS_MEAN, ABS_SD } from './noise.ts';

/** A planar RGB frame (R, G, B planes of width × height in 0..1), as the frame engine takes. */
export interface WeightFrame {
  readonly width: number;
  readonly height: number;
  readonly rgb: Float32Array;
}

/** Tuning of {@link HistoryWeightEstimator}; the defaults are the ones measured in docs/temporal.md. */
export interface HistoryWeightOptions {
  /**
   * History weight where the frame is still, in [0, 1) (default 0.8: the pixel history, measured
   * in docs/temporal.md; with 0.9 zooms and rotations lost up to 0.5 dB more to what one
   * translation misplaces).
   */
  readonly maxWeight?: number;
  /**
   * The ceiling where one translation does not register the frame (a zoom, a rotation: the
   * warp's softness 1, history-weight.ts `softness`), linear in the softness between it and
   * `maxWeight` (default 0.7; measured in docs/temporal.md: a shorter memory where the history
   * lies in the wrong place). At most `maxWeight`.
   */
  readonly softWeight?: number;
  /** Window radius of the per-pixel tests (default 2: 5×5). */
  readonly radius?: number;
  /** z-score up to which a pixel counts as unchanged (default 3). */
  readonly zStatic?: number;
  /** z-score from which a pixel counts as changed: weight 0 (default 6). */
  readonly zChanged?: number;
  /** Least noise σ assumed, in luma levels 0–255 (default 0.5: 8-bit rounding and then some). */
  readonly minNoise?: number;
  /**
   * Noise σ (luma levels) below which no history is kept, and above which the full `maxWeight`
   * applies, linear between (default [1.2, 2.0]). Clean input has nothing to average, and there
   * even changes below the tests' resolution would lag behind; Gaussian noise of σ 4 on RGB is
   * σ 2.7 on luma.
   */
  readonly noiseGate?: readonly [number, number];
  /** Side of the blocks the noise is measured on (default 8). */
  readonly block?: number;
  /** Share of the blocks, the least textured, the noise is read on (default 0.25; noise.ts). */
  readonly smoothest?: number;
  /** Quantile of those blocks' noise variances taken as the frame's (default 0.75; noise.ts). */
  readonly quantile?: number;
  /**
   * Compensate the camera's motion (default true). Off, the history stays where it was (for a
   * frame engine that cannot warp its feature state); the motion is still measured, for the
   * noise reading.
   */
  readonly motion?: boolean;
  /**
   * Frames of at least this many pixels are measured on their 2×2 means (default 2¹⁷ = 131 072,
   * motion.ts `LARGE_FRAME`: 640×360 and up; `Infinity` never). The estimator's cost grows with
   * the pixels as the model's does; the half plane's noise reading, reference and map cost a
   * quarter, and still have 57 600 pixels at 640×360 (docs/temporal.md: Cost, and what it gives
   * up).
   */
  readonly halfFrom?: number;
}

/** The defaults of {@link HistoryWeightOptions}. */
export const WEIGHT_DEFAULTS: Required<HistoryWeightOptions> = {
  maxWeight: 0.8,
  softWeight: 0.7,
  radius: 2,
  zStatic: 3,
  zChanged: 6,
  noiseGate: [1.2, 2.0],
  minNoise: 0.5,
  block: 8,
  smoothest: 0.25,
  quantile: 0.75,
  motion: true,
  halfFrom: LARGE_FRAME,
};

/** Luma (BT.601 weights, 0–255) of a planar RGB frame in 0..1. */
export function frameLuma(f: WeightFrame, into?: Float32Array): Float32Array {
  const n = f.width * f.height;
  if (f.rgb.length !== 3 * n) throw new RangeError(`frameLuma: ${f.rgb.length} samples for ${f.width}x${f.height}`);
  const y = into?.length === n ? into : new Float32Array(n);
  const { rgb } = f;
  for (let i = 0; i < n; i++) y[i] = 255 * (0.299 * rgb[i]! + 0.587 * rgb[n + i]! + 0.114 * rgb[2 * n + i]!);
  return y;
}

/**
 * A `w2 × h2` map made `w × h` (each value covering its 2×2 block; an odd last row or column
 * repeats the one before).
 */
export function doubleMap(m: Float32Array, w2: number, h2: number, w: number, h: number): Float32Array {
  const out = new Float32Array(w * h);
  for (let y = 0; y < h2; y++) {
    const src = y * w2;
    const o = 2 * y * w;
    for (let x = 0; x < w2; x++) out[o + 2 * x] = out[o + 2 * x + 1] = m[src + x]!;
    out.fill(m[src + w2 - 1]!, o + 2 * w2, o + w);
    out.copyWithin(o + w, o, o + w);
  }
  if (h > 2 * h2) out.copyWithin(2 * h2 * w, (2 * h2 - 1) * w, 2 * h2 * w);
  return out;
}

/** Reusable work buffers of one frame size: a clip's frames need no fresh megabytes each. */
export class Scratch {
  readonly #bufs = new Map<string, Float32Array>();
  /** A buffer of `n` floats kept under `key` (contents undefined). */
  get(key: string, n: number): Float32Array {
    let b = this.#bufs.get(key);
    if (b?.length !== n) this.#bufs.set(key, (b = new Float32Array(n)));
    return b;
  }
}

/** Reciprocal window extents along an axis of `n` (the window clipped at the edges). */
function extents(n: number, r: number): Float64Array {
  const inv = new Float64Array(n);
  for (let i = 0; i < n; i++) inv[i] = 1 / (Math.min(n - 1, i + r) - Math.max(0, i - r) + 1);
  return inv;
}

/** Mean over a (2r+1)² window, the window clipped at the edges (separable prefix sums). */
export function boxMean(src: Float32Array, w: number, h: number, r: number, scratch?: { tmp: Float32Array; out: Float32Array }): Float32Array {
  // Reciprocal window extents per column and per row, so the inner loops only add and multiply.
  const invX = extents(w, r);
  const invY = extents(h, r);
  const tmp = scratch?.tmp ?? new Float32Array(w * h);
  const pre = new Float64Array(w + 1);
  for (let y = 0; y < h; y++) {
    const row = y * w;
    for (let x = 0; x < w; x++) pre[x + 1] = pre[x]! + src[row + x]!;
    for (let x = 0; x < w; x++) tmp[row + x] = (pre[Math.min(w, x + r + 1)]! - pre[Math.max(0, x - r)]!) * invX[x]!;
  }
  const out = scratch?.out ?? new Float32Array(w * h);
  const col = new Float64Array(w);
  for (let y = 0; y < Math.min(r, h); y++) for (let x = 0, o = y * w; x < w; x++) col[x]! += tmp[o + x]!;
  for (let y = 0; y < h; y++) {
    if (y + r < h) for (let x = 0, o = (y + r) * w; x < w; x++) col[x]! += tmp[o + x]!;
    if (y - r - 1 >= 0) for (let x = 0, o = (y - r - 1) * w; x < w; x++) col[x]! -= tmp[o + x]!;
    const k = invY[y]!;
    for (let x = 0, o = y * w; x < w; x++) out[o + x] = col[x]! * k;
  }
  return out;
}

/**
 * The weight map for one frame: `y` the new luma, `ref` the luma the history holds, `refVar`
 * the noise variance of `ref` in units of σ² (1 = as noisy as one frame), `sigma` the noise of
 * one frame. Pure function; see the module comment for the tests it applies.
 */
export function historyWeightMap(
  y: Float32Array,
  ref: Float32Array,
  refVar: Float32Array,
  w: number,
  h: number,
  sigma: number,
  opts: HistoryWeightOptions = {},
  scratch: Scratch = new Scratch(),
): Float32Array {
  const { radius: r, maxWeight, zStatic, zChanged, minNoise } = { ...WEIGHT_DEFAULTS, ...opts };
  const n = w * h;
  // boxMean of d = y − ref (as float32) and of |d|, fused: both horizontal passes at once with d
  // made on the fly, and the map made as each output row of the vertical pass is ready — the same
  // sums in the same order as two boxMean calls, so the same values, in a third of the time.
  const invX = extents(w, r);
  const invY = extents(h, r);
  const hs = scratch.get('hs', n);
  const ha = scratch.get('ha', n);
  const ps = new Float64Array(w + 1);
  const pa = new Float64Array(w + 1);
  // Columns whose window lies inside the row (no clipping to compute).
  const xa = Math.min(w, r);
  const xb = Math.max(xa, w - r - 1);
  for (let yy = 0; yy < h; yy++) {
    const row = yy * w;
    let s1 = 0;
    let s2 = 0;
    for (let x = 0; x < w; x++) {
      const d = Math.fround(y[row + x]! - ref[row + x]!);
      s1 += d;
      s2 += Math.abs(d);
      ps[x + 1] = s1;
      pa[x + 1] = s2;
    }
    for (let x = 0; x < xa; x++) {
      const hi = Math.min(w, x + r + 1);
      const lo = Math.max(0, x - r);
      hs[row + x] = (ps[hi]! - ps[lo]!) * invX[x]!;
      ha[row + x] = (pa[hi]! - pa[lo]!) * invX[x]!;
    }
    for (let x = xa; x < xb; x++) {
      hs[row + x] = (ps[x + r + 1]! - ps[x - r]!) * invX[x]!;
      ha[row + x] = (pa[x + r + 1]! - pa[x - r]!) * invX[x]!;
    }
    for (let x = xb; x < w; x++) {
      const hi = Math.min(w, x + r + 1);
      const lo = Math.max(0, x - r);
      hs[row + x] = (ps[hi]! - ps[lo]!) * invX[x]!;
      ha[row + x] = (pa[hi]! - pa[lo]!) * invX[x]!;
    }
  }
  const cs = new Float64Array(w);
  const ca = new Float64Array(w);
  for (let yy = 0; yy < Math.min(r, h); yy++)
    for (let x = 0, o = yy * w; x < w; x++) {
      cs[x] = cs[x]! + hs[o + x]!;
      ca[x] = ca[x]! + ha[o + x]!;
    }
  const k = 2 * r + 1;
  const s = Math.max(sigma, minNoise);
  const perSpan = 1 / Math.max(1e-6, zChanged - zStatic);
  const absScale = 1 / ABS_SD;
  // A local copy: an imported binding read in the loop is a module-cell load per pixel.
  const absMean = ABS_MEAN;
  const map = new Float32Array(n);
  for (let yy = 0; yy < h; yy++) {
    // The window's columns enter a row below it and leave a row above, updated in the same pass
    // that makes the map's row (one pass over the row, not three).
    const add = yy + r < h ? (yy + r) * w : -1;
    const sub = yy - r - 1 >= 0 ? (yy - r - 1) * w : -1;
    const ky = invY[yy]!;
    for (let x = 0, i = yy * w; x < w; x++, i++) {
      let vs = cs[x]!;
      let va = ca[x]!;
      if (add >= 0) {
        vs = vs + hs[add + x]!;
        va = va + ha[add + x]!;
      }
      if (sub >= 0) {
        vs = vs + -hs[sub + x]!;
        va = va + -ha[sub + x]!;
      }
      cs[x] = vs;
      ca[x] = va;
      // Noise of y − ref: one frame's plus the reference's. One division a pixel, not four
      // (they were most of the time of this loop).
      const sd = s * Math.sqrt(1 + refVar[i]!);
      const perSe = k / sd;
      const zSigned = Math.abs(Math.fround(vs * ky)) * perSe;
      const zAbs = (Math.fround(va * ky) - absMean * sd) * perSe * absScale;
      const t = (zChanged - (zSigned > zAbs ? zSigned : zAbs)) * perSpan;
      map[i] = maxWeight * Math.min(1, Math.max(0, t));
    }
  }
  return map;
}
