/**
 * When the video-mode feature state may be used, as pure rules shared by every frame engine (the
 * Node TemporalUpscaler and the browser player's GPU-resident one), so both reset at the same
 * frames. Nothing here touches tensors: the caller owns the state and asks, per frame, which
 * history weight to feed.
 *
 * The rules: the history weight W is fed only when there is state from the previous frame of the
 * same shot and size. The first frame, the first frame after a scene cut, after a seek and after a
 * change of frame size get weight 0 (the frame stands alone, exactly as in standard mode). W = 0
 * keeps no state at all.
 */
import { ParagonError } from '../errors.ts';

/** Why a frame starts from no history. */
export type ResetReason = 'first' | 'cut' | 'seek' | 'size' | 'off';

/** What a frame brings that may break the history. */
export interface FrameEvent {
  readonly width: number;
  readonly height: number;
  /** The frame starts a new shot (scene-cut detector). */
  readonly cut?: boolean;
  /** The frame follows a seek (playback jumped). */
  readonly seek?: boolean;
}

/** The decision for one frame. */
export interface HistoryDecision {
  /** History weight to feed for this frame (0 = no history). */
  readonly alpha: number;
  /** Why the history is not used, or undefined when it is. */
  readonly reset: ResetReason | undefined;
  /** Whether to keep this frame's features as the next frame's state. */
  readonly keep: boolean;
}

/** Check a history weight: a number in [0, 1). */
export function checkHistoryWeight(w: number): number {
  if (!(w >= 0 && w < 1)) throw new ParagonError('usage', `history weight ${w} must be in [0, 1)`);
  return w;
}

/**
 * The rule itself: the history weight for a frame given the weight in force, whether state from
 * the previous frame exists, and the frame's event (size compared with `last`).
 */
export function decideHistory(
  weight: number,
  hasState: boolean,
  last: { readonly width: number; readonly height: number } | undefined,
  ev: FrameEvent,
): HistoryDecision {
  const keep = weight > 0;
  let reset: ResetReason | undefined;
  if (weight === 0) reset = 'off';
  else if (!hasState || last === undefined) reset = 'first';
  else if (last.width !== ev.width || last.height !== ev.height) reset = 'size';
  else if (ev.seek === true) reset = 'seek';
  else if (ev.cut === true) reset = 'cut';
  return { alpha: reset === undefined ? weight : 0, reset, keep };
}

/**
 * Book-keeping around {@link decideHistory} for a frame engine: the weight in force, the size of
 * the last frame, and whether state is held. Call {@link next} before running a frame and
 * {@link done} after it succeeded.
 */
export class HistoryRules {
  #weight: number;
  #last: { width: number; height: number } | undefined;
  #hasState = false;
  #seek = false;
  /** Frames that started from no history after a cut, seek or size change (not the first frame). */
  resets = 0;

  constructor(weight: number) {
    this.#weight = checkHistoryWeight(weight);
  }

  /** The history weight in force. */
  get weight(): number {
    return this.#weight;
  }

  /** Change the weight; it applies from the next frame (0 drops the state). */
  set weight(w: number) {
    this.#weight = checkHistoryWeight(w);
    if (w === 0) this.#hasState = false;
  }

  /** Forget the state (reset): the next frame starts from no history. */
  forget(): void {
    this.#hasState = false;
  }

  /** Mark a seek: the next frame starts from no history and counts as a seek reset. */
  seeked(): void {
    this.#seek = true;
  }

  /** The decision for the next frame. */
  next(ev: FrameEvent): HistoryDecision {
    const d = decideHistory(this.#weight, this.#hasState, this.#last, { ...ev, seek: ev.seek === true || this.#seek });
    if (d.reset !== undefined && d.reset !== 'off' && d.reset !== 'first') this.resets++;
    return d;
  }

  /** Record that the frame ran: its size, and whether its features are now the state. */
  done(ev: FrameEvent, d: HistoryDecision): void {
    this.#last = { width: ev.width, height: ev.height };
    this.#hasState = d.keep;
    this.#seek = false;
  }
}
