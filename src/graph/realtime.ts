/** Realtime body: NanoBlock `y = conv2(gelu(dw(conv1(x))))·gamma + x` (1×1 → 3×3 depthwise → 1×1). */
import type { ArchSpec } from '../weights/types.ts';
import type { Val } from './builder.ts';
import { conv, conv3, scaledConv, type Ctx } from './layers.ts';

/** One NanoBlock at module prefix `p` (e.g. `body.0.blocks.2`); the fast graph folds gamma into conv2. */
export function nanoBlock(ctx: Ctx, x: Val, p: string, hidden: number): Val {
  const h = ctx.b.gelu(conv3(ctx, conv(ctx, x, `${p}.conv1`), `${p}.dw`, hidden));
  return ctx.b.add(scaledConv(ctx, h, `${p}.conv2`, `${p}.scale`), x);
}

/** The Realtime body (groups × blocks of NanoBlocks, no residual around groups). */
export function realtimeBody(ctx: Ctx, x: Val, arch: ArchSpec): Val {
  for (let g = 0; g < arch.groups; g++)
    for (let i = 0; i < arch.blocks; i++) x = nanoBlock(ctx, x, `body.${g}.blocks.${i}`, arch.channels * 2);
  return x;
}
