/**
 * The noise level of low-resolution video frames (σ in luma levels 0–255), measured so that
 * neither texture nor motion passes for noise: the history-weight map keeps history only where
 * noise explains a difference, and keeps none at all on clean input (history-weight.ts).
 *
 * Why it is hard: a clean clip of dense fine texture (foliage) that moves by a fraction of a pixel
 * changes at every pixel from frame to frame (interpolation and aliasing: the new samples are not
 * a shift of the old ones), and is full of fine detail in every frame; both read as noise to the
 * simple estimators ({@link estimateNoise} on frame differences, {@link estimateNoiseSpatial} on a
 * Laplacian), and to any other statistic of one difference or one frame. {@link estimateNoiseMoving}
 * uses what only noise does: it is new in every frame. Two consecutive motion-compensated
 * differences share the middle frame's noise with opposite signs (a negative covariance), while
 * whatever the compensation leaves of the content (aliasing, interpolation, motion it missed)
 * repeats from one difference to the next (a positive covariance). Texture and motion can only
 * lower the reading (in expectation), never raise it, and lower it most where the texture is: so
 * it is read on the least textured blocks. One exception: a motion the translation misses that
 * turns back from one frame to the next (a hand-held camera's roll) leaves the opposite in the
 * second difference, as noise does; the estimator takes no reading from such frames
 * (history-weight.ts `reversed`, from the residual motion measured here). Measured on clean and noisy pans, zooms and rotations
 * of photographs and of a dead-leaves texture in docs/temporal.md.
 *
 * On the way it measures how well the global translation registers the frame (the
 * misregistration: an affine fit of each block's residual motion), which sets how sharp the
 * history's warp is (history-weight.ts `softness`).
 *
 * Pure TypeScript on typed arrays (no Node APIs): the browser player runs the same code.
 */
import { isStill, type Shift } from './motion.ts';
import { cubicTaps, warpShift } from './warp.ts';

/** E|X| / σ and sd(|X|) / σ of a zero-mean Gaussian X. */
export const ABS_MEAN = Math.sqrt(2 / Math.PI);
export const ABS_SD = Math.sqrt(1 - 2 / Math.PI);

/**
 * The `quantile` of the block means of |`value`(i)| over the `block`² blocks of a `w × h` frame
 * that lie `margin` pixels inside it, blocks whose mean of `a` is near black or white set aside
 * (clipping hides noise there) unless no other is left; undefined when there is no block.
 */
function blockQuantile(a: Float32Array, w: number, h: number, block: number, quantile: number, margin: number, value: (i: number) => number): number | undefined {
  const stats: number[] = [];
  const fallback: number[] = [];
  const n = block * block;
  for (let by = margin; by + block <= h - margin; by += block) {
    for (let bx = margin; bx + block <= w - margin; bx += block) {
      let sv = 0;
      let sy = 0;
      for (let y = by; y < by + block; y++)
        for (let x = bx; x < bx + block; x++) {
          const i = y * w + x;
          sv += Math.abs(value(i));
          sy += a[i]!;
        }
      const mean = sy / n;
      (mean > 12 && mean < 243 ? stats : fallback).push(sv / n);
    }
  }
  const pool = stats.length > 0 ? stats : fallback;
  if (pool.length === 0) return undefined;
  pool.sort((p, q) => p - q);
  return pool[Math.min(pool.length - 1, Math.floor(quantile * pool.length))]!;
}

/**
 * Noise σ (luma levels) of two consecutive frames from their difference: the `quantile` of the
 * block means of |a − b| over blocks of `block`² pixels, converted under the model "the block
 * holds only independent Gaussian noise of σ in each frame". Blocks near black or white are
 * skipped (clipping hides noise there). Returns 0 for identical frames.
 */
export function estimateNoise(a: Float32Array, b: Float32Array, w: number, h: number, block = 8, quantile = 0.1): number {
  const q = blockQuantile(a, w, h, block, quantile, 0, (i) => a[i]! - b[i]!);
  if (q === undefined) return 0;
  // The q-quantile of a block mean of |N(0, 2σ²)| sits z_q standard errors below its mean.
  const perSigmaD = ABS_MEAN + (normalQuantile(quantile) * ABS_SD) / block;
  return q / Math.max(1e-6, perSigmaD) / Math.SQRT2;
}

/**
 * Noise σ of one frame from its fine detail (Immerkær's Laplacian-difference operator, whose
 * response to smooth content is near 0): the `quantile` of block means of the operator's |output|,
 * converted as for Gaussian noise (the operator multiplies σ by 6). Texture raises it, motion
 * does not: the complement of {@link estimateNoise}.
 */
export function estimateNoiseSpatial(a: Float32Array, w: number, h: number, block = 8, quantile = 0.1): number {
  const laplacian = (i: number): number =>
    a[i - w - 1]! - 2 * a[i - w]! + a[i - w + 1]! - 2 * a[i - 1]! + 4 * a[i]! - 2 * a[i + 1]! + a[i + w - 1]! - 2 * a[i + w]! + a[i + w + 1]!;
  const q = blockQuantile(a, w, h, block, quantile, 1, laplacian);
  if (q === undefined) return 0;
  return q / Math.max(1e-6, ABS_MEAN + (normalQuantile(quantile) * ABS_SD) / block) / 6;
}

/** Inverse standard normal CDF (Acklam's rational approximation, |error| < 1.2e-9). */
export function normalQuantile(p: number): number {
  const a = [-39.69683028665376, 220.9460984245205, -275.9285104469687, 138.357751867269, -30.66479806614716, 2.506628277459239];
  const b = [-54.47609879822406, 161.5858368580409, -155.6989798598866, 66.80131188771972, -13.28068155288572];
  const c = [-0.007784894002430293, -0.3223964580411365, -2.400758277161838, -2.549732539343734, 4.374664141464968, 2.938163982698783];
  const d = [0.007784695709041462, 0.3224671290700398, 2.445134137142996, 3.754408661907416];
  const tail = (q: number) =>
    (((((c[0]! * q + c[1]!) * q + c[2]!) * q + c[3]!) * q + c[4]!) * q + c[5]!) / ((((d[0]! * q + d[1]!) * q + d[2]!) * q + d[3]!) * q + 1);
  if (p < 0.02425) return tail(Math.sqrt(-2 * Math.log(p)));
  if (p > 1 - 0.02425) return -tail(Math.sqrt(-2 * Math.log(1 - p)));
  const q = p - 0.5;
  const r = q * q;
  return ((((((a[0]! * r + a[1]!) * r + a[2]!) * r + a[3]!) * r + a[4]!) * r + a[5]!) * q) / (((((b[0]! * r + b[1]!) * r + b[2]!) * r + b[3]!) * r + b[4]!) * r + 1);
}


/**
 * `cur − warp(prev)`, the plane moved by `s` with a sharp warp (warp.ts `warpShift`: the
 * four-point Keys it was calibrated with, whatever `s.soft` says; edges clamped, `warp(x, y) = prev(x + dx, y + dy)`, rounded to float32 as stored), into
 * `out`; returns the noise gain of the warp (Σ weight², the variance a warped plane of white
 * noise keeps). `tmp` holds the horizontal pass.
 */
export function cubicDifference(prev: Float32Array, cur: Float32Array, h: number, w: number, s: Shift, tmp: Float32Array, out: Float32Array): number {
  const keysOnly = { dx: s.dx, dy: s.dy };
  const { wx, wy } = cubicTaps(keysOnly);
  warpShift(prev, 1, h, w, keysOnly, { into: out, tmp, kernel: 'keys' });
  for (let i = 0, n = h * w; i < n; i++) out[i] = cur[i]! - out[i]!;
  return wx.reduce((a, v) => a + v * v, 0) * wy.reduce((a, v) => a + v * v, 0);
}

/**
 * What one translation leaves of a frame's motion, as an affine field's linear part in pixels
 * over the frame (`[∂x/∂X, ∂x/∂Y, ∂y/∂X, ∂y/∂Y]`, each times its coordinate's spread; the norm is
 * the misregistration): a zoom, a rotation, a shear.
 */
export type Residual = readonly [number, number, number, number];

/** Tuning of {@link estimateNoiseMoving}. */
export interface MovingNoiseOptions {
  /** Side of the blocks (default 8). */
  readonly block?: number;
  /**
   * The share of the blocks, the least textured (least gradient energy), that the noise is read
   * on (default 0.25; 1 reads it on all). What the compensation leaves of the content grows with
   * the texture, the noise does not: on a frame full of moving sharp edges (a butterfly's wing,
   * dense foliage), the textured blocks' readings fall far below the noise (docs/temporal.md).
   */
  readonly smoothest?: number;
  /**
   * Quantile of those blocks' noise variances taken as the frame's (default 0.75: what aliasing
   * leaves pulls the lower ones down). Calibrated: noise alone reads its σ at any quantile.
   */
  readonly quantile?: number;
  /**
   * The clip's noise variance as read so far (luma levels², on this plane), for the
   * misregistration: the noise in the gradients shrinks each block's residual motion toward 0.
   */
  readonly noiseVar?: number;
}

/**
 * Noise σ (luma levels) of a clip at `cur`, robust to texture and motion (see the module
 * comment), and this frame's motion-compensated difference for the next call.
 *
 * `d_t = cur − warp(prev)` (bicubic, by the global motion `s`, each block's residual motion then
 * removed to first order by a Lucas–Kanade step) holds the noise of both frames; the last call's
 * difference `d_{t−1}` (`last`), moved by the same warp, holds the previous frame's noise too, with
 * the opposite sign. So per block `−cov(d_t, warp(d_{t−1})) / g` (g the warp's Σ weight²) is the
 * noise variance, and nothing else makes it positive: what aliasing, interpolation and motion that
 * the warp missed leave in the differences repeats from frame to frame (a positive covariance),
 * and changes of the scene do not repeat at all. What repeats grows with the texture, so the
 * frame's reading is the `quantile` of the variances of the least textured blocks (`smoothest`),
 * divided by what that quantile reads on noise alone; negative means no noise (σ 0). Undefined without `last` (the first two frames of a
 * shot, or after a size change).
 */
export function estimateNoiseMoving(
  prev: Float32Array,
  cur: Float32Array,
  w: number,
  h: number,
  s: Shift,
  last: Float32Array | undefined,
  opts: MovingNoiseOptions = {},
  buffers: { into?: Float32Array; tmp?: Float32Array } = {},
): { sigma: number | undefined; difference: Float32Array; misregistration?: number; residual?: Residual } {
  const B = opts.block ?? 8;
  const still = isStill(s);
  const n2 = w * h;
  const difference = buffers.into?.length === n2 && buffers.into !== last ? buffers.into : new Float32Array(n2);
  let gain = 1;
  if (still) for (let i = 0; i < n2; i++) difference[i] = cur[i]! - prev[i]!;
  else gain = cubicDifference(prev, cur, h, w, s, buffers.tmp?.length === n2 ? buffers.tmp : new Float32Array(n2), difference);
  // Without the last difference there is no reading, but the residual motion is still measured
  // (the next frame's reading needs this one's: history-weight.ts `reversed`).
  const prior = last?.length === w * h ? last : undefined;
  // The last difference moved onto this frame, on the windows measured.
  const { ix, iy, wx, wy } = cubicTaps({ dx: s.dx, dy: s.dy });
  const [wx0, wx1, wx2, wx3] = wx;
  const [wy0, wy1, wy2, wy3] = wy;
  const win = new Float32Array(B * B);
  const tmp = new Float32Array((B + 3) * B);
  const m = 3 + Math.ceil(Math.max(Math.abs(s.dx), Math.abs(s.dy)));
  const cols = Math.floor((w - 2 * m) / B);
  const rows = Math.floor((h - 2 * m) / B);
  if (cols < 1 || rows < 1) return { sigma: undefined, difference };
  // Large frames: about 1500 blocks spread evenly (a fractional stride each way), plenty for a
  // quantile; smaller frames use every block.
  const kf = Math.max(1, Math.sqrt((cols * rows) / 1500));
  const nr = Math.max(1, Math.round(rows / kf));
  const nc = Math.max(1, Math.round(cols / kf));
  const variances: number[] = [];
  const energies: number[] = [];
  const n = B * B;
  // The gradients of the grown block, kept for the second pass over the block itself.
  const G = B + 4;
  const gxs = new Float64Array(G * G);
  const gys = new Float64Array(G * G);
  const fit = new AffineFit(w, h);
  const noiseVar = opts.noiseVar ?? 0;
  for (let j = 0; j < nr; j++)
    for (let i0 = 0; i0 < nc; i0++) {
      const by = m + Math.floor((j * rows) / nr) * B;
      const bx = m + Math.floor((i0 * cols) / nc) * B;
      // Residual motion of the block: one Lucas–Kanade step on the block grown by 2 pixels.
      let a = 0;
      let b = 0;
      let c = 0;
      let ex = 0;
      let ey = 0;
      for (let y = 0, g = 0; y < G; y++)
        for (let x = 0, i = (by - 2 + y) * w + bx - 2; x < G; x++, i++, g++) {
          const gx = 0.5 * (cur[i + 1]! - cur[i - 1]!);
          const gy = 0.5 * (cur[i + w]! - cur[i - w]!);
          gxs[g] = gx;
          gys[g] = gy;
          const e = difference[i]!;
          a += gx * gx;
          b += gx * gy;
          c += gy * gy;
          ex += gx * e;
          ey += gy * e;
        }
      const det = a * c - b * b;
      let dx = 0;
      let dy = 0;
      if (a + c > 0 && det > 1e-3 * (a + c) * (a + c)) {
        dx = (c * ex - b * ey) / det;
        dy = (a * ey - b * ex) / det;
        const big = Math.max(Math.abs(dx), Math.abs(dy));
        if (big > 1) {
          dx /= big;
          dy /= big;
        }
      }
      // For the misregistration, the same step with the noise's share of the gradients' energy
      // taken out (a central difference carries σ²/2 of it a pixel): on smooth noisy content the
      // plain step reads a zoom at a third to a half of its size.
      const ng = (G * G * noiseVar) / 2;
      const a2 = a - ng;
      const c2 = c - ng;
      const det2 = a2 * c2 - b * b;
      if (a2 > 0 && c2 > 0 && det2 > 1e-3 * (a2 + c2) * (a2 + c2)) {
        const rx = (c2 * ex - b * ey) / det2;
        const ry = (a2 * ey - b * ex) / det2;
        if (Math.abs(rx) <= 1 && Math.abs(ry) <= 1) fit.add(bx + B / 2, by + B / 2, rx, ry);
      }
      if (!prior) continue;
      // The last difference moved onto this block. No clamping: the margin `m` keeps every tap
      // inside the frame.
      if (still) for (let y = 0; y < B; y++) win.set(prior.subarray((by + y) * w + bx, (by + y) * w + bx + B), y * B);
      else {
        for (let r = 0; r < B + 3; r++) {
          const row = (by + iy - 1 + r) * w + bx + ix;
          for (let x = 0; x < B; x++) tmp[r * B + x] = wx0 * prior[row + x - 1]! + wx1 * prior[row + x]! + wx2 * prior[row + x + 1]! + wx3 * prior[row + x + 2]!;
        }
        for (let y = 0; y < B; y++)
          for (let x = 0, t = y * B; x < B; x++, t++) win[t] = wy0 * tmp[t]! + wy1 * tmp[t + B]! + wy2 * tmp[t + 2 * B]! + wy3 * tmp[t + 3 * B]!;
      }
      let sd = 0;
      let sq = 0;
      let sdq = 0;
      let mean = 0;
      let energy = 0;
      for (let y = 0; y < B; y++)
        for (let x = 0, i = (by + y) * w + bx, g = (y + 2) * G + 2, t = y * B; x < B; x++, i++, g++, t++) {
          const d = difference[i]! - gxs[g]! * dx - gys[g]! * dy;
          const q = win[t]!;
          sd += d;
          sq += q;
          sdq += d * q;
          mean += cur[i]!;
          energy += gxs[g]! * gxs[g]! + gys[g]! * gys[g]!;
        }
      // Near black or white, clipping hides noise.
      if (!(mean > 12 * n && mean < 243 * n)) continue;
      variances.push(-(sdq / n - (sd / n) * (sq / n)) / gain);
      energies.push(energy);
    }
  const { misregistration, residual } = fit.result() ?? {};
  // (The first difference of a shot gives no misregistration either: its warp is bilinear.)
  if (!prior) return { sigma: undefined, difference, residual };
  if (variances.length < 8) return { sigma: undefined, difference, misregistration, residual };
  // The least textured blocks (at least 8): the noise adds about the same energy to every block,
  // so the order is the content's (flat blocks where a colour clips hold less noise, and come
  // first: a reading on the low side, never a ghost).
  const keep = Math.min(variances.length, Math.max(8, Math.round((opts.smoothest ?? 0.25) * variances.length)));
  const order = variances.map((_, i) => i).sort((p, q) => energies[p]! - energies[q]!);
  const chosen = order.slice(0, keep).map((i) => variances[i]!).sort((p, q) => p - q);
  const quantile = opts.quantile ?? 0.75;
  const v = chosen[Math.floor(quantile * (chosen.length - 1))]!;
  return { sigma: Math.sqrt(Math.max(0, v) / quantileGain(quantile, B)), difference, misregistration, residual };
}

/**
 * What the `quantile` of the blocks' readings is, in units of the noise variance, where a
 * `block`² block holds only Gaussian noise: each reading scatters about its mean with a relative
 * spread of about 2.64 / `block` (0.33 for 8×8), and the block's Lucas–Kanade step takes about
 * 5 % of the noise out with the motion it fits. Measured on smooth content under pure noise (8×8:
 * the 75 % quantile read σ 7–9 % high, the median 2–4 % low, at shifts from 0 to (1.3, −0.55)
 * pixels): the reading divides it out, so that noise alone reads its σ.
 */
function quantileGain(quantile: number, block: number): number {
  return 0.95 * Math.max(0.1, 1 + normalQuantile(Math.min(0.999, Math.max(0.001, quantile))) * (2.64 / block));
}

/**
 * Least-squares affine fit of the blocks' residual motions (what the global translation left):
 * `r(x, y) = c + A·(x − w/2, y − h/2)`. Its linear part `A` is what one translation cannot
 * follow (a zoom, a rotation, a shear); its root mean square displacement over the frame is how
 * far the translated history lies from the content, on average, in pixels.
 */
class AffineFit {
  // Normal equations of the regressors (1, X, Y), shared by both components.
  readonly #m = new Float64Array(6); // n, ΣX, ΣY, ΣX², ΣXY, ΣY²
  readonly #rx = new Float64Array(3);
  readonly #ry = new Float64Array(3);
  constructor(
    readonly w: number,
    readonly h: number,
  ) {}

  add(x: number, y: number, dx: number, dy: number): void {
    const X = x - this.w / 2;
    const Y = y - this.h / 2;
    const m = this.#m;
    m[0]! += 1;
    m[1]! += X;
    m[2]! += Y;
    m[3]! += X * X;
    m[4]! += X * Y;
    m[5]! += Y * Y;
    const [rx, ry] = [this.#rx, this.#ry];
    rx[0]! += dx;
    rx[1]! += X * dx;
    rx[2]! += Y * dx;
    ry[0]! += dy;
    ry[1]! += X * dy;
    ry[2]! += Y * dy;
  }

  /**
   * The fit's linear part `A` (one 3×3 solve for both): `residual`, its entries ∂x/∂X, ∂x/∂Y,
   * ∂y/∂X, ∂y/∂Y each times its coordinate's spread over the frame's pixels (X and Y are
   * uncorrelated there, with variances w²/12 and h²/12), and `misregistration`, the RMS over the
   * frame of `|A·(X, Y)|` in pixels (the norm of `residual`); undefined with too few blocks to tell.
   */
  result(): { misregistration: number; residual: Residual } | undefined {
    const [n, sx, sy, sxx, sxy, syy] = this.#m as unknown as [number, number, number, number, number, number];
    if (n < 12) return undefined;
    const M = [n, sx, sy, sx, sxx, sxy, sy, sxy, syy];
    const solve = (r: Float64Array) => solve3(M, [r[0]!, r[1]!, r[2]!]);
    const a = solve(this.#rx);
    const b = solve(this.#ry);
    if (!a || !b) return undefined;
    const [vx, vy] = [(this.w * this.w) / 12, (this.h * this.h) / 12];
    const [ex, ey] = [this.w / Math.sqrt(12), this.h / Math.sqrt(12)];
    return {
      misregistration: Math.sqrt((a[1]! ** 2 + b[1]! ** 2) * vx + (a[2]! ** 2 + b[2]! ** 2) * vy),
      residual: [a[1]! * ex, a[2]! * ey, b[1]! * ex, b[2]! * ey],
    };
  }
}

/** The solution of the 3×3 system `M·x = r` (row-major), or undefined when singular. */
function solve3(M: number[], r: number[]): number[] | undefined {
  const [a, b, c, d, e, f, g, h, i] = M as [number, number, number, number, number, number, number, number, number];
  const det = a * (e * i - f * h) - b * (d * i - f * g) + c * (d * h - e * g);
  if (!(Math.abs(det) > 1e-9 * Math.abs(a * e * i))) return undefined;
  const col = (k: number) => {
    const m = [...M];
    for (let j = 0; j < 3; j++) m[3 * j + k] = r[j]!;
    const [p, q, s, t, u, v, x, y, z] = m as [number, number, number, number, number, number, number, number, number];
    return (p * (u * z - v * y) - q * (t * z - v * x) + s * (t * y - u * x)) / det;
  };
  return [col(0), col(1), col(2)];
}
