/**
 * The temporal-quality study behind docs/temporal.md: every clip × degradation × history-weight
 * method through the frame engine, scored per frame against the ground truth (PSNR-Y, SSIM,
 * temporal error; Y unrounded as BasicSR, border 4).
 *
 *   npx tsx scripts/temporal-study.ts [--clips walk,calendar,film-static,still,generated,robust,hd] [--noise 0,4]
 *     [--methods 0,0.2,auto] [--frames N] [--threads 1] [--out DIR] [--model FILE]
 *     [--wallpapers DIR] [--crf 12,23] [--maps]
 *
 * Clips (ground truth; the low-resolution input is made in memory with `degradeFrame`, the
 * function behind `paragon degrade`: MATLAB bicubic ×2 on uint8, then Gaussian noise, seed 1):
 * - walk, calendar: ../shared/vid4 (camera and object motion);
 * - film-static: frames 110–149 of ../shared/video/issue-134-rotate.mp4 (display orientation),
 *   crop 352×480 at (176, 224): a locked-off shot of a computer screen (a face on a panel, text
 *   being typed, film grain);
 * - still: walk frame 001 repeated 36 times under a slow ±4 % lighting swing (a static camera
 *   with auto-exposure drift).
 * - generated (src/eval/motion-clips.ts), 24 frames each: `PICTURE-MOTION` with MOTION one of
 *   pan (0.73, 0.31 px a frame), fastpan (2.6, −1.1), zoom (×1.006 a frame), rotate (0.25° a
 *   frame); PICTURE one of the Set5 photographs (../shared/images/set5/hr: baby, bird, butterfly,
 *   head, woman; frames up to 320×240), leaves (a dead-leaves texture, seed 5, 320×240), or
 *   `wall_NAME` for a wallpaper in --wallpapers DIR (default /usr/share/backgrounds/mate/nature, Debian's
 *   mate-backgrounds: GreenMeadow, Garden, Wood, Dune; 640×360 frames at half the picture's scale). `generated` stands for every
 *   Set5 and leaves clip, and the wallpapers found.
 * - `robust` stands for the same pictures with MOTION one of shake (a hand-held camera: a random
 *   offset of up to 1.5 pixels and roll every frame), wobble (a still camera through moving air: a
 *   local displacement of up to 0.5 pixel that drifts) and flicker (a still camera, a random gain of
 *   ±3 % a frame): harder cases for the clean-input rule (src/eval/motion-clips.ts).
 * - `wallhd_NAME-MOTION`: the wallpapers at 1280×720 (the picture's own scale): 640×360 input, a
 *   large frame that the estimator measures on its half plane. `hd` stands for all of them.
 * Methods: a fixed history weight (0 = `--no-temporal`), `auto` (the frame engine with
 * `historyWeight: 'auto'`: weight map and motion compensation, as `paragon upscale` runs it), or
 * `auto-still` (the same estimator without motion compensation: what it buys), or `auto-full` (auto
 * measuring large frames on the frame itself, not on its half plane: what that gives up), or
 * `auto+KEY=VALUE+…` (auto with HistoryWeightOptions changed, e.g. `auto+zStatic=4+zChanged=8`, or
 * `auto+noiseGate=0:0.01` to keep history on clean input), each also with `+out=F[+outMax=M]` (an
 * experiment: a motion-compensated history of the ×2 output too, at min(M, F·α) of auto's map;
 * `0+out=F` for the output's history alone).
 * `--crf N[,M]` runs each clip and noise through a real x264 round trip at each CRF as well
 * (`paragon degrade --crf`: the noise, then H.264, stored as FFV1 and read back; rows named
 * `CLIP@crfN`), the case of a source that reached us compressed.
 * `--out DIR` writes study.json and one SVG chart per clip and degradation. `--maps` runs no
 * model: it prints, per clip and noise, a digest of auto's maps, shifts and noise readings (with
 * the first `auto+…` method's tuning, if any), the estimator's time a frame, the noise it read and
 * the frames that kept any history (two versions that print the same digests give the same study;
 * with `--crf`, of the compressed inputs).
 * `--from A.json[,B.json]` runs nothing: it reads saved rows (several studies merged) and prints
 * the summary table (every clip: off, 0.2, auto, and auto-still where present), writing
 * summary.svg (temporal error of auto against off, per clip) to `--out DIR`, and with
 * `--charts CLIP-noiseN[,…]` those clips' per-frame charts (every method the rows hold), so that
 * rows of several runs (a method rerun after a change) chart as one study would.
 */
import { createHash } from 'node:crypto';
import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { cropImage, readImage, writePng, type RgbImage } from '../src/image/io.ts';
import { degradeFrame, writeDegraded } from '../src/eval/degrade.ts';
import { openSequence } from '../src/eval/sequence.ts';
import { SequenceScorer, type FrameScore, type MeanScores } from '../src/eval/evaluate.ts';
import { chartSvg } from '../src/eval/chart.ts';
import { openUpscaler } from '../src/temporal/open.ts';
import { HistoryWeightEstimator, WEIGHT_DEFAULTS, type HistoryWeightOptions } from '../src/temporal/history-weight.ts';
import { isStill, type Shift } from '../src/temporal/motion.ts';
import { PixelHistory } from '../src/temporal/pixel-history.ts';
import { deadLeaves, renderClip, type CameraMotion, type ClipSpec } from '../src/eval/motion-clips.ts';
import { decodeFrames } from '../src/video/decode.ts';
import { framePlanes } from '../src/video/frame.ts';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const SHARED = process.env.PARAGON_SHARED ?? path.resolve(ROOT, '..', 'shared');
const OFFICIAL = path.join(SHARED, 'models', 'paragonsr2-v11', '2xParagonSR2_Realtime_fidelity.safetensors');
const SET5 = ['baby', 'bird', 'butterfly', 'head', 'woman'];
const MOTIONS: Record<string, { motion: CameraMotion; speed?: ClipSpec['speed'] }> = {
  pan: { motion: 'pan' },
  fastpan: { motion: 'pan', speed: [2.6, -1.1] },
  zoom: { motion: 'zoom' },
  rotate: { motion: 'rotate' },
};
/** Harder cases for the clean-input rule (`robust`): hand-held shake, a wobbling local motion, a flickering light. */
const ROBUST: Record<string, { motion: CameraMotion; speed?: ClipSpec['speed'] }> = {
  shake: { motion: 'shake' },
  wobble: { motion: 'wobble' },
  flicker: { motion: 'flicker' },
};

function flag(name: string, fallback: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 && process.argv[i + 1] !== undefined ? process.argv[i + 1]! : fallback;
}
const list = (name: string, fallback: string) => flag(name, fallback).split(',').filter((s) => s !== '');

async function vid4(name: string): Promise<RgbImage[]> {
  const dir = path.join(SHARED, 'vid4', name);
  const files = (await readdir(dir)).filter((f) => f.endsWith('.png')).sort();
  return Promise.all(files.map((f) => readImage(path.join(dir, f))));
}

/** Ground-truth frames of a clip (see the module comment). */
async function clipFrames(name: string): Promise<RgbImage[]> {
  switch (name) {
    case 'walk':
    case 'calendar':
      return vid4(name);
    case 'film-static': {
      const out: RgbImage[] = [];
      for await (const f of decodeFrames(path.join(SHARED, 'video', 'issue-134-rotate.mp4'), { maxFrames: 150, bitDepth: 8 }))
        if (f.index >= 110) out.push(cropImage({ width: f.width, height: f.height, rgb: framePlanes(f) }, 176, 224, 352, 480));
      return out;
    }
    case 'still': {
      const base = (await vid4('walk'))[0]!;
      return Array.from({ length: 36 }, (_, t) => {
        const gain = 1 + 0.04 * Math.sin((2 * Math.PI * t) / 36);
        return { ...base, rgb: base.rgb.map((v) => Math.round(Math.min(1, v * gain) * 255) / 255) };
      });
    }
    default: {
      const m = /^(.+)-(pan|fastpan|zoom|rotate|shake|wobble|flicker)$/.exec(name);
      if (!m) throw new Error(`unknown clip ${name} (walk, calendar, film-static, still, PICTURE-MOTION)`);
      const move = MOTIONS[m[2]!] ?? ROBUST[m[2]!]!;
      const picture = m[1]!;
      if (picture.startsWith('wall_')) {
        const pic = await readImage(path.join(flag('wallpapers', WALLPAPERS), picture.slice(5)));
        return renderClip(pic, { ...move, frames: 24, width: 640, height: 360, density: 2 });
      }
      if (picture.startsWith('wallhd_')) {
        // High definition: 1280×720 frames (640×360 input, where the estimator works on the half
        // plane) at the picture's own scale, or less where it is smaller.
        const pic = await readImage(path.join(flag('wallpapers', WALLPAPERS), picture.slice(7)));
        return renderClip(pic, { ...move, frames: 24, width: 1280, height: 720, density: Math.min(1, (pic.width - 64) / 1280, (pic.height - 64) / 720) });
      }
      const pic = picture === 'leaves' ? deadLeaves(400, 320, 5) : await readImage(path.join(SHARED, 'images', 'set5', 'hr', `${picture}.png`));
      // Frames a margin inside the picture (the pans move about 20 pixels), multiples of 8.
      const size = (n: number, cap: number) => Math.min(cap, Math.floor((n - 48) / 8) * 8);
      return renderClip(pic, { ...move, frames: 24, width: size(pic.width, 320), height: size(pic.height, 240) });
    }
  }
}

const WALLPAPERS = '/usr/share/backgrounds/mate/nature';
/** Photographs of mate-backgrounds with fine texture (grass, wood, foliage), when installed. */
const WALLS = ['GreenMeadow.jpg', 'Garden.jpg', 'Wood.jpg', 'Dune.jpg'];

/** The pictures of the generated clips: Set5, leaves, and the wallpapers found. */
async function pictures(): Promise<string[]> {
  const walls = await readdir(flag('wallpapers', WALLPAPERS)).catch(() => [] as string[]);
  return [...SET5, 'leaves', ...WALLS.filter((f) => walls.includes(f)).map((f) => `wall_${f}`)];
}

/** The clip names `generated` (`MOTIONS`) or `robust` (`ROBUST`: shaken, wobbled, flickering) stands for. */
async function generated(motions: Record<string, unknown> = MOTIONS): Promise<string[]> {
  return (await pictures()).flatMap((p) => Object.keys(motions).map((m) => `${p}-${m}`));
}

/** The clip names `hd` stands for: the wallpapers at 1280×720 (640×360 input). */
async function hd(): Promise<string[]> {
  const walls = await readdir(flag('wallpapers', WALLPAPERS)).catch(() => [] as string[]);
  return WALLS.filter((f) => walls.includes(f)).flatMap((f) => Object.keys(MOTIONS).map((m) => `wallhd_${f}-${m}`));
}

interface Row {
  clip: string;
  noise: number;
  method: string;
  frames: number;
  mean: MeanScores;
  /** Mean history weight over the frames after the first (auto: of the map). */
  meanWeight: number;
  msPerFrame: number;
  perFrame: FrameScore[];
  /** auto: the noise σ (luma) the estimator read by the last frame, and frames it moved the history on. */
  noiseRead?: number;
  movedFrames?: number;
}

/** One `KEY=VALUE` of an `auto+…` method: a numeric HistoryWeightOptions field, or `noiseGate=LOW:HIGH`. */
function tweak(t: string, method: string): [string, number | [number, number]] {
  const [key = '', value = ''] = t.split('=');
  if (key === 'noiseGate') {
    const gate = value.split(':').map(Number);
    if (gate.length !== 2 || gate.some((v) => Number.isNaN(v)) || !(gate[0]! <= gate[1]!)) throw new Error(`method ${method}: ${t} is not noiseGate=LOW:HIGH`);
    return [key, gate as [number, number]];
  }
  const v = Number(value);
  if (!(key in WEIGHT_DEFAULTS) || typeof WEIGHT_DEFAULTS[key as keyof typeof WEIGHT_DEFAULTS] !== 'number' || value === '' || Number.isNaN(v))
    throw new Error(`method ${method}: ${t} is not KEY=NUMBER of a numeric HistoryWeightOptions field, or noiseGate=LOW:HIGH`);
  return [key, v];
}

/** Run one method over a clip's LR frames through the frame engine and score it. */
async function runMethod(model: string, method: string, lrs: RgbImage[], gts: RgbImage[], threads: number): Promise<Omit<Row, 'clip' | 'noise'>> {
  // 'auto-full': auto measuring large frames on the frame itself, not on its half plane.
  const full = method === 'auto-full';
  // 'auto+KEY=VALUE+…': auto with the estimator's tuning changed (HistoryWeightOptions), for experiments.
  const [base = '', ...allTweaks] = method.split('+');
  // '…+out=F[+outMax=M]' (an experiment, not in the product): a motion-compensated history of the
  // output as well, at weight min(M, F·α) of the input's map, moved by twice the input's shift;
  // on '0' the output's history alone (docs/temporal.md, Tuning notes).
  const outF = Number(allTweaks.find((t) => t.startsWith('out='))?.slice(4) ?? 0);
  const outMax = Number(allTweaks.find((t) => t.startsWith('outMax='))?.slice(7) ?? 1);
  if (!(outF >= 0 && outMax >= 0 && outMax <= 1)) throw new Error(`method ${method}: out=F needs F ≥ 0, outMax=M 0..1`);
  const tweaks = allTweaks.filter((t) => !t.startsWith('out=') && !t.startsWith('outMax='));
  // 'auto-still': auto without motion compensation (the history left where it was): what it buys.
  const still = method === 'auto-still';
  const auto = base === 'auto' || full || still;
  const tuning: HistoryWeightOptions = full ? { halfFrom: Infinity } : still ? { motion: false } : Object.fromEntries(tweaks.map((t) => tweak(t, method)));
  const weight = auto ? 'auto' : Number(base);
  await using up = await openUpscaler(model, { mode: 'video', historyWeight: weight, weightOptions: tuning, device: 'cpu', cpu: { intraOpThreads: threads } });
  // A twin of the engine's estimator, fed the same frames, to report what it decided (its maps
  // are the engine's: same code, same frames).
  const twin = auto || outF > 0 ? new HistoryWeightEstimator(tuning) : undefined;
  const post = outF > 0 ? new PixelHistory() : undefined;
  const scorer = new SequenceScorer({ border: 4 });
  let weightSum = 0;
  let moved = 0;
  let ms = 0;
  for (let i = 0; i < lrs.length; i++) {
    const lr = lrs[i]!;
    const t0 = performance.now();
    const out = await up.process(lr);
    ms += performance.now() - t0;
    const alpha = twin?.next(lr);
    if (twin && !isStill(twin.shift)) moved++;
    if (i > 0) weightSum += alpha === undefined ? (weight as number) : alpha === 0 ? 0 : alpha.reduce((a, b) => a + b, 0) / alpha.length;
    scorer.push(post && twin ? outputHistory(post, out, lr.width, alpha, twin.shift, outF, outMax) : out, gts[i]!);
  }
  const extra = twin ? { noiseRead: twin.noise, movedFrames: moved } : {};
  return { method, frames: lrs.length, mean: scorer.mean, meanWeight: weightSum / Math.max(1, lrs.length - 1), msPerFrame: ms / lrs.length, perFrame: scorer.perFrame, ...extra };
}

/** The '+out=F' experiment: the ×2 output blended with its own history, at min(max, f·α) (α of the input's pixel, nearest). */
function outputHistory(post: PixelHistory, out: RgbImage, lw: number, alpha: Float32Array | number | undefined, shift: Shift, f: number, max: number): RgbImage {
  const { width: w, height: h } = out;
  let beta: Float32Array | number = 0;
  if (alpha instanceof Float32Array) {
    beta = new Float32Array(w * h);
    for (let y = 0; y < h; y++) for (let x = 0; x < w; x++) beta[y * w + x] = Math.min(max, f * alpha[(y >> 1) * lw + (x >> 1)]!);
  } else if (alpha !== undefined) beta = Math.min(max, f * alpha);
  return { width: w, height: h, rgb: post.next(out.rgb, h, w, beta, { dx: 2 * shift.dx, dy: 2 * shift.dy, soft: shift.soft ?? 0 }) };
}

const fmt = (v: number | undefined, d: number): string => (v === undefined ? '' : v.toFixed(d));

/** The summary of saved rows: a markdown table, and a bar chart of auto's change of temporal error. */
async function summary(files: string[], outDir: string, charts: string[]): Promise<void> {
  const rows: Row[] = (await Promise.all(files.map(async (f) => JSON.parse(await readFile(f, 'utf8')) as Row[]))).flat();
  const keys = [...new Set(rows.map((r) => `${r.clip}|${r.noise}`))];
  const get = (k: string, method: string) => rows.find((r) => `${r.clip}|${r.noise}` === k && r.method === method);
  const print = (s: string) => process.stdout.write(`${s}\n`);
  // Columns for the methods the rows hold: auto without motion compensation, and (studies of
  // large frames) auto measuring the frame itself.
  const withStill = rows.some((r) => r.method === 'auto-still');
  const full = rows.some((r) => r.method === 'auto-full');
  print(`| clip | σ | PSNR-Y off / 0.2 / auto | temporal error off / 0.2 / auto | auto vs off |${withStill ? ' auto without motion compensation |' : ''}${full ? ' auto on the frame, not its half plane |' : ''} noise read | moved |`);
  print(`|---|---|---|---|---|${withStill ? '---|' : ''}${full ? '---|' : ''}---|---|`);
  const bars: { label: string; clean?: number; noisy?: number; still?: number }[] = [];
  for (const k of keys) {
    const [clip, noise] = k.split('|') as [string, string];
    const [off, blind, auto, still, onFrame] = ['0', '0.2', 'auto', 'auto-still', 'auto-full'].map((m) => get(k, m));
    if (!off || !auto) continue;
    const te = (r: Row | undefined) => r?.mean.temporalError;
    const d = (r: Row) => `${(r.mean.psnr - off.mean.psnr >= 0 ? '+' : '')}${(r.mean.psnr - off.mean.psnr).toFixed(3)} dB, ${((100 * te(r)!) / te(off)! - 100).toFixed(1)} %`;
    print(`| ${clip} | ${noise} | ${fmt(off.mean.psnr, 3)} / ${fmt(blind?.mean.psnr, 3)} / ${fmt(auto.mean.psnr, 3)} | ${fmt(te(off), 3)} / ${fmt(te(blind), 3)} / ${fmt(te(auto), 3)} | ${d(auto)} |${withStill ? ` ${still ? d(still) : ''} |` : ''}${full ? ` ${onFrame ? `${d(onFrame)} (${fmt(onFrame.noiseRead, 2)})` : ''} |` : ''} ${fmt(auto.noiseRead, 2)} | ${auto.movedFrames ?? ''} |`);
    let bar = bars.find((b) => b.label === clip);
    if (!bar) bars.push((bar = { label: clip }));
    const pct = (r: Row) => (100 * te(r)!) / te(off)! - 100;
    if (Number(noise) === 0) bar.clean = pct(auto);
    else {
      bar.noisy = pct(auto);
      if (still) bar.still = pct(still);
    }
  }
  if (outDir) {
    await mkdir(outDir, { recursive: true });
    await writeFile(path.join(outDir, 'summary.svg'), barChart(bars));
    for (const name of charts) {
      const here = rows.filter((r) => `${r.clip}-noise${r.noise}` === name);
      if (here.length === 0) throw new Error(`--charts ${name}: no rows of that clip and noise`);
      const series = here.map((r) => ({ label: `W ${r.method}`, frames: r.perFrame }));
      await writeFile(path.join(outDir, `${name}.svg`), chartSvg(series, `${here[0]!.clip}, noise σ ${here[0]!.noise}`));
    }
  }
}

/** Horizontal bars: auto's change of temporal error against off, per clip (clean, noisy, noisy without motion compensation). */
function barChart(bars: { label: string; clean?: number; noisy?: number; still?: number }[]): string {
  const [left, width, rowH, top] = [150, 420, 18, 40];
  const lo = Math.min(-70, ...bars.flatMap((b) => [b.clean ?? 0, b.noisy ?? 0, b.still ?? 0]));
  const hi = 10;
  const x = (v: number) => left + ((v - lo) / (hi - lo)) * width;
  const h = top + rowH * bars.length + 30;
  const parts = [`<svg xmlns="http://www.w3.org/2000/svg" width="${left + width + 20}" height="${h}" font-family="sans-serif" font-size="10">`, '<rect width="100%" height="100%" fill="white"/>'];
  parts.push(`<text x="${left}" y="14" font-size="12" font-weight="bold">temporal error of auto against --no-temporal, %</text>`);
  const legend: [string, string][] = [['#7f7f7f', 'clean'], ['#1f77b4', 'σ 4'], ['#ff7f0e', 'σ 4 without motion compensation']];
  legend.forEach(([c, l], i) => parts.push(`<rect x="${left + i * 110}" y="22" width="10" height="8" fill="${c}"/><text x="${left + i * 110 + 14}" y="30">${l}</text>`));
  for (let v = Math.ceil(lo / 10) * 10; v <= hi; v += 10)
    parts.push(`<line x1="${x(v)}" x2="${x(v)}" y1="${top}" y2="${h - 24}" stroke="${v === 0 ? '#000' : '#ddd'}"/><text x="${x(v)}" y="${h - 12}" text-anchor="middle">${v}</text>`);
  bars.forEach((b, i) => {
    const y = top + i * rowH;
    parts.push(`<text x="${left - 4}" y="${y + 12}" text-anchor="end">${b.label}</text>`);
    const bar = (v: number | undefined, c: string, k: number) =>
      v === undefined ? '' : `<rect x="${Math.min(x(0), x(v))}" y="${y + 2 + k * 5}" width="${Math.max(0.8, Math.abs(x(v) - x(0)))}" height="4.5" fill="${c}"/>`;
    parts.push(bar(b.clean, '#7f7f7f', 0), bar(b.noisy, '#1f77b4', 1), bar(b.still, '#ff7f0e', 2));
  });
  parts.push('</svg>');
  return parts.join('\n');
}

async function main(): Promise<void> {
  const from = flag('from', '');
  if (from) {
    const charts = list('charts', '');
    if (charts.length > 0 && !flag('out', '')) throw new Error('--charts writes into --out DIR: give one');
    return summary(from.split(','), flag('out', ''), charts);
  }
  const clips = (await Promise.all(list('clips', 'walk,calendar,film-static,still,generated').map(async (c) => (c === 'generated' ? generated() : c === 'hd' ? hd() : c === 'robust' ? generated(ROBUST) : [c])))).flat();
  const noises = list('noise', '0,4').map(Number);
  const methods = list('methods', '0,0.2,auto');
  const limit = Number(flag('frames', '0'));
  const threads = Number(flag('threads', '1'));
  const model = flag('model', OFFICIAL);
  const outDir = flag('out', '');
  const rows: Row[] = [];
  const print = (s: string) => process.stdout.write(`${s}\n`);
  const crfs = list('crf', '').map(Number);
  if (crfs.some((c) => !Number.isInteger(c) || c < 0 || c > 51)) throw new Error('--crf takes x264 CRFs 0..51');
  if (process.argv.includes('--maps')) return maps(clips, noises, crfs, limit, print, methods);
  print(`| clip | noise σ | method | PSNR-Y | SSIM | temporal error | mean weight | noise read | moved |`);
  print(`|---|---|---|---|---|---|---|---|---|`);
  for (const base of clips) {
    const all = await clipFrames(base);
    const gts = limit > 0 ? all.slice(0, limit) : all;
    for await (const { clip, noise, lrs } of inputs(base, gts, noises, crfs)) {
      const here: Row[] = [];
      for (const method of methods) {
        const r = { clip, noise, ...(await runMethod(model, method, lrs, gts, threads)) };
        here.push(r);
        const m = r.mean;
        const read = r.noiseRead !== undefined ? `${r.noiseRead.toFixed(2)} | ${r.movedFrames}` : ' | ';
        print(`| ${clip} | ${noise} | ${method} | ${m.psnr.toFixed(3)} | ${m.ssim?.toFixed(4)} | ${m.temporalError?.toFixed(3)} | ${r.meanWeight.toFixed(3)} | ${read} |`);
      }
      rows.push(...here);
      if (outDir) {
        await mkdir(outDir, { recursive: true });
        const series = here.map((r) => ({ label: `W ${r.method}`, frames: r.perFrame }));
        await writeFile(path.join(outDir, `${clip}-noise${noise}.svg`), chartSvg(series, `${clip}, noise σ ${noise}`));
      }
    }
  }
  if (outDir) await writeFile(path.join(outDir, 'study.json'), JSON.stringify(rows, null, 1));
}

/**
 * A clip's inputs: each noise level made in memory (`degradeFrame`), or with `--crf` each noise
 * level through each CRF (rows named `CLIP@crfN`).
 */
async function* inputs(clip: string, gts: RgbImage[], noises: number[], crfs: number[]): AsyncGenerator<{ clip: string; noise: number; lrs: RgbImage[] }> {
  for (const noise of noises) {
    if (crfs.length === 0) yield { clip, noise, lrs: gts.map((g, i) => degradeFrame(g, i, { scale: 2, noise, seed: 1 })) };
    for (const crf of crfs) yield { clip: `${clip}@crf${crf}`, noise, lrs: await throughX264(gts, noise, crf) };
  }
}

/**
 * `--crf N`: the input as `paragon degrade --crf N` makes it (the degraded frames through a real
 * x264 round trip at that CRF, stored as FFV1), read back from the file.
 */
async function throughX264(gts: RgbImage[], noise: number, crf: number): Promise<RgbImage[]> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'paragon-study-'));
  try {
    for (const [i, g] of gts.entries()) await writePng(path.join(dir, `${String(i).padStart(4, '0')}.png`), g);
    const file = path.join(dir, 'lr.mkv');
    await writeDegraded(dir, file, { scale: 2, noise, seed: 1, crf });
    const lrs: RgbImage[] = [];
    for await (const f of await openSequence(file)) lrs.push(f);
    return lrs;
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/**
 * `--maps`: auto's estimator alone over each clip's input (no model): a digest of every map, shift
 * and noise reading, and its time a frame. Two versions of the estimator that print the same
 * digests give the same results in this study, so a change meant to keep them (a faster loop)
 * needs no rerun of the model.
 */
async function maps(clips: string[], noises: number[], crfs: number[], limit: number, print: (s: string) => void, methods: string[]): Promise<void> {
  // The estimator's tuning: auto's, or the first `auto+…` method's.
  const tweaked = methods.find((m) => m.startsWith('auto+'));
  const tuning: HistoryWeightOptions = tweaked ? Object.fromEntries(tweaked.split('+').slice(1).map((t) => tweak(t, tweaked))) : {};
  print(`| clip | noise σ | digest of maps, shifts, noise (${tweaked ?? 'auto'}) | estimator ms/frame | noise read | frames with history |`);
  print('|---|---|---|---|---|---|');
  for (const base of clips) {
    const all = await clipFrames(base);
    const gts = limit > 0 ? all.slice(0, limit) : all;
    for await (const { clip, noise, lrs } of inputs(base, gts, noises, crfs)) {
      const est = new HistoryWeightEstimator(tuning);
      const hash = createHash('sha256');
      let ms = 0;
      let kept = 0;
      for (const lr of lrs) {
        const t0 = performance.now();
        const map = est.next(lr);
        ms += performance.now() - t0;
        if (map !== 0) hash.update(new Uint8Array(map.buffer, map.byteOffset, map.byteLength));
        if (map !== 0 && map.some((v) => v > 0)) kept++;
        hash.update(JSON.stringify([est.shift, est.noise]));
      }
      print(`| ${clip} | ${noise} | ${hash.digest('hex').slice(0, 16)} | ${(ms / lrs.length).toFixed(2)} | ${est.noise.toFixed(2)} | ${kept} |`);
    }
  }
}

await main();
