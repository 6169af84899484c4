/**
 * Parameters and multiply-adds per frame, analytically from the architecture. Every learned
 * tensor of the model (the state-dict inventory, `expectedShapes`) says what it costs per pixel,
 * per token or per frame; the attention products between activations (q·kᵀ, attn·v) have no
 * weight and are added from the block definitions. Only the products are counted: element-wise
 * ops (GELU, norms, softmax, the video blend) are a small fraction and are not multiply-adds.
 * FLOPs = 2 × MACs, the usual convention.
 */
import { decodeModel } from '../graph/onnx-proto.ts';
import type { OnnxInfo } from '../graph/onnx-info.ts';
import { expectedShapes } from '../weights/state-dict.ts';
import { VARIANT_DEFAULTS, type ArchSpec } from '../weights/types.ts';

/** Attention window side and token-dictionary size of Photo/Pro (the reference's fixed values). */
const WINDOW = 16;
const TOKENS = 64;
const TOKEN_DIM = 16;

/** Cost of one frame. */
export interface FrameCost {
  /** Learned parameters (PyTorch's count: all tensors but the fixed `base.*.kernel` buffers). */
  readonly params: number;
  /** Multiply-adds per frame. */
  readonly macs: number;
}

const prod = (dims: readonly number[]): number => dims.reduce((a, b) => a * b, 1);
const roundUp = (n: number, m: number): number => Math.ceil(n / m) * m;

/**
 * Parameters and MACs of one `height × width` frame through `arch` (low-resolution input size).
 * `upsamplerAlpha` > 0 adds the base path's pre-sharpening filter, as the graph does.
 */
export function frameCost(arch: ArchSpec, height: number, width: number, upsamplerAlpha: number): FrameCost {
  const s = arch.scale;
  const C = arch.channels;
  const lr = height * width;
  const hr = lr * s * s;
  // Photo/Pro windows run on the frame zero-padded to a multiple of the window (padded tokens count).
  const padded = roundUp(height, WINDOW) * roundUp(width, WINDOW);
  let params = 0;
  let macs = 0;
  for (const [name, dims] of expectedShapes(arch)) {
    if (/^base\.\w+\.kernel$/.test(name)) continue;
    params += prod(dims);
    if (!name.endsWith('.weight')) continue;
    const perUse = prod(dims); // conv: out·in/groups·k·k per output pixel; linear: in·out per token
    if (name.startsWith('base.sharp.')) macs += upsamplerAlpha > 0 ? perUse * lr : 0;
    else if (name.startsWith('base.blur.') || name === 'conv_out.weight') macs += perUse * hr;
    else if (/\.(attn|window_attn)\.(qkv|proj)\.weight$/.test(name)) macs += perUse * padded;
    else if (/\.token_ca\.(k_proj|v_proj)\.weight$/.test(name)) macs += perUse * TOKENS;
    else if (/\.channel_attn\./.test(name)) macs += perUse; // squeeze-excitation on the pooled vector
    else macs += perUse * lr; // convolutions at input resolution, token_ca q_proj/out_proj per pixel
  }
  const blocks = arch.groups * arch.blocks;
  if (arch.variant === 'photo' || arch.variant === 'pro') {
    // Per window of WINDOW² tokens and per head of C/4 channels: q·kᵀ and attn·v are WINDOW²·C/4
    // each per token per head, so WINDOW²·C per token for both heads together, twice.
    macs += blocks * padded * 2 * WINDOW * WINDOW * C;
  }
  if (arch.variant === 'pro') {
    // Token cross-attention: each pixel's 16-dim query against 64 keys, then 64 values of C.
    macs += blocks * lr * TOKENS * (TOKEN_DIM + C);
  }
  return { params, macs };
}

/**
 * The architecture of one of our ONNX files: variant, scale and channels from its metadata,
 * groups × blocks from its initializer names (falling back to the variant's factory layout).
 * Undefined for files without our metadata (Python exports): their cost is not known here.
 */
export function archOfOnnx(bytes: Uint8Array, info: OnnxInfo): ArchSpec | undefined {
  if (info.variant === undefined || info.scale === undefined) return undefined;
  const d = VARIANT_DEFAULTS[info.variant];
  const perGroup = new Map<number, number>();
  for (const t of decodeModel(bytes).graph.initializers) {
    const m = /^body\.(\d+)\.blocks\.(\d+)\./.exec(t.name);
    if (m) perGroup.set(Number(m[1]), Math.max(perGroup.get(Number(m[1])) ?? 0, Number(m[2]) + 1));
  }
  return {
    variant: info.variant,
    scale: info.scale,
    channels: info.channels ?? d.channels,
    groups: perGroup.size || d.groups,
    blocks: perGroup.size ? Math.max(...perGroup.values()) : d.blocks,
  };
}
