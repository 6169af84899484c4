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
import { ExitCode, ParagonError, usageError } from '../errors.ts';
import type { ModelInfo } from '../runtime/model-info.ts';
import { openUpscaler } from '../temporal/open.ts';
import { packedFromPlanar } from '../temporal/planes.ts';
import { SceneCutDetector } from '../temporal/scene-cut.ts';
import type { PlanarFrame, TemporalUpscaler, UpscalerSnapshot } from '../temporal/upscaler.ts';
import { containerFor, type VideoCodec } from '../video/containers.ts';
import { decodeFrames, type FrameStream } from '../video/decode.ts';
import { createEncoder, type VideoEncoder } from '../video/encode.ts';
import { locateFfmpeg, type FfmpegTools } from '../video/ffmpeg.ts';
import { framePlanes } from '../video/frame.ts';
import { probeMedia, type MediaInfo } from '../video/probe.ts';
import type { UpscaleJobOptions } from './job.ts';
import { muxSegments, startTimeUs } from './mux.ts';
import { Progress, type ProgressSink } from './progress.ts';
import { Checkpoint, type RunIdentity } from './resume.ts';
import { ahead, StageClock, yieldToQueued } from './stages.ts';

/** Extensions treated as video (case-insensitive). */
export const VIDEO_EXTENSIONS = ['.mp4', '.mkv', '.mov', '.webm', '.avi', '.m4v', '.ts', '.mts', '.m2ts', '.y4m', '.gif'] as const;

/** True for a path with a video extension. */
export const isVideoPath = (file: string): boolean =>
  (VIDEO_EXTENSIONS as readonly string[]).includes(path.extname(file).toLowerCase());

/** Frames per resumable segment when `--checkpoint` is not given. */
export const DEFAULT_SEGMENT_FRAMES = 240;

/** What `--report` writes for a video. */
export interface VideoReport {
  input: string;
  output: string;
  model: ModelInfo;
  device: string;
  historyWeight: number;
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
  segments: number;
  elapsed: number;
}

/** One prepared frame on its way through the stages. */
interface Item {
  readonly index: number;
  readonly pts: number;
  readonly width: number;
  readonly height: number;
  readonly rgb: Float32Array;
  readonly cut: boolean;
  /** Last frame of its segment: the encoder closes and a checkpoint is committed after it. */
  last: boolean;
  out?: PlanarFrame;
  snap?: UpscalerSnapshot;
}

/** `A:B` range of source frames, B exclusive (either side may be omitted). */
export function parseFrames(spec: string): { from: number; to: number | undefined } {
  const m = /^\s*(\d*)\s*:\s*(\d*)\s*$/.exec(spec);
  const from = m?.[1] ? Number(m[1]) : 0;
  const to = m?.[2] ? Number(m[2]) : undefined;
  if (!m || (to !== undefined && to <= from)) throw usageError(`--frames ${spec}: expected FROM:TO frame indices with FROM < TO (e.g. 0:100, 250:, :48)`);
  return { from, to };
}

/** Upscale a video file (`opts.input`) into `opts.output`. */
export async function upscaleVideo(opts: UpscaleJobOptions): Promise<VideoReport> {
  const t0 = performance.now();
  const { input, output, signal } = opts;
  const container = containerFor(output);
  const ext = path.extname(output).toLowerCase();
  const codec = opts.codec ?? container.defaultCodec;
  if (!container.video.includes(codec)) throw usageError(`--codec ${codec} cannot go into ${ext} (use ${container.video.join(', ')})`);
  if (path.resolve(input) === path.resolve(output)) throw usageError(`${output}: the output would replace the input; choose another name`);
  const range = opts.frames ?? { from: 0, to: undefined };
  const segmentFrames = opts.checkpoint ?? DEFAULT_SEGMENT_FRAMES;
  if (!(Number.isInteger(segmentFrames) && segmentFrames > 0)) throw usageError(`--checkpoint ${segmentFrames}: expected a frame count ≥ 1`);

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
    throw usageError(`--frames ${range.from}:: ${input} has only ${info.video.nbFrames} frames`);

  await using up = await openUpscaler(opts.model, {
    mode: 'video',
    historyWeight: opts.historyWeight ?? 0.2,
    fp16: opts.fp16 === true,
    device: opts.device ?? 'auto',
    cpu: opts.cpu ?? {},
    tile: opts.tile ?? 0,
    onNotice: notice,
  });
  const st = await stat(input);
  const identity: RunIdentity = {
    input: path.resolve(input),
    inputBytes: st.size,
    inputMtimeMs: st.mtimeMs,
    settings: {
      model: up.info.sha256 ?? up.info.file,
      precision: up.info.precision,
      historyWeight: up.historyWeight,
      tile: opts.tile ?? 0,
      codec,
      crf: opts.crf ?? null,
      preset: opts.preset ?? null,
      from: range.from,
      to: range.to ?? null,
    },
  };
  const cp = await Checkpoint.open(output, identity, { resume: opts.resume === true, segmentFrames, notice });
  const run = new VideoRun(opts, { tools, info, up, cp, codec, range, ext, notice });
  const sink: ProgressSink = opts.progress
    ? { mode: 'json', json: opts.progress }
    : opts.bar
      ? { mode: 'bar', text: opts.bar }
      : { mode: opts.log ? 'lines' : 'none', text: (t) => opts.log?.(t.replace(/^paragon: |\n$/g, '')) };
  const expected = range.to ?? info.video.nbFrames;
  progress = new Progress(sink, expected !== undefined ? expected - range.from : undefined, cp.framesDone);
  try {
    await run.execute(progress);
  } catch (e) {
    progress.clear();
    await run.stop();
    // Work is kept when a rerun can finish it; an input that cannot be read never will.
    const worthless: number[] = [ExitCode.usage, ExitCode.model, ExitCode.media];
    const keep = cp.segments.length > 0 && !(e instanceof ParagonError && worthless.includes(e.code));
    if (keep) {
      if (!(e instanceof ParagonError && e.code === ExitCode.interrupted)) notice(`${cp.framesDone} finished frames kept in ${cp.dir}; rerun with --resume to continue`);
    } else await cp.remove();
    if (e instanceof ParagonError && e.code === ExitCode.interrupted)
      throw new ParagonError('interrupted', `stopped; ${cp.framesDone} frames saved in ${cp.dir}: rerun with --resume to continue`, { file: output });
    throw e;
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
    },
  ).catch(async (e: unknown) => {
    if (e instanceof ParagonError && e.code === ExitCode.interrupted)
      throw new ParagonError('interrupted', `stopped while joining; every frame is saved in ${cp.dir}: rerun with --resume to finish`, { file: output });
    throw e;
  });
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
    historyWeight: up.historyWeight,
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
    segments: cp.segments.length,
    elapsed: round(elapsed, 3),
  };
  opts.progress?.({ event: 'done', frames: report.frames, fps: report.fps, elapsed: report.elapsed });
  if (!opts.progress) opts.log?.(`${output}: ${done} frames, ${report.outputWidth}x${report.outputHeight}, ${report.fps.toFixed(2)} fps, ${report.sceneCuts.length} scene cuts`);
  return report;
}

const round = (v: number, digits: number): number => Math.round(v * 10 ** digits) / 10 ** digits;

/** Context of one video run. */
interface RunContext {
  readonly tools: FfmpegTools;
  readonly info: MediaInfo;
  readonly up: TemporalUpscaler;
  readonly cp: Checkpoint;
  readonly codec: VideoCodec;
  readonly range: { readonly from: number; readonly to: number | undefined };
  readonly ext: string;
  readonly notice: (line: string) => void;
}

/** The stage loop of one run (fresh or resumed) and its bookkeeping. */
class VideoRun {
  readonly decode = new StageClock();
  readonly infer = new StageClock();
  readonly encode = new StageClock();
  readonly resumedFrames: number;
  readonly #opts: UpscaleJobOptions;
  readonly #c: RunContext;
  readonly #cuts: number[];
  #shift: number;
  #firstPts: number | undefined;
  #lastPts: number | undefined;
  #frames: FrameStream | undefined;
  #encoder: VideoEncoder | undefined;
  /** Segments closing in the background, committed in order; the first failure is kept. */
  #closing: Promise<void> = Promise.resolve();
  #closeError: { error: unknown } | undefined;

  constructor(opts: UpscaleJobOptions, c: RunContext) {
    this.#opts = opts;
    this.#c = c;
    this.resumedFrames = c.cp.framesDone;
    const carried = c.cp.carried;
    this.#cuts = carried?.sceneCuts ?? [];
    this.#shift = carried?.shift ?? 0;
    this.#firstPts = carried?.firstPts;
    this.#lastPts = carried?.lastPts;
  }

  /** Scene cuts found (source indices, sorted). */
  get sceneCuts(): number[] {
    return [...this.#cuts];
  }

  /** The excerpt's source time span and shift, for the join. */
  excerpt(): { from: number; to: number | undefined; shift: number } {
    const to = this.#c.range.to !== undefined && this.#lastPts !== undefined ? this.#lastPts + this.#frameStep() : undefined;
    return { from: this.#firstPts ?? 0, to, shift: this.#shift };
  }

  /** Nominal frame duration (for the end of an excerpt's audio). */
  #frameStep(): number {
    const r = this.#c.info.video.avgFrameRate ?? this.#c.info.video.rFrameRate;
    return r ? r[1] / r[0] : 1 / 25;
  }

  /** Run every remaining frame through the stages and close the last segment. */
  async execute(progress: Progress): Promise<void> {
    const { info, up, cp, range } = this.#c;
    const snap = await cp.snapshot();
    if (snap) {
      up.restore(snap);
      if (cp.device !== undefined && cp.device !== up.device) this.#c.notice(`the interrupted run used ${cp.device}, this one ${up.device}: frames may differ slightly at the seam`);
    }
    this.#frames = decodeFrames(info.file, { tools: this.#c.tools, info, signal: this.#opts.signal, ...(range.to !== undefined ? { maxFrames: range.to } : {}) });
    const fmt = await this.#frames.frameFormat();
    let k = cp.segments.length;
    for await (const item of ahead(this.#inferred(ahead(this.#prepared(), 3)), 2)) {
      this.#failIfClosingFailed();
      await yieldToQueued();
      const t = performance.now();
      const out = item.out!;
      this.#encoder ??= await createEncoder(path.join(cp.dir, cp.segmentName(k, this.#c.ext)), {
        tools: this.#c.tools,
        width: out.width,
        height: out.height,
        bitDepth: fmt.bitDepth,
        codec: this.#c.codec,
        crf: this.#opts.crf,
        preset: this.#opts.preset,
        source: info,
        audio: false,
        subtitles: false,
        // Frames come out upright: a sideways source's pixel aspect turns with them.
        sar: info.video.rotation % 180 === 90 ? [info.video.sar[1], info.video.sar[0]] : info.video.sar,
        onNotice: this.#c.notice,
      });
      this.#firstPts ??= item.pts;
      this.#lastPts = item.pts;
      await this.#encoder.write({ pts: item.pts - this.#shift, data: packedFromPlanar(out.rgb, out.width, out.height, fmt.bitDepth) });
      if (item.last) this.#close(this.#encoder, k++, item);
      this.encode.add(performance.now() - t);
      progress.tick();
    }
    if (this.#encoder) throw new ParagonError('internal', 'the last segment was not closed');
    const t = performance.now();
    await this.#closing;
    this.encode.add(performance.now() - t);
    this.#failIfClosingFailed();
    if (cp.segments.length === 0) throw new ParagonError('media', `no frames in the range ${range.from}:${range.to ?? ''}`, { file: info.file });
  }

  /** Close a finished segment in the background: finish its file, then commit the checkpoint. */
  #close(enc: VideoEncoder, k: number, item: Item): void {
    this.#encoder = undefined;
    const { cp, tools, up } = this.#c;
    const name = cp.segmentName(k, this.#c.ext);
    const totals = { sceneCuts: this.#cuts.filter((c) => c <= item.index), shift: this.#shift, firstPts: this.#firstPts, lastPts: this.#lastPts };
    const frames = enc.frames;
    const first = item.index + 1 - frames;
    this.#closing = this.#closing.then(async () => {
      if (this.#closeError) return enc.abort();
      try {
        await enc.finish();
        const startUs = await startTimeUs(tools, path.join(cp.dir, name));
        await cp.commit({ file: name, first, frames, startUs }, item.snap!, totals, up.device);
      } catch (error) {
        this.#closeError ??= { error };
      }
    });
  }

  #failIfClosingFailed(): void {
    if (this.#closeError) throw this.#closeError.error;
  }

  /** After a failure or Ctrl+C: drop the open segment, let closing ones finish and commit. */
  async stop(): Promise<void> {
    await this.#encoder?.abort();
    this.#encoder = undefined;
    await this.#closing;
    await this.#frames?.close();
  }

  /**
   * Decode and prepare frames: skip those before the range, replay those a resumed run already
   * finished through the scene-cut detector (so it is in the state the interrupted run left it),
   * and detect cuts on the rest. Each frame is held until the next one arrives, so the last frame
   * of the video is known to close its segment.
   */
  async *#prepared(): AsyncGenerator<Item> {
    const { cp, range } = this.#c;
    const detector = new SceneCutDetector();
    const resumeAt = range.from + cp.framesDone;
    const replayed: number[] = [];
    let held: Item | undefined;
    let pts0 = 0;
    let t = performance.now();
    for await (const f of this.#frames!) {
      if (f.index === 0) pts0 = f.pts;
      if (f.index < range.from) continue;
      // An excerpt starts where the source starts.
      if (f.index === range.from && cp.framesDone === 0) this.#shift = f.pts - pts0;
      const d = detector.push(f);
      if (f.index < resumeAt) {
        if (d.cut) replayed.push(f.index);
        if (f.index === resumeAt - 1 && replayed.join() !== this.#cuts.filter((c) => c < resumeAt).join())
          this.#c.notice(`scene cuts of the finished part differ from the interrupted run's (${replayed.join(', ') || 'none'}); continuing`);
        continue;
      }
      if (d.cut) this.#cuts.push(f.index);
      const item: Item = { index: f.index, pts: f.pts, width: f.width, height: f.height, rgb: framePlanes(f), cut: d.cut, last: false };
      item.last = (f.index + 1 - range.from) % cp.segmentFrames === 0 || (range.to !== undefined && f.index === range.to - 1);
      this.decode.add(performance.now() - t);
      if (held) yield held;
      held = item;
      t = performance.now();
    }
    if (held) {
      held.last = true;
      yield held;
    }
  }

  /**
   * Run prepared frames through the model, two in flight so the worker always has the next frame
   * queued. At a segment's last frame the pipeline drains and the upscaler's position is taken
   * (before the next frame changes it) for the checkpoint.
   */
  async *#inferred(src: AsyncIterable<Item>): AsyncGenerator<Item> {
    const { up } = this.#c;
    const pending: { item: Item; out: Promise<PlanarFrame> }[] = [];
    let lastDone = performance.now();
    for await (const item of src) {
      const called = performance.now();
      const out = up.process({ width: item.width, height: item.height, rgb: item.rgb }, { cut: item.cut }).then((o) => {
        const now = performance.now();
        this.infer.add(now - Math.max(called, lastDone));
        lastDone = now;
        return o;
      });
      out.catch(() => undefined);
      pending.push({ item, out });
      if (item.last) {
        await out;
        item.snap = up.snapshot();
      }
      while (pending.length >= (item.last ? 1 : 2)) {
        const p = pending.shift()!;
        p.item.out = await p.out;
        yield p.item;
      }
    }
    for (const p of pending) {
      p.item.out = await p.out;
      yield p.item;
    }
  }
}
