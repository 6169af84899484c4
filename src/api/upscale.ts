/**
 * Upscaling files from a Node program: an image or a folder of images, or a video, as
 * `paragon upscale` does (it calls these). Each call starts an {@link UpscaleJob}: await it for
 * the report, iterate it for progress, cancel it with an AbortSignal.
 */
import { usageError } from '../errors.ts';
import type { DeviceRequest } from '../runtime/devices.ts';
import { inputKind, runUpscale, type JobReport, type UpscaleJobOptions } from '../pipeline/job.ts';
import { parseFrames, type VideoReport } from '../pipeline/video.ts';
import type { VideoCodec } from '../video/containers.ts';
import { UpscaleJob, type UpscaleEvent } from './job.ts';

/** Options shared by images and video. */
export interface UpscaleOptions {
  /** A `.safetensors` checkpoint (converted in memory), an `.onnx` file, or a bundled model's name (default `paragon-realtime-2x`). */
  readonly model?: string;
  /** Where the model runs: 'auto' (default) tries the GPU providers this machine has, then CPU; a named device that fails falls back to CPU with a notice. */
  readonly device?: DeviceRequest;
  /** Half-precision graph (checkpoints); frames that overflow are rerun at fp32. */
  readonly fp16?: boolean;
  /** Tile size in input pixels (0 = whole frame, the default; halved automatically on out-of-memory). */
  readonly tile?: number;
  /** CPU threads per operator (default: all cores). */
  readonly threads?: number;
  /** Write the JSON report to this file as well. */
  readonly report?: string;
  /** Stops the job: it rejects with a ParagonError of code 130 once cleaned up. */
  readonly signal?: AbortSignal;
  /** One-line notices: device fallback, stream conversions, images that failed. */
  readonly onNotice?: (line: string) => void;
  /** Every progress event, as it happens (the job is also an async iterable of them). */
  readonly onProgress?: (event: UpscaleEvent) => void;
  /** Human progress lines: `[3/10] written …`, a video's line every 10 s and its summary. */
  readonly onProgressLine?: (line: string) => void;
}

/** Options of {@link upscaleImage}. */
export interface UpscaleImageOptions extends UpscaleOptions {
  /** A folder: include subfolders (mirrored in the output folder). */
  readonly recursive?: boolean;
}

/** Options of {@link upscaleVideo}. */
export interface UpscaleVideoOptions extends UpscaleOptions {
  /**
   * 'auto' (default: a history of the input's own pixels, moved with the camera and kept per pixel
   * by how much each part of the frame changed against it) or a fixed W in [0, 1), the weight of
   * the previous frame's features; 0 = every frame on its own.
   */
  readonly historyWeight?: number | 'auto';
  /** Video codec (default: the container's: x264, or vp9 for .webm). */
  readonly codec?: VideoCodec;
  /** Quality on the codec's scale (defaults: x264 18, x265 20, av1 26, vp9 24). */
  readonly crf?: number;
  /** Encoder speed preset (x264/x265 names; SVT-AV1 0–13; vp9 cpu-used). */
  readonly preset?: string;
  /** The ffmpeg binary (ffprobe is looked for beside it); default: PARAGON_FFMPEG, PATH, then the npm-installed one. */
  readonly ffmpeg?: string;
  /** Only source frames [from, to) (0-based), or the `--frames` text `FROM:TO`. */
  readonly frames?: { readonly from: number; readonly to?: number | undefined } | string;
  /** Continue an interrupted run of the same input, output and settings from its last checkpoint. */
  readonly resume?: boolean;
  /** Frames per resumable segment (default 240). */
  readonly checkpoint?: number;
  /**
   * Lower every thread of this process but the model's, and the ffmpeg processes, so the model
   * gets the cores first (Linux): 'idle' (SCHED_IDLE), 'nice' (niceness 10) or 'off' (default).
   * Process-wide and one-way: for a process of its own, as the CLI is.
   */
  readonly priority?: 'idle' | 'nice' | 'off';
  /** Draw a progress bar: receives `\r`-redrawn text for a terminal (instead of a line every 10 s). */
  readonly progressBar?: (text: string) => void;
  /**
   * Run the job on a farm of `paragon worker`s (docs/farm.md) instead of in this process: the
   * video is planned here, its chunks queued on Redis, and the finished chunks joined into `output`.
   */
  readonly farm?: FarmOptions;
}

/** Where and how a video is upscaled on a farm (see {@link UpscaleVideoOptions.farm}). */
export interface FarmOptions {
  /** The farm's Redis: `redis://HOST:PORT[/DB]` (or `rediss://`). */
  readonly queue: string;
  /** The folder every machine of the farm mounts, as mounted here; the input (and a model file) must be inside it. */
  readonly storage: string;
  /** Most frames per chunk (default 600); chunks start at scene cuts where they can. */
  readonly chunkFrames?: number;
  /** Frames run before a chunk that starts inside a shot, to warm the temporal state (default 32). */
  readonly preroll?: number;
  /** Seconds Redis may be unreachable before the job gives up (default 30). */
  readonly redisTimeout?: number;
}

/** What any upscale call accepts (the CLI passes everything through {@link upscale}). */
export type AnyUpscaleOptions = UpscaleImageOptions & UpscaleVideoOptions;

/** Run the job: in this process, or on the farm when asked (loaded only then: it brings BullMQ). */
async function run(job: UpscaleJobOptions, farm: FarmOptions | undefined): Promise<JobReport | VideoReport> {
  if (!farm) return runUpscale(job);
  if ((await inputKind(job.input)) !== 'video') throw usageError(`${job.input}: a farm upscales videos; images and folders run here (leave out the queue)`);
  const { runFarmJob } = await import('../farm/coordinator.ts');
  return runFarmJob({ ...job, ...farm });
}

/** The pipeline's options for a job (one mapping for every entry point). */
function jobOptions(input: string, output: string, o: AnyUpscaleOptions, signal: AbortSignal, emit: (e: UpscaleEvent) => void): UpscaleJobOptions {
  const frames = typeof o.frames === 'string' ? parseFrames(o.frames) : o.frames && { from: o.frames.from, to: o.frames.to };
  return {
    input,
    output,
    ...(o.model !== undefined ? { model: o.model } : {}),
    device: o.device ?? 'auto',
    ...(o.tile !== undefined ? { tile: o.tile } : {}),
    fp16: o.fp16 === true,
    ...(o.historyWeight !== undefined ? { historyWeight: o.historyWeight } : {}),
    recursive: o.recursive === true,
    ...(o.threads !== undefined ? { cpu: { intraOpThreads: o.threads } } : {}),
    ...(o.report !== undefined ? { report: o.report } : {}),
    ...(o.codec !== undefined ? { codec: o.codec } : {}),
    ...(o.crf !== undefined ? { crf: o.crf } : {}),
    ...(o.preset !== undefined ? { preset: o.preset } : {}),
    ...(o.ffmpeg !== undefined ? { ffmpeg: o.ffmpeg } : {}),
    ...(frames ? { frames } : {}),
    ...(o.checkpoint !== undefined ? { checkpoint: o.checkpoint } : {}),
    resume: o.resume === true,
    favourModel: o.priority === undefined || o.priority === 'off' ? false : o.priority,
    ...(o.onNotice ? { log: o.onNotice } : {}),
    // The pipeline's events are the UpscaleEvent shapes (see job.ts), built as plain objects.
    progress: (e) => emit(e as unknown as UpscaleEvent),
    ...(o.onProgressLine ? { progressLines: o.onProgressLine } : {}),
    ...(o.progressBar ? { bar: o.progressBar } : {}),
    signal,
  };
}

function check(o: AnyUpscaleOptions): void {
  if (o.tile !== undefined && !(Number.isInteger(o.tile) && o.tile >= 0)) throw usageError(`tile ${o.tile}: expected an integer ≥ 0`);
  if (o.threads !== undefined && !(Number.isInteger(o.threads) && o.threads >= 1)) throw usageError(`threads ${o.threads}: expected an integer ≥ 1`);
  const w = o.historyWeight;
  if (w !== undefined && w !== 'auto' && !(w >= 0 && w < 1)) throw usageError(`history weight ${w}: expected auto or a number in [0, 1)`);
}

/**
 * Upscale an image, a folder of images or a video into `output` (what `paragon upscale` does):
 * the input decides which, as {@link upscaleImage} and {@link upscaleVideo} describe.
 */
export function upscale(input: string, output: string, opts: AnyUpscaleOptions = {}): UpscaleJob<JobReport | VideoReport> {
  return new UpscaleJob(async ({ signal, emit }) => {
    check(opts);
    return run(jobOptions(input, output, opts, signal, emit), opts.farm);
  }, opts);
}

/**
 * Upscale one image (to a PNG: `output` ending in .png is the file, anything else a folder) or a
 * folder of images (.png .jpg .jpeg .webp; mirrored into the `output` folder). 16-bit inputs give
 * 16-bit PNGs, alpha is kept, outputs already complete are skipped, and every file is written
 * whole or not at all. A folder goes on past a bad image and rejects at the end (code 4) naming
 * how many failed; the report lists each.
 */
export function upscaleImage(input: string, output: string, opts: UpscaleImageOptions = {}): UpscaleJob<JobReport> {
  return new UpscaleJob(async ({ signal, emit }) => {
    check(opts);
    if ((await inputKind(input)) === 'video') throw usageError(`${input}: not an image or a folder (use upscaleVideo for a video)`);
    return (await runUpscale(jobOptions(input, output, opts, signal, emit))) as JobReport;
  }, opts);
}

/**
 * Upscale a video into `output` (.mp4 .mkv .mov .webm): every frame and timestamp kept (VFR
 * too), audio, subtitles, rotation, colour and HDR metadata carried over, the temporal feature
 * state carried from frame to frame and reset at scene cuts. Work is saved in segments beside the
 * output; a cancelled or failed run can continue with `resume: true`. The output appears only
 * when complete.
 */
export function upscaleVideo(input: string, output: string, opts: UpscaleVideoOptions = {}): UpscaleJob<VideoReport> {
  return new UpscaleJob(async ({ signal, emit }) => {
    check(opts);
    if ((await inputKind(input)) !== 'video') throw usageError(`${input}: not a video (use upscaleImage for images and folders)`);
    return (await run(jobOptions(input, output, opts, signal, emit), opts.farm)) as VideoReport;
  }, opts);
}
