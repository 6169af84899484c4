/**
 * The warp that moves the carried history with the camera (auto's pixel history, or a video
 * graph's features): by one sub-pixel translation, edges
 * clamped, `out(x, y) = src(x + dx, y + dy)`, with Keys' bicubic (a = −0.5) where the translation
 * registers the frame and a bilinear one where it does not (`Shift.soft`). The graph's head
 * (graph/warp-head.ts) computes the same with an edge-mode Pad that crops and depthwise
 * convolutions of four taps along x, then along y; {@link warpShift} computes it on the CPU (the one-at-a-time
 * path; Keys alone for the estimator's half-plane reference and the noise's differences), and
 * {@link warpHeadFeeds} gives the head its inputs.
 *
 * Why bicubic and not bilinear: the history is warped again every frame, so the warp's blur
 * compounds. At a fraction of 0.37 pixel, bilinear keeps 73 % of the content at half the Nyquist
 * frequency, and 4 % after the ten or so frames that a history weight of 0.9 averages over; Keys
 * keeps 90 %, and 35 % after ten frames. A blurred history is not only softer output: the
 * history-weight tests compare the frame with it and read the blur as change, so a pan over
 * fine texture dropped its history. Why not bicubic always: where the translation misplaces the
 * content (a zoom, a rotation: the estimator measures by how much), sharp history is sharp detail
 * in the wrong place, and the bilinear blur, the mean over where it may be, scores better
 * (docs/temporal.md, Motion compensation).
 *
 * Pure TypeScript on typed arrays (no Node APIs): the browser player runs the same code.
 */
import { WARP_KERNEL_X, WARP_KERNEL_Y, WARP_PADS, warpFeeds, WARP_TAPS } from '../graph/warp-head.ts';
import type { FeedTensor } from '../runtime/protocol.ts';
import type { Shift } from './motion.ts';

/** Keys' cubic convolution kernel with a = −0.5 (Catmull–Rom): exact on linear ramps, 1 at 0, 0 at the other integers. */
export function keys(x: number): number {
  const a = Math.abs(x);
  if (a <= 1) return 1.5 * a * a * a - 2.5 * a * a + 1;
  if (a < 2) return -0.5 * a * a * a + 2.5 * a * a - 4 * a + 2;
  return 0;
}

/**
 * The whole pixels of a shift and the weights of its fraction on the taps at −1, 0, 1, 2 pixels
 * from them (`wx` along x, `wy` along y): Keys' where `s.soft` is 0 or absent, the bilinear
 * (0, 1 − f, f, 0) where it is 1, and that mix of both between. A whole shift has weights
 * (0, 1, 0, 0) either way: an exact copy.
 */
export function cubicTaps(s: Shift): { ix: number; iy: number; wx: [number, number, number, number]; wy: [number, number, number, number] } {
  const ix = Math.floor(s.dx);
  const iy = Math.floor(s.dy);
  const t = Math.min(1, Math.max(0, s.soft ?? 0));
  const w = (f: number) => [(1 - t) * keys(f + 1), (1 - t) * keys(f) + t * (1 - f), (1 - t) * keys(f - 1) + t * f, (1 - t) * keys(f - 2)] as [number, number, number, number];
  return { ix, iy, wx: w(s.dx - ix), wy: w(s.dy - iy) };
}

/**
 * The warp head's inputs (graph/warp-head.ts) that move a `channels × h × w` feature state by `s`,
 * as {@link warpShift} would: the taps along x, then along y.
 */
export function warpHeadFeeds(channels: number, h: number, w: number, s: Shift): Record<string, FeedTensor> {
  const { ix, iy, wx, wy } = cubicTaps(s);
  const f = warpFeeds(channels, h, w, ix, iy, wx, wy);
  return {
    [WARP_PADS]: { type: 'int64', data: f.pads, dims: [8] },
    [WARP_KERNEL_X]: { type: 'float32', data: f.kernelX, dims: [channels, 1, 1, WARP_TAPS] },
    [WARP_KERNEL_Y]: { type: 'float32', data: f.kernelY, dims: [channels, 1, WARP_TAPS, 1] },
  };
}

/**
 * Move `c` planes of `h × w` by `s` (the taps of {@link cubicTaps}, edges clamped):
 * `out(x, y) = src(x + dx, y + dy)`. Fills `into` when it has the size (it may not be `src`);
 * `tmp` (one plane) holds the horizontal pass when given. Each plane is moved along x, then along
 * y, as the graph's head does in float32 (here summed in double): the two agree to float rounding.
 */
export function warpShift(src: Float32Array, c: number, h: number, w: number, s: Shift, opts: { into?: Float32Array; tmp?: Float32Array } = {}): Float32Array {
  const n = h * w;
  const out = opts.into?.length === c * n ? opts.into : new Float32Array(c * n);
  const tmp = opts.tmp && opts.tmp.length >= n ? opts.tmp : new Float32Array(n);
  const { ix, iy, wx, wy } = cubicTaps(s);
  const [a0, a1, a2, a3] = wx;
  const [b0, b1, b2, b3] = wy;
  const cx = (x: number) => (x < 0 ? 0 : x > w - 1 ? w - 1 : x);
  const cy = (y: number) => (y < 0 ? 0 : y > h - 1 ? h - 1 : y) * w;
  // Columns whose four taps lie inside the row take the loop without clamping.
  const xa = Math.min(w, Math.max(0, 1 - ix));
  const xb = Math.max(xa, Math.min(w, w - 2 - ix));
  for (let ch = 0; ch < c; ch++) {
    const base = ch * n;
    for (let y = 0; y < h; y++) {
      const r = base + y * w;
      const t = y * w;
      const edge = (x: number): void => {
        const p = x + ix;
        tmp[t + x] = a0 * src[r + cx(p - 1)]! + a1 * src[r + cx(p)]! + a2 * src[r + cx(p + 1)]! + a3 * src[r + cx(p + 2)]!;
      };
      for (let x = 0; x < xa; x++) edge(x);
      const d = r + ix;
      for (let x = xa; x < xb; x++) tmp[t + x] = a0 * src[d + x - 1]! + a1 * src[d + x]! + a2 * src[d + x + 1]! + a3 * src[d + x + 2]!;
      for (let x = xb; x < w; x++) edge(x);
    }
    for (let y = 0; y < h; y++) {
      const [r0, r1, r2, r3] = [cy(y + iy - 1), cy(y + iy), cy(y + iy + 1), cy(y + iy + 2)];
      const o = base + y * w;
      for (let x = 0; x < w; x++) out[o + x] = b0 * tmp[r0 + x]! + b1 * tmp[r1 + x]! + b2 * tmp[r2 + x]! + b3 * tmp[r3 + x]!;
    }
  }
  return out;
}
