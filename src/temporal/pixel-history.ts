/**
 * The pixel history of `--temporal auto` on the CPU: what the pixel-history head
 * (graph/pixel-history.ts) computes inside the graph, for a runtime that drives a graph without
 * it (the browser player, whose one session also serves the fixed weights of the video mode).
 * The frame given to the model is `clip(x + α·(warp(prev) − x), 0, 1)`, with `prev` the last
 * frame given to it and the warp that of the feature state (warp.ts `warpShift`); it agrees with
 * the graph's float32 arithmetic to float rounding.
 *
 * Pure TypeScript on typed arrays (no Node APIs): the browser player runs it.
 */
import { isStill, type Shift } from './motion.ts';
import { warpShift } from './warp.ts';

/** The pixels the model saw last, carried to the next frame (padded frames, planar RGB). */
export class PixelHistory {
  #prev: Float32Array | undefined;
  #h = 0;
  #w = 0;
  #moved: Float32Array | undefined;
  #tmp: Float32Array | undefined;

  /** Forget the history: the next frame is given as it is. */
  reset(): void {
    this.#prev = undefined;
  }

  /**
   * The frame to give the model for the planar RGB frame `x` (`h × w`): blended with the last one
   * moved by `shift`, per pixel by `alpha` (an `h × w` map, or one weight), and clamped to 0..1;
   * `x` itself where there is no history (the first frame, a new size, weight 0). The result is
   * kept as the next frame's history (do not modify it).
   */
  next(x: Float32Array, h: number, w: number, alpha: Float32Array | number, shift: Shift): Float32Array {
    const n = h * w;
    if (x.length !== 3 * n) throw new RangeError(`PixelHistory: ${x.length} samples for ${w}x${h}`);
    const prev = this.#prev;
    if (!prev || h !== this.#h || w !== this.#w || alpha === 0) {
      this.#h = h;
      this.#w = w;
      this.#prev = x.slice();
      return this.#prev;
    }
    const moved = isStill(shift) ? prev : warpShift(prev, 3, h, w, shift, { into: (this.#moved = this.#moved?.length === 3 * n ? this.#moved : new Float32Array(3 * n)), tmp: (this.#tmp = this.#tmp?.length === n ? this.#tmp : new Float32Array(n)) });
    const out = new Float32Array(3 * n);
    for (let c = 0; c < 3; c++)
      for (let i = 0, o = c * n; i < n; i++, o++) {
        const a = typeof alpha === 'number' ? alpha : alpha[i]!;
        // The graph's order: x + α·(p − x), each step rounded to float32.
        const v = Math.fround(x[o]! + Math.fround(a * Math.fround(moved[o]! - x[o]!)));
        out[o] = v < 0 ? 0 : v > 1 ? 1 : v;
      }
    this.#prev = out;
    return out;
  }
}
