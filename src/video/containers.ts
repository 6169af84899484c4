/**
 * What each output container can hold, and how the video codecs are driven. The output container
 * follows the file extension; audio and subtitle streams are copied when the container takes
 * their codec and converted (or, for bitmap subtitles, dropped) otherwise, with a notice.
 */
import { svtav1Hdr, x265Hdr, type HdrMetadata } from './hdr.ts';
import path from 'node:path';
import { usageError, ParagonError } from '../errors.ts';
import type { FfmpegCaps } from './ffmpeg.ts';
import type { AudioStreamInfo, SubtitleStreamInfo } from './probe.ts';

/** Video codecs the encoder offers. */
export type VideoCodec = 'x264' | 'x265' | 'av1' | 'vp9' | 'ffv1' | 'prores';

/** All codecs, for option parsing. */
export const VIDEO_CODECS: readonly VideoCodec[] = ['x264', 'x265', 'av1', 'vp9', 'ffv1', 'prores'];

/** An output container. */
export interface Container {
  /** ffmpeg muxer name. */
  readonly format: string;
  readonly video: readonly VideoCodec[];
  /** Default video codec for this container. */
  readonly defaultCodec: VideoCodec;
  /** Audio codecs copied as they are (undefined = any). */
  readonly audio: ReadonlySet<string> | undefined;
  /** Encoder and its arguments for audio the container cannot hold. */
  readonly audioFallback: { readonly encoder: string; readonly name: string; readonly bitrate: number };
  /** Text subtitle codec to convert to (`copy` keeps any text codec except mov_text). */
  readonly textSubtitles: 'mov_text' | 'webvtt' | 'copy';
  /** Bitmap subtitles (PGS, VobSub) can be copied. */
  readonly bitmapSubtitles: boolean;
  /** Attachments (fonts) can be copied. */
  readonly attachments: boolean;
  /** Extra muxer options. */
  readonly muxerArgs: readonly string[];
}

const MP4: Container = {
  format: 'mp4',
  video: ['x264', 'x265', 'av1', 'vp9'],
  defaultCodec: 'x264',
  audio: new Set(['aac', 'mp3', 'ac3', 'eac3', 'opus', 'alac']),
  audioFallback: { encoder: 'aac', name: 'AAC', bitrate: 192 },
  textSubtitles: 'mov_text',
  bitmapSubtitles: false,
  attachments: false,
  muxerArgs: ['-movflags', '+faststart'],
};

const CONTAINERS: Record<string, Container> = {
  '.mp4': MP4,
  '.m4v': MP4,
  '.mov': {
    ...MP4,
    format: 'mov',
    video: ['x264', 'x265', 'prores', 'ffv1'],
    audio: new Set(['aac', 'mp3', 'ac3', 'eac3', 'alac', 'pcm_s16le', 'pcm_s16be', 'pcm_s24le', 'pcm_s24be', 'pcm_f32le']),
  },
  '.mkv': {
    format: 'matroska',
    video: ['x264', 'x265', 'av1', 'vp9', 'ffv1', 'prores'],
    defaultCodec: 'x264',
    audio: undefined,
    audioFallback: { encoder: 'flac', name: 'FLAC', bitrate: 0 },
    textSubtitles: 'copy',
    bitmapSubtitles: true,
    attachments: true,
    muxerArgs: [],
  },
  '.webm': {
    format: 'webm',
    video: ['vp9', 'av1'],
    defaultCodec: 'vp9',
    audio: new Set(['opus', 'vorbis']),
    audioFallback: { encoder: 'libopus', name: 'Opus', bitrate: 160 },
    textSubtitles: 'webvtt',
    bitmapSubtitles: false,
    attachments: false,
    muxerArgs: [],
  },
};

/** Output extensions the encoder writes. */
export const OUTPUT_EXTENSIONS = Object.keys(CONTAINERS);

/** The container for an output file, or a usage error naming the supported extensions. */
export function containerFor(file: string): Container {
  const c = CONTAINERS[path.extname(file).toLowerCase()];
  if (!c) throw usageError(`${file}: unsupported video output extension (use ${OUTPUT_EXTENSIONS.join(', ')})`);
  return c;
}

/** ffmpeg arguments carrying the source's audio, subtitle and attachment streams (input #1). */
export function streamArgs(
  c: Container,
  audio: readonly AudioStreamInfo[],
  subtitles: readonly SubtitleStreamInfo[],
  attachments: number,
  ext: string,
  notice: (line: string) => void,
): string[] {
  const args: string[] = [];
  audio.forEach((a, k) => {
    args.push('-map', `1:${a.index}`);
    if (!c.audio || c.audio.has(a.codec)) {
      // Opus in MP4 is standard (and plain in ffmpeg ≥ 4.3); older builds, such as the npm-installed
      // one, call their writer experimental and refuse it unless told otherwise.
      if (a.codec === 'opus' && c.format === 'mp4' && !args.includes('-strict')) args.push('-strict', 'experimental');
      return void args.push(`-c:a:${k}`, 'copy');
    }
    const fb = c.audioFallback;
    const kbps = fb.bitrate * Math.max(1, Math.ceil((a.channels ?? 2) / 2));
    args.push(`-c:a:${k}`, fb.encoder, ...(fb.bitrate ? [`-b:a:${k}`, `${kbps}k`] : []));
    notice(`audio stream #${a.index} (${a.codec}) cannot go into ${ext}: re-encoded to ${fb.name}${fb.bitrate ? ` ${kbps} kb/s` : ''}`);
  });
  let k = 0;
  for (const s of subtitles) {
    if (!s.text && !c.bitmapSubtitles) {
      notice(`subtitle stream #${s.index} (${s.codec}, bitmap) cannot go into ${ext}: dropped`);
      continue;
    }
    args.push('-map', `1:${s.index}`);
    const target = !s.text ? 'copy' : c.textSubtitles === 'copy' ? (s.codec === 'mov_text' ? 'srt' : 'copy') : s.codec === c.textSubtitles ? 'copy' : c.textSubtitles;
    if (target !== 'copy') notice(`subtitle stream #${s.index} (${s.codec}) converted to ${target} for ${ext}`);
    args.push(`-c:s:${k++}`, target);
  }
  if (attachments > 0) {
    if (c.attachments) args.push('-map', '1:t', '-c:t', 'copy');
    else notice(`${attachments} attachment(s) (fonts) cannot go into ${ext}: dropped`);
  }
  return args;
}

/** How one video codec is driven. */
export interface CodecPlan {
  readonly encoder: string;
  /** Pixel format handed to the encoder. */
  readonly pixFmt: string;
  /** True when the encoder takes RGB (no YUV matrix involved). */
  readonly rgb: boolean;
  readonly args: string[];
}

/**
 * Encoder, pixel format and arguments for a codec. 4:2:0 needs even sizes in H.264/HEVC (their
 * crop window works in chroma units), so odd sizes get 4:4:4 there rather than losing or
 * inventing a pixel row; VP9, AV1 (libaom) and FFV1 code odd sizes in 4:2:0 directly.
 */
export function codecPlan(
  codec: VideoCodec,
  o: {
    width: number;
    height: number;
    tenBit: boolean;
    highDepthFrames: boolean;
    crf?: number | undefined;
    preset?: string | undefined;
    caps: FfmpegCaps;
    container: Container;
    /** The source's HDR static metadata: written by x265 and SVT-AV1, a notice elsewhere. */
    hdr?: HdrMetadata | undefined;
  },
  notice: (line: string) => void,
): CodecPlan {
  const hdr = o.hdr;
  if (hdr && codec !== 'x265' && codec !== 'av1') notice(`the source's HDR mastering/light-level metadata is not written by --codec ${codec} (x265 and av1 carry it)`);
  const odd = o.width % 2 !== 0 || o.height % 2 !== 0;
  const has = (e: string): boolean => o.caps.encoders.has(e);
  const need = (e: string): string => {
    if (!has(e)) throw new ParagonError('ffmpeg', `this ffmpeg has no ${e} encoder (needed for --codec ${codec}); ${o.caps.version}`);
    return e;
  };
  const depth = o.tenBit ? '10le' : '';
  const crf = (d: number): string[] => ['-crf', String(o.crf ?? d)];
  const apple = o.container.format === 'mp4' || o.container.format === 'mov';
  switch (codec) {
    case 'x264':
      if (odd) notice(`odd frame size ${o.width}×${o.height}: H.264 written as 4:4:4 (4:2:0 needs even sizes; some players only play 4:2:0)`);
      return { encoder: need('libx264'), pixFmt: odd ? 'yuv444p' : 'yuv420p', rgb: false, args: [...crf(18), '-preset', o.preset ?? 'medium'] };
    case 'x265':
      if (odd) notice(`odd frame size ${o.width}×${o.height}: HEVC written as 4:4:4 (4:2:0 needs even sizes; some players only play 4:2:0)`);
      return {
        encoder: need('libx265'),
        pixFmt: (odd ? 'yuv444p' : 'yuv420p') + depth,
        rgb: false,
        args: [...crf(20), '-preset', o.preset ?? 'medium', '-x265-params', ['log-level=error', ...(hdr ? x265Hdr(hdr) : [])].join(':'), ...(apple ? ['-tag:v', 'hvc1'] : [])],
      };
    case 'av1': {
      const pixFmt = 'yuv420p' + depth;
      // SVT-AV1 is fast but wants even sizes of at least 64; libaom takes anything.
      if (has('libsvtav1') && !odd && o.width >= 64 && o.height >= 64)
        return { encoder: 'libsvtav1', pixFmt, rgb: false, args: [...crf(26), '-preset', o.preset ?? '8', ...(hdr ? ['-svtav1-params', svtav1Hdr(hdr).join(':')] : [])] };
      if (hdr) notice(`the source's HDR mastering/light-level metadata is not written by ${has('libaom-av1') ? 'libaom-av1' : 'rav1e'} (SVT-AV1 carries it)`);
      if (has('libaom-av1')) return { encoder: 'libaom-av1', pixFmt, rgb: false, args: [...crf(26), '-b:v', '0', '-cpu-used', o.preset ?? '6', '-row-mt', '1'] };
      return { encoder: need('librav1e'), pixFmt, rgb: false, args: ['-qp', String(o.crf ?? 80), '-speed', o.preset ?? '6'] };
    }
    case 'vp9':
      return {
        encoder: need('libvpx-vp9'),
        pixFmt: 'yuv420p' + depth,
        rgb: false,
        args: [...crf(24), '-b:v', '0', '-deadline', 'good', '-cpu-used', o.preset ?? '4', '-row-mt', '1'],
      };
    case 'ffv1':
      // Lossless RGB: the frames come back bit for bit, whatever the source's matrix.
      return { encoder: need('ffv1'), pixFmt: o.highDepthFrames ? 'gbrp16le' : 'gbrp', rgb: true, args: ['-level', '3', '-g', '1', '-slicecrc', '1'] };
    case 'prores':
      return { encoder: need('prores_ks'), pixFmt: 'yuv422p10le', rgb: false, args: ['-profile:v', '3', '-vendor', 'apl0'] };
  }
}
