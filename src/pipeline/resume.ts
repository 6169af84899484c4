/**
 * Resumable video runs: nothing finished is lost, and a resumed run writes what an uninterrupted
 * one would have written.
 *
 * Segments. The range is cut on a fixed schedule into segments of K frames (`--checkpoint K`,
 * default 240, kept from the first run): segment k holds output frames [kK, (k+1)K), encoded on
 * their own into one file that starts on a keyframe, in the hidden folder `.paragon-resume/<output
 * name>/` beside the output; the output is their concatenation by stream copy (mux.ts). A segment
 * is thus a self-contained file from frame A to B, and the upscaler's state before A is all it
 * needs from what came earlier (segments.ts writes one).
 *
 * Commit points. At the end of each segment, every 30 s of work (`checkpointSeconds`,
 * `PARAGON_CHECKPOINT_SECONDS`), and when a run is told to stop (Ctrl+C, SIGTERM, SIGHUP), the
 * pipeline drains, takes the upscaler's state after the last frame, makes every frame so far
 * durable and commits: the state file (a new name each time) is written, then `progress.json`
 * (manifest.ts), replaced atomically, names the finished files, that state, the counters and the
 * scene cuts. A kill at any moment (SIGKILL, power loss) leaves the last commit whole, so at most
 * ~30 s of work is lost; files it does not name are leftovers, removed when the folder is opened.
 *
 * Why the same output whatever the moment of the interruption. The frames reaching the encoder
 * are the same bits (same state, same cuts, same model: a resumed run restores the state and
 * infers only the frames the checkpoint lacks). What the encoder makes of them depends on the
 * codec:
 * - Intra-only codecs (FFV1 with `-g 1`, ProRes) code every frame alone: a file may end at any
 *   frame and the packets are the same however the frames are split into files. A commit point
 *   inside a segment closes its file there (a shorter segment); the next frame opens a new one.
 * - Inter codecs (x264, x265, VP9, AV1) do not: a packet depends on the frames around it
 *   (lookahead, B-frames, rate control, the position of keyframes), and no encoder's inner state
 *   can be saved and restored. Identical packets need the identical encode: the same frames, from
 *   the same first frame, in one encoder. So a segment closes only on the schedule, and its frames
 *   also go to a lossless spool (FFVHuff, exact bytes; timestamps kept in the manifest), cut into
 *   a part at each commit point. A resumed run starts the segment's encode again from its first
 *   frame with the spooled frames, then goes on with new ones: the model never runs twice on a
 *   frame, and the encoder redoes at most the frames of one segment. The price is the spool: up
 *   to K lossless frames on disk (2.8–4.3 MB a 1080p frame, measured on Vid4 clips scaled up:
 *   0.7–1 GB for 240) and ~8 ms of one core a 720p frame.
 * The output is then the same bit for bit with FFV1 (and ProRes), and with the inter codecs the
 * same packets, hence the same decoded frames, provided the encoder is deterministic run to run
 * with the same ffmpeg and thread count (x264, x265 and VP9 are: test/ffmpeg/segments.test.ts;
 * through the whole CLI for x264 in test/ffmpeg/resume.test.ts). A resume on another machine
 * (other core count) or with another ffmpeg may encode the interrupted segment differently: still
 * a valid video of the same frames, not the same packets.
 *
 * The scene-cut detector's state is not saved: the resumed run decodes the finished frames anyway
 * (to skip them exactly, whatever the container's seeking), and replays them through a fresh
 * detector, which puts it in exactly the state the interrupted run had. A checkpoint whose every
 * frame is done (stopped during the join) skips even that.
 */
import { mkdir, readdir, readFile, rename, rm, rmdir, stat, unlink, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { ParagonError, usageError } from '../errors.ts';
import type { UpscalerSnapshot } from '../temporal/upscaler.ts';
import type { HistoryWeightSnapshot } from '../temporal/history-weight.ts';
import { filesOf, framesIn, MANIFEST_VERSION, parseManifest, WEIGHT_PARTS, type CarriedTotals, type Manifest, type RunIdentity, type SegmentRecord, type SpoolPart, type WeightPart } from './manifest.ts';

export type { CarriedTotals, RunIdentity, SegmentRecord, SpoolPart } from './manifest.ts';

const MANIFEST = 'progress.json';

/** What a commit adds: a finished segment (which ends the open one), or a spool part of the open segment. */
export type CommitChange =
  | { readonly segment: SegmentRecord; readonly complete: boolean }
  | { readonly part: SpoolPart; readonly segmentFirst: number };

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
   * mismatching one is a usage error saying what differs, a damaged file a media error naming
   * it); without it, an existing checkpoint with finished frames is a usage error too, so a rerun
   * never throws away hours of work silently. A `progress.json` that is not a usable checkpoint
   * of ours is set aside with a notice, and the run starts over. Files the manifest does not name
   * (a killed run's partial files) are removed.
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
      const parsed = parseManifest(text);
      if (typeof parsed === 'string') opts.notice(`${path.join(dir, MANIFEST)}: unusable checkpoint (${parsed}); starting over`);
      else manifest = parsed;
    }
    if (manifest && framesIn(manifest) === 0) manifest = undefined;
    if (manifest) {
      const done = framesIn(manifest);
      if (!opts.resume)
        throw usageError(`${output}: an interrupted run left ${done} finished frames in ${dir}; add --resume to continue it, or delete that folder to start over`);
      const diff = differences(manifest.identity, identity);
      if (diff.length > 0) throw usageError(`${output}: cannot resume (${diff.join('; ')}); delete ${dir} to start over`);
      await verifyFiles(dir, manifest);
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
    const keep = new Set([...(this.#manifest ? [MANIFEST, ...filesOf(this.#manifest)] : [])]);
    for (const name of await readdir(this.dir)) if (!keep.has(name)) await rm(path.join(this.dir, name), { recursive: true, force: true });
    if (!this.#manifest) this.#identity = identity;
  }

  /** Finished segments, in order. */
  get segments(): readonly SegmentRecord[] {
    return this.#manifest?.segments ?? [];
  }

  /** The open segment (inter codecs): its first frame and its spooled parts; undefined when none. */
  get openSegment(): { readonly first: number; readonly parts: readonly SpoolPart[] } | undefined {
    return this.#manifest?.open ?? undefined;
  }

  /** Every frame is done: only the join is left. */
  get complete(): boolean {
    return this.#manifest?.complete === true;
  }

  /** Frames finished (committed segments and spool parts). */
  get framesDone(): number {
    return this.#manifest ? framesIn(this.#manifest) : 0;
  }

  /** Totals carried from the interrupted run (undefined for a fresh one). */
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

  /** File name of the spool part that starts at source frame `first`. */
  spoolName(first: number): string {
    return `spool-${String(first).padStart(8, '0')}.mkv`;
  }

  /** The upscaler position saved with the last commit (undefined for a fresh run). */
  async snapshot(): Promise<UpscalerSnapshot | undefined> {
    const m = this.#manifest;
    if (!m) return undefined;
    let state: Float32Array | undefined;
    if (m.state) {
      const buf = await readFile(path.join(this.dir, m.state.file));
      if (buf.byteLength !== m.state.length * 4) throw damaged(this.dir, m.state.file, `${buf.byteLength} of ${m.state.length * 4} bytes`);
      state = new Float32Array(buf.buffer.slice(buf.byteOffset, buf.byteOffset + buf.byteLength));
    }
    let weights: HistoryWeightSnapshot | undefined;
    if (m.weights) {
      const { file, width, height, frameWidth, frameHeight, noiseVar, residual, parts } = m.weights;
      const buf = await readFile(path.join(this.dir, file));
      const sizes = parts.map((k) => (k === 'frame' ? (frameWidth ?? width) * (frameHeight ?? height) : width * height));
      const total = sizes.reduce((a, b) => a + b, 0);
      if (buf.byteLength !== total * 4) throw damaged(this.dir, file, `${buf.byteLength} of ${total * 4} bytes`);
      const all = new Float32Array(buf.buffer.slice(buf.byteOffset, buf.byteOffset + buf.byteLength));
      const part = (k: WeightPart): Float32Array | undefined => {
        const i = parts.indexOf(k);
        if (i < 0) return undefined;
        const at = sizes.slice(0, i).reduce((a, b) => a + b, 0);
        return all.slice(at, at + sizes[i]!);
      };
      weights = {
        width,
        height,
        noiseVar: noiseVar ?? undefined,
        prev: part('prev'),
        ref: part('ref'),
        refVar: part('refVar'),
        difference: part('difference'),
        ...(residual ? { residual } : {}),
        ...(frameWidth !== undefined && frameHeight !== undefined ? { frame: part('frame'), frameWidth, frameHeight } : {}),
      };
    }
    return { state, last: m.last ?? undefined, stats: m.stats, ...(weights ? { weights } : {}) };
  }

  /**
   * Commit `change` (its file already complete in the folder) with the upscaler's position after
   * its last frame. Commits are applied one at a time in call order.
   */
  commit(change: CommitChange, snap: UpscalerSnapshot, totals: CarriedTotals, device: string): Promise<void> {
    const run = async (): Promise<void> => {
      const prev = this.#manifest;
      const identity = prev?.identity ?? this.#identity!;
      const n = (prev?.commits ?? 0) + 1;
      let state: Manifest['state'] = null;
      if (snap.state) {
        const file = `state-${n}.f32`;
        await writeAtomic(path.join(this.dir, file), new Uint8Array(snap.state.buffer, snap.state.byteOffset, snap.state.byteLength));
        state = { file, length: snap.state.length };
      }
      let weights: Manifest['weights'] = null;
      if (snap.weights) {
        const w = snap.weights;
        const parts = WEIGHT_PARTS.filter((k) => w[k] !== undefined);
        const arrays = parts.map((k) => w[k]!);
        const all = new Float32Array(arrays.reduce((a, b) => a + b.length, 0));
        let at = 0;
        for (const a of arrays) {
          all.set(a, at);
          at += a.length;
        }
        const file = `weights-${n}.f32`;
        await writeAtomic(path.join(this.dir, file), new Uint8Array(all.buffer));
        const frame = w.frameWidth !== undefined && w.frameHeight !== undefined ? { frameWidth: w.frameWidth, frameHeight: w.frameHeight } : {};
        weights = { file, width: w.width, height: w.height, ...frame, noiseVar: w.noiseVar ?? null, ...(w.residual ? { residual: w.residual } : {}), parts };
      }
      const segments = [...(prev?.segments ?? []), ...('segment' in change ? [change.segment] : [])];
      const open =
        'part' in change
          ? { first: change.segmentFirst, parts: [...(prev?.open?.first === change.segmentFirst ? prev.open.parts : []), change.part] }
          : null;
      const next: Manifest = {
        version: MANIFEST_VERSION,
        identity,
        segmentFrames: this.segmentFrames,
        commits: n,
        segments,
        open,
        complete: 'segment' in change && change.complete,
        state,
        weights,
        last: snap.last ? { ...snap.last } : null,
        stats: { ...snap.stats },
        device,
        ...totals,
      };
      await writeAtomic(path.join(this.dir, MANIFEST), `${JSON.stringify(next, null, 1)}\n`);
      this.#manifest = next;
      // What the new commit no longer names: the previous state, and a closed segment's spool.
      const kept = new Set(filesOf(next));
      for (const f of prev ? filesOf(prev) : []) if (!kept.has(f)) await unlink(path.join(this.dir, f)).catch(() => undefined);
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

/** A damaged checkpoint file: a media error naming it (the folder is left as it is). */
const damaged = (dir: string, file: string, why: string): ParagonError =>
  new ParagonError('media', `damaged checkpoint file (${why}); delete ${dir} to start over`, { file: path.join(dir, file) });

/** Every file a manifest names is there with the size it had when committed. */
async function verifyFiles(dir: string, m: Manifest): Promise<void> {
  const sized = [...m.segments, ...(m.open?.parts ?? [])];
  for (const s of sized) {
    const st = await stat(path.join(dir, s.file)).catch(() => undefined);
    if (!st) throw damaged(dir, s.file, 'missing');
    if (st.size !== s.bytes) throw damaged(dir, s.file, `${st.size} of ${s.bytes} bytes`);
  }
  for (const f of [m.state?.file, m.weights?.file]) if (f !== undefined && !(await stat(path.join(dir, f)).catch(() => undefined))) throw damaged(dir, f, 'missing');
}

/** Start time (µs) of a media file as ffmpeg's demuxer reads it, from ffprobe's `format=start_time` text. */
export function parseStartUs(text: string): number | null {
  const m = /^\s*(-?)(\d+)(?:\.(\d{1,6}))?\s*$/.exec(text);
  if (!m) return null;
  const us = Number(m[2]) * 1_000_000 + Number((m[3] ?? '').padEnd(6, '0'));
  return m[1] === '-' ? -us : us;
}
