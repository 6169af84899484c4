/**
 * Content-based hard-cut detection, cheap enough to run on every frame of the upscaling pipeline.
 *
 * Method. Each frame is reduced to a small analysis image (longest side {@link ANALYSIS_SIZE} px,
 * box-averaged, which also suppresses noise and grain). Consecutive analysis images are compared
 * three ways, each a distance in [0, 1]:
 *  - colour: total-variation distance between 4×4×4-bin RGB histograms — blind to motion, sees a
 *    change of palette;
 *  - structure: 1 − correlation of the luma images — blind to global brightness/contrast changes,
 *    sees a change of layout even when the palette is the same (a cut between two similar shots);
 *  - pixels: mean absolute luma difference (scaled so 64 levels = 1) — catches changes between
 *    flat, low-texture frames where correlation says little.
 * The frame's score is their mean. A cut is declared when the score stands out from the RECENT
 * PAST rather than from a fixed level: above `median + k·σ` of the last {@link SceneCutOptions.window}
 * non-cut scores (σ from the median absolute deviation, with a floor), above an absolute minimum,
 * and at least {@link SceneCutOptions.minShot} frames after the previous cut. A pan over a
 * detailed scene scores high on every frame and so raises its own threshold; a cut in a calm scene
 * needs much less. Gradual transitions (fades, dissolves) spread their change over many frames and
 * are deliberately not cuts: the temporal state blends through them harmlessly.
 *
 * Limitation: with no look-ahead, a single-frame flash scores like a cut (the return is then
 * suppressed by the minimum shot length); this only costs one reset of the temporal state.
 */

/** Longest side of the analysis image. */
export const ANALYSIS_SIZE = 64;

/** A frame of RGB samples (a decoded video frame fits): interleaved, or G, B, R planes ('gbrp'). */
export interface RgbFrame {
  readonly width: number;
  readonly height: number;
  readonly data: Uint8Array | Uint16Array;
  readonly bitDepth: 8 | 16;
  /** Default 'packed'. */
  readonly layout?: 'packed' | 'gbrp';
}

/** Where R, G and B of pixel 0 are in a frame's samples, and the step from one pixel to the next. */
export function sampleOffsets(frame: RgbFrame): { r: number; g: number; b: number; step: number } {
  const n = frame.width * frame.height;
  return frame.layout === 'gbrp' ? { r: 2 * n, g: 0, b: n, step: 1 } : { r: 0, g: 1, b: 2, step: 3 };
}

/** Tuning of {@link SceneCutDetector}; the defaults suit 24–60 fps video. */
export interface SceneCutOptions {
  /** Number of recent non-cut scores the threshold is computed from (default 30). */
  readonly window?: number;
  /** How many robust standard deviations above the median a cut must be (default 6). */
  readonly k?: number;
  /** Lowest score that can be a cut (default 0.2). */
  readonly minScore?: number;
  /** Floor of σ, so a perfectly still shot does not make every wobble a cut (default 0.02). */
  readonly sigmaFloor?: number;
  /** Minimum frames between cuts (default 6). */
  readonly minShot?: number;
}

/** What {@link SceneCutDetector.push} says about a frame. */
export interface CutDecision {
  /** This frame starts a new shot. */
  readonly cut: boolean;
  /** Change from the previous frame, 0 (same) to 1. */
  readonly score: number;
  /** The threshold the score was compared with. */
  readonly threshold: number;
}

/** Size of the analysis image for a frame size (aspect kept, longest side {@link ANALYSIS_SIZE}). */
export function analysisSize(width: number, height: number): { width: number; height: number } {
  const s = ANALYSIS_SIZE / Math.max(width, height);
  if (s >= 1) return { width, height };
  return { width: Math.max(1, Math.round(width * s)), height: Math.max(1, Math.round(height * s)) };
}

/**
 * Box-average RGB (either layout) down to `w × h`, as 8-bit-scale floats (R, G, B interleaved). Cells
 * larger than 4×4 pixels are averaged over a regular grid of at least 4×4 samples rather than
 * every pixel: plenty for a 64-pixel analysis image, and it keeps a 4K frame at well under a
 * millisecond or two.
 */
export function shrinkRgb(frame: RgbFrame, w: number, h: number): Float32Array {
  const { width: W, height: H, data } = frame;
  const scale = frame.bitDepth === 16 ? 1 / 257 : 1;
  const step = Math.max(1, Math.floor(Math.min(W / w, H / h) / 4));
  const sum = new Float64Array(w * h * 3);
  const count = new Float64Array(w * h);
  const colOf = new Int32Array(W);
  for (let x = 0; x < W; x++) colOf[x] = Math.min(w - 1, Math.floor((x * w) / W));
  const at = sampleOffsets(frame);
  for (let y = step >> 1; y < H; y += step) {
    const row = Math.min(h - 1, Math.floor((y * h) / H)) * w;
    for (let x = step >> 1, p = (y * W + x) * at.step; x < W; x += step, p += at.step * step) {
      const o = row + colOf[x]!;
      sum[3 * o]! += data[p + at.r]!;
      sum[3 * o + 1]! += data[p + at.g]!;
      sum[3 * o + 2]! += data[p + at.b]!;
      count[o]!++;
    }
  }
  const out = new Float32Array(w * h * 3);
  for (let i = 0; i < w * h; i++) {
    const k = count[i]! > 0 ? scale / count[i]! : 0;
    out[3 * i] = sum[3 * i]! * k;
    out[3 * i + 1] = sum[3 * i + 1]! * k;
    out[3 * i + 2] = sum[3 * i + 2]! * k;
  }
  return out;
}

interface Signature {
  /** Frame size: a change of it is a new shot whatever the content. */
  readonly size: string;
  readonly w: number;
  readonly h: number;
  readonly hist: Float32Array;
  readonly luma: Float32Array;
}

function signature(frame: RgbFrame): Signature {
  const { width: w, height: h } = analysisSize(frame.width, frame.height);
  const rgb = shrinkRgb(frame, w, h);
  const n = w * h;
  const hist = new Float32Array(64);
  const luma = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    const r = rgb[3 * i]!;
    const g = rgb[3 * i + 1]!;
    const b = rgb[3 * i + 2]!;
    hist[(Math.min(3, r >> 6) << 4) | (Math.min(3, g >> 6) << 2) | Math.min(3, b >> 6)]! += 1 / n;
    luma[i] = 0.2126 * r + 0.7152 * g + 0.0722 * b;
  }
  return { size: `${frame.width}x${frame.height}`, w, h, hist, luma };
}

/** The three distances of two signatures, averaged (see the module comment). */
function distance(a: Signature, b: Signature): number {
  if (a.size !== b.size) return 1;
  let colour = 0;
  for (let i = 0; i < 64; i++) colour += Math.abs(a.hist[i]! - b.hist[i]!);
  colour /= 2;
  const n = a.luma.length;
  let ma = 0;
  let mb = 0;
  let pixels = 0;
  for (let i = 0; i < n; i++) {
    ma += a.luma[i]!;
    mb += b.luma[i]!;
    pixels += Math.abs(a.luma[i]! - b.luma[i]!);
  }
  ma /= n;
  mb /= n;
  let sab = 0;
  let saa = 0;
  let sbb = 0;
  for (let i = 0; i < n; i++) {
    const da = a.luma[i]! - ma;
    const db = b.luma[i]! - mb;
    sab += da * db;
    saa += da * da;
    sbb += db * db;
  }
  // SSIM-style stabiliser: two flat frames correlate perfectly, a flat and a textured one do not.
  const c = n * 4;
  const structure = Math.min(1, Math.max(0, 1 - (sab + c) / (Math.sqrt(saa * sbb) + c)));
  const pix = Math.min(1, pixels / n / 64);
  return (colour + structure + pix) / 3;
}

function median(sorted: readonly number[]): number {
  const m = sorted.length >> 1;
  return sorted.length % 2 ? sorted[m]! : (sorted[m - 1]! + sorted[m]!) / 2;
}

/**
 * Stateful hard-cut detector: push frames in order, get a decision per frame. The first frame
 * (and the first after {@link reset}) starts a shot, so the earliest possible cut is `minShot`
 * frames later.
 */
export class SceneCutDetector {
  readonly #window: number;
  readonly #k: number;
  readonly #minScore: number;
  readonly #sigmaFloor: number;
  readonly #minShot: number;
  #prev: Signature | undefined;
  #recent: number[] = [];
  #sinceCut = 0;

  constructor(opts: SceneCutOptions = {}) {
    this.#window = opts.window ?? 30;
    this.#k = opts.k ?? 6;
    this.#minScore = opts.minScore ?? 0.2;
    this.#sigmaFloor = opts.sigmaFloor ?? 0.02;
    this.#minShot = opts.minShot ?? 6;
  }

  /** Judge the next frame (any size; it is reduced to the analysis size here). */
  push(frame: RgbFrame): CutDecision {
    const sig = signature(frame);
    const prev = this.#prev;
    this.#prev = sig;
    this.#sinceCut++;
    if (!prev) {
      // The first frame starts a shot: the minimum shot length applies to it too, which also
      // gives the threshold a few scores of history before the first cut can be declared.
      this.#sinceCut = 0;
      return { cut: false, score: 0, threshold: 1 };
    }
    const score = distance(prev, sig);
    const threshold = this.threshold();
    const cut = score > threshold && this.#sinceCut >= this.#minShot;
    if (cut) this.#sinceCut = 0;
    else {
      this.#recent.push(score);
      if (this.#recent.length > this.#window) this.#recent.shift();
    }
    return { cut, score, threshold };
  }

  /** The current threshold: max(minScore, median + k·max(1.4826·MAD, sigmaFloor)) of recent scores. */
  threshold(): number {
    if (this.#recent.length === 0) return Math.max(this.#minScore, this.#k * this.#sigmaFloor);
    const sorted = [...this.#recent].sort((a, b) => a - b);
    const m = median(sorted);
    const mad = median(sorted.map((s) => Math.abs(s - m)).sort((a, b) => a - b));
    return Math.max(this.#minScore, m + this.#k * Math.max(1.4826 * mad, this.#sigmaFloor));
  }

  /** Forget everything (e.g. after a seek). */
  reset(): void {
    this.#prev = undefined;
    this.#recent = [];
  }
}
