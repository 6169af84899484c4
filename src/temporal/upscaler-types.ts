/**
 * The frame engine's public types: frames, options, counters and the snapshot a resumed run
 * continues from (see upscaler.ts).
 */
import type { ModelSession } from '../runtime/session.ts';
import type { HistoryWeightOptions, HistoryWeightSnapshot } from './history-weight.ts';

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
   * the state moved with the camera (src/temporal/motion.ts, by the graph's warp head when the
   * session has it) and a per-pixel map from how much the low-resolution frame changed against it
   * (src/temporal/history-weight.ts), for every frame that gets no explicit `alpha`. openUpscaler
   * gives 'auto' the standard graph with the pixel-history head (graph/pixel-history.ts), so the
   * state is the input's pixels; a video graph given as a file carries its features.
   */
  readonly historyWeight?: number | 'auto';
  /**
   * Tuning of the estimator behind `historyWeight: 'auto'` (defaults: those measured in
   * docs/temporal.md; for studies and benchmarks). `motion` is the engine's to decide.
   */
  readonly weightOptions?: HistoryWeightOptions;
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
  /**
   * Receives the planes of frames handed over with `process(frame, { take: true })` once the
   * engine is done with them, so the caller can decode the next frame into them (no fresh
   * megabytes per frame). A frame it does not get back was garbage-collected as usual.
   */
  readonly recycle?: (rgb: Float32Array) => void;
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


/** Packed RGB rows of a frame: 8-bit (rgb24) or 16-bit (rgb48) samples. */
export interface PackedFrame {
  readonly width: number;
  readonly height: number;
  readonly data: Uint8Array | Uint16Array;
}

/** Per-frame options of `process`/`processPacked`. */
export interface FrameOptions {
  /** The first frame of a new shot: no history. */
  readonly cut?: boolean;
  /** History weight for this frame: a scalar, or a per-pixel map of width × height. */
  readonly alpha?: Float32Array | number;
  /** Hand the frame's planes over: they may be detached, and come back through `recycle`. */
  readonly take?: boolean;
  /**
   * processPacked: a buffer for the packed frame, used when the graph packs it and the sizes
   * match (the result's `data` is then a view of it), so a clip's frames need no new megabytes
   * each. Lent: the caller must not use it again (it may be detached).
   */
  readonly into?: ArrayBuffer;
}
