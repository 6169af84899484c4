/**
 * The farm's queue lives in Redis, driven by BullMQ. This module turns `--queue redis://…` into
 * connection options, checks that the server answers before anything is written, and watches the
 * connection of a coordinator so a lost Redis ends the wait with one clear line instead of a hang.
 * Redis failures are exit 5, like the other external program paragon depends on (ffmpeg).
 */
import { Redis } from 'ioredis';
import { ParagonError, usageError } from '../errors.ts';

/** The BullMQ queue every paragon coordinator and worker of a farm shares. */
export const QUEUE_NAME = 'paragon-upscale';

/** A parsed `--queue` value. */
export interface QueueTarget {
  /** The URL as given (credentials included): for connecting. */
  readonly url: string;
  /** The URL without a password: for messages. */
  readonly display: string;
}

/** Parse `redis://[user:password@]host[:port][/db]` (or `rediss://` for TLS). */
export function parseQueueUrl(v: string): QueueTarget {
  let u: URL;
  try {
    u = new URL(v);
  } catch {
    throw usageError(`--queue ${v}: expected redis://HOST:PORT[/DB]`);
  }
  if (u.protocol !== 'redis:' && u.protocol !== 'rediss:') throw usageError(`--queue ${v}: expected redis://HOST:PORT[/DB] (or rediss:// for TLS)`);
  if (u.hostname === '') throw usageError(`--queue ${v}: no host`);
  if (u.pathname !== '' && u.pathname !== '/' && !/^\/\d{1,2}$/.test(u.pathname)) throw usageError(`--queue ${v}: the path must be a database number, e.g. /0`);
  if (u.search !== '' || u.hash !== '') throw usageError(`--queue ${v}: no query or fragment expected`);
  const display = u.password ? v.replace(`:${u.password}@`, ':***@') : v;
  return { url: v, display };
}

/** BullMQ connection options for a target (BullMQ's workers need `maxRetriesPerRequest: null`). */
export function connectionOf(t: QueueTarget): { url: string; maxRetriesPerRequest: null; connectionName: string } {
  return { url: t.url, maxRetriesPerRequest: null, connectionName: `paragon-${process.pid}` };
}

/** The cause of a connection failure in a few words. */
function why(e: unknown): string {
  const code = (e as NodeJS.ErrnoException).code;
  const msg = e instanceof Error ? e.message : String(e);
  return code ?? msg.split('\n')[0]!.slice(0, 120);
}

/** One PING with a deadline; rejects with the cause. */
async function ping(t: QueueTarget, timeoutMs: number): Promise<void> {
  const r = new Redis(t.url, { lazyConnect: true, connectTimeout: timeoutMs, commandTimeout: timeoutMs, maxRetriesPerRequest: 0, enableOfflineQueue: false, retryStrategy: () => null });
  // The first error event says why (ECONNREFUSED…); the rejection may only say the connection closed.
  let first: unknown;
  r.on('error', (e: unknown) => void (first ??= e));
  try {
    await r.connect();
    await r.ping();
  } catch (e) {
    throw first ?? e;
  } finally {
    r.disconnect();
  }
}

/** Fail with exit 5 naming the URL unless Redis answers within `timeoutMs`. */
export async function checkRedis(t: QueueTarget, timeoutMs = 5000): Promise<void> {
  try {
    await ping(t, timeoutMs);
  } catch (e) {
    throw new ParagonError('ffmpeg', `${t.display}: Redis unreachable (${why(e)}); nothing was queued or written`, { cause: e });
  }
}

/**
 * Watch a connection: PING every `everyMs`, and call `lost` once when no PING has succeeded for
 * `graceMs` (Redis restarting takes a moment; a dead one should not leave the caller waiting forever).
 */
export function watchRedis(t: QueueTarget, opts: { everyMs?: number; graceMs: number; lost: (cause: string) => void }): { stop(): void } {
  const every = opts.everyMs ?? 1000;
  let lastOk = Date.now();
  let lastCause = '';
  let stopped = false;
  let busy = false;
  const timer = setInterval(() => {
    if (busy || stopped) return;
    busy = true;
    ping(t, Math.min(every * 2, 5000)).then(
      () => {
        lastOk = Date.now();
        busy = false;
      },
      (e: unknown) => {
        lastCause = why(e);
        busy = false;
        if (!stopped && Date.now() - lastOk >= opts.graceMs) {
          stopped = true;
          clearInterval(timer);
          opts.lost(lastCause);
        }
      },
    );
  }, every);
  timer.unref();
  return {
    stop() {
      stopped = true;
      clearInterval(timer);
    },
  };
}
