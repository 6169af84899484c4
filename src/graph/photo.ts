/**
 * Photo body: PhotoBlock = RMSNorm → 1×1 → 3×3 depthwise → GELU → 1×1, LayerScale, residual; then
 * RMSNorm → window attention, scaled by the SAME LayerScale gamma, residual. Odd global block
 * indices (g·blocks + b) use shifted windows.
 */
import type { ArchSpec } from '../weights/types.ts';
import type { Val } from './builder.ts';
import { WINDOW, windowAttention } from './attention.ts';
import { conv3, rmsNorm, rmsNormConv1, scaledConv, type Ctx } from './layers.ts';

/** The reference's shift rule: half a window on odd global block indices. */
export const shiftFor = (g: number, i: number, blocks: number): number => ((g * blocks + i) % 2 ? WINDOW / 2 : 0);

/**
 * Convolutional mixer shared by Photo and Pro, with its LayerScale `scale`:
 * conv2(gelu(dw(conv1(norm(x)))))·gamma (the fast graph folds the norm's affine into conv1 and
 * gamma into conv2).
 */
export function convMixer(ctx: Ctx, x: Val, p: string, norm: string, scale: string, C: number): Val {
  const h = rmsNormConv1(ctx, x, `${p}.${norm}`, `${p}.conv1`);
  return scaledConv(ctx, ctx.b.gelu(conv3(ctx, h, `${p}.dw`, 2 * C)), `${p}.conv2`, `${p}.${scale}`);
}

/** One PhotoBlock at prefix `p`. */
export function photoBlock(ctx: Ctx, x: Val, p: string, C: number, shift: number): Val {
  const { b } = ctx;
  x = b.add(x, convMixer(ctx, x, p, 'norm', 'scale', C));
  return b.add(x, windowAttention(ctx, rmsNorm(ctx, x, `${p}.attn_norm`), `${p}.attn`, C, shift, `${p}.scale`));
}

/** The Photo body. */
export function photoBody(ctx: Ctx, x: Val, arch: ArchSpec): Val {
  for (let g = 0; g < arch.groups; g++)
    for (let i = 0; i < arch.blocks; i++)
      x = photoBlock(ctx, x, `body.${g}.blocks.${i}`, arch.channels, shiftFor(g, i, arch.blocks));
  return x;
}
