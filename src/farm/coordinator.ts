/**
 * `paragon upscale VIDEO -o OUT --queue redis://…`: plan the job, queue its chunks, follow the
 * farm's progress, and join the finished chunks into OUT exactly as a single-machine run joins its
 * segments (same join, same audio, subtitles, timestamps, rotation and colour).
 *
 * Where things live: the plan and the finished chunks in a work folder on the shared storage
 * (`.paragon-farm/<key>/`, the key derived from the output path), the chunk jobs in Redis. The
 * storage is the record of what is done, so re-running the coordinator (after Ctrl+C, a crash,
 * or a Redis that lost its data) with `--resume` picks the job up again: finished chunks are kept,
 * the others queued again under the same job ids (re-submission is idempotent).
 */
import { createHash } from 'node:crypto';
import { readFile, rm, rmdir, stat } from 'node:fs/promises';
import path from 'node:path';
import { Queue, QueueEvents, type Job } from 'bullmq';
import { ExitCode, ParagonError, usageError, type ExitCodeName } from '../errors.ts';
import { PARAGON_VERSION } from '../graph/model.ts';
import { bundledModelFile, DEFAULT_MODEL, isModelPath, resolveModel } from '../runtime/model.ts';
import { locateFfmpeg } from '../video/ffmpeg.ts';
import { probeMedia } from '../video/probe.ts';
import { writeReport, type UpscaleJobOptions } from '../pipeline/job.ts';
import { muxSegments } from '../pipeline/mux.ts';
import { Progress, progressLines, progressSink } from '../pipeline/progress.ts';
import { videoTarget, type VideoReport } from '../pipeline/video.ts';
import { chunkName, finishedChunk, type ChunkResult } from './chunk.ts';
import { checkPlan, PLAN_VERSION, planId, readPlan, scanVideo, splitChunks, writePlan, type FarmPlan, type FarmSettings } from './plan.ts';
import { checkRedis, connectionOf, parseQueueUrl, QUEUE_NAME, watchRedis } from './redis.ts';
import { FARM_DIR, RefusedPath, Storage } from './storage.ts';
import type { ChunkJobData, ChunkProgress } from './worker.ts';

/** Frames per chunk when `--chunk` is not given (about 25 s of 24 fps video). */
export const DEFAULT_CHUNK_FRAMES = 600;
/** Pre-roll frames of a chunk that starts inside a shot, when `--preroll` is not given. */
export const DEFAULT_PREROLL = 32;

/** Options of {@link runFarmJob}: the video options plus the farm's. */
export interface FarmJobOptions extends UpscaleJobOptions {
  /** `--queue redis://HOST:PORT[/DB]`. */
  readonly queue: string;
  /** `--storage DIR`: the shared folder; the input (and a model file) must be inside it. */
  readonly storage: string;
  readonly chunkFrames?: number;
  readonly preroll?: number;
  /** Seconds Redis may be unreachable before the coordinator gives up (default 30). */
  readonly redisTimeout?: number;
}

const sha256 = (b: Uint8Array | string): string => createHash('sha256').update(b).digest('hex');

/** The settings of the plan from the options (the model identified by its SHA-256). */
async function farmSettings(opts: FarmJobOptions, storage: Storage, codec: FarmSettings['codec']): Promise<FarmSettings> {
  const spec = opts.model ?? DEFAULT_MODEL;
  const isFile = isModelPath(spec);
  const file = isFile ? spec : bundledModelFile(spec);
  if (!file) throw new ParagonError('model', 'not a model file nor a bundled model', { file: spec });
  const bytes = await readFile(file).catch((e: NodeJS.ErrnoException) => {
    throw new ParagonError('model', e.code === 'ENOENT' ? 'no such model file' : `cannot read: ${e.code ?? e}`, { file });
  });
  const model = isFile ? { path: await storage.relative(file, 'model'), sha256: sha256(new Uint8Array(bytes)) } : { name: spec, sha256: sha256(new Uint8Array(bytes)) };
  return {
    model,
    fp16: opts.fp16 === true,
    tile: opts.tile ?? 0,
    historyWeight: opts.historyWeight ?? 'auto',
    codec,
    crf: opts.crf ?? null,
    preset: opts.preset ?? null,
  };
}

/** How a saved plan differs from what this run asks for (empty when the same job). */
function planDifferences(p: FarmPlan, want: Omit<FarmPlan, 'id' | 'frames' | 'pts' | 'cuts' | 'chunks'>): string[] {
  const out: string[] = [];
  if (p.input.path !== want.input.path) out.push(`input was ${p.input.path}`);
  else if (p.input.bytes !== want.input.bytes || p.input.mtimeMs !== want.input.mtimeMs) out.push('the input file has changed');
  if (p.producer !== want.producer) out.push(`planned by paragon ${p.producer}`);
  const a = { ...p.settings, model: p.settings.model.sha256, ext: p.ext, chunk: p.chunkFrames, preroll: p.preroll };
  const b = { ...want.settings, model: want.settings.model.sha256, ext: want.ext, chunk: want.chunkFrames, preroll: want.preroll };
  for (const k of Object.keys(a) as (keyof typeof a)[]) if (a[k] !== b[k]) out.push(`${k} was ${String(a[k])} (now ${String(b[k])})`);
  return out;
}

/** Exit-code name of a numeric code (for errors re-raised from a worker's `E<code>` reason). */
const kindOf = (code: number): ExitCodeName => (Object.keys(ExitCode) as ExitCodeName[]).find((k) => ExitCode[k] === code) ?? 'internal';

/** Give a promise `ms` to settle (closing connections to a Redis that is gone must not hang the exit). */
const within = (p: Promise<unknown>, ms: number): Promise<unknown> => Promise.race([p.catch(() => undefined), new Promise((r) => setTimeout(r, ms).unref())]);

/** Run a video job on the farm (see the module comment). */
export async function runFarmJob(opts: FarmJobOptions): Promise<VideoReport> {
  const t0 = performance.now();
  const { input, output, signal } = opts;
  const { ext, codec } = videoTarget(opts);
  if (opts.frames) throw usageError('--frames cannot be used with --queue (the farm upscales whole videos)');
  const chunkFrames = opts.chunkFrames ?? DEFAULT_CHUNK_FRAMES;
  const preroll = opts.preroll ?? DEFAULT_PREROLL;
  const target = parseQueueUrl(opts.queue);
  const storage = await Storage.open(opts.storage);
  const log = opts.log ?? (() => undefined);
  const tools = locateFfmpeg({ ffmpeg: opts.ffmpeg });
  const inputRel = await storage.relative(input, 'input');
  const info = await probeMedia(input, { tools, signal });
  const settings = await farmSettings(opts, storage, codec);
  // The model is built once here too: a bad one is a model error now, not in every chunk.
  const modelInfo = (await resolveModel(opts.model, { mode: opts.historyWeight === 0 ? 'standard' : 'video', fp16: opts.fp16 === true })).info;
  // Nothing is written before Redis has answered.
  await checkRedis(target);

  const key = sha256(path.resolve(output)).slice(0, 16);
  const dir = await storage.jobDir(key, true);
  const st = await stat(input);
  const want = { version: PLAN_VERSION, producer: PARAGON_VERSION, input: { path: inputRel, bytes: st.size, mtimeMs: st.mtimeMs }, ext, settings, chunkFrames, preroll };
  let plan = await readPlan(dir).catch((e: unknown) => {
    if (!(e instanceof RefusedPath)) throw e;
    log(`${dir}: unreadable plan (${e.message}); planning anew`);
    return undefined;
  });
  const finished = async (p: FarmPlan): Promise<Map<number, ChunkResult>> => {
    const m = new Map<number, ChunkResult>();
    for (const c of p.chunks) {
      const r = await finishedChunk(dir, p, c);
      if (r) m.set(c.index, r);
    }
    return m;
  };
  let done = plan ? await finished(plan) : new Map<number, ChunkResult>();
  if (plan) {
    const diff = planDifferences(plan, want);
    const kept = [...done.values()].reduce((n, r) => n + r.frames, 0);
    if (diff.length > 0 && kept > 0) throw usageError(`${output}: cannot resume the farm job (${diff.join('; ')}); delete ${dir} to start over`);
    if (kept > 0 && opts.resume !== true)
      throw usageError(`${output}: an earlier farm run left ${kept} finished frames in ${dir}; add --resume to continue it, or delete that folder to start over`);
    if (diff.length > 0) plan = undefined;
  } else if (opts.resume) log(`${output}: nothing to resume on the farm; starting from the beginning`);

  let progress: Progress | undefined;
  const sink = progressSink(opts);
  const tPlan = performance.now();
  if (!plan) {
    const scan = new Progress(sink, info.video.nbFrames, 0, 'planning');
    const s = await scanVideo(info, { tools, signal, onFrame: () => scan.tick() });
    scan.end();
    const body = { ...want, frames: s.frames, pts: s.pts, cuts: s.cuts, chunks: splitChunks(s.frames, s.cuts, chunkFrames, preroll) };
    plan = checkPlan({ ...body, id: planId(body) });
    await writePlan(dir, plan);
    done = new Map();
  }
  const p = plan;
  const planSeconds = (performance.now() - tPlan) / 1000;
  let workersSeen = 0;
  let workers = 0;
  // Chunk job ids: the output's key and the plan's id (two outputs of one input never share jobs).
  const jobIdOf = (i: number): string => `${key}-${p.id}-${i}`;
  const chunkOf = (jobId: string): number | undefined => (jobId.startsWith(`${key}-${p.id}-`) ? Number(jobId.slice(key.length + p.id.length + 2)) : undefined);
  const framesDone = (): number => [...done.values()].reduce((n, r) => n + r.frames, 0);

  const connection = connectionOf(target);
  const queue = new Queue<ChunkJobData>(QUEUE_NAME, { connection });
  const events = new QueueEvents(QUEUE_NAME, { connection });
  queue.on('error', () => undefined);
  events.on('error', () => undefined);
  const running = new Map<number, { done: number; worker: string; at: number }>();
  // The storage says which chunks are finished.
  const rescan = async (): Promise<void> => {
    for (const c of p.chunks) {
      if (done.has(c.index)) continue;
      const r = await finishedChunk(dir, p, c);
      if (r) {
        done.set(c.index, r);
        running.delete(c.index);
      }
    }
  };
  // BullMQ retries a command for as long as Redis is away, so every wait from here on (queueing
  // the chunks, then following them) is raced against these two ends: a Redis gone for longer
  // than --redis-timeout, and a stop (Ctrl+C). Either ends the run with one line.
  let endEarly: (e: ParagonError) => void = () => undefined;
  const ended = new Promise<never>((_, reject) => (endEarly = reject));
  ended.catch(() => undefined);
  const todo = p.chunks.filter((c) => !done.has(c.index));
  let queued: number | undefined = 0; // chunks queued so far; undefined once all are
  const onAbort = (): void =>
    endEarly(
      new ParagonError(
        'interrupted',
        queued === undefined
          ? `stopped following the farm; it goes on with the queued chunks (${framesDone()} of ${p.frames} frames finished, in ${dir}): rerun with --resume to follow it and join`
          : `stopped while queueing the chunks (${queued} of ${todo.length} queued; ${framesDone()} of ${p.frames} frames finished, in ${dir}): rerun with --resume to queue the rest, follow the farm and join`,
        { file: output },
      ),
    );
  signal?.addEventListener('abort', onAbort, { once: true });
  if (signal?.aborted) onAbort();
  const watch = watchRedis(target, {
    graceMs: (opts.redisTimeout ?? 30) * 1000,
    lost: (cause) =>
      void rescan().then(() =>
        endEarly(new ParagonError('ffmpeg', `${target.display}: Redis unreachable (${cause}); ${framesDone()} of ${p.frames} frames are finished and kept in ${dir}: rerun with --resume once Redis is back`, { file: output })),
      ),
  });
  let resumed = 0;
  try {
    const enqueue = async (): Promise<void> => {
      for (const c of todo) {
        const jobId = jobIdOf(c.index);
        const old = await queue.getJob(jobId);
        const state = old ? await old.getState() : undefined;
        if (old && state === 'failed') await old.retry('failed', { resetAttemptsMade: true, resetAttemptsStarted: true });
        else if (old && state === 'completed') {
          // Done by a worker, but the storage does not have it (cleaned, or another storage): again.
          await old.remove();
          await queue.add('chunk', { v: 1, key, plan: p.id, chunk: c.index }, jobOptions(jobId));
        } else if (!old) await queue.add('chunk', { v: 1, key, plan: p.id, chunk: c.index }, jobOptions(jobId));
        if (queued !== undefined) queued++;
      }
    };
    // The loser of each race may still settle later (a command rejected as the connection
    // closes): handled here, so that it cannot end the process as an unhandled rejection.
    const queueing = enqueue();
    queueing.catch(() => undefined);
    await Promise.race([queueing, ended]);
    queued = undefined;
    log(`${output}: ${p.frames} frames in ${p.chunks.length} chunks (${p.cuts.length} scene cuts); ${todo.length} chunks queued on ${target.display}${done.size ? `, ${done.size} already finished` : ''}`);

    // Follow the farm: progress events of running chunks, the storage for finished ones.
    resumed = framesDone();
    progress = new Progress(sink, p.frames, resumed);
    const show = (): void => {
      const now = Date.now();
      let partial = 0;
      for (const [i, r] of running) if (now - r.at < 60_000 && !done.has(i)) partial += r.done;
      progress!.set(framesDone() + partial, { workers });
    };
    events.on('progress', ({ jobId, data }) => {
      const i = chunkOf(jobId);
      const d = data as Partial<ChunkProgress>;
      if (i === undefined || typeof d.done !== 'number') return;
      running.set(i, { done: d.done, worker: String(d.worker ?? ''), at: Date.now() });
      workersSeen = Math.max(workersSeen, new Set([...running.values()].map((r) => r.worker)).size);
      show();
    });
    let timer: ReturnType<typeof setInterval> | undefined;
    const followed = new Promise<void>((resolve, reject) => {
      let settled = false;
      const finish = (e?: unknown): void => {
        if (settled) return;
        settled = true;
        clearInterval(timer);
        if (e === undefined) resolve();
        else reject(e);
      };
      let tick = 0;
      let busy = false;
      const poll = async (): Promise<void> => {
        await rescan();
        if (done.size === p.chunks.length) return finish();
        // Job states less often: one request per unfinished chunk.
        if (tick++ % 5 === 0) {
          workers = await queue.getWorkersCount();
          for (const c of p.chunks) {
            if (done.has(c.index)) continue;
            const job = await queue.getJob(jobIdOf(c.index));
            const state = job ? await job.getState() : 'missing';
            if (state === 'failed') return finish(await chunkFailure(queue, p, c.index, job!, jobIdOf, framesDone(), dir, output));
            if (state === 'missing' || state === 'unknown')
              await queue.add('chunk', { v: 1, key, plan: p.id, chunk: c.index }, jobOptions(jobIdOf(c.index)));
          }
        }
        show();
      };
      // One poll at a time, whether the clock or a finished chunk starts it.
      const kick = (): void => {
        if (busy || settled) return;
        busy = true;
        poll().then(
          () => (busy = false),
          () => (busy = false),
        );
      };
      timer = setInterval(kick, 1000);
      events.on('completed', kick);
    });
    followed.catch(() => undefined);
    await Promise.race([followed, ended]).finally(() => clearInterval(timer));
  } finally {
    watch.stop();
    signal?.removeEventListener('abort', onAbort);
    progress?.clear();
    await within(events.close(), 2000);
    await within(queue.close(), 2000);
  }

  const tMux = performance.now();
  await muxSegments(
    p.chunks.map((c) => ({ file: path.join(dir, chunkName(c.index, p.ext)), startUs: done.get(c.index)!.startUs })),
    output,
    { tools, source: info, signal, notice: log },
  ).catch((e: unknown) => {
    log(`every chunk is finished in ${dir}; rerun with --resume to join them`);
    throw e;
  });
  const muxSeconds = (performance.now() - tMux) / 1000;
  // Tidying the queue is a courtesy: a Redis gone by now must not hold the finished output back.
  await within(forget(target, p, jobIdOf), 3000);
  await rm(dir, { recursive: true, force: true });
  await rmdir(path.join(storage.root, FARM_DIR)).catch(() => undefined);
  progress?.end();
  const elapsed = (performance.now() - t0) / 1000;
  const frames = p.frames;
  const out = await probeMedia(output, { tools });
  const report: VideoReport = {
    input,
    output,
    model: modelInfo,
    device: 'farm',
    historyWeight: p.settings.historyWeight,
    codec,
    frames,
    fps: Math.round(((frames - resumed) / elapsed) * 1000) / 1000,
    sceneCuts: [...p.cuts],
    resets: p.cuts.length,
    nanReruns: 0,
    stages: { decode: 0, infer: 0, encode: 0, mux: Math.round(muxSeconds * 1000) / 1000 },
    width: info.video.width,
    height: info.video.height,
    outputWidth: out.video.width,
    outputHeight: out.video.height,
    range: { from: 0, to: frames },
    resumedFrames: resumed,
    // Summed over the chunks: the pre-rolls and the seeks' lead-ins are what the farm adds.
    decodedFrames: [...done.values()].reduce((n, r) => n + r.decoded, 0),
    inferredFrames: [...done.values()].reduce((n, r) => n + r.inferred, 0),
    reencodedFrames: 0,
    segments: p.chunks.length,
    elapsed: Math.round(elapsed * 1000) / 1000,
    farm: {
      chunks: p.chunks.length,
      planSeconds: Math.round(planSeconds * 1000) / 1000,
      joinSeconds: Math.round(muxSeconds * 1000) / 1000,
      prerollFrames: p.chunks.reduce((n, c) => n + c.preroll, 0),
      workers: Math.max(workers, workersSeen),
    },
  };
  opts.progress?.({ event: 'done', frames, fps: report.fps, elapsed: report.elapsed });
  progressLines(opts)?.(`${output}: ${frames} frames, ${report.outputWidth}x${report.outputHeight}, ${report.fps.toFixed(2)} fps on the farm, ${p.cuts.length} scene cuts`);
  if (opts.report) await writeReport(opts.report, report);
  return report;
}

/** BullMQ options of a chunk job: its id, retries with backoff, finished jobs kept a while. */
function jobOptions(jobId: string) {
  return {
    jobId,
    attempts: 3,
    backoff: { type: 'exponential' as const, delay: 5000 },
    removeOnComplete: { age: 7 * 86400 },
    removeOnFail: { age: 30 * 86400 },
  };
}

/** The error of a chunk that failed for good; the job's other queued chunks are withdrawn. */
async function chunkFailure(
  queue: Queue<ChunkJobData>,
  p: FarmPlan,
  index: number,
  job: Job,
  jobIdOf: (i: number) => string,
  kept: number,
  dir: string,
  output: string,
): Promise<ParagonError> {
  for (const c of p.chunks) {
    const other = await queue.getJob(jobIdOf(c.index));
    const state = other ? await other.getState() : undefined;
    if (state === 'waiting' || state === 'delayed' || state === 'prioritized') await other!.remove().catch(() => undefined);
  }
  const c = p.chunks[index]!;
  const m = /^E(\d+) ([\s\S]*)$/.exec(job.failedReason ?? '');
  const code = m ? Number(m[1]) : ExitCode.internal;
  const cause = m ? m[2]! : (job.failedReason ?? 'unknown failure');
  const where = job.processedBy ? ` on ${job.processedBy}` : '';
  return new ParagonError(
    kindOf(code),
    `chunk ${index + 1}/${p.chunks.length} (frames ${c.first}–${c.first + c.frames - 1}) failed${where}: ${cause}; ${kept} finished frames kept in ${dir}: rerun with --resume once the cause is fixed`,
    { file: output },
  );
}

/** Remove the finished job's chunk jobs from the queue (they are in the output now). */
async function forget(target: ReturnType<typeof parseQueueUrl>, p: FarmPlan, jobIdOf: (i: number) => string): Promise<void> {
  const queue = new Queue(QUEUE_NAME, { connection: connectionOf(target) });
  queue.on('error', () => undefined);
  try {
    for (const c of p.chunks) await (await queue.getJob(jobIdOf(c.index)))?.remove().catch(() => undefined);
  } finally {
    await within(queue.close(), 2000);
  }
}
