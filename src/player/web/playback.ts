/**
 * Playback: mediabunny demuxes, WebCodecs decodes (VideoSampleSink), and each frame goes through
 * the scene-cut detector and the upscaler before it is drawn at its presentation time on the
 * master clock: the sound of the first audio track when there is one (audio.ts), else the wall
 * clock. When the upscaler is slower than the video, frames that are already late on that clock
 * are dropped before any work is spent on them (the picture stays in sync with the sound and the
 * overlay says how many were dropped); the feature state then simply carries from the last frame
 * that was shown. With dropping off, time (and the sound) waits for a late frame instead.
 *
 * Resets follow the Node rules: the first frame, a detected cut, a seek and a change of size start
 * from no history (the upscaler's HistoryRules); pausing and resuming keeps the history.
 */
import { ALL_FORMATS, BlobSource, Input, UrlSource, VideoSampleSink, type InputAudioTrack, type InputVideoTrack, type VideoSample } from 'mediabunny';
import { mediaError } from '../../errors.ts';
import { SceneCutDetector } from '../../temporal/scene-cut.ts';
import type { HistoryDecision } from '../../temporal/state-rules.ts';
import { AudioClock, WallClock, type MediaClock } from './audio.ts';
import { FrameReader, type FramePixels } from './frames.ts';
import { drawOriginal, type FrameView } from './render.ts';
import type { WebUpscaler } from './upscaler.ts';

/** A local file or the URL of a file the server offers. */
export type VideoSource = Blob | string;

/** What the player reports for every frame it shows. */
export interface ShownFrame {
  readonly timestamp: number;
  readonly cut: boolean;
  readonly score: number;
  readonly decision: HistoryDecision;
  /** Mean history weight fed (the scalar, or the mean of the 'auto' map; 0 on a reset). */
  readonly weight: number;
  /** The camera motion the history was moved by (`auto`; 0, 0 otherwise). */
  readonly shift: { readonly dx: number; readonly dy: number };
  /**
   * The master clock's media time when the frame was drawn, s, while playing (undefined for a
   * frame shown by a seek or the first frame of a play, which the clock starts from).
   */
  readonly clock: number | undefined;
  /**
   * The master clock's media time when the frame was judged not late and its work began, s, while
   * playing (undefined like `clock`): `clock − judged` is the clock time its work took.
   */
  readonly judged: number | undefined;
  /** Time from the decision to show the frame (not late yet) to the frame drawn, ms. */
  readonly workMs: number;
  /** Time from the start of upscaling to the frame drawn (GPU work included), ms. */
  readonly latencyMs: number;
  readonly pixels: FramePixels;
  /** The drawn upscaled pixels, when capture was asked for. */
  readonly image: ImageData | undefined;
}

/** Where the player draws and whom it tells. */
export interface PlayerOutput {
  readonly upscaler: WebUpscaler;
  readonly view: FrameView;
  /** The classically scaled original (left of the divider). */
  readonly original: HTMLCanvasElement;
  onFrame(f: ShownFrame): void;
  onState(s: 'playing' | 'paused' | 'ended'): void;
  onError(e: unknown): void;
  /** One-line notices (no sound, and why). */
  onNotice?(line: string): void;
  /** Capture the drawn pixels of this many first frames (tests). */
  capture?: number;
  /** Whether late frames are dropped (default) or shown late, slowing playback down. */
  dropLate?: () => boolean;
}

/** Open a media source for mediabunny. */
export function mediaInput(src: VideoSource): Input {
  return new Input({ formats: ALL_FORMATS, source: typeof src === 'string' ? new UrlSource(src) : new BlobSource(src) });
}

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, Math.max(0, ms)));

/** One open video and its playback state. */
export class Player {
  readonly name: string;
  readonly source: VideoSource;
  readonly track: InputVideoTrack;
  readonly duration: number;
  readonly frameRate: number;
  /** Frames skipped because they were late. */
  dropped = 0;
  readonly #input: Input;
  readonly #sink: VideoSampleSink;
  readonly #reader = new FrameReader();
  readonly #detector = new SceneCutDetector();
  readonly #wall = new WallClock();
  #audio: AudioClock | undefined;
  #clock: MediaClock;
  #out: PlayerOutput;
  #gen = 0;
  #playing = false;
  #lock: Promise<unknown> = Promise.resolve();
  #last: { timestamp: number; duration: number } | undefined;
  #captured = 0;
  #seekTarget: number | undefined;
  #seeking: Promise<void> | undefined;

  private constructor(name: string, source: VideoSource, input: Input, track: InputVideoTrack, duration: number, frameRate: number, out: PlayerOutput, audio: AudioClock | undefined) {
    this.name = name;
    this.source = source;
    this.#input = input;
    this.track = track;
    this.duration = duration;
    this.frameRate = frameRate;
    this.#sink = new VideoSampleSink(track);
    this.#out = out;
    this.#audio = audio;
    this.#clock = audio ?? this.#wall;
  }

  /** Open a video and show its first frame. Media errors name the file. */
  static async open(src: VideoSource, name: string, out: PlayerOutput): Promise<Player> {
    const input = mediaInput(src);
    let track: InputVideoTrack | null;
    try {
      track = await input.getPrimaryVideoTrack();
    } catch (e) {
      throw mediaError(name, `cannot read the file: ${e instanceof Error ? e.message : String(e)}`, e);
    }
    if (!track) throw mediaError(name, 'no video track');
    if (!(await track.canDecode())) throw mediaError(name, `this browser cannot decode ${track.codec ?? 'the video codec'} (WebCodecs)`);
    const duration = await track.computeDuration();
    const stats = await track.computePacketStats(120);
    let audioTrack: InputAudioTrack | null = null;
    try {
      audioTrack = await input.getPrimaryAudioTrack();
    } catch (e) {
      out.onNotice?.(`${name}: cannot read the audio track (${e instanceof Error ? e.message : String(e)}); playing without sound`);
    }
    const audio = audioTrack ? await AudioClock.open(audioTrack) : undefined;
    if (typeof audio === 'string') out.onNotice?.(`${name}: ${audio}`);
    const p = new Player(name, src, input, track, duration, stats.averagePacketRate || 30, out, typeof audio === 'string' ? undefined : audio);
    await p.seek(0);
    return p;
  }

  /** Width × height of the frames as shown (rotation applied). */
  get size(): { width: number; height: number } {
    return { width: this.track.displayWidth, height: this.track.displayHeight };
  }

  get playing(): boolean {
    return this.#playing;
  }

  /** Timestamp of the frame on screen, s. */
  get time(): number {
    return this.#last?.timestamp ?? 0;
  }

  /** The master clock: the sound when the file has a track this browser plays, else the wall clock. */
  get clock(): MediaClock {
    return this.#clock;
  }

  /** The sound (undefined without an audio track, or once the browser refused to play it). */
  get audio(): AudioClock | undefined {
    return this.#audio;
  }

  /** Switch model or backend: the new upscaler starts from no history; the frame on screen is redone. */
  async setOutput(out: PlayerOutput): Promise<void> {
    const playing = this.#playing;
    this.pause();
    await this.#lock;
    this.#out = out;
    await this.seek(this.time);
    if (playing) this.play();
  }

  play(): void {
    if (this.#playing) return;
    this.#playing = true;
    this.#out.onState('playing');
    // A seek in progress continues into playback by itself.
    if (this.#seeking) return;
    const ended = this.#last !== undefined && this.#last.timestamp + this.#last.duration >= this.duration - 1e-6;
    if (ended) void this.seek(0);
    else void this.#loop(++this.#gen, this.#nextTime());
  }

  pause(): void {
    if (!this.#playing) return;
    this.#playing = false;
    this.#gen++;
    this.#clock.stop();
    this.#out.onState('paused');
  }

  /**
   * Jump to `t` seconds and show that frame; playback continues from there if it was playing.
   * Bursts of seeks (a dragged slider) collapse into the last one.
   */
  seek(t: number): Promise<void> {
    this.#seekTarget = Math.max(0, Math.min(t, this.duration));
    this.#seeking ??= (async () => {
      this.#gen++; // stops a running playback loop
      this.#clock.stop();
      try {
        while (this.#seekTarget !== undefined) {
          const target = this.#seekTarget;
          this.#seekTarget = undefined;
          this.#clock.stop(target);
          const sample = await this.#sink.getSample(target);
          if (!sample) continue;
          await this.#exclusive(async () => {
            this.#out.upscaler.seeked();
            this.#detector.reset();
            await this.#show(sample, undefined);
          });
        }
      } catch (e) {
        this.#out.onError(e);
      } finally {
        this.#seeking = undefined;
      }
      if (this.#playing) void this.#loop(++this.#gen, this.#nextTime());
    })();
    return this.#seeking;
  }

  /** Release the demuxer. */
  dispose(): void {
    this.#gen++;
    this.#playing = false;
    this.#clock.stop();
    this.#audio?.dispose();
    this.#input.dispose();
  }

  /** Start of the frame after the one on screen (a sink starts at the frame showing at a time). */
  #nextTime(): number {
    return this.#last ? this.#last.timestamp + this.#last.duration + 1e-6 : 0;
  }

  async #loop(gen: number, from: number): Promise<void> {
    // The clock starts when the first frame is on screen (its upscaling may take a while: shader
    // compilation on a fresh session), then frames are due at their timestamps on it.
    let started = false;
    try {
      for await (const sample of this.#sink.samples(from)) {
        if (gen !== this.#gen) {
          sample.close();
          break;
        }
        const ts = sample.timestamp;
        const slot = sample.duration || 1 / this.frameRate;
        const drop = this.#out.dropLate?.() !== false;
        const clock = this.#clock;
        // Not dropping: if the frame is not drawn by the end of its slot, time waits for it.
        // Held at once when already late: a timer could not fire while upscaling holds the thread.
        const left = ts + slot - clock.now();
        if (started && !drop && left <= 0) clock.hold();
        const hold = started && !drop ? setTimeout(() => clock.hold(), Math.max(0, left * 1000)) : undefined;
        try {
          // Upscaling can hold the page's thread (WASM) for a while: let the sound get ahead first.
          if (started) await clock.fill?.(0.3, 100);
          if (started && drop && clock.now() > ts + slot) {
            this.dropped++;
            sample.close();
            continue;
          }
          const since = performance.now();
          const judged = started ? clock.now() : undefined;
          await this.#exclusive(() => (gen === this.#gen ? this.#show(sample, started ? gen : undefined, since, judged) : (sample.close(), Promise.resolve())));
        } finally {
          clearTimeout(hold);
          if (hold !== undefined) clock.release();
        }
        if (!started && gen === this.#gen) {
          await this.#startClock(ts);
          started = true;
          if (gen !== this.#gen) this.#clock.stop();
        }
      }
    } catch (e) {
      if (gen === this.#gen) this.#out.onError(e);
    }
    if (gen === this.#gen && this.#playing) {
      this.#clock.stop();
      this.#playing = false;
      this.#out.onState('ended');
    }
  }

  /** Start the master clock at `t`; if the browser will not play the sound, go on without it. */
  async #startClock(t: number): Promise<void> {
    try {
      await this.#clock.start(t);
    } catch (e) {
      this.#out.onNotice?.(`${e instanceof Error ? e.message : String(e)}; playing without sound`);
      this.#audio?.dispose();
      this.#audio = undefined;
      this.#clock = this.#wall;
      await this.#clock.start(t);
    }
  }

  /** Wait until the clock reaches `t` (or playback stops): frames are never drawn early. */
  async #until(t: number, gen: number): Promise<void> {
    for (let ahead = t - this.#clock.now(); ahead > 0 && gen === this.#gen; ahead = t - this.#clock.now()) await sleep(Math.max(1, ahead * 1000));
  }

  /**
   * Read, detect, upscale, wait for the frame's time on the clock (when `playing` names the
   * playback run: a seek shows at once), draw. Closes the sample. A frame whose run was stopped
   * (pause, seek) before its time came is not drawn: it would show ahead of the stopped sound. Its
   * upscaling is lost (the next play starts at that frame again, its history the frame itself).
   */
  async #show(sample: VideoSample, playing: number | undefined, since = performance.now(), judged?: number): Promise<void> {
    const timestamp = sample.timestamp;
    const duration = sample.duration || 1 / this.frameRate;
    let pixels: FramePixels;
    try {
      pixels = this.#reader.read(sample);
    } finally {
      sample.close();
    }
    const out = this.#out;
    const d = this.#detector.push(pixels.packed);
    const t0 = performance.now();
    const up = await out.upscaler.run(pixels.planar, { cut: d.cut });
    try {
      const ran = performance.now() - t0;
      if (playing !== undefined) {
        await this.#until(timestamp, playing);
        if (playing !== this.#gen) return;
      }
      const t1 = performance.now();
      drawOriginal(out.original, pixels.canvas, up.width, up.height);
      const capture = (out.capture ?? 0) > this.#captured;
      const image = await out.view.draw(up, capture);
      // Waiting for the due time is not latency; the GPU finishing the frame inside draw is.
      const latencyMs = ran + performance.now() - t1;
      const clock = playing !== undefined ? this.#clock.now() : undefined;
      const workMs = performance.now() - since;
      if (capture) this.#captured++;
      this.#last = { timestamp, duration };
      out.onFrame({ timestamp, cut: d.cut, score: d.score, decision: up.decision, weight: up.weight, shift: up.shift, clock, judged, workMs, latencyMs, pixels, image });
    } finally {
      up.dispose();
    }
  }

  #exclusive<T>(fn: () => Promise<T>): Promise<T> {
    const next = this.#lock.then(fn);
    this.#lock = next.catch(() => undefined);
    return next;
  }
}
