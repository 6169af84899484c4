/**
 * The browser frame engine: one ParagonSR2 model in an onnxruntime-web session, frames in, frames
 * out, with the video-mode feature state carried from frame to frame. On WebGPU the state never
 * leaves the GPU: `feature_map` is requested as a GPU buffer and fed back as `prev_feat` (no
 * readback), and the output can stay there too for the renderer. On WASM both live in ordinary
 * memory. When to drop the history (first frame, cut, seek, size change) is decided by the rules
 * the Node engine follows (src/temporal/state-rules.ts); input/output roles come from the same
 * roles.ts, so our graphs and Python exports are driven alike. With `historyWeight: 'auto'` (the
 * default, as in Node) every frame also goes through the same HistoryWeightEstimator as Node's
 * TemporalUpscaler, and the history is the input's own pixels, moved with the camera and blended
 * by the estimator's per-pixel map (temporal/pixel-history.ts: what Node's graph head,
 * graph/pixel-history.ts, computes), the features getting none; the one session serves both.
 *
 * Unlike the Node engine this one does not tile (a browser plays frames that fit the device) and
 * has no fp32 twin for fp16 overflow (checkpoints are built fp32 here).
 */
import * as ort from 'onnxruntime-web';
import { ParagonError, modelError } from '../../errors.ts';
import type { ModelInfo } from '../../runtime/model-info.ts';
import { fromFloat16, toFloat16 } from '../../runtime/tensor.ts';
import { crop, reflectPad, roundUp } from '../../temporal/planes.ts';
import { rolesOf, type Roles } from '../../temporal/roles.ts';
import { HistoryWeightEstimator } from '../../temporal/history-weight.ts';
import { NO_SHIFT, type Shift } from '../../temporal/motion.ts';
import { PixelHistory } from '../../temporal/pixel-history.ts';
import { HistoryRules, type FrameEvent, type HistoryDecision } from '../../temporal/state-rules.ts';
import { autoBackends, BufferUsage, type GpuBuffer, type GpuDevice } from './webgpu.ts';

/** A fixed history weight in [0, 1), or `'auto'`: a per-pixel map per frame. */
export type HistoryWeight = number | 'auto';

/** Execution provider of a session. */
export type Backend = 'webgpu' | 'wasm';
/** What a caller may ask for; 'auto' tries WebGPU on a hardware adapter, then WASM. */
export type BackendRequest = 'auto' | Backend;

/** A planar RGB frame: R, G, B planes of width × height float32 in 0..1 (as the Node engine). */
export interface PlanarFrame {
  readonly width: number;
  readonly height: number;
  readonly rgb: Float32Array;
}

/** Options of {@link WebUpscaler.open}. */
export interface WebUpscalerOptions {
  readonly backend?: BackendRequest;
  /**
   * History weight W in [0, 1); 0 = every frame on its own. `'auto'` (the default, as Node's
   * `--temporal auto`): a per-pixel map from how much the frame changed (src/temporal/history-weight.ts).
   */
  readonly historyWeight?: HistoryWeight;
  /** One-line notices (backend fallback, model limitations). */
  readonly onNotice?: (line: string) => void;
}

/** Counters for the overlay and reports. */
export interface WebUpscalerStats {
  frames: number;
  /** Frames that started from no history after a cut, seek or size change. */
  resets: number;
  /** Milliseconds of the last frame's run (submission to results available). */
  lastMs: number;
}

/** One upscaled frame as the session returned it; call {@link dispose} once it is drawn. */
export interface UpscaledFrame {
  /** `output` tensor [1, 3, paddedHeight·s, paddedWidth·s]: a GPU buffer on WebGPU, else CPU data. */
  readonly tensor: ort.Tensor;
  /** Size of the picture (the padded tensor is cropped to this). */
  readonly width: number;
  readonly height: number;
  /** Row length of the tensor's planes (≥ width when the model pads to a multiple). */
  readonly stride: number;
  /** Rows of the tensor's planes. */
  readonly rows: number;
  readonly decision: HistoryDecision;
  /** Mean history weight fed for this frame: the scalar, or the mean of the 'auto' map (0 on a reset). */
  readonly weight: number;
  /** The camera motion the history was moved by before the blend (`auto`; still otherwise). */
  readonly shift: Shift;
  dispose(): void;
}

const ALPHA_DIMS = [1, 1, 1, 1];

/** Create an onnxruntime-web session; 'auto' tries WebGPU first on a hardware adapter (see autoBackends). */
async function createSession(onnx: Uint8Array, request: BackendRequest, notice: (l: string) => void) {
  const auto = request === 'auto' ? await autoBackends() : undefined;
  const tries: readonly Backend[] = auto?.tries ?? [request as Backend];
  if (auto?.why) notice(auto.why);
  let last: unknown;
  for (const backend of tries) {
    try {
      const options: ort.InferenceSession.SessionOptions = { executionProviders: [backend], graphOptimizationLevel: 'all', logSeverityLevel: 3 };
      // Outputs in GPU buffers: the feature state is fed back and the picture drawn from there.
      // Half-precision pictures come back to the CPU (the renderer reads float32).
      const session = await ort.InferenceSession.create(onnx, backend === 'webgpu' ? { ...options, preferredOutputLocation: 'gpu-buffer' } : options);
      return { session, backend };
    } catch (e) {
      last = e;
      if (tries.length > 1) notice(`WebGPU failed (${(e instanceof Error ? e.message : String(e)).split('\n')[0]}); using WASM`);
    }
  }
  throw last;
}

/** Carries the feature state across frames through a model in onnxruntime-web. */
export class WebUpscaler {
  readonly roles: Roles;
  readonly backend: Backend;
  readonly stats: WebUpscalerStats = { frames: 0, resets: 0, lastMs: 0 };
  readonly #session: ort.InferenceSession;
  readonly #rules: HistoryRules;
  readonly #device: GpuDevice | undefined;
  readonly #notice: (l: string) => void;
  readonly #mode: 'video' | 'baked' | 'state-less';
  #info: ModelInfo;
  #channels: number | undefined;
  #state: ort.Tensor | undefined;
  #zeros: { key: string; tensor: ort.Tensor; buffer?: GpuBuffer } | undefined;
  /** Set in 'auto' mode: fed every frame run, in order, so its reference follows the model's history. */
  #estimator: HistoryWeightEstimator | undefined;
  /** 'auto': the pixels given to the model last (the history it blends the next frame with). */
  readonly #pixels = new PixelHistory();
  #queue: Promise<unknown> = Promise.resolve();
  #closed = false;

  private constructor(session: ort.InferenceSession, backend: Backend, device: GpuDevice | undefined, info: ModelInfo, opts: WebUpscalerOptions) {
    this.#session = session;
    this.backend = backend;
    this.#device = device;
    this.#info = info;
    this.#notice = opts.onNotice ?? (() => undefined);
    const meta = (m: readonly ort.InferenceSession.ValueMetadata[]) =>
      m.map((v) => ({ name: v.name, type: v.isTensor ? v.type : 'unknown', shape: v.isTensor ? [...v.shape] : [] }));
    const inputs = meta(session.inputMetadata);
    this.roles = rolesOf(info.file, inputs, meta(session.outputMetadata));
    const m = this.roles.mode;
    this.#mode = m === 'video' ? 'video' : m === 'baked' ? 'baked' : 'state-less';
    const w = this.#weightOf(opts.historyWeight ?? 'auto');
    if (w > 0 && m === 'tap') this.#notice(`${info.file}: the model exports features but takes no history input; temporal smoothing off`);
    else if (w > 0 && m === 'standard') this.#notice(`${info.file}: standard (single-image) model; temporal smoothing off`);
    else if (m === 'baked') this.#notice(`${info.file}: history weight fixed at ${info.historyWeight ?? 'an unknown value'} inside this model; resets feed zero history (as the reference scripts)`);
    this.#rules = new HistoryRules(this.#effective(w));
    const prevDim = inputs.find((v) => v.name === this.roles.prev)?.shape[1];
    this.#channels = info.channels ?? (typeof prevDim === 'number' ? prevDim : undefined);
  }

  /** Open a session on `onnx` (see prepareModel) and learn the scale when the file does not state it. */
  static async open(onnx: Uint8Array, info: ModelInfo, opts: WebUpscalerOptions = {}): Promise<WebUpscaler> {
    const notice = opts.onNotice ?? (() => undefined);
    let s: Awaited<ReturnType<typeof createSession>>;
    try {
      s = await createSession(onnx, opts.backend ?? 'auto', notice);
    } catch (e) {
      throw modelError(info.file, `cannot load the model: ${(e instanceof Error ? e.message : String(e)).split('\n')[0]}`, e);
    }
    const device = s.backend === 'webgpu' ? ((await ort.env.webgpu.device) as unknown as GpuDevice) : undefined;
    const up = new WebUpscaler(s.session, s.backend, device, info, opts);
    if (info.scale === 0) await up.#probe();
    return up;
  }

  /** The model description (scale completed by a probe run when the file did not say). */
  get info(): ModelInfo {
    return this.#info;
  }

  /** The GPU device of a WebGPU session (the one its buffers live on). */
  get gpuDevice(): GpuDevice | undefined {
    return this.#device;
  }

  /** The device the session runs on, as the Node engine names it. */
  get device(): string {
    return this.backend;
  }

  /** The history weight in force (0 when the model cannot carry state; the map's ceiling with 'auto'). */
  get historyWeight(): number {
    return this.#rules.weight;
  }

  /**
   * Change the history weight from the next frame on (ignored by models that cannot carry state).
   * Switching to or from 'auto' starts from no history (auto carries pixels, a fixed weight features).
   */
  set historyWeight(w: HistoryWeight) {
    const wasAuto = this.auto;
    const weight = this.#weightOf(w);
    this.#rules.weight = this.#effective(weight);
    // A fresh estimator holds no reference yet, and the two keep different histories (auto the
    // pixels, a fixed weight the features): a switch either way starts from none.
    if (this.auto !== wasAuto) this.reset();
    if (this.#rules.weight === 0) this.#dropState();
  }

  /** True when each frame's history weight is a per-pixel map (`historyWeight: 'auto'`). */
  get auto(): boolean {
    return this.#estimator !== undefined;
  }

  /** The numeric weight of a setting; 'auto' (video-mode models only) sets up the estimator. */
  #weightOf(w: HistoryWeight): number {
    if (w !== 'auto' || this.#mode !== 'video') {
      this.#estimator = undefined;
      return w === 'auto' ? 0.2 : w;
    }
    this.#estimator ??= new HistoryWeightEstimator();
    // The map's ceiling: state is kept whenever the rules allow, and the map says how much counts.
    return this.#estimator.options.maxWeight;
  }

  /** The weight a model can honour: any for ours, the baked one (or none) for Python video exports. */
  #effective(w: number): number {
    if (this.#mode === 'video') return w;
    return this.#mode === 'baked' && w > 0 ? (this.#info.historyWeight ?? 0.2) : 0;
  }

  /** Forget the feature state: the next frame starts from no history. */
  reset(): void {
    this.#rules.forget();
    this.#estimator?.reset();
    this.#pixels.reset();
    this.#dropState();
  }

  /** Playback jumped: the next frame starts from no history (counted as a seek reset). */
  seeked(): void {
    this.#rules.seeked();
    this.#estimator?.reset();
    this.#pixels.reset();
    this.#dropState();
  }

  /**
   * Upscale one frame and keep the output where the backend put it (GPU buffer on WebGPU).
   * Calls are queued, so frames run in call order. `cut` marks the first frame of a new shot.
   */
  run(frame: PlanarFrame, ev: { cut?: boolean } = {}): Promise<UpscaledFrame> {
    const next = this.#queue.then(() => this.#run(frame, ev.cut === true));
    this.#queue = next.catch(() => undefined);
    return next;
  }

  /** Upscale one frame to planar float RGB on the CPU (the Node engine's `process`). */
  async process(frame: PlanarFrame, opts: { cut?: boolean } = {}): Promise<PlanarFrame> {
    const up = await this.run(frame, opts);
    try {
      return { width: up.width, height: up.height, rgb: await planarOf(up) };
    } finally {
      up.dispose();
    }
  }

  async #run(frame: PlanarFrame, cut: boolean): Promise<UpscaledFrame> {
    if (this.#closed) throw new ParagonError('internal', 'upscaler is closed');
    const { width: w, height: h, rgb } = frame;
    if (!(w > 0 && h > 0) || rgb.length !== 3 * w * h)
      throw new ParagonError('internal', `frame of ${w}x${h} has ${rgb.length} samples, expected ${3 * w * h}`);
    const pm = this.#info.padMultiple;
    const H = roundUp(h, pm);
    const W = roundUp(w, pm);
    const ev: FrameEvent = { width: w, height: h, cut };
    const d = this.#rules.next(ev);
    // 'auto': every frame run feeds the estimator, which restarts wherever the rules reset (first
    // frame, cut, seek, size), as Node's TemporalUpscaler calls it with the frame's cut.
    const map = this.#estimator?.next(frame, { cut: d.reset !== undefined });
    const alpha: Float32Array | number = d.alpha > 0 && map instanceof Float32Array ? map : map === undefined ? d.alpha : 0;
    const shift = d.alpha > 0 && map instanceof Float32Array ? this.#estimator!.shift : NO_SHIFT;
    let x = reflectPad(rgb, 3, h, w, H, W);
    // 'auto': the history is the pixels (padded, as Node's graph head blends them), not the features.
    if (map !== undefined) x = this.#pixels.next(x, H, W, typeof alpha === 'number' ? alpha : reflectPad(alpha, 1, h, w, H, W), shift);
    const t0 = performance.now();
    const res = await this.#infer(x, H, W, d.alpha > 0 && map === undefined ? this.#state : undefined, map === undefined ? d.alpha : 0);
    this.stats.lastMs = performance.now() - t0;
    const out = res[this.roles.output];
    const feat = this.roles.feature ? res[this.roles.feature] : undefined;
    // The previous state was consumed by this run: release it, keep this frame's features.
    this.#dropState();
    if (feat && d.keep && map === undefined) this.#state = feat;
    else feat?.dispose();
    this.#rules.done(ev, d);
    this.stats.frames++;
    this.stats.resets = this.#rules.resets;
    if (!out) throw modelError(this.#info.file, `model returned no ${this.roles.output}`);
    const scale = out.dims[2]! / H;
    if (!Number.isInteger(scale) || out.dims[1] !== 3 || out.dims[3] !== W * scale) {
      out.dispose();
      throw modelError(this.#info.file, `output ${this.roles.output} has shape [${out.dims}] for a ${W}x${H} input`);
    }
    const weight = typeof alpha === 'number' ? alpha : mean(alpha);
    return { tensor: out, width: w * scale, height: h * scale, stride: W * scale, rows: H * scale, decision: d, weight, shift, dispose: () => out.dispose() };
  }

  /**
   * One session run; `prev` undefined means no history (zeros, weight 0). `alpha` is the features'
   * weight, one number (auto's per-pixel map goes to the pixel history, not here).
   */
  async #infer(x: Float32Array, H: number, W: number, prev: ort.Tensor | undefined, alpha: number): Promise<ort.InferenceSession.OnnxValueMapType> {
    const r = this.roles;
    const tensor = (name: string, data: Float32Array, dims: number[]) =>
      r.types[name] === 'float16' ? new ort.Tensor('float16', toFloat16(data), dims) : new ort.Tensor('float32', data, dims);
    const feeds: Record<string, ort.Tensor> = { [r.input]: tensor(r.input, x, [1, 3, H, W]) };
    if (r.prev) feeds[r.prev] = prev ?? this.#zerosFor(H, W);
    if (r.alpha) feeds[r.alpha] = tensor(r.alpha, Float32Array.of(alpha), ALPHA_DIMS);
    try {
      return await this.#session.run(feeds);
    } catch (e) {
      throw modelError(this.#info.file, `inference failed on ${this.backend}: ${(e instanceof Error ? e.message : String(e)).split('\n')[0]}`, e);
    }
  }

  /** A zero history of the frame's size: a zero-initialised GPU buffer on WebGPU (no upload). */
  #zerosFor(H: number, W: number): ort.Tensor {
    const c = this.#channels;
    if (c === undefined) throw modelError(this.#info.file, 'cannot tell the feature channel count of the model');
    const half = this.roles.types[this.roles.prev!] === 'float16';
    const key = `${c}x${H}x${W}${half ? 'h' : 'f'}`;
    if (this.#zeros?.key === key) return this.#zeros.tensor;
    this.#releaseZeros();
    const dims = [1, c, H, W];
    const n = c * H * W;
    if (this.#device) {
      // WebGPU buffers start zeroed; ORT reads it as an input and never writes to it.
      const buffer = this.#device.createBuffer({ size: roundUp(n * (half ? 2 : 4), 16), usage: BufferUsage.STORAGE | BufferUsage.COPY_SRC | BufferUsage.COPY_DST });
      const tensor = ort.Tensor.fromGpuBuffer(buffer as never, { dataType: half ? 'float16' : 'float32', dims });
      this.#zeros = { key, tensor, buffer };
    } else {
      this.#zeros = { key, tensor: half ? new ort.Tensor('float16', new Uint16Array(n), dims) : new ort.Tensor('float32', new Float32Array(n), dims) };
    }
    return this.#zeros.tensor;
  }

  /** Learn the scale of a model whose file does not state it, from one small blank frame. */
  async #probe(): Promise<void> {
    const n = roundUp(16, this.#info.padMultiple);
    const res = await this.#infer(new Float32Array(3 * n * n), n, n, undefined, 0);
    const out = res[this.roles.output];
    const scale = out ? out.dims[2]! / n : 0;
    for (const t of Object.values(res)) t.dispose();
    if (!Number.isInteger(scale) || scale < 1) throw modelError(this.#info.file, 'cannot tell the scale of the model from a probe run');
    this.#info = { ...this.#info, scale };
  }

  #dropState(): void {
    this.#state?.dispose();
    this.#state = undefined;
  }

  #releaseZeros(): void {
    this.#zeros?.tensor.dispose();
    this.#zeros?.buffer?.destroy();
    this.#zeros = undefined;
  }

  /** Release the session and the GPU buffers it holds. */
  async close(): Promise<void> {
    if (this.#closed) return;
    await this.#queue;
    this.#closed = true;
    this.#dropState();
    this.#releaseZeros();
    await this.#session.release();
  }
}

/** Mean of a weight map. */
function mean(a: Float32Array): number {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += a[i]!;
  return a.length > 0 ? s / a.length : 0;
}

/** The picture of an upscaled frame as planar float RGB (`width × height`), read back if on the GPU. */
export async function planarOf(up: UpscaledFrame): Promise<Float32Array> {
  const t = up.tensor;
  const raw = (await t.getData()) as Float32Array | Uint16Array;
  const data = raw instanceof Float32Array ? raw : fromFloat16(raw);
  return crop(data, 3, up.rows, up.stride, { x: 0, y: 0, w: up.width, h: up.height }).slice();
}
