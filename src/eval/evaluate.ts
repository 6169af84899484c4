/**
 * Video quality against ground truth, frame by frame: PSNR-Y, SSIM and the temporal error (how far
 * the output's frame-to-frame change departs from the ground truth's: flicker and ghosting both
 * raise it). Metrics follow src/image/metrics.ts: Y in 16–235 of the 8-bit-rounded frames, by
 * default unrounded (BasicSR), with a border cropped.
 */
import { mediaError, usageError } from '../errors.ts';
import type { RgbImage } from '../image/io.ts';
import { psnrY, ssim, temporalError, type MetricOptions } from '../image/metrics.ts';
import type { FrameSequence } from './sequence.ts';

/** Scores of one frame. */
export interface FrameScore {
  /** 0-based frame index. */
  readonly index: number;
  /** PSNR-Y in dB (Infinity when identical). */
  readonly psnr: number;
  /** SSIM on Y (undefined when SSIM is off). */
  readonly ssim: number | undefined;
  /** Temporal error against the previous frame (undefined on the first frame). */
  readonly temporalError: number | undefined;
}

/** Means over a sequence (temporal error over frames 2…n). */
export interface MeanScores {
  readonly psnr: number;
  readonly ssim: number | undefined;
  readonly temporalError: number | undefined;
}

/** What {@link evaluateSequences} returns (JSON-ready apart from an infinite PSNR). */
export interface EvalReport {
  readonly output: string;
  readonly truth: string;
  readonly frames: number;
  readonly width: number;
  readonly height: number;
  readonly border: number;
  /** Y convention: false = BasicSR unrounded Y, true = MATLAB rounded Y. */
  readonly roundY: boolean;
  readonly mean: MeanScores;
  readonly perFrame: FrameScore[];
}

/** Options of the scorers. */
export interface EvalOptions extends MetricOptions {
  /** Compute SSIM too (default true; it is the slow one). */
  readonly ssim?: boolean;
  /** Called with each frame's scores as they come (progress). */
  readonly onFrame?: (score: FrameScore) => void;
}

/** Most a ground-truth side may exceed the output's: HR frames not a multiple of the scale. */
const MAX_TRUTH_EXCESS = 7;

/** The top-left `w × h` of a planar image (the image itself when it already is that size). */
function cropTopLeft(img: RgbImage, w: number, h: number): RgbImage {
  if (img.width === w && img.height === h) return img;
  const rgb = new Float32Array(3 * w * h);
  const n = img.width * img.height;
  for (let c = 0; c < 3; c++)
    for (let y = 0; y < h; y++) rgb.set(img.rgb.subarray(c * n + y * img.width, c * n + y * img.width + w), c * w * h + y * w);
  return { width: w, height: h, rgb };
}

/**
 * Scores frames pushed one pair at a time, keeping only the previous pair (for the temporal
 * error). Ground truth up to {@link MAX_TRUTH_EXCESS} pixels larger than the output is cropped to
 * the output's size from the top left, as SR benchmarks do with HR sizes that are not a multiple
 * of the scale.
 */
export class SequenceScorer {
  readonly perFrame: FrameScore[] = [];
  readonly #opts: EvalOptions;
  #prev: { out: RgbImage; truth: RgbImage } | undefined;

  constructor(opts: EvalOptions = {}) {
    this.#opts = opts;
  }

  /** Score the next output frame against its ground truth. */
  push(out: RgbImage, truthFrame: RgbImage, names: { output?: string; truth?: string } = {}): FrameScore {
    const index = this.perFrame.length;
    const dw = truthFrame.width - out.width;
    const dh = truthFrame.height - out.height;
    if (dw < 0 || dh < 0 || dw > MAX_TRUTH_EXCESS || dh > MAX_TRUTH_EXCESS)
      throw mediaError(
        names.output ?? 'output',
        `frame ${index + 1} is ${out.width}x${out.height}, the ground truth${names.truth ? ` (${names.truth})` : ''} ${truthFrame.width}x${truthFrame.height}`,
      );
    const truth = cropTopLeft(truthFrame, out.width, out.height);
    const border = this.#opts.border ?? 0;
    const [w, h] = [out.width - 2 * border, out.height - 2 * border];
    if (w < 1 || h < 1) throw usageError(`--border ${border} leaves nothing of ${out.width}x${out.height} frames`);
    const m: MetricOptions = { border, roundY: this.#opts.roundY === true };
    const score: FrameScore = {
      index,
      psnr: psnrY(out, truth, m),
      // SSIM's 11×11 window needs that much image; smaller frames go without.
      ssim: this.#opts.ssim === false || w < 11 || h < 11 ? undefined : ssim(out, truth, m),
      temporalError: this.#prev ? temporalError(out, this.#prev.out, truth, this.#prev.truth, m) : undefined,
    };
    this.#prev = { out, truth };
    this.perFrame.push(score);
    this.#opts.onFrame?.(score);
    return score;
  }

  /** Means of the frames pushed so far. */
  get mean(): MeanScores {
    return meanScores(this.perFrame);
  }
}

const avg = (v: number[]): number | undefined => (v.length === 0 ? undefined : v.reduce((a, b) => a + b, 0) / v.length);

/** Means of per-frame scores (each metric over the frames that have it). */
export function meanScores(frames: readonly FrameScore[]): MeanScores {
  const pick = (k: 'psnr' | 'ssim' | 'temporalError') => frames.map((f) => f[k]).filter((v): v is number => v !== undefined);
  return { psnr: avg(pick('psnr')) ?? Number.NaN, ssim: avg(pick('ssim')), temporalError: avg(pick('temporalError')) };
}

/**
 * Score an upscaled sequence against its ground truth, frame by frame. The two must hold the same
 * number of frames (a media error names both counts otherwise).
 */
export async function evaluateSequences(output: FrameSequence, truth: FrameSequence, opts: EvalOptions = {}): Promise<EvalReport> {
  const scorer = new SequenceScorer(opts);
  const names = { output: output.source, truth: truth.source };
  const gt = truth[Symbol.asyncIterator]();
  let size = { width: 0, height: 0 };
  let extra = 0;
  try {
    for await (const o of output) {
      const g = await gt.next();
      if (g.done) {
        extra++;
        continue;
      }
      size = { width: o.width, height: o.height };
      scorer.push(o, g.value, names);
    }
    let missing = 0;
    for (let g = await gt.next(); !g.done; g = await gt.next()) missing++;
    const n = scorer.perFrame.length;
    if (extra > 0 || missing > 0 || n === 0)
      throw mediaError(output.source, `${n + extra} frames to compare with ${n + missing} ground-truth frames in ${truth.source}`);
  } finally {
    await gt.return?.();
  }
  return {
    output: output.source,
    truth: truth.source,
    frames: scorer.perFrame.length,
    ...size,
    border: opts.border ?? 0,
    roundY: opts.roundY === true,
    mean: scorer.mean,
    perFrame: scorer.perFrame,
  };
}

/** The report as JSON text: numbers rounded for reading, an infinite PSNR written as null. */
export function reportJson(r: EvalReport): string {
  const round = (v: number | undefined, d: number) => (v === undefined || !Number.isFinite(v) ? null : Number(v.toFixed(d)));
  const scores = (s: MeanScores | FrameScore) => ({ psnr: round(s.psnr, 4), ssim: round(s.ssim, 5), temporalError: round(s.temporalError, 4) });
  return JSON.stringify(
    {
      output: r.output,
      truth: r.truth,
      frames: r.frames,
      width: r.width,
      height: r.height,
      border: r.border,
      y: r.roundY ? 'matlab-rounded' : 'basicsr',
      mean: scores(r.mean),
      perFrame: r.perFrame.map((f) => ({ frame: f.index, ...scores(f) })),
    },
    null,
    1,
  );
}
