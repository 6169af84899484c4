/**
 * The stage loop of one video run (fresh or resumed): decode and prepare frames a few ahead, run
 * them through the frame engine with the next one always queued, and pack and encode them behind
 * it into segments that close (and commit a checkpoint) in the background.
 */
import path from 'node:path';
import { ParagonError } from '../errors.ts';
import { SceneCutDetector } from '../temporal/scene-cut.ts';
import type { PackedFrame, TemporalUpscaler, UpscalerSnapshot } from '../temporal/upscaler.ts';
import type { VideoCodec } from '../video/containers.ts';
import { decodeFrames, type FrameStream } from '../video/decode.ts';
import { createEncoder, type VideoEncoder } from '../video/encode.ts';
import type { FfmpegTools } from '../video/ffmpeg.ts';
import { framePlanes } from '../video/frame.ts';
import type { MediaInfo } from '../video/probe.ts';
import type { UpscaleJobOptions } from './job.ts';
import { startTimeUs } from './mux.ts';
import type { Progress } from './progress.ts';
import type { Checkpoint } from './resume.ts';
import { ahead, StageClock, yieldToQueued, type PlanePool } from './stages.ts';

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
  out?: PackedFrame;
  snap?: UpscalerSnapshot;
}

/** What a run works with. */
export interface RunContext {
  readonly tools: FfmpegTools;
  readonly info: MediaInfo;
  readonly up: TemporalUpscaler;
  readonly cp: Checkpoint;
  readonly codec: VideoCodec;
  readonly range: { readonly from: number; readonly to: number | undefined };
  readonly ext: string;
  readonly notice: (line: string) => void;
  /** Where frame planes come from and go back to (the upscaler recycles them into it). */
  readonly pool: PlanePool;
}

/** The stage loop of one run (fresh or resumed) and its bookkeeping. */
export class VideoRun {
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
  /** Sample depth of the decoded frames, and so of the packed frames the encoder gets. */
  #bitDepth: 8 | 16 = 8;
  /**
   * Packed frames already written, lent back to the graph for the next ones: without them every
   * frame brings the main thread megabytes of new memory, and with them the garbage collector's
   * full collections (measured on 240 frames at 640×360: 52 of them on this thread without,
   * 31 with; the GC pauses of both threads 1.2 s without, 0.8 s with).
   */
  readonly #spare: ArrayBuffer[] = [];
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
    // Planar: the model wants planes, and ffmpeg makes them for a quarter of the cost of packed.
    this.#frames = decodeFrames(info.file, { tools: this.#c.tools, info, signal: this.#opts.signal, layout: 'gbrp', ...(range.to !== undefined ? { maxFrames: range.to } : {}) });
    const fmt = await this.#frames.frameFormat();
    this.#bitDepth = fmt.bitDepth;
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
      await this.#encoder.write({ pts: item.pts - this.#shift, data: out.data });
      // Written (the pipe has it): the buffer goes round again for a later frame (see #inferred).
      const used = out.data.buffer as ArrayBuffer;
      if (out.data.byteOffset === 0 && out.data.byteLength === used.byteLength && this.#spare.length < 4) this.#spare.push(used);
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
      if (f.index < range.from) {
        this.#frames!.recycle(f.data);
        continue;
      }
      // An excerpt starts where the source starts.
      if (f.index === range.from && cp.framesDone === 0) this.#shift = f.pts - pts0;
      const d = detector.push(f);
      if (f.index < resumeAt) {
        if (d.cut) replayed.push(f.index);
        if (f.index === resumeAt - 1 && replayed.join() !== this.#cuts.filter((c) => c < resumeAt).join())
          this.#c.notice(`scene cuts of the finished part differ from the interrupted run's (${replayed.join(', ') || 'none'}); continuing`);
        this.#frames!.recycle(f.data);
        continue;
      }
      if (d.cut) this.#cuts.push(f.index);
      const item: Item = { index: f.index, pts: f.pts, width: f.width, height: f.height, rgb: framePlanes(f, this.#c.pool.take(3 * f.width * f.height)), cut: d.cut, last: false };
      this.#frames!.recycle(f.data);
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
    const pending: { item: Item; out: Promise<PackedFrame> }[] = [];
    let lastDone = performance.now();
    for await (const item of src) {
      const called = performance.now();
      // Packed by the graph itself where it can (no float frame on this thread).
      const into = this.#spare.pop();
      const out = up.processPacked({ width: item.width, height: item.height, rgb: item.rgb }, this.#bitDepth, { cut: item.cut, take: true, ...(into ? { into } : {}) }).then((o) => {
        const now = performance.now();
        this.infer.add(now - Math.max(called, lastDone));
        lastDone = now;
        return o;
      });
      out.catch(() => undefined);
      pending.push({ item, out });
      if (item.last) {
        await out;
        item.snap = await up.snapshot();
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
