/**
 * The warp that moves the carried history with the camera (auto's pixel history, or a video
 * graph's features): by one sub-pixel translation, edges clamped, `out(x, y) = src(x + dx, y +
 * dy)`, with Keys' six-point cubic where the translation registers the frame and a bilinear one
 * where it does not (`Shift.soft`). The graph's head (graph/warp-head.ts) computes the same with an
 * edge-mode Pad that crops and depthwise convolutions of six taps along x, then along y;
 * {@link warpShift} computes it on the CPU (the one-at-a-time path and the browser's pixel history;
 * with the four-point Keys, the estimator's half-plane reference and the noise's differences), and
 * {@link warpHeadFeeds} gives the head its inputs.
 *
 * Why a sharp cubic and not bilinear: the history is warped again every frame, so the warp's blur
 * compounds. At a fraction of 0.37 pixel, bilinear keeps 73 % of the content at half the Nyquist
 * frequency, and 4 % after the ten or so frames that a history weight of 0.9 averages over. A
 * blurred history is not only softer output: the history-weight tests compare the frame with it
 * and read the blur as change, so a pan over fine texture dropped its history
 * ({@link historyTaps} for why six points). Why not sharp always: where the translation misplaces
 * the content (a zoom, a rotation: the estimator measures by how much), sharp history is sharp
 * detail in the wrong place, and the bilinear blur, the mean over where it may be, scores better
 * (docs/temporal.md, Motion compensation).
 *
 * Pure TypeScript on typed arrays (no Node APIs): the browser player runs the same code.
 */
import { WARP_KERNEL_X, WARP_KERNEL_Y, WARP_PADS, warpFeeds, WARP_TAPS } from '../graph/warp-head.ts';
import type { FeedTensor } from '../runtime/protocol.ts';
import type { Shift } from './motion.ts';

/** Keys' cubic convolution kernel with a = −0.5 (Catmull–Rom): exact on quadratics, 1 at 0, 0 at the other integers. */
export function keys(x: number): number {
  const a = Math.abs(x);
  if (a <= 1) return 1.5 * a * a * a - 2.5 * a * a + 1;
  if (a < 2) return -0.5 * a * a * a + 2.5 * a * a - 4 * a + 2;
  return 0;
}

/** Keys' six-point cubic convolution kernel (exact on cubics): 1 at 0, 0 at the other integers. */
export function keys6(x: number): number {
  const s = Math.abs(x);
  if (s < 1) return (4 / 3) * s * s * s - (7 / 3) * s * s + 1;
  if (s < 2) return (-7 / 12) * s * s * s + 3 * s * s - (59 / 12) * s + 2.5;
  if (s < 3) return (1 / 12) * s * s * s - (2 / 3) * s * s + (7 / 4) * s - 1.5;
  return 0;
}

/**
 * The whole pixels of a shift and the weights of its fraction on the taps at `first`, `first` +
 * 1, … pixels from them (`wx` along x, `wy` along y).
 */
export interface Taps {
  readonly ix: number;
  readonly iy: number;
  readonly first: number;
  readonly wx: readonly number[];
  readonly wy: readonly number[];
}

/**
 * Keys' taps at −1, 0, 1, 2 pixels from the whole shift (whatever `s.soft` says): the warp of the
 * estimator's half-plane reference and of the noise's differences (noise.ts), which were measured
 * and calibrated with it.
 */
export function cubicTaps(s: Shift): Taps & { wx: [number, number, number, number]; wy: [number, number, number, number] } {
  const ix = Math.floor(s.dx);
  const iy = Math.floor(s.dy);
  const w = (f: number) => [keys(f + 1), keys(f), keys(f - 1), keys(f - 2)] as [number, number, number, number];
  return { ix, iy, first: -1, wx: w(s.dx - ix), wy: w(s.dy - iy) };
}

/**
 * The history's taps, at −2 … 3 pixels from the whole shift (graph/warp-head.ts `WARP_TAPS` of
 * them): Keys' six-point cubic where `s.soft` is 0 or absent, the bilinear (1 − f at 0, f at 1)
 * where it is 1, and that mix of both between. A whole shift copies, either way.
 *
 * Why six points: the history is warped again every frame, so the warp's blur compounds over the
 * frames that the history weight averages. At a fraction of 0.5 pixel the four-point Keys keeps
 * 88 % of the content at half the Nyquist frequency, and a history of weight 0.8 then holds 68 %
 * of it (Σ 0.2·0.8ᵏ·0.88ᵏ); the six-point one keeps 94 % and 81 %. It is exact on cubics (the
 * four-point one on quadratics) and, unlike Lanczos-3 (102 % there, 110 % in that history), never
 * gives more than it was given, so the history neither drifts nor rings (docs/temporal.md).
 */
export function historyTaps(s: Shift): Taps {
  const ix = Math.floor(s.dx);
  const iy = Math.floor(s.dy);
  const t = Math.min(1, Math.max(0, s.soft ?? 0));
  const w = (f: number): number[] => [-2, -1, 0, 1, 2, 3].map((k) => (1 - t) * keys6(f - k) + (k === 0 ? t * (1 - f) : k === 1 ? t * f : 0));
  return { ix, iy, first: -2, wx: w(s.dx - ix), wy: w(s.dy - iy) };
}

/**
 * The warp head's inputs (graph/warp-head.ts) that move a `channels × h × w` feature state by `s`,
 * as {@link warpShift} would: the taps along x, then along y.
 */
export function warpHeadFeeds(channels: number, h: number, w: number, s: Shift): Record<string, FeedTensor> {
  const { ix, iy, wx, wy } = historyTaps(s);
  const f = warpFeeds(channels, h, w, ix, iy, wx, wy);
  return {
    [WARP_PADS]: { type: 'int64', data: f.pads, dims: [8] },
    [WARP_KERNEL_X]: { type: 'float32', data: f.kernelX, dims: [channels, 1, 1, WARP_TAPS] },
    [WARP_KERNEL_Y]: { type: 'float32', data: f.kernelY, dims: [channels, 1, WARP_TAPS, 1] },
  };
}

/**
 * Move `c` planes of `h × w` by `s` (the history's taps, {@link historyTaps}; `kernel: 'keys'` for
 * {@link cubicTaps}), edges clamped: `out(x, y) = src(x + dx, y + dy)`. Fills `into` when it has
 * the size (it may not be `src`); `tmp` (one plane) holds the horizontal pass when given. Each
 * plane is moved along x, then along y, as the graph's head does in float32 (here summed in
 * double): the two agree to float rounding.
 */
export function warpShift(src: Float32Array, c: number, h: number, w: number, s: Shift, opts: { into?: Float32Array; tmp?: Float32Array; kernel?: 'history' | 'keys' } = {}): Float32Array {
  const n = h * w;
  const out = opts.into?.length === c * n ? opts.into : new Float32Array(c * n);
  const tmp = opts.tmp && opts.tmp.length >= n ? opts.tmp : new Float32Array(n);
  const { ix, iy, first, wx, wy } = opts.kernel === 'keys' ? cubicTaps(s) : historyTaps(s);
  // Four taps (Keys) or six (the history's); the loops below are written out for each, their
  // weights in locals (a 4-tap kernel's last two are unused): this runs every frame on the
  // estimator's thread, beside the model.
  const T = wx.length;
  const [a0 = 0, a1 = 0, a2 = 0, a3 = 0, a4 = 0, a5 = 0] = wx;
  const [b0 = 0, b1 = 0, b2 = 0, b3 = 0, b4 = 0, b5 = 0] = wy;
  // Columns whose taps all lie inside the row take the loop without clamping.
  const xa = Math.min(w, Math.max(0, -first - ix));
  const xb = Math.max(xa, Math.min(w, w - (first + T - 1) - ix));
  const rows = new Int32Array(T);
  for (let ch = 0; ch < c; ch++) {
    const base = ch * n;
    for (let y = 0; y < h; y++) {
      const r = base + y * w;
      const t = y * w;
      edgeTaps(src, r, w, ix + first, wx, tmp, t, 0, xa);
      const d = r + ix + first;
      if (T === 4) for (let x = xa; x < xb; x++) tmp[t + x] = a0 * src[d + x]! + a1 * src[d + x + 1]! + a2 * src[d + x + 2]! + a3 * src[d + x + 3]!;
      else for (let x = xa; x < xb; x++) tmp[t + x] = a0 * src[d + x]! + a1 * src[d + x + 1]! + a2 * src[d + x + 2]! + a3 * src[d + x + 3]! + a4 * src[d + x + 4]! + a5 * src[d + x + 5]!;
      edgeTaps(src, r, w, ix + first, wx, tmp, t, xb, w);
    }
    for (let y = 0; y < h; y++) {
      for (let k = 0; k < T; k++) {
        const yy = y + iy + first + k;
        rows[k] = (yy < 0 ? 0 : yy > h - 1 ? h - 1 : yy) * w;
      }
      const o = base + y * w;
      const r0 = rows[0]!;
      const r1 = rows[1]!;
      const r2 = rows[2]!;
      const r3 = rows[3]!;
      if (T === 4) for (let x = 0; x < w; x++) out[o + x] = b0 * tmp[r0 + x]! + b1 * tmp[r1 + x]! + b2 * tmp[r2 + x]! + b3 * tmp[r3 + x]!;
      else {
        const r4 = rows[4]!;
        const r5 = rows[5]!;
        for (let x = 0; x < w; x++) out[o + x] = b0 * tmp[r0 + x]! + b1 * tmp[r1 + x]! + b2 * tmp[r2 + x]! + b3 * tmp[r3 + x]! + b4 * tmp[r4 + x]! + b5 * tmp[r5 + x]!;
      }
    }
  }
  return out;
}

/** Columns [x0, x1) of a row's horizontal pass ({@link warpShift}), the taps at `x + from + k` clamped to the row at `r`. */
function edgeTaps(src: Float32Array, r: number, w: number, from: number, k: readonly number[], tmp: Float32Array, t: number, x0: number, x1: number): void {
  for (let x = x0; x < x1; x++) {
    let v = 0;
    for (let j = 0; j < k.length; j++) {
      const c = x + from + j;
      v += k[j]! * src[r + (c < 0 ? 0 : c > w - 1 ? w - 1 : c)]!;
    }
    tmp[t + x] = v;
  }
}
