/**
 * The frame engine: pads, tiles and runs one frame at a time through a session, carrying the
 * video-mode feature state from frame to frame. Independent of ffmpeg: the video pipeline feeds
 * decoded frames, the image pipeline single images (history weight 0).
 *
 * History weight W follows the reference convention (alpha = weight of the history, 0 = the
 * current frame only). On the first frame, after a cut and after a size change the weight is 0
 * for that frame: the reference scripts instead blend a zero tensor, darkening that frame's
 * features by W.
 */
import { ParagonError, isParagonError } from '../errors.ts';
import type { ModelSession } from '../runtime/session.ts';
import type { WireTensor } from '../runtime/protocol.ts';
import { float32Of, hasNonFinite, wire } from '../runtime/tensor.ts';
import type { ModelInfo } from '../runtime/model-info.ts';
import { blit, crop, reflectPad, roundUp, type Rect } from './planes.ts';
import { rolesOf, type Roles } from './roles.ts';
import { TILE_OVERLAP, halveTile, planTiles } from './tiles.ts';
import { HistoryWeightEstimator, type HistoryWeightSnapshot } from './history-weight.ts';

/** A planar RGB frame: R, G, B planes of width × height float32 in 0..1. */
export interface PlanarFrame {
  readonly width: number;
  readonly height: number;
  readonly rgb: Float32Array;
}

/** Options of the {@link TemporalUpscaler}. */
export interface UpscalerOptions {
  /**
   * History weight W in [0, 1) (default 0.2); 0 = every frame on its own, no state kept. `'auto'`:
   * a per-pixel map from how much the low-resolution frame changed (src/temporal/history-weight.ts),
   * computed for every frame that gets no explicit `alpha`.
   */
  readonly historyWeight?: number | 'auto';
  /** Tile size in input pixels (0 = whole frame, halved automatically on out-of-memory). */
  readonly tile?: number;
  /** Overlap margin of tiles (default: per variant, see TILE_OVERLAP). */
  readonly overlap?: number;
  /** History weight baked into a Python video export (default: model metadata, else 0.2). */
  readonly bakedAlpha?: number;
  /** Opens an fp32 session of the same checkpoint, for reruns of frames an fp16 model overflowed on. */
  readonly fp32?: () => Promise<ModelSession>;
  /** One-line notices (tile halving, model limitations). */
  readonly onNotice?: (line: string) => void;
}

/** Counters for reports. */
export interface UpscalerStats {
  frames: number;
  /** Frames that started from no history after a cut or a size change (not counting the first). */
  resets: number;
  /** Tiles rerun at fp32 because the fp16 output held NaN or Inf. */
  nanReruns: number;
  /** Tiles whose output stayed non-finite (no fp32 model to rerun with). */
  nonFinite: number;
  /** Current tile size (0 = whole frame). */
  tile: number;
  /** Model runs over all frames (tiles × frames, plus reruns and exact resets). */
  runs: number;
}

/**
 * Where a clip stands between two frames: the feature state and the size it belongs to, and the
 * counters. A video run saves one with each checkpoint so a later run continues the clip exactly
 * (`--resume`).
 */
export interface UpscalerSnapshot {
  /** Feature state (C × padded H × padded W), or undefined when the next frame starts fresh. */
  readonly state: Float32Array | undefined;
  /** Size of the last frame processed (undefined before the first). */
  readonly last: { readonly width: number; readonly height: number } | undefined;
  readonly stats: UpscalerStats;
  /** The history-weight estimator's position (`historyWeight: 'auto'` only). */
  readonly weights?: HistoryWeightSnapshot;
}

type Feeds = Record<string, { data: Float32Array; dims: number[] }>;

/** Carries feature state across frames through a (video-mode) model. Dispose to release the sessions. */
export class TemporalUpscaler implements AsyncDisposable {
  readonly roles: Roles;
  readonly stats: UpscalerStats;
  readonly #session: ModelSession;
  readonly #opts: UpscalerOptions;
  readonly #weight: number;
  readonly #estimator: HistoryWeightEstimator | undefined;
  readonly #bakedAlpha: number;
  readonly #overlap: number;
  #info: ModelInfo;
  #fp32: Promise<{ session: ModelSession; roles: Roles }> | undefined;
  #channels: number | undefined;
  #state: Float32Array | undefined;
  #last: { w: number; h: number } | undefined;
  #queue: Promise<unknown> = Promise.resolve();

  constructor(session: ModelSession, info: ModelInfo, opts: UpscalerOptions = {}) {
    this.#session = session;
    this.#info = info;
    this.#opts = opts;
    this.roles = rolesOf(info.file, session.inputs, session.outputs);
    const mode = this.roles.mode;
    const auto = opts.historyWeight === 'auto';
    this.#estimator = auto && mode === 'video' ? new HistoryWeightEstimator() : undefined;
    // With 'auto', W is the map's ceiling: state is kept and each frame gets its map as alpha.
    const w = opts.historyWeight === 'auto' ? (this.#estimator?.options.maxWeight ?? 0.2) : (opts.historyWeight ?? 0.2);
    if (!(w >= 0 && w < 1)) throw new ParagonError('usage', `history weight ${w} must be in [0, 1)`);
    this.#bakedAlpha = opts.bakedAlpha ?? info.historyWeight ?? 0.2;
    if (w > 0 && mode === 'tap')
      opts.onNotice?.(`${info.file}: the model exports features but takes no history input; temporal smoothing cannot reach the image`);
    else if (w > 0 && mode === 'standard')
      opts.onNotice?.(`${info.file}: standard (single-image) model; temporal smoothing off`);
    else if (w > 0 && mode === 'baked' && (auto || Math.abs(w - this.#bakedAlpha) > 1e-6))
      opts.onNotice?.(`${info.file}: history weight is fixed at ${this.#bakedAlpha} inside this model; ${auto ? 'auto' : w} ignored`);
    this.#weight = mode === 'video' ? w : mode === 'baked' && w > 0 ? this.#bakedAlpha : 0;
    this.#overlap = opts.overlap ?? (info.variant ? TILE_OVERLAP[info.variant] : 32);
    const prevDim = session.inputs.find((v) => v.name === this.roles.prev)?.shape[1];
    this.#channels = info.channels ?? (typeof prevDim === 'number' ? prevDim : undefined);
    this.stats = { frames: 0, resets: 0, nanReruns: 0, nonFinite: 0, tile: Math.max(0, opts.tile ?? 0), runs: 0 };
  }

  /** The model description (scale and channels completed by {@link probe} when the file did not say). */
  get info(): ModelInfo {
    return this.#info;
  }

  /**
   * Learn the scale (and feature channels) of a model whose file does not state them (Python
   * exports) by running one small blank frame. The feature state is untouched.
   */
  async probe(): Promise<void> {
    const n = roundUp(16, this.#info.padMultiple);
    const r = await this.#runTile(this.#session, this.roles, new Float32Array(3 * n * n), n, n, { x: 0, y: 0, w: n, h: n }, undefined);
    const channels = r.feat ? r.feat.length / (n * n) : this.#info.channels;
    this.#info = { ...this.#info, scale: r.scale, channels };
    this.#channels ??= channels;
  }

  /** The history weight in effect (0 when the model cannot carry state; the ceiling of the map with 'auto'). */
  get historyWeight(): number {
    return this.#weight;
  }

  /** True when each frame's history weight is a content-adaptive map (`historyWeight: 'auto'`). */
  get auto(): boolean {
    return this.#estimator !== undefined;
  }

  /** The device the main session runs on. */
  get device(): string {
    return this.#session.device;
  }

  /** Forget the feature state: the next frame starts from no history. */
  reset(): void {
    this.#state = undefined;
  }

  /** The clip's position (a copy): call it between frames, i.e. with no {@link process} call pending. */
  snapshot(): UpscalerSnapshot {
    const last = this.#last ? { width: this.#last.w, height: this.#last.h } : undefined;
    return { state: this.#state?.slice(), last, stats: { ...this.stats }, ...(this.#estimator ? { weights: this.#estimator.snapshot() } : {}) };
  }

  /** Continue from a {@link snapshot} (of the same model and settings), before the next frame. */
  restore(s: UpscalerSnapshot): void {
    if (s.state && s.last) {
      const pm = this.info.padMultiple;
      const c = s.state.length / (roundUp(s.last.height, pm) * roundUp(s.last.width, pm));
      if (!Number.isInteger(c) || (this.#channels !== undefined && c !== this.#channels))
        throw new ParagonError('model', `saved feature state (${s.state.length} values) does not fit a ${s.last.width}x${s.last.height} frame of this model`, { file: this.info.file });
    }
    this.#state = this.#weight > 0 ? s.state?.slice() : undefined;
    this.#last = s.last ? { w: s.last.width, h: s.last.height } : undefined;
    Object.assign(this.stats, s.stats);
    if (this.#estimator && s.weights) this.#estimator.restore(s.weights);
  }

  /**
   * Upscale one frame. `cut: true` marks the first frame of a new shot (no history). Calls are
   * queued, so frames are processed in call order even when not awaited one by one. The
   * frame's `rgb` is not modified or detached. `alpha` overrides the history weight for this
   * frame (video-mode models, when state is kept, i.e. a history weight > 0 was opened): a scalar,
   * or a per-pixel map of width × height (see src/temporal/history-weight.ts), padded and tiled
   * like the frame.
   */
  process(frame: PlanarFrame, opts: { cut?: boolean; alpha?: Float32Array | number } = {}): Promise<PlanarFrame> {
    const next = this.#queue.then(() => this.#process(frame, opts.cut === true, opts.alpha));
    this.#queue = next.catch(() => undefined);
    return next;
  }

  async #process(frame: PlanarFrame, cut: boolean, alpha?: Float32Array | number): Promise<PlanarFrame> {
    const { width: w, height: h, rgb } = frame;
    if (!(w > 0 && h > 0) || rgb.length !== 3 * w * h)
      throw new ParagonError('internal', `frame of ${w}x${h} has ${rgb.length} samples, expected ${3 * w * h}`);
    if (typeof alpha === 'number' ? !(alpha >= 0 && alpha < 1) : alpha !== undefined && alpha.length !== w * h)
      throw new ParagonError('internal', `alpha for a ${w}x${h} frame must be a weight in [0, 1) or ${w * h} of them`);
    const pm = this.info.padMultiple;
    const H = roundUp(h, pm);
    const W = roundUp(w, pm);
    const sized = this.#last === undefined || this.#last.w !== w || this.#last.h !== h;
    const fresh = this.#weight === 0 || this.#state === undefined || cut || sized;
    if (this.#weight > 0 && this.stats.frames > 0 && (cut || sized)) this.stats.resets++;
    const input = reflectPad(rgb, 3, h, w, H, W);
    // 'auto': every frame, in order, feeds the estimator, so its reference follows the model's history.
    if (this.#estimator && alpha === undefined) alpha = this.#estimator.next(frame, { cut });
    for (;;) {
      try {
        const a = alpha instanceof Float32Array ? reflectPad(alpha, 1, h, w, H, W) : alpha;
        const { out, feat, scale } = await this.#runFrame(input, H, W, fresh ? undefined : this.#state, a);
        this.#state = this.#weight > 0 ? feat : undefined;
        this.#last = { w, h };
        this.stats.frames++;
        const outW = W * scale;
        return { width: w * scale, height: h * scale, rgb: crop(out, 3, H * scale, outW, { x: 0, y: 0, w: w * scale, h: h * scale }) };
      } catch (e) {
        if (!isParagonError(e, 'resources')) throw e;
        const next = halveTile(this.stats.tile, H, W, pm);
        if (next === 0) throw new ParagonError('resources', `out of memory even with ${this.stats.tile || Math.max(H, W)}-pixel tiles`, { file: this.info.file, cause: e });
        this.#opts.onNotice?.(`out of memory at ${this.stats.tile ? `tile ${this.stats.tile}` : 'full frame'}; retrying with tile ${next}`);
        this.stats.tile = next;
        if (this.#state?.length === 0) this.#state = undefined;
      }
    }
  }

  /** Run every tile of a padded frame; `prev` is the full-frame state or undefined for no history. */
  async #runFrame(input: Float32Array, H: number, W: number, prev: Float32Array | undefined, alpha?: Float32Array | number) {
    const tiles = planTiles(H, W, this.stats.tile, this.#overlap, this.info.padMultiple);
    let out: Float32Array | undefined;
    let feat: Float32Array | undefined;
    let scale = this.info.scale;
    for (const { core, run } of tiles) {
      let r = await this.#runTile(this.#session, this.roles, input, H, W, run, prev, alpha);
      if (hasNonFinite(r.out) || (r.feat && hasNonFinite(r.feat))) {
        if (this.#opts.fp32 && this.info.precision === 'fp16') {
          this.#fp32 ??= this.#opts.fp32().then((s) => ({ session: s, roles: rolesOf(this.info.file, s.inputs, s.outputs) }));
          const f = await this.#fp32;
          r = await this.#runTile(f.session, f.roles, input, H, W, run, prev, alpha);
          this.stats.nanReruns++;
        } else {
          if (this.stats.nonFinite++ === 0) this.#opts.onNotice?.(`${this.info.file}: output holds NaN/Inf (no fp32 model to rerun with); shown as black`);
        }
      }
      scale = r.scale;
      // One tile is the whole frame: its outputs are the frame's, no copies (tens of MB a frame).
      if (tiles.length === 1) return { out: r.out, feat: this.#weight > 0 ? r.feat : undefined, scale };
      out ??= new Float32Array(3 * H * scale * W * scale);
      const at: Rect = { x: (core.x - run.x) * scale, y: (core.y - run.y) * scale, w: core.w * scale, h: core.h * scale };
      blit(r.out, run.h * scale, run.w * scale, at, out, H * scale, W * scale, core.x * scale, core.y * scale, 3);
      if (r.feat && this.#weight > 0) {
        const c = r.feat.length / (run.w * run.h);
        feat ??= new Float32Array(c * H * W);
        const fAt: Rect = { x: core.x - run.x, y: core.y - run.y, w: core.w, h: core.h };
        blit(r.feat, run.h, run.w, fAt, feat, H, W, core.x, core.y, c);
      }
    }
    return { out: out!, feat, scale };
  }

  /** Run one region through a session in the model's drive mode. */
  async #runTile(session: ModelSession, roles: Roles, input: Float32Array, H: number, W: number, run: Rect, prev: Float32Array | undefined, alpha?: Float32Array | number) {
    const x = own(crop(input, 3, H, W, run), input);
    const img = { data: x, dims: [1, 3, run.h, run.w] };
    const c = this.#channels;
    const zeros = () => {
      if (c === undefined) throw new ParagonError('model', 'cannot tell the feature channel count of the model', { file: this.info.file });
      return { data: new Float32Array(c * run.h * run.w), dims: [1, c, run.h, run.w] };
    };
    // A whole-frame run hands the state itself to the worker (transferred, not copied): this frame's
    // features replace it. Not when an fp32 rerun may need it again; an out-of-memory retry
    // finds it gone and starts the frame afresh (see #process).
    const handOver = run.w === W && run.h === H && !(this.#opts.fp32 && this.info.precision === 'fp16');
    const history = () => (prev ? { data: handOver ? prev : own(crop(prev, c!, H, W, run), prev), dims: [1, c!, run.h, run.w] } : zeros());
    let res: Record<string, WireTensor>;
    switch (roles.mode) {
      case 'standard':
      case 'tap':
        res = await this.#infer(session, roles, { [roles.input]: img });
        break;
      case 'video': {
        // A per-pixel map is sliced like the frame; the graph's alpha broadcasts [1,1,h,w] or [1,1,1,1].
        const map = prev && alpha instanceof Float32Array ? own(crop(alpha, 1, H, W, run), alpha) : undefined;
        const a = prev ? (typeof alpha === 'number' ? alpha : this.#weight) : 0;
        res = await this.#infer(session, roles, {
          [roles.input]: img,
          [roles.prev!]: prev ? history() : zeros(),
          [roles.alpha!]: map ? { data: map, dims: [1, 1, run.h, run.w] } : { data: Float32Array.of(a), dims: [1, 1, 1, 1] },
        });
        break;
      }
      case 'baked': {
        if (prev) {
          res = await this.#infer(session, roles, { [roles.input]: img, [roles.prev!]: history() });
          break;
        }
        // Exact reset through a fixed alpha: with zero history the features are (1-α)·conv_in(x);
        // feeding back f/(1-α) = conv_in(x) as history gives (1-α)·conv_in + α·conv_in = conv_in.
        const first = await this.#infer(session, roles, { [roles.input]: { data: x.slice(), dims: img.dims }, [roles.prev!]: zeros() });
        const f = float32Of(first[roles.feature!]!);
        const k = 1 / (1 - this.#bakedAlpha);
        const back = new Float32Array(f.length);
        for (let i = 0; i < f.length; i++) back[i] = f[i]! * k;
        res = await this.#infer(session, roles, { [roles.input]: img, [roles.prev!]: { data: back, dims: [1, back.length / (run.h * run.w), run.h, run.w] } });
        break;
      }
    }
    const o = res[roles.output];
    if (!o) throw new ParagonError('model', `model returned no ${roles.output}`, { file: this.info.file });
    const scale = o.dims[2]! / run.h;
    if (!Number.isInteger(scale) || o.dims[1] !== 3 || o.dims[3] !== run.w * scale)
      throw new ParagonError('model', `output ${roles.output} has shape [${o.dims}] for a ${run.w}x${run.h} input`, { file: this.info.file });
    const f = roles.feature ? res[roles.feature] : undefined;
    return { out: float32Of(o), feat: f ? float32Of(f) : undefined, scale };
  }

  #infer(session: ModelSession, roles: Roles, feeds: Feeds): Promise<Record<string, WireTensor>> {
    const wired: Record<string, WireTensor> = {};
    for (const [name, t] of Object.entries(feeds)) wired[name] = wire(t.data, t.dims, roles.types[name]);
    this.stats.runs++;
    return session.run(wired);
  }

  /** Release the sessions (the fp32 one too, when it was opened). */
  async close(): Promise<void> {
    await this.#queue;
    await this.#session.close();
    if (this.#fp32) await (await this.#fp32.catch(() => undefined))?.session.close();
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.close();
  }
}

/** `a` itself when it is a fresh crop (safe to transfer to the worker), else a copy of the borrowed source. */
const own = (a: Float32Array, src: Float32Array): Float32Array => (a === src ? a.slice() : a);
