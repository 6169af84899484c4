/**
 * Stream body: StreamBlock. Multi-scale depthwise (3×3 and 3×3 dilated by 3), 1×1 fuse, 1×1
 * projection to 4C, 3×3 depthwise gate, GLU-style product of the two halves, 1×1 out, LayerScale,
 * residual. The product a·b is computed in float32 and clamped to ±65504 (fp16 max) as the
 * reference does — in an fp16 graph that is what keeps it finite.
 */
import type { ArchSpec } from '../weights/types.ts';
import type { Val } from './builder.ts';
import { DataType } from './onnx-proto.ts';
import { conv, conv3, layerScale, type Ctx } from './layers.ts';

/** One StreamBlock at module prefix `p`. */
export function streamBlock(ctx: Ctx, x: Val, p: string, C: number): Val {
  const { b } = ctx;
  const d1 = conv3(ctx, x, `${p}.dw1`, C);
  const d3 = conv(ctx, x, `${p}.dw3`, { pad: 3, dilation: 3, group: C });
  let t = conv(ctx, b.concat([d1, d3], 1), `${p}.fuse`);
  t = conv3(ctx, conv(ctx, t, `${p}.proj`), `${p}.gate`, 4 * C);
  let [lo, hi] = b.split(t, 1, 2) as [Val, Val];
  if (b.fp16) (lo = b.cast(lo, DataType.FLOAT)), (hi = b.cast(hi, DataType.FLOAT));
  t = b.clip(b.mul(lo, hi), -65504, 65504, true);
  if (b.fp16) t = b.cast(t, DataType.FLOAT16);
  return b.add(layerScale(ctx, conv(ctx, t, `${p}.out`), `${p}.scale`), x);
}

/** The Stream body (groups × blocks of StreamBlocks). */
export function streamBody(ctx: Ctx, x: Val, arch: ArchSpec): Val {
  for (let g = 0; g < arch.groups; g++)
    for (let i = 0; i < arch.blocks; i++) x = streamBlock(ctx, x, `body.${g}.blocks.${i}`, arch.channels);
  return x;
}
