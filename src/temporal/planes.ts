/**
 * Planar (CHW) float image helpers for the orchestrator: reflect padding to a model's size
 * multiple, cropping, and copying rectangles between planes. Kept free of ORT and ffmpeg so the
 * tiler and the pad/crop path can be tested on their own.
 */

/** A rectangle in pixels. */
export interface Rect {
  readonly x: number;
  readonly y: number;
  readonly w: number;
  readonly h: number;
}

/** Round `n` up to a multiple of `m` (m ≥ 1). */
export const roundUp = (n: number, m: number): number => Math.ceil(n / m) * m;

/**
 * Mirror index `i` into [0, n) without repeating the edge sample (PyTorch/NumPy 'reflect'),
 * folding again when the pad is wider than the image (a 5-pixel strip padded to 16).
 */
export function reflectIndex(i: number, n: number): number {
  if (n === 1) return 0;
  const period = 2 * (n - 1);
  let k = ((i % period) + period) % period;
  if (k >= n) k = period - k;
  return k;
}

/**
 * Pad a CHW plane on the bottom and right to `h2 × w2` by reflection. Returns the source
 * itself when no padding is needed.
 */
export function reflectPad(src: Float32Array, c: number, h: number, w: number, h2: number, w2: number): Float32Array {
  if (h2 === h && w2 === w) return src;
  const out = new Float32Array(c * h2 * w2);
  const xs = Int32Array.from({ length: w2 }, (_, x) => reflectIndex(x, w));
  for (let ch = 0; ch < c; ch++) {
    for (let y = 0; y < h2; y++) {
      const sRow = ch * h * w + reflectIndex(y, h) * w;
      const dRow = ch * h2 * w2 + y * w2;
      out.set(src.subarray(sRow, sRow + w), dRow);
      for (let x = w; x < w2; x++) out[dRow + x] = src[sRow + xs[x]!]!;
    }
  }
  return out;
}

/** Copy the rectangle `r` of a CHW plane (`h × w`) into a new `c × r.h × r.w` plane. */
export function crop(src: Float32Array, c: number, h: number, w: number, r: Rect): Float32Array {
  if (r.x === 0 && r.y === 0 && r.w === w && r.h === h) return src;
  const out = new Float32Array(c * r.h * r.w);
  for (let ch = 0; ch < c; ch++) {
    for (let y = 0; y < r.h; y++) {
      const s = ch * h * w + (r.y + y) * w + r.x;
      out.set(src.subarray(s, s + r.w), ch * r.h * r.w + y * r.w);
    }
  }
  return out;
}

/**
 * Copy rectangle `from` of plane `src` (`c × sh × sw`) to position (`toX`, `toY`) of plane
 * `dst` (`c × dh × dw`).
 */
export function blit(
  src: Float32Array,
  sh: number,
  sw: number,
  from: Rect,
  dst: Float32Array,
  dh: number,
  dw: number,
  toX: number,
  toY: number,
  c: number,
): void {
  for (let ch = 0; ch < c; ch++) {
    for (let y = 0; y < from.h; y++) {
      const s = ch * sh * sw + (from.y + y) * sw + from.x;
      dst.set(src.subarray(s, s + from.w), ch * dh * dw + (toY + y) * dw + toX);
    }
  }
}

/**
 * Packed RGB samples (a decoded video frame: rgb24 or rgb48) → planar float 0..1, the layout
 * {@link import('./upscaler.ts').TemporalUpscaler} takes. Fills `into` when given (length 3·w·h).
 */
export function planarFromPacked(data: Uint8Array | Uint16Array, width: number, height: number, into?: Float32Array): Float32Array {
  const n = width * height;
  const out = into ?? new Float32Array(3 * n);
  if (data.length !== 3 * n || out.length !== 3 * n) throw new RangeError(`planarFromPacked: ${data.length} samples, ${out.length} planes for ${width}x${height}`);
  const k = 1 / (data instanceof Uint16Array ? 65535 : 255);
  const r = out.subarray(0, n);
  const g = out.subarray(n, 2 * n);
  const b = out.subarray(2 * n, 3 * n);
  for (let i = 0, p = 0; i < n; i++, p += 3) {
    r[i] = data[p]! * k;
    g[i] = data[p + 1]! * k;
    b[i] = data[p + 2]! * k;
  }
  return out;
}

/**
 * ffmpeg's planar gbrp / gbrp16le samples (G, B, R planes) → planar float RGB 0..1, as
 * {@link planarFromPacked} gives for the same frame packed: a scale per plane, nothing to
 * deinterleave. Fills `into` when given (length 3·w·h).
 */
export function planarFromGbrp(data: Uint8Array | Uint16Array, width: number, height: number, into?: Float32Array): Float32Array {
  const n = width * height;
  const out = into ?? new Float32Array(3 * n);
  if (data.length !== 3 * n || out.length !== 3 * n) throw new RangeError(`planarFromGbrp: ${data.length} samples, ${out.length} planes for ${width}x${height}`);
  const k = 1 / (data instanceof Uint16Array ? 65535 : 255);
  // Output plane c (R, G, B) comes from input plane 2, 0, 1.
  for (const [to, from] of [
    [0, 2],
    [1, 0],
    [2, 1],
  ] as const) {
    const o = to * n;
    const i = from * n;
    for (let j = 0; j < n; j++) out[o + j] = data[i + j]! * k;
  }
  return out;
}

/**
 * Planar float RGB (0..1) → packed 8- or 16-bit samples: v·max + 0.5 in float32 arithmetic,
 * clamped to [0, max] and truncated — rounding half up, NaN to 0. Float32, not JavaScript's
 * doubles, so the graph's own packing head (src/graph/pack-head.ts) gives the same bytes. Fills
 * `into` when it has the right type and length (a frame's worth of megabytes not allocated again
 * for every frame).
 */
export function packedFromPlanar(rgb: Float32Array, width: number, height: number, bitDepth: 8 | 16, into?: Uint8Array | Uint16Array): Uint8Array | Uint16Array {
  const n = width * height;
  const max = bitDepth === 16 ? 65535 : 255;
  const fits = into !== undefined && into.length === 3 * n && (bitDepth === 16) === into instanceof Uint16Array;
  const out = fits ? into : bitDepth === 16 ? new Uint16Array(3 * n) : new Uint8Array(3 * n);
  const r = rgb.subarray(0, n);
  const g = rgb.subarray(n, 2 * n);
  const b = rgb.subarray(2 * n, 3 * n);
  // The typed-array store truncates; NaN fails `> 0` and stores 0.
  const f = Math.fround;
  for (let i = 0, p = 0; i < n; i++, p += 3) {
    let v = f(f(r[i]! * max) + 0.5);
    out[p] = v > 0 ? (v < max ? v : max) : 0;
    v = f(f(g[i]! * max) + 0.5);
    out[p + 1] = v > 0 ? (v < max ? v : max) : 0;
    v = f(f(b[i]! * max) + 0.5);
    out[p + 2] = v > 0 ? (v < max ? v : max) : 0;
  }
  return out;
}

/** The top-left `h × w` of packed RGB rows `H × W` (the rows themselves when nothing is cut). */
export function cropRows<T extends Uint8Array | Uint16Array>(data: T, H: number, W: number, h: number, w: number): T {
  if (w === W) return (h === H ? data : data.subarray(0, 3 * h * w)) as T;
  const out = new (data.constructor as new (n: number) => T)(3 * h * w);
  for (let y = 0; y < h; y++) out.set(data.subarray(3 * y * W, 3 * (y * W + w)), 3 * y * w);
  return out;
}
