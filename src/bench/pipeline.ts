/**
 * `paragon bench --video FILE`: the whole video pipeline (decode → infer → encode, overlapping,
 * then the join with the source's audio) on a real file, with each stage's busy time per frame.
 * Runs `upscaleVideo` itself into a temporary folder, so what is timed is what users get.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import type { Device } from '../runtime/devices.ts';
import { upscaleVideo } from '../pipeline/video.ts';
import { ranOn } from './env.ts';
import { round } from './stats.ts';
import type { BenchEnv, BenchRow, PipelineResult, Precision } from './types.ts';

/** Options of {@link benchPipeline}. */
export interface PipelineOptions {
  readonly file: string;
  readonly model?: string;
  readonly device: Device;
  readonly precision: Precision;
  /** Only the first N frames (default: the whole file). */
  readonly frames?: number;
  readonly env: BenchEnv;
  readonly log?: (line: string) => void;
  readonly signal?: AbortSignal;
}

/**
 * The device and precision to run the pipeline with: those of the fastest video-mode row of the
 * matrix (the pipeline drives the video graph), else of the fastest row, else CPU fp32.
 */
export function pipelineChoice(rows: readonly BenchRow[]): { device: Device; precision: Precision } {
  const pool = rows.some((r) => r.mode === 'video') ? rows.filter((r) => r.mode === 'video') : rows;
  const best = [...pool].sort((a, b) => b.fps - a.fps)[0];
  return best ? { device: best.device, precision: best.precision } : { device: 'cpu', precision: 'fp32' };
}

/** Upscale `file` once and report per-stage timings. */
export async function benchPipeline(o: PipelineOptions): Promise<PipelineResult> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'paragon-bench-'));
  try {
    const r = await upscaleVideo({
      input: o.file,
      output: path.join(dir, 'out.mkv'),
      ...(o.model !== undefined ? { model: o.model } : {}),
      device: o.device,
      fp16: o.precision === 'fp16',
      ...(o.frames !== undefined ? { frames: { from: 0, to: o.frames } } : {}),
      ...(o.log ? { log: o.log } : {}),
      ...(o.signal ? { signal: o.signal } : {}),
    });
    const n = Math.max(1, r.frames);
    const stages: PipelineResult['stages'] = {};
    for (const [k, sec] of Object.entries(r.stages)) stages[k] = { totalMs: round(sec * 1000, 1), perFrameMs: round((sec * 1000) / n, 2) };
    return {
      file: o.file,
      model: r.model.file,
      device: r.device,
      precision: r.model.precision,
      frames: r.frames,
      width: r.width,
      height: r.height,
      stages,
      wallMs: round(r.elapsed * 1000, 1),
      fps: r.fps,
      ranOn: ranOn(r.device as Device, o.env),
    };
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}
