/**
 * paragon's Node API (`import … from 'paragon'`): what the `paragon` command does, for programs.
 *
 * - {@link convert} a ParagonSR2 checkpoint to ONNX; {@link inspect} a checkpoint or ONNX file.
 * - {@link upscaleImage} (an image or a folder), {@link upscaleVideo}, or {@link upscale} (either,
 *   by the input): each returns an {@link UpscaleJob} — `await` it for the report, `for await` it
 *   for progress events, stop it with an `AbortSignal`, `cancel()` or `await using`.
 * - {@link openModel}: a {@link TemporalUpscaler} for frames from your own decoder, with the
 *   temporal feature state carried between calls; a {@link SceneCutDetector} says where shots
 *   change. Release it with `close()` or `await using`.
 * - {@link detectScenes} on a video file.
 * - A farm: {@link upscaleVideo} with `farm: { queue, storage }` queues the video's chunks on Redis
 *   and joins them; {@link startFarmWorker} takes chunks on each machine (docs/farm.md).
 *
 * Every failure is a {@link ParagonError}: a one-line `message` naming the file and the cause, and
 * a `code` from {@link ExitCode} (2 usage, 3 model, 4 media, 5 ffmpeg, 6 resources, 130
 * interrupted) — the CLI's exit status for the same failure.
 *
 * ```ts
 * import { upscaleVideo } from 'paragon';
 * const job = upscaleVideo('in.mp4', 'out.mkv', { signal: AbortSignal.timeout(600_000) });
 * for await (const e of job) if (e.event === 'progress') console.log(`${e.frames}/${e.total ?? '?'} frames`);
 * const report = await job;
 * ```
 *
 * The browser build (onnxruntime-web) is `paragon/browser`.
 */
export { ParagonError, ExitCode, isParagonError } from './errors.ts';
export type { ExitCodeName } from './errors.ts';

export { convert, inspect, openModel } from './api/model.ts';
export type { ConvertOptions, ConvertResult, CheckpointDescription, OnnxDescription, OpenModelOptions } from './api/model.ts';
export { upscale, upscaleImage, upscaleVideo } from './api/upscale.ts';
export type { AnyUpscaleOptions, FarmOptions, UpscaleOptions, UpscaleImageOptions, UpscaleVideoOptions } from './api/upscale.ts';
export { UpscaleJob } from './api/job.ts';
export type { UpscaleEvent, ProgressEvent, ItemEvent, VideoDoneEvent, ImagesDoneEvent } from './api/job.ts';
export { detectScenes } from './api/scenes.ts';
export { startFarmWorker } from './api/farm.ts';
export type { FarmWorker, FarmWorkerOptions } from './api/farm.ts';
export type { DetectScenesOptions, SceneReport } from './api/scenes.ts';

export type { JobReport, ItemReport } from './pipeline/job.ts';
export type { VideoReport } from './pipeline/video.ts';
export { TemporalUpscaler } from './temporal/upscaler.ts';
export type { PlanarFrame, PackedFrame, FrameOptions, UpscalerStats } from './temporal/upscaler.ts';
export { SceneCutDetector } from './temporal/scene-cut.ts';
export type { RgbFrame, CutDecision, SceneCutOptions } from './temporal/scene-cut.ts';
export type { SceneCut } from './video/scenes.ts';
export { planarFromPacked, packedFromPlanar } from './temporal/planes.ts';
export { bundledModels, DEFAULT_MODEL } from './runtime/model.ts';
export type { ModelInfo } from './runtime/model-info.ts';
export type { Device, DeviceRequest } from './runtime/devices.ts';
export { VIDEO_CODECS } from './video/containers.ts';
export type { VideoCodec } from './video/containers.ts';
export { locateFfmpeg } from './video/ffmpeg.ts';
export type { FfmpegTools } from './video/ffmpeg.ts';
export type { OnnxInfo, OnnxIO, OnnxSignature, UpsamplerAlphaSource } from './graph/index.ts';
export type { ArchSpec, Variant } from './weights/types.ts';
