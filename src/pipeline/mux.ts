/**
 * The last step of a video run: join the encoded segments (ffmpeg's concat demuxer, stream copy)
 * and add the source's audio, subtitles, attachments, metadata and chapters, into a temporary file
 * beside the output that is renamed over it only on success.
 *
 * Timestamps. The concat demuxer shifts file i by `start_i − file_start_i`, where `start_i` is the
 * sum of the `duration` lines before it and `file_start_i` the file's own start time, both in
 * microseconds. With each duration set to the difference of consecutive file start times (read
 * back from the files by ffprobe, the same number the demuxer computes), every file's shift is the
 * same `−file_start_0`, which an `-itsoffset` of `+file_start_0` cancels exactly: the segments'
 * timestamps, which are the source's, come out untouched, VFR included. Audio copied from the source
 * with `-copyts` then lines up as in the source.
 */
import { randomBytes } from 'node:crypto';
import { readdir, rename, stat, unlink, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { ParagonError } from '../errors.ts';
import { containerFor, streamArgs } from '../video/containers.ts';
import { collect, fileArg, spawnTool, type FfmpegTools } from '../video/ffmpeg.ts';
import type { MediaInfo } from '../video/probe.ts';
import { parseStartUs } from './resume.ts';

/** A segment file and its start time as the demuxer reads it. */
export interface MuxSegment {
  readonly file: string;
  readonly startUs: number | null;
}

/** Options of {@link muxSegments}. */
export interface MuxOptions {
  readonly tools: FfmpegTools;
  readonly source: MediaInfo;
  /** Carry the source's audio and subtitles (default true). */
  readonly audio?: boolean;
  readonly subtitles?: boolean;
  /**
   * For an excerpt (`--frames`): the source time span [from, to) whose audio and subtitles to keep
   * (`to` undefined = to the end), and the shift the video timestamps got (output = source − shift).
   */
  readonly excerpt?: { readonly from: number; readonly to: number | undefined; readonly shift: number };
  readonly signal?: AbortSignal | undefined;
  readonly notice?: (line: string) => void;
  /** Called once the joining ffmpeg runs. */
  readonly onSpawn?: () => void;
}

/** Start time (µs) of a file as ffmpeg's demuxer sees it; null when it has none. */
export async function startTimeUs(tools: FfmpegTools, file: string, signal?: AbortSignal): Promise<number | null> {
  const out = await collect(tools.ffprobe, ['-hide_banner', '-loglevel', 'error', '-show_entries', 'format=start_time', '-of', 'csv=p=0', fileArg(file)], {
    label: 'ffprobe',
    file,
    signal,
  });
  return parseStartUs(out);
}

/** µs as seconds text with six decimals, exact (no float rounding). */
function seconds(us: number): string {
  const sign = us < 0 ? '-' : '';
  const a = Math.abs(us);
  return `${sign}${Math.floor(a / 1e6)}.${String(a % 1e6).padStart(6, '0')}`;
}

/** The concat script: files with `duration` lines that keep every timestamp (see the module comment). */
export function concatScript(segments: readonly MuxSegment[]): string {
  const quote = (f: string): string => `'${fileArg(f).replace(/'/g, "'\\''")}'`;
  const lines = ['ffconcat version 1.0'];
  segments.forEach((s, i) => {
    lines.push(`file ${quote(s.file)}`);
    const next = segments[i + 1];
    if (next) lines.push(`duration ${seconds((next.startUs ?? 0) - (s.startUs ?? 0))}`);
  });
  return `${lines.join('\n')}\n`;
}

/** Join `segments` into `output` with the source's other streams (see the module comment). */
export async function muxSegments(segments: readonly MuxSegment[], output: string, opts: MuxOptions): Promise<void> {
  if (segments.length === 0) throw new ParagonError('media', 'no frames to write', { file: output });
  const container = containerFor(output);
  const ext = path.extname(output).toLowerCase();
  const notice = opts.notice ?? (() => undefined);
  const dir = path.dirname(path.resolve(output));
  const tag = `${process.pid}-${randomBytes(4).toString('hex')}`;
  const temp = path.join(dir, partialName(output, tag));
  const list = path.join(path.dirname(segments[0]!.file), `.concat-${tag}.txt`);
  const { source, excerpt } = opts;
  const audio = opts.audio === false ? [] : source.audio;
  const subs = opts.subtitles === false ? [] : source.subtitles;
  const atts = opts.subtitles === false ? 0 : source.attachments.length;
  const start0 = segments[0]!.startUs ?? 0;
  // An excerpt: the source's streams shifted like the video, then cut to the video's span by
  // output-side -ss/-t (with -copyts, input-side ones would keep everything before the span).
  const shiftIn = excerpt && excerpt.shift !== 0 ? ['-itsoffset', String(-excerpt.shift)] : [];
  const span = excerpt
    ? ['-ss', String(excerpt.from - excerpt.shift), ...(excerpt.to !== undefined ? ['-t', String(Math.max(0, excerpt.to - excerpt.from))] : [])]
    : [];
  const args = [
    '-hide_banner', '-nostdin', '-nostats', '-loglevel', 'level+warning', '-y',
    '-copyts',
    ...(start0 !== 0 ? ['-itsoffset', seconds(start0)] : []),
    '-f', 'concat', '-safe', '0', '-i', list,
    ...shiftIn, '-i', fileArg(source.file),
    '-map', '0:v:0',
    '-map_metadata', '1', '-map_chapters', excerpt ? '-1' : '1',
    ...streamArgs(container, audio, subs, atts, ext, notice),
    '-c:v', 'copy',
    ...span,
    '-max_muxing_queue_size', '4096',
    ...container.muxerArgs,
    '-f', container.format, temp,
  ];
  try {
    await writeFile(list, concatScript(segments));
    const join = spawnTool(opts.tools.ffmpeg, args, { label: 'ffmpeg', file: output, signal: opts.signal });
    opts.onSpawn?.();
    await join.done;
    if ((await stat(temp)).size === 0) throw new ParagonError('ffmpeg', 'ffmpeg wrote an empty file', { file: output });
    await rename(temp, output);
  } catch (e) {
    await unlink(temp).catch(() => undefined);
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'ENOSPC') throw new ParagonError('resources', 'disk full while writing the output', { file: output, cause: e });
    throw e;
  } finally {
    await unlink(list).catch(() => undefined);
  }
}

/** Name of the temporary file beside `output` that a join writes (`tag` = `PID-RANDOM`). */
const partialName = (output: string, tag: string): string => {
  const ext = path.extname(output);
  return `.${path.basename(output, ext)}.${tag}.partial${ext}`;
};

/**
 * Remove the temporary files of joins into `output` whose process is gone: a paragon killed
 * outright (SIGKILL, power loss) while joining cannot remove its own, and its ffmpeg may even
 * have finished writing it after it died.
 */
export async function removeStalePartials(output: string): Promise<void> {
  const dir = path.dirname(path.resolve(output));
  const ext = path.extname(output);
  const head = `.${path.basename(output, ext)}.`;
  for (const name of await readdir(dir).catch(() => [] as string[])) {
    if (!name.startsWith(head) || !name.endsWith(`.partial${ext}`)) continue;
    const pid = Number(/^(\d+)-[0-9a-f]+$/.exec(name.slice(head.length, -`.partial${ext}`.length))?.[1]);
    if (!Number.isInteger(pid) || pid === process.pid || alive(pid)) continue;
    await unlink(path.join(dir, name)).catch(() => undefined);
  }
}

/** True while process `pid` exists (EPERM: it exists, owned by someone else). */
function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}
