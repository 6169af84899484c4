/**
 * `paragon upscale` on a video: probe, decode → scene cuts → model → encode in resumable segments
 * → join with the source's audio/subtitles, into a file that appears under the output name only
 * when complete.
 *
 * The three stages overlap (see stages.ts): ffmpeg decodes and the frames are prepared (scene-cut
 * detection, planar floats) a few frames ahead, the model runs in its worker thread, and the
 * finished frames are packed and piped to the encoder behind it. The temporal feature state flows
 * frame to frame; the frame engine resets it on the first frame, on a scene cut (detector run on
 * every frame, on its own cheap reduction of the frame) and on a size change.
 */
import { stat } from 'node:fs/promises';
import path from 'node:path';
import { ExitCode, ParagonError, usageError, type ExitCodeName } from '../errors.ts';
import type { ModelInfo } from '../runtime/model-info.ts';
import { openUpscaler } from '../temporal/open.ts';
import { containerFor, type VideoCodec } from '../video/containers.ts';
import { locateFfmpeg } from '../video/ffmpeg.ts';
import { probeMedia } from '../video/probe.ts';
import type { UpscaleJobOptions } from './job.ts';
import { muxSegments, removeStalePartials } from './mux.ts';
import { Progress, progressLines, progressSink } from './progress.ts';
import { Checkpoint, type RunIdentity } from './resume.ts';
import { PlanePool } from './stages.ts';
import { favourThreads } from '../runtime/priority.ts';
import { interruptHook } from './test-hook.ts';
import { VideoRun } from './video-run.ts';

/** Extensions treated as video (case-insensitive). */
export const VIDEO_EXTENSIONS = ['.mp4', '.mkv', '.mov', '.webm', '.avi', '.m4v', '.ts', '.mts', '.m2ts', '.y4m', '.gif'] as const;

/** True for a path with a video extension. */
export const isVideoPath = (file: string): boolean =>
  (VIDEO_EXTENSIONS as readonly string[]).includes(path.extname(file).toLowerCase());

/** Frames per resumable segment when `--checkpoint` is not given. */
export const DEFAULT_SEGMENT_FRAMES = 240;

/** Seconds of work between checkpoints inside a segment when neither the option nor `PARAGON_CHECKPOINT_SECONDS` says. */
export const DEFAULT_CHECKPOINT_SECONDS = 30;

/** The checkpoint interval in seconds: the option, else `PARAGON_CHECKPOINT_SECONDS`, else 30. */
export function checkpointSeconds(option: number | undefined, env: NodeJS.ProcessEnv = process.env): number {
  const text = env.PARAGON_CHECKPOINT_SECONDS;
  const v = option ?? (text !== undefined && text.trim() !== '' ? Number(text) : DEFAULT_CHECKPOINT_SECONDS);
  if (!(Number.isFinite(v) && v >= 0)) throw usageError(`${option !== undefined ? 'checkpointSeconds' : 'PARAGON_CHECKPOINT_SECONDS'} ${option ?? text}: expected seconds ≥ 0`);
  return v;
}

/** What `--report` writes for a video. */
export interface VideoReport {
  input: string;
  output: string;
  model: ModelInfo;
  device: string;
  /** 'auto' (per-pixel map, its ceiling is `up.historyWeight`) or the fixed weight in effect. */
  historyWeight: number | 'auto';
  codec: VideoCodec;
  /** Output frames (= input frames of the processed range). */
  frames: number;
  /** Frames per second of this run, end to end (resumed frames not counted). */
  fps: number;
  /** Source indices of the first frames of new shots. */
  sceneCuts: number[];
  /** Frames that started from no history after a cut or size change (not counting the first). */
  resets: number;
  /** Tiles rerun at fp32 because the fp16 output held NaN or Inf. */
  nanReruns: number;
  /** Busy seconds per stage (they overlap: the largest is the bottleneck); `mux` = the final join. */
  stages: { decode: number; infer: number; encode: number; mux: number };
  width: number;
  height: number;
  outputWidth: number;
  outputHeight: number;
  /** Source frame range processed, [from, to). */
  range: { from: number; to: number };
  /** Frames already done by an interrupted run this one resumed (0 for a fresh run). */
  resumedFrames: number;
  /** Source frames this run decoded (a resumed run replays the finished ones through the scene-cut detector). */
  decodedFrames: number;
  /** Frames this run sent through the model: with a resume, only those the checkpoint lacked. */
  inferredFrames: number;
  /** Frames of the interrupted segment encoded again from the checkpoint's lossless spool (inter codecs). */
  reencodedFrames: number;
  segments: number;
  elapsed: number;
  /** Farm runs (`--queue`): chunks, the coordinator's own work, and the frames run only to warm the state. */
  farm?: { chunks: number; planSeconds: number; joinSeconds: number; prerollFrames: number; workers: number };
}

/** `A:B` range of source frames, B exclusive (either side may be omitted). */
export function parseFrames(spec: string): { from: number; to: number | undefined } {
  const m = /^\s*(\d*)\s*:\s*(\d*)\s*$/.exec(spec);
  const from = m?.[1] ? Number(m[1]) : 0;
  const to = m?.[2] ? Number(m[2]) : undefined;
  if (!m || (to !== undefined && to <= from)) throw usageError(`--frames ${spec}: expected FROM:TO frame indices with FROM < TO (e.g. 0:100, 250:, :48)`);
  return { from, to };
}

/**
 * The output's extension and codec for a video job, checked before any work: the codec must fit
 * the container, and the output must not be the input (usage errors otherwise).
 */
export function videoTarget(opts: Pick<UpscaleJobOptions, 'input' | 'output' | 'codec'>): { ext: string; codec: VideoCodec } {
  const container = containerFor(opts.output);
  const ext = path.extname(opts.output).toLowerCase();
  const codec = opts.codec ?? container.defaultCodec;
  if (!container.video.includes(codec)) throw usageError(`--codec ${codec} cannot go into ${ext} (use ${container.video.join(', ')})`);
  if (path.resolve(opts.input) === path.resolve(opts.output)) throw usageError(`${opts.output}: the output would replace the input; choose another name`);
  return { ext, codec };
}

/** Upscale a video file (`opts.input`) into `opts.output`. */
export async function upscaleVideo(opts: UpscaleJobOptions): Promise<VideoReport> {
  const t0 = performance.now();
  const { input, output, signal } = opts;
  const { ext, codec } = videoTarget(opts);
  const range = opts.frames ?? { from: 0, to: undefined };
  const segmentFrames = opts.checkpoint ?? DEFAULT_SEGMENT_FRAMES;
  if (!(Number.isInteger(segmentFrames) && segmentFrames > 0)) throw usageError(`--checkpoint ${segmentFrames}: expected a frame count ≥ 1`);
  const commitMs = checkpointSeconds(opts.checkpointSeconds) * 1000;
  const hook = interruptHook();

  let progress: Progress | undefined;
  const seen = new Set<string>();
  const notice = (line: string): void => {
    if (seen.has(line)) return;
    seen.add(line);
    progress?.clear();
    opts.log?.(line);
  };
  const tools = locateFfmpeg({ ffmpeg: opts.ffmpeg });
  const info = await probeMedia(input, { tools, signal });
  if (info.video.nbFrames !== undefined && range.from >= info.video.nbFrames)
    throw usageError(`--frames ${range.from}:${range.to ?? ''}: ${input} has only ${info.video.nbFrames} frames`);

  const pool = new PlanePool();
  await using up = await openUpscaler(opts.model, {
    mode: 'video',
    historyWeight: opts.historyWeight ?? 'auto',
    fp16: opts.fp16 === true,
    device: opts.device ?? 'auto',
    cpu: opts.cpu ?? {},
    tile: opts.tile ?? 0,
    onNotice: notice,
    recycle: (b) => pool.give(b),
    // The depth decodeFrames gives this video (frameFormat), so the head does only that one.
    packedOutput: info.video.bitDepth > 8 ? 16 : 8,
  });
  // Sessions opened later (the fp32 rerun of an fp16 model, rare) inherit the lowered class.
  if (opts.favourModel) favourThreads(up.threads, opts.favourModel === 'nice' ? 'nice' : 'idle');
  if (signal?.aborted) throw new ParagonError('interrupted', 'stopped before the first frame', { file: output });
  const st = await stat(input);
  const identity: RunIdentity = {
    input: path.resolve(input),
    inputBytes: st.size,
    inputMtimeMs: st.mtimeMs,
    settings: {
      model: up.info.sha256 ?? up.info.file,
      precision: up.info.precision,
      historyWeight: up.auto ? 'auto' : up.historyWeight,
      tile: opts.tile ?? 0,
      codec,
      crf: opts.crf ?? null,
      preset: opts.preset ?? null,
      from: range.from,
      to: range.to ?? null,
    },
  };
  const cp = await Checkpoint.open(output, identity, { resume: opts.resume === true, segmentFrames, notice });
  await removeStalePartials(output);
  const run = new VideoRun(opts, { tools, info, up, cp, codec, range, ext, notice, pool, commitMs, hook });
  const sink = progressSink(opts);
  // The total for the bar and ETA: the container's frame count, else an estimate from the duration.
  const rate = info.video.avgFrameRate;
  const estimate = info.duration !== undefined && rate ? Math.round((info.duration * rate[0]) / rate[1]) : undefined;
  const expected = range.to !== undefined ? Math.min(range.to, info.video.nbFrames ?? estimate ?? range.to) : (info.video.nbFrames ?? estimate);
  progress = new Progress(sink, expected !== undefined ? expected - range.from : undefined, cp.framesDone);
  const stopping = (): void => progress?.stopping();
  signal?.addEventListener('abort', stopping, { once: true });
  try {
    await run.execute(progress);
  } catch (e) {
    progress.clear();
    await run.stop();
    // Work is kept when a rerun can finish it; an input that cannot be read never will.
    const worthless: number[] = [ExitCode.usage, ExitCode.model, ExitCode.media];
    const keep = cp.framesDone > 0 && !(e instanceof ParagonError && worthless.includes(e.code));
    if (keep) {
      if (!(e instanceof ParagonError && e.code === ExitCode.interrupted)) notice(`${cp.framesDone} finished frames kept in ${cp.dir}; rerun with --resume to continue`);
    } else await cp.remove();
    if (e instanceof ParagonError && e.code === ExitCode.interrupted)
      throw new ParagonError('interrupted', `stopped; ${cp.framesDone} frames saved in ${cp.dir}: rerun with --resume to continue`, { file: output });
    throw blameOutput(e, cp.dir, output);
  }
  const tMux = performance.now();
  await muxSegments(
    cp.segments.map((s) => ({ file: path.join(cp.dir, s.file), startUs: s.startUs })),
    output,
    {
      tools,
      source: info,
      ...(range.from > 0 || range.to !== undefined ? { excerpt: run.excerpt() } : {}),
      signal,
      notice,
      ...(hook?.join ? { onSpawn: () => hook.fire() } : {}),
    },
  ).catch((e: unknown) => {
    progress?.clear();
    if (e instanceof ParagonError && e.code === ExitCode.interrupted)
      throw new ParagonError('interrupted', `stopped while joining; every frame is saved in ${cp.dir}: rerun with --resume to finish`, { file: output });
    notice(`every frame is saved in ${cp.dir}; rerun with --resume to finish`);
    throw e;
  });
  signal?.removeEventListener('abort', stopping);
  const muxSeconds = (performance.now() - tMux) / 1000;
  await cp.remove();
  progress.end();

  const done = cp.framesDone;
  const elapsed = (performance.now() - t0) / 1000;
  const report: VideoReport = {
    input,
    output,
    model: up.info,
    device: up.device,
    historyWeight: up.auto ? 'auto' : up.historyWeight,
    codec,
    frames: done,
    fps: round((done - run.resumedFrames) / elapsed, 3),
    sceneCuts: run.sceneCuts,
    resets: up.stats.resets,
    nanReruns: up.stats.nanReruns,
    stages: { decode: round(run.decode.seconds, 3), infer: round(run.infer.seconds, 3), encode: round(run.encode.seconds, 3), mux: round(muxSeconds, 3) },
    width: info.video.width,
    height: info.video.height,
    outputWidth: info.video.width * up.info.scale,
    outputHeight: info.video.height * up.info.scale,
    range: { from: range.from, to: range.from + done },
    resumedFrames: run.resumedFrames,
    decodedFrames: run.decodedFrames,
    inferredFrames: run.inferredFrames,
    reencodedFrames: run.reencodedFrames,
    segments: cp.segments.length,
    elapsed: round(elapsed, 3),
  };
  opts.progress?.({ event: 'done', frames: report.frames, fps: report.fps, elapsed: report.elapsed });
  progressLines(opts)?.(`${output}: ${done} frames, ${report.outputWidth}x${report.outputHeight}, ${report.fps.toFixed(2)} fps, ${report.sceneCuts.length} scene cuts`);
  return report;
}

const round = (v: number, digits: number): number => Math.round(v * 10 ** digits) / 10 ** digits;

/**
 * An error about a segment file names the output instead (the user never asked for segments), and
 * ffmpeg running out of disk is a resources error (exit 6), not an ffmpeg one.
 */
function blameOutput(e: unknown, dir: string, output: string): unknown {
  if (!(e instanceof ParagonError) || e.file === undefined || !path.resolve(e.file).startsWith(dir + path.sep)) return e;
  const disk = /No space left on device|ENOSPC/i.test(e.message);
  const kind = disk ? 'resources' : ((Object.keys(ExitCode) as ExitCodeName[]).find((k) => ExitCode[k] === e.code) ?? 'internal');
  return new ParagonError(kind, e.message.slice(e.file.length + 2), { file: output, cause: e });
}
