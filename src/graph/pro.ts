/**
 * Pro body: ProBlock = conv mixer (norm1, scale1) → squeeze-excitation channel attention
 * `x + γ₂·(x·SE(x))` → window attention (norm3, scale3) → token-dictionary cross-attention
 * (norm4, scale4), each a residual. The literal graph computes the dictionary's k/v projections
 * in the graph; the fast one folds everything constant about the cross-attention (the dictionary
 * projections, norm4's affine, the score scale, out_proj and scale4) into two matrices.
 */
import type { ArchSpec } from '../weights/types.ts';
import type { Val } from './builder.ts';
import { DataType } from './onnx-proto.ts';
import { windowAttention } from './attention.ts';
import { convMixer, shiftFor } from './photo.ts';
import { layerScale, linear, param, rmsNorm, rmsNormalize, softmax32, tensor, type Ctx } from './layers.ts';

/**
 * Squeeze-excitation with its residual and LayerScale: x + γ·(x·SE(x)), SE(x) =
 * sigmoid(fc2(gelu(fc0(mean_hw(x))))) (Linear layers without bias). The fast graph computes the
 * per-channel factor 1 + γ·SE(x) on the pooled vector and multiplies once at full resolution.
 */
function channelAttention(ctx: Ctx, x: Val, p: string, scale: string): Val {
  const { b } = ctx;
  // The spatial mean is a long sum: take it in float32 in an fp16 graph.
  let m = b.reduceMean(b.fp16 ? b.cast(x, DataType.FLOAT) : x, [2, 3], 1);
  if (b.fp16) m = b.cast(m, DataType.FLOAT16);
  // [B, C, 1, 1] → [B, 1, 1, C] so the Linear layers act on the last axis, then back.
  let y = b.transpose(m, [0, 2, 3, 1]);
  y = b.transpose(b.sigmoid(linear(ctx, b.gelu(linear(ctx, y, `${p}.fc.0`)), `${p}.fc.2`)), [0, 3, 1, 2]);
  if (ctx.fast) return b.mul(x, b.add(b.constF(1), b.mul(y, param(ctx, `${scale}.gamma`))));
  return b.add(x, layerScale(ctx, b.mul(x, y), scale));
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

/** x·Wᵀ + b of Linear `name` ([out, inp]) on the rows of `x` ([n, inp]), in float64. */
function applyLinear(ctx: Ctx, x: Float64Array, n: number, name: string): { y: Float64Array; out: number } {
  const w = tensor(ctx, `${name}.weight`);
  const [out, inp] = [w.shape[0]!, w.shape[1]!];
  const bias = ctx.sd.get(`${name}.bias`)?.data;
  const y = new Float64Array(n * out);
  for (let r = 0; r < n; r++)
    for (let o = 0; o < out; o++) {
      let acc = bias?.[o] ?? 0;
      for (let i = 0; i < inp; i++) acc += x[r * inp + i]! * w.data[o * inp + i]!;
      y[r * out + o] = acc;
    }
  return { y, out };
}

/**
 * Fast TokenDictionaryCA on RMS-normalised `xhat` (norm4 applied here), with scale4 folded in:
 * softmax(x̂·A + a)·V + c with A [C, T], a [T], V [T, C], c [C] computed at build time —
 * q_proj∘norm4-affine∘k_projᵀ·r^-½ and v_proj(dict)∘out_proj∘γ.
 */
function tokenCrossAttentionFast(ctx: Ctx, xhat: Val, p: string, norm: string, scale: string, C: number): Val {
  const { b } = ctx;
  const td = tensor(ctx, `${p}.token_dict`);
  const T = td.data.length / C;
  const k = applyLinear(ctx, Float64Array.from(td.data), T, `${p}.k_proj`); // [T, r]
  const r = k.out;
  const wq = tensor(ctx, `${p}.q_proj.weight`).data; // [r, C]
  const bq = ctx.sd.get(`${p}.q_proj.bias`)?.data;
  const [ns, nb] = [tensor(ctx, `${norm}.scale`).data, tensor(ctx, `${norm}.bias`).data];
  const f = r ** -0.5;
  // q(x̂) = Wq·(s ⊙ x̂ + β) + bq, so q·kᵀ·f = x̂·A + a.
  const A = new Float32Array(C * T);
  const a = new Float32Array(T);
  for (let t = 0; t < T; t++) {
    let at = 0;
    for (let j = 0; j < r; j++) {
      const kj = k.y[t * r + j]! * f;
      let qb = bq?.[j] ?? 0;
      for (let c = 0; c < C; c++) {
        A[c * T + t] = A[c * T + t]! + wq[j * C + c]! * ns[c]! * kj;
        qb += wq[j * C + c]! * nb[c]!;
      }
      at += qb * kj;
    }
    a[t] = at;
  }
  // (attn·v)·Woutᵀ + bout, times γ: attn·(v·Woutᵀ·γ) + bout·γ (the attention rows sum to 1).
  const v = applyLinear(ctx, Float64Array.from(td.data), T, `${p}.v_proj`);
  const vo = applyLinear(ctx, v.y, T, `${p}.out_proj`); // includes bout in every row
  const g = tensor(ctx, `${scale}.gamma`).data;
  const bout = ctx.sd.get(`${p}.out_proj.bias`)?.data;
  const V = new Float32Array(T * C);
  for (let t = 0; t < T; t++) for (let c = 0; c < C; c++) V[t * C + c] = (vo.y[t * C + c]! - (bout?.[c] ?? 0)) * g[c]!;
  const c0 = Float32Array.from({ length: C }, (_, c) => (bout?.[c] ?? 0) * g[c]!);

  const flat = b.transpose(b.reshape(xhat, [0, 0, -1]), [0, 2, 1]); // [B, HW, C]
  const logits = b.add(b.matmul(flat, b.weight(`${p}.A`, { data: A, shape: [C, T] })), b.weight(`${p}.a`, { data: a, shape: [T] }));
  const out = b.add(b.matmul(softmax32(ctx, logits), b.weight(`${p}.V`, { data: V, shape: [T, C] })), b.weight(`${p}.c`, { data: c0, shape: [C] }));
  return b.reshape(b.transpose(out, [0, 2, 1]), b.shape(xhat));
}

/** One ProBlock at prefix `p`. */
export function proBlock(ctx: Ctx, x: Val, p: string, C: number, shift: number): Val {
  const { b } = ctx;
  x = b.add(x, convMixer(ctx, x, p, 'norm1', 'scale1', C));
  x = channelAttention(ctx, x, `${p}.channel_attn`, `${p}.scale2`);
  x = b.add(x, windowAttention(ctx, rmsNorm(ctx, x, `${p}.norm3`), `${p}.window_attn`, C, shift, `${p}.scale3`));
  if (ctx.fast) return b.add(x, tokenCrossAttentionFast(ctx, rmsNormalize(ctx, x), `${p}.token_ca`, `${p}.norm4`, `${p}.scale4`, C));
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
