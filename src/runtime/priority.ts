/**
 * The model first: on a machine with few cores, the inference threads need every core at once
 * (an operator's parallel part waits for its slowest thread), and any other thread that holds a
 * core when a model thread wakes stalls them all. So every other thread of the process (decode
 * and encode bookkeeping, garbage collection helpers) and, by inheritance, the ffmpeg processes
 * started afterwards are put in Linux's SCHED_IDLE class: they run on whatever the model leaves
 * and give way the moment a model thread wakes. A lower niceness is not enough: the scheduler
 * lets the running thread finish its slice (up to a few milliseconds) before a woken thread of
 * higher priority gets the core, and a model run wakes its threads dozens of times. Measured
 * (docs/benchmarks.md): an x264 encode beside the model slowed it 10–15% at nice 10 or 19, and
 * not measurably in SCHED_IDLE.
 *
 * Node has no call for a scheduling class: util-linux's `chrt` sets it on each thread id (an
 * unprivileged process may move its own threads into SCHED_IDLE). Without `chrt` the threads get
 * niceness 10 instead. Both are one-way for unprivileged processes, so only the CLI asks: it owns
 * its process.
 */
import { existsSync, readFileSync, readdirSync, readlinkSync } from 'node:fs';
import { execFileSync } from 'node:child_process';
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

/** How {@link favourThreads} lowered the other threads. */
export interface Lowered {
  /** How many threads were lowered. */
  readonly threads: number;
  /** 'idle': SCHED_IDLE; 'nice': niceness only (no `chrt`, or it was refused); 'none': nothing done. */
  readonly how: 'idle' | 'nice' | 'none';
}

/**
 * Lower every thread of this process except `keep` (the model's): SCHED_IDLE where `chrt` can set
 * it, and niceness `nice` (default 10) in any case; threads and processes they start later
 * inherit both. Nothing is done off Linux or when `keep` is empty (the model's threads unknown).
 */
export function favourThreads(keep: readonly number[], nice = 10): Lowered {
  if (keep.length === 0) return { threads: 0, how: 'none' };
  let n = 0;
  let idle = true;
  for (const tid of threadIds()) {
    if (keep.includes(tid)) continue;
    try {
      if (os.getPriority(tid) < nice) os.setPriority(tid, nice);
    } catch {
      continue; // The thread ended meanwhile, or the system refused: nothing to do.
    }
    n++;
    if (!idle) continue;
    try {
      execFileSync('chrt', ['--idle', '-p', '0', String(tid)], { stdio: 'ignore' });
    } catch {
      // No chrt, or it was refused: niceness alone from here on (a thread that just ended says nothing).
      if (existsSync(`/proc/self/task/${tid}`)) idle = false;
    }
  }
  return { threads: n, how: n === 0 ? 'none' : idle ? 'idle' : 'nice' };
}

/** Linux's number for the SCHED_IDLE class. */
export const SCHED_IDLE = 5;

/** Scheduling class of a thread of this process (Linux: 0 normal, 3 batch, 5 idle), or undefined. */
export function schedulingPolicy(tid: number): number | undefined {
  try {
    const stat = readFileSync(`/proc/self/task/${tid}/stat`, 'utf8');
    // Fields after the command name (which may hold spaces); the policy is field 41.
    const v = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[38]);
    return Number.isInteger(v) ? v : undefined;
  } catch {
    return undefined;
  }
}
