/**
 * Pro body: ProBlock = conv mixer (norm1, scale1) → squeeze-excitation channel attention
 * `x + γ₂·(x·SE(x))` → window attention (norm3, scale3) → token-dictionary cross-attention
 * (norm4, scale4), each a residual. Literal graph: the dictionary's k/v projections are computed
 * in the graph, not folded.
 */
import type { ArchSpec } from '../weights/types.ts';
import type { Val } from './builder.ts';
import { DataType } from './onnx-proto.ts';
import { windowAttention } from './attention.ts';
import { convMixer, shiftFor } from './photo.ts';
import { layerScale, linear, param, rmsNorm, softmax32, tensor, type Ctx } from './layers.ts';

/** Squeeze-excitation `x·sigmoid(fc2(gelu(fc0(mean_hw(x)))))` (Linear layers without bias). */
function channelAttention(ctx: Ctx, x: Val, p: string): Val {
  const { b } = ctx;
  // The spatial mean is a long sum: take it in float32 in an fp16 graph.
  let m = b.reduceMean(b.fp16 ? b.cast(x, DataType.FLOAT) : x, [2, 3], 1);
  if (b.fp16) m = b.cast(m, DataType.FLOAT16);
  // [B, C, 1, 1] → [B, 1, 1, C] so the Linear layers act on the last axis, then back.
  let y = b.transpose(m, [0, 2, 3, 1]);
  y = b.sigmoid(linear(ctx, b.gelu(linear(ctx, y, `${p}.fc.0`)), `${p}.fc.2`));
  return b.mul(x, b.transpose(y, [0, 3, 1, 2]));
}

/** TokenDictionaryCA: pixels (queries) attend to a learned dictionary of 64 tokens. */
function tokenCrossAttention(ctx: Ctx, x: Val, p: string): Val {
  const { b } = ctx;
  const td = param(ctx, `${p}.token_dict`); // [1, T, C]
  const reduced = tensor(ctx, `${p}.q_proj.weight`).shape[0]!;
  const flat = b.transpose(b.reshape(x, [0, 0, -1]), [0, 2, 1]); // [B, HW, C]
  const q = linear(ctx, flat, `${p}.q_proj`); // [B, HW, r]
  const k = linear(ctx, td, `${p}.k_proj`); // [1, T, r]
  const v = linear(ctx, td, `${p}.v_proj`); // [1, T, C]
  const att = softmax32(ctx, b.mul(b.matmul(q, b.transpose(k, [0, 2, 1])), b.constF(reduced ** -0.5)));
  const out = linear(ctx, b.matmul(att, v), `${p}.out_proj`); // [B, HW, C]
  return b.reshape(b.transpose(out, [0, 2, 1]), b.shape(x));
}

/** One ProBlock at prefix `p`. */
export function proBlock(ctx: Ctx, x: Val, p: string, C: number, shift: number): Val {
  const { b } = ctx;
  x = b.add(x, layerScale(ctx, convMixer(ctx, x, p, 'norm1', C), `${p}.scale1`));
  x = b.add(x, layerScale(ctx, channelAttention(ctx, x, `${p}.channel_attn`), `${p}.scale2`));
  const w = windowAttention(ctx, rmsNorm(ctx, x, `${p}.norm3`), `${p}.window_attn`, C, shift);
  x = b.add(x, layerScale(ctx, w, `${p}.scale3`));
  const t = tokenCrossAttention(ctx, rmsNorm(ctx, x, `${p}.norm4`), `${p}.token_ca`);
  return b.add(x, layerScale(ctx, t, `${p}.scale4`));
}

/** The Pro body. */
export function proBody(ctx: Ctx, x: Val, arch: ArchSpec): Val {
  for (let g = 0; g < arch.groups; g++)
    for (let i = 0; i < arch.blocks; i++)
      x = proBlock(ctx, x, `body.${g}.blocks.${i}`, arch.channels, shiftFor(g, i, arch.blocks));
  return x;
}
