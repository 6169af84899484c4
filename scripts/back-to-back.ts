/**
 * The model alone, timed as the video pipeline drives it: frames fed back to back with the feature
 * state carried inside the worker and two requests in flight, so the worker never waits for this
 * thread. Shared by the benchmark scripts (bench-pipeline.ts, bench-priority.ts).
 */
import type { ModelSession } from '../src/runtime/session.ts';

type Feeds = Parameters<ModelSession['runCarried']>[0];
type Carry = Parameters<ModelSession['runCarried']>[1];

/** Run `batch` (its buffers are transferred away) and return ms and CPU-ms per frame (every thread of this process: the worker and ORT's pool). */
export async function backToBack(s: ModelSession, batch: readonly Feeds[], carry: Carry): Promise<{ ms: number; cpuMs: number }> {
  const c0 = process.cpuUsage();
  const t = performance.now();
  const inFlight: Promise<unknown>[] = [];
  for (const fd of batch) {
    inFlight.push(s.runCarried(fd, carry));
    if (inFlight.length >= 2) await inFlight.shift();
  }
  await Promise.all(inFlight);
  const u = process.cpuUsage(c0);
  return { ms: (performance.now() - t) / batch.length, cpuMs: (u.user + u.system) / 1000 / batch.length };
}
