/**
 * One chunk of a farm job, run on a worker: decode the chunk's frames (seeking near it rather
 * than decoding the video from the start), run them through the model with the planned cuts,
 * the pre-roll frames first and discarded, and encode the rest into the chunk's own file, which
 * starts on a keyframe and carries the source's timestamps. The file appears under its name only
 * when complete, and a small `.done.json` beside it then records it: the storage, not Redis, is
 * where finished work is known, so a chunk run twice (BullMQ runs jobs at least once) or a Redis
 * that lost its data costs nothing but the re-check.
 *
 * The frames reaching the encoder are made exactly as the single-machine pipeline makes them
 * (same decoder settings, planes, frame engine, packing and encoder settings), so a chunk that
 * starts at a scene cut holds the single-machine run's frames.
 */
import { createHash } from 'node:crypto';
import { readFile, rename, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { ParagonError, mediaError, modelError } from '../errors.ts';
import type { CpuOptions, DeviceRequest } from '../runtime/devices.ts';
import { bundledModelFile } from '../runtime/model.ts';
import { openUpscaler } from '../temporal/open.ts';
import type { PackedFrame, TemporalUpscaler } from '../temporal/upscaler.ts';
import { decodeFrames, type Frame } from '../video/decode.ts';
import { createEncoder, type VideoEncoder } from '../video/encode.ts';
import type { FfmpegTools } from '../video/ffmpeg.ts';
import { framePlanes } from '../video/frame.ts';
import { probeMedia, type MediaInfo } from '../video/probe.ts';
import { startTimeUs } from '../pipeline/mux.ts';
import { segmentEncoding } from '../pipeline/segments.ts';
import { ahead, PlanePool } from '../pipeline/stages.ts';
import type { ChunkSpec, FarmPlan } from './plan.ts';
import { RefusedPath, type Storage } from './storage.ts';

/** A finished chunk, as its `.done.json` records it. */
export interface ChunkResult {
  /** File name inside the job folder. */
  readonly file: string;
  readonly frames: number;
  /** Start time of the file as ffmpeg's demuxer reads it (µs), for the exact join. */
  readonly startUs: number | null;
  /** Frames decoded for it (the seek's lead-in included) and run through the model (pre-roll included). */
  readonly decoded: number;
  readonly inferred: number;
}

/** What a run did: the chunk, and whether it was found finished (nothing run this time). */
export interface ChunkWork extends ChunkResult {
  readonly reused: boolean;
}

/** Options of {@link runChunk}. */
export interface ChunkRunOptions {
  readonly tools: FfmpegTools;
  readonly device?: DeviceRequest;
  readonly cpu?: CpuOptions;
  readonly signal?: AbortSignal | undefined;
  /** Frames of the chunk encoded so far (called after each). */
  readonly progress?: (done: number) => void;
  readonly notice?: (line: string) => void;
  /** Upscalers kept open between chunks (a worker's); without it each chunk opens its own. */
  readonly upscalers?: UpscalerCache;
}

/** An open upscaler and the pool its frames' planes come back to. */
interface Engine {
  readonly up: TemporalUpscaler;
  readonly pool: PlanePool;
}

/**
 * Upscalers a worker keeps open between chunks of the same model and settings: loading a model
 * (building the graph, starting ORT, its first runs) costs a second or two a chunk otherwise. A
 * chunk starts from no history whatever ran before (its first frame is run as a cut), so reuse
 * changes no frame.
 */
export class UpscalerCache implements AsyncDisposable {
  readonly #idle = new Map<string, Engine[]>();
  readonly #keep: number;

  /** Keep at most `keep` idle upscalers (a worker's concurrency). */
  constructor(keep = 1) {
    this.#keep = keep;
  }

  /** An idle upscaler of `key`, or a new one from `open`. */
  async take(key: string, open: (pool: PlanePool) => Promise<TemporalUpscaler>): Promise<Engine> {
    return this.#idle.get(key)?.pop() ?? (await fresh(open));
  }

  /** Return an upscaler after a chunk (closed when more than `keep` are idle). */
  async give(key: string, e: Engine): Promise<void> {
    const idle = [...this.#idle.values()].reduce((n, l) => n + l.length, 0);
    if (idle >= this.#keep) {
      // Make room: the oldest settings go first.
      const [oldKey, list] = this.#idle.entries().next().value ?? [];
      const old = list?.shift();
      if (list?.length === 0) this.#idle.delete(oldKey!);
      await old?.up.close();
    }
    this.#idle.set(key, [...(this.#idle.get(key) ?? []), e]);
  }

  async [Symbol.asyncDispose](): Promise<void> {
    for (const list of this.#idle.values()) for (const e of list) await e.up.close();
    this.#idle.clear();
  }
}

/** File name of chunk `i`. */
export const chunkName = (i: number, ext: string): string => `chunk-${String(i).padStart(6, '0')}${ext}`;

const doneName = (i: number): string => `chunk-${String(i).padStart(6, '0')}.done.json`;

/** The chunk's record when it is finished (its file present, of the recorded size), else undefined. */
export async function finishedChunk(dir: string, plan: FarmPlan, chunk: ChunkSpec): Promise<ChunkResult | undefined> {
  const text = await readFile(path.join(dir, doneName(chunk.index)), 'utf8').catch(() => undefined);
  if (text === undefined) return undefined;
  try {
    const r = JSON.parse(text) as { plan?: unknown; frames?: unknown; startUs?: unknown; bytes?: unknown; file?: unknown; decoded?: unknown; inferred?: unknown };
    const file = chunkName(chunk.index, plan.ext);
    if (r.plan !== plan.id || r.frames !== chunk.frames || r.file !== file) return undefined;
    if (!(r.startUs === null || Number.isInteger(r.startUs))) return undefined;
    const count = (v: unknown): number => (Number.isInteger(v) ? (v as number) : 0);
    const size = await stat(path.join(dir, file)).then((s) => s.size, () => -1);
    if (size !== r.bytes || size <= 0) return undefined;
    return { file, frames: chunk.frames, startUs: r.startUs as number | null, decoded: count(r.decoded), inferred: count(r.inferred) };
  } catch {
    return undefined;
  }
}

/** SHA-256 of a file, hex. */
async function sha256Of(file: string): Promise<string> {
  return createHash('sha256').update(new Uint8Array(await readFile(file))).digest('hex');
}

/** The model file the plan names, checked against its SHA-256 (workers must all run the same model). */
export async function plannedModel(storage: Storage, plan: FarmPlan): Promise<string> {
  const m = plan.settings.model;
  let file: string | undefined;
  if ('name' in m) {
    file = bundledModelFile(m.name);
    if (!file) throw modelError(m.name, 'this worker has no bundled model of that name');
  } else file = await storage.resolve(m.path, 'model');
  const sha = await sha256Of(file).catch((e: unknown) => {
    throw modelError(file!, `cannot read: ${(e as NodeJS.ErrnoException).code ?? e}`);
  });
  if (sha !== m.sha256) throw modelError(file, `differs from the model the job was planned with (SHA-256 ${sha.slice(0, 12)}…, planned ${m.sha256.slice(0, 12)}…)`);
  return file;
}

/** The planned input, checked to be the file the plan was made from. */
export async function plannedInput(storage: Storage, plan: FarmPlan): Promise<string> {
  const file = await storage.resolve(plan.input.path, 'input');
  const st = await stat(file).catch(() => undefined);
  if (!st?.isFile()) throw mediaError(file, 'not found on this worker (is the storage shared?)');
  if (st.size !== plan.input.bytes || st.mtimeMs !== plan.input.mtimeMs) throw mediaError(file, 'has changed since the job was planned');
  return file;
}

/** Run one chunk into `dir` (see the module comment); a finished one is only re-checked. */
export async function runChunk(storage: Storage, dir: string, plan: FarmPlan, chunk: ChunkSpec, opts: ChunkRunOptions): Promise<ChunkWork> {
  const done = await finishedChunk(dir, plan, chunk);
  if (done) return { ...done, reused: true };
  const input = await plannedInput(storage, plan);
  const model = await plannedModel(storage, plan);
  const { tools, signal } = opts;
  const notice = opts.notice ?? (() => undefined);
  const info = await probeMedia(input, { tools, signal });
  const s = plan.settings;
  const depth = info.video.bitDepth > 8 ? 16 : 8;
  const key = JSON.stringify([model, s.model.sha256, s.historyWeight, s.fp16, s.tile, depth]);
  const open = (pool: PlanePool): Promise<TemporalUpscaler> =>
    openUpscaler(model, {
      mode: 'video',
      historyWeight: s.historyWeight,
      fp16: s.fp16,
      device: opts.device ?? 'auto',
      cpu: opts.cpu ?? {},
      tile: s.tile,
      onNotice: notice,
      recycle: (b) => pool.give(b),
      packedOutput: depth,
    });
  const cache = opts.upscalers;
  const engine = cache ? await cache.take(key, open) : await fresh(open);
  let ok = false;
  try {
    const work = await runFrames(engine, { dir, plan, chunk, input, info, opts, notice });
    ok = true;
    return work;
  } finally {
    // An upscaler that failed mid-chunk may hold anything: it is not kept.
    if (cache && ok) await cache.give(key, engine);
    else await engine.up.close();
  }
}

/** An upscaler of its own, with its pool. */
async function fresh(open: (pool: PlanePool) => Promise<TemporalUpscaler>): Promise<Engine> {
  const pool = new PlanePool();
  return { up: await open(pool), pool };
}

/** What {@link runFrames} works on. */
interface FramesContext {
  readonly dir: string;
  readonly plan: FarmPlan;
  readonly chunk: ChunkSpec;
  readonly input: string;
  readonly info: MediaInfo;
  readonly opts: ChunkRunOptions;
  readonly notice: (line: string) => void;
}

/** Decode, upscale and encode the chunk's frames (the pre-roll run but not encoded). */
async function runFrames({ up, pool }: Engine, { dir, plan, chunk, input, info, opts, notice }: FramesContext): Promise<ChunkWork> {
  const { tools, signal } = opts;
  const s = plan.settings;
  const begin = chunk.first - chunk.preroll;
  const end = chunk.first + chunk.frames;
  const cuts = new Set(plan.cuts);
  const file = chunkName(chunk.index, plan.ext);
  let decoded = 0;
  let inferred = 0;
  let encoder: VideoEncoder | undefined;
  /**
   * The frames of [begin, end) from a decode that starts at `start` seconds (or at the first
   * frame), each checked against its planned time. With a seek, frames are found by their time;
   * returns false when the seek landed past the first one (nothing yielded then).
   */
  async function* decodeFrom(start: number | undefined): AsyncGenerator<Frame & { at: number }, boolean> {
    const target = plan.pts[begin]!;
    await using stream = decodeFrames(input, { tools, info, signal, layout: 'gbrp', ...(start !== undefined ? { start } : {}) });
    let at = start === undefined ? 0 : -1;
    for await (const f of stream) {
      decoded++;
      if (at < 0) {
        if (f.pts < target - 1e-6) {
          stream.recycle(f.data);
          continue;
        }
        if (f.pts > target + 1e-6) return false;
        at = begin;
      }
      if (at < begin) {
        at++;
        stream.recycle(f.data);
        continue;
      }
      if (Math.abs(f.pts - plan.pts[at]!) > 1e-6)
        throw mediaError(input, `frame ${at} is at ${f.pts.toFixed(6)} s, planned at ${plan.pts[at]!.toFixed(6)} s: the input differs from the plan`);
      yield Object.assign(f, { at });
      if (++at >= end) return true;
    }
    throw mediaError(input, `ended before frame ${end}, which the plan expects`);
  }
  // Seek a second early: ffmpeg then decodes from a keyframe well before the chunk.
  async function* frames(): AsyncGenerator<Frame & { at: number }> {
    const target = plan.pts[begin]!;
    if (target > 1 && (yield* decodeFrom(target - 1))) return;
    if (target > 1) notice(`seeking in ${path.basename(input)} did not land on frame ${begin}; decoding from the start`);
    yield* decodeFrom(undefined);
  }
  const fmt = await decodeFrames(input, { info }).frameFormat();
  const pending: { at: number; pts: number; out: Promise<PackedFrame> }[] = [];
  const spare: ArrayBuffer[] = [];
  const emit = async (p: (typeof pending)[number]): Promise<void> => {
    const out = await p.out;
    if (p.at < chunk.first) return;
    encoder ??= await createEncoder(path.join(dir, file), {
      ...segmentEncoding(info, { width: out.width, height: out.height, bitDepth: fmt.bitDepth, codec: s.codec, crf: s.crf ?? undefined, preset: s.preset ?? undefined, notice }),
      tools,
    });
    await encoder.write({ pts: p.pts, data: out.data });
    const used = out.data.buffer as ArrayBuffer;
    if (out.data.byteOffset === 0 && out.data.byteLength === used.byteLength && spare.length < 4) spare.push(used);
    opts.progress?.(p.at + 1 - chunk.first);
  };
  try {
    for await (const f of ahead(frames(), 3)) {
      const rgb = framePlanes(f, pool.take(3 * f.width * f.height));
      const into = spare.pop();
      // The first frame run has no history whatever the plan says: a cut.
      const cut = f.at === begin || cuts.has(f.at);
      const out = up.processPacked({ width: f.width, height: f.height, rgb }, fmt.bitDepth, { cut, take: true, ...(into ? { into } : {}) });
      out.catch(() => undefined);
      inferred++;
      pending.push({ at: f.at, pts: f.pts, out });
      if (pending.length >= 2) await emit(pending.shift()!);
    }
    for (const p of pending.splice(0)) await emit(p);
    if (!encoder) throw new ParagonError('internal', `chunk ${chunk.index} produced no frames`);
    if (encoder.frames !== chunk.frames) throw new ParagonError('internal', `chunk ${chunk.index}: ${encoder.frames} frames encoded, ${chunk.frames} planned`);
    await encoder.finish();
  } catch (e) {
    await encoder?.abort();
    await Promise.allSettled(pending.map((p) => p.out));
    throw e;
  }
  const full = path.join(dir, file);
  const startUs = await startTimeUs(tools, full, signal);
  const bytes = (await stat(full)).size;
  const record = path.join(dir, doneName(chunk.index));
  await writeFile(`${record}.${process.pid}.tmp`, `${JSON.stringify({ plan: plan.id, chunk: chunk.index, file, frames: chunk.frames, startUs, bytes, decoded, inferred })}\n`);
  await rename(`${record}.${process.pid}.tmp`, record);
  return { file, frames: chunk.frames, startUs, decoded, inferred, reused: false };
}

export { RefusedPath };
