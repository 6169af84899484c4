/**
 * The plan of a farm job: the video's frames and scene cuts, the settings every worker must use,
 * and the chunks. The coordinator writes it once, as `plan.json` in the job's work folder on the
 * shared storage; workers read it from there (the queue carries only the job id and a chunk
 * number), so a chunk is always run with exactly the frames, cuts and settings it was planned with.
 *
 * Chunking keeps the result exact. The single-machine pipeline resets the temporal state at every
 * scene cut, so a chunk that starts at a cut (or at frame 0) gives the very frames the
 * single-machine run gives: shots are packed whole into chunks of at most `chunkFrames` frames.
 * A shot longer than that is split, and every piece but its first starts with a pre-roll: the
 * worker runs the `preroll` frames before the piece to warm the feature state and discards them.
 * With a fixed history weight W the state then differs from the single-machine run's by at most
 * W^preroll of the difference between two frames' features (docs/farm.md measures what that is
 * for `auto`).
 *
 * The cuts come from the same detector, fed the same full-size frames in the same order, as the
 * single-machine pipeline's (see {@link scanVideo}), so both runs reset at the same frames.
 */
import { createHash } from 'node:crypto';
import { readFile, rename, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { SceneCutDetector } from '../temporal/scene-cut.ts';
import { VIDEO_CODECS, type VideoCodec } from '../video/containers.ts';
import { decodeFrames } from '../video/decode.ts';
import type { FfmpegTools } from '../video/ffmpeg.ts';
import type { MediaInfo } from '../video/probe.ts';
import { RefusedPath } from './storage.ts';

/** Version of the plan format. */
export const PLAN_VERSION = 1 as const;

/** The settings every worker runs a chunk with (what changes the output frames or their encoding). */
export interface FarmSettings {
  /** A bundled model by name, or a model file by its path inside the storage; its SHA-256 either way. */
  readonly model: { readonly name: string; readonly sha256: string } | { readonly path: string; readonly sha256: string };
  readonly fp16: boolean;
  readonly tile: number;
  readonly historyWeight: number | 'auto';
  readonly codec: VideoCodec;
  readonly crf: number | null;
  readonly preset: string | null;
}

/** One chunk: output frames [first, first + frames), after `preroll` frames run and discarded. */
export interface ChunkSpec {
  readonly index: number;
  readonly first: number;
  readonly frames: number;
  readonly preroll: number;
}

/** What the plan says of the input (workers check the file they see is the same). */
export interface PlannedInput {
  /** Path relative to the storage root, `/`-separated. */
  readonly path: string;
  readonly bytes: number;
  readonly mtimeMs: number;
}

/** The plan, as stored in `plan.json`. */
export interface FarmPlan {
  readonly version: typeof PLAN_VERSION;
  /** paragon version that planned it: every worker must run the same code. */
  readonly producer: string;
  /** Hash of everything below: chunk job ids derive from it, so re-submitting is idempotent. */
  readonly id: string;
  readonly input: PlannedInput;
  /** Extension of the output (and so of the chunk files), e.g. `.mkv`. */
  readonly ext: string;
  readonly settings: FarmSettings;
  readonly chunkFrames: number;
  readonly preroll: number;
  /** Frames in the video. */
  readonly frames: number;
  /** Presentation time of each frame, seconds (as the decoder reports it). */
  readonly pts: readonly number[];
  /** Indices of the first frames of new shots. */
  readonly cuts: readonly number[];
  readonly chunks: readonly ChunkSpec[];
}

/** Split a video of `frames` frames with `cuts` into chunks (see the module comment). */
export function splitChunks(frames: number, cuts: readonly number[], chunkFrames: number, preroll: number): ChunkSpec[] {
  const bounds = [0, ...cuts.filter((c) => c > 0 && c < frames), frames];
  const out: { first: number; frames: number; preroll: number }[] = [];
  let open: { first: number; frames: number; preroll: number } | undefined;
  for (let i = 0; i + 1 < bounds.length; i++) {
    const a = bounds[i]!;
    const len = bounds[i + 1]! - a;
    if (len > chunkFrames) {
      if (open) out.push(open);
      open = undefined;
      const n = Math.ceil(len / chunkFrames);
      for (let j = 0; j < n; j++) {
        const first = a + Math.floor((j * len) / n);
        const end = a + Math.floor(((j + 1) * len) / n);
        out.push({ first, frames: end - first, preroll: j === 0 ? 0 : Math.min(preroll, first - a) });
      }
    } else if (open && open.frames + len <= chunkFrames) open.frames += len;
    else {
      if (open) out.push(open);
      open = { first: a, frames: len, preroll: 0 };
    }
  }
  if (open) out.push(open);
  return out.map((c, index) => ({ index, ...c }));
}

/**
 * Decode the whole video as the single-machine pipeline does (full-size planar frames) and run
 * the same scene-cut detector over them: the frame count, every frame's timestamp, and the cuts.
 */
export async function scanVideo(
  info: MediaInfo,
  opts: { tools: FfmpegTools; signal?: AbortSignal | undefined; onFrame?: (index: number) => void },
): Promise<{ frames: number; pts: number[]; cuts: number[] }> {
  const detector = new SceneCutDetector();
  const pts: number[] = [];
  const cuts: number[] = [];
  await using stream = decodeFrames(info.file, { tools: opts.tools, info, signal: opts.signal, layout: 'gbrp' });
  for await (const f of stream) {
    if (detector.push(f).cut) cuts.push(f.index);
    pts.push(f.pts);
    stream.recycle(f.data);
    opts.onFrame?.(f.index);
  }
  return { frames: pts.length, pts, cuts };
}

/** The plan's id: a hash of its content (without the id). */
export function planId(plan: Omit<FarmPlan, 'id'>): string {
  return createHash('sha256').update(JSON.stringify({ ...plan, id: undefined })).digest('hex').slice(0, 16);
}

/** Write `plan.json` into `dir` atomically. */
export async function writePlan(dir: string, plan: FarmPlan): Promise<void> {
  const file = path.join(dir, 'plan.json');
  await writeFile(`${file}.tmp`, `${JSON.stringify(plan)}\n`);
  await rename(`${file}.tmp`, file);
}

/** Read and check `plan.json` of a job folder; undefined when there is none. Malformed plans are refused. */
export async function readPlan(dir: string): Promise<FarmPlan | undefined> {
  const text = await readFile(path.join(dir, 'plan.json'), 'utf8').catch((e: NodeJS.ErrnoException) => {
    if (e.code === 'ENOENT') return undefined;
    throw e;
  });
  if (text === undefined) return undefined;
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    throw new RefusedPath('plan.json: not JSON');
  }
  return checkPlan(json);
}

const isInt = (v: unknown, min = 0): v is number => Number.isInteger(v) && (v as number) >= min;
const HEX64 = /^[0-9a-f]{64}$/;

/** Check a plan read from storage: exact shape, sane values, chunks that tile the video. */
export function checkPlan(p: unknown): FarmPlan {
  const bad = (why: string): never => {
    throw new RefusedPath(`plan.json: ${why}`);
  };
  if (typeof p !== 'object' || p === null) return bad('not an object');
  const o = p as Record<string, unknown>;
  const keys = ['version', 'producer', 'id', 'input', 'ext', 'settings', 'chunkFrames', 'preroll', 'frames', 'pts', 'cuts', 'chunks'];
  const extra = Object.keys(o).filter((k) => !keys.includes(k));
  if (extra.length > 0) bad(`unknown fields ${extra.join(', ')}`);
  if (o.version !== PLAN_VERSION) bad(`version ${String(o.version)} (this paragon reads ${PLAN_VERSION})`);
  if (typeof o.producer !== 'string' || o.producer.length > 40) bad('producer');
  if (typeof o.id !== 'string' || !/^[0-9a-f]{16}$/.test(o.id)) bad('id');
  const input = o.input as Record<string, unknown> | undefined;
  if (!input || typeof input.path !== 'string' || !isInt(input.bytes) || typeof input.mtimeMs !== 'number') bad('input');
  if (typeof o.ext !== 'string' || !/^\.[a-z0-9]{2,4}$/.test(o.ext)) bad('ext');
  const s = o.settings as Record<string, unknown> | undefined;
  if (!s || typeof s !== 'object') return bad('settings');
  const sk = ['model', 'fp16', 'tile', 'historyWeight', 'codec', 'crf', 'preset'];
  const sx = Object.keys(s).filter((k) => !sk.includes(k));
  if (sx.length > 0) bad(`unknown settings ${sx.join(', ')}`);
  const m = s.model as Record<string, unknown> | undefined;
  const mk = m ? Object.keys(m).sort().join() : '';
  if (!m || !(mk === 'name,sha256' || mk === 'path,sha256') || typeof m.sha256 !== 'string' || !HEX64.test(m.sha256)) bad('model');
  if (m!.name !== undefined && !(typeof m!.name === 'string' && /^[a-z0-9][a-z0-9._-]{0,63}$/i.test(m!.name))) bad('model name');
  if (m!.path !== undefined && typeof m!.path !== 'string') bad('model path');
  if (typeof s.fp16 !== 'boolean' || !isInt(s.tile)) bad('fp16/tile');
  const w = s.historyWeight;
  if (!(w === 'auto' || (typeof w === 'number' && w >= 0 && w < 1))) bad('historyWeight');
  if (!(VIDEO_CODECS as readonly unknown[]).includes(s.codec)) bad('codec');
  if (!(s.crf === null || (isInt(s.crf) && s.crf <= 63))) bad('crf');
  if (!(s.preset === null || (typeof s.preset === 'string' && /^[a-z0-9]{1,20}$/i.test(s.preset)))) bad('preset');
  if (!isInt(o.chunkFrames, 1) || !isInt(o.preroll) || !isInt(o.frames, 1)) bad('counts');
  const frames = o.frames as number;
  if (!Array.isArray(o.pts) || o.pts.length !== frames || !o.pts.every((t) => typeof t === 'number' && Number.isFinite(t))) bad('pts');
  if (!Array.isArray(o.cuts) || !o.cuts.every((c, i, a) => isInt(c, 1) && c < frames && (i === 0 || c > (a[i - 1] as number)))) bad('cuts');
  if (!Array.isArray(o.chunks) || o.chunks.length === 0) return bad('chunks');
  let next = 0;
  for (const [i, c] of (o.chunks as Record<string, unknown>[]).entries()) {
    if (c?.index !== i || c.first !== next || !isInt(c.frames, 1) || !isInt(c.preroll) || (c.preroll as number) > (c.first as number)) bad(`chunk ${i}`);
    next += c.frames as number;
  }
  if (next !== frames) bad('chunks do not cover the video');
  const plan = p as FarmPlan;
  if (planId(plan) !== plan.id) bad('id does not match its content');
  return plan;
}
