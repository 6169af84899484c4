/**
 * `paragon worker`: takes chunks from the farm's queue (a BullMQ Worker) and runs them until
 * stopped. Reliability is BullMQ's: each chunk is locked while it runs and the lock renewed; a
 * worker that dies (kill -9, power loss) stops renewing, and another worker's stalled-job check
 * puts the chunk back in the queue within `stallTimeout`; failures that may pass (ffmpeg, memory,
 * a crash) are retried with backoff by the queue; failures that cannot (the input, the model,
 * refused job data) fail the chunk at once, and with it the job.
 *
 * Job data carries three things: the job's folder key, the plan id and a chunk number. Everything
 * else comes from the plan on the shared storage, checked field by field, and every path is
 * resolved inside this worker's `--storage` (see storage.ts); nothing named in job data is ever
 * run: the only programs a worker starts are its own ffmpeg/ffprobe.
 */
import os from 'node:os';
import { UnrecoverableError, WaitingError, Worker, type Job } from 'bullmq';
import { ExitCode, ParagonError } from '../errors.ts';
import type { CpuOptions, DeviceRequest } from '../runtime/devices.ts';
import type { FfmpegTools } from '../video/ffmpeg.ts';
import { runChunk, UpscalerCache, type ChunkWork } from './chunk.ts';
import { PARAGON_VERSION } from '../graph/model.ts';
import { readPlan } from './plan.ts';
import { connectionOf, QUEUE_NAME, type QueueTarget } from './redis.ts';
import { RefusedPath, type Storage } from './storage.ts';

/** What a chunk job carries. */
export interface ChunkJobData {
  readonly v: 1;
  /** The job's work folder under `.paragon-farm/` in the storage. */
  readonly key: string;
  /** Id of the plan the chunk belongs to (a chunk of an older plan is refused as stale). */
  readonly plan: string;
  readonly chunk: number;
}

/** What a finished chunk job returns (the coordinator reads the storage, not this). */
export interface ChunkJobResult {
  readonly frames: number;
  readonly decoded: number;
  readonly inferred: number;
  readonly reused: boolean;
  readonly worker: string;
  readonly seconds: number;
}

/** Progress a running chunk job reports. */
export interface ChunkProgress {
  readonly done: number;
  readonly frames: number;
  readonly worker: string;
}

/** Check job data: exactly the expected fields, of the expected form. */
export function checkJobData(d: unknown): ChunkJobData {
  if (typeof d !== 'object' || d === null || Array.isArray(d)) throw new RefusedPath('job data: not an object');
  const o = d as Record<string, unknown>;
  const extra = Object.keys(o).filter((k) => !['v', 'key', 'plan', 'chunk'].includes(k));
  if (extra.length > 0) throw new RefusedPath(`job data: unexpected fields ${extra.slice(0, 5).join(', ').slice(0, 100)}`);
  if (o.v !== 1) throw new RefusedPath(`job data: version ${String(o.v).slice(0, 20)}`);
  if (typeof o.key !== 'string' || !/^[0-9a-f]{16,64}$/.test(o.key)) throw new RefusedPath(`job data: key ${JSON.stringify(o.key)?.slice(0, 80)} is not a farm job id`);
  if (typeof o.plan !== 'string' || !/^[0-9a-f]{16}$/.test(o.plan)) throw new RefusedPath('job data: plan is not a plan id');
  if (!Number.isInteger(o.chunk) || (o.chunk as number) < 0) throw new RefusedPath('job data: chunk is not a chunk number');
  return o as unknown as ChunkJobData;
}

/** Options of {@link startWorker}. */
export interface FarmWorkerOptions {
  readonly queue: QueueTarget;
  readonly storage: Storage;
  readonly tools: FfmpegTools;
  /** Chunks run at once (default 1). */
  readonly concurrency?: number;
  readonly device?: DeviceRequest;
  readonly cpu?: CpuOptions;
  /** Seconds without a lock renewal after which a chunk counts as abandoned (default 30). */
  readonly stallTimeout?: number;
  /** Name shown in the coordinator's progress and in logs (default host-pid). */
  readonly name?: string;
  readonly log?: (line: string) => void;
}

/** A running worker. */
export interface FarmWorker {
  /** Chunks being run now. */
  readonly busy: number;
  /** Stop taking chunks; resolves when the chunks in hand are finished. */
  close(): Promise<void>;
  /** Stop at once: the chunks in hand go back to the queue for another worker. */
  requeue(): Promise<void>;
}

/** A ParagonError (or anything) as the reason stored with a failed job: `E<code> <message>`. */
function reason(e: unknown): string {
  const code = e instanceof ParagonError ? e.code : ExitCode.internal;
  const msg = e instanceof Error ? e.message : String(e);
  return `E${code} ${msg}`;
}

/** Start taking chunks from the queue. */
export async function startWorker(opts: FarmWorkerOptions): Promise<FarmWorker> {
  const name = opts.name ?? `${os.hostname()}-${process.pid}`;
  const log = opts.log ?? (() => undefined);
  const stall = Math.max(2, opts.stallTimeout ?? 30) * 1000;
  const running = new Map<string, AbortController>();
  const concurrency = Math.max(1, opts.concurrency ?? 1);
  // Concurrent chunks share the cores rather than each taking all of them.
  const cpu = opts.cpu ?? (concurrency > 1 ? { intraOpThreads: Math.max(1, Math.floor((os.availableParallelism?.() ?? os.cpus().length) / concurrency)) } : undefined);

  // Models stay loaded between chunks (one per concurrent slot).
  const upscalers = new UpscalerCache(concurrency);
  const processor = async (job: Job, token?: string): Promise<ChunkJobResult> => {
    const t0 = performance.now();
    let work: ChunkWork;
    const stop = new AbortController();
    running.set(job.id!, stop);
    try {
      const data = checkJobData(job.data);
      const dir = await opts.storage.jobDir(data.key);
      const plan = await readPlan(dir);
      if (!plan) throw new RefusedPath(`no plan in ${dir}: is the storage shared with the coordinator, and mounted as --storage?`);
      if (plan.id !== data.plan) throw new RefusedPath(`chunk of an older plan (${data.plan}); the job was planned anew`);
      if (plan.producer !== PARAGON_VERSION) throw new RefusedPath(`planned by paragon ${plan.producer}; this worker runs ${PARAGON_VERSION}`);
      const chunk = plan.chunks[data.chunk];
      if (!chunk) throw new RefusedPath(`chunk ${data.chunk}: the plan has ${plan.chunks.length}`);
      const range = `frames ${chunk.first}–${chunk.first + chunk.frames - 1}`;
      log(`chunk ${chunk.index + 1}/${plan.chunks.length} (${range}) of ${data.key.slice(0, 8)}: started`);
      let last = 0;
      work = await runChunk(opts.storage, dir, plan, chunk, {
        tools: opts.tools,
        ...(opts.device ? { device: opts.device } : {}),
        ...(cpu ? { cpu } : {}),
        signal: stop.signal,
        notice: log,
        upscalers,
        progress: (done) => {
          const now = Date.now();
          if (now - last < 500 && done < chunk.frames) return;
          last = now;
          void job.updateProgress({ done, frames: chunk.frames, worker: name } satisfies ChunkProgress).catch(() => undefined);
        },
      });
      const s = (performance.now() - t0) / 1000;
      log(`chunk ${chunk.index + 1}/${plan.chunks.length} (${range}): ${work.reused ? 'already finished' : `done in ${s.toFixed(1)} s (${(work.inferred / s).toFixed(2)} fps)`}`);
    } catch (e) {
      if (stop.signal.aborted && token !== undefined) {
        // Stopped by its worker: back to the queue, no attempt spent.
        await job.moveToWait(token);
        log(`chunk job ${job.id}: stopped and put back in the queue`);
        throw new WaitingError();
      }
      log(`chunk job ${job.id}: ${e instanceof Error ? e.message : String(e)}`);
      if (e instanceof RefusedPath) throw new UnrecoverableError(`E${ExitCode.usage} refused: ${e.message}`);
      const permanent: number[] = [ExitCode.usage, ExitCode.model, ExitCode.media];
      if (e instanceof ParagonError && permanent.includes(e.code)) throw new UnrecoverableError(reason(e));
      throw new Error(reason(e));
    } finally {
      running.delete(job.id!);
    }
    return { frames: work.frames, decoded: work.decoded, inferred: work.inferred, reused: work.reused, worker: name, seconds: (performance.now() - t0) / 1000 };
  };

  const worker = new Worker(QUEUE_NAME, processor, {
    connection: connectionOf(opts.queue),
    concurrency,
    name,
    lockDuration: stall,
    stalledInterval: Math.max(1000, stall / 2),
    // A machine dying more than three times under the same chunk says more about the chunk.
    maxStalledCount: 3,
    autorun: false,
  });
  let down = false;
  worker.on('error', (e) => {
    if (!down) log(`${opts.queue.display}: ${e.message.split('\n')[0]}; retrying`);
    down = true;
  });
  worker.on('ready', () => {
    if (down) log(`${opts.queue.display}: connected again`);
    down = false;
  });
  void worker.run().catch((e: unknown) => log(`worker stopped: ${e instanceof Error ? e.message : String(e)}`));
  await worker.waitUntilReady();
  log(`worker ${name} waiting for chunks on ${opts.queue.display} (storage ${opts.storage.root})`);
  return {
    get busy() {
      return running.size;
    },
    async close() {
      await worker.close();
      await upscalers[Symbol.asyncDispose]();
    },
    async requeue() {
      for (const c of running.values()) c.abort(new ParagonError('interrupted', 'worker stopping'));
      await worker.close();
      await upscalers[Symbol.asyncDispose]();
    },
  };
}
