/**
 * Progress of a video run: a bar redrawn in place on a terminal (frames, fps, ETA), a plain line
 * now and then when stderr is not a terminal, or one JSON object per update (`--progress json`).
 * Updates are throttled; the last one is always shown.
 */

/** One progress update. */
export interface ProgressEvent {
  readonly event: 'progress';
  /** Output frames done, including frames a resumed run had already finished. */
  readonly frames: number;
  /** Frames expected in all, when the container says. */
  readonly total: number | undefined;
  /** Frames per second of this run so far. */
  readonly fps: number;
  /** Seconds left at that rate, when the total is known. */
  readonly eta: number | undefined;
  readonly elapsed: number;
  /** Further counters of the run (a farm's connected workers). */
  readonly extra?: Readonly<Record<string, number>>;
}

/** Where updates go. */
export type ProgressMode = 'bar' | 'lines' | 'json' | 'none';

/** Seconds as h:mm:ss or m:ss. */
export function clock(s: number): string {
  const t = Math.max(0, Math.round(s));
  const h = Math.floor(t / 3600);
  const m = Math.floor((t % 3600) / 60);
  const sec = String(t % 60).padStart(2, '0');
  return h > 0 ? `${h}:${String(m).padStart(2, '0')}:${sec}` : `${m}:${sec}`;
}

/** Where {@link Progress} writes. */
export interface ProgressSink {
  /** How updates are shown as text ('json': not at all, only as objects). */
  readonly mode: ProgressMode;
  /** Receives each update as an object (whatever the mode: the API's events beside a CLI bar). */
  readonly json?: (event: Record<string, unknown>) => void;
  /** Bar mode: receives `\r`-redrawn text; lines mode: one line at a time, without its newline. */
  readonly text?: (text: string) => void;
}

/** The progress outputs of a job's options (pipeline/job.ts `UpscaleJobOptions`). */
export interface ProgressOutputs {
  readonly progress?: ((event: Record<string, unknown>) => void) | undefined;
  readonly progressLines?: ((line: string) => void) | undefined;
  readonly log?: ((line: string) => void) | undefined;
  readonly bar?: ((text: string) => void) | undefined;
}

/** Where progress lines go: `progressLines`, else the log unless the caller takes JSON events. */
export const progressLines = (o: ProgressOutputs): ((line: string) => void) | undefined => o.progressLines ?? (o.progress ? undefined : o.log);

/** The sink of a video job's progress: a bar, else lines, else JSON events only. */
export function progressSink(o: ProgressOutputs): ProgressSink {
  const lines = progressLines(o);
  return {
    mode: o.bar ? 'bar' : lines ? 'lines' : o.progress ? 'json' : 'none',
    text: o.bar ?? ((t) => lines?.(t)),
    ...(o.progress ? { json: o.progress } : {}),
  };
}

/** Tracks frames done and reports them in the chosen mode. */
export class Progress {
  readonly #sink: ProgressSink;
  #total: number | undefined;
  readonly #start = performance.now();
  readonly #base: number;
  #frames: number;
  #lastShown = Number.NEGATIVE_INFINITY;
  #lastPlain = performance.now();
  #drawn = false;
  #stopping = false;
  readonly #label: string | undefined;
  #extra: Readonly<Record<string, number>> | undefined;

  /**
   * `done` frames were finished before this run (resume): they count as done but not towards the
   * rate. `label` names a phase other than upscaling (e.g. 'planning') in the text and JSON.
   */
  constructor(sink: ProgressSink, total: number | undefined, done = 0, label?: string) {
    this.#sink = sink;
    this.#total = total;
    this.#base = done;
    this.#frames = done;
    this.#label = label;
  }

  /** The current numbers. */
  snapshot(): ProgressEvent {
    const elapsed = (performance.now() - this.#start) / 1000;
    const fps = elapsed > 0 ? (this.#frames - this.#base) / elapsed : 0;
    const total = this.#total !== undefined ? Math.max(this.#total, this.#frames) : undefined;
    const eta = total !== undefined && fps > 0 ? (total - this.#frames) / fps : undefined;
    return { event: 'progress', frames: this.#frames, total, fps, eta, elapsed, ...(this.#extra ? { extra: this.#extra } : {}) };
  }

  /** Set the frames done (work done elsewhere, e.g. on a farm) and further counters to show. */
  set(frames: number, extra?: Readonly<Record<string, number>>): void {
    this.#extra = extra;
    this.tick(frames - this.#frames);
  }

  /** Count `n` more frames done. */
  tick(n = 1): void {
    this.#frames += n;
    const now = performance.now();
    if (now - this.#lastShown >= (this.#sink.mode === 'bar' ? 200 : 500)) this.#show(now, false);
  }

  /** Show the final numbers (the total is now what was done) and end the bar's line. */
  end(): void {
    this.#total = this.#frames;
    if (this.#sink.mode === 'none' && !this.#sink.json) return;
    this.#show(performance.now(), true);
    if (this.#sink.mode === 'bar' && this.#drawn) this.#sink.text?.('\n');
    this.#drawn = false;
  }

  /**
   * The run was told to stop and finishes the frames in flight: the bar says so until it is
   * cleared (a terminal only: the other modes get the one line at the end).
   */
  stopping(): void {
    this.#stopping = true;
    if (this.#sink.mode === 'bar') this.#show(performance.now(), false);
  }

  /** Erase the bar so a notice can be printed on a clean line; the next update redraws it. */
  clear(): void {
    if (this.#sink.mode === 'bar' && this.#drawn) this.#sink.text?.('\r\x1b[2K');
    this.#drawn = false;
  }

  #show(now: number, final: boolean): void {
    this.#lastShown = now;
    const p = this.snapshot();
    const { extra, ...rest } = p;
    this.#sink.json?.({ ...rest, ...(this.#label ? { phase: this.#label } : {}), ...extra, fps: round(p.fps, 2), eta: p.eta === undefined ? null : round(p.eta, 1), elapsed: round(p.elapsed, 1) });
    switch (this.#sink.mode) {
      case 'bar':
        this.#sink.text?.(`\r\x1b[2K${this.#line(p, 30)}`);
        this.#drawn = true;
        break;
      case 'lines':
        if (final || now - this.#lastPlain >= 10_000) {
          this.#lastPlain = now;
          this.#sink.text?.(this.#line(p, 0));
        }
        break;
      case 'json':
      case 'none':
    }
  }

  #line(p: ProgressEvent, width: number): string {
    const frac = p.total ? Math.min(1, p.frames / p.total) : undefined;
    const filled = frac !== undefined ? Math.round(frac * width) : 0;
    const bar = width > 0 && frac !== undefined ? `[${'#'.repeat(filled)}${'.'.repeat(width - filled)}] ` : '';
    const count = p.total !== undefined ? `${p.frames}/${p.total} frames` : `${p.frames} frames`;
    const pct = frac !== undefined ? ` ${(frac * 100).toFixed(0)}%` : '';
    const eta = p.eta !== undefined ? `, ETA ${clock(p.eta)}` : '';
    if (this.#stopping) return `${bar}${count}${pct}: stopping after the frames in flight (Ctrl+C again quits at once)`;
    const extra = Object.entries(p.extra ?? {}).map(([k, v]) => `, ${v} ${k}`).join('');
    const label = this.#label ? `${this.#label}: ` : '';
    return `${label}${bar}${count}${pct}, ${p.fps.toFixed(p.fps < 10 ? 2 : 1)} fps${extra}, ${clock(p.elapsed)} elapsed${eta}`;
  }
}

const round = (v: number, digits: number): number => Math.round(v * 10 ** digits) / 10 ** digits;
