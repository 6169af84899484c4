/**
 * One segment of an upscaled video: output frames from A on, encoded on their own into one file
 * that starts on a keyframe, so that segments made separately (one run after another, or on
 * different machines) join by stream copy (mux.ts) into what one encode would have made of them
 * cut at the same frames. What a segment needs from before A is the upscaler's state; that is the
 * caller's (resume.ts keeps it in the checkpoint).
 *
 * With an inter codec the segment's frames also go to a lossless spool (`spool` option): a file
 * per part, cut whenever the caller wants the frames so far to be durable ({@link cutSpool}),
 * while the real encode goes on. A writer opened later with those parts (`preload`) encodes their
 * frames again, bytes and timestamps as they were, before the new ones: the same encoder input
 * from the same first frame, so the same packets (resume.ts says why that is needed).
 */
import { stat } from 'node:fs/promises';
import path from 'node:path';
import { ParagonError } from '../errors.ts';
import type { VideoCodec } from '../video/containers.ts';
import { decodeFrames } from '../video/decode.ts';
import { createEncoder, type EncodeFrame, type EncoderOptions, type VideoEncoder } from '../video/encode.ts';
import type { FfmpegTools } from '../video/ffmpeg.ts';
import type { MediaInfo } from '../video/probe.ts';
import type { SegmentRecord, SpoolPart } from './manifest.ts';
import { startTimeUs } from './mux.ts';

/**
 * Codecs that code every frame alone (FFV1 as driven here, `-g 1`; ProRes): a file of theirs may
 * end at any frame and the packets stay those of one long encode. The others need a spool.
 */
export const intraOnly = (codec: VideoCodec): boolean => codec === 'ffv1' || codec === 'prores';

/**
 * How every segment of a video is encoded (the single-machine run's and the farm's chunks alike):
 * the upscaled frames' size and depth, the codec and quality asked for, the source's time base and
 * colour, no audio or subtitles (the join adds the source's).
 */
export function segmentEncoding(
  info: MediaInfo,
  o: { width: number; height: number; bitDepth: 8 | 16; codec: VideoCodec; crf: number | undefined; preset: string | undefined; notice: (line: string) => void },
): Omit<EncoderOptions, 'tools' | 'lossless'> {
  return {
    width: o.width,
    height: o.height,
    bitDepth: o.bitDepth,
    codec: o.codec,
    crf: o.crf,
    preset: o.preset,
    source: info,
    audio: false,
    subtitles: false,
    // Frames come out upright: a sideways source's pixel aspect turns with them.
    sar: info.video.rotation % 180 === 90 ? [info.video.sar[1], info.video.sar[0]] : info.video.sar,
    onNotice: o.notice,
  };
}

/** Options of {@link SegmentWriter.open}. */
export interface SegmentWriterOptions {
  /** Folder of the segment's files. */
  readonly dir: string;
  /** File name of the segment (its extension picks the container). */
  readonly file: string;
  /** Source index of the segment's first frame. */
  readonly first: number;
  readonly tools: FfmpegTools;
  /** The segment's encode (size, depth, codec, quality, colour; no audio or subtitles). */
  readonly encoder: Omit<EncoderOptions, 'tools' | 'lossless'>;
  /** Spool the frames losslessly (inter codecs): part file names, and parts already spooled to encode first. */
  readonly spool?: { readonly name: (first: number) => string; readonly preload: readonly SpoolPart[] };
}

interface OpenPart {
  readonly enc: VideoEncoder;
  readonly file: string;
  readonly first: number;
  readonly pts: number[];
}

/** Writes one segment (see the module comment). Dispose without {@link finish} = abort. */
export class SegmentWriter implements AsyncDisposable {
  readonly first: number;
  readonly file: string;
  readonly #o: SegmentWriterOptions;
  readonly #enc: VideoEncoder;
  #part: OpenPart | undefined;
  #reencoded = 0;
  /** Source index the next frame must have. */
  #next: number;

  private constructor(o: SegmentWriterOptions, enc: VideoEncoder) {
    this.#o = o;
    this.first = o.first;
    this.file = o.file;
    this.#enc = enc;
    this.#next = o.first;
  }

  /** Start the segment; with spooled parts to preload, encode their frames first. */
  static async open(o: SegmentWriterOptions): Promise<SegmentWriter> {
    const enc = await createEncoder(path.join(o.dir, o.file), { ...o.encoder, tools: o.tools });
    const w = new SegmentWriter(o, enc);
    try {
      for (const part of o.spool?.preload ?? []) await w.#replay(part);
    } catch (e) {
      await enc.abort();
      throw e;
    }
    return w;
  }

  /** Frames in the segment so far (preloaded ones included). */
  get frames(): number {
    return this.#enc.frames;
  }

  /** Frames encoded again from the spool. */
  get reencoded(): number {
    return this.#reencoded;
  }

  /** Encode the spooled frames of `part` (exact bytes and timestamps) as the next frames. */
  async #replay(part: SpoolPart): Promise<void> {
    const file = path.join(this.#o.dir, part.file);
    const { width, height, bitDepth } = this.#o.encoder;
    if (part.first !== this.#next) throw new ParagonError('internal', `spool part ${part.file} starts at frame ${part.first}, expected ${this.#next}`);
    let n = 0;
    await using frames = decodeFrames(file, { tools: this.#o.tools, layout: 'packed', bitDepth });
    for await (const f of frames) {
      if (n >= part.frames || f.width !== width || f.height !== height) break;
      await this.#enc.write({ pts: part.pts[n]!, data: f.data });
      frames.recycle(f.data);
      n++;
    }
    if (n !== part.frames) throw new ParagonError('media', `damaged checkpoint file (${n} of ${part.frames} frames readable); delete ${this.#o.dir} to start over`, { file });
    this.#reencoded += n;
    this.#next += n;
  }

  /** Write frame `index` (source index, the next one of the segment). */
  async write(frame: EncodeFrame, index: number): Promise<void> {
    if (index !== this.#next) throw new ParagonError('internal', `segment ${this.file}: frame ${index} written, expected ${this.#next}`);
    const spool = this.#o.spool;
    if (spool && !this.#part) {
      const { width, height, bitDepth } = this.#o.encoder;
      const file = spool.name(index);
      // Timestamps 1 ms apart: the real ones go into the manifest (Matroska keeps milliseconds).
      const enc = await createEncoder(path.join(this.#o.dir, file), { tools: this.#o.tools, width, height, bitDepth, lossless: true, timeBase: [1, 1000] });
      this.#part = { enc, file, first: index, pts: [] };
    }
    const part = this.#part;
    await Promise.all([this.#enc.write(frame), part?.enc.write({ pts: part.pts.length / 1000, data: frame.data })]);
    part?.pts.push(frame.pts);
    this.#next++;
  }

  /**
   * Hand over the spool part written since the last cut, finishing in the background (undefined
   * when no frame was written since); the next frame starts a new part. The segment's encode goes on.
   */
  cutSpool(): Promise<SpoolPart> | undefined {
    const part = this.#part;
    if (!part) return undefined;
    this.#part = undefined;
    const done = (async (): Promise<SpoolPart> => {
      await part.enc.finish();
      const bytes = (await stat(path.join(this.#o.dir, part.file))).size;
      return { file: part.file, first: part.first, frames: part.pts.length, bytes, pts: part.pts };
    })();
    done.catch(() => undefined);
    return done;
  }

  /** Complete the segment's file (the spool part in progress is dropped: the segment no longer needs it). */
  async finish(): Promise<SegmentRecord> {
    await this.#part?.enc.abort();
    this.#part = undefined;
    await this.#enc.finish();
    const file = path.join(this.#o.dir, this.file);
    const [startUs, st] = await Promise.all([startTimeUs(this.#o.tools, file), stat(file)]);
    return { file: this.file, first: this.first, frames: this.#enc.frames, startUs, bytes: st.size };
  }

  /** Stop both encodes and delete their partial files. Idempotent. */
  async abort(): Promise<void> {
    await Promise.all([this.#enc.abort(), this.#part?.enc.abort()]);
    this.#part = undefined;
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.abort();
  }
}
