/**
 * One call from `--model`/`--device` flags to a ready {@link TemporalUpscaler}: resolve the model,
 * load it in a worker on the best device, and arrange the lazy fp32 twin for NaN reruns.
 */
import type { CpuOptions, DeviceRequest } from '../runtime/devices.ts';
import { withPackedOutput } from '../graph/pack-head.ts';
import { withWarpHead } from '../graph/warp-head.ts';
import { withPixelHistory } from '../graph/pixel-history.ts';
import { resolveModel } from '../runtime/model.ts';
import { ModelSession } from '../runtime/session.ts';
import { readOnnxInfo } from '../graph/onnx-info.ts';
import { carriedOutput } from './roles.ts';
import { TemporalUpscaler, type UpscalerOptions } from './upscaler.ts';

/** Options of {@link openUpscaler}. */
export interface OpenOptions extends Omit<UpscalerOptions, 'fp32'> {
  /** Graph built from a checkpoint: 'video' for clips, 'standard' for images (default 'video'). */
  readonly mode?: 'video' | 'standard';
  readonly fp16?: boolean;
  readonly device?: DeviceRequest;
  readonly cpu?: CpuOptions;
  /** Folder of bundled models (tests). */
  readonly modelsDir?: string;
  /**
   * Add the packing head (graph/pack-head.ts), so `processPacked` gets its frames packed by the
   * graph (video pipelines): at one depth (the one the video's frames have; the head's work is
   * done on every run), or `true` for both. Models that cannot take it run without, and other
   * depths are packed by JavaScript; nothing else changes.
   */
  readonly packedOutput?: boolean | 8 | 16;
}

/** Resolve `model` (see resolveModel) and open an upscaler on it. Dispose it when done. */
export async function openUpscaler(model: string | undefined, opts: OpenOptions = {}): Promise<TemporalUpscaler> {
  const auto = opts.historyWeight === 'auto';
  const resolved = await resolveModel(model, {
    // No history (--no-temporal, images): the standard graph does the same work without the state
    // I/O. 'auto' carries the input's pixels, not the features: the standard graph with the
    // pixel-history head (graph/pixel-history.ts).
    mode: opts.historyWeight === 0 || auto ? 'standard' : (opts.mode ?? 'video'),
    fp16: opts.fp16 === true,
    ...(opts.modelsDir !== undefined ? { modelsDir: opts.modelsDir } : {}),
    ...(opts.onNotice ? { onNotice: opts.onNotice } : {}),
  });
  const sessionOpts = { device: opts.device ?? 'auto', cpu: opts.cpu ?? {}, label: resolved.info.file, ...(opts.onNotice ? { onNotice: opts.onNotice } : {}) };
  const depths = opts.packedOutput === true ? ([8, 16] as const) : opts.packedOutput ? [opts.packedOutput] : undefined;
  // 'auto' moves the history with the camera: the warp head (graph/warp-head.ts) does it inside
  // the graph, where the state stays between frames. Models that cannot take it run without
  // motion compensation. A video graph given as a file (it cannot take the pixel head) carries
  // its features, as the reference's video mode does.
  const pixels = (b: Uint8Array): Uint8Array => (auto ? (withPixelHistory(b) ?? b) : b);
  const history = pixels(resolved.bytes);
  const warped = auto ? (withWarpHead(history) ?? history) : history;
  const bytes = (depths ? withPackedOutput(warped, depths) : undefined) ?? warped;
  // The feature state stays on the GPU between frames where the device allows (WebGPU).
  const carried = carriedOutput(readOnnxInfo(bytes, resolved.info.file));
  const session = await ModelSession.create(bytes, { ...sessionOpts, ...(carried ? { resident: [carried] } : {}) });
  const fp32 = resolved.fp32;
  // The fp32 twin stays quiet about device fallback: the main session already said it.
  // With 'auto' it takes the same history (the pixel head), so the state passes between them.
  const twin = fp32 ? () => ModelSession.create(pixels(fp32()), { ...sessionOpts, onNotice: () => undefined }) : undefined;
  try {
    const up = new TemporalUpscaler(session, resolved.info, { ...opts, ...(twin ? { fp32: twin } : {}) });
    if (up.info.scale === 0) await up.probe();
    return up;
  } catch (e) {
    await session.close();
    throw e;
  }
}
