/**
 * The clocks playback presents video frames against. With an audio track the sound is the master
 * clock (as in mediabunny's media-player example): mediabunny decodes the track to AudioBuffers,
 * which are scheduled on a Web Audio `AudioContext` at their media times, and the media time is
 * read back from `audioContext.currentTime` — so the picture follows what is heard, and audio
 * never has to be stretched or resynchronised. Without audio (or when the browser cannot decode
 * it, or refuses to start sound) a wall clock on `performance.now()` stands in.
 *
 * `hold()` stops the clock while a frame is late and late frames are not dropped: the picture
 * cannot catch up, so time waits for it (the sound pauses through `AudioContext.suspend()`, which
 * freezes `currentTime`, so the clock and the scheduled buffers stay in step).
 */
import { AudioBufferSink, type InputAudioTrack, type WrappedAudioBuffer } from 'mediabunny';

/** Media time for the player: started at a frame's timestamp, read in seconds. */
export interface MediaClock {
  readonly kind: 'audio' | 'wall';
  /** Run from media time `t` (s) now; resolves once the clock is running. */
  start(t: number): Promise<void>;
  /** Media time now, s (where it stopped when not running). */
  now(): number;
  /** Stop time while the picture is late (frames not dropped); {@link release} lets it run on. */
  hold(): void;
  release(): void;
  /** Stop (pause, seek, end) where it is, or at media time `at` (a seek): no sound until the next {@link start}. */
  stop(at?: number): void;
  /**
   * Let the sound's decoder get `seconds` ahead of the clock (at most `maxMs` of waiting). The
   * player calls it before each frame's upscaling, which can hold the page's thread for a while
   * (WASM), so the sound does not run dry behind a busy picture.
   */
  fill?(seconds: number, maxMs: number): Promise<void>;
  dispose(): void;
}

/** Media time from `performance.now()`, for videos without sound. */
export class WallClock implements MediaClock {
  readonly kind = 'wall';
  #media = 0;
  #wall = 0;
  #running = false;
  #held = false;

  async start(t: number): Promise<void> {
    this.#media = t;
    this.#wall = performance.now();
    this.#running = true;
    this.#held = false;
  }

  now(): number {
    return this.#running && !this.#held ? this.#media + (performance.now() - this.#wall) / 1000 : this.#media;
  }

  hold(): void {
    if (!this.#running || this.#held) return;
    this.#media = this.now();
    this.#held = true;
  }

  release(): void {
    if (!this.#held) return;
    this.#held = false;
    this.#wall = performance.now();
  }

  stop(at?: number): void {
    this.#media = at ?? this.now();
    this.#running = false;
    this.#held = false;
  }

  dispose(): void {
    this.stop();
  }
}

/** What the audio clock reports (the page shows it and tests read it). */
export interface AudioStats {
  /** AudioBuffers scheduled on the context since the file was opened. */
  buffers: number;
  /** Seconds of sound scheduled since the file was opened. */
  seconds: number;
}

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));
/** How far ahead of the clock buffers are decoded and scheduled, s. */
const LOOKAHEAD = 1.5;
/** Sound decoded before the clock starts, s: the first frame's sound is there when it shows. */
const PREROLL = 0.3;

/** The file's first audio track played through Web Audio, as the master clock. */
export class AudioClock implements MediaClock {
  readonly kind = 'audio';
  readonly stats: AudioStats = { buffers: 0, seconds: 0 };
  readonly #track: InputAudioTrack;
  readonly #sink: AudioBufferSink;
  readonly #ctx: AudioContext;
  readonly #gain: GainNode;
  readonly #nodes = new Set<AudioBufferSourceNode>();
  /** Context time and media time at start: media = #media + (currentTime − #ctxStart). */
  #ctxStart = 0;
  #media = 0;
  #running = false;
  #held = false;
  #gen = 0;
  /** Media time up to which sound is scheduled, and whether the track's end was reached. */
  #until = 0;
  #done = false;
  /** Called whenever a buffer was scheduled (fill waits on it). */
  #progress: () => void = () => undefined;

  /** Needs a decodable track (see {@link AudioClock.open}). */
  private constructor(track: InputAudioTrack, ctx: AudioContext) {
    this.#track = track;
    this.#sink = new AudioBufferSink(track);
    this.#ctx = ctx;
    this.#gain = ctx.createGain();
    this.#gain.connect(ctx.destination);
  }

  /**
   * The audio clock of a track, or a reason why there is none (codec not decodable here, no Web
   * Audio). The context is made now and resumed on {@link start}, which a user's click precedes.
   */
  static async open(track: InputAudioTrack): Promise<AudioClock | string> {
    if (!(await track.canDecode())) return `this browser cannot decode ${track.codec ?? 'the audio codec'}; playing without sound`;
    if (typeof AudioContext === 'undefined') return 'no Web Audio in this browser; playing without sound';
    let ctx: AudioContext;
    try {
      // The track's own rate: the context then plays its buffers without resampling.
      ctx = new AudioContext({ sampleRate: track.sampleRate, latencyHint: 'playback' });
    } catch {
      ctx = new AudioContext({ latencyHint: 'playback' });
    }
    return new AudioClock(track, ctx);
  }

  /** Output volume 0..1 (0 when muted); the clock runs the same either way. */
  setVolume(volume: number, muted: boolean): void {
    this.#gain.gain.value = muted ? 0 : Math.min(1, Math.max(0, volume));
  }

  /** The gain in force (what the volume control set). */
  get gain(): number {
    return this.#gain.gain.value;
  }

  /** Codec and rate, for the overlay. */
  get label(): string {
    return `${this.#track.codec ?? 'audio'} ${(this.#track.sampleRate / 1000).toFixed(1)} kHz`;
  }

  /**
   * Start the sound at media time `t`. Rejects when the browser keeps the context suspended
   * (autoplay policy without a user gesture), so the player can fall back to the wall clock.
   */
  async start(t: number): Promise<void> {
    this.stop();
    const gen = this.#gen;
    // Always resume: a suspend from stop() may still be pending (the context queues them in order).
    let timer: ReturnType<typeof setTimeout> | undefined;
    const refused = new Promise<void>((r) => (timer = setTimeout(r, 2000)));
    await Promise.race([this.#ctx.resume(), refused]);
    clearTimeout(timer);
    if (gen !== this.#gen) return;
    if (this.#ctx.state !== 'running') throw new Error('the browser did not let the sound start');
    // Pre-roll: decode the first buffers before the clock runs (bounded: a slow decoder or a
    // track that starts late must not hold the picture for long).
    const it = this.#sink.buffers(t);
    const first: WrappedAudioBuffer[] = [];
    const deadline = performance.now() + 1000;
    this.#done = false;
    while (performance.now() < deadline) {
      const r = await it.next();
      if (r.done) {
        this.#done = true;
        break;
      }
      first.push(r.value);
      if (r.value.timestamp + r.value.duration - t >= PREROLL) break;
    }
    if (gen !== this.#gen) {
      void it.return();
      return;
    }
    this.#ctxStart = this.#ctx.currentTime;
    this.#media = t;
    this.#until = t;
    this.#running = true;
    for (const b of first) this.#schedule(b);
    if (!this.#done) void this.#feed(gen, it);
  }

  async fill(seconds: number, maxMs: number): Promise<void> {
    const end = performance.now() + maxMs;
    const gen = this.#gen;
    while (this.#running && gen === this.#gen && !this.#done && this.#until < this.now() + seconds && performance.now() < end) {
      await new Promise<void>((r) => {
        const timer = setTimeout(r, Math.max(1, end - performance.now()));
        this.#progress = () => (clearTimeout(timer), r());
      });
    }
  }

  now(): number {
    return this.#running ? this.#media + (this.#ctx.currentTime - this.#ctxStart) : this.#media;
  }

  hold(): void {
    if (!this.#running || this.#held) return;
    this.#held = true;
    void this.#ctx.suspend();
  }

  release(): void {
    if (!this.#held) return;
    this.#held = false;
    void this.#ctx.resume();
  }

  stop(at?: number): void {
    this.#media = at ?? this.now();
    this.#running = false;
    this.#held = false;
    this.#gen++;
    for (const n of this.#nodes) n.stop();
    this.#nodes.clear();
    // A silent running context still renders: suspended until the next start.
    if (this.#ctx.state === 'running') void this.#ctx.suspend();
  }

  dispose(): void {
    this.stop();
    void this.#ctx.close();
  }

  /** Schedule one buffer at its media time; one that should already be playing starts part-way in. */
  #schedule({ buffer, timestamp, duration }: WrappedAudioBuffer): void {
    const at = this.#ctxStart + (timestamp - this.#media);
    const now = this.#ctx.currentTime;
    this.#until = Math.max(this.#until, timestamp + duration);
    if (now - at >= duration) return; // all in the past: the decoder fell behind the clock
    const node = this.#ctx.createBufferSource();
    node.buffer = buffer;
    node.connect(this.#gain);
    if (at >= now) node.start(at);
    else node.start(now, now - at);
    this.#nodes.add(node);
    node.onended = () => this.#nodes.delete(node);
    this.stats.buffers++;
    this.stats.seconds += duration;
  }

  /** Go on decoding and scheduling, at most {@link LOOKAHEAD} ahead of the clock. */
  async #feed(gen: number, it: AsyncGenerator<WrappedAudioBuffer, void, unknown>): Promise<void> {
    try {
      for (;;) {
        while (gen === this.#gen && this.#until - this.now() > LOOKAHEAD) await sleep(100);
        if (gen !== this.#gen) break;
        const r = await it.next();
        if (gen !== this.#gen) break;
        if (r.done) {
          this.#done = true;
          break;
        }
        this.#schedule(r.value);
        this.#progress();
      }
    } catch (e) {
      // A decoding failure silences the rest; the clock (the context's time) keeps running.
      if (gen === this.#gen) console.warn('audio:', e);
    } finally {
      void it.return();
      if (gen === this.#gen) this.#progress();
    }
  }
}
