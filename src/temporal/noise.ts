/**
 * The noise level of low-resolution video frames (σ in luma levels 0–255), measured so that
 * neither texture nor motion passes for noise: the history-weight map keeps history only where
 * noise explains a difference, and keeps none at all on clean input (history-weight.ts).
 *
 * Why it is hard: a clean clip of dense fine texture (foliage) that moves by a fraction of a pixel
 * changes at every pixel from frame to frame (interpolation and aliasing: the new samples are not
 * a shift of the old ones), and is full of fine detail in every frame; both read as noise to the
 * simple estimators ({@link estimateNoise} on frame differences, {@link estimateNoiseSpatial} on a
 * Laplacian). {@link estimateNoiseMoving} asks for two independent kinds of evidence instead:
 * - in blocks that did not move (locally, after the global motion and a per-block Lucas–Kanade
 *   step), the frame difference holds only noise: texture cannot show there;
 * - in blocks that moved, the motion-compensated difference (bicubic warp, the per-block residual
 *   motion removed to first order) and the Laplacian must agree: white noise raises both alike,
 *   while texture raises the Laplacian and aliasing the difference, each on its own.
 * Blocks with neither kind of evidence say nothing, and too few blocks with evidence mean the
 * frame shows no noise: σ 0. Measured on clean and noisy pans, zooms and rotations of photographs
 * and of a dead-leaves texture in docs/temporal.md.
 *
 * Pure TypeScript on typed arrays (no Node APIs): the browser player runs the same code.
 */
import { isStill, type Shift } from './motion.ts';

/** E|X| / σ and sd(|X|) / σ of a zero-mean Gaussian X. */
export const ABS_MEAN = Math.sqrt(2 / Math.PI);
export const ABS_SD = Math.sqrt(1 - 2 / Math.PI);

/**
 * Noise σ (luma levels) of two consecutive frames from their difference: the `quantile` of the
 * block means of |a − b| over blocks of `block`² pixels, converted under the model "the block
 * holds only independent Gaussian noise of σ in each frame". Blocks near black or white are
 * skipped (clipping hides noise there). Returns 0 for identical frames.
 */
export function estimateNoise(a: Float32Array, b: Float32Array, w: number, h: number, block = 8, quantile = 0.1): number {
  const stats: number[] = [];
  const fallback: number[] = [];
  for (let by = 0; by + block <= h; by += block) {
    for (let bx = 0; bx + block <= w; bx += block) {
      let sd = 0;
      let sy = 0;
      for (let y = by; y < by + block; y++)
        for (let x = bx; x < bx + block; x++) {
          const i = y * w + x;
          sd += Math.abs(a[i]! - b[i]!);
          sy += a[i]!;
        }
      const n = block * block;
      const mean = sy / n;
      (mean > 12 && mean < 243 ? stats : fallback).push(sd / n);
    }
  }
  const pool = stats.length > 0 ? stats : fallback;
  if (pool.length === 0) return 0;
  pool.sort((p, q) => p - q);
  const q = pool[Math.min(pool.length - 1, Math.floor(quantile * pool.length))]!;
  // The q-quantile of a block mean of |N(0, 2σ²)| sits z_q standard errors below its mean.
  const zq = normalQuantile(quantile);
  const perSigmaD = ABS_MEAN + (zq * ABS_SD) / block;
  return q / Math.max(1e-6, perSigmaD) / Math.SQRT2;
}

/**
 * Noise σ of one frame from its fine detail (Immerkær's Laplacian-difference operator, whose
 * response to smooth content is near 0): the `quantile` of block means of the operator's |output|,
 * converted as for Gaussian noise (the operator multiplies σ by 6). Texture raises it, motion
 * does not: the complement of {@link estimateNoise}.
 */
export function estimateNoiseSpatial(a: Float32Array, w: number, h: number, block = 8, quantile = 0.1): number {
  const stats: number[] = [];
  const fallback: number[] = [];
  for (let by = 1; by + block <= h - 1; by += block) {
    for (let bx = 1; bx + block <= w - 1; bx += block) {
      let sl = 0;
      let sy = 0;
      for (let y = by; y < by + block; y++)
        for (let x = bx; x < bx + block; x++) {
          const i = y * w + x;
          const l =
            a[i - w - 1]! - 2 * a[i - w]! + a[i - w + 1]! - 2 * a[i - 1]! + 4 * a[i]! - 2 * a[i + 1]! + a[i + w - 1]! - 2 * a[i + w]! + a[i + w + 1]!;
          sl += Math.abs(l);
          sy += a[i]!;
        }
      const n = block * block;
      const mean = sy / n;
      (mean > 12 && mean < 243 ? stats : fallback).push(sl / n);
    }
  }
  const pool = stats.length > 0 ? stats : fallback;
  if (pool.length === 0) return 0;
  pool.sort((p, q) => p - q);
  const q = pool[Math.min(pool.length - 1, Math.floor(quantile * pool.length))]!;
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


/** Keys' cubic convolution weight (a = −0.5). */
function keys(x: number): number {
  const a = Math.abs(x);
  if (a <= 1) return 1.5 * a * a * a - 2.5 * a * a + 1;
  if (a < 2) return -0.5 * a * a * a + 2.5 * a * a - 4 * a + 2;
  return 0;
}

/**
 * One plane moved by `s` with Keys' bicubic (edges clamped): `out(x, y) = src(x + dx, y + dy)`,
 * and the noise gain of the warp (Σ weight², the variance a warped plane of white noise keeps).
 * Sharper than the bilinear warp of the state, so the difference it leaves on moving texture is
 * mostly aliasing, not interpolation blur.
 */
export function warpCubic(src: Float32Array, h: number, w: number, s: Shift): { out: Float32Array; gain: number } {
  const ix = Math.floor(s.dx);
  const iy = Math.floor(s.dy);
  const wx = [-1, 0, 1, 2].map((k) => keys(s.dx - ix - k));
  const wy = [-1, 0, 1, 2].map((k) => keys(s.dy - iy - k));
  const gain = wx.reduce((a, v) => a + v * v, 0) * wy.reduce((a, v) => a + v * v, 0);
  const tmp = new Float32Array(h * w);
  const cols = [0, 1, 2, 3].map((k) => Int32Array.from({ length: w }, (_, x) => Math.min(w - 1, Math.max(0, x + ix + k - 1))));
  const [a0, a1, a2, a3] = wx as [number, number, number, number];
  const [c0, c1, c2, c3] = cols as [Int32Array, Int32Array, Int32Array, Int32Array];
  for (let y = 0; y < h; y++) {
    const r = y * w;
    for (let x = 0; x < w; x++) tmp[r + x] = a0 * src[r + c0[x]!]! + a1 * src[r + c1[x]!]! + a2 * src[r + c2[x]!]! + a3 * src[r + c3[x]!]!;
  }
  const out = new Float32Array(h * w);
  const [b0, b1, b2, b3] = wy as [number, number, number, number];
  for (let y = 0; y < h; y++) {
    const r = [0, 1, 2, 3].map((k) => Math.min(h - 1, Math.max(0, y + iy + k - 1)) * w) as [number, number, number, number];
    const o = y * w;
    for (let x = 0; x < w; x++) out[o + x] = b0 * tmp[r[0] + x]! + b1 * tmp[r[1] + x]! + b2 * tmp[r[2] + x]! + b3 * tmp[r[3] + x]!;
  }
  return { out, gain };
}

/** Tuning of {@link estimateNoiseMoving}. */
export interface MovingNoiseOptions {
  /** Side of the blocks (default 8). */
  readonly block?: number;
  /** Quantile of the blocks with evidence taken as the noise (default 0.25). */
  readonly quantile?: number;
  /** Largest ratio of the two estimates of a moving block for them to agree (default 1.4). */
  readonly agree?: number;
  /** Least share of the measured blocks that must hold evidence (default 0.06), else σ is 0. */
  readonly minShare?: number;
  /** Local motion (pixels) below which a block counts as still (default 0.1). */
  readonly still?: number;
}

/**
 * Noise σ (luma levels) of `cur` given the previous frame `prev` and the global motion `s`
 * between them (motion.ts), robust to texture and motion (see the module comment). 0 when the
 * frames hold no evidence of noise.
 */
export function estimateNoiseMoving(prev: Float32Array, cur: Float32Array, w: number, h: number, s: Shift, opts: MovingNoiseOptions = {}): number {
  const B = opts.block ?? 8;
  const agree = opts.agree ?? 1.4;
  const stillBelow = opts.still ?? 0.1;
  const still = isStill(s);
  // The previous frame moved by the bicubic warp, computed only on the windows measured.
  const ix = Math.floor(s.dx);
  const iy = Math.floor(s.dy);
  const wx = [-1, 0, 1, 2].map((k) => keys(s.dx - ix - k)) as [number, number, number, number];
  const wy = [-1, 0, 1, 2].map((k) => keys(s.dy - iy - k)) as [number, number, number, number];
  const gain = still ? 1 : wx.reduce((a, v) => a + v * v, 0) * wy.reduce((a, v) => a + v * v, 0);
  const G = B + 4;
  const win = new Float32Array(G * G);
  const tmp = new Float32Array((G + 3) * G);
  const warpWindow = (x0: number, y0: number): void => {
    for (let r = 0; r < G + 3; r++) {
      const row = Math.min(h - 1, Math.max(0, y0 + iy - 1 + r)) * w;
      for (let x = 0; x < G; x++) {
        const c = x0 + x + ix;
        tmp[r * G + x] =
          wx[0] * prev[row + Math.min(w - 1, Math.max(0, c - 1))]! + wx[1] * prev[row + Math.min(w - 1, Math.max(0, c))]! + wx[2] * prev[row + Math.min(w - 1, Math.max(0, c + 1))]! + wx[3] * prev[row + Math.min(w - 1, Math.max(0, c + 2))]!;
      }
    }
    for (let y = 0; y < G; y++) for (let x = 0; x < G; x++) win[y * G + x] = wy[0] * tmp[y * G + x]! + wy[1] * tmp[(y + 1) * G + x]! + wy[2] * tmp[(y + 2) * G + x]! + wy[3] * tmp[(y + 3) * G + x]!;
  };
  // Difference units: noise in both frames, the previous one through the warp.
  const perT = 1 / (B * B * ABS_MEAN * Math.sqrt(1 + gain));
  const perS = 1 / (B * B * ABS_MEAN * 6);
  const m = 3 + Math.ceil(Math.max(Math.abs(s.dx), Math.abs(s.dy)));
  const cols = Math.floor((w - 2 * m) / B);
  const rows = Math.floor((h - 2 * m) / B);
  if (cols < 1 || rows < 1) return 0;
  // Large frames: every k-th block each way (about 1500 blocks: fewer let a few odd blocks of a
  // clean frame pass for noise; measured on Vid4 walk).
  const k = Math.max(1, Math.round(Math.sqrt((cols * rows) / 1500)));
  const evidence: number[] = [];
  let measured = 0;
  for (let bj = 0; bj < rows; bj += k)
    for (let bi = 0; bi < cols; bi += k) {
      const by = m + bj * B;
      const bx = m + bi * B;
      if (still) for (let y = 0; y < G; y++) win.set(prev.subarray((by - 2 + y) * w + bx - 2, (by - 2 + y) * w + bx - 2 + G), y * G);
      else warpWindow(bx - 2, by - 2);
      // Residual motion of the block: one Lucas–Kanade step on the block grown by 2 pixels.
      let a = 0;
      let b = 0;
      let c = 0;
      let ex = 0;
      let ey = 0;
      for (let y = 0; y < G; y++)
        for (let x = 0; x < G; x++) {
          const i = (by - 2 + y) * w + bx - 2 + x;
          const gx = 0.5 * (cur[i + 1]! - cur[i - 1]!);
          const gy = 0.5 * (cur[i + w]! - cur[i - w]!);
          const e = cur[i]! - win[y * G + x]!;
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
        if (big > 1) [dx, dy] = [dx / big, dy / big];
      }
      let st = 0;
      let sl = 0;
      let mean = 0;
      for (let y = 2; y < B + 2; y++)
        for (let x = 2; x < B + 2; x++) {
          const i = (by - 2 + y) * w + bx - 2 + x;
          const gx = 0.5 * (cur[i + 1]! - cur[i - 1]!);
          const gy = 0.5 * (cur[i + w]! - cur[i - w]!);
          st += Math.abs(cur[i]! - win[y * G + x]! - gx * dx - gy * dy);
          sl += Math.abs(cur[i - w - 1]! - 2 * cur[i - w]! + cur[i - w + 1]! - 2 * cur[i - 1]! + 4 * cur[i]! - 2 * cur[i + 1]! + cur[i + w - 1]! - 2 * cur[i + w]! + cur[i + w + 1]!);
          mean += cur[i]!;
        }
      mean /= B * B;
      // Near black or white, clipping hides noise.
      if (!(mean > 12 && mean < 243)) continue;
      measured++;
      const t = st * perT;
      const l = sl * perS;
      const motion = Math.max(Math.abs(s.dx + dx), Math.abs(s.dy + dy));
      if (motion < stillBelow) evidence.push(t);
      else if (Math.max(t, l) <= agree * Math.min(t, l)) evidence.push(Math.sqrt(t * l));
    }
  if (evidence.length < Math.max(8, (opts.minShare ?? 0.06) * measured)) return 0;
  evidence.sort((p, q) => p - q);
  const q = opts.quantile ?? 0.25;
  // The q-quantile of a block's mean |N(0, 1)| sits z_q standard errors below 1.
  return evidence[Math.floor(q * evidence.length)]! / (1 + (normalQuantile(q) * ABS_SD) / ABS_MEAN / B);
}
