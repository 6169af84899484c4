/**
 * An upscale job over an image, a folder of images, or a video (handed to video.ts): resolve the
 * model once, run every item, report each bad item in one line and carry on, write a JSON report,
 * and fail at the end (exit 4) when any item failed.
 */
import { stat } from 'node:fs/promises';
import path from 'node:path';
import { ExitCode, ParagonError, mediaError } from '../errors.ts';
import type { CpuOptions, DeviceRequest } from '../runtime/devices.ts';
import type { ModelInfo } from '../runtime/model-info.ts';
import { openUpscaler } from '../temporal/open.ts';
import type { UpscalerStats } from '../temporal/upscaler.ts';
import type { VideoCodec } from '../video/containers.ts';
import { IMAGE_EXTENSIONS, isImagePath, planFolder, prepareItem, saveItem, singleOutput, type ImageItem } from './images.ts';
import { progressLines } from './progress.ts';
import { writeAtomically } from './write.ts';
import { isVideoPath, upscaleVideo, type VideoReport } from './video.ts';

/** Options of {@link runUpscale} (the `paragon upscale` flags). */
export interface UpscaleJobOptions {
  readonly input: string;
  readonly output: string;
  /** `--model`: checkpoint, ONNX file or bundled model name (default: the bundled realtime 2x). */
  readonly model?: string;
  readonly device?: DeviceRequest;
  readonly tile?: number;
  readonly fp16?: boolean;
  /**
   * History weight for video: `'auto'` (default: a per-pixel map, `--temporal auto`) or W (`--temporal W`; 0 = `--no-temporal`): the weight of the
   * previous frame's features, 0 = the current frame only. Images always use 0.
   */
  readonly historyWeight?: number | 'auto';
  readonly recursive?: boolean;
  readonly cpu?: CpuOptions;
  /** `--report FILE.json`. */
  readonly report?: string;
  /** Human lines (notices, failures, progress) — stderr in the CLI. */
  readonly log?: (line: string) => void;
  /** Machine-readable progress events (`--progress json`) — one JSON object per call. */
  readonly progress?: (event: Record<string, unknown>) => void;
  /**
   * Human progress lines (`[3/10] written …`, a video's line every 10 s and its summary). Default:
   * `log`, unless `progress` is given (then none).
   */
  readonly progressLines?: (line: string) => void;
  /**
   * Ctrl+C: stop after the image in flight, write the report so far, throw `interrupted` (exit 130).
   * A video finishes the frames already in the model, keeps every finished frame in its
   * checkpoint, then throws `interrupted`.
   */
  readonly signal?: AbortSignal;
  /** Terminal progress bar for video: receives `\r`-redrawn text (stderr when it is a TTY). */
  readonly bar?: (text: string) => void;
  /** Video: `--codec` (default: the container's), `--crf`, `--preset`, `--ffmpeg PATH`. */
  readonly codec?: VideoCodec;
  readonly crf?: number;
  readonly preset?: string;
  readonly ffmpeg?: string;
  /** Video: `--frames FROM:TO`, source frame indices, TO exclusive. */
  readonly frames?: { readonly from: number; readonly to: number | undefined };
  /** Video: `--resume` an interrupted run from its checkpoint. */
  readonly resume?: boolean;
  /** Video: frames per resumable segment (`--checkpoint N`, default 240). */
  readonly checkpoint?: number;
  /**
   * Video: seconds of work after which a checkpoint is committed inside a segment too (default:
   * `PARAGON_CHECKPOINT_SECONDS`, else 30), so a hard kill loses at most about that much.
   */
  readonly checkpointSeconds?: number;
  /**
   * Video: lower every thread of this process but the model's, and the ffmpeg processes started
   * afterwards (runtime/priority.ts): 'idle' (or true) SCHED_IDLE where possible, 'nice' niceness
   * only. One-way: for a process of its own (the CLI).
   */
  readonly favourModel?: boolean | 'idle' | 'nice';
}

/** Outcome of one item. */
export interface ItemReport {
  input: string;
  output: string;
  status: 'written' | 'skipped' | 'failed';
  error?: string;
  width?: number;
  height?: number;
  ms: number;
}

/** What `--report` writes. */
export interface JobReport {
  input: string;
  output: string;
  model: ModelInfo;
  device: string;
  historyWeight: number;
  items: ItemReport[];
  counts: { total: number; written: number; skipped: number; failed: number };
  stats: UpscalerStats;
  elapsedMs: number;
}

/** Run `paragon upscale`; throws a media error (exit 4) after finishing when any item failed. */
export async function runUpscale(opts: UpscaleJobOptions): Promise<JobReport | VideoReport> {
  const t0 = performance.now();
  const kind = await inputKind(opts.input);
  if (kind === 'video') {
    const report = await upscaleVideo(opts);
    if (opts.report) await writeReport(opts.report, report);
    return report;
  }
  const log = opts.log ?? (() => undefined);
  const lines = progressLines(opts);

  let items: ImageItem[];
  const failedEarly: ItemReport[] = [];
  if (kind === 'folder') {
    const plan = await planFolder(opts.input, opts.output, opts.recursive === true);
    items = plan.items;
    for (const c of plan.clashes)
      failedEarly.push({ input: c.input, output: '', status: 'failed', error: `${c.input}: same output name as ${c.other}`, ms: 0 });
  } else {
    items = [{ input: opts.input, output: singleOutput(opts.input, opts.output) }];
  }

  await using up = await openUpscaler(opts.model, {
    mode: 'standard',
    fp16: opts.fp16 === true,
    device: opts.device ?? 'auto',
    cpu: opts.cpu ?? {},
    tile: opts.tile ?? 0,
    historyWeight: 0,
    onNotice: log,
  });
  const scale = up.info.scale;
  const results: ItemReport[] = [];
  const total = items.length + failedEarly.length;
  const dirsReady = new Map<string, Promise<void>>();
  const single = kind === 'image';
  let firstError: ParagonError | undefined;
  const fail = (item: ImageItem, e: unknown, t: number): ItemReport => {
    // Out of memory or disk stops the job: every later item would fail the same way.
    if (!(e instanceof ParagonError) || e.code === ExitCode.resources || e.code === ExitCode.internal) throw e;
    firstError ??= e;
    return { ...item, status: 'failed', error: e.message, ms: Math.round(performance.now() - t) };
  };
  const record = (r: ItemReport) => {
    results.push(r);
    if (r.status === 'failed' && !single) log(r.error!);
    opts.progress?.({ event: 'item', index: results.length, total, ...r });
    if (r.status !== 'failed')
      lines?.(`[${results.length}/${total}] ${r.status} ${r.output}${r.status === 'written' ? ` (${(r.ms / 1000).toFixed(1)} s)` : ''}`);
  };

  // A three-stage pipeline: item i+1 decodes (sharp's threads) and item i-1 encodes while item i
  // is in the inference worker. Reports still come out in item order.
  const prepare = (item: ImageItem) => prepareItem(item, scale, dirsReady);
  let next = items[0] ? settle(prepare(items[0])) : undefined;
  let writing: Promise<ItemReport> | undefined;
  for (const [i, item] of items.entries()) {
    if (opts.signal?.aborted) break;
    const t = performance.now();
    const loaded = await next!;
    next = items[i + 1] ? settle(prepare(items[i + 1]!)) : undefined;
    let r: ItemReport | Promise<ItemReport>;
    if (!loaded.ok) r = fail(item, loaded.error, t);
    else if ('skip' in loaded.value) r = { ...item, status: 'skipped', ...loaded.value.skip, ms: 0 };
    else {
      const img = loaded.value.image;
      try {
        const out = await up.process({ width: img.width, height: img.height, rgb: img.rgb }, { cut: true });
        r = saveItem(item, img, out).then(
          (size) => ({ ...item, status: 'written' as const, ...size, ms: Math.round(performance.now() - t) }),
          (e) => fail(item, e, t),
        );
      } catch (e) {
        r = fail(item, e, t);
      }
    }
    if (writing) record(await writing);
    writing = Promise.resolve(r);
  }
  if (writing) record(await writing);
  const stopped = opts.signal?.aborted === true;
  if (!stopped) for (const r of failedEarly) record(r);

  const count = (s: ItemReport['status']) => results.filter((r) => r.status === s).length;
  const report: JobReport = {
    input: opts.input,
    output: opts.output,
    model: up.info,
    device: up.device,
    historyWeight: up.historyWeight,
    items: results,
    counts: { total, written: count('written'), skipped: count('skipped'), failed: count('failed') },
    stats: { ...up.stats },
    elapsedMs: Math.round(performance.now() - t0),
  };
  opts.progress?.({ event: 'done', ...report.counts, elapsedMs: report.elapsedMs });
  if (opts.report) await writeReport(opts.report, report);
  if (stopped) throw new ParagonError('interrupted', `stopped after ${results.length} of ${total} images`, { file: opts.input });
  // One image: its own error (and exit code) is the message; a folder sums up after the item lines.
  if (single && firstError) throw firstError;
  if (report.counts.failed > 0)
    throw new ParagonError('media', `${report.counts.failed} of ${total} images failed (see the lines above)`, { file: opts.input });
  if (total === 0) log(`${opts.input}: no images (${IMAGE_EXTENSIONS.join(', ')}) found`);
  return report;
}

/**
 * Classify the input path: a folder, an image (by extension), or else a video: any file ffmpeg can
 * demux qualifies, whatever its extension, and one it cannot is a media error from the probe.
 */
export async function inputKind(input: string): Promise<'folder' | 'image' | 'video'> {
  const s = await stat(input).catch(() => undefined);
  if (!s) throw mediaError(input, 'no such file or folder');
  if (s.isDirectory()) return 'folder';
  return isImagePath(input) && !isVideoPath(input) ? 'image' : 'video';
}

/** Write the JSON report whole or not at all (a failure is a media error, exit 4). */
export async function writeReport(file: string, report: unknown): Promise<void> {
  await writeAtomically(file, `${JSON.stringify(report, null, 2)}\n`, { makeDir: true }).catch((e: unknown) => {
    const cause = e instanceof ParagonError ? e.cause : e;
    throw new ParagonError('media', `cannot write report: ${(cause as NodeJS.ErrnoException).code ?? cause}`, { file, cause });
  });
}

/** A promise's outcome as a value, so a prefetched failure is not an unhandled rejection. */
function settle<T>(p: Promise<T>): Promise<{ ok: true; value: T } | { ok: false; error: unknown }> {
  return p.then(
    (value) => ({ ok: true as const, value }),
    (error: unknown) => ({ ok: false as const, error }),
  );
}
