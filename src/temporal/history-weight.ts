/**
 * Content-adaptive history weight (`--temporal auto`): a per-pixel map of how much of its history
 * each pixel may keep, fed to the model as its `alpha` input. The history auto carries is the
 * input's own pixels (graph/pixel-history.ts: the frame the model sees is the new one blended
 * with the last one it saw); the same map can weigh a video graph's features.
 *
 * Why: a blind blend (one weight everywhere) smooths noise where the scene is still but drags
 * stale features along where it moves (ghosting). The map keeps history only where the new
 * low-resolution frame agrees with what the history holds, up to the noise of the input:
 * - Motion compensation: the camera's motion since the last frame (one sub-pixel translation,
 *   motion.ts) moves the history to where the content now is before anything is compared or
 *   blended. The frame engine warps the carried state by the same shift (`shift`; in the graph,
 *   graph/warp-head.ts), so a pan keeps its history instead of dropping it. How sharp that warp
 *   is follows how well one translation registers the frame ({@link softness}).
 * - The history the model carries is a recursive average of the (warped) frames, `ref_t = (1 −
 *   a)·y_t + a·warp(ref_{t−1})` with the same per-pixel weights: the pixels themselves with the
 *   pixel-history head, the conv_in of that average with features (they are linear in the pixels).
 *   The estimator keeps that reference (luma) and its noise variance, so it compares the new
 *   frame with what the history really holds, not with the last frame alone.
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
 * - Large frames (`halfFrom`) are measured on their 2×2 means, the map spread over each 2×2
 *   block: a quarter of the work where the model's time per frame is largest. There the
 *   reference is moved with a bicubic warp: a bilinear one blurs the half plane's finer content
 *   twice as much as the features' bilinear warp blurs the frame's, and the tests would read that
 *   blur as change.
 *
 * Pure TypeScript on typed arrays (no Node APIs): the browser player runs the same code.
 */
import { bilinearShift, estimateShift, halvePlane, isStill, NO_SHIFT, zeroEntering, type Shift } from './motion.ts';
import { estimateNoiseMoving, type Residual } from './noise.ts';
import { warpShift } from './warp.ts';
import { doubleMap, frameLuma, historyWeightMap, Scratch, WEIGHT_DEFAULTS, type HistoryWeightOptions, type WeightFrame } from './weight-map.ts';

export { estimateNoise, estimateNoiseSpatial, estimateNoiseMoving } from './noise.ts';
export { boxMean, doubleMap, frameLuma, historyWeightMap, WEIGHT_DEFAULTS, type HistoryWeightOptions, type WeightFrame } from './weight-map.ts';

/**
 * How soft the history's warp is (`Shift.soft`) for a frame whose translation leaves `m` pixels
 * of misregistration (noise.ts; RMS over the frame): Keys' six-point cubic up to 0.1 pixel (twice the
 * accuracy of the translation itself), bilinear from 0.25 (a quarter pixel off on average: sharp
 * detail in the wrong place scores worse than blur), a mix between. Unknown (the first frames of
 * a shot) is bilinear. Measured on the generated clips: pans read 0.01–0.08, zooms and
 * rotations 0.25–0.45, Vid4 walk and calendar 0.11–0.21 (people, perspective).
 */
export function softness(m: number | undefined): number {
  return m === undefined ? 1 : Math.min(1, Math.max(0, (m - 0.1) / 0.15));
}

/**
 * The state of a {@link HistoryWeightEstimator}: luma planes of the plane it measures on, `width ×
 * height` (the frame's, or its 2×2 means': `HistoryWeightOptions.halfFrom`), and on the half plane
 * the last frame's own luma (`frame`, `frameWidth × frameHeight`) for the motion's last step.
 */
export interface HistoryWeightSnapshot {
  readonly width: number;
  readonly height: number;
  readonly prev: Float32Array | undefined;
  readonly ref: Float32Array | undefined;
  readonly refVar: Float32Array | undefined;
  /** Noise variance of one frame on that plane. */
  readonly noiseVar: number | undefined;
  /** The last frame's motion-compensated difference (noise.ts); absent in older snapshots. */
  readonly difference?: Float32Array | undefined;
  /** What the translation left of the last frame's motion (noise.ts `Residual`); absent in older snapshots. */
  readonly residual?: Residual | undefined;
  /** On the half plane: the last frame's luma at its own size. */
  readonly frame?: Float32Array | undefined;
  readonly frameWidth?: number;
  readonly frameHeight?: number;
}

/**
 * Follows a clip frame by frame and gives each frame its history-weight map and the motion that
 * moves the history onto it. Feed it the same frames, in the same order and with the same cuts,
 * as the frame engine; pass each map as that frame's `alpha` and warp the state by {@link shift}
 * (the frame engine does both with `historyWeight: 'auto'`).
 *
 * Frames of `halfFrom` pixels and more are measured on their 2×2 means: the motion is found as
 * always (the half plane is its pyramid's first level; its last step is on the frame), the noise,
 * the reference and the map are the half plane's (the map spread over each 2×2 block), at about
 * half the cost. The noise it reports stays in luma levels of the frame as white noise would read
 * there (twice the half plane's σ), and the map's tests take that σ: the 2×2 means halve the noise
 * but not what a motion the translation misses leaves (a zoom, a rotation), so against the half
 * plane's own σ they would drop history the frame's tests keep.
 */
export class HistoryWeightEstimator {
  readonly options: Readonly<Required<HistoryWeightOptions>>;
  /** The plane measured on (the frame's or its half's). */
  #w = 0;
  #h = 0;
  /** The frame's size. */
  #fw = 0;
  #fh = 0;
  /** 1, or 2 on the half plane. */
  #scale = 1;
  #prev: Float32Array | undefined;
  /** On the half plane, the last frame's luma at its size. */
  #prevFrame: Float32Array | undefined;
  #ref: Float32Array | undefined;
  #refVar: Float32Array | undefined;
  #noiseVar: number | undefined;
  #difference: Float32Array | undefined;
  #residual: Residual | undefined;
  #shift: Shift = NO_SHIFT;
  readonly #scratch = new Scratch();
  /** The luma buffers of the frame before last, reused for the next frame's luma. */
  #spare: Float32Array | undefined;
  #spareFrame: Float32Array | undefined;
  /** The motion-compensated difference before last, reused for the next one. */
  #spareDifference: Float32Array | undefined;

  constructor(opts: HistoryWeightOptions = {}) {
    this.options = { ...WEIGHT_DEFAULTS, ...opts };
    const m = this.options.maxWeight;
    if (!(m >= 0 && m < 1)) throw new RangeError(`maxWeight ${m} must be in [0, 1)`);
  }

  /**
   * The noise σ (luma levels 0–255 of the frame) measured so far in this shot: 0 until its third
   * frame (the reading needs two consecutive differences), and again after a cut or a change of
   * size. On the half plane, twice its σ (what white noise of that σ on the frame reads).
   */
  get noise(): number {
    return this.#scale * Math.sqrt(this.#noiseVar ?? 0);
  }

  /**
   * The motion of the last frame given to {@link next}, in pixels of the frame: warp the carried
   * state by it (warp.ts `warpShift`, as soft as its `soft` says: {@link softness}) before
   * blending that frame. Still when that frame keeps no history.
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
      ...(this.#residual ? { residual: this.#residual } : {}),
      ...(this.#scale === 2 ? { frame: this.#prevFrame?.slice(), frameWidth: this.#fw, frameHeight: this.#fh } : {}),
    };
  }

  /** Continue from a {@link snapshot}. */
  restore(s: HistoryWeightSnapshot): void {
    const n = s.width * s.height;
    for (const a of [s.prev, s.ref, s.refVar, s.difference]) if (a && a.length !== n) throw new RangeError(`history-weight snapshot: ${a.length} values for ${s.width}x${s.height}`);
    const fw = s.frameWidth ?? s.width;
    const fh = s.frameHeight ?? s.height;
    const half = s.frameWidth !== undefined;
    if (half && (fw >> 1 !== s.width || fh >> 1 !== s.height || (s.frame && s.frame.length !== fw * fh)))
      throw new RangeError(`history-weight snapshot: a ${fw}x${fh} frame on a ${s.width}x${s.height} plane`);
    this.#w = s.width;
    this.#h = s.height;
    this.#fw = fw;
    this.#fh = fh;
    this.#scale = half ? 2 : 1;
    this.#prev = s.prev?.slice();
    this.#prevFrame = s.frame?.slice();
    this.#ref = s.ref?.slice();
    this.#refVar = s.refVar?.slice();
    this.#noiseVar = s.noiseVar;
    this.#difference = s.difference?.slice();
    this.#residual = s.residual;
    this.#shift = NO_SHIFT;
  }

  /** Forget the history (the next frame gets weight 0), keeping the noise estimate (a cut passed to {@link next} forgets that too). */
  reset(): void {
    this.#prev = this.#prevFrame = this.#ref = this.#refVar = this.#difference = undefined;
    this.#residual = undefined;
  }

  /**
   * The history-weight map of the next frame (width × height, row-major, a new array), or 0 when
   * the frame keeps no history at all: the first frame, a cut, a size change, or clean input (the
   * noise gate shut, where the map would be all zeros). {@link shift} then tells how to move the
   * history onto this frame.
   */
  next(frame: WeightFrame, opts: { cut?: boolean } = {}): Float32Array | 0 {
    const { width: fw, height: fh } = frame;
    const half = fw * fh >= this.options.halfFrom && fw >= 32 && fh >= 32;
    const f = half ? 2 : 1;
    const w = half ? fw >> 1 : fw;
    const h = half ? fh >> 1 : fh;
    const yFrame = frameLuma(frame, half ? this.#spareFrame : this.#spare);
    const y = half ? halvePlane(yFrame, fw, fh, this.#spare) : yFrame;
    this.#spare = this.#spareFrame = undefined;
    this.#shift = NO_SHIFT;
    // A new size (or a snapshot of another plane: an older version's of a large frame) starts over.
    if (fw !== this.#fw || fh !== this.#fh || f !== this.#scale) {
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
    this.#fw = fw;
    this.#fh = fh;
    this.#scale = f;
    const prev = this.#prev;
    const prevFrame = this.#prevFrame;
    const ref = this.#ref;
    const refVar = this.#refVar;
    this.#prev = y;
    this.#prevFrame = half ? yFrame : undefined;
    if (!prev || !ref || !refVar || (half && !prevFrame)) {
      this.#ref = y.slice();
      this.#refVar = new Float32Array(w * h).fill(1);
      return 0;
    }
    this.#spare = prev;
    this.#spareFrame = prevFrame;
    const { block, smoothest, quantile, noiseGate } = this.options;
    // The motion in pixels of the frame (on the half plane, that plane is its pyramid's first
    // level), and of the plane measured on.
    const buffer = this.#scratch.get('motion', fw * fh);
    // The noise is read on motion-compensated differences even where the history cannot move
    // (`motion` off): on unaligned differences a clean fast pan reads as strong noise.
    const measured = estimateShift(prevFrame ?? prev, yFrame, fw, fh, { noise: this.noise, buffer, ...(half ? { half: { prev, cur: y } } : {}) });
    const shift = this.options.motion ? measured : NO_SHIFT;
    const motion = half ? { dx: shift.dx / 2, dy: shift.dy / 2 } : shift;
    const last = this.#difference;
    const planeShift = half ? { dx: measured.dx / 2, dy: measured.dy / 2 } : measured;
    const { sigma, difference, misregistration, residual } = estimateNoiseMoving(prev, y, w, h, planeShift, last, { block, smoothest, quantile, noiseVar: this.#noiseVar ?? 0 }, { into: this.#spareDifference, tmp: this.#scratch.get('cubic', w * h) });
    // The difference before last is the next call's buffer (no fresh megabyte a frame).
    this.#spareDifference = last;
    this.#difference = difference;
    // A motion the translation misses that turned back since the last frame (a hand-held camera's
    // roll) leaves in this difference the opposite of what it left in the last one: a negative
    // covariance, which is what noise reads as. Such a frame gives no reading (a steady zoom or
    // rotation leaves the same twice: a positive covariance, read low, never high).
    const turned = reversed(residual, this.#residual, this.#scale);
    this.#residual = residual;
    // Smooth over time: one frame's quantile wobbles; a scene's noise does not.
    if (sigma !== undefined && !turned) this.#noiseVar = this.#noiseVar === undefined ? sigma * sigma : 0.5 * this.#noiseVar + 0.5 * sigma * sigma;
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
    const into = this.#scratch.get('wref', n);
    // On the frame the reference moves bilinearly whatever the features' warp: its blur stands
    // for what the motion may have misplaced, so the maps (where history is kept) stay those
    // measured before the sharp warp (a sharp reference kept more on pans and lost up to 0.17 dB
    // there). The half plane's finer content takes the bicubic (step 6 of the map in docs/temporal.md).
    const wRef = still ? ref : half ? warpShift(ref, 1, h, w, motion, { into, tmp: this.#scratch.get('cubic', n), kernel: 'keys' }) : bilinearShift(ref, h, w, motion, into);
    const wVar = still ? refVar : bilinearShift(refVar, h, w, motion, this.#scratch.get('wvar', n));
    const o = this.options;
    // How sharp the warp is, and how long the memory: where one translation misplaces the content
    // (a zoom, a rotation) the history is shorter (`softWeight`), since what it misplaces reaches
    // the picture through the pixel history.
    const soft = softness(misregistration === undefined ? undefined : this.#scale * misregistration);
    const ceiling = o.maxWeight + soft * (Math.min(o.softWeight, o.maxWeight) - o.maxWeight);
    const map = historyWeightMap(y, wRef, wVar, w, h, this.noise, { ...o, maxWeight: ceiling * open }, this.#scratch);
    if (!still) zeroEntering(map, h, w, motion);
    // Advance the reference the way the model's history advances: same shift, same per-pixel weights.
    for (let i = 0; i < n; i++) {
      const a = map[i]!;
      ref[i] = (1 - a) * y[i]! + a * wRef[i]!;
      refVar[i] = (1 - a) * (1 - a) + a * a * wVar[i]!;
    }
    this.#shift = { ...shift, soft };
    if (!half) return map;
    const full = doubleMap(map, w, h, fw, fh);
    if (!still) zeroEntering(full, fh, fw, shift);
    return full;
  }
}

/**
 * True when two frames' residual motions (`Residual`, in pixels of a plane `scale` times smaller
 * than the frame) point against each other by more than {@link TURN}² of the frame's pixels²: the
 * last difference's misregistration comes back negated in this one.
 */
export function reversed(now: Residual | undefined, last: Residual | undefined, scale = 1): boolean {
  if (!now || !last) return false;
  const dot = now[0] * last[0] + now[1] * last[1] + now[2] * last[2] + now[3] * last[3];
  return dot * scale * scale < -TURN * TURN;
}

/**
 * Residual motions of a tenth of a pixel and less do not turn a reading: the generated pans leave
 * 0.01–0.08 pixel, so their readings stand, while a hand-held roll of a few tenths of a degree
 * leaves several tenths.
 */
const TURN = 0.1;
