/**
 * Stream body: StreamBlock. Multi-scale depthwise (3×3 and 3×3 dilated by 3), 1×1 fuse, 1×1
 * projection to 4C, 3×3 depthwise gate, GLU-style product of the two halves, 1×1 out, LayerScale,
 * residual. The product a·b is computed in float32 and clamped to ±65504 (fp16 max) as the
 * reference does — in an fp16 graph that is what keeps it finite.
 *
 * The fast graph computes the two halves with two projections and two gates instead of one of
 * each and a Split (onnxruntime's blocked NCHWc layout has no Split, so a Split costs two layout
 * conversions), and folds the LayerScale into `out`.
 */
import type { ArchSpec } from '../weights/types.ts';
import type { Val } from './builder.ts';
import { DataType } from './onnx-proto.ts';
import { conv, conv3, convW, convWith, scaledConv, type Ctx } from './layers.ts';
import type { ConvW } from './fold.ts';

/** Output channels [from, from + n) of conv `c`. */
function outSlice(c: ConvW, from: number, n: number): ConvW {
  const per = c.shape[1] * c.shape[2] * c.shape[3];
  const bias = c.bias?.slice(from, from + n);
  return { w: c.w.slice(from * per, (from + n) * per), shape: [n, c.shape[1], c.shape[2], c.shape[3]], ...(bias ? { bias } : {}) };
}

/** The gate's two halves a, b (each 2C channels). */
function gateHalves(ctx: Ctx, t: Val, p: string, C: number): [Val, Val] {
  const { b } = ctx;
  if (!ctx.fast) return b.split(conv3(ctx, conv(ctx, t, `${p}.proj`), `${p}.gate`, 4 * C), 1, 2) as [Val, Val];
  const [proj, gate] = [convW(ctx, `${p}.proj`), convW(ctx, `${p}.gate`)];
  const half = (i: number): Val => {
    const h = convWith(ctx, t, `${p}.proj[${i}]`, outSlice(proj, i * 2 * C, 2 * C));
    return convWith(ctx, h, `${p}.gate[${i}]`, outSlice(gate, i * 2 * C, 2 * C), { group: 2 * C });
  };
  return [half(0), half(1)];
}

/** One StreamBlock at module prefix `p`. */
export function streamBlock(ctx: Ctx, x: Val, p: string, C: number): Val {
  const { b } = ctx;
  const d1 = conv3(ctx, x, `${p}.dw1`, C);
  const d3 = conv(ctx, x, `${p}.dw3`, { pad: 3, dilation: 3, group: C });
  let [lo, hi] = gateHalves(ctx, conv(ctx, b.concat([d1, d3], 1), `${p}.fuse`), p, C);
  if (b.fp16) (lo = b.cast(lo, DataType.FLOAT)), (hi = b.cast(hi, DataType.FLOAT));
  let t = b.mul(lo, hi);
  // onnxruntime's NCHWc layout has no Clip but fuses one into a conv: an identity depthwise 1×1
  // conv (exact: 1·v + 0) costs one pass where leaving the layout would cost three.
  if (ctx.fast && !b.fp16) t = convWith(ctx, t, `${p}.identity`, { w: new Float32Array(2 * C).fill(1), shape: [2 * C, 1, 1, 1] }, { group: 2 * C });
  t = b.clip(t, -65504, 65504, true);
  if (b.fp16) t = b.cast(t, DataType.FLOAT16);
  return b.add(scaledConv(ctx, t, `${p}.out`, `${p}.scale`), x);
}

/** The Stream body (groups × blocks of StreamBlocks). */
export function streamBody(ctx: Ctx, x: Val, arch: ArchSpec): Val {
  for (let g = 0; g < arch.groups; g++)
    for (let i = 0; i < arch.blocks; i++) x = streamBlock(ctx, x, `body.${g}.blocks.${i}`, arch.channels);
  return x;
}
