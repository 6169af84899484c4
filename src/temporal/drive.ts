/**
 * One region of a frame through a session, the way the model's inputs ask to be driven (see
 * roles.ts): the image alone, image + history + weight (our video mode), or image + history with
 * the weight baked in (the Python video export, whose reset needs two runs). The frame engine's
 * one-at-a-time path (tiles, Python exports, reruns) goes through here.
 */
import { ParagonError } from '../errors.ts';
import type { ModelSession } from '../runtime/session.ts';
import type { FeedTensor, WireTensor } from '../runtime/protocol.ts';
import { float32Of, wire } from '../runtime/tensor.ts';
import { crop, type Rect } from './planes.ts';
import type { Roles } from './roles.ts';
import { NO_SHIFT } from './motion.ts';
import { warpHeadFeeds } from './warp.ts';

/** What a run needs to know of its engine. */
export interface Drive {
  readonly session: ModelSession;
  readonly roles: Roles;
  /** The model file, for messages. */
  readonly file: string;
  /** Feature channels (for zero history), when known. */
  readonly channels: number | undefined;
  /** History weight in effect (video mode's alpha when no map is given). */
  readonly weight: number;
  /** History weight baked into a Python video export. */
  readonly bakedAlpha: number;
  /** A whole-frame run may hand the history itself to the worker (no fp32 rerun will need it). */
  readonly handOver: boolean;
  /**
   * The session has the warp head (graph/warp-head.ts): every video run feeds it, here the
   * identity, the history being warped already (the frame engine warps the full-frame state
   * before it is tiled).
   */
  readonly warp: boolean;
  /** Called once per model run (statistics). */
  readonly counted: () => void;
}

export type Feeds = Record<string, { data: Float32Array; dims: number[] }>;

/** `a` itself when it is a fresh crop (safe to transfer to the worker), else a copy of the borrowed source. */
export const own = (a: Float32Array, src: Float32Array): Float32Array => (a === src ? a.slice() : a);

/** Run one region of a padded frame through a session in the model's drive mode. */
export async function runTile(d: Drive, input: Float32Array, H: number, W: number, run: Rect, prev: Float32Array | undefined, alpha?: Float32Array | number): Promise<{ out: Float32Array; feat: Float32Array | undefined; scale: number }> {
  const { roles } = d;
  const x = own(crop(input, 3, H, W, run), input);
  const img = { data: x, dims: [1, 3, run.h, run.w] };
  const c = d.channels;
  const zeros = () => {
    if (c === undefined) throw new ParagonError('model', 'cannot tell the feature channel count of the model', { file: d.file });
    return { data: new Float32Array(c * run.h * run.w), dims: [1, c, run.h, run.w] };
  };
  // A whole-frame run hands the state itself to the worker (transferred, not copied): this frame's
  // features replace it. Not when an fp32 rerun may need it again; an out-of-memory retry
  // finds it gone and starts the frame afresh (see #process).
  const handOver = run.w === W && run.h === H && d.handOver;
  const history = () => (prev ? { data: handOver ? prev : own(crop(prev, c!, H, W, run), prev), dims: [1, c!, run.h, run.w] } : zeros());
  let res: Record<string, WireTensor>;
  switch (roles.mode) {
    case 'standard':
    case 'tap':
      res = await infer(d, { [roles.input]: img });
      break;
    case 'video': {
      // A per-pixel map is sliced like the frame; the graph's alpha broadcasts [1,1,h,w] or [1,1,1,1].
      const map = prev && alpha instanceof Float32Array ? own(crop(alpha, 1, H, W, run), alpha) : undefined;
      const a = prev ? (typeof alpha === 'number' ? alpha : d.weight) : 0;
      res = await infer(
        d,
        {
          [roles.input]: img,
          [roles.prev!]: prev ? history() : zeros(),
          [roles.alpha!]: map ? { data: map, dims: [1, 1, run.h, run.w] } : { data: Float32Array.of(a), dims: [1, 1, 1, 1] },
        },
        d.warp && c !== undefined ? warpHeadFeeds(c, run.h, run.w, NO_SHIFT) : {},
      );
      break;
    }
    case 'baked': {
      if (prev) {
        res = await infer(d, { [roles.input]: img, [roles.prev!]: history() });
        break;
      }
      // Exact reset through a fixed alpha: with zero history the features are (1-α)·conv_in(x);
      // feeding back f/(1-α) = conv_in(x) as history gives (1-α)·conv_in + α·conv_in = conv_in.
      const first = await infer(d, { [roles.input]: { data: x.slice(), dims: img.dims }, [roles.prev!]: zeros() });
      const f = float32Of(first[roles.feature!]!);
      const k = 1 / (1 - d.bakedAlpha);
      const back = new Float32Array(f.length);
      for (let i = 0; i < f.length; i++) back[i] = f[i]! * k;
      res = await infer(d, { [roles.input]: img, [roles.prev!]: { data: back, dims: [1, back.length / (run.h * run.w), run.h, run.w] } });
      break;
    }
  }
  const o = res[roles.output];
  if (!o) throw new ParagonError('model', `model returned no ${roles.output}`, { file: d.file });
  const scale = o.dims[2]! / run.h;
  if (!Number.isInteger(scale) || o.dims[1] !== 3 || o.dims[3] !== run.w * scale)
    throw new ParagonError('model', `output ${roles.output} has shape [${o.dims}] for a ${run.w}x${run.h} input`, { file: d.file });
  const f = roles.feature ? res[roles.feature] : undefined;
  return { out: float32Of(o), feat: f ? float32Of(f) : undefined, scale };
}

function infer(d: Drive, feeds: Feeds, extra: Record<string, FeedTensor> = {}): Promise<Record<string, WireTensor>> {
  const wired: Record<string, FeedTensor> = { ...extra };
  for (const [name, t] of Object.entries(feeds)) wired[name] = wire(t.data, t.dims, d.roles.types[name]);
  d.counted();
  return d.session.run(wired);
}
