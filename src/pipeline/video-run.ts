/**
 * The stage loop of one video run (fresh or resumed): decode and prepare frames a few ahead, run
 * them through the frame engine with the next one always queued, and pack and encode them behind
 * it into segments (segments.ts) that close, and commit a checkpoint, in the background.
 *
 * Commit points (resume.ts): a segment's last frame; the first frame after `commitMs` of work
 * since the last commit point; and a stop (the run's AbortSignal: Ctrl+C, SIGTERM, SIGHUP). A stop
 * lets no new frame into the model, finishes the frames already in it, writes them, closes what
 * they went to at the last one and commits; then the run ends with `interrupted`.
 */
import path from 'node:path';
import { ParagonError } from '../errors.ts';
import { SceneCutDetector } from '../temporal/scene-cut.ts';
import type { PackedFrame, TemporalUpscaler, UpscalerSnapshot } from '../temporal/upscaler.ts';
import type { VideoCodec } from '../video/containers.ts';
import { decodeFrames, type FrameStream } from '../video/decode.ts';
import type { FfmpegTools } from '../video/ffmpeg.ts';
import { framePlanes } from '../video/frame.ts';
import type { MediaInfo } from '../video/probe.ts';
import type { UpscaleJobOptions } from './job.ts';
import type { Progress } from './progress.ts';
import type { Checkpoint } from './resume.ts';
import { intraOnly, segmentEncoding, SegmentWriter } from './segments.ts';
import { ahead, StageClock, yieldToQueued, type PlanePool } from './stages.ts';
import type { InterruptHook } from './test-hook.ts';

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
  /** Last frame of the range. */
  end: boolean;
  /** A commit point inside a segment (time, or a stop): a checkpoint is committed after it. */
  commit: boolean;
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
  /** Work (ms) after which the next frame is a commit point. */
  readonly commitMs: number;
  readonly hook?: InterruptHook | undefined;
}

/** The stage loop of one run (fresh or resumed) and its bookkeeping. */
export class VideoRun {
  readonly decode = new StageClock();
  readonly infer = new StageClock();
  readonly encode = new StageClock();
  readonly resumedFrames: number;
  /** Source frames decoded by this run (finished ones replayed through the scene-cut detector included). */
  decodedFrames = 0;
  /** Frames this run sent through the model. */
  inferredFrames = 0;
  /** Frames of an open segment encoded again from the checkpoint's lossless spool. */
  reencodedFrames = 0;
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
  #writer: SegmentWriter | undefined;
  /** Number of the next segment file. */
  #nextSegment: number;
  /** Segments closing and spool parts finishing in the background, committed in order; the first failure is kept. */
  #closing: Promise<void> = Promise.resolve();
  #closeError: { error: unknown } | undefined;
  /** Commits queued on #closing and not done yet. */
  #commitsPending = 0;
  /** Told to stop (see the module comment). */
  #stopped = false;

  constructor(opts: UpscaleJobOptions, c: RunContext) {
    this.#opts = opts;
    this.#c = c;
    this.resumedFrames = c.cp.framesDone;
    const carried = c.cp.carried;
    this.#cuts = carried?.sceneCuts ?? [];
    this.#shift = carried?.shift ?? 0;
    this.#firstPts = carried?.firstPts;
    this.#lastPts = carried?.lastPts;
    this.#nextSegment = c.cp.segments.length;
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

  /** Run every remaining frame through the stages and close the last segment; a stop ends with `interrupted` once committed. */
  async execute(progress: Progress): Promise<void> {
    const { info, up, cp, range } = this.#c;
    // Stopped during the join: every frame is in the checkpoint.
    if (cp.complete) return;
    const snap = await cp.snapshot();
    if (snap) {
      // A state of another shape (a checkpoint of an older version, whose auto carried features)
      // cannot continue; the finished frames are kept and the history restarts, as at a cut.
      if (up.fits(snap)) up.restore(snap);
      else {
        up.restore({ ...snap, state: undefined, weights: undefined });
        this.#c.notice(`${cp.dir}: the saved temporal state does not fit this version's model (written by an older paragon?); keeping the ${cp.framesDone} finished frames, the history restarts there`);
      }
      if (cp.device !== undefined && cp.device !== up.device) this.#c.notice(`the interrupted run used ${cp.device}, this one ${up.device}: frames may differ slightly at the seam`);
    }
    // Planar: the model wants planes, and ffmpeg makes them for a quarter of the cost of packed.
    // No signal: a stop ends the decoding here (#prepared), between frames.
    this.#frames = decodeFrames(info.file, { tools: this.#c.tools, info, layout: 'gbrp', ...(range.to !== undefined ? { maxFrames: range.to } : {}) });
    const fmt = await this.#frames.frameFormat();
    this.#bitDepth = fmt.bitDepth;
    const intra = intraOnly(this.#c.codec);
    for await (const item of ahead(this.#inferred(ahead(this.#prepared(), 3)), 2)) {
      this.#failIfClosingFailed();
      await yieldToQueued();
      const t = performance.now();
      const out = item.out!;
      this.#writer ??= await this.#openWriter(item, out.width, out.height);
      this.#firstPts ??= item.pts;
      this.#lastPts = item.pts;
      await this.#writer.write({ pts: item.pts - this.#shift, data: out.data }, item.index);
      // Written (the pipe has it): the buffer goes round again for a later frame (see #inferred).
      const used = out.data.buffer as ArrayBuffer;
      if (out.data.byteOffset === 0 && out.data.byteLength === used.byteLength && this.#spare.length < 4) this.#spare.push(used);
      // Intra-only codecs close the file at any commit point; the others cut their spool.
      if (item.last || (item.commit && intra)) this.#closeSegment(item);
      else if (item.commit) this.#cutSpool(item);
      this.encode.add(performance.now() - t);
      progress.tick();
      if (this.#c.hook?.frame === item.index - range.from) this.#c.hook.fire();
    }
    const t = performance.now();
    await this.#closing;
    this.encode.add(performance.now() - t);
    this.#failIfClosingFailed();
    if (this.#stopped) throw new ParagonError('interrupted', 'stopped', { file: info.file });
    if (this.#writer) throw new ParagonError('internal', 'the last segment was not closed');
    if (cp.framesDone === 0) throw new ParagonError('media', `no frames in the range ${range.from}:${range.to ?? ''}`, { file: info.file });
  }

  /** Start the segment `item` opens, or continue the checkpoint's open one (its spool encoded first). */
  async #openWriter(item: Item, width: number, height: number): Promise<SegmentWriter> {
    const { cp, info, codec, tools } = this.#c;
    const open = this.#nextSegment === cp.segments.length ? cp.openSegment : undefined;
    const preload = open?.parts ?? [];
    const w = await SegmentWriter.open({
      dir: cp.dir,
      file: cp.segmentName(this.#nextSegment++, this.#c.ext),
      first: open?.first ?? item.index,
      tools,
      encoder: segmentEncoding(info, { width, height, bitDepth: this.#bitDepth, codec, crf: this.#opts.crf, preset: this.#opts.preset, notice: this.#c.notice }),
      ...(intraOnly(codec) ? {} : { spool: { name: (first: number) => cp.spoolName(first), preload } }),
    });
    this.reencodedFrames += w.reencoded;
    return w;
  }

  /** Totals up to `item` for its commit. */
  #totals(item: Item): { sceneCuts: number[]; shift: number; firstPts: number | undefined; lastPts: number | undefined } {
    return { sceneCuts: this.#cuts.filter((c) => c <= item.index), shift: this.#shift, firstPts: this.#firstPts, lastPts: this.#lastPts };
  }

  /** Close the segment at `item` in the background: finish its file, then commit the checkpoint. */
  #closeSegment(item: Item): void {
    const w = this.#writer!;
    this.#writer = undefined;
    const { cp, up } = this.#c;
    const totals = this.#totals(item);
    this.#commitsPending++;
    this.#closing = this.#closing.then(async () => {
      try {
        if (this.#closeError) return await w.abort();
        const segment = await w.finish();
        await cp.commit({ segment, complete: item.end }, item.snap!, totals, up.device);
      } catch (error) {
        this.#closeError ??= { error };
      } finally {
        this.#commitsPending--;
      }
    });
  }

  /** Commit the open segment's frames up to `item` (its spool part) in the background; the encode goes on. */
  #cutSpool(item: Item): void {
    const part = this.#writer!.cutSpool();
    if (!part) return;
    const { cp, up } = this.#c;
    const totals = this.#totals(item);
    const segmentFirst = this.#writer!.first;
    this.#commitsPending++;
    this.#closing = this.#closing.then(async () => {
      try {
        const p = await part;
        if (!this.#closeError) await cp.commit({ part: p, segmentFirst }, item.snap!, totals, up.device);
      } catch (error) {
        this.#closeError ??= { error };
      } finally {
        this.#commitsPending--;
      }
    });
  }

  #failIfClosingFailed(): void {
    if (this.#closeError) throw this.#closeError.error;
  }

  /** True once the run was told to stop. */
  #stopping(): boolean {
    if (this.#opts.signal?.aborted) this.#stopped = true;
    return this.#stopped;
  }

  /** After a failure or a stop: drop the open segment (what of it counts is committed), let closing ones finish and commit. */
  async stop(): Promise<void> {
    await this.#writer?.abort();
    this.#writer = undefined;
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
      this.decodedFrames++;
      // Stopped: no new frame for the model (those before it are finished and committed).
      if (this.#stopping()) return;
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
      const item: Item = { index: f.index, pts: f.pts, width: f.width, height: f.height, rgb: framePlanes(f, this.#c.pool.take(3 * f.width * f.height)), cut: d.cut, last: false, end: false, commit: false };
      this.#frames!.recycle(f.data);
      item.end = range.to !== undefined && f.index === range.to - 1;
      item.last = (f.index + 1 - range.from) % cp.segmentFrames === 0 || item.end;
      this.decode.add(performance.now() - t);
      if (held) yield held;
      held = item;
      t = performance.now();
    }
    if (held && !this.#stopping()) {
      held.last = held.end = true;
      yield held;
    }
  }

  /**
   * Run prepared frames through the model, two in flight so the worker always has the next frame
   * queued. At a commit point (a segment's last frame, or the first after `commitMs`) the pipeline
   * drains and the upscaler's position is taken (before the next frame changes it) for the
   * checkpoint. A stop lets no further frame in: those in flight are finished, and the last of
   * them becomes a commit point.
   */
  async *#inferred(src: AsyncIterable<Item>): AsyncGenerator<Item> {
    const { up } = this.#c;
    const pending: { item: Item; out: Promise<PackedFrame> }[] = [];
    let lastDone = performance.now();
    let lastCommit = performance.now();
    for await (const item of src) {
      if (this.#stopping()) break;
      // Not while a commit is still being written: a slow disk must not make them pile up.
      if (!item.last && this.#commitsPending === 0 && performance.now() - lastCommit >= this.#c.commitMs) item.commit = true;
      this.inferredFrames++;
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
      const point = item.last || item.commit;
      if (point) {
        await out;
        item.snap = await up.snapshot();
        lastCommit = performance.now();
      }
      while (pending.length >= (point ? 1 : 2)) {
        const p = pending.shift()!;
        p.item.out = await p.out;
        yield p.item;
      }
    }
    const final = pending.at(-1)?.item;
    if (final && this.#stopped && !final.last) {
      await Promise.all(pending.map((p) => p.out));
      final.commit = true;
      final.snap = await up.snapshot();
    }
    for (const p of pending) {
      p.item.out = await p.out;
      yield p.item;
    }
  }
}
