/**
 * Quality metrics as the SR literature computes them, so our numbers compare with published ones:
 * PSNR and SSIM on the BT.601 luma `Y` in 16–235 of the images as 8-bit files, with a border cropped;
 * plus a temporal-consistency error for video.
 *
 * Two conventions exist for Y. By default Y is NOT rounded (BasicSR's `calculate_psnr(...,
 * test_y_channel=True)`): the convention the ParagonSR2 reference scores were measured with (official
 * Realtime 36.638 dB on Set5 ×2; rounding Y reads ~0.065 dB lower). `roundY: true` rounds Y to an
 * integer as MATLAB `rgb2ycbcr` on uint8 does, the convention of the classic published bicubic
 * table (Set5 ×2 33.64–33.66 dB).
 */
import type { RgbImage } from './io.ts';

/** How Y is computed (see the module comment). */
export interface LumaOptions {
  /** Round Y to an integer (MATLAB on uint8). Default false (BasicSR). */
  readonly roundY?: boolean;
  /** Skip the 8-bit rounding of RGB too (pure float luma). Default false. */
  readonly exact?: boolean;
}

/**
 * Luma of planar RGB (0..1) in 16–235: RGB clamped and rounded to 8 bits,
 * `Y = 16 + 65.481 R + 128.553 G + 24.966 B`, optionally rounded (`roundY`).
 */
export function lumaY(img: RgbImage, opts: LumaOptions = {}): Float64Array {
  const n = img.width * img.height;
  const { rgb } = img;
  const exact = opts.exact === true;
  const roundY = opts.roundY === true && !exact;
  const q = exact ? (v: number) => v : (v: number) => Math.round(Math.min(1, Math.max(0, v || 0)) * 255) / 255;
  const y = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    const v = 16 + 65.481 * q(rgb[i]!) + 128.553 * q(rgb[n + i]!) + 24.966 * q(rgb[2 * n + i]!);
    y[i] = roundY ? Math.round(v) : v;
  }
  return y;
}

/** Options shared by the metrics. */
export interface MetricOptions extends LumaOptions {
  /** Pixels cropped from each edge before measuring (the usual choice is the scale). */
  readonly border?: number;
}

function crop(y: Float64Array, w: number, h: number, b: number): { y: Float64Array; w: number; h: number } {
  if (b === 0) return { y, w, h };
  const cw = w - 2 * b;
  const ch = h - 2 * b;
  if (cw <= 0 || ch <= 0) throw new Error(`border ${b} leaves nothing of a ${w}x${h} image`);
  const out = new Float64Array(cw * ch);
  for (let r = 0; r < ch; r++) out.set(y.subarray((r + b) * w + b, (r + b) * w + b + cw), r * cw);
  return { y: out, w: cw, h: ch };
}

function sameSize(a: RgbImage, b: RgbImage): void {
  if (a.width !== b.width || a.height !== b.height)
    throw new Error(`metric on different sizes: ${a.width}x${a.height} vs ${b.width}x${b.height}`);
}

/** Cropped Y planes of two equally sized images. */
function yPair(a: RgbImage, b: RgbImage, opts: MetricOptions) {
  sameSize(a, b);
  const border = opts.border ?? 0;
  const ya = crop(lumaY(a, opts), a.width, a.height, border);
  const yb = crop(lumaY(b, opts), b.width, b.height, border);
  return { a: ya.y, b: yb.y, w: ya.w, h: ya.h };
}

/** PSNR (dB, peak 255) on Y of the 8-bit-rounded images; Infinity for identical ones. */
export function psnrY(a: RgbImage, b: RgbImage, opts: MetricOptions = {}): number {
  const p = yPair(a, b, opts);
  let se = 0;
  for (let i = 0; i < p.a.length; i++) se += (p.a[i]! - p.b[i]!) ** 2;
  const mse = se / p.a.length;
  return mse === 0 ? Infinity : 10 * Math.log10((255 * 255) / mse);
}

/** Normalised 11-tap Gaussian, σ = 1.5 (the window of Wang et al.). */
const GAUSS = (() => {
  const g = Array.from({ length: 11 }, (_, i) => Math.exp(-((i - 5) ** 2) / (2 * 1.5 * 1.5)));
  const s = g.reduce((x, v) => x + v, 0);
  return g.map((v) => v / s);
})();

/** 'valid' separable Gaussian filter: output (h-10) × (w-10). */
function gaussValid(x: Float64Array, w: number, h: number): Float64Array {
  const ow = w - 10;
  const oh = h - 10;
  const tmp = new Float64Array(ow * h);
  for (let r = 0; r < h; r++)
    for (let c = 0; c < ow; c++) {
      let s = 0;
      for (let k = 0; k < 11; k++) s += GAUSS[k]! * x[r * w + c + k]!;
      tmp[r * ow + c] = s;
    }
  const out = new Float64Array(ow * oh);
  for (let r = 0; r < oh; r++)
    for (let c = 0; c < ow; c++) {
      let s = 0;
      for (let k = 0; k < 11; k++) s += GAUSS[k]! * tmp[(r + k) * ow + c]!;
      out[r * ow + c] = s;
    }
  return out;
}

/**
 * SSIM (Wang et al. 2004) on Y of the 8-bit-rounded images: 11×11 Gaussian window σ = 1.5,
 * K1 = 0.01, K2 = 0.03, L = 255, mean of the 'valid' SSIM map (as MATLAB `ssim_index` / BasicSR).
 */
export function ssim(a: RgbImage, b: RgbImage, opts: MetricOptions = {}): number {
  const { a: x, b: y, w, h } = yPair(a, b, opts);
  if (w < 11 || h < 11) throw new Error(`SSIM needs at least 11x11 pixels, got ${w}x${h}`);
  const c1 = (0.01 * 255) ** 2;
  const c2 = (0.03 * 255) ** 2;
  const prod = (p: Float64Array, q: Float64Array) => p.map((v, i) => v * q[i]!);
  const mx = gaussValid(x, w, h);
  const my = gaussValid(y, w, h);
  const sxx = gaussValid(prod(x, x), w, h);
  const syy = gaussValid(prod(y, y), w, h);
  const sxy = gaussValid(prod(x, y), w, h);
  let sum = 0;
  for (let i = 0; i < mx.length; i++) {
    const ux = mx[i]!;
    const uy = my[i]!;
    const vx = sxx[i]! - ux * ux;
    const vy = syy[i]! - uy * uy;
    const cxy = sxy[i]! - ux * uy;
    sum += ((2 * ux * uy + c1) * (2 * cxy + c2)) / ((ux * ux + uy * uy + c1) * (vx + vy + c2));
  }
  return sum / mx.length;
}

/**
 * Temporal error: mean |(o_t − o_{t−1}) − (g_t − g_{t−1})| on Y (0–255, 8-bit-rounded images).
 * 0 when the output changes between frames exactly as the ground truth does; flicker raises it.
 */
export function temporalError(
  oT: RgbImage,
  oPrev: RgbImage,
  gT: RgbImage,
  gPrev: RgbImage,
  opts: MetricOptions = {},
): number {
  for (const im of [oPrev, gT, gPrev]) sameSize(oT, im);
  const b = opts.border ?? 0;
  const [a, ap, g, gp] = [oT, oPrev, gT, gPrev].map((im) => crop(lumaY(im, opts), im.width, im.height, b).y) as [
    Float64Array,
    Float64Array,
    Float64Array,
    Float64Array,
  ];
  let s = 0;
  for (let i = 0; i < a.length; i++) s += Math.abs(a[i]! - ap[i]! - (g[i]! - gp[i]!));
  return s / a.length;
}
