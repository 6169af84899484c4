/**
 * Tile planning. A frame too large for the device is split into core rectangles that cover it
 * exactly once; each tile is run on its core grown by an overlap margin, and only the core of
 * the result is kept, so as long as the margin covers the network's receptive field the
 * stitched frame equals the untiled one (no blending needed, no seams).
 */
import type { Variant } from '../weights/types.ts';
import { roundUp, type Rect } from './planes.ts';

/** One tile: the core it contributes and the (larger) region it is run on, in input pixels. */
export interface Tile {
  readonly core: Rect;
  readonly run: Rect;
}

/**
 * Overlap margin per variant, in input pixels: at least the receptive-field radius of the
 * convolutional path (realtime: 3 depthwise 3×3 + 4 dense 3×3 + base taps ≈ 8; stream: 6 blocks
 * with a dilation-3 branch ≈ 28). Photo/Pro attention reaches a whole 16×16 window (shifted
 * windows chain across blocks), so they get three windows; Pro's squeeze-excitation averages
 * the whole tile, so Pro tiles are close to but never exactly the untiled result.
 */
export const TILE_OVERLAP: Readonly<Record<Variant, number>> = { realtime: 16, stream: 32, photo: 48, pro: 48 };

/** Smallest tile the OOM fallback goes down to before giving up. */
export const MIN_TILE = 32;

/**
 * Split `h × w` into cores of at most `tile` pixels a side, evenly sized, each a multiple of
 * `align` (photo/pro windows: tile origins must sit on the window grid of the full frame), and
 * grow each by `overlap` (rounded up to `align`) clipped to the frame. `h` and `w` must already
 * be multiples of `align`. A `tile` of 0, or one covering the frame, gives a single tile.
 */
export function planTiles(h: number, w: number, tile: number, overlap: number, align = 1): Tile[] {
  if (h % align !== 0 || w % align !== 0) throw new Error(`planTiles: ${w}x${h} is not a multiple of ${align}`);
  const t = Math.max(align, roundUp(tile, align));
  const o = roundUp(Math.max(0, overlap), align);
  const cuts = (n: number): number[] => {
    if (tile <= 0 || n <= t) return [0, n];
    const count = Math.ceil(n / t);
    const step = roundUp(Math.ceil(n / count), align);
    const edges = [0];
    for (let e = step; e < n; e += step) edges.push(e);
    edges.push(n);
    return edges;
  };
  const ys = cuts(h);
  const xs = cuts(w);
  const tiles: Tile[] = [];
  for (let i = 0; i + 1 < ys.length; i++) {
    for (let j = 0; j + 1 < xs.length; j++) {
      const y0 = ys[i]!, y1 = ys[i + 1]!, x0 = xs[j]!, x1 = xs[j + 1]!;
      const ry0 = Math.max(0, y0 - o), ry1 = Math.min(h, y1 + o);
      const rx0 = Math.max(0, x0 - o), rx1 = Math.min(w, x1 + o);
      tiles.push({
        core: { x: x0, y: y0, w: x1 - x0, h: y1 - y0 },
        run: { x: rx0, y: ry0, w: rx1 - rx0, h: ry1 - ry0 },
      });
    }
  }
  return tiles;
}

/** Half of `tile` (or of the frame's longer side when untiled), on the alignment grid; 0 when below {@link MIN_TILE}. */
export function halveTile(tile: number, h: number, w: number, align = 1): number {
  const from = tile > 0 ? Math.min(tile, Math.max(h, w)) : Math.max(h, w);
  const next = roundUp(Math.ceil(from / 2), align);
  return next < Math.max(MIN_TILE, align) || next >= from ? 0 : next;
}
