/**
 * The fixed classical base path, MagicKernelSharp2021Upsample: optional pre-sharpening
 * `x + α·(sharp(x) − x)`, nearest-neighbour upsampling, then the Magic Kernel blur. `sharp` and
 * `blur` are separable depthwise convs (`.h` 1×k then `.v` k×1, zero padding) whose stored
 * weights we use as they are.
 */
import type { Val } from './builder.ts';
import { conv, type Ctx } from './layers.ts';

/** Separable depthwise filter `name` (3 channels): h (1×k, pad k//2 on W) then v (k×1, pad k//2 on H). */
function separable(ctx: Ctx, x: Val, name: string): Val {
  const k = ctx.sd.get(`${name}.h.weight`)?.shape[3] ?? 1;
  const h = conv(ctx, x, `${name}.h`, { pad: [0, k >> 1], group: 3 });
  return conv(ctx, h, `${name}.v`, { pad: [k >> 1, 0], group: 3 });
}

/**
 * The base image, literally as the reference computes it. `upsamplerAlpha` is a build-time
 * constant (checkpoints do not store it; `alpha > 0` gates the sharpening as in the reference).
 */
export function basePath(ctx: Ctx, x: Val, scale: number, upsamplerAlpha: number): Val {
  const { b } = ctx;
  let y = x;
  if (upsamplerAlpha > 0) y = b.add(y, b.mul(b.constF(upsamplerAlpha), b.sub(separable(ctx, y, 'base.sharp'), y)));
  y = b.resizeNearest(y, scale);
  return separable(ctx, y, 'base.blur');
}
