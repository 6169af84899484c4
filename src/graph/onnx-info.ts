/**
 * Reading an ONNX file back: I/O, opset, producer, parameter count, our metadata, and which
 * "signature" it has — ours (standard / video with a runtime history weight) or one of the three
 * the original Python export script produces, whose temporal behaviour differs in ways a user must
 * know before trying temporal smoothing with them.
 */
import { modelError } from '../errors.ts';
import { META, VARIANTS, type Variant } from '../weights/types.ts';
import { dataTypeName, decodeModel, defaultOpset, elementCount, type Dim, type TensorProto } from './onnx-proto.ts';

/** How a model's inputs/outputs are laid out, which decides how a runtime drives it. */
export type OnnxSignature =
  | 'paragon-standard'
  | 'paragon-video'
  | 'python-standard'
  | 'python-video-baked'
  | 'python-feature-tap'
  | 'unknown';

export interface OnnxIO {
  readonly name: string;
  /** `float32`, `float16`, ... */
  readonly dtype: string;
  /** Fixed sizes, symbolic names, or null (unknown); undefined when the file declares no shape. */
  readonly dims: Dim[] | undefined;
}

export interface OnnxInfo {
  readonly file: string;
  readonly inputs: OnnxIO[];
  readonly outputs: OnnxIO[];
  readonly metadata: Map<string, string>;
  /** Default-domain opset version. */
  readonly opset: number;
  readonly irVersion: number;
  /** `producer_name producer_version`. */
  readonly producer: string;
  /** Learned parameters: the checkpoint's count from our metadata, else the elements of all float initializers. */
  readonly params: number;
  /** Elements of all floating-point initializers, as embedded (folded constants included). */
  readonly embedded: number;
  readonly nodes: number;
  /** Node counts by op type. */
  readonly ops: Map<string, number>;
  /** True when some initializer data lives in an external file beside the model. */
  readonly externalData: boolean;
  readonly signature: OnnxSignature;
  /** What the signature means for temporal smoothing (one paragraph, plain text). */
  readonly explanation: string;
  // From our metadata, when present:
  readonly variant?: Variant;
  readonly scale?: number;
  readonly channels?: number;
  readonly padMultiple?: number;
  readonly upsamplerAlpha?: number;
  readonly precision?: string;
  readonly sha256?: string;
  readonly graphKind?: string;
  /**
   * The history weight a Python video export has baked in, when its metadata states it (keys
   * `alpha`, `history_weight`, `temporal_alpha`); otherwise unknown.
   */
  readonly historyWeight?: number;
}

const EXPLAIN: Record<OnnxSignature, string> = {
  'paragon-standard':
    'paragon standard graph: input -> output; each frame is upscaled on its own (no temporal state in the file). ' +
    '`--temporal auto` gives it a history of its input pixels in memory (docs/temporal.md); a fixed weight needs a video graph.',
  'paragon-video':
    'paragon video graph: inputs input, prev_feat, alpha; outputs output, feature_map. The runtime feeds the previous ' +
    'feature_map back with a per-frame history weight alpha (0 = current frame only, so a scene cut is a single run).',
  'python-standard':
    'Python export, standard: input -> output. No temporal state in the file; `--temporal auto` gives it a history ' +
    'of its input pixels in memory; a fixed --temporal W (a blend of features) is not possible with this file.',
  'python-video-baked':
    'Python export, video with the history weight baked in: inputs input, prev_feat; outputs output, feature_map. ' +
    'alpha is a constant inside the graph, so it cannot be changed per frame; a reset (scene cut) needs two runs ' +
    '(one with zero prev_feat to get clean features, then the real one) or feeding its own conv_in features back. ' +
    'Re-convert the checkpoint with `paragon convert --video` for a runtime alpha.',
  'python-feature-tap':
    'Python export, feature tap: one input (input) and outputs output, feature_map. There is no prev_feat input, so ' +
    'smoothing the returned features can never change the image: this file cannot do temporal smoothing. ' +
    'Re-convert the checkpoint with `paragon convert --video`.',
  unknown: 'Unrecognised inputs/outputs: not a ParagonSR2 graph paragon knows how to drive.',
};

const has = (names: string[], ...want: string[]): boolean => want.every((w) => names.includes(w));
const isFloat = (t: TensorProto): boolean => t.dataType === 1 || t.dataType === 10 || t.dataType === 11 || t.dataType === 16;

function classify(ins: string[], outs: string[], meta: Map<string, string>): OnnxSignature {
  if (meta.has(META.variant)) {
    if (ins.length === 3 && has(ins, 'input', 'prev_feat', 'alpha') && has(outs, 'output', 'feature_map')) return 'paragon-video';
    if (ins.length === 1 && ins[0] === 'input' && outs.length === 1 && outs[0] === 'output') return 'paragon-standard';
    return 'unknown';
  }
  const feat = (n: string): boolean => /feat/i.test(n);
  if (ins.length === 1 && outs.length === 1) return 'python-standard';
  if (ins.length === 2 && ins.some(feat) && outs.length === 2 && outs.some(feat)) return 'python-video-baked';
  if (ins.length === 1 && outs.length === 2 && outs.some(feat)) return 'python-feature-tap';
  return 'unknown';
}

const num = (v: string | undefined): number | undefined => (v === undefined || v.trim() === '' || !Number.isFinite(Number(v)) ? undefined : Number(v));

/** Inspect ONNX bytes (`file` names it in errors). Malformed files are model errors (exit 3). */
export function readOnnxInfo(bytes: Uint8Array, file: string): OnnxInfo {
  let m;
  try {
    m = decodeModel(bytes);
  } catch (e) {
    throw modelError(file, `not a valid ONNX model (${(e as Error).message})`, e);
  }
  const g = m.graph;
  const inits = new Set(g.initializers.map((t) => t.name));
  // Old exports list initializers among the inputs too; those are not inputs a runtime feeds.
  const inputs = g.inputs.filter((v) => !inits.has(v.name)).map((v) => ({ name: v.name, dtype: dataTypeName(v.elemType), dims: v.dims }));
  const outputs = g.outputs.map((v) => ({ name: v.name, dtype: dataTypeName(v.elemType), dims: v.dims }));
  const metadata = new Map(m.metadata);
  const ops = new Map<string, number>();
  for (const n of g.nodes) ops.set(n.opType, (ops.get(n.opType) ?? 0) + 1);
  const signature = classify(inputs.map((i) => i.name), outputs.map((o) => o.name), metadata);
  const variant = metadata.get(META.variant);
  const embedded = g.initializers.filter(isFloat).reduce((n, t) => n + elementCount(t.dims), 0);
  const info: OnnxInfo = {
    file,
    inputs,
    outputs,
    metadata,
    opset: defaultOpset(m),
    irVersion: m.irVersion,
    producer: `${m.producerName} ${m.producerVersion}`.trim(),
    params: num(metadata.get(META.params)) ?? embedded,
    embedded,
    nodes: g.nodes.length,
    ops,
    externalData: g.initializers.some((t) => t.external === true),
    signature,
    explanation: EXPLAIN[signature],
    ...(variant !== undefined && (VARIANTS as readonly string[]).includes(variant) ? { variant: variant as Variant } : {}),
  };
  const extra: Record<string, unknown> = {
    scale: num(metadata.get(META.scale)),
    channels: num(metadata.get(META.channels)),
    padMultiple: num(metadata.get(META.padMultiple)),
    upsamplerAlpha: num(metadata.get(META.upsamplerAlpha)),
    precision: metadata.get(META.precision),
    sha256: metadata.get(META.sha256),
    graphKind: metadata.get(META.graph),
    historyWeight:
      signature === 'python-video-baked'
        ? ['alpha', 'history_weight', 'temporal_alpha'].map((k) => num(metadata.get(k))).find((v) => v !== undefined)
        : undefined,
  };
  for (const [k, v] of Object.entries(extra)) if (v !== undefined) (info as unknown as Record<string, unknown>)[k] = v;
  return info;
}
