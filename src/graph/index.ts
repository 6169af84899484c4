/**
 * The graph layer: ParagonSR2 checkpoints → ONNX, built in TypeScript (no PyTorch), and ONNX
 * inspection. `convertCheckpoint` is the one call most code needs.
 */
import type { LoadedCheckpoint } from '../weights/checkpoint.ts';
import { loadCheckpoint } from '../weights/load.ts';
import type { ArchSpec, Variant } from '../weights/types.ts';
import { buildOnnx, type BuildOptions } from './model.ts';

export { buildOnnx, buildGraph, PARAGON_VERSION, HISTORY_WEIGHT_TEXT } from './model.ts';
export type { BuildOptions } from './model.ts';
export { readOnnxInfo } from './onnx-info.ts';
export type { OnnxInfo, OnnxIO, OnnxSignature } from './onnx-info.ts';
export { encodeModel, decodeModel, DataType, dataTypeName } from './onnx-proto.ts';
export type { ModelProto, GraphProto, NodeProto, TensorProto, ValueInfoProto, Dim } from './onnx-proto.ts';
export { GraphBuilder, floatBytes, halfToFloat } from './builder.ts';
export { WINDOW } from './attention.ts';

/** Where the base-path `upsampler_alpha` came from. */
export type UpsamplerAlphaSource = 'flag' | 'official release (by sha256)' | 'checkpoint metadata' | 'variant default';

export interface ConvertOptions extends Omit<BuildOptions, 'upsamplerAlpha' | 'sha256' | 'file'> {
  /** Assert the variant (a mismatch with detection is a usage error). */
  variant?: Variant;
  /** Assert the scale. */
  scale?: number;
  /** Override the base-path sharpening strength. */
  upsamplerAlpha?: number;
}

export interface Converted {
  readonly bytes: Uint8Array;
  readonly arch: ArchSpec;
  readonly checkpoint: LoadedCheckpoint;
  readonly upsamplerAlpha: number;
  readonly upsamplerAlphaSource: UpsamplerAlphaSource;
}

/** Where {@link loadCheckpoint}'s `upsamplerAlpha` (or the caller's override) comes from. */
export function upsamplerAlphaSource(ck: LoadedCheckpoint, override?: number): UpsamplerAlphaSource {
  if (override !== undefined) return 'flag';
  if (ck.official !== undefined) return 'official release (by sha256)';
  return ck.metadata.has('upsampler_alpha') ? 'checkpoint metadata' : 'variant default';
}

/**
 * Load a `.safetensors` checkpoint and build its ONNX graph. The `upsampler_alpha` is, in order:
 * the caller's, 0.0 for the official v11 releases (known by hash), the checkpoint's metadata, the
 * variant's factory default.
 */
export async function convertCheckpoint(file: string, opts: ConvertOptions = {}): Promise<Converted> {
  const ck = await loadCheckpoint(file, { variant: opts.variant, scale: opts.scale });
  const source = upsamplerAlphaSource(ck, opts.upsamplerAlpha);
  const upsamplerAlpha = opts.upsamplerAlpha ?? ck.upsamplerAlpha;
  const { variant: _v, scale: _s, upsamplerAlpha: _a, ...rest } = opts;
  const bytes = buildOnnx(ck.arch, ck.stateDict, { ...rest, upsamplerAlpha, sha256: ck.sha256, file });
  return { bytes, arch: ck.arch, checkpoint: ck, upsamplerAlpha, upsamplerAlphaSource: source };
}
