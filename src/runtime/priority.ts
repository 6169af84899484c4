/**
 * The model first: on a machine with few cores, the inference threads need every core at once
 * (an operator's parallel part waits for its slowest thread), and any other thread that holds a
 * core when a model thread wakes stalls them all. So every other thread of the process (decode
 * and encode bookkeeping, garbage collection helpers) and, by inheritance, the ffmpeg processes
 * started afterwards are put in Linux's SCHED_IDLE class: they run on whatever the model leaves
 * and give way the moment a model thread wakes. A lower niceness is not enough: the scheduler
 * lets the running thread finish its slice (up to a few milliseconds) before a woken thread of
 * higher priority gets the core, and a model run wakes its threads dozens of times. Measured
 * (scripts/bench-priority.ts, docs/benchmarks.md): an endless x264 encode beside the model slowed
 * it by a median 11% in SCHED_IDLE, 24–26% at nice 10 or 19; the video pipeline kept 80% of the
 * model's throughput with niceness and a median 85.5% (up to 101%) with SCHED_IDLE.
 *
 * Node has no call for a scheduling class: util-linux's `chrt` sets it on each thread id (an
 * unprivileged process may move its own threads into SCHED_IDLE). Without `chrt` the threads get
 * niceness 10 instead. Both are one-way for unprivileged processes, so only the CLI asks: it owns
 * its process.
 *
 * The price: while other programs keep every core busy, SCHED_IDLE threads get (almost) nothing,
 * and since they feed the model the whole job waits (measured on 2 cores beside two busy loops:
 * no frame in 25 s, against 25 frames at niceness 10; beside one busy loop, or beside a second
 * paragon job, as fast as with niceness). The CLI's `--priority nice` chooses niceness alone.
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
 * Lower every thread of this process except `keep` (the model's): niceness `nice` (default 10),
 * and with `how` 'idle' (the default) SCHED_IDLE where `chrt` can set it; threads and processes
 * they start later inherit both. Nothing is done off Linux or when `keep` is empty (the model's
 * threads unknown).
 *
 * The price of SCHED_IDLE: while other programs keep every core busy, the lowered threads get
 * (almost) none, and as they feed the model, the whole job waits until a core is free.
 */
export function favourThreads(keep: readonly number[], how: 'idle' | 'nice' = 'idle', nice = 10): Lowered {
  if (keep.length === 0) return { threads: 0, how: 'none' };
  let n = 0;
  let idle = how === 'idle';
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
