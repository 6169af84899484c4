/**
 * A farm worker from a Node program (what `paragon worker` runs): takes chunks of farm jobs from
 * the queue until closed. The farm's code (BullMQ, ioredis) loads only when a worker starts.
 */
import type { DeviceRequest } from '../runtime/devices.ts';
import type { FarmWorker } from '../farm/worker.ts';
import { locateFfmpeg } from '../video/ffmpeg.ts';

export type { FarmWorker } from '../farm/worker.ts';

/** Options of {@link startFarmWorker}. */
export interface FarmWorkerOptions {
  /** The farm's Redis: `redis://HOST:PORT[/DB]`. */
  readonly queue: string;
  /** The farm's shared folder as mounted on this machine; nothing outside it is read or written. */
  readonly storage: string;
  /** Chunks run at once (default 1; each gets its share of the CPU threads). */
  readonly concurrency?: number;
  readonly device?: DeviceRequest;
  /** CPU threads per operator (default: all cores, divided among concurrent chunks). */
  readonly threads?: number;
  /** This worker's ffmpeg (ffprobe beside it); never taken from job data. */
  readonly ffmpeg?: string;
  /** Seconds after which the chunk of a worker that stopped answering goes to another (default 30). */
  readonly stallTimeout?: number;
  /** Name in logs and the coordinator's progress (default HOST-PID). */
  readonly name?: string;
  /** One line per chunk started, finished or failed, and connection trouble. */
  readonly onNotice?: (line: string) => void;
}

/**
 * Start taking chunks. `close()` stops taking them and resolves once the chunks in hand are
 * finished; `requeue()` puts those back in the queue at once.
 */
export async function startFarmWorker(opts: FarmWorkerOptions): Promise<FarmWorker> {
  const [{ startWorker }, { parseQueueUrl }, { Storage }] = await Promise.all([import('../farm/worker.ts'), import('../farm/redis.ts'), import('../farm/storage.ts')]);
  const queue = parseQueueUrl(opts.queue);
  const storage = await Storage.open(opts.storage);
  return startWorker({
    queue,
    storage,
    tools: locateFfmpeg({ ffmpeg: opts.ffmpeg }),
    ...(opts.concurrency !== undefined ? { concurrency: opts.concurrency } : {}),
    ...(opts.device !== undefined ? { device: opts.device } : {}),
    ...(opts.threads !== undefined ? { cpu: { intraOpThreads: opts.threads } } : {}),
    ...(opts.stallTimeout !== undefined ? { stallTimeout: opts.stallTimeout } : {}),
    ...(opts.name !== undefined ? { name: opts.name } : {}),
    ...(opts.onNotice ? { log: opts.onNotice } : {}),
  });
}
