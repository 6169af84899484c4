/**
 * Playback: mediabunny demuxes, WebCodecs decodes (VideoSampleSink), and each frame goes through
 * the scene-cut detector and the upscaler before it is drawn at its presentation time. When the
 * upscaler is slower than the video, frames that are already late are dropped before any work is
 * spent on them (the picture stays in sync and the overlay says how many were dropped); the
 * feature state then simply carries from the last frame that was shown.
 *
 * Resets follow the Node rules: the first frame, a detected cut, a seek and a change of size start
 * from no history (the upscaler's HistoryRules); pausing and resuming keeps the history.
 */
import { ALL_FORMATS, BlobSource, Input, UrlSource, VideoSampleSink, type InputVideoTrack, type VideoSample } from 'mediabunny';
import { mediaError } from '../../errors.ts';
import { SceneCutDetector } from '../../temporal/scene-cut.ts';
import type { HistoryDecision } from '../../temporal/state-rules.ts';
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
  #out: PlayerOutput;
  #gen = 0;
  #playing = false;
  #lock: Promise<unknown> = Promise.resolve();
  #last: { timestamp: number; duration: number } | undefined;
  #captured = 0;
  #seekTarget: number | undefined;
  #seeking: Promise<void> | undefined;

  private constructor(name: string, source: VideoSource, input: Input, track: InputVideoTrack, duration: number, frameRate: number, out: PlayerOutput) {
    this.name = name;
    this.source = source;
    this.#input = input;
    this.track = track;
    this.duration = duration;
    this.frameRate = frameRate;
    this.#sink = new VideoSampleSink(track);
    this.#out = out;
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
    const p = new Player(name, src, input, track, duration, stats.averagePacketRate || 30, out);
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
      try {
        while (this.#seekTarget !== undefined) {
          const target = this.#seekTarget;
          this.#seekTarget = undefined;
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
    this.#input.dispose();
  }

  /** Start of the frame after the one on screen (a sink starts at the frame showing at a time). */
  #nextTime(): number {
    return this.#last ? this.#last.timestamp + this.#last.duration + 1e-6 : 0;
  }

  async #loop(gen: number, from: number): Promise<void> {
    // The clock starts when the first frame is on screen (its upscaling may take a while: shader
    // compilation on a fresh session), then frames are due at their timestamps from there.
    let clock: { wall: number; media: number } | undefined;
    try {
      for await (const sample of this.#sink.samples(from)) {
        if (gen !== this.#gen) {
          sample.close();
          break;
        }
        const due = clock ? clock.wall + (sample.timestamp - clock.media) * 1000 : undefined;
        const slot = (sample.duration || 1 / this.frameRate) * 1000;
        if (due !== undefined && performance.now() > due + slot && this.#out.dropLate?.() !== false) {
          this.dropped++;
          sample.close();
          continue;
        }
        const ts = sample.timestamp;
        await this.#exclusive(() => (gen === this.#gen ? this.#show(sample, due) : (sample.close(), Promise.resolve())));
        // Not dropping: a late frame moves the clock on, so the next one is not late already.
        const late = due !== undefined && performance.now() > due + slot;
        if (!clock || (late && this.#out.dropLate?.() === false)) clock = { wall: performance.now(), media: ts };
      }
    } catch (e) {
      if (gen === this.#gen) this.#out.onError(e);
    }
    if (gen === this.#gen && this.#playing) {
      this.#playing = false;
      this.#out.onState('ended');
    }
  }

  /** Read, detect, upscale, wait until `due` (performance.now ms), draw. Closes the sample. */
  async #show(sample: VideoSample, due: number | undefined): Promise<void> {
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
      if (due !== undefined) await sleep(due - performance.now());
      const t1 = performance.now();
      drawOriginal(out.original, pixels.canvas, up.width, up.height);
      const capture = (out.capture ?? 0) > this.#captured;
      const image = await out.view.draw(up, capture);
      // Waiting for the due time is not latency; the GPU finishing the frame inside draw is.
      const latencyMs = ran + performance.now() - t1;
      if (capture) this.#captured++;
      this.#last = { timestamp, duration };
      out.onFrame({ timestamp, cut: d.cut, score: d.score, decision: up.decision, latencyMs, pixels, image });
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
