/**
 * What the runtime knows about a model before running it (from checkpoint detection or ONNX
 * metadata). Pure: the browser player builds the same descriptions.
 */
import { modelError } from '../errors.ts';
import { readOnnxInfo } from '../graph/onnx-info.ts';
import { VARIANT_DEFAULTS, type ArchSpec, type Variant } from '../weights/types.ts';

/** How an ONNX file was made, as the graph layer classifies it. */
export type { OnnxSignature } from '../graph/onnx-info.ts';
import type { OnnxSignature } from '../graph/onnx-info.ts';

/** Description of a resolved model. */
export interface ModelInfo {
  /** The file (or bundled model name) the model came from, for messages. */
  readonly file: string;
  /** Checkpoint variant, when known. */
  readonly variant: Variant | undefined;
  /** Upscale factor (0 until a probe run when the file does not say, e.g. Python exports). */
  readonly scale: number;
  /** Feature channels C of the video state, when known. */
  readonly channels: number | undefined;
  /** Inputs are reflect-padded to a multiple of this (16 for photo/pro, else 1). */
  readonly padMultiple: number;
  readonly signature: OnnxSignature;
  readonly precision: 'fp32' | 'fp16';
  /** History weight fixed inside a Python video export, when its metadata says. */
  readonly historyWeight: number | undefined;
  /** SHA-256 of the source checkpoint, when known. */
  readonly sha256: string | undefined;
}

/** ModelInfo of a checkpoint converted by our graph builder (standard or video mode). */
export function checkpointModelInfo(
  file: string,
  ck: { readonly arch: ArchSpec; readonly sha256: string },
  opts: { readonly video: boolean; readonly fp16: boolean },
): ModelInfo {
  return {
    file,
    variant: ck.arch.variant,
    scale: ck.arch.scale,
    channels: ck.arch.channels,
    padMultiple: VARIANT_DEFAULTS[ck.arch.variant].padMultiple,
    signature: opts.video ? 'paragon-video' : 'paragon-standard',
    precision: opts.fp16 ? 'fp16' : 'fp32',
    historyWeight: undefined,
    sha256: ck.sha256,
  };
}

/** ModelInfo of an ONNX file (ours or a Python export) from its bytes; unknown signatures are model errors. */
export function onnxModelInfo(bytes: Uint8Array, file: string): ModelInfo {
  const o = readOnnxInfo(bytes, file);
  if (o.signature === 'unknown') throw modelError(file, o.explanation);
  return {
    file,
    variant: o.variant,
    // Python exports carry no metadata: the upscaler learns the scale from a probe run (0 = unknown).
    scale: o.scale ?? 0,
    channels: o.channels,
    padMultiple: o.padMultiple ?? (o.variant ? VARIANT_DEFAULTS[o.variant].padMultiple : 1),
    signature: o.signature,
    precision: o.precision === 'fp16' || o.inputs[0]?.dtype === 'float16' ? 'fp16' : 'fp32',
    historyWeight: o.historyWeight,
    sha256: o.sha256,
  };
}
