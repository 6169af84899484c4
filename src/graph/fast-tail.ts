/**
 * The fast graph's output stage, entirely at low resolution: the base path and the detail path
 * each produce the s² output phases of every LR pixel, the two are added, and ONE DepthToSpace
 * (CRD) makes the image. Nothing runs at high resolution but that final rearrangement.
 *
 * - base: blur(nearest_s(y)) = a 3×3 conv from the 3 LR channels to 3·s² phases (fold.ts), after
 *   the optional pre-sharpening as one 7×7 depthwise conv;
 * - detail: conv_out·detail_gain after PixelShuffle = a 3×3 LR conv from up.0's C·s² channels to
 *   the phases; and up.0 followed by that conv = ONE 5×5 conv from conv_mid's C channels, exact
 *   except on the outermost ring of LR pixels (where the pair sees up.0's output zero-padded).
 *   The ring is recomputed exactly from 3-pixel strips along the four borders and stitched in.
 *
 * The phase channels are padded with zero filters to a multiple of 16 where DepthToSpace allows
 * it, because onnxruntime's blocked (NCHWc) convolutions need output channels in multiples of 16.
 */
import { INT64_MAX, type Val } from './builder.ts';
import { blurPhases, compose, phaseConv3, scaleOut, sharpenKernel, type ConvW } from './fold.ts';
import { conv3, convW, convWith, tensor, type Ctx } from './layers.ts';

/** Phase channels: 3·s² padded up to a multiple of 16 when that stays a multiple of s². */
export function phaseChannels(s: number): number {
  const n = 3 * s * s;
  const padded = Math.ceil(n / 16) * 16;
  return padded % (s * s) === 0 ? padded : n;
}

/** The rows of separable filter `name` (`.h` [3,1,1,k], `.v` [3,1,k,1]) per channel. */
function separableRows(ctx: Ctx, name: string): { h: Float32Array[]; v: Float32Array[] } {
  const rows = (t: Float32Array): Float32Array[] => {
    const k = t.length / 3;
    return [0, 1, 2].map((c) => t.subarray(c * k, (c + 1) * k));
  };
  return { h: rows(tensor(ctx, `${name}.h.weight`).data), v: rows(tensor(ctx, `${name}.v.weight`).data) };
}

/** Base-path phases [N, P, H, W] of the LR input `x`. */
function basePhases(ctx: Ctx, x: Val, s: number, upsamplerAlpha: number, P: number): Val {
  let y = x;
  if (upsamplerAlpha > 0) {
    const { h, v } = separableRows(ctx, 'base.sharp');
    y = convWith(ctx, x, 'fast.base.sharpen', sharpenKernel(h, v, upsamplerAlpha), { group: 3 });
  }
  const { h, v } = separableRows(ctx, 'base.blur');
  return convWith(ctx, y, 'fast.base.phases', blurPhases(h, v, s, P));
}

/** conv_out·detail_gain as an LR phase conv on up.0's output. */
function outPhases(ctx: Ctx, s: number, P: number): ConvW {
  return phaseConv3(scaleOut(convW(ctx, 'conv_out'), tensor(ctx, 'detail_gain').data), s, P);
}

/**
 * The detail phases of `m` (conv_mid's output) the straightforward way: up.0, then the phase
 * conv. Used on the border strips, and as the whole detail path when `compose` is off.
 */
function exactDetail(ctx: Ctx, m: Val, s: number, P: number): Val {
  return convWith(ctx, conv3(ctx, m, 'up.0'), 'fast.out.phases', outPhases(ctx, s, P));
}

/** `x[..., start:end]` along `axis` (2 = rows, 3 = columns) with constant or computed bounds. */
const cut = (ctx: Ctx, x: Val, start: Val | number, end: Val | number | bigint, axis: number): Val =>
  ctx.b.slice(x, typeof start === 'number' ? [start] : start, typeof end === 'string' ? end : [end], [axis]);

/**
 * Replace the outermost ring (row 0, last row, column 0, last column) of `d` — phases computed
 * by the composed conv — by exact values: the exact path on the 3-pixel strip of `m` along each
 * border is right on that border (its own zero padding there is the image's), plus `base`.
 */
function fixRing(ctx: Ctx, d: Val, m: Val, base: Val, s: number, P: number): Val {
  const { b } = ctx;
  const one = b.constI64([1]);
  for (const axis of [2, 3]) {
    const exactAt = (start: number, end: number | bigint): Val => exactDetail(ctx, cut(ctx, m, start, end, axis), s, P);
    const first = b.add(cut(ctx, exactAt(0, 3), 0, 1, axis), cut(ctx, base, 0, 1, axis));
    // The last min(n, 3) lines; of those, the last one — or none when n = 1 (then `first` is
    // the only line): from line max(1, len − 1).
    const tail = b.add(exactAt(-3, INT64_MAX), cut(ctx, base, -3, INT64_MAX, axis));
    const len = b.slice(b.shape(tail), [axis], [axis + 1], [0]);
    const last = cut(ctx, tail, b.node('Max', [one, b.sub(len, one)]), INT64_MAX, axis);
    d = b.concat([first, cut(ctx, d, 1, -1, axis), last], axis);
  }
  return d;
}

export interface TailOptions {
  /** Compose up.0 with the output conv (one 5×5 conv + exact border ring). Default true. */
  compose?: boolean;
}

/**
 * The upscaled image [N, 3, sH, sW] from the LR input `x` and conv_mid's output `m`: base and
 * detail phases at LR, one DepthToSpace.
 */
export function fastOutput(ctx: Ctx, x: Val, m: Val, s: number, upsamplerAlpha: number, opts: TailOptions = {}): Val {
  const { b } = ctx;
  const P = phaseChannels(s);
  const base = basePhases(ctx, x, s, upsamplerAlpha, P);
  let phases: Val;
  if (opts.compose === false) phases = b.add(exactDetail(ctx, m, s, P), base);
  else {
    const d = b.add(convWith(ctx, m, 'fast.up_out.phases', compose(convW(ctx, 'up.0'), outPhases(ctx, s, P))), base);
    phases = fixRing(ctx, d, m, base, s, P);
  }
  if (P > 3 * s * s) phases = b.slice(phases, [0], [3 * s * s], [1]);
  return b.depthToSpace(phases, s);
}
