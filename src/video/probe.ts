/**
 * ffprobe → {@link MediaInfo}: what decode and encode need to treat a video faithfully (display
 * orientation, colour signalling, bit depth, exact time base, variable frame rate, the audio,
 * subtitle and attachment streams to carry over). Anything ffprobe cannot read, or a file with no
 * video stream, is a media error (exit 4) naming the file.
 */
import { isHdrTransfer, probeHdr, type HdrMetadata } from './hdr.ts';
import { stat } from 'node:fs/promises';
import { mediaError } from '../errors.ts';
import { collect, fileArg, locateFfmpeg, type FfmpegTools } from './ffmpeg.ts';

/** A rational number as `[numerator, denominator]`. */
export type Rational = readonly [number, number];

/** The video stream that gets decoded (the first one that is not cover art). */
export interface VideoStreamInfo {
  readonly index: number;
  readonly codec: string;
  /** Display size: the stored size after rotation (what decode yields). SAR is not applied. */
  readonly width: number;
  readonly height: number;
  /** Frame size as stored in the stream (before rotation). */
  readonly storedWidth: number;
  readonly storedHeight: number;
  /** Coded size (may include codec padding, e.g. 1088 lines). */
  readonly codedWidth: number;
  readonly codedHeight: number;
  /** Sample (pixel) aspect ratio, `[1, 1]` when unknown. */
  readonly sar: Rational;
  /** Clockwise display rotation in degrees (0, 90, 180, 270; other angles are rounded to these). */
  readonly rotation: 0 | 90 | 180 | 270;
  /** The 3×3 display matrix (16.16 fixed point, row-major) when the container has one. */
  readonly displayMatrix: readonly number[] | undefined;
  readonly pixFmt: string;
  /** Bits per sample of the decoded pixel format (8, 10, 12, 16). */
  readonly bitDepth: number;
  /** ffprobe colour names (`bt709`, `smpte170m`, `bt2020nc`, ...); undefined when unspecified. */
  readonly colorSpace: string | undefined;
  /** `tv` (limited) or `pc` (full); undefined when unspecified. */
  readonly colorRange: string | undefined;
  readonly colorPrimaries: string | undefined;
  readonly colorTransfer: string | undefined;
  /** Average frame rate (frames / duration), when known. */
  readonly avgFrameRate: Rational | undefined;
  /** ffprobe's r_frame_rate: the lowest rate all timestamps fit (a VFR hint when it differs from avg). */
  readonly rFrameRate: Rational | undefined;
  /** Time base of the stream's timestamps: every pts is an integer multiple of it. */
  readonly timeBase: Rational;
  /** Frame count from the container header, when it states one. */
  readonly nbFrames: number | undefined;
  /** Stream start time in seconds (0 when unknown). */
  readonly startTime: number;
  /** HDR static metadata of a PQ or HLG source, read from its first frame (see hdr.ts). */
  readonly hdr?: HdrMetadata | undefined;
}

/** An audio stream to carry over. */
export interface AudioStreamInfo {
  readonly index: number;
  readonly codec: string;
  readonly channels: number | undefined;
  readonly sampleRate: number | undefined;
  readonly language: string | undefined;
}

/** A subtitle stream to carry over. */
export interface SubtitleStreamInfo {
  readonly index: number;
  readonly codec: string;
  /** Text subtitles can be converted between containers; bitmap ones (PGS, VobSub) cannot. */
  readonly text: boolean;
  readonly language: string | undefined;
}

/** An attachment (fonts of ASS subtitles in Matroska). */
export interface AttachmentInfo {
  readonly index: number;
  readonly filename: string | undefined;
  readonly mimetype: string | undefined;
}

/** What paragon knows about a media file. */
export interface MediaInfo {
  readonly file: string;
  /** ffprobe's format name, e.g. `mov,mp4,m4a,3gp,3g2,mj2` or `matroska,webm`. */
  readonly container: string;
  /** Duration in seconds, when known. */
  readonly duration: number | undefined;
  readonly video: VideoStreamInfo;
  /** True when frame intervals vary (checked on the first 30 s of packet timestamps). */
  readonly vfr: boolean;
  readonly audio: readonly AudioStreamInfo[];
  readonly subtitles: readonly SubtitleStreamInfo[];
  readonly attachments: readonly AttachmentInfo[];
}

const TEXT_SUBS = new Set(['subrip', 'srt', 'ass', 'ssa', 'webvtt', 'mov_text', 'text', 'microdvd', 'subviewer', 'subviewer1', 'sami', 'realtext', 'mpl2', 'jacosub', 'pjs', 'vplayer', 'stl', 'ttml']);

type Json = Record<string, unknown>;
const str = (v: unknown): string | undefined => (typeof v === 'string' && v !== '' && v !== 'N/A' && v !== 'unknown' ? v : undefined);
const num = (v: unknown): number | undefined => {
  const n = typeof v === 'number' ? v : typeof v === 'string' && v.trim() !== '' ? Number(v) : NaN;
  return Number.isFinite(n) ? n : undefined;
};

/** Parse `24000/1001` or `1:1`; undefined for 0/0, N/A and other non-rates. */
export function parseRational(v: unknown): Rational | undefined {
  const m = typeof v === 'string' ? /^(-?\d+)[/:](\d+)$/.exec(v) : null;
  if (!m) return undefined;
  const r: Rational = [Number(m[1]), Number(m[2])];
  return r[0] !== 0 && r[1] !== 0 ? r : undefined;
}

/** Bits per sample of a pixel format, preferring the codec's own `bits_per_raw_sample`. */
export function bitDepthOf(pixFmt: string, rawBits?: number): number {
  if (rawBits !== undefined && rawBits > 0) return rawBits;
  if (/^(rgb|bgr)48|^(rgba|bgra)64/.test(pixFmt)) return 16;
  if (/^y210/.test(pixFmt)) return 10;
  const m = /(\d+)(le|be)$/.exec(pixFmt);
  return m ? Number(m[1]) : 8;
}

/** The 9 integers of ffprobe's printed display matrix (`00000000:  0  65536  0` rows). */
function parseDisplayMatrix(text: unknown): number[] | undefined {
  if (typeof text !== 'string') return undefined;
  const values: number[] = [];
  for (const line of text.split('\n')) {
    const m = /^\s*[0-9a-f]{8}:\s+(.*)$/i.exec(line);
    if (m) values.push(...m[1]!.trim().split(/\s+/).map(Number));
  }
  return values.length === 9 && values.every(Number.isFinite) ? values : undefined;
}

/** Clockwise rotation from the display matrix (ffprobe `rotation` is counter-clockwise) or the legacy `rotate` tag. */
function rotationOf(stream: Json): { rotation: 0 | 90 | 180 | 270; matrix: number[] | undefined } {
  let degrees = 0;
  let matrix: number[] | undefined;
  const side = Array.isArray(stream.side_data_list) ? (stream.side_data_list as Json[]) : [];
  const dm = side.find((s) => s.side_data_type === 'Display Matrix');
  const tags = (stream.tags ?? {}) as Json;
  if (dm) {
    matrix = parseDisplayMatrix(dm.displaymatrix);
    degrees = -(num(dm.rotation) ?? 0);
  } else if (num(tags.rotate) !== undefined) {
    degrees = num(tags.rotate)!;
  }
  const r = ((Math.round(degrees / 90) * 90) % 360 + 360) % 360;
  return { rotation: r as 0 | 90 | 180 | 270, matrix };
}

/** Sorted packet timestamps of the first 30 s: VFR when an interval departs from the median by more than a tick and 0.5 %. */
function isVariableRate(ptsList: number[], timeBase: Rational): boolean {
  if (ptsList.length < 3) return false;
  ptsList.sort((a, b) => a - b);
  const deltas = ptsList.slice(1).map((p, i) => p - ptsList[i]!);
  const sorted = [...deltas].sort((a, b) => a - b);
  const median = sorted[sorted.length >> 1]!;
  // Containers with coarse time bases (Matroska's 1 ms) round a CFR stream to ±1 tick.
  const tolerance = Math.max(1.01, 0.005 * median);
  return timeBase[1] > 0 && deltas.some((d) => Math.abs(d - median) > tolerance);
}

/** Options shared by probe, decode and encode. */
export interface ToolOptions {
  /** Binaries to use (default: {@link locateFfmpeg} with `ffmpeg`). */
  readonly tools?: FfmpegTools;
  /** `--ffmpeg PATH` value. */
  readonly ffmpeg?: string | undefined;
  readonly signal?: AbortSignal | undefined;
}

/**
 * Probe a media file. Missing, empty, unreadable or video-less files are media errors (exit 4)
 * naming the file; a missing ffprobe is an ffmpeg error (exit 5).
 */
export async function probeMedia(file: string, opts: ToolOptions = {}): Promise<MediaInfo> {
  const st = await stat(file).catch((e: NodeJS.ErrnoException) => {
    throw mediaError(file, e.code === 'ENOENT' ? 'no such file' : `cannot read: ${e.message}`, e);
  });
  if (st.isDirectory()) throw mediaError(file, 'is a folder, not a video');
  if (st.size === 0) throw mediaError(file, 'empty file (0 bytes)');
  const tools = opts.tools ?? locateFfmpeg({ ffmpeg: opts.ffmpeg });
  const spawnOpts = { label: 'ffprobe', file, input: 'all', signal: opts.signal } as const;
  const base = ['-hide_banner', '-loglevel', 'level+error'];
  const [json, packets] = await Promise.all([
    collect(tools.ffprobe, [...base, '-print_format', 'json', '-show_format', '-show_streams', fileArg(file)], spawnOpts),
    collect(tools.ffprobe, [...base, '-select_streams', 'V:0', '-read_intervals', '%+30', '-show_entries', 'packet=pts', '-of', 'csv=p=0', fileArg(file)], spawnOpts),
  ]);
  let parsed: Json;
  try {
    parsed = JSON.parse(json) as Json;
  } catch (e) {
    throw mediaError(file, 'ffprobe gave no readable description of this file', e);
  }
  const format = (parsed.format ?? {}) as Json;
  const streams = (Array.isArray(parsed.streams) ? parsed.streams : []) as Json[];
  const lang = (s: Json): string | undefined => str(((s.tags ?? {}) as Json).language);
  const v = streams.find((s) => s.codec_type === 'video' && ((s.disposition ?? {}) as Json).attached_pic !== 1);
  if (!v) throw mediaError(file, `no video stream (${streams.length === 0 ? 'no streams at all' : streams.map((s) => s.codec_type).join(', ') + ' only'})`);
  const storedWidth = num(v.width) ?? 0;
  const storedHeight = num(v.height) ?? 0;
  if (storedWidth <= 0 || storedHeight <= 0) throw mediaError(file, 'video stream without a frame size');
  const { rotation, matrix } = rotationOf(v);
  const swap = rotation === 90 || rotation === 270;
  const pixFmt = str(v.pix_fmt) ?? 'unknown';
  const timeBase = parseRational(v.time_base) ?? [1, 90000];
  const hdr = isHdrTransfer(str(v.color_transfer)) ? await probeHdr(tools, file, opts.signal) : undefined;
  const ptsList = packets
    .split('\n')
    .map((l) => l.split(',')[0]!.trim())
    .filter((t) => t !== '')
    .map(Number)
    .filter(Number.isFinite);
  return {
    file,
    container: str(format.format_name) ?? 'unknown',
    duration: num(format.duration),
    video: {
      index: num(v.index) ?? 0,
      codec: str(v.codec_name) ?? 'unknown',
      width: swap ? storedHeight : storedWidth,
      height: swap ? storedWidth : storedHeight,
      storedWidth,
      storedHeight,
      codedWidth: num(v.coded_width) || storedWidth,
      codedHeight: num(v.coded_height) || storedHeight,
      sar: parseRational(v.sample_aspect_ratio) ?? [1, 1],
      rotation,
      displayMatrix: matrix,
      pixFmt,
      bitDepth: bitDepthOf(pixFmt, num(v.bits_per_raw_sample)),
      colorSpace: str(v.color_space),
      colorRange: str(v.color_range),
      colorPrimaries: str(v.color_primaries),
      colorTransfer: str(v.color_transfer),
      avgFrameRate: parseRational(v.avg_frame_rate),
      rFrameRate: parseRational(v.r_frame_rate),
      timeBase,
      nbFrames: num(v.nb_frames),
      startTime: num(v.start_time) ?? 0,
      ...(hdr ? { hdr } : {}),
    },
    vfr: isVariableRate(ptsList, timeBase),
    audio: streams
      .filter((s) => s.codec_type === 'audio')
      .map((s) => ({ index: num(s.index)!, codec: str(s.codec_name) ?? 'unknown', channels: num(s.channels), sampleRate: num(s.sample_rate), language: lang(s) })),
    subtitles: streams
      .filter((s) => s.codec_type === 'subtitle')
      .map((s) => {
        const codec = str(s.codec_name) ?? 'unknown';
        return { index: num(s.index)!, codec, text: TEXT_SUBS.has(codec), language: lang(s) };
      }),
    attachments: streams
      .filter((s) => s.codec_type === 'attachment')
      .map((s) => {
        const tags = (s.tags ?? {}) as Json;
        return { index: num(s.index)!, filename: str(tags.filename), mimetype: str(tags.mimetype) };
      }),
  };
}
