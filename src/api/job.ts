/**
 * A running upscale job as the public API hands it out: a promise of the report (`await job`), an
 * async iterable of the events `--progress json` prints (`for await (const e of job)`), and a
 * handle that stops it (`job.cancel()`, an `AbortSignal` in the options, or `await using`).
 */
import { ParagonError } from '../errors.ts';

/** Progress of a video: frames done (a resumed run counts what it had done), rate, time left. */
export interface ProgressEvent {
  readonly event: 'progress';
  readonly frames: number;
  /** Frames expected in all, when the container says (else absent). */
  readonly total?: number;
  /** Frames per second of this run so far. */
  readonly fps: number;
  /** Seconds left at that rate (null while unknown). */
  readonly eta: number | null;
  /** Seconds since the run began. */
  readonly elapsed: number;
  /**
   * `'planning'` while a farm job scans the video before any chunk runs (frames then counts the
   * frames scanned); absent while frames are upscaled.
   */
  readonly phase?: 'planning';
  /** Farm jobs: the workers running chunks now. */
  readonly workers?: number;
}

/** One image of an image or folder job, finished. */
export interface ItemEvent {
  readonly event: 'item';
  /** 1-based position and count of the job's images. */
  readonly index: number;
  readonly total: number;
  readonly input: string;
  readonly output: string;
  readonly status: 'written' | 'skipped' | 'failed';
  /** Why a failed image failed (one line naming the file). */
  readonly error?: string;
  readonly width?: number;
  readonly height?: number;
  readonly ms: number;
}

/** The end of a video job. */
export interface VideoDoneEvent {
  readonly event: 'done';
  readonly frames: number;
  readonly fps: number;
  readonly elapsed: number;
}

/** The end of an image or folder job. */
export interface ImagesDoneEvent {
  readonly event: 'done';
  readonly total: number;
  readonly written: number;
  readonly skipped: number;
  readonly failed: number;
  readonly elapsedMs: number;
}

/** What a job reports while it runs: exactly the objects `paragon upscale --progress json` prints. */
export type UpscaleEvent = ProgressEvent | ItemEvent | VideoDoneEvent | ImagesDoneEvent;

/** The work a job runs: it reports events and stops when the signal aborts. */
export type JobWork<R> = (hooks: { readonly signal: AbortSignal; readonly emit: (e: UpscaleEvent) => void }) => Promise<R>;

/**
 * A running job. Await it for the report; iterate it for its events (from the start, whenever the
 * iteration begins; the iteration ends when the job does and throws its error if it failed). While
 * no iteration runs, consecutive progress events are kept as the latest one only, so a long job
 * nobody iterates (the CLI reads `onProgress`) holds no growing list of them.
 * `cancel()` or the options' `signal` stop it: it then rejects with a ParagonError of code 130
 * (`ExitCode.interrupted`), after cleaning up (no partial output at the final path; a video keeps
 * its finished segments for `resume`). Disposing (`await using`) cancels a job still running and
 * waits for it to settle.
 */
export class UpscaleJob<R> implements PromiseLike<R>, AsyncIterable<UpscaleEvent>, AsyncDisposable {
  /** Settles with the report, or the job's error. */
  readonly result: Promise<R>;
  readonly #controller = new AbortController();
  readonly #events: UpscaleEvent[] = [];
  /** Iterations waiting for the next event or the end. */
  readonly #waiting = new Set<() => void>();
  /** Iterations running now. */
  #iterating = 0;
  #settled = false;

  constructor(work: JobWork<R>, opts: { readonly signal?: AbortSignal | undefined; readonly onProgress?: ((e: UpscaleEvent) => void) | undefined } = {}) {
    const outer = opts.signal;
    const stop = (): void => this.#controller.abort(outer?.reason);
    if (outer?.aborted) stop();
    else outer?.addEventListener('abort', stop, { once: true });
    const emit = (e: UpscaleEvent): void => {
      const last = this.#events.length - 1;
      if (this.#iterating === 0 && e.event === 'progress' && this.#events[last]?.event === 'progress') this.#events[last] = e;
      else this.#events.push(e);
      this.#wakeAll();
      opts.onProgress?.(e);
    };
    // Started on the next microtask, so a caller can attach listeners before the first event.
    this.result = Promise.resolve()
      .then(() => work({ signal: this.#controller.signal, emit }))
      .finally(() => {
        this.#settled = true;
        outer?.removeEventListener('abort', stop);
        this.#wakeAll();
      });
    // Observed by whoever awaits or iterates; never an unhandled rejection of its own.
    this.result.catch(() => undefined);
  }

  /** Stop the job (it rejects with code 130 once cleaned up). */
  cancel(reason?: unknown): void {
    this.#controller.abort(reason ?? new ParagonError('interrupted', 'cancelled'));
  }

  then<A = R, B = never>(onFulfilled?: ((r: R) => A | PromiseLike<A>) | null, onRejected?: ((e: unknown) => B | PromiseLike<B>) | null): Promise<A | B> {
    return this.result.then(onFulfilled, onRejected);
  }

  async *[Symbol.asyncIterator](): AsyncIterator<UpscaleEvent> {
    let i = 0;
    this.#iterating++;
    try {
      for (;;) {
        while (i < this.#events.length) yield this.#events[i++]!;
        if (this.#settled) break;
        await new Promise<void>((resolve) => this.#waiting.add(resolve));
      }
    } finally {
      this.#iterating--;
    }
    await this.result;
  }

  #wakeAll(): void {
    for (const w of this.#waiting) w();
    this.#waiting.clear();
  }

  async [Symbol.asyncDispose](): Promise<void> {
    if (!this.#settled) this.cancel();
    await this.result.catch(() => undefined);
  }
}
