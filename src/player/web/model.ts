/**
 * Model bytes → ONNX bytes plus a {@link ModelInfo}, in the browser: the same detection and graph
 * builder as `paragon convert`, fed from memory (a fetched or dropped file) instead of the disk.
 * Imports only the pure modules of the weights and graph layers (never checkpoint.ts's file
 * reading or graph/index.ts, which reach node:fs).
 */
import { modelError } from '../../errors.ts';
import { buildOnnx } from '../../graph/model.ts';
import { checkpointModelInfo, onnxModelInfo, type ModelInfo } from '../../runtime/model-info.ts';
import { checkpointFromBytes } from '../../weights/checkpoint.ts';

/** A model ready for a session: ONNX bytes and what the orchestrator needs to know. */
export interface PreparedModel {
  readonly onnx: Uint8Array;
  readonly info: ModelInfo;
  /** Base-path sharpening the graph was built with (checkpoints only). */
  readonly upsamplerAlpha: number | undefined;
}

/** Options of {@link prepareModel}. */
export interface PrepareOptions {
  /** Graph to build from a checkpoint: 'video' (state in/out, the default) or 'standard'. */
  readonly mode?: 'video' | 'standard';
}

/** True when the bytes look like a safetensors file (8-byte header length, then a JSON object). */
export function isSafetensors(bytes: Uint8Array): boolean {
  if (bytes.length < 10) return false;
  const n = new DataView(bytes.buffer, bytes.byteOffset, 8).getBigUint64(0, true);
  return n > 1n && n <= BigInt(bytes.length - 8) && bytes[8] === 0x7b;
}

/** Hex SHA-256 with WebCrypto (browsers and Node ≥ 20 alike). */
export async function sha256Hex(bytes: Uint8Array): Promise<string> {
  const digest = await crypto.subtle.digest('SHA-256', bytes as Uint8Array<ArrayBuffer>);
  return [...new Uint8Array(digest)].map((b) => b.toString(16).padStart(2, '0')).join('');
}

/**
 * Turn a checkpoint (`.safetensors`) or an ONNX model into ONNX bytes and a description. `name`
 * only names the file in errors. Checkpoints get the fp32 graph (`upsampler_alpha` as the CLI
 * settles it: official release by hash, metadata, variant default).
 */
export async function prepareModel(bytes: Uint8Array, name: string, opts: PrepareOptions = {}): Promise<PreparedModel> {
  if (isSafetensors(bytes) || /\.safetensors$/i.test(name)) return fromCheckpoint(bytes, name, opts.mode ?? 'video');
  if (bytes[0] === 0x50 && bytes[1] === 0x4b) throw modelError(name, 'PyTorch pickle checkpoints are not supported (unsafe to load): convert to .safetensors');
  return fromOnnx(bytes, name);
}

async function fromCheckpoint(bytes: Uint8Array, file: string, mode: 'video' | 'standard'): Promise<PreparedModel> {
  const ck = checkpointFromBytes(bytes, file, await sha256Hex(bytes));
  const video = mode === 'video';
  const onnx = buildOnnx(ck.arch, ck.stateDict, { video, upsamplerAlpha: ck.upsamplerAlpha, sha256: ck.sha256, file });
  return { onnx, info: checkpointModelInfo(file, ck, { video, fp16: false }), upsamplerAlpha: ck.upsamplerAlpha };
}

function fromOnnx(bytes: Uint8Array, file: string): PreparedModel {
  return { onnx: bytes, info: onnxModelInfo(bytes, file), upsamplerAlpha: undefined };
}
