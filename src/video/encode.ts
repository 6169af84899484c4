/**
 * Frames → a video file, with the source's audio, subtitles and colour signalling carried over.
 *
 * Timestamps: frames go to ffmpeg's stdin as a Matroska stream (mkv-writer.ts) in which every frame
 * carries its own timestamp, so there is exactly one output frame per written frame, a VFR source
 * stays VFR, and with the source's time base as the encoder time base (`-enc_time_base`) an mp4 or
 * mov output gets the source's pts exactly. `-copyts` keeps them as given, so audio copied from the
 * source stays in sync even when the video does not start at 0.
 *
 * Atomicity: ffmpeg writes a hidden temporary file beside the output, renamed over the output only
 * when ffmpeg succeeded; failure, abort or dispose-before-finish remove it and leave the output
 * path untouched.
 */
import { randomBytes } from 'node:crypto';
import { mkdir, rename, stat, unlink } from 'node:fs/promises';
import path from 'node:path';
import { ParagonError } from '../errors.ts';
import { colorOf, scaleMatrix, type ColorSignal } from './color.ts';
import { codecPlan, containerFor, streamArgs, type VideoCodec } from './containers.ts';
import { ffmpegCaps, fileArg, locateFfmpeg, spawnTool, type ToolProcess } from './ffmpeg.ts';
import { mkvFrameHeader, mkvHeader } from './mkv-writer.ts';
import type { MediaInfo, Rational, ToolOptions } from './probe.ts';

/** Options of {@link createEncoder}. */
export interface EncoderOptions extends ToolOptions {
  /** Size of the frames that will be written. */
  readonly width: number;
  readonly height: number;
  /** Sample depth of the frames that will be written (rgb24 or rgb48le). */
  readonly bitDepth: 8 | 16;
  /** Video codec (default: the container's, x264 — vp9 for .webm). */
  readonly codec?: VideoCodec | undefined;
  /** Quality (codec scale; defaults per codec: x264 18, x265 20, av1 26, vp9 24). */
  readonly crf?: number | undefined;
  /** Encoder speed preset (x264/x265 names, SVT-AV1 0–13, libaom/vp9 cpu-used). */
  readonly preset?: string | undefined;
  /**
   * The source: its audio, subtitle and attachment streams are carried over, its time base and
   * colour signalling used, and 10-bit output chosen (where the codec has it) when it was above 8 bits.
   */
  readonly source?: MediaInfo | undefined;
  /** Carry the source's audio (default true) and subtitles (default true). */
  readonly audio?: boolean;
  readonly subtitles?: boolean;
  /** Colour signalling (default: the source's, else BT.709 limited range). */
  readonly color?: ColorSignal | undefined;
  /** Time base of the output timestamps (default: the source's, else 1/90000). */
  readonly timeBase?: Rational | undefined;
  /** Sample aspect ratio to write (default: the source's). */
  readonly sar?: Rational | undefined;
  /** One-line notices: stream conversions, odd-size handling, timestamp repairs. */
  readonly onNotice?: ((line: string) => void) | undefined;
  /**
   * Write a fast lossless intermediate instead of `codec`: FFVHuff RGB (gbrp, gbrp16le) in
   * Matroska, every frame on its own, which decodes back to exactly the bytes written (measured on
   * noisy 1280×720 frames: 8 ms a frame on one core against 60 for FFV1, 14% more bytes). For spools of
   * frames that are encoded again later (pipeline/segments.ts), not for delivery.
   */
  readonly lossless?: boolean;
}

/** A frame to encode (a decoded {@link Frame} fits). */
export interface EncodeFrame {
  /** Presentation time in seconds. */
  readonly pts: number;
  /** Packed RGB of width × height × 3 samples, 8- or 16-bit as declared. */
  readonly data: Uint8Array | Uint16Array;
}

/** A running encode. Dispose without {@link VideoEncoder.finish} = abort. */
export interface VideoEncoder extends AsyncDisposable {
  /** Queue one frame; resolves once ffmpeg has taken its bytes (the buffer may then be reused). */
  write(frame: EncodeFrame): Promise<void>;
  /** Close the stream, wait for ffmpeg, and move the file into place. */
  finish(): Promise<void>;
  /** Stop ffmpeg and delete the partial file. Idempotent. */
  abort(): Promise<void>;
  /** Frames written so far. */
  readonly frames: number;
}

const NS = 1_000_000_000n;

/** round(a / b) for BigInts, b > 0. */
const roundDiv = (a: bigint, b: bigint): bigint => (a >= 0n ? (2n * a + b) / (2n * b) : -((-2n * a + b) / (2n * b)));

/**
 * Start encoding to `outFile` (ffmpeg starts with the first frame). The container follows the
 * extension (.mp4 .m4v .mov .mkv .webm); unsupported codec/container pairs are usage errors.
 */
export async function createEncoder(outFile: string, opts: EncoderOptions): Promise<VideoEncoder> {
  const container = containerFor(outFile);
  const ext = path.extname(outFile).toLowerCase();
  const codec = opts.codec ?? container.defaultCodec;
  if (opts.lossless && container.format !== 'matroska') throw new ParagonError('internal', 'a lossless spool is written as .mkv', { file: outFile });
  if (!opts.lossless && !container.video.includes(codec)) throw new ParagonError('usage', `--codec ${codec} cannot go into ${ext} (use ${container.video.join(', ')})`, { file: outFile });
  const { width, height, bitDepth, source } = opts;
  if (!(Number.isInteger(width) && Number.isInteger(height) && width > 0 && height > 0)) throw new ParagonError('usage', `bad frame size ${width}×${height}`, { file: outFile });
  const notice = opts.onNotice ?? (() => {});
  const tools = opts.tools ?? locateFfmpeg({ ffmpeg: opts.ffmpeg });
  const caps = await ffmpegCaps(tools);
  const tenBit = source ? source.video.bitDepth > 8 : bitDepth === 16;
  const plan = opts.lossless
    ? { encoder: 'ffvhuff', pixFmt: bitDepth === 16 ? 'gbrp16le' : 'gbrp', rgb: true, args: [] }
    : codecPlan(codec, { width, height, tenBit, highDepthFrames: bitDepth === 16, crf: opts.crf, preset: opts.preset, caps, container, hdr: source?.video.hdr }, notice);
  const color = opts.color ?? (source ? colorOf(source.video) : { matrix: 'bt709', range: 'tv' as const, primaries: undefined, transfer: undefined, guessed: true });
  const [tbNum, tbDen] = opts.timeBase ?? source?.video.timeBase ?? [1, 90000];
  const sar = opts.sar ?? source?.video.sar;
  // The source's nominal frame duration (see mkvHeader: the last frame of a short MP4 needs it).
  const rate = source?.video.avgFrameRate ?? source?.video.rFrameRate;
  const frameNs = rate && rate[0] > 0 ? roundDiv(BigInt(rate[1]) * NS, BigInt(rate[0])) : undefined;

  const dir = path.dirname(path.resolve(outFile));
  await mkdir(dir, { recursive: true });
  const temp = path.join(dir, `.${path.basename(outFile, ext)}.${process.pid}-${randomBytes(4).toString('hex')}.partial${ext}`);

  const filters = [
    plan.rgb ? undefined : `scale=out_color_matrix=${scaleMatrix(color.matrix)}:out_range=${color.range}:flags=bicubic+accurate_rnd+full_chroma_int`,
    `format=${plan.pixFmt}`,
    sar && (sar[0] !== 1 || sar[1] !== 1) ? `setsar=${sar[0]}/${sar[1]}` : undefined,
  ].filter((f): f is string => f !== undefined);
  const colorArgs = [
    '-colorspace', plan.rgb ? 'rgb' : color.matrix,
    '-color_range', plan.rgb ? 'pc' : color.range,
    ...(color.primaries ? ['-color_primaries', color.primaries] : []),
    ...(color.transfer ? ['-color_trc', color.transfer] : []),
  ];
  const sourceArgs = (): string[] => {
    if (!source) return [];
    const audio = opts.audio === false ? [] : source.audio;
    const subs = opts.subtitles === false ? [] : source.subtitles;
    const atts = opts.subtitles === false ? 0 : source.attachments.length;
    // Global metadata and chapters too; never the video stream's tags (old ffmpeg keeps the
    // rotation there as a `rotate` tag, which would turn the already upright frames again).
    return ['-map_metadata', '1', '-map_chapters', '1', ...streamArgs(container, audio, subs, atts, ext, notice)];
  };

  const frameBytes = width * height * 3 * (bitDepth / 8);
  let proc: ToolProcess | undefined;
  let frames = 0;
  let lastTicks: bigint | undefined;
  let offsetNs = 0n;
  let state: 'open' | 'finishing' | 'done' | 'aborted' = 'open';

  const start = (firstNs: bigint): ToolProcess => {
    // Matroska timestamps are unsigned: a negative first pts shifts the stream, -itsoffset undoes it.
    offsetNs = firstNs < 0n ? -firstNs : 0n;
    const carried = sourceArgs();
    const args = [
      '-hide_banner', '-nostats', '-loglevel', 'level+warning', '-y',
      '-copyts',
      ...(offsetNs > 0n ? ['-itsoffset', `-${Number(offsetNs) / 1e9}`] : []),
      '-f', 'matroska', '-i', 'pipe:0',
      ...(source ? ['-i', fileArg(source.file)] : []),
      '-map', '0:v:0', ...carried,
      '-vf', filters.join(','),
      caps.fpsModeFlag, 'passthrough', '-enc_time_base:v', `${tbNum}/${tbDen}`,
      '-c:v', plan.encoder, ...plan.args, ...colorArgs,
      '-max_muxing_queue_size', '4096',
      ...container.muxerArgs,
      '-f', container.format, temp,
    ];
    const p = spawnTool(tools.ffmpeg, args, { label: 'ffmpeg', file: outFile, stdin: true, signal: opts.signal });
    p.stdin!.write(mkvHeader(width, height, bitDepth === 16 ? 'rgb48le' : 'rgb24', frameNs));
    return p;
  };

  /** Write a buffer, resolving once it left for the pipe; a dead ffmpeg surfaces as its own error. */
  const send = (p: ToolProcess, buf: Uint8Array): Promise<void> =>
    new Promise<void>((resolve, reject) => {
      p.stdin!.write(buf, (err) => (err ? reject(err) : resolve()));
    }).catch(async (e: unknown) => {
      await p.done; // rejects with ffmpeg's message when it died
      throw e;
    });

  const cleanup = async (): Promise<void> => {
    if (proc) await proc[Symbol.asyncDispose]();
    await unlink(temp).catch(() => {});
  };

  const fail = async (e: unknown): Promise<never> => {
    state = 'aborted';
    await cleanup();
    throw e;
  };

  const encoder: VideoEncoder = {
    get frames() {
      return frames;
    },
    async write(frame) {
      if (state !== 'open') throw new Error(`VideoEncoder.write after ${state}`);
      if (frame.data.byteLength !== frameBytes)
        throw new ParagonError('internal', `frame ${frames} has ${frame.data.byteLength} bytes, expected ${frameBytes} (${width}×${height} RGB, ${bitDepth}-bit)`);
      // Source time base ticks, strictly increasing (a repeated pts would break the muxer).
      let ticks = BigInt(Math.round((frame.pts * tbDen) / tbNum));
      if (lastTicks !== undefined && ticks <= lastTicks) {
        notice(`frame ${frames}: timestamp ${frame.pts}s not after the previous frame; moved one tick later`);
        ticks = lastTicks + 1n;
      }
      lastTicks = ticks;
      const ns = roundDiv(ticks * BigInt(tbNum) * NS, BigInt(tbDen));
      try {
        proc ??= start(ns);
        const data = new Uint8Array(frame.data.buffer, frame.data.byteOffset, frame.data.byteLength);
        await send(proc, mkvFrameHeader(ns + offsetNs, frameBytes));
        await send(proc, data);
        frames++;
      } catch (e) {
        return fail(e);
      }
    },
    async finish() {
      if (state !== 'open') throw new Error(`VideoEncoder.finish after ${state}`);
      state = 'finishing';
      if (!proc) return fail(new ParagonError('media', 'no frames to encode', { file: outFile }));
      try {
        proc.stdin!.end();
        await proc.done;
        if ((await stat(temp)).size === 0) throw new ParagonError('ffmpeg', 'ffmpeg wrote an empty file', { file: outFile });
        await rename(temp, outFile);
        state = 'done';
      } catch (e) {
        return fail(e);
      }
    },
    async abort() {
      if (state === 'done' || state === 'aborted') return;
      state = 'aborted';
      await cleanup();
    },
    async [Symbol.asyncDispose]() {
      await encoder.abort();
    },
  };
  return encoder;
}
