/**
 * Global motion between two low-resolution frames: the history that video mode carries is moved
 * (warp.ts) to where the content now is before it is blended (`--temporal auto`, see
 * history-weight.ts and graph/warp-head.ts).
 *
 * The model is one translation per frame, to sub-pixel accuracy, found in two steps:
 * - integer: a coarse-to-fine search on a 2×2-mean pyramid (down to 1/8, its top at least 20
 *   pixels a side), each level minimising a truncated mean absolute difference (so moving
 *   objects and occlusions count little), with a small preference for the smaller shift so flat
 *   frames stay at 0, and where the brightness changed, searched again with that change taken out;
 * - sub-pixel: Lucas–Kanade on the full frame around the integer answer (iteratively reweighted
 *   least squares: Huber's weights at half resolution first, then Tukey's biweight).
 * Why one translation and not a per-pixel flow: a general warp (ONNX GridSample) at 640×360 on
 * onnxruntime's CPU costs about 60 ms a frame for the 16-channel feature state, more than half of
 * the Realtime model itself, and 12–22 ms for auto's 3-channel pixel history; a translation is an
 * edge-padded slice and depthwise convolutions of six taps each way, a few ms (docs/temporal.md).
 * Where the content does not follow the translation (objects that move on their own, zooms,
 * rotations) the history-weight tests see the difference and drop the history there: the
 * fallback is the frame alone, never a ghost.
 *
 * Pure TypeScript on typed arrays (no Node APIs): the browser player runs the same code.
 */

/** A translation in pixels: the content at (x, y) now was at (x + dx, y + dy) in the previous frame. */
export interface Shift {
  readonly dx: number;
  readonly dy: number;
  /**
   * How soft the warp of the history is (warp.ts): 0 (or absent) Keys' six-point cubic, for a frame that
   * the translation registers; 1 bilinear, whose blur averages what it misplaces (a zoom, a
   * rotation); a mix between. The estimator sets it from the frame's misregistration.
   */
  readonly soft?: number;
}

/** No motion. */
export const NO_SHIFT: Shift = Object.freeze({ dx: 0, dy: 0 });

/** True when a shift moves nothing (the warp is the identity). */
export const isStill = (s: Shift): boolean => s.dx === 0 && s.dy === 0;

/**
 * The integer part of a shift and the four bilinear weights of its fractional part: k00 at
 * (ix, iy), k01 at (ix + 1, iy), k10 at (ix, iy + 1), k11 at (ix + 1, iy + 1).
 */
function shiftTaps(s: Shift): { ix: number; iy: number; k: Float32Array } {
  const ix = Math.floor(s.dx);
  const iy = Math.floor(s.dy);
  const fx = s.dx - ix;
  const fy = s.dy - iy;
  return { ix, iy, k: Float32Array.of((1 - fy) * (1 - fx), (1 - fy) * fx, fy * (1 - fx), fy * fx) };
}

/**
 * Move a plane of `h × w` by `s` (bilinear, edges clamped): `out(x, y) = src(x + dx, y + dy)`, into
 * `into`. The Lucas–Kanade steps below linearise around it, and the estimator moves its reference
 * with it (history-weight.ts); the history itself is moved by warp.ts.
 */
export function bilinearShift(src: Float32Array, h: number, w: number, s: Shift, into: Float32Array): Float32Array {
  const taps = rowTaps(w, s);
  for (let y = 0; y < h; y++) warpRow(src, 0, h, w, taps, y, into);
  return into;
}

/** What {@link warpRow} needs of a shift, worked out once per plane. */
interface RowTaps {
  readonly ix: number;
  readonly iy: number;
  readonly k00: number;
  readonly k01: number;
  readonly k10: number;
  readonly k11: number;
  /** Columns [xa, xb) have both taps inside the row (no clamping). */
  readonly xa: number;
  readonly xb: number;
  readonly integer: boolean;
}

function rowTaps(w: number, s: Shift): RowTaps {
  const { ix, iy, k } = shiftTaps(s);
  const xa = Math.min(w, Math.max(0, -ix));
  return { ix, iy, k00: k[0]!, k01: k[1]!, k10: k[2]!, k11: k[3]!, xa, xb: Math.max(xa, Math.min(w, w - 1 - ix)), integer: k[1] === 0 && k[2] === 0 && k[3] === 0 };
}

/** Row `y` of the plane at `base` in `src`, moved as {@link bilinearShift} moves it, into `out` (same place). */
function warpRow(src: Float32Array, base: number, h: number, w: number, t: RowTaps, y: number, out: Float32Array): void {
  const { ix, k00, k01, k10, k11, xa, xb } = t;
  const r0 = base + Math.min(h - 1, Math.max(0, y + t.iy)) * w;
  const r1 = base + Math.min(h - 1, Math.max(0, y + t.iy + 1)) * w;
  const o = base + y * w;
  warpEdge(src, r0, r1, w, t, o, 0, xa, out);
  // Columns whose two taps both lie inside the row: no clamping. Same arithmetic as `warpEdge`;
  // each pair of source values is read once and carried to the next column (a third of the time
  // of four reads a pixel, measured).
  if (t.integer) for (let x = xa, d = r0 + ix + xa, i = o + xa; x < xb; x++, d++, i++) out[i] = k00 * src[d]!;
  else if (xa < xb) {
    let p0 = src[r0 + ix + xa]!;
    let p1 = src[r1 + ix + xa]!;
    for (let x = xa, d0 = r0 + ix + xa + 1, d1 = r1 + ix + xa + 1, i = o + xa; x < xb; x++, d0++, d1++, i++) {
      const q0 = src[d0]!;
      const q1 = src[d1]!;
      out[i] = k00 * p0 + k01 * q0 + k10 * p1 + k11 * q1;
      p0 = q0;
      p1 = q1;
    }
  }
  warpEdge(src, r0, r1, w, t, o, xb, w, out);
}

/** Columns [x0, x1) of a row of {@link warpRow}, their taps clamped to the row. */
function warpEdge(src: Float32Array, r0: number, r1: number, w: number, t: RowTaps, o: number, x0: number, x1: number, out: Float32Array): void {
  const { ix, k00, k01, k10, k11, integer } = t;
  for (let x = x0; x < x1; x++) {
    const a = x + ix < 0 ? 0 : x + ix >= w ? w - 1 : x + ix;
    const b = x + ix + 1 < 0 ? 0 : x + ix + 1 >= w ? w - 1 : x + ix + 1;
    out[o + x] = integer ? k00 * src[r0 + a]! : k00 * src[r0 + a]! + k01 * src[r0 + b]! + k10 * src[r1 + a]! + k11 * src[r1 + b]!;
  }
}

/**
 * Set to 0 the values of an `h × w` map at the pixels whose source under `s` lies outside the
 * previous frame (content that entered): the warp gives them the clamped edge, which is no history.
 */
export function zeroEntering(map: Float32Array, h: number, w: number, s: Shift): void {
  const { x0, x1, y0, y1 } = insideSpan(h, w, s);
  if (x0 >= x1 || y0 >= y1) return void map.fill(0, 0, h * w);
  map.fill(0, 0, y0 * w);
  for (let y = y0; y < y1; y++) {
    map.fill(0, y * w, y * w + x0);
    map.fill(0, y * w + x1, (y + 1) * w);
  }
  map.fill(0, y1 * w, h * w);
}

/** The pixels whose source `(x + dx, y + dy)` lies inside the frame: columns [x0, x1), rows [y0, y1). */
function insideSpan(h: number, w: number, s: Shift): { x0: number; x1: number; y0: number; y1: number } {
  // x + dx ≥ 0 and x + dx ≤ w − 1, in integers.
  const x0 = Math.min(w, Math.max(0, Math.ceil(-s.dx)));
  const x1 = Math.max(x0, Math.min(w, Math.floor(w - 1 - s.dx) + 1));
  const y0 = Math.min(h, Math.max(0, Math.ceil(-s.dy)));
  const y1 = Math.max(y0, Math.min(h, Math.floor(h - 1 - s.dy) + 1));
  return { x0, x1, y0, y1 };
}

/**
 * Half-size plane by 2×2 means (odd last row / column dropped): `⌊w/2⌋ × ⌊h/2⌋`, into `into` when
 * it has that size. The first level of {@link estimateShift}'s pyramid.
 */
export function halvePlane(a: Float32Array, w: number, h: number, into?: Float32Array): Float32Array {
  const w2 = w >> 1;
  const h2 = h >> 1;
  const p = into?.length === w2 * h2 ? into : new Float32Array(w2 * h2);
  for (let y = 0; y < h2; y++) {
    const r0 = 2 * y * w;
    const r1 = r0 + w;
    for (let x = 0; x < w2; x++) p[y * w2 + x] = 0.25 * (a[r0 + 2 * x]! + a[r0 + 2 * x + 1]! + a[r1 + 2 * x]! + a[r1 + 2 * x + 1]!);
  }
  return p;
}

/**
 * Mean of min(|cur(x, y) − prev(x + dx, y + dy)|, t) over the overlap (integer shift), every
 * `step`-th row, plus `premium`. Infinity as soon as that is sure to exceed `stopAt`: the terms
 * are never negative, so the partial sum over all the rows' count only grows, and a shift that
 * cannot win stops early. A cost equal to `stopAt` is returned whole, so a search bounded by a
 * candidate it has not reached yet still picks, among equal costs, the one it picked before.
 */
function truncatedCost(prev: Float32Array, cur: Float32Array, w: number, h: number, dx: number, dy: number, t: number, step: number, premium = 0, stopAt = Infinity): number {
  const x0 = Math.max(0, -dx);
  const x1 = Math.min(w, w - dx);
  const y0 = Math.max(0, -dy);
  const y1 = Math.min(h, h - dy);
  if (x1 - x0 < w / 4 || y1 - y0 < h / 4) return Infinity;
  let s = 0;
  const n = Math.ceil((y1 - y0) / step) * (x1 - x0);
  const off = dy * w + dx;
  for (let y = y0; y < y1; y += step) {
    for (let i = y * w + x0, end = y * w + x1; i < end; i++) s += Math.min(t, Math.abs(cur[i]! - prev[i + off]!));
    if (s / n + premium > stopAt) return Infinity;
  }
  return s / n + premium;
}

/**
 * Frames of this many pixels (2¹⁷) and more are large: {@link estimateShift} gives them fewer
 * equations (their count, not the frame's size, sets the precision) and no whole-pixel search at
 * half resolution, and the history-weight estimator measures them on their 2×2 means: the cost
 * per pixel falls where the model's time per frame is largest.
 */
export const LARGE_FRAME = 1 << 17;

/** Tuning of {@link estimateShift}. */
export interface MotionOptions {
  /** Largest shift searched, in pixels of the frame (default 32). */
  readonly maxShift?: number;
  /** Noise σ of the frames in luma levels, when known (sets the robust thresholds). */
  readonly noise?: number;
  /** Both frames' 2×2 means ({@link halvePlane}), when the caller has them: not made again. */
  readonly half?: { readonly prev: Float32Array; readonly cur: Float32Array };
  /** Work space of at least w × h floats, reused from frame to frame (else one is allocated). */
  readonly buffer?: Float32Array;
}

/**
 * The translation that best maps `prev` onto `cur` (luma planes 0–255 of `w × h`): `cur(x, y) ≈
 * prev(x + dx, y + dy)`. Shifts under 1/20 pixel in both directions are returned as exactly 0
 * (a still camera stays exactly still), as are frames too small to measure.
 */
export function estimateShift(prev: Float32Array, cur: Float32Array, w: number, h: number, opts: MotionOptions = {}): Shift {
  if (w < 16 || h < 16) return NO_SHIFT;
  const sigma = Math.max(1, opts.noise ?? 1);
  // Truncation of the integer search: differences beyond it are another object, not this motion.
  const t = 12 + 3 * sigma;
  const pyr = [{ p: cur, q: prev, w, h }];
  while (pyr.length < 4) {
    const top = pyr.at(-1)!;
    // Down to a top level of at least 20 pixels a side: the whole-pixel search there covers
    // ±maxShift in (2r + 1)² shifts, so each level less is four times the shifts (a 320×180 frame
    // searched at 80×45 took 3.6 ms of its 5.4, at 40×22 0.2).
    if (Math.min(top.w, top.h) < 40) break;
    // The first level from the caller when it has it (the same 2×2 means).
    const given = pyr.length === 1 ? opts.half : undefined;
    pyr.push({ p: given?.cur ?? halvePlane(top.p, top.w, top.h), q: given?.prev ?? halvePlane(top.q, top.w, top.h), w: top.w >> 1, h: top.h >> 1 });
  }
  const levels = pyr.length;
  const top = pyr[levels - 1]!;
  const large = w * h >= LARGE_FRAME;
  const r = Math.max(1, Math.ceil((opts.maxShift ?? 32) / 2 ** (levels - 1)));
  // A top level of 2000 pixels or more (a large frame's is at least 80×45) is searched on every
  // other row: plenty to tell its whole pixels apart.
  const topStep = large || top.w * top.h >= 2000 ? 2 : 1;
  // A small premium per pixel of shift: among equals (flat frames, noise) the still answer wins.
  const premium = (dx: number, dy: number) => 0.02 * (Math.abs(dx) + Math.abs(dy));
  const search = (q: Float32Array): { best: { dx: number; dy: number }; cost: number } => {
    let best = { dx: 0, dy: 0 };
    let cost = truncatedCost(q, top.p, top.w, top.h, 0, 0, t, topStep);
    for (let dy = -r; dy <= r; dy++)
      for (let dx = -r; dx <= r; dx++) {
        const c = truncatedCost(q, top.p, top.w, top.h, dx, dy, t, topStep, premium(dx, dy), cost);
        if (c < cost) [best, cost] = [{ dx, dy }, c];
      }
    return { best, cost };
  };
  let { best, cost } = search(top.q);
  // A change of brightness (a light, the exposure, a fade) breaks the search's premise that the
  // content keeps its values: on a large frame of fine texture, whose coarse levels are nearly
  // flat, a frame 5 % brighter than the last matched a place 12 pixels away better than itself.
  // So where the mean changed by over 1 %, the top level is searched again with the last frame
  // times that gain; where that finds another place, the better match decides, gain included (a
  // pan whose entering content moved the mean finds the same place: its answers stay what they
  // were; Lucas–Kanade's sub-pixel step is barely moved by a change of brightness).
  const gain = meanOf(top.p) / Math.max(1e-6, meanOf(top.q));
  let full = prev;
  if (Math.abs(gain - 1) > 0.01 && Number.isFinite(gain)) {
    const scaled = top.q.map((v) => v * gain);
    const relit = search(scaled);
    if (relit.cost < cost && (relit.best.dx !== best.dx || relit.best.dy !== best.dy)) {
      ({ best, cost } = relit);
      for (const L of pyr) L.q = L === top ? scaled : L.q.map((v) => v * gain);
      full = pyr[0]!.q;
    }
  }
  // Down to half resolution (a large frame's to a quarter: Lucas–Kanade at half resolution starts
  // within a pixel); the full resolution's whole pixel is Lucas–Kanade's to find.
  const lowest = large && levels > 2 ? 2 : 1;
  for (let l = levels - 2; l >= lowest; l--) {
    const L = pyr[l]!;
    const cx = 2 * best.dx;
    const cy = 2 * best.dy;
    // Levels over 15 000 pixels on every other row (Vid4's 180×120 and up; the same answers on every clip of the study).
    const step = L.w * L.h > 15_000 ? 2 : 1;
    // The centre (the coarser level's answer) first, as the bound: the same answer, sooner.
    const centre = truncatedCost(L.q, L.p, L.w, L.h, cx, cy, t, step, premium(cx, cy));
    let c0 = Infinity;
    for (let dy = cy - 1; dy <= cy + 1; dy++)
      for (let dx = cx - 1; dx <= cx + 1; dx++) {
        const c = dx === cx && dy === cy ? centre : truncatedCost(L.q, L.p, L.w, L.h, dx, dy, t, step, premium(dx, dy), Math.min(c0, centre));
        if (c < c0) [best, c0] = [{ dx, dy }, c];
      }
  }
  // Sub-pixel: Lucas–Kanade around the integer answer at half resolution, then two steps at full
  // resolution (every other row: plenty of equations for two unknowns), each ending on Tukey's
  // biweight.
  if (lowest === 2) best = { dx: 2 * best.dx, dy: 2 * best.dy };
  let s: Shift = best;
  if (levels > 1) {
    const L = pyr[1]!;
    s = refine(L.q, L.p, L.w, L.h, best, sigma, 3, large ? 2 : 1, true, opts.buffer);
    s = { dx: 2 * s.dx, dy: 2 * s.dy };
  } else s = refine(full, cur, w, h, s, sigma, 2, 1, false, opts.buffer);
  // Every other row; on larger frames fewer still (about 15 000 pixels per row step squared), and
  // on large ones about 30 000 equations for the two unknowns (640×360: every seventh row).
  const rowStep = large ? Math.floor((w * h) / 30_000) : levels > 1 ? Math.max(2, Math.round(Math.sqrt((w * h) / 15_000))) : 1;
  s = refine(full, cur, w, h, s, sigma, 2, rowStep, true, opts.buffer);
  if (Math.abs(s.dx) < 0.05 && Math.abs(s.dy) < 0.05) return NO_SHIFT;
  return s;
}

/** The mean of a plane. */
function meanOf(a: Float32Array): number {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += a[i]!;
  return s / Math.max(1, a.length);
}

/**
 * Lucas–Kanade iterations for a translation: linearise `prev(x + d + δ)` with the mean gradient
 * of `cur` and of `prev` warped, Tukey weights on the residual so that what moves otherwise does
 * not count; each step at most one pixel, every `rowStep`-th row.
 */
function refine(prev: Float32Array, cur: Float32Array, w: number, h: number, s0: Shift, sigma: number, iterations: number, rowStep: number, tukey: boolean, buffer?: Float32Array): Shift {
  let s = s0;
  // Huber weights from afar (they converge from half a pixel off on any texture); with `tukey`, the
  // last iteration uses Tukey's biweight at 4.685 deviations of the difference (as the one before
  // measured it: noise, aliasing), so content that moves otherwise (an object, an occlusion) then
  // counts for nothing, however sharp its edges.
  let sd = Math.max(1, sigma) * Math.SQRT2;
  const huber = 2.5 * sd;
  // Every value read below is written first in the same iteration, so a reused buffer is as good as a fresh one.
  const warped = buffer && buffer.length >= w * h ? buffer.subarray(0, w * h) : new Float32Array(w * h);
  for (let it = 0; it < iterations; it++) {
    // Only the rows the equations read (each used row and its neighbours) are warped.
    const m = 2 + Math.ceil(Math.max(Math.abs(s.dx), Math.abs(s.dy)));
    if (rowStep < 3) bilinearShift(prev, h, w, s, warped);
    else {
      const taps = rowTaps(w, s);
      for (let y = m; y < h - m; y += rowStep) for (let r = y - 1; r <= y + 1; r++) warpRow(prev, 0, h, w, taps, r, warped);
    }
    let a = 0;
    let b = 0;
    let c = 0;
    let ex = 0;
    let ey = 0;
    let absSum = 0;
    let count = 0;
    const biweight = tukey && it === iterations - 1 && it > 0;
    const c2 = (4.685 * sd) ** 2;
    for (let y = m; y < h - m; y += rowStep) {
      // Along the row each value is read once and carried (left, centre, right).
      let i = y * w + m;
      let cl = cur[i - 1]!;
      let cc = cur[i]!;
      let wl = warped[i - 1]!;
      let wc = warped[i]!;
      for (let x = m; x < w - m; x++, i++) {
        const cr = cur[i + 1]!;
        const wr = warped[i + 1]!;
        // The mean of both frames' gradients (efficient second-order minimisation): no bias
        // toward either frame's sampling, and fewer iterations.
        const gx = 0.25 * (cr - cl + wr - wl);
        const gy = 0.25 * (cur[i + w]! - cur[i - w]! + warped[i + w]! - warped[i - w]!);
        const e = cc - wc;
        cl = cc;
        cc = cr;
        wl = wc;
        wc = wr;
        const ae = Math.abs(e);
        absSum += ae;
        let k: number;
        if (biweight) {
          const r = 1 - (e * e) / c2;
          k = r > 0 ? r * r : 0;
        } else k = ae <= huber ? 1.0 : huber / ae;
        const kx = k * gx;
        const ky = k * gy;
        a += kx * gx;
        b += kx * gy;
        c += ky * gy;
        ex += kx * e;
        ey += ky * e;
      }
      count += w - 2 * m;
    }
    // The deviation of the difference, from its mean magnitude (Gaussian: σ = 1.2533·E|e|).
    sd = Math.max(sd, (1.2533 * absSum) / Math.max(1, count));
    const det = a * c - b * b;
    if (!(det > 1e-6 * (a + c) * (a + c)) || !(a + c > 0)) break;
    // cur ≈ prev(x + d) and prev(x + d + δ) ≈ cur(x) + ∇cur·δ − e  ⇒  ∇cur·δ ≈ e.
    let ddx = (c * ex - b * ey) / det;
    let ddy = (a * ey - b * ex) / det;
    const big = Math.max(Math.abs(ddx), Math.abs(ddy));
    if (big > 1) [ddx, ddy] = [ddx / big, ddy / big];
    s = { dx: s.dx + ddx, dy: s.dy + ddy };
    if (big < 0.005) break;
  }
  return s;
}
