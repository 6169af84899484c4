/**
 * The page's elements and state, shared by app.ts and its helpers. `window.__paragon` is the
 * state, for scripted use (the tests read it): what the overlay shows, captured frames, notices,
 * and the sound and clock of playback.
 */
import type { HistoryWeight } from './upscaler.ts';

/** What the server offers (`api/catalog`). */
export interface Catalog {
  videos: { id: string; name: string; size: number }[];
  models: { id: string; name: string; size: number; default: boolean }[];
  ort: { mjs: string; wasm: string };
}

/** What a captured frame keeps (tests compare it with the Node engine). */
export interface Captured {
  timestamp: number;
  cut: boolean;
  /** The history weight the rules allowed (the map's ceiling with `auto`); 0 on a reset. */
  alpha: number;
  reset: string | null;
  width: number;
  height: number;
  /** Packed 8-bit RGB fed to the model, base64. */
  input: string;
  outWidth: number;
  outHeight: number;
  /** Drawn RGBA, base64. */
  output: string;
  /** Mean history weight fed: the scalar, or the mean of the `auto` map (0 on a reset). */
  weight: number;
  /** The camera motion the history was moved by (`auto`). */
  shift: { dx: number; dy: number };
}

const $ = <T extends HTMLElement>(id: string) => document.getElementById(id) as T;
/** The query parameters (scripted use). */
export const params = new URLSearchParams(location.search);
/** The page's elements. */
export const el = {
  open: $<HTMLButtonElement>('open'),
  file: $<HTMLInputElement>('file'),
  videos: $<HTMLSelectElement>('videos'),
  models: $<HTMLSelectElement>('models'),
  backend: $<HTMLSelectElement>('backend'),
  temporal: $<HTMLInputElement>('temporal'),
  temporalValue: $<HTMLOutputElement>('temporal-value'),
  temporalAuto: $<HTMLInputElement>('temporal-auto'),
  stage: $<HTMLElement>('stage'),
  frame: $<HTMLDivElement>('frame'),
  original: $<HTMLCanvasElement>('original'),
  upSlot: $<HTMLDivElement>('up-slot'),
  divider: $<HTMLDivElement>('divider'),
  overlay: $<HTMLPreElement>('overlay'),
  hint: $<HTMLDivElement>('hint'),
  play: $<HTMLButtonElement>('play'),
  time: $<HTMLSpanElement>('time'),
  seek: $<HTMLInputElement>('seek'),
  drop: $<HTMLInputElement>('drop'),
  mute: $<HTMLButtonElement>('mute'),
  volume: $<HTMLInputElement>('volume'),
  container: $<HTMLSelectElement>('container'),
  exportBtn: $<HTMLButtonElement>('export'),
  progress: $<HTMLProgressElement>('progress'),
  cancel: $<HTMLButtonElement>('cancel'),
  download: $<HTMLAnchorElement>('download'),
  notices: $<HTMLUListElement>('notices'),
};

/** The page's state, also readable by scripts as `window.__paragon`. */
export const state = {
  ready: false,
  busy: false,
  backend: '',
  backendLabel: '',
  /** How upscaled frames reach the screen: webgpu-canvas, readback (software WebGPU) or canvas2d. */
  present: '',
  model: '',
  video: '',
  playing: false,
  ended: false,
  time: 0,
  duration: 0,
  shown: 0,
  dropped: 0,
  cuts: [] as number[],
  resets: 0,
  fps: 0,
  latencyMs: 0,
  notices: [] as string[],
  errors: [] as string[],
  captured: [] as Captured[],
  exports: 0,
  /** The temporal setting: 'auto' (per-pixel map) or a fixed history weight. */
  temporal: 'auto' as HistoryWeight,
  /** Sound and master clock of the open video (refreshed while playing). */
  audio: {
    /** The file has an audio track this browser plays. */
    track: false,
    clock: 'wall' as 'audio' | 'wall',
    /** Master clock media time, s (app.ts makes it a live reading of the clock). */
    time: 0,
    /** AudioBuffers and seconds of sound scheduled since the file was opened. */
    buffers: 0,
    seconds: 0,
    /** Output gain (volume, 0 when muted). */
    gain: 1,
  },
  /**
   * Each frame drawn while playing (the last 500), s: `t` its timestamp, `lag` the master clock
   * minus `t` when it was drawn, `judged` the clock minus `t` when it was judged not late and its
   * work began (so `lag − judged` is the clock time the work took), `work` the wall time from
   * then to the frame drawn.
   */
  sync: [] as { t: number; lag: number; judged: number; work: number }[],
};
(globalThis as { __paragon?: typeof state }).__paragon = state;

/** m:ss.mmm */
export const fmt = (t: number) => `${Math.floor(t / 60)}:${(t % 60).toFixed(3).padStart(6, '0')}`;
/** The first line of an error. */
export const message = (e: unknown) => (e instanceof Error ? e.message : String(e)).split('\n')[0]!;

/** Show a notice (and keep it in the state). */
export function notice(line: string, error = false): void {
  (error ? state.errors : state.notices).push(line);
  const li = document.createElement('li');
  li.textContent = line;
  if (error) li.className = 'error';
  el.notices.append(li);
  setTimeout(() => li.remove(), error ? 15000 : 8000);
}

/** Bytes → base64 (captured frames). */
export function b64(bytes: Uint8Array | Uint8ClampedArray): string {
  let s = '';
  for (let i = 0; i < bytes.length; i += 0x8000) s += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
  return btoa(s);
}
