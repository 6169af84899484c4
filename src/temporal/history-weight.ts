/**
 * Content-adaptive history weight for video mode (`--temporal auto`): a per-pixel map of how much
 * of the previous frame's features each pixel may keep, fed to the model as its `alpha` input.
 *
 * Why: a blind blend (one weight everywhere) smooths noise where the scene is still but drags
 * stale features along where it moves (ghosting). The map keeps history only where the new
 * low-resolution frame agrees with what the history holds, up to the noise of the input:
 * - Motion compensation: the camera's motion since the last frame (one sub-pixel translation,
 *   motion.ts) moves the history to where the content now is before anything is compared or
 *   blended. The frame engine warps the feature state by the same shift (`shift`; in the graph,
 *   graph/warp-head.ts), so a pan keeps its history instead of dropping it.
 * - The history the model carries is, the features being linear in the pixels, the conv_in of a
 *   recursive average of the (warped) frames: `ref_t = (1 − a)·y_t + a·warp(ref_{t−1})` with the
 *   same per-pixel weights. The estimator keeps that reference (luma) and its noise variance, so
 *   it compares the new frame with what the history really holds, not with the last frame alone.
 *   Content that entered the frame has no history (weight 0).
 * - The noise level σ is measured, not assumed, in a way that neither texture nor motion inflates
 *   (noise.ts: the anti-correlation of consecutive motion-compensated differences, which only
 *   noise shared by the middle frame produces), smoothed over time. Noisy input measures its σ,
 *   so differences the noise explains keep the history. Clean input (σ under about one luma
 *   level) keeps none: averaging it gains nothing, and changes too small for the tests would only
 *   lag or ghost (`noiseGate`).
 * - Per pixel, two tests over a (2r+1)² window, each as a z-score against that noise: the mean
 *   absolute difference above its noise floor (texture that moved), and the absolute mean signed
 *   difference (a patch that got brighter or darker). The weight is `maxWeight` below `zStatic`,
 *   0 above `zChanged`, linear between.
 *
 * Pure TypeScript on typed arrays (no Node APIs): the browser player runs the same code.
 */
import { enteringMask, estimateShift, isStill, NO_SHIFT, warpShift, type Shift } from './motion.ts';
import { ABS_MEAN, ABS_SD, estimateNoiseMoving } from './noise.ts';

export { estimateNoise, estimateNoiseSpatial, estimateNoiseMoving } from './noise.ts';

/** A planar RGB frame (R, G, B planes of width × height in 0..1), as the frame engine takes. */
export interface WeightFrame {
  readonly width: number;
  readonly height: number;
  readonly rgb: Float32Array;
}

/** Tuning of {@link HistoryWeightEstimator}; the defaults are the ones measured in docs/temporal.md. */
export interface HistoryWeightOptions {
  /** History weight where the frame is still, in [0, 1) (default 0.9). */
  readonly maxWeight?: number;
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
  /** Quantile of the blocks' noise variances taken as the frame's (default 0.75; noise.ts). */
  readonly quantile?: number;
  /**
   * Compensate the camera's motion (default true). Off, the history stays where it was (for a
   * frame engine that cannot warp its feature state).
   */
  readonly motion?: boolean;
}

const DEFAULTS: Required<HistoryWeightOptions> = {
  maxWeight: 0.9,
  radius: 2,
  zStatic: 3,
  zChanged: 6,
  noiseGate: [1.2, 2.0],
  minNoise: 0.5,
  block: 8,
  quantile: 0.75,
  motion: true,
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

/** Reusable work buffers of one frame size: a clip's frames need no fresh megabytes each. */
class Scratch {
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
  const { radius: r, maxWeight, zStatic, zChanged, minNoise } = { ...DEFAULTS, ...opts };
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
    if (yy + r < h)
      for (let x = 0, o = (yy + r) * w; x < w; x++) {
        cs[x] = cs[x]! + hs[o + x]!;
        ca[x] = ca[x]! + ha[o + x]!;
      }
    if (yy - r - 1 >= 0)
      for (let x = 0, o = (yy - r - 1) * w; x < w; x++) {
        cs[x] = cs[x]! + -hs[o + x]!;
        ca[x] = ca[x]! + -ha[o + x]!;
      }
    const ky = invY[yy]!;
    for (let x = 0, i = yy * w; x < w; x++, i++) {
      // Noise of y − ref: one frame's plus the reference's. One division a pixel, not four
      // (they were most of the time of this loop).
      const sd = s * Math.sqrt(1 + refVar[i]!);
      const perSe = k / sd;
      const zSigned = Math.abs(Math.fround(cs[x]! * ky)) * perSe;
      const zAbs = (Math.fround(ca[x]! * ky) - absMean * sd) * perSe * absScale;
      const t = (zChanged - (zSigned > zAbs ? zSigned : zAbs)) * perSpan;
      map[i] = maxWeight * Math.min(1, Math.max(0, t));
    }
  }
  return map;
}

/** The state of a {@link HistoryWeightEstimator} (luma planes of the last frame size). */
export interface HistoryWeightSnapshot {
  readonly width: number;
  readonly height: number;
  readonly prev: Float32Array | undefined;
  readonly ref: Float32Array | undefined;
  readonly refVar: Float32Array | undefined;
  readonly noiseVar: number | undefined;
  /** The last frame's motion-compensated difference (noise.ts); absent in older snapshots. */
  readonly difference?: Float32Array | undefined;
}

/**
 * Follows a clip frame by frame and gives each frame its history-weight map and the motion that
 * moves the history onto it. Feed it the same frames, in the same order and with the same cuts,
 * as the frame engine; pass each map as that frame's `alpha` and warp the state by {@link shift}
 * (the frame engine does both with `historyWeight: 'auto'`).
 */
export class HistoryWeightEstimator {
  readonly options: Readonly<Required<HistoryWeightOptions>>;
  #w = 0;
  #h = 0;
  #prev: Float32Array | undefined;
  #ref: Float32Array | undefined;
  #refVar: Float32Array | undefined;
  #noiseVar: number | undefined;
  #difference: Float32Array | undefined;
  #shift: Shift = NO_SHIFT;
  readonly #scratch = new Scratch();
  /** The luma buffer of the frame before last, reused for the next frame's luma. */
  #spare: Float32Array | undefined;
  /** The motion-compensated difference before last, reused for the next one. */
  #spareDifference: Float32Array | undefined;

  constructor(opts: HistoryWeightOptions = {}) {
    this.options = { ...DEFAULTS, ...opts };
    const m = this.options.maxWeight;
    if (!(m >= 0 && m < 1)) throw new RangeError(`maxWeight ${m} must be in [0, 1)`);
  }

  /**
   * The noise σ (luma levels 0–255) measured so far in this shot: 0 until its third frame (the
   * reading needs two consecutive differences), and again after a cut or a change of size.
   */
  get noise(): number {
    return Math.sqrt(this.#noiseVar ?? 0);
  }

  /**
   * The motion of the last frame given to {@link next}: warp the carried state by it
   * (motion.ts `warpShift`) before blending that frame. Still when that frame keeps no history.
   */
  get shift(): Shift {
    return this.#shift;
  }

  /**
   * Where the estimator stands between two frames (copies), to save beside the frame engine's
   * snapshot so a resumed run gives the same maps.
   */
  snapshot(): HistoryWeightSnapshot {
    return {
      width: this.#w,
      height: this.#h,
      prev: this.#prev?.slice(),
      ref: this.#ref?.slice(),
      refVar: this.#refVar?.slice(),
      noiseVar: this.#noiseVar,
      difference: this.#difference?.slice(),
    };
  }

  /** Continue from a {@link snapshot}. */
  restore(s: HistoryWeightSnapshot): void {
    const n = s.width * s.height;
    for (const a of [s.prev, s.ref, s.refVar, s.difference]) if (a && a.length !== n) throw new RangeError(`history-weight snapshot: ${a.length} values for ${s.width}x${s.height}`);
    this.#w = s.width;
    this.#h = s.height;
    this.#prev = s.prev?.slice();
    this.#ref = s.ref?.slice();
    this.#refVar = s.refVar?.slice();
    this.#noiseVar = s.noiseVar;
    this.#difference = s.difference?.slice();
    this.#shift = NO_SHIFT;
  }

  /** Forget the history (the next frame gets weight 0), keeping the noise estimate (a cut passed to {@link next} forgets that too). */
  reset(): void {
    this.#prev = this.#ref = this.#refVar = this.#difference = undefined;
  }

  /**
   * The history-weight map of the next frame (width × height, row-major, a new array), or 0 when
   * the frame keeps no history at all: the first frame, a cut, a size change, or clean input (the
   * noise gate shut, where the map would be all zeros). {@link shift} then tells how to move the
   * history onto this frame.
   */
  next(frame: WeightFrame, opts: { cut?: boolean } = {}): Float32Array | 0 {
    const { width: w, height: h } = frame;
    const y = frameLuma(frame, this.#spare);
    this.#spare = undefined;
    this.#shift = NO_SHIFT;
    if (w !== this.#w || h !== this.#h) {
      this.#noiseVar = undefined;
      this.reset();
    }
    // A new shot starts from nothing, its noise level included (it may be another camera's): so a
    // clip cut at a scene cut (a farm's chunk, a seek) gets the very maps the whole clip gets there.
    if (opts.cut === true) {
      this.#noiseVar = undefined;
      this.reset();
    }
    this.#w = w;
    this.#h = h;
    const prev = this.#prev;
    const ref = this.#ref;
    const refVar = this.#refVar;
    this.#prev = y;
    if (!prev || !ref || !refVar) {
      this.#ref = y.slice();
      this.#refVar = new Float32Array(w * h).fill(1);
      return 0;
    }
    this.#spare = prev;
    const { block, quantile, noiseGate } = this.options;
    const motion = this.options.motion ? estimateShift(prev, y, w, h, { noise: this.noise, buffer: this.#scratch.get('motion', w * h) }) : NO_SHIFT;
    const last = this.#difference;
    const { sigma, difference } = estimateNoiseMoving(prev, y, w, h, motion, last, { block, quantile }, { into: this.#spareDifference, tmp: this.#scratch.get('cubic', w * h) });
    // The difference before last is the next call's buffer (no fresh megabyte a frame).
    this.#spareDifference = last;
    this.#difference = difference;
    // Smooth over time: one frame's quantile wobbles; a scene's noise does not.
    if (sigma !== undefined) this.#noiseVar = this.#noiseVar === undefined ? sigma * sigma : 0.5 * this.#noiseVar + 0.5 * sigma * sigma;
    const open = Math.min(1, Math.max(0, (this.noise - noiseGate[0]) / Math.max(1e-6, noiseGate[1] - noiseGate[0])));
    if (open === 0 || this.options.maxWeight === 0) {
      // Every weight would be 0: the reference becomes this frame, as the loop below would make it.
      ref.set(y);
      refVar.fill(1);
      return 0;
    }
    const n = w * h;
    // The history, moved onto this frame as the state will be. Its noise variance moves as it is:
    // the interpolation averages noise but blurs the content as much, which the tests would
    // otherwise count against the history (measured on walk σ 4: 1.4 % less temporal error).
    const still = isStill(motion);
    const wRef = still ? ref : warpShift(ref, 1, h, w, motion, { into: this.#scratch.get('wref', n) });
    const wVar = still ? refVar : warpShift(refVar, 1, h, w, motion, { into: this.#scratch.get('wvar', n) });
    const map = historyWeightMap(y, wRef, wVar, w, h, this.noise, { ...this.options, maxWeight: this.options.maxWeight * open }, this.#scratch);
    if (!still) {
      const entered = enteringMask(h, w, motion);
      for (let i = 0; i < n; i++) if (entered[i]) map[i] = 0;
    }
    // Advance the reference the way the features advance: same shift, same per-pixel weights.
    for (let i = 0; i < n; i++) {
      const a = map[i]!;
      ref[i] = (1 - a) * y[i]! + a * wRef[i]!;
      refVar[i] = (1 - a) * (1 - a) + a * a * wVar[i]!;
    }
    this.#shift = motion;
    return map;
  }
}
