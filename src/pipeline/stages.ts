/**
 * Pipeline plumbing for the video path: stages are async iterables, and {@link ahead} decouples two
 * of them with a bounded queue, so decoding runs a few frames ahead of inference and encoding a few
 * frames behind it while the model works in its worker thread. Bounded, because a frame at 1080p
 * is tens of megabytes as floats: a slow stage must stall the others rather than fill memory.
 */

/**
 * Pull from `src` up to `depth` items ahead of the consumer, in a loop of its own. Errors of the
 * source reach the consumer after the items before them. When the consumer stops early (break,
 * throw), the source is returned (closed) once its pending item has settled.
 */
export async function* ahead<T>(src: AsyncIterable<T>, depth: number): AsyncGenerator<T, void, undefined> {
  const it = src[Symbol.asyncIterator]();
  const queue: T[] = [];
  let ended = false;
  let failure: { error: unknown } | undefined;
  let stopped = false;
  let wakeConsumer: (() => void) | undefined;
  let wakeProducer: (() => void) | undefined;
  const wake = (w: (() => void) | undefined): undefined => void w?.();

  const producer = (async () => {
    try {
      while (!stopped) {
        if (queue.length >= depth) {
          await new Promise<void>((r) => (wakeProducer = r));
          continue;
        }
        const r = await it.next();
        if (r.done) break;
        queue.push(r.value);
        wakeConsumer = wake(wakeConsumer);
      }
    } catch (error) {
      failure = { error };
    } finally {
      ended = true;
      wakeConsumer = wake(wakeConsumer);
    }
  })();

  try {
    for (;;) {
      if (queue.length > 0) {
        const v = queue.shift()!;
        wakeProducer = wake(wakeProducer);
        yield v;
      } else if (failure) throw failure.error;
      else if (ended) return;
      else await new Promise<void>((r) => (wakeConsumer = r));
    }
  } finally {
    stopped = true;
    wakeProducer = wake(wakeProducer);
    await producer;
    if (!failure) await it.return?.();
  }
}

/**
 * Busy time of one stage, summed over frames. Stages overlap, so the sum of the three exceeds the
 * wall time; the largest one is the bottleneck.
 */
export class StageClock {
  #ms = 0;

  /** Time `work` and add it to the total. */
  async time<T>(work: () => Promise<T>): Promise<T> {
    const t = performance.now();
    try {
      return await work();
    } finally {
      this.#ms += performance.now() - t;
    }
  }

  /** Add a measured interval (ms). */
  add(ms: number): void {
    this.#ms += ms;
  }

  /** Total in seconds. */
  get seconds(): number {
    return this.#ms / 1000;
  }
}

/** Let queued microtasks run (e.g. the next frame's hand-off to the inference worker) before heavy synchronous work. */
export const yieldToQueued = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

/**
 * Spare planar frame buffers: the frame engine hands each decoded frame's planes back once the
 * model has read them, and the next frame is converted into them. A frame at 1080p is 25 MB of
 * floats; allocating that anew for every frame costs page faults and garbage collections that a
 * 2-core machine pays out of the model's time.
 */
export class PlanePool {
  readonly #free: Float32Array[] = [];

  /** A buffer of `n` floats (contents undefined): a spare one when it fits, else a new one. */
  take(n: number): Float32Array {
    for (;;) {
      const b = this.#free.pop();
      if (b === undefined) return new Float32Array(n);
      if (b.length === n) return b;
    }
  }

  /** Keep `b` for a later {@link take} (a few are enough: frames in flight are bounded). */
  give(b: Float32Array): void {
    if (this.#free.length < 8 && b.byteLength > 0) this.#free.push(b);
  }
}
