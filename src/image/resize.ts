/**
 * MATLAB `imresize` (bicubic) for planar float images. The SR benchmarks' LR inputs were made with
 * it, so matching it exactly (a = -0.5, antialiased downscaling, symmetric edges, MATLAB's pixel
 * centre mapping) is what makes our PSNR numbers comparable with published ones.
 */

/** Keys's cubic with a = -0.5 (MATLAB's `cubic`). */
function cubic(x: number): number {
  const a = Math.abs(x);
  const a2 = a * a;
  const a3 = a2 * a;
  if (a <= 1) return 1.5 * a3 - 2.5 * a2 + 1;
  if (a <= 2) return -0.5 * a3 + 2.5 * a2 - 4 * a + 2;
  return 0;
}

/** Per-output-sample source indices and weights along one axis (MATLAB `contributions`). */
interface Taps {
  readonly taps: number;
  readonly index: Int32Array;
  readonly weight: Float64Array;
}

function contributions(inLen: number, outLen: number, scale: number, antialias: boolean): Taps {
  // Downscaling with antialiasing stretches the kernel by 1/scale (a low-pass filter).
  const stretch = scale < 1 && antialias ? scale : 1;
  const width = 4 / stretch;
  const taps = Math.ceil(width) + 2;
  const index = new Int32Array(outLen * taps);
  const weight = new Float64Array(outLen * taps);
  for (let x = 0; x < outLen; x++) {
    // MATLAB is 1-based: output x+1 maps to input u (1-based).
    const u = (x + 1) / scale + 0.5 * (1 - 1 / scale);
    const left = Math.floor(u - width / 2);
    let sum = 0;
    for (let k = 0; k < taps; k++) {
      const w = stretch * cubic(stretch * (u - (left + k)));
      weight[x * taps + k] = w;
      sum += w;
      // Symmetric padding: mirror with the edge sample repeated (…2 1 1 2 … n n-1 …).
      let j = (((left + k - 1) % (2 * inLen)) + 2 * inLen) % (2 * inLen);
      if (j >= inLen) j = 2 * inLen - 1 - j;
      index[x * taps + k] = j;
    }
    for (let k = 0; k < taps; k++) weight[x * taps + k]! /= sum;
  }
  return { taps, index, weight };
}

/** Resize along rows (horizontal) or columns (vertical) of each plane. */
function pass(
  src: Float32Array,
  planes: number,
  h: number,
  w: number,
  t: Taps,
  horizontal: boolean,
): Float32Array {
  const outLen = t.index.length / t.taps;
  const oh = horizontal ? h : outLen;
  const ow = horizontal ? outLen : w;
  const dst = new Float32Array(planes * oh * ow);
  const { taps, index, weight } = t;
  for (let p = 0; p < planes; p++) {
    const s = p * h * w;
    const d = p * oh * ow;
    if (horizontal) {
      for (let y = 0; y < h; y++) {
        const row = s + y * w;
        for (let x = 0; x < ow; x++) {
          let acc = 0;
          for (let k = 0, o = x * taps; k < taps; k++, o++) acc += weight[o]! * src[row + index[o]!]!;
          dst[d + y * ow + x] = acc;
        }
      }
    } else {
      const acc = new Float64Array(w);
      for (let y = 0; y < oh; y++) {
        acc.fill(0);
        for (let k = 0, o = y * taps; k < taps; k++, o++) {
          const wt = weight[o]!;
          const row = s + index[o]! * w;
          for (let x = 0; x < w; x++) acc[x]! += wt * src[row + x]!;
        }
        dst.set(acc, d + y * ow);
      }
    }
  }
  return dst;
}

/** Resize options. */
export interface ResizeOptions {
  /** Widen the kernel when downscaling (MATLAB's default, true). */
  readonly antialias?: boolean;
  /**
   * Emulate MATLAB on uint8 images: round to 8 bits after each axis pass and at the end, as
   * `imresize` does for uint8 input. The benchmark LR images were made that way; with this on, our
   * downscales match them to within one level on a fraction of a percent of samples.
   */
  readonly uint8?: boolean;
}

/**
 * Bicubic resize of `planes` planar float planes of h × w to outH × outW, as MATLAB
 * `imresize(img, [outH outW], 'bicubic')` (scale per axis = out / in).
 */
export function imresize(
  src: Float32Array,
  planes: number,
  h: number,
  w: number,
  outH: number,
  outW: number,
  opts: ResizeOptions = {},
): Float32Array {
  return resize(src, planes, h, w, outH, outW, outH / h, outW / w, opts.antialias ?? true, opts.uint8 ?? false);
}

/** `imresize(img, scale)`: output size ceil(in × scale), the given scale used for the mapping, as MATLAB does. */
export function imresizeBy(
  src: Float32Array,
  planes: number,
  h: number,
  w: number,
  scale: number,
  opts: ResizeOptions = {},
): { data: Float32Array; height: number; width: number } {
  const height = Math.ceil(h * scale - 1e-9);
  const width = Math.ceil(w * scale - 1e-9);
  return { data: resize(src, planes, h, w, height, width, scale, scale, opts.antialias ?? true, opts.uint8 ?? false), height, width };
}

function resize(
  src: Float32Array,
  planes: number,
  h: number,
  w: number,
  outH: number,
  outW: number,
  sy: number,
  sx: number,
  antialias: boolean,
  uint8: boolean,
): Float32Array {
  if (src.length !== planes * h * w) throw new Error(`imresize: ${src.length} values for ${planes}x${h}x${w}`);
  if (!(outH > 0 && outW > 0)) throw new Error(`imresize: bad output size ${outW}x${outH}`);
  const vert = (s: Float32Array, ww: number) =>
    outH === h && sy === 1 ? s : pass(s, planes, h, ww, contributions(h, outH, sy, antialias), false);
  const horiz = (s: Float32Array, hh: number) =>
    outW === w && sx === 1 ? s : pass(s, planes, hh, w, contributions(w, outW, sx, antialias), true);
  // Like MATLAB, the axis with the smaller scale goes first (rows on a tie): less work, same order.
  if (uint8) {
    const q = (s: Float32Array) => s.map((v) => Math.round(Math.min(1, Math.max(0, v)) * 255) / 255);
    return q(sy <= sx ? horiz(q(vert(src, w)), outH) : vert(q(horiz(src, h)), outW));
  }
  return sy <= sx ? horiz(vert(src, w), outH) : vert(horiz(src, h), outW);
}
