/**
 * The model first: on a machine with few cores, the inference threads need every core at once
 * (an operator's parallel part waits for its slowest thread), and any other thread that takes a
 * core for a time slice stalls them all. Lowering the priority of every other thread of the
 * process (decode and encode bookkeeping, garbage collection helpers) and, by inheritance, of the
 * ffmpeg processes started afterwards lets those fill the gaps the model leaves instead of
 * competing with it: measured on 2 cores, the video pipeline ran 10% faster (docs/benchmarks.md).
 *
 * Linux only, where a priority belongs to a thread (setpriority on a thread id). Lowering is
 * one-way for unprivileged processes, so only the CLI asks for it: it owns its process.
 */
import { readdirSync, readlinkSync } from 'node:fs';
import os from 'node:os';

/** Ids of the process's threads (Linux); empty elsewhere. */
export function threadIds(): number[] {
  if (process.platform !== 'linux') return [];
  try {
    return readdirSync('/proc/self/task').map(Number);
  } catch {
    return [];
  }
}

/** Id of the calling thread (Linux), or undefined. */
export function currentThreadId(): number | undefined {
  if (process.platform !== 'linux') return undefined;
  try {
    return Number(readlinkSync('/proc/thread-self').split('/').pop());
  } catch {
    return undefined;
  }
}

/**
 * Give every thread of this process except `keep` the niceness `nice` (default 10); threads and
 * processes they start later inherit it. Returns how many threads were lowered (0 off Linux or
 * when `keep` is empty, i.e. the model's threads are unknown).
 */
export function favourThreads(keep: readonly number[], nice = 10): number {
  if (keep.length === 0) return 0;
  let n = 0;
  for (const tid of threadIds()) {
    if (keep.includes(tid)) continue;
    try {
      if (os.getPriority(tid) < nice) {
        os.setPriority(tid, nice);
        n++;
      }
    } catch {
      // The thread ended meanwhile, or the system refused: nothing to do.
    }
  }
  return n;
}
