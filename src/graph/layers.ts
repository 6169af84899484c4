/**
 * Layers bound to a state dict: each helper takes the reference module name (`body.0.blocks.1.dw`)
 * and emits the ONNX for it with that module's tensors. Shared by every variant.
 */
import { modelError } from '../errors.ts';
import type { StateDict, Tensor } from '../weights/types.ts';
import { DataType } from './onnx-proto.ts';
import type { GraphBuilder, Val } from './builder.ts';
import { affineIn, scaleOut, type ConvW } from './fold.ts';

/** What the layer helpers need: the builder, the tensors, a file name for errors, the graph kind. */
export interface Ctx {
  readonly b: GraphBuilder;
  readonly sd: StateDict;
  readonly file: string;
  /** Build the optimised graph (constants folded into weights); false = mirror the reference. */
  readonly fast: boolean;
  /** Feature channels C. */
  readonly channels: number;
}

/** A tensor of the state dict; a missing one is a model error (detection should have caught it). */
export function tensor(ctx: Ctx, name: string): Tensor {
  const t = ctx.sd.get(name);
  if (!t) throw modelError(ctx.file, `missing tensor ${name}`);
  return t;
}

/** An initializer for `name`, in the compute float type. */
export const param = (ctx: Ctx, name: string): Val => ctx.b.weight(name, tensor(ctx, name));

/** nn.Conv2d `name` (weight [M, C/g, kh, kw], optional bias), padding/dilation/groups as given. */
export function conv(ctx: Ctx, x: Val, name: string, opts: { pad?: number | [number, number]; group?: number; dilation?: number } = {}): Val {
  const w = tensor(ctx, `${name}.weight`);
  const bias = ctx.sd.has(`${name}.bias`) ? param(ctx, `${name}.bias`) : undefined;
  const pad: [number, number] = typeof opts.pad === 'number' ? [opts.pad, opts.pad] : (opts.pad ?? [0, 0]);
  return ctx.b.conv(x, ctx.b.weight(`${name}.weight`, w), bias, [w.shape[2]!, w.shape[3]!], { ...opts, pad });
}

/** The weights (and bias) of nn.Conv2d `name`. */
export function convW(ctx: Ctx, name: string): ConvW {
  const w = tensor(ctx, `${name}.weight`);
  const bias = ctx.sd.get(`${name}.bias`)?.data;
  return { w: w.data, shape: w.shape as ConvW['shape'], ...(bias ? { bias } : {}) };
}

/** A conv with computed weights `cw`, stored under the unique initializer name `key`. */
export function convWith(ctx: Ctx, x: Val, key: string, cw: ConvW, opts: { pad?: [number, number]; group?: number; dilation?: number } = {}): Val {
  const { b } = ctx;
  const [, , kh, kw] = cw.shape;
  const bias = cw.bias && b.weight(`${key}.bias`, { data: cw.bias, shape: [cw.bias.length] });
  return b.conv(x, b.weight(`${key}.weight`, { data: cw.w, shape: cw.shape }), bias, [kh, kw], { ...opts, pad: opts.pad ?? [kh >> 1, kw >> 1] });
}

/**
 * `conv(x)·gamma` for conv `name` followed by LayerScale `gammaName`: one conv with the gamma
 * folded into its weights in the fast graph, a conv and a Mul in the literal one.
 */
export function scaledConv(ctx: Ctx, x: Val, name: string, gammaName: string): Val {
  if (!ctx.fast) return layerScale(ctx, conv(ctx, x, name), gammaName);
  return convWith(ctx, x, `${name}*${gammaName}`, scaleOut(convW(ctx, name), tensor(ctx, `${gammaName}.gamma`).data));
}

/** 3×3 conv with padding 1 (the common case). */
export const conv3 = (ctx: Ctx, x: Val, name: string, group = 1): Val => conv(ctx, x, name, { pad: 1, group });

/**
 * nn.Linear `name` on the last axis: x·Wᵀ + b. The weight [out, in] is stored transposed ([in, out])
 * so MatMul needs no Transpose node.
 */
export function linear(ctx: Ctx, x: Val, name: string): Val {
  const w = tensor(ctx, `${name}.weight`);
  return linearWith(ctx, x, name, w.data, w.shape[0]!, w.shape[1]!, ctx.sd.get(`${name}.bias`)?.data);
}

/** A Linear with computed weights `w` ([out, in], row-major) and bias, stored under `key`. */
export function linearWith(ctx: Ctx, x: Val, key: string, w: Float32Array, o: number, i: number, bias?: Float32Array): Val {
  const t = new Float32Array(o * i);
  for (let r = 0; r < o; r++) for (let c = 0; c < i; c++) t[c * o + r] = w[r * i + c]!;
  const y = ctx.b.matmul(x, ctx.b.weight(`${key}.weight`, { data: t, shape: [i, o] }));
  return bias ? ctx.b.add(y, ctx.b.weight(`${key}.bias`, { data: bias, shape: [o] })) : y;
}

/** Rows [from, from + n) of a [rows, cols] matrix scaled by `g` (a scalar or one factor per row). */
export function scaleRows(m: Float32Array, cols: number, g: ArrayLike<number> | number, from = 0, n = m.length / cols - from): Float32Array {
  const out = Float32Array.from(m);
  for (let r = from; r < from + n; r++) {
    const f = typeof g === 'number' ? g : g[r]!;
    for (let c = 0; c < cols; c++) out[r * cols + c] = m[r * cols + c]! * f;
  }
  return out;
}

/** LayerScale `name`: x · gamma ([1, C, 1, 1]). */
export const layerScale = (ctx: Ctx, x: Val, name: string): Val => ctx.b.mul(x, param(ctx, `${name}.gamma`));

/**
 * RMSNorm `name` over channels (NCHW): scale·x / sqrt(mean_c(x²) + 1e-6) + bias. The statistics
 * are computed in float32 even in an fp16 graph (x² overflows half precision), then cast back, as
 * the reference does.
 */
export function rmsNorm(ctx: Ctx, x: Val, name: string): Val {
  const { b } = ctx;
  return b.add(b.div(b.mul(param(ctx, `${name}.scale`), x), rms(ctx, x)), param(ctx, `${name}.bias`));
}

/** x / sqrt(mean_c(x²) + 1e-6): RMSNorm without its affine. */
export const rmsNormalize = (ctx: Ctx, x: Val): Val => ctx.b.div(x, rms(ctx, x));

/** sqrt(mean_c(x²) + 1e-6) [N, 1, H, W], in float32 then the compute type. */
function rms(ctx: Ctx, x: Val): Val {
  const { b } = ctx;
  const xf = b.fp16 ? b.cast(x, DataType.FLOAT) : x;
  const sq = b.mul(xf, xf);
  // The fast graph takes the channel mean as a 1×1 conv with weights 1/C: onnxruntime's ReduceMean
  // over the (strided) channel axis of NCHW is several times slower than a GEMM.
  const C = ctx.channels;
  const mean = ctx.fast ? b.conv(sq, b.constF32(new Array<number>(C).fill(1 / C), [1, C, 1, 1]), undefined, [1, 1]) : b.reduceMean(sq, [1]);
  const r = b.sqrt(b.add(mean, b.constF32(1e-6)));
  return b.fp16 ? b.cast(r, DataType.FLOAT16) : r;
}

/**
 * RMSNorm `norm` then the 1×1 conv `name`: in the fast graph the norm's per-channel scale and
 * bias are folded into the conv (exact for a 1×1 conv: nothing pads between them).
 */
export function rmsNormConv1(ctx: Ctx, x: Val, norm: string, name: string): Val {
  if (!ctx.fast) return conv(ctx, rmsNorm(ctx, x, norm), name);
  const cw = affineIn(convW(ctx, name), tensor(ctx, `${norm}.scale`).data, tensor(ctx, `${norm}.bias`).data);
  return convWith(ctx, rmsNormalize(ctx, x), `${name}(${norm})`, cw);
}

/** Softmax over the last axis, in float32 even in an fp16 graph (exp overflows half precision). */
export function softmax32(ctx: Ctx, x: Val): Val {
  const { b } = ctx;
  if (!b.fp16) return b.softmax(x, -1);
  return b.cast(b.softmax(b.cast(x, DataType.FLOAT), -1), DataType.FLOAT16);
}
