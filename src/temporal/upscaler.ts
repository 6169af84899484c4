/**
 * The frame engine: pads, tiles and runs frames through a session, carrying the video-mode
 * feature state from frame to frame. Independent of ffmpeg: the video pipeline feeds decoded
 * frames, the image pipeline single images (history weight 0).
 *
 * Two ways through. Whole frames of our own graphs are pipelined: each frame goes to the worker
 * as soon as it is given, the feature state staying in the worker (runtime/protocol.ts `Carry`),
 * so the model never waits for this thread's padding, checks and copies. Tiles, the Python video
 * exports and reruns after a failure (out of memory, NaN of an fp16 model) go one at a time,
 * the state held here (drive.ts).
 *
 * History weight W follows the reference convention (alpha = weight of the history, 0 = the
 * current frame only). On the first frame, after a cut and after a size change the weight is 0
 * for that frame: the reference scripts instead blend a zero tensor, darkening that frame's
 * features by W.
 */
import { ParagonError, isParagonError } from '../errors.ts';
import type { ModelSession } from '../runtime/session.ts';
import type { FeedTensor, WireTensor } from '../runtime/protocol.ts';
import { float32Of, hasNonFinite, wire } from '../runtime/tensor.ts';
import type { ModelInfo } from '../runtime/model-info.ts';
import { blit, crop, cropRows, packedFromPlanar, reflectPad, roundUp, type Rect } from './planes.ts';
import { rolesOf, type Roles } from './roles.ts';
import { TILE_OVERLAP, halveTile, planTiles } from './tiles.ts';
import { HistoryWeightEstimator } from './history-weight.ts';
import { NO_SHIFT, isStill, type Shift } from './motion.ts';
import { warpHeadFeeds, warpShift } from './warp.ts';
import { hasWarpHead } from '../graph/warp-head.ts';
import { own, runTile, type Drive, type Feeds } from './drive.ts';
import type { FrameOptions, PackedFrame, PlanarFrame, UpscalerOptions, UpscalerSnapshot, UpscalerStats } from './upscaler-types.ts';
import { FINITE, PACKED_16, PACKED_8 } from '../graph/pack-head.ts';

export type { FrameOptions, PackedFrame, PlanarFrame, UpscalerOptions, UpscalerSnapshot, UpscalerStats } from './upscaler-types.ts';

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
  /** Depths the session's packing head gives (graph/pack-head.ts); others are packed here. */
  readonly #packHead: ReadonlySet<8 | 16>;
  /** The session warps the history it is fed (graph/warp-head.ts): 'auto' compensates motion. */
  readonly #warpHead: boolean;
  #info: ModelInfo;
  #fp32: Promise<{ session: ModelSession; roles: Roles }> | undefined;
  #channels: number | undefined;
  /** Feature state held here (slow path, restore); undefined while the worker holds it or none is kept. */
  #state: Float32Array | undefined;
  /** The worker holds the state (pipelined frames keep it there; see runtime/protocol.ts `Carry`). */
  #inWorker = false;
  #last: { w: number; h: number } | undefined;
  #queue: Promise<unknown> = Promise.resolve();
  /** Frames handed to {@link process} and not yet finished. */
  #pending = 0;
  /** Every pending frame was pipelined and none has failed: the next may be pipelined too. */
  #chainOk = true;
  /** Frames begun (pipelined or not), for counting resets. */
  #begun = 0;
  /** {@link reset} was called: the next frame begins without history. */
  #forget = false;

  constructor(session: ModelSession, info: ModelInfo, opts: UpscalerOptions = {}) {
    this.#session = session;
    this.#info = info;
    this.#opts = opts;
    this.roles = rolesOf(info.file, session.inputs, session.outputs);
    const mode = this.roles.mode;
    const auto = opts.historyWeight === 'auto';
    this.#warpHead = mode === 'video' && hasWarpHead(session.inputs);
    // Motion is compensated where the state can be warped: the head in the graph (pipelined
    // frames) and warpShift here (frames that go one at a time).
    this.#estimator = auto && mode === 'video' ? new HistoryWeightEstimator({ ...opts.weightOptions, motion: this.#warpHead && opts.weightOptions?.motion !== false }) : undefined;
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
    const names = new Set(session.outputs.map((o) => o.name));
    this.#packHead = new Set(([[8, PACKED_8], [16, PACKED_16]] as const).filter(([, n]) => names.has(n)).map(([d]) => d));
    const prevDim = session.inputs.find((v) => v.name === this.roles.prev)?.shape[1];
    // The history input's own channel count first: the pixel-history head carries 3, not the features' C.
    this.#channels = typeof prevDim === 'number' ? prevDim : info.channels;
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
    const r = await runTile(this.#drive(this.#session, this.roles), new Float32Array(3 * n * n), n, n, { x: 0, y: 0, w: n, h: n }, undefined);
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

  /** Ids of the threads that run the model (see runtime/priority.ts). */
  get threads(): readonly number[] {
    return this.#session.threads;
  }

  /** The device the main session runs on. */
  get device(): string {
    return this.#session.device;
  }

  /** Forget the feature state: the next frame starts from no history. */
  reset(): void {
    // A flag the next frame reads, so frames still in flight cannot bring the old state back.
    this.#forget = true;
  }

  /** The clip's position (a copy): call it between frames, i.e. with no {@link process} call pending. */
  async snapshot(): Promise<UpscalerSnapshot> {
    await this.#queue;
    const last = this.#last ? { width: this.#last.w, height: this.#last.h } : undefined;
    const held = this.#inWorker ? await this.#session.take(true) : undefined;
    const state = held ? float32Of(held) : this.#state?.slice();
    return { state, last, stats: { ...this.stats }, ...(this.#estimator ? { weights: this.#estimator.snapshot() } : {}) };
  }

  /**
   * Whether a {@link snapshot}'s carried state has the shape this engine carries (its channel count
   * on the saved frame's padded size): not when it was written by an engine that carried
   * something else, e.g. a checkpoint of an older version whose auto carried 16 channels of
   * features where this one carries 3 of pixels.
   */
  fits(s: UpscalerSnapshot): boolean {
    if (!s.state || !s.last) return true;
    const pm = this.info.padMultiple;
    const c = s.state.length / (roundUp(s.last.height, pm) * roundUp(s.last.width, pm));
    return Number.isInteger(c) && (this.#channels === undefined || c === this.#channels);
  }

  /** Continue from a {@link snapshot} (of the same model and settings), before the next frame. */
  restore(s: UpscalerSnapshot): void {
    if (!this.fits(s))
      throw new ParagonError('model', `saved feature state (${s.state!.length} values) does not fit a ${s.last!.width}x${s.last!.height} frame of this model`, { file: this.info.file });
    this.#state = this.#weight > 0 ? s.state?.slice() : undefined;
    this.#inWorker = false;
    this.#forget = false;
    this.#last = s.last ? { w: s.last.width, h: s.last.height } : undefined;
    Object.assign(this.stats, s.stats);
    if (this.#estimator && s.weights) this.#estimator.restore(s.weights);
  }

  /**
   * Upscale one frame. `cut: true` marks the first frame of a new shot (no history). Calls are
   * queued, so frames are processed in call order even when not awaited one by one, and the next
   * frame is handed to the worker while this one still runs. The frame's `rgb` is not modified or
   * detached, unless `take: true` hands it over (it may then be detached; see `recycle` in the
   * options for getting it back). `alpha` overrides the history weight for this
   * frame (video-mode models, when state is kept, i.e. a history weight > 0 was opened): a scalar,
   * or a per-pixel map of width × height (see src/temporal/history-weight.ts), padded and tiled
   * like the frame.
   */
  process(frame: PlanarFrame, opts: FrameOptions = {}): Promise<PlanarFrame> {
    return this.#enqueue(() => (this.#pipelinable() ? this.#pipelined(frame, opts, undefined) : this.#queued(frame, opts.cut === true, opts.alpha)));
  }

  /**
   * {@link process}, with the result as packed 8- or 16-bit RGB rows (what an encoder takes).
   * When the session carries the packing head (`packedOutput` in open.ts; graph/pack-head.ts)
   * the graph packs the frame itself and no float image reaches this thread; otherwise, or for
   * frames that go one at a time, it is packed here, to the same bytes.
   */
  processPacked(frame: PlanarFrame, bitDepth: 8 | 16, opts: FrameOptions = {}): Promise<PackedFrame> {
    return this.#enqueue(() =>
      this.#pipelinable()
        ? this.#pipelined(frame, opts, bitDepth)
        : this.#queued(frame, opts.cut === true, opts.alpha).then((o) => ({ width: o.width, height: o.height, data: packedFromPlanar(o.rgb, o.width, o.height, bitDepth) })),
    );
  }

  #enqueue<T>(start: () => Promise<T>): Promise<T> {
    let next: Promise<T>;
    try {
      next = start();
    } catch (e) {
      return Promise.reject(e);
    }
    this.#pending++;
    this.#queue = next.then(
      () => this.#settled(),
      () => this.#settled(),
    );
    return next;
  }

  #settled(): void {
    if (--this.#pending === 0) this.#chainOk = true;
  }

  /**
   * Whether the next frame can be sent to the worker at once, before the frames ahead of it have
   * finished: one whole-frame run per frame, in a mode whose state can stay in the worker, and
   * nothing ahead of it that went (or will go) the one-at-a-time way.
   */
  #pipelinable(): boolean {
    const mode = this.roles.mode;
    return this.stats.tile === 0 && mode !== 'baked' && (this.#pending === 0 || this.#chainOk);
  }

  /** The one-at-a-time way: tiles, Python video exports, and recovery after a failed pipelined frame. */
  #queued(frame: PlanarFrame, cut: boolean, alpha: Float32Array | number | undefined): Promise<PlanarFrame> {
    this.#chainOk = false;
    return this.#queue.then(async () => {
      const f = this.#begin(frame, cut, alpha);
      if (!f.fresh && this.#inWorker) this.#state = await this.#take();
      this.#inWorker = false;
      return this.#whole(frame, f, f.fresh ? undefined : this.#state);
    });
  }

  /** Checks and decisions every frame starts with; feeds the 'auto' estimator (in frame order). */
  #begin(frame: PlanarFrame, cut: boolean, alpha: Float32Array | number | undefined) {
    const { width: w, height: h, rgb } = frame;
    if (!(w > 0 && h > 0) || rgb.length !== 3 * w * h)
      throw new ParagonError('internal', `frame of ${w}x${h} has ${rgb.length} samples, expected ${3 * w * h}`);
    if (typeof alpha === 'number' ? !(alpha >= 0 && alpha < 1) : alpha !== undefined && alpha.length !== w * h)
      throw new ParagonError('internal', `alpha for a ${w}x${h} frame must be a weight in [0, 1) or ${w * h} of them`);
    const pm = this.info.padMultiple;
    const sized = this.#last === undefined || this.#last.w !== w || this.#last.h !== h;
    const fresh = this.#weight === 0 || (this.#state === undefined && !this.#inWorker) || cut || sized || this.#forget;
    this.#forget = false;
    if (this.#weight > 0 && this.#begun > 0 && (cut || sized)) this.stats.resets++;
    this.#begun++;
    this.#last = { w, h };
    // 'auto': every frame, in order, feeds the estimator, so its reference follows the model's history.
    let shift: Shift = NO_SHIFT;
    if (this.#estimator && alpha === undefined) {
      alpha = this.#estimator.next(frame, { cut });
      shift = this.#estimator.shift;
    }
    return { H: roundUp(h, pm), W: roundUp(w, pm), fresh, alpha, shift: fresh ? NO_SHIFT : shift };
  }

  /**
   * Send the frame to the worker now, the state staying there (or none, for a model that keeps
   * none), so the worker goes from one frame to the next without waiting for this thread. The
   * result is finished in order. A failed run (out of memory, NaN/Inf of an fp16 model with an fp32
   * fallback, or a run queued behind such a one) takes the one-at-a-time way from the state before it.
   */
  #pipelined(frame: PlanarFrame, opts: FrameOptions, pack: undefined): Promise<PlanarFrame>;
  #pipelined(frame: PlanarFrame, opts: FrameOptions, pack: 8 | 16): Promise<PackedFrame>;
  #pipelined(frame: PlanarFrame, opts: FrameOptions, pack: 8 | 16 | undefined): Promise<PlanarFrame | PackedFrame> {
    const f = this.#begin(frame, opts.cut === true, opts.alpha);
    const { H, W } = f;
    const { width: w, height: h } = frame;
    const roles = this.roles;
    const keep = roles.mode === 'video' && this.#weight > 0;
    const guard = this.#opts.fp32 !== undefined && this.info.precision === 'fp16';
    // A frame handed over (`take`) goes to the worker as it is and comes back with the reply.
    const lent = opts.take === true && H === h && W === w && roles.types[roles.input] !== 'float16';
    const x = reflectPad(frame.rgb, 3, h, w, H, W);
    const feeds: Feeds = { [roles.input]: { data: lent ? x : own(x, frame.rgb), dims: [1, 3, H, W] } };
    // What this frame's history is, should it have to be rerun the slow way.
    let prev: Float32Array | 'worker' | undefined;
    if (roles.mode === 'video') {
      const a = f.alpha;
      const map = !f.fresh && a instanceof Float32Array ? own(reflectPad(a, 1, h, w, H, W), a) : undefined;
      feeds[roles.alpha!] = map ? { data: map, dims: [1, 1, H, W] } : { data: Float32Array.of(f.fresh ? 0 : typeof a === 'number' ? a : this.#weight), dims: [1, 1, 1, 1] };
      if (f.fresh) feeds[roles.prev!] = this.#zeros(H, W);
      else if (this.#pending === 0 && !this.#inWorker) {
        prev = this.#state!;
        feeds[roles.prev!] = { data: prev.slice(), dims: [1, prev.length / (H * W), H, W] };
      } else prev = 'worker';
    }
    // The head moves the history with the camera (the identity when it did not move, or for no history).
    const wired: Record<string, FeedTensor> = this.#warpHead ? warpHeadFeeds(this.#channelsOr(), H, W, f.shift) : {};
    for (const [name, t] of Object.entries(feeds)) wired[name] = wire(t.data, t.dims, roles.types[name]);
    this.stats.runs++;
    // Packed by the graph: fetch that and the finiteness flag (and the state to keep), no float image.
    const head = pack !== undefined && this.#packHead.has(pack) ? (pack === 16 ? PACKED_16 : PACKED_8) : undefined;
    const kept = keep ? [roles.feature!] : [];
    // Without it (or at a depth it lacks), the float image, and not the head's outputs.
    const fetch = head ? [head, FINITE, ...kept] : this.#packHead.size > 0 ? [roles.output, ...kept] : undefined;
    const into = head && opts.into ? { [head]: opts.into } : undefined;
    const reply = this.#session.runCarried(wired, keep ? { input: roles.prev!, output: roles.feature!, guard } : undefined, fetch, into);
    reply.catch(() => undefined);
    if (keep) {
      this.#state = undefined;
      this.#inWorker = true;
    }
    return this.#queue.then(async () => {
      const r = await reply;
      const back = r.inputs?.[roles.input]?.data;
      // The lent frame, back from the worker (for a rerun, then for the caller to reuse).
      const mine = lent && back instanceof Float32Array ? { ...frame, rgb: back } : frame;
      const o = r.ok ? r.outputs[head ?? roles.output] : undefined;
      const finite = (): boolean => {
        if (head) return Number.isFinite(r.ok ? (r.outputs[FINITE]?.data[0] ?? NaN) : NaN);
        return !hasNonFinite(float32Of(o as WireTensor));
      };
      const bad = !r.ok || r.nonFinite || o === undefined || (guard && !finite());
      let result: PlanarFrame | PackedFrame;
      if (!bad) {
        this.stats.frames++;
        if (keep) this.#inWorker = true;
        if (!guard && !finite() && this.stats.nonFinite++ === 0) this.#opts.onNotice?.(`${this.info.file}: output holds NaN/Inf (no fp32 model to rerun with); shown as black`);
        if (head) {
          const scale = o.dims[1]! / H;
          if (!Number.isInteger(scale) || o.dims[2] !== W * scale || o.dims[3] !== 3)
            throw new ParagonError('model', `packed output has shape [${o.dims}] for a ${W}x${H} input`, { file: this.info.file });
          result = { width: w * scale, height: h * scale, data: cropRows(o.data as Uint8Array | Uint16Array, H * scale, W * scale, h * scale, w * scale) };
        } else {
          const out = this.#checkOutput(o as WireTensor, W, H);
          const p = this.#cropOut(out.out, w, h, H, W, out.scale);
          result = pack === undefined ? p : { width: p.width, height: p.height, data: packedFromPlanar(p.rgb, p.width, p.height, pack) };
        }
      } else {
        // Rerun the slow way: with the state the worker kept from the frame before (out of memory,
        // NaN), or the one the slow way left here (a frame queued behind a failed one).
        this.#chainOk = false;
        const broken = !r.ok && r.broken;
        const history = f.fresh ? undefined : prev === 'worker' ? (broken ? this.#state : await this.#take()) : prev;
        this.#inWorker = false;
        const p = await this.#whole(mine, f, history);
        result = pack === undefined ? p : { width: p.width, height: p.height, data: packedFromPlanar(p.rgb, p.width, p.height, pack) };
      }
      if (mine !== frame) this.#opts.recycle?.(mine.rgb);
      return result;
    });
  }

  /** The state the worker keeps, moved here (as float32). */
  async #take(): Promise<Float32Array | undefined> {
    const t = await this.#session.take(false);
    return t ? float32Of(t) : undefined;
  }

  /** The feature channel count (known whenever the warp head is there: it needs it). */
  #channelsOr(): number {
    const c = this.#channels;
    if (c === undefined) throw new ParagonError('model', 'cannot tell the feature channel count of the model', { file: this.info.file });
    return c;
  }

  /** Zero history for a fresh frame. */
  #zeros(H: number, W: number): { data: Float32Array; dims: number[] } {
    const c = this.#channels;
    if (c === undefined) throw new ParagonError('model', 'cannot tell the feature channel count of the model', { file: this.info.file });
    return { data: new Float32Array(c * H * W), dims: [1, c, H, W] };
  }

  /** The image output of a whole-frame run, checked against the frame. */
  #checkOutput(o: WireTensor | undefined, W: number, H: number): { out: Float32Array; scale: number } {
    if (!o) throw new ParagonError('model', `model returned no ${this.roles.output}`, { file: this.info.file });
    const scale = o.dims[2]! / H;
    if (!Number.isInteger(scale) || o.dims[1] !== 3 || o.dims[3] !== W * scale)
      throw new ParagonError('model', `output ${this.roles.output} has shape [${o.dims}] for a ${W}x${H} input`, { file: this.info.file });
    return { out: float32Of(o), scale };
  }

  /** The frame's part of a padded output. */
  #cropOut(out: Float32Array, w: number, h: number, H: number, W: number, scale: number): PlanarFrame {
    return { width: w * scale, height: h * scale, rgb: crop(out, 3, H * scale, W * scale, { x: 0, y: 0, w: w * scale, h: h * scale }) };
  }

  /**
   * One frame the one-at-a-time way: every tile through the session, the state kept here, out of
   * memory answered by halving the tile and trying again.
   */
  async #whole(frame: PlanarFrame, f: { H: number; W: number; alpha: Float32Array | number | undefined; shift: Shift }, history: Float32Array | undefined): Promise<PlanarFrame> {
    const { width: w, height: h, rgb } = frame;
    const { H, W, alpha } = f;
    const input = reflectPad(rgb, 3, h, w, H, W);
    // The full-frame state moved with the camera here, as the head would in the graph: tiles
    // need history from beyond their own edges. The head then gets the identity (drive.ts).
    if (history && history.length > 0 && !isStill(f.shift)) history = warpShift(history, history.length / (H * W), H, W, f.shift);
    for (;;) {
      try {
        const a = alpha instanceof Float32Array ? reflectPad(alpha, 1, h, w, H, W) : alpha;
        const { out, feat, scale } = await this.#runFrame(input, H, W, history, a);
        this.#state = this.#weight > 0 ? feat : undefined;
        this.stats.frames++;
        return this.#cropOut(out, w, h, H, W, scale);
      } catch (e) {
        if (!isParagonError(e, 'resources')) throw e;
        const next = halveTile(this.stats.tile, H, W, this.info.padMultiple);
        if (next === 0) throw new ParagonError('resources', `out of memory even with ${this.stats.tile || Math.max(H, W)}-pixel tiles`, { file: this.info.file, cause: e });
        this.#opts.onNotice?.(`out of memory at ${this.stats.tile ? `tile ${this.stats.tile}` : 'full frame'}; retrying with tile ${next}`);
        this.stats.tile = next;
        // A whole-frame run was handed the state itself (transferred): the frame starts afresh.
        if (history?.length === 0) history = undefined;
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
      let r = await runTile(this.#drive(this.#session, this.roles), input, H, W, run, prev, alpha);
      if (hasNonFinite(r.out) || (r.feat && hasNonFinite(r.feat))) {
        if (this.#opts.fp32 && this.info.precision === 'fp16') {
          this.#fp32 ??= this.#opts.fp32().then((s) => ({ session: s, roles: rolesOf(this.info.file, s.inputs, s.outputs) }));
          const f = await this.#fp32;
          r = await runTile(this.#drive(f.session, f.roles), input, H, W, run, prev, alpha);
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

  /** What {@link runTile} needs to drive `session`. */
  #drive(session: ModelSession, roles: Roles): Drive {
    return {
      session,
      roles,
      file: this.info.file,
      channels: this.#channels,
      weight: this.#weight,
      bakedAlpha: this.#bakedAlpha,
      handOver: !(this.#opts.fp32 && this.info.precision === 'fp16'),
      warp: this.#warpHead && session === this.#session,
      counted: () => void this.stats.runs++,
    };
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

