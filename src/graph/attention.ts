/**
 * Swin-style window attention (Photo and Pro), for any H, W: the graph reads the feature size at
 * run time (Shape), zero-pads bottom/right to a multiple of the window, optionally rolls by half a
 * window, partitions into windows with Reshape/Transpose, runs multi-head attention per window,
 * and undoes all of it. Matches the reference exactly, including its quirks: no attention mask,
 * and the padded (zero) tokens take part in the attention.
 *
 * We stay in NCHW: partitioning straight from [B, C, Hp, Wp] to [B·nh·nw, ws², C] is the same
 * tensor the reference builds from NHWC, with one Transpose fewer each way.
 */
import { INT64_MAX, type Val } from './builder.ts';
import { layerScale, linear, linearWith, scaleRows, softmax32, tensor, type Ctx } from './layers.ts';

/** Attention window side (the reference default for Photo/Pro). */
export const WINDOW = 16;
const HEADS = 4;

/** torch.roll by `shift` along axis 2 and 3 (shift of either sign, |shift| < size). */
function roll(ctx: Ctx, x: Val, shift: number): Val {
  const { b } = ctx;
  // roll(x, s)[i] = x[(i - s) mod n]: the tail of length s moves to the front.
  const cut = -shift; // first element of the result, as an index from the start (neg → from the end)
  for (const axis of [2, 3]) {
    const head = b.slice(x, [cut], [INT64_MAX], [axis]);
    const tail = b.slice(x, [0], [cut], [axis]);
    x = b.concat([head, tail], axis);
  }
  return x;
}

/**
 * WindowAttention of module `name` (`qkv`, `proj` Linear layers) on NCHW features `x` with C
 * channels, times the LayerScale `scale`; `shift` is 0 or WINDOW/2. The fast graph folds the
 * 1/√d of the scores into the q rows of `qkv` and the LayerScale into `proj`.
 */
export function windowAttention(ctx: Ctx, x: Val, name: string, C: number, shift: number, scale: string): Val {
  const { b } = ctx;
  const ws = WINDOW;
  const d = C / HEADS;

  // Pad amounts from the runtime shape: (ws - H % ws) % ws, bottom and right only.
  const s = b.shape(x);
  const H = b.slice(s, [2], [3], [0]);
  const W = b.slice(s, [3], [4], [0]);
  const wsv = b.constI64([ws]);
  const padTo = (n: Val): Val => b.mod(b.sub(wsv, b.mod(n, wsv)), wsv);
  const pads = b.concat([b.constI64([0, 0, 0, 0, 0, 0]), padTo(H), padTo(W)], 0);
  let y = b.pad(x, pads);
  if (shift) y = roll(ctx, y, -shift);

  // Partition: [B, C, nh·ws, nw·ws] → [B, C, nh, ws, nw, ws] → [B, nh, nw, ws, ws, C] → [B·nh·nw, ws², C].
  const sp = b.shape(y);
  const B = b.slice(sp, [0], [1], [0]);
  const nh = b.div(b.slice(sp, [2], [3], [0]), wsv);
  const nw = b.div(b.slice(sp, [3], [4], [0]), wsv);
  const Cv = b.constI64([C]);
  y = b.reshape(y, b.concat([B, Cv, nh, wsv, nw, wsv], 0));
  y = b.reshape(b.transpose(y, [0, 2, 4, 3, 5, 1]), [-1, ws * ws, C]);

  // Multi-head attention per window: channel c of q/k/v belongs to head c // d.
  const qkv = ctx.fast
    ? linearWith(ctx, y, `${name}.qkv/√d`, scaleRows(tensor(ctx, `${name}.qkv.weight`).data, C, d ** -0.5, 0, C), 3 * C, C,
        ctx.sd.has(`${name}.qkv.bias`) ? scaleRows(tensor(ctx, `${name}.qkv.bias`).data, 1, d ** -0.5, 0, C) : undefined)
    : linear(ctx, y, `${name}.qkv`);
  const [q, k, v] = b.split(qkv, -1, 3) as [Val, Val, Val];
  const heads = (t: Val, perm: number[]): Val => b.transpose(b.reshape(t, [-1, ws * ws, HEADS, d]), perm);
  const qh = heads(q, [0, 2, 1, 3]); // [Bw, h, N, d]
  const kt = heads(k, [0, 2, 3, 1]); // [Bw, h, d, N]
  const vh = heads(v, [0, 2, 1, 3]);
  const scores = b.matmul(qh, kt);
  const att = softmax32(ctx, ctx.fast ? scores : b.mul(scores, b.constF(d ** -0.5)));
  let o = b.reshape(b.transpose(b.matmul(att, vh), [0, 2, 1, 3]), [-1, ws * ws, C]);
  if (ctx.fast) {
    const g = tensor(ctx, `${scale}.gamma`).data;
    const bias = ctx.sd.get(`${name}.proj.bias`)?.data;
    o = linearWith(ctx, o, `${name}.proj*${scale}`, scaleRows(tensor(ctx, `${name}.proj.weight`).data, C, g), C, C, bias && scaleRows(bias, 1, g));
  } else o = linear(ctx, o, `${name}.proj`);

  // Reverse partition, roll back, crop to H, W.
  o = b.reshape(o, b.concat([B, nh, nw, wsv, wsv, Cv], 0));
  o = b.reshape(b.transpose(o, [0, 5, 1, 3, 2, 4]), sp);
  if (shift) o = roll(ctx, o, shift);
  o = b.slice(o, [0, 0], b.concat([H, W], 0), [2, 3]);
  return ctx.fast ? o : layerScale(ctx, o, scale);
}
