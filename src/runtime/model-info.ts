/** What the runtime knows about a model before running it (from checkpoint detection or ONNX metadata). */
import type { Variant } from '../weights/types.ts';

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
