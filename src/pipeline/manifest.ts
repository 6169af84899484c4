/**
 * The checkpoint's commit record, `progress.json` (see resume.ts for what it means): its shape,
 * and the check that a file found on disk is one of ours, whole and consistent, before a single
 * frame of it is trusted. A file that fails the check is never half-used: the caller starts over
 * with a notice.
 */
import type { UpscalerStats } from '../temporal/upscaler.ts';
import type { Residual } from '../temporal/noise.ts';

/** What a checkpoint must match to be continued: the input file and every setting that changes the output. */
export interface RunIdentity {
  readonly input: string;
  readonly inputBytes: number;
  readonly inputMtimeMs: number;
  /** Settings that change the output frames or their encoding (model, weight, codec, range, ...). */
  readonly settings: Readonly<Record<string, string | number | boolean | null>>;
}

/** A finished segment: output frames [first, first + frames) in one file that starts on a keyframe. */
export interface SegmentRecord {
  /** File name inside the checkpoint folder. */
  readonly file: string;
  /** Source index of its first frame. */
  readonly first: number;
  readonly frames: number;
  /** Start time of the file as ffmpeg reads it (microseconds; null when it has none), for exact concatenation. */
  readonly startUs: number | null;
  /** Size of the file, checked before a resume trusts it. */
  readonly bytes: number;
}

/** A piece of the lossless spool of the open segment (inter codecs; see segments.ts). */
export interface SpoolPart {
  readonly file: string;
  /** Source index of its first frame. */
  readonly first: number;
  readonly frames: number;
  readonly bytes: number;
  /** Each frame's timestamp as it was handed to the encoder (seconds; JSON keeps doubles exactly). */
  readonly pts: readonly number[];
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

/**
 * The history-weight estimator's arrays (`--temporal auto`), in one file, in this order as
 * present: each `width × height` except `frame` (`frameWidth × frameHeight`: the last frame's luma
 * when the estimator measures large frames on their half plane).
 */
export const WEIGHT_PARTS = ['prev', 'ref', 'refVar', 'difference', 'frame'] as const;
export type WeightPart = (typeof WEIGHT_PARTS)[number];

/** `progress.json`. */
export interface Manifest extends CarriedTotals {
  readonly version: typeof MANIFEST_VERSION;
  readonly identity: RunIdentity;
  readonly segmentFrames: number;
  /** Commits so far (names each commit's state files uniquely). */
  readonly commits: number;
  readonly segments: readonly SegmentRecord[];
  /** The segment still open (inter codecs): its first frame and the spool parts written so far. */
  readonly open: { readonly first: number; readonly parts: readonly SpoolPart[] } | null;
  /** Every frame of the range is in `segments`: only the join is left. */
  readonly complete: boolean;
  readonly state: { readonly file: string; readonly length: number } | null;
  readonly weights: {
    readonly file: string;
    readonly width: number;
    readonly height: number;
    readonly frameWidth?: number;
    readonly frameHeight?: number;
    readonly noiseVar: number | null;
    /** What the translation left of the last frame's motion (four numbers); absent in older manifests. */
    readonly residual?: Residual;
    readonly parts: WeightPart[];
  } | null;
  readonly last: { readonly width: number; readonly height: number } | null;
  readonly stats: UpscalerStats;
  readonly device: string;
}

export const MANIFEST_VERSION = 2;

const isInt = (v: unknown, min = 0): v is number => Number.isInteger(v) && (v as number) >= min;
const isNum = (v: unknown): v is number => typeof v === 'number' && Number.isFinite(v);
const isObj = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
// Plain names inside the folder: never a path out of it.
const isName = (v: unknown): v is string => typeof v === 'string' && /^[A-Za-z0-9][\w.-]{0,200}$/.test(v) && !v.includes('..');

/**
 * Parse `progress.json`: the manifest, or why it cannot be used (one short phrase). Checks the
 * shape, that every file named is a plain name in the folder, and that the segments and spool
 * parts follow one another frame by frame from the start of the range.
 */
export function parseManifest(text: string): Manifest | string {
  let m: unknown;
  try {
    m = JSON.parse(text);
  } catch {
    return 'not JSON';
  }
  if (!isObj(m)) return 'not a paragon checkpoint';
  if (m.version !== MANIFEST_VERSION) return typeof m.version === 'number' && isObj(m.identity) ? `made by another paragon version (${m.version})` : 'not a paragon checkpoint';
  const id = m.identity;
  if (!isObj(id) || typeof id.input !== 'string' || !isNum(id.inputBytes) || !isNum(id.inputMtimeMs) || !isObj(id.settings)) return 'no valid identity';
  if (!Object.values(id.settings).every((v) => v === null || ['string', 'number', 'boolean'].includes(typeof v))) return 'no valid identity';
  const from = id.settings.from;
  if (!isInt(from)) return 'no valid range';
  if (!isInt(m.segmentFrames, 1) || !isInt(m.commits) || typeof m.complete !== 'boolean' || typeof m.device !== 'string') return 'missing fields';
  if (!Array.isArray(m.segments)) return 'no segment list';
  let next = from;
  for (const s of m.segments as unknown[]) {
    if (!isObj(s) || !isName(s.file) || !isInt(s.first) || !isInt(s.frames, 1) || !isInt(s.bytes, 1) || !(s.startUs === null || Number.isInteger(s.startUs))) return 'a malformed segment record';
    if (s.first !== next) return `segment ${s.file} does not follow the one before it`;
    next += s.frames;
  }
  if (m.open !== null) {
    const o = m.open;
    if (!isObj(o) || !isInt(o.first) || !Array.isArray(o.parts) || o.parts.length === 0) return 'a malformed open segment';
    if (o.first !== next) return 'the open segment does not follow the last segment';
    for (const p of o.parts as unknown[]) {
      if (!isObj(p) || !isName(p.file) || !isInt(p.first) || !isInt(p.frames, 1) || !isInt(p.bytes, 1) || !Array.isArray(p.pts)) return 'a malformed spool record';
      if (p.first !== next || p.pts.length !== p.frames || !p.pts.every(isNum)) return `spool part ${p.file} is inconsistent`;
      next += p.frames;
    }
    if (m.complete) return 'complete with a segment still open';
  }
  if (m.state !== null && !(isObj(m.state) && isName(m.state.file) && isInt(m.state.length, 1))) return 'a malformed state record';
  const w = m.weights;
  if (w !== null && !(isObj(w) && isName(w.file) && isInt(w.width, 1) && isInt(w.height, 1) && (w.noiseVar === null || isNum(w.noiseVar)) && (w.residual === undefined || (Array.isArray(w.residual) && w.residual.length === 4 && w.residual.every(isNum))) && (w.frameWidth === undefined || (isInt(w.frameWidth, 1) && isInt(w.frameHeight, 1))) && Array.isArray(w.parts) && w.parts.every((k) => (WEIGHT_PARTS as readonly unknown[]).includes(k))))
    return 'a malformed weights record';
  if (m.last !== null && !(isObj(m.last) && isInt(m.last.width, 1) && isInt(m.last.height, 1))) return 'a malformed frame size';
  if (!isObj(m.stats) || !Object.values(m.stats).every(isNum)) return 'malformed counters';
  if (!Array.isArray(m.sceneCuts) || !m.sceneCuts.every((c) => isInt(c)) || !isNum(m.shift)) return 'malformed totals';
  if (!(m.firstPts === undefined || isNum(m.firstPts)) || !(m.lastPts === undefined || isNum(m.lastPts))) return 'malformed timestamps';
  return m as unknown as Manifest;
}

/** Frames a manifest holds: its segments and the open segment's spool. */
export const framesIn = (m: Pick<Manifest, 'segments' | 'open'>): number =>
  m.segments.reduce((n, s) => n + s.frames, 0) + (m.open?.parts.reduce((n, p) => n + p.frames, 0) ?? 0);

/** Files a manifest names (everything else in the folder is a leftover). */
export const filesOf = (m: Manifest): string[] => [
  ...m.segments.map((s) => s.file),
  ...(m.open?.parts.map((p) => p.file) ?? []),
  ...(m.state ? [m.state.file] : []),
  ...(m.weights ? [m.weights.file] : []),
];
