/**
 * Assembles a whole ParagonSR2 graph: base path, conv_in, (video) history blend, body, conv_mid,
 * up (conv + PixelShuffle), conv_out·detail_gain, sum. Standard mode: `input` → `output`. Video
 * mode adds `prev_feat` and `alpha` inputs and the `feature_map` output, so a runtime carries the
 * temporal state and chooses the history weight per frame (0 = reset) without re-exporting.
 */
import { usageError } from '../errors.ts';
import { META, VARIANT_DEFAULTS, type ArchSpec, type StateDict } from '../weights/types.ts';
import { countParams } from '../weights/state-dict.ts';
import { GraphBuilder, type Val } from './builder.ts';
import { basePath } from './base-path.ts';
import { conv3, param, type Ctx } from './layers.ts';
import { fastOutput } from './fast-tail.ts';
import type { Dim } from './onnx-proto.ts';
import { realtimeBody } from './realtime.ts';
import { streamBody } from './stream.ts';
import { photoBody } from './photo.ts';
import { proBody } from './pro.ts';

/** Version written as the ONNX producer_version and `paragon.version`. */
export const PARAGON_VERSION = '0.1.0';

/** The meaning of `alpha`, written into every video graph. */
export const HISTORY_WEIGHT_TEXT =
  'feature_map = (1-alpha)*conv_in(input) + alpha*prev_feat; alpha = weight of history, 0 = current frame only';

export interface BuildOptions {
  /** Video mode: `prev_feat` and `alpha` inputs, `feature_map` output. */
  video?: boolean;
  /** Half precision weights, I/O and compute (with fp32 islands where the reference has them). */
  fp16?: boolean;
  /** Fix N = 1 and H, W (input size) instead of dynamic dims. */
  static?: [h: number, w: number];
  /** Base-path pre-sharpening strength (not stored in checkpoints). */
  upsamplerAlpha: number;
  /** SHA-256 of the checkpoint, recorded in the metadata. */
  sha256?: string;
  /**
   * The straightforward graph mirroring the reference op for op (for debugging). Default: the
   * fast graph — the same function, with constants folded and everything at low resolution.
   */
  literal?: boolean;
  /** File name for error messages. */
  file?: string;
}

const BODIES = { realtime: realtimeBody, stream: streamBody, photo: photoBody, pro: proBody } as const;

/** Build the ONNX model bytes for a checkpoint's state dict. */
export function buildOnnx(arch: ArchSpec, stateDict: StateDict, opts: BuildOptions): Uint8Array {
  const { b, metadata } = buildGraph(arch, stateDict, opts);
  return b.encode(metadata, PARAGON_VERSION);
}

/** Build the graph (exposed for tests and the optimiser); `buildOnnx` serialises it. */
export function buildGraph(arch: ArchSpec, stateDict: StateDict, opts: BuildOptions): { b: GraphBuilder; metadata: [string, string][] } {
  const a = opts.upsamplerAlpha;
  if (!Number.isFinite(a) || a < 0 || a > 1) throw usageError(`upsampler alpha must be in [0, 1], got ${a}`);
  if (opts.static && !opts.static.every((n) => Number.isInteger(n) && n > 0))
    throw usageError(`static size must be positive integers, got ${opts.static.join('x')}`);
  const b = new GraphBuilder(opts.fp16 === true);
  const fast = opts.literal !== true;
  const ctx: Ctx = { b, sd: stateDict, file: opts.file ?? '<state dict>', fast, channels: arch.channels };
  const { scale: s, channels: C } = arch;
  const st = opts.static;
  const N: Dim = st ? 1 : 'N';
  const [H, W]: [Dim, Dim] = st ? st : ['H', 'W'];
  const [sH, sW]: [Dim, Dim] = st ? [st[0] * s, st[1] * s] : ['sH', 'sW'];

  const x = b.input('input', b.ft, [N, 3, H, W]);
  let feat = conv3(ctx, x, 'conv_in');
  if (opts.video) {
    const prev = b.input('prev_feat', b.ft, [N, C, H, W]);
    // A [1,1,1,1] scalar-like weight or a per-pixel [N,1,H,W] map: both broadcast.
    const alpha = b.input('alpha', b.ft, st ? [1, 1, 1, 1] : ['alpha_N', 1, 'alpha_H', 'alpha_W']);
    feat = b.add(b.mul(b.sub(b.constF(1), alpha), feat), b.mul(alpha, prev));
  }
  const m = conv3(ctx, BODIES[arch.variant](ctx, feat, arch), 'conv_mid');
  let out: Val;
  if (fast) out = fastOutput(ctx, x, m, s, a);
  else {
    const detail = b.mul(conv3(ctx, b.depthToSpace(conv3(ctx, m, 'up.0'), s), 'conv_out'), param(ctx, 'detail_gain'));
    out = b.add(basePath(ctx, x, s, a), detail);
  }
  b.output('output', out, b.ft, [N, 3, sH, sW]);
  if (opts.video) b.output('feature_map', feat, b.ft, [N, C, H, W]);

  const metadata: [string, string][] = [
    [META.variant, arch.variant],
    [META.scale, String(s)],
    [META.channels, String(C)],
    [META.padMultiple, String(VARIANT_DEFAULTS[arch.variant].padMultiple)],
    [META.mode, opts.video ? 'video' : 'standard'],
    [META.upsamplerAlpha, String(a)],
    [META.precision, opts.fp16 ? 'fp16' : 'fp32'],
    [META.graph, fast ? 'fast' : 'literal'],
    [META.producer, PARAGON_VERSION],
    [META.params, String(countParams(stateDict))],
  ];
  if (opts.video) metadata.push([META.historyWeight, HISTORY_WEIGHT_TEXT]);
  if (opts.sha256) metadata.push([META.sha256, opts.sha256]);
  return { b, metadata };
}
