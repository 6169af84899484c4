/**
 * Measuring one combination (model × device × precision × mode × size) through the same runtime
 * the pipeline uses: a worker-hosted {@link ModelSession}, tensors transferred both ways, and in
 * video mode the previous run's features fed back as `prev_feat` where the pipeline keeps them: in
 * the worker, and on the GPU for WebGPU (runtime/resident.ts). The timer brackets the run only;
 * preparing the input (copying the frame, float16 packing) happens before it.
 */
import { readOnnxInfo } from '../graph/onnx-info.ts';
import { resolveModel } from '../runtime/model.ts';
import { ModelSession } from '../runtime/session.ts';
import type { WireTensor } from '../runtime/protocol.ts';
import { toFloat16 } from '../runtime/tensor.ts';
import { carriedOutput, rolesOf } from '../temporal/roles.ts';
import { isParagonError } from '../errors.ts';
import { gpuMemoryMB, ranOn, RssSampler } from './env.ts';
import { archOfOnnx, frameCost } from './flops.ts';
import { round, shouldStop, summarize } from './stats.ts';
import type { BenchCase, BenchEnv, BenchRow, MeasureOptions, SkippedCase } from './types.ts';

/** The measurement defaults (see {@link MeasureOptions}). */
export const MEASURE_DEFAULTS = {
  warmup: 2,
  minRuns: 10,
  maxRuns: 200,
  maxSeconds: 20,
  targetCi: 0.02,
  historyWeight: 0.2,
} as const;

/** `WIDTHxHEIGHT`. */
export const sizeText = (w: number, h: number): string => `${w}x${h}`;

/**
 * A deterministic frame with structure (gradients and a checker), values in [0, 1]: real
 * content rather than a constant, though these convolutions take the same time on any data.
 */
export function benchFrame(h: number, w: number): Float32Array {
  const x = new Float32Array(3 * h * w);
  for (let c = 0; c < 3; c++)
    for (let y = 0; y < h; y++)
      for (let i = 0; i < w; i++) {
        const checker = ((i >> 3) + (y >> 3)) % 2 ? 0.1 : 0;
        x[(c * h + y) * w + i] = 0.3 + 0.25 * Math.sin((i + 11 * c) / 17) * Math.cos(y / 13) + checker;
      }
  return x;
}

const skip = (c: BenchCase, reason: string): SkippedCase => ({
  model: c.model,
  device: c.device,
  precision: c.precision,
  mode: c.mode,
  size: sizeText(c.size.width, c.size.height),
  reason,
});

/** Measure options with every default filled in. */
type Resolved = Required<Omit<MeasureOptions, 'threads'>> & Pick<MeasureOptions, 'threads'>;

/** A loaded case, ready to run. */
interface Prepared {
  readonly c: BenchCase;
  readonly session: ModelSession;
  /** One timed `session.run` (ms); video graphs get the previous run's features back. */
  readonly once: () => Promise<number>;
  /** The row, from timed runs and the first-run time. */
  readonly row: (times: number[], firstRunMs: number, peakRssMB: number) => BenchRow;
}

/** Load a case: a session on its device and its feeds. A skip when it cannot run here. */
async function prepare(c: BenchCase, o: Resolved, env: BenchEnv): Promise<Prepared | SkippedCase> {
  const resolved = await resolveModel(c.model, { mode: c.mode, fp16: c.precision === 'fp16' });
  if (resolved.info.precision !== c.precision)
    return skip(c, `${c.model} is a ${resolved.info.precision} ONNX file (fp16/fp32 graphs are built from checkpoints)`);
  const info = readOnnxInfo(resolved.bytes, c.model);
  const pad = Math.max(1, resolved.info.padMultiple);
  const h = Math.ceil(c.size.height / pad) * pad;
  const w = Math.ceil(c.size.width / pad) * pad;
  const baseRss = process.memoryUsage.rss() / 2 ** 20;
  const notices: string[] = [];
  let session: ModelSession;
  try {
    const carried = carriedOutput(info);
    session = await ModelSession.create(resolved.bytes, {
      device: c.device,
      // As the video pipeline runs it: the state stays in the worker, and on the GPU where it can.
      ...(carried ? { resident: [carried] } : {}),
      label: c.model,
      onNotice: (l) => notices.push(l),
      ...(o.threads !== undefined ? { cpu: { intraOpThreads: o.threads } } : {}),
    });
  } catch (e) {
    // Only cpu was tried and failed: that is a broken model, not a missing device.
    if (c.device !== 'cpu' && isParagonError(e, 'model')) return skip(c, e.message);
    throw e;
  }
  const refuse = async (reason: string): Promise<SkippedCase> => (await session.close(), skip(c, reason));
  if (session.device !== c.device) return refuse(notices[0]?.replace(/; using \w+$/, '') ?? `device ${c.device} unavailable`);
  const roles = rolesOf(c.model, session.inputs, session.outputs);
  const video = roles.mode === 'video' || roles.mode === 'baked';
  if (video !== (c.mode === 'video')) return refuse(`${c.model} has a ${roles.mode} signature, not ${c.mode} mode`);

  const type = roles.types[roles.input]!;
  const frame = benchFrame(h, w);
  const template = type === 'float16' ? toFloat16(frame) : frame;
  const channels = resolved.info.channels ?? Number(session.inputs.find((v) => v.name === roles.prev)?.shape[1]);
  const zeros = (): WireTensor => {
    const t = roles.types[roles.prev!]!;
    const n = channels * h * w;
    return { type: t, data: t === 'float16' ? new Uint16Array(n) : new Float32Array(n), dims: [1, channels, h, w] };
  };
  // Video graphs: the first run is fed zeros, later ones the state the worker kept from the run before.
  let first = true;
  const feeds = (): Record<string, WireTensor> => {
    const f: Record<string, WireTensor> = { [roles.input]: { type, data: template.slice(), dims: [1, 3, h, w] } };
    if (roles.prev && first) f[roles.prev] = zeros();
    if (roles.alpha) {
      const a = Float32Array.of(o.historyWeight);
      f[roles.alpha] = { type: roles.types[roles.alpha]!, data: roles.types[roles.alpha] === 'float16' ? toFloat16(a) : a, dims: [1, 1, 1, 1] };
    }
    return f;
  };
  const once = async (): Promise<number> => {
    const f = feeds();
    const t0 = performance.now();
    if (video) {
      const r = await session.runCarried(f, { input: roles.prev!, output: roles.feature! });
      if (!r.ok) throw r.error;
    } else await session.run(f);
    first = false;
    return performance.now() - t0;
  };
  const arch = archOfOnnx(resolved.bytes, info);
  const cost = arch ? frameCost(arch, h, w, info.upsamplerAlpha ?? 0) : undefined;
  const row = (times: number[], firstRunMs: number, peakRssMB: number): BenchRow => {
    const st = summarize(times);
    return {
      model: c.model,
      variant: resolved.info.variant ?? null,
      scale: resolved.info.scale,
      device: session.device,
      precision: c.precision,
      mode: c.mode,
      size: sizeText(c.size.width, c.size.height),
      width: c.size.width,
      height: c.size.height,
      inputSize: sizeText(w, h),
      p50Ms: round(st.p50),
      p95Ms: round(st.p95),
      minMs: round(st.min),
      meanMs: round(st.mean),
      fps: Number((1000 / st.p50).toPrecision(4)),
      firstRunMs: round(firstRunMs),
      runs: times.length,
      ciPct: round(st.ci * 100),
      stable: st.ci <= o.targetCi,
      peakRssMB: round(peakRssMB, 1),
      baseRssMB: round(baseRss, 1),
      peakGpuMB: c.device === 'cuda' || c.device === 'tensorrt' ? gpuMemoryMB() : null,
      params: cost?.params ?? info.params,
      macs: cost?.macs ?? null,
      gmacs: cost ? round(cost.macs / 1e9, 3) : null,
      gflops: cost ? round((2 * cost.macs) / 1e9, 3) : null,
      options: sessionDescription(c, o.threads),
      ranOn: ranOn(session.device, env),
    };
  };
  return { c, session, once, row };
}

const ruleOf = (o: Resolved) => ({ minRuns: o.minRuns, maxRuns: o.maxRuns, maxMs: o.maxSeconds * 1000, targetCi: o.targetCi });

/**
 * Measure one case in this process. Returns a row, or a skip with a one-line reason when the
 * device does not load here or the model cannot run the case (an fp32 ONNX file asked for fp16,
 * a standard-only file asked for video mode). Other failures throw.
 */
export async function measureCase(c: BenchCase, opts: MeasureOptions, env: BenchEnv): Promise<BenchRow | SkippedCase> {
  const o = { ...MEASURE_DEFAULTS, ...opts };
  const rss = new RssSampler();
  const p = await prepare(c, o, env).catch((e: unknown) => (rss.stop(), Promise.reject(e)));
  if (isSkip(p)) return (rss.stop(), p);
  try {
    const firstRunMs = await p.once();
    for (let i = 0; i < o.warmup; i++) await p.once();
    const times: number[] = [];
    const rule = ruleOf(o);
    const start = performance.now();
    do times.push(await p.once());
    while (!shouldStop(times, performance.now() - start, rule));
    return p.row(times, firstRunMs, rss.stop());
  } finally {
    rss.stop();
    await p.session.close();
  }
}

/** Timed runs of one case per turn of a paired measurement last about this long. */
const BLOCK_MS = 500;

/**
 * Measure cases side by side in this process (the standard and video graph of one size): both
 * loaded, runs in alternating blocks, so load from elsewhere hits both alike and their ratio —
 * the video-mode overhead — holds on a busy machine. The first run of a block of short runs is
 * untimed (the other session's threads may still be spinning). Peak RSS is the pair's.
 */
export async function measurePaired(cases: readonly BenchCase[], opts: MeasureOptions, env: BenchEnv): Promise<(BenchRow | SkippedCase)[]> {
  const o = { ...MEASURE_DEFAULTS, ...opts };
  const rss = new RssSampler();
  const ready: Prepared[] = [];
  const out: (BenchRow | SkippedCase | undefined)[] = [];
  try {
    for (const c of cases) {
      const p = await prepare(c, o, env);
      out.push(isSkip(p) ? p : undefined);
      if (!isSkip(p)) ready.push(p);
    }
    const first = new Map<Prepared, number>();
    for (const p of ready) first.set(p, await p.once());
    for (let i = 0; i < o.warmup; i++) for (const p of ready) await p.once();
    const times = new Map<Prepared, number[]>(ready.map((p) => [p, []]));
    const rule = ruleOf(o);
    const start = performance.now();
    while (ready.length && !ready.every((p) => shouldStop(times.get(p)!, performance.now() - start, rule))) {
      for (const p of ready) {
        const t = times.get(p)!;
        // Spinning threads cost a few ms: only short runs need the untimed lead-in.
        if ((t.at(-1) ?? first.get(p)!) < 250) await p.once();
        const b0 = performance.now();
        do t.push(await p.once());
        while (performance.now() - b0 < BLOCK_MS && t.length < rule.maxRuns);
      }
    }
    const peak = rss.stop();
    return out.map((r, i) => {
      if (r) return r;
      const p = ready.find((x) => x.c === cases[i])!;
      return p.row(times.get(p)!, first.get(p)!, peak);
    });
  } finally {
    rss.stop();
    for (const p of ready) await p.session.close();
  }
}

/** The session options a row ran with, as far as the bench chose them. */
function sessionDescription(c: BenchCase, threads: number | undefined): Record<string, string | number> {
  if (c.device !== 'cpu') return { executionProvider: c.device };
  return { executionProvider: 'cpu', intraOpThreads: threads ?? 'runtime default (all cores)', graphOptimizationLevel: 'all', executionMode: 'sequential' };
}

/** True for a skip record. */
export const isSkip = <T extends object>(r: T | SkippedCase): r is SkippedCase => 'reason' in r;
