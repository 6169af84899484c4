/**
 * The browser build of paragon (`paragon/browser`): the same orchestrator API as Node — a frame
 * engine with `process(frame, { cut })`, `reset()`, `historyWeight`, `info`, `stats`, `close()`,
 * the scene-cut detector and the history rules it follows — on onnxruntime-web (WebGPU with the
 * feature state kept on the GPU, or WASM), plus checkpoint → ONNX conversion in memory. Nothing
 * here reaches a Node-only module (onnxruntime-node, child_process, fs); a test bundles this entry
 * for the browser and fails if one sneaks in.
 *
 * Set `ort.env.wasm.wasmPaths` (onnxruntime-web) when the WASM files are not served beside your
 * bundle.
 */
import type { ModelInfo } from './runtime/model-info.ts';
import { prepareModel, type PrepareOptions } from './player/web/model.ts';
import { WebUpscaler, type WebUpscalerOptions } from './player/web/upscaler.ts';

export { ParagonError, ExitCode, isParagonError } from './errors.ts';
export type { ModelInfo } from './runtime/model-info.ts';
export { prepareModel, isSafetensors, sha256Hex } from './player/web/model.ts';
export type { PreparedModel, PrepareOptions } from './player/web/model.ts';
export { WebUpscaler, planarOf } from './player/web/upscaler.ts';
export type { Backend, BackendRequest, PlanarFrame, UpscaledFrame, WebUpscalerOptions, WebUpscalerStats } from './player/web/upscaler.ts';
export { SceneCutDetector, analysisSize, ANALYSIS_SIZE } from './temporal/scene-cut.ts';
export type { RgbFrame, CutDecision, SceneCutOptions } from './temporal/scene-cut.ts';
export { HistoryRules, decideHistory, checkHistoryWeight } from './temporal/state-rules.ts';
export type { FrameEvent, HistoryDecision, ResetReason } from './temporal/state-rules.ts';
export { rolesOf } from './temporal/roles.ts';
export type { Roles, DriveMode } from './temporal/roles.ts';
export { buildOnnx, buildGraph } from './graph/model.ts';
export type { BuildOptions } from './graph/model.ts';
export { readOnnxInfo } from './graph/onnx-info.ts';
export { parseSafetensors } from './weights/safetensors.ts';
export { canonicalize } from './weights/state-dict.ts';
export { detectArch, detectAndCheck } from './weights/detect.ts';
export { VARIANTS, VARIANT_DEFAULTS } from './weights/types.ts';
export type { ArchSpec, Variant, StateDict, Tensor } from './weights/types.ts';
export { exportVideo } from './player/web/export.ts';
export type { Container, ExportOptions, Exported } from './player/web/export.ts';

/** A model given as bytes, or as a Blob/File (its name names it in errors). */
export type ModelSource = Uint8Array | ArrayBuffer | Blob;

/** Options of {@link openUpscaler}. */
export interface OpenOptions extends WebUpscalerOptions, PrepareOptions {
  /** Names the model in messages (default: the File's name, else 'model'). */
  readonly name?: string;
}

/**
 * The browser counterpart of Node's `openUpscaler`: a `.safetensors` checkpoint (converted in
 * memory) or an `.onnx` model, opened on WebGPU (falling back to WASM) with the history weight
 * given. Close it when done.
 */
export async function openUpscaler(model: ModelSource, opts: OpenOptions = {}): Promise<WebUpscaler> {
  const name = opts.name ?? (typeof File !== 'undefined' && model instanceof File ? model.name : 'model');
  const bytes = model instanceof Uint8Array ? model : new Uint8Array(model instanceof Blob ? await model.arrayBuffer() : model);
  // No history (weight 0): the standard graph does the same work without the state I/O, as in Node.
  const prepared = await prepareModel(bytes, name, { mode: opts.mode ?? (opts.historyWeight === 0 ? 'standard' : 'video') });
  const info: ModelInfo = prepared.info;
  return WebUpscaler.open(prepared.onnx, info, opts);
}
