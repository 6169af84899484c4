/**
 * Models from a Node program: convert a checkpoint to ONNX, describe a checkpoint or ONNX file,
 * and open a model as a frame engine for frames from your own decoder.
 */
import path from 'node:path';
import { usageError } from '../errors.ts';
import { convertCheckpoint, readOnnxInfo, upsamplerAlphaSource, type OnnxInfo, type UpsamplerAlphaSource } from '../graph/index.ts';
import type { DeviceRequest } from '../runtime/devices.ts';
import { openUpscaler } from '../temporal/open.ts';
import type { TemporalUpscaler } from '../temporal/upscaler.ts';
import { loadCheckpoint, readModelBytes } from '../weights/load.ts';
import { VARIANTS, type ArchSpec, type Variant } from '../weights/types.ts';
import { writeAtomically } from '../pipeline/write.ts';

/** Options of {@link convert}. */
export interface ConvertOptions {
  /** Write the model here (atomically: a temporary file beside it, renamed when complete). */
  readonly output?: string;
  /** Video graph: `prev_feat` and `alpha` inputs, `feature_map` output (default: standard). */
  readonly video?: boolean;
  /** Half-precision weights, I/O and compute. */
  readonly fp16?: boolean;
  /** Fixed input size [height, width] (batch 1) instead of dynamic. */
  readonly static?: readonly [number, number];
  /** Base-path sharpening strength 0..1 (default: 0 for official releases, else metadata, else the variant's). */
  readonly upsamplerAlpha?: number;
  /** Assert the variant (a mismatch with what the weights are is a usage error). */
  readonly variant?: Variant;
  /** Assert the upscale factor. */
  readonly scale?: number;
  /** The literal graph mirroring the reference code (debugging); default: the optimised one. */
  readonly literal?: boolean;
}

/** What {@link convert} built. */
export interface ConvertResult {
  /** The ONNX model. */
  readonly bytes: Uint8Array;
  /** Where it was written, when `output` was given. */
  readonly output: string | undefined;
  /** The architecture detected from the weights. */
  readonly arch: ArchSpec;
  /** Parameters as PyTorch counts them. */
  readonly params: number;
  /** Hex SHA-256 of the checkpoint file. */
  readonly sha256: string;
  /** The official ParagonSR2 v11 release the file is (by hash), if any. */
  readonly official: Variant | undefined;
  readonly upsamplerAlpha: number;
  readonly upsamplerAlphaSource: UpsamplerAlphaSource;
  /** The model's signature and metadata, as {@link inspect} reads them. */
  readonly onnx: OnnxInfo;
}

/**
 * Build the ONNX model of a ParagonSR2 checkpoint (`.safetensors`, any of the four variants), in
 * TypeScript, without Python. Bad checkpoints reject with code 3, bad options with code 2.
 */
export async function convert(weights: string, opts: ConvertOptions = {}): Promise<ConvertResult> {
  if (/\.onnx$/i.test(weights)) throw usageError(`${weights} is already ONNX (see: paragon info ${weights})`);
  if (opts.output !== undefined && !/\.onnx$/i.test(opts.output)) throw usageError(`${opts.output}: the output must be an .onnx file`);
  if (opts.variant !== undefined && !(VARIANTS as readonly string[]).includes(opts.variant)) throw usageError(`variant ${opts.variant}: expected one of ${VARIANTS.join(', ')}`);
  if (opts.scale !== undefined && !(Number.isInteger(opts.scale) && opts.scale >= 1 && opts.scale <= 4)) throw usageError(`scale ${opts.scale}: expected 1, 2, 3 or 4`);
  const a = opts.upsamplerAlpha;
  if (a !== undefined && !(a >= 0 && a <= 1)) throw usageError(`upsampler alpha ${a}: expected a number in [0, 1]`);
  const size = opts.static;
  if (size && !size.every((n) => Number.isInteger(n) && n >= 1)) throw usageError(`static size ${size.join('x')}: expected [height, width] ≥ 1`);
  const conv = await convertCheckpoint(weights, {
    video: opts.video === true,
    fp16: opts.fp16 === true,
    literal: opts.literal === true,
    ...(size ? { static: [size[0], size[1]] as [number, number] } : {}),
    ...(opts.variant !== undefined ? { variant: opts.variant } : {}),
    ...(opts.scale !== undefined ? { scale: opts.scale } : {}),
    ...(a !== undefined ? { upsamplerAlpha: a } : {}),
  });
  if (opts.output !== undefined) await writeAtomically(opts.output, conv.bytes, { what: 'the model' });
  const ck = conv.checkpoint;
  return {
    bytes: conv.bytes,
    output: opts.output,
    arch: conv.arch,
    params: ck.params,
    sha256: ck.sha256,
    official: ck.official,
    upsamplerAlpha: conv.upsamplerAlpha,
    upsamplerAlphaSource: conv.upsamplerAlphaSource,
    onnx: readOnnxInfo(conv.bytes, opts.output ?? weights),
  };
}

/** A checkpoint as {@link inspect} describes it. */
export interface CheckpointDescription {
  readonly kind: 'checkpoint';
  readonly file: string;
  readonly variant: Variant;
  readonly scale: number;
  readonly channels: number;
  readonly groups: number;
  readonly blocks: number;
  readonly params: number;
  /** The official v11 release it is (by hash), or null. */
  readonly official: Variant | null;
  readonly sha256: string;
  readonly upsamplerAlpha: number;
  readonly upsamplerAlphaSource: UpsamplerAlphaSource;
  readonly metadata: Record<string, string>;
}

/** An ONNX model as {@link inspect} describes it: signature, architecture (ours), metadata. */
export interface OnnxDescription extends Omit<OnnxInfo, 'metadata' | 'ops'> {
  readonly kind: 'onnx';
  readonly metadata: Record<string, string>;
  /** Operator counts. */
  readonly ops: Record<string, number>;
}

/**
 * Describe a `.safetensors` checkpoint or an `.onnx` model (ours, or one the original Python
 * script exported: `signature` and `explanation` say what it means for temporal smoothing). The
 * result is plain JSON (`paragon info --json` prints it).
 */
export async function inspect(file: string): Promise<CheckpointDescription | OnnxDescription> {
  const ext = path.extname(file).toLowerCase();
  if (ext === '.safetensors') {
    const ck = await loadCheckpoint(file);
    return {
      file,
      kind: 'checkpoint',
      variant: ck.arch.variant,
      scale: ck.arch.scale,
      channels: ck.arch.channels,
      groups: ck.arch.groups,
      blocks: ck.arch.blocks,
      params: ck.params,
      official: ck.official ?? null,
      sha256: ck.sha256,
      upsamplerAlpha: ck.upsamplerAlpha,
      upsamplerAlphaSource: upsamplerAlphaSource(ck),
      metadata: Object.fromEntries(ck.metadata),
    };
  }
  if (ext === '.onnx') {
    const o = readOnnxInfo(await readModelBytes(file), file);
    return { ...o, kind: 'onnx', metadata: Object.fromEntries(o.metadata), ops: Object.fromEntries(o.ops) };
  }
  throw usageError(`${file}: expected a .safetensors checkpoint or an .onnx model`);
}

/** Options of {@link openModel}. */
export interface OpenModelOptions {
  /** Where the model runs (default 'auto'); see {@link UpscaleOptions.device}. */
  readonly device?: DeviceRequest;
  /** Half-precision graph (checkpoints); frames that overflow are rerun at fp32. */
  readonly fp16?: boolean;
  /**
   * 'auto' (default: a history of the input's own pixels, moved with the camera and kept per pixel
   * by how much the frame changed against it; none on clean video) or W in [0, 1), the weight of
   * the previous frame's features; 0 = every frame on its own (the standard graph, no state).
   */
  readonly historyWeight?: number | 'auto';
  /** Tile size in input pixels (0 = whole frame, the default; halved automatically on out-of-memory). */
  readonly tile?: number;
  /** CPU threads per operator (default: all cores). */
  readonly threads?: number;
  /** One-line notices: device fallback, model limitations, tile halving. */
  readonly onNotice?: (line: string) => void;
}

/**
 * Open a model (a checkpoint, an `.onnx` file or a bundled model's name; default the bundled
 * `paragon-realtime-2x`) as a frame engine for frames you decode yourself: `process(frame,
 * { cut })` takes planar float RGB and returns the upscaled frame, carrying the temporal feature
 * state from call to call (`cut: true`, or `reset()`, starts a new shot: a {@link SceneCutDetector}
 * tells you where). The model runs in a worker thread; `close()` or `await using` releases it.
 */
export async function openModel(model?: string, opts: OpenModelOptions = {}): Promise<TemporalUpscaler> {
  const w = opts.historyWeight ?? 'auto';
  if (w !== 'auto' && !(w >= 0 && w < 1)) throw usageError(`history weight ${w}: expected auto or a number in [0, 1)`);
  if (opts.threads !== undefined && !(Number.isInteger(opts.threads) && opts.threads >= 1)) throw usageError(`threads ${opts.threads}: expected an integer ≥ 1`);
  return openUpscaler(model, {
    historyWeight: w,
    fp16: opts.fp16 === true,
    device: opts.device ?? 'auto',
    cpu: opts.threads !== undefined ? { intraOpThreads: opts.threads } : {},
    tile: opts.tile ?? 0,
    ...(opts.onNotice ? { onNotice: opts.onNotice } : {}),
  });
}
