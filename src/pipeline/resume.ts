/**
 * Resumable video runs. A video is encoded in segments of K frames into a hidden folder beside the
 * output (`.paragon-resume/<output name>/`). When a segment's file is complete, a checkpoint is
 * committed: the feature state after the segment's last frame is written, then `progress.json`
 * (the commit point, replaced atomically) names the finished segments, that state, the counters
 * and the scene cuts so far. A run killed at any moment therefore leaves a consistent checkpoint:
 * `--resume` keeps the committed segments, restores the state, and continues with the next frame.
 *
 * The scene-cut detector's state is not saved: the resumed run decodes the finished frames anyway
 * (to skip them exactly, whatever the container's seeking), and replays them through a fresh
 * detector, which puts it in exactly the state the interrupted run had.
 *
 * What "equal to an uninterrupted run" means: the frames reaching the encoder are the same bits
 * (same state, same cuts, same model), and every segment is a separate encode that starts on a
 * keyframe, in both runs alike. So the output is the same: bit for bit with FFV1, and with the
 * lossy codecs the same packets, hence the same decoded frames (checked for x264, x265 and VP9;
 * an encoder that is not deterministic run to run would break only this last step).
 */
import { mkdir, readdir, readFile, rename, rm, rmdir, unlink, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { ParagonError, usageError } from '../errors.ts';
import type { UpscalerSnapshot, UpscalerStats } from '../temporal/upscaler.ts';
import type { HistoryWeightSnapshot } from '../temporal/history-weight.ts';

/** What a checkpoint must match to be continued: the input file and every setting that changes the output. */
export interface RunIdentity {
  readonly input: string;
  readonly inputBytes: number;
  readonly inputMtimeMs: number;
  /** Settings that change the output frames or their encoding (model, weight, codec, range, ...). */
  readonly settings: Readonly<Record<string, string | number | boolean | null>>;
}

/** A finished segment. */
export interface SegmentRecord {
  /** File name inside the checkpoint folder. */
  readonly file: string;
  /** Source index of its first frame. */
  readonly first: number;
  readonly frames: number;
  /** Start time of the file as ffmpeg reads it (microseconds; null when it has none), for exact concatenation. */
  readonly startUs: number | null;
}

/** Running totals carried across a resume. */
export interface CarriedTotals {
  /** Source indices of the scene cuts found so far. */
  readonly sceneCuts: number[];
  /** Output timestamps are the source's minus this (seconds; non-zero for a `--frames` excerpt). */
  readonly shift: number;
  /** Timestamp of the first and of the last frame encoded so far (seconds, source timeline). */
  readonly firstPts: number | undefined;
  readonly lastPts: number | undefined;
}

interface Manifest extends CarriedTotals {
  readonly version: 1;
  readonly identity: RunIdentity;
  readonly segmentFrames: number;
  readonly segments: SegmentRecord[];
  readonly state: { file: string; length: number } | null;
  /** The history-weight estimator's arrays (`--temporal auto`), in one file: prev | ref | refVar | difference as present. */
  readonly weights?: { file: string; width: number; height: number; noiseVar: number | null; parts: WeightPart[] } | null;
  readonly last: { width: number; height: number } | null;
  readonly stats: UpscalerStats;
  readonly device: string;
}

const MANIFEST = 'progress.json';

const WEIGHT_PARTS = ['prev', 'ref', 'refVar', 'difference'] as const;
type WeightPart = (typeof WEIGHT_PARTS)[number];

/** The checkpoint folder of an output file. */
export const checkpointDir = (output: string): string =>
  path.join(path.dirname(path.resolve(output)), '.paragon-resume', path.basename(output));

/** Write a file atomically (temp + rename), so a kill never leaves half of it under its name. */
async function writeAtomic(file: string, data: string | Uint8Array): Promise<void> {
  const tmp = `${file}.tmp`;
  await writeFile(tmp, data);
  await rename(tmp, file);
}

/** What differs between a saved identity and this run's, in words (empty when they match). */
function differences(saved: RunIdentity, now: RunIdentity): string[] {
  const out: string[] = [];
  if (saved.input !== now.input) out.push(`input was ${saved.input}`);
  else if (saved.inputBytes !== now.inputBytes || saved.inputMtimeMs !== now.inputMtimeMs) out.push('the input file has changed');
  const keys = new Set([...Object.keys(saved.settings), ...Object.keys(now.settings)]);
  for (const k of keys) {
    const [a, b] = [saved.settings[k] ?? null, now.settings[k] ?? null];
    if (a !== b) out.push(`${k} was ${a} (now ${b})`);
  }
  return out;
}

/** A video run's checkpoint folder. */
export class Checkpoint {
  readonly dir: string;
  readonly segmentFrames: number;
  #manifest: Manifest | undefined;
  /** This run's identity, written with the first commit of a fresh checkpoint. */
  #identity: RunIdentity | undefined;
  #committed = Promise.resolve();

  private constructor(dir: string, segmentFrames: number, manifest: Manifest | undefined) {
    this.dir = dir;
    this.segmentFrames = segmentFrames;
    this.#manifest = manifest;
  }

  /**
   * Open the checkpoint of `output`. With `resume`, a matching checkpoint is continued (a
   * mismatching one is a usage error saying what differs); without it, an existing checkpoint
   * with finished segments is a usage error too, so a rerun never throws away hours of work
   * silently. Files the manifest does not name (a killed run's partial segment) are removed.
   */
  static async open(
    output: string,
    identity: RunIdentity,
    opts: { resume: boolean; segmentFrames: number; notice: (line: string) => void },
  ): Promise<Checkpoint> {
    const dir = checkpointDir(output);
    let manifest: Manifest | undefined;
    const text = await readFile(path.join(dir, MANIFEST), 'utf8').catch(() => undefined);
    if (text !== undefined) {
      try {
        manifest = JSON.parse(text) as Manifest;
        if (manifest.version !== 1 || !Array.isArray(manifest.segments)) manifest = undefined;
      } catch {
        manifest = undefined;
      }
      if (!manifest) opts.notice(`${dir}: unreadable checkpoint; starting over`);
    }
    if (manifest && manifest.segments.length === 0) manifest = undefined;
    if (manifest) {
      const done = manifest.segments.reduce((n, s) => n + s.frames, 0);
      if (!opts.resume)
        throw usageError(`${output}: an interrupted run left ${done} finished frames in ${dir}; add --resume to continue it, or delete that folder to start over`);
      const diff = differences(manifest.identity, identity);
      if (diff.length > 0) throw usageError(`${output}: cannot resume (${diff.join('; ')}); delete ${dir} to start over`);
    } else if (opts.resume) {
      opts.notice(`${output}: nothing to resume; starting from the beginning`);
    }
    const cp = new Checkpoint(dir, manifest?.segmentFrames ?? opts.segmentFrames, manifest);
    await cp.#prepare(identity);
    return cp;
  }

  /** Create the folder and remove what the manifest does not name. */
  async #prepare(identity: RunIdentity): Promise<void> {
    try {
      await mkdir(this.dir, { recursive: true });
    } catch (e) {
      throw new ParagonError('media', `cannot create the checkpoint folder: ${(e as NodeJS.ErrnoException).code ?? e}`, { file: this.dir });
    }
    const m = this.#manifest;
    const keep = new Set([MANIFEST, ...(m?.segments.map((s) => s.file) ?? []), ...(m?.state ? [m.state.file] : []), ...(m?.weights ? [m.weights.file] : [])]);
    for (const name of await readdir(this.dir)) if (!keep.has(name)) await rm(path.join(this.dir, name), { recursive: true, force: true });
    if (!this.#manifest) this.#identity = identity;
  }

  /** Finished segments, in order. */
  get segments(): readonly SegmentRecord[] {
    return this.#manifest?.segments ?? [];
  }

  /** Frames finished (all committed segments). */
  get framesDone(): number {
    return this.segments.reduce((n, s) => n + s.frames, 0);
  }

  /** Totals carried from the interrupted run (zeros for a fresh one). */
  get carried(): CarriedTotals | undefined {
    const m = this.#manifest;
    return m ? { sceneCuts: [...m.sceneCuts], shift: m.shift, firstPts: m.firstPts, lastPts: m.lastPts } : undefined;
  }

  /** Device the interrupted run used (for a notice when it differs). */
  get device(): string | undefined {
    return this.#manifest?.device;
  }

  /** File name of segment number `k`. */
  segmentName(k: number, ext: string): string {
    return `seg-${String(k).padStart(6, '0')}${ext}`;
  }

  /** The upscaler position saved with the last commit (undefined for a fresh run). */
  async snapshot(): Promise<UpscalerSnapshot | undefined> {
    const m = this.#manifest;
    if (!m) return undefined;
    let state: Float32Array | undefined;
    if (m.state) {
      const buf = await readFile(path.join(this.dir, m.state.file));
      if (buf.byteLength !== m.state.length * 4) throw new ParagonError('media', `checkpoint state ${m.state.file} is damaged; delete the folder to start over`, { file: this.dir });
      state = new Float32Array(buf.buffer.slice(buf.byteOffset, buf.byteOffset + buf.byteLength));
    }
    let weights: HistoryWeightSnapshot | undefined;
    if (m.weights) {
      const { file, width, height, noiseVar, parts } = m.weights;
      const buf = await readFile(path.join(this.dir, file));
      const n = width * height;
      if (buf.byteLength !== parts.length * n * 4) throw new ParagonError('media', `checkpoint state ${file} is damaged; delete the folder to start over`, { file: this.dir });
      const all = new Float32Array(buf.buffer.slice(buf.byteOffset, buf.byteOffset + buf.byteLength));
      const part = (k: WeightPart): Float32Array | undefined => (parts.includes(k) ? all.slice(parts.indexOf(k) * n, (parts.indexOf(k) + 1) * n) : undefined);
      weights = { width, height, noiseVar: noiseVar ?? undefined, prev: part('prev'), ref: part('ref'), refVar: part('refVar'), difference: part('difference') };
    }
    return { state, last: m.last ?? undefined, stats: m.stats, ...(weights ? { weights } : {}) };
  }

  /**
   * Commit a finished segment (its file already complete in the folder) with the upscaler's
   * position after its last frame. Commits are serialised in call order.
   */
  commit(segment: SegmentRecord, snap: UpscalerSnapshot, totals: CarriedTotals, device: string): Promise<void> {
    const run = async (): Promise<void> => {
      const prev = this.#manifest;
      const identity = prev?.identity ?? this.#identity!;
      let state: Manifest['state'] = null;
      if (snap.state) {
        const file = `state-${segment.file.replace(/\.[^.]+$/, '')}.f32`;
        const bytes = new Uint8Array(snap.state.buffer, snap.state.byteOffset, snap.state.byteLength);
        await writeAtomic(path.join(this.dir, file), bytes);
        state = { file, length: snap.state.length };
      }
      let weights: Manifest['weights'] = null;
      if (snap.weights) {
        const w = snap.weights;
        const parts = WEIGHT_PARTS.filter((k) => w[k] !== undefined);
        const n = w.width * w.height;
        const all = new Float32Array(parts.length * n);
        parts.forEach((k, i) => all.set(w[k]!, i * n));
        const file = `weights-${segment.file.replace(/\.[^.]+$/, '')}.f32`;
        await writeAtomic(path.join(this.dir, file), new Uint8Array(all.buffer));
        weights = { file, width: w.width, height: w.height, noiseVar: w.noiseVar ?? null, parts };
      }
      const next: Manifest = {
        version: 1,
        identity,
        segmentFrames: this.segmentFrames,
        segments: [...(prev?.segments ?? []), segment],
        state,
        weights,
        last: snap.last ? { ...snap.last } : null,
        stats: { ...snap.stats },
        device,
        ...totals,
      };
      await writeAtomic(path.join(this.dir, MANIFEST), `${JSON.stringify(next, null, 1)}\n`);
      this.#manifest = next;
      if (prev?.state && prev.state.file !== state?.file) await unlink(path.join(this.dir, prev.state.file)).catch(() => undefined);
      if (prev?.weights && prev.weights.file !== weights?.file) await unlink(path.join(this.dir, prev.weights.file)).catch(() => undefined);
    };
    const p = this.#committed.then(run);
    this.#committed = p.catch(() => undefined);
    return p.catch((e: unknown) => {
      const code = (e as NodeJS.ErrnoException).code;
      throw new ParagonError(code === 'ENOSPC' ? 'resources' : 'media', `cannot save the checkpoint: ${code ?? e}`, { file: this.dir, cause: e });
    });
  }

  /** Wait for pending commits. */
  settled(): Promise<void> {
    return this.#committed;
  }

  /** Remove the folder (after success, or after a failure with nothing worth keeping), and `.paragon-resume` when empty. */
  async remove(): Promise<void> {
    await this.#committed;
    await rm(this.dir, { recursive: true, force: true });
    await rmdir(path.dirname(this.dir)).catch(() => undefined);
  }
}

/** Start time (µs) of a media file as ffmpeg's demuxer reads it, from ffprobe's `format=start_time` text. */
export function parseStartUs(text: string): number | null {
  const m = /^\s*(-?)(\d+)(?:\.(\d{1,6}))?\s*$/.exec(text);
  if (!m) return null;
  const us = Number(m[2]) * 1_000_000 + Number((m[3] ?? '').padEnd(6, '0'));
  return m[1] === '-' ? -us : us;
}
