/**
 * What `--temporal auto` costs: the model alone against the frame engine with the history-weight
 * estimator, the motion estimator and the heads it runs (pixel history, warp), back to back in one process (rounds
 * alternate, so a machine whose speed drifts hurts both alike), on a noisy camera pan where the
 * history is moved every frame.
 *
 *   npx tsx scripts/bench-temporal.ts [--size 640x360] [--frames 48] [--rounds 5] [--model M]
 *                                     [--threads N] [--device cpu|webgpu|auto] [--priority idle|nice|off]
 *
 * Per round, frames already in memory (a generated pan: src/eval/motion-clips.ts over Vid4 walk
 * from ../shared, or a dead-leaves picture without it, plus noise σ 4):
 * - model: the standard graph alone in its worker (what `--no-temporal` runs), frames fed back to
 *   back (scripts/back-to-back.ts): the number the issue holds auto to;
 * - head: the graph auto runs, the same with the pixel-history and warp heads
 *   (graph/pixel-history.ts, graph/warp-head.ts), fed the maps and shifts auto decided, the
 *   3-channel state carried in the worker (the graph's share of the cost);
 * - engine 0.2: the frame engine with a fixed weight (the video graph, its features carried; no estimator, no head);
 * - engine auto: the frame engine as `paragon upscale` runs it (estimator, motion, the heads),
 *   two frames in flight as in the video pipeline;
 * - estimator: HistoryWeightEstimator.next alone on this thread (motion, noise, map), and after
 *   the rounds its stages one by one.
 * Sessions are opened once; then, as `paragon upscale` does by default (--priority idle), every
 * thread but the models' is put in SCHED_IDLE, the estimator's (this one) included.
 * Prints each round, the medians and the fastest rounds; "auto vs model" is the number
 * docs/temporal.md reports.
 */
import { parseArgs } from 'node:util';
import path from 'node:path';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { backToBack } from './back-to-back.ts';
import { readImage, type RgbImage } from '../src/image/io.ts';
import { gaussianNoise } from '../src/eval/degrade.ts';
import { deadLeaves, renderClip } from '../src/eval/motion-clips.ts';
import { resolveModel } from '../src/runtime/model.ts';
import { ModelSession } from '../src/runtime/session.ts';
import { wire } from '../src/runtime/tensor.ts';
import type { FeedTensor } from '../src/runtime/protocol.ts';
import { parseDevice } from '../src/runtime/devices.ts';
import { withWarpHead } from '../src/graph/warp-head.ts';
import { withPixelHistory } from '../src/graph/pixel-history.ts';
import { carriedOutput, rolesOf } from '../src/temporal/roles.ts';
import { readOnnxInfo } from '../src/graph/onnx-info.ts';
import { openUpscaler } from '../src/temporal/open.ts';
import type { TemporalUpscaler } from '../src/temporal/upscaler.ts';
import { favourThreads } from '../src/runtime/priority.ts';
import { HistoryWeightEstimator, doubleMap, frameLuma, historyWeightMap } from '../src/temporal/history-weight.ts';
import { bilinearShift, estimateShift, halvePlane, isStill, LARGE_FRAME, zeroEntering } from '../src/temporal/motion.ts';
import { estimateNoiseMoving } from '../src/temporal/noise.ts';
import { warpHeadFeeds, warpShift } from '../src/temporal/warp.ts';
import type { PlanarFrame } from '../src/temporal/upscaler.ts';

const { values: a } = parseArgs({
  options: {
    size: { type: 'string', default: '640x360' },
    frames: { type: 'string', default: '48' },
    rounds: { type: 'string', default: '5' },
    model: { type: 'string' },
    threads: { type: 'string' },
    device: { type: 'string', default: 'cpu' },
    priority: { type: 'string', default: 'idle' },
  },
});
const [W, H] = a.size!.split('x').map(Number) as [number, number];
const count = Number(a.frames);
const SHARED = process.env.PARAGON_SHARED ?? path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..', 'shared');
const OFFICIAL = path.join(SHARED, 'models', 'paragonsr2-v11', '2xParagonSR2_Realtime_fidelity.safetensors');
const model = a.model ?? (existsSync(OFFICIAL) ? OFFICIAL : undefined);
const cpu = a.threads ? { intraOpThreads: Number(a.threads) } : {};
// The model's device (the estimator always runs on this thread's CPU); a device that does not load falls back to the CPU with a notice.
const device = parseDevice(a.device);
// As paragon upscale runs (its --priority): every thread but the model's in SCHED_IDLE ('idle'), niceness only ('nice'), or nothing ('off').
const priority = a.priority as 'idle' | 'nice' | 'off';
if (!['idle', 'nice', 'off'].includes(priority)) throw new Error(`--priority ${a.priority}: expected idle, nice or off`);
const print = (s: string) => process.stdout.write(`${s}\n`);

// A pan at the frame size: 12 rendered frames, played forward and back, under fresh noise each frame.
const walk = path.join(SHARED, 'vid4', 'walk', '001.png');
const picture: RgbImage = existsSync(walk) ? await readImage(walk) : deadLeaves(1200, 800, 5, 3, 200);
const density = Math.min((picture.width - 40) / W, (picture.height - 40) / H, 1);
const base = renderClip(picture, { motion: 'pan', frames: 12, width: W, height: H, density, speed: [1.3, 0.55] });
const frames: PlanarFrame[] = Array.from({ length: count }, (_, i) => {
  const k = i % 22 < 12 ? i % 22 : 22 - (i % 22);
  const z = gaussianNoise(3 * W * H, 4 / 255, 1, i);
  return { width: W, height: H, rgb: Float32Array.from(base[k]!.rgb, (v, j) => v + z[j]!) };
});
// What auto decides on these frames (maps and shifts), for the graph-only measurement.
const est = new HistoryWeightEstimator();
const decided = frames.map((f) => {
  const t = performance.now();
  const map = est.next(f);
  return { map, shift: est.shift, ms: performance.now() - t };
});
print(`${W}x${H}, ${count} frames, model ${model ?? 'bundled default'}, noise read ${est.noise.toFixed(2)}, history moved on ${decided.filter((d) => !isStill(d.shift)).length} frames`);

const resolved = await resolveModel(model, { mode: 'standard' });

/** The standard graph alone in its worker (what `--no-temporal` runs), or with auto's heads (pixel history, warp) when `head`. */
async function openGraph(head: boolean): Promise<ModelSession> {
  const bytes = head ? withWarpHead(withPixelHistory(resolved.bytes)!)! : resolved.bytes;
  const carried = carriedOutput(readOnnxInfo(bytes, 'model'));
  return ModelSession.create(bytes, { device, cpu, onNotice: print, ...(carried ? { resident: [carried] } : {}) });
}

/** The session alone, back to back (with the heads, their 3-channel state carried, and the decided maps and shifts when `head`). */
async function graph(s: ModelSession, head: boolean): Promise<number> {
  const roles = rolesOf(resolved.info.file, s.inputs, s.outputs);
  const feeds = (i: number): Record<string, FeedTensor> => {
    const f = frames[i]!;
    const d = decided[i]!;
    const fd: Record<string, FeedTensor> = { [roles.input]: wire(f.rgb.slice(), [1, 3, H, W]) };
    if (!head) return fd;
    fd[roles.alpha!] = d.map !== 0 && i > 0 ? wire(d.map.slice(), [1, 1, H, W]) : wire(Float32Array.of(0), [1, 1, 1, 1]);
    if (i === 0) fd[roles.prev!] = wire(new Float32Array(3 * W * H), [1, 3, H, W]);
    Object.assign(fd, warpHeadFeeds(3, H, W, d.shift));
    return fd;
  };
  const carry = head ? { input: roles.prev!, output: roles.feature! } : undefined;
  await s.runCarried(feeds(0), carry); // warm-up (first-run allocations), not timed
  return (await backToBack(s, frames.map((_, i) => feeds(i)), carry)).ms;
}

/** The frame engine, two frames in flight (as the video pipeline keeps it busy). */
async function engine(up: TemporalUpscaler): Promise<number> {
  up.reset();
  await up.process(frames[0]!); // warm-up, not timed
  up.reset();
  const t = performance.now();
  const inFlight: Promise<unknown>[] = [];
  for (const f of frames) {
    inFlight.push(up.process(f));
    if (inFlight.length >= 2) await inFlight.shift();
  }
  await Promise.all(inFlight);
  return (performance.now() - t) / frames.length;
}

const median = (v: number[]): number => [...v].sort((x, y) => x - y)[v.length >> 1]!;
// Every session is opened once, before the rounds: then the model's threads are known, and the
// rest of the process can be lowered as `paragon upscale` lowers it (runtime/priority.ts).
const alone = await openGraph(false);
const withHead = await openGraph(true);
const auto = await openUpscaler(model, { mode: 'video', historyWeight: 'auto', device, cpu });
const fixed = await openUpscaler(model, { mode: 'video', historyWeight: 0.2, device, cpu });
print(`device: ${alone.device}`);
if (priority !== 'off') {
  const low = favourThreads([...alone.threads, ...withHead.threads, ...auto.threads, ...fixed.threads], priority);
  print(`priority: ${low.threads} other threads lowered (${low.how}), as paragon upscale does`);
} else print('priority: off (every thread at the same priority)');
const rows: Record<string, number[]> = { model: [], head: [], 'engine 0.2': [], 'engine auto': [], estimator: [] };
for (let r = 0; r < Number(a.rounds); r++) {
  rows.model!.push(await graph(alone, false));
  rows['engine auto']!.push(await engine(auto));
  rows.head!.push(await graph(withHead, true));
  rows['engine 0.2']!.push(await engine(fixed));
  const e = new HistoryWeightEstimator();
  const t = performance.now();
  for (const f of frames) e.next(f);
  rows.estimator!.push((performance.now() - t) / frames.length);
  print(`round ${r + 1}: ${Object.entries(rows).map(([k, v]) => `${k} ${v.at(-1)!.toFixed(1)}`).join(', ')} ms/frame`);
}
for (const s of [alone, withHead, auto, fixed]) await s.close();
const m = Object.fromEntries(Object.entries(rows).map(([k, v]) => [k, median(v)])) as Record<string, number>;
print(`medians: ${Object.entries(m).map(([k, v]) => `${k} ${v.toFixed(1)}`).join(', ')} ms/frame`);
const pct = (x: number, y: number) => `${x > y ? '+' : ''}${((100 * (x - y)) / y).toFixed(1)} %`;
const paired = (k: string, ref: string) => median(rows[k]!.map((v, i) => v / rows[ref]![i]! - 1));
// Where the estimator's time goes: each stage of HistoryWeightEstimator.next alone, on the same
// frames, as it runs them (large frames: on the half plane, the map then spread over the frame;
// medians over the frames of three passes).
const stages: Record<string, number[]> = { luma: [], motion: [], noise: [], 'warp of the reference': [], map: [], spread: [] };
const half = W * H >= LARGE_FRAME;
const [w2, h2] = half ? [W >> 1, H >> 1] : [W, H];
const lumas = frames.map((f) => frameLuma(f));
const planes = half ? lumas.map((y) => halvePlane(y, W, H)) : lumas;
const variance = new Float32Array(w2 * h2).fill(1.5);
const tmp = new Float32Array(w2 * h2);
const warped = new Float32Array(w2 * h2);
const warpedVar = new Float32Array(w2 * h2);
for (let pass = 0; pass < 3; pass++) {
  let last: Float32Array | undefined;
  for (let i = 1; i < frames.length; i++) {
    const time = <T>(k: string, f: () => T): T => {
      const t = performance.now();
      const out = f();
      stages[k]!.push(performance.now() - t);
      return out;
    };
    time('luma', () => (half ? halvePlane(frameLuma(frames[i]!), W, H) : frameLuma(frames[i]!)));
    const given = half ? { half: { prev: planes[i - 1]!, cur: planes[i]! } } : {};
    const shift = time('motion', () => estimateShift(lumas[i - 1]!, lumas[i]!, W, H, { noise: est.noise, ...given }));
    const s = half ? { dx: shift.dx / 2, dy: shift.dy / 2 } : shift;
    last = time('noise', () => estimateNoiseMoving(planes[i - 1]!, planes[i]!, w2, h2, s, last)).difference;
    const ref = time('warp of the reference', () => {
      // As next() moves them: the variance bilinearly, the reference bilinearly on the frame and with Keys on the half plane.
      bilinearShift(variance, h2, w2, s, warpedVar);
      return half ? warpShift(planes[i - 1]!, 1, h2, w2, s, { tmp, into: warped, kernel: 'keys' }) : bilinearShift(planes[i - 1]!, h2, w2, s, warped);
    });
    const map = time('map', () => historyWeightMap(planes[i]!, ref, variance, w2, h2, est.noise));
    time('spread', () => {
      const full = half ? doubleMap(map, w2, h2, W, H) : map;
      zeroEntering(full, H, W, shift);
    });
  }
}
print(`estimator stages: ${Object.entries(stages).map(([k, v]) => `${k} ${median(v).toFixed(1)}`).join(', ')} ms/frame`);
// Interference (the VM's neighbours, its speed drifting) only ever adds time: the fastest round of
// each is its least disturbed reading, so their ratio is the steadiest of these numbers.
const b = Object.fromEntries(Object.entries(rows).map(([k, v]) => [k, Math.min(...v)])) as Record<string, number>;
print(`fastest rounds: ${Object.entries(b).map(([k, v]) => `${k} ${v.toFixed(1)}`).join(', ')} ms/frame; auto vs model ${pct(b['engine auto']!, b.model!)}, auto vs engine 0.2 ${pct(b['engine auto']!, b['engine 0.2']!)}`);
print(`auto vs model: ${pct(m['engine auto']!, m.model!)} (paired median ${(100 * paired('engine auto', 'model')).toFixed(1)} %); auto vs engine 0.2: ${pct(m['engine auto']!, m['engine 0.2']!)}; head vs model: ${pct(m.head!, m.model!)}; estimator ${m.estimator!.toFixed(1)} ms a frame on its own thread`);
