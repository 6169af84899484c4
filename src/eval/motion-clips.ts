/**
 * Generated test clips with known ground truth: a camera moving over a still picture (a
 * photograph, or a dead-leaves texture made here) by sub-pixel pans, zooms and rotations. The
 * temporal tests and scripts/temporal-study.ts use them, degraded like any other clip with
 * `degradeFrame` (antialiased bicubic ×2, optional noise).
 *
 * Each frame is rendered at twice its size by bicubic interpolation of the picture under the
 * frame's affine map, then brought to size by MATLAB's antialiased bicubic (`imresize`), so every
 * frame is the same smooth function of the picture wherever the camera stands: the ground truth
 * has no flicker of its own (unless asked for: `flicker`), and the motion is exactly the one asked for.
 *
 * The dead-leaves model (discs of random grey-ish colours and power-law radii, each covering the
 * ones before) is the standard scale-invariant test chart for fine texture: dense detail at every
 * scale, like foliage, from a seed, so tests need no files.
 */
import type { RgbImage } from '../image/io.ts';
import { imresize } from '../image/resize.ts';
import { keys } from '../temporal/warp.ts';
import { mulberry32 } from './degrade.ts';

/**
 * How the camera moves: `still`, `pan`, `zoom`, `rotate`; `shake` (a hand-held camera: every frame
 * a new random offset and roll about the centre, so the motion reverses from frame to frame);
 * `wobble` (a still camera through moving air or water: a smooth local displacement field whose
 * phase drifts, no global motion at all); `flicker` (a still camera under lights or an exposure
 * that change from frame to frame: a random gain per frame).
 */
export type CameraMotion = 'still' | 'pan' | 'zoom' | 'rotate' | 'shake' | 'wobble' | 'flicker';

/** A generated clip: `frames` frames of `width × height` from a picture. */
export interface ClipSpec {
  readonly motion: CameraMotion;
  readonly frames: number;
  readonly width: number;
  readonly height: number;
  /**
   * Motion per frame: pan, pixels of the frame along x and y (default [0.73, 0.31]); zoom, the
   * factor (default 1.006); rotate, degrees (default 0.25); shake, the largest offset in pixels
   * (default 1.5; the roll is up to 0.2° per pixel of it); wobble, the largest displacement in
   * pixels (default 0.5, over a wavelength of 32); flicker, the largest change of gain (default
   * 0.03: ±3 %).
   */
  readonly speed?: number | readonly [number, number];
  /** Picture pixels per frame pixel (default 1; 2 renders from a picture twice the frame's scale). */
  readonly density?: number;
  /** Seed of shake's offsets and flicker's gains (default 1). */
  readonly seed?: number;
}

/** The per-frame amount of shake and flicker: uniform in [−1, 1], the same for a seed and frame. */
function jitter(seed: number, t: number, k: number): number {
  return 2 * mulberry32(Math.imul(seed >>> 0, 0x9e3779b1) ^ Math.imul(3 * t + k + 1, 0x85ebca77))() - 1;
}

const amount = (spec: ClipSpec, fallback: number) => (typeof spec.speed === 'number' ? spec.speed : fallback);


/** Bicubic sample of plane `p` (h × w) at (x, y) in pixel-centre coordinates, edges clamped. */
function sample(p: Float32Array, off: number, w: number, h: number, x: number, y: number): number {
  const x0 = Math.floor(x);
  const y0 = Math.floor(y);
  let s = 0;
  for (let j = -1; j <= 2; j++) {
    const yy = Math.min(h - 1, Math.max(0, y0 + j));
    const wy = keys(y - (y0 + j));
    let r = 0;
    for (let i = -1; i <= 2; i++) r += keys(x - (x0 + i)) * p[off + yy * w + Math.min(w - 1, Math.max(0, x0 + i))]!;
    s += wy * r;
  }
  return s;
}

/** The affine map of frame `t`: frame pixel (u, v) → picture position (x, y). */
function mapOf(spec: ClipSpec, pic: { width: number; height: number }, t: number): (u: number, v: number) => [number, number] {
  const k = spec.density ?? 1;
  const [cx, cy] = [spec.width / 2, spec.height / 2];
  let ox = pic.width / 2;
  let oy = pic.height / 2;
  let scale = k;
  let angle = 0;
  if (spec.motion === 'pan') {
    const [vx, vy] = typeof spec.speed === 'number' ? [spec.speed, 0] : (spec.speed ?? [0.73, 0.31]);
    // Centred on the middle of the path, so the whole pan stays on the picture.
    ox += k * vx * (t - (spec.frames - 1) / 2);
    oy += k * vy * (t - (spec.frames - 1) / 2);
  } else if (spec.motion === 'zoom') scale = k / amount(spec, 1.006) ** t;
  else if (spec.motion === 'rotate') angle = ((amount(spec, 0.25) * Math.PI) / 180) * t;
  else if (spec.motion === 'shake') {
    const a = amount(spec, 1.5);
    const seed = spec.seed ?? 1;
    ox += k * a * jitter(seed, t, 0);
    oy += k * a * jitter(seed, t, 1);
    angle = ((0.2 * a * jitter(seed, t, 2)) * Math.PI) / 180;
  }
  const [c, s] = [Math.cos(angle) * scale, Math.sin(angle) * scale];
  if (spec.motion === 'wobble') {
    // Two crossed waves of displacement whose phases drift by about a sixth of a turn a frame.
    const a = amount(spec, 0.5) * k;
    const w = (2 * Math.PI) / 32;
    const [p, q] = [1.1 * t, 0.8 * t + 1];
    return (u, v) => [ox + c * (u - cx) - 0.5 + a * Math.sin(w * v + p), oy + c * (v - cy) - 0.5 + a * Math.sin(w * u + q)];
  }
  return (u, v) => [ox + c * (u - cx) - s * (v - cy) - 0.5, oy + s * (u - cx) + c * (v - cy) - 0.5];
}

/** Ground-truth frames of a generated clip over `picture` (values 0..1, rounded to 8 bits). */
export function renderClip(picture: RgbImage, spec: ClipSpec): RgbImage[] {
  const { width: w, height: h } = spec;
  const [W, H] = [2 * w, 2 * h];
  const n = picture.width * picture.height;
  const frames: RgbImage[] = [];
  for (let t = 0; t < spec.frames; t++) {
    const map = mapOf(spec, picture, t);
    const big = new Float32Array(3 * W * H);
    for (let y = 0; y < H; y++)
      for (let x = 0; x < W; x++) {
        const [sx, sy] = map((x + 0.5) / 2, (y + 0.5) / 2);
        for (let ch = 0; ch < 3; ch++) big[ch * W * H + y * W + x] = sample(picture.rgb, ch * n, picture.width, picture.height, sx, sy);
      }
    const rgb = imresize(big, 3, H, W, h, w);
    const gain = spec.motion === 'flicker' ? 1 + amount(spec, 0.03) * jitter(spec.seed ?? 1, t, 0) : 1;
    for (let i = 0; i < rgb.length; i++) rgb[i] = Math.round(Math.min(1, Math.max(0, gain * rgb[i]!)) * 255) / 255;
    frames.push({ width: w, height: h, rgb });
  }
  return frames;
}

/**
 * A dead-leaves picture of `width × height`: discs with radii from `rMin` to `rMax` pixels
 * (density ∝ r⁻³, the scale-invariant law), random colours, drawn until the picture is covered.
 */
export function deadLeaves(width: number, height: number, seed: number, rMin = 1.5, rMax = 40): RgbImage {
  const rand = mulberry32(seed);
  const n = width * height;
  const rgb = new Float32Array(3 * n);
  const covered = new Uint8Array(n);
  let left = n;
  // Drawn front to back: a disc paints only what no disc before it covered (the same picture as
  // drawing back to front until nothing shows through, in far fewer discs).
  for (let k = 0; left > 0 && k < 200_000; k++) {
    const u = rand();
    // Inverse CDF of p(r) ∝ r⁻³ on [rMin, rMax].
    const r = 1 / Math.sqrt(1 / (rMin * rMin) - u * (1 / (rMin * rMin) - 1 / (rMax * rMax)));
    const cx = rand() * width;
    const cy = rand() * height;
    const grey = 0.1 + 0.8 * rand();
    const tint = [0.85 + 0.3 * rand(), 0.85 + 0.3 * rand(), 0.85 + 0.3 * rand()];
    for (let y = Math.max(0, Math.floor(cy - r)); y <= Math.min(height - 1, Math.ceil(cy + r)); y++)
      for (let x = Math.max(0, Math.floor(cx - r)); x <= Math.min(width - 1, Math.ceil(cx + r)); x++) {
        const i = y * width + x;
        if (covered[i] || (x + 0.5 - cx) ** 2 + (y + 0.5 - cy) ** 2 > r * r) continue;
        covered[i] = 1;
        left--;
        for (let c = 0; c < 3; c++) rgb[c * n + i] = Math.min(1, grey * tint[c]!);
      }
  }
  return { width, height, rgb };
}
