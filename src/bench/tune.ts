/**
 * `paragon bench --tune`: which CPU session options run a model fastest here. A full factorial of
 * threads × spinning × optimisation level × execution mode × precision × shapes is too slow on a
 * small machine, so this is a coordinate search: one dimension at a time, every value of it
 * measured INTERLEAVED (a short block of runs of each in turn, so a burst of load elsewhere hits all alike),
 * keeping a new value only when its median beats the current one by more than 3%.
 *
 * Sessions are created here with onnxruntime directly (not through the runtime's worker): the
 * runtime's CpuOptions do not expose execution mode or spinning, which are among the things tried.
 */
import os from 'node:os';
import * as ort from 'onnxruntime-node';
import { convertCheckpoint } from '../graph/index.ts';
import { resolveModel } from '../runtime/model.ts';
import { toFloat16 } from '../runtime/tensor.ts';
import { benchFrame } from './measure.ts';
import { round, shouldStop, summarize, type LatencySummary } from './stats.ts';
import type { FrameSize, Precision } from './types.ts';

/** One CPU configuration. */
export interface TuneConfig {
  /** ORT intra-op threads. */
  readonly threads: number;
  /** Whether idle ORT threads spin (busy-wait) for work instead of sleeping. */
  readonly spinning: boolean;
  /** Graph optimisation level; `layout` and `all` add the NCHWc layout transform on CPU. */
  readonly level: 'disabled' | 'basic' | 'extended' | 'layout' | 'all';
  /** Sequential, or parallel execution of independent branches (inter-op threads = cores). */
  readonly executionMode: 'sequential' | 'parallel';
  readonly precision: Precision;
  /** Dynamic H/W, or a graph built for this one size (checkpoints only). */
  readonly shapes: 'dynamic' | 'fixed';
}

/** The measurements of one dimension. */
export interface TuneStep {
  readonly dimension: keyof TuneConfig;
  readonly trials: { value: string; p50Ms: number; p95Ms: number; runs: number }[];
  readonly kept: string;
}

/** Options of {@link tuneCpu}. */
export interface TuneOptions {
  readonly model?: string;
  readonly size: FrameSize;
  readonly video: boolean;
  /** Seconds of interleaved runs per dimension (default 30). */
  readonly secondsPerDimension?: number;
  /** Length of one configuration's block of runs per turn, ms (default 400). */
  readonly blockMs?: number;
  readonly log?: (line: string) => void;
}

/** The runtime's current CPU defaults (src/runtime/devices.ts): the starting point. */
export function runtimeDefaults(): TuneConfig {
  return { threads: os.availableParallelism?.() ?? os.cpus().length, spinning: false, level: 'all', executionMode: 'sequential', precision: 'fp32', shapes: 'dynamic' };
}

/** ORT session options for a configuration. */
export function tuneSessionOptions(c: TuneConfig): ort.InferenceSession.SessionOptions {
  const cores = os.availableParallelism?.() ?? os.cpus().length;
  return {
    executionProviders: ['cpu'],
    intraOpNumThreads: c.threads,
    interOpNumThreads: c.executionMode === 'parallel' ? cores : 1,
    graphOptimizationLevel: c.level,
    executionMode: c.executionMode,
    extra: { session: { intra_op: { allow_spinning: c.spinning ? '1' : '0' }, inter_op: { allow_spinning: c.spinning ? '1' : '0' } } },
    logSeverityLevel: 3,
  };
}

const show = (v: unknown): string => String(v);

/** Timed runs of one configuration per turn last about this long. */
const BLOCK_MS = 400;

/** Sweep the CPU options for one model and size; returns the steps and the best configuration. */
export async function tuneCpu(o: TuneOptions): Promise<{ steps: TuneStep[]; best: TuneConfig; baselineMs: number; bestMs: number }> {
  const resolved = await resolveModel(o.model, { mode: o.video ? 'video' : 'standard' });
  const isCheckpoint = !/\.onnx$/i.test(resolved.info.file);
  const pad = Math.max(1, resolved.info.padMultiple);
  const h = Math.ceil(o.size.height / pad) * pad;
  const w = Math.ceil(o.size.width / pad) * pad;
  const C = resolved.info.channels ?? 0;
  const cache = new Map<string, Uint8Array>();
  const bytesFor = async (c: TuneConfig): Promise<Uint8Array> => {
    if (!isCheckpoint) return resolved.bytes;
    const k = `${c.precision}|${c.shapes}`;
    if (!cache.has(k)) {
      const conv = await convertCheckpoint(resolved.info.file, {
        video: o.video,
        fp16: c.precision === 'fp16',
        ...(c.shapes === 'fixed' ? { static: [h, w] as [number, number] } : {}),
      });
      cache.set(k, conv.bytes);
    }
    return cache.get(k)!;
  };
  const frame = benchFrame(h, w);
  const feeds = (c: TuneConfig): Record<string, ort.Tensor> => {
    const t = (data: Float32Array, dims: number[]): ort.Tensor =>
      c.precision === 'fp16' ? new ort.Tensor('float16', toFloat16(data), dims) : new ort.Tensor('float32', data, dims);
    const f: Record<string, ort.Tensor> = { input: t(frame, [1, 3, h, w]) };
    if (o.video) {
      f.prev_feat = t(new Float32Array(C * h * w), [1, C, h, w]);
      f.alpha = t(Float32Array.of(0.2), [1, 1, 1, 1]);
    }
    return f;
  };

  const cores = os.availableParallelism?.() ?? os.cpus().length;
  const values: { [K in keyof TuneConfig]: TuneConfig[K][] } = {
    threads: [...new Set([1, Math.ceil(cores / 2), cores])],
    spinning: [true, false],
    // extended → layout adds the layout transforms (NCHWc blocked convolutions on CPU); all = every level.
    level: ['disabled', 'basic', 'extended', 'layout', 'all'],
    executionMode: ['sequential', 'parallel'],
    precision: isCheckpoint ? ['fp32', 'fp16'] : [],
    shapes: isCheckpoint ? ['dynamic', 'fixed'] : [],
  };
  let best = runtimeDefaults();
  const steps: TuneStep[] = [];
  const budget = (o.secondsPerDimension ?? 30) * 1000;

  /** Median-and-more of each configuration, measured interleaved in blocks. */
  const compare = async (configs: TuneConfig[]): Promise<{ sums: LatencySummary[]; runs: number[] }> => {
    const sessions: ort.InferenceSession[] = [];
    try {
      for (const c of configs) sessions.push(await ort.InferenceSession.create(await bytesFor(c), tuneSessionOptions(c)));
      const inputs = configs.map(feeds);
      for (let i = 0; i < 2; i++) for (const [j, s] of sessions.entries()) await s.run(inputs[j]!);
      const times: number[][] = configs.map(() => []);
      const rule = { minRuns: 8, maxRuns: 100, maxMs: budget, targetCi: 0.03 };
      const start = performance.now();
      for (;;) {
        for (const [j, s] of sessions.entries()) {
          // A block of runs per turn, its first one untimed: the previous session's threads may
          // still be spinning on the cores for a moment after it finished.
          await s.run(inputs[j]!);
          const blockStart = performance.now();
          do {
            const t0 = performance.now();
            await s.run(inputs[j]!);
            times[j]!.push(performance.now() - t0);
          } while (performance.now() - blockStart < (o.blockMs ?? BLOCK_MS) && times[j]!.length < rule.maxRuns);
        }
        if (times.every((t) => shouldStop(t, performance.now() - start, rule))) break;
      }
      return { sums: times.map(summarize), runs: times.map((t) => t.length) };
    } finally {
      for (const s of sessions) await s.release();
    }
  };

  for (const dim of Object.keys(values) as (keyof TuneConfig)[]) {
    const vals = values[dim] as unknown[];
    if (vals.length < 2) continue;
    const configs = vals.map((v) => ({ ...best, [dim]: v }) as TuneConfig);
    const { sums, runs } = await compare(configs);
    const cur = vals.indexOf(best[dim]);
    const win = sums.reduce((bi, s, i) => (s.p50 < sums[bi]!.p50 ? i : bi), cur);
    const keep = win !== cur && sums[win]!.p50 < sums[cur]!.p50 * 0.97 ? win : cur;
    best = configs[keep]!;
    const trials = vals.map((v, i) => ({ value: show(v), p50Ms: round(sums[i]!.p50), p95Ms: round(sums[i]!.p95), runs: runs[i]! }));
    steps.push({ dimension: dim, trials, kept: show(vals[keep]) });
    o.log?.(`${dim}: ${trials.map((t) => `${t.value} ${t.p50Ms} ms`).join(', ')} -> ${show(vals[keep])}`);
  }
  // Steps ran minutes apart under whatever load there was: the verdict is a final head-to-head.
  const defaults = runtimeDefaults();
  const same = (Object.keys(defaults) as (keyof TuneConfig)[]).every((k) => defaults[k] === best[k]);
  const final = same ? await compare([defaults]) : await compare([defaults, best]);
  const baselineMs = round(final.sums[0]!.p50);
  return { steps, best, baselineMs, bestMs: same ? baselineMs : round(final.sums[1]!.p50) };
}

/** The tuning result as terminal lines, ending with the options to adopt. */
export function formatTune(r: Awaited<ReturnType<typeof tuneCpu>>, label: string): string {
  const lines = [`CPU tuning (${label}); each dimension measured interleaved, a change kept only when >3% faster:`];
  for (const s of r.steps) {
    lines.push(`  ${s.dimension.padEnd(14)} ${s.trials.map((t) => `${t.value}: ${t.p50Ms} ms (${t.runs})`).join('   ')}   -> ${s.kept}`);
  }
  const b = r.best;
  lines.push(
    `winner: threads ${b.threads}, spinning ${b.spinning ? 'on' : 'off'}, level ${b.level}, ${b.executionMode}, ${b.precision}, ${b.shapes} shapes: ` +
      `${r.bestMs} ms vs ${r.baselineMs} ms with the runtime defaults, measured head to head (${round(r.baselineMs / r.bestMs, 2)}x)`,
  );
  const opts = {
    intraOpNumThreads: b.threads,
    interOpNumThreads: b.executionMode === 'parallel' ? 'cores' : 1,
    graphOptimizationLevel: b.level,
    executionMode: b.executionMode,
    extra: { 'session.intra_op.allow_spinning': b.spinning ? '1' : '0' },
  };
  lines.push(`session options: ${JSON.stringify(opts)}`);
  const model = [b.precision === 'fp16' ? 'fp16 graph (--fp16)' : '', b.shapes === 'fixed' ? 'graph built for this one size (paragon convert --static HxW)' : ''].filter(Boolean);
  if (model.length) lines.push(`model choices (not session options): ${model.join('; ')}`);
  return lines.join('\n');
}
