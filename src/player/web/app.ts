/**
 * The player page: wires the controls to the model loader, the upscaler, the playback loop and
 * the export. Query parameters (for scripted use and tests): `backend=auto|webgpu|wasm`,
 * `temporal=auto|W`, `drop=0`, `present=…`, `capture=N` (keep the input and drawn output of the
 * first N frames in `window.__paragon`, which also exposes the state the overlay shows, the sound
 * and the clock).
 */
import * as ort from 'onnxruntime-web';
import { exportVideo, type Container } from './export.ts';
import { prepareModel } from './model.ts';
import { Player, type PlayerOutput, type ShownFrame, type VideoSource } from './playback.ts';
import { CanvasFrameView, GpuFrameView, GpuReadbackView, softwareAdapter, type FrameView } from './render.ts';
import { WebUpscaler, type BackendRequest, type HistoryWeight } from './upscaler.ts';
import { b64, el, fmt, message, notice, params, state, type Catalog } from './page.ts';

export type { Captured } from './page.ts';

const capture = Number(params.get('capture') ?? 0) || 0;
let upscaler: WebUpscaler | undefined;
let view: FrameView | undefined;
let player: Player | undefined;
let modelBytes: { bytes: Uint8Array; name: string } | undefined;
const dropped = new Map<string, { bytes: Uint8Array; name: string }>();
const recent: number[] = [];
// Scripts read the master clock as it is, not as of the last refresh.
Object.defineProperty(state.audio, 'time', { get: () => player?.clock.now() ?? 0, enumerable: true, configurable: true });

/** Busy while a model or video loads: controls that would race it are disabled. */
async function busy<T>(fn: () => Promise<T>): Promise<T | undefined> {
  state.busy = true;
  try {
    return await fn();
  } catch (e) {
    notice(message(e), true);
    return undefined;
  } finally {
    state.busy = false;
    updateControls();
  }
}

function updateControls(): void {
  const ok = player !== undefined && upscaler !== undefined;
  el.play.disabled = !ok;
  el.seek.disabled = !ok;
  el.exportBtn.disabled = !ok || !el.cancel.hidden;
  el.play.textContent = state.playing ? 'Pause' : 'Play';
}

// ------------------------------------------------------------------ layout and overlay

/** Fit the frame box into the stage, keeping the video's aspect ratio. */
function layout(): void {
  if (!player) return;
  const { width, height } = player.size;
  const sw = el.stage.clientWidth - 16;
  const sh = el.stage.clientHeight - 16;
  const k = Math.min(sw / width, sh / height);
  el.frame.style.width = `${Math.floor(width * k)}px`;
  el.frame.style.height = `${Math.floor(height * k)}px`;
}

let lastWeight = 0;

function overlay(last?: ShownFrame): void {
  if (last) lastWeight = last.weight;
  const s = upscaler;
  const lines = [
    `${state.backendLabel || 'no model'}${s ? ` · ${s.info.variant ?? 'model'} x${s.info.scale}` : ''}`,
    `fps ${state.fps.toFixed(1)} · ${state.latencyMs.toFixed(1)} ms/frame`,
    `dropped ${state.dropped} · shown ${state.shown}`,
    `temporal ${!s ? '-' : s.auto ? `auto (mean ${(last?.weight ?? lastWeight).toFixed(2)})` : s.historyWeight.toFixed(2)} · scene cuts ${state.cuts.length} · resets ${state.resets}`,
  ];
  if (player) lines.push(player.audio ? `sound ${player.audio.label} · audio clock` : 'no sound · wall clock');
  if (last?.decision.reset && last.decision.reset !== 'off') lines.push(`history reset: ${last.decision.reset}`);
  if (player && state.dropped > 0) lines.push(`upscaling is slower than ${player.frameRate.toFixed(0)} fps: dropping late frames`);
  el.overlay.textContent = lines.join('\n');
  el.overlay.classList.toggle('cut', last?.cut === true);
}

function onFrame(f: ShownFrame): void {
  const now = performance.now();
  // Frames shown over the last 2 s (at most 30), so slow rates read right too.
  recent.push(now);
  while (recent.length > 30 || (recent.length > 2 && recent[0]! < now - 2000)) recent.shift();
  state.fps = recent.length > 1 ? ((recent.length - 1) * 1000) / (now - recent[0]!) : 0;
  state.latencyMs = f.latencyMs;
  state.shown++;
  state.time = f.timestamp;
  state.dropped = player?.dropped ?? 0;
  state.resets = upscaler?.stats.resets ?? 0;
  if (f.cut) state.cuts.push(f.timestamp);
  if (f.clock !== undefined) {
    state.sync.push({ t: f.timestamp, lag: f.clock - f.timestamp, judged: (f.judged ?? f.clock) - f.timestamp, work: f.workMs / 1000 });
    if (state.sync.length > 500) state.sync.shift();
  }
  refreshAudio();
  if (f.image && state.captured.length < capture) {
    state.captured.push({
      timestamp: f.timestamp,
      cut: f.cut,
      alpha: f.decision.alpha,
      reset: f.decision.reset ?? null,
      width: f.pixels.width,
      height: f.pixels.height,
      input: b64(f.pixels.packed.data as Uint8Array),
      outWidth: f.image.width,
      outHeight: f.image.height,
      output: b64(f.image.data),
      weight: f.weight,
      shift: { ...f.shift },
    });
  }
  el.time.textContent = `${fmt(f.timestamp)} / ${fmt(state.duration)}`;
  if (!seeking) el.seek.value = String(state.duration > 0 ? f.timestamp / state.duration : 0);
  overlay(f);
}

// ------------------------------------------------------------------ model and backend

function output(): PlayerOutput {
  return {
    upscaler: upscaler!,
    view: view!,
    original: el.original,
    capture,
    dropLate: () => el.drop.checked,
    onFrame,
    onState: (s) => {
      state.playing = s === 'playing';
      refreshAudio();
      if (s === 'playing') recent.length = 0;
      state.ended = s === 'ended';
      state.dropped = player?.dropped ?? state.dropped;
      updateControls();
      overlay();
    },
    onError: (e) => notice(message(e), true),
    onNotice: (l) => notice(l),
  };
}

/** The temporal control's setting: 'auto' or the slider's fixed weight. */
function temporalSetting(): HistoryWeight {
  return el.temporalAuto.checked ? 'auto' : Number(el.temporal.value);
}

/** Copy the sound and clock of the player into the state (and apply the volume control). */
function refreshAudio(): void {
  const a = player?.audio;
  a?.setVolume(Number(el.volume.value), el.mute.getAttribute('aria-pressed') === 'true');
  Object.assign(state.audio, {
    track: a !== undefined,
    clock: player?.clock.kind ?? 'wall',
    buffers: a?.stats.buffers ?? 0,
    seconds: a?.stats.seconds ?? 0,
    gain: a?.gain ?? state.audio.gain,
  });
}

function backendLabel(up: WebUpscaler): string {
  if (up.backend === 'wasm') return `WASM (${ort.env.wasm.numThreads ?? 1} thread${ort.env.wasm.numThreads === 1 ? '' : 's'})`;
  const info = up.gpuDevice?.adapterInfo;
  const name = `WebGPU${info ? ` (${[info.vendor, info.architecture].filter(Boolean).join(' ')})` : ''}`;
  return view instanceof GpuFrameView ? name : `${name}, read-back display`;
}

/** Load model bytes on the chosen backend, replacing the current upscaler. */
async function loadModel(bytes: Uint8Array, name: string): Promise<void> {
  const prepared = await prepareModel(bytes, name);
  const up = await WebUpscaler.open(prepared.onnx, prepared.info, {
    backend: el.backend.value as BackendRequest,
    historyWeight: temporalSetting(),
    onNotice: (l) => notice(l),
  });
  const old = upscaler;
  // A canvas keeps the context type it was first given: a new one per upscaler.
  const canvas = document.createElement('canvas');
  const present = params.get('present');
  const dev = up.gpuDevice;
  const readback = dev !== undefined && (present === 'readback' || (present !== 'canvas' && present !== 'offscreen' && softwareAdapter(dev)));
  const v = !dev ? new CanvasFrameView(canvas) : readback ? new GpuReadbackView(canvas, dev) : new GpuFrameView(canvas, dev, present === 'offscreen');
  upscaler = up;
  view = v;
  modelBytes = { bytes, name };
  state.model = name;
  state.backend = up.backend;
  state.backendLabel = backendLabel(up);
  state.present = v instanceof GpuFrameView ? (present === 'offscreen' ? 'offscreen' : 'webgpu-canvas') : v instanceof GpuReadbackView ? 'readback' : 'canvas2d';
  el.upSlot.replaceChildren(canvas);
  if (player) await player.setOutput(output());
  await old?.close();
  overlay();
}

async function loadCatalogModel(id: string): Promise<void> {
  const d = dropped.get(id);
  if (d) return loadModel(d.bytes, d.name);
  const r = await fetch(`models/${encodeURIComponent(id)}`);
  if (!r.ok) throw new Error(`model ${id}: HTTP ${r.status}`);
  const name = el.models.selectedOptions[0]?.textContent ?? id;
  await loadModel(new Uint8Array(await r.arrayBuffer()), name);
}

// ------------------------------------------------------------------ video

async function openVideo(src: VideoSource, name: string): Promise<void> {
  if (!upscaler) throw new Error('load a model first (drop a .safetensors or .onnx file)');
  player?.dispose();
  player = undefined;
  state.playing = false;
  state.cuts = [];
  state.shown = 0;
  state.sync = [];
  el.hint.hidden = true;
  el.frame.hidden = false;
  player = await Player.open(src, name, output());
  state.video = name;
  state.duration = player.duration;
  state.dropped = 0;
  refreshAudio();
  layout();
  overlay();
}

let seeking = false;

function wire(catalog: Catalog): void {
  for (const v of catalog.videos) el.videos.append(new Option(v.name, v.id));
  if (catalog.videos.length > 0) el.videos.options[0]!.textContent = '(choose)';
  for (const m of catalog.models) el.models.append(new Option(m.name, m.id, m.default, m.default));
  el.open.onclick = () => el.file.click();
  el.file.onchange = () => void openFiles(Array.from(el.file.files ?? []));
  el.videos.onchange = () => {
    const v = catalog.videos.find((x) => x.id === el.videos.value);
    if (v) void busy(() => openVideo(`files/${v.id}`, v.name));
  };
  el.models.onchange = () => void busy(() => loadCatalogModel(el.models.value));
  el.backend.onchange = () => void busy(async () => modelBytes && loadModel(modelBytes.bytes, modelBytes.name));
  el.temporal.oninput = el.temporalAuto.onchange = () => {
    const w = temporalSetting();
    showTemporal();
    if (upscaler) upscaler.historyWeight = w;
    overlay();
  };
  el.volume.oninput = refreshAudio;
  el.mute.onclick = () => {
    const muted = el.mute.getAttribute('aria-pressed') !== 'true';
    el.mute.setAttribute('aria-pressed', String(muted));
    el.mute.textContent = muted ? 'Unmute' : 'Mute';
    refreshAudio();
  };
  // The clock moves between frames too (and when most are dropped): keep the state current.
  setInterval(() => state.playing && refreshAudio(), 200);
  el.play.onclick = () => {
    if (!player) return;
    if (player.playing) player.pause();
    else player.play();
  };
  el.seek.oninput = () => {
    seeking = true;
    if (player) void player.seek(Number(el.seek.value) * player.duration).finally(() => (seeking = false));
  };
  document.addEventListener('keydown', (e) => {
    if (e.key === ' ' && e.target === document.body) {
      e.preventDefault();
      el.play.click();
    }
  });
  // Split divider: drag (or arrow keys) moves the boundary between classical and upscaled.
  const setSplit = (f: number) => el.frame.style.setProperty('--split', `${(Math.min(1, Math.max(0, f)) * 100).toFixed(2)}%`);
  el.divider.onpointerdown = (e) => {
    el.divider.setPointerCapture(e.pointerId);
    const move = (ev: PointerEvent) => {
      const r = el.frame.getBoundingClientRect();
      setSplit((ev.clientX - r.left) / r.width);
    };
    el.divider.onpointermove = move;
    el.divider.onpointerup = () => (el.divider.onpointermove = null);
  };
  el.divider.onkeydown = (e) => {
    const cur = parseFloat(el.frame.style.getPropertyValue('--split') || '50') / 100;
    if (e.key === 'ArrowLeft') setSplit(cur - 0.05);
    if (e.key === 'ArrowRight') setSplit(cur + 0.05);
  };
  // Drag and drop of videos and models anywhere on the page.
  document.addEventListener('dragover', (e) => {
    e.preventDefault();
    el.stage.classList.add('dragging');
  });
  document.addEventListener('dragleave', () => el.stage.classList.remove('dragging'));
  document.addEventListener('drop', (e) => {
    e.preventDefault();
    el.stage.classList.remove('dragging');
    void openFiles(Array.from(e.dataTransfer?.files ?? []));
  });
  // The stage changes size with the window and with the bars (the download link can wrap the footer).
  new ResizeObserver(layout).observe(el.stage);
  wireExport();
}

/** Models among the files load first, then the first video opens. */
async function openFiles(files: File[]): Promise<void> {
  for (const f of files.filter((x) => /\.(onnx|safetensors)$/i.test(x.name))) {
    const id = `drop-${dropped.size}`;
    dropped.set(id, { bytes: new Uint8Array(await f.arrayBuffer()), name: f.name });
    el.models.append(new Option(`${f.name} (dropped)`, id, true, true));
    await busy(() => loadCatalogModel(id));
  }
  const video = files.find((x) => !/\.(onnx|safetensors)$/i.test(x.name));
  if (video) await busy(() => openVideo(video, video.name));
}

function wireExport(): void {
  let abort: AbortController | undefined;
  el.cancel.onclick = () => abort?.abort();
  el.exportBtn.onclick = () => {
    if (!player || !upscaler) return;
    const p = player;
    const container = el.container.value as Container;
    p.pause();
    abort = new AbortController();
    el.progress.hidden = false;
    el.progress.value = 0;
    el.cancel.hidden = false;
    el.download.hidden = true;
    updateControls();
    void busy(async () => {
      try {
        const r = await exportVideo(p.source, p.name, upscaler!, { container, signal: abort!.signal, onProgress: (f) => (el.progress.value = f) });
        if (!r) return notice('export cancelled');
        const base = p.name.replace(/\.[^.]+$/, '');
        el.download.href = URL.createObjectURL(r.blob);
        el.download.download = `${base}-paragon-x${upscaler!.info.scale}.${container}`;
        el.download.textContent = `download ${el.download.download}`;
        el.download.hidden = false;
        state.exports++;
        notice(`exported ${r.frames} frames (${r.cuts} scene cut${r.cuts === 1 ? '' : 's'})`);
        el.download.click();
      } finally {
        el.progress.hidden = true;
        el.cancel.hidden = true;
        abort = undefined;
      }
    });
  };
}

/** The temporal control as set: 'auto' disables the slider (it is the fixed weight otherwise). */
function showTemporal(): void {
  const w = temporalSetting();
  state.temporal = w;
  el.temporal.disabled = w === 'auto';
  el.temporalValue.textContent = w === 'auto' ? 'auto' : w.toFixed(2);
}

// ------------------------------------------------------------------ start

async function main(): Promise<void> {
  const catalog = (await (await fetch('api/catalog')).json()) as Catalog;
  const abs = (p: string) => new URL(p, location.href).href;
  ort.env.wasm.wasmPaths = { mjs: abs(catalog.ort.mjs), wasm: abs(catalog.ort.wasm) };
  // WASM threads need cross-origin isolation, which the server's COOP/COEP headers give.
  ort.env.wasm.numThreads = crossOriginIsolated ? Math.max(1, Math.min(navigator.hardwareConcurrency || 1, 8)) : 1;
  ort.env.logLevel = 'error';
  const backend = params.get('backend');
  if (backend === 'webgpu' || backend === 'wasm' || backend === 'auto') el.backend.value = backend;
  if (params.get('drop') === '0') el.drop.checked = false;
  const t = params.get('temporal');
  if (t !== null && t !== 'auto') {
    el.temporalAuto.checked = false;
    el.temporal.value = t;
  }
  showTemporal();
  wire(catalog);
  const model = catalog.models.find((m) => m.default);
  if (model) await busy(() => loadCatalogModel(model.id));
  else notice('no model offered: drop a .safetensors or .onnx file');
  const first = catalog.videos[0];
  if (first && upscaler) {
    el.videos.value = first.id;
    await busy(() => openVideo(`files/${first.id}`, first.name));
  }
  state.ready = true;
  updateControls();
}

void main().catch((e) => {
  notice(message(e), true);
  state.ready = true;
});
