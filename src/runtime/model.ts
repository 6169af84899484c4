/**
 * `--model` resolution: a `.safetensors` checkpoint (converted in memory), an `.onnx` file (ours
 * or one exported by the reference Python scripts), or the name of a bundled model in `models/`.
 * The result is ONNX bytes plus the {@link ModelInfo} the orchestrator needs.
 */
import { existsSync, readdirSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { modelError } from '../errors.ts';
import { buildOnnx } from '../graph/index.ts';
import { loadCheckpoint, readModelBytes } from '../weights/load.ts';
import { checkpointModelInfo, onnxModelInfo, type ModelInfo } from './model-info.ts';

/** The bundled model used when `--model` is not given. */
export const DEFAULT_MODEL = 'paragon-realtime-2x';

/** Folder of the bundled models. */
export const MODELS_DIR = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..', 'models');

/** Options of {@link resolveModel}. */
export interface ResolveOptions {
  /** Graph to build from a checkpoint: video (state in/out) or standard. Default 'video'. */
  readonly mode?: 'video' | 'standard';
  /** Build a half-precision graph from a checkpoint (ONNX files run as stored). */
  readonly fp16?: boolean;
  /** Folder of bundled models (default: the package's `models/`). */
  readonly modelsDir?: string;
  readonly onNotice?: (line: string) => void;
}

/** A model ready to load. */
export interface ResolvedModel {
  readonly bytes: Uint8Array;
  readonly info: ModelInfo;
  /** The fp32 graph of the same checkpoint, for an fp16 model's NaN reruns (checkpoints only). */
  readonly fp32?: () => Uint8Array;
}

/** Names of the bundled models (file names without extension). */
export function bundledModels(dir = MODELS_DIR): string[] {
  if (!existsSync(dir)) return [];
  return readdirSync(dir)
    .filter((n) => /\.(safetensors|onnx)$/.test(n))
    .map((n) => n.replace(/\.(safetensors|onnx)$/, ''))
    .sort();
}

/** Resolve `--model` (undefined = the default bundled model) to ONNX bytes and a description. */
export async function resolveModel(spec: string | undefined, opts: ResolveOptions = {}): Promise<ResolvedModel> {
  const file = locate(spec ?? DEFAULT_MODEL, opts.modelsDir ?? MODELS_DIR);
  return file.endsWith('.onnx') ? fromOnnx(file, opts) : fromCheckpoint(file, opts);
}

/** The file of the bundled model `name` in `dir` (its checkpoint, else its ONNX), if there is one. */
export function bundledModelFile(name: string, dir = MODELS_DIR): string | undefined {
  return ['.safetensors', '.onnx'].map((ext) => path.join(dir, name + ext)).find((f) => existsSync(f));
}

/** True when `spec` names a model file (an extension or a path), false for a bundled model's name. */
export const isModelPath = (spec: string): boolean => /\.(safetensors|onnx)$/i.test(spec) || spec.includes('/') || spec.includes(path.sep);

function locate(spec: string, dir: string): string {
  if (isModelPath(spec)) {
    if (!existsSync(spec)) throw modelError(spec, 'no such model file');
    if (!/\.(safetensors|onnx)$/i.test(spec)) throw modelError(spec, 'expected a .safetensors checkpoint or an .onnx model');
    return spec;
  }
  const bundled = bundledModelFile(spec, dir);
  if (bundled) return bundled;
  const known = bundledModels(dir);
  throw modelError(spec, `not a model file nor a bundled model (bundled: ${known.length ? known.join(', ') : 'none installed'})`);
}

async function fromCheckpoint(file: string, opts: ResolveOptions): Promise<ResolvedModel> {
  const ck = await loadCheckpoint(file);
  const video = (opts.mode ?? 'video') === 'video';
  const build = (fp16: boolean) =>
    buildOnnx(ck.arch, ck.stateDict, { video, fp16, upsamplerAlpha: ck.upsamplerAlpha, sha256: ck.sha256, file });
  const fp16 = opts.fp16 === true;
  const info = checkpointModelInfo(file, ck, { video, fp16 });
  return fp16 ? { bytes: build(true), info, fp32: () => build(false) } : { bytes: build(false), info };
}

async function fromOnnx(file: string, opts: ResolveOptions): Promise<ResolvedModel> {
  const bytes = await readModelBytes(file);
  const info = onnxModelInfo(bytes, file);
  if (opts.fp16 && info.precision === 'fp32') opts.onNotice?.(`${file}: --fp16 applies to checkpoints; this ONNX model runs as stored (fp32)`);
  return { bytes, info };
}
